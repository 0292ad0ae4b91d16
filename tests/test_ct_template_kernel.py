"""-j CT in the raw table attaches a template conntrack entry to the packet, which the rules
after it meet before conntrack replaces it: xt_conntrack and xt_connmark read the template as
an entry (state NEW, status CONFIRMED, no NAT bits, mark 0), while nft's ct keys other than
`ct state` stop the rule at it. Measured here; fwmigrate refuses such tests where a template
can reach them (backends/nft_ct_templates.py; the refusals: test_ct_split.py)."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.kernel

SEND = ("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
        ".sendto(b'x', ('127.0.0.1', 9))")
# iptables' test → fwmigrate's nft for it (where no -j CT comes before: the vectors)
TESTS = [("-m conntrack --ctstate NEW", "ct state new"),
         ("-m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT",
          "ct state new ct status ! dnat"),
         ("-m conntrack --ctstatus CONFIRMED", "ct status confirmed"),
         ("-m connmark --mark 0x0", "ct mark 0x0"),
         ("-m conntrack --ctdir ORIGINAL", "ct direction original")]


def _counts_legacy(netns) -> list[str]:
    netns.run("iptables-legacy", "-t", "raw", "-A", "OUTPUT", "-p", "udp", "--dport", "9",
              "-j", "CT", "--zone", "1")
    for test, _ in TESTS:
        netns.run("iptables-legacy", "-t", "raw", "-A", "OUTPUT", "-p", "udp", "--dport", "9",
                  *test.split())
    netns.run(sys.executable, "-c", SEND)
    listing = netns.run("iptables-legacy", "-t", "raw", "-L", "OUTPUT", "-v", "-n", "-x").stdout
    netns.run("iptables-legacy", "-t", "raw", "-F")
    return [line.split()[0] for line in listing.splitlines()[3:]]


def _counts_nft(netns) -> list[str]:
    rules = "".join(f"udp dport 9 {nft} counter\n" for _, nft in TESTS)
    netns.nft("-f", "-", input="table ip t {\n chain o {\n"
              " type filter hook output priority -300;\n udp dport 9 ct zone set 1\n"
              f"{rules} }}\n}}\n")
    netns.run(sys.executable, "-c", SEND)
    out = netns.nft("list", "chain", "ip", "t", "o").stdout
    return [line.split("packets ")[1].split()[0] for line in out.splitlines()
            if "counter" in line]


def test_after_ct_only_the_state_reads_the_same(netns):
    netns.run("ip", "link", "set", "lo", "up")
    legacy, nft = _counts_legacy(netns), _counts_nft(netns)
    assert legacy == ["1", "1", "1", "1", "1"]
    assert nft == ["1", "0", "0", "0", "0"]
