"""The nft reader keeps a rule's counter values as the IR rule's counters (as the iptables-save
reader keeps `[P:B]`), where they count what an iptables rule's counters count: the packets
that pass every test of the rule. A counter before a test counts more (and a rule split into
several, one per element of an anonymous set, counts their sum): those are left out."""

from __future__ import annotations

import json
import sys

import pytest

from fwmigrate.backends.iptables_save import rule_line
from fwmigrate.errors import Diagnostics
from fwmigrate.frontends.nft_ruleset import read_nft_json

RULESET = """table ip t {
 chain c {
  type filter hook input priority 0; policy accept;
  udp dport 9 counter
  meta l4proto udp counter ip saddr 127.0.0.2 accept
  ip saddr { 127.0.0.1, 127.0.0.3 } counter
  meta l4proto udp counter log group 1 counter accept
 }
}
"""

SEND = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "for _ in range(3):\n    s.sendto(b'hello', ('127.0.0.1', 9))\n")


def _counted(listing) -> list:
    """Each rule's counters in the kernel's listing (packets, bytes), in order."""
    out = []
    for item in listing["nftables"]:
        rule = item.get("rule")
        if rule:
            out.append([(s["counter"]["packets"], s["counter"]["bytes"])
                        for s in rule["expr"] if "counter" in s])
    return out


@pytest.mark.kernel
def test_counters_of_a_ruleset_that_saw_traffic_are_read(netns):
    netns.run("ip", "link", "set", "lo", "up")
    netns.nft("-f", "-", input=RULESET)
    netns.run(sys.executable, "-c", SEND)
    listing = json.loads(netns.nft("-j", "list", "ruleset").stdout)
    counted = _counted(listing)
    assert counted[0][0] == (3, 3 * 33), counted      # three datagrams of 5 bytes
    diags = Diagnostics()
    ruleset = read_nft_json(listing, "kernel", diags)
    assert not diags.errors, [d.message for d in diags.errors]
    rules = [r for t in ruleset.tables for c in t.chains for r in c.rules]
    assert len(rules) == 6, rules
    # 1: after every test
    assert (rules[0].counters.packets, rules[0].counters.bytes) == counted[0][0]
    assert rule_line("c", rules[0]).startswith(f"[{counted[0][0][0]}:{counted[0][0][1]}] -A c ")
    # 2: before the address test, it counts what the rule does not match: not kept
    assert rules[1].counters is None
    # 3: one rule per element of the set: each would count only its own
    assert all(r.counters is None for r in rules[2:4])
    # 4: NFLOG then ACCEPT, two iptables rules, each counting the packets both counters
    # (after every test) count
    assert [getattr(r.target, "name", None) for r in rules[4:]] == ["NFLOG", "ACCEPT"]
    assert all((r.counters.packets, r.counters.bytes) == counted[3][1] for r in rules[4:])
