"""Targets → nft statements: verdicts, jumps, and a handler per target extension (TARGETS)."""

from __future__ import annotations

from .. import mappings
from ..ir import Jump, Rule, TargetExtension, Verdict
from .nft_ast import Log, Nat, Queue, Reject, Statement
from .nft_ast import Verdict as NftVerdict
from .nft_common import Ctx
from .nft_recent import Untranslatable


def target_statements(tr, rule: Rule, ctx: Ctx) -> list[Statement]:
    """The nft statements of a rule's target (none for a rule without one)."""
    target = rule.target
    if target is None:
        return []
    if isinstance(target, Verdict):
        if target.name == "QUEUE":
            return [Queue(0)]
        return [NftVerdict(target.name.lower())]
    if isinstance(target, Jump):
        return [NftVerdict("goto" if target.goto else "jump", ctx.chains[target.chain])]
    return TARGETS[target.name](tr, rule, target, ctx)


# --- target handlers ----------------------------------------------------------------------

def _t_log(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    prefix = target.option("log-prefix")
    level = target.option("log-level").value
    flags = []
    if target.option("log-tcp-sequence") and target.option("log-tcp-options"):
        flags.append("tcp sequence,options")
    elif target.option("log-tcp-sequence"):
        flags.append("tcp sequence")
    elif target.option("log-tcp-options"):
        flags.append("tcp options")
    if target.option("log-ip-options"):
        flags.append("ip options")
    if target.option("log-uid"):
        flags.append("skuid")
    if target.option("log-macdecode"):
        flags.append("ether")
    return [Log(prefix.value if prefix else None,
                None if level == 4 else mappings.nft_log_levels()[level], tuple(flags))]


def _t_reject(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    name = target.option("reject-with").value
    statement = next(nft for n, _a, nft in mappings.reject_names(ctx.family) if n == name)
    words = statement.split()
    if words == ["reject"]:
        return [Reject()]
    if words[2:4] == ["tcp", "reset"]:
        return [Reject("tcp reset")]
    return [Reject(words[2], words[4])]


def _t_nat(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    kind = target.name.lower() if target.name in ("SNAT", "DNAT") else {
        "MASQUERADE": "masquerade", "REDIRECT": "redirect"}[target.name]
    flags = []
    for opt_name, flag in (("random", "random"), ("random-fully", "fully-random"),
                           ("persistent", "persistent")):
        if target.option(opt_name):
            flags.append(flag)
    addr = addr_high = None
    ports = None
    if kind in ("snat", "dnat"):
        first, last, ports = target.options[0].value
        if first is None:
            raise Untranslatable(f"--to-{'source' if kind == 'snat' else 'destination'} "
                                 "without an address")
        addr = str(first)
        addr_high = str(last) if last != first else None
    else:
        opt = target.option("to-ports")
        ports = opt.value if opt else None
    family = None
    if tr.options.family == "inet" and kind in ("snat", "dnat"):
        family = ctx.family
    return [Nat(kind, family, addr, addr_high,
                ports.first if ports else None,
                ports.last if ports and not ports.single else None, tuple(flags))]


TARGETS = {"LOG": _t_log, "REJECT": _t_reject, "SNAT": _t_nat, "DNAT": _t_nat,
            "MASQUERADE": _t_nat, "REDIRECT": _t_nat}
