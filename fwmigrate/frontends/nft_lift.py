"""One nft match expression (libnftables JSON) → the iptables selector or match option with
the same meaning. The inverse of backends/nft_translate.py, used by nft_ruleset.py."""

from __future__ import annotations

import ipaddress
from typing import Any

from .. import mappings
from ..ir import Address, IcmpType, Option, PortRange, TcpFlags

_TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")
_CT_ADDR = {("original", "saddr"): "ctorigsrc", ("original", "daddr"): "ctorigdst",
            ("reply", "saddr"): "ctreplsrc", ("reply", "daddr"): "ctrepldst"}
_CT_PORT = {("original", "proto-src"): "ctorigsrcport", ("original", "proto-dst"): "ctorigdstport",
            ("reply", "proto-src"): "ctreplsrcport", ("reply", "proto-dst"): "ctrepldstport"}


def _unrepresentable(what: str):
    from .nft_ruleset import Unrepresentable
    raise Unrepresentable(what)


def _address(value: Any, family: str) -> Address:
    if isinstance(value, dict) and "prefix" in value:
        text = f"{value['prefix']['addr']}/{value['prefix']['len']}"
    elif isinstance(value, str):
        text = value
    else:
        _unrepresentable(f"address {value!r} (a set or range of addresses)")
    net = ipaddress.ip_network(text, strict=False)
    if (net.version == 4) != (family == "ip"):
        _unrepresentable(f"an IPv{net.version} address in an {family} rule")
    return Address(net.network_address, net.netmask)


def _port_ranges(value: Any) -> tuple[PortRange, ...]:
    items = value["set"] if isinstance(value, dict) and "set" in value else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and "range" in item:
            out.append(PortRange(*item["range"]))
        elif isinstance(item, int):
            out.append(PortRange(item, item))
        else:
            _unrepresentable(f"port {item!r}")
    return tuple(out)


def _protocol(value: Any) -> int:
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        _unrepresentable(f"protocol {value!r} (several at once)")
    names = {v: int(k) for k, v in mappings.protocol_nft_names().items()}
    if value in names:
        return names[value]
    number = mappings.protocol_numbers().get(value)
    if number is None:
        _unrepresentable(f"protocol {value}")
    return number


def _icmp_number(value: Any, family: str, kind: str) -> int:
    if isinstance(value, int):
        return value
    table = (mappings.icmp_nft_types(family) if kind == "type" else
             {c: n for codes in mappings.icmp_nft_codes(family).values() for c, n in codes.items()})
    for number, name in table.items():
        if name == value:
            return number
    _unrepresentable(f"ICMP {kind} {value}")


def _flags(value: Any) -> frozenset[str]:
    if value == 0:
        return frozenset()
    items = [value] if isinstance(value, str) else value
    return frozenset(i.upper().replace("-", "_") for i in items)


def _lift_match(lift, left: Any, right: Any, op: str, negated: bool) -> None:
    ctx = lift.ctx
    if "meta" in left:
        key = left["meta"]["key"]
        if key in ("iifname", "oifname"):
            name = right[:-1] + "+" if isinstance(right, str) and right.endswith("*") else right
            lift.selector("in_interface" if key == "iifname" else "out_interface", name, negated)
        elif key in ("l4proto", "protocol") and key == "l4proto":
            lift.selector("protocol", _protocol(right), negated)
        elif key == "nfproto":
            wanted = {"ipv4": "ip", "ipv6": "ip6"}.get(right)
            if (wanted == ctx.family) == negated:
                lift.skip = True       # this rule never sees this family's packets
        else:
            _unrepresentable(f"meta {key}")
        return
    if "payload" in left:
        proto, fieldname = left["payload"]["protocol"], left["payload"]["field"]
        if proto in ("ip", "ip6"):
            if proto != ctx.family:
                lift.skip = True       # an inet rule for the other family
                return
            if fieldname in ("saddr", "daddr"):
                lift.selector("source" if fieldname == "saddr" else "destination",
                              _address(right, ctx.family), negated)
            elif fieldname in ("protocol", "nexthdr") and proto == "ip":
                lift.selector("protocol", _protocol(right), negated)
            else:
                _unrepresentable(f"{proto} {fieldname}")
            return
        if proto in ("tcp", "udp") and fieldname in ("sport", "dport"):
            lift.implied_protocol = lift.implied_protocol or {"tcp": 6, "udp": 17}[proto]
            ranges = _port_ranges(right)
            if ranges == (PortRange(0, 65535),) and not negated:
                lift.add_match(proto, None)            # any port: only a header to read
            elif len(ranges) == 1 and not (isinstance(right, dict) and "set" in right):
                lift.add_match(proto, Option(fieldname, ranges[0], negated))
            else:
                lift.add_match("multiport", Option(fieldname + "s", ranges, negated))
            return
        if proto in ("icmp", "icmpv6") and fieldname in ("type", "code"):
            if ctx.table_family == "inet" and ctx.family != ("ip" if proto == "icmp" else "ip6"):
                lift.skip = True       # in inet, icmp implies IPv4 and icmpv6 IPv6
                return
            _icmp(lift, proto, fieldname, right, negated)
            return
        if proto == "tcp" and fieldname == "flags":
            # nft lists `tcp flags & (…) == 0x0` as `! …`, and a one-bit test as `in`
            flags = _flags(right)
            if op == "!":
                lift.add_match("tcp", Option("tcp-flags", TcpFlags(flags, frozenset())))
                return
            if op == "in" and len(flags) == 1:
                lift.add_match("tcp", Option("tcp-flags", TcpFlags(flags, flags)))
                return
            _unrepresentable("a tcp flags test iptables cannot write")
        _unrepresentable(f"{proto} {fieldname}")
    if "&" in left:
        inner, mask = left["&"]
        payload = inner.get("payload", {}) if isinstance(inner, dict) else {}
        if payload.get("protocol") == "ip" and payload.get("field") == "frag-off" \
                and mask == 8191 and right == 0:
            lift.selector("fragment", True, op == "==")
            return
        if payload.get("protocol") == "tcp" and payload.get("field") == "flags":
            compare = frozenset() if right == 0 else _flags(right)
            maskset = frozenset() if mask == 0 else _flags(mask)
            lift.add_match("tcp", Option("tcp-flags", TcpFlags(maskset, compare), negated))
            return
        if payload.get("protocol") == ctx.family and payload.get("field") in ("saddr", "daddr"):
            mask_ip = ipaddress.ip_address(mask)
            addr = ipaddress.ip_address(right)
            lift.selector("source" if payload["field"] == "saddr" else "destination",
                          Address(type(addr)(int(addr) & int(mask_ip)), mask_ip), negated)
            return
        _unrepresentable("a masked comparison")
    if "ct" in left:
        _ct(lift, left["ct"], right, op, negated)
        return
    if "tcp option" in left:
        names = {v: k for k, v in mappings.tcp_option_names().items()}
        name = left["tcp option"]["name"]
        number = names.get(name, int(name) if str(name).isdigit() else None)
        if number is None or not isinstance(right, bool):
            _unrepresentable(f"tcp option {name}")
        lift.add_match("tcp", Option("tcp-option", number, negated=not right))
        return
    if "concat" in left:
        _icmp_pair(lift, left["concat"], right, negated)
        return
    _unrepresentable(f"the expression {list(left)[0]}")


