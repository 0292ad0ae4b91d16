"""The packet the tables after a NAT rule see: a connection's first packet, rewritten.

nf_nat rewrites the packet where the nat chain binds it (nat PREROUTING and OUTPUT: the
destination; POSTROUTING and INPUT: the source), so filter FORWARD after a DNAT sees the new
address and port — the published-port pattern `-A FORWARD -d 192.168.10.20 -p tcp --dport 80
-j ACCEPT` after `DNAT --to-destination 192.168.10.20:80` lets the first packet in. conntrack
keeps the original tuple (--ctorigdst still tests the address it came with). Where the kernel
chooses (an address range, MASQUERADE's and REDIRECT's interface address, a port outside the
range given or with --random), the field becomes unknown (None): later tests of it give both
answers. The other packets of the connection are rewritten by conntrack without passing nat:
a caller handing the evaluator such a packet gives its fields as the tables see them.
"""

from __future__ import annotations

from ..ir import TargetExtension
from .nat_status import DESTINATION_HOOKS, LOOPBACK, RANDOM_OPTIONS
from .packet import Packet


def rewritten(target: TargetExtension, hook: str, packet: Packet) -> Packet:
    """`packet` after `target` (a NAT target in the nat table of `hook`) rewrote it."""
    destination = hook in DESTINATION_HOOKS
    addr = packet.daddr if destination else packet.saddr
    port = packet.dport if destination else packet.sport
    options = {o.name: o.value for o in target.options}
    random = any(name in options for name in RANDOM_OPTIONS)
    new_addr = None
    if target.name == "NETMAP":
        net = options["to"]
        if addr is not None:
            mask = int(net.mask)
            keep = ((1 << addr.max_prefixlen) - 1) ^ mask
            new_addr = type(addr)((int(net.addr) & mask) | (int(addr) & keep))
        new_port = port
    elif target.name in ("DNAT", "SNAT"):
        low, high, ports = options.get("to-destination" if destination else "to-source",
                                       (None, None, None))
        new_addr = addr if low is None else low if low == high else None
        new_port = _port(ports, port, random, destination)
    else:
        # REDIRECT: to this host, in OUTPUT on loopback; MASQUERADE: the output interface's
        # address
        if target.name == "REDIRECT" and hook == "output":
            new_addr = LOOPBACK.get(packet.family)
        new_port = _port(options.get("to-ports"), port, random, destination)
    changes = {"daddr" if destination else "saddr": new_addr,
               "dport" if destination else "sport": new_port}
    # the connection's original tuple is the packet as it came (if the caller left it open)
    for name in ("saddr", "daddr", "sport", "dport"):
        if getattr(packet, "ct_orig_" + name) is None and packet.ct_state == "new":
            changes["ct_orig_" + name] = getattr(packet, name)
    return packet.with_(**changes)


def _port(ports, port: int | None, random: bool, destination: bool) -> int | None:
    if port is None:
        return None
    if ports is None:
        # a destination without ports keeps its port (nf_nat_l4proto_unique_tuple); a source
        # keeps it unless --random asks for another
        return port if destination or not random else None
    if ports.first == ports.last:
        return ports.first
    if ports.first <= port <= ports.last and not random:
        return port             # the kernel keeps a port in the range while it is unique
    return None
