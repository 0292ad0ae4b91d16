"""-m sctp --chunk-types against xt_sctp itself: the same crafted SCTP packets pass an
iptables-legacy rule and fwmigrate's nft rule in one namespace, and every rule counts the same
packets (bundled chunks, repeated types, a later fragment whose payload looks like chunks).

The rules skip later fragments with `! -f`, which fwmigrate requires: nft reads a later
fragment's payload as the transport header (test_nft_reads_a_later_fragment_as_sctp)."""

from __future__ import annotations

import json
import shutil
import struct
import textwrap

import pytest

from fwmigrate.convert import ConvertOptions, convert

pytestmark = pytest.mark.kernel

RULES = [
    "-p sctp ! -f -m sctp --chunk-types all INIT,SACK",
    "-p sctp ! -f -m sctp --chunk-types any DATA",
    "-p sctp ! -f -m sctp ! --chunk-types all ABORT",
    "-p sctp ! -f -m sctp --dport 80 --chunk-types all DATA",
    "-p sctp ! -f -m sctp --chunk-types all SHUTDOWN_COMPLETE,ASCONF",
    "-p sctp ! -f -m sctp --chunk-types all DATA -m sctp ! --chunk-types all SACK",
]

# chunk type numbers (RFC 9260, RFC 5061)
DATA, INIT, SACK, ABORT, SHUTDOWN_COMPLETE, ASCONF = 0, 1, 3, 6, 14, 193


def _chunk(kind: int, body: bytes = b"\0" * 4) -> bytes:
    data = struct.pack("!BBH", kind, 0, 4 + len(body)) + body
    return data + b"\0" * (-len(data) % 4)


def _sctp(dport: int, *chunks: bytes) -> bytes:
    return struct.pack("!HHII", 5000, dport, 1, 0) + b"".join(chunks)


PACKETS = [
    _sctp(80, _chunk(INIT, b"\0" * 16)),
    _sctp(80, _chunk(INIT, b"\0" * 16), _chunk(SACK, b"\0" * 12)),
    _sctp(80, _chunk(DATA, b"\0" * 12)),
    _sctp(81, _chunk(DATA, b"\0" * 12), _chunk(ABORT)),
    _sctp(80, _chunk(SACK, b"\0" * 12), _chunk(DATA, b"\0" * 12), _chunk(DATA, b"\0" * 12)),
    _sctp(82, _chunk(SHUTDOWN_COMPLETE, b""), _chunk(ASCONF)),
    _sctp(82, _chunk(ASCONF), _chunk(SACK, b"\0" * 12), _chunk(ABORT)),
]

# the second fragment of an SCTP packet (offset 8 bytes) whose payload reads as an SCTP header
# and an INIT and a SACK chunk: xt_sctp never matches a later fragment
FRAGMENT = _sctp(80, _chunk(INIT, b"\0" * 16), _chunk(SACK, b"\0" * 12))

SENDER = textwrap.dedent("""
    import socket, struct, sys
    packets = [bytes.fromhex(h) for h in sys.argv[2:]]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
    for p in packets:
        raw.sendto(p, ("127.0.0.1", 0))
    frag = bytes.fromhex(sys.argv[1])
    hdr = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(frag), 7, 1, 64, 132, 0,
                     socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
    hdr.sendto(ip + frag, ("127.0.0.1", 0))
""")


def _legacy_counts(netns) -> list[int]:
    out = netns.run("iptables-legacy-save", "-c", "-t", "filter").stdout
    return [int(line.split("]")[0].lstrip("[").split(":")[0]) for line in out.splitlines()
            if line.startswith("[") and "-A OUTPUT" in line]


def _nft_counts(netns) -> list[int]:
    listing = json.loads(netns.nft("-j", "list", "chain", "ip", "fwmigrate", "OUTPUT").stdout)
    counts = []
    for item in listing["nftables"]:
        if "rule" in item:
            counter = next(e["counter"] for e in item["rule"]["expr"] if "counter" in e)
            counts.append(counter["packets"])
    return counts


def test_chunk_type_tests_count_what_xt_sctp_counts(netns):
    if shutil.which("iptables-legacy") is None:
        pytest.skip("iptables-legacy is not installed")
    netns.run("ip", "link", "set", "lo", "up")
    script = "".join(f"iptables -A OUTPUT {rule}\n" for rule in RULES)
    nft = convert(script, "sctp.sh", ConvertOptions(counters=True)).output
    netns.nft("-f", "-", input=nft)
    for rule in RULES:
        netns.run("iptables-legacy", "-A", "OUTPUT", *rule.split())
    netns.run("python3", "-c", SENDER, FRAGMENT.hex(), *(p.hex() for p in PACKETS))
    legacy, ours = _legacy_counts(netns), _nft_counts(netns)
    assert len(legacy) == len(ours) == len(RULES)
    assert legacy == ours, list(zip(RULES, legacy, ours, strict=True))
    assert legacy == [1, 3, 5, 2, 1, 2]      # what xt_sctp counts, for this test's own sake


def test_nft_reads_a_later_fragment_as_sctp(netns):
    """Why `! -f` is required: on this kernel nft's chunk walk and even its port test match a
    later IPv4 fragment's payload (xt_sctp returns false for any later fragment)."""
    netns.run("ip", "link", "set", "lo", "up")
    netns.nft("-f", "-", input="table ip t {\n chain o {\n type filter hook output priority 0;\n"
                               " sctp dport 80 sctp chunk sack exists counter\n }\n}\n")
    netns.run("python3", "-c", SENDER, FRAGMENT.hex())
    listing = json.loads(netns.nft("-j", "list", "chain", "ip", "t", "o").stdout)
    (rule,) = [i["rule"] for i in listing["nftables"] if "rule" in i]
    assert next(e["counter"] for e in rule["expr"] if "counter" in e)["packets"] == 1
