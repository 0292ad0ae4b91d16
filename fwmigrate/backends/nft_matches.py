"""Match options → nft statements: the compares mappings/matches.toml names, and the handlers
(`nft = "@name"`) for options whose meaning takes more than one compare.

A handler is called once per match with (translator, rule, match index, match, the option that
named it, context) and returns statements, or raises Untranslatable with the reason.
"""

from __future__ import annotations

from .. import mappings
from ..ir import IcmpType, IntRange, Masked, Match, Rule, TcpFlags
from .nft_ast import (
    AnonSet,
    BitAnd,
    Compare,
    Concat,
    Exthdr,
    Fib,
    Limit,
    Meta,
    Numgen,
    Payload,
    Range,
    RawPayload,
    Statement,
    Symbol,
    TcpOption,
)
from .nft_common import Ctx, flags, int_range, op, option_compare
from .nft_conntrack import h_ct_port, h_ct_state, h_ct_status
from .nft_counters import h_connbytes, h_ctexpire, h_quota
from .nft_exthdr import EXTHDR_MODULES, h_ah, h_exthdr
from .nft_ipsec_label import h_connlabel, h_policy
from .nft_multiport import h_ports
from .nft_recent import Untranslatable
from .nft_sctp import h_sctp_chunks
from .nft_time import h_time


def match_statements(tr, rule: Rule, index: int, match: Match, ctx: Ctx) -> list[Statement]:
    """The nft statements of one match: a compare per option, or the option's handler."""
    spec = mappings.match_specs()[match.module]
    why = mappings.load("extensions")["not_translated"].get(match.module)
    if why is not None:     # read (for --to iptables-restore) but never dropped from nft output
        raise Untranslatable(f"-m {match.module} has no exact nft equivalent", why)
    if match.module in EXTHDR_MODULES and not match.options:
        return [Compare(Exthdr(match.module), "==", Symbol("exists"))]     # only the header
    if spec.protocols and not match.options:
        # `-p tcp -m tcp` alone still needs a readable first-fragment header, as in xt
        proto, field, top = _WHOLE_RANGE.get(match.module, (match.module, "dport", "65535"))
        return [Compare(Payload(proto, field), "==", Range(Symbol("0"), Symbol(top)))]
    out: list[Statement] = []
    handled: set[str] = set()
    for opt in match.options:
        ospec = spec.by_name[opt.name]
        if ospec.nft is None:
            raise Untranslatable(f"-m {match.module} {ospec.flags[0]} has no exact nft "
                                 "equivalent", REFUSAL_HINTS.get((match.module, opt.name)))
        if ospec.nft.startswith("@"):
            handler = ospec.nft[1:]
            if handler in handled:
                continue
            handled.add(handler)
            out += HANDLERS[handler](tr, rule, index, match, opt, ctx)
        else:
            out.append(option_compare(ospec, opt, ctx))
    if match.module == "conntrack" and tr.options.family == "inet":
        # the family test the ports need (h_ct_port) before --ctproto's test: after a
        # `meta nfproto` nft no longer knows the ports' type and refuses the rule
        family = [s for s in out if isinstance(s, Compare) and s.left == Meta("nfproto")]
        out = family + [s for s in out if s not in family]
    return out


# the field a module without options still reads (the whole range), as xt reads the header
_WHOLE_RANGE = {"esp": ("esp", "spi", "4294967295"), "ah": ("ah", "spi", "4294967295"),
                "ipcomp": ("comp", "cpi", "65535")}


# --- option handlers ----------------------------------------------------------------------

def _h_tcp_flags(tr, rule, index, match, opt, ctx) -> list[Statement]:
    value: TcpFlags = opt.value
    order = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")
    # the kernel compares (flags & mask) with the whole compare set: bits outside the mask
    # make the test impossible, and nft is given exactly that test
    mask = flags(value.mask, order) if value.mask else Symbol("0x0")
    compare = flags(value.compare, order)
    right = compare if compare.names else Symbol("0x0")
    return [Compare(BitAnd(Payload("tcp", "flags"), mask), op(opt.negated), right)]


