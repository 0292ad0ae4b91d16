"""What the nft translation of matches and targets shares: options, the per-table context,
and the small helpers that turn IR values into nft expressions."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from ipaddress import IPv4Address
from typing import NoReturn

from .. import mappings
from ..ir import Address, IntRange, Masked, Option, PortRange, Table, builtin_chains_reaching
from .nft_ast import (
    AnonSet,
    BitAnd,
    Compare,
    Ct,
    Expr,
    FlagList,
    Meta,
    Numgen,
    Payload,
    Prefix,
    Range,
    Rt,
    Symbol,
)
from .nft_recent import RecentPlan, Untranslatable

L4_NAMES = {6: "tcp", 17: "udp", 136: "udplite", 132: "sctp", 33: "dccp"}


@dataclass(frozen=True, slots=True)
class NftOptions:
    table: str = "fwmigrate"
    family: str | None = None       # None: one table per family; ip / ip6: only that one; inet
    counters: bool = False
    approximate: bool = False
    scheme: str = "fwmigrate"       # or "iptables-nft" (the drop-in commands)
    recent_list_size: int | None = None   # None: nft_recent.DEFAULT_SIZE



@dataclass(slots=True)
class Ctx:
    family: str                     # the iptables family: ip / ip6
    ipt_table: str
    chains: dict[str, str]          # iptables chain → nft chain name
    recent: RecentPlan
    options: NftOptions
    proto: int | None = None
    limits: object = None           # nft_limits.LimitPlan: hashlimit tables, connlimit sets
    ipsets: object = None           # nft_ipsets.IpsetPlan of the table
    chain: str | None = None        # the iptables chain of the rule being translated
    table: Table | None = None      # the iptables table being translated
    # iptables chain → the built-in chains that reach it, for hook-dependent targets (NETMAP);
    # worked out when one needs it (reaching_hooks)
    reaching: dict[str, frozenset[str]] | None = None


def reaching_hooks(ctx: Ctx) -> frozenset[str]:
    """The built-in chains whose packets reach the chain of the rule being translated."""
    if ctx.reaching is None:
        ctx.reaching = builtin_chains_reaching(ctx.table)
    return ctx.reaching.get(ctx.chain, frozenset())


def op(negated: bool) -> str:
    return "!=" if negated else "=="


def protocol(number: int) -> Symbol:
    return Symbol(mappings.protocol_nft_names().get(number, str(number)))


PAYLOADS = {(ip, key): Payload(ip, key) for ip in ("ip", "ip6") for key in ("saddr", "daddr")}


def address_text(addr) -> str:
    if addr.version == 4:       # ipaddress' own str() is several times slower
        return ipv4_text(addr._ip)
    return str(addr)


_OCTETS = [str(n) for n in range(256)]


def ipv4_text(value: int) -> str:
    """Dotted quad of a 32-bit value (cheaper than inet_ntoa of its bytes)."""
    return f"{_OCTETS[value >> 24]}.{_OCTETS[value >> 16 & 255]}." \
           f"{_OCTETS[value >> 8 & 255]}.{_OCTETS[value & 255]}"


def address(addr: Address) -> Expr:
    plen = addr.prefixlen
    if plen == addr.addr.max_prefixlen:
        return Symbol(address_text(addr.addr))
    return Prefix(address_text(addr.addr), plen)


_V4_PREFIXES = {((1 << 32) - 1) ^ ((1 << (32 - n)) - 1): n for n in range(33)}


def address_compare(left: Expr, addr: Address, negated: bool) -> Compare:
    ip = addr.addr
    if type(ip) is IPv4Address:     # the common case, without ipaddress' slower properties
        plen = _V4_PREFIXES.get(addr.mask._ip)     # ipaddress' int(), without its call
        if plen is not None:
            text = ipv4_text(ip._ip)
            right = Symbol(text) if plen == 32 else Prefix(text, plen)
            return Compare(left, "!=" if negated else "==", right)
    if addr.prefixlen is None:
        return Compare(BitAnd(left, Symbol(str(addr.mask))), op(negated), Symbol(str(addr.addr)))
    return Compare(left, op(negated), address(addr))


def selector(text: str, ctx: Ctx) -> Expr:
    words = text.replace("{ip}", ctx.family).split()
    if words[0] == "{l4}":
        l4 = L4_NAMES.get(ctx.proto or -1)
        if l4 is None:
            raise Untranslatable("the ports need -p tcp, udp, udplite, sctp or dccp")
        words[0] = l4
    if words[0] == "ct":
        direction = next((w for w in words[1:-1] if w in ("original", "reply")), None)
        family = next((w for w in words[1:-1] if w in ("ip", "ip6")), None)
        return Ct(words[-1], direction, family)
    if words[0] == "meta":
        return Meta(words[1])
    if words[0] == "rt":
        return Rt(words[1])
    return Payload(words[0], words[1])


def port(p: PortRange) -> Expr:
    if p.first > p.last:
        _empty(f"{p.first}:{p.last}")
    return Symbol(str(p.first)) if p.single else Range(Symbol(str(p.first)), Symbol(str(p.last)))


def value(opt: Option, kind: str, ctx: Ctx) -> Expr:
    v = opt.value
    if kind in ("port_range", "port_range_any_order", "sctp_port_range"):
        return port(v)
    if kind == "port_list":
        return port(v[0]) if len(v) == 1 else AnonSet(tuple(port(p) for p in v))
    if kind == "address":
        if v.prefixlen is None:
            raise Untranslatable(f"{opt.name} with a non-contiguous mask ({v.mask})")
        return address(v)
    if kind == "protocol":
        return Symbol(str(v))
    if kind == "ct_dir":
        return Symbol(v.lower())
    if kind in ("mac", "uint8", "uint16", "uint32"):
        return Symbol(str(v))
    if isinstance(v, IntRange):
        return int_range(v)
    if kind == "address_range":
        if int(v.first) > int(v.last):
            raise Untranslatable(f"{opt.name} {v.first}-{v.last} is empty (first > last)")
        return Symbol(str(v.first)) if v.first == v.last else \
            Range(Symbol(str(v.first)), Symbol(str(v.last)))
    if kind in ("dscp", "dscp_class"):
        return Symbol(f"{v:#04x}")
    if kind == "pkttype":
        return Symbol(mappings.load("nft_values")["pkttype"]["nft"].get(str(v), str(v)))
    raise AssertionError(f"no nft value for {kind}")


def _empty(text: str) -> NoReturn:
    """iptables takes a range with its first bound above the last (udp, dccp ports, lengths,
    SPIs); no value is in it, so the test never holds (always, inverted): nft refuses the
    range, and fwmigrate writes no rule for it."""
    raise Untranslatable(f"the range {text} is empty (first > last): it never matches "
                         "(always, inverted)", "remove the rule, or fix the range")


def int_range(v: IntRange) -> Expr:
    if v.first > v.last:
        _empty(f"{v.first}:{v.last}")
    if v.first == v.last:
        return Symbol(str(v.first))
    return Range(Symbol(str(v.first)), Symbol(str(v.last)))


def option_compare(ospec: mappings.OptionSpec, opt: Option, ctx: Ctx) -> Compare:
    """The compare an option's `nft = "selector"` stands for; a mask other than all ones
    (`--mark 0x1/0xff`) is applied to the packet's side."""
    left = selector(ospec.nft, ctx)
    v = opt.value
    if isinstance(v, Masked):
        if v.mask != 0xFFFFFFFF:
            left = BitAnd(left, Symbol(f"{v.mask:#x}"))
        right: Expr = Symbol(f"{v.value:#x}")
    else:
        right = value(opt, ospec.value, ctx)
    return Compare(left, ospec.nft_op or op(opt.negated), right)


def flags(names, order) -> FlagList:
    return FlagList(tuple(n.lower().replace("_", "-") for n in order if n in names))


def repeatable(statement) -> bool:
    """A test with no side effect whose answer a second look at the same packet keeps."""
    return type(statement) is Compare and not any(
        isinstance(n, Numgen) or (isinstance(n, Meta) and n.key == "random")
        for n in nodes(statement))


def nodes(node):
    """The node and every node inside it (an nft_ast statement or expression)."""
    yield node
    if is_dataclass(node):
        for f in fields(node):
            value = getattr(node, f.name)
            if isinstance(value, tuple):
                for item in value:
                    yield from nodes(item)
            elif is_dataclass(value):
                yield from nodes(value)
