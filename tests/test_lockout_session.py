"""The lockout guard's idea of the session: --keep and SSH_CONNECTION as users write them, and
NAT rules that send a reconnect somewhere other than this sshd."""

from __future__ import annotations

import ipaddress

import pytest

from fwmigrate.apply.lockout import GuardError, Session, check, session_from_env, session_from_keep
from fwmigrate.convert import ConvertOptions, read

SESSION = Session(ipaddress.ip_address("198.51.100.7"), 40000,
                  ipaddress.ip_address("203.0.113.1"), 22, "eth0", "--keep")


@pytest.mark.parametrize("text", ["10.0.0.7", "10.0.0.7:", "10.0.0.7:99999", "10.0.0.7:0",
                                  "10.0.0.7:-5", "10.0.0.7:+22", "10.0.0.7:2_2",
                                  "2001:db8::7:22", "[2001:db8::7]", "host:22",
                                  "[10.0.0.7:22", "10.0.0.0/8:22"])
def test_malformed_keep_is_refused(text):
    with pytest.raises(GuardError, match="expected CLIENT:PORT"):
        session_from_keep(text)


@pytest.mark.parametrize("text, client, port", [
    ("10.0.0.7:22", "10.0.0.7", 22),
    ("[2001:db8::7]:2222", "2001:db8::7", 2222),
    ("[::ffff:10.0.0.7]:22", "10.0.0.7", 22),     # an IPv4 client seen by an IPv6 socket
    ("10.0.0.7:65535", "10.0.0.7", 65535),
])
def test_keep(text, client, port):
    session = session_from_keep(text)
    assert (str(session.client), session.server_port) == (client, port)


def test_an_ipv4_mapped_ssh_connection_is_walked_as_ipv4():
    """The packets are IPv4: the guard must walk them through iptables' rules, not
    ip6tables'."""
    session = session_from_env("::ffff:198.51.100.7 40000 ::ffff:203.0.113.1 22")
    assert session.client.version == 4 and session.server.version == 4
    cut_v4 = read("iptables -P INPUT DROP\nip6tables -A INPUT -j ACCEPT\n", "fw.sh",
                  ConvertOptions())[0]
    assert check(cut_v4, session).cut


@pytest.mark.parametrize("value", ["10.0.0.7 40000 10.0.0.1", "10.0.0.7 x 10.0.0.1 22",
                                   "10.0.0.7 40000 10.0.0.1 70000"])
def test_malformed_ssh_connection(value):
    with pytest.raises(GuardError, match="SSH_CONNECTION"):
        session_from_env(value)


@pytest.mark.parametrize("nat, where, said", [
    ("-j DNAT --to-destination 192.0.2.50:22", "DNAT", "reconnect goes where"),
    # INPUT sees the port REDIRECT gives it (2222), which it does not let in
    ("-j REDIRECT --to-ports 2222", "REDIRECT", "be refused: DROP by the policy of filter "
     "INPUT (after rule 1 of nat PREROUTING"),
])
def test_a_reconnect_rewritten_by_nat_is_warned_about(nat, where, said):
    """NAT rules see only a connection's first packet: the session itself is not touched, but
    a reconnect would be sent elsewhere, whose handshake the guard does not follow."""
    script = (f"iptables -t nat -A PREROUTING -p tcp --dport 22 {nat}\n"
              "iptables -P INPUT DROP\n"
              "iptables -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n"
              "iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n")
    report = check(read(script, "fw.sh", ConvertOptions())[0], SESSION)
    assert not report.cut
    assert any(where in w and "fw.sh:1" in w and said in w for w in report.reconnect), \
        report.reconnect


@pytest.mark.parametrize("state", ["new", "invalid"])
def test_an_untracked_session_is_walked_as_conntrack_will_see_it(state):
    """Opened before any rule used conntrack, the session is unknown to it: its next packet
    is NEW (picked up; INVALID with nf_conntrack_tcp_loose=0), and ESTABLISHED-only rules
    stop it; a rule that lets it in as such keeps it."""
    established_only = read("iptables -P INPUT DROP\n"
                            "iptables -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n",
                            "fw.sh", ConvertOptions())[0]
    assert not check(established_only, SESSION).cut
    cut = check(established_only, SESSION, state).cut
    assert cut and "conntrack does not track your session yet" in cut[0]
    assert f"ct state {state}" in cut[0]
    opened = read("iptables -P INPUT DROP\n"
                  "iptables -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n"
                  f"iptables -A INPUT -m conntrack --ctstate {state.upper()} -p tcp --dport 22"
                  " -j ACCEPT\n", "fw.sh", ConvertOptions())[0]
    assert not check(opened, SESSION, state).cut


