"""-j CT in the raw table attaches a template conntrack entry to the packet, which the rules
after it meet before conntrack replaces it: xt_conntrack and xt_connmark read the template as
an entry (state NEW, status CONFIRMED, no NAT bits, mark 0), while nft's ct keys other than
`ct state` stop the rule at it. Measured here; fwmigrate refuses such tests where a template
can reach them (frontends/ct_templates.py; the refusals: test_ct_split.py and
vectors/conntrack_template.txt). The same for CONNMARK --restore-mark, which copies the
template's mark; what reads alike is kept here too, so that a kernel change is seen. And the
other way round: xt_CT leaves an untracked packet alone, nft's `ct zone set` tracks it."""

from __future__ import annotations

import sys

import pytest
from traffic import CLIENT_ADDR, SERVER_ADDR, udp_send

from netns import namespace

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


# the rest: each run in a namespace of its own (a run leaves conntrack entries and, under
# iptables, a CT rule's template with what CONNMARK wrote to it)
SEND_N = ("import socket\nfor _ in range({n}):\n"
          " socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))\n")
OBSERVER = ("table ip obs {{\n chain i {{\n type filter hook input priority 0;\n"
            "{}\n }}\n}}\n")


def _nft_counts(ns, table: str) -> list[str]:
    out = ns.nft("list", "table", "ip", table).stdout
    return [line.split("packets ")[1].split()[0] for line in out.splitlines()
            if "counter" in line]


def _observed(script: str, nft_text: str, observe: tuple[str, ...], send: str,
              setup: tuple[tuple[str, ...], ...] = (("ip", "link", "set", "lo", "up"),)):
    """The observer's counts of `observe` with `script` loaded by iptables-legacy, then with
    `nft_text` by nft, each in a fresh namespace made ready by `setup`, once `send` has run."""
    counts = []
    for load in ("legacy", "nft"):
        with namespace("fwm-ctraw") as ns:
            for command in setup:
                ns.run(*command)
            if load == "legacy":
                for line in script.splitlines():
                    ns.run("iptables-legacy", *line.split()[1:])
            else:
                ns.nft("-f", "-", input=nft_text)
            ns.nft("-f", "-", input=OBSERVER.format("".join(f"{t} counter\n" for t in observe)))
            ns.run(sys.executable, "-c", send)
            counts.append(_nft_counts(ns, "obs"))
    return counts


def _run_legacy(rules: list[str], packets: int = 1, observe: tuple[str, ...] = ()):
    """iptables-legacy `-t TABLE -A CHAIN …` rules (udp to port 9 added to each), then the
    counters of raw OUTPUT and mangle OUTPUT, and of the nft `observe` tests in input."""
    with namespace("fwm-ctraw") as ns:
        ns.run("ip", "link", "set", "lo", "up")
        for rule in rules:
            table, _, chain, *rest = rule.split()[1:]
            ns.run("iptables-legacy", "-t", table, "-A", chain, "-p", "udp", "--dport", "9",
                   *rest)
        if observe:
            ns.nft("-f", "-", input=OBSERVER.format(
                "".join(f"udp dport 9 {t} counter\n" for t in observe)))
        ns.run(sys.executable, "-c", SEND_N.format(n=packets))
        counts = []
        for table in ("raw", "mangle"):
            listing = ns.run("iptables-legacy", "-t", table, "-L", "OUTPUT", "-v", "-n",
                             "-x").stdout
            counts += [line.split()[0] for line in listing.splitlines()[2:]]
        return counts + (_nft_counts(ns, "obs") if observe else [])


def _run_nft(raw: list[str], mangle: tuple[str, ...] = (), packets: int = 1,
             observe: tuple[str, ...] = (), prerouting: tuple[str, ...] = (),
             sets: str = ""):
    """The same with nft rules in raw OUTPUT (and PREROUTING), mangle OUTPUT, each counted."""
    def chain(name, hook, priority, rules):
        body = "".join(f"udp dport 9 {r} counter\n" for r in rules)
        return f" chain {name} {{\n type filter hook {hook} priority {priority};\n{body} }}\n"
    with namespace("fwm-ctraw") as ns:
        ns.run("ip", "link", "set", "lo", "up")
        ns.nft("-f", "-", input="table ip t {\n" + sets + chain("o", "output", -300, raw)
               + chain("m", "output", -150, mangle)
               + chain("p", "prerouting", -300, prerouting) + "}\n")
        if observe:
            ns.nft("-f", "-", input=OBSERVER.format(
                "".join(f"udp dport 9 {t} counter\n" for t in observe)))
        ns.run(sys.executable, "-c", SEND_N.format(n=packets))
        counts = _nft_counts(ns, "t")
        # the prerouting chain's counters are last in the listing: not compared here
        counts = counts[:len(raw) + len(mangle)]
        return counts + (_nft_counts(ns, "obs") if observe else [])


