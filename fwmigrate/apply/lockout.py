"""The lockout guard: will the SSH session this command runs in survive the new ruleset?

The session (from SSH_CONNECTION, or --keep CLIENT:PORT) is walked through the new ruleset
as an established connection, both ways: the client's packets in to the server's port, the
server's replies out. Anything that would drop or reject either is named and the apply is
refused. A *new* connection from the same client to the same port is walked too: if it would
be refused (port knocking, say), the user is warned that a reconnect would fail.

"Established" holds only if conntrack knows the session: the kernel tracks connections once a
rule uses conntrack, so a session opened before that is picked up by its next packet as a new
connection. The guard reads the conntrack table and walks such a session that way.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..ir import Ruleset
from ..verify.evaluate import evaluate
from ..verify.ipsets import known_sets
from ..verify.packet import Packet
from .lockout_outcomes import nat_rules, problems
from .lockout_reconnect import reconnect

_ESTABLISHED = frozenset({"SEEN_REPLY", "ASSURED", "CONFIRMED"})


class GuardError(Exception):
    pass


@dataclass(frozen=True)
class Session:
    client: ipaddress.IPv4Address | ipaddress.IPv6Address
    client_port: int | None
    server: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    server_port: int
    iface: str | None
    origin: str                     # "SSH_CONNECTION" or "--keep"

    def __str__(self) -> str:
        cport = f":{self.client_port}" if self.client_port else ""
        server = f"{self.server}:" if self.server else "port "
        dev = f" on {self.iface}" if self.iface else ""
        return f"{self.client}{cport} → {server}{self.server_port}{dev} ({self.origin})"


@dataclass
class GuardReport:
    session: Session
    cut: list[str] = field(default_factory=list)        # why the session would die
    reconnect: list[str] = field(default_factory=list)  # why a new connection would fail


def session_from_env(ssh_connection: str | None) -> Session | None:
    """SSH_CONNECTION is `client_ip client_port server_ip server_port`."""
    if not ssh_connection:
        return None
    try:
        client, cport, server, sport = ssh_connection.split()
        return Session(_address(client), _port(cport), _address(server), _port(sport), None,
                       "SSH_CONNECTION")
    except ValueError:
        raise GuardError(f"cannot read SSH_CONNECTION={ssh_connection!r}; give the session "
                         "with --keep CLIENT:PORT instead") from None


def session_from_keep(text: str) -> Session:
    """--keep CLIENT:PORT (IPv6: [CLIENT]:PORT): the client's address and the server's port."""
    try:
        if text.startswith("["):
            addr, sep, port = text[1:].partition("]:")
        else:
            addr, sep, port = text.rpartition(":")
            if ":" in addr:             # 2001:db8::7:22 is an address, or one and a port
                raise ValueError("an IPv6 client goes in brackets")
        if not sep:
            raise ValueError("no port")
        return Session(_address(addr), None, None, _port(port), None, "--keep")
    except ValueError:
        raise GuardError(f"--keep {text!r}: expected CLIENT:PORT, e.g. 192.0.2.7:22 or "
                         "[2001:db8::7]:22") from None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address; an IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is IPv4 on
    the wire, so its packets meet iptables' rules, not ip6tables'."""
    addr = ipaddress.ip_address(text)
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped if mapped is not None else addr


