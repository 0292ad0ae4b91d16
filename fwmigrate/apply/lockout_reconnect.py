"""The lockout guard's reconnect check: would a new connection from the session's client to
its port open under the new ruleset? Its handshake is walked packet by packet, each in the
state conntrack gives it after the ones before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Ruleset
from ..verify.evaluate import Outcome, evaluate
from ..verify.packet import Packet
from .lockout_outcomes import nat_steps, problems

if TYPE_CHECKING:
    from .lockout import Session

# the SYN/ACK's entry has seen the reply, not yet the handshake's last ACK: not ASSURED
_SYN_ACK_STATUS = frozenset({"SEEN_REPLY", "CONFIRMED"})
# what a NAT rule does to a leg: "warn" (the connection's first packet: the reconnect goes
# elsewhere, which the evaluator does not follow), "cut" (the server's packet of a connection
# the client opened: the client never sees it), None (not the first: nat does not see it)
Leg = tuple[str, list[Outcome], str | None]


def reconnect(ruleset: Ruleset, session: Session, inbound: Packet, reply: Packet,
              pickup: str) -> list[str]:
    """Why a new connection would fail (inbound, reply: the session's packets, established;
    pickup: the state conntrack gives a packet of a connection it does not know). Without a
    failure, the NAT rules that would send the reconnect elsewhere are named (the handshake
    of a rewritten one is not followed)."""
    new = inbound.with_(tcp_flags=frozenset({"SYN"}), ct_state="new", ct_status=frozenset())
    syn_outcomes = evaluate(ruleset, new, ("prerouting", "input"))
    legs: list[Leg] = [("", syn_outcomes, "warn")]
    for syn in syn_outcomes:
        if syn.verdict == "ACCEPT" and not any(nat_steps([syn])):
            legs += _handshake(ruleset, syn.packet, inbound, reply, pickup)
    failed = [(what, "stopped", p + _after_nat(o)) for what, outcomes, _ in legs
              for o in outcomes for p in problems([o])]
    failed += [(what, "sent elsewhere", named) for what, outcomes, nat in legs
               if nat == "cut" for _, _, named in nat_steps(outcomes)]
    if not failed:
        return list(dict.fromkeys(r for _, outcomes, nat in legs if nat == "warn"
                                  for r in _rewritten(outcomes, session)))
    knocking = any(s.rule is not None and s.rule.match("recent") is not None
                   for _, outcomes, _ in legs for o in outcomes for s in o.trace)
    hint = (" — it passes only after port knocking (the recent lists start empty), so "
            "knock before you reconnect" if knocking else "")
    start = f"a new connection from {session.client} to port {session.server_port} would"
    return list(dict.fromkeys(
        f"{start} be refused{hint}: {why}" if not what
        else f"{start} fail{hint}: {what} would be {how}: {why}" for what, how, why in failed))


def _handshake(ruleset: Ruleset, syn: Packet, inbound: Packet, reply: Packet,
               pickup: str) -> list[Leg]:
    """The server's SYN/ACK out and the client's ACK in, after a SYN that passed as `syn`. A
    packet a raw rule untracked is one conntrack did not see: a SYN/ACK with no entry is
    INVALID (it opens none), and the ACK after it is picked up (`pickup`); the ACK after an
    untracked SYN/ACK finds the entry still waiting for one: INVALID. With no entry even
    after the ACK, the server's first data is picked up as a connection of its own."""
    syn_seen = syn.ct_state != "untracked"
    synack = reply.with_(tcp_flags=frozenset({"SYN", "ACK"}), recent=syn.recent,
                         ct_state="established" if syn_seen else "invalid",
                         ct_status=_SYN_ACK_STATUS if syn_seen else frozenset())
    legs: list[Leg] = []
    for out in evaluate(ruleset, synack, ("output", "postrouting")):
        what = "the server's SYN/ACK" + ("" if syn_seen else " (ct state invalid: the SYN is "
                                         "left untracked, and a SYN/ACK opens no entry)")
        legs.append((what, [out], None))
        if out.verdict != "ACCEPT":
            continue
        if not syn_seen:
            state, why = pickup, (": the SYN is left untracked, so conntrack takes the ACK as "
                                  "a packet of a connection it does not know")
        elif out.packet.ct_state == "untracked":
            state, why = "invalid", ": the SYN/ACK is left untracked, so the entry still waits"
        else:
            state, why = "established", ""
        ack = inbound.with_(recent=out.packet.recent, ct_state=state, ct_status=(
            inbound.ct_status if state == "established" else frozenset()))
        acks = evaluate(ruleset, ack, ("prerouting", "input"))
        legs.append((f"the client's ACK after it (ct state {state}{why})", acks,
                     "warn" if state == "new" else None))
        if syn_seen:
            continue
        for a in acks:
            if a.verdict == "ACCEPT" and a.packet.ct_state in ("untracked", "invalid"):
                legs.append(_first_data(ruleset, reply, a.packet, pickup))
    return legs


def _first_data(ruleset: Ruleset, reply: Packet, ack: Packet, pickup: str) -> Leg:
    """Neither SYN nor ACK left conntrack an entry: the server's first data (sshd speaks
    first) is picked up as a connection of the server's, which the nat chains see."""
    data = reply.with_(recent=ack.recent, tcp_flags=frozenset({"ACK", "PSH"}), ct_state=pickup,
                       ct_status=frozenset(), ct_direction="ORIGINAL",
                       ct_orig_saddr=reply.saddr, ct_orig_daddr=reply.daddr,
                       ct_orig_sport=reply.sport, ct_orig_dport=reply.dport)
    return (f"the server's first data (ct state {pickup}: neither the SYN nor the ACK left "
            "conntrack an entry, so it takes this packet as a connection of the server's)",
            evaluate(ruleset, data, ("output", "postrouting")), "cut")


def _after_nat(outcome: Outcome) -> str:
    """The NAT rules that rewrote the packet before it was stopped (the tables after nat
    test the rewritten packet: a REDIRECT to a port INPUT does not let in refuses it)."""
    named = [n for _o, _s, n in nat_steps([outcome])]
    return f" (after {'; '.join(named)})" if named else ""


def _rewritten(outcomes: list[Outcome], session: Session) -> list[str]:
    """NAT rules see only a connection's first packet: they leave the session alone, but send
    a reconnect elsewhere, which the evaluator does not follow (it walks the packet as it
    came). Name the rule, so the user can check sshd is reachable where it leads."""
    return list(dict.fromkeys(
        f"a new connection from {session.client} to port {session.server_port} would be "
        f"rewritten by {named} — your session is not (NAT sees only a connection's first "
        f"packet), but a reconnect goes where {step.rule.target.name} sends it, which the "
        "guard does not follow: check sshd is reachable there"
        for _o, step, named in nat_steps(outcomes)))
