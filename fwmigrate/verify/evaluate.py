"""Walk one packet through an IR ruleset, as the kernel would, and say what happens and why.

Chains are followed with jumps, goto and return; tables run in hook order (raw, mangle, nat for
new connections, filter, security; nat last in INPUT); a verdict of DROP or REJECT ends the
walk, ACCEPT ends only that table. Rule matches are three-valued: a field the caller does not
know (None) makes a match "unknown", and the walk then follows both ways, so the result is
every outcome that is possible with what is known. `limit` is assumed under its limit (and
said so). `recent` reads and changes the packet's view of the lists as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .. import mappings
from ..ir import Jump, Rule, Ruleset, Table, TargetExtension, Verdict, untracks
from .ipsets import known_sets
from .matches import match_rule
from .nat_rewrite import rewritten
from .nat_status import DESTINATION_HOOKS, NAT_TARGETS, after_nat
from .packet import Packet

# iptables tables in the order their base chains run on each hook (by priority: nat binds
# the destination before filter, in PREROUTING and OUTPUT, and the source after it, in INPUT
# and POSTROUTING)
HOOK_TABLES = {
    "prerouting": ("raw", "mangle", "nat"),
    "input": ("mangle", "filter", "security", "nat"),
    "forward": ("mangle", "filter", "security"),
    "output": ("raw", "mangle", "nat", "filter", "security"),
    "postrouting": ("mangle", "nat"),
}
_CHAIN_OF_HOOK = {"prerouting": "PREROUTING", "input": "INPUT", "forward": "FORWARD",
                  "output": "OUTPUT", "postrouting": "POSTROUTING"}
MAX_OUTCOMES = 256
MAX_DEPTH = 64


@dataclass(frozen=True)
class Step:
    table: str
    chain: str
    index: int              # 1-based rule number; 0: the policy
    rule: Rule | None
    result: str             # "match", "no match", "assumed match", "assumed no match", "policy"


@dataclass
class Outcome:
    # ACCEPT, DROP, REJECT, QUEUE, or DIVERT: -j TPROXY hands the packet to a local proxy's
    # socket (or drops it without one), so it does not reach its destination
    verdict: str
    decided_by: Step | None  # the rule or policy that decided; None: no table decided
    trace: list[Step] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    packet: Packet | None = None      # the packet as it left (recent lists updated)

    def describe(self) -> str:
        step = self.decided_by
        if step is None:
            return f"{self.verdict} (no rule decided)"
        if step.index == 0:
            return f"{self.verdict} by the policy of {step.table} {step.chain}"
        where = f" ({step.rule.loc})" if step.rule and step.rule.loc else ""
        return f"{self.verdict} by rule {step.index} of {step.table} {step.chain}{where}"


# terminal targets that end the walk other than as ACCEPT (NFQUEUE as QUEUE: a userspace
# program decides); NAT targets end the nat chain like ACCEPT does
_TARGET_VERDICTS = {"REJECT": "REJECT", "TPROXY": "DIVERT", "NFQUEUE": "QUEUE"}


class _Walk:
    def __init__(self, ruleset: Ruleset, family: str):
        self.tables = {t.name: t for t in ruleset.tables if t.family == family}
        self.current = ""          # the hook being walked

    def hook(self, hook: str, packet: Packet) -> list[Outcome]:
        self.current = hook
        outcomes = [Outcome("ACCEPT", None, [], [], packet)]
        for table_name in HOOK_TABLES[hook]:
            if table_name == "nat" and hook in DESTINATION_HOOKS:
                outcomes = [_conntrack_nat(o) for o in outcomes]
            table = self.tables.get(table_name)
            if table is None:
                continue
            chain = table.chain(_CHAIN_OF_HOOK[hook])
            if chain is None:
                continue
            next_outcomes = []
            for o in outcomes:
                # nat chains see only a connection's first packet, and none without an entry
                # (a raw rule on this hook may just have untracked it)
                if o.verdict != "ACCEPT" or (table_name == "nat" and _nat_done(hook, o.packet)):
                    next_outcomes.append(o)
                    continue
                before = _before_conntrack(hook, o.packet) if table_name == "raw" else None
                for verdict, step, trace, assumptions, pkt in self.base_chain(
                        table, chain.name, before or o.packet):
                    if before is not None:
                        pkt = _after_conntrack(o.packet, pkt)
                    next_outcomes.append(Outcome(verdict, step or o.decided_by, o.trace + trace,
                                                 o.assumptions + assumptions, pkt))
            outcomes = next_outcomes[:MAX_OUTCOMES]
        return outcomes

    def base_chain(self, table: Table, name: str, packet: Packet):
        """(verdict, deciding step, trace, assumptions, packet) for every possible way."""
        for kind, step, trace, assumptions, pkt in self.chain(table, name, packet, 0):
            if kind == "return":
                chain = table.chain(name)
                policy = Step(table.name, name, 0, None, "policy")
                yield chain.policy, policy, trace + [policy], assumptions, pkt
            else:
                yield kind, step, trace, assumptions, pkt

    def chain(self, table: Table, name: str, packet: Packet, depth: int, start: int = 0):
        """Walk a chain from rule `start`: yields ("return"|verdict, step, trace, assumptions,
        packet); "return" means the chain ended or returned to its caller."""
        if depth > MAX_DEPTH:
            raise RecursionError(f"chain nesting deeper than {MAX_DEPTH} at {name}")
        chain = table.chain(name)
        yield from self._rules(table, chain, packet, depth, start, [], [])

    def _rules(self, table, chain, packet, depth, start, trace, assumptions):
        for index in range(start, len(chain.rules)):
            rule = chain.rules[index]
            results = match_rule(rule, packet)
            if len(results) == 1 and results[0][0] is False:
                # a "no match" may rest on an assumption (a limit taken as not reached): keep it
                notes = results[0][2]
                trace = trace + [Step(table.name, chain.name, index + 1, rule,
                                      "assumed no match" if notes else "no match")]
                assumptions = assumptions + notes
                packet = results[0][1]
                continue
            for matched, pkt, notes in results:
                label = ("match" if matched and not notes else "assumed match" if matched
                         else "assumed no match")
                step = Step(table.name, chain.name, index + 1, rule, label)
                if not matched:
                    yield from self._rules(table, chain, pkt, depth, index + 1, trace + [step],
                                           assumptions + notes)
                    continue
                yield from self._target(table, chain, rule, index, pkt, depth,
                                        trace + [step], assumptions + notes, step)
            return
        yield "return", None, trace, assumptions, packet

    def _target(self, table, chain, rule, index, packet, depth, trace, assumptions, step):
        target = rule.target
        if target is None or (isinstance(target, TargetExtension)
                              and not mappings.target_specs()[target.name].terminal):
            # from here on the packet is UNTRACKED, unless it has an entry already
            if untracks(target) and not _has_entry(self.current, packet):
                packet = packet.with_(ct_state="untracked", ct_status=frozenset())
            yield from self._rules(table, chain, packet, depth, index + 1, trace, assumptions)
            return
        if isinstance(target, Verdict):
            if target.name == "RETURN":
                yield "return", None, trace, assumptions, packet
            else:
                yield target.name, step, trace, assumptions, packet
            return
        if isinstance(target, Jump):
            for kind, sub, t, a, pkt in self.chain(table, target.chain, packet, depth + 1):
                if kind != "return":
                    yield kind, sub, trace + t, assumptions + a, pkt
                elif target.goto:
                    yield "return", None, trace + t, assumptions + a, pkt
                else:
                    yield from self._rules(table, chain, pkt, depth, index + 1, trace + t,
                                           assumptions + a)
            return
        if table.name == "nat" and target.name in NAT_TARGETS:
            # the connection is bound now: the tables after nat see its SNAT/DNAT bit and
            # the rewritten packet
            packet = rewritten(target, self.current, after_nat(target, self.current, packet))
        yield _TARGET_VERDICTS.get(target.name, "ACCEPT"), step, trace, assumptions, packet


def _conntrack_nat(o: Outcome) -> Outcome:
    """A later packet of a NATed connection has its destination rewritten here by conntrack,
    whether or not there is a nat chain (Packet.nat_dst)."""
    if o.verdict != "ACCEPT" or o.packet.nat_dst is None:
        return o
    daddr, dport = o.packet.nat_dst
    return replace(o, packet=o.packet.with_(daddr=daddr, dport=dport, nat_dst=None))


def _nat_done(hook: str, packet: Packet) -> bool:
    """The nat chains of this hook do not see the packet: it is not its connection's first
    (or has no entry), or it came in on lo, sent by this host, whose connection had its
    destination bound in OUTPUT and its source in POSTROUTING on the way out."""
    return packet.ct_state not in ("new", None) or (
        hook in ("prerouting", "input") and packet.iif == "lo")


def _has_entry(hook: str, packet: Packet) -> bool:
    """The packet reaches the raw table with a conntrack entry (or an empty one) already:
    an answer this host made carries one (Packet.ct_attached), and a packet in on lo keeps
    the one it got in OUTPUT. NOTRACK and CT leave such a packet alone ("previously seen")."""
    return packet.ct_attached is not None or (hook == "prerouting" and packet.iif == "lo")


def _before_conntrack(hook: str, packet: Packet) -> Packet | None:
    """The packet as the raw table sees it: conntrack runs after it, so there is no entry
    yet (state INVALID, or UNTRACKED once a raw rule untracked it) — except for a packet
    that has one already (_has_entry), whose empty entry reads as INVALID. None: the packet
    as it is."""
    if (hook == "prerouting" and packet.iif == "lo") or packet.ct_attached == "entry":
        return None
    return packet.with_(ct_missing=True, ct_state="untracked" if packet.ct_state ==
                        "untracked" else "invalid", ct_status=frozenset())


def _after_conntrack(packet: Packet, walked: Packet) -> Packet:
    """After the raw table: the packet's own state again, unless a raw rule untracked it;
    what else the walk changed (recent lists, assumptions) is kept."""
    if walked.ct_state == "untracked" and packet.ct_state != "untracked":
        return walked.with_(ct_missing=False, ct_status=frozenset())
    return walked.with_(ct_missing=False, ct_state=packet.ct_state,
                        ct_status=packet.ct_status)


def evaluate(ruleset: Ruleset, packet: Packet, hooks: tuple[str, ...]) -> list[Outcome]:
    """Every possible outcome of the packet passing the given hooks in turn."""
    walk = _Walk(ruleset, packet.family)
    if ruleset.ipsets and not packet.ipsets:
        packet = packet.with_(ipsets=known_sets(ruleset, packet.family))
    outcomes = [Outcome("ACCEPT", None, [], [], packet)]
    for hook in hooks:
        done = []
        for o in outcomes:
            if o.verdict != "ACCEPT":
                done.append(o)
                continue
            for n in walk.hook(hook, o.packet):
                done.append(Outcome(n.verdict, n.decided_by or o.decided_by, o.trace + n.trace,
                                    o.assumptions + n.assumptions, n.packet))
        outcomes = done[:MAX_OUTCOMES]
    return outcomes
