"""-j CT in the raw table and what the raw rules of the same hook then meet.

xt_CT attaches a template conntrack entry (its zone, helper, …) to the packet; conntrack
replaces it with the real entry after raw. Until then the raw rules of the same hook meet the
template: xt_conntrack and xt_connmark read it as an entry (state NEW, status CONFIRMED, no NAT
bits, direction ORIGINAL, mark 0), and CONNMARK --restore-mark copies its mark (0, or what a
CONNMARK of an earlier packet wrote to the shared template) to the packet, while nft's ct keys
other than `ct state` stop the rule at it (tests/test_ct_template_kernel.py). This finds the
raw rules a template can reach that read more of it than its state, to be refused. Read alike
(measured there): the state (-m state, --ctstate of states alone: NEW), -m connlabel (the
template has no labels: no match, and --set sets nothing), -m connlimit, and what CONNMARK
--set-mark/--save-mark leave on the connection (nothing: conntrack does not copy a template's
mark, and nft's `ct mark set` leaves the template alone), a later -j CT or NOTRACK (left out:
the packet keeps the first template).

The other way round: xt_CT leaves alone a packet NOTRACK or -j CT --notrack untracked (or a
copy -j TEE or nft's dup sends: nf_dup_ipv4/6 untrack it), nft's `ct zone set` tracks it in the
zone (it leaves alone only a packet with an entry). So a -j CT --zone is refused where an
untracked packet can meet it: after an untracking rule in the order the packet walks raw's
chains, on an input interface and with a protocol both rules take (-p tcp and -p udp never
meet one packet), or in PREROUTING on lo when raw OUTPUT untracks (lo carries the untracked
packet over, protocol and all); and in raw OUTPUT (and PREROUTING on lo) where a TEE of the
family may send a copy of that protocol.

Both directions ask: the backend refuses such a rule (backends/nft_ct_templates.py), and so
does the nft reader (nft_ruleset.py: read as iptables, the nft rule would mean something else).
"""

from __future__ import annotations

from ..ir import Jump, Match, Rule, Table, TargetExtension, builtin_chains_reaching, untracks
from .conntrack_entry import NAT_STATES, without_idle_nat

_READS = (
    "after -j CT in the raw table a packet carries a template entry, which xt_conntrack and "
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
    "looped back through lo), or where the untracked copy a TEE sends meets it: xt_CT leaves "
    "an untracked packet alone, nft's `ct zone set` tracks it in the zone",
    "put the -j CT before the untracking rule (a packet keeps the first of the two in both), "
    "or keep the two apart by -p or -i (a packet of another protocol or input interface "
    "never meets both)")


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


def _hooks_of(table: Table, reach, has) -> frozenset[str]:
    """The built-in chains whose packets can meet a rule whose target `has` says yes to."""
    return frozenset().union(*(reach.get(c.name, frozenset()) for c in table.chains
                               if any(has(r.target) for r in c.rules)))


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


def tee_copies(tables) -> frozenset[Where]:
    """Where the copies -j TEE (nft: dup) makes in these tables (of one family) may be as they
    enter raw OUTPUT: untracked (nf_dup_ipv4/6 mark them so, and send them out through the
    OUTPUT hook), of the TEE rule's protocol, and back on lo if the gateway is local."""
    return frozenset((None, _where(rule, (None, None))[1]) for table in tables
                     for chain in table.chains for rule in chain.rules
                     if isinstance(rule.target, TargetExtension) and rule.target.name == "TEE")


def _meet_untracked(table: Table, copies: frozenset[Where]) -> set[int]:
    """ids of the -j CT rules (not --notrack) a packet can meet after it was untracked: in the
    order the packet walks the chains, told apart by input interface or protocol (`-i eth0
    -j NOTRACK` and `-i eth2 -j CT --zone 5`, or `-p udp -j NOTRACK` and `-p tcp -j CT --zone
    5`, never meet the same packet)."""
    chains = {c.name: c for c in table.chains}
    found: set[int] = set()
    walked: dict[tuple, frozenset] = {}

    def walk(name: str, start: frozenset, within: Where) -> frozenset:
        """Where the packets may be that leave the chain `name` untracked (iptables forbids
        loops)."""
        if (name, start, within) not in walked:
            untracked = start
            gone = frozenset()  # untracked in a chain gone to (-g), which returns to our caller
            for rule in chains[name].rules:
                where = _where(rule, within)
                if _attaches_template(rule.target) and \
                        any(_may_meet(u, where) for u in untracked):
                    found.add(id(rule))
                if untracks(rule.target):
                    untracked |= {where}
                elif isinstance(rule.target, Jump) and rule.target.chain in chains:
                    after = walk(rule.target.chain, untracked, where)
                    if rule.target.goto:
                        gone |= after
                    else:
                        untracked = after
            walked[name, start, within] = untracked | gone
        return walked[name, start, within]

    # raw OUTPUT meets TEE's copies untracked, and lo brings a packet that leaves raw OUTPUT
    # untracked back to PREROUTING, still untracked
    left = walk("OUTPUT", copies, (None, None)) if "OUTPUT" in chains else copies
    starts = {"OUTPUT": copies,
              "PREROUTING": frozenset(("lo", protocol) for _, protocol in left)}
    for chain in table.chains:
        if chain.builtin:
            walk(chain.name, starts.get(chain.name, frozenset()), (None, None))
    return found


def template_problems(table: Table, copies: frozenset[Where] = frozenset()
                      ) -> dict[int, tuple[str, str]]:
    """id of a raw rule that reads a -j CT template, or of a -j CT that can meet an untracked
    packet (also a TEE copy: `copies`, from tee_copies of the family's tables) → why its nft
    and iptables forms differ, and a hint."""
    problems: dict[int, tuple[str, str]] = {}
    if table.name == "raw":
        reach = builtin_chains_reaching(table)
        # a template lives until conntrack, right after raw, so only that hook's raw rules
        # meet it
        templates = _hooks_of(table, reach, _attaches_template)
        late = _meet_untracked(table, copies)
        for chain in table.chains:
            hooks = reach.get(chain.name, frozenset())
            for rule in chain.rules:
                if id(rule) in late:
                    problems[id(rule)] = _ZONE
                elif hooks & templates and any(map(_reads_entry, rule.matches)):
                    problems[id(rule)] = _READS
                elif hooks & templates and _restores_mark(rule.target):
                    problems[id(rule)] = _RESTORES
    return problems
