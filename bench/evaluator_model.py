"""What fwmigrate's packet evaluator (fwmigrate/verify/evaluate.py) says one probe of
tests/differential.py's network meets, as the set of outcomes the probe's agent may report
(bench/evaluator_fuzz.py compares that set with the kernel's outcome).

A probe is an exchange of packets, each walked through the hooks of its path with the
conntrack state the kernel gives it: a TCP connect is SYN (NEW), SYN/ACK (ESTABLISHED, the
other way), ACK, the server's line; a closed port answers with a RST (ESTABLISHED) or an
ICMP port unreachable (RELATED); a REJECT's answer (a RST or an ICMP error, RELATED) is
walked back from the firewall to the sender. The recent lists go from packet to packet as
the evaluator changed them. How a sender's socket reports an ICMP error (refused,
unreachable, EACCES, or nothing for a UDP socket and a soft error) is the kernel's mapping
(icmp_err_convert, icmpv6_err_convert), written out in ERRORS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from differential import ADDRESSES, TCP_PORTS, UDP_PORTS, Probe
from evaluator_nat import SOURCE_NAT, nat_compares, nat_step, owner_of

from fwmigrate.ir import Ruleset, TargetExtension
from fwmigrate.verify.evaluate import Outcome, evaluate
from fwmigrate.verify.packet import Packet

IFACE = {"lan": "eth1", "wan": "eth0"}
# the firewall's address on each side: the source of ICMP errors for forwarded packets
FW_ON = {("ip", "lan"): "192.168.10.1", ("ip", "wan"): "203.0.113.1",
         ("ip6", "lan"): "fd00:10::1", ("ip6", "wan"): "fd00:113::1"}
# a secondary address of the firewall and the primary one of its subnet: an ICMP error about
# the firewall's own packet is routed back to the sender's address, and the local route of a
# secondary address names the primary as its source (seed 1300025)
PRIMARY = {"203.0.113.10": "203.0.113.1"}
NAT_TARGETS = {"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"}
# an ephemeral source port (the agent binds port 0): one the generator's port tests treat
# like any in 32768-60999
EPHEMERAL = 45000
# --reject-with → (family, ICMP code); tcp-reset separately
REJECT_CODES = {"icmp-net-unreachable": 0, "icmp-host-unreachable": 1,
                "icmp-proto-unreachable": 2, "icmp-port-unreachable": 3,
                "icmp-net-prohibited": 9, "icmp-host-prohibited": 10,
                "icmp-admin-prohibited": 13, "icmp6-no-route": 0, "icmp6-adm-prohibited": 1,
                "icmp6-addr-unreachable": 3, "icmp6-port-unreachable": 4}
# (family, code) → (errno word, fatal): fatal errors reach a connected UDP socket, every one
# reaches a connecting IPv4 TCP socket (measured with each --reject-with at INPUT and FORWARD)
ERRORS = {("ip", 0): ("unreachable", False), ("ip", 1): ("unreachable", False),
          ("ip", 2): ("error 92", True), ("ip", 3): ("refused", True),
          ("ip", 9): ("unreachable", True), ("ip", 10): ("unreachable", True),
          ("ip", 13): ("unreachable", True), ("ip6", 0): ("unreachable", False),
          ("ip6", 1): ("error 13", True), ("ip6", 3): ("unreachable", False),
          ("ip6", 4): ("refused", True)}
FLIP = {"ORIGINAL": "REPLY", "REPLY": "ORIGINAL"}
SILENT = {"tcp": "timeout", "udp": "silent", "ping": "silent", "knock": "sent"}


def owner(addr: str) -> str:
    return next(role for role, addrs in ADDRESSES.items() if addr in addrs)


def stages(origin: str, to: str) -> list[tuple[tuple[str, ...], str, str]]:
    """(hooks, in interface, out interface) for each part of a path; fw to fw crosses lo."""
    if origin == "fw" and to == "fw":
        return [(("output", "postrouting"), "", "lo"), (("prerouting", "input"), "lo", "")]
    if origin == "fw":
        return [(("output", "postrouting"), "", IFACE[to])]
    if to == "fw":
        return [(("prerouting", "input"), IFACE[origin], "")]
    return [(("prerouting", "forward", "postrouting"), IFACE[origin], IFACE[to])]


@dataclass(frozen=True)
class Flow:
    """The connection a probe's first packet belongs to, as fw's conntrack table has it."""
    state: str                   # new or established
    direction: str               # ORIGINAL or REPLY
    orig: tuple                  # (src, dst, sport, dport) of the original direction
    known: bool = False          # conntrack has an entry (status bits then not modelled)


@dataclass
class Prediction:
    outcomes: set[str] = field(default_factory=set)
    lists: set[frozenset] = field(default_factory=set)    # recent lists after the exchange
    nat: bool = False            # a NAT rule rewrote a packet: not compared
    snat: bool = False           # ... but only its source, in the last POSTROUTING: compared
    dnat: bool = False           # ... or a DNAT in PREROUTING the walk followed: compared
    fragile: bool = False        # IPv6 across a link whose neighbour discovery may be dropped
    # list entries the neighbour discovery of the exchange's hosts may add (IPv6)
    neighbours: frozenset = frozenset()
    why: list[str] = field(default_factory=list)


def _ip(text):
    return None if text is None else ipaddress.ip_address(text)


def _packet(fam: str, proto: int, src: str, dst: str, sport, dport, state: str | None,
            direction: str, orig: tuple, known: bool, lists: dict, **extra) -> Packet:
    status = (frozenset() if state == "new" and not known else None)
    return Packet(family=fam, saddr=_ip(src), daddr=_ip(dst), proto=proto, sport=sport,
                  dport=dport, ct_state=state, ct_status=status, ct_direction=direction,
                  ct_orig_saddr=_ip(orig[0]), ct_orig_daddr=_ip(orig[1]),
                  ct_orig_sport=orig[2], ct_orig_dport=orig[3], recent=lists, **extra)


def walk(ruleset: Ruleset, packet: Packet, path,
         tail_snat: bool = False) -> list[tuple[str, int, object, dict, bool]]:
    """(verdict, stage index, outcome, recent lists after, NAT seen) for every way.
    tail_snat: a source NAT in the last stage's POSTROUTING is not counted (the probe is
    compared: see nat_compares)."""
    out = []
    frontier = [(packet, False)]
    for k, (hooks, iif, oif) in enumerate(path):
        following = []
        last = k + 1 == len(path) and "postrouting" in hooks and "input" not in hooks
        for p, nat in frontier:
            for o in evaluate(ruleset, p.with_(iif=iif, oif=oif), hooks):
                rewrote = nat or any(
                    s.table == "nat" and s.result in ("match", "assumed match")
                    and isinstance(s.rule.target, TargetExtension)
                    and s.rule.target.name in NAT_TARGETS
                    and not (tail_snat and last and s.rule.target.name in SOURCE_NAT)
                    for s in o.trace if s.rule)
                if o.verdict == "ACCEPT" and k + 1 < len(path):
                    following.append((o.packet, rewrote))
                else:
                    out.append((o.verdict, k, o, o.packet.recent, rewrote))
        frontier = following
    return out


def _reject_with(outcome) -> str:
    rule = outcome.decided_by.rule if outcome.decided_by else None
    opt = rule.target.option("reject-with") if rule is not None and isinstance(
        rule.target, TargetExtension) else None
    return opt.value if opt is not None else "icmp-port-unreachable"


class Exchange:
    """One probe's packets, walked in order; `results` collects what the sender may see."""

    def __init__(self, ruleset: Ruleset, probe: Probe, flow: Flow, fragile: set[str]):
        self.rs, self.probe, self.flow = ruleset, probe, flow
        self.fam = "ip6" if ":" in probe.dst else "ip"
        self.origin, self.to = probe.origin, owner(probe.dst)
        self.pred = Prediction()
        self.fragile_links = fragile
        sides = {self.origin, self.to} - {"fw"}
        self.fragile = self.fam == "ip6" and any(IFACE[s] in fragile for s in sides)
        self.sport = probe.sport or (EPHEMERAL if probe.kind != "ping" else None)
        # where the exchange goes: the probe's destination, or where a DNAT sent it
        self.src, self.dst, self.dport = probe.src, probe.dst, probe.port or None
        # the connection's NAT, for its later packets (Packet.nat_dst): where the sender sent
        # it when a DNAT sent it elsewhere; the address and port a SNAT gave the sender
        self.dnat_from: tuple | None = None
        self.snat_as: tuple | None = None

    def packet(self, back: bool, proto: int, state: str | None, lists: dict, **extra):
        src, dst = self.src, self.dst
        sport, dport = (self.dport, self.sport) if back else (self.sport, self.dport)
        if back:
            src, dst = dst, src
        direction = FLIP[self.flow.direction] if back else self.flow.direction
        if proto not in (6, 17):
            sport = dport = None
        bound = self.snat_as if back else self.dnat_from
        if bound is not None and state not in (None, "invalid", "untracked"):
            # conntrack gives it the destination the tables after raw and mangle see
            extra["nat_dst"] = (_ip(dst), dport)
            dst, dport = bound[0], bound[1] if dport is not None else None
        return _packet(self.fam, proto, src, dst, sport, dport, state, direction,
                       self.flow.orig, self.flow.known, lists, **extra)

    def path(self, back: bool):
        return stages(self.to, self.origin) if back else stages(self.origin, self.to)

    def run(self, lists: dict) -> Prediction:
        kind, fam = self.probe.kind, self.fam
        icmp = 1 if fam == "ip" else 58
        proto = {"tcp": 6, "udp": 17, "knock": 17, "ping": icmp}[kind]
        first_state = self.flow.state
        extra = {}
        if kind == "tcp":
            extra["tcp_flags"] = frozenset({"SYN"})
        if kind == "ping":
            extra.update(icmp_type=8 if fam == "ip" else 128, icmp_code=0)
        first = self.packet(False, proto, first_state, lists, **extra)
        compares = nat_compares(self.rs, fam, self.flow.known)
        ways = self.first_walk(first, compares)
        sources = set()
        for _v, _k, o, _a, nat in ways:
            if compares and not nat and any(nat_step(s) and s.rule.target.name in SOURCE_NAT
                                             for s in o.trace):
                # MASQUERADE: the address of the interface the packet leaves by
                sources.add((str(o.packet.saddr or FW_ON[(fam, self.to)]), o.packet.sport))
        if len(sources) > 1:
            self.pred.nat = True            # the ways disagree on the connection's source
        elif sources:
            self.pred.snat = True
            self.snat_as = sources.pop()
        for verdict, stage, o, after, nat in ways:
            self.pred.nat |= nat
            if verdict == "ACCEPT":
                self.answered(after, o.packet.ct_state == "untracked")
            else:
                self.stopped_first(verdict, stage, o, after)
        # neighbour discovery may be dropped on the way: then anything goes (a datagram held
        # while a neighbour is unresolved may even arrive much later, as the answer to
        # another probe: seed 500042)
        self.pred.fragile = self.fragile
        if fam == "ip6":
            self.pred.neighbours = frozenset(self.neighbour_entries())
        return self.pred

    def neighbour_entries(self):
        """The list entries the neighbour discovery an IPv6 exchange sets off may add: the
        hosts on its way solicit and advertise (untracked, to an address of the firewall or
        a multicast one) from any of their addresses, which INPUT's rules see (seed
        2720079)."""
        for role in {self.origin, self.to} - {"fw"}:
            for addr in ADDRESSES[role]:
                if ":" not in addr:
                    continue
                for icmp_type in (135, 136):
                    packet = Packet(family="ip6", iif=IFACE[role], oif="", saddr=_ip(addr),
                                    proto=58, icmp_type=icmp_type, icmp_code=0,
                                    ct_state="untracked", ct_status=frozenset())
                    for o in evaluate(self.rs, packet, ("prerouting", "input")):
                        yield from ((n, a) for n, members in o.packet.recent.items()
                                    for a in members)

    def first_walk(self, first: Packet, compares: bool) -> list:
        """walk() of the first packet. With `compares` (nat_compares: the later packets
        are then walked as the kernel shows them to the tables), a DNAT in PREROUTING routes
        it anew by the address it gives, and the exchange goes there: the later packets of
        the connection are rewritten before every table but raw's and mangle's PREROUTING
        (empty), the replies come from there and are given their source back after every
        table. Not compared: a rewrite the evaluator cannot say (an address range,
        REDIRECT's interface address), one back to the sender's side, and outcomes that
        disagree on where it goes."""
        path = self.path(False)
        hooks, iif, oif = path[0]
        if not compares or hooks[0] != "prerouting":
            return walk(self.rs, first, path, compares)
        out, moved = [], set()
        for o in evaluate(self.rs, first.with_(iif=iif, oif=oif), ("prerouting",)):
            rewrote = any(nat_step(s) for s in o.trace)
            to = owner_of(o.packet.daddr)
            if o.verdict != "ACCEPT" or (rewrote and to in (None, self.origin)):
                out.append((o.verdict, 0, o, o.packet.recent, rewrote))
                continue
            where = (str(o.packet.daddr), o.packet.dport, to)
            moved.add(where)
            route = stages(self.origin, to)
            rest = [(route[0][0][1:], *route[0][1:])] + route[1:]
            for verdict, stage, later, after, nat in walk(self.rs, o.packet, rest, compares):
                joined = Outcome(later.verdict, later.decided_by or o.decided_by,
                                 o.trace + later.trace, o.assumptions + later.assumptions,
                                 later.packet)
                out.append((verdict, stage, joined, after, nat))
        if len(moved) > 1:
            return [(v, k, o, after, True) for v, k, o, after, _nat in out]
        if moved:
            self.pred.dnat = any(nat_step(s) for _v, _k, o, _a, _n in out for s in o.trace)
            where = moved.pop()
            if self.pred.dnat:
                self.dnat_from = (self.dst, self.dport)
            self.dst, self.dport, self.to = where
            sides = {self.origin, self.to} - {"fw"}
            self.fragile |= self.fam == "ip6" and any(IFACE[s] in self.fragile_links
                                                      for s in sides)
        return out

    def stopped_first(self, verdict, stage, o, lists) -> None:
        kind = self.probe.kind
        at_sender = self.origin == "fw" and stage == 0
        if verdict != "REJECT":
            self.finish(("timeout" if kind == "tcp" else "blocked") if at_sender
                        else SILENT[kind], lists)
            return
        how = _reject_with(o)
        fam = self.fam
        # the answer carries the rejected packet's conntrack entry, attached before the raw
        # table, where NOTRACK then leaves it alone (seed 1200127), as RELATED; a packet left
        # untracked has none, and the answer an empty one, INVALID (seen: dropped by a
        # RELATED-only OUTPUT, seed 400037; not untracked, seed 600037) unless conntrack
        # then files an ICMP error under the flow's entry an earlier packet made
        attached = {"untracked": "empty", None: None}.get(o.packet.ct_state, "entry")
        state = {"empty": "related" if self.flow.known and how != "tcp-reset" else "invalid",
                 "entry": "related", None: None}[attached]
        # the answer comes from the firewall: a RST from the address asked; an ICMP error
        # from the address asked if local, else for the firewall's own packet from its source
        # (routed to itself; PRIMARY), for a forwarded one from the firewall's address on that
        # side
        src = self.dst if how == "tcp-reset" or self.to == "fw" else \
            PRIMARY.get(self.probe.src, self.probe.src) if self.origin == "fw" else \
            FW_ON[(fam, self.origin)]
        if how == "tcp-reset":
            answer = _packet(fam, 6, src, self.probe.src, self.dport, self.sport, state,
                             FLIP[self.flow.direction], self.flow.orig, True, lists,
                             tcp_flags=frozenset({"RST", "ACK"}), ct_attached=attached)
            result = "refused"
        else:
            code = REJECT_CODES[how]
            answer = _packet(fam, 1 if fam == "ip" else 58, src, self.probe.src, None, None,
                             state, FLIP[self.flow.direction], self.flow.orig, True,
                             lists, icmp_type=3 if fam == "ip" else 1, icmp_code=code,
                             ct_attached=attached)
            word, fatal = ERRORS[(fam, code)]
            result = {"tcp": word, "ping": "unreachable", "knock": "sent"}.get(
                self.probe.kind, word if fatal else "silent")
        if at_sender and kind != "tcp":
            result = "blocked"     # send() says EPERM (a connect() meets the answer, via lo)
        home = stages("fw", self.origin)
        for v, _stage, _o, after, nat in walk(self.rs, answer, home):
            self.pred.nat |= nat
            self.finish(result if v == "ACCEPT" or result == "blocked" else SILENT[kind],
                        after)
            if how != "tcp-reset" and kind == "tcp" and fam == "ip6":
                # seen here: an IPv6 connect() times out after any ICMPv6 error
                self.finish("timeout", after)

    def answered(self, lists: dict, untracked: bool) -> None:
        """The first packet arrived: the rest of the exchange."""
        kind, fam = self.probe.kind, self.fam
        icmp = 1 if fam == "ip" else 58
        later = None if untracked else "established"
        unreach = dict(icmp_type=3 if fam == "ip" else 1, icmp_code=3 if fam == "ip" else 4)
        if kind == "tcp" and self.dport in TCP_PORTS:
            legs = [(True, 6, later, {"tcp_flags": frozenset({"SYN", "ACK"})}),
                    (False, 6, later, {"tcp_flags": frozenset({"ACK"})}),
                    (True, 6, later, {"tcp_flags": frozenset({"ACK", "PSH"})})]
            success = "open"
        elif kind == "tcp":
            legs = [(True, 6, later, {"tcp_flags": frozenset({"RST", "ACK"})})]
            success = "refused"
        elif kind == "udp" and self.dport in UDP_PORTS:
            legs, success = [(True, 17, later, {})], "answered"
        elif kind in ("udp", "knock"):
            # an ICMP error about an untracked packet is RELATED to the flow's entry if an
            # earlier packet made one (seed 600036), else INVALID (seed 400051)
            legs = [(True, icmp, "related" if not untracked or self.flow.known else "invalid",
                     unreach)]
            success = "refused" if kind == "udp" else "sent"
        else:
            legs = [(True, icmp, later, {"icmp_type": 0 if fam == "ip" else 129,
                                         "icmp_code": 0})]
            success = "reply"
        self.legs(legs, 0, lists, success)

    def legs(self, legs, k: int, lists: dict, success: str, unsure: bool = False) -> None:
        """unsure: an earlier packet was left untracked (NOTRACK), so conntrack did not see
        it and what it makes of this one (INVALID, or picked up as NEW) is not modelled."""
        if k == len(legs):
            self.finish(success, lists)
            return
        back, proto, state, extra = legs[k]
        packet = self.packet(back, proto, None if unsure else state, lists, **extra)
        for verdict, _stage, o, after, nat in walk(self.rs, packet, self.path(back)):
            self.pred.nat |= nat
            if verdict == "ACCEPT":
                self.legs(legs, k + 1, after, success,
                          unsure or o.packet.ct_state == "untracked")
            elif self.probe.kind == "knock":
                self.finish("sent", after)
            elif not back and verdict == "REJECT" and self.origin == "fw":
                # the firewall's own ACK refused in OUTPUT: the answer comes back to its
                # socket, which may report it (seen: refused, seed 800049) or not
                for word in ("timeout", "refused", "unreachable", "error 104", "error 13"):
                    self.finish(word, after)
            elif not back and verdict == "REJECT":
                # the client's ACK refused: a RST ends the connection it thinks is open
                self.finish("error 104" if _reject_with(o) == "tcp-reset" else "timeout",
                            after)
            else:
                self.finish(SILENT[self.probe.kind], after)

    def finish(self, outcome: str, lists: dict) -> None:
        self.pred.outcomes.add(outcome)
        self.pred.lists.add(frozenset((n, a) for n, members in lists.items() for a in members))


def neighbour_discovery_drops(ruleset: Ruleset) -> set[str]:
    """fw's interfaces on which the evaluator says some IPv6 neighbour solicitation or
    advertisement may be dropped (either way): IPv6 probes across them may then fail."""
    fragile = set()
    for iface in IFACE.values():
        for icmp_type in (135, 136):
            base = Packet(family="ip6", proto=58, icmp_type=icmp_type, icmp_code=0)
            ways = [(base.with_(iif=iface, oif=""), ("prerouting", "input")),
                    (base.with_(iif="", oif=iface), ("output", "postrouting"))]
            for packet, hooks in ways:
                if any(o.verdict != "ACCEPT" for o in evaluate(ruleset, packet, hooks)):
                    fragile.add(iface)
    return fragile


def predict(ruleset: Ruleset, probe: Probe, lists: dict, flow: Flow,
            fragile: set[str]) -> Prediction:
    return Exchange(ruleset, probe, flow, fragile).run(lists)
