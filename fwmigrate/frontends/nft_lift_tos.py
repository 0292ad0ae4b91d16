"""The TOS byte (IPv4 TOS, IPv6 traffic class) in nft compares → -m dscp and -m tos.

nft has a dscp and an ecn field but no TOS field: the backend reads the byte raw (`@nh,8,8`,
IPv6 `@nh,4,8`), and nft 1.0.6 lists such a compare as the dscp and ecn compares it covers
where it covers them whole, else raw (IPv6: in a shifted form of its own).
"""

from __future__ import annotations

from typing import Any

from ..ir import Masked, Match, Option
from .nft_lift_values import dscp, ecn, number, unrepresentable

_TOS_OFFSET = {"ip": 8, "ip6": 4}     # bits into the header where the TOS byte starts


def ds_field(lift, fieldname: str, right: Any, op: str, negated: bool) -> None:
    """`ip dscp` is -m dscp; `ip ecn` alone is -m tos on the ECN bits; the two together, as
    nft 1.0.6 lists one compare of the whole TOS byte, are -m tos on the byte."""
    if op not in ("==", "!="):
        unrepresentable(f"{lift.ctx.family} {fieldname} {op}")
    if fieldname == "dscp":
        value, mask = dscp(right) << 2, 0xFC
    else:
        value, mask = ecn(right), 0x03
    other = _ds_part(lift.matches[-1] if lift.matches else None)
    if other is not None and other[1] == 0xFF ^ mask and other[2] == negated:
        if negated:
            unrepresentable("`dscp != … ecn != …`: nft 1.0.6 lists a != test of the whole TOS "
                            "byte (-m tos ! --tos V/0xff) and two != tests (either field "
                            "differs / both differ) alike")
        lift.matches.pop()
        lift.append_match(Match("tos", (Option("tos", Masked(value | other[0], 0xFF)),)))
    elif fieldname == "dscp":
        lift.add_match("dscp", Option("dscp", value >> 2, negated))
    else:
        lift.append_match(Match("tos", (Option("tos", Masked(value, mask), negated),)))


def _ds_part(match: Match | None) -> tuple[int, int, bool] | None:
    """(value, mask, negated) in the TOS byte of a one-field -m dscp / -m tos match."""
    if match is None or len(match.options) != 1:
        return None
    opt = match.options[0]
    if match.module == "dscp":
        return opt.value << 2, 0xFC, opt.negated
    if match.module == "tos" and opt.value.mask in (0xFC, 0x03):
        return opt.value.value, opt.value.mask, opt.negated
    return None


def raw(lift, payload: dict[str, Any], mask: int | None, right: Any, negated: bool) -> None:
    """`@nh,8,8 & M == V` (IPv4) / `@nh,4,8 …` (IPv6): the TOS byte as the backend reads it."""
    where = (payload.get("base"), payload.get("offset"), payload.get("len"))
    if where != ("nh", _TOS_OFFSET[lift.ctx.family], 8):
        unrepresentable(f"the raw payload @{where[0]},{where[1]},{where[2]}")
    _tos(lift, number(right, "TOS"), 0xFF if mask is None else mask, negated)


def ip6_listing(lift, shift: list, mask: int, right: Any, negated: bool) -> None:
    """nft 1.0.6 lists `@nh,4,8 & M == V` as `(@nh,0,16 & 0xff0) >> 4 & M == V<<8/8`."""
    loaded, by = shift
    inner, inner_mask = loaded["&"] if isinstance(loaded, dict) and "&" in loaded else ({}, None)
    prefix = right.get("prefix", {}) if isinstance(right, dict) else {}
    if lift.ctx.family != "ip6" or by != 4 or inner_mask != 0xFF0 \
            or inner != {"payload": {"base": "nh", "offset": 0, "len": 16}} \
            or prefix.get("len") != 8 or not isinstance(prefix.get("addr"), int) \
            or prefix["addr"] & 0xFF:
        unrepresentable("a shifted comparison")
    _tos(lift, prefix["addr"] >> 8, mask, negated)


def _tos(lift, value: int, mask: int, negated: bool) -> None:
    lift.append_match(Match("tos", (Option("tos", Masked(value, mask), negated),)))
