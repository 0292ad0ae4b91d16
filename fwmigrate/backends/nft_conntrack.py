"""Conntrack match options → nft: `ct state`, `ct status`, conntrack ports, and what a
packet without a conntrack entry (INVALID, UNTRACKED) does to them: xt_conntrack reads its
state and stops, nft's other ct keys stop the rule. SNAT/DNAT beside NEW, ESTABLISHED and
RELATED change no answer and are left out (conntrack_entry.without_idle_nat)."""

from __future__ import annotations

from ..frontends.conntrack_entry import (
    ENTRY_STATES,
    NAT_STATES,
    NO_ENTRY,
    entry_tested,
    lets_entryless_through,
    without_idle_nat,
)
from .nft_ast import Compare, Ct, FlagList, Meta, Statement, Symbol
from .nft_common import flags, op, port
from .nft_ct_split import Split, either, none_of
from .nft_recent import Untranslatable

_CT_STATE_ORDER = ("INVALID", "ESTABLISHED", "RELATED", "NEW", "UNTRACKED")
_CT_STATUS_ORDER = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SNAT", "DNAT")


def _check_no_entry(match) -> None:
    """xt_conntrack lets a packet without a conntrack entry through once its state test
    passes, ignoring the match's other options; nft's other ct keys stop the rule instead."""
    if lets_entryless_through(match.options):
        raise Untranslatable("with this --ctstate a packet without a conntrack entry (INVALID or "
                             "UNTRACKED) passes iptables' test and skips the other conntrack "
                             "options, while nft stops the rule at them",
                             "split the rule: one with --ctstate alone, one with the rest")


_STATE_NAMES = ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED")
_NAT_NAMES = ("SNAT", "DNAT")


def _listed(names, order: tuple[str, ...]) -> str:
    return ",".join(s for s in order if s in names)


def _rules(first: str, second: str) -> str:
    return (f"write it as two rules with the same other tests and target: one with {first}, "
            f"and one with {second}")


def _inverted_nat_split(states: frozenset[str]) -> str:
    """The rules that say `! --ctstate S` (SNAT/DNAT in S, not both INVALID and UNTRACKED): a
    packet without a conntrack entry passes when its state is not in S, one with an entry when
    neither its state nor its NAT bits are. The two are disjoint, so both take the target;
    iptables' --ctstatus takes no SNAT/DNAT, so the second has two conntrack matches."""
    without = f"-m conntrack --ctstate {_listed(NO_ENTRY - states, _STATE_NAMES)}"
    entry = _listed(ENTRY_STATES - states, _STATE_NAMES)
    return _rules(without, f"-m conntrack --ctstate {entry} -m conntrack ! --ctstate "
                           f"{_listed(states, _NAT_NAMES)}")


def _either_split(states: frozenset[str], nat: frozenset[str]) -> str:
    """`--ctstate P,N` (N SNAT/DNAT): in P, or NAT done on a connection in another state. One
    rule per part would both act on a NEW connection that was DNATed; these two do not."""
    plain = states - nat
    rest = _listed(ENTRY_STATES - plain, _STATE_NAMES)
    return _rules(f"-m conntrack --ctstate {_listed(plain, _STATE_NAMES)}",
                  f"-m conntrack --ctstate {rest} -m conntrack --ctstate "
                  f"{_listed(nat, _NAT_NAMES)}")


def _none_of(tr, rule, index: int, states: frozenset[str],
             nat: frozenset[str]) -> list[Statement]:
    """`! --ctstate S` with SNAT/DNAT in S: none of the states and none of the NAT bits, which
    nft says of a packet with a conntrack entry only: one rule where a packet without one is
    stopped before (or by this test's own states), else two (nft_ct_split)."""
    plain = states - nat
    if not (entry_tested(rule.matches[:index]) or NO_ENTRY <= plain):
        message = ("! --ctstate SNAT/DNAT also holds for packets without a conntrack entry, "
                   "where nft's `ct status` does not")
        hint = _inverted_nat_split(states)
        return [_register(tr, none_of(plain, flags(nat, _CT_STATUS_ORDER), _states, message,
                                      hint))]
    return ([Compare(Ct("state"), "!=", flags(plain, _CT_STATE_ORDER))] if plain else []) + \
        [Compare(Ct("status"), "!=", flags(nat, _CT_STATUS_ORDER))]


def _states(names) -> FlagList:
    return flags(names, _CT_STATE_ORDER)


def _register(tr, split: Split) -> Compare:
    """The first rule's state test, known to the translator as one that needs a second rule
    (made in nft_translate._rule, where the whole rule is known)."""
    tr.ct_splits[id(split.first)] = split
    return split.first


def h_ct_state(tr, rule, index, match, opt, ctx) -> list[Statement]:
    states = without_idle_nat(opt.value)
    nat = states & NAT_STATES
    if match.module == "conntrack":
        _check_no_entry(match)
        if nat and opt.negated:
            return _none_of(tr, rule, index, states, nat)
    if nat and nat != states:
        message = ("--ctstate mixing SNAT/DNAT with connection states means \"either\", "
                   "which one nft rule cannot say")
        return [_register(tr, either(states - nat, flags(nat, _CT_STATUS_ORDER), _states,
                                     message, _either_split(states, nat)))]
    if nat:
        return [Compare(Ct("status"), op(opt.negated), flags(nat, _CT_STATUS_ORDER))]
    return [Compare(Ct("state"), op(opt.negated), flags(states, _CT_STATE_ORDER))]


_PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})     # tcp udp dccp sctp udplite


def h_ct_port(tr, rule, index, match, opt, ctx) -> list[Statement]:
    ctproto = match.option("ctproto")
    # a conntrack entry has its packets' protocol, so `-p tcp` says `--ctproto tcp` too; nft
    # only needs some protocol test before the port to know the port's type
    if (ctproto is None and ctx.proto not in _PORT_PROTOCOLS) or (ctproto and ctproto.negated):
        raise Untranslatable(f"--{opt.name} without --ctproto: nft reads a conntrack port only "
                             "once it knows the protocol", "add --ctproto tcp (or udp, …)")
    out: list[Statement] = []
    if tr.options.family == "inet":
        # in an inet table nft needs the family to read a conntrack port
        out.append(Compare(Meta("nfproto"), "==",
                           Symbol("ipv4" if ctx.family == "ip" else "ipv6")))
    # the handler runs once per match: every port option of the match is written here
    for name, (direction, key) in _CT_PORTS.items():
        given = match.option(name)
        if given is not None:
            out.append(Compare(Ct(key, direction), op(given.negated), port(given.value)))
    return out


_CT_PORTS = {"ctorigsrcport": ("original", "proto-src"), "ctorigdstport": ("original", "proto-dst"),
             "ctreplsrcport": ("reply", "proto-src"), "ctrepldstport": ("reply", "proto-dst")}


def h_ct_status(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if not opt.value:
        raise Untranslatable("--ctstatus NONE has no nft equivalent")
    return [Compare(Ct("status"), op(opt.negated), flags(opt.value, _CT_STATUS_ORDER))]
