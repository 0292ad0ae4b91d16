"""A small model of an nftables ruleset: what the translator decides, before any syntax.

The translator (nft_translate) turns the IR into these nodes; serializers turn them into
`nft -f` text or libnftables JSON. Keeping the decisions here means both outputs say the same
thing by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..ir import SourceLocation, quick_init

# --- expressions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payload:
    """A header field: `ip saddr`, `tcp dport`, `icmp type` …"""
    protocol: str
    field: str


@dataclass(frozen=True, slots=True)
class RawPayload:
    """`@nh,8,8`: bits of a header nft has no field name for (the IPv4 TOS byte)."""
    base: str                   # ll, nh, th
    offset: int                 # in bits
    length: int


@dataclass(frozen=True, slots=True)
class Meta:
    key: str                    # iifname, oifname, l4proto, nfproto, mark …


@dataclass(frozen=True, slots=True)
class Ct:
    key: str                    # state, status, direction, protocol, saddr, proto-src …
    direction: str | None = None  # original / reply
    family: str | None = None   # ip / ip6 for address keys


@dataclass(frozen=True, slots=True)
class TcpOption:
    """A TCP option: its presence (compared with Symbol("exists") / ("missing")), or with
    `field` one of its fields (`tcp option maxseg size`).

    `name` is nft's name for the kind, or None where nft has none (then only the number)."""
    number: int
    name: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Exthdr:
    """An IPv6 extension header's field (`frag id`, `rt type`, `mh type`), found wherever it is
    in the header chain; without a field, its presence (compared with `exists`/`missing`)."""
    name: str                   # frag, rt, hbh, dst, mh
    field: str | None = None


@dataclass(frozen=True, slots=True)
class SctpChunk:
    """An SCTP chunk type (nft's name): its presence, compared with `exists`/`missing`."""
    name: str


@dataclass(frozen=True, slots=True)
class Rt:
    key: str                    # classid, mtu (the TCP MSS the route allows)


@dataclass(frozen=True, slots=True)
class Fib:
    """`fib saddr . iif type`: a route lookup's result for the packet's fields."""
    flags: tuple[str, ...]      # saddr / daddr, then iif / oif
    result: str                 # type, oif, oifname


@dataclass(frozen=True, slots=True)
class Numgen:
    mode: str                   # inc, random
    mod: int
    offset: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class Symbol:
    """A constant as nft spells it: a number, a keyword (`echo-request`), an address."""
    text: str


@dataclass(frozen=True, slots=True)
class Text:
    """A quoted string (interface names, with `*` as nft's wildcard)."""
    value: str


@quick_init
@dataclass(frozen=True, slots=True)
class Prefix:
    addr: str
    length: int


@dataclass(frozen=True, slots=True)
class Range:
    low: Expr
    high: Expr


@dataclass(frozen=True, slots=True)
class AnonSet:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class FlagList:
    """Bit flags compared as a group: `ct state established,related`, `tcp flags syn`."""
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BitAnd:
    left: Expr
    mask: Expr


@dataclass(frozen=True, slots=True)
class BinOp:
    """`left op right` for op in & | ^ >> <<: what a set statement computes."""
    left: Expr
    op: str
    right: Expr


@dataclass(frozen=True, slots=True)
class Concat:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class SetRef:
    name: str


@dataclass(frozen=True, slots=True)
class SetElem:
    """A member of a named set with its own timeout (seconds) or comment."""
    value: Expr
    timeout: int | None = None
    comment: str | None = None


Expr = Union[Payload, RawPayload, Meta, Ct, TcpOption, Exthdr, SctpChunk, Rt, Fib, Numgen, Symbol,
             Text, Prefix, Range, AnonSet, FlagList, BitAnd, BinOp, Concat, SetRef, SetElem]

# --- statements ------------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True, slots=True)
class Compare:
    """`left op right`; op is ==, !=, <, >, <= or >= (text leaves "==" implicit)."""
    left: Expr
    op: str
    right: Expr


@dataclass(frozen=True, slots=True)
class Limit:
    rate: int
    per: str                    # second, minute, hour, day
    burst: int
    inverted: bool = False


@dataclass(frozen=True, slots=True)
class Quota:
    """`quota [over] N bytes`: the rule's own byte count, kept by the kernel."""
    bytes: int
    inverted: bool = False      # over: true once the quota is used up


@dataclass(frozen=True, slots=True)
class CtCount:
    """`ct count [over] N`: the element's tracked connections (connlimit), this one included."""
    count: int
    inverted: bool = False      # over: true above N; else true up to N


