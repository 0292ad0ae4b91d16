"""Random packets for the match fuzzer (bench/match_fuzz.py): IPv4 and IPv6 packets written
byte by byte, with what the rule generator may aim at recorded beside the bytes.

Each packet keeps its header fields in `fields` (ports, TTL, TOS, length, TCP flags and
options, ICMP type and code, SPIs, extension-header lengths …): the rule generator picks its
values from there and around them (equal, ±1, the ends of the range), so that most rules
decide something about most packets instead of matching none. `kinds` names the packet
classes where iptables and nft are known to differ (README, known differences); the campaign
does not compare those cells.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

# the Internet checksum tests/packets.py's builders use (tests/ is on the path of every caller)
from packets import _checksum as checksum

ETH_IP, ETH_IP6 = 0x0800, 0x86DD
BROADCAST_MAC = "ffffffffffff"
MULTICAST4_MAC, MULTICAST6_MAC = "01005e000005", "333300000001"

SRC4 = ["10.98.0.1", "10.98.0.2", "10.98.1.7", "192.168.5.9", "10.97.255.255", "172.16.0.1"]
DST4 = ["10.98.0.2", "10.98.0.1", "10.98.0.3", "10.98.0.255", "192.168.5.1", "10.0.0.0"]
SRC6 = ["fd00::1", "fd00::2", "fd00::1:7", "2001:db8::9", "fe80::1"]
DST6 = ["fd00::2", "fd00::1", "fd00::3", "2001:db8::1:0"]

PORTS = [0, 1, 21, 22, 23, 53, 80, 443, 1023, 1024, 1025, 8080, 40000, 65534, 65535]
TTLS = [0, 1, 2, 63, 64, 65, 127, 128, 254, 255]
# TCP options: EOL, NOP, MSS, window scale, SACK permitted, SACK, timestamps, MD5, an
# unknown kind 30, and ones with a length byte running past the header (malformed)
TCP_OPTIONS = {
    0: b"\x00", 1: b"\x01", 2: b"\x02\x04\x05\xb4", 3: b"\x03\x03\x07", 4: b"\x04\x02",
    5: b"\x05\x0a" + bytes(8), 8: b"\x08\x0a" + bytes(8), 19: b"\x13\x12" + bytes(16),
    30: b"\x1e\x03\x00",
}
# protocol numbers: tcp udp icmp sctp dccp esp ah ipcomp gre udplite, and unknown ones
PROTOCOLS4 = [6, 6, 6, 17, 17, 1, 1, 132, 33, 50, 51, 108, 47, 136, 0, 255]
PROTOCOLS6 = [6, 6, 17, 17, 58, 58, 132, 33, 50, 135, 59, 108]
EXT_HEADERS = [0, 60, 43, 44, 51]          # hop-by-hop, destination, routing, fragment, AH


@dataclass
class Packet:
    ethertype: int
    data: bytes
    dst_mac: str | None = None              # None: fwx1's own address (PACKET_HOST)
    fields: dict = field(default_factory=dict)
    kinds: set = field(default_factory=set)
    about: str = ""

    def frame(self) -> tuple:
        """The (ethertype, bytes[, destination MAC]) tuple tests/packets.py's Bench sends."""
        if self.dst_mac is None:
            return self.ethertype, self.data
        return self.ethertype, self.data, self.dst_mac


def _pick(rng: random.Random, choices, spread: int, low: int, high: int) -> int:
    """One of `choices`, or sometimes a random value in [low, high], or one off a choice."""
    roll = rng.random()
    if roll < 0.15:
        return rng.randint(low, high)
    value = rng.choice(choices)
    if roll < 0.3:
        value += rng.choice((-spread, spread))
    return max(low, min(high, value))


# --- transport headers -----------------------------------------------------------------------

