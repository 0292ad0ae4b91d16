"""Values of the header fields targets rewrite: packet marks (stored as xt_MARK revision 2
does: new = (old & ~mask) ^ value), the DS field (TOS, DSCP and its classes, ECN), tc classes.
"""

from __future__ import annotations

from .. import mappings
from ..errors import OptionError
from ..ir import Masked
from .values_common import _MASKED, _run, c_uint


def parse_masked8(text: str, default_mask: int) -> Masked:
    res = _run(_MASKED, text)
    value = c_uint(res["value"], 0, 0xFF)
    mask = c_uint(res["mask"], 0, 0xFF) if "mask" in res else default_mask
    return Masked(value, mask)


def parse_tos(args, family, proto) -> Masked:
    """-m tos / -j TOS --set-tos: a symbolic name (value/0x3f) or value[/mask] (mask 0xff)."""
    for name, value in mappings.load("nft_values")["tos_names"].items():
        if name.lower() == args[0].lower():
            return Masked(value, 0x3F)
    if not args[0][:1].isdigit():
        raise OptionError(f"Bad TOS value `{args[0]}'",
                          hint="a number, or "
                          + ", ".join(mappings.load("nft_values")["tos_names"]))
    return parse_masked8(args[0], 0xFF)


def parse_dscp(args, family, proto) -> int:
    return c_uint(args[0], 0, 0x3F, "DSCP value")


def parse_ecn_codepoint(args, family, proto) -> int:
    return c_uint(args[0], 0, 3, "ECN IP codepoint")


def parse_dscp_class(args, family, proto) -> int:
    for name, value in mappings.load("nft_values")["dscp_classes"].items():
        if args[0].upper().startswith(name):
            return value
    raise OptionError(f"Invalid DSCP value `{args[0]}'",
                      hint="one of " + ", ".join(mappings.load("nft_values")["dscp_classes"]))


def _mark_and_mask(text: str) -> tuple[int, int | None]:
    res = _run(_MASKED, text)
    return c_uint(res["value"]), (c_uint(res["mask"]) if "mask" in res else None)


def parse_xmark(args, family, proto) -> Masked:
    value, mask = _mark_and_mask(args[0])
    return Masked(value, 0xFFFFFFFF if mask is None else mask)


def parse_set_mark(args, family, proto) -> Masked:
    value, mask = _mark_and_mask(args[0])
    return Masked(value, 0xFFFFFFFF if mask is None else mask | value)


def parse_and_mark(args, family, proto) -> Masked:
    return Masked(0, ~c_uint(args[0]) & 0xFFFFFFFF)


def parse_or_mark(args, family, proto) -> Masked:
    bits = c_uint(args[0])
    return Masked(bits, bits)


def parse_xor_mark(args, family, proto) -> Masked:
    return Masked(c_uint(args[0]), 0)


def parse_set_tos(args, family, proto) -> Masked:
    """-j TOS --set-tos value[/mask] or a name: tos = (tos & ~mask) ^ value (xt_TOS)."""
    return parse_tos(args, family, proto)


def parse_and_tos(args, family, proto) -> Masked:
    return Masked(0, ~c_uint(args[0], 0, 0xFF) & 0xFF)


def parse_or_tos(args, family, proto) -> Masked:
    bits = c_uint(args[0], 0, 0xFF)
    return Masked(bits, bits)


def parse_xor_tos(args, family, proto) -> Masked:
    return Masked(c_uint(args[0], 0, 0xFF), 0)


def parse_tc_class(args, family, proto) -> int:
    """--set-class MAJOR:MINOR, both hexadecimal (tc's notation)."""
    major, colon, minor = args[0].partition(":")
    try:
        if not colon:
            raise ValueError
        value = int(major, 16) << 16 | int(minor, 16)
    except ValueError:
        raise OptionError(f"Bad class value \"{args[0]}\"",
                          hint="MAJOR:MINOR in hex, e.g. 1:10") from None
    if int(major, 16) > 0xFFFF or int(minor, 16) > 0xFFFF:
        raise OptionError(f"Bad class value \"{args[0]}\"")
    return value
