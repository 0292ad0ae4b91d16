"""`sport . dport` looked up in a set of port boxes → -m multiport --ports L (the source or the
destination port in L), the inverse of backends/nft_multiport.py. Any boxes whose union is
exactly "sport in L or dport in L" are read so, however they are cut."""

from __future__ import annotations

from typing import Any

from .. import mappings
from ..ir import Option, PortRange
from .nft_lift_values import is_range, number, unrepresentable

_ALL = (0, 65535)


def _span(value: Any) -> tuple[int, int]:
    if is_range(value):
        first, last = (number(v, "port") for v in value["range"])
        return first, last
    n = number(value, "port")
    return n, n


def _union(spans) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _cuts(spans) -> list[int]:
    """The points where membership can change along one port axis."""
    points = {0}
    for first, last in spans:
        points.add(first)
        if last < 65535:
            points.add(last + 1)
    return sorted(points)


def either_port(lift, proto: str, right: Any, negated: bool) -> None:
    """`proto sport . proto dport [!=] { … }` as -m multiport [!] --ports."""
    elems = right.get("set") if isinstance(right, dict) else None
    if not elems:
        unrepresentable("a concatenation of ports looked up in something other than a set")
    found = []
    for elem in elems:
        pair = elem.get("concat") if isinstance(elem, dict) else None
        if not pair or len(pair) != 2:
            unrepresentable("a set of port pairs with an element that is not a pair")
        found.append((_span(pair[0]), _span(pair[1])))
    # L: the destination ports any source reaches; then the boxes must be exactly
    # "sport in L or dport in L", checked on the grid of every point where that can change
    ports = _union(d for s, d in found if s == _ALL)
    if not ports:
        unrepresentable("a set of port pairs that is not \"either port in a list\"")
    cuts_s = _cuts([s for s, _ in found] + ports)
    cuts_d = _cuts([d for _, d in found] + ports)
    for ps in cuts_s:
        for pd in cuts_d:
            held = any(s[0] <= ps <= s[1] and d[0] <= pd <= d[1] for s, d in found)
            wanted = any(f <= ps <= la or f <= pd <= la for f, la in ports)
            if held != wanted:
                unrepresentable("a set of port pairs that is not \"either port in a list\" "
                                "(-m multiport --ports)")
    if sum(1 if f == la else 2 for f, la in ports) > 15:
        unrepresentable("more ports than -m multiport holds (15, a range counting as 2)")
    lift.implied_protocol = lift.implied_protocol or mappings.protocol_numbers()[proto]
    lift.add_match("multiport", Option("ports", tuple(PortRange(f, la) for f, la in ports),
                                       negated))
