"""A packet without a conntrack entry (INVALID, UNTRACKED): xt_conntrack reads its state and
lets it through the match's other options, nft's ct keys other than `ct state` stop the rule
at it. Both directions of the translation ask whether a rule's earlier state tests have
already stopped such a packet, as then the two agree."""

from __future__ import annotations

from collections.abc import Iterable

from ..ir import Match

NO_ENTRY = frozenset({"INVALID", "UNTRACKED"})
ENTRY_STATES = frozenset({"NEW", "ESTABLISHED", "RELATED"})


def entry_tested(matches: Iterable[Match]) -> bool:
    """A state test among these (-m state, -m conntrack --ctstate) passes only packets with
    a conntrack entry."""
    for match in matches:
        if match.module not in ("conntrack", "state"):
            continue
        opt = match.option("ctstate" if match.module == "conntrack" else "state")
        if opt is not None and (opt.value <= ENTRY_STATES if not opt.negated
                                else NO_ENTRY <= opt.value):
            return True
    return False
