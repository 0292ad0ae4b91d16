"""The conntrack status bit a NAT rule leaves on a connection's first packet.

nf_nat_setup_info sets IPS_DST_NAT (xt_conntrack's DNAT state) when the destination rewrite
changes the connection's tuple, IPS_SRC_NAT (SNAT) when the source one does; a rewrite to what
the packet already has sets nothing. The tables after nat on the same hook (filter and security
after nat PREROUTING or OUTPUT) see the bit on that first packet already: the published-port
pattern `-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT` lets it in. The rewrite itself is
in nat_rewrite.py.
"""

from __future__ import annotations

import ipaddress

from ..ir import TargetExtension
from .packet import Packet

NAT_TARGETS = frozenset({"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"})
# the hooks whose nat chains bind the destination; the others (postrouting, input) the source
DESTINATION_HOOKS = ("prerouting", "output")
# the options that let the kernel choose the port (and address) at random
RANDOM_OPTIONS = ("random", "random-fully")
# where REDIRECT sends a packet in nat OUTPUT
LOOPBACK = {"ip": ipaddress.ip_address("127.0.0.1"), "ip6": ipaddress.ip_address("::1")}


def after_nat(target: TargetExtension, hook: str, packet: Packet) -> Packet:
    """The packet once `target` (a NAT target in the nat table of `hook`) bound its connection:
    the bit added when the rewrite surely changes the tuple, the status unknown (None) when it
    may or may not (an address the evaluator does not know, a choice in a range)."""
    if packet.ct_status is None:
        return packet
    destination = hook in DESTINATION_HOOKS
    bit = "DNAT" if destination else "SNAT"
    changes = _changes(target, destination, packet)
    if changes is False:
        return packet
    if changes is None:
        return packet.with_(ct_status=None)
    return packet.with_(ct_status=packet.ct_status | {bit})


def _changes(target: TargetExtension, destination: bool, packet: Packet) -> bool | None:
    values = {"addr": packet.daddr if destination else packet.saddr,
              "port": packet.dport if destination else packet.sport}
    for tests, answer in decisions(target, destination):
        holds = True
        for kind, first, last, inside in tests:
            value = values[kind]
            if value is None:
                return None
            if (first <= int(value) <= last) != inside:
                holds = False
                break
        if holds:
            return answer
    return None


# a test of a decision: ("addr" or "port", first, last, whether the value is inside)
Decision = tuple[tuple[tuple[str, int, int, bool], ...], "bool | None"]


def decisions(target: TargetExtension, destination: bool) -> list[Decision]:
    """Whether the rewrite changes the tuple, as a list of (tests, answer) of which the first
    whose tests all hold decides: True it surely changes, False it surely stays, None either.
    The evaluator asks it of one packet, the equivalence checker of a cube (one list, so the
    two agree)."""
    options = {o.name: o.value for o in target.options}
    if any(name in options for name in RANDOM_OPTIONS):
        return [((), None)]
    if target.name == "NETMAP":
        net = options["to"]
        full = (1 << net.addr.max_prefixlen) - 1
        first = int(net.addr) & int(net.mask)
        return [((("addr", first, first | (full ^ int(net.mask)), False),), True), ((), False)]
    if target.name in ("DNAT", "SNAT"):
        value = options.get("to-destination" if destination else "to-source")
        if value is None:
            return [((), None)]
        low, high, ports = value
        out: list[Decision] = []
        if low is not None:
            out.append(((("addr", int(low), int(high), False),), True))
            if low != high:
                # the kernel picks one address of the range by a hash
                return out + [((), None)]
        if ports is not None:
            out.append(((("port", ports.first, ports.last, False),), True))
        return out + [((), False)]
    # REDIRECT (to this host's address on the interface, or loopback in OUTPUT) and
    # MASQUERADE (to the output interface's address): the address is not known here
    ports = options.get("to-ports")
    if ports is not None:
        return [((("port", ports.first, ports.last, False),), True), ((), None)]
    return [((), None)]