@pytest.mark.kernel
@pytest.mark.parametrize("nat, table_chain", [
    ("-p tcp -m tcp --dport 1234 -j DNAT --to-destination 203.0.113.50", "PREROUTING"),
    ("-p tcp -j REDIRECT --to-ports 22", "PREROUTING"),
    ("-j SNAT --to-source 203.0.113.1", "INPUT"),
])
def test_nat_rewrites_an_untracked_session_that_conntrack_picks_up(netns, nat, table_chain):
    """An untracked session's next packet is a new connection to conntrack, so the nat chains
    see it and their rewrite cuts the session (bench/lockout_fuzz.py seeds 500040, 500051:
    the guard said it kept working). A tracked one NAT leaves alone."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    def rules():
        nat_chains = [Chain(c, c, "ACCEPT") for c in ("PREROUTING", "INPUT", "OUTPUT",
                                                        "POSTROUTING")]
        next(c for c in nat_chains if c.name == table_chain).rules.append(nat)
        return Ruleset({"ip": {"filter": [Chain(c, c, "ACCEPT") for c in
                                          ("INPUT", "FORWARD", "OUTPUT")], "nat": nat_chains}})
    for tracked in (False, True):
        r = lockout_fuzz.Round(0, rules(), "ip", "wan", "198.51.100.7", "203.0.113.10", 1234,
                               1500, tracked)
        v = lockout_fuzz.run_round(r)
        assert v.opened == "alive" and v.guard["untracked"] is not tracked, v
        assert (v.kept == "alive") is tracked, v
        assert bool(v.guard["cut"]) is not tracked, v.guard


@pytest.mark.kernel
def test_an_untracked_session_must_also_pass_as_established_once_picked_up(netns):
    """Picked up as NEW by its next packet, the session is ESTABLISHED from the one after:
    a rule that stops established traffic cuts it then (bench/lockout_fuzz.py seed 900034:
    the guard walked only the NEW packet and said it kept working)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    rules = Ruleset({"ip": {"filter": [
        Chain("INPUT", "INPUT", "ACCEPT", ["-m state --state ESTABLISHED -j REJECT "
                                           "--reject-with icmp-net-unreachable"]),
        Chain("FORWARD", "FORWARD", "ACCEPT"), Chain("OUTPUT", "OUTPUT", "ACCEPT")]}})
    r = lockout_fuzz.Round(0, rules, "ip", "wan", "203.0.113.50", "203.0.113.1", 22, 40022,
                           False)
    v = lockout_fuzz.run_round(r)
    assert v.opened == "alive" and v.guard["untracked"], v
    assert v.kept != "alive", v
    assert v.guard["cut"], v.guard


@pytest.mark.kernel
def test_replies_of_an_untracked_session_whose_packets_in_are_untracked(netns):
    """NOTRACK on the session's packets in leaves conntrack without an entry, so it picks
    the server's next reply up as a NEW connection, which the nat chains then rewrite
    (bench/lockout_fuzz.py seed 1000031: the guard said the session kept working)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    rules = Ruleset({"ip": {
        "filter": [Chain(c, c, "ACCEPT") for c in ("INPUT", "FORWARD", "OUTPUT")],
        "nat": [Chain("PREROUTING", "PREROUTING", "ACCEPT"), Chain("INPUT", "INPUT", "ACCEPT"),
                Chain("OUTPUT", "OUTPUT", "ACCEPT", ["-j DNAT --to-destination 192.168.10.20"]),
                Chain("POSTROUTING", "POSTROUTING", "ACCEPT")],
        "raw": [Chain("PREROUTING", "PREROUTING", "ACCEPT", ["-i eth0 -j NOTRACK"]),
                Chain("OUTPUT", "OUTPUT", "ACCEPT")]}})
    r = lockout_fuzz.Round(0, rules, "ip", "wan", "203.0.113.50", "203.0.113.1", 22, 40022,
                           False)
    v = lockout_fuzz.run_round(r)
    assert v.opened == "alive" and v.guard["untracked"], v
    assert v.kept != "alive", v
    assert v.guard["cut"], v.guard


@pytest.mark.kernel
def test_replies_of_a_tracked_session_whose_packets_in_are_untracked(netns):
    """NOTRACK on a tracked session's packets in hides the client's side of the window from
    conntrack: the server's replies then fail its window check and are INVALID
    (bench/lockout_fuzz.py seed 1100065: the guard walked them as ESTABLISHED)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    rules = Ruleset({"ip": {
        "filter": [Chain("INPUT", "INPUT", "ACCEPT"), Chain("FORWARD", "FORWARD", "ACCEPT"),
                   Chain("OUTPUT", "OUTPUT", "ACCEPT", ["-m state --state INVALID -j DROP"])],
        "raw": [Chain("PREROUTING", "PREROUTING", "ACCEPT", ["-p tcp -m tcp --dport 22 "
                                                             "-j NOTRACK"]),
                Chain("OUTPUT", "OUTPUT", "ACCEPT")]}})
    r = lockout_fuzz.Round(0, rules, "ip", "wan", "203.0.113.50", "203.0.113.1", 22, 40022,
                           True)
    v = lockout_fuzz.run_round(r)
    assert v.opened == "alive" and not v.guard["untracked"], v
    assert v.kept != "alive", v
    assert v.guard["cut"], v.guard


