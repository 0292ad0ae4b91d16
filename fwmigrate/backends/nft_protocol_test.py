"""When a rule's `-p` test can be left to a later match: nft's `tcp dport 22` tests the
protocol itself, so `meta l4proto tcp` before it would be said twice. Not where a side effect
(recent, limit …) runs before that match, nor where the later test does not imply the
protocol for nft."""

from __future__ import annotations

from ..ir import Match, Rule
from .nft_recent import SIDE_EFFECT_MODULES

# matches whose nft form tests the protocol themselves (`tcp dport 22` implies tcp)
# (mh: nft's `mh type` finds the mobility header as ip6_tables' -p mh does, past any AH, where
# `meta l4proto` stops at AH)
_IMPLYING = frozenset({"tcp", "udp", "udplite", "icmp", "icmp6", "multiport", "sctp", "dccp",
                       "esp", "ah", "tcpmss", "mh", "ipcomp"})


def protocol_implied(rule: Rule) -> bool:
    """Does a later match test the protocol before anything with a side effect runs?"""
    if rule.protocol.negated:
        return False
    for match in rule.matches:
        if match.module in SIDE_EFFECT_MODULES:
            return False
        if match.module in _IMPLYING and not _chunks_only(match) and \
                not (_maps_ports(rule) and _tcp_options_only(match)):
            return True
    return False


# targets that may map ports: nft wants a transport protocol test before one (`tcp dport`,
# `ip protocol tcp`; `tcp option maxseg` is none) and refuses the rule without it
_PORT_MAPPING_TARGETS = frozenset({"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "TPROXY"})


def _maps_ports(rule: Rule) -> bool:
    return getattr(rule.target, "name", None) in _PORT_MAPPING_TARGETS


def _tcp_options_only(match: Match) -> bool:
    """A match nft writes as `tcp option …` tests alone (-m tcpmss, -m tcp --tcp-option)."""
    return match.module == "tcpmss" or (
        match.module == "tcp" and bool(match.options) and
        all(o.name == "tcp-option" for o in match.options))


def _chunks_only(match: Match) -> bool:
    """`sctp chunk T missing` also holds for packets of other protocols: a sctp match testing
    only chunk types needs the protocol test before it."""
    return match.module == "sctp" and [o.name for o in match.options] == ["chunk-types"]
