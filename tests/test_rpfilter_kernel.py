"""Why -m rpfilter stays refused: xt_rpfilter and nft's `fib saddr . iif oif` (what
iptables-translate writes for it) disagree on real packets. Both are loaded in one namespace
and count the same spoofed UDP packets arriving on eth1."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from traffic import SERVER_ADDR

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError

pytestmark = pytest.mark.kernel

SENDER = textwrap.dedent("""
    import socket, struct, sys
    for src in sys.argv[2:]:
        udp = struct.pack("!HHHH", 1000, 9999, 8, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(sys.argv[1]))
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.sendto(ip + udp, (sys.argv[1], 0))
""")

# source address → (xt_rpfilter matches, nft's fib matches), measured on Linux 6.18
SOURCES = {
    "10.99.0.2": (True, True),       # the route back leaves through eth1: valid
    "10.99.0.255": (False, True),    # eth1's broadcast address: a broadcast route, not unicast
    "192.0.2.5": (False, False),     # a blackhole route
    "203.0.113.9": (False, False),   # no route at all
}


def _count(netns_server, src: str, client) -> tuple[int, int]:
    server = netns_server
    server.run("iptables-legacy", "-t", "mangle", "-Z")
    server.nft("flush", "chain", "ip", "m", "p")
    server.nft("add", "rule", "ip", "m", "p", "iifname", "eth1", "meta", "l4proto", "udp",
               "fib", "saddr", ".", "iif", "oif", "!=", "0", "counter")
    client.run("python3", "-c", SENDER, SERVER_ADDR, src)
    saved = server.run("iptables-legacy-save", "-c", "-t", "mangle").stdout
    xt = next(int(line[1:].split(":")[0]) for line in saved.splitlines()
              if "rpfilter" in line)
    listing = json.loads(server.nft("-j", "list", "chain", "ip", "m", "p").stdout)
    rule = next(i["rule"] for i in listing["nftables"] if "rule" in i)
    nft = next(e["counter"] for e in rule["expr"] if "counter" in e)["packets"]
    return xt, nft


def test_rpfilter_and_nft_fib_disagree_on_a_broadcast_source(netns_pair):
    if shutil.which("iptables-legacy") is None:
        pytest.skip("iptables-legacy is not installed")
    server, client = netns_pair
    server.run("ip", "route", "add", "blackhole", "192.0.2.0/24")
    server.run("iptables-legacy", "-t", "mangle", "-A", "PREROUTING", "-i", "eth1", "-p", "udp",
               "-m", "rpfilter")
    server.nft("add", "table", "ip", "m")
    server.nft("add", "chain", "ip", "m", "p",
               "{ type filter hook prerouting priority mangle; }")
    measured = {src: _count(server, src, client) for src in SOURCES}
    assert measured == {src: tuple(int(m) for m in both) for src, both in SOURCES.items()}


def test_rpfilter_is_refused_with_the_measured_reason():
    with pytest.raises(FwmigrateError) as info:
        convert("iptables -t mangle -A PREROUTING -m rpfilter -j DROP\n", "t.sh",
                ConvertOptions())
    text = " ".join(f"{d.message} {d.hint}" for d in info.value.diagnostics)
    assert "broadcast" in text
