"""Do two rulesets treat every packet the same? A complete check over the atom space.

Method (documented in the README): header-space partitioning. Both rulesets' tests cut each
packet field into atoms (verify/space.py); a cube of atoms is walked through both rulesets at
once, hook by hook, and split wherever a rule's test holds for part of it. Every piece ends
with an outcome on each side: the verdict plus the effects on the way (recent lists changed,
log lines, NAT), and the two outcomes must be equal. Nothing is sampled: the pieces cover the
whole space, and all packets of a piece behave alike.

What keeps it fast: the two walks move in lockstep while their rules are equal, and a piece
is dropped as soon as both sides have exactly the same program left to run and the same
effects behind them (compared by a hash of the remaining rules, deep through jumps), since
the rest cannot differ. A faithful translation is proved almost at once; a changed rule costs
only the walk to it.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from .. import mappings
from ..ir import Jump, Ruleset, TargetExtension, Verdict
from .compile import CompiledRule, Compiler, Effect, Test, target_label
from .diff import normal_rule
from .evaluate import _CHAIN_OF_HOOK, HOOK_TABLES
from .ipsets import exact_sets
from .packet import Packet
from .space import ABSENT, NotModelled, Space, collect, exact_mark

HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
# interfaces a packet has at each hook ("" is none)
_NO_IIF = {"output", "postrouting"}
_NO_OIF = {"prerouting", "input"}
MAX_PIECES = 2_000_000


class Program:
    """One ruleset, one family, one hook: its base chains in order and compiled rules."""

    def __init__(self, ruleset: Ruleset, family: str, hook: str, compiler: Compiler):
        compiler.ipsets = exact_sets(ruleset, family)
        self.chains: dict[tuple[str, str], list[CompiledRule]] = {}
        self.policies: dict[tuple[str, str], str] = {}
        self.bases: list[tuple[str, str]] = []
        for table in ruleset.tables:
            if table.family != family:
                continue
            for chain in table.chains:
                compiler.start_chain()
                key = (table.name, chain.name)
                self.chains[key] = [compiler.rule(r, key) for r in chain.rules]
                if chain.builtin:
                    self.policies[key] = chain.policy
        for table_name in HOOK_TABLES[hook]:
            key = (table_name, _CHAIN_OF_HOOK[hook])
            if key in self.chains:
                self.bases.append(key)
                if table_name == "nat":
                    # nat chains see only a connection's first packet: the others pass
                    self.chains[key] = [compiler.skip_unless_new()] + self.chains[key]
        self._suffix: dict[tuple[str, str], list[int]] = {}
        self._deep: dict[tuple[str, str], int] = {}
        self._index: dict[tuple[str, str], _ChainIndex] = {}
        self._later: dict[int, int] = {}

    def index(self, key: tuple[str, str]) -> _ChainIndex:
        if key not in self._index:
            self._index[key] = _ChainIndex(self.chains.get(key, []))
        return self._index[key]

    def deep(self, key: tuple[str, str]) -> int:
        """A hash of what running this chain from its start does (its rules, deep)."""
        if key not in self._deep:
            self._deep[key] = 0                       # a loop cannot recurse forever
            self._deep[key] = self.suffix(key)[0]
        return self._deep[key]

    def later(self, base: int) -> int:
        """A hash of the base chains that run after base chain number `base` (the next
        tables on the hook, each from its start)."""
        if base not in self._later:
            self._later[base] = hash(tuple((key, self.deep(key))
                                           for key in self.bases[base + 1:]))
        return self._later[base]

    def suffix(self, key: tuple[str, str]) -> list[int]:
        if key not in self._suffix:
            rules = self.chains.get(key, [])
            hashes = [hash(("end", self.policies.get(key)))]
            for rule in reversed(rules):
                target = rule.target
                deep = 0
                if isinstance(target, Jump):
                    deep = self.deep((key[0], target.chain))
                hashes.append(hash((_meaning(rule), _target_key(target), deep,
                                    hashes[-1])))
            self._suffix[key] = hashes[::-1]
        return self._suffix[key]


class _ChainIndex:
    """Which rules of a chain can match a piece that is narrow on one field: lets a piece skip
    the many rules that test other values (10,000 rules, one address each)."""

    def __init__(self, rules: list[CompiledRule]):
        counts: dict[int, int] = {}
        for r in rules:
            if _simple(r):
                for f, _m in r.steps[0].cubes[0]:
                    counts[f] = counts.get(f, 0) + 1
        self.field = max(counts, key=counts.get) if counts else None
        self.always: list[int] = []
        self.by_atom: dict[int, list[int]] = {}
        for i, r in enumerate(rules):
            mask = dict(r.steps[0].cubes[0]).get(self.field) if _simple(r) else None
            if mask is None:
                self.always.append(i)
                continue
            while mask:
                low = mask & -mask
                self.by_atom.setdefault(low.bit_length() - 1, []).append(i)
                mask ^= low

    def next(self, start: int, cube: tuple, overrides: tuple, end: int) -> int:
        """The first rule at or after `start` that could match (`end` if none before it)."""
        f = self.field
        if f is None or any(o == f for o, _ in overrides):
            return start
        mask = cube[f]
        if mask.bit_count() > 16:
            return start
        best = end
        for lst in [self.always] + [self.by_atom.get(a, ()) for a in _atoms(mask)]:
            k = bisect_left(lst, start)
            if k < len(lst) and lst[k] < best:
                best = lst[k]
        return best


def _simple(rule: CompiledRule) -> bool:
    return bool(rule.steps) and isinstance(rule.steps[0], Test) and \
        len(rule.steps[0].cubes) == 1


def _atoms(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _target_key(target):
    if isinstance(target, Jump):
        return ("goto" if target.goto else "jump",)
    return target_label(target)


@dataclass(frozen=True)
class Side:
    """Where one ruleset's walk is: base chain number, call frames, effects so far, and the
    fields its effects have set."""
    base: int
    frames: tuple[tuple[tuple[str, str], int], ...]
    effects: tuple = ()
    overrides: tuple[tuple[int, int], ...] = ()
    outcome: tuple | None = None
    path: tuple = ()                       # rules that matched, for the explanation

    def fingerprint(self, program: Program) -> tuple:
        if self.outcome is not None:
            return ("done", self.outcome)
        # what is left: the rest of this base chain (deep through the call frames) and the
        # base chains of the tables after it
        return (self.base, program.later(self.base),
                tuple(program.suffix(key)[i] for key, i in self.frames))


@dataclass
class Difference:
    hook: str
    cube: tuple[int, ...]
    outcome_a: tuple
    outcome_b: tuple
    path_a: tuple
    path_b: tuple
    aspects: tuple[str, ...] = ()      # what differs: "verdict", "actions", "recent lists"


@dataclass
class Result:
    family: str
    differences: list[Difference] = field(default_factory=list)
    pieces: int = 0


class _Walker:
    def __init__(self, space: Space, hook: str, a: Program, b: Program):
        self.space = space
        self.hook = hook
        self.programs = (a, b)

    def start(self, program: Program) -> Side:
        return self._enter(Side(0, ()), program)

    def _enter(self, side: Side, program: Program) -> Side:
        if side.base >= len(program.bases):
            return Side(side.base, (), side.effects, side.overrides, ("ACCEPT",), side.path)
        return Side(side.base, ((program.bases[side.base], 0),), side.effects, side.overrides,
                    None, side.path)

    def current(self, side: Side, program: Program) -> CompiledRule | None:
        key, i = side.frames[-1]
        rules = program.chains.get(key, [])
        return rules[i] if i < len(rules) else None

    # --- splitting a cube by one compiled rule ------------------------------------------------

    def _field(self, cube, overrides, ix):
        for f, m in overrides:
            if f == ix:
                return m
        return cube[ix]

    def split(self, cube: tuple, side: Side, rule: CompiledRule):
        """(matched pieces, unmatched pieces): lists of (cube, effects, overrides)."""
        live = [(cube, side.effects, side.overrides)]
        missed = []
        for step in rule.steps:
            if isinstance(step, Effect):
                live = [(c, e + (step.label,), _set(o, step.field, step.value))
                        for c, e, o in live]
                continue
            nxt = []
            for c, e, o in live:
                rest = [c]
                for tcube in step.cubes:
                    new_rest = []
                    for r in rest:
                        inside, outside = _cut(r, tcube, o)
                        if inside is not None:
                            nxt.append((inside, e, o))
                        new_rest += outside
                    rest = new_rest
                missed += [(r, e, o) for r in rest]
            live = nxt
            if not live:
                break
        return live, missed

    # --- one step of one side ---------------------------------------------------------------

    def advance(self, cube: tuple, side: Side, program: Program):
        """Run one rule (or a chain end) of a side: [(cube, new side)]."""
        key, i = side.frames[-1]
        rules = program.chains.get(key, [])
        j = program.index(key).next(i, cube, side.overrides, len(rules))
        if j != i:
            side = Side(side.base, side.frames[:-1] + ((key, j),), side.effects, side.overrides,
                        None, side.path)
            i = j
        rule = self.current(side, program)
        if rule is None:
            return [(cube, self._chain_end(side, program))]
        matched, missed = self.split(cube, side, rule)
        out = [(c, Side(side.base, side.frames[:-1] + ((key, i + 1),), e, o, None, side.path))
               for c, e, o in missed]
        for c, e, o in matched:
            out.append((c, self._target(Side(side.base, side.frames, e, o, None,
                                             side.path + ((key, i, rule.rule),)), rule,
                                        program)))
        return out

    def _chain_end(self, side: Side, program: Program) -> Side:
        frames = side.frames[:-1]
        if frames:
            return Side(side.base, frames, side.effects, side.overrides, None, side.path)
        # the base chain is done (a goto'd chain ending counts the same): its policy decides
        if program.policies.get(program.bases[side.base], "ACCEPT") == "DROP":
            return Side(side.base, (), side.effects, side.overrides, ("DROP",), side.path)
        return self._enter(Side(side.base + 1, (), side.effects, side.overrides, None,
                                side.path), program)

    def _target(self, side: Side, rule: CompiledRule, program: Program) -> Side:
        key, i = side.frames[-1]
        after = side.frames[:-1] + ((key, i + 1),)
        target = rule.target
        def s(frames, **kw):
            return Side(side.base, frames, kw.get("effects", side.effects), side.overrides,
                        kw.get("outcome"), side.path)
        if target is None:
            return s(after)
        if isinstance(target, Jump):
            dest = (key[0], target.chain)
            if target.goto:
                return s(side.frames[:-1] + ((dest, 0),))
            return s(after + ((dest, 0),))
        if isinstance(target, Verdict):
            if target.name == "RETURN":
                return self._chain_end(s(after), program)
            if target.name == "ACCEPT":
                return self._enter(Side(side.base + 1, (), side.effects, side.overrides, None,
                                        side.path), program)
            return s((), outcome=(target.name,))
        assert isinstance(target, TargetExtension)
        label = target_label(target)
        if not mappings.target_specs()[target.name].terminal:
            # LOG, MARK, DSCP …: an action on the way, and the next rule runs
            value = exact_mark(target)
            if value is not None:
                ix = self.space.index["mark"]
                over = _set(side.overrides, ix, self.space.fields["mark"].mask(value, value))
                return Side(side.base, after, side.effects + (label,), over, None, side.path)
            return s(after, effects=side.effects + (label,))
        if target.name in ("REJECT", "QUEUE", "NFQUEUE"):
            return s((), outcome=label)
        # NAT: the table's decision is made; the next table runs
        return self._enter(Side(side.base + 1, (), side.effects + (label,), side.overrides,
                                None, side.path), program)


def _set(overrides: tuple, field_ix: int, value: int) -> tuple:
    return tuple((f, m) for f, m in overrides if f != field_ix) + ((field_ix, value),)


def _cut(cube: tuple, test: tuple, overrides: tuple):
    """(cube ∩ test or None, cube \\ test as disjoint cubes); overridden fields decide alone."""
    inside = list(cube)
    outside = []
    prefix = list(cube)
    for ix, mask in test:
        over = next((m for f, m in overrides if f == ix), None)
        if over is not None:
            if not over & mask:
                return None, [cube]
            continue
        hit = prefix[ix] & mask
        miss = prefix[ix] & ~mask
        if miss:
            piece = list(prefix)
            piece[ix] = miss
            outside.append(tuple(piece))
        if not hit:
            return None, outside if outside else [cube]
        prefix[ix] = hit
        inside[ix] = hit
    return tuple(inside), outside


def check(a: Ruleset, b: Ruleset, limit: int = MAX_PIECES,
          max_differences: int = 20) -> list[Result]:
    """Differences in outcome between a and b, per family (empty lists: equivalent); the
    search of a family stops after `max_differences` of them."""
    results = []
    _DIFFERENCES.clear()
    for family in sorted(set(a.families) | set(b.families)):
        space = Space(family)
        collect(space, a)
        collect(space, b)
        space.freeze()
        result = Result(family)
        for hook in HOOKS:
            compiler = Compiler(space)
            pa = Program(a, family, hook, compiler)
            pb = Program(b, family, hook, Compiler(space))
            _check_hook(space, hook, pa, pb, result, limit, max_differences)
        results.append(result)
    return results


def _start_cube(space: Space, hook: str) -> tuple:
    cube = list(space.full)
    iif = space.fields["iif"]
    oif = space.fields["oif"]
    none_iif, none_oif = iif.mask(""), oif.mask("")
    ix = space.index
    cube[ix["iif"]] = none_iif if hook in _NO_IIF else space.full[ix["iif"]] & ~none_iif
    cube[ix["oif"]] = none_oif if hook in _NO_OIF else space.full[ix["oif"]] & ~none_oif
    return tuple(cube)


def _check_hook(space: Space, hook: str, pa: Program, pb: Program, result: Result,
                limit: int, max_differences: int) -> None:
    walker = _Walker(space, hook, pa, pb)
    work = [(_start_cube(space, hook), walker.start(pa), walker.start(pb))]
    while work:
        cube, sa, sb = work.pop()
        result.pieces += 1
        if result.pieces > limit:
            raise NotModelled(f"more than {limit} packet classes; the rulesets are too far "
                              "apart for a complete check")
        if sa.effects == sb.effects and sa.overrides == sb.overrides and \
                sa.fingerprint(pa) == sb.fingerprint(pb):
            continue                       # the same program is left on both sides
        if sa.outcome is not None and sb.outcome is not None:
            aspects = tuple(name for name, differs in (
                ("verdict", sa.outcome != sb.outcome),
                ("actions", _actions(sa.effects) != _actions(sb.effects)),
                ("recent lists", not _same_state(space, cube, sa.overrides, sb.overrides)))
                if differs)
            if aspects:
                result.differences.append(Difference(hook, cube, (sa.outcome, sa.effects),
                                                     (sb.outcome, sb.effects), sa.path,
                                                     sb.path, aspects))
                if len(result.differences) >= max_differences:
                    return
            continue
        if sa.outcome is None and sb.outcome is None and sa.frames[-1][0] == sb.frames[-1][0] \
                and sa.frames[-1][1] == sb.frames[-1][1] and sa.overrides == sb.overrides:
            # both at the same place of the same chain: skip together what cannot match,
            # up to where the two chains differ
            key, i = sa.frames[-1]
            end = _first_difference(pa, pb, key)
            if i < end:
                j = pa.index(key).next(i, cube, sa.overrides, end)
                if j != i:
                    sa = Side(sa.base, sa.frames[:-1] + ((key, j),), sa.effects, sa.overrides,
                              None, sa.path)
                    sb = Side(sb.base, sb.frames[:-1] + ((key, j),), sb.effects, sb.overrides,
                              None, sb.path)
        ra = walker.current(sa, pa) if sa.outcome is None else None
        rb = walker.current(sb, pb) if sb.outcome is None else None
        if ra is not None and rb is not None and _meaning(ra) == _meaning(rb) \
                and sa.overrides == sb.overrides:
            # lockstep: one split serves both sides
            matched, missed = walker.split(cube, sa, ra)
            for c, e, o in missed:
                ka, ia = sa.frames[-1]
                kb, ib = sb.frames[-1]
                work.append((c, Side(sa.base, sa.frames[:-1] + ((ka, ia + 1),), e, o, None,
                                     sa.path),
                             Side(sb.base, sb.frames[:-1] + ((kb, ib + 1),),
                                  _replay(sb.effects, sa.effects, e), o, None, sb.path)))
            for c, e, o in matched:
                ka, ia = sa.frames[-1]
                kb, ib = sb.frames[-1]
                na = walker._target(Side(sa.base, sa.frames, e, o, None,
                                         sa.path + ((ka, ia, ra.rule),)), ra, pa)
                nb = walker._target(Side(sb.base, sb.frames, _replay(sb.effects, sa.effects, e),
                                         o, None, sb.path + ((kb, ib, rb.rule),)), rb, pb)
                work.append((c, na, nb))
            continue
        if sa.outcome is None:
            work += [(c, s, sb) for c, s in walker.advance(cube, sa, pa)]
        else:
            work += [(c, sa, s) for c, s in walker.advance(cube, sb, pb)]


def _actions(effects: tuple) -> tuple:
    """Effects other than recent-list changes (logging and the like), in order."""
    return tuple(e for e in effects if not e[0].startswith("recent "))


def _same_state(space: Space, cube: tuple, over_a: tuple, over_b: tuple) -> bool:
    """Whether both sides leave every recent list the same for the cube's packets. What
    counts is the list's final state, not the steps (`--remove` then `--set` is a `--set`);
    a refreshed entry equals an old one unless some rule tests the age (`--seconds`)."""
    final_a, final_b = dict(over_a), dict(over_b)
    for ix in set(final_a) | set(final_b):
        if not space.order[ix].startswith("recent:"):
            continue                 # a mark lives with the packet; MARK is an action
        a, b = final_a.get(ix, cube[ix]), final_b.get(ix, cube[ix])
        if a != b and _age_blind(space, ix, a) != _age_blind(space, ix, b):
            return False
    return True


def _age_blind(space: Space, ix: int, mask: int) -> int:
    if space.fields[space.order[ix]].starts == [0, 1, ABSENT]:      # no --seconds cut
        return (1 if mask & 0b011 else 0) | (mask & 0b100)
    return mask


_DIFFERENCES: dict[tuple, int] = {}


def _meaning(rule: CompiledRule):
    """What makes two rules the same for the lockstep walk: the rule, and for a lookup in an
    ipset also its compiled test (the same name can hold other members on the other side)."""
    if any(m.module == "set" for m in rule.rule.matches):
        return normal_rule(rule.rule), rule.steps
    return normal_rule(rule.rule)


def _first_difference(pa: Program, pb: Program, key: tuple[str, str]) -> int:
    """The first rule number where the two programs' copies of a chain differ."""
    cache_key = (id(pa), id(pb), key)
    if cache_key not in _DIFFERENCES:
        ra, rb = pa.chains.get(key, []), pb.chains.get(key, [])
        n = 0
        while n < min(len(ra), len(rb)) and _meaning(ra[n]) == _meaning(rb[n]):
            n += 1
        _DIFFERENCES[cache_key] = n
    return _DIFFERENCES[cache_key]


