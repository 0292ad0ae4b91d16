"""IPv6 extension header matches (frag, rt, hbh, dst, mh, ah) against the kernel: crafted
packets go through ip6tables-legacy's rules and through fwmigrate's nft translation of them,
and every rule must count the same packets in both.

The packets are written byte by byte and sent with AF_PACKET from one end of a veth pair to
the other, inside a namespace the test creates; the rules count them in raw PREROUTING, before
the stack looks at the extension headers (and without conntrack, so fragments stay fragments).
"""

from __future__ import annotations

import json
import shutil
import struct
import sys

import pytest

from fwmigrate.convert import ConvertOptions, convert

pytestmark = pytest.mark.kernel

UDP, HBH, DST, RT, FRAG, AH, MH, NONE = 17, 0, 60, 43, 44, 51, 135, 59


def _opts(nxt: int, units: int = 0) -> bytes:
    """A hop-by-hop / destination options header of (units + 1) * 8 bytes, filled by one
    option of the experimental type 0x1e (skipped where unknown; Linux refuses a PadN over
    7 bytes)."""
    size = (units + 1) * 8
    return bytes([nxt, units, 0x1E, size - 4]) + bytes(size - 4)


def _rt(nxt: int, rtype: int, segleft: int, units: int = 0) -> bytes:
    return bytes([nxt, units, rtype, segleft]) + bytes((units + 1) * 8 - 4)


def _frag(nxt: int, offset: int, more: bool, ident: int, reserved: int = 0,
          res2: int = 0) -> bytes:
    return struct.pack("!BBHI", nxt, reserved, offset << 3 | res2 << 1 | int(more), ident)


def _ah(nxt: int, spi: int, units: int = 1, reserved: int = 0) -> bytes:
    """AH of (units + 2) * 4 bytes."""
    size = (units + 2) * 4
    return struct.pack("!BBHII", nxt, units, reserved, spi, 1) + bytes(size - 12)


def _mh(mtype: int, proto: int = NONE) -> bytes:
    return bytes([proto, 0, mtype, 0, 0, 0, 0, 0])


_UDP = struct.pack("!HHHH", 40000, 9, 8, 0)

# (name, first next-header, headers…): each packet is IPv6 + these bytes
PACKETS = [
    ("udp", UDP, _UDP),
    ("hbh8", HBH, _opts(UDP), _UDP),
    ("hbh16", HBH, _opts(UDP, 1), _UDP),
    ("dst8", DST, _opts(UDP), _UDP),
    ("dst16 rt", DST, _opts(RT, 1), _rt(UDP, 2, 0), _UDP),
    ("rt type 2", RT, _rt(UDP, 2, 0), _UDP),
    ("rt type 0 len 24", RT, _rt(UDP, 0, 1, 2), _UDP),
    ("rt type 4 segleft 3", RT, _rt(UDP, 4, 3), _UDP),
    ("frag first id 150", FRAG, _frag(UDP, 0, True, 150), _UDP),
    ("frag later id 150", FRAG, _frag(UDP, 100, False, 150), bytes(16)),
    ("frag atomic id 300 res", FRAG, _frag(UDP, 0, False, 300, reserved=5), _UDP),
    ("frag middle res2", FRAG, _frag(UDP, 7, True, 120, res2=1), bytes(16)),
    ("ah spi 500", AH, _ah(UDP, 500), _UDP),
    ("hbh ah spi 520 len 24 res", HBH, _opts(AH), _ah(UDP, 520, 4, reserved=1), _UDP),
    ("frag ah spi 510", FRAG, _frag(AH, 0, True, 170), _ah(UDP, 510), _UDP),
    ("mh 1", MH, _mh(1)),
    ("dst mh 3", DST, _opts(MH), _mh(3)),
    ("ah mh 5", AH, _ah(MH, 505), _mh(5)),
    ("mh 7", MH, _mh(7)),
]

RULES = [
    "-m frag --fragid 100:200", "-m frag ! --fragid 100:200", "-m frag --fragres",
    "-m frag --fragfirst", "-m frag --fragmore", "-m frag --fraglast",
    "-m frag --fragfirst --fraglast", "-m frag --fraglen 3", "-m frag",
    "-m rt --rt-type 0", "-m rt ! --rt-type 0", "-m rt --rt-len 24", "-m rt ! --rt-len 24",
    "-m rt --rt-segsleft 1:5", "-m rt ! --rt-segsleft 1", "-m rt",
    "-m hbh --hbh-len 8", "-m hbh ! --hbh-len 8", "-m hbh", "-m dst --dst-len 8",
    "-m dst ! --dst-len 16", "-m dst",
    "-p mh -m mh --mh-type 1:3", "-p mh -m mh ! --mh-type 1", "-p mh -m mh",
    "-m ah --ahspi 500:515", "-m ah ! --ahspi 500", "-m ah --ahlen 12", "-m ah ! --ahlen 24",
    "-m ah --ahres", "-m ah",
]

