"""The equivalence checker's view of one ruleset on one hook: its chains compiled to tests over
the atom space, an index that lets a narrow piece skip rules testing other values, and hashes
of what is left to run (the rest of a chain, deep through jumps), by which the walk drops a
piece as soon as both sides have the same program left.
"""

from __future__ import annotations

from bisect import bisect_left

from ..ir import Jump, Ruleset, builtin_chains_reaching
from .compile import CompiledRule, Compiler, Test, Untrack, target_label
from .diff import normal_rule
from .evaluate import _CHAIN_OF_HOOK, HOOK_TABLES
from .ipsets import exact_sets


class Program:
    """One ruleset, one family, one hook: its base chains in order and compiled rules."""

    def __init__(self, ruleset: Ruleset, family: str, hook: str, compiler: Compiler):
        compiler.ipsets = exact_sets(ruleset, family)
        compiler.hook = hook
        compiler.raw_state_blind = _raw_state_blind(ruleset, family, hook)
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
        if key in self._deep:
            return self._deep[key]
        # the chains it jumps to first, deepest first, with a stack of its own (a chain of
        # chains can be thousands deep); each is 0 while it is being worked out, so that a
        # loop cannot recurse forever
        self._deep[key] = 0
        stack = [(key, iter(self._jump_targets(key)))]
        while stack:
            current, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                self._deep[current] = self.suffix(current)[0]
            elif target not in self._deep:
                self._deep[target] = 0
                stack.append((target, iter(self._jump_targets(target))))
        return self._deep[key]

    def _jump_targets(self, key: tuple[str, str]) -> list[tuple[str, str]]:
        return [(key[0], r.target.chain) for r in self.chains.get(key, [])
                if isinstance(r.target, Jump)]

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


def _raw_state_blind(ruleset: Ruleset, family: str, hook: str) -> bool:
    """Whether no raw rule this hook's packets meet tests the conntrack state (which raw
    sees before conntrack, unlike the tables after it)."""
    base = _CHAIN_OF_HOOK[hook]
    for table in ruleset.tables:
        if table.family != family or table.name != "raw":
            continue
        reaching = builtin_chains_reaching(table)
        for chain in table.chains:
            if base in reaching.get(chain.name, ()) and any(
                    m.module in ("conntrack", "state") for r in chain.rules for m in r.matches):
                return False
    return True


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


def _meaning(rule: CompiledRule):
    """What makes two rules the same for the lockstep walk: the rule, and for a lookup in an
    ipset also its compiled test (the same name can hold other members on the other side)."""
    if any(m.module == "set" for m in rule.rule.matches) or \
            any(isinstance(s, Untrack) for s in rule.steps):
        # (an untracking rule is modelled only where raw tests no state)
        return normal_rule(rule.rule), rule.steps
    return normal_rule(rule.rule)
