"""Vectors of iptables 1.8.9's *.txlate where the kernel shows the reference's nft (the
expected output of iptables-translate) doing something else than the iptables rule: the
iptables rule (through iptables-legacy), the reference's nft and fwmigrate's nft each count the
same crafted packets, and fwmigrate's counts what iptables counts where the reference's does
not. bench/conformance.py reports exactly these vectors as *reference-wrong* (its
REFERENCE_WRONG names the test of each); a vector no test here covers stays *different*.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
import struct
import sys
import time
from pathlib import Path

import pytest
from packets import (
    AH,
    DST4,
    FRAG,
    HBH,
    MH,
    RT,
    SRC4,
    SYN,
    TCP,
    UDP,
    Bench,
    _checksum,
    ah,
    frag6,
    ipv4,
    ipv6,
    mh,
    opts,
    rt,
    tcp,
    udp,
)

from conftest import ROOT, iptables_vectors_dir
from netns import namespace

_spec = importlib.util.spec_from_file_location("conformance", ROOT / "bench" / "conformance.py")
conformance = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("conformance", conformance)
_spec.loader.exec_module(conformance)


@functools.cache
def _vectors() -> dict:
    return {v.id: v for v in conformance.read_txlate(iptables_vectors_dir())}


def vector_of(vector_id: str):
    """The *.txlate vector; skips the test while the vectors are not fetched (conftest)."""
    return _vectors()[vector_id]


def rule_of(vector) -> str:
    """The vector's rule without its table and chain (`-t T -A CHAIN`)."""
    words = list(vector.args)
    out = []
    while words:
        word = words.pop(0)
        if word == "-t":
            words.pop(0)
        elif word in ("-A", "-I"):
            words.pop(0)
            if words and re.fullmatch(r"\d+", words[0]):
                words.pop(0)
        else:
            out.append(word)
    return shlex.join(out)


def compare(bench, vector_id, packets, where=("raw", "PREROUTING"),
            hook="prerouting priority -300", probes=((), ())):
    """Per packet, which rules count it: (iptables, fwmigrate's nft, the reference's nft).
    `probes` are rules after the vector's (iptables, nft) that look at what it did."""
    vector = vector_of(vector_id)
    mine, refusal = conformance.ours(vector)
    assert mine is not None, refusal
    legacy = bench.legacy_per_packet([rule_of(vector), *probes[0]], packets, where=where)
    ours = bench.nft_per_packet([*mine, *probes[1]], packets, hook=hook)
    reference = bench.nft_per_packet([*vector.expected, *probes[1]], packets, hook=hook)
    assert any(map(any, legacy)), "no packet reached the iptables rule"
    return legacy, ours, reference


# every bench here runs a vector: a test skips (or fails, in CI) before its namespace is made
@pytest.fixture
def bench4(iptables_vectors, netns):
    b = Bench(netns, "ip")
    yield b
    b.close()


@pytest.fixture
def bench6(iptables_vectors, netns):
    b = Bench(netns, "ip6")
    yield b
    b.close()


def _ip6_udp(*headers: bytes, first: int) -> tuple[int, bytes]:
    return ipv6(first, *headers, udp(9))


# IPv6 extension headers: the lengths ip6tables compares in bytes, the reserved fields it
# wants 0, and the mobility header it finds past AH
IPV6_PACKETS = [
    ipv6(UDP, udp(9)),
    _ip6_udp(ah(UDP, 500, units=28), first=AH),                 # AH of 120 bytes
    _ip6_udp(ah(UDP, 500, units=28, reserved=1), first=AH),
    _ip6_udp(ah(UDP, 500, units=1), first=AH),                  # AH of 12 bytes
    _ip6_udp(ah(UDP, 500, units=1, reserved=1), first=AH),
    _ip6_udp(opts(UDP, 22), first=HBH),                         # length field 22: 184 bytes
    _ip6_udp(opts(UDP), first=HBH),
    _ip6_udp(rt(UDP, 2, 0, 22), first=RT),
    _ip6_udp(rt(UDP, 2, 0), first=RT),
    _ip6_udp(frag6(UDP, 0, True, 100), first=FRAG),
    _ip6_udp(frag6(UDP, 0, True, 100, reserved=1), first=FRAG),
    ipv6(MH, mh(1)),
    ipv6(AH, ah(MH, 501), mh(1)),
    ipv6(AH, ah(MH, 502), mh(4)),
]

