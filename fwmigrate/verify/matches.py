"""Does a rule's test hold for a packet? True, False, or None when a field it needs is unknown.

Rules are evaluated as iptables does: the built-in selectors first, then the matches in order,
stopping at the first that fails; a `recent` match changes the lists as it goes, so a rule can
set an address and a later match of the same rule can see it.
"""

from __future__ import annotations

from collections.abc import Callable

from ..backends.nft_ipsets import PORT_PROTOCOLS
from ..frontends.ipset_sets import DIMENSIONS
from ..frontends.limit_values import normal_connlimit, normal_hashlimit
from ..ir import Address, IcmpType, Match, Option, PortRange, Rule
from .ipsets import member
from .packet import Packet

Tri = bool | None


def _in_net(addr, net: Address) -> Tri:
    if addr is None:
        return None
    if addr.version != net.addr.version:
        return False
    return (int(addr) & int(net.mask)) == int(net.addr)


def _iface(name: str | None, pattern: str) -> Tri:
    if name is None:
        return None
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _neg(value: Tri, negated: bool) -> Tri:
    return value if value is None or not negated else not value


def _ports(port: int | None, ranges) -> Tri:
    if port is None:
        return None
    if isinstance(ranges, PortRange):
        ranges = (ranges,)
    return any(r.first <= port <= r.last for r in ranges)


def _what(flag: str, sel) -> str:
    return f"{'! ' if sel.negated else ''}{flag} {sel.value}"


def _selectors(rule: Rule, p: Packet) -> list[tuple[Tri, str]]:
    tests: list[tuple[Tri, str]] = []
    if rule.source:
        tests.append((_neg(_in_net(p.saddr, rule.source.value), rule.source.negated),
                      _what("-s", rule.source)))
    if rule.destination:
        tests.append((_neg(_in_net(p.daddr, rule.destination.value), rule.destination.negated),
                      _what("-d", rule.destination)))
    if rule.in_interface:
        tests.append((_neg(_iface(p.iif, rule.in_interface.value), rule.in_interface.negated),
                      _what("-i", rule.in_interface)))
    if rule.out_interface:
        tests.append((_neg(_iface(p.oif, rule.out_interface.value),
                           rule.out_interface.negated), _what("-o", rule.out_interface)))
    if rule.protocol:
        proto = None if p.proto is None else p.proto == rule.protocol.value
        tests.append((_neg(proto, rule.protocol.negated), _what("-p", rule.protocol)))
    if rule.fragment:
        tests.append((_neg(p.fragment, rule.fragment.negated),
                      ("! " if rule.fragment.negated else "") + "-f"))
    return tests


# --- per-module option tests -------------------------------------------------------------------

def _l4(p: Packet, opt: Option, proto: int) -> Tri:
    if p.fragment:
        return False              # a non-first fragment has no transport header to read
    if opt.name in ("sport", "dport"):
        return _ports(p.sport if opt.name == "sport" else p.dport, opt.value)
    if opt.name == "tcp-flags":
        if p.tcp_flags is None:
            return None
        return (p.tcp_flags & opt.value.mask) == (opt.value.compare & opt.value.mask)
    return None                   # --tcp-option: options are not modelled


def _icmp(p: Packet, opt: Option) -> Tri:
    t: IcmpType = opt.value
    if p.fragment:
        return False
    if t.type is None:
        return True
    if p.icmp_type is None:
        return None
    if p.icmp_type != t.type:
        return False
    if t.code_min == 0 and t.code_max == 0xFF:
        return True
    return None if p.icmp_code is None else t.code_min <= p.icmp_code <= t.code_max


def _multiport(p: Packet, opt: Option) -> Tri:
    if p.fragment:
        return False
    if opt.name == "sports":
        return _ports(p.sport, opt.value)
    if opt.name == "dports":
        return _ports(p.dport, opt.value)
    s, d = _ports(p.sport, opt.value), _ports(p.dport, opt.value)
    if s or d:
        return True
    return None if s is None or d is None else False


