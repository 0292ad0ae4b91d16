"""ipsets end to end: the CLI's --ipsets, and the kernel showing that iptables-legacy with the
real ipsets and fwmigrate's nft sets treat the same packets the same way."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError

from conftest import SAMPLES

RULES = SAMPLES / "ipset-blocklist.save"
IPSETS = SAMPLES / "ipset-blocklist.ipsets"


def fw(*args, input=None):
    return subprocess.run([sys.executable, "-m", "fwmigrate", *args], capture_output=True,
                          text=True, input=input)


def test_convert_takes_the_sets_from_ipsets():
    out = fw("convert", str(RULES), "--ipsets", str(IPSETS), "--to", "nft")
    assert out.returncode == 0, out.stderr
    assert "ip saddr @blocklist drop" in out.stdout
    assert "192.0.2.128/25" in out.stdout


def test_without_ipsets_a_rule_naming_a_set_is_refused_with_a_hint():
    out = fw("convert", str(RULES), "--to", "nft")
    assert out.returncode == 1 and out.stdout == ""
    assert "the type and members of ipset blocklist are not known" in out.stderr
    assert "hint: pass the sets with --ipsets FILE" in out.stderr


def test_errors_in_the_ipsets_file_name_its_line():
    out = fw("convert", str(RULES), "--ipsets", "-", input="create blocklist hash:net\n"
             "add blocklist 10.0.0.300/8\n")
    assert out.returncode == 1
    assert "<stdin>:2:15: error:" in out.stderr


def test_nft_json_declares_the_same_sets():
    text = RULES.read_text()
    options = dict(ipsets=(IPSETS.read_text(), "s.ipsets"))
    out = convert(text, "r.save", ConvertOptions(to="nft-json", **options)).output
    assert '"type": ["ipv4_addr", "inet_proto", "inet_service"]' in out
    assert '{"elem": {"val": {"concat": ["203.0.113.50", "tcp", 22]}, "comment": "ops bastion"}}' \
        in out


def test_a_set_without_family_is_declared_in_each_family_table():
    sets = "create low bitmap:port range 0-100\nadd low 22\n"
    script = ("iptables -A INPUT -p tcp -m set --match-set low dst -j DROP\n"
              "ip6tables -A INPUT -p tcp -m set --match-set low dst -j DROP\n")
    out = convert(script, "s.sh", ConvertOptions(ipsets=(sets, "s.ipsets"))).output
    assert out.count("set low {") == 2        # a constant set means the same in each table


def test_a_set_changed_by_set_and_used_from_two_nft_tables_is_refused():
    """iptables-nft's naming gives each iptables table its own nft table: a set -j SET
    changes would be two sets."""
    from fwmigrate.backends.nft_translate import NftOptions, translate
    from fwmigrate.convert import read
    script = ("iptables -A INPUT -p tcp -j SET --add-set seen src\n"
              "iptables -t mangle -A PREROUTING -m set --match-set seen src -j ACCEPT\n")
    ruleset, _ = read(script, "s.sh", ConvertOptions(ipsets=("create seen hash:ip\n", "i")))
    assert not translate(ruleset).problems
    problems = translate(ruleset, NftOptions(scheme="iptables-nft")).problems
    assert [p.message for p in problems] == [
        "ipset seen is changed by -j SET and used from several nft tables (ip filter, ip "
        "mangle); an nft set belongs to one table, so each would have its own copy"]


def test_overlapping_networks_are_merged_and_said_so():
    sets = "create b hash:net\nadd b 10.0.0.0/8\nadd b 10.1.0.0/16\nadd b 192.0.2.0/24\n"
    result = convert("iptables -A INPUT -m set --match-set b src -j DROP\n", "s.sh",
                     ConvertOptions(ipsets=(sets, "s.ipsets")))
    assert "elements = { 10.0.0.0/8, 192.0.2.0/24 }" in result.output
    assert any("overlapping networks merged" in w.message for w in result.warnings)


# --- the kernel -------------------------------------------------------------------------------

@pytest.mark.kernel
def test_blocked_sources_are_dropped_and_allowed_ones_accepted_in_both(netns):
    from differential import (
        Probe,
        fwmigrate_nft,
        load_legacy,
        load_nft,
        network,
        scenario,
        standard_probes,
    )

    def legacy(fw_ns):
        fw_ns.run("ipset", "restore", input=IPSETS.read_text())
        load_legacy(fw_ns, RULES.read_text())

    nft_text = fwmigrate_nft(str(RULES), "--ipsets", str(IPSETS))
    bastion, blocked, lan_admin, lan_other = ("203.0.113.50", "198.51.100.7", "192.168.10.2",
                                              "192.168.10.20")
    checks = [Probe("tcp", "wan", bastion, "203.0.113.1", 22),       # admin: accepted
              Probe("tcp", "wan", bastion, "203.0.113.1", 9100),
              Probe("tcp", "wan", blocked, "203.0.113.1", 22),       # blocklist: dropped
              Probe("tcp", "wan", blocked, "203.0.113.1", 80),
              Probe("tcp", "lan", lan_admin, "192.168.10.1", 22),
              Probe("tcp", "lan", lan_other, "192.168.10.1", 22),    # not admin: rejected
              Probe("tcp", "lan", lan_admin, blocked, 80)]           # forwarded to a blocked net
    # the honeypot: touching port 23 puts the source in `scanners` (-j SET), and then even
    # the bastion's SSH is dropped
    honeypot = [Probe("tcp", "wan", bastion, "203.0.113.1", 22),
                Probe("tcp", "wan", bastion, "203.0.113.1", 23),
                Probe("tcp", "wan", bastion, "203.0.113.1", 22)]
    steps = scenario(standard_probes() + checks, honeypot)
    outcomes = {}
    for name, load in (("legacy", legacy), ("nft", lambda ns: load_nft(ns, nft_text))):
        with network(load) as net:
            outcomes[name] = net.run(steps)
            if name == "nft":
                listing = net.ns["fw"].nft("list", "set", "ip", "fwmigrate", "scanners").stdout
                assert bastion in listing
    probes = [p for step in steps for p in step]
    differ = [f"{p}: {a} vs {b}" for p, a, b in zip(probes, outcomes["legacy"], outcomes["nft"],
                                                    strict=True) if a != b]
    assert not differ, "\n".join(differ)
    got = dict(zip(map(str, probes[-len(checks) - 3:-3]), outcomes["nft"][-len(checks) - 3:-3],
                   strict=True))
    words = [got[str(p)].split()[0] for p in checks]
    assert words == ["open", "open", "timeout", "timeout", "open", "refused", "timeout"], got
    assert [o.split()[0] for o in outcomes["nft"][-3:]] == ["open", "refused", "timeout"]


# --- the equivalence checker ------------------------------------------------------------------

def _ruleset(script, sets):
    from fwmigrate.convert import read
    return read(script, "r.sh", ConvertOptions(ipsets=(sets, "s.ipsets")))[0]


def _differences(a, b):
    from fwmigrate.verify.equiv import check
    return sum(len(r.differences) for r in check(a, b))


LOOKUP = "iptables -A INPUT -m set --match-set b src -j DROP\n"


def test_membership_of_known_fixed_members_is_an_address_test():
    sets = "create b hash:net\nadd b 10.0.0.0/8\nadd b 192.0.2.7\n"
    same = "iptables -A INPUT -s 10.0.0.0/8 -j DROP\niptables -A INPUT -s 192.0.2.7 -j DROP\n"
    assert _differences(_ruleset(LOOKUP, sets), _ruleset(same, "")) == 0
    assert _differences(_ruleset(LOOKUP, sets), _ruleset(same.replace("/8", "/9"), "")) > 0
    negated = LOOKUP.replace("-m set --match-set", "-m set ! --match-set")
    assert _differences(_ruleset(negated, sets), _ruleset(LOOKUP, sets)) > 0


def test_the_same_lookup_with_other_members_differs():
    from fwmigrate.verify.equiv import check
    from fwmigrate.verify.equiv_example import example
    a = _ruleset(LOOKUP, "create b hash:ip\nadd b 192.0.2.1\n")
    b = _ruleset(LOOKUP, "create b hash:ip\nadd b 192.0.2.2\n")
    result = check(a, b)[0]
    assert result.differences
    from fwmigrate.verify.space import Space, collect
    space = Space("ip")
    collect(space, a)
    collect(space, b)
    space.freeze()
    packet = example(space, result.differences[0].cube)
    assert str(packet.saddr) in ("192.0.2.1", "192.0.2.2")


def test_a_set_that_changes_stays_an_independent_condition():
    """-j SET writes it (or its members time out): what is in it depends on earlier packets."""
    sets = "create b hash:ip\nadd b 10.0.0.1\n"
    written = LOOKUP + "iptables -A INPUT -p tcp -j SET --add-set b src\n"
    as_address = "iptables -A INPUT -s 10.0.0.1 -j DROP\n" \
                 "iptables -A INPUT -p tcp -j SET --add-set b src\n"
    assert _differences(_ruleset(written, sets), _ruleset(written, sets)) == 0
    assert _differences(_ruleset(written, sets), _ruleset(as_address, sets)) > 0
    timed = "create b hash:ip timeout 60\nadd b 10.0.0.1 timeout 30\n"
    assert _differences(_ruleset(LOOKUP, timed), _ruleset(as_address.split("\n")[0] + "\n",
                                                          timed)) > 0


@pytest.mark.kernel
def test_verify_equiv_proves_the_sample_and_catches_other_members(netns, tmp_path):
    nft_file = tmp_path / "out.nft"
    nft_file.write_text(fw("convert", str(RULES), "--ipsets", str(IPSETS)).stdout)
    same = fw("verify", "--equiv", str(RULES), str(nft_file), "--ipsets", str(IPSETS))
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.startswith("equivalent")
    other = tmp_path / "other.ipsets"
    other.write_text(IPSETS.read_text().replace("100.64.7.0/24", "100.64.0.0/16"))
    changed = fw("verify", "--equiv", str(RULES), str(nft_file), "--ipsets", str(other))
    assert changed.returncode == 1
    assert "packet: tcp 100.64." in changed.stdout


def test_restore_translate_takes_ipsets_too():
    out = fw("restore-translate", "-f", str(RULES), "--ipsets", str(IPSETS))
    assert out.returncode == 0, out.stderr
    assert 'add set ip filter blocklist { type ipv4_addr; size 131072; flags interval; ' \
           'comment "ipset blocklist hash:net"; elements = {' in out.stdout
    assert "add rule ip filter INPUT ip saddr @blocklist counter drop" in out.stdout


def test_explain_names_a_set_lookup_it_assumes():
    out = fw("explain", str(RULES), "--packet", "tcp 198.51.100.7:40000 > 203.0.113.1:22 in eth0")
    assert "`-m set --match-set blocklist src` matches" in out.stdout


def test_explain_with_ipsets_answers_lookups_in_known_sets():
    def run(packet):
        return fw("explain", str(RULES), "--ipsets", str(IPSETS), "--packet", packet).stdout
    blocked = run("tcp 198.51.100.7:40000 > 203.0.113.1:22 in eth0 ct new")
    assert "way" not in blocked                     # one way: nothing left to assume
    assert blocked.strip().endswith("→ DROP by rule 2 of filter INPUT "
                                    f"({RULES}:7:1)")
    admin = run("tcp 203.0.113.50:40000 > 203.0.113.1:22 in eth0 ct new")
    # scanners is written by -j SET: still both ways; admin (hash:ip,port) is answered
    assert "match: -A INPUT -m set --match-set admin src,dst" in admin
    assert "the members of ipset scanners are not known here" in admin
    udp = run("udp 203.0.113.50:40000 > 203.0.113.1:22 in eth0 ct new")
    assert "ACCEPT by rule 9" not in udp            # admin holds tcp:22, not udp:22


def test_the_lockout_guard_knows_who_is_in_the_sets_when_they_are_loaded():
    import ipaddress

    from fwmigrate.apply.lockout import Session, check
    from fwmigrate.convert import read
    ruleset = read(RULES.read_text(), "r.save",
                   ConvertOptions(ipsets=(IPSETS.read_text(), "s.ipsets")))[0]

    def session(client):
        return Session(ipaddress.ip_address(client), 40000, ipaddress.ip_address("203.0.113.1"),
                       22, "eth0", "--keep")
    assert not check(ruleset, session("203.0.113.50")).cut       # the bastion stays
    cut = check(ruleset, session("198.51.100.7")).cut            # on the blocklist
    assert cut and all("--match-set blocklist src -j DROP" in c for c in cut)


def test_translate_of_one_command_says_where_the_sets_can_be_given():
    out = fw("translate", "-A", "INPUT", "-m", "set", "--match-set", "blocked", "src", "-j",
             "DROP")
    assert out.returncode == 1
    assert "the type and members of ipset blocked are not known" in out.stderr
    assert "restore-translate -f RULES --ipsets FILE" in out.stderr


@pytest.mark.kernel
def test_apply_loads_the_sets_the_same_as_json_and_as_text(netns, tmp_path):
    import json
    import os
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    loaded = {}
    for syntax in ("json", "text"):
        result = subprocess.run(
            [sys.executable, "-m", "fwmigrate", "apply", str(RULES), "--ipsets", str(IPSETS),
             "--syntax", syntax, "--netns", netns.name, "--state-dir", str(tmp_path)],
            capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        items = json.loads(netns.nft("-j", "list", "ruleset").stdout)["nftables"]
        for item in items:
            for body in item.values():
                body.pop("handle", None)
            if "set" in item:
                # nft 1.0.6 keeps a set's comment from text only (JSON input drops it)
                item["set"].pop("comment", None)
        loaded[syntax] = [i for i in items if "metainfo" not in i]
    assert loaded["json"] == loaded["text"]
    sets = {i["set"]["name"]: i["set"] for i in loaded["json"] if "set" in i}
    assert sets["blocklist"]["size"] == 131072 and len(sets["blocklist"]["elem"]) == 4


@pytest.mark.kernel
def test_ipv6_sets_port_sets_and_net_port_sets_behave_the_same(netns, tmp_path):
    """A second host: an IPv6 blocklist (family inet6), a bitmap:port of LAN services used
    with -p tcp, a hash:net,port of who may query DNS — probe for probe as iptables-legacy."""
    from differential import (
        fwmigrate_nft,
        load_legacy,
        load_nft,
        run_scenario,
        scenario,
        standard_probes,
    )
    ipsets = ("create bad6 hash:net family inet6\nadd bad6 2001:db8:1::/48\n"
              "create lanports bitmap:port range 0-1023\nadd lanports 22\nadd lanports 53\n"
              "create dns hash:net,port family inet\nadd dns 192.168.10.0/24,udp:53\n"
              "add dns 192.168.10.0/24,tcp:53\n")
    rules = ("# Generated by iptables-save v1.8.9\n*filter\n:INPUT DROP [0:0]\n"
             ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
             "-A INPUT -i eth1 -p tcp -m set --match-set lanports dst -j ACCEPT\n"
             "-A INPUT -m set --match-set dns src,dst -j ACCEPT\n"
             "-A INPUT -p icmp -j ACCEPT\nCOMMIT\n"
             "# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\n"
             ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A INPUT -m set --match-set bad6 src -j DROP\nCOMMIT\n")
    (tmp_path / "r.save").write_text(rules)
    (tmp_path / "s.ipsets").write_text(ipsets)
    nft_text = fwmigrate_nft(str(tmp_path / "r.save"), "--ipsets", str(tmp_path / "s.ipsets"))
    assert "ip6 saddr @bad6 drop" in nft_text

    def legacy(fw_ns):
        fw_ns.run("ipset", "restore", input=ipsets)
        load_legacy(fw_ns, rules)

    steps = scenario(standard_probes())
    a, b = (run_scenario(load, steps) for load in (legacy, lambda ns: load_nft(ns, nft_text)))
    probes = [str(p) for step in steps for p in step]
    assert [(p, x, y) for p, x, y in zip(probes, a, b, strict=True) if x != y] == []
    got = {p: o.split()[0] for p, o in zip(probes, b, strict=True)}
    # the sets decide these: the v6 blocklist, the LAN's ports, who may ask DNS
    assert got["tcp wan 2001:db8:1::7 > fd00:113::1:80"] == "timeout"
    assert got["tcp wan fd00:113::50 > fd00:113::1:80"] == "open"
    assert got["tcp lan 192.168.10.2 > 192.168.10.1:22"] == "open"
    assert got["tcp lan 192.168.10.2 > 192.168.10.1:80"] == "timeout"
    assert got["tcp wan 203.0.113.50 > 203.0.113.1:22"] == "timeout"
    assert got["udp lan 192.168.10.2 > 192.168.10.1:53"] == "answered"
    assert got["udp wan 203.0.113.50 > 203.0.113.1:53"] != "answered"


@pytest.mark.kernel
def test_applied_sets_read_back_as_ipsets_from_the_live_ruleset(netns, tmp_path):
    import os
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "fwmigrate", *args], capture_output=True,
                              text=True, env=env, timeout=60)
    applied = run("apply", str(RULES), "--ipsets", str(IPSETS), "--netns", netns.name,
                  "--state-dir", str(tmp_path))
    assert applied.returncode == 0, applied.stderr
    assert "nft syntax (the sets keep their `ipset NAME TYPE` comments" in applied.stdout
    live = run("diff", str(RULES), "--live", "--netns", netns.name)
    assert live.returncode == 0 and "same" in live.stdout, live.stdout + live.stderr
    status = run("status", "--netns", netns.name).stdout
    assert "set admin (ipv4_addr . inet_proto . inet_service): 4 members" in status
    assert "    203.0.113.50 . tcp . 22" in status


SCRIPT = """\
BAD="192.0.2.0/24 198.51.100.0/24"
ipset create bad hash:net -exist 2>/dev/null || true
ipset flush bad
for net in $BAD; do
    ipset add bad $net
