"""A --ctstate whose states cover every connection (NEW, ESTABLISHED and RELATED) with SNAT/DNAT
bits besides: xt_conntrack gives a packet with an entry the state bit of its ctinfo, always one
of the three, and a packet without one (INVALID, UNTRACKED) no NAT bits, so the NAT bits never
change the answer and fwmigrate writes the states alone (backends/nft_conntrack.py). Here the
kernel shows it: iptables-legacy in one network, fwmigrate's nft in another, the same DNATed,
plain NEW, ESTABLISHED, UNTRACKED (raw NOTRACK) and INVALID traffic (the SYN-ACK answering an
untracked SYN) to each rule."""

from __future__ import annotations

import pytest
from differential import Probe, compare, load_legacy, load_nft, run_scenario, scenario

from fwmigrate.convert import ConvertOptions, convert

pytestmark = pytest.mark.kernel

# destination → its DNAT port on 203.0.113.10, and the test in front of a DROP; then
# (the positive one) ACCEPT for the test, DROP for the rest
RULES = {"192.168.10.30": (443, "-m conntrack ! --ctstate RELATED,ESTABLISHED,NEW,DNAT", "DROP"),
         "192.168.10.25": (8080, "-m state ! --state NEW,ESTABLISHED,RELATED", "DROP"),
         "192.168.10.2": (22, "-m conntrack ! --ctstate NEW,ESTABLISHED,RELATED,INVALID,SNAT",
                          "DROP"),
         "192.168.10.20": (80, "-m conntrack --ctstate NEW,ESTABLISHED,RELATED,DNAT",
                           "ACCEPT")}


def _save() -> str:
    dnat = "".join(f"-A PREROUTING -d 203.0.113.10/32 -p tcp -m tcp --dport {port} "
                   f"-j DNAT --to-destination {to}\n" for to, (port, _, _) in RULES.items())
    forward = ""
    for to, (_, test, target) in RULES.items():
        # only the SYN-ACK of a connection from `to` to port 465 (INVALID: its SYN was
        # untracked) meets the test; the later packets, which conntrack picks up as NEW, pass,
        # so that the outcome shows what became of the SYN-ACK
        forward += (f"-A FORWARD -d {to}/32 -p tcp -m tcp --sport 465 --tcp-flags SYN NONE "
                    f"-j ACCEPT\n-A FORWARD -d {to}/32 {test} -j {target}\n")
        if target == "ACCEPT":
            forward += f"-A FORWARD -d {to}/32 -j DROP\n"
    return ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A PREROUTING -p tcp -m tcp --dport 465 -j CT --notrack\nCOMMIT\n"
            "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f":POSTROUTING ACCEPT [0:0]\n{dnat}COMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"{forward}COMMIT\n")


def _probes() -> list[Probe]:
    """Per destination: DNATed, plain NEW, ESTABLISHED, UNTRACKED, INVALID."""
    probes = []
    for to, (port, _, _) in RULES.items():
        probes += [Probe("tcp", "wan", "203.0.113.50", "203.0.113.10", port),
                   Probe("tcp", "wan", "203.0.113.50", to, port),
                   Probe("tcp", "lan", to, "203.0.113.50", port),
                   Probe("tcp", "wan", "203.0.113.50", to, 465),
                   Probe("tcp", "lan", to, "203.0.113.50", 465)]
    return probes


def test_the_states_alone_behave_as_the_test_with_nat_bits_in_the_kernel(kernel):
    save = _save()
    translated = convert(save, "states.save", ConvertOptions()).output
    # one nft rule each, the NAT bits left out
    assert "ct status" not in translated
    assert translated.count("ct state ! established,related,new drop") == 2
    assert "ct state ! invalid,established,related,new drop" in translated
    assert "ct state established,related,new accept" in translated
    steps = scenario(_probes())
    mismatches = compare(lambda fw: load_legacy(fw, save), lambda fw: load_nft(fw, translated),
                         steps)
    assert not mismatches, "\n".join(map(str, mismatches))
    # the probes tell the packets apart: what iptables lets through, per destination
    kinds = [o.split()[0] for o in run_scenario(lambda fw: load_legacy(fw, save), steps)]
    passed = [[k == "open" for k in kinds[i:i + 5]] for i in range(0, len(kinds), 5)]
    #          DNATed NEW   ESTABLISHED UNTRACKED INVALID
    entry, without = [True, True, True], [False, False]
    assert passed == [entry + without, entry + without, entry + [False, True],
                      entry + without], kinds
