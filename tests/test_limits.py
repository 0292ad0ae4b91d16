"""-m hashlimit and -m connlimit: sets per table / per rule (fwmigrate/backends/nft_limits.py),
the equivalence checker and evaluator's under/over states, and real traffic through
iptables-legacy and through fwmigrate's nftables in a pair of scratch namespaces."""

import subprocess
import sys
import textwrap

import pytest
from traffic import CLIENT_ADDR, OTHER_CLIENT_ADDR, PIN_CPU, SERVER_ADDR, Listener, udp_exchange

from fwmigrate.convert import ConvertOptions, convert, read
from fwmigrate.dropin import translate_command
from fwmigrate.errors import Diagnostics, FwmigrateError
from fwmigrate.verify.equiv import check
from fwmigrate.verify.evaluate import evaluate
from fwmigrate.verify.explain import parse_packet
from fwmigrate.verify.roundtrip import round_trip
from fwmigrate.verify.sources import read_any


def nft(script, **kw):
    return convert(script, "fw.sh", ConvertOptions(**kw))


def ir(script):
    return read(script, "t.sh", ConvertOptions())[0]


SSH = ("-p tcp -m tcp --dport 22 -m hashlimit --hashlimit-above 3/min --hashlimit-burst 3 "
       "--hashlimit-mode srcip --hashlimit-name ssh -j DROP")


def test_hashlimit_table_is_a_timeout_set_sized_like_the_kernels():
    out = nft(f"iptables -A INPUT {SSH}\n").output
    assert "\tset ssh {\n\t\ttype ipv4_addr\n\t\tsize 65536\n\t\tflags dynamic,timeout\n" \
           "\t\ttimeout 60s\n\t}" in out
    assert "# xt_hashlimit table ssh: size 65536 (the kernel's default" in out
    assert "tcp dport 22 update @ssh { ip saddr limit rate over 3/minute burst 3 packets } drop" \
        in out


@pytest.mark.parametrize("options, size", [
    ("--hashlimit-htable-max 100000", 100000),
    ("--hashlimit-htable-size 100", 800),
    ("--hashlimit-htable-size 100 --hashlimit-htable-max 50", 100),
    ("--hashlimit-htable-max 50", 8192),       # raised to the default table size
])
def test_set_size_follows_the_table_options(options, size):
    out = nft(f"iptables -A INPUT {SSH} {options}\n").output
    assert f"\t\tsize {size}\n" in out


def test_rules_sharing_a_table_share_one_set():
    out = nft(f"iptables -A INPUT {SSH}\niptables -A FORWARD {SSH}\n").output
    assert out.count("set ssh {") == 1 and out.count("update @ssh {") == 2


def test_rules_configuring_one_table_differently_are_refused():
    with pytest.raises(FwmigrateError) as info:
        nft(f"iptables -A INPUT {SSH}\n"
            f"iptables -A FORWARD {SSH.replace('--hashlimit-burst 3', '--hashlimit-burst 4')}\n")
    assert "configure it differently" in info.value.render()


def test_short_expiry_refused_exactly_approximated_on_request():
    script = ("iptables -A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-mode srcip "
              "--hashlimit-name slow -j ACCEPT\n")
    with pytest.raises(FwmigrateError) as info:
        nft(script)
    assert "garbage collector" in info.value.render()
    assert "--hashlimit-htable-expire 5000 or more" in info.value.render()
    result = nft(script, approximate=True)
    assert "update @slow { ip saddr limit rate 1/second burst 5 packets } accept" in result.output
    assert any("garbage collector" in d.message for d in result.approximations)


def test_a_table_without_key_shared_by_rules_is_refused():
    rule = "-m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 10 --hashlimit-name one"
    with pytest.raises(FwmigrateError) as info:
        nft(f"iptables -A INPUT {rule}\niptables -A FORWARD {rule}\n")
    assert "one bucket shared by several rules" in info.value.render()


