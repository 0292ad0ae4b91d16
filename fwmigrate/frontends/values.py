"""Grammars for option values (addresses, ports, rates, states, ICMP types …) → typed IR values.

Each grammar is a pyparsing expression; `parse_value` applies the one an option names in
mappings/*.toml. Results are cached: real rulesets repeat the same values thousands of times,
and a grammar applied afresh to every one of them would dominate the run time.
"""

from __future__ import annotations

import calendar
import ipaddress
import math
import re
from collections.abc import Callable
from functools import lru_cache
from socket import inet_aton

import pyparsing as pp

from .. import mappings
from ..errors import OptionError
from ..ir import Address, AddressRange, IcmpType, IntRange, Masked, PortRange, Rate, TcpFlags, Value
from .limit_values import PARSERS as LIMIT_PARSERS

# --- building blocks -------------------------------------------------------------------------

_UINT = pp.Regex(r"0[xX][0-9a-fA-F]+|[0-9]+").set_name("number")
_NAME = pp.Regex(r"[A-Za-z][A-Za-z0-9_.+\-]*").set_name("name")
_PORT = (_UINT | _NAME).set_name("port or service name")
_PORT_RANGE = (pp.Opt(_PORT, default="")("first")
               + pp.Opt(pp.Suppress(":") + pp.Opt(_PORT, default="")("last"))("colon")
               ).set_name("port range")
