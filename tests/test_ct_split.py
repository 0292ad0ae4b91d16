"""Conntrack tests nft cannot say in one rule, written as two (backends/nft_ct_split.py):
`! --ctstate S` with SNAT/DNAT in S, and `--ctstate P,N` mixing states with SNAT/DNAT. The
one-line forms are in tests/vectors/conntrack.txt and conntrack_raw.txt; the kernel's
verdicts in test_differential.py; reading them back in test_ct_split_kernel.py."""

from __future__ import annotations

import re

import pytest
from test_ct_template_kernel import TESTS as AFTER_CT

from fwmigrate.backends import nft_json
from fwmigrate.backends.nft_translate import NftOptions, translate
from fwmigrate.convert import ConvertOptions, convert, read
from fwmigrate.dropin import translate_command
from fwmigrate.errors import FwmigrateError

KUBE_FIREWALL = ('-A INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block '
                 'incoming localnet connections" -m conntrack ! --ctstate '
                 'RELATED,ESTABLISHED,DNAT -j DROP')


def _rules(output: str) -> list[str]:
    """The rule lines of `convert --to nft` output (those of the base chains' headers out)."""
    return [line.strip() for line in output.splitlines() if line.startswith("\t\t")
            and not line.strip().startswith("type ")]


def _hint_rules(rule: str, hint: str) -> str:
    """A script of the rules a refusal's hint names, each in place of the rule's -m conntrack."""
    test = re.search(r"-m conntrack !? ?--ctstate \S+", rule).group(0)
    written = re.findall(r"-m conntrack --ctstate [A-Z]+(?:,[A-Z]+)*"
                         r"(?: -m conntrack !? ?--ctstate [A-Z]+(?:,[A-Z]+)*)?", hint)
    assert len(written) == 2, hint
    return "".join(f"iptables {rule.replace(test, w)}\n" for w in written)


@pytest.mark.parametrize("rule", [
    KUBE_FIREWALL,
    "-A INPUT -m conntrack ! --ctstate INVALID,SNAT -j DROP",
    "-A FORWARD -p tcp -m conntrack --ctstate NEW,DNAT -j LOG",
    "-A FORWARD -m conntrack --ctstate INVALID,SNAT,DNAT -j ACCEPT",
])
def test_the_two_rules_are_those_the_refusal_named(rule):
    # the refusal after a random draw (which must not run twice) still names the two rules;
    # without the draw fwmigrate writes exactly what those two rules translate to
    drawn = rule.replace("-m conntrack", "-m statistic --mode random --probability 0.5 "
                                         "-m conntrack", 1)
    with pytest.raises(FwmigrateError) as info:
        convert(f"iptables {drawn}\n", "fw.sh", ConvertOptions())
    [error] = info.value.diagnostics
    named = _hint_rules(rule, error.hint)
    split = _rules(convert(f"iptables {rule}\n", "fw.sh", ConvertOptions()).output)
    assert len(split) == 2
    assert split == _rules(convert(named, "fw.sh", ConvertOptions()).output)


def test_the_second_rule_is_marked_as_the_companion_of_the_first():
    ruleset, _ = read(f"iptables {KUBE_FIREWALL}\n", "fw.sh", ConvertOptions())
    chain = translate(ruleset, NftOptions()).ruleset.tables[0].chains[0]
    assert [r.companion for r in chain.rules] == [False, True]
    assert chain.rules[0].loc == chain.rules[1].loc


def test_a_rule_after_one_with_an_earlier_state_test_is_split_too():
    # the same -m conntrack ! --ctstate DNAT once after --ctstate NEW (one rule) and once
    # alone: a cache of match translations gave the second rule the first one's `ct status !
    # dnat`, which lets packets without a conntrack entry through
    script = ("iptables -A INPUT -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT "
              "-j DROP\niptables -A INPUT -m conntrack ! --ctstate DNAT -j DROP\n")
    assert _rules(convert(script, "fw.sh", ConvertOptions()).output)[:3] == [
        "ct state new ct status ! dnat drop",
        "ct state invalid,untracked drop",
        "ct state established,related,new ct status ! dnat drop"]


def test_the_counters_go_on_the_first_rule_and_the_second_counts_from_zero():
    # the two count disjoint packets: their sum is what iptables' one rule counted
    save = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "[7:420] -A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n"
            "COMMIT\n")
    out = convert(save, "fw.save", ConvertOptions(counters=True)).output
    assert _rules(out) == [
        "ct state invalid,untracked counter packets 7 bytes 420 drop",
        "ct state new ct status ! dnat counter packets 0 bytes 0 drop"]


