"""The DNAT/SNAT state a NAT rule leaves for the tables after nat on the same hook
(fwmigrate/verify/nat_status.py): set when the rewrite surely changes the tuple, not when it
surely keeps it, unknown (both verdicts) when it may do either. Kernel cases in
tests/test_evaluator_kernel.py (test_a_dnat_in_nat_prerouting_sets_the_dnat_state_for_filter)."""

from __future__ import annotations

import pytest

from fwmigrate.convert import ConvertOptions, read
from fwmigrate.verify.explain import explain, parse_packet

IN = "tcp 203.0.113.50:40000 > 203.0.113.1:8080 in eth0 out eth1 hook forward"
OUT = "tcp 192.168.10.1:40000 > 203.0.113.50:8080 out eth0 hook output"


def verdicts(chain: str, nat: str, state: str, packet: str) -> set[str]:
    filter_chain = "FORWARD" if chain == "PREROUTING" else "OUTPUT"
    save = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f":POSTROUTING ACCEPT [0:0]\n-A {chain} -p tcp {nat}\nCOMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"-A {filter_chain} -m conntrack --ctstate {state} -j ACCEPT\n"
            f"-A {filter_chain} -j DROP\nCOMMIT\n")
    ruleset = read(save, "case.save", ConvertOptions(source_kind="save"))[0]
    return {o.verdict for o in explain(ruleset, *parse_packet(packet))}


@pytest.mark.parametrize("chain, nat, state, packet, expected", [
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20", "DNAT", IN, {"ACCEPT"}),
    ("PREROUTING", "-j DNAT --to-destination 203.0.113.1:80", "DNAT", IN, {"ACCEPT"}),
    ("PREROUTING", "-j DNAT --to-destination 203.0.113.1", "DNAT", IN, {"DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 203.0.113.1:8000-9000", "DNAT", IN, {"DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 203.0.113.1-203.0.113.9", "DNAT", IN,
     {"ACCEPT", "DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 203.0.113.1 --random", "DNAT", IN,
     {"ACCEPT", "DROP"}),
    ("PREROUTING", "-j REDIRECT", "DNAT", IN, {"ACCEPT", "DROP"}),
    ("PREROUTING", "-j REDIRECT --to-ports 80", "DNAT", IN, {"ACCEPT"}),
    ("PREROUTING", "-j NETMAP --to 10.0.0.0/8", "DNAT", IN, {"ACCEPT"}),
    ("PREROUTING", "-j NETMAP --to 203.0.113.0/24", "DNAT", IN, {"DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20", "SNAT", IN, {"DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20", "NEW", IN, {"ACCEPT"}),
    ("OUTPUT", "-j DNAT --to-destination 198.51.100.7", "DNAT", OUT, {"ACCEPT"}),
    # no NAT rule matched: no bit
    ("PREROUTING", "--dport 1 -j DNAT --to-destination 192.168.10.20", "DNAT", IN, {"DROP"}),
])
def test_nat_state_after_a_nat_rule(chain, nat, state, packet, expected):
    assert verdicts(chain, nat, state, packet) == expected


def filter_verdicts(chain: str, nat: str, test: str, packet: str) -> set[str]:
    filter_chain = "FORWARD" if chain == "PREROUTING" else "OUTPUT"
    save = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f":POSTROUTING ACCEPT [0:0]\n-A {chain} -p tcp {nat}\nCOMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n"
            f"-A {filter_chain} {test} -j ACCEPT\nCOMMIT\n")
    ruleset = read(save, "case.save", ConvertOptions(source_kind="save"))[0]
    return {o.verdict for o in explain(ruleset, *parse_packet(packet))}


@pytest.mark.parametrize("chain, nat, test, packet, expected", [
    # the published-port pattern: FORWARD sees the LAN host's address and port (explain
    # said DROP: the evaluator walked FORWARD with the address the packet came with)
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20:80",
     "-d 192.168.10.20 -p tcp --dport 80", IN, {"ACCEPT"}),
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20:80", "-p tcp --dport 8080", IN,
     {"DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20", "-d 192.168.10.20 -p tcp "
     "--dport 8080", IN, {"ACCEPT"}),
    # conntrack keeps the original tuple
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20:80",
     "-m conntrack --ctorigdst 203.0.113.1 --ctorigdstport 8080", IN, {"ACCEPT"}),
    # the kernel's choice in a range: either
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20-192.168.10.21", "-d 192.168.10.20",
     IN, {"ACCEPT", "DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20:80-90", "-p tcp --dport 80", IN,
     {"ACCEPT", "DROP"}),
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20:8000-9000", "-p tcp --dport 8080",
     IN, {"ACCEPT"}),
    ("PREROUTING", "-j DNAT --to-destination 192.168.10.20:80 --random", "-d 192.168.10.20",
     IN, {"ACCEPT"}),
    ("PREROUTING", "-j NETMAP --to 10.0.0.0/8", "-d 10.0.113.1", IN, {"ACCEPT"}),
    ("PREROUTING", "-j REDIRECT --to-ports 3128", "-p tcp --dport 3128", IN, {"ACCEPT"}),
    # REDIRECT: to the address of the interface the packet came in on (unknown here)
    ("PREROUTING", "-j REDIRECT --to-ports 3128", "-d 192.168.10.1", IN, {"ACCEPT", "DROP"}),
    ("OUTPUT", "-j DNAT --to-destination 198.51.100.7", "-d 198.51.100.7", OUT, {"ACCEPT"}),
    # ... and in OUTPUT to loopback
    ("OUTPUT", "-j REDIRECT", "-d 127.0.0.1", OUT, {"ACCEPT"}),
    # a rule that does not match rewrites nothing
    ("PREROUTING", "--dport 1 -j DNAT --to-destination 192.168.10.20", "-d 203.0.113.1", IN,
     {"ACCEPT"}),
])
def test_the_tables_after_nat_see_the_rewritten_packet(chain, nat, test, packet, expected):
    assert filter_verdicts(chain, nat, test, packet) == expected


def test_a_later_packet_of_a_natted_connection_is_rewritten_after_raw_and_mangle():
    """conntrack rewrites a later packet of a DNATed connection where nat PREROUTING is (nat
    chain or not): mangle still sees the address it was sent to, filter the new one."""
    from fwmigrate.verify.evaluate import evaluate
    from fwmigrate.verify.packet import Packet, address
    save = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -d 192.168.10.20 -j DROP\nCOMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A FORWARD -d 192.168.10.20 -p tcp --dport 80 -j ACCEPT\nCOMMIT\n")
    ruleset = read(save, "case.save", ConvertOptions(source_kind="save"))[0]
    packet = Packet(iif="eth0", oif="eth1", saddr=address("203.0.113.50"),
                    daddr=address("203.0.113.1"), proto=6, sport=40000, dport=8080,
                    tcp_flags=frozenset({"ACK"}), ct_state="established")
    rewritten = packet.with_(nat_dst=(address("192.168.10.20"), 80))
    assert {o.verdict for o in evaluate(ruleset, rewritten, ("prerouting", "forward"))} == \
        {"ACCEPT"}
    assert {o.verdict for o in evaluate(ruleset, packet, ("prerouting", "forward"))} == {"DROP"}