def _port(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or not 0 < int(text) < 65536:
        raise ValueError(f"not a port: {text!r}")
    return int(text)


def is_local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool | None:
    """Is the address on an interface of this (the current) namespace? None: cannot tell."""
    try:
        out = subprocess.run(["ip", "-j", "address", "show"], capture_output=True, text=True,
                             check=True).stdout
        links = json.loads(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None
    bare = ipaddress.ip_address(str(address).split("%")[0])     # fe80::1%eth0: no scope
    for link in links:
        for info in link.get("addr_info", []):
            try:
                if ipaddress.ip_address(info.get("local", "")) == bare:
                    return True
            except ValueError:
                continue
    return False


def locate(session: Session) -> Session:
    """Fill in the server address and interface from the routing table (`ip route get`)."""
    if session.server is not None and session.iface is not None:
        return session
    try:
        out = subprocess.run(["ip", "-j", "route", "get", str(session.client)],
                             capture_output=True, text=True, check=True).stdout
        route = json.loads(out)[0]
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return session
    server = session.server or (ipaddress.ip_address(route["prefsrc"])
                                if "prefsrc" in route else None)
    return Session(session.client, session.client_port, server, session.server_port,
                   session.iface or route.get("dev"), session.origin)


def tracked(session: Session) -> bool | None:
    """Does conntrack (of the current namespace) know the session? Only rules that use it make
    the kernel track connections, so a session opened before any did is not known, and its
    next packet is taken as a new connection. None: cannot tell."""
    table = Path("/proc/net/nf_conntrack")
    if not table.exists():
        # no conntrack module: nothing is tracked; loaded without the /proc view: unknown
        return None if Path("/proc/sys/net/netfilter/nf_conntrack_max").exists() else False
    try:
        lines = table.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 3 or fields[2] != "tcp":
            continue
        tup: dict[str, str] = {}
        for f in fields:                # the first src/dst/sport/dport: the original way
            key, sep, value = f.partition("=")
            if sep and key in ("src", "dst", "sport", "dport") and key not in tup:
                tup[key] = value
        try:
            if (ipaddress.ip_address(tup["src"]) == session.client
                    and int(tup["dport"]) == session.server_port
                    and (session.server is None
                         or ipaddress.ip_address(tup["dst"]) == session.server)
                    and session.client_port in (None, int(tup["sport"]))):
                return True
        except (KeyError, ValueError):
            continue
    return False


def pickup_state() -> str:
    """The state conntrack gives a mid-connection packet it does not know: new (it picks the
    connection up, nf_conntrack_tcp_loose=1, the default), or invalid."""
    try:
        loose = Path("/proc/sys/net/netfilter/nf_conntrack_tcp_loose").read_text().strip()
    except OSError:
        return "new"
    return "invalid" if loose == "0" else "new"


def _always_untracked(outcomes: list) -> bool:
    """Every way in leaves the packet untracked, and the next packet of the session would go
    the same way: no way rests on an assumption (a limit) or on the recent lists, which a
    packet changes for the next."""
    return all(o.packet.ct_state == "untracked" and not o.assumptions
               and not any(s.rule is not None and s.rule.match("recent") is not None
                           for s in o.trace) for o in outcomes)


def check(ruleset: Ruleset, session: Session, untracked_as: str | None = None,
          pickup: str = "new") -> GuardReport:
    """untracked_as: conntrack does not know the session (see tracked()), so its next packet
    in has this state (pickup_state()); the replies are established once it is let in.
    pickup: the state conntrack gives a packet of a connection it does not know
    (pickup_state()), for a reconnect's handshake."""
    family = "ip" if session.client.version == 4 else "ip6"
    inbound = Packet(family=family, iif=session.iface, saddr=session.client,
                     daddr=session.server, proto=6, sport=session.client_port,
                     dport=session.server_port, tcp_flags=frozenset({"ACK"}),
                     ct_state="established", ct_status=_ESTABLISHED, ct_direction="ORIGINAL",
                     ct_orig_saddr=session.client, ct_orig_daddr=session.server,
                     ct_orig_sport=session.client_port, ct_orig_dport=session.server_port,
                     # the ipsets hold what --ipsets gave them, as the recent lists start empty
                     ipsets=known_sets(ruleset, family, as_loaded=True))
    reply = inbound.with_(iif=None, oif=session.iface, saddr=session.server,
                          daddr=session.client, sport=session.server_port,
                          dport=session.client_port, ct_direction="REPLY")
    report = GuardReport(session)
    first_in, what_in = inbound, "your session's packets to the server"
    if untracked_as is not None:
        first_in = inbound.with_(ct_state=untracked_as, ct_status=frozenset())
        what_in += (" (conntrack does not track your session yet: no rule needed it when the "
                    f"session opened, so the kernel takes its next packet as ct state "
                    f"{untracked_as})")
    walks = [(what_in, first_in, ("prerouting", "input"))]
    if untracked_as == "new":
        # picked up by that packet, the session is ESTABLISHED from the next one on
        walks.append(("your session's packets to the server once conntrack has picked it up "
                      "(ct state established)", inbound, ("prerouting", "input")))
    walks.append(("the server's replies to your session", reply, ("output", "postrouting")))
    picked_up = [first_in] if untracked_as == "new" else []
    for what, packet, hooks in walks:
        outcomes = evaluate(ruleset, packet, hooks)
        for problem in problems(outcomes):
            report.cut.append(f"{what} would be stopped: {problem}")
        if packet in picked_up:
            # picked up as a new connection, the session meets the nat chains like a first
            # packet does: a rewrite sends its packets to another address or port, or makes
            # them come from another source, and the connection the server knows is lost
            report.cut += [f"{what} would be rewritten: {r}" for r in nat_rules(outcomes)]
        if packet is first_in and untracked_as in ("new", None) and any(
                o.packet.ct_state == "untracked" for o in outcomes):
            if untracked_as == "new":
                # left untracked on its way in, the session gives conntrack nothing to find:
                # the server's next reply is picked up as a new connection of its own, which
                # sees no reply and so stays NEW; when every way in is untracked, neither side
                # is ever ESTABLISHED
                if _always_untracked(outcomes):
                    walks[:] = [w for w in walks if w[1] not in (inbound, reply)]
                back = reply.with_(ct_state="new", ct_status=frozenset(),
                                   ct_direction="ORIGINAL", ct_orig_saddr=reply.saddr,
                                   ct_orig_daddr=reply.daddr, ct_orig_sport=reply.sport,
                                   ct_orig_dport=reply.dport)
                picked_up.append(back)
                why = "conntrack takes a reply as a new connection"
            else:
                # the entry misses the client's side of the window: the server's replies
                # fail conntrack's window check
                back = reply.with_(ct_state="invalid", ct_status=frozenset())
                why = "conntrack's window check finds the server's replies INVALID"
            walks.append((f"the server's replies to your session (your packets in are left "
                          f"untracked, so {why})", back, ("output", "postrouting")))
        if packet is reply and untracked_as is None and any(
                o.packet.ct_state == "untracked" for o in outcomes):
            # the other way round: the entry misses the server's side of the window, and
            # the client's packets fail the window check
            walks.append(("your session's packets to the server (the server's replies are "
                          "left untracked, so conntrack's window check finds them INVALID)",
                          inbound.with_(ct_state="invalid", ct_status=frozenset()),
                          ("prerouting", "input")))
    report.reconnect = reconnect(ruleset, session, inbound, reply, pickup)
    return report