def test_the_drop_in_prints_both_rules_and_inserts_them_in_their_order():
    args = ["-A", "INPUT", "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED,DNAT",
            "-j", "DROP"]
    appended = translate_command(args, "ip")
    assert [line.split(" INPUT ", 1)[1] for line in appended] == [
        "ct state invalid,untracked counter drop'",
        "ct state new ct status ! dnat counter drop'"]
    assert all(line.startswith("nft 'add rule ip filter INPUT ") for line in appended)
    # inserted at one place, the second goes in first to end up after the first
    inserted = translate_command(["-I", "INPUT", "2", *args[2:]], "ip")
    assert [line.split(" INPUT ", 1)[1] for line in inserted] == [
        "index 1 ct state new ct status ! dnat counter drop'",
        "index 1 ct state invalid,untracked counter drop'"]
    assert all(line.startswith("nft 'insert rule ip filter INPUT ") for line in inserted)


def test_the_json_backend_writes_the_same_two_rules():
    ruleset, _ = read("iptables -A FORWARD -m conntrack --ctstate NEW,DNAT -j ACCEPT\n",
                      "fw.sh", ConvertOptions())
    batch = nft_json.commands(translate(ruleset, NftOptions()).ruleset)
    rules = [c["add"]["rule"]["expr"] for c in batch["nftables"]
             if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == "FORWARD"]
    state = {"ct": {"key": "state"}}
    assert rules == [
        [{"match": {"op": "in", "left": state, "right": "new"}}, {"accept": None}],
        [{"match": {"op": "in", "left": state, "right": ["established", "related"]}},
         {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
         {"accept": None}]]


@pytest.mark.parametrize("rule, why", [
    # a side effect or a random answer before the conntrack test would happen twice
    ("-A INPUT -m limit --limit 1/s -m conntrack ! --ctstate DNAT -j DROP", "side effect"),
    ("-A INPUT -m recent --set --name r -m conntrack --ctstate NEW,DNAT -j DROP",
     "side effect"),
    # a limit after it would be one token bucket per nft rule, where iptables has one
    ("-A INPUT -m conntrack ! --ctstate DNAT -m limit --limit 1/s -j DROP", "per nft rule"),
    ("-A INPUT -m conntrack ! --ctstate DNAT -m quota --quota 100 -j DROP", "per nft rule"),
    # raw: the target may give the packet the state the second rule tests
    ("-t raw -A PREROUTING -m conntrack ! --ctstate DNAT -j CT --zone 1", "raw"),
    ("-t raw -A PREROUTING -m conntrack ! --ctstate DNAT -j NOTRACK", "raw"),
    ("-t raw -A PREROUTING -m conntrack ! --ctstate DNAT -j CT --notrack", "raw"),
    ("-t raw -A PREROUTING -m conntrack ! --ctstate DNAT -j CHAIN", "raw"),
    # one companion per rule
    ("-A INPUT -m conntrack ! --ctstate DNAT -m conntrack --ctstate NEW,SNAT -j DROP",
     "second such test"),
])
def test_where_the_two_rules_would_not_be_exact_the_rule_is_refused(rule, why):
    setup = "iptables -t raw -N CHAIN\n" if "CHAIN" in rule else ""
    with pytest.raises(FwmigrateError) as info:
        convert(f"{setup}iptables {rule}\n", "fw.sh", ConvertOptions())
    [error] = info.value.diagnostics
    assert why in error.message, error.message
    assert any(why in error.message for why in ("conntrack entry", "mixing SNAT/DNAT"))
    assert error.hint, error


# after -j CT in raw (a template entry: test_ct_template_kernel.py, nft_ct_templates.py)
@pytest.mark.parametrize("test, nft", AFTER_CT)
def test_fwmigrate_translates_only_the_state_test_after_ct(test, nft):
    script = ("iptables -t raw -A OUTPUT -p udp --dport 9 -j CT --zone 1\n"
              f"iptables -t raw -A OUTPUT -p udp --dport 9 {test} -j DROP\n")
    if nft == "ct state new":
        assert f"{nft} drop" in convert(script, "fw.sh", ConvertOptions()).output
        return
    with pytest.raises(FwmigrateError) as info:
        convert(script, "fw.sh", ConvertOptions())
    [error] = info.value.diagnostics
    assert "template" in error.message and str(error.loc) == "fw.sh:2:1", error
    # without the -j CT, or with it in the other hook (conntrack replaces a PREROUTING
    # template before OUTPUT), the test translates
    for other in ("", "iptables -t raw -A PREROUTING -p udp --dport 9 -j CT --zone 1\n"):
        out = convert(other + script.splitlines(True)[1], "fw.sh", ConvertOptions()).output
        assert f"{nft} drop" in out


def _refused_lines(script: str) -> list[int]:
    with pytest.raises(FwmigrateError) as info:
        convert(script, "fw.sh", ConvertOptions())
    return sorted(d.loc.line for d in info.value.diagnostics)


def test_ct_zone_is_refused_only_where_an_untracked_packet_meets_it():
    # (test_ct_template_kernel.py: after NOTRACK xt_CT leaves the packet alone, nft's
    # `ct zone set` tracks it)
    script = ("iptables -t raw -N X\n"                                  # 1
              "iptables -t raw -N Y\n"                                  # 2
              "iptables -t raw -A OUTPUT -j CT --zone 1\n"              # 3 before: alike
              "iptables -t raw -A OUTPUT -j X\n"                        # 4
              "iptables -t raw -A X -p udp -g Y\n"                      # 5
              "iptables -t raw -A X -j CT --zone 2\n"                   # 6 -g Y never comes back
              "iptables -t raw -A Y -j NOTRACK\n"                       # 7
              "iptables -t raw -A OUTPUT -j CT --zone 3\n"              # 8 Y returned here
              "iptables -t raw -A PREROUTING -j CT --zone 4\n")         # 9 lo from OUTPUT
    assert _refused_lines(script) == [8, 9]
    # without the untracking rule all translate; with it in PREROUTING only, OUTPUT's do
    assert "ct zone set 4" in convert(script.replace("-A Y -j NOTRACK", "-A Y -j MARK "
                                      "--set-mark 1"), "fw.sh", ConvertOptions()).output
    moved = script.replace("-A Y -j NOTRACK", "-A PREROUTING -j CT --notrack")
    assert _refused_lines(moved) == [9]


def test_restore_mark_is_refused_where_a_template_reaches_it():
    rule = "iptables -t raw -A OUTPUT -j CONNMARK --restore-mark\n"
    assert _refused_lines("iptables -t raw -A OUTPUT -j CT --zone 1\n" + rule) == [2]
    for other in ("", "iptables -t raw -A PREROUTING -j CT --zone 1\n"):
        assert "mark set ct mark" in convert(other + rule, "fw.sh", ConvertOptions()).output


@pytest.mark.parametrize("untrack, zone, refused", [
    ("-A PREROUTING -i eth0 -j NOTRACK", "-A PREROUTING -i eth2 -j CT --zone 5", False),
    ("-A PREROUTING -i eth+ -j NOTRACK", "-A PREROUTING -i eth2 -j CT --zone 5", True),
    ("-A PREROUTING -i eth0 -j NOTRACK", "-A PREROUTING -i et+ -j CT --zone 5", True),
    ("-A PREROUTING ! -i eth0 -j NOTRACK", "-A PREROUTING -i eth2 -j CT --zone 5", True),
    ("-A PREROUTING -j NOTRACK", "-A PREROUTING -i eth2 -j CT --zone 5", True),
    # what raw OUTPUT untracks comes back on lo, or (a broadcast or multicast the kernel
    # loops back) on the interface it went out of: any (test_ct_template_kernel.py)
    ("-A OUTPUT -j NOTRACK", "-A PREROUTING -i eth2 -j CT --zone 5", True),
    ("-A OUTPUT -j NOTRACK", "-A PREROUTING -i lo -j CT --zone 5", True),
    ("-A OUTPUT -j NOTRACK", "-A PREROUTING -i l+ -j CT --zone 5", True),
])
def test_an_untracked_packet_meets_ct_only_on_an_interface_both_rules_take(untrack, zone,
                                                                          refused):
    script = f"iptables -t raw {untrack}\niptables -t raw {zone}\n"
    if refused:
        assert _refused_lines(script) == [2]
    else:
        assert "ct zone set 5" in convert(script, "fw.sh", ConvertOptions()).output


@pytest.mark.parametrize("untrack, zone, refused", [
    # a packet has one protocol: -p udp untracked never meets -p tcp's -j CT
    ("-A PREROUTING -p udp -j NOTRACK", "-A PREROUTING -p tcp -j CT --zone 5", False),
    ("-A PREROUTING -p udp -j CT --notrack", "-A PREROUTING -p udp -j CT --zone 5", True),
    ("-A PREROUTING -p udp -j NOTRACK", "-A PREROUTING -j CT --zone 5", True),
    ("-A PREROUTING -j NOTRACK", "-A PREROUTING -p tcp -j CT --zone 5", True),
    # an inverted protocol proves nothing here (kept simple)
    ("-A PREROUTING ! -p tcp -j NOTRACK", "-A PREROUTING -p tcp -j CT --zone 5", True),
    ("-A PREROUTING -p udp -j NOTRACK", "-A PREROUTING ! -p udp -j CT --zone 5", True),
    # the protocol of the rule that jumps holds in the chain jumped to, and the other way
    ("-A PREROUTING -p udp -j UNTRACK", "-A PREROUTING -p tcp -j CT --zone 5", False),
    ("-A PREROUTING -j UNTRACK", "-A PREROUTING -p udp -j CT --zone 5", True),
    ("-A PREROUTING -p udp -j NOTRACK", "-A PREROUTING -p tcp -j ZONE", False),
    ("-A PREROUTING -p udp -j NOTRACK", "-A PREROUTING -j ZONE", True),
    # lo brings raw OUTPUT's untracked packet back with its protocol (and so does a looped
    # broadcast, on another interface)
    ("-A OUTPUT -p udp -j NOTRACK", "-A PREROUTING -i lo -p tcp -j CT --zone 5", False),
    ("-A OUTPUT -p udp -j NOTRACK", "-A PREROUTING -i lo -p udp -j CT --zone 5", True),
    ("-A OUTPUT -p udp -j NOTRACK", "-A PREROUTING -i eth0 -p tcp -j CT --zone 5", False),
    ("-A OUTPUT -p udp -j NOTRACK", "-A PREROUTING -i eth0 -p udp -j CT --zone 5", True),
    # either the interface or the protocol keeps them apart
    ("-A PREROUTING -i eth0 -p udp -j NOTRACK", "-A PREROUTING -i eth2 -p udp -j CT --zone 5",
     False),
    ("-A PREROUTING -i eth0 -p udp -j NOTRACK", "-A PREROUTING -i eth0 -p tcp -j CT --zone 5",
     False),
    ("-A PREROUTING -i eth+ -p udp -j NOTRACK", "-A PREROUTING -i eth0 -p udp -j CT --zone 5",
     True),
])
def test_an_untracked_packet_meets_ct_only_with_a_protocol_both_rules_take(untrack, zone,
                                                                          refused):
    chains = ("iptables -t raw -N UNTRACK\niptables -t raw -A UNTRACK -j NOTRACK\n"
              "iptables -t raw -N ZONE\niptables -t raw -A ZONE -j CT --zone 5\n")
    script = f"{chains}iptables -t raw {untrack}\niptables -t raw {zone}\n"
    if refused:
        assert _refused_lines(script) == [4 if "ZONE" in zone else 6]
    else:
        assert "ct zone set 5" in convert(script, "fw.sh", ConvertOptions()).output


@pytest.mark.parametrize("tee, zone, refused", [
    # xt_TEE's (and nft's dup's) copy goes out through raw OUTPUT untracked, from any table
    ("-t mangle -A OUTPUT -j TEE --gateway 10.0.0.1", "-A OUTPUT -j CT --zone 5", True),
    ("-t mangle -A PREROUTING -p udp -j TEE --gateway 10.0.0.1",
     "-A OUTPUT -p udp -j CT --zone 5", True),
    ("-t mangle -A PREROUTING -p udp -j TEE --gateway 10.0.0.1",
     "-A OUTPUT -p tcp -j CT --zone 5", False),
    # and, sent to a local address, comes back on lo still untracked (a broadcast one on
    # the interface it went out of)
    ("-t mangle -A OUTPUT -j TEE --gateway 127.0.0.1", "-A PREROUTING -i lo -j CT --zone 5",
     True),
    ("-t mangle -A OUTPUT -j TEE --gateway 127.0.0.1", "-A PREROUTING -i eth0 -j CT --zone 5",
     True),
    ("-t mangle -A OUTPUT -p udp -j TEE --gateway 127.0.0.1",
     "-A PREROUTING -i eth0 -p tcp -j CT --zone 5", False),
])
def test_ct_zone_is_refused_where_a_tee_copy_meets_it(tee, zone, refused):
    script = f"iptables {tee}\niptables -t raw {zone}\n"
    if refused:
        assert _refused_lines(script) == [2]
    else:
        assert "ct zone set 5" in convert(script, "fw.sh", ConvertOptions()).output
    # an ip6tables TEE copies IPv6 packets, which iptables' raw table never sees
    assert "ct zone set 5" in convert(script.replace("iptables -t mangle", "ip6tables -t mangle")
                                      .replace("10.0.0.1", "fd00::1")
                                      .replace("127.0.0.1", "::1"),
                                      "fw.sh", ConvertOptions()).output


READS = "-m conntrack --ctstatus CONFIRMED -j DROP"


@pytest.mark.parametrize("rules, refused", [
    # a template reader before the -j CT meets no template (conntrack has not run yet): alike
    ((f"-A OUTPUT {READS}", "-A OUTPUT -j CT --zone 1"), []),
    (("-A OUTPUT -j CONNMARK --restore-mark", "-A OUTPUT -j CT --zone 1"), []),
    ((f"-A OUTPUT {READS}", "-A OUTPUT -j CT --zone 1", f"-A OUTPUT {READS}"), [3]),
    # in the order the packet walks the chains: a chain jumped to before and after the -j CT
    (("-A OUTPUT -j X", "-A OUTPUT -j CT --zone 1", f"-A X {READS}"), []),
    (("-A OUTPUT -j X", "-A OUTPUT -j CT --zone 1", "-A OUTPUT -j X", f"-A X {READS}"), [4]),
    (("-A OUTPUT -j Y", f"-A OUTPUT {READS}", "-A Y -j CT --zone 1"), [2]),
    (("-A OUTPUT -p udp -g Y", f"-A OUTPUT {READS}", "-A Y -j CT --zone 1"), []),
    (("-A OUTPUT -j X", "-A X -p udp -g Y", f"-A OUTPUT {READS}", "-A Y -j CT --zone 1"), [3]),
    # another protocol never meets the template; another hook never does either
    (("-A OUTPUT -p udp -j CT --zone 1", f"-A OUTPUT -p tcp {READS}"), []),
    (("-A OUTPUT -p udp -j CT --zone 1", f"-A OUTPUT {READS}"), [2]),
    (("-A PREROUTING -j CT --zone 1", f"-A OUTPUT {READS}"), []),
    (("-A OUTPUT -j CT --notrack", f"-A OUTPUT {READS}"), []),
])
def test_a_template_is_read_only_after_the_ct_that_attaches_it(rules, refused):
    script = "iptables -t raw -N X\niptables -t raw -N Y\n" + "".join(
        f"iptables -t raw {r}\n" for r in rules)
    if refused:
        assert _refused_lines(script) == [n + 2 for n in refused]
    else:
        convert(script, "fw.sh", ConvertOptions())


@pytest.mark.parametrize("proxy, reads, refused", [
    # SYNPROXY's SYN to the server goes out through raw OUTPUT with the proxy's template
    ("-A INPUT -p tcp -j SYNPROXY", f"-A OUTPUT {READS}", True),
    ("-A FORWARD -p tcp -j SYNPROXY", f"-A OUTPUT -p tcp {READS}", True),
    ("-A INPUT -p tcp -j SYNPROXY", f"-A OUTPUT -p udp {READS}", False),
    ("-A INPUT -p tcp -j SYNPROXY", f"-A PREROUTING {READS}", False),
    ("-A INPUT -p tcp -j SYNPROXY", "-A OUTPUT -j CONNMARK --restore-mark", True),
    ("-A INPUT -p tcp -j SYNPROXY", "-A OUTPUT -m conntrack --ctstate NEW -j DROP", False),
])
def test_a_template_reader_is_refused_where_synproxy_sends_its_template(proxy, reads,
                                                                        refused):
    script = f"iptables {proxy}\niptables -t raw {reads}\n"
    if refused:
        assert _refused_lines(script) == [2]
    else:
        convert(script, "fw.sh", ConvertOptions())
    # an ip6tables SYNPROXY sends IPv6 packets, which iptables' raw table never sees
    convert(script.replace("iptables -A", "ip6tables -A"), "fw.sh", ConvertOptions())
