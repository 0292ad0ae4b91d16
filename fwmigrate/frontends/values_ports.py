"""Port values: ports and port ranges (--sport/--dport), multiport lists, NAT port ranges."""

from __future__ import annotations

import re

import pyparsing as pp

from .. import mappings
from ..errors import OptionError
from ..ir import PortRange
from .values_common import _UINT, _run, c_uint

_NAT_PORTS = (_UINT("first") + pp.Opt(pp.Suppress("-") + _UINT("last"))).set_name("port[-port]")


def service_port(name: str, proto: str | None) -> int | None:
    """A service name's port: for `proto` (getservbyname: multiport, sctp), or, with None,
    for any protocol (getaddrinfo without hints: tcp's, else udp's), as iptables looks up
    the ports of tcp, udp, dccp, conntrack and NAT targets."""
    if proto is not None:
        return mappings.services(proto).get(name)
    port = mappings.services("tcp").get(name)
    return port if port is not None else mappings.services("udp").get(name)


def _port(text: str, proto: str | None) -> int:
    """xtables_parse_port: a service name, else a number as strtoul reads it (leading blanks
    and a plus sign; no minus)."""
    port = service_port(text, proto) if not text[:1].isdigit() else None
    if port is not None:
        return port
    number = text.lstrip(" \t\n\v\f\r")
    number = number[1:] if number[:1] == "+" else number
    if number[:1].isdigit():
        try:
            return c_uint(number, 0, 65535, "port")
        except OptionError:
            pass
    raise OptionError(f"invalid port/service `{text}' specified",
                      hint="ports are numbers 0-65535 or names from /etc/services")


def parse_port_range(args, family, proto, any_order: bool = False,
                     lookup: str | None = None) -> PortRange:
    """--sport/--dport: a service name is any protocol's, except for sctp (lookup="sctp")."""
    text = args[0]
    proto = lookup
    fast = _FAST_PORTS.match(text)
    if fast is not None:
        first = int(fast.group(1))
        last = first if fast.group(2) is None else int(fast.group(2))
        if first <= last <= 0xFFFF:
            return PortRange(first, last)
    return _port_range(text, proto, any_order)


def _port_range(text: str, proto: str | None, any_order: bool) -> PortRange:
    """libxt_tcp's parse_tcp_ports: split at the first colon, each side a port."""
    first_text, colon, last_text = text.partition(":")
    if not colon:
        first = _port(text, proto)
        return PortRange(first, first)
    first = _port(first_text, proto) if first_text else 0
    last = _port(last_text, proto) if last_text else 0xFFFF
    if first > last and not any_order:
        raise OptionError(f"invalid portrange (min > max) `{text}'")
    return PortRange(first, last)


def parse_port_range_any_order(args, family, proto) -> PortRange:
    """libxt_udp's and libxt_dccp's ports: iptables 1.8.9 takes `9:8` (a range no port is in)
    where libxt_tcp and libxt_sctp refuse it."""
    return parse_port_range(args, family, proto, any_order=True)


def parse_sctp_port_range(args, family, proto) -> PortRange:
    """libxt_sctp looks a service name up for sctp only."""
    return parse_port_range(args, family, proto, lookup="sctp")


def _port_at(text: str, proto: str | None, offset: int) -> int:
    try:
        return _port(text, proto)
    except OptionError as exc:
        raise OptionError(exc.message, hint=exc.hint, offset=offset) from None


def parse_port_list(args, family, proto) -> tuple[PortRange, ...]:
    """libxt_multiport's parse_multi_ports: split at commas, then at the first colon, each
    side a port as for --dport."""
    text = args[0]
    items = []
    slots = 0
    at = 0
    for part in text.split(","):
        first_text, colon, last_text = part.partition(":")
        first = _port_at(first_text, proto, at)
        last = _port_at(last_text, proto, at + len(first_text) + 1) if colon else first
        if colon and first >= last:
            raise OptionError(f"invalid portrange specified `{text}'")
        slots += 2 if colon else 1
        items.append(PortRange(first, last))
        at += len(part) + 1
    if slots > 15:
        raise OptionError("too many ports specified", hint="multiport takes at most 15 ports "
                          "(a range counts as two); split the rule")
    return tuple(items)


def parse_nat_ports(args, family, proto) -> PortRange:
    named = service_port(args[0], None)
    if named is not None:           # a service name, even one with a dash (ftp-data)
        return PortRange(named, named)
    fast = _FAST_NAT_PORTS.match(args[0])
    if fast is not None:
        first = int(fast.group(1))
        last = first if fast.group(2) is None else int(fast.group(2))
        if first <= last <= 0xFFFF:
            return PortRange(first, last)
    res = _run(_NAT_PORTS, args[0])
    first = c_uint(res["first"], 0, 65535, "port")
    last = c_uint(res["last"], 0, 65535, "port") if "last" in res else first
    if first > last:
        raise OptionError(f"invalid port range `{args[0]}'")
    return PortRange(first, last)


# Fast paths for the shapes that fill large dumps (a plain port or port range). They must
# agree with the grammars above; tests/test_values.py checks that on generated input.
_FAST_PORTS = re.compile(r"([1-9]\d{0,4}|0)(?::([1-9]\d{0,4}|0))?\Z")
_FAST_NAT_PORTS = re.compile(r"([1-9]\d{0,4}|0)(?:-([1-9]\d{0,4}|0))?\Z")