def tcp_header(rng: random.Random, f: dict) -> bytes:
    f["sport"], f["dport"] = _pick(rng, PORTS, 1, 0, 65535), _pick(rng, PORTS, 1, 0, 65535)
    f["tcp_flags"] = rng.choice([0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x18, 0x00, 0x3F,
                                 0xFF, 0xC2, 0x01, 0x29, rng.randint(0, 255)])
    kinds = rng.sample(sorted(TCP_OPTIONS), rng.choice([0, 0, 1, 2, 3]))
    options = b"".join(TCP_OPTIONS[k] for k in kinds)
    if 2 in kinds:
        mss = _pick(rng, [536, 1220, 1460, 0, 65535], 1, 0, 65535)
        options = options.replace(b"\x02\x04\x05\xb4", b"\x02\x04" + struct.pack("!H", mss))
        f["mss"] = mss
    f["tcp_options"] = kinds
    roll = rng.random()
    if roll < 0.05:                         # an option whose length runs past the header
        options += b"\x02\x28"
        f["malformed_option"] = True
    elif roll < 0.08:                       # an MSS option of the wrong length
        options += b"\x02\x06" + struct.pack("!H", f.setdefault("mss", 1460)) + b"\x00\x00"
        f["malformed_option"] = True
    options = options[:40]                  # the most a TCP header holds
    options += b"\x01" * (-len(options) % 4)
    doff = 5 + len(options) // 4
    return struct.pack("!HHIIBBHHH", f["sport"], f["dport"], rng.randint(0, 2**32 - 1), 0,
                       doff << 4 | rng.choice([0, 0, 0, 1]), f["tcp_flags"], 1024, 0,
                       0) + options


def udp_header(rng: random.Random, f: dict, payload: int) -> bytes:
    f["sport"], f["dport"] = _pick(rng, PORTS, 1, 0, 65535), _pick(rng, PORTS, 1, 0, 65535)
    return struct.pack("!HHHH", f["sport"], f["dport"], 8 + payload, 0) + bytes(payload)


def sctp_header(rng: random.Random, f: dict) -> bytes:
    f["sport"], f["dport"] = _pick(rng, PORTS, 1, 0, 65535), _pick(rng, PORTS, 1, 0, 65535)
    chunks = b""
    f["chunks"] = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        ctype = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 64, 192, 255])
        chunks += struct.pack("!BBH", ctype, rng.choice([0, 0, 1, 3]), 4)
        f["chunks"].append(ctype)
    return struct.pack("!HHII", f["sport"], f["dport"], rng.randint(0, 2**32 - 1), 0) + chunks


def dccp_header(rng: random.Random, f: dict) -> bytes:
    f["sport"], f["dport"] = _pick(rng, PORTS, 1, 0, 65535), _pick(rng, PORTS, 1, 0, 65535)
    f["dccp_type"] = rng.randint(0, 15)
    return struct.pack("!HHBBHBBH", f["sport"], f["dport"], 4, 0, 0,
                       f["dccp_type"] << 1 | 1, 0, 0) + bytes(4)


def icmp_header(rng: random.Random, f: dict, six: bool) -> bytes:
    types = [0, 1, 2, 3, 4, 128, 129, 133, 134, 135, 136, 143, 255] if six else \
        [0, 3, 3, 4, 5, 8, 11, 12, 13, 40, 255]
    f["icmp_type"] = _pick(rng, types, 1, 0, 255)
    f["icmp_code"] = rng.choice([0, 0, 1, 2, 3, 4, 13, 255])
    return struct.pack("!BBHI", f["icmp_type"], f["icmp_code"], 0, 0) + bytes(rng.choice([0, 8]))


def spi_header(rng: random.Random, f: dict, proto: int) -> bytes:
    """ESP (SPI first), IPcomp (next header, flags, 16-bit CPI)."""
    if proto == 50:
        f["spi"] = _pick(rng, [0, 1, 255, 256, 1000, 2**32 - 1], 1, 0, 2**32 - 1)
        return struct.pack("!II", f["spi"], 1) + bytes(8)
    f["spi"] = _pick(rng, [0, 1, 255, 256, 1000, 65535], 1, 0, 65535)
    return struct.pack("!BBH", 59, 0, f["spi"]) + bytes(8)


