"""IPv6 extension header tests in nft (`frag id`, `rt type`, `exthdr hbh exists`, `mh type`,
and `ah` fields in IPv6) → -m frag / rt / hbh / dst / mh / ah: the inverse of the backend's
exthdr and ah handlers (backends/nft_exthdr.py); and `dccp type` → -m dccp --dccp-types.

Header lengths: nft compares the raw length field, iptables the whole header in bytes.
"""

from __future__ import annotations

from typing import Any

from .. import mappings
from ..ir import Match, Option
from .nft_lift_values import int_range, number, unrepresentable


def exthdr(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    name, field = body.get("name"), body.get("field")
    if name not in ("frag", "rt", "hbh", "dst", "mh"):
        unrepresentable(f"exthdr {name}")
    if field is None:
        if right is not True or op != "==":
            unrepresentable(f"exthdr {name} missing (no iptables match tests an absent header)")
        lift.add_match(name, None)
        if name == "mh":
            lift.implied_protocol = lift.implied_protocol or 135
        return
    if op not in ("==", "!="):
        unrepresentable(f"{name} {field} {op}")
    handler = _FIELDS.get((name, field))
    if handler is None:
        unrepresentable(f"{name} {field}")
    handler(lift, name, right, negated)


def _frag_id(lift, name, right, negated) -> None:
    lift.add_match("frag", Option("fragid", int_range(right, "frag id"), negated))


def _frag_bit(option: str, wanted: int):
    def lift_it(lift, name, right, negated) -> None:
        if negated or number(right, f"frag {option}") != wanted:
            unrepresentable(f"frag {option} {'!= ' if negated else ''}{right}")
        lift.add_match("frag", Option(option, None))
    return lift_it


def _frag_more(lift, name, right, negated) -> None:
    value = number(right, "frag more-fragments")
    if value not in (0, 1):
        unrepresentable(f"frag more-fragments {right}")
    lift.add_match("frag", Option("fragmore" if (value == 1) != negated else "fraglast", None))


def _frag_reserved(lift, name, right, negated) -> None:
    # --fragres is `frag reserved 0 frag reserved2 0`: the first half waits for the second
    if negated or number(right, "frag reserved") != 0:
        unrepresentable(f"frag reserved {right}")
    lift.add_match("frag", Option("fragres", "reserved-only"))


def _frag_reserved2(lift, name, right, negated) -> None:
    last = lift.matches[-1] if lift.matches else None
    half = last.option("fragres") if last is not None and last.module == "frag" else None
    if negated or number(right, "frag reserved2") != 0 or half is None or half.value is None:
        unrepresentable("frag reserved2 without frag reserved 0 before it")
    lift.matches[-1] = Match("frag", tuple(Option("fragres", None) if o.name == "fragres" else o
                                           for o in last.options))


def _length(unit: int, extra: int):
    """A raw length field back to the header's length in bytes."""
    def lift_it(lift, name, right, negated) -> None:
        if name == "ah" and lift.ctx.family != "ip6":
            unrepresentable("ah hdrlength in IPv4 (xt_ah has no --ahlen there)")
        option = {"rt": "rt-len", "hbh": "hbh-len", "dst": "dst-len", "ah": "ahlen"}[name]
        value = (number(right, f"{name} hdrlength") + extra) * unit
        lift.add_match(name, Option(option, value, negated))
    return lift_it


def _byte_range(option: str):
    def lift_it(lift, name, right, negated) -> None:
        lift.add_match(name, Option(option, int_range(right, option) if option != "rt-type"
                                    else number(right, option), negated))
    return lift_it


def _mh_type(lift, name, right, negated) -> None:
    # nft lists a type by name, also those libip6t_mh has no name for
    values = mappings.load("nft_values")
    names = dict(values["mh_types"], **values["mh_types_nft_only"])
    lift.implied_protocol = lift.implied_protocol or 135
    lift.add_match("mh", Option("mh-type", int_range(right, "mh type", names), negated))


def ah_field(lift, field: str, right: Any, op: str, negated: bool) -> None:
    """`ah hdrlength` / `ah reserved` (IPv6 only: ip6t_ah's --ahlen / --ahres)."""
    if lift.ctx.family != "ip6":
        unrepresentable(f"ah {field} in IPv4 (xt_ah tests only the SPI there)")
    if field == "hdrlength":
        _length(4, 2)(lift, "ah", right, negated)
    elif field == "reserved" and not negated and number(right, "ah reserved") == 0:
        lift.add_match("ah", Option("ahres", None))
    else:
        unrepresentable(f"ah {field} {op} {right}")


def dccp_type(lift, right: Any, op: str, negated: bool) -> None:
    if op not in ("==", "!="):
        unrepresentable(f"dccp type {op}")
    table = mappings.load("nft_values")["dccp_types"]
    names = {name: n for n, name in enumerate(table["nft"])}
    items = right["set"] if isinstance(right, dict) and "set" in right else [right]
    numbers: set[int] = set()
    for item in items:
        if isinstance(item, dict) and "range" in item:
            first, last = (names.get(x, x) for x in item["range"])
            if not isinstance(first, int) or not isinstance(last, int):
                unrepresentable(f"dccp type {item}")
            numbers.update(range(first, last + 1))
        elif isinstance(item, (int, str)):
            numbers.add(names.get(item, item) if isinstance(item, str) else item)
        else:
            unrepresentable(f"dccp type {item}")
    # iptables names the types 0-9 one by one and 10-15 together (INVALID)
    invalid = set(range(len(table["iptables"]) - 1, 16))
    if any(not isinstance(n, int) or not 0 <= n < 16 for n in numbers) or \
            (numbers & invalid and not invalid <= numbers):
        unrepresentable(f"dccp type {right} (iptables' INVALID is the types 10-15 together)")
    types = {table["iptables"][min(n, len(table["iptables"]) - 1)] for n in numbers}
    lift.add_match("dccp", Option("dccp-types", frozenset(types), negated))


_FIELDS = {
    ("frag", "id"): _frag_id,
    ("frag", "frag-off"): _frag_bit("fragfirst", 0),
    ("frag", "more-fragments"): _frag_more,
    ("frag", "reserved"): _frag_reserved,
    ("frag", "reserved2"): _frag_reserved2,
    ("rt", "type"): _byte_range("rt-type"),
    ("rt", "seg-left"): _byte_range("rt-segsleft"),
    ("rt", "hdrlength"): _length(8, 1),
    ("hbh", "hdrlength"): _length(8, 1),
    ("dst", "hdrlength"): _length(8, 1),
    ("mh", "type"): _mh_type,
}