def test_restore_mark_copies_the_templates_mark_under_iptables_only(kernel):
    # the packet's mark 7; --restore-mark after -j CT gives it the template's mark: 0 for the
    # first packet, then 5, which the first packet's --set-mark wrote to the shared template.
    # nft's `mark set ct mark` stops at the template: the mark stays 7
    legacy = _run_legacy(["-t raw -A OUTPUT -j MARK --set-mark 7",
                          "-t raw -A OUTPUT -j CT --zone 1",
                          "-t raw -A OUTPUT -j CONNMARK --restore-mark",
                          "-t raw -A OUTPUT -m mark --mark 7",
                          "-t raw -A OUTPUT -m mark --mark 5",
                          "-t raw -A OUTPUT -j CONNMARK --set-mark 5"], packets=2)
    nft = _run_nft(["mark set 0x7", "ct zone set 1", "mark set ct mark", "mark 0x7",
                    "mark 0x5", "ct mark set 0x5"], packets=2)
    assert legacy[3:5] == ["0", "1"]
    assert nft[3:5] == ["2", "0"]


def test_connmark_set_and_save_leave_the_connection_alike(kernel):
    # written to the template (iptables) or not at all (nft): conntrack does not copy a
    # template's mark, so the connection's mark is 0 in both
    legacy = _run_legacy(["-t raw -A OUTPUT -j CT --zone 1",
                          "-t raw -A OUTPUT -j CONNMARK --set-mark 5",
                          "-t raw -A OUTPUT -j MARK --set-mark 6",
                          "-t raw -A OUTPUT -j CONNMARK --save-mark",
                          "-t mangle -A OUTPUT -m connmark --mark 0",
                          "-t mangle -A OUTPUT -m connmark --mark 5",
                          "-t mangle -A OUTPUT -m connmark --mark 6"], packets=2)
    nft = _run_nft(["ct zone set 1", "ct mark set 0x5", "mark set 0x6", "ct mark set mark"],
                   ["ct mark 0x0", "ct mark 0x5", "ct mark 0x6"], packets=2)
    assert legacy == nft == ["2"] * 5 + ["0", "0"]


def test_state_connlabel_connlimit_read_the_template_alike(kernel):
    legacy = _run_legacy(["-t raw -A OUTPUT -j CT --zone 1",
                          "-t raw -A OUTPUT -m state --state NEW",
                          "-t raw -A OUTPUT -m state ! --state NEW",
                          # NAT bits beside every entry state: read as the states alone
                          "-t raw -A OUTPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED,DNAT",
                          "-t raw -A OUTPUT -m conntrack ! --ctstate "
                          "NEW,ESTABLISHED,RELATED,SNAT",
                          "-t raw -A OUTPUT -m connlabel --label 1",
                          "-t raw -A OUTPUT -m connlabel --label 2 --set",
                          "-t raw -A OUTPUT -m connlimit --connlimit-above 0",
                          "-t raw -A OUTPUT -m connlimit --connlimit-upto 1",
                          "-t raw -A OUTPUT -m connlimit --connlimit-upto 2",
                          "-t mangle -A OUTPUT -m connlabel --label 2"], packets=3)
    nft = _run_nft(["ct zone set 1", "ct state new", "ct state != new",
                    "ct state established,related,new", "ct state ! established,related,new",
                    "ct label 1",
                    "ct label set 2 ct label 2", "add @a { ip saddr ct count over 0 }",
                    "add @b { ip saddr ct count 1 }", "add @c { ip saddr ct count 2 }"],
                   ["ct label 2"], packets=3,
                   sets="".join(f" set {s} {{ type ipv4_addr; size 65535; flags dynamic; }}\n"
                                for s in "abc"))
    assert legacy == nft == ["3", "3", "0", "3", "0", "0", "0", "3", "1", "2", "0"]


def test_a_packet_keeps_the_first_ct_in_both(kernel):
    observe = ("ct zone 1", "ct zone 2", "ct state untracked")
    legacy = _run_legacy(["-t raw -A OUTPUT -j CT --zone 1",
                          "-t raw -A OUTPUT -j CT --notrack",
                          "-t raw -A OUTPUT -j NOTRACK",
                          "-t raw -A OUTPUT -j CT --zone 2"], observe=observe)
    nft = _run_nft(["ct zone set 1", "notrack", "notrack", "ct zone set 2"], observe=observe)
    assert legacy == nft == ["1"] * 4 + ["1", "0", "0"]


