"""The packet evaluator (fwmigrate/verify/evaluate.py: `fwmigrate explain` and the lockout guard)
where bench/evaluator_fuzz.py found it wrong: each case is loaded into iptables-legacy in
tests/differential.py's network, a real probe shows what the kernel does, and the evaluator
must say the same for that probe's packet."""

from __future__ import annotations

import pytest
from differential import Probe, load_legacy, network

from fwmigrate.convert import ConvertOptions, read
from fwmigrate.verify.explain import explain, parse_packet

pytestmark = pytest.mark.kernel


def verdicts(save: str, packet: str) -> set[str]:
    ruleset = read(save, "case.save", ConvertOptions(source_kind="save"))[0]
    p, hook = parse_packet(packet)
    return {o.verdict for o in explain(ruleset, p, hook)}


def kernel(save: str, probe: Probe) -> str:
    with network(lambda fw: load_legacy(fw, save)) as net:
        return net.probe(probe).split()[0]


NOTRACK_IN_PREROUTING = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i lo -j CT --notrack
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state UNTRACKED -j DROP
COMMIT
"""


def test_notrack_in_prerouting_leaves_a_looped_back_packet_tracked(netns):
    """A packet that comes in on lo was sent by this host: conntrack gave it its entry in
    OUTPUT, and NOTRACK (raw PREROUTING) leaves a packet that has one alone, so INPUT sees it
    NEW, not UNTRACKED (bench/evaluator_fuzz.py seed 400017)."""
    assert kernel(NOTRACK_IN_PREROUTING,
                  Probe("tcp", "fw", "192.168.10.1", "203.0.113.1", 22)) == "open"
    assert verdicts(NOTRACK_IN_PREROUTING,
                    "tcp 192.168.10.1:40000 > 203.0.113.1:22 in lo hook input") == {"ACCEPT"}
    # from outside, the same rule on eth1 does untrack it
    outside = NOTRACK_IN_PREROUTING.replace("-i lo", "-i eth1")
    assert kernel(outside, Probe("tcp", "lan", "192.168.10.2", "192.168.10.1", 22)) == "timeout"
    assert verdicts(outside, "tcp 192.168.10.2:40000 > 192.168.10.1:22 in eth1 hook input") \
        == {"DROP"}


def raw(rule: str, chain: str = "PREROUTING") -> str:
    return (f"*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A {chain} {rule}\nCOMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "COMMIT\n")


@pytest.mark.parametrize("rule, outcome, verdict", [
    # the raw table runs before conntrack: a packet there has no entry, so its state is
    # INVALID, and the rest of conntrack (direction, status, original tuple) never matches
    ("-m state --state NEW -j DROP", "open", "ACCEPT"),
    ("-m conntrack --ctstate INVALID -j DROP", "timeout", "DROP"),
    ("-m conntrack ! --ctstate INVALID -j DROP", "open", "ACCEPT"),
    ("-m conntrack --ctdir ORIGINAL -j DROP", "open", "ACCEPT"),
    ("-m conntrack ! --ctorigsrc 10.0.0.0/8 -j DROP", "open", "ACCEPT"),
    ("-m conntrack ! --ctstatus CONFIRMED -j DROP", "open", "ACCEPT"),
])
def test_conntrack_in_the_raw_table_sees_no_entry(netns, rule, outcome, verdict):
    """bench/evaluator_fuzz.py seed 400069: `-t raw -A OUTPUT -m conntrack --ctdir REPLY -j
    DROP` was taken to drop the firewall's replies."""
    save = raw(rule)
    assert kernel(save, Probe("tcp", "lan", "192.168.10.2", "192.168.10.1", 22)) == outcome
    assert verdicts(save, "tcp 192.168.10.2:40000 > 192.168.10.1:22 in eth1 hook input") \
        == {verdict}


def test_conntrack_in_raw_output_sees_no_entry_for_a_reply(netns):
    save = raw("-m conntrack --ctdir REPLY -j DROP", "OUTPUT")
    assert kernel(save, Probe("tcp", "lan", "192.168.10.2", "192.168.10.1", 22)) == "open"
    ruleset = read(save, "case.save", ConvertOptions(source_kind="save"))[0]
    reply, _ = parse_packet("tcp 192.168.10.1:22 > 192.168.10.2:40000 out eth1 ct established "
                            "hook output")
    reply = reply.with_(ct_direction="REPLY")
    assert {o.verdict for o in explain(ruleset, reply, "output")} == {"ACCEPT"}


NOTRACK_THEN_NAT = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 22 -j NOTRACK
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m recent --set --name B --rsource
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m recent --rcheck --name B --rsource -j DROP
-A FORWARD -m conntrack --ctstate INVALID -j DROP
COMMIT
"""


def test_a_packet_untracked_in_raw_skips_the_nat_table(netns):
    """NAT works on conntrack entries: a packet NOTRACK left without one passes the nat
    chains by (bench/evaluator_fuzz.py seed 400051: its -m recent --set there was taken).
    (The FORWARD rule is there to make the kernel track connections at all: nothing else in
    the dump needs conntrack, and without it no packet passes the nat chains.)"""
    assert kernel(NOTRACK_THEN_NAT, Probe("tcp", "lan", "192.168.10.2", "192.168.10.1", 22)) \
        == "open"
    assert verdicts(NOTRACK_THEN_NAT, "tcp 192.168.10.2:40000 > 192.168.10.1:22 in eth1 "
                                      "hook input") == {"ACCEPT"}
    # tracked (port 80), the nat chain does see it
    assert kernel(NOTRACK_THEN_NAT, Probe("tcp", "lan", "192.168.10.2", "192.168.10.1", 80)) \
        == "timeout"
    assert verdicts(NOTRACK_THEN_NAT, "tcp 192.168.10.2:40000 > 192.168.10.1:80 in eth1 "
                                      "hook input") == {"DROP"}


UNTRACKED_BY_DIRECTION = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 22 -j CT --notrack
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctdir ORIGINAL -j DROP
COMMIT
"""


def test_an_untracked_or_invalid_packet_has_no_direction(netns):
    """UNTRACKED and INVALID packets have no conntrack entry: --ctdir (and the other tests
    of an entry) never match them (bench/evaluator_fuzz.py seed 500021: an ICMP error about
    an untracked datagram was taken as REPLY)."""
    assert kernel(UNTRACKED_BY_DIRECTION,
                  Probe("tcp", "lan", "192.168.10.2", "192.168.10.1", 22)) == "open"
    assert verdicts(UNTRACKED_BY_DIRECTION,
                    "tcp 192.168.10.2:40000 > 192.168.10.1:22 in eth1 hook input") == {"ACCEPT"}
    assert verdicts(UNTRACKED_BY_DIRECTION,
                    "tcp 192.168.10.2:40000 > 192.168.10.1:80 in eth1 hook input") == {"DROP"}
    assert verdicts(UNTRACKED_BY_DIRECTION, "tcp 192.168.10.2:40000 > 192.168.10.1:80 in eth1 "
                                            "ct invalid hook input") == {"ACCEPT"}
