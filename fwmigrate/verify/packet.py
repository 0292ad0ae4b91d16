"""A packet as the evaluator sees it: the fields rules can test, each known or unknown (None)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from ..ir import IPAddress

# conntrack states iptables knows; SNAT/DNAT are in ct_status
CT_STATES = ("new", "established", "related", "invalid", "untracked")


@dataclass(frozen=True)
class Packet:
    family: str = "ip"
    iif: str | None = None
    oif: str | None = None
    saddr: IPAddress | None = None
    daddr: IPAddress | None = None
    proto: int | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    tcp_flags: frozenset[str] | None = None      # upper-case names: SYN, ACK …
    ct_state: str | None = None                   # one of CT_STATES
    ct_status: frozenset[str] | None = None       # EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED,
                                                  # SNAT, DNAT
    ct_direction: str | None = None               # ORIGINAL / REPLY
    # the connection's original-direction tuple (defaults: this packet, if ORIGINAL)
    ct_orig_saddr: IPAddress | None = None
    ct_orig_daddr: IPAddress | None = None
    ct_orig_sport: int | None = None
    ct_orig_dport: int | None = None
    fragment: bool = False
    # in the raw table, which runs before conntrack: the packet has no entry yet
    ct_missing: bool = False
    # a conntrack entry the packet carries from before the raw table: "entry" for an answer
    # this host made (an ICMP error or a REJECT's reset) to a tracked packet, which is given
    # that packet's entry, RELATED the other way (nf_ct_attach); "empty" for one to an
    # untracked packet, whose entry is empty (INVALID). NOTRACK leaves such a packet alone.
    ct_attached: str | None = None
    # a later packet of a connection NAT bound, whose destination conntrack rewrites where
    # nat PREROUTING or OUTPUT is (after raw and mangle, before filter): (address, port) —
    # the DNATed address of an original-direction packet, the SNATed sender of a reply
    nat_dst: tuple | None = None
    # the addresses in each recent list (as the list stores them); missing: empty
    recent: dict[str, frozenset] = field(default_factory=dict)
    # ipset name → IpSet, for the sets whose members are known (verify/ipsets.py known_sets);
    # a lookup in any other set is an unknown
    ipsets: dict = field(default_factory=dict)
    # answers already assumed for tests on unknown fields, so that one walk stays consistent
    # (a packet cannot both match `-i eth1` in one rule and not in the next)
    assumed: frozenset = frozenset()

    def with_(self, **changes) -> Packet:
        return replace(self, **changes)


def address(text: str | None) -> IPAddress | None:
    return None if text is None else ipaddress.ip_address(text)