@pytest.mark.parametrize("where", ["OUTPUT", "PREROUTING"])
def test_ct_zone_set_tracks_an_untracked_packet_where_xt_ct_does_not(kernel, where):
    # after -j CT --notrack in raw OUTPUT, a -j CT --zone 1 of OUTPUT, or of PREROUTING where
    # lo brings the packet back still untracked
    observe = ("ct zone 1", "ct state untracked")
    legacy = _run_legacy(["-t raw -A OUTPUT -j CT --notrack",
                          f"-t raw -A {where} -j CT --zone 1"], observe=observe)
    out, pre = ["notrack"], ["ct zone set 1"]
    nft = _run_nft(out + pre if where == "OUTPUT" else out,
                   prerouting=() if where == "OUTPUT" else tuple(pre), observe=observe)
    assert legacy[-2:] == ["0", "1"]
    assert nft[-2:] == ["1", "0"]


@pytest.mark.parametrize("kind", ["legacy", "nft"])
def test_ct_zone_leaves_a_reject_answer_to_an_untracked_packet_invalid_in_both(netns_pair,
                                                                                kind):
    # the answer carries "no entry, RELATED" (nf_ct_attach): xt_CT leaves it alone, nft's
    # `ct zone set` attaches a template; conntrack finds no connection it belongs to either
    # way, so the answer is INVALID, without an entry in zone 1, in both
    server, client = netns_pair
    if kind == "legacy":
        for rule in ("-t raw -A PREROUTING -p udp --dport 9 -j NOTRACK",
                     "-t raw -A OUTPUT -p icmp -j CT --zone 1",
                     "-A INPUT -p udp --dport 9 -j REJECT"):
            server.run("iptables-legacy", *rule.split())
    else:
        server.nft("-f", "-", input=(
            "table ip t {\n chain p {\n type filter hook prerouting priority -300;\n"
            " udp dport 9 notrack\n }\n chain o {\n type filter hook output priority -300;\n"
            " ip protocol icmp ct zone set 1\n }\n chain i {\n type filter hook input "
            "priority 0;\n udp dport 9 reject\n }\n}\n"))
    tests = ("ct state invalid", "ct state related", "ct state new", "ct zone 1", "")
    server.nft("-f", "-", input="table ip obs {\n chain o {\n type filter hook output "
               "priority -150;\n" + "".join(f"icmp type destination-unreachable {t} counter\n"
                                            for t in tests) + " }\n}\n")
    udp_send(client, CLIENT_ADDR, SERVER_ADDR, 9)
    assert _nft_counts(server, "obs") == ["1", "0", "0", "0", "1"]


# a udp datagram to port 9 and a tcp SYN to port 7 (refused) over lo
SEND_BOTH = (SEND + "\nimport socket\ntry:\n socket.create_connection(('127.0.0.1', 7), 2)\n"
             "except OSError:\n pass\n")
BY_PROTOCOL = ("iptables -t raw -A OUTPUT -p udp --dport 9 -j NOTRACK\n"
               "iptables -t raw -A OUTPUT -p tcp -j CT --zone 5\n"
               "iptables -t raw -A PREROUTING -i lo -p tcp -j CT --zone 5\n")


def test_ct_zone_after_notrack_of_another_protocol_behaves_alike(kernel):
    # the untracked udp packet never meets the tcp rules (nor, looped back, PREROUTING's):
    # fwmigrate translates them, and the kernel shows the same zones and states
    from fwmigrate.convert import ConvertOptions, convert
    from fwmigrate.verify.roundtrip import round_trip
    observe = ("udp dport 9 ct state untracked", "udp dport 9 ct zone 5",
               "tcp dport 7 ct zone 5", "tcp dport 7 ct state untracked")
    translated = convert(BY_PROTOCOL, "p.sh", ConvertOptions()).output
    counts = _observed(BY_PROTOCOL, translated, observe, SEND_BOTH)
    assert counts[0] == counts[1] == ["1", "0", "1", "0"]
    report = round_trip(BY_PROTOCOL, "p.sh", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel + report.restore]


TEE = ("iptables -t raw -A OUTPUT -p udp --dport 9 -j CT --zone 5\n"
       "iptables -t mangle -A OUTPUT -p udp --dport 9 -j TEE --gateway 127.0.0.1\n")
