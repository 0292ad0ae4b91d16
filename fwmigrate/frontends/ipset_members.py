"""Members of a set read into typed values, one per dimension of its type (address, port, MAC)."""

from __future__ import annotations

import ipaddress

from ..ir import Address
from .ipset_sets import DIMENSIONS, TYPED, IpsetError, ReplayedSet
from .values_numbers import protocol_number


def member(target: ReplayedSet, word) -> tuple:
    """The member's values, one per dimension (a tuple of them when the word is a range)."""
    text, col = word
    dims = DIMENSIONS[target.type]
    if target.type not in TYPED:
        return tuple(text.split(","))
    parts = text.split(",")
    if len(parts) != len(dims):
        raise IpsetError(f"{target.type} members have {len(dims)} part(s) separated by "
                         f"commas, not {text!r}", col)
    values = []
    offset = 0
    for dim, part in zip(dims, parts, strict=True):
        try:
            values.append(_PARTS[dim](part, target))
        except ValueError as exc:
            raise IpsetError(f"{text!r}: {exc}", col + offset) from None
        offset += len(part) + 1
    return tuple(values)


def _ip_version(target: ReplayedSet) -> int:
    return 6 if target.family == "ip6" else 4


def _address(text: str, target: ReplayedSet, host: bool) -> Address:
    version = _ip_version(target)
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an address") from None
    if net.version != version:
        raise ValueError(f"{text} is not an IPv{version} address (set family "
                         f"{'inet6' if version == 6 else 'inet'})")
    if host and net.prefixlen != net.max_prefixlen:
        raise ValueError("a network or range stands for several members: ipset adds each "
                         "address, write them one per line")
    return Address(net.network_address, net.netmask)


def _ip(text: str, target: ReplayedSet) -> Address:
    # with a netmask ipset stores (and saves) the network each address falls in
    return _address(text, target, host="netmask" not in target.options)


def _net(text: str, target: ReplayedSet) -> Address:
    if "-" in text:
        raise ValueError("a range stands for several networks: write them one per line, as "
                         "ipset save does")
    return _address(text, target, host=False)


_PORT_PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136}


def _port(text: str, target: ReplayedSet):
    """`[proto:]port` → (protocol number, port); bitmap:port members are the port alone.

    ICMP members (`icmp:echo-request`) keep the type as written: no nft key spells them."""
    proto, colon, port = text.rpartition(":")
    if not colon:
        proto, port = "tcp", text
    if proto in ("icmp", "icmpv6"):
        return (1 if proto == "icmp" else 58, port)
    try:
        number = _PORT_PROTOCOLS.get(proto) or protocol_number(proto)
    except Exception:
        raise ValueError(f"unknown protocol {proto!r}") from None
    if port.isdigit():
        value = int(port)
    else:
        # imported here: only a port given by name needs it, not every start
        import socket
        try:
            value = socket.getservbyname(port, proto if proto in _PORT_PROTOCOLS else "tcp")
        except OSError:
            raise ValueError(f"{port!r} is not a port") from None
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"port {value} is out of range")
    if "-" in port:
        raise ValueError("a port range stands for several members: write them one per line")
    return value if target.type == "bitmap:port" else (number, value)


def _mac(text: str, target: ReplayedSet) -> str:
    octets = text.split(":")
    if len(octets) != 6 or not all(len(o) == 2 and all(c in "0123456789abcdefABCDEF" for c in o)
                                   for o in octets):
        raise ValueError(f"{text!r} is not a MAC address")
    return text.lower()


_PARTS = {"ip": _ip, "net": _net, "port": _port, "mac": _mac}
