"""Values named from a fixed list: conntrack states, status and direction, TCP flags, and the
packet types iptables names (ICMP and ICMPv6 types, MH types, DCCP types, packet and address
types)."""

from __future__ import annotations

import pyparsing as pp

from .. import mappings
from ..errors import OptionError
from ..ir import IcmpType, IntRange, TcpFlags
from .values_common import _run, c_uint

_WORD_LIST = pp.delimited_list(pp.Regex(r"[A-Za-z_0-9]+"), ",").set_name("comma-separated list")
_ICMP = (pp.Regex(r"[0-9]+")("type") + pp.Opt(pp.Suppress("/") + pp.Regex(r"[0-9]+")("code"))
         ).set_name("ICMP type")


CT_STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")
STATE_STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED")
CT_STATUS = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED")
TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")


def _word_set(text: str, allowed: tuple[str, ...], what: str,
              extra: dict | None = None) -> frozenset:
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
    if family == "ip6":
        # xt_addrtype's IPv6 checkentry refuses these; checked with the value, so that a line
        # read from another line's template (frontends/templates.py) is checked too
        for refused in mappings.load("kernel_checks")["addrtype_ip6"]:
            if found & set(refused["types"]):
                raise OptionError(f"addrtype: {refused['why']}",
                                  hint="the kernel refuses the rule (Invalid argument)")
    return frozenset(found)


def parse_sctp_chunks(args, family, proto) -> tuple[str, str]:
    """--chunk-types MODE LIST: as iptables-save prints it (the mode in lower case, the types in
    upper case by type number, each once). ALL, NONE and types with flags stay as written
    (no nft form)."""
    mode, listed = args[0].lower(), args[1]
    if mode not in ("all", "any", "only"):
        raise OptionError(f"Unknown chunk match type `{args[0]}'", hint="all, any or only")
    order = list(mappings.load("nft_values")["sctp_chunks"])
    names = listed.upper().split(",")
    if any(":" in n or n in ("ALL", "NONE") for n in names):
        return mode, listed
    for name in names:
        if name not in order:
            raise OptionError(f"Unknown sctp chunk `{name}'", hint=", ".join(order))
    return mode, ",".join(sorted(set(names), key=order.index))
