"""Keeps nft from joining two `!=` tests of adjacent header fields.

nft 1.0.6 joins the comparisons of adjacent header fields made with the same operator into one
comparison of their bytes (`ip ttl != 210 ip protocol != udplite` is loaded as one 2-byte
`!= 0xd288`): right for `==`, wrong for `!=`, where the joined test holds when *either* field
differs and the rule means both. A one-value range (`!= 136-136`) is not a value to nft, so it
is never joined, and the kernel compares it exactly (`range neq`); the second of two adjacent
`!=` tests is written so. The fields and their offsets: mappings/nft_values.toml
[payload_fields].
"""

from __future__ import annotations

from functools import cache

from .. import mappings
from .nft_ast import AnonSet, Compare, Payload, Range, Symbol, Text


# the tables are loaded when a rule first has two `!=` tests, not at every start
@cache
def _fields() -> dict[tuple[str, str], tuple[str, int, int]]:
    table = mappings.load("nft_values")["payload_fields"]
    return {tuple(name.split()): tuple(place) for name, place in table.items()}


@cache
def _numbers() -> dict[tuple[str, str], dict[str, int]]:
    """nft's names for the values of the fields that have them: nft reads no name in a
    range (`udplite-udplite` is an error), so the range is written with the number."""
    protocols = {name: number for number, name in mappings.protocol_nft_names().items()}
    out = {("ip", "protocol"): protocols, ("ip6", "nexthdr"): protocols}
    for family, proto in (("ip", "icmp"), ("ip6", "icmpv6")):
        out[(proto, "type")] = {n: t for t, n in mappings.icmp_nft_types(family).items()}
        out[(proto, "code")] = {n: c for codes in mappings.icmp_nft_codes(family).values()
                                for c, n in codes.items()}
    return out


def _as_number(left: Payload, value):
    """A named value as its number; anything else (numbers, addresses) as it is."""
    if type(value) is not Symbol or value.text[:1].isdigit() or ":" in value.text:
        return value
    number = _numbers().get((left.protocol, left.field), {}).get(value.text)
    if number is None:
        # every name fwmigrate writes for these fields is in the tables above
        raise ValueError(f"no number for {left.protocol} {left.field} {value.text}")
    return Symbol(str(number))


def _single_value(right) -> object | None:
    """The value a comparison's right side is, or None when it is no single value (a range,
    a prefix, a set of several); nft treats a set of one as its member."""
    if type(right) is AnonSet and len(right.items) == 1:
        right = right.items[0]
    return right if type(right) in (Symbol, Text) else None


def keep_neq_apart(statements: tuple) -> tuple:
    """The statements, with every `!=` of a single value on a header field that follows
    another such test on the field just before it written as a one-value range."""
    places = {}
    fields = _fields()
    for i, s in enumerate(statements):
        if type(s) is Compare and s.op == "!=" and type(s.left) is Payload:
            place = fields.get((s.left.protocol, s.left.field))
            if place is not None and _single_value(s.right) is not None:
                places[i] = place
    if len(places) < 2:
        return statements
    ends = {(base, offset + length) for base, offset, length in places.values()}
    out = list(statements)
    for i, (base, offset, _length) in places.items():
        if (base, offset) in ends:
            value = _as_number(out[i].left, _single_value(out[i].right))
            out[i] = Compare(out[i].left, "!=", Range(value, value))
    return tuple(out)
