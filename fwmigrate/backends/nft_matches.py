"""Match options → nft statements: the compares mappings/matches.toml names, and the handlers
(`nft = "@name"`) for options whose meaning takes more than one compare.

A handler is called once per match with (translator, rule, match index, match, the option that
named it, context) and returns statements, or raises Untranslatable with the reason.
"""

from __future__ import annotations

from .. import mappings
from ..ir import IcmpType, Match, Rule, TcpFlags
from .nft_ast import (AnonSet, BitAnd, Compare, Concat, Ct, Limit, Meta, Payload, Range,
                      Statement, Symbol, TcpOption)
from .nft_common import Ctx, flags, op, port, selector, value
from .nft_recent import Untranslatable


def match_statements(tr, rule: Rule, index: int, match: Match, ctx: Ctx) -> list[Statement]:
    """The nft statements of one match: a compare per option, or the option's handler."""
    spec = mappings.match_specs()[match.module]
    if spec.protocols and not match.options:
        # `-p tcp -m tcp` alone still needs a readable first-fragment header, as in xt
        return [Compare(Payload(match.module, "dport"), "==",
                        Range(Symbol("0"), Symbol("65535")))]
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
            out.append(Compare(selector(ospec.nft, ctx), op(opt.negated),
                               value(opt, ospec.value, ctx)))
    return out


# --- option handlers ----------------------------------------------------------------------

_CT_STATE_ORDER = ("INVALID", "ESTABLISHED", "RELATED", "NEW", "UNTRACKED")
_CT_STATUS_ORDER = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SNAT", "DNAT")


# states a packet without a conntrack entry can have; `ct state` reads them, other ct keys do not
_NO_ENTRY = frozenset({"INVALID", "UNTRACKED"})


def _check_no_entry(match) -> None:
    """xt_conntrack lets a packet without a conntrack entry through once its state test
    passes, ignoring the match's other options; nft's other ct keys stop the rule instead."""
    state = match.option("ctstate")
    if state is None or len(match.options) == 1:
        return
    if any((s in state.value) != state.negated for s in _NO_ENTRY):
        raise Untranslatable("with this --ctstate a packet without a conntrack entry (INVALID or "
                             "UNTRACKED) passes iptables' test and skips the other conntrack "
                             "options, while nft stops the rule at them",
                             "split the rule: one with --ctstate alone, one with the rest")


def _h_ct_state(tr, rule, index, match, opt, ctx) -> list[Statement]:
    states = opt.value
    if match.module == "conntrack":
        _check_no_entry(match)
        if {"SNAT", "DNAT"} & states and opt.negated:
            raise Untranslatable("! --ctstate SNAT/DNAT also holds for packets without a "
                                 "conntrack entry, where nft's `ct status` does not",
                                 "use --ctstatus, or split the rule")
    nat = states & {"SNAT", "DNAT"}
    if nat and nat != states:
        raise Untranslatable("--ctstate mixing SNAT/DNAT with connection states means "
                             "\"either\", which one nft rule cannot say",
                             "split it into two rules with the same target")
    if nat:
        return [Compare(Ct("status"), op(opt.negated), flags(nat, _CT_STATUS_ORDER))]
    return [Compare(Ct("state"), op(opt.negated), flags(states, _CT_STATE_ORDER))]


def _h_ct_port(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if match.option("ctproto") is None or match.option("ctproto").negated:
        raise Untranslatable(f"--{opt.name} without --ctproto: nft reads a conntrack port only "
                             "once it knows the protocol", "add --ctproto tcp (or udp, …)")
    direction, key = {"ctorigsrcport": ("original", "proto-src"),
                      "ctorigdstport": ("original", "proto-dst"),
                      "ctreplsrcport": ("reply", "proto-src"),
                      "ctrepldstport": ("reply", "proto-dst")}[opt.name]
    out: list[Statement] = []
    if tr.options.family == "inet":
        # in an inet table nft needs the family to read a conntrack port
        out.append(Compare(Meta("nfproto"), "==",
                           Symbol("ipv4" if ctx.family == "ip" else "ipv6")))
    return out + [Compare(Ct(key, direction), op(opt.negated), port(opt.value))]


def _h_ct_status(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if not opt.value:
        raise Untranslatable("--ctstatus NONE has no nft equivalent")
    return [Compare(Ct("status"), op(opt.negated), flags(opt.value, _CT_STATUS_ORDER))]


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


def _h_comment(tr, rule, index, match, opt, ctx) -> list[Statement]:
    return []


HANDLERS = {
    "ct_state": _h_ct_state, "ct_status": _h_ct_status, "ct_port": _h_ct_port, "tcp_flags": _h_tcp_flags,
    "tcp_option": _h_tcp_option, "icmp_type": _h_icmp_type, "limit": _h_limit,
    "recent": _h_recent, "comment": _h_comment,
}

REFUSAL_HINTS = {
    ("multiport", "ports"): "write two rules, one with --sports and one with --dports",
    ("conntrack", "ctexpire"): "nft compares the remaining time in milliseconds exactly, "
                               "iptables in whole seconds",
}