def test_connlimit_gets_a_set_per_rule():
    out = nft("iptables -A INPUT -p tcp --syn -m connlimit --connlimit-above 2 -j DROP\n"
              "iptables -A INPUT -p tcp --syn -m connlimit --connlimit-above 2 -j DROP\n").output
    assert "add @connlimit1 { ip saddr ct count over 2 } drop" in out
    assert "add @connlimit2 { ip saddr ct count over 2 } drop" in out
    assert "\t\tsize 262144\n" in out and "the largest default nf_conntrack_max" in out


def test_the_header_says_what_a_full_set_does():
    out = nft(f"iptables -A INPUT {SSH}\n"
              "iptables -A INPUT -m connlimit --connlimit-above 2 -j REJECT\n").output
    assert ("# set ssh (hashlimit table ssh) holds at most 65536 keys: the kernel's default on a "
            "machine with more than 1 GiB of memory; when it is full, the rule after each rule "
            "using it drops a packet with a new key, as iptables does\n") in out
    assert ("# connlimit sets hold at most 262144 addresses each, the largest default "
            "nf_conntrack_max (xt_connlimit has no limit); when one is full, nft's rule does "
            "not match a new address: raise their size if your nf_conntrack_max is higher\n") \
        in out


DUAL = ("iptables -A INPUT -p tcp -m tcp --dport 80 -m hashlimit --hashlimit-above 10/s "
        "--hashlimit-mode srcip,dstport --hashlimit-srcmask 24 --hashlimit-name web -j DROP\n"
        "ip6tables -A INPUT -p tcp -m multiport --dports 80,443 -m hashlimit --hashlimit-upto "
        "10/s --hashlimit-mode srcip --hashlimit-srcmask 64 --hashlimit-name web6 -j ACCEPT\n")


@pytest.mark.kernel
@pytest.mark.parametrize("family", [None, "inet"])
def test_kernel_round_trip_of_both_families(family):
    # in an inet table the kernel lists an IPv4 rule whose only IPv4 test is its set key
    # without `meta nfproto ipv4`: the IPv6 view must still leave it out
    report = round_trip(DUAL, "dual.sh", ConvertOptions(family=family))
    assert report.ok, [c.describe() for c in report.kernel + report.restore]


def test_a_drop_follows_each_hashlimit_rule_for_a_full_set():
    out = nft("iptables -A INPUT -i eth0 -p tcp -m tcp --dport 80 -m hashlimit --hashlimit-upto "
              "10/s --hashlimit-mode srcip,dstport --hashlimit-srcmask 24 --hashlimit-name web "
              "-j ACCEPT\n").output
    assert ('\t\tiifname "eth0" tcp dport 80 update @web { tcp dport . ip saddr & 255.255.255.0 '
            'limit rate 10/second burst 5 packets } accept\n'
            '\t\tiifname "eth0" tcp dport 80 tcp dport . ip saddr & 255.255.255.0 != @web drop\n'
            ) in out


@pytest.mark.parametrize("before", [
    "-m statistic --mode random --probability 0.5",     # a second look gives another answer
    "-m limit --limit 5/sec",                           # a second look takes another token
])
def test_no_drop_after_a_rule_whose_earlier_tests_are_not_repeatable(before):
    out = nft(f"iptables -A INPUT -p udp {before} -m hashlimit --hashlimit-upto 10/s "
              "--hashlimit-mode srcip --hashlimit-name web -j ACCEPT\n").output
    assert "!= @web drop" not in out
    assert "when it is full, iptables drops a packet with a new key, nft's rule does not match" \
        in out


def test_drop_in_insert_keeps_the_drop_after_its_rule():
    lines = translate_command(["-I", "INPUT", "3", "-p", "tcp", "--dport", "80", "-m",
                               "hashlimit", "--hashlimit-above", "10/s", "--hashlimit-mode",
                               "srcip", "--hashlimit-name", "web", "-j", "DROP"], "ip")
    # each line is inserted at the same place: the drop goes in first to end up after the rule
    assert "ip saddr != @web drop" in lines[1] and "update @web" in lines[2]


# --- the equivalence checker and the evaluator --------------------------------------------

