"""-j CT in the raw table and what the raw rules of the same hook then meet.

xt_CT attaches a template conntrack entry (its zone, helper, …) to the packet; conntrack
replaces it with the real entry after raw. Until then the raw rules of the same hook meet the
template: xt_conntrack and xt_connmark read it as an entry (state NEW, status CONFIRMED, no NAT
bits, direction ORIGINAL, mark 0), and CONNMARK --restore-mark copies its mark (0, or what a
CONNMARK of an earlier packet wrote to the shared template) to the packet, while nft's ct keys
other than `ct state` stop the rule at it (tests/test_ct_template_kernel.py). This finds the
raw rules a template can reach that read more of it than its state, to be refused: those after
a template-attaching -j CT in the order the packet walks the chains, on an input interface and
with a protocol both take (before it, the packet has no entry yet, or, looped back, the real one).
Read alike (measured there): the state (-m state, --ctstate of states alone: NEW), -m
connlabel (the template has no labels: no match, and --set sets nothing), -m connlimit, and
what CONNMARK --set-mark/--save-mark leave on the connection (nothing: conntrack does not copy
a template's mark, and nft's `ct mark set` leaves the template alone), a later -j CT or
NOTRACK (left out: the packet keeps the first template).

The other way round: xt_CT leaves alone a packet NOTRACK or -j CT --notrack untracked (or a
copy -j TEE or nft's dup sends: nf_dup_ipv4/6 untrack it), nft's `ct zone set` tracks it in the
zone (it leaves alone only a packet with an entry). So a -j CT --zone is refused where an
untracked packet can meet it: after an untracking rule in the order the packet walks raw's
chains, on an input interface and with a protocol both rules take (-p tcp and -p udp never
meet one packet), or in PREROUTING when raw OUTPUT untracks (lo carries the untracked packet
over, protocol and all, and so does the copy of a broadcast or multicast the kernel loops back
on the interface it went out of); and in raw OUTPUT (and PREROUTING) where a TEE of the
family may send a copy of that protocol.

Both directions ask: the backend refuses such a rule (backends/nft_ct_templates.py), and so
does the nft reader (nft_ruleset.py: read as iptables, the nft rule would mean something else).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..ir import Jump, Match, Rule, Table, TargetExtension, untracks
from .conntrack_entry import NAT_STATES, without_idle_nat

_READS = (
    "after -j CT in the raw table (or as SYNPROXY's SYN to the server, in raw OUTPUT) a packet "
    "carries a template entry, which xt_conntrack and "
    "xt_connmark read as an entry (state NEW, status CONFIRMED, mark 0, no NAT bits), while "
    "nft's ct keys other than `ct state` stop the rule at it",
    "test the entry in the mangle or filter table, where conntrack has replaced the template; "
    "a --ctstate test of states alone is translated")
_RESTORES = (
    "after -j CT in the raw table a packet carries a template entry, whose mark (0, or what a "
    "CONNMARK of an earlier packet wrote to the template) CONNMARK --restore-mark copies to the "
    "packet, while nft's `ct mark` stops the rule at the template and keeps the packet's mark",
    "restore the mark in the mangle table, where conntrack has replaced the template")
_ZONE = (
    "-j CT after NOTRACK or -j CT --notrack of the same hook (or of raw OUTPUT, for a packet "
    "looped back: on lo, or a broadcast or multicast on any interface), or where the "
    "untracked copy a TEE sends meets it: xt_CT leaves "
    "an untracked packet alone, nft's `ct zone set` tracks it in the zone",
    "put the -j CT before the untracking rule (a packet keeps the first of the two in both), "
    "or keep the two apart by -p, or within one hook by -i (a packet of another protocol or "
    "input interface never meets both; what raw OUTPUT untracks may come back on any)")


def _attaches_template(target: object) -> bool:
    return isinstance(target, TargetExtension) and target.name == "CT" and \
        target.option("notrack") is None


def _reads_entry(match: Match) -> bool:
    """Tests more of a conntrack entry than its state (the NAT bits of --ctstate are its
    status, unless they cannot change the answer)."""
    if match.module == "connmark":
        return True
    return match.module == "conntrack" and any(
        o.name != "ctstate" or without_idle_nat(o.value) & NAT_STATES for o in match.options)


def _restores_mark(target: object) -> bool:
    return isinstance(target, TargetExtension) and target.name == "CONNMARK" and \
        getattr(target.option("mode"), "value", None) == "restore-mark"


# where a packet may be: its input interface and protocol (None: any)
Where = tuple[str | None, int | None]


def _where(rule: Rule, within: Where) -> Where:
    """The input interface the rule's packets come in on and their protocol, as far as the
    rule or the one that jumped to its chain (`within`) says (None: any)."""
    interface, protocol = rule.in_interface, rule.protocol
    return (interface.value if interface is not None and not interface.negated else within[0],
            protocol.value if protocol is not None and not protocol.negated else within[1])


def _may_be_one(a: str | None, b: str | None) -> bool:
    """Can a packet's input interface be both `a` and `b` (`eth+`: every name eth…)?"""
    if a is None or b is None:
        return True
    a_any, b_any = a.endswith("+"), b.endswith("+")
    if a_any and b_any:
        return a.startswith(b[:-1]) or b.startswith(a[:-1])
    if a_any or b_any:
        prefix, name = (a[:-1], b) if a_any else (b[:-1], a)
        return name.startswith(prefix)
    return a == b


