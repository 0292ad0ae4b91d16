"""ipset membership for the equivalence checker: exact where the members are known and fixed.

A lookup in a set of addresses or networks (hash:ip, hash:net, bitmap:ip) whose members are
known (`--ipsets` for iptables, the set's elements for nft) and cannot change during a walk
(no -j SET / set statement writes it, no member times out) is a test on the address field: the
union of its members' intervals, as `-m iprange` is. Any other lookup stays an independent
yes/no condition (space.py's opaque fields): the same lookup in both rulesets pairs up, so it
can raise a false alarm but never hide a difference.
"""

from __future__ import annotations

from ..ir import Match, Ruleset, TargetExtension

ADDRESS_TYPES = frozenset({"hash:ip", "hash:net", "bitmap:ip"})


def exact_sets(ruleset: Ruleset, family: str) -> dict[str, list[tuple[int, int]]]:
    """ipset name → the address intervals of its members, for the sets modelled exactly."""
    written = {o.value[0] for t in ruleset.tables for c in t.chains for r in c.rules
               if isinstance(r.target, TargetExtension) and r.target.name == "SET"
               for o in r.target.options if o.name in ("add-set", "del-set")}
    out = {}
    for s in ruleset.ipsets:
        if s.type not in ADDRESS_TYPES or s.family != family or s.name in written \
                or s.timeout is not None or s.option("netmask") is not None:
            continue
        intervals = []
        for values, options in s.entries:
            if options and any(o.name in ("timeout", "nomatch") for o in options):
                break
            addr = values[0]
            first = int(addr.addr)
            span = (1 << addr.addr.max_prefixlen) - 1 - int(addr.mask)
            intervals.append((first, first | span))
        else:
            out[s.name] = intervals
    return out


def lookup_field(m: Match) -> str:
    """The address field a one-dimension lookup reads."""
    return "saddr" if m.option("match-set").value[1][0] == "src" else "daddr"
