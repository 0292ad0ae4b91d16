"""Matches and targets that count, time or rewrite per connection, in the real kernel: the same
save file loaded with iptables-legacy and as fwmigrate's nft, the same probes through both
(tests/differential.py), compared probe by probe: connbytes, quota, --ctexpire, CONNMARK
shifts, multiport --ports, a SYNPROXY handshake; and what the output's header notes promise
(accounting turned on by loading, TRACE read with `nft monitor trace`, apply's quota warning).

Most probes are UDP datagrams of 5 bytes (33 bytes of IPv4) from one source port, so that the
probes of one scenario are one connection whose counters grow by one packet each."""

from __future__ import annotations

import pytest
from differential import (
    Probe,
    compare,
    for_synproxy,
    fwmigrate_nft,
    load_legacy,
    load_nft,
    run_scenario,
    scenario,
)

pytestmark = pytest.mark.kernel

ME, FW = "192.168.10.2", "192.168.10.1"
HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def _both(tmp_path, rules: str, probes: int, sport: int = 40000):
    """(legacy outcomes, nft outcomes, mismatches) of `probes` datagrams of one connection."""
    save = HEAD + rules + "COMMIT\n"
    (tmp_path / "fw.save").write_text(save)
    translated = fwmigrate_nft(str(tmp_path / "fw.save"))
    steps = scenario([], [Probe("udp", "lan", ME, FW, 1234, sport)] * probes)
    legacy = lambda fw: load_legacy(fw, save)          # noqa: E731
    ours = lambda fw: load_nft(fw, translated)         # noqa: E731
    return (run_scenario(legacy, steps), run_scenario(ours, steps),
            compare(legacy, ours, steps), translated)


def _kinds(outcomes):
    return [o.split()[0] for o in outcomes]


def test_connbytes_counts_the_connections_packets_as_iptables_does(kernel, tmp_path):
    # the third and later datagrams of the connection are dropped (its original direction
    # has counted 3 packets by the time the third one is tested)
    rules = ("-A INPUT -p udp -m udp --dport 1234 -m connbytes --connbytes 3 "
             "--connbytes-mode packets --connbytes-dir original -j DROP\n")
    legacy, ours, mismatches, text = _both(tmp_path, rules, 4)
    assert "ct original packets >= 3" in text
    assert not mismatches
    assert _kinds(ours) == ["answered", "answered", "silent", "silent"]


def test_connbytes_inverted_range_of_bytes_both_ways(kernel, tmp_path):
    # both directions: the first datagram is 33 bytes (inside 1:99); its answer (the echoed
    # addresses, 53 bytes) and the second datagram take the connection past 99
    rules = ("-A INPUT -p udp -m udp --dport 1234 -m connbytes ! --connbytes 1:99 "
             "--connbytes-mode bytes --connbytes-dir both -j DROP\n")
    legacy, ours, mismatches, _ = _both(tmp_path, rules, 4)
    assert not mismatches
    assert _kinds(ours) == ["answered", "silent", "silent", "silent"]


def test_loading_a_connbytes_rule_turns_conntrack_accounting_on(netns):
    # what the output's header says: no sysctl is needed before loading
    from fwmigrate.convert import ConvertOptions, convert
    netns.run("sysctl", "-w", "net.netfilter.nf_conntrack_acct=0")
    text = convert("iptables -A INPUT -m connbytes --connbytes 3 --connbytes-mode bytes "
                   "--connbytes-dir reply -j DROP\n", "t.sh", ConvertOptions()).output
    assert "turns\n# conntrack accounting on" in text
    netns.run("nft", "-f", "-", input=text)
    assert netns.run("sysctl", "-n", "net.netfilter.nf_conntrack_acct").stdout.strip() == "1"