def test_a_reconnect_snatted_in_nat_input_is_warned_about():
    """SNAT in nat INPUT rewrites a new connection's source, and a `--ctstate SNAT` test then
    stops its next packets (bench/lockout_fuzz.py seed 1100014: the guard said a reconnect
    works)."""
    script = ("iptables -t nat -A INPUT -j SNAT --to-source 192.168.10.1\n"
              "iptables -A INPUT -m conntrack --ctstate SNAT -j DROP\n")
    report = check(read(script, "fw.sh", ConvertOptions())[0], SESSION)
    assert not report.cut
    assert any("SNAT" in w and "reconnect" in w for w in report.reconnect), report.reconnect


@pytest.mark.kernel
def test_a_tracked_session_whose_replies_are_untracked(netns):
    """NOTRACK on the server's replies hides its side of the window from conntrack: the
    client's packets then fail the window check and are INVALID (bench/lockout_fuzz.py seed
    1200067: the guard said the session kept working)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    rules = Ruleset({"ip": {
        "filter": [Chain("INPUT", "INPUT", "DROP", ["-m conntrack --ctstate ESTABLISHED "
                                                    "-j ACCEPT"]),
                   Chain("FORWARD", "FORWARD", "ACCEPT"), Chain("OUTPUT", "OUTPUT", "ACCEPT")],
        "raw": [Chain("PREROUTING", "PREROUTING", "ACCEPT"),
                Chain("OUTPUT", "OUTPUT", "ACCEPT", ["-j CT --notrack"])]}})
    r = lockout_fuzz.Round(0, rules, "ip", "lan", "192.168.10.2", "192.168.10.1", 22, 1500,
                           True)
    v = lockout_fuzz.run_round(r)
    assert v.opened == "alive" and not v.guard["untracked"], v
    assert v.kept != "alive", v
    assert v.guard["cut"], v.guard


SYN = "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN"


@pytest.mark.kernel
@pytest.mark.parametrize("raw, filter_chains", [
    # the server's SYN/ACK stopped on its way out ("this host opens no connections", written
    # with --tcp-flags SYN SYN, which a SYN/ACK matches too)
    ({}, {"OUTPUT": ["-p tcp -m tcp --tcp-flags SYN SYN -j DROP"]}),
    # the SYN/ACK untracked: the entry still waits for it, so the client's ACK is INVALID
    ({"OUTPUT": ["-p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j NOTRACK"]},
     {"INPUT": ["-m state --state INVALID -j DROP"]}),
    # the SYN untracked: conntrack has no entry, the SYN/ACK does not open one, and the
    # client's ACK is picked up as NEW, which a common rule drops (a NEW packet not a SYN)
    ({"PREROUTING": [f"{SYN} -j NOTRACK"]},
     {"INPUT": ["-p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW "
                "-j DROP"]}),
])
def test_a_reconnect_whose_handshake_is_stopped_after_the_syn(netns, raw, filter_chains):
    """The SYN of a new connection passes, and the session (its packets ACKs, ESTABLISHED
    and ASSURED) keeps working, but the rest of a new connection's handshake is stopped: the
    guard must warn that a reconnect fails (it walked only the SYN)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    tables = {"filter": [Chain(c, c, "ACCEPT", list(filter_chains.get(c, [])))
                         for c in ("INPUT", "FORWARD", "OUTPUT")]}
    if raw:
        tables["raw"] = [Chain(c, c, "ACCEPT", list(raw.get(c, [])))
                         for c in ("PREROUTING", "OUTPUT")]
    r = lockout_fuzz.Round(0, Ruleset({"ip": tables}), "ip", "wan", "203.0.113.50",
                           "203.0.113.1", 22, 40022, True)
    v = lockout_fuzz.run_round(r)
    assert v.opened == "alive" and not v.guard["untracked"], v
    assert v.kept == "alive" and not v.guard["cut"], v
    assert v.reconnect != "alive", v
    assert not v.guard_reconnects, v.guard
    assert not v.problems(), v.problems()


