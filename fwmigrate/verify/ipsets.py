"""ipset membership for the equivalence checker: exact where the members are known and fixed.

A lookup in a set of addresses or networks (hash:ip, hash:net, bitmap:ip) whose members are
known (`--ipsets` for iptables, the set's elements for nft) and cannot change during a walk
(no -j SET / set statement writes it, no member times out) is a test on the address field: the
union of its members' intervals, as `-m iprange` is. Any other lookup stays an independent
yes/no condition (space.py's opaque fields): the same lookup in both rulesets pairs up, so it
can raise a false alarm but never hide a difference.

The packet evaluator (explain, apply's lockout guard) answers lookups in the sets of addresses
and ports the same way (known_sets); the lockout guard asks about the moment the ruleset is
loaded, when every set holds exactly the members it was declared with.
"""

from __future__ import annotations

from ..ir import Address, IpSet, Match, Ruleset, TargetExtension

ADDRESS_TYPES = frozenset({"hash:ip", "hash:net", "bitmap:ip"})


def exact_sets(ruleset: Ruleset, family: str) -> dict[str, list[tuple[int, int]]]:
    """ipset name → the address intervals of its members, for the sets modelled exactly."""
    written = _written(ruleset)
    out = {}
    for s in ruleset.ipsets:
        if s.type not in ADDRESS_TYPES or s.family != family or s.name in written \
                or s.timeout is not None or s.option("netmask") is not None:
            continue
        intervals = []
        for values, options in s.entries:
            if any(o.name in ("nomatch", "timeout") for o in options):
                break
            addr = values[0]
            first = int(addr.addr)
            span = (1 << addr.addr.max_prefixlen) - 1 - int(addr.mask)
            intervals.append((first, first | span))
        else:
            out[s.name] = intervals
    return out


_EVALUATED = frozenset({"hash:ip", "hash:net", "bitmap:ip", "hash:ip,port", "hash:net,port",
                        "hash:ip,port,ip", "bitmap:port"})


def known_sets(ruleset: Ruleset, family: str, as_loaded: bool = False) -> dict[str, IpSet]:
    """The sets whose lookups the packet evaluator answers (explain, the lockout guard): the
    same rule as exact_sets, for the types with address and port dimensions; as_loaded: right
    after loading, also the sets -j SET or timeouts change later."""
    written = _written(ruleset)
    out = {}
    for s in ruleset.ipsets:
        if s.type not in _EVALUATED or s.family not in (family, None) or \
                s.option("netmask") is not None or any(
                o.name == "nomatch" or o.name == "timeout" and not as_loaded
                for _, opts in s.entries for o in opts):
            continue
        if as_loaded or (s.name not in written and s.timeout is None):
            out[s.name] = s
    return out


def _written(ruleset: Ruleset) -> set[str]:
    """The sets some -j SET adds to or deletes from."""
    return {o.value[0] for t in ruleset.tables for c in t.chains for r in c.rules
            if isinstance(r.target, TargetExtension) and r.target.name == "SET"
            for o in r.target.options if o.name in ("add-set", "del-set")}


def member(s: IpSet, values: list) -> bool:
    """Is the packet's key (one value per dimension: an address, (protocol, port), a port)
    a member of the set?"""
    for entry, _options in s.entries:
        for want, got in zip(entry, values, strict=True):
            if isinstance(want, Address):
                if got.version != want.addr.version or \
                        int(got) & int(want.mask) != int(want.addr):
                    break
            elif want != got:
                break
        else:
            return True
    return False


def lookup_field(m: Match) -> str:
    """The address field a one-dimension lookup reads."""
    return "saddr" if m.option("match-set").value[1][0] == "src" else "daddr"