@dataclass(frozen=True, slots=True)
class SetUpdate:
    """`add|update|delete @set { key [limit …|ct count …] }` from the packet path."""
    op: str
    set: str
    key: Expr
    # a per-element statement (meter, connlimit); the rule goes on when it matches
    limit: Limit | CtCount | None = None
    timeout: int | None = None      # the element's own timeout (seconds), not the set's


@dataclass(frozen=True, slots=True)
class Log:
    prefix: str | None = None
    level: str | None = None    # None: nft's default (warn), as iptables' default 4
    flags: tuple[str, ...] = ()
    group: int | None = None    # nfnetlink_log group (NFLOG) instead of the kernel log
    snaplen: int | None = None
    queue_threshold: int | None = None


@dataclass(frozen=True, slots=True)
class Mangle:
    """`left set value`: write a packet or connection field (`meta mark set …`)."""
    left: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class Notrack:
    pass


@dataclass(frozen=True, slots=True)
class Dup:
    """`dup to ADDR`: a copy of the packet routed to ADDR (xt_TEE)."""
    addr: str


@dataclass(frozen=True, slots=True)
class Tproxy:
    """`tproxy [ip|ip6] to ADDR:PORT`: hand the packet to a local transparent socket. Without
    one the rule stops there (xt_TPROXY drops the packet: a companion rule does, see
    nft_nat)."""
    family: str | None = None   # ip / ip6 qualifier (needed in inet tables)
    addr: str | None = None     # None: the address of the interface the packet came in on
    port: int | None = None     # None: the packet's own destination port


@dataclass(frozen=True, slots=True)
class Synproxy:
    """`synproxy [mss N] [wscale N] [timestamp] [sack-perm]`: answer a SYN with a SYN cookie,
    and open the connection to the server once the client's ACK carries a valid one."""
    mss: int | None = None
    wscale: int | None = None
    timestamp: bool = False
    sack_perm: bool = False


@dataclass(frozen=True, slots=True)
class Counter:
    packets: int | None = None
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str                   # accept, drop, return, jump, goto, queue
    target: str | None = None   # the chain of jump/goto


@dataclass(frozen=True, slots=True)
class Reject:
    kind: str | None = None     # None (default), "tcp reset", "icmp", "icmpv6", "icmpx"
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Nat:
    kind: str                   # snat, dnat, masquerade, redirect
    family: str | None = None   # ip / ip6 qualifier (needed in inet tables)
    addr: str | None = None
    addr_high: str | None = None
    port: int | None = None
    port_high: int | None = None
    flags: tuple[str, ...] = ()
    prefix_len: int | None = None   # `snat/dnat ip prefix to ADDR/LEN`: map onto a prefix


@dataclass(frozen=True, slots=True)
class Queue:
    num: int = 0
    num_high: int | None = None     # a range of queues (`queue num 0-3`)
    flags: tuple[str, ...] = ()     # bypass, fanout


Statement = Union[Compare, SetUpdate, Limit, Quota, Log, Counter, Verdict, Reject, Nat, Queue,
                  Mangle, Notrack, Dup, Synproxy]

# --- containers ------------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True, slots=True)
class NftRule:
    statements: tuple[Statement, ...]
    comment: str | None = None
    loc: SourceLocation | None = None
    # a rule that could not be translated (--allow-partial): shown as a comment, never loaded
    untranslated: str | None = None
    # written right after the rule before it, to do what its match does beyond matching
    # (a hashlimit whose set is full drops the packet, as xt_hashlimit's full table does)
    companion: bool = False


@dataclass(frozen=True, slots=True)
class BaseChain:
    type: str
    hook: str
    priority: int
    policy: str


@dataclass(frozen=True, slots=True)
class NftChain:
    name: str
    rules: tuple[NftRule, ...]
    base: BaseChain | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class NftSet:
    name: str
    type: str                   # ipv4_addr, ipv6_addr, inet_service …
    size: int | None
    timeout: int | None = None  # seconds
    dynamic: bool = True
    comment: str | None = None
    # a constant set (the same anonymous set used by many rules, given a name once)
    elements: tuple[Expr, ...] | None = None
    interval: bool = False
    counter: bool = False           # every element counts the packets that find it
    # the ipset it stands for, (name, type): written as the set's own comment, which the
    # kernel keeps, so that reading the ruleset back finds the ipset again
    ipset: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class NftTable:
    family: str                 # ip, ip6, inet
    name: str
    sets: tuple[NftSet, ...]
    chains: tuple[NftChain, ...]


@dataclass(frozen=True, slots=True)
class NftRuleset:
    tables: tuple[NftTable, ...]
    notes: tuple[str, ...] = ()  # header comments: approximations, capacity remarks