done
ipset -exist add allow 10.0.0.1,tcp:22
ipset list bad >/dev/null
ipset add nosuch 1.2.3.4 || echo "not there"
iptables -A INPUT -m set --match-set bad src -j DROP
iptables -A INPUT -m set --match-set allow src,dst -j ACCEPT
"""


def test_a_script_s_ipset_commands_make_the_sets_from_what_ipsets_gives():
    result = convert(SCRIPT, "fw.sh", ConvertOptions(
        ipsets=("create allow hash:ip,port\nadd allow 10.0.0.9,udp:53\n", "kernel.ipsets")))
    assert "elements = { 192.0.2.0/24, 198.51.100.0/24 }" in result.output
    assert "elements = { 10.0.0.9 . udp . 53, 10.0.0.1 . tcp . 22 }" in result.output
    assert any("`ipset list' does not change the firewall" in w.message
               for w in result.warnings)
    # without --ipsets, `allow` was never created: the -exist add fails, not handled
    with pytest.raises(FwmigrateError) as info:
        convert(SCRIPT, "fw.sh", ConvertOptions())
    error, refused = info.value.diagnostics
    assert (error.loc.line, error.loc.col) == (7, 18)
    assert error.message == "ipset: set allow does not exist (no `create' line before this one)"
    # and the kernel refuses the rule naming it
    assert refused.loc.line == 11
    assert refused.message.startswith("ipset allow does not exist: the kernel refuses")


@pytest.mark.parametrize("line, what", [
    ("ipset restore < /etc/ipsets.conf", "`ipset restore'"),
    ("ipset test bad 10.0.0.1 && iptables -A INPUT -j DROP", "`ipset test'"),
])
def test_ipset_commands_a_script_cannot_be_followed_in_are_refused(line, what):
    with pytest.raises(FwmigrateError) as info:
        convert(line + "\niptables -A INPUT -j ACCEPT\n", "fw.sh", ConvertOptions())
    first = info.value.diagnostics[0]
    assert what in first.message and "cannot follow without running it" in first.message
    assert "--ipsets FILE" in first.hint and "--skip-unknown" in first.hint