def _replay(before_b: tuple, before_a: tuple, after_a: tuple) -> tuple:
    """B's effects after a lockstep step: B's own history plus what the step added."""
    return before_b + after_a[len(before_a):]


def example(space: Space, cube: tuple, prefer: dict[str, list] | None = None) -> Packet:
    """One concrete packet of a cube: for each field the first `prefer` value the cube allows
    (e.g. addresses that exist on a test network), else the lowest atom's. Rate limits are
    preferred under their rate."""
    prefer = prefer or {}

    def pick(name):
        if name not in space.index:
            return None
        mask = cube[space.index[name]]
        atom = (mask & -mask).bit_length() - 1
        return space.fields[name], atom

    def preferred(name):
        f, mask = space.fields[name], cube[space.index[name]]
        for candidate in prefer.get(name, ()):
            if _atom(f, candidate) is not None and mask >> _atom(f, candidate) & 1:
                return True, candidate
        return False, None

    def value(name, other=None, highest=False):
        if name in space.index:
            found, v = preferred(name)
            if found:
                return v
        elif prefer.get(name):
            return prefer[name][0]            # no rule tests the field: any value will do
        got = pick(name)
        if got is not None and highest:
            f, _ = got
            mask = cube[space.index[name]]
            got = f, mask.bit_length() - 1
        if got is None:
            return other
        f, atom = got
        if hasattr(f, "starts"):
            return f.example(atom)
        if hasattr(f, "combo"):
            return f.combo(atom)
        v = f.example(atom)
        return other if v is None else v

    width = 32 if space.family == "ip" else 128
    ip = ipaddress.IPv4Address if width == 32 else ipaddress.IPv6Address
    saddr, daddr = ip(value("saddr", 0)), ip(value("daddr", 0))
    recent: dict[str, frozenset] = {}
    for name in space.order:
        if name.startswith("recent:") and value(name, ABSENT, highest=True) != ABSENT:
            _tag, lst, side, _mask = name.split(":", 3)
            recent[lst] = recent.get(lst, frozenset()) | {saddr if side == "rsource" else daddr}
    state = value("ct_state", "NEW")
    proto = value("proto", 253)
    return Packet(family=space.family, iif=value("iif", "other0"), oif=value("oif", "other0"),
                  saddr=saddr, daddr=daddr, proto=proto,
                  sport=value("sport") if proto in _PORTED else None,
                  dport=value("dport") if proto in _PORTED else None,
                  icmp_type=value("icmp_type", 254) if proto in (1, 58) else None,
                  icmp_code=value("icmp_code", 0) if proto in (1, 58) else None,
                  tcp_flags=value("tcp_flags", frozenset()) if proto == 6 else None,
                  ct_state=state.lower(), ct_status=value("ct_status", frozenset()),
                  ct_direction=value("ct_dir", "ORIGINAL"), fragment=value("fragment", False),
                  ct_orig_saddr=saddr, ct_orig_daddr=daddr, recent=recent)


_PORTED = {6, 17, 33, 132, 136}        # tcp, udp, dccp, sctp, udplite: packets with ports


def _atom(f, value) -> int | None:
    """The atom of field f that holds a concrete value."""
    if hasattr(f, "starts"):
        try:
            return bisect_right(f.starts, int(value)) - 1
        except (TypeError, ValueError):
            return None
    if hasattr(f, "combo"):
        if not set(value) <= set(f.names):
            return None
        return sum(1 << k for k, b in enumerate(f.used) if b in value)
    return f.atom_of(value)


def under_limits(space: Space, cube: tuple) -> bool:
    """Whether the cube holds packets that find every rate limit under its rate."""
    return all(cube[space.index[name]] & 1 for name in space.order if name.startswith("limit:"))
