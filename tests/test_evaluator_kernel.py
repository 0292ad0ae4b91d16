"""The packet evaluator (fwmigrate/verify/evaluate.py: `fwmigrate explain` and the lockout guard)
where bench/evaluator_fuzz.py found it wrong: each case is loaded into iptables-legacy in
tests/differential.py's network, a real probe shows what the kernel does, and the evaluator
must say the same for that probe's packet."""

from __future__ import annotations

import pytest
from differential import Probe, load_legacy, network, recent_lists

from fwmigrate.convert import ConvertOptions, read
from fwmigrate.verify.evaluate import evaluate
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


def kernel_all(save: str, probes: list[Probe]) -> list[str]:
    with network(lambda fw: load_legacy(fw, save)) as net:
        return [net.probe(p).split()[0] for p in probes]


def answer(save: str, text: str, attached: str | None, via_lo: bool = False) -> set[str]:
    """The verdicts for a packet the firewall sends back (REPLY direction) out of OUTPUT
    (via_lo: and in again on lo to INPUT); attached: the entry the host gave it when it made
    it (see Packet.ct_attached)."""
    ruleset = read(save, "case.save", ConvertOptions(source_kind="save"))[0]
    p, _ = parse_packet(text)
    p = p.with_(ct_direction="REPLY", ct_attached=attached)
    verdicts = set()
    for o in evaluate(ruleset, p, ("output", "postrouting")):
        if o.verdict != "ACCEPT" or not via_lo:
            verdicts.add(o.verdict)
            continue
        back = o.packet.with_(iif="lo", oif="")
        verdicts |= {n.verdict for n in evaluate(ruleset, back, ("prerouting", "input"))}
    return verdicts


def _with_raw(raw_rules: str, filter_rules: str) -> str:
    return (f"*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{raw_rules}COMMIT\n"
            f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"{filter_rules}COMMIT\n")


REJECTS = ("-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"
           "-A INPUT -p udp -m udp --dport 123 -j REJECT --reject-with icmp-admin-prohibited\n")
LAN = "192.168.10.2"
ANSWERS = [  # a probe from the LAN to the firewall and the answer REJECT makes for it
    (Probe("tcp", "lan", LAN, "192.168.10.1", 22),
     f"tcp 192.168.10.1:22 > {LAN}:45000 out eth1 ct related flags RST,ACK hook output"),
    (Probe("udp", "lan", LAN, "192.168.10.1", 123),
     f"icmp 192.168.10.1 > {LAN} out eth1 ct related type 3/13 hook output"),
]
ORDINARY = [  # answers with no entry yet: the server's SYN/ACK, and the port unreachable of
    # a UDP port nobody listens on (the UDP layer drops the datagram's entry before
    # icmp_send: nf_reset_ct in __udp4_lib_rcv)
    (Probe("tcp", "lan", LAN, "192.168.10.1", 80),
     f"tcp 192.168.10.1:80 > {LAN}:45000 out eth1 ct established flags SYN,ACK hook output"),
    (Probe("udp", "lan", LAN, "192.168.10.1", 999),
     f"icmp 192.168.10.1 > {LAN} out eth1 ct related type 3/3 hook output"),
]


def test_notrack_in_raw_output_leaves_the_hosts_answers_tracked(netns):
    """A REJECT's ICMP error or reset leaves the host with the entry of the packet it answers
    already attached (nf_ct_attach, RELATED in the other direction), and NOTRACK / CT
    --notrack leave a packet that has one alone: raw OUTPUT's NOTRACK untracks the ordinary
    answers but not these (bench/evaluator_fuzz.py seed 1200127: the evaluator untracked a
    REJECT's ICMPv6 error, and INPUT then refused it)."""
    save = _with_raw("-A OUTPUT -j CT --notrack\n",
                     REJECTS + "-A OUTPUT -m state --state UNTRACKED -j DROP\n")
    assert kernel_all(save, [p for p, _ in ANSWERS + ORDINARY]) == \
        ["refused", "unreachable", "timeout", "silent"]
    for _, text in ANSWERS:
        assert answer(save, text, "entry") == {"ACCEPT"}, text
    for _, text in ORDINARY:
        assert answer(save, text, None) == {"DROP"}, text


@pytest.mark.parametrize("rule", ["-m conntrack --ctstate RELATED -j DROP",
                                  "-m conntrack --ctdir REPLY -j DROP"])