def _h_tcp_option(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if opt.value < 2:
        raise Untranslatable(f"--tcp-option {opt.value}: iptables and nft scan one-byte options "
                             "(EOL, NOP) differently at the end of the header")
    option = TcpOption(opt.value, mappings.tcp_option_names().get(opt.value))
    out: list[Statement] = []
    if opt.negated and not any(o.name != "tcp-option" for o in match.options):
        # nft's "missing" also holds where there is no TCP header (other protocols, later
        # fragments); xt's tcp match fails there: test for a readable TCP header first
        out.append(Compare(Payload("tcp", "dport"), "==", Range(Symbol("0"), Symbol("65535"))))
    out.append(Compare(option, "==", Symbol("missing" if opt.negated else "exists")))
    return out


def _h_icmp_type(tr, rule, index, match, opt, ctx) -> list[Statement]:
    value: IcmpType = opt.value
    proto = "icmp" if match.module == "icmp" else "icmpv6"
    if value.type is None:            # `any`: any type, but like xt only with a readable header
        if opt.negated:
            raise Untranslatable("! --icmp-type any never matches")
        return [Compare(Payload(proto, "type"), "==", Range(Symbol("0"), Symbol("255")))]
    family = "ip" if proto == "icmp" else "ip6"
    type_sym = Symbol(mappings.icmp_nft_types(family).get(value.type, str(value.type)))
    if value.code_min == 0 and value.code_max == 0xFF:
        return [Compare(Payload(proto, "type"), op(opt.negated), type_sym)]
    codes = mappings.icmp_nft_codes(family).get(value.type, {})
    code_sym = Symbol(codes.get(value.code_min, str(value.code_min)))
    if opt.negated:
        return [Compare(Concat((Payload(proto, "type"), Payload(proto, "code"))), "!=",
                        AnonSet((Concat((type_sym, code_sym)),)))]
    return [Compare(Payload(proto, "type"), "==", type_sym),
            Compare(Payload(proto, "code"), "==", code_sym)]


def _h_limit(tr, rule, index, match, opt, ctx) -> list[Statement]:
    rate = match.option("limit").value
    burst = match.option("limit-burst").value
    return [Limit(rate.count, rate.unit, burst)]


def _h_recent(tr, rule, index, match, opt, ctx) -> list[Statement]:
    return ctx.recent.statements(rule, index)


def _h_hashlimit(tr, rule, index, match, opt, ctx) -> list[Statement]:
    return ctx.limits.hashlimit(rule, index)


def _h_connlimit(tr, rule, index, match, opt, ctx) -> list[Statement]:
    return ctx.limits.connlimit(rule, index)
def _h_ipset(tr, rule, index, match, opt, ctx) -> list[Statement]:
    ref = match.option("match-set")
    skip = match.option("update-counters")
    return ctx.ipsets.match(rule, ref.negated, ref.value, skip is not None and skip.negated,
                            ctx.proto)


def _h_comment(tr, rule, index, match, opt, ctx) -> list[Statement]:
    return []


def _h_addrtype(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if ctx.family != "ip":
        raise Untranslatable("-m addrtype for IPv6: xt_addrtype and nft's fib classify IPv6 "
                             "addresses with different route lookups")
    iface = match.option("limit-iface")
    device = {"limit-iface-in": "iif", "limit-iface-out": "oif"}.get(iface.value) if iface else None
    types_table = mappings.load("nft_values")["addrtypes"]
    out: list[Statement] = []
    for name, key in (("src-type", "saddr"), ("dst-type", "daddr")):
        option = match.option(name)
        if option is None:
            continue
        types = [Symbol(word) for t, word in zip(types_table["order"], types_table["nft"],
                                                 strict=True) if t in option.value]
        right = types[0] if len(types) == 1 else AnonSet(tuple(types))
        left = Fib((key, device) if device else (key,), "type")
        out.append(Compare(left, op(option.negated), right))
    return out


def _h_tos(tr, rule, index, match, opt, ctx) -> list[Statement]:
    v: Masked = opt.value
    if v.value & ~v.mask & 0xFF:
        raise Untranslatable(f"--tos {v.value:#04x}/{v.mask:#04x} has value bits outside its "
                             "mask: it never matches (always, inverted)",
                             "remove the rule, or fix the value")
    # nft has no TOS field; the byte is read raw. IPv6's traffic class is 4 bits into the
    # header: nft 1.0.6 loads `@nh,4,8 V` right but a masked `@nh,4,8 & M == V` wrongly (mask
    # and value in the wrong bytes; tests/test_xt_parity_kernel.py), so with a mask the first
    # 16 bits are read and the class's bits in them compared (`@nh,0,16 & 0x3f0 == 0x100`)
    if ctx.family == "ip6" and v.mask != 0xFF:
        return [Compare(BitAnd(RawPayload("nh", 0, 16), Symbol(f"{v.mask << 4:#06x}")),
                        op(opt.negated), Symbol(f"{v.value << 4:#06x}"))]
    left = RawPayload("nh", 8 if ctx.family == "ip" else 4, 8)
    if v.mask != 0xFF:
        left = BitAnd(left, Symbol(f"{v.mask:#04x}"))
    return [Compare(left, op(opt.negated), Symbol(f"{v.value:#04x}"))]


_ECN_CODEPOINTS = ("not-ect", "ect1", "ect0", "ce")     # nft's names of the values 0-3


def _h_ecn(tr, rule, index, match, opt, ctx) -> list[Statement]:
    out: list[Statement] = []
    ect = match.option("ecn-ip-ect")
    if ect is not None:
        out.append(Compare(Payload(ctx.family, "ecn"), op(ect.negated),
                           Symbol(_ECN_CODEPOINTS[ect.value])))
    for name, bit in (("ecn-tcp-ece", "ecn"), ("ecn-tcp-cwr", "cwr")):
        option = match.option(name)
        if option is None:
            continue
        if ctx.family != "ip" or rule.fragment is None or not rule.fragment.negated:
            # xt_ecn reads "the TCP header" at the transport offset of every packet, in a
            # later fragment the payload. Whether nft's tcp flags does depends on the kernel:
            # 6.18's payload fast path does (tests/test_xt_parity_kernel.py), which is not
            # a behaviour to build on, so the rule is refused rather than relying on it
            raise Untranslatable(f"--{name}: xt_ecn also reads the flags of later fragments "
                                 "(from their payload bytes); whether nft's `tcp flags` does "
                                 "depends on the kernel",
                                 "add `! -f` (IPv4) so that the rule skips later fragments; "
                                 "then the two agree")
        out.append(Compare(BitAnd(Payload("tcp", "flags"), Symbol(bit)), op(option.negated),
                           Symbol(bit)))
    return out


def _h_devgroup(tr, rule, index, match, opt, ctx) -> list[Statement]:
    out: list[Statement] = []
    for name, key in (("src-group", "iifgroup"), ("dst-group", "oifgroup")):
        option = match.option(name)
        if option is None:
            continue
        v: Masked = option.value
        left = Meta(key) if v.mask == 0xFFFFFFFF else BitAnd(Meta(key), Symbol(f"{v.mask:#x}"))
        # xt compares (group ^ value) & mask with 0: value bits outside the mask do not count
        out.append(Compare(left, op(option.negated), Symbol(f"{v.value & v.mask:#x}")))
    return out


def _h_owner(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if match.option("socket-exists") is not None:
        raise Untranslatable("--socket-exists (does the packet belong to a local socket) has no "
                             "nft 1.0.6 test")
    if match.option("suppl-groups") is not None:
        raise Untranslatable("--suppl-groups (the socket owner's supplementary groups) has no "
                             "nft equivalent")
    out: list[Statement] = []
    for name, key in (("uid-owner", "skuid"), ("gid-owner", "skgid")):
        option = match.option(name)
        if option is None:
            continue
        if option.negated:
            raise Untranslatable(f"! --{name}: xt_owner lets a packet without a socket owner "
                                 "(TCP resets and time-wait replies the kernel sends) pass an "
                                 f"inverted test, while nft's `meta {key} !=` stops the rule",
                                 "write the rule without the inversion, e.g. an ACCEPT rule for "
                                 "the owner before the one for everyone else")
        out.append(Compare(Meta(key), "==", int_range(option.value)))
    return out


def _h_ipcomp(tr, rule, index, match, opt, ctx) -> list[Statement]:
    cpi = match.option("ipcompspi")          # always there (default 0); --compres: untested
    v = cpi.value
    if v.first > 0xFFFF:        # xt compares the 16-bit CPI with 32-bit bounds
        if not cpi.negated:
            raise Untranslatable(f"--ipcompspi {v.first}:{v.last} never matches (the CPI has "
                                 "16 bits)", "remove the rule, or fix the value")
        return [Compare(Payload("comp", "cpi"), "==", Range(Symbol("0"), Symbol("65535")))]
    right = int_range(IntRange(v.first, min(v.last, 0xFFFF)))
    return [Compare(Payload("comp", "cpi"), op(cpi.negated), right)]


def _h_dccp_types(tr, rule, index, match, opt, ctx) -> list[Statement]:
    table = mappings.load("nft_values")["dccp_types"]
    types = [_type_value(nft) for name, nft in zip(table["iptables"], table["nft"], strict=True)
             if name in opt.value]
    return [Compare(Payload("dccp", "type"), op(opt.negated),
                    types[0] if len(types) == 1 else AnonSet(tuple(types)))]


def _type_value(nft: str):
    """A type's nft name, or a range of numbers (`10-15`)."""
    first, dash, last = nft.partition("-")
    return Range(Symbol(first), Symbol(last)) if dash and first.isdigit() else Symbol(nft)


def _h_tcpmss(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if opt.negated:
        raise Untranslatable("! --mss also matches every TCP packet without an MSS option "
                             "(all but SYNs, as a rule), where nft's `tcp option maxseg size` "
                             "stops the rule")
    return [Compare(TcpOption(2, "maxseg", "size"), "==", int_range(opt.value))]


def _h_statistic(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if match.option("mode").value == "random":
        p = match.option("probability")
        # xt: (random & 0x7fffffff) < probability * 2^31, the test inverted by `!`
        return [Compare(BitAnd(Meta("random"), Symbol("0x7fffffff")), ">=" if p.negated else "<",
                        Symbol(str(p.value)))]
    every, packet = match.option("every"), match.option("packet")
    # xt counts packets from 0 and matches number `packet` modulo `every`; numgen inc gives
    # the k-th packet (from 0) the value k % every (tests/test_xt_parity_kernel.py)
    return [Compare(Numgen("inc", every.value), op(every.negated), Symbol(str(packet.value)))]


HANDLERS = {
    "ct_state": h_ct_state, "ct_status": h_ct_status, "ct_port": h_ct_port,
    "tcp_flags": _h_tcp_flags, "tcp_option": _h_tcp_option, "icmp_type": _h_icmp_type,
    "limit": _h_limit,
    "recent": _h_recent, "comment": _h_comment, "addrtype": _h_addrtype, "tos": _h_tos,
    "devgroup": _h_devgroup, "owner": _h_owner, "ah": h_ah, "tcpmss": _h_tcpmss,
    "statistic": _h_statistic, "ecn": _h_ecn, "exthdr": h_exthdr, "ipcomp": _h_ipcomp,
    "dccp_types": _h_dccp_types, "time": h_time, "hashlimit": _h_hashlimit,
    "connlimit": _h_connlimit, "ipset": _h_ipset, "policy": h_policy, "connlabel": h_connlabel,
    "sctp_chunks": h_sctp_chunks, "connbytes": h_connbytes, "quota": h_quota,
    "ctexpire": h_ctexpire, "ports": h_ports,
}

REFUSAL_HINTS = {
    ("helper", "helper"): "xt_helper tests the helper of the connection's master (an FTP data "
                          "connection matches `ftp`); nft's `ct helper` tests the connection's "
                          "own helper",
    ("cgroup", "path"): "nft's `socket cgroupv2 level N \"path\"` needs the path's level, which "
                        "iptables does not record; use --cgroup with a net_cls class id",
    ("dccp", "dccp-option"): "nft has no DCCP option test",
    ("rt", "rt-0-res"): "nft 1.0.6 reads no reserved field of a type 0 routing header",
    ("rt", "rt-0-addrs"): "xt_rt compares the type 0 routing header's address list (strictly "
                          "or as a subsequence); nft has no such test",
    ("rt", "rt-0-not-strict"): "goes with --rt-0-addrs, which has no nft equivalent",
    ("hbh", "hbh-opts"): "xt_hbh walks the options in order; nft has no such test",
    ("dst", "dst-opts"): "xt_hbh walks the options in order; nft has no such test",
    ("set", "return-nomatch"): "it only changes the result for nomatch members, which nft "
                               "sets cannot hold",
    **{("set", f"{what}-{cmp}"): "nft cannot compare an ipset member's counters"
       for what in ("packets", "bytes") for cmp in ("eq", "lt", "gt")},
}