_MULTIPORT_ITEM = pp.Group(_PORT("first") + pp.Opt(pp.Suppress(":") + _PORT("last")))
_PORT_LIST = pp.delimited_list(_MULTIPORT_ITEM, ",").set_name("port list")
_IPV4 = pp.Regex(r"[0-9]+(\.[0-9]+){0,3}").set_name("IPv4 address")
_IPV6 = pp.Regex(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*").set_name("IPv6 address")
_ADDRESS = {
    "ip": (_IPV4("addr") + pp.Opt(pp.Suppress("/") + (_IPV4 | _UINT)("mask"))).set_name("address"),
    "ip6": (_IPV6("addr") + pp.Opt(pp.Suppress("/") + (_IPV6 | _UINT)("mask"))).set_name("address"),
}
_RATE = (_UINT("count") + pp.Opt(pp.Suppress("/") + pp.Regex(r"[A-Za-z]+")("unit"))).set_name("rate")
_WORD_LIST = pp.delimited_list(pp.Regex(r"[A-Za-z_0-9]+"), ",").set_name("comma-separated list")
_ICMP = (pp.Regex(r"[0-9]+")("type") + pp.Opt(pp.Suppress("/") + pp.Regex(r"[0-9]+")("code"))
         ).set_name("ICMP type")
_INT_RANGE = (_UINT("first") + pp.Opt(pp.Suppress(":") + _UINT("last"))).set_name("number range")
_MASKED = (_UINT("value") + pp.Opt(pp.Suppress("/") + _UINT("mask"))).set_name("value[/mask]")
_NAT_PORTS = (_UINT("first") + pp.Opt(pp.Suppress("-") + _UINT("last"))).set_name("port[-port]")


_WHOLE: dict[int, pp.ParserElement] = {}


def _run(grammar: pp.ParserElement, text: str) -> pp.ParseResults:
    whole = _WHOLE.get(id(grammar))
    if whole is None:
        # parse_all=True would build `Empty() + StringEnd()` on every call
        whole = _WHOLE[id(grammar)] = (grammar + pp.StringEnd()).set_name(
            grammar.name).parse_with_tabs()
    try:
        return whole.parse_string(text)
    except pp.ParseBaseException as exc:
        raise OptionError(f"expected {grammar.name} in `{text}'", offset=exc.loc) from None


def c_uint(text: str, lo: int = 0, hi: int = 0xFFFFFFFF, what: str = "number") -> int:
    """A number as iptables reads it (strtoul base 0: 0x.. hex, 0.. octal)."""
    try:
        if text.lower().startswith("0x"):
            value = int(text, 16)
        elif len(text) > 1 and text.startswith("0"):
            value = int(text, 8)
        else:
            value = int(text, 10)
    except ValueError:
        raise OptionError(f"invalid {what} `{text}'") from None
    if not lo <= value <= hi:
        raise OptionError(f"{what} `{text}' out of range ({lo}-{hi})")
    return value


# --- ports -----------------------------------------------------------------------------------

def _port(text: str, proto: str | None) -> int:
    if text[:1].isdigit():
        try:
            return c_uint(text, 0, 65535, "port")
        except OptionError:
            pass
    else:
        port = mappings.services(proto or "tcp").get(text)
        if port is not None:
            return port
    raise OptionError(f"invalid port/service `{text}' specified",
                      hint="ports are numbers 0-65535 or names from /etc/services")


def parse_port_range(args, family, proto) -> PortRange:
    text = args[0]
    fast = _FAST_PORTS.match(text)
    if fast is not None:
        first = int(fast.group(1))
        last = first if fast.group(2) is None else int(fast.group(2))
        if first <= last <= 0xFFFF:
            return PortRange(first, last)
    res = _run(_PORT_RANGE, text)
    first = _port(res["first"], proto) if res["first"] else 0
    if "colon" not in res:
        return PortRange(first, first)
    last = _port(res["last"], proto) if res.get("last") else 0xFFFF
    if first > last:
        raise OptionError(f"invalid portrange (min > max) `{text}'")
    return PortRange(first, last)


def parse_port_list(args, family, proto) -> tuple[PortRange, ...]:
    text = args[0]
    items = []
    slots = 0
    for item in _run(_PORT_LIST, text):
        first = _port(item["first"], proto)
        last = _port(item["last"], proto) if "last" in item else first
        if "last" in item and first >= last:
            raise OptionError(f"invalid portrange specified `{text}'")
        slots += 2 if "last" in item else 1
        items.append(PortRange(first, last))
    if slots > 15:
        raise OptionError("too many ports specified", hint="multiport takes at most 15 ports "
                          "(a range counts as two); split the rule")
    return tuple(items)


def parse_nat_ports(args, family, proto) -> PortRange:
    named = mappings.services(proto or "tcp").get(args[0])
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


# --- addresses -------------------------------------------------------------------------------

def _ip(text: str, family: str):
    if family == "ip" and text[:1].isdigit() and text.count(".") < 3 and ":" not in text:
        # iptables fills missing trailing parts with zeros: 10/8 is 10.0.0.0/8
        text = text + ".0" * (3 - text.count("."))
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise OptionError(f"host/network `{text}' not found",
                          hint="give a numeric address; fwmigrate does not resolve host names, "
                               "whose answer would depend on DNS at translation time",
                          unsupported=not text[:1].isdigit()) from None
    if (ip.version == 4) != (family == "ip"):
        raise OptionError(f"`{text}' is an IPv{ip.version} address, in an "
                          f"{'IPv4' if family == 'ip' else 'IPv6'} rule",
                          hint="use ip6tables for IPv6 addresses" if ip.version == 6
                          else "use iptables for IPv4 addresses")
    return ip


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
    fast = _FAST_IPV4.match(text) if family == "ip" else None
    if fast is not None:
        result = _fast_ipv4(fast)
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


# Fast paths for the shapes that fill large dumps (a dotted quad with a prefix length, a plain
# port or port range). They must agree with the grammars above; tests/test_values.py checks
# that on generated input.
_FAST_IPV4 = re.compile(r"((?:0|[1-9]\d?\d?)\.(?:0|[1-9]\d?\d?)\.(?:0|[1-9]\d?\d?)"
                        r"\.(?:0|[1-9]\d?\d?))(?:/([1-9]?\d))?\Z")
_FAST_PORTS = re.compile(r"([1-9]\d{0,4}|0)(?::([1-9]\d{0,4}|0))?\Z")
_FAST_NAT_PORTS = re.compile(r"([1-9]\d{0,4}|0)(?:-([1-9]\d{0,4}|0))?\Z")
_IPV4_MASK_INTS = [(0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in range(33)]
_IPV4_MASKS = [ipaddress.IPv4Address(m) for m in _IPV4_MASK_INTS]


def _fast_ipv4(m: re.Match) -> Address | None:
    quad, plen = m.groups()
    bits = 32 if plen is None else int(plen)
    try:
        value = int.from_bytes(inet_aton(quad), "big")     # refuses a part above 255
    except OSError:
        return None                  # let the grammar say what is wrong
    if bits > 32:
        return None
    return Address(ipaddress.IPv4Address(value & _IPV4_MASK_INTS[bits]), _IPV4_MASKS[bits])


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


# --- rates, numbers --------------------------------------------------------------------------

_SCALE = 10000
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def canonical_rate(period: int) -> Rate:
    """The rate iptables prints for a stored period (its print_rate): 60/min reads back 1/sec."""
    units = [("day", _SCALE * 86400), ("hour", _SCALE * 3600), ("minute", _SCALE * 60),
             ("second", _SCALE)]
    i = 1
    while i < len(units):
        mult = units[i][1]
        if period > mult or mult // period < mult % period:
            break
        i += 1
    name, mult = units[i - 1]
    return Rate(mult // period, name)  # type: ignore[arg-type]


def parse_rate(args, family, proto) -> Rate:
    text = args[0]
    res = _run(_RATE, text)
    mult = 1
    unit = res.get("unit")
    if unit is not None:
        for name, seconds in _UNIT_SECONDS.items():
            if name.startswith(unit.lower()):
                mult = seconds
                break
        else:
            raise OptionError(f"bad rate `{text}'", hint="units are second, minute, hour, day")
    count = c_uint(res["count"], what="rate")
    if count == 0:
        raise OptionError(f"bad rate `{text}'")
    period = _SCALE * mult // count
    if period == 0:
        raise OptionError(f"Rate too fast `{text}'", hint="at most 10000/second")
    return canonical_rate(period)


def parse_burst(args, family, proto) -> int:
    value = c_uint(args[0], 0, 10000, "burst")
    if value == 0:
        raise OptionError("--limit-burst must be at least 1",
                          hint="the kernel refuses a burst of 0 (xt_limit: ERANGE)")
    return value


def parse_uint8(args, family, proto) -> int:
    return c_uint(args[0], 0, 255)


def parse_uint32(args, family, proto) -> int:
    return c_uint(args[0], 0, 0xFFFFFFFF)


def parse_uint_range(args, family, proto) -> IntRange:
    res = _run(_INT_RANGE, args[0])
    first = c_uint(res["first"])
    last = c_uint(res["last"]) if "last" in res else first
    if first > last:
        raise OptionError(f"invalid range (min > max) `{args[0]}'")
    return IntRange(first, last)


def parse_masked(args, family, proto) -> Masked:
    res = _run(_MASKED, args[0])
    value = c_uint(res["value"])
    mask = c_uint(res["mask"]) if "mask" in res else 0xFFFFFFFF
    return Masked(value, mask)


def parse_protocol(args, family, proto) -> int:
    return protocol_number(args[0])


def protocol_number(text: str) -> int:
    if text[:1].isdigit():
        return c_uint(text, 0, 255, "protocol")
    number = mappings.protocol_numbers().get(text.lower())
    if number is None:
        raise OptionError(f"unknown protocol `{text}' specified",
                          hint="use a name from /etc/protocols or a number 0-255")
    return number


# --- conntrack, tcp flags --------------------------------------------------------------------

CT_STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")
STATE_STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED")
CT_STATUS = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED")
TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")


def _word_set(text: str, allowed: tuple[str, ...], what: str, extra: dict | None = None) -> frozenset:
    found = set()
    for word in _run(_WORD_LIST, text):
        upper = word.upper()
        if extra and upper in extra:
            found |= extra[upper]
        elif upper in allowed:
            found.add(upper)
        else:
            raise OptionError(f"Bad {what} `{word}'", hint="one of " + ", ".join(allowed))
    return frozenset(found)


# --- xt_time ---------------------------------------------------------------------------------

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")      # xt_time's bits 1-7


def parse_time_date(args, family, proto) -> int:
    """YYYY[-MM[-DD[Thh[:mm[:ss]]]]] in UTC, as libxt_time reads it → seconds since 1970."""
    m = re.fullmatch(r"(\d+)(?:-(\d+)(?:-(\d+)(?:T(\d+)(?::(\d+)(?::(\d+))?)?)?)?)?", args[0])
    bad = OptionError(f'Invalid date "{args[0]}" specified. Should be '
                      "YYYY[-MM[-DD[Thh[:mm[:ss]]]]]")
    if m is None:
        raise bad
    year, month, day, hour, minute, second = (int(g) if g is not None else d for g, d in
                                              zip(m.groups(), (1970, 1, 1, 0, 0, 0), strict=True))
    if not (1970 <= year <= 2038 and 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23
            and minute <= 59 and second <= 59):
        raise bad
    # mktime (in UTC) normalises month 0 / day 0 and days past the month's end, as here
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def parse_time_of_day(args, family, proto) -> int:
    m = re.fullmatch(r"(\d+):(\d+)(?::(\d+))?", args[0])
    if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise OptionError(f'invalid time "{args[0]}" specified, should be hh:mm[:ss] format '
                          "and within the boundaries")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)


def parse_weekdays(args, family, proto) -> frozenset:
    days = set()
    for word in args[0].split(","):
        if word.isdigit() and 1 <= int(word) <= 7:
            days.add(int(word))
            continue
        # libxt_time compares the first two letters, case-sensitively
        found = [i for i, name in enumerate(WEEKDAYS, 1) if word[:2] and name.startswith(word[:2])]
        if not found:
            raise OptionError(f"No, {word[:2]} is not a day of the week.",
                              hint="Mon … Sun (two letters are enough) or 1 … 7")
        days.update(found)
    return frozenset(days)


def parse_monthdays(args, family, proto) -> frozenset:
    days = set()
    for word in args[0].split(","):
        if not word.isdigit() or not 1 <= int(word) <= 31:
            raise OptionError(f"Illegal day of month: \"{word}\"")
        days.add(int(word))
    return frozenset(days)


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


def parse_dccp_types(args, family, proto) -> frozenset:
    names = tuple(mappings.load("nft_values")["dccp_types"]["iptables"])
    return _word_set(args[0], names, "DCCP type")


def parse_ct_states(args, family, proto) -> frozenset:
    return _word_set(args[0], CT_STATES, "ctstate value")


def parse_states(args, family, proto) -> frozenset:
    return _word_set(args[0], STATE_STATES, "state value")


def parse_ct_status(args, family, proto) -> frozenset:
    return _word_set(args[0], CT_STATUS + ("NONE",), "ctstatus value", {"NONE": frozenset()})


def parse_ct_dir(args, family, proto) -> str:
    upper = args[0].upper()
    if upper not in ("ORIGINAL", "REPLY"):
        raise OptionError(f"Unknown --ctdir value `{args[0]}'", hint="ORIGINAL or REPLY")
    return upper


def parse_tcp_flags(args, family, proto) -> TcpFlags:
    extra = {"ALL": frozenset(TCP_FLAGS), "NONE": frozenset()}
    mask = _word_set(args[0], TCP_FLAGS, "TCP flag", extra)
    compare = _word_set(args[1], TCP_FLAGS, "TCP flag", extra)
    return TcpFlags(mask, compare)


# --- ICMP ------------------------------------------------------------------------------------

def _parse_icmp(text: str, family: str) -> IcmpType:
    names = mappings.icmp_names(family)
    hits = [n for n in names if n.name.lower().startswith(text.lower())]
    exact = [n for n in hits if n.name.lower() == text.lower()]
    if exact:
        hits = exact[:1]
    if len(hits) > 1:
        raise OptionError(f"Ambiguous ICMP type `{text}': `{hits[0].name}' or `{hits[1].name}'?")
    if hits:
        n = hits[0]
        return IcmpType(None if n.type == 255 else n.type, n.code_min, n.code_max)
    if not text[:1].isdigit():
        raise OptionError(f"Unknown ICMP type `{text}'",
                          hint="see `iptables -p icmp -h` for names, or give type[/code]")
    res = _run(_ICMP, text)
    type_ = c_uint(res["type"], 0, 255, "ICMP type")
    if type_ == 255 and family == "ip":
        return IcmpType(None)          # iptables' `any`, whatever the code
    if "code" in res:
        code = c_uint(res["code"], 0, 255, "ICMP code")
        return IcmpType(type_, code, code)
    return IcmpType(type_, 0, 255)


def parse_icmp_type(args, family, proto) -> IcmpType:
    return _parse_icmp(args[0], "ip")


def parse_icmpv6_type(args, family, proto) -> IcmpType:
    return _parse_icmp(args[0], "ip6")


# --- strings, names --------------------------------------------------------------------------

def _cut(text: str, limit: int) -> str:
    """iptables silently keeps only the first `limit` bytes (the caller warns)."""
    raw = text.encode()
    return raw[:limit].decode(errors="ignore") if len(raw) > limit else text


def parse_comment(args, family, proto) -> str:
    return _cut(args[0], 255)


def parse_log_prefix(args, family, proto) -> str:
    if not args[0]:
        raise OptionError("--log-prefix needs at least one character")
    if "\n" in args[0]:
        raise OptionError("Newlines not allowed in --log-prefix")
    return _cut(args[0], 29)


def parse_log_level(args, family, proto) -> int:
    text = args[0]
    if text.isdigit():
        return c_uint(text, 0, 7, "log level")
    level = mappings.log_levels().get(text)
    if level is None:
        raise OptionError(f"log level `{text}' unknown",
                          hint="0-7 or one of " + ", ".join(sorted(mappings.log_levels())))
    return level


def parse_recent_name(args, family, proto) -> str:
    text = args[0]
    if not text or len(text) >= 200 or "/" in text:
        raise OptionError(f"bad --name `{text}'", hint="1-199 characters, no `/'")
    return text


def parse_reject_with(args, family, proto) -> str:
    text = args[0]
    if text == "default":          # the mapping's default: REJECT without --reject-with
        return mappings.reject_default(family)
    for name, alias, _nft in mappings.reject_names(family):
        if name.lower().startswith(text.lower()) or alias.lower().startswith(text.lower()):
            return name
    raise OptionError(f"unknown reject type `{text}'",
                      hint="one of " + ", ".join(n for n, _a, _x in mappings.reject_names(family)))


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
    named = mappings.services(proto or "tcp").get(base_text)
    base = named if named is not None else c_uint(base_text, 1, 65535, "base port")
    return (first, last, (ports, base))


# --- link layer, marks, DS field, route types -------------------------------------------------

def parse_mac(args, family, proto) -> str:
    parts = args[0].split(":")
    if len(args[0]) != 17 or len(parts) != 6 or not all(
            len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise OptionError(f"Bad mac address \"{args[0]}\"", hint="six hex pairs: 00:11:22:aa:bb:cc")
    return args[0].lower()


def parse_uint16_range(args, family, proto, top: int = 0xFFFF) -> IntRange:
    """`a:b`, `:b` (from 0), `a:` (to the top) or `a`."""
    text = args[0]
    first, colon, last = text.partition(":")
    low = c_uint(first, 0, top) if first else 0
    high = (c_uint(last, 0, top) if last else top) if colon else low
    if low > high:
        raise OptionError(f"invalid range (min > max) `{text}'")
    return IntRange(low, high)


def parse_uint32_range(args, family, proto) -> IntRange:
    return parse_uint16_range(args, family, proto, 0xFFFFFFFF)


def parse_word(args, family, proto) -> str:
    return args[0]


def parse_id_range(args, family, proto) -> IntRange:
    """--uid-owner / --gid-owner: a number, `a-b`, or `root` (0 on every system)."""
    text = args[0]
    if text == "root":
        return IntRange(0, 0)
    first, dash, last = text.partition("-")
    if not first[:1].isdigit() or (dash and not last[:1].isdigit()):
        raise OptionError(f"user or group name `{text}' is not known here",
                          hint="iptables looks names up in the password database of the "
                               "machine it runs on; give the number", unsupported=True)
    low = c_uint(first, 0, 0xFFFFFFFE)
    high = c_uint(last, 0, 0xFFFFFFFE) if dash else low
    if low > high:
        raise OptionError(f"invalid range (min > max) `{text}'")
    return IntRange(low, high)


def parse_masked8(text: str, default_mask: int) -> Masked:
    res = _run(_MASKED, text)
    value = c_uint(res["value"], 0, 0xFF)
    mask = c_uint(res["mask"], 0, 0xFF) if "mask" in res else default_mask
    return Masked(value, mask)


def parse_tos(args, family, proto) -> Masked:
    """-m tos / -j TOS --set-tos: a symbolic name (value/0x3f) or value[/mask] (mask 0xff)."""
    for name, value in mappings.load("nft_values")["tos_names"].items():
        if name.lower() == args[0].lower():
            return Masked(value, 0x3F)
    if not args[0][:1].isdigit():
        raise OptionError(f"Bad TOS value `{args[0]}'",
                          hint="a number, or " + ", ".join(mappings.load("nft_values")["tos_names"]))
    return parse_masked8(args[0], 0xFF)


def parse_dscp(args, family, proto) -> int:
    return c_uint(args[0], 0, 0x3F, "DSCP value")


def parse_ecn_codepoint(args, family, proto) -> int:
    return c_uint(args[0], 0, 3, "ECN IP codepoint")


def parse_audit_type(args, family, proto) -> str:
    # libxt_AUDIT compares the keyword's length only, ignoring case ("ACCEPTED" is accept)
    for name in ("accept", "drop", "reject"):
        if args[0][:len(name)].lower() == name:
            return name
    raise OptionError(f'Bad action type value "{args[0]}"', hint="accept, drop or reject")


def _mh_type(text: str) -> int:
    names = mappings.load("nft_values")["mh_types"]
    if text.lower() in names:
        return names[text.lower()]
    if not text[:1].isdigit():
        raise OptionError(f"Invalid MH type `{text}'", hint="a number, or " + ", ".join(names))
    return c_uint(text, 0, 255, "MH type")


def parse_mh_types(args, family, proto) -> IntRange:
    first, colon, last = args[0].partition(":")
    low = _mh_type(first) if first else 0
    high = (_mh_type(last) if last else 255) if colon else low
    if low > high:
        raise OptionError(f"invalid range (min > max) `{args[0]}'")
    return IntRange(low, high)


def parse_dscp_class(args, family, proto) -> int:
    for name, value in mappings.load("nft_values")["dscp_classes"].items():
        if args[0].upper().startswith(name):
            return value
    raise OptionError(f"Invalid DSCP value `{args[0]}'",
                      hint="one of " + ", ".join(mappings.load("nft_values")["dscp_classes"]))


def parse_pkttype(args, family, proto) -> int:
    for name, number in mappings.load("nft_values")["pkttype"]["iptables"]:
        if name == args[0].lower():
            return number
    raise OptionError(f"Bad packet type '{args[0]}'",
                      hint="unicast, broadcast, multicast or otherhost")


def parse_addrtypes(args, family, proto) -> frozenset:
    order = mappings.load("nft_values")["addrtypes"]["order"]
    found = set()
    for word in args[0].split(","):
        hits = [t for t in order if t.lower().startswith(word.lower())] if word else []
        if not hits:
            raise OptionError(f"addrtype: bad type `{word}'", hint="one of " + ", ".join(order))
        found.add(hits[0])
    return frozenset(found)


def parse_statistic_mode(args, family, proto) -> str:
    if args[0] not in ("random", "nth"):
        raise OptionError(f'Bad mode "{args[0]}"', hint="random or nth")
    return args[0]


def parse_probability(args, family, proto) -> int:
    """Stored as iptables stores it: round(p * 2^31), printed back as that / 2^31."""
    try:
        value = float(args[0])
    except ValueError:
        raise OptionError(f"invalid probability `{args[0]}'") from None
    if not 0.0 <= value <= 1.0:
        raise OptionError(f"probability `{args[0]}' out of range (0-1)")
    return int(math.floor(value * 0x80000000 + 0.5))


def parse_words(args, family, proto) -> tuple:
    return tuple(args)


def parse_uint16(args, family, proto) -> int:
    return c_uint(args[0], 0, 0xFFFF)


# --- targets: marks (stored as xt_MARK revision 2 does: new = (old & ~mask) ^ value) ------------

def _mark_and_mask(text: str) -> tuple[int, int | None]:
    res = _run(_MASKED, text)
    return c_uint(res["value"]), (c_uint(res["mask"]) if "mask" in res else None)


def parse_xmark(args, family, proto) -> Masked:
    value, mask = _mark_and_mask(args[0])
    return Masked(value, 0xFFFFFFFF if mask is None else mask)


def parse_set_mark(args, family, proto) -> Masked:
    value, mask = _mark_and_mask(args[0])
    return Masked(value, 0xFFFFFFFF if mask is None else mask | value)


def parse_and_mark(args, family, proto) -> Masked:
    return Masked(0, ~c_uint(args[0]) & 0xFFFFFFFF)


def parse_or_mark(args, family, proto) -> Masked:
    bits = c_uint(args[0])
    return Masked(bits, bits)


def parse_xor_mark(args, family, proto) -> Masked:
    return Masked(c_uint(args[0]), 0)


def parse_set_tos(args, family, proto) -> Masked:
    """-j TOS --set-tos value[/mask] or a name: tos = (tos & ~mask) ^ value (xt_TOS)."""
    return parse_tos(args, family, proto)


def parse_and_tos(args, family, proto) -> Masked:
    return Masked(0, ~c_uint(args[0], 0, 0xFF) & 0xFF)


def parse_or_tos(args, family, proto) -> Masked:
    bits = c_uint(args[0], 0, 0xFF)
    return Masked(bits, bits)


def parse_xor_tos(args, family, proto) -> Masked:
    return Masked(c_uint(args[0], 0, 0xFF), 0)


def parse_tc_class(args, family, proto) -> int:
    """--set-class MAJOR:MINOR, both hexadecimal (tc's notation)."""
    major, colon, minor = args[0].partition(":")
    try:
        if not colon:
            raise ValueError
        value = int(major, 16) << 16 | int(minor, 16)
    except ValueError:
        raise OptionError(f"Bad class value \"{args[0]}\"", hint="MAJOR:MINOR in hex, e.g. 1:10") from None
    if int(major, 16) > 0xFFFF or int(minor, 16) > 0xFFFF:
        raise OptionError(f"Bad class value \"{args[0]}\"")
    return value


def parse_nflog_prefix(args, family, proto) -> str:
    if "\n" in args[0]:
        raise OptionError("Newlines not allowed in --nflog-prefix")
    return _cut(args[0], 63)


def parse_queue_range(args, family, proto) -> IntRange:
    first, colon, last = args[0].partition(":")
    if not colon:
        raise OptionError(f"Bad range \"{args[0]}\"", hint="first:last")
    low, high = c_uint(first, 0, 0xFFFF), c_uint(last, 0, 0xFFFF)
    if low >= high:
        raise OptionError("--queue-balance: the first queue must be below the last")
    return IntRange(low, high)


def parse_set_ref(args, family, proto) -> tuple[str, tuple[str, ...]]:
    """--match-set / --add-set NAME FLAGS: the ipset's name and src/dst per dimension."""
    name, flags = args
    if not name or len(name) > 31:
        raise OptionError(f"ipset name {name!r} is empty or longer than 31 characters")
    dirs = tuple(flags.split(","))
    if not 1 <= len(dirs) <= 6 or any(d not in ("src", "dst") for d in dirs):
        raise OptionError(f"bad set direction flags {flags!r}",
                          hint="src or dst per dimension, separated by commas (src,dst)")
    return name, dirs


def parse_uint64(args, family, proto) -> int:
    return c_uint(args[0], 0, 0xFFFFFFFFFFFFFFFF)


def parse_flag(args, family, proto) -> None:
    return None


PARSERS: dict[str, Callable[..., Value]] = {
    "port_range": parse_port_range,
    "port_list": parse_port_list,
    "nat_ports": parse_nat_ports,
    "address": parse_address,
    "address_list": parse_address_list,
    "address_range": parse_address_range,
    "mask": parse_mask,
    "rate": parse_rate,
    "burst": parse_burst,
    "uint8": parse_uint8,
    "uint32": parse_uint32,
    "uint_range": parse_uint_range,
    "masked": parse_masked,
    "protocol": parse_protocol,
    "ct_states": parse_ct_states,
    "states": parse_states,
    "ct_status": parse_ct_status,
    "ct_dir": parse_ct_dir,
    "tcp_flags": parse_tcp_flags,
    "icmp_type": parse_icmp_type,
    "icmpv6_type": parse_icmpv6_type,
    "comment": parse_comment,
    "log_prefix": parse_log_prefix,
    "log_level": parse_log_level,
    "recent_name": parse_recent_name,
    "reject_with": parse_reject_with,
    "nat_range": parse_nat_range,
    "dnat_range": parse_dnat_range,
    "mac": parse_mac,
    "uint16": parse_uint16,
    "uint16_range": parse_uint16_range,
    "uint32_range": parse_uint32_range,
    "word": parse_word,
    "id_range": parse_id_range,
    "tos": parse_tos,
    "dscp": parse_dscp,
    "dscp_class": parse_dscp_class,
    "ecn_codepoint": parse_ecn_codepoint,
    "audit_type": parse_audit_type,
    "dccp_types": parse_dccp_types,
    "ip_address": parse_ip_address,
    "time_date": parse_time_date,
    "time_of_day": parse_time_of_day,
    "weekdays": parse_weekdays,
    "monthdays": parse_monthdays,
    "mh_types": parse_mh_types,
    "pkttype": parse_pkttype,
    "addrtypes": parse_addrtypes,
    "statistic_mode": parse_statistic_mode,
    "probability": parse_probability,
    "sctp_chunks": parse_words,
    "xmark": parse_xmark,
    "set_mark": parse_set_mark,
    "and_mark": parse_and_mark,
    "or_mark": parse_or_mark,
    "xor_mark": parse_xor_mark,
    "hex32": parse_uint32,
    "set_tos": parse_set_tos,
    "and_tos": parse_and_tos,
    "or_tos": parse_or_tos,
    "xor_tos": parse_xor_tos,
    "tc_class": parse_tc_class,
    "nflog_prefix": parse_nflog_prefix,
    "queue_range": parse_queue_range,
    "set_ref": parse_set_ref,
    "uint64": parse_uint64,
    "flag": parse_flag,
}


PARSERS.update(LIMIT_PARSERS)       # hashlimit and connlimit, in their own module


@lru_cache(maxsize=1 << 16)
def parse_value(kind: str, args: tuple[str, ...], family: str, proto: str | None) -> Value:
    """Parse an option's argument words with the grammar named `kind`; raises OptionError."""
    return PARSERS[kind](args, family, proto)
