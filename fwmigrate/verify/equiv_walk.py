"""One side of the equivalence checker's walk: where a ruleset's walk is (`Side`), and the
steps that move it — a cube split by a rule's tests into the part that matches and the part
that does not, then the rule's target (jump, return, verdict, an action on the way, NAT).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import mappings
from ..ir import Jump, TargetExtension, Verdict
from .compile import CompiledRule, Effect, Untrack, target_label
from .equiv_nat import BindStatus, Rewrite
from .equiv_program import Program
from .space import Space, exact_mark


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
            if isinstance(step, BindStatus):
                live = [piece for c, e, o in live for piece in _bind(c, e, o, step)]
                continue
            if isinstance(step, Rewrite):
                live = [piece for c, e, o in live for piece in _rewrite(c, e, o, step)]
                continue
            if isinstance(step, Untrack):
                live = [piece for c, e, o in live for piece in _untrack(c, e, o, step)]
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


def _override(overrides: tuple, field_ix: int) -> int | None:
    """The atoms a step set the field to, or None where the cube's own field holds."""
    return next((m for f, m in overrides if f == field_ix), None)


def _narrow(cube: tuple, field_ix: int, atoms: int) -> tuple:
    """The cube with the field narrowed to `atoms`."""
    return cube[:field_ix] + (atoms,) + cube[field_ix + 1:]


def _bind(cube: tuple, effects: tuple, overrides: tuple, step: BindStatus) -> list:
    """The pieces of a cube a NAT rule binds, each with the status the next tables see."""
    out = []
    rest = [cube]
    for test, answer in step.branches:
        left = []
        for piece in rest:
            inside, outside = _cut(piece, test, overrides)
            if inside is not None:
                out += _with_bit(inside, effects, overrides, step, answer)
            left += outside
        rest = left
    return out          # the last branch tests nothing: nothing is left


def _with_bit(cube: tuple, effects: tuple, overrides: tuple, step: BindStatus,
              answer: bool | None) -> list:
    kept = [(cube, effects, overrides)]
    if answer is False:
        return kept
    ix, bit = step.field, 1 << step.bit
    over = _override(overrides, ix)
    out, have = [], 0
    mask = cube[ix] if over is None else over
    while mask:
        low = mask & -mask
        mask ^= low
        atom = low.bit_length() - 1
        if atom & bit:
            have |= low
            continue
        # one piece per status before, so that the status after is one atom (exact)
        piece = cube if over is not None else _narrow(cube, ix, low)
        out.append((piece, effects, _set(overrides, ix, 1 << (atom | bit))))
    if answer is None:
        return kept + out                 # the rewrite may also keep the tuple
    if have:
        out.append((cube if over is not None else _narrow(cube, ix, have),
                    effects, overrides))
    return out


def _rewrite(cube: tuple, effects: tuple, overrides: tuple, step: Rewrite) -> list:
    """The pieces of a cube a NAT rule rewrites a field of, each with one new value."""
    ix = step.field
    over = _override(overrides, ix)
    now = cube[ix] if over is None else over
    out = []
    for part, values in ((now & step.keep, None), (now & ~step.keep, step.alternatives)):
        if not part:
            continue
        piece = cube if over is not None else _narrow(cube, ix, part)
        if values is None:
            out.append((piece, effects, overrides))
        else:
            out += [(piece, effects, _set(overrides, ix, value)) for value in values]
    return out


def _untrack(cube: tuple, effects: tuple, overrides: tuple, step: Untrack) -> list:
    """The pieces of a cube an untracking rule leaves UNTRACKED, and those that may keep their
    state (they overlap: RELATED and INVALID can be either, by whether the packet came with
    an entry, so both are walked)."""
    ix = step.field
    over = _override(overrides, ix)
    now = cube[ix] if over is None else over
    out = []
    for part, new in ((now & step.fresh, step.value), (now & step.kept, None)):
        if not part:
            continue
        if over is not None:
            out.append((cube, effects, _set(overrides, ix, part if new is None else new)))
            continue
        piece = _narrow(cube, ix, part)
        out.append((piece, effects, overrides if new is None else _set(overrides, ix, new)))
    return out


def _cut(cube: tuple, test: tuple, overrides: tuple):
    """(cube ∩ test or None, cube \\ test as disjoint cubes); overridden fields decide alone."""
    inside = list(cube)
    outside = []
    prefix = list(cube)
    for ix, mask in test:
        over = _override(overrides, ix)
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
