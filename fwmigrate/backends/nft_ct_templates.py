"""-j CT in the raw table and what the raw rules of the same hook then meet.

xt_CT attaches a template conntrack entry (its zone, helper, …) to the packet; conntrack
replaces it with the real entry after raw. Until then the raw rules of the same hook meet the
template: xt_conntrack and xt_connmark read it as an entry (state NEW, status CONFIRMED, no NAT
bits, direction ORIGINAL, mark 0), and CONNMARK --restore-mark copies its mark (0, or what a
CONNMARK of an earlier packet wrote to the shared template) to the packet, while nft's ct keys
other than `ct state` stop the rule at it (tests/test_ct_template_kernel.py). This finds the
raw rules a template can reach that read more of it than its state, to be refused. Read alike
(measured there): the state (-m state, --ctstate of states alone: NEW), -m connlabel (the
template has no labels: no match, and --set sets nothing), -m connlimit, and what CONNMARK
--set-mark/--save-mark leave on the connection (nothing: conntrack does not copy a template's
mark, and nft's `ct mark set` leaves the template alone), a later -j CT or NOTRACK (left out:
the packet keeps the first template).

The other way round: xt_CT leaves alone a packet NOTRACK or -j CT --notrack untracked, nft's
`ct zone set` tracks it in the zone (it leaves alone only a packet with an entry). So a
-j CT --zone is refused where an untracked packet can meet it: after an untracking rule in
the order the packet walks raw's chains, or in PREROUTING when raw OUTPUT untracks (lo
carries the untracked packet over).
"""

from __future__ import annotations

from ..ir import Jump, Match, Ruleset, Table, TargetExtension, builtin_chains_reaching, untracks
from .nft_recent import Untranslatable

_NAT = frozenset({"SNAT", "DNAT"})
_READS = Untranslatable(
    "after -j CT in the raw table a packet carries a template entry, which xt_conntrack and "
    "xt_connmark read as an entry (state NEW, status CONFIRMED, mark 0, no NAT bits), while "
    "nft's ct keys other than `ct state` stop the rule at it",
    "test the entry in the mangle or filter table, where conntrack has replaced the template; "
    "a --ctstate test of states alone is translated")
_RESTORES = Untranslatable(
    "after -j CT in the raw table a packet carries a template entry, whose mark (0, or what a "
    "CONNMARK of an earlier packet wrote to the template) CONNMARK --restore-mark copies to the "
    "packet, while nft's `ct mark` stops the rule at the template and keeps the packet's mark",
    "restore the mark in the mangle table, where conntrack has replaced the template")
_ZONE = Untranslatable(
    "-j CT after NOTRACK or -j CT --notrack of the same hook (or of raw OUTPUT, for a packet "
    "looped back through lo): xt_CT leaves an untracked packet alone, nft's `ct zone set` "
    "tracks it in the zone",
    "put the -j CT before the untracking rule (a packet keeps the first of the two in both), "
    "or write the nft rules by hand where their matches are disjoint")


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


def _restores_mark(target: object) -> bool:
    return isinstance(target, TargetExtension) and target.name == "CONNMARK" and \
        getattr(target.option("mode"), "value", None) == "restore-mark"


def _hooks_of(table: Table, reach, has) -> frozenset[str]:
    """The built-in chains whose packets can meet a rule whose target `has` says yes to."""
    return frozenset().union(*(reach.get(c.name, frozenset()) for c in table.chains
                               if any(has(r.target) for r in c.rules)))


def _meet_untracked(table: Table) -> set[int]:
    """ids of the -j CT rules (not --notrack) a packet can meet after it was untracked."""
    chains = {c.name: c for c in table.chains}
    found: set[int] = set()
    walked: dict[tuple[str, bool], bool] = {}

    def walk(name: str, start: bool) -> bool:
        """Whether a packet may leave the chain `name` untracked (iptables forbids loops)."""
        if (name, start) not in walked:
            untracked = start
            gone = False  # untracked in a chain gone to (-g), which returns to our caller
            for rule in chains[name].rules:
                if untracked and _attaches_template(rule.target):
                    found.add(id(rule))
                if untracks(rule.target):
                    untracked = True
                elif isinstance(rule.target, Jump) and rule.target.chain in chains:
                    after = walk(rule.target.chain, untracked)
                    if rule.target.goto:
                        gone = gone or after
                    else:
                        untracked = after
            walked[name, start] = untracked or gone
        return walked[name, start]

    looped = "OUTPUT" in chains and walk("OUTPUT", False)
    for chain in table.chains:
        if chain.builtin:
            walk(chain.name, looped and chain.name == "PREROUTING")
    return found


def template_problems(ruleset: Ruleset) -> dict[int, Untranslatable]:
    """id of a raw rule that reads a -j CT template, or a -j CT that can meet an untracked
    packet → why refused."""
    problems: dict[int, Untranslatable] = {}
    for table in ruleset.tables:
        if table.name != "raw":
            continue
        reach = builtin_chains_reaching(table)
        # a template lives until conntrack, right after raw, so only that hook's raw rules
        # meet it
        templates = _hooks_of(table, reach, _attaches_template)
        late = _meet_untracked(table)
        for chain in table.chains:
            hooks = reach.get(chain.name, frozenset())
            for rule in chain.rules:
                if id(rule) in late:
                    problems[id(rule)] = _ZONE
                elif hooks & templates and any(map(_reads_entry, rule.matches)):
                    problems[id(rule)] = _READS
                elif hooks & templates and _restores_mark(rule.target):
                    problems[id(rule)] = _RESTORES
    return problems
