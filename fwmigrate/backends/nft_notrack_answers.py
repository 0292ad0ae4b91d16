"""NOTRACK in raw OUTPUT and the answers the host makes to untracked packets.

A REJECT's ICMP error or TCP reset carries the answered packet's conntrack state
(nf_ct_attach); for an untracked packet that is "no entry, RELATED", which conntrack later
judges INVALID. xt_CT's notrack leaves any packet that carries a state alone, so under
iptables such an answer stays INVALID through raw OUTPUT; nft's `notrack` leaves alone only a
packet with an entry or already untracked, so it makes the answer UNTRACKED. The two differ
only where a later state test tells INVALID from UNTRACKED on the way out (bench/ruleset_fuzz.py
seed 1400400023: `ct state untracked drop` in OUTPUT dropped the error iptables delivered).
This finds the raw OUTPUT notrack rules for which that can happen, to be refused.
"""

from __future__ import annotations

from ..frontends.conntrack_entry import state_test
from ..ir import Rule, Ruleset, Table, TargetExtension, builtin_chains_reaching, untracks
from .nft_recent import Untranslatable

_OUT_HOOKS = frozenset({"OUTPUT", "POSTROUTING"})
_ICMP = {"ip": 1, "ip6": 58}
_TCP = 6


def _answer_protocols(tables: list[Table], family: str) -> frozenset[int]:
    """The protocols of the answers the REJECT rules make: TCP resets, ICMP errors."""
    found = set()
    for t in tables:
        for c in t.chains:
            for r in c.rules:
                if isinstance(r.target, TargetExtension) and r.target.name == "REJECT":
                    how = r.target.option("reject-with")
                    found.add(_TCP if how is not None and how.value == "tcp-reset"
                              else _ICMP[family])
    return frozenset(found)


def _notrack_an_answer_may_meet(rule: Rule) -> bool:
    """A notrack rule whose state tests pass an answer to an untracked packet: INVALID (no
    entry) in raw OUTPUT under both."""
    if not untracks(rule.target):
        return False
    return not any((opt := state_test(m)) is not None and ("INVALID" in opt.value) == opt.negated
                   for m in rule.matches)


def _of_protocols(rule: Rule, protocols: frozenset[int]) -> bool:
    p = rule.protocol
    return p is None or (p.value in protocols) != p.negated


def _tells_invalid_from_untracked(rule: Rule) -> bool:
    return any((opt := state_test(m)) is not None and
               ("INVALID" in opt.value) != ("UNTRACKED" in opt.value) for m in rule.matches)


def _rules_on_the_way_out(table: Table, hooks: frozenset[str] = _OUT_HOOKS):
    """The rules of the chains that packets of these hooks reach."""
    reach = builtin_chains_reaching(table)
    for chain in table.chains:
        if reach.get(chain.name, frozenset()) & hooks:
            yield from chain.rules


def notrack_answer_problems(ruleset: Ruleset) -> dict[int, Untranslatable]:
    """id of a raw OUTPUT notrack rule → why it is refused (see the module's docstring)."""
    problems: dict[int, Untranslatable] = {}
    for family in ruleset.families:
        tables = [t for t in ruleset.tables if t.family == family]
        raw = next((t for t in tables if t.name == "raw"), None)
        # the raw table first (small, and mostly absent): the rest is read only if it matters
        notracks = [] if raw is None else [
            r for r in _rules_on_the_way_out(raw, frozenset({"OUTPUT"}))
            if _notrack_an_answer_may_meet(r)]
        if notracks:        # no REJECT, no answers: none are left
            answers = _answer_protocols(tables, family)
            notracks = [r for r in notracks if answers and _of_protocols(r, answers)]
        if not notracks:
            continue
        # a later state test that tells them apart: raw's own rules are judged as a whole
        # (which of them come after the notrack depends on the jumps), the others all come later
        tests = [r for t in tables for r in _rules_on_the_way_out(t)
                 if _tells_invalid_from_untracked(r)]
        if not tests:
            continue
        where = tests[0].loc
        for rule in notracks:
            problems[id(rule)] = Untranslatable(
                "a REJECT's answer to an untracked packet carries its state (no entry, "
                "RELATED), which xt_CT's notrack leaves alone and conntrack later calls INVALID, "
                "while nft's `notrack` makes it UNTRACKED; a state test on the way out tells the "
                f"two apart{f' ({where})' if where else ''}",
                "test --ctstate INVALID,UNTRACKED together on the way out, or give this rule a "
                "protocol the host's answers do not have (e.g. -p udp)")
    return problems
