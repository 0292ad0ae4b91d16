"""Packets in words, both ways: `tcp 10.0.0.5:40000 > 10.0.0.1:22 in eth1 ct new` ↔ Packet,
and the walk of one packet through a ruleset, rule by rule (`fwmigrate explain`)."""

from __future__ import annotations

import ipaddress

import pyparsing as pp

from .. import mappings
from ..backends.iptables_save import rule_line
from ..errors import undecodable_byte
from ..frontends.values_flags import TCP_FLAGS
from ..ir import Ruleset
from .evaluate import Outcome, evaluate
from .packet import CT_STATES, Packet
from .space import CT_STATUS

_WORD = pp.Regex(r"[^\s:>]+")
# IPv6 before IPv4: `2001:db8::1` starts like an IPv4 address; an IPv4 one never has a colon
# before its first dot, so `10.0.0.5:22` stays an address and a port
_ADDR = pp.Regex(r"\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+|[0-9.]+")
_ENDPOINT = pp.Group(_ADDR("addr") + pp.Opt(pp.Suppress(":") + pp.Word(pp.nums)("port")))
_CLAUSE = (pp.Group(pp.Keyword("in")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("out")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("ct")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("status")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("flags")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("type")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("hook")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("recent")("key") + _WORD("value"))
           | pp.Group(pp.Keyword("frag")("key"))
           | pp.Group(pp.Keyword("answer")("key")))
PACKET = (_WORD("proto") + _ENDPOINT("src") + pp.Suppress(">") + _ENDPOINT("dst")
          + pp.ZeroOrMore(_CLAUSE)("clauses") + pp.StringEnd())
HOOK_PATHS = {"input": ("prerouting", "input"), "forward": ("prerouting", "forward",
                                                            "postrouting"),
              "output": ("output", "postrouting"), "prerouting": ("prerouting",),
              "postrouting": ("postrouting",)}


class PacketError(Exception):
    pass


def parse_packet(text: str) -> tuple[Packet, str]:
    """(packet, hook) from `PROTO SRC[:PORT] > DST[:PORT] [in IF] [out IF] [ct STATE]
    [status BITS] [flags SYN,ACK] [type T[/C]] [recent LIST[@dst]] [frag] [answer] [hook H]`.
    `answer`: this host made the packet as the answer to another (a REJECT's ICMP error or
    reset), which gives it that packet's conntrack entry, RELATED (or an empty one, INVALID,
    for an untracked packet), before the raw table; the entry's direction, status and
    original tuple are the answered flow's, unknown here."""
    bad = undecodable_byte(text)
    if bad is not None:
        raise PacketError(f"{bad[1]} (at column {bad[0] + 1})")
    try:
        res = PACKET.parse_string(text)
    except pp.ParseBaseException as exc:
        raise PacketError(f"cannot read the packet at column {exc.col}: {exc.msg}\n  {text}\n"
                          f"  {' ' * (exc.col - 1)}^\n  e.g. \"tcp 10.0.0.5:40000 > 10.0.0.1:22 "
                          "in eth1 ct new\"") from None
    proto_name = res["proto"].lower()
    proto = mappings.protocol_numbers().get(proto_name, int(proto_name)
                                            if proto_name.isdigit() else None)
    if proto is None:
        raise PacketError(f"unknown protocol {res['proto']}")
    if proto > 255:
        raise PacketError(f"protocol {proto}: 0 to 255")
    saddr, daddr = _address(res["src"]["addr"]), _address(res["dst"]["addr"])
    if saddr.version != daddr.version:
        raise PacketError(f"the source is IPv{saddr.version} and the destination "
                          f"IPv{daddr.version}: a packet has one family")
    for end in (res["src"], res["dst"]):
        if "port" in end and int(end["port"]) > 65535:
            raise PacketError(f"port {end['port']}: 0 to 65535")
    fields: dict = dict(family="ip" if saddr.version == 4 else "ip6", saddr=saddr, daddr=daddr,
                        proto=proto, ct_state="new", ct_status=frozenset(),
                        ct_direction="ORIGINAL", tcp_flags=frozenset({"SYN"}) if proto == 6
                        else None)
    if "port" in res["src"]:
        fields["sport"] = int(res["src"]["port"])
    if "port" in res["dst"]:
        fields["dport"] = int(res["dst"]["port"])
    hook = "input"
    recent: dict[str, frozenset] = {}
    given = {clause["key"] for clause in res.get("clauses", [])}
    for clause in res.get("clauses", []):
        key, value = clause["key"], clause.get("value")
        if key in ("in", "out"):
            if len(value) > 15:
                raise PacketError(f"interface name `{value}' is longer than the kernel's 15 "
                                  "characters")
            fields["iif" if key == "in" else "oif"] = value
        elif key == "ct":
            if value.lower() not in CT_STATES:
                raise PacketError(f"ct {value}: one of {', '.join(CT_STATES)}")
            fields["ct_state"] = value.lower()
            if value.lower() != "new" and "flags" not in given and proto == 6:
                fields["tcp_flags"] = frozenset({"ACK"})
        elif key == "status":
            fields["ct_status"] = _words(key, value, CT_STATUS)
        elif key == "flags":
            fields["tcp_flags"] = frozenset() if value.upper() == "NONE" else \
                _words(key, value, TCP_FLAGS)
        elif key == "type":
            t, _, c = value.partition("/")
            if not (t.isdigit() and int(t) <= 255 and (not c or c.isdigit() and int(c) <= 255)):
                raise PacketError(f"type {value}: TYPE or TYPE/CODE, each 0 to 255")
            fields["icmp_type"], fields["icmp_code"] = int(t), int(c) if c else 0
        elif key == "hook":
            if value not in HOOK_PATHS:
                raise PacketError(f"hook {value}: one of {', '.join(HOOK_PATHS)}")
            hook = value
        elif key == "recent":
            name, _, side = value.partition("@")
            if side not in ("", "dst") or not name:
                raise PacketError(f"recent {value}: LIST or LIST@dst")
            addr = daddr if side == "dst" else saddr
            recent[name] = recent.get(name, frozenset()) | {addr}
        elif key == "frag":
            fields["fragment"] = True
        elif key == "answer":
            fields["ct_attached"] = "answer"
    fields["ct_orig_saddr"], fields["ct_orig_daddr"] = saddr, daddr
    fields["ct_orig_sport"], fields["ct_orig_dport"] = fields.get("sport"), fields.get("dport")
    if "ct_attached" in fields:
        _answer(fields, "ct" in given, "flags" in given)
    if hook in ("output", "postrouting"):
        fields.pop("iif", None)
        fields["iif"] = ""
    if hook in ("input", "prerouting"):
        fields["oif"] = ""
    return Packet(recent=recent, **fields), hook