def _ct_state(p: Packet, states: frozenset) -> Tri:
    wanted = {s.lower() for s in states}
    results = []
    if wanted - {"snat", "dnat"}:
        results.append(None if p.ct_state is None else p.ct_state in wanted)
    for nat in ("SNAT", "DNAT"):
        if nat.lower() in wanted:
            results.append(None if p.ct_status is None else nat in p.ct_status)
    if True in results:
        return True
    return None if None in results else False


def _conntrack(p: Packet, opt: Option) -> Tri:
    name, v = opt.name, opt.value
    if name in ("ctstate", "state"):
        return _ct_state(p, v)
    if name == "ctstatus":
        if p.ct_status is None:
            return None
        return bool(p.ct_status & v) if v else not (p.ct_status - {"SNAT", "DNAT"})
    if name == "ctproto":
        return None if p.proto is None else p.proto == v
    if name == "ctdir":
        return None if p.ct_direction is None else p.ct_direction == v
    if name == "ctorigsrc":
        return _in_net(p.ct_orig_saddr, v)
    if name == "ctorigdst":
        return _in_net(p.ct_orig_daddr, v)
    if name == "ctorigsrcport":
        return _ports(p.ct_orig_sport, v)
    if name == "ctorigdstport":
        return _ports(p.ct_orig_dport, v)
    return None                   # reply tuple, expiry: not modelled


def _without_entry(p: Packet, match: Match) -> bool:
    """A conntrack or state match on a packet with no entry (the raw table; INVALID and
    UNTRACKED packets have none either): only the state is tested; with no state test the
    match fails, `!` or not, as every other option needs an entry (xt_conntrack)."""
    states = [o for o in match.options if o.name in ("ctstate", "state")]
    p = p.with_(ct_status=frozenset())          # no entry: no SNAT/DNAT either
    return bool(states) and all(_neg(_ct_state(p, o.value), o.negated) is True for o in states)


_OPTION_TESTS: dict[str, Callable[[Packet, Option], Tri]] = {
    "tcp": lambda p, o: _l4(p, o, 6),
    "udp": lambda p, o: _l4(p, o, 17),
    "udplite": lambda p, o: _l4(p, o, 136),
    "icmp": _icmp,
    "icmp6": _icmp,
    "multiport": _multiport,
    "conntrack": _conntrack,
    "state": _conntrack,
    "comment": lambda p, o: True,
}


def _recent(p: Packet, match: Match) -> list[tuple[Tri, Packet, list[str]]]:
    opts = {o.name: o for o in match.options}
    mode = opts["mode"]
    name = opts["name"].value
    key = p.saddr if opts["side"].value == "rsource" else p.daddr
    members = p.recent.get(name, frozenset())
    if key is None:
        return [(None, p, [])]
    if "mask" in opts:
        key = type(key)(int(key) & int(opts["mask"].value))
    present = key in members
    notes = []
    if opts.get("seconds") or opts.get("hitcount"):
        notes.append(f"recent list {name}: an address counts as seen only if it was seen "
                     "recently enough (not modelled: taken as seen when present)")
    if mode.value == "set":
        return [(not mode.negated, _with_list(p, name, members | {key}), notes)]
    if mode.value == "remove":
        return [(_neg(present, mode.negated), _with_list(p, name, members - {key}), notes)]
    result = _neg(present, mode.negated)
    if mode.value == "update" and result:
        return [(result, p, notes)]
    return [(result, p, notes)]


def _with_list(p: Packet, name: str, members: frozenset) -> Packet:
    lists = dict(p.recent)
    lists[name] = members
    return p.with_(recent=lists)


def _in_ipset(p: Packet, match: Match) -> Tri:
    """Membership of the packet's key in a set whose members are known (verify/ipsets.py)."""
    opt = match.options[0]
    s = p.ipsets[opt.value[0]]
    values: list = []
    for dim, direction in zip(DIMENSIONS[s.type], opt.value[1], strict=False):
        src = direction == "src"
        if dim in ("ip", "net"):
            values.append(p.saddr if src else p.daddr)
        elif p.proto is None:
            values.append(None)
        elif p.proto not in PORT_PROTOCOLS or p.fragment:
            return _neg(False, opt.negated)     # no port ipset reads: no member has one
        else:
            port = p.sport if src else p.dport
            values.append(port if s.type == "bitmap:port" or port is None else (p.proto, port))
    if len(values) < len(DIMENSIONS[s.type]) or any(v is None for v in values):
        return None
    return _neg(member(s, values), opt.negated)