LIMITED = (f"iptables -A INPUT {SSH}\n"
           "iptables -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
           "iptables -A INPUT -p tcp -m tcp --dport 80 -m connlimit --connlimit-above 10 -j DROP\n"
           "iptables -A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n"
           "iptables -P INPUT DROP\n")


def _differences(a, b):
    return [d for r in check(ir(a), ir(b)) for d in r.differences]


@pytest.mark.kernel
def test_translation_is_equivalent():
    diags = Diagnostics()
    translated = read_any(nft(LIMITED).output, "fw.nft", diags)
    assert not diags.errors
    assert not [d for r in check(ir(LIMITED), translated) for d in r.differences]


@pytest.mark.parametrize("old, new", [
    ("--hashlimit-above 3/min", "--hashlimit-upto 3/min"),
    ("--hashlimit-burst 3", "--hashlimit-burst 4"),
    ("--connlimit-above 10", "--connlimit-above 11"),
    ("--connlimit-above 10", "--connlimit-upto 10"),
    ("--hashlimit-name ssh", "--hashlimit-name other"),
])
def test_a_changed_limit_is_a_difference(old, new):
    assert _differences(LIMITED, LIMITED.replace(old, new))


def test_the_evaluator_takes_limits_as_not_reached():
    packet, hook = parse_packet("tcp 10.0.0.5:40000 > 10.0.0.1:80 in eth1 ct new")
    outcomes = evaluate(ir(LIMITED), packet, (hook,))
    assert [o.verdict for o in outcomes] == ["ACCEPT"]
    assert any("connlimit taken as under" in a for o in outcomes for a in o.assumptions)
    packet, hook = parse_packet("tcp 10.0.0.5:40000 > 10.0.0.1:22 in eth1 ct new")
    outcomes = evaluate(ir(LIMITED), packet, (hook,))
    assert [o.verdict for o in outcomes] == ["ACCEPT"]
    assert any("hashlimit taken as under" in a for o in outcomes for a in o.assumptions)


# --- real traffic: iptables-legacy and fwmigrate's nftables --------------------------------

def _load(server, how, script):
    if how == "legacy":
        for line in script.splitlines():
            server.run("iptables-legacy", *line.split()[1:])
    else:
        server.nft("-f", "-", input=nft(script).output)


def _hold_connections(client, src, port, count):
    """Open `count` TCP connections one after another, all kept open until the last."""
    proc = subprocess.run(["ip", "netns", "exec", client.name, sys.executable, "-c",
                           PIN_CPU + textwrap.dedent(f"""
        import socket, struct
        held, out = [], []
        for _ in range({count}):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.bind(({src!r}, 0))
            s.settimeout(1.5)
            try:
                s.connect(({SERVER_ADDR!r}, {port}))
                out.append('open')
            except OSError:
                out.append('refused')
            held.append(s)
        print(' '.join(out))
        for s in held:
            s.close()
    """)], capture_output=True, text=True, timeout=30)
    return proc.stdout.split()


@pytest.mark.kernel
@pytest.mark.parametrize("how", ["legacy", "nft"])
def test_connlimit_refuses_the_connection_over_the_limit(netns_pair, how):
    server, client = netns_pair
    _load(server, how, "iptables -A INPUT -p tcp --syn --dport 8080 -m connlimit "
                       "--connlimit-above 2 -j REJECT --reject-with tcp-reset\n")
    listener = Listener(server, SERVER_ADDR, tcp_ports=(8080,))
    try:
        assert _hold_connections(client, CLIENT_ADDR, 8080, 3) == ["open", "open", "refused"]
        # counted per source address: another host still gets two
        assert _hold_connections(client, OTHER_CLIENT_ADDR, 8080, 3) == \
            ["open", "open", "refused"]
    finally:
        listener.close()


