"""A packet without a conntrack entry (INVALID, UNTRACKED): xt_conntrack reads its state and
lets it through the match's other options, nft's ct keys other than `ct state` stop the rule
at it. Both directions of the translation ask whether a rule's earlier state tests have
already stopped such a packet, as then the two agree."""

from __future__ import annotations

from collections.abc import Iterable

from ..ir import Jump, Match, Option

NO_ENTRY = frozenset({"INVALID", "UNTRACKED"})
ENTRY_STATES = frozenset({"NEW", "ESTABLISHED", "RELATED"})
# --ctstate's names for the entry's status bits IPS_SRC_NAT/IPS_DST_NAT (nft: ct status)
NAT_STATES = frozenset({"SNAT", "DNAT"})


def without_idle_nat(states: frozenset[str]) -> frozenset[str]:
    """A --ctstate's states without SNAT/DNAT where those cannot change its answer, `!` or
    not: xt_conntrack's state bit of a packet with an entry is that of its ctinfo, always NEW,
    ESTABLISHED or RELATED, so with all three in the test the state bit alone decides; a
    packet without an entry has no NAT bits."""
    return states - NAT_STATES if ENTRY_STATES <= states else states


def state_test(match: Match) -> Option | None:
    """The states a match tests: -m state --state, -m conntrack --ctstate; None for others."""
    if match.module == "conntrack":
        return match.option("ctstate")
    return match.option("state") if match.module == "state" else None


def entry_tested(matches: Iterable[Match]) -> bool:
    """A state test among these (-m state, -m conntrack --ctstate) passes only packets with
    a conntrack entry."""
    for match in matches:
        opt = state_test(match)
        if opt is not None and (opt.value <= ENTRY_STATES if not opt.negated
                                else NO_ENTRY <= opt.value):
            return True
    return False


def moves_state(table: str, target) -> bool:
    """Can this target give the packet another conntrack state for the rules after it? Only
    in raw, before conntrack: -j CT attaches a template (read as NEW), -j NOTRACK makes it
    UNTRACKED, and a chain jumped to may do either (a goto never comes back)."""
    if table != "raw" or target is None:
        return False
    if isinstance(target, Jump):
        return not target.goto
    return getattr(target, "name", None) in ("CT", "NOTRACK")


def lets_entryless_through(options: Iterable[Option]) -> bool:
    """One -m conntrack with these options and a --ctstate a packet without an entry passes:
    xt_conntrack returns true there without reading the other options, where each nft ct key
    of theirs stops the rule. The reader keeps them in a match of their own (which fails
    such a packet, as nft does)."""
    options = tuple(options)
    state = next((o for o in options if o.name == "ctstate"), None)
    return state is not None and len(options) > 1 and \
        any((s in state.value) != state.negated for s in NO_ENTRY)
