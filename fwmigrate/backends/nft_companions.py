"""Rules written right after a translated rule to do what its iptables match or target does
beyond what the nft rule can: where nft's statement ends the rule, the iptables one drops the
packet. The companion repeats the rule's tests and drops; so those tests must give the same
answer a second time (nft_common.repeatable). The hashlimit companion (a full set) is made by
nft_limits.LimitPlan.companion; the nft reader folds both back (frontends/nft_ruleset.py).
A conntrack test one nft rule cannot say is the rule and a companion with another state test
(nft_ct_split.py)."""

from __future__ import annotations

from .nft_ast import Counter, NftRule, Statement, Tproxy, Verdict
from .nft_common import repeatable
from .nft_ct_split import companion as ct_split_companion
from .nft_recent import Untranslatable


def check_tproxy_tests(tests: tuple[Statement, ...]) -> None:
    """xt_TPROXY drops a packet for which it finds no transparent socket; nft's tproxy ends
    the rule instead, so a drop must follow with the same tests."""
    if not all(map(repeatable, tests)):
        raise Untranslatable(
            "TPROXY after a test with a side effect or a random answer: nft's tproxy ends the "
            "rule when it finds no socket, and the rule written after it to drop the packet "
            "(as xt_TPROXY does) would run that test again",
            "put the other tests in a rule of their own that jumps to a chain with the TPROXY "
            "rule")


def tproxy_companion(rule: NftRule, tproxy: Tproxy) -> NftRule:
    """The rule's tests (not its counter), then drop: reached only when tproxy found no
    socket, as a packet the tests do not match stops at them in both rules."""
    head = tuple(s for s in rule.statements[:rule.statements.index(tproxy)]
                 if type(s) is not Counter)
    return NftRule((*head, Verdict("drop")), None, rule.loc, companion=True)


def companion_of(tr, rule: NftRule, target: tuple[Statement, ...], ctx, ipt_rule,
                 table: str) -> NftRule | None:
    """The rule written after `rule`, if any: the second half of a conntrack test, TPROXY's
    drop, a full hashlimit set's drop (one at most: nft_ct_split refuses a rule that needs
    two; a TPROXY rule has no hashlimit, check_tproxy_tests refuses one)."""
    if tr.ct_splits:
        second = ct_split_companion(rule, tr.ct_splits, table, ipt_rule)
        if second is not None:
            return second
    if target and type(target[0]) is Tproxy:
        return tproxy_companion(rule, target[0])
    if ctx.limits is not None and ctx.limits.hashlimit_sets:
        return ctx.limits.companion(rule)
    return None