IPV6_VECTORS = ["libip6t_ah.txlate:7", "libip6t_ah.txlate:10", "libip6t_ah.txlate:13",
                "libip6t_ah.txlate:16", "libip6t_hbh.txlate:4", "libip6t_rt.txlate:4",
                "libip6t_frag.txlate:4", "libip6t_mh.txlate:1", "libip6t_mh.txlate:4"]


@pytest.mark.kernel
@pytest.mark.parametrize("vector_id", IPV6_VECTORS)
def test_ipv6_header_fields(bench6, vector_id):
    legacy, ours, reference = compare(bench6, vector_id, IPV6_PACKETS)
    assert ours == legacy
    assert reference != legacy


# (vector, the ct mark xt_CONNMARK gives a new connection (ct mark 0), the reference's)
CONNMARK_CASES = {
    # --set-xmark 0x16/0x12: (0 & ~0x12) ^ 0x16 = 0x16; the reference's (0 ^ 0x16) & ~0x12 = 0x4
    "libxt_CONNMARK.txlate:7": (0x16, 0x4),
    # --set-mark 0x23/0x42 --right-shift-mark 5: iptables stores mask|value (0x63) as the mask,
    # ((0 & ~0x63) ^ 0x23) >> 5 = 0x1; the reference's ((0 ^ 0x23) & 0xffffff9c) >> 5 = 0x0
    "libxt_CONNMARK.txlate:22": (0x1, 0x0),
}


def _connmark_case(bench4, vector_id):
    right, wrong = CONNMARK_CASES[vector_id]
    probes = ([f"-m connmark --mark {right:#x}", f"-m connmark --mark {wrong:#x}"],
              [f"add rule ip t c ct mark {right:#x} counter",
               f"add rule ip t c ct mark {wrong:#x} counter"])
    legacy, ours, reference = compare(bench4, vector_id, [ipv4(UDP, udp(9))],
                                      where=("mangle", "PREROUTING"),
                                      hook="prerouting priority -150", probes=probes)
    assert legacy == [[1, 1, 0]]
    assert ours == legacy
    assert reference == [[1, 0, 1]]


@pytest.mark.kernel
def test_connmark_set_xmark_with_overlapping_value_and_mask(bench4):
    _connmark_case(bench4, "libxt_CONNMARK.txlate:7")


@pytest.mark.kernel
def test_connmark_set_mark_masks_before_it_shifts(bench4):
    _connmark_case(bench4, "libxt_CONNMARK.txlate:22")


def _port_unreachable(sport: int) -> tuple[int, bytes]:
    """An ICMP port unreachable from SRC4 about a UDP packet DST4:9 → SRC4:sport: conntrack
    attaches it (RELATED) to the flow SRC4:sport → DST4:9 without refreshing its timeout."""
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, UDP, 0,
                        *(bytes(map(int, a.split("."))) for a in (DST4, SRC4)))
    inner = inner[:10] + struct.pack("!H", _checksum(inner)) + inner[12:] + udp(sport, 9)
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + inner
    icmp = icmp[:2] + struct.pack("!H", _checksum(icmp)) + icmp[4:]
    return ipv4(1, icmp)


