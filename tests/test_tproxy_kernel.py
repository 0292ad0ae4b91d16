"""-j TPROXY against fwmigrate's nft in the real kernel: with a transparent socket listening,
the packet is marked and accepted; without one, xt_TPROXY drops it, and so must the nft
translation (nft's tproxy only ends its rule: the rule fwmigrate writes after it drops). Each
run has its namespace; an nft probe after the mangle hook counts what comes through and how
it is marked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from packets import TCP, UDP, Bench, ipv4, tcp, udp

from fwmigrate.convert import ConvertOptions, convert

from netns import namespace

pytestmark = pytest.mark.kernel

RULES = ["-A PREROUTING -i fwx1 -p tcp -m tcp --dport 80 -j TPROXY --on-port 3129 "
         "--on-ip 127.0.0.1 --tproxy-mark 0x1/0x1",
         "-A PREROUTING -i fwx1 -p udp -m udp --dport 53 -j TPROXY --on-port 5353 "
         "--tproxy-mark 0x2/0x2"]
SAVE = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" + "\n".join(RULES) + "\nCOMMIT\n")
# after the mangle hook (-150): what passed, and with which mark
PROBE = """table ip probe {
    chain c {
        type filter hook prerouting priority -100;
        iifname "fwx1" meta mark 0x1 counter
        iifname "fwx1" meta mark 0x2 counter
        iifname "fwx1" counter
    }
}
"""
# transparent sockets for both rules (IP_TRANSPARENT: tproxy takes only such sockets)
LISTENER = r"""
import socket, sys
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_IP, 19, 1)
t.bind(("0.0.0.0", 3129)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_IP, 19, 1)
u.bind(("0.0.0.0", 5353))
print("ready", flush=True)
sys.stdin.read()
"""


def _counts(ns) -> list[int]:
    listing = json.loads(ns.nft("-j", "list", "chain", "ip", "probe", "c").stdout)["nftables"]
    return [e["counter"]["packets"] for item in listing if "rule" in item
            for e in item["rule"]["expr"] if "counter" in e]


def _run(how: str, packets_with, packets_without) -> list[list[int]]:
    """Per packet, the probe's counts (mark 1, mark 2, any): first with the sockets
    listening, then without them."""
    with namespace("fwm-tproxy") as ns:
        bench = Bench(ns)
        try:
            ns.run("ip", "link", "set", "lo", "up")
            if how == "iptables":
                ns.run("iptables-legacy-restore", input=SAVE)
            else:
                ns.nft("-f", "-", input=convert(SAVE, "tproxy.save",
                                                ConvertOptions(to="nft")).output)
            ns.nft("-f", "-", input=PROBE)
            listener = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c",
                                         LISTENER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
            assert listener.stdout.readline() == "ready\n"
            out = []
            for packets in (packets_with, packets_without):
                for packet in packets:
                    before = _counts(ns)
                    bench.send(packet)
                    out.append([b - a for a, b in zip(before, _counts(ns), strict=True)])
                listener.stdin.close()
                listener.wait(timeout=10)
            return out
        finally:
            bench.close()


def test_tproxy_marks_and_accepts_with_a_socket_and_drops_without_one_as_iptables_does(kernel):
    def packets(sport):
        return [ipv4(TCP, tcp(80, sport=sport), dst="192.0.2.9"),     # to the TCP socket
                ipv4(UDP, udp(53, sport=sport), dst="192.0.2.9"),     # to the UDP socket
                ipv4(TCP, tcp(81, sport=sport), dst="192.0.2.9")]     # no rule: untouched
    legacy = _run("iptables", packets(41000), packets(42000))
    # with sockets: marked and accepted; without: dropped (the probe never sees them)
    assert legacy == [[1, 0, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 1]]
    assert _run("fwmigrate", packets(41000), packets(42000)) == legacy


def test_the_reader_refuses_a_tproxy_rule_without_its_drop(kernel):
    # without the drop after it, a packet with no socket goes on: that is not -j TPROXY
    from fwmigrate.errors import Diagnostics
    from fwmigrate.verify.sources import read_any
    text = convert(SAVE, "tproxy.save", ConvertOptions(to="nft")).output
    kept = "".join(line for line in text.splitlines(keepends=True)
                   if not line.strip().endswith("dport 53 drop"))
    assert kept != text
    diags = Diagnostics()
    read_any(text, "whole.nft", diags)
    assert not diags.errors
    read_any(kept, "cut.nft", diags)
    assert any("tproxy without the drop after it" in d.message for d in diags.errors)


def test_a_port_list_named_for_a_large_ruleset_is_named_in_the_drop_too(kernel):
    # past nft_sets.THRESHOLD literal sets become named sets: the drop after a TPROXY rule
    # must use the same name, or the reader cannot pair the two rules
    from fwmigrate.verify.roundtrip import round_trip
    script = "".join(
        ["iptables -t mangle -A PREROUTING -p tcp -m multiport --dports 80,443 -j TPROXY "
         "--on-port 3129\n"]
        + [f"iptables -A INPUT -s 10.0.{i // 250}.{i % 250 + 1} -p tcp -m multiport "
           "--dports 80,443 -j ACCEPT\n" for i in range(250)])
    out = convert(script, "big.sh", ConvertOptions(to="nft")).output
    assert "\t\ttcp dport @ports_1 drop\n" in out
    report = round_trip(script, "big.sh", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel + report.restore][:3]
