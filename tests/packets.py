"""Crafted packets, and which rules count each of them, for tests that hold an iptables-legacy
rule against nft rules in the real kernel.

A `Bench` is a veth pair fwx0 → fwx1 inside a namespace the test created: packets written byte
by byte are sent on fwx0 with AF_PACKET and arrive on fwx1, where rules hooked at raw
PREROUTING (priority -300) count them before the stack looks at them. No rule uses conntrack,
so nothing defragments: a fragment reaches the rules as the fragment it is. Each packet is sent
alone and the counters read after it, so a stateful match (numgen, statistic) shows which
packet of a sequence it matched.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import struct
import subprocess
import sys

import pytest

SRC4, DST4 = "10.98.0.1", "10.98.0.2"
SRC6 = bytes.fromhex("fd000000000000000000000000000001")
DST6 = bytes.fromhex("fd000000000000000000000000000002")
ETH_IP, ETH_IP6 = 0x0800, 0x86DD
TCP, UDP, DCCP, AH, MH, HBH, RT, FRAG, DST, NONE = 6, 17, 33, 51, 135, 0, 43, 44, 60, 59
SYN = 0x02


def _checksum(data: bytes) -> int:
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(proto: int, body: bytes, *, offset: int = 0, more: bool = False, ident: int = 1,
         dst: str = DST4, src: str = SRC4) -> tuple[int, bytes]:
    """An IPv4 packet (offset in 8-byte units); the stack checks the header checksum before
    PREROUTING, so it is computed."""
    src, dst = (bytes(map(int, a.split("."))) for a in (src, dst))
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident,
                         offset | (0x2000 if more else 0), 64, proto, 0, src, dst)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return ETH_IP, header + body


def ipv6(nxt: int, *headers: bytes) -> tuple[int, bytes]:
    body = b"".join(headers)
    return ETH_IP6, struct.pack("!IHBB", 6 << 28, len(body), nxt, 64) + SRC6 + DST6 + body


def udp(dport: int, sport: int = 40000) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8, 0)


def tcp(dport: int, sport: int = 40000, flags: int = SYN, options: bytes = b"") -> bytes:
    """A TCP header (checksum 0: nothing checks it before PREROUTING)."""
    options += b"\x01" * (-len(options) % 4)
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, (5 + len(options) // 4) << 4, flags,
                       1024, 0, 0) + options


def dccp(dtype: int, dport: int = 100, sport: int = 40000) -> bytes:
    """A DCCP header with extended sequence numbers (16 bytes; type in bits 1-4 of byte 8)."""
    return struct.pack("!HHBBHBBH", sport, dport, 4, 0, 0, dtype << 1 | 1, 0, 0) + bytes(4)


def opts(nxt: int, units: int = 0) -> bytes:
    """A hop-by-hop / destination options header of (units + 1) * 8 bytes, one experimental
    option (type 0x1e, skipped where unknown) filling it."""
    size = (units + 1) * 8
    return bytes([nxt, units, 0x1E, size - 4]) + bytes(size - 4)


def rt(nxt: int, rtype: int, segleft: int, units: int = 0) -> bytes:
    return bytes([nxt, units, rtype, segleft]) + bytes((units + 1) * 8 - 4)


def frag6(nxt: int, offset: int, more: bool, ident: int, reserved: int = 0,
          res2: int = 0) -> bytes:
    return struct.pack("!BBHI", nxt, reserved, offset << 3 | res2 << 1 | int(more), ident)


def ah(nxt: int, spi: int, units: int = 1, reserved: int = 0) -> bytes:
    """AH of (units + 2) * 4 bytes."""
    return struct.pack("!BBHII", nxt, units, reserved, spi, 1) + bytes((units + 2) * 4 - 12)


def mh(mtype: int) -> bytes:
    return bytes([NONE, 0, mtype, 0, 0, 0, 0, 0])


_SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("fwx0", 0))
src = open("/sys/class/net/fwx0/address").read().strip().replace(":", "")
dst = open("/sys/class/net/fwx1/address").read().strip().replace(":", "")
for line in sys.stdin:
    ethertype, data, *to = line.split()
    s.send(bytes.fromhex((to[0] if to else dst) + src + ethertype) + bytes.fromhex(data))
    print("sent", flush=True)
"""

# many packets at once, without a reply per packet: veth queues each on the CPU's backlog,
# which the sender's softirq drains as send() returns (unless the machine is busy: see flood)
_FLOODER = r"""
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("fwx0", 0))
src = open("/sys/class/net/fwx0/address").read().strip().replace(":", "")
dst = open("/sys/class/net/fwx1/address").read().strip().replace(":", "")
head, data, at = bytes.fromhex(dst + src), sys.stdin.buffer.read(), 0
while at < len(data):
    (size,) = struct.unpack_from("!H", data, at)
    s.send(head + data[at + 2:at + 2 + size])
    at += 2 + size
"""


def _backlog_drops() -> int:
    """Packets dropped by full per-CPU backlogs so far (softnet_stat's second column)."""
    with open("/proc/net/softnet_stat") as stat:
        return sum(int(line.split()[1], 16) for line in stat)


