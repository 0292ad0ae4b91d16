"""The TOS byte (IPv4 TOS, IPv6 traffic class) in nft compares → -m dscp and -m tos.

nft has a dscp and an ecn field but no TOS field: the backend reads the byte raw (`@nh,8,8`,
IPv6 `@nh,4,8`, or with a mask the first 16 bits, `@nh,0,16`, and the traffic class's bits
in them), and nft 1.0.6 lists
such a compare as the dscp and ecn compares it covers where it covers them whole, else raw.
"""

from __future__ import annotations

from typing import Any

from ..ir import Masked, Match, Option
from .nft_lift_values import dscp, ecn, number, unrepresentable

# where the backend reads the TOS byte: (offset, length) in bits of the raw payload, and how
# far the byte is shifted in it. IPv6's traffic class is 4 bits in; nft 1.0.6 loads a masked
# `@nh,4,8` wrongly, so the backend reads 16 bits and compares the class's bits among them
_TOS_READ = {"ip": (8, 8, 0), "ip6": (0, 16, 4)}


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
    """`@nh,8,8 & M == V` (IPv4) / `@nh,0,16 & M<<4 == V<<4` (IPv6): the TOS byte as the
    backend reads it."""
    where = (payload.get("base"), payload.get("offset"), payload.get("len"))
    if where == ("nh", 4, 8) and lift.ctx.family == "ip6" and mask is None:
        _tos(lift, number(right, "TOS"), 0xFF, negated)     # the whole class: loaded right
        return
    offset, length, shift = _TOS_READ[lift.ctx.family]
    if where != ("nh", offset, length) or (shift and mask is None):
        unrepresentable(f"the raw payload @{where[0]},{where[1]},{where[2]}")
    value = number(right, "TOS")
    mask = (1 << length) - 1 if mask is None else mask
    if (mask | value) & ~(0xFF << shift):
        unrepresentable(f"@nh,{offset},{length} & {mask:#x} (bits beyond the traffic class)")
    _tos(lift, value >> shift, mask >> shift, negated)


def ip6_listing(lift, shift: list, mask: int, right: Any, negated: bool) -> None:
    """`(@nh,0,16 & 0xff0) >> 4 & M == …`: how nft 1.0.6 lists `@nh,4,8 & M == V`, which it
    loads as a test of other bits than the traffic class (tests/test_xt_parity_kernel.py)."""
    unrepresentable("a masked @nh,4,8 (nft 1.0.6 loads it as a test of other bits than the "
                    "traffic class)")


def _tos(lift, value: int, mask: int, negated: bool) -> None:
    lift.append_match(Match("tos", (Option("tos", Masked(value, mask), negated),)))