def _answer(fields: dict, state_given: bool, flags_given: bool) -> None:
    """An answer carries the answered packet's entry (see Packet.ct_attached): RELATED, or
    INVALID (an empty one); whose direction, status and original tuple are not known."""
    state = fields["ct_state"] if state_given else "related"
    if state not in ("related", "invalid"):
        raise PacketError(f"answer: an answer this host makes is ct related (or invalid, "
                          f"answering an untracked packet), not {state}")
    fields.update(ct_state=state, ct_attached="entry" if state == "related" else "empty",
                  ct_direction=None, ct_status=None, ct_orig_saddr=None, ct_orig_daddr=None,
                  ct_orig_sport=None, ct_orig_dport=None)
    if fields["proto"] == 6 and not flags_given:
        fields["tcp_flags"] = frozenset({"RST", "ACK"})


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise PacketError(f"`{text}' is not an IP address") from None


def _words(key: str, value: str, known: tuple[str, ...]) -> frozenset[str]:
    words = frozenset(v.upper() for v in value.split(","))
    if not words <= set(known):
        raise PacketError(f"{key} {value}: one or more of {','.join(known)}")
    return words


def describe_packet(p: Packet, hook: str) -> str:
    proto = mappings.protocol_save_names().get(p.proto, str(p.proto)) if p.proto else "any"

    def end(addr, port):
        text = f"[{addr}]" if addr is not None and addr.version == 6 and port else str(addr)
        return text + (f":{port}" if port is not None else "")
    words = [proto, end(p.saddr, p.sport), ">", end(p.daddr, p.dport)]
    if p.iif:
        words += ["in", p.iif]
    if p.oif:
        words += ["out", p.oif]
    if p.ct_state:
        words += ["ct", p.ct_state]
    if p.ct_status:
        words += ["status", ",".join(sorted(p.ct_status))]
    if p.tcp_flags is not None and p.proto == 6:
        words += ["flags", ",".join(sorted(p.tcp_flags)) or "NONE"]
    if p.icmp_type is not None:
        words += ["type", f"{p.icmp_type}/{p.icmp_code or 0}"]
    for name, members in sorted(p.recent.items()):
        if p.saddr in members:
            words += ["recent", name]
        if p.daddr in members:
            words += ["recent", f"{name}@dst"]
    if p.fragment:
        words.append("frag")
    if p.ct_attached:
        words.append("answer")
    words += ["hook", hook]
    return " ".join(words)


def render_outcome(o: Outcome) -> list[str]:
    lines = []
    for step in o.trace:
        if step.result == "no match":
            continue
        if step.index == 0:
            lines.append(f"  {step.table} {step.chain}: policy → {o.verdict}")
            continue
        where = f" ({step.rule.loc})" if step.rule is not None and step.rule.loc else ""
        text = rule_line(step.chain, step.rule, False) if step.rule is not None else ""
        lines.append(f"  {step.table} {step.chain} rule {step.index}{where}: {step.result}: "
                     f"{text}")
    lines.append(f"  → {o.describe()}")
    if o.assumptions:
        lines.append("  (assuming " + "; ".join(dict.fromkeys(o.assumptions)) + ")")
    return lines


def explain(ruleset: Ruleset, packet: Packet, hook: str) -> list[Outcome]:
    return evaluate(ruleset, packet, HOOK_PATHS[hook])