@pytest.mark.parametrize("rules", [
    "-A INPUT -p udp -m udp --dport 1234 -m quota --quota 66 -j ACCEPT\n"
    "-A INPUT -p udp -m udp --dport 1234 -j DROP\n",
    "-A INPUT -p udp -m udp --dport 1234 -m quota ! --quota 66 -j DROP\n",
])
def test_quota_lets_the_packet_that_uses_it_up_exactly_through(kernel, tmp_path, rules):
    # two 33-byte datagrams use a 66-byte quota up exactly: the second still fits (xt_quota:
    # quota >= len; nft_quota on Linux 6.16+: consumed > quota is over), the third does not
    legacy, ours, mismatches, text = _both(tmp_path, rules, 3)
    assert "quota" in text
    assert not mismatches
    assert _kinds(ours) == ["answered", "answered", "silent"]


@pytest.mark.parametrize("release, warned", [("6.15.9-generic", True), ("5.10.0", True),
                                             ("6.16.0", False), ("6.18.44-fc", False)])
def test_apply_warns_about_quotas_on_kernels_before_6_16(release, warned):
    from fwmigrate.apply.transaction import quota_warning
    from fwmigrate.backends.nft_translate import translate
    from fwmigrate.convert import ConvertOptions, read
    with_quota = translate(read("iptables -A INPUT -m quota --quota 5 -j ACCEPT\n", "q.sh",
                                ConvertOptions())[0]).ruleset
    without = translate(read("iptables -A INPUT -j ACCEPT\n", "a.sh",
                             ConvertOptions())[0]).ruleset
    assert bool(quota_warning(with_quota, release)) == warned
    assert quota_warning(without, release) == []


@pytest.mark.parametrize("rules, kinds", [
    # the first datagram's entry is new (no time left yet: 0); once answered, each later
    # datagram refreshes it to the 30 s of an unreplied-stream UDP entry before INPUT
    ("-A INPUT -p udp -m udp --dport 1234 -m conntrack --ctexpire 25:35 -j DROP\n",
     ["answered", "silent", "silent"]),
    ("-A INPUT -p udp -m udp --dport 1234 -m conntrack ! --ctexpire 1:35 -j DROP\n",
     ["silent", "silent", "silent"]),
])
def test_ctexpire_compares_whole_seconds_as_iptables_does(kernel, tmp_path, rules, kinds):
    legacy, ours, mismatches, text = _both(tmp_path, rules, 3)
    assert "ct expiration" in text
    assert not mismatches
    assert _kinds(ours) == kinds


def test_connmark_shifts_move_the_mark_as_iptables_does(kernel):
    # port 53: the packet mark 0x1200, saved to the connection shifted right by 8 (0x12);
    # port 54: a new connection's mark set to 0xd shifted left by 8 (0xd00), then restored
    # to the packet shifted back (0xd)
    save = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp -m udp --dport 53 -j MARK --set-xmark 0x1200/0xffffffff\n"
            "-A PREROUTING -p udp -m udp --dport 53 -j CONNMARK --save-mark --nfmask 0xff00 "
            "--ctmask 0xffffffff --right-shift-mark 8\n"
            "-A PREROUTING -p udp -m udp --dport 54 -j CONNMARK --set-xmark 0xd/0x63 "
            "--left-shift-mark 8\n"
            "-A PREROUTING -p udp -m udp --dport 54 -j CONNMARK --restore-mark --nfmask "
            "0xffffffff --ctmask 0xff00 --right-shift-mark 8\n"
            "COMMIT\n" + HEAD +
            "-A INPUT -p udp -m udp --dport 53 -m connmark --mark 0x12 -j DROP\n"
            "-A INPUT -p udp -m udp --dport 54 -m mark --mark 0xd -j DROP\nCOMMIT\n")
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "fw.save").write_text(save)
        translated = fwmigrate_nft(str(Path(tmp) / "fw.save"))
    assert ">> 8" in translated and "<< 8" in translated
    steps = scenario([Probe("udp", "lan", ME, FW, 53), Probe("udp", "lan", ME, FW, 54)])
    legacy = lambda fw: load_legacy(fw, save)          # noqa: E731
    ours = lambda fw: load_nft(fw, translated)         # noqa: E731
    assert not compare(legacy, ours, steps)
    # dropped only where the shifted marks are right (a missing shift would let them through)
    assert _kinds(run_scenario(ours, steps)) == ["silent", "silent"]