def _icmp(lift, proto: str, fieldname: str, right: Any, negated: bool) -> None:
    family = "ip" if proto == "icmp" else "ip6"
    module = "icmp" if proto == "icmp" else "icmp6"
    option = "icmp-type" if proto == "icmp" else "icmpv6-type"
    if fieldname == "type":
        if isinstance(right, dict) and "range" in right and right["range"][1] == 255 \
                and _icmp_number(right["range"][0], family, "type") == 0 and proto == "icmp":
            lift.add_match(module, Option(option, IcmpType(None), negated))
            return
        lift.add_match(module, Option(option, IcmpType(_icmp_number(right, family, "type")),
                                      negated))
        return
    last = lift.matches[-1] if lift.matches else None
    current = last.option(option) if last is not None and last.module == module else None
    if current is None or current.negated or negated or current.value.code_min != 0 \
            or current.value.code_max != 255:
        _unrepresentable(f"{proto} code without its type")
    code = _icmp_number(right, family, "code")
    lift.matches[-1] = type(last)(module, (Option(option, IcmpType(current.value.type, code,
                                                                     code)),))


def _icmp_pair(lift, items: list, right: Any, negated: bool) -> None:
    protos = {i.get("payload", {}).get("protocol") for i in items}
    fields = [i.get("payload", {}).get("field") for i in items]
    elems = right.get("set") if isinstance(right, dict) else None
    if len(protos) != 1 or fields != ["type", "code"] or not negated or not elems \
            or len(elems) != 1:
        _unrepresentable("a concatenation")
    proto = protos.pop()
    family = "ip" if proto == "icmp" else "ip6"
    type_, code = elems[0]["concat"]
    t = _icmp_number(type_, family, "type")
    c = _icmp_number(code, family, "code")
    module, option = ("icmp", "icmp-type") if proto == "icmp" else ("icmp6", "icmpv6-type")
    lift.add_match(module, Option(option, IcmpType(t, c, c), True))


def _ct(lift, ct: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    key, direction = ct["key"], ct.get("dir")
    family = None
    if " " in key:                          # 1.0.6 lists `ct original ip saddr` so
        family, key = key.split(" ", 1)
    if key == "state":
        lift.add_match("conntrack", Option("ctstate", _flags(right), negated))
    elif key == "status":
        states = _flags(right)
        nat = states & {"SNAT", "DNAT"}
        if nat and nat == states:
            lift.add_match("conntrack", Option("ctstate", nat, negated))
        elif nat:
            _unrepresentable("ct status mixing snat/dnat with other bits")
        else:
            lift.add_match("conntrack", Option("ctstatus", states, negated))
    elif key == "direction":
        if negated:
            _unrepresentable("ct direction !=")
        lift.add_match("conntrack", Option("ctdir", str(right).upper()))
    elif key == "protocol" or key == "l3proto":
        if key == "l3proto":
            _unrepresentable("ct l3proto")
        lift.add_match("conntrack", Option("ctproto", _protocol(right), negated))
    elif (direction or "original", key) in _CT_ADDR:
        if family is not None and family != lift.ctx.family:
            lift.skip = True
            return
        lift.add_match("conntrack", Option(_CT_ADDR[(direction or "original", key)],
                                           _address(right, lift.ctx.family), negated))
    elif (direction or "original", key) in _CT_PORT:
        ranges = _port_ranges(right)
        if len(ranges) != 1:
            _unrepresentable("a set of conntrack ports")
        lift.add_match("conntrack", Option(_CT_PORT[(direction or "original", key)], ranges[0],
                                           negated))
    else:
        _unrepresentable(f"ct {key}")