_RULE_HEAD = re.compile(r"^(?:add|insert) rule (ip6?) \S+ \S+ ")
_SET_HEAD = re.compile(r"^add set (ip6?) \S+ ")


class Bench:
    """fwx0 → fwx1 in `ns`; one family's rules at a time, from iptables-legacy or nft."""

    def __init__(self, ns, family: str = "ip"):
        if shutil.which("iptables-legacy") is None:
            pytest.skip("iptables-legacy is not installed")
        self.ns, self.family = ns, family
        ns.run("ip", "link", "add", "fwx0", "type", "veth", "peer", "name", "fwx1")
        # the sending end sends nothing of its own (no IPv6 neighbour or MLD packets)
        ns.run("sysctl", "-qw", "net.ipv6.conf.fwx0.disable_ipv6=1")
        for dev in ("fwx0", "fwx1"):
            ns.run("ip", "link", "set", dev, "up")
        self._sender = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c",
                                         _SENDER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def close(self) -> None:
        self._sender.stdin.close()
        self._sender.wait(timeout=10)

    def send(self, packet: tuple) -> None:
        """(ethertype, bytes), or (ethertype, bytes, destination MAC as 12 hex digits) for a
        frame not addressed to fwx1 (broadcast, multicast)."""
        to = f" {packet[2]}" if len(packet) > 2 else ""
        self._sender.stdin.write(f"{packet[0]:04x} {packet[1].hex()}{to}\n")
        self._sender.stdin.flush()
        assert self._sender.stdout.readline() == "sent\n"

    def flood(self, packets) -> int:
        """Sends every packet, in order, and returns once the stack has handled them: how
        many packets a full backlog dropped meanwhile (on the whole machine; 0 when none)."""
        frames = b"".join(struct.pack("!HH", len(data) + 2, ethertype) + data
                          for ethertype, data in packets)
        before = _backlog_drops()
        subprocess.run(["ip", "netns", "exec", self.ns.name, sys.executable, "-c", _FLOODER],
                       input=frames, check=True)
        return _backlog_drops() - before

    # --- iptables-legacy: `-A PREROUTING -i fwx1 RULE` in the raw table (or as `where` says) --

    @property
    def _legacy(self) -> str:
        return "ip6tables-legacy" if self.family == "ip6" else "iptables-legacy"

    def load_legacy(self, rules: list[str], where: tuple[str, str] = ("raw", "PREROUTING")) -> None:
        for table in ("raw", "mangle", "filter"):
            self.ns.run(self._legacy, "-t", table, "-F")
        self._where = where
        for rule in rules:
            self.ns.run(self._legacy, "-t", where[0], "-A", where[1], "-i", "fwx1",
                        *shlex.split(rule))

    def legacy_counts(self) -> list[int]:
        out = self.ns.run(self._legacy, "-t", self._where[0], "-L", self._where[1], "-n", "-v",
                          "-x").stdout
        return [int(line.split()[0]) for line in out.splitlines()[2:] if line.strip()]

    # --- nft: each rule (an `add rule FAMILY TABLE CHAIN …` command) in one base chain ------

    def load_nft(self, commands: list[str], hook: str = "prerouting priority -300") -> None:
        """The commands' rules, moved into table FAMILY fwtest chain pre (raw prerouting, or
        `hook`) and limited to fwx1, their sets (`add set`) into that table too; any other
        command as it is."""
        self.ns.nft("flush", "ruleset")
        lines = [f"add table {self.family} fwtest",
                 f"add chain {self.family} fwtest pre {{ type filter hook {hook}; "
                 "policy accept; }"]
        for command in commands:
            head, set_head = _RULE_HEAD.match(command), _SET_HEAD.match(command)
            if head:
                command = (f"add rule {head.group(1)} fwtest pre iifname \"fwx1\" "
                           f"{command[head.end():]}")
            elif set_head:
                command = f"add set {set_head.group(1)} fwtest {command[set_head.end():]}"
            lines.append(command)
        self.ns.nft("-f", "-", input="\n".join(lines) + "\n")

    def nft_counts(self) -> list[int]:
        # the chain, not the table: a set filled with many elements would be printed (and
        # parsed) too
        listing = json.loads(self.ns.nft("-j", "list", "chain", self.family, "fwtest",
                                         "pre").stdout)["nftables"]
        # rules without a counter are not counted: the drop fwmigrate writes after a hashlimit
        # rule (for a full set) has none, as iptables counts no packet it hotdrops
        return [e["counter"]["packets"] for item in listing if "rule" in item
                for e in item["rule"]["expr"] if "counter" in e]

    def per_packet(self, packets: list[tuple[int, bytes]], counts) -> list[list[int]]:
        """For each packet in turn: which rules counted it (0/1 each)."""
        before = counts()
        out = []
        for packet in packets:
            self.send(packet)
            after = counts()
            out.append([b - a for a, b in zip(before, after, strict=True)])
            before = after
        return out

    def legacy_per_packet(self, rules: list[str], packets, **where) -> list[list[int]]:
        self.load_legacy(rules, **where)
        return self.per_packet(packets, self.legacy_counts)

    def nft_per_packet(self, commands: list[str], packets, **hook) -> list[list[int]]:
        self.load_nft(commands, **hook)
        return self.per_packet(packets, self.nft_counts)

