"""Small fixed-seed campaigns of bench/evaluator_fuzz.py and bench/lockout_fuzz.py: the packet
evaluator (`fwmigrate explain`) and the SSH lockout guard judged against iptables-legacy in
tests/differential.py's network. Random stateful rulesets (bench/ruleset_gen.py); every probe's
kernel outcome must be one the evaluator allows for its packets in the state the kernel gives
them, and the guard's verdict on a real open session must be what the kernel then does to it.
Longer campaigns: `python bench/evaluator_fuzz.py --rounds 200 --seed N`,
`python bench/lockout_fuzz.py --rounds 100 --seed N`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import evaluator_fuzz  # noqa: E402
import lockout_fuzz  # noqa: E402
from differential import Probe  # noqa: E402

pytestmark = pytest.mark.kernel


def test_the_evaluator_predicts_what_iptables_does_to_random_probes(netns):
    tally = evaluator_fuzz.campaign(SEED, ROUNDS, probes=20, minimizing=False)
    assert not tally.findings, str(tally)
    assert not tally.legacy_refused, tally.legacy_refused
    # the campaign decided something: most rounds compared, both open and closed doors, and
    # recent lists checked after knocks
    assert tally.compared_rounds >= ROUNDS - 2, str(tally)
    assert tally.probes >= 80, str(tally)
    for outcome, least in (("open", 5), ("timeout", 5), ("silent", 5), ("refused", 2),
                           ("answered", 2)):
        assert tally.seen[outcome] >= least, (outcome, str(tally))
    assert tally.knocks_checked >= 5, str(tally)


def test_the_lockout_guard_agrees_with_iptables_on_open_sessions(netns):
    tally = lockout_fuzz.campaign(SEED, LOCKOUT_ROUNDS, minimizing=False)
    assert not tally.findings, str(tally)
    assert tally.compared >= LOCKOUT_ROUNDS - 1, str(tally)
    assert tally.kept and tally.cut, str(tally)


SEED, ROUNDS, LOCKOUT_ROUNDS = 7, 6, 3


FOUND = {  # minimized findings of longer campaigns: (dump, scenario)
    # the firewall's own datagram from a secondary address refused in OUTPUT: the ICMP error
    # comes from the primary one (the local route of a secondary address names the primary
    # as its source), and comes back in on lo through raw PREROUTING's --set
    1300025: ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
              "-A OUTPUT -p udp -m udp ! --sport 7003 -j REJECT --reject-with "
              "icmp-port-unreachable\nCOMMIT\n*raw\n:PREROUTING ACCEPT [0:0]\n"
              ":OUTPUT ACCEPT [0:0]\n-A PREROUTING -m recent --set --name A --rsource\n"
              "COMMIT\n",
              [[Probe("knock", "fw", "203.0.113.10", "198.51.100.7", 7003)]]),
}


@pytest.mark.parametrize("seed", sorted(FOUND))
def test_findings_of_longer_campaigns_stay_fixed(netns, seed):
    save, steps = FOUND[seed]
    assert not evaluator_fuzz.wrong(save, steps), seed