@pytest.mark.kernel
def test_ctexpire_compares_whole_seconds(bench4):
    """A UDP flow whose timeout is 4 s (nf_conntrack_udp_timeout in the namespace), then ICMP
    errors about it (which do not refresh the timeout) 0.5 s and 1.5 s later: 3.5 s left is
    --ctexpire 3 to xt_conntrack (it divides the jiffies left by HZ) and to fwmigrate's
    3000-3999 ms, but not the reference's `ct expiration 3` (3000 ms exactly); 2.5 s left is
    none of them."""
    ns = bench4.ns
    ns.run("ip", "addr", "add", f"{DST4}/24", "dev", "fwx1")
    vector = vector_of("libxt_conntrack.txlate:46")
    mine, refusal = conformance.ours(vector)
    assert mine is not None, refusal

    def measure(load, counts, sport):
        load()
        ns.run("sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=4")
        bench4.send(ipv4(UDP, udp(9, sport)))
        sent = time.monotonic()
        out = []
        for delay in (0.5, 1.5):
            time.sleep(max(0.0, sent + delay - time.monotonic()))
            before = counts()
            bench4.send(_port_unreachable(sport))
            if time.monotonic() - sent - delay > 0.3:
                return None             # a busy machine: the time left is not known
            out.append([b - a for a, b in zip(before, counts(), strict=True)])
        return out

    ports = iter(range(40001, 40100))

    def run(load, counts):
        """Measured again (a new flow) when a probe went out late, three times at most."""
        for _ in range(3):
            out = measure(load, counts, next(ports))
            if out is not None:
                return out
        pytest.fail("the probes were sent more than 0.3 s late three times: timing too loose")

    legacy = run(lambda: bench4.load_legacy([rule_of(vector)], where=("filter", "INPUT")),
                 bench4.legacy_counts)
    ours = run(lambda: bench4.load_nft(mine, hook="input priority 0"), bench4.nft_counts)
    reference = run(lambda: bench4.load_nft(list(vector.expected), hook="input priority 0"),
                    bench4.nft_counts)
    assert legacy == [[1], [0]]
    assert ours == legacy
    assert reference == [[0], [0]]


def _tcp4(flags: int, dport: int = 80, src: str = SRC4) -> tuple[int, bytes]:
    """src:40000 → DST4:dport with a correct checksum (SYNPROXY drops a packet without one,
    conntrack takes it as INVALID)."""
    segment = tcp(dport, flags=flags)
    pseudo = struct.pack("!4s4sBBH", *(bytes(map(int, a.split("."))) for a in (src, DST4)),
                         0, TCP, len(segment))
    return ipv4(TCP, segment[:16] + struct.pack("!H", _checksum(pseudo + segment))
                + segment[18:], src=src)


@pytest.mark.kernel
def test_synproxy_passes_on_what_is_not_a_lone_syn_or_ack(bench4):
    """A SYN-ACK, a FIN-ACK and a lone ACK to port 80 without a connection (INVALID with loose
    tracking off), and a probe rule after the SYNPROXY one: xt_SYNPROXY passes the first two
    on and drops the ACK (no cookie); the reference's bare `synproxy` answers the SYN-ACK as a
    SYN and drops the FIN-ACK as an ACK."""
    ns = bench4.ns
    ns.run("ip", "addr", "add", f"{DST4}/24", "dev", "fwx1")
    ns.run("sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0")
    vector = vector_of("libxt_SYNPROXY.txlate:1")
    mine, refusal = conformance.ours(vector)
    assert mine is not None, refusal
    # the vector's interface is named "iifname": the bench's own (fwx1) takes its place
    legacy_rule = rule_of(vector).replace("-i iifname ", "")
    drop_iif = [c.replace('iifname "iifname" ', "") for c in mine], \
        [c.replace('iifname "iifname" ', "") for c in vector.expected]
    packets = [_tcp4(0x12), _tcp4(0x11), _tcp4(0x10)]      # SYN-ACK, FIN-ACK, ACK
    hook = "input priority -150"
    probe = "add rule ip t c meta l4proto tcp counter"
    legacy = bench4.legacy_per_packet([legacy_rule, "-p tcp"], packets,
                                      where=("mangle", "INPUT"))
    ours = bench4.nft_per_packet([*drop_iif[0], probe], packets, hook=hook)
    reference = bench4.nft_per_packet([*drop_iif[1], probe], packets, hook=hook)
    # (each rule's counter counts all three: ours counts before its flags test)
    assert legacy == [[1, 1], [1, 1], [1, 0]]
    assert ours == legacy
    assert reference == [[1, 0], [1, 0], [1, 0]]


