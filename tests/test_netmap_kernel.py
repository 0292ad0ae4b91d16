"""-j NETMAP against nft's prefix NAT in the real kernel: the same packets, once through
iptables-legacy's NETMAP and once through fwmigrate's nft, each in a namespace of its own (a
conntrack entry of one run would decide the next one's mapping), with an nft probe after the
NAT hook recording the addresses the packets have then."""

from __future__ import annotations

import ipaddress
import json
import struct

import pytest
from packets import ETH_IP6, SRC6, UDP, Bench, ipv4, udp

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.verify.roundtrip import round_trip

from netns import namespace

pytestmark = pytest.mark.kernel

SAVE = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
{rules}
COMMIT
"""

# the probe: which addresses the packets carry after the NAT hook (dstnat -100, srcnat 100)
PROBE = """table {family} probe {{
    set seen {{ type {type}; flags dynamic; }}
    chain c {{
        type filter hook {hook} priority {priority};
        iifname "fwx1" add @seen {{ {field} }}
    }}
}}
"""


def _seen(ns, rules: list[str], how: str, packets, *, hook: str, priority: int,
          field: str, family: str = "ip") -> set[str]:
    bench = Bench(ns, family)
    try:
        ns.run("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
        ns.run("sysctl", "-qw", "net.ipv4.conf.fwx1.rp_filter=0")
        ns.run("ip", "addr", "add", "10.98.0.2/24", "dev", "fwx1")
        text = SAVE.format(rules="\n".join(rules))
        if how == "iptables":
            ns.run("ip6tables-legacy-restore" if family == "ip6" else "iptables-legacy-restore",
                   input=text)
        else:
            ns.nft("-f", "-", input=convert(text, "netmap.save",
                                            ConvertOptions(to="nft", family=family)).output)
        ns.nft("-f", "-", input=PROBE.format(
            hook=hook, priority=priority, field=field, family=family,
            type="ipv6_addr" if family == "ip6" else "ipv4_addr"))
        for packet in packets:
            bench.send(packet)
        listing = json.loads(ns.nft("-j", "list", "set", family, "probe", "seen").stdout)
        elements = listing["nftables"][1]["set"].get("elem", [])
        return {e if isinstance(e, str) else e["elem"]["val"] for e in elements}
    finally:
        bench.close()


def _udp6(dst: str, dport: int) -> tuple[int, bytes]:
    """IPv6 UDP from fd00::1 (its checksum is not checked before the NAT hooks)."""
    body = udp(dport)
    return ETH_IP6, (struct.pack("!IHBB", 6 << 28, len(body), UDP, 64) + SRC6
                     + ipaddress.IPv6Address(dst).packed + body)


def _both(rules, packets, **probe) -> tuple[set[str], set[str]]:
    results = []
    for how in ("iptables", "fwmigrate"):
        with namespace("fwm-netmap") as ns:
            results.append(_seen(ns, rules, how, packets, **probe))
    return results[0], results[1]


@pytest.mark.parametrize("rules", [
    ["-A PREROUTING -i fwx1 -d 10.9.0.0/24 -j NETMAP --to 10.8.0.0/24"],
    # a user chain reached only from PREROUTING maps destinations too
    [":MAP - [0:0]", "-A PREROUTING -i fwx1 -j MAP",
     "-A MAP -d 10.9.0.0/24 -j NETMAP --to 10.8.0.0/24"],
])
def test_netmap_in_prerouting_maps_destinations_as_iptables_does(kernel, rules):
    packets = [ipv4(UDP, udp(1000 + i), dst=dst)
               for i, dst in enumerate(["10.9.0.5", "10.9.0.200", "10.9.1.7"])]
    legacy, ours = _both(rules, packets, hook="prerouting", priority=-50, field="ip daddr")
    # the host bits stay, the prefix changes; outside the prefix nothing changes
    assert legacy == {"10.8.0.5", "10.8.0.200", "10.9.1.7"}
    assert ours == legacy


def test_netmap_in_input_maps_sources_as_iptables_does(kernel):
    rules = ["-A INPUT -i fwx1 -s 10.98.0.0/24 -j NETMAP --to 10.50.0.0/24"]
    packets = [ipv4(UDP, udp(2000))]
    legacy, ours = _both(rules, packets, hook="input", priority=200, field="ip saddr")
    assert legacy == {"10.50.0.1"}         # the source 10.98.0.1 keeps its host bits
    assert ours == legacy


def test_ipv6_netmap_maps_destinations_as_ip6tables_does(kernel):
    rules = ["-A PREROUTING -i fwx1 -d fd00:9::/64 -j NETMAP --to fd00:8::/64"]
    packets = [_udp6("fd00:9::5:1", 3000), _udp6("fd00:7::1", 3001)]
    legacy, ours = _both(rules, packets, hook="prerouting", priority=-50, field="ip6 daddr",
                         family="ip6")
    assert legacy == {"fd00:8::5:1", "fd00:7::1"}
    assert ours == legacy


def test_kernel_round_trip_reads_prefix_nat_back_as_netmap(kernel):
    text = SAVE.format(rules="\n".join([
        "-A PREROUTING -d 10.9.0.0/24 -j NETMAP --to 10.8.0.0/24",
        "-A INPUT -s 10.98.0.0/24 -j NETMAP --to 10.50.0.0/24"]))
    report = round_trip(text, "netmap.save", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel + report.restore]
