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

The rulesets as the walk sees them are in equiv_program.py, one side's steps in equiv_walk.py,
concrete packets from a class in equiv_example.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Ruleset
from .compile import Compiler
from .equiv_program import Program, _meaning
from .equiv_walk import Side, _Walker
from .space import ABSENT, NotModelled, Space, collect

HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
# interfaces a packet has at each hook ("" is none)
_NO_IIF = {"output", "postrouting"}
_NO_OIF = {"prerouting", "input"}
MAX_PIECES = 2_000_000


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