@pytest.mark.kernel
def test_devgroup_inverts_the_source_group_only(bench4):
    """Forwarded out a device of group 12 and one of group 0, from fwx1 (group 0)."""
    ns = bench4.ns
    ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
    for dev, group, dst in (("out12", "12", "10.98.1.12"), ("out0", "0", "10.98.1.1")):
        ns.run("ip", "link", "add", dev, "type", "veth", "peer", "name", f"{dev}p")
        ns.run("ip", "link", "set", dev, "group", group, "up")
        ns.run("ip", "link", "set", f"{dev}p", "up")
        ns.run("ip", "route", "add", f"{dst}/32", "dev", dev)
    packets = [ipv4(UDP, udp(9), dst="10.98.1.12"), ipv4(UDP, udp(9), dst="10.98.1.1")]
    legacy, ours, reference = compare(bench4, "libxt_devgroup.txlate:16", packets,
                                      where=("filter", "FORWARD"),
                                      hook="forward priority 0")
    assert legacy == [[1], [0]]
    assert ours == legacy
    assert reference == [[0], [1]]


# The kernel gives a set bound by a dynset rule (`add @S`, `update @S`, `meter`) without a size
# 65535 elements (nft_dynset_init: size 0 becomes 0xffff); a full set takes no new element and
# the rule stops (NFT_BREAK). xt_connlimit has no such limit, xt_hashlimit's table holds 65536
# keys by default (8 × 8192 buckets with more than 1 GiB of memory). Each case fills the
# reference's set with 65535 keys, through the iptables rule and both nft rules, then sends the
# decisive packets from a new key (a new source, /24 or destination): (iptables' counts on
# them, the reference's).
_CONNLIMIT = {"libxt_connlimit.txlate:1": ([[0], [0], [1]], [[0], [0], [0]]),   # 3 connections
              "libxt_connlimit.txlate:5": ([[1]], [[0]]),
              "libxt_connlimit.txlate:9": ([[1]], [[0]]),
              "libxt_connlimit.txlate:13": ([[1]], [[0]])}
# hashlimit: the key after the reference's 65535 is xt's 65536th (the last it takes), and a
# probe rule (any TCP packet) shows that both drop it; the next key is the known difference
# in tests/test_limits.py
_HASHLIMIT = ("libxt_hashlimit.txlate:4", [[1, 0]], [[0, 1]])
REFERENCE_FULL = 65535


def _nth_source(i: int) -> str:
    """Distinct addresses in distinct /24 networks: 10.a.b.1."""
    return f"10.{i >> 8}.{i & 255}.1"


def _nth_destination(i: int) -> str:
    """Distinct local addresses (172.16.0.0/12 is routed locally in the namespace)."""
    return f"172.{16 + (i >> 16)}.{i >> 8 & 255}.{i & 255}"


def _capacity_packets(vector_id: str):
    if vector_id.startswith("libxt_hashlimit"):
        return ([_tcp4(SYN, 443, _nth_source(i)) for i in range(REFERENCE_FULL)],
                [_tcp4(SYN, 443, "11.0.0.1")])
    if vector_id == "libxt_connlimit.txlate:13":        # --connlimit-daddr
        return ([ipv4(UDP, udp(9), dst=_nth_destination(i + 1)) for i in range(REFERENCE_FULL)],
                [ipv4(UDP, udp(9), dst="172.31.0.1")])
    fill = [ipv4(UDP, udp(9), src=_nth_source(i)) for i in range(REFERENCE_FULL)]
    decisive = [ipv4(UDP, udp(9, 40000 + n), src="11.0.0.1")
                for n in range(len(_CONNLIMIT[vector_id][0]))]
    return fill, decisive