@pytest.mark.kernel
@pytest.mark.parametrize("fam, client, server", [("ip6", "fd00:10::2", "fd00:10::1"),
                                                  ("ip", "192.168.10.2", "192.168.10.1")])
def test_a_reconnect_conntrack_never_sees_is_picked_up_from_the_servers_data(netns, fam,
                                                                             client, server):
    """Every packet in untracked: a new connection's SYN and ACK leave conntrack no entry
    (its SYN/ACK, INVALID, makes none), so the server's first data is picked up as a new
    connection, which nat OUTPUT's DNAT then sends elsewhere (bench/lockout_fuzz.py seed
    1400011: the guard said a reconnect works, the kernel reset it)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    rules = Ruleset({fam: {
        "filter": [Chain(c, c, "ACCEPT") for c in ("INPUT", "FORWARD", "OUTPUT")],
        "nat": [Chain("PREROUTING", "PREROUTING", "ACCEPT"), Chain("INPUT", "INPUT", "ACCEPT"),
                Chain("OUTPUT", "OUTPUT", "ACCEPT", [f"-j DNAT --to-destination {server}"]),
                Chain("POSTROUTING", "POSTROUTING", "ACCEPT")],
        "raw": [Chain("PREROUTING", "PREROUTING", "ACCEPT", ["-i e+ -j CT --notrack"]),
                Chain("OUTPUT", "OUTPUT", "ACCEPT")]}})
    r = lockout_fuzz.Round(0, rules, fam, "lan", client, server, 22, 1500, True)
    v = lockout_fuzz.run_round(r)
    assert v.opened == "alive" and v.kept == "alive" and not v.guard["cut"], v
    assert v.reconnect != "alive", v
    assert not v.guard_reconnects, v.guard
    assert not v.problems(), v.problems()


@pytest.mark.kernel
@pytest.mark.parametrize("output, kept", [
    # the server's packets are NEW (RETURN to the ACCEPT policy), never ESTABLISHED
    (["-m conntrack ! --ctstate ESTABLISHED,INVALID -j RETURN",
      "-m conntrack ! --ctstate UNTRACKED,INVALID -j DROP"], True),
    (["-m conntrack --ctstate NEW -j DROP"], False),
])
def test_an_untracked_session_whose_packets_in_stay_untracked_is_never_established(
        netns, output, kept):
    """Every packet of the client's untracked by a raw rule, conntrack never picks the session
    up from them: the server's replies open an entry of their own that sees no reply, so they
    stay NEW, and neither the client's packets nor the replies are ever ESTABLISHED
    (bench/lockout_fuzz.py seed 271000200092: the guard walked the replies as ESTABLISHED
    and said an OUTPUT rule that drops those cut the session, which the kernel kept)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import lockout_fuzz
    from ruleset_gen import Chain, Ruleset

    rules = Ruleset({"ip": {
        "filter": [Chain("INPUT", "INPUT", "ACCEPT"), Chain("FORWARD", "FORWARD", "DROP"),
                   Chain("OUTPUT", "OUTPUT", "ACCEPT", output)],
        "raw": [Chain("PREROUTING", "PREROUTING", "ACCEPT", ["-i eth0 -j CT --notrack"]),
                Chain("OUTPUT", "OUTPUT", "ACCEPT")]}})
    r = lockout_fuzz.Round(0, rules, "ip", "wan", "203.0.113.50", "203.0.113.1", 22, 40022,
                           False)
    v = lockout_fuzz.run_round(r)
    assert v.opened == "alive" and v.guard["untracked"], v
    assert (v.kept == "alive") is kept, v
    assert (not v.guard["cut"]) is kept, v.guard
