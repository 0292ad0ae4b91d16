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

from ..ir import Rule, Ruleset, Table, TargetExtension, builtin_chains_reaching
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


def _is_notrack(rule: Rule) -> bool:
    t = rule.target
    return isinstance(t, TargetExtension) and (
        t.name == "NOTRACK" or (t.name == "CT" and any(o.name == "notrack" for o in t.options)))


def _may_meet_an_answer(rule: Rule, answers: frozenset[int]) -> bool:
    p = rule.protocol
    if p is not None and (p.value in answers) == p.negated:
        return False
    # in raw OUTPUT such an answer is INVALID (no entry) under both: a state test without
    # INVALID never passes it
    for m in rule.matches:
        opt = _state_option(m)
        if opt is not None and ("INVALID" in opt.value) == opt.negated:
            return False
    return True


def _state_option(match):
    return match.option("ctstate") if match.module == "conntrack" else \
        match.option("state") if match.module == "state" else None


def _tells_invalid_from_untracked(rule: Rule) -> bool:
    for m in rule.matches:
        opt = _state_option(m)
        if opt is not None and ("INVALID" in opt.value) != ("UNTRACKED" in opt.value):
            return True
    return False


def _rules_on_the_way_out(table: Table):
    reach = builtin_chains_reaching(table)
    for chain in table.chains:
        if reach.get(chain.name, frozenset()) & _OUT_HOOKS:
            yield chain.name, reach[chain.name], chain.rules


def notrack_answer_problems(ruleset: Ruleset) -> dict[int, Untranslatable]:
    """id of a raw OUTPUT notrack rule → why it is refused (see the module's docstring)."""
    problems: dict[int, Untranslatable] = {}
    for family in ruleset.families:
        tables = [t for t in ruleset.tables if t.family == family]
        answers = _answer_protocols(tables, family)
        raw = next((t for t in tables if t.name == "raw"), None)
        if not answers or raw is None:
            continue
        notracks = [r for _name, hooks, rules in _rules_on_the_way_out(raw) if "OUTPUT" in hooks
                    for r in rules if _is_notrack(r) and _may_meet_an_answer(r, answers)]
        if not notracks:
            continue
        # a later state test that tells them apart: raw's own rules are judged as a whole
        # (which of them come after the notrack depends on the jumps), the others all come later
        tests = [r for t in tables for _name, _hooks, rules in _rules_on_the_way_out(t)
                 for r in rules if _tells_invalid_from_untracked(r)]
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