@pytest.mark.kernel
@pytest.mark.parametrize("how", ["legacy", "nft"])
def test_hashlimit_drops_over_the_burst_per_source(netns_pair, how):
    server, client = netns_pair
    _load(server, how, "iptables -A INPUT -p udp -m udp --dport 9000 -m hashlimit "
                       "--hashlimit-above 1/min --hashlimit-burst 3 --hashlimit-mode srcip "
                       "--hashlimit-htable-expire 180000 --hashlimit-name h -j DROP\n")
    listener = Listener(server, SERVER_ADDR, udp_ports=(9000,))
    try:
        first = [udp_exchange(client, CLIENT_ADDR, SERVER_ADDR, 9000, timeout=0.5)
                 for _ in range(5)]
        other = [udp_exchange(client, OTHER_CLIENT_ADDR, SERVER_ADDR, 9000, timeout=0.5)
                 for _ in range(4)]
    finally:
        listener.close()
    assert first == [True, True, True, False, False]
    assert other == [True, True, True, False]


def test_keyless_limits_over_their_rate_differ_by_rate():
    def rules(rate):
        return (f"iptables -A INPUT -m hashlimit --hashlimit-above {rate} --hashlimit-burst 10 "
                "--hashlimit-name one -j DROP\n")
    assert _differences(rules("10/sec"), rules("11/sec"))
    assert not _differences(rules("10/sec"), rules("10/sec").replace("name one", "name two"))


def test_a_mask_of_an_address_outside_the_key_changes_nothing():
    a = "iptables -A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-mode dstip " \
        "--hashlimit-name t -j ACCEPT\n"
    assert not _differences(a, a.replace("--hashlimit-name", "--hashlimit-srcmask 24 "
                                                              "--hashlimit-name"))


@pytest.mark.kernel
def test_a_full_table_drops_a_new_key_in_both(netns_pair):
    """A key that finds xt_hashlimit's table full is dropped by the kernel (hotdrop); nft's
    update cannot add it and the rule stops, so the rule written after it (the key not in the
    set → drop) drops it too (the set is sized like the table: at the default size this is the
    65537th key; tests/test_reference_wrong.py shows both take the 65536th)."""
    server, client = netns_pair
    rule = ("iptables -A INPUT -p udp -m udp --dport 9000 -m hashlimit --hashlimit-upto 100/sec "
            "--hashlimit-mode srcip --hashlimit-htable-size 1 --hashlimit-htable-max 1 "
            "--hashlimit-name full -j ACCEPT\n")
    outcomes = {}
    for how in ("legacy", "nft"):
        server.run("iptables-legacy", "-F", check=False)
        server.nft("flush", "ruleset")
        _load(server, how, rule)
        listener = Listener(server, SERVER_ADDR, udp_ports=(9000,))
        try:
            outcomes[how] = [udp_exchange(client, src, SERVER_ADDR, 9000, timeout=0.5)
                             for src in (CLIENT_ADDR, OTHER_CLIENT_ADDR)]
        finally:
            listener.close()
    if "\t\tsize 1\n" not in nft(rule).output or outcomes["legacy"] != [True, False]:
        pytest.fail(f"expected a set of size 1, and iptables to take one key: {outcomes}")
    assert outcomes["nft"] == outcomes["legacy"]


@pytest.mark.parametrize(("given", "stored"), [
    ("-m connlimit ! --connlimit-upto 5", "-m connlimit --connlimit-above 5"),
    ("-m connlimit ! --connlimit-above 5", "-m connlimit --connlimit-upto 5"),
    ("-m hashlimit ! --hashlimit-upto 5/sec --hashlimit-name a",
     "-m hashlimit --hashlimit-above 5/sec --hashlimit-name a"),
    ("-m hashlimit ! --hashlimit-above 5/sec --hashlimit-name a",
     "-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a"),
])
def test_an_inverted_direction_is_the_other_direction(given, stored):
    # libxt_connlimit/libxt_hashlimit store `!` as the invert flag the other option sets:
    # one rule, which `-D` finds by either spelling and iptables-save prints as `stored`
    script = f"iptables -A INPUT {given} -j DROP\niptables -D INPUT {stored} -j DROP\n"
    assert ir(script).table("ip", "filter").chain("INPUT").rules == ()
    assert ir(f"iptables -A INPUT {given} -j DROP\n") == ir(f"iptables -A INPUT {stored} -j DROP\n")