def _match(p: Packet, match: Match) -> list[tuple[Tri, Packet, list[str]]]:
    if match.module == "recent":
        return _recent(p, match)
    if match.module == "set":
        name = match.options[0].value[0]
        if len(match.options) == 1 and name in p.ipsets:
            return [(_in_ipset(p, match), p, [])]
        return [(None, p, [f"the members of ipset {name} are not known here (no --ipsets, "
                           "or -j SET or timeouts change them)"])]
    if match.module == "limit":
        rate = match.option("limit").value
        return [(True, p, [f"limit {rate.count}/{rate.unit} taken as not exceeded"])]
    if match.module in ("hashlimit", "connlimit"):
        # as for limit: under the rate / connection count, so --*-upto matches, --*-above not
        normal = normal_connlimit(match) if match.module == "connlimit" else \
            normal_hashlimit(match)
        if normal.module == "limit":
            return _match(p, normal)
        above = normal.options[0].name == "above"
        what = "its rate" if match.module == "hashlimit" else "its connection count"
        return [(not above, p, [f"-m {match.module} taken as under {what}"])]
    if match.module in ("conntrack", "state") and (p.ct_missing or
                                                   p.ct_state in ("invalid", "untracked")):
        return [(_without_entry(p, match), p, [])]
    test = _OPTION_TESTS.get(match.module)
    if test is None:
        return [(None, p, [f"-m {match.module} is not modelled"])]
    result: Tri = True
    if not match.options and match.module in ("tcp", "udp", "udplite"):
        result = not p.fragment
    for opt in match.options:
        value = _neg(test(p, opt), opt.negated and opt.name not in ("ctstate", "state"))
        if opt.negated and opt.name in ("ctstate", "state"):
            value = _neg(value, True)
        if value is False:
            return [(False, p, [])]
        if value is None:
            result = None
    return [(result, p, [])]


def _assume(packet: Packet, what: str, value: bool) -> Packet:
    changes: dict = {"assumed": packet.assumed | {(what, value)}}
    # an exact interface name that matched is now known
    for flag, attr in (("-i ", "iif"), ("-o ", "oif")):
        if value and what.startswith(flag) and not what.endswith("+"):
            changes[attr] = what[len(flag):]
    return packet.with_(**changes)


def _known(packet: Packet, what: str) -> bool | None:
    if (what, True) in packet.assumed:
        return True
    if (what, False) in packet.assumed:
        return False
    return None


def _match_text(match: Match) -> str:
    """The match as iptables-save writes it (the assumption a branch makes about it)."""
    from ..backends.iptables_save import rule_words
    return " ".join(rule_words(Rule(matches=(match,))))


def match_rule(rule: Rule, packet: Packet) -> list[tuple[bool, Packet, list[str]]]:
    """Every way the rule can go: (matched, packet after its side effects, assumptions)."""
    branches: list[tuple[Packet, list[str]]] = [(packet, [])]
    out: list[tuple[bool, Packet, list[str]]] = []
    tests = [(value, what, None) for value, what in _selectors(rule, packet)]
    tests += [(None, None, m) for m in rule.matches]
    for value, what, match in tests:
        next_branches = []
        for pkt, assumed in branches:
            if match is None:
                results = [(value if value is not None else _known(pkt, what), pkt, [])]
            else:
                results = _match(pkt, match)
                what = _match_text(match)
                results = [(r if r is not None else _known(after, what), after, extra)
                           for r, after, extra in results]
            for result, after, extra in results:
                if result is False:
                    out.append((False, after, assumed + extra))
                elif result is None:
                    out.append((False, _assume(after, what, False),
                                assumed + extra + [f"`{what.strip()}` does not match"]))
                    next_branches.append((_assume(after, what, True),
                                          assumed + extra + [f"`{what.strip()}` matches"]))
                else:
                    next_branches.append((after, assumed + extra))
        branches = next_branches
        if not branches:
            break
    out += [(True, pkt, assumed) for pkt, assumed in branches]
    return out
