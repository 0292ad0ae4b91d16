"""Which probes a NAT rule rewrote bench/evaluator_fuzz.py compares, and the helpers
bench/evaluator_model.py uses to follow them (Exchange.first_walk)."""

from __future__ import annotations

from differential import ADDRESSES

from fwmigrate.ir import Ruleset
from fwmigrate.verify.nat_status import NAT_TARGETS

SOURCE_NAT = frozenset({"SNAT", "MASQUERADE"})


def nat_compares(ruleset: Ruleset, fam: str, known: bool) -> bool:
    """Whether a probe NAT rewrites is walked as the kernel shows it to the tables: a new
    flow (a later packet of a known one does not pass the nat chains the evaluator walks),
    and no rule in raw PREROUTING, where a later packet of the connection could be untracked
    and then neither rewritten nor routed where the walk sends it. (The tables see the later
    packets rewritten after raw and mangle: Packet.nat_dst; a source NAT in the last
    POSTROUTING is after every table.)"""
    if known:
        return False
    for table in ruleset.tables:
        if table.family == fam and table.name == "raw":
            chain = table.chain("PREROUTING")
            if chain is not None and chain.rules:
                return False
    return True


def nat_step(step) -> bool:
    return step.table == "nat" and step.rule is not None and step.result != "no match" and \
        getattr(step.rule.target, "name", None) in NAT_TARGETS


def owner_of(addr) -> str | None:
    """The role whose namespace has the address (None: unknown, or none has it)."""
    return next((role for role, addrs in ADDRESSES.items() if str(addr) in addrs), None) \
        if addr is not None else None
