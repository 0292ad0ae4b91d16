"""The lockout guard's words for what the evaluator found: the rules that would stop a packet,
and the NAT rules that would rewrite one, each named with its source line."""

from __future__ import annotations

from ..ir import TargetExtension
from ..verify.evaluate import Outcome
from ..verify.nat_status import NAT_TARGETS


def problems(outcomes: list[Outcome]) -> list[str]:
    """Each way the packet is stopped (the rule or policy, with what it assumed), once."""
    from ..backends.iptables_save import rule_line
    out = []
    for o in outcomes:
        if o.verdict != "ACCEPT":
            why = o.describe()
            if o.decided_by and o.decided_by.rule is not None:
                why += f": {rule_line(o.decided_by.chain, o.decided_by.rule, False)}"
            if o.assumptions:
                why += " (if " + "; ".join(dict.fromkeys(o.assumptions)) + ")"
            out.append(why)
    return list(dict.fromkeys(out))


def nat_steps(outcomes: list[Outcome]):
    """(outcome, step, "rule N of nat CHAIN (file:line): -A …") for each NAT rule the walks
    matched."""
    from ..backends.iptables_save import rule_line
    for o in outcomes:
        for step in o.trace:
            target = step.rule.target if step.rule is not None else None
            if (step.table == "nat" and step.result in ("match", "assumed match")
                    and isinstance(target, TargetExtension)
                    # a reconnect's SNAT (nat INPUT) also changes what the server sees of it
                    and target.name in NAT_TARGETS):
                where = f" ({step.rule.loc})" if step.rule.loc else ""
                yield o, step, (f"rule {step.index} of nat {step.chain}{where}: "
                                f"{rule_line(step.chain, step.rule, False)}")


def nat_rules(outcomes: list[Outcome]) -> list[str]:
    """The NAT rules the walks matched, each once (with what the match assumed)."""
    out = []
    for o, step, named in nat_steps(outcomes):
        why = (" (if " + "; ".join(dict.fromkeys(o.assumptions)) + ")"
               if step.result == "assumed match" else "")
        out.append(named + why)
    return list(dict.fromkeys(out))