def _counts_at_capacity(how: str, rules: list[str], fill, decisive) -> list[list[int]]:
    """In a namespace of its own (its conntrack entries and tables go with it): the rules in
    filter INPUT, the fill sent at once, then the decisive packets one by one."""
    with namespace("fwm-cap") as ns:
        bench = Bench(ns, "ip")
        try:
            ns.run("ip", "addr", "add", f"{DST4}/24", "dev", "fwx1")
            ns.run("ip", "link", "set", "lo", "up")
            ns.run("ip", "route", "add", "local", "172.16.0.0/12", "dev", "lo")
            if how == "legacy":
                bench.load_legacy(rules, where=("filter", "INPUT"))
                counts = bench.legacy_counts
            else:
                bench.load_nft(rules, hook="input priority 0")
                counts = bench.nft_counts
            # a packet of the fill dropped by a full backlog would leave the reference's set
            # room: sent again (a key already held changes nothing), once
            if bench.flood(fill) and bench.flood(fill):
                pytest.fail("the machine's backlog dropped packets of the fill twice")
            return bench.per_packet(decisive, counts)
        finally:
            bench.close()


def _kernel_holds_enough() -> None:
    conntrack_max = int(Path("/proc/sys/net/netfilter/nf_conntrack_max").read_text()
                        if Path("/proc/sys/net/netfilter/nf_conntrack_max").exists() else 0)
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    if conntrack_max and conntrack_max <= REFERENCE_FULL + 8:
        pytest.skip(f"nf_conntrack_max {conntrack_max} cannot track {REFERENCE_FULL} flows")
    if memory_kib <= 1 << 20:
        pytest.skip("xt_hashlimit's default table is smaller with 1 GiB of memory or less")


@pytest.mark.kernel
@pytest.mark.parametrize("vector_id", [*_CONNLIMIT, _HASHLIMIT[0]])
def test_a_set_without_size_is_full_at_65535(kernel, iptables_vectors, vector_id):
    """connlimit and hashlimit: the reference's set (or meter) has no size, so the kernel caps
    it at 65535 keys and the rule stops matching a new key; iptables' rule goes on matching
    (xt_connlimit has no limit, xt_hashlimit takes a 65536th key), and so does fwmigrate's
    (a set of 262144 / 65536)."""
    _kernel_holds_enough()
    vector = vector_of(vector_id)
    mine, refusal = conformance.ours(vector)
    assert mine is not None, refusal
    fill, decisive = _capacity_packets(vector_id)
    expected, expected_reference = (_CONNLIMIT[vector_id] if vector_id in _CONNLIMIT
                                    else _HASHLIMIT[1:])
    probe = ([], [])
    if vector_id == _HASHLIMIT[0]:
        probe = (["-p tcp"], ["add rule ip filter INPUT meta l4proto tcp counter"])
    legacy = _counts_at_capacity("legacy", [rule_of(vector), *probe[0]], fill, decisive)
    ours = _counts_at_capacity("nft", [*mine, *probe[1]], fill, decisive)
    reference = _counts_at_capacity("nft", [*vector.expected, *probe[1]], fill, decisive)
    assert legacy == expected
    assert ours == legacy
    assert reference == expected_reference


def test_the_conformance_report_names_these_tests_and_only_these():
    """bench/conformance.py's REFERENCE_WRONG: each vector proven here, by the test proving it."""
    proven = {vector_id: "test_ipv6_header_fields" for vector_id in IPV6_VECTORS}
    proven |= {"libxt_CONNMARK.txlate:7": "test_connmark_set_xmark_with_overlapping_value_and_mask",
               "libxt_CONNMARK.txlate:22": "test_connmark_set_mark_masks_before_it_shifts",
               "libxt_conntrack.txlate:46": "test_ctexpire_compares_whole_seconds",
               "libxt_SYNPROXY.txlate:1": "test_synproxy_passes_on_what_is_not_a_lone_syn_or_ack",
               "libxt_devgroup.txlate:16": "test_devgroup_inverts_the_source_group_only"}
    proven |= {vector_id: "test_a_set_without_size_is_full_at_65535"
               for vector_id in [*_CONNLIMIT, _HASHLIMIT[0]]}
    assert conformance.REFERENCE_WRONG == {
        vector_id: f"tests/test_reference_wrong.py::{test}" for vector_id, test in proven.items()}
    assert all(test in globals() for test in proven.values())
