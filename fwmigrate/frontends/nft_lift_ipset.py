"""Lookups in and updates of sets that stand for ipsets → `-m set` / `-j SET`.

fwmigrate writes an ipset as a named set with the comment `ipset NAME TYPE` (the kernel keeps
it); the lookup key says the directions: `ip saddr . meta l4proto . th dport @S` is
`--match-set NAME src,dst`, the protocol and port of one ipset dimension being read together.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .. import mappings
from ..ir import Address, IpSet, Match, Option, TargetExtension
from .nft_lift_values import Unrepresentable

_SIDES = {"saddr": "src", "daddr": "dst", "sport": "src", "dport": "dst"}
_PORTS = ("tcp", "udp", "sctp", "udplite", "th")


def ipset_of(comment: str | None) -> tuple[str, str] | None:
    """(ipset name, type) from a set's comment as fwmigrate writes it."""
    words = (comment or "").split()
    return (words[1], words[2]) if len(words) == 3 and words[0] == "ipset" else None


_ADDRESS_TYPES = ("hash:ip", "hash:net", "bitmap:ip")


def ipset_from_nft(s: dict[str, Any], ipset: tuple[str, str]) -> IpSet:
    """The IpSet a listed nft set stands for; members are read for sets of addresses (what
    the equivalence checker can model), the other types keep their name and type only."""
    family = {"ipv4_addr": "ip", "ipv6_addr": "ip6"}.get(
        s["type"] if isinstance(s["type"], str) else s["type"][0])
    entries = []
    if ipset[1] in _ADDRESS_TYPES:
        for elem in s.get("elem", []):
            options: tuple = ()
            if isinstance(elem, dict) and "elem" in elem:
                if elem["elem"].get("timeout"):
                    options = (Option("timeout", elem["elem"]["timeout"]),)
                elem = elem["elem"]["val"]
            for net in _networks(elem):
                entries.append(((Address(net.network_address, net.netmask),), options))
    return IpSet(ipset[0], ipset[1], family, tuple(entries), s.get("timeout"))


def _networks(elem: Any) -> list:
    if isinstance(elem, str):
        return [ipaddress.ip_network(elem)]
    if "prefix" in elem:
        return [ipaddress.ip_network(f"{elem['prefix']['addr']}/{elem['prefix']['len']}")]
    if "range" in elem:
        first, last = map(ipaddress.ip_address, elem["range"])
        return list(ipaddress.summarize_address_range(first, last))
    raise Unrepresentable(f"a set element {elem!r}")


def directions(key: Any) -> tuple[tuple[str, ...], str | None]:
    """The src/dst per ipset dimension of a lookup key, and the protocol a port in it names
    (`tcp dport`: nft lists `th dport` so when the rule tests `ip protocol tcp` first)."""
    items = key["concat"] if isinstance(key, dict) and "concat" in key else [key]
    out: list[str] = []
    named = None
    pending_proto = False
    for item in items:
        meta = item.get("meta", {}) if isinstance(item, dict) else {}
        payload = item.get("payload", {}) if isinstance(item, dict) else {}
        if meta.get("key") == "l4proto" and not pending_proto:
            pending_proto = True            # the protocol half of a port dimension
            continue
        proto, field = payload.get("protocol"), payload.get("field")
        if field not in _SIDES or proto not in ("ip", "ip6", "ether", *_PORTS) or \
                (field in ("saddr", "daddr")) == (proto in _PORTS) or \
                (proto == "th" and not pending_proto):
            raise Unrepresentable("an ipset lookup keyed by something ipset cannot test")
        if proto in _PORTS and proto != "th":
            named = proto
        pending_proto = False
        out.append(_SIDES[field])
    if pending_proto or not out:
        raise Unrepresentable("an ipset lookup keyed by something ipset cannot test")
    return tuple(out), named


def _imply(lift, proto: str | None) -> None:
    if proto is not None:
        lift.implied_protocol = mappings.protocol_numbers()[proto]


def lookup(lift, key: Any, ipset: tuple[str, str], negated: bool) -> None:
    dirs, proto = directions(key)
    _imply(lift, proto)
    ref = (ipset[0], dirs)
    lift.append_match(Match("set", (Option("match-set", ref, negated),)))


def update(lift, body: dict[str, Any], ipset: tuple[str, str]) -> None:
    """`add|update|delete @S { key [timeout Ns] }` → the SET target (one per rule)."""
    elem = body["elem"]
    timeout = None
    if isinstance(elem, dict) and "elem" in elem:
        timeout = elem["elem"].get("timeout")
        elem = elem["elem"]["val"]
    if body.get("stmt"):
        raise Unrepresentable(f"a set statement with a limit on {body['set']}")
    dirs, proto = directions(elem)
    _imply(lift, proto)
    ref = (ipset[0], dirs)
    options = {}
    if body["op"] in ("add", "update"):
        options["add-set"] = Option("add-set", ref)
        if body["op"] == "update":
            options["exist"] = Option("exist")
        if timeout is not None:
            options["timeout"] = Option("timeout", timeout)
    elif body["op"] == "delete" and timeout is None:
        options["del-set"] = Option("del-set", ref)
    else:
        raise Unrepresentable(f"`{body['op']}` on set {body['set']}")
    order = ("add-set", "exist", "timeout", "del-set")
    lift.target(TargetExtension("SET", tuple(options[k] for k in order if k in options)))
