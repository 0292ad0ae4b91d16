"""Set statements with a per-element statement (libnftables JSON) → hashlimit and connlimit,
the forms nft_limits.py writes: `update @S { key limit rate [over] … }` in a set with a
timeout is a hashlimit table named S; `add @S { key ct count [over] N }` is a connlimit.
`limit rate over` on its own is a hashlimit without a key (xt_limit cannot invert)."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..ir import Match, Option
from .limit_values import DEFAULT_HTABLE_SIZE, SCALE
from .nft_lift_values import Unrepresentable

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_PORT_PROTOCOLS = {"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "dccp": 33}
_FIRST_FRAGMENT_ONLY = frozenset({"tcp", "udp", "udplite", "sctp", "dccp", "multiport"})
_MODES = {"saddr": "srcip", "daddr": "dstip", "sport": "srcport", "dport": "dstport"}


def _rate(limit: dict[str, Any]) -> tuple[tuple, int]:
    if limit.get("burst_unit", "packets") != "packets" or \
            limit.get("rate_unit", "packets") != "packets":
        raise Unrepresentable("a byte-rate limit")
    per = limit.get("per", "second")
    if per not in _UNIT_SECONDS:
        raise Unrepresentable(f"a limit per {per}")
    period = SCALE * _UNIT_SECONDS[per] // limit["rate"]
    if period == 0:
        raise Unrepresentable("a limit faster than 1000000/second")
    return ("packets", period, 1), limit.get("burst", 5) or 5


def _refill_seconds(period: int, burst: int) -> int:
    return max(1, -(-period * burst // SCALE))


def _prefix(mask_text: str) -> int:
    mask = int(ipaddress.ip_address(mask_text))
    width = 32 if ipaddress.ip_address(mask_text).version == 4 else 128
    length = bin(mask).count("1")
    if mask != ((1 << width) - 1) ^ ((1 << (width - length)) - 1):
        raise Unrepresentable(f"a non-contiguous mask {mask_text} in a set key")
    return length


def _key_fields(elem: Any) -> list[tuple[str, str, int | None]]:
    """(protocol, field, prefix length) of each part of a set key."""
    items = elem["concat"] if isinstance(elem, dict) and "concat" in elem else [elem]
    out = []
    for item in items:
        mask = None
        if isinstance(item, dict) and "&" in item:
            item, mask_text = item["&"]
            mask = _prefix(mask_text)
        payload = item.get("payload", {}) if isinstance(item, dict) else {}
        proto, field = payload.get("protocol"), payload.get("field")
        if field not in _MODES or (field in ("saddr", "daddr")) != (proto in ("ip", "ip6")) \
                or (field in ("sport", "dport") and proto not in _PORT_PROTOCOLS):
            raise Unrepresentable("a set keyed by something other than addresses and ports")
        out.append((proto, field, mask))
    return out


def _other_family(lift, fields: list[tuple[str, str, int | None]]) -> bool:
    """A key with the other family's addresses: in an inet table the kernel lists the rule
    without its `meta nfproto` (the key implies it), and this family's packets stop there."""
    own = "ip" if lift.ctx.family == "ip" else "ip6"
    if any(proto in ("ip", "ip6") and proto != own for proto, _field, _mask in fields):
        lift.other_family()
        return True
    return False


def hashlimit(lift, body: dict[str, Any], info) -> None:
    if body["op"] != "update" or not info.timeout:
        raise Unrepresentable(f"a limit kept per element of {body['set']} without `update` "
                              "in a set with a timeout (xt_hashlimit forgets idle keys)")
    if _other_family(lift, _key_fields(body["elem"])):
        return
    rate, burst = _rate(body["stmt"][0]["limit"])
    options = [Option("above" if body["stmt"][0]["limit"].get("inv") else "upto", rate)]
    if burst != 5:
        options.append(Option("burst", burst))
    fields = _key_fields(body["elem"])
    options.append(Option("mode", frozenset(_MODES[f] for _p, f, _m in fields)))
    options.append(Option("name", info.name))
    if info.size:
        # the kernel raises --hashlimit-htable-max to the table size (8192 by default), so a
        # smaller capacity needs a table that small too
        if info.size < DEFAULT_HTABLE_SIZE:
            options.append(Option("htable-size", info.size))
        options.append(Option("htable-max", info.size))
    options.append(Option("htable-expire", info.timeout * 1000))
    for _proto, field, mask in fields:
        if mask is not None:
            options.append(Option("srcmask" if field == "saddr" else "dstmask", mask))
    for proto, field, _mask in fields:
        if field in ("sport", "dport"):
            number = _PORT_PROTOCOLS[proto]
            if not any(m.module in _FIRST_FRAGMENT_ONLY for m in lift.matches):
                raise Unrepresentable(f"a limit keyed on {proto} {field} without an earlier "
                                      "port test (xt_hashlimit would key later fragments on "
                                      "the bytes where ports would be)")
            lift.implied_protocol = lift.implied_protocol or number
    lift.append_match(Match("hashlimit", _ordered(options)))


def limit_over(lift, limit: dict[str, Any]) -> None:
    """`limit rate over`: one bucket for every packet, which is a hashlimit without a key;
    each such rule gets a table of its own, forgotten only once refilled (as nft's never is)."""
    rate, burst = _rate(limit)
    lift.ctx.anonymous_limits += 1
    options = [Option("above", rate)] + ([Option("burst", burst)] if burst != 5 else []) + [
        Option("name", f"limit_over{lift.ctx.anonymous_limits}"),
        Option("htable-expire", _refill_seconds(rate[1], burst) * 1000)]
    lift.append_match(Match("hashlimit", _ordered(options)))


def connlimit(lift, body: dict[str, Any], info) -> None:
    if body["op"] != "add" or info.timeout:
        raise Unrepresentable(f"a connection count on {body['set']} other than `add` to a "
                              "set without timeout")
    fields = _key_fields(body["elem"])
    if _other_family(lift, fields):
        return
    if len(fields) != 1 or fields[0][1] not in ("saddr", "daddr"):
        raise Unrepresentable("a connection count keyed by something other than one address")
    _proto, field, mask = fields[0]
    count = body["stmt"][0]["ct count"]
    full = 32 if lift.ctx.family == "ip" else 128
    lift.append_match(Match("connlimit", (
        # nft's JSON lists the kernel's 32-bit count as a signed number: 4294967295 is -1
        Option("above" if count.get("inv") else "upto", count["val"] & 0xFFFFFFFF),
        Option("mask", full if mask is None else mask),
        Option("side", "connlimit-saddr" if field == "saddr" else "connlimit-daddr"))))


_ORDER = ("upto", "above", "burst", "mode", "name", "htable-size", "htable-max",
          "htable-gcinterval", "htable-expire", "srcmask", "dstmask")


def _ordered(options: list[Option]) -> tuple[Option, ...]:
    return tuple(sorted(options, key=lambda o: _ORDER.index(o.name)))
