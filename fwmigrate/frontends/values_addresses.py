"""Address values: addresses with masks or prefix lengths, address lists and ranges, NAT
address ranges (with their ports), the TEE gateway, MAC addresses."""

from __future__ import annotations

import ipaddress
import re

# socket.py's own inet_aton, without socket.py's start-up (an enum of every constant)
from _socket import inet_aton
from ipaddress import IPv4Address

import pyparsing as pp

from ..errors import OptionError
from ..ir import Address, AddressRange
from .values_common import _UINT, _run, c_uint
from .values_ports import parse_nat_ports, service_port

_IPV4 = pp.Regex(r"[0-9]+(\.[0-9]+){0,3}").set_name("IPv4 address")
_IPV6 = pp.Regex(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*").set_name("IPv6 address")
_ADDRESS = {
    "ip": (_IPV4("addr") + pp.Opt(pp.Suppress("/") + (_IPV4 | _UINT)("mask"))).set_name("address"),
    "ip6": (_IPV6("addr") + pp.Opt(pp.Suppress("/") + (_IPV6 | _UINT)("mask"))).set_name("address"),
}


def _ip(text: str, family: str):
    if family == "ip" and "/" not in text:
        found = fast_ipv4(text)         # NAT ranges repeat this per rule
        if found is not None:
            return found.addr
    if family == "ip" and text[:1].isdigit() and text.count(".") < 3 and ":" not in text:
        # iptables fills missing trailing parts with zeros: 10/8 is 10.0.0.0/8
        text = text + ".0" * (3 - text.count("."))
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise unresolved(text) from None
    if (ip.version == 4) != (family == "ip"):
        raise OptionError(f"`{text}' is an IPv{ip.version} address, in an "
                          f"{'IPv4' if family == 'ip' else 'IPv6'} rule",
                          hint="use ip6tables for IPv6 addresses" if ip.version == 6
                          else "use iptables for IPv4 addresses")
    return ip


def unresolved(host: str) -> OptionError:
    """iptables' "host/network `x' not found" for what is no address; a name it would look up
    (in DNS, when it adds the rule) is said to be one, as fwmigrate does not resolve it."""
    if host[:1].isdigit():
        return OptionError(f"host/network `{host}' not found",
                           hint="not an address iptables reads (IPv4: four parts of 0-255)")
    return OptionError(f"`{host}' is a host name, which fwmigrate does not resolve",
                       hint="give the numeric address(es) it stands for where the firewall "
                            "runs: iptables looks a name up when it adds the rule (a rule per "
                            "address), so the answer depends on DNS at that moment",
                       unsupported=True)


def _mask(text: str | None, family: str):
    width = 32 if family == "ip" else 128
    if text is None:
        bits = width
    elif text.isdigit():
        try:
            bits = c_uint(text, 0, width)       # strtoul base 0, as iptables: 010 is 8
        except OptionError:
            raise OptionError(f"invalid mask `{text}' specified") from None
    else:
        if family == "ip" and text.count(".") != 3:
            raise OptionError(f"invalid mask `{text}' specified")
        return _ip(text, family)
    full = (1 << width) - 1
    value = full ^ ((1 << (width - bits)) - 1)
    return ipaddress.ip_address(value) if family == "ip" else ipaddress.IPv6Address(value)


def address(text: str, family: str) -> Address:
    if family == "ip":
        result = fast_ipv4(text)
        if result is not None:
            return result
    try:
        res = _run(_ADDRESS[family], text)
    except OptionError:
        # a name, or garbage: iptables would try DNS; say what we do instead
        head = text.split("/", 1)[0]
        _ip(head, family)
        raise OptionError(f"host/network `{text}' not found") from None
    ip = _ip(res["addr"], family)
    mask = _mask(res.get("mask"), family)
    net = type(ip)(int(ip) & int(mask))
    return Address(net, mask)


def parse_address(args, family, proto) -> Address:
    return address(args[0], family)


def parse_address_unmasked(args, family, proto) -> Address:
    """An address and mask kept as given: xt_srh stores (and iptables-save prints) c::1/64."""
    masked = address(args[0], family)
    return Address(_ip(args[0].split("/", 1)[0], family), masked.mask)


# A fast path for the shape that fills large dumps (a dotted quad with a prefix length). It
# must agree with the grammar above; tests/test_values.py checks that on generated input.
_FAST_IPV4 = re.compile(r"((?:0|[1-9]\d?\d?)\.(?:0|[1-9]\d?\d?)\.(?:0|[1-9]\d?\d?)"
                        r"\.(?:0|[1-9]\d?\d?))(?:/([1-9]?\d))?\Z")
_FAST_IPV4_MATCH = _FAST_IPV4.match


_IPV4_MASK_INTS = [(0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in range(33)]
_IPV4_MASKS = [ipaddress.IPv4Address(m) for m in _IPV4_MASK_INTS]
_new_ipv4 = IPv4Address.__new__
_PREFIX_BITS = {str(n): n for n in range(33)}


def fast_ipv4(text: str) -> Address | None:
    """The address of a dotted quad with an optional prefix length, as `address` reads it;
    None for any other text (the grammar then reads it, or says what is wrong)."""
    m = _FAST_IPV4_MATCH(text)
    if m is None:
        return None
    quad, plen = m.groups()
    bits = 32 if plen is None else _PREFIX_BITS.get(plen)     # None: above 32 (or not ASCII)
    if bits is None:
        return None
    try:
        value = int.from_bytes(inet_aton(quad), "big")     # refuses a part above 255
    except OSError:
        return None
    # IPv4Address(int) checks the range again and costs a Python call; the value is in range
    ip = _new_ipv4(IPv4Address)
    ip._ip = value & _IPV4_MASK_INTS[bits]
    return Address(ip, _IPV4_MASKS[bits])


def address_list(text: str, family: str) -> tuple[Address, ...]:
    """-s/-d: a comma-separated list expands to one rule per address, as iptables does."""
    if "," not in text:
        return (address(text, family),)
    return tuple(address(part, family) for part in text.split(","))


def parse_address_list(args, family, proto) -> tuple[Address, ...]:
    return address_list(args[0], family)


def parse_mask(args, family, proto):
    if args[0] == "all-ones":      # the mapping's default: a full-width mask
        return _mask(None, family)
    return _ip(args[0], family)


def parse_address_range(args, family, proto) -> AddressRange:
    first, sep, last = args[0].partition("-")
    if not sep:
        raise OptionError(f"expected address-address in `{args[0]}'")
    return AddressRange(_ip(first, family), _ip(last, family))


def parse_ip_address(args, family, proto):
    """One numeric address of the rule's family (TEE --gateway)."""
    try:
        ip = ipaddress.ip_address(args[0])
    except ValueError:
        raise OptionError(f"Invalid IP address {args[0]}",
                          hint="a numeric address; fwmigrate does not resolve host names") \
            from None
    if (ip.version == 4) != (family == "ip"):
        raise OptionError(f"`{args[0]}' is an IPv{ip.version} address, in an "
                          f"{'IPv4' if family == 'ip' else 'IPv6'} rule")
    return ip


def parse_nat_range(args, family, proto) -> tuple:
    """--to-source/--to-destination: addr[-addr][:port[-port]] (IPv6: [addr]:port)."""
    text = args[0]
    ports = None
    if family == "ip6" and text.startswith("["):
        addrs, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            ports = parse_nat_ports((rest[1:],), family, proto)
    elif family == "ip" and ":" in text:
        addrs, _, port_text = text.partition(":")
        ports = parse_nat_ports((port_text,), family, proto)
    else:
        addrs = text
    first, _, last = addrs.partition("-")
    first_ip = _ip(first, family) if first else None
    last_ip = _ip(last, family) if last else first_ip
    return (first_ip, last_ip, ports)


def parse_dnat_range(args, family, proto) -> tuple:
    """DNAT --to-destination: a nat range whose ports may end in `/base`, a port shift
    (revision 2, NF_NAT_RANGE_PROTO_OFFSET): the ports slot is then (ports, base)."""
    text = args[0]
    head, slash, base_text = text.rpartition("/")
    if not slash or "]" in base_text or ":" not in head:
        return parse_nat_range(args, family, proto)
    first, last, ports = parse_nat_range((head,), family, proto)
    if ports is None:
        return parse_nat_range(args, family, proto)
    named = service_port(base_text, None)
    base = named if named is not None else c_uint(base_text, 1, 65535, "base port")
    return (first, last, (ports, base))


def parse_mac(args, family, proto) -> str:
    parts = args[0].split(":")
    if len(args[0]) != 17 or len(parts) != 6 or not all(
            len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise OptionError(f"Bad mac address \"{args[0]}\"", hint="six hex pairs: 00:11:22:aa:bb:cc")
    return args[0].lower()