def transport(rng: random.Random, proto: int, f: dict, six: bool) -> bytes:
    f["proto"] = proto
    if proto == 6:
        return tcp_header(rng, f)
    if proto in (17, 136):
        return udp_header(rng, f, rng.choice([0, 4, 12]))
    if proto in (1, 58):
        return icmp_header(rng, f, six)
    if proto == 132:
        return sctp_header(rng, f)
    if proto == 33:
        return dccp_header(rng, f)
    if proto in (50, 108):
        return spi_header(rng, f, proto)
    if proto == 135:                        # mobility header: type in its third byte
        f["mh_type"] = _pick(rng, list(range(0, 12)), 1, 0, 255)
        return bytes([59, 0, f["mh_type"], 0, 0, 0, 0, 0])
    return bytes(rng.choice([0, 4, 16]))


def ah_header(rng: random.Random, f: dict, nxt: int) -> bytes:
    units = rng.choice([1, 1, 2, 4])        # AH is (units + 2) * 4 bytes
    f["spi"] = _pick(rng, [0, 1, 255, 256, 1000, 2**32 - 1], 1, 0, 2**32 - 1)
    f["ah_len"], f["ah_res"] = units, rng.choice([0, 0, 1])
    return struct.pack("!BBHII", nxt, units, f["ah_res"], f["spi"], 1) + \
        bytes((units + 2) * 4 - 12)


# --- IPv4 --------------------------------------------------------------------------------------

def _addr4(text: str) -> bytes:
    return bytes(map(int, text.split(".")))


def packet4(rng: random.Random) -> Packet:
    f: dict = {}
    kinds: set = set()
    proto = rng.choice(PROTOCOLS4)
    if proto == 51:                         # AH, then what it protects
        inner = rng.choice([6, 17, 1, 59])
        inner_f: dict = {}
        body = ah_header(rng, f, inner) + transport(rng, inner, inner_f, False)
        f["proto"] = 51
    else:
        body = transport(rng, proto, f, False)
    if f.get("malformed_option"):
        kinds.add("malformed_option")
    if proto == 132 and not f["chunks"]:
        kinds.add("sctp_no_chunks")
    if rng.random() < 0.08:                 # a transport header cut short
        body = body[:rng.randint(0, max(0, len(body) - 1))]
        kinds.add("truncated")
        if proto == 6:
            kinds.add("truncated_tcp")
    options = rng.choice([b""] * 8 + [b"\x94\x04\x00\x00", b"\x01\x01\x01\x00"])
    frag, roll = 0, rng.random()
    if roll < 0.08:                         # a first fragment: offset 0, more fragments
        frag = 0x2000
    elif roll < 0.18:                       # a later fragment: no transport header
        frag = rng.choice([1, 2, 100, 0x1FFF]) | rng.choice([0, 0x2000])
        kinds.add("later_fragment")
    if rng.random() < 0.2:
        frag |= 0x4000                      # don't fragment
    f["ttl"] = _pick(rng, TTLS, 1, 0, 255)
    f["tos"] = _pick(rng, [0, 0, 0x10, 0x08, 0x04, 0x02, 0x01, 0x03, 0xB8, 0x28, 0xFC, 0xFF],
                     1, 0, 255)
    f["src"], f["dst"] = rng.choice(SRC4), rng.choice(DST4 + ["224.0.0.5", "255.255.255.255"])
    dst_mac = None
    if f["dst"] == "224.0.0.5":
        dst_mac = MULTICAST4_MAC
    elif f["dst"] == "255.255.255.255" or rng.random() < 0.08:
        dst_mac = BROADCAST_MAC
    f["pkttype"] = {None: "unicast", BROADCAST_MAC: "broadcast"}.get(dst_mac, "multicast")
    ihl = 5 + len(options) // 4
    f["length"] = ihl * 4 + len(body)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, f["tos"], f["length"],
                         rng.randint(0, 65535), frag, f["ttl"], proto, 0, _addr4(f["src"]),
                         _addr4(f["dst"])) + options
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    about = f"ip proto {proto} frag 0x{frag:04x} ttl {f['ttl']} tos 0x{f['tos']:02x} " \
            f"len {f['length']} {f['src']} > {f['dst']}"
    return Packet(ETH_IP, header + body, dst_mac, f, kinds, about)


# --- IPv6 --------------------------------------------------------------------------------------

def _addr6(text: str) -> bytes:
    import ipaddress
    return ipaddress.IPv6Address(text).packed