def test_the_raw_table_sees_the_entry_an_answer_carries(netns, rule):
    """Before conntrack, a packet has no entry (INVALID), except an answer REJECT made: it
    carries the answered packet's entry, RELATED in the reply direction."""
    save = _with_raw(f"-A OUTPUT {rule}\n", REJECTS)
    assert kernel_all(save, [p for p, _ in ANSWERS + ORDINARY]) == \
        ["timeout", "silent", "open", "refused"]
    for _, text in ANSWERS:
        assert answer(save, text, "entry") == {"DROP"}, text
    for _, text in ORDINARY:
        assert answer(save, text, None) == {"ACCEPT"}, text


def test_an_answer_to_an_untracked_packet_carries_an_empty_entry(netns):
    """The answered packet was untracked: the answer gets an empty entry (INVALID), which
    NOTRACK leaves alone as well, so it is not UNTRACKED."""
    save = _with_raw("-A PREROUTING -p udp -m udp --dport 123 -j CT --notrack\n"
                     "-A OUTPUT -j CT --notrack\n",
                     REJECTS + "-A OUTPUT -m state --state UNTRACKED -j DROP\n")
    assert kernel_all(save, [ANSWERS[1][0], ORDINARY[0][0]]) == ["unreachable", "timeout"]
    invalid = ANSWERS[1][1].replace("ct related", "ct invalid")
    assert answer(save, invalid, "empty") == {"ACCEPT"}
    # the INVALID is the empty entry's: a rule on it drops the answer
    dropping = save.replace("--state UNTRACKED", "--state INVALID")
    assert kernel_all(dropping, [ANSWERS[1][0]]) == ["silent"]
    assert answer(dropping, invalid, "empty") == {"DROP"}


SEED_1200127 = """# Generated by ip6tables-save
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -j REJECT --reject-with icmp6-adm-prohibited
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -s fd00:10::/64 -j CT --notrack
COMMIT
"""


def test_a_rejects_error_to_the_host_itself_stays_related(netns):
    """bench/evaluator_fuzz.py seed 1200127, minimized: the firewall's own datagram to its
    other address is refused in INPUT; the ICMPv6 error comes from fd00:10::1, which raw
    OUTPUT's rule would untrack, but it carries its entry, so it comes back in on lo RELATED
    and the sender's socket gets EACCES."""
    with network(lambda fw: load_legacy(fw, SEED_1200127)) as net:
        assert net.probe(Probe("udp", "fw", "fd00:113::1", "fd00:10::1", 123)) == "error 13"
    text = "icmpv6 fd00:10::1 > fd00:113::1 out lo ct related type 1/1 hook output"
    assert answer(SEED_1200127, text, "entry", via_lo=True) == {"ACCEPT"}


@pytest.mark.parametrize("chain", ["PREROUTING", "INPUT"])
def test_a_packet_in_on_lo_skips_the_nat_chains_of_the_way_in(netns, chain):
    """NAT binds a connection's destination in OUTPUT and its source in POSTROUTING; a packet
    the host sends itself comes back in on lo with both bound, so nat PREROUTING and INPUT
    never see it (bench/evaluator_fuzz.py seed 1300015: a `-m recent --set` in nat
    PREROUTING was taken to add the firewall's own address). (The FORWARD rule makes the
    kernel track connections, as in test_a_packet_untracked_in_raw_skips_the_nat_table.)"""
    save = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f":POSTROUTING ACCEPT [0:0]\n-A {chain} -m recent --set --name A --rsource\n"
            "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -m recent --rcheck --name A --rsource -j DROP\n"
            "-A FORWARD -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n")
    assert kernel_all(save, [Probe("tcp", "fw", "203.0.113.1", "192.168.10.1", 80),
                             Probe("tcp", "lan", LAN, "192.168.10.1", 80)]) == \
        ["open", "timeout"]
    # from the LAN, the SYN puts its source in the list: in nat PREROUTING before filter
    # INPUT's test, which drops it; in nat INPUT after it, and the client's ACK is dropped
    ruleset = read(save, "case.save", ConvertOptions(source_kind="save"))[0]
    lan = "DROP" if chain == "PREROUTING" else "ACCEPT"
    for text, verdict, held in (("tcp 203.0.113.1:40000 > 192.168.10.1:80 in lo", "ACCEPT",
                                 set()),
                                (f"tcp {LAN}:40000 > 192.168.10.1:80 in eth1", lan, {LAN})):
        outcomes = explain(ruleset, *parse_packet(text + " hook input"))
        assert {o.verdict for o in outcomes} == {verdict}
        assert {str(a) for o in outcomes for a in o.packet.recent.get("A", ())} == held


