"""`fwmigrate verify INPUT`: translate, load into a throwaway namespace through libnftables,
read the kernel's ruleset back and compare it with what the input says; and, for the same
input, write canonical iptables-restore text, read it again and compare."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..backends import iptables_save, nft_json
from ..convert import ConvertOptions, translate_input
from ..errors import Diagnostic, Diagnostics, FwmigrateError
from ..frontends.ipset_sets import DIMENSIONS
from ..frontends.nft_ruleset import read_nft_json
from ..frontends.save_file import read_save
from ..ir import Ruleset, TargetExtension
from .diff import Change, diff
from .sources import kernel_listing, scratch_namespace


@dataclass
class RoundTripReport:
    ruleset: Ruleset
    kernel: list[Change] = field(default_factory=list)     # IR vs the kernel's ruleset
    restore: list[Change] = field(default_factory=list)    # IR vs iptables-restore text, reread
    rules: int = 0
    chains: int = 0

    @property
    def ok(self) -> bool:
        return not self.kernel and not self.restore


def _set_directions_used(ruleset: Ruleset) -> Ruleset:
    """The ruleset with each -m set / -j SET giving only the directions its ipset uses:
    `--match-set S src,dst` on a one-dimension set tests the source alone (ipset ignores the
    rest), and that is all its nft lookup can say."""
    if not ruleset.ipsets:
        return ruleset
    dims = {s.name: len(DIMENSIONS[s.type]) for s in ruleset.ipsets}

    def trim(options):
        return tuple(replace(o, value=(o.value[0], o.value[1][:dims[o.value[0]]]))
                     if o.name in _SET_REFS and o.value[0] in dims else o for o in options)

    tables = []
    for t in ruleset.tables:
        chains = []
        for c in t.chains:
            rules = []
            for r in c.rules:
                matches = tuple(replace(m, options=trim(m.options)) if m.module == "set"
                                else m for m in r.matches)
                target = r.target
                if isinstance(target, TargetExtension) and target.name == "SET":
                    target = replace(target, options=trim(target.options))
                rules.append(replace(r, matches=matches, target=target))
            chains.append(replace(c, rules=tuple(rules)))
        tables.append(replace(t, chains=tuple(chains)))
    return replace(ruleset, tables=tuple(tables))


_SET_REFS = frozenset({"match-set", "add-set", "del-set"})


def round_trip(text: str, name: str, options: ConvertOptions) -> RoundTripReport:
    ruleset, translation, _diags = translate_input(text, name, options)
    if options.family in ("ip", "ip6"):
        # only that family was translated; the other one is not in the kernel to compare
        ruleset = Ruleset(tuple(t for t in ruleset.tables if t.family == options.family),
                          ruleset.source)
    report = RoundTripReport(ruleset, rules=sum(len(c.rules) for t in ruleset.tables
                                                for c in t.chains),
                             chains=sum(len(t.chains) for t in ruleset.tables))
    try:
        batch = nft_json.commands(translation.ruleset)
    except nft_json.Unrepresentable as exc:
        raise FwmigrateError([Diagnostic(None, f"cannot load it through libnftables JSON: {exc}",
                                         hint="this ruleset can only be loaded as nft text")
                               ]) from None
    with scratch_namespace() as netns:
        listing = kernel_listing(netns, load_json=batch)
    diags = Diagnostics()
    ipsets = {s.name: s.ipset for t in translation.ruleset.tables for s in t.sets if s.ipset}
    back = read_nft_json(listing, "kernel", diags, ipsets)
    if diags.errors:
        raise FwmigrateError(diags.errors)
    report.kernel = diff(_set_directions_used(ruleset), back)
    for family in ruleset.families:
        restore_text = iptables_save.render(ruleset, family)
        reread = read_save(restore_text, f"{name} (as iptables-restore)", diags, family)
        if diags.errors:
            raise FwmigrateError(diags.errors)
        only = Ruleset(tuple(t for t in ruleset.tables if t.family == family), name)
        report.restore += diff(only, reread)
    return report
