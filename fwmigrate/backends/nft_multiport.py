"""-m multiport --ports L: the source *or* the destination port in L, as one nft lookup of the
pair `sport . dport` in a set of port boxes: every source with a port of L as destination,
and every port of L as source with any destination.

nft keeps such a set in its concatenated-range backend, which refuses an element whose first
or last point falls inside an element already there. So the boxes are made disjoint: (any . l)
for each range l of L, then (l . c) for each range c outside L. Where L is one range strictly
inside 1-65534 the two overlapping boxes (any . l, l . any) load too, and are what
iptables-translate writes.
"""

from __future__ import annotations

from ..ir import PortRange
from .nft_ast import AnonSet, Compare, Concat, Expr, Payload, Range, Statement, Symbol
from .nft_common import L4_NAMES, port
from .nft_recent import Untranslatable

_ALL = PortRange(0, 65535)


def merged(ranges) -> list[PortRange]:
    """The same ports as sorted, disjoint, non-adjacent ranges."""
    out: list[PortRange] = []
    for r in sorted(ranges, key=lambda r: r.first):
        if out and r.first <= out[-1].last + 1:
            out[-1] = PortRange(out[-1].first, max(out[-1].last, r.last))
        else:
            out.append(r)
    return out


def complement(ranges: list[PortRange]) -> list[PortRange]:
    out, start = [], 0
    for r in ranges:
        if r.first > start:
            out.append(PortRange(start, r.first - 1))
        start = r.last + 1
    if start <= 65535:
        out.append(PortRange(start, 65535))
    return out


def boxes(ports) -> list[tuple[PortRange, PortRange]]:
    """(source range, destination range) boxes whose union is "sport or dport in ports"."""
    wanted = merged(ports)
    if len(wanted) == 1 and 0 < wanted[0].first and wanted[0].last < 65535:
        return [(_ALL, wanted[0]), (wanted[0], _ALL)]
    return [(_ALL, r) for r in wanted] + [(r, c) for r in wanted for c in complement(wanted)]


def _range(r: PortRange) -> Expr:
    return Range(Symbol("0"), Symbol("65535")) if r == _ALL else port(r)


def h_ports(tr, rule, index, match, opt, ctx) -> list[Statement]:
    l4 = L4_NAMES.get(ctx.proto or -1)
    if l4 is None:
        raise Untranslatable("the ports need -p tcp, udp, udplite, sctp or dccp")
    items = tuple(Concat((_range(s), _range(d))) for s, d in boxes(opt.value))
    key = Concat((Payload(l4, "sport"), Payload(l4, "dport")))
    return [Compare(key, "!=" if opt.negated else "==", AnonSet(items))]
