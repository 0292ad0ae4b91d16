"""Values in libnftables JSON → the IR's values: addresses, ports, numbers, and the names nft
lists instead of numbers (DSCP classes, packet types, realms, …). Shared by the lifters of
matches (nft_lift_matches.py) and statements (nft_lift_targets.py)."""

from __future__ import annotations

import ipaddress
from typing import Any, NoReturn

from .. import mappings
from ..ir import Address, AddressRange, IntRange, PortRange

ALL_ONES = 0xFFFFFFFF


class Unrepresentable(Exception):
    """A statement or chain the IR has no form for."""


def unrepresentable(what: str) -> NoReturn:
    raise Unrepresentable(what)


def address(value: Any, family: str) -> Address:
    if isinstance(value, dict) and "prefix" in value:
        text = f"{value['prefix']['addr']}/{value['prefix']['len']}"
    elif isinstance(value, str):
        text = value
    else:
        unrepresentable(f"address {value!r} (a set or range of addresses)")
    net = ipaddress.ip_network(text, strict=False)
    _check_version(net.version, family)
    return Address(net.network_address, net.netmask)


def address_range(value: Any, family: str) -> AddressRange:
    first, last = (ipaddress.ip_address(a) for a in value["range"])
    _check_version(first.version, family)
    return AddressRange(first, last)


def _check_version(version: int, family: str) -> None:
    if (version == 4) != (family == "ip"):
        unrepresentable(f"an IPv{version} address in an {family} rule")


def is_range(value: Any) -> bool:
    return isinstance(value, dict) and "range" in value


def is_set(value: Any) -> bool:
    return isinstance(value, dict) and "set" in value


def port_ranges(value: Any) -> tuple[PortRange, ...]:
    items = value["set"] if is_set(value) else [value]
    out = []
    for item in items:
        if is_range(item):
            out.append(PortRange(*item["range"]))
        elif isinstance(item, int):
            out.append(PortRange(item, item))
        else:
            unrepresentable(f"port {item!r}")
    return tuple(out)


def protocol(value: Any) -> int:
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        unrepresentable(f"protocol {value!r} (several at once)")
    names = {v: int(k) for k, v in mappings.protocol_nft_names().items()}
    if value in names:
        return names[value]
    number_ = mappings.protocol_numbers().get(value)
    if number_ is None:
        unrepresentable(f"protocol {value}")
    return number_


def number(value: Any, what: str, names: dict[str, int] | None = None) -> int:
    """An integer nft lists as a number, a number in a string (realms), or a name."""
    if isinstance(value, bool):
        unrepresentable(f"{what} {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if names and value in names:
            return names[value]
        try:
            return int(value, 0)
        except ValueError:
            pass
    unrepresentable(f"{what} {value!r}")


def int_range(value: Any, what: str, names: dict[str, int] | None = None) -> IntRange:
    if is_range(value):
        first, last = value["range"]
        return IntRange(number(first, what, names), number(last, what, names))
    n = number(value, what, names)
    return IntRange(n, n)


def icmp_number(value: Any, family: str, kind: str) -> int:
    if isinstance(value, int):
        return value
    table = (mappings.icmp_nft_types(family) if kind == "type" else
             {c: n for codes in mappings.icmp_nft_codes(family).values() for c, n in codes.items()})
    for number_, name in table.items():
        if name == value:
            return number_
    unrepresentable(f"ICMP {kind} {value}")


def flags(value: Any) -> frozenset[str]:
    if value == 0:
        return frozenset()
    items = [value] if isinstance(value, str | int) else value
    numbers = [i for i in items if not isinstance(i, str)]
    if numbers:             # nft lists bits that have no name as a number (`ct state 65535`)
        unrepresentable(f"flags {', '.join(map(str, numbers))} (bits without names)")
    return frozenset(i.upper().replace("-", "_") for i in items)


def dscp(value: Any) -> int:
    return number(value, "dscp", mappings.nft_dscp_values())


def ecn(value: Any) -> int:
    return number(value, "ecn", mappings.nft_ecn_values())


def tc_class(value: Any) -> int:
    """A tc class id as nft lists it: MAJOR:MINOR in hexadecimal, or none / root."""
    if isinstance(value, str) and ":" in value:
        major, minor = value.split(":", 1)
        try:
            return int(major or "0", 16) << 16 | int(minor or "0", 16)
        except ValueError:
            pass
    return number(value, "tc class", mappings.nft_tc_handles())


# meta keys whose values nft lists by iproute2's names (`default` for device group 0)
IPROUTE2_TABLES = {"iifgroup": "group", "oifgroup": "group", "rtclassid": "rt_realms"}


def meta_number(key: str, value: Any) -> int:
    table = IPROUTE2_TABLES.get(key)
    return number(value, f"meta {key}", mappings.iproute2_names(table) if table else None)
