"""The two rules a conntrack test becomes (backends/nft_ct_split.py), loaded into the kernel
and read back (frontends/nft_ct_fold.py): the reader folds the exact pair into the one
iptables rule, so `fwmigrate verify` finds no difference; any other pair stays two rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from fwmigrate.backends.iptables_save import rule_line
from fwmigrate.convert import ConvertOptions
from fwmigrate.errors import Diagnostics
from fwmigrate.verify.roundtrip import round_trip
from fwmigrate.verify.sources import read_any

pytestmark = pytest.mark.kernel

RULES = [
    '-A INPUT ! -s {lo} -d {lo} -m comment --comment "block incoming localnet connections" '
    '-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    "-A INPUT -p tcp -m tcp --dport 22 -m conntrack ! --ctstate INVALID,SNAT -j ACCEPT",
    "-A INPUT -m conntrack ! --ctstate DNAT -m conntrack --ctstate NEW -j LOG",
    "-A FORWARD -m conntrack --ctstate NEW,DNAT -j ACCEPT",
    "-A FORWARD -s {net} -m conntrack --ctstate INVALID,SNAT,DNAT -j DROP",
    "-A FORWARD -m conntrack ! --ctstate DNAT -m recent --set --name seen --rsource -j ACCEPT",
    "-t raw -A PREROUTING -m conntrack --ctstate NEW,DNAT -j MARK --set-mark 0x1",
]
FAMILIES = {"iptables": {"lo": "127.0.0.0/8", "net": "10.0.0.0/8"},
            "ip6tables": {"lo": "::1/128", "net": "fd00::/8"}}


def _script(*programs: str) -> str:
    return "".join(f"{program} {rule.format(**FAMILIES[program])}\n"
                   for program in programs for rule in RULES)


@pytest.mark.parametrize("programs, family", [
    (("iptables",), None),
    (("ip6tables",), None),
    # one inet table: the family-neutral pairs are written once for both families
    (("iptables", "ip6tables"), "inet"),
])
def test_the_two_rules_read_back_as_the_one_rule(netns, programs, family):
    report = round_trip(_script(*programs), "fw.sh", ConvertOptions(family=family))
    assert report.ok, [c.describe() for c in report.kernel + report.restore]
    assert report.rules == len(RULES) * len(programs)


def _read(nft_text: str) -> list[str]:
    diags = Diagnostics()
    ruleset = read_any(nft_text, "hand.nft", diags)
    assert not diags.errors, [d.render() for d in diags.errors]
    return [rule_line("INPUT", r) for r in ruleset.table("ip", "filter").chain("INPUT").rules]


def test_the_pair_fwmigrate_writes_is_one_rule(netns):
    assert _read("""table ip t {
    chain INPUT {
        type filter hook input priority 0;
        ip saddr 10.0.0.1 ct state invalid,untracked drop
        ip saddr 10.0.0.1 ct state new ct status ! dnat drop
        ct state new accept
        ct state established,related ct status snat accept
    }
}
""") == ["-A INPUT -s 10.0.0.1/32 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
         "-A INPUT -m conntrack --ctstate NEW,SNAT -j ACCEPT"]


@pytest.mark.parametrize("pair", [
    # a limit before the state test: each rule has a bucket, so the two are not one rule
    "limit rate 1/second ct state invalid,untracked drop\n"
    "limit rate 1/second ct state new ct status ! dnat drop",
    # a limit after it: one bucket per rule, where the one rule has one
    "ct state invalid,untracked limit rate 1/second drop\n"
    "ct state new ct status ! dnat limit rate 1/second drop",
    # other tests in the second rule
    "ip saddr 10.0.0.1 ct state invalid,untracked drop\n"
    "ip saddr 10.0.0.2 ct state new ct status ! dnat drop",
    # states that leave out a connection state (established, not related) ...
    "ct state new accept\nct state established ct status snat accept",
    # ... or that overlap: a NEW connection that was DNATed meets both rules' target
    "ct state new log\nct state established,related,new ct status dnat log",
    # an entry's state where only states of packets without one belong
    "ct state invalid,new drop\nct state established ct status ! dnat drop",
])
def test_any_other_pair_stays_two_rules(netns, pair):
    text = "table ip t {\n chain INPUT {\n  type filter hook input priority 0;\n" + \
        pair + "\n }\n}\n"
    assert len(_read(text)) >= 2


@pytest.mark.parametrize("target, rules, error", [
    ("meta mark set 0x1", 1, None),
    # -j CT's template (or NOTRACK) gives the packet a state the second rule tests: the
    # target could act twice, so these are two rules
    ("notrack", 2, None),
    ("jump raw_X", 2, None),
    # and after the first rule's template the second's `ct status` means something else in
    # iptables (it reads the template: frontends/ct_templates.py): not read at all
    ("ct zone set 1", 1, "template entry"),
])
def test_in_raw_a_pair_whose_target_moves_the_state_stays_two_rules(netns, target, rules,
                                                                     error):
    diags = Diagnostics()
    ruleset = read_any(f"""table ip t {{
    chain raw_X {{
    }}
    chain raw_PREROUTING {{
        type filter hook prerouting priority -300;
        ct state invalid,untracked {target}
        ct state new ct status ! dnat {target}
    }}
}}
""", "hand.nft", diags)
    assert [error in d.message for d in diags.errors] == ([True] if error else []), \
        [d.render() for d in diags.errors]
    assert len(ruleset.table("ip", "raw").chain("PREROUTING").rules) == rules


def test_the_kubeadm_node_dump_round_trips_but_for_its_checksum_rule(netns):
    # tests/realworld: its only refusal left is libvirt's -j CHECKSUM (test_realworld.py);
    # KUBE-FIREWALL's ! --ctstate RELATED,ESTABLISHED,DNAT is now two rules
    dump = Path(__file__).parent / "realworld" / "kubeadm-flannel-libvirt-docker.save"
    lines = dump.read_text().splitlines(keepends=True)
    assert "-j CHECKSUM" in lines[7]
    text = "".join(lines[:7] + lines[8:])
    assert "! --ctstate RELATED,ESTABLISHED,DNAT" in text
    report = round_trip(text, "kubeadm.save", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel + report.restore]


def _read_all(nft_text: str) -> tuple[dict[str, list[str]], list[str]]:
    diags = Diagnostics()
    ruleset = read_any(nft_text, "hand.nft", diags)
    return ({t.family: [rule_line(c.name, r) for c in t.chains for r in c.rules]
             for t in ruleset.tables}, [d.message for d in diags.errors])


@pytest.mark.parametrize("pair, family_rules", [
    # the second rule for IPv4 only: an IPv6 connection with SNAT is not accepted
    ("ct state new accept\n"
     "meta nfproto ipv4 ct state established,related ct status snat accept",
     {"ip": ["-A INPUT -m conntrack --ctstate NEW,SNAT -j ACCEPT"],
      "ip6": ["-A INPUT -m conntrack --ctstate NEW -j ACCEPT"]}),
    # one rule of each family: neither family has the pair
    ("meta nfproto ipv4 ct state new accept\n"
     "meta nfproto ipv6 ct state established,related ct status snat accept",
     {"ip": ["-A INPUT -m conntrack --ctstate NEW -j ACCEPT"],
      "ip6": ["-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m conntrack --ctstate "
              "SNAT -j ACCEPT"]}),
])
def test_an_inet_pair_is_one_rule_only_in_the_family_both_rules_are_of(netns, pair,
                                                                      family_rules):
    text = "table inet t {\n chain INPUT {\n  type filter hook input priority 0;\n" + \
        pair + "\n }\n}\n"
    assert _read_all(text) == (family_rules, [])


@pytest.mark.parametrize("rules, read, error", [
    # `==`/`!=` compare the whole status (confirmed, seen-reply, … set too): a connection's
    # status is never just dnat, so this pair accepts NEW only, not --ctstate NEW,DNAT
    ("ct state new accept\nct state established,related ct status == dnat accept",
     ["-A INPUT -m conntrack --ctstate NEW -j ACCEPT"], "ct status == dnat"),
    # and this one drops a DNATed connection too, not ! --ctstate DNAT
    ("ct state invalid,untracked drop\nct state established,related,new ct status != dnat drop",
     ["-A INPUT -m conntrack --ctstate INVALID,UNTRACKED -j DROP"], "ct status != dnat"),
    ("ct state new ct status != snat | dnat accept", [], "ct status != snat | dnat"),
    ("ct status { snat, dnat } accept", [], "ct status == { snat, dnat }"),
    # a state is one bit: `== a | b` never holds
    ("ct state == established | related accept", [], "ct state == established | related"),
    # ... so a set of states is a test for any of them
    ("ct state { established, related } accept",
     ["-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"], None),
    ("ct state == new ct status dnat accept",
     ["-A INPUT -m conntrack --ctstate NEW -m conntrack --ctstate DNAT -j ACCEPT"], None),
])
def test_a_compare_of_the_whole_state_or_status_is_no_flag_test(netns, rules, read, error):
    text = "table ip t {\n chain INPUT {\n  type filter hook input priority 0;\n" + \
        rules + "\n }\n}\n"
    family_rules, errors = _read_all(text)
    assert family_rules.get("ip", []) == read
    assert [error in e for e in errors] == ([True] if error else []), errors


@pytest.mark.parametrize("rules, read", [
    # xt_conntrack passes a packet without an entry once its --ctstate test holds, without
    # reading the match's other options; nft's `ct original` stops the rule at it: read
    # into one match, the pair would accept every INVALID packet, which nft's rules do not
    ("ct state invalid,untracked ct original ip daddr 10.0.0.1 accept\n"
     "ct state established,related,new ct status ! dnat ct original ip daddr 10.0.0.1 accept",
     "-A INPUT -m conntrack ! --ctstate DNAT -m conntrack --ctorigdst 10.0.0.1 -j ACCEPT"),
    ("ct state invalid,untracked ct status confirmed accept\n"
     "ct state established,related,new ct status ! dnat ct status confirmed accept",
     "-A INPUT -m conntrack ! --ctstate DNAT -m conntrack --ctstatus CONFIRMED -j ACCEPT"),
    ("ct state invalid ct original ip daddr 10.0.0.1 accept",
     "-A INPUT -m conntrack --ctstate INVALID -m conntrack --ctorigdst 10.0.0.1 -j ACCEPT"),
    ("ct original ip daddr 10.0.0.1 ct state invalid accept",
     "-A INPUT -m conntrack --ctorigdst 10.0.0.1 -m conntrack --ctstate INVALID -j ACCEPT"),
    # a state test no such packet passes: one match, as iptables-save lists it
    ("ct state new ct original ip daddr 10.0.0.1 accept",
     "-A INPUT -m conntrack --ctstate NEW --ctorigdst 10.0.0.1 -j ACCEPT"),
])
def test_a_state_test_an_entryless_packet_passes_keeps_other_ct_keys_apart(netns, rules,
                                                                           read):
    text = "table ip t {\n chain INPUT {\n  type filter hook input priority 0;\n" + \
        rules + "\n }\n}\n"
    assert _read_all(text) == ({"ip": [read]}, [])


def test_pairs_merged_with_the_other_familys_rules_round_trip_in_inet(netns):
    # the IPv6 rule is the pair's first rule, shared; the second rule is IPv4's alone: read
    # as IPv6's, the pair was ! --ctstate DNAT, accepting what IPv6's rule does not
    script = ("iptables -A INPUT -m conntrack ! --ctstate DNAT -j ACCEPT\n"
              "ip6tables -A INPUT -m conntrack --ctstate INVALID,UNTRACKED -j ACCEPT\n"
              "iptables -A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW,DNAT -j ACCEPT\n"
              "ip6tables -A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT\n"
              # IPv6's second rule, then one that is the same for IPv6 and IPv4's second
              "iptables -A INPUT -p udp -m conntrack --ctstate NEW,DNAT -j DROP\n"
              "ip6tables -A INPUT -p udp -m conntrack --ctstate NEW,DNAT -j DROP\n"
              "ip6tables -A INPUT -p udp -m conntrack --ctstate ESTABLISHED,RELATED "
              "-m conntrack --ctstate DNAT -j DROP\n")
    report = round_trip(script, "fw.sh", ConvertOptions(family="inet"))
    assert report.ok, [c.describe() for c in report.kernel + report.restore]
    assert report.rules == 7