HAND_TEE = ("table ip t {\n chain raw_OUTPUT {\n type filter hook output priority -300;\n"
            " udp dport 9 ct zone set 5\n }\n chain mangle_OUTPUT {\n"
            " type route hook output priority -150;\n udp dport 9 dup to 127.0.0.1\n }\n}\n")


def test_ct_zone_set_tracks_a_tee_copy_where_xt_ct_does_not(kernel):
    # TEE's copy (nft: dup) goes out through raw OUTPUT untracked (nf_dup_ipv4): xt_CT leaves
    # it so, `ct zone set` tracks it in the zone; fwmigrate refuses the -j CT (test_ct_split),
    # and the reader the nft rules
    from fwmigrate.errors import Diagnostics
    from fwmigrate.verify.sources import read_any
    observe = ("udp dport 9 ct state untracked", "udp dport 9 ct zone 5", "udp dport 9")
    counts = _observed(TEE, HAND_TEE, observe, SEND)
    # the original and the copy arrive: the copy untracked under iptables, in zone 5 in nft
    assert counts == [["1", "1", "2"], ["0", "2", "2"]]
    diags = Diagnostics()
    read_any(HAND_TEE, "tee.nft", diags)
    [error] = diags.errors
    assert "raw_OUTPUT" in str(error.loc) and "TEE" in error.message, error.render()


BEFORE_CT = (
    # raw OUTPUT before the -j CT: no entry yet (conntrack comes after raw), in both
    "iptables -t raw -A OUTPUT -p udp --dport 9 -m conntrack --ctstatus CONFIRMED "
    "-j MARK --or-mark 0x1\n"
    "iptables -t raw -A OUTPUT -p udp --dport 9 -m connmark --mark 0 -j MARK --or-mark 0x2\n"
    "iptables -t raw -A OUTPUT -p udp --dport 9 -m conntrack ! --ctstate DNAT "
    "-j MARK --or-mark 0x4\n"
    "iptables -t raw -A OUTPUT -p udp --dport 9 -j CONNMARK --restore-mark\n"
    "iptables -t raw -A OUTPUT -p udp --dport 9 -j CT --zone 1\n"
    # back on lo, before PREROUTING's -j CT: the real entry OUTPUT's conntrack made
    "iptables -t raw -A PREROUTING -p udp --dport 9 -m conntrack --ctstatus CONFIRMED "
    "-j MARK --or-mark 0x8\n"
    "iptables -t raw -A PREROUTING -p udp --dport 9 -j CT --zone 2\n")


def test_template_readers_before_the_ct_behave_alike(kernel):
    # fwmigrate translates the rules that read a template's entry where they come before the
    # -j CT that attaches it; the kernel gives the packets the same marks and zone
    from fwmigrate.convert import ConvertOptions, convert
    from fwmigrate.verify.roundtrip import round_trip
    translated = convert(BEFORE_CT, "before.sh", ConvertOptions()).output
    observe = ("udp dport 9 meta mark 0xc", "udp dport 9 ct zone 1", "udp dport 9")
    counts = _observed(BEFORE_CT, translated, observe, SEND_N.format(n=2))
    assert counts[0] == counts[1] == ["2", "2", "2"]
    report = round_trip(BEFORE_CT, "before.sh", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel + report.restore]


def _proxy_save(reader: str) -> str:
    """A SYNPROXY set-up (as in test_counters_kernel) with `reader` on the SYN the proxy
    sends the server, in raw OUTPUT."""
    return ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A PREROUTING -i eth1 -p tcp -m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK SYN "
            "-j CT --notrack\n-A OUTPUT -p tcp -m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK "
            f"SYN {reader} -j DROP\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n"
            ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate INVALID,UNTRACKED "
            "-j SYNPROXY --sack-perm --timestamp --mss 1460\n"
            "-A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate INVALID -j DROP\n"
            "COMMIT\n")


