"""`verify --equiv` and the conntrack DNAT/SNAT status a nat rule leaves on a connection's first
packet: the tables after nat on the same hook (filter and security OUTPUT after nat OUTPUT)
see it on that packet already. The checker walked the
status as it came in, so `-m conntrack --ctstate DNAT -j ACCEPT` after a DNAT seemed to drop
the packet the DNAT had just bound: a false "different"."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fwmigrate.convert import ConvertOptions, read
from fwmigrate.verify.equiv import check
from fwmigrate.verify.equiv_example import example
from fwmigrate.verify.evaluate import evaluate
from fwmigrate.verify.explain import HOOK_PATHS
from fwmigrate.verify.space import Space, collect

NAT_PORT = "iptables -t nat -A OUTPUT -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080\n"
NAT_ADDR = "iptables -t nat -A OUTPUT -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2\n"
ACCEPT_DNAT = ("iptables -A OUTPUT -m conntrack --ctstate DNAT -j ACCEPT\n"
               "iptables -P OUTPUT DROP\n")


def ir(script):
    return read(script, "t.sh", ConvertOptions())[0]


def differences(a, b):
    return [d for r in check(a, b) for d in r.differences]


def output_counterexamples(a, b):
    """One example packet per difference the checker finds in the output hook (at least one)."""
    diffs = [d for d in differences(a, b) if d.hook == "output"]
    assert diffs
    space = Space("ip")
    collect(space, a)
    collect(space, b)
    space.freeze()
    return [example(space, d.cube) for d in diffs]


def verdicts(ruleset, packet):
    """The evaluator's verdicts for the packet on the output path (the kernel's hook order)."""
    return sorted(o.verdict for o in evaluate(ruleset, packet, HOOK_PATHS["output"]))


@pytest.mark.parametrize("extra", [
    # a first packet to port 80 always leaves nat with DNAT (the port changes), so a LOG of
    # new port-80 packets without it never fires
    "iptables -A OUTPUT -p tcp --dport 80 -m conntrack --ctstate NEW "
    "-m conntrack ! --ctstate DNAT -j LOG\n",
    # ... and accepting new port-80 packets first changes nothing
    "iptables -A OUTPUT -p tcp --dport 80 -m conntrack --ctstate NEW -j ACCEPT\n",
])
def test_the_status_a_dnat_sets_is_seen_by_filter_output(extra):
    a = ir(NAT_PORT + ACCEPT_DNAT)
    b = ir(NAT_PORT + extra + ACCEPT_DNAT)
    assert not differences(a, b), [(d.hook, d.outcome_a, d.outcome_b)
                                   for d in differences(a, b)]


def test_a_dnat_to_the_address_a_packet_has_sets_nothing():
    """DNAT to 10.0.0.2 leaves a packet already sent there as it is (no tuple change, no
    status bit): accepting new port-80 packets does differ, and the counterexample is that
    packet, which the evaluator (the kernel's order of hooks) also treats differently."""
    a = ir(NAT_ADDR + ACCEPT_DNAT)
    b = ir(NAT_ADDR + "iptables -A OUTPUT -p tcp --dport 80 -m conntrack --ctstate NEW "
           "-j ACCEPT\n" + ACCEPT_DNAT)
    for packet in output_counterexamples(a, b):
        assert str(packet.daddr) == "10.0.0.2" and packet.dport == 80, packet
        assert packet.ct_state == "new"
        assert verdicts(a, packet) != verdicts(b, packet), packet


def test_a_dnat_to_a_range_may_or_may_not_set_it():
    """The kernel picks an address of a range by a hash: both are possible, so a rule that
    relies on the bit differs from one that does not (never judged equivalent by guessing)."""
    nat = "iptables -t nat -A OUTPUT -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2-10.0.0.3\n"
    a = ir(nat + ACCEPT_DNAT)
    b = ir(nat + "iptables -A OUTPUT -p tcp --dport 80 -d 10.0.0.2 -m conntrack --ctstate NEW "
           "-j ACCEPT\n" + ACCEPT_DNAT)
    assert [d for d in differences(a, b) if d.hook == "output"]


def test_a_truly_different_filter_is_still_found():
    a = ir(NAT_PORT + ACCEPT_DNAT)
    b = ir(NAT_PORT + "iptables -A OUTPUT -m conntrack --ctstate SNAT -j ACCEPT\n"
           "iptables -P OUTPUT DROP\n")
    diffs = [d for d in differences(a, b) if d.hook == "output"]
    assert diffs


def run(*args):
    return subprocess.run([sys.executable, "-m", "fwmigrate", *args], capture_output=True,
                          text=True)


def test_a_ruleset_equals_its_nft_translation_and_a_rewrite(tmp_path):
    source = tmp_path / "a.sh"
    source.write_text(NAT_PORT + ACCEPT_DNAT)
    converted = run("convert", str(source), "--to", "nft")
    assert converted.returncode == 0, converted.stderr
    nft = tmp_path / "a.nft"
    nft.write_text(converted.stdout)
    result = run("verify", "--equiv", str(source), str(nft))
    assert result.returncode == 0 and result.stdout.startswith("equivalent"), result.stdout
    rewrite = tmp_path / "b.sh"
    rewrite.write_text(NAT_PORT + "iptables -A OUTPUT -p tcp --dport 80 -m conntrack --ctstate "
                       "NEW -j ACCEPT\n" + ACCEPT_DNAT)
    result = run("verify", "--equiv", str(nft), str(rewrite))
    assert result.returncode == 0 and result.stdout.startswith("equivalent"), result.stdout


MARKED = ("iptables -t mangle -A OUTPUT -j MARK --set-mark 0\n"
          "iptables -t mangle -A OUTPUT -d 198.51.100.7 -j MARK --set-mark 1\n"
          "iptables -t nat -A OUTPUT -d 198.51.100.7 -p tcp --dport 8080 "
          "-j DNAT --to-destination 10.0.0.2:80\niptables -P OUTPUT DROP\n")


def test_the_tables_after_nat_output_see_the_rewritten_packet():
    """Only a packet sent to 198.51.100.7:8080 is marked 1 and then sent to 10.0.0.2:80,
    which A lets out and B does not: the checker walked filter with the address and port
    the packet came with, where A's rule never matched, and said equivalent (fail-open)."""
    a = ir(MARKED + "iptables -A OUTPUT -m mark --mark 1 -d 10.0.0.2 -p tcp --dport 80 "
           "-j ACCEPT\n")
    b = ir(MARKED)
    for packet in output_counterexamples(a, b):
        assert (str(packet.daddr), packet.dport) == ("198.51.100.7", 8080), packet
        assert verdicts(a, packet) != verdicts(b, packet), packet


@pytest.mark.parametrize("nat", [
    "-j DNAT --to-destination 10.0.0.2:80",
    # a port of the range: the kernel keeps one inside it, picks one of it for one outside
    "-j DNAT --to-destination 10.0.0.2:80-90",
    "-j REDIRECT --to-ports 80",
])
def test_a_new_packet_nat_rewrote_is_not_tested_as_it_came(nat):
    """A new packet to port 8080 leaves nat OUTPUT for another port: a rule of filter OUTPUT
    for new packets to 8080 never matches (the checker said it drops them)."""
    base = f"iptables -t nat -A OUTPUT -p tcp --dport 8080 {nat}\n"
    a = ir(base + "iptables -A OUTPUT -p tcp --dport 8080 -m conntrack --ctstate NEW -j DROP\n")
    b = ir(base)
    assert not differences(a, b), [(d.hook, d.outcome_a, d.outcome_b)
                                   for d in differences(a, b)]
