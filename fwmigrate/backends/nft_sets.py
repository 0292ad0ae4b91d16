"""Name the anonymous sets of a large ruleset: one set object per distinct literal.

An anonymous set (`tcp dport { 80, 443 }`) is a kernel object of its own, and nft gives it a
name by scanning the names already taken: loading many of them in one transaction grows with
their square (measured: 100,000 rules of which 5,000 use a port list took 16 s to load, and
2.5 s once the lists were named sets). A named constant set means the same to every packet
(`tcp dport @ports_1`), so past a threshold every literal set becomes a named one, shared by
all rules that use the same literal.
"""

from __future__ import annotations

from dataclasses import replace

from .nft_ast import AnonSet, Compare, NftRuleset, NftSet, NftTable, Payload, Range, SetRef

# fewer anonymous sets than this load fast and read better inline
THRESHOLD = 200
_TYPES = {("tcp", "sport"): "inet_service", ("tcp", "dport"): "inet_service",
          ("udp", "sport"): "inet_service", ("udp", "dport"): "inet_service",
          ("udplite", "sport"): "inet_service", ("udplite", "dport"): "inet_service",
          ("sctp", "sport"): "inet_service", ("sctp", "dport"): "inet_service",
          ("dccp", "sport"): "inet_service", ("dccp", "dport"): "inet_service"}


def _type(left) -> str | None:
    if isinstance(left, Payload):
        return _TYPES.get((left.protocol, left.field))
    return None


def hoist(ruleset: NftRuleset, threshold: int = THRESHOLD, *,
          candidates: set[int] | None = None) -> NftRuleset:
    """`candidates`: ids of the rules that may hold literal sets (a superset, which the
    translator knows per rule shape); None looks at every statement of every rule."""
    return NftRuleset(tuple(_table(t, threshold, candidates) for t in ruleset.tables),
                      ruleset.notes)


def _hoistable(s) -> str | None:
    """The set type of a literal set this statement compares with, if it is one to name."""
    if isinstance(s, Compare) and isinstance(s.right, AnonSet):
        return _type(s.left)
    return None


def _table(table: NftTable, threshold: int, candidates: set[int] | None) -> NftTable:
    # (chain, rule) positions of the rules that hold literal sets; most rules hold none
    # (this looks at every statement: exact type tests, which cost less than isinstance)
    found = [(c, r) for c, chain in enumerate(table.chains)
             for r, rule in enumerate(chain.rules)
             if candidates is None or id(rule) in candidates
             for s in rule.statements
             if type(s) is Compare and type(s.right) is AnonSet and _type(s.left)]
    if len(found) < threshold:
        return table
    taken = {s.name for s in table.sets} | {c.name for c in table.chains}
    named: dict[tuple[str, AnonSet], str] = {}
    sets = list(table.sets)

    def name_for(kind: str, literal: AnonSet) -> str:
        key = (kind, literal)
        if key not in named:
            n = len(named) + 1
            while f"ports_{n}" in taken:
                n += 1
            named[key] = f"ports_{n}"
            taken.add(named[key])
            interval = any(isinstance(i, Range) for i in literal.items)
            sets.append(NftSet(named[key], kind, None, None, False, None, literal.items,
                               interval))
        return named[key]

    chains = list(table.chains)
    rules_of: dict[int, list] = {}
    # id of a statement → (it, what replaces it): rules of one shape share their statements
    hoisted: dict[int, tuple] = {}
    for c, r in dict.fromkeys(found):       # each rule once, in order
        rules = rules_of.get(c)
        if rules is None:
            rules = rules_of[c] = list(chains[c].rules)
        rule = rules[r]
        statements = []
        for s in rule.statements:
            hit = hoisted.get(id(s))
            if hit is None:
                kind = _hoistable(s)
                hit = hoisted[id(s)] = (s, Compare(s.left, s.op, SetRef(name_for(kind, s.right)))
                                        if kind else s)
            statements.append(hit[1])
        rules[r] = replace(rule, statements=tuple(statements))
    for c, rules in rules_of.items():
        chains[c] = replace(chains[c], rules=tuple(rules))
    return replace(table, sets=tuple(sets), chains=tuple(chains))
