"""-j CT --zone-orig N / --zone-reply N: a template whose zone holds for one direction only
(the other is in zone 0). fwmigrate writes nft's `ct original zone set N` / `ct reply zone set
N`, which give the template the same zone and direction (nft_ct_set_zone_eval, as xt_CT's
check does). Shown on the lookups conntrack does with them: a connection is opened by a
datagram A (port P → 9) and a datagram B comes back (9 → P), each with or without a -j CT;
whether B is found as A's reply (ESTABLISHED) or starts a connection of its own (NEW) depends
on the zones and their directions. The same traffic through iptables-legacy and fwmigrate's
nft must give the same states and zones."""

from __future__ import annotations

import sys

import pytest

from fwmigrate.convert import ConvertOptions, convert

from netns import namespace

pytestmark = pytest.mark.kernel

# source port of A → (A's -j CT, B's -j CT); "" for none
CASES = {5001: ("--zone-orig 5", ""), 5002: ("--zone-orig 5", "--zone 5"),
         5003: ("--zone-orig 5", "--zone-orig 5"), 5004: ("--zone-reply 5", ""),
         5005: ("--zone-reply 5", "--zone 5"), 5006: ("--zone-reply 5", "--zone-reply 5"),
         5007: ("", "--zone-orig 5"), 5008: ("", "--zone-reply 5"), 5009: ("", "")}
# A, then B; prints what became of each B: sent (and received) or refused (EPERM: conntrack
# dropped it, as it does a new entry that clashes with one confirmed before)
SEND = ("import socket\nback = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "back.bind(('127.0.0.1', 9))\nback.settimeout(1)\nfor p in {ports}:\n"
        " s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n s.bind(('127.0.0.1', p))\n"
        " s.settimeout(1)\n s.sendto(b'a', ('127.0.0.1', 9))\n back.recvfrom(9)\n"
        " try:\n  back.sendto(b'b', ('127.0.0.1', p))\n  s.recvfrom(9)\n  print(p, 'sent')\n"
        " except PermissionError:\n  print(p, 'refused')\n")
# what the filter OUTPUT hook (after conntrack) sees of each A and B
A_TESTS = ("ct original zone 5", "ct reply zone 5", "ct zone 5")
B_TESTS = ("ct state new", "ct state established", "ct direction reply", "ct original zone 5",
           "ct reply zone 5")


def _script(cases) -> str:
    out = ""
    for port, (a, b) in cases.items():
        if a:
            out += f"iptables -t raw -A OUTPUT -p udp --sport {port} --dport 9 -j CT {a}\n"
        if b:
            out += f"iptables -t raw -A OUTPUT -p udp --sport 9 --dport {port} -j CT {b}\n"
    return out


def _observer(cases) -> str:
    rules = "".join(f"udp sport {p} udp dport 9 {t} counter\n" for p in cases for t in A_TESTS)
    rules += "".join(f"udp sport 9 udp dport {p} {t} counter\n" for p in cases for t in B_TESTS)
    return ("table ip obs {\n chain o {\n type filter hook output priority 0;\n"
            f"{rules} }}\n}}\n")


def _run(load: str, script: str, cases) -> list[str]:
    with namespace("fwm-ctzone") as ns:
        ns.run("ip", "link", "set", "lo", "up")
        if load == "legacy":
            for line in script.splitlines():
                ns.run("iptables-legacy", *line.split()[1:])
        else:
            ns.nft("-f", "-", input=load)
        ns.nft("-f", "-", input=_observer(cases))
        sent = ns.run(sys.executable, "-c", SEND.format(ports=list(cases))).stdout.split()
        out = ns.nft("list", "table", "ip", "obs").stdout
        return sent[1::2] + [line.split("packets ")[1].split()[0] for line in out.splitlines()
                             if "counter" in line]


def test_a_zone_for_one_direction_behaves_as_under_iptables(kernel):
    script = _script(CASES)
    translated = convert(script, "zones.sh", ConvertOptions()).output
    assert "ct original zone set 5" in translated and "ct reply zone set 5" in translated
    legacy = _run("legacy", script, CASES)
    assert legacy == _run(translated, script, CASES)
    n = len(CASES)
    sent, a = legacy[:n], legacy[n:n + n * len(A_TESTS)]
    b = legacy[n + n * len(A_TESTS):]
    state = {p: (sent[i], b[i * len(B_TESTS):i * len(B_TESTS) + 2]) for i, p in enumerate(CASES)}
    # the directions matter: A's zone holds for its own direction only; B is A's reply
    # (ESTABLISHED) in some cases and not in others, where conntrack drops some of the new
    # entries that clash with A's (EPERM)
    assert a[:3] == ["1", "0", "1"] and a[9:12] == ["0", "1", "1"], a
    assert state[5001] == ("sent", ["0", "1"]) and state[5004] == ("refused", ["1", "0"])
    assert state[5008] == ("sent", ["1", "0"]) and state[5009] == ("sent", ["0", "1"])
    # one zone for both directions instead of one direction is not the same
    both = convert(script.replace("--zone-orig", "--zone").replace("--zone-reply", "--zone"),
                   "zones.sh", ConvertOptions()).output
    assert _run(both, script, CASES) != legacy


def test_a_zone_for_one_direction_reads_back(kernel):
    from fwmigrate.verify.roundtrip import round_trip
    report = round_trip(_script(CASES), "zones.sh", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel + report.restore]
    assert report.rules == 12