def _ext_header(rng: random.Random, kind: int, nxt: int, f: dict, kinds: set) -> bytes:
    if kind in (0, 60):                     # hop-by-hop / destination options
        units = rng.choice([0, 0, 1, 2])
        size = (units + 1) * 8
        f["hbh_len" if kind == 0 else "dst_len"] = size
        return bytes([nxt, units, 0x1E, size - 4]) + bytes(size - 4)
    if kind == 43:                          # routing: type, segments left
        units = rng.choice([0, 2, 4])
        f["rt_type"] = rng.choice([0, 2, 4, 3, 253])
        f["rt_segsleft"] = _pick(rng, [0, 1, 2, 3, 255], 1, 0, 255)
        f["rt_len"] = (units + 1) * 8
        return bytes([nxt, units, f["rt_type"], f["rt_segsleft"]]) + bytes((units + 1) * 8 - 4)
    if kind == 44:                          # fragment
        offset = rng.choice([0, 0, 0, 1, 100, 0x1FFF])
        more = rng.choice([True, False])
        f["frag_id"] = _pick(rng, [0, 1, 100, 2**32 - 1], 1, 0, 2**32 - 1)
        f["frag_res"] = rng.choice([0, 0, 0, 1])
        res2 = rng.choice([0, 0, 0, 1, 2])
        f["frag_off"], f["frag_mf"] = offset, more
        if offset:
            kinds.add("later_fragment")
            if nxt in (0, 43, 44, 51, 60):  # an extension header "follows": not in this one
                kinds.add("later_fragment_ext")
        return struct.pack("!BBHI", nxt, f["frag_res"], offset << 3 | res2 << 1 | int(more),
                           f["frag_id"])
    return ah_header(rng, f, nxt)           # 51


def packet6(rng: random.Random) -> Packet:
    f: dict = {}
    kinds: set = set()
    chain = rng.sample([60, 43, 44, 51], rng.choice([0, 0, 1, 1, 2, 3]))
    if rng.random() < 0.3:
        chain.insert(0, 0)                  # hop-by-hop comes first or not at all
    f["exthdrs"] = chain
    if 51 in chain:
        kinds.add("ah_in_chain")
    final = rng.choice(PROTOCOLS6)
    body = transport(rng, final, f, True)
    if f.get("malformed_option"):
        kinds.add("malformed_option")
    if final == 132 and not f["chunks"]:
        kinds.add("sctp_no_chunks")
    if rng.random() < 0.08:
        body = body[:rng.randint(0, max(0, len(body) - 1))]
        kinds.add("truncated")
        if final == 6:
            kinds.add("truncated_tcp")
    nexts = (chain + [final])[1:]
    for kind, nxt in reversed(list(zip(chain, nexts, strict=True))):
        body = _ext_header(rng, kind, nxt, f, kinds) + body
    first = chain[0] if chain else final
    f["proto"] = final
    f["ttl"] = _pick(rng, TTLS, 1, 0, 255)
    f["tos"] = _pick(rng, [0, 0, 0x10, 0x08, 0x04, 0x02, 0x01, 0x03, 0xB8, 0x28, 0xFC, 0xFF],
                     1, 0, 255)
    f["src"], f["dst"] = rng.choice(SRC6), rng.choice(DST6 + ["ff02::1"])
    dst_mac = MULTICAST6_MAC if f["dst"] == "ff02::1" else None
    f["pkttype"] = "multicast" if dst_mac else "unicast"
    f["length"] = 40 + len(body)
    header = struct.pack("!IHBB", 6 << 28 | f["tos"] << 20 | rng.randint(0, 0xFFFFF),
                         len(body), first, f["ttl"]) + _addr6(f["src"]) + _addr6(f["dst"])
    about = f"ip6 chain {chain} proto {final} hl {f['ttl']} tc 0x{f['tos']:02x} " \
            f"len {f['length']} {f['src']} > {f['dst']}"
    return Packet(ETH_IP6, header + body, dst_mac, f, kinds, about)


def packets(rng: random.Random, family: str, count: int) -> list[Packet]:
    make = packet6 if family == "ip6" else packet4
    return [make(rng) for _ in range(count)]