def test_synproxy_sends_its_syn_with_a_template_xt_conntrack_reads(kernel):
    # the proxy's SYN to the server carries its template (status CONFIRMED) through raw
    # OUTPUT: --ctstatus CONFIRMED drops it under iptables, nft's `ct status` stops at the
    # template (as fwmigrate once wrote it): the connection opens. The state reads alike.
    from differential import (
        Probe,
        for_synproxy,
        load_legacy,
        load_nft,
        run_scenario,
        scenario,
    )

    from fwmigrate.convert import ConvertOptions, convert
    from fwmigrate.errors import Diagnostics, FwmigrateError
    from fwmigrate.verify.sources import read_any

    def outcome(load) -> str:
        steps = scenario([Probe("tcp", "lan", "192.168.10.2", "192.168.10.1", 80)])
        return run_scenario(for_synproxy(load), steps)[0].split()[0]

    status, state = (_proxy_save("-m conntrack --ctstatus CONFIRMED"),
                     _proxy_save("-m conntrack --ctstate NEW"))
    with pytest.raises(FwmigrateError) as info:
        convert(status, "proxy.save", ConvertOptions())
    [error] = info.value.diagnostics
    assert "SYNPROXY" in error.message and error.loc.line == 5, error
    translated = convert(state, "proxy.save", ConvertOptions()).output
    assert outcome(lambda fw: load_legacy(fw, state)) == "timeout"
    assert outcome(lambda fw: load_nft(fw, translated)) == "timeout"
    written = translated.replace("ct state new drop", "ct status confirmed drop")
    assert written != translated
    assert outcome(lambda fw: load_legacy(fw, status)) == "timeout"
    assert outcome(lambda fw: load_nft(fw, written)) == "open"
    diags = Diagnostics()
    read_any(written, "proxy.nft", diags)
    [error] = diags.errors
    assert "raw_OUTPUT" in str(error.loc) and "SYNPROXY" in error.message, error.render()


# raw OUTPUT untracks a broadcast; the kernel loops a copy of it back (ip_mc_output,
# dev_loopback_xmit) into PREROUTING on the interface it went out of, not on lo, untracked
BROADCAST = ("iptables -t raw -A OUTPUT -p udp --dport 9 -j NOTRACK\n"
             "iptables -t raw -A PREROUTING -i veth0 -p udp --dport 9 -j CT --zone 5\n")
HAND_BROADCAST = ("table ip t {\n chain raw_OUTPUT {\n type filter hook output priority -300;\n"
                  " udp dport 9 notrack\n }\n chain raw_PREROUTING {\n type filter hook "
                  "prerouting priority -300;\n iifname \"veth0\" udp dport 9 ct zone set 5\n"
                  " }\n}\n")
SEND_LOOPED = {
    "broadcast": "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)\n"
                 "s.sendto(b'x', ('10.9.0.255', 9))\n",
    # to a group the host is a member of (else the kernel loops nothing back)
    "multicast": "r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                 "r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,\n"
                 "             socket.inet_aton('239.1.1.1') + socket.inet_aton('10.9.0.1'))\n"
                 "s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,\n"
                 "             socket.inet_aton('10.9.0.1'))\n"
                 "s.sendto(b'x', ('239.1.1.1', 9))\n"}


# veth0 (10.9.0.1/24) and its peer up, multicast routed out of veth0
SETUP_VETH = (("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"),
              ("ip", "addr", "add", "10.9.0.1/24", "brd", "10.9.0.255", "dev", "veth0"),
              ("ip", "link", "set", "lo", "up"), ("ip", "link", "set", "veth0", "up"),
              ("ip", "link", "set", "veth1", "up"),
              ("ip", "route", "add", "224.0.0.0/4", "dev", "veth0"))


@pytest.mark.parametrize("kind", sorted(SEND_LOOPED))
def test_ct_zone_set_tracks_a_looped_broadcast_on_its_interface_where_xt_ct_does_not(kernel,
                                                                                     kind):
    # the looped copy of a broadcast (or multicast) comes in on veth0 untracked: xt_CT leaves
    # it so, `ct zone set` tracks it in zone 5; fwmigrate refuses the -j CT (it once
    # translated it: lo only), and the reader the nft rules
    from fwmigrate.convert import ConvertOptions, convert
    from fwmigrate.errors import Diagnostics, FwmigrateError
    from fwmigrate.verify.sources import read_any
    observe = ("iifname veth0 udp dport 9 ct state untracked",
               "iifname veth0 udp dport 9 ct zone 5", "iifname veth0 udp dport 9")
    send = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            + SEND_LOOPED[kind])
    counts = _observed(BROADCAST, HAND_BROADCAST, observe, send, setup=SETUP_VETH)
    assert counts == [["1", "0", "1"], ["0", "1", "1"]]
    with pytest.raises(FwmigrateError) as info:
        convert(BROADCAST, "bcast.sh", ConvertOptions())
    [error] = info.value.diagnostics
    assert error.loc.line == 2 and "NOTRACK" in error.message, error
    diags = Diagnostics()
    read_any(HAND_BROADCAST, "bcast.nft", diags)
    [error] = diags.errors
    assert "raw_PREROUTING" in str(error.loc), error.render()