NAT_INPUT_AFTER_FILTER = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A INPUT -m recent --set --name A --rsource
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 80 -j DROP
-A FORWARD -m conntrack --ctstate INVALID -j DROP
COMMIT
"""


def test_nat_input_runs_after_filter_input(netns):
    """nat INPUT binds the source (NF_IP_PRI_NAT_SRC, 100): it runs after filter (0) and
    security (50), so a packet filter INPUT drops never meets it (bench/evaluator_fuzz.py
    seed 1300083: a `-m recent --set` in nat INPUT was taken for a datagram the filter
    policy dropped). (The FORWARD rule makes the kernel track connections.)"""
    with network(lambda fw: load_legacy(fw, NAT_INPUT_AFTER_FILTER)) as net:
        assert net.probe(Probe("tcp", "lan", LAN, "192.168.10.1", 80)).startswith("timeout")
        assert recent_lists(net.ns["fw"], ["A"]) == {"A": set()}
        assert net.probe(Probe("tcp", "lan", LAN, "192.168.10.1", 22)).startswith("open")
        assert recent_lists(net.ns["fw"], ["A"]) == {"A": {LAN}}
    ruleset = read(NAT_INPUT_AFTER_FILTER, "case.save", ConvertOptions(source_kind="save"))[0]
    for port, verdict, held in ((80, "DROP", set()), (22, "ACCEPT", {LAN})):
        p, hook = parse_packet(f"tcp {LAN}:40000 > 192.168.10.1:{port} in eth1 hook input")
        outcomes = explain(ruleset, p, hook)
        assert {o.verdict for o in outcomes} == {verdict}
        assert {str(a) for o in outcomes for a in o.packet.recent.get("A", ())} == held


def published(to: str, chain: str) -> str:
    """DNAT of port 8080 on the firewall, and a filter chain that lets in only what conntrack
    says was DNATed (xt_conntrack's DNAT state: the connection's IPS_DST_NAT bit)."""
    return ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n"
            f"-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination {to}\n"
            "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"-A {chain} -m conntrack --ctstate DNAT -j ACCEPT\n-A {chain} -j DROP\nCOMMIT\n")


@pytest.mark.parametrize("to, chain, packet, outcome, verdict", [
    # the published-port pattern: the first packet already has the bit in FORWARD
    ("192.168.10.20:80", "FORWARD",
     "tcp 203.0.113.50:40000 > 203.0.113.1:8080 in eth0 out eth1 hook forward", "open",
     "ACCEPT"),
    # a DNAT that leaves the destination as it was sets no bit
    ("203.0.113.1", "INPUT", "tcp 203.0.113.50:40000 > 203.0.113.1:8080 in eth0 hook input",
     "timeout", "DROP"),
])
def test_a_dnat_in_nat_prerouting_sets_the_dnat_state_for_filter(netns, to, chain, packet,
                                                                 outcome, verdict):
    """nf_nat_setup_info sets IPS_DST_NAT when nat PREROUTING's DNAT changes the tuple, so
    filter sees the connection's first packet in state DNAT (`explain` said the
    published-port pattern's FORWARD rule does not match and the packet is dropped)."""
    save = published(to, chain)
    assert kernel(save, Probe("tcp", "wan", "203.0.113.50", "203.0.113.1", 8080)) == outcome
    assert verdicts(save, packet) == {verdict}


@pytest.mark.parametrize("test, outcome, verdict", [
    ("-d 192.168.10.20 -p tcp -m tcp --dport 80", "open", "ACCEPT"),
    # the address and port the packet came with are gone by FORWARD
    ("-d 203.0.113.1 -p tcp -m tcp --dport 8080", "timeout", "DROP"),
    ("-p tcp -m tcp --dport 8080", "timeout", "DROP"),
    # conntrack keeps them as the original tuple
    ("-m conntrack --ctorigdst 203.0.113.1 --ctorigdstport 8080", "open", "ACCEPT"),
])
def test_filter_sees_the_packet_dnat_rewrote(netns, test, outcome, verdict):
    """nat PREROUTING's DNAT rewrites the connection's first packet before filter FORWARD
    (`explain` walked FORWARD with the address and port it came with and said the
    published-port pattern `-d LANHOST --dport 80 -j ACCEPT` drops it)."""
    save = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT "
            "--to-destination 192.168.10.20:80\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n"
            ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT\n"
            f"-A FORWARD {test} -j ACCEPT\n-A FORWARD -j DROP\nCOMMIT\n")
    assert kernel(save, Probe("tcp", "wan", "203.0.113.50", "203.0.113.1", 8080)) == outcome
    packet = "tcp 203.0.113.50:40000 > 203.0.113.1:8080 in eth0 out eth1 ct new hook forward"
    assert verdicts(save, packet) == {verdict}