def test_synproxy_completes_the_handshake_as_iptables_does(kernel, tmp_path):
    # the usual set-up: SYNs to port 80 from eth1 untracked (not the proxy's own SYN to the
    # server, which loops back through lo), SYNPROXY answers them and, on the client's ACK
    # (INVALID with loose tracking off), opens the connection to the server
    save = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A PREROUTING -i eth1 -p tcp -m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK SYN "
            "-j CT --notrack\nCOMMIT\n" + HEAD +
            "-A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate INVALID,UNTRACKED "
            "-j SYNPROXY --sack-perm --timestamp --mss 1460\n"
            "-A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate INVALID -j DROP\n"
            "-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n")
    (tmp_path / "fw.save").write_text(save)
    translated = fwmigrate_nft(str(tmp_path / "fw.save"))
    # (no --wscale: with it the MSS the server's socket reports varies from run to run,
    # under iptables-legacy as under nft)
    assert "synproxy mss 1460 timestamp sack-perm" in translated

    steps = scenario([Probe("tcp", "lan", ME, FW, 80), Probe("tcp", "lan", ME, FW, 22)])
    legacy = for_synproxy(lambda fw: load_legacy(fw, save))
    ours = for_synproxy(lambda fw: load_nft(fw, translated))
    assert not compare(legacy, ours, steps)
    kinds = _kinds(run_scenario(ours, steps))
    assert kinds == ["open", "timeout"]


def test_trace_reports_to_nft_monitor_trace(netns):
    # what the output's header says: the traced packet shows up in `nft monitor trace`
    import subprocess
    import time

    from fwmigrate.convert import ConvertOptions, convert
    text = convert("iptables -t raw -A OUTPUT -p udp -j TRACE\n", "t.sh",
                   ConvertOptions()).output
    assert "nft monitor trace" in text
    netns.run("ip", "link", "set", "lo", "up")
    netns.run("nft", "-f", "-", input=text)
    monitor = subprocess.Popen(["ip", "netns", "exec", netns.name, "stdbuf", "-oL", "nft",
                                "monitor", "trace"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        netns.run("python3", "-c", "import socket; socket.socket(socket.AF_INET, "
                  "socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))")
        time.sleep(0.5)
    finally:
        monitor.terminate()
    out, _ = monitor.communicate(timeout=5)
    assert "trace id" in out and "udp dport 9" in out, out


@pytest.mark.parametrize("rules", [
    "-A INPUT -p udp -m multiport --ports 53,40000:40010 -j ACCEPT\n-A INPUT -p udp -j DROP\n",
    "-A INPUT -p udp -m multiport ! --ports 53,40000:40010 -j DROP\n",
])
def test_multiport_ports_is_either_port_as_iptables_does(kernel, tmp_path, rules):
    # the destination in the list; the source in the list (twice: the range's ends); neither
    save = HEAD + rules + "COMMIT\n"
    (tmp_path / "fw.save").write_text(save)
    translated = fwmigrate_nft(str(tmp_path / "fw.save"))
    assert "udp sport . udp dport" in translated
    probes = [Probe("udp", "lan", ME, FW, 53, 41000), Probe("udp", "lan", ME, FW, 1234, 40000),
              Probe("udp", "lan", ME, FW, 1234, 40010), Probe("udp", "lan", ME, FW, 1234, 40011),
              Probe("udp", "lan", ME, FW, 54, 39999)]
    steps = scenario(probes)
    legacy = lambda fw: load_legacy(fw, save)          # noqa: E731
    ours = lambda fw: load_nft(fw, translated)         # noqa: E731
    assert not compare(legacy, ours, steps)
    assert _kinds(run_scenario(ours, steps)) == ["answered"] * 3 + ["silent"] * 2