_SENDER = r"""
import socket, struct, sys, json
packets = json.loads(sys.stdin.read())
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("fwx0", 0))
src = open("/sys/class/net/fwx0/address").read().strip()
dst = open("/sys/class/net/fwx1/address").read().strip()
eth = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + b"\x86\xdd"
saddr = bytes.fromhex("fd000000000000000000000000000001")
daddr = bytes.fromhex("fd000000000000000000000000000002")
for nxt, payload in packets:
    body = bytes.fromhex(payload)
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), nxt, 64) + saddr + daddr
    s.send(eth + ip6 + body)
"""


def _send(ns, packets) -> None:
    data = json.dumps([(p[1], b"".join(p[2:]).hex()) for p in packets])
    ns.run(sys.executable, "-c", _SENDER, input=data)


def _legacy_counts(ns) -> list[int]:
    out = ns.run("ip6tables-legacy", "-t", "raw", "-L", "PREROUTING", "-n", "-v", "-x").stdout
    return [int(line.split()[0]) for line in out.splitlines()[2:] if line.strip()]


def _nft_counts(ns) -> list[int]:
    listing = json.loads(ns.nft("-j", "list", "ruleset").stdout)["nftables"]
    counts = []
    for item in listing:
        if "rule" in item and item["rule"]["chain"] == "raw_PREROUTING":
            counters = [e["counter"]["packets"] for e in item["rule"]["expr"] if "counter" in e]
            counts.append(counters[0])
    return counts


def _per_packet(ns, load, count, flush) -> list[list[int]]:
    """For each packet alone: which rules counted it."""
    out = []
    for packet in PACKETS:
        load()
        _send(ns, [packet])
        out.append(count())
        flush()
    return out


def _veth(netns) -> None:
    if shutil.which("ip6tables-legacy") is None:
        pytest.skip("ip6tables-legacy is not installed")
    netns.run("ip", "link", "add", "fwx0", "type", "veth", "peer", "name", "fwx1")
    # the sending end sends nothing of its own (no MLD reports with a hop-by-hop header)
    netns.run("sysctl", "-qw", "net.ipv6.conf.fwx0.disable_ipv6=1")
    for dev in ("fwx0", "fwx1"):
        netns.run("ip", "link", "set", dev, "up")


def _save(rules: list[str]) -> str:
    lines = "".join(f"-A PREROUTING -s fd00::1/128 -i fwx1 {r}\n" for r in rules)
    return ("# Generated by ip6tables-save v1.8.9\n*raw\n:PREROUTING ACCEPT [0:0]\n"
            f":OUTPUT ACCEPT [0:0]\n{lines}COMMIT\n")


def _legacy(netns, rules: list[str]) -> list[list[int]]:
    save = _save(rules)
    return _per_packet(netns, lambda: netns.run("ip6tables-legacy-restore", input=save),
                       lambda: _legacy_counts(netns),
                       lambda: netns.run("ip6tables-legacy", "-t", "raw", "-F"))


def test_extension_header_rules_count_the_same_packets_as_ip6tables(netns):
    _veth(netns)
    nft_text = convert(_save(RULES), "rules.save",
                       ConvertOptions(source_kind="save", to="nft", counters=True)).output
    legacy = _legacy(netns, RULES)
    nft = _per_packet(netns, lambda: netns.nft("-f", "-", input=nft_text),
                      lambda: _nft_counts(netns), lambda: netns.nft("flush", "ruleset"))
    assert len(legacy[0]) == len(nft[0]) == len(RULES)
    differences = [f"{packet[0]!r} / {rule!r}: ip6tables {a}, nft {b}"
                   for packet, row_a, row_b in zip(PACKETS, legacy, nft, strict=True)
                   for rule, a, b in zip(RULES, row_a, row_b, strict=True) if a != b]
    assert not differences, "\n".join(differences)
    # the packets do reach the rules: every rule counts some packet
    assert [r for i, r in enumerate(RULES) if not any(row[i] for row in legacy)] == []


def test_ip6tables_protocol_is_found_past_ah(netns):
    """Why ip6tables -p ah is refused: ip6_tables skips AH to find the protocol, so -p ah
    never holds for an AH packet and -p udp holds for UDP behind AH, where nft's meta l4proto
    stops at AH (which also makes every IPv6 -p test differ for AH packets: see README)."""
    _veth(netns)
    rules = ["-p ah", "-p udp"]
    counts = dict(zip((p[0] for p in PACKETS), _legacy(netns, rules), strict=True))
    assert counts["ah spi 500"] == [0, 1]
    assert counts["hbh ah spi 520 len 24 res"] == [0, 1]
    assert counts["udp"] == [0, 1]


def test_the_output_says_where_ipv6_protocol_tests_differ_past_ah():
    """The difference above is not refusable (it would refuse every IPv6 -p), so it is said:
    once, in the header, whenever IPv6 rules test the protocol; never for IPv4 alone."""
    v6 = convert("ip6tables -A INPUT -p tcp --dport 22 -j ACCEPT\n"
                 "ip6tables -A INPUT -p udp -j DROP\n", "fw.sh", ConvertOptions()).output
    assert v6.count("AH (IPsec authentication) header") == 1
    v4 = convert("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n", "fw.sh",
                 ConvertOptions()).output
    assert "AH (IPsec" not in v4
    no_proto = convert("ip6tables -A INPUT -s 2001:db8::/32 -j DROP\n", "fw.sh",
                       ConvertOptions()).output
    assert "AH (IPsec" not in no_proto
