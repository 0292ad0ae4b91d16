"""-j CT in the raw table and the conntrack tests after it.

xt_CT attaches a template conntrack entry (its zone, helper, …) to the packet; conntrack
replaces it with the real entry after raw. Until then the raw rules of the same hook meet the
template: xt_conntrack and xt_connmark read it as an entry (state NEW, status CONFIRMED, no NAT
bits, direction ORIGINAL, mark 0), while nft's ct keys other than `ct state` stop the rule at
it (tests/test_ct_template_kernel.py: `--ctstatus CONFIRMED` matched, `ct status confirmed`
did not). This finds the raw rules a template can reach that test more of the entry than its
state, to be refused. The state alone reads the same (NEW in both).
"""

from __future__ import annotations

from ..ir import Match, Ruleset, TargetExtension, builtin_chains_reaching
from .nft_recent import Untranslatable

_NAT = frozenset({"SNAT", "DNAT"})


def _attaches_template(target: object) -> bool:
    return isinstance(target, TargetExtension) and target.name == "CT" and \
        target.option("notrack") is None


def _reads_entry(match: Match) -> bool:
    """Tests more of a conntrack entry than its state (the NAT bits of --ctstate are its
    status)."""
    if match.module == "connmark":
        return True
    return match.module == "conntrack" and any(
        o.name != "ctstate" or o.value & _NAT for o in match.options)


def template_problems(ruleset: Ruleset) -> dict[int, Untranslatable]:
    """id of a raw rule that a -j CT template can reach and that reads it → why refused."""
    problems: dict[int, Untranslatable] = {}
    for table in ruleset.tables:
        if table.name != "raw":
            continue
        reach = builtin_chains_reaching(table)
        # the hooks whose packets can get a template (a template lives until conntrack,
        # right after raw, so only that hook's raw rules meet it)
        hooks = frozenset().union(*(reach.get(c.name, frozenset()) for c in table.chains
                                    if any(_attaches_template(r.target) for r in c.rules)))
        if not hooks:
            continue
        for chain in table.chains:
            if not reach.get(chain.name, frozenset()) & hooks:
                continue
            for rule in chain.rules:
                if any(map(_reads_entry, rule.matches)):
                    problems[id(rule)] = Untranslatable(
                        "after -j CT in the raw table a packet carries a template entry, which "
                        "xt_conntrack and xt_connmark read as an entry (state NEW, status "
                        "CONFIRMED, mark 0, no NAT bits), while nft's ct keys other than "
                        "`ct state` stop the rule at it",
                        "test the entry in the mangle or filter table, where conntrack has "
                        "replaced the template; a --ctstate test of states alone is translated")
    return problems