def _may_meet(a: Where, b: Where) -> bool:
    """Can one packet be in both places? (A packet has one protocol, which no raw target
    changes; an inverted -p or -i proves nothing here.)"""
    return _may_be_one(a[0], b[0]) and (a[1] is None or b[1] is None or a[1] == b[1])


def _sent_by(tables, name: str) -> frozenset[Where]:
    """Where the packets the targets `name` of these tables (of one family) send out through
    raw OUTPUT may be: of the protocol of the rule that sent them."""
    return frozenset((None, _where(rule, (None, None))[1]) for table in tables
                     for chain in table.chains for rule in chain.rules
                     if isinstance(rule.target, TargetExtension) and rule.target.name == name)


def _met_after(table: Table, marks, meets, copies: frozenset[Where] = frozenset(),
               loop: bool = False) -> set[int]:
    """ids of the rules `meets(rule)` says yes to that a packet can reach after a rule whose
    target `marks` says yes to (or as one of `copies` in OUTPUT): in the order the packet
    walks the chains, told apart by input interface or protocol (`-i eth0 -j NOTRACK` and
    `-i eth2 -j CT --zone 5`, or `-p udp …` and `-p tcp …`, never meet the same packet).
    With `loop`, what leaves raw OUTPUT marked comes back to PREROUTING so, on any input
    interface."""
    chains = {c.name: c for c in table.chains}
    found: set[int] = set()
    walked: dict[tuple, frozenset] = {}

    def walk(name: str, start: frozenset, within: Where) -> frozenset:
        """Where the packets may be that leave the chain `name` marked (iptables forbids
        loops)."""
        if (name, start, within) not in walked:
            marked = start
            gone = frozenset()  # marked in a chain gone to (-g), which returns to our caller
            for rule in chains[name].rules:
                where = _where(rule, within)
                # (a rule's matches run before its target)
                if meets(rule) and any(_may_meet(u, where) for u in marked):
                    found.add(id(rule))
                if marks(rule.target):
                    marked |= {where}
                elif isinstance(rule.target, Jump) and rule.target.chain in chains:
                    after = walk(rule.target.chain, marked, where)
                    if rule.target.goto:
                        gone |= after
                    else:
                        marked = after
            walked[name, start, within] = marked | gone
        return walked[name, start, within]

    left = walk("OUTPUT", copies, (None, None)) if "OUTPUT" in chains else copies
    # back on lo, or, a broadcast or multicast, on the interface it went out of (the
    # kernel's looped copy: tests/test_ct_template_kernel.py)
    starts = {"OUTPUT": copies,
              "PREROUTING": frozenset((None, protocol) for _, protocol in left) if loop
              else frozenset()}
    for chain in table.chains:
        if chain.builtin:
            walk(chain.name, starts.get(chain.name, frozenset()), (None, None))
    return found


def _meet_untracked(table: Table, copies: frozenset[Where]) -> set[int]:
    """ids of the -j CT rules (not --notrack) a packet can meet untracked: after NOTRACK or
    -j CT --notrack, as a TEE copy in raw OUTPUT, and in PREROUTING after either (looped
    back)."""
    return _met_after(table, untracks, lambda rule: _attaches_template(rule.target), copies,
                      loop=True)


def _meet_template(table: Table, proxied: frozenset[Where]) -> set[int]:
    """ids of the rules that read a template and can meet one: after a -j CT that attaches
    it, in the same hook (conntrack, right after raw, replaces it; a packet looped back
    brings the real entry), and in raw OUTPUT where SYNPROXY sends a packet with its template
    (`proxied`)."""
    return _met_after(table, _attaches_template, lambda rule: any(
        map(_reads_entry, rule.matches)) or _restores_mark(rule.target), proxied)


def template_problems(table: Table, family: Iterable[Table] = ()
                      ) -> dict[int, tuple[str, str]]:
    """id of a raw rule that reads a -j CT template, or of a -j CT that can meet an untracked
    packet → why its nft and iptables forms differ, and a hint. `family`: all the tables of
    the family, whose TEE and SYNPROXY rules send packets through raw OUTPUT: a TEE copy
    untracked (nf_dup_ipv4/6), back on lo if the gateway is local; SYNPROXY's SYN to the
    server with the proxy's own template, which xt_conntrack reads as an entry (measured:
    tests/test_ct_template_kernel.py)."""
    problems: dict[int, tuple[str, str]] = {}
    if table.name == "raw":
        family = tuple(family)
        late = _meet_untracked(table, _sent_by(family, "TEE"))
        templated = _meet_template(table, _sent_by(family, "SYNPROXY"))
        for chain in table.chains:
            for rule in chain.rules:
                if id(rule) in late:
                    problems[id(rule)] = _ZONE
                elif id(rule) in templated:
                    problems[id(rule)] = _READS if any(map(_reads_entry, rule.matches)) \
                        else _RESTORES
    return problems
