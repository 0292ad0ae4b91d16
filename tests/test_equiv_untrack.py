"""`verify --equiv` and a packet raw OUTPUT untracks (`-j CT --notrack`, `-j NOTRACK`): the
tables after raw on the same hook see it UNTRACKED, not in the state conntrack would have
given it. The checker walked filter OUTPUT with the packet's state as it came in, so a udp
packet raw had untracked reached `--ctstate NEW` rules there: a false "different" (found by
bench/equiv_fuzz.py, seed 275000100015). A packet that comes to raw with an entry already (an
answer the host made: RELATED, or INVALID for an answer to an untracked packet) keeps its
state, so those states must stay possible after the untracking rule."""

from __future__ import annotations

import pytest

from fwmigrate.convert import ConvertOptions, read
from fwmigrate.verify.equiv import check

RAW_UDP = "iptables -t raw -A OUTPUT -p udp -j CT --notrack\n"
RAW_ICMP = "iptables -t raw -A OUTPUT -p icmp -j NOTRACK\n"


def ir(script):
    return read(script, "t.sh", ConvertOptions())[0]


def output_differences(a, b):
    return [d for r in check(ir(a), ir(b)) for d in r.differences if d.hook == "output"]


@pytest.mark.parametrize("prerouting", [
    "",
    # a state test in raw PREROUTING is not on the output hook's way
    "iptables -t raw -A PREROUTING -d 203.0.113.10 -m conntrack --ctorigdst 10.0.0.0/8 "
    "-j ACCEPT\n",
])
def test_filter_output_sees_the_packet_raw_untracked(prerouting):
    # the fuzz round's shape: udp is untracked in raw, so it never meets the NEW rule
    # (UNTRACKED is dropped before it) and flipping that rule's verdict changes nothing for it
    head = (prerouting + RAW_UDP + "iptables -A OUTPUT -m state --state UNTRACKED -j DROP\n")
    a = head + "iptables -A OUTPUT -p udp -m conntrack --ctstate NEW -j ACCEPT\n"
    b = head + "iptables -A OUTPUT -p udp -m conntrack --ctstate NEW -j DROP\n"
    assert output_differences(a, b) == []


def test_a_drop_of_what_raw_untracked_never_fires():
    a = RAW_UDP + "iptables -A OUTPUT -p udp -m conntrack --ctstate NEW,ESTABLISHED -j DROP\n"
    b = RAW_UDP
    assert output_differences(a, b) == []


@pytest.mark.parametrize("a, b", [
    # untracking makes a new udp flow pass a NEW drop: a real difference
    (RAW_UDP + "iptables -A OUTPUT -m conntrack --ctstate NEW -j DROP\n",
     "iptables -A OUTPUT -m conntrack --ctstate NEW -j DROP\n"),
    # an ICMP error the host sends of its own is RELATED, untracked in raw: a difference
    ("iptables -A OUTPUT -m conntrack --ctstate RELATED -j DROP\n",
     RAW_ICMP + "iptables -A OUTPUT -m conntrack --ctstate RELATED -j DROP\n"),
    # ... and a packet conntrack would call INVALID is UNTRACKED once untracked
    ("iptables -A OUTPUT -m conntrack --ctstate INVALID -j DROP\n",
     RAW_UDP + "iptables -A OUTPUT -m conntrack --ctstate INVALID -j DROP\n"),
    # a REJECT's answer comes to raw with the answered packet's entry (RELATED), which
    # NOTRACK leaves alone: a RELATED drop after raw still drops it
    (RAW_ICMP + "iptables -A OUTPUT -m conntrack --ctstate RELATED -j DROP\n", RAW_ICMP),
    # an answer to an untracked packet has an empty entry: INVALID after raw
    (RAW_UDP + "iptables -A OUTPUT -m conntrack --ctstate INVALID -j DROP\n", RAW_UDP),
    # a state test in raw sees no entry yet (INVALID), not the state filter will see: the
    # checker does not model that, so it must not untrack on it (the kernel never matches
    # this raw rule for a fresh packet, and a NEW packet is dropped on A's side only)
    ("iptables -t raw -A OUTPUT -m conntrack --ctstate NEW -j CT --notrack\n"
     "iptables -A OUTPUT -m conntrack --ctstate NEW -j DROP\n", "iptables -P OUTPUT ACCEPT\n"),
    # ... also in a chain raw OUTPUT jumps to
    ("iptables -t raw -N U\niptables -t raw -A OUTPUT -j U\n"
     "iptables -t raw -A U -m conntrack --ctstate NEW -j CT --notrack\n"
     "iptables -A OUTPUT -m conntrack --ctstate NEW -j DROP\n", "iptables -P OUTPUT ACCEPT\n"),
])
def test_differences_untracking_makes_or_leaves_are_still_found(a, b):
    assert output_differences(a, b)
