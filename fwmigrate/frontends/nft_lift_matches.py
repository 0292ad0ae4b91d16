"""One nft match expression (libnftables JSON) → the iptables selector or match option with
the same meaning: the inverse of backends/nft_matches.py, used by nft_lift.py.

Compares of one plain selector (`meta mark`, `ip ttl > 5`, `esp spi`) are found through
mappings/matches.toml, the table the backend writes them from; the forms a backend handler
writes (fib, numgen, ports, ICMP, …) have a function each here; conntrack keys are read in
nft_lift_conntrack.py, a port pair looked up in a set (multiport --ports) in nft_lift_ports.py,
and the forms of the TOS byte (dscp, ecn, raw payload) in nft_lift_tos.py.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .. import mappings
from ..ir import Address, IcmpType, Masked, Match, Option, PortRange, TcpFlags
from . import nft_lift_computed as computed
from . import nft_lift_conntrack as conntrack
from . import nft_lift_exthdr as exthdrs
from . import nft_lift_ports as ports
from . import nft_lift_targets as targets
from . import nft_lift_tos as tos
from .nft_lift_ipsec_label import ipsec
from .nft_lift_sctp import sctp_chunk
from .nft_lift_time import meta_time
from .nft_lift_values import (
    ALL_ONES,
    address,
    address_range,
    dscp,
    flags,
    icmp_number,
    int_range,
    is_range,
    is_set,
    meta_number,
    number,
    port_ranges,
    protocol,
    unrepresentable,
)

# options the backend writes through a handler (`nft = "@…"` in matches.toml) whose nft form
# is still one compare of one selector
_HANDLED = {"ah spi": ("ah", "ahspi"), "comp cpi": ("ipcomp", "ipcompspi"),
            "tcp option maxseg size": ("tcpmss", "mss"),
            "meta skuid": ("owner", "uid-owner"), "meta skgid": ("owner", "gid-owner"),
            "meta iifgroup": ("devgroup", "src-group"), "meta oifgroup": ("devgroup", "dst-group")}

# where iptables' test and nft's differ for some packets, as the backend refuses them
_NOT_INVERTIBLE = {
    "tcpmss": "`tcp option maxseg size !=` stops the rule at a TCP packet without an MSS "
              "option (all but SYNs, as a rule), which iptables' ! --mss matches",
    "owner": "`meta skuid/skgid !=` stops the rule at a packet without a socket owner, which "
             "iptables' ! --uid-owner / ! --gid-owner lets pass",
}

_UINT_MAX = {"uint8": 0xFF, "uint16": 0xFFFF, "uint32": ALL_ONES}


@cache
def _selectors(family: str) -> dict[str, tuple[tuple[str, mappings.OptionSpec], ...]]:
    """nft selector (`meta mark`, `ip ttl`) → the match options compared with it."""
    found: dict[str, list[tuple[str, mappings.OptionSpec]]] = {}
    specs = mappings.match_specs()
    for module, spec in specs.items():
        if family not in spec.families:
            continue
        for ospec in spec.options:
            if ospec.nft is None or ospec.nft.startswith("@") or "{l4}" in ospec.nft \
                    or ospec.const is not None:
                continue
            found.setdefault(ospec.nft.replace("{ip}", family), []).append((module, ospec))
    for selector, (module, name) in _HANDLED.items():
        found.setdefault(selector, []).append((module, specs[module].by_name[name]))
    return {k: tuple(v) for k, v in found.items()}


def _decode(kind: str, right: Any, selector: str, mask: int | None, family: str) -> Any:
    """The IR value of the right-hand side for an option of this value grammar."""
    if kind == "masked":
        words = selector.split()
        value = meta_number(words[1], right) if words[0] == "meta" else number(right, selector)
        return Masked(value, ALL_ONES if mask is None else mask)
    if kind == "mac" and isinstance(right, str):
        return right.lower()
    if kind == "address_range" and is_range(right):
        return address_range(right, family)
    if kind in _UINT_MAX:
        return number(right, selector)
    if kind in ("uint16_range", "uint32_range", "id_range", "uint16_range_any_order",
                "uint32_range_any_order"):
        return int_range(right, selector)
    if kind == "pkttype":
        return number(right, selector, mappings.nft_pkttypes())
    if kind in ("dscp", "dscp_class"):
        return dscp(right)
    unrepresentable(f"{selector} {right!r}")


def _is_neutral(ospec: mappings.OptionSpec, value: Any) -> bool:
    if ospec.neutral is None or not hasattr(value, "first"):
        return False
    return ospec.neutral == f"{value.first}:{value.last}"


def _strict(op: str, right: Any) -> tuple[str, Any]:
    """`<= 5` is `< 6`, `>= 5` is `> 4`: iptables writes only the strict forms."""
    if op in ("<=", ">=") and isinstance(right, int):
        return (op[0], right + 1) if op == "<=" else (op[0], right - 1)
    return op, right


def compare(lift, selector: str, right: Any, op: str, mask: int | None = None) -> None:
    """A compare of one selector, by the match options mappings/matches.toml gives it."""
    op, right = _strict(op, right)
    candidates = _selectors(lift.ctx.family).get(selector)
    if not candidates:
        unrepresentable(selector)
    for module, ospec in candidates:
        if (ospec.nft_op or "==") != ("==" if op == "!=" else op):
            continue
        if mask is not None and ospec.value != "masked":
            continue
        if ospec.value == "address_range" and not is_range(right):
            continue
        negated = op == "!="
        if negated and module in _NOT_INVERTIBLE:
            unrepresentable(_NOT_INVERTIBLE[module])
        if negated and not ospec.negatable:
            continue
        value = _decode(ospec.value, right, selector, mask, lift.ctx.family)
        if ospec.value in _UINT_MAX and not 0 <= value <= _UINT_MAX[ospec.value]:
            unrepresentable(f"{selector} {op} {right}")
        if _is_neutral(ospec, value) and not negated:
            lift.add_match(module, None)
        else:
            lift.add_match(module, Option(ospec.name, value, negated))
        return
    masked = f" & {mask:#x}" if mask is not None else ""
    unrepresentable(f"{selector}{masked} {op} {right!r}")


def lift_match(lift, left: Any, right: Any, op: str, negated: bool) -> None:
    if not isinstance(left, dict) or len(left) != 1:
        unrepresentable(f"the expression {left!r}")
    (kind, body), = left.items()
    handler = _BY_KIND.get(kind)
    if handler is None:
        unrepresentable(f"the expression {kind}")
    handler(lift, body, right, op, negated)


# --- by expression kind ------------------------------------------------------------------------

def _meta(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    key = body["key"]
    if key in ("iifname", "oifname"):
        name = right
        if isinstance(right, str) and right.endswith("\\*"):
            name = right[:-2] + "*"                 # an escaped star is the character
        elif isinstance(right, str) and right.endswith("*"):
            name = right[:-1] + "+"
        lift.selector("in_interface" if key == "iifname" else "out_interface", name, negated)
    elif key == "l4proto":
        number_ = protocol(right)
        if number_ == 51 and lift.ctx.family == "ip6":
            # ip6_tables skips AH to find the protocol: ip6tables' -p ah never holds for AH
            unrepresentable("meta l4proto ah in IPv6 (ip6tables' -p ah never matches an AH "
                            "packet; -m ah finds the header)")
        lift.selector("protocol", number_, negated)
    elif key == "nfproto":
        wanted = {"ipv4": "ip", "ipv6": "ip6"}.get(right)
        if (wanted == lift.ctx.family) == negated:
            lift.other_family()    # this rule never sees this family's packets
    elif key in ("time", "hour", "day"):
        meta_time(lift, key, right, op)
    elif key == "ipsec":
        ipsec(lift, "meta", right, op)
    else:
        compare(lift, f"meta {key}", right, op)


def _payload(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    if "base" in body:
        tos.raw(lift, body, None, right, negated)
        return
    proto, fieldname = body["protocol"], body["field"]
    if op == "!=" and is_range(right) and right["range"][0] == right["range"][1] \
            and fieldname not in ("saddr", "daddr"):
        right = right["range"][0]  # how fwmigrate writes a `!=` nft would join (nft_neq.py)
    if proto in ("ip", "ip6"):
        if proto != lift.ctx.family:
            lift.other_family()    # an inet rule for the other family
        elif fieldname in ("saddr", "daddr") and is_range(right):
            compare(lift, f"{proto} {fieldname}", right, op)          # -m iprange
        elif fieldname in ("saddr", "daddr"):
            lift.selector("source" if fieldname == "saddr" else "destination",
                          address(right, lift.ctx.family), negated)
        elif fieldname == "protocol" and proto == "ip":
            lift.selector("protocol", protocol(right), negated)
        elif fieldname in ("dscp", "ecn"):
            tos.ds_field(lift, fieldname, right, op, negated)
        else:
            compare(lift, f"{proto} {fieldname}", right, op)
        return
    if proto in mappings.match_specs()["multiport"].protocols and fieldname in ("sport", "dport"):
        _ports(lift, proto, fieldname, right, negated)
    elif proto in ("icmp", "icmpv6") and fieldname in ("type", "code"):
        if lift.ctx.table_family == "inet" and \
                lift.ctx.family != ("ip" if proto == "icmp" else "ip6"):
            lift.other_family()    # in inet, icmp implies IPv4 and icmpv6 IPv6
            return
        _icmp(lift, proto, fieldname, right, negated)
    elif proto == "dccp" and fieldname == "type":
        exthdrs.dccp_type(lift, right, op, negated)
    elif proto == "ah" and fieldname in ("hdrlength", "reserved"):
        exthdrs.ah_field(lift, fieldname, right, op, negated)
    elif proto == "tcp" and fieldname == "flags":
        # nft lists `tcp flags & (…) == 0x0` as `! …`, and a one-bit test as `in`
        tested = flags(right)
        if tested & _ECN_FLAGS:
            if op not in ("!", "in"):
                unrepresentable("a tcp flags test of ecn/cwr iptables cannot write")
            _ecn_flags(lift, tested, tested if op == "in" else frozenset(), False)
        elif op == "!":
            lift.add_match("tcp", Option("tcp-flags", TcpFlags(tested, frozenset())))
        elif op == "in" and len(tested) == 1:
            lift.add_match("tcp", Option("tcp-flags", TcpFlags(tested, tested)))
        else:
            unrepresentable("a tcp flags test iptables cannot write")
    else:
        compare(lift, f"{proto} {fieldname}", right, op)


def _ports(lift, proto: str, fieldname: str, right: Any, negated: bool) -> None:
    lift.implied_protocol = lift.implied_protocol or mappings.protocol_numbers()[proto]
    # udplite has no match module of its own: iptables tests its ports with multiport
    module = proto if proto in mappings.match_specs() else "multiport"
    ranges = port_ranges(right)
    if ranges == (PortRange(0, 65535),) and not negated and module != "multiport":
        lift.add_match(module, None)            # any port: only a header to read
    elif len(ranges) == 1 and not is_set(right) and module != "multiport":
        lift.add_match(module, Option(fieldname, ranges[0], negated))
    else:
        lift.add_match("multiport", Option(fieldname + "s", ranges, negated))


def _masked(lift, body: list, right: Any, op: str, negated: bool) -> None:
    inner, mask = body
    ctx = lift.ctx
    payload = inner.get("payload", {}) if isinstance(inner, dict) else {}
    if payload.get("protocol") == "ip" and payload.get("field") == "frag-off" \
            and mask == 8191 and right == 0:
        lift.selector("fragment", True, op == "==")
    elif payload.get("protocol") == "tcp" and payload.get("field") == "flags" and is_set(right):
        targets.synproxy_guard(lift, mask, right, op)
    elif payload.get("protocol") == "tcp" and payload.get("field") == "flags":
        compare_set = frozenset() if right == 0 else flags(right)
        maskset = frozenset() if mask == 0 else flags(mask)
        if (maskset | compare_set) & _ECN_FLAGS:
            _ecn_flags(lift, maskset, compare_set, negated)
        else:
            lift.add_match("tcp", Option("tcp-flags", TcpFlags(maskset, compare_set), negated))
    elif payload.get("protocol") == ctx.family and payload.get("field") in ("saddr", "daddr"):
        mask_ip = address(mask, ctx.family).addr
        addr = address(right, ctx.family).addr
        lift.selector("source" if payload["field"] == "saddr" else "destination",
                      Address(type(addr)(int(addr) & int(mask_ip)), mask_ip), negated)
    elif "base" in payload:
        tos.raw(lift, payload, number(mask, "mask"), right, negated)
    elif isinstance(inner, dict) and ">>" in inner:
        tos.ip6_listing(lift, inner[">>"], number(mask, "mask"), right, negated)
    elif isinstance(inner, dict) and inner.get("meta", {}).get("key") == "random":
        computed.random_share(lift, number(mask, "mask"), right, op)
    elif isinstance(inner, dict) and "meta" in inner:
        compare(lift, f"meta {inner['meta']['key']}", right, op, number(mask, "mask"))
    elif isinstance(inner, dict) and "ct" in inner and "dir" not in inner["ct"]:
        compare(lift, f"ct {inner['ct']['key']}", right, op, number(mask, "mask"))
    else:
        unrepresentable("a masked comparison")


# nft's names of TCP's ECE and CWR flags, which iptables tests with -m ecn (not -m tcp)
_ECN_FLAGS = frozenset({"ECN", "CWR"})


def _ecn_flags(lift, mask: frozenset, compare: frozenset, negated: bool) -> None:
    """`tcp flags & ecn == ecn` (set) / `== 0` or `!= ecn` (clear): one -m ecn option."""
    if len(mask) != 1 or not mask <= _ECN_FLAGS or not compare <= mask:
        unrepresentable("a tcp flags test mixing ecn/cwr with other flags")
    name = "ecn-tcp-ece" if mask == {"ECN"} else "ecn-tcp-cwr"
    lift.implied_protocol = lift.implied_protocol or 6     # nft lists the tcp test implied
    lift.add_match("ecn", Option(name, None, negated == bool(compare)))


def _ct(lift, ct: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    if not conntrack.ct(lift, ct, right, op, negated):
        compare(lift, f"ct {ct['key']}", right, op)           # ct mark: -m connmark


def _tcp_option(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    name = body["name"]
    if "field" in body:
        compare(lift, f"tcp option {name} {body['field']}", right, op)     # -m tcpmss
        return
    names = {v: k for k, v in mappings.tcp_option_names().items()}
    kind = names.get(name, int(name) if str(name).isdigit() else None)
    if kind is None or kind < 2 or not isinstance(right, bool):
        unrepresentable(f"tcp option {name}")
    lift.add_match("tcp", Option("tcp-option", kind, negated=not right))


def _concat(lift, items: list, right: Any, op: str, negated: bool) -> None:
    protos = {i.get("payload", {}).get("protocol") for i in items}
    fields = [i.get("payload", {}).get("field") for i in items]
    if fields == ["sport", "dport"] and len(protos) == 1 and \
            next(iter(protos)) in mappings.match_specs()["multiport"].protocols:
        ports.either_port(lift, next(iter(protos)), right, negated)     # multiport --ports
        return
    elems = right.get("set") if isinstance(right, dict) else None
    if len(protos) != 1 or fields != ["type", "code"] or not negated or not elems \
            or len(elems) != 1:
        unrepresentable("a concatenation")
    proto = protos.pop()
    family = "ip" if proto == "icmp" else "ip6"
    type_, code = elems[0]["concat"]
    t = icmp_number(type_, family, "type")
    c = icmp_number(code, family, "code")
    module, option = ("icmp", "icmp-type") if proto == "icmp" else ("icmp6", "icmpv6-type")
    lift.add_match(module, Option(option, IcmpType(t, c, c), True))


# --- ICMP --------------------------------------------------------------------------------------

def _icmp(lift, proto: str, fieldname: str, right: Any, negated: bool) -> None:
    family = "ip" if proto == "icmp" else "ip6"
    module = "icmp" if proto == "icmp" else "icmp6"
    option = "icmp-type" if proto == "icmp" else "icmpv6-type"
    if fieldname == "type":
        if is_range(right) and right["range"][1] == 255 and proto == "icmp" \
                and icmp_number(right["range"][0], family, "type") == 0:
            lift.add_match(module, Option(option, IcmpType(None), negated))
            return
        lift.add_match(module, Option(option, IcmpType(icmp_number(right, family, "type")),
                                      negated))
        return
    last = lift.matches[-1] if lift.matches else None
    current = last.option(option) if last is not None and last.module == module else None
    if current is None or current.negated or negated or current.value.code_min != 0 \
            or current.value.code_max != 255:
        unrepresentable(f"{proto} code without its type")
    code = icmp_number(right, family, "code")
    lift.matches[-1] = Match(module, (Option(option, IcmpType(current.value.type, code, code)),))


_BY_KIND = {"meta": _meta, "payload": _payload, "&": _masked, "ct": _ct,
            "tcp option": _tcp_option, "concat": _concat, "fib": computed.fib,
            "numgen": computed.numgen, "exthdr": exthdrs.exthdr, "rt": computed.rt,
            "sctp chunk": sctp_chunk}

__all__ = ["compare", "lift_match"]
