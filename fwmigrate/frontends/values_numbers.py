"""Numeric values: rates and bursts (-m limit), integers and integer ranges, value/mask pairs,
protocol numbers, ids (-m owner), probabilities (-m statistic), queue ranges."""

from __future__ import annotations

import math

import pyparsing as pp

from .. import mappings
from ..errors import OptionError
from ..ir import IntRange, Masked, Rate
from .values_common import _MASKED, _UINT, _run, c_uint

_RATE = (_UINT("count") + pp.Opt(pp.Suppress("/") + pp.Regex(r"[A-Za-z]+")("unit"))
         ).set_name("rate")
# libxtables' ranges (XTTYPE_*RC): either end may be left out, `a:` up to the type's largest,
# `:b` from 0
_OPEN_RANGE = (_UINT("first") + pp.Opt(pp.Literal(":")("colon") + pp.Opt(_UINT("last")))
               | pp.Literal(":")("colon") + _UINT("last")).set_name("number range")


_SCALE = 10000
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def canonical_rate(period: int) -> Rate:
    """The rate iptables prints for a stored period (its print_rate): 60/min reads back 1/sec."""
    units = [("day", _SCALE * 86400), ("hour", _SCALE * 3600), ("minute", _SCALE * 60),
             ("second", _SCALE)]
    i = 1
    while i < len(units):
        mult = units[i][1]
        if period > mult or mult // period < mult % period:
            break
        i += 1
    name, mult = units[i - 1]
    return Rate(mult // period, name)  # type: ignore[arg-type]


def parse_rate(args, family, proto) -> Rate:
    text = args[0]
    res = _run(_RATE, text)
    mult = 1
    unit = res.get("unit")
    if unit is not None:
        for name, seconds in _UNIT_SECONDS.items():
            if name.startswith(unit.lower()):
                mult = seconds
                break
        else:
            raise OptionError(f"bad rate `{text}'", hint="units are second, minute, hour, day")
    count = c_uint(res["count"], what="rate")
    if count == 0:
        raise OptionError(f"bad rate `{text}'")
    period = _SCALE * mult // count
    if period == 0:
        raise OptionError(f"Rate too fast `{text}'", hint="at most 10000/second")
    return canonical_rate(period)


def parse_burst(args, family, proto) -> int:
    value = c_uint(args[0], 0, 10000, "burst")
    if value == 0:
        raise OptionError("--limit-burst must be at least 1",
                          hint="the kernel refuses a burst of 0 (xt_limit: ERANGE)")
    return value


def parse_uint8(args, family, proto) -> int:
    return c_uint(args[0], 0, 255)


def parse_shift_bits(args, family, proto) -> int:
    # a 32-bit mark shifted by 32 or more bits is undefined in C (and refused by nft)
    return c_uint(args[0], 0, 31, "shift")


def parse_uint32(args, family, proto) -> int:
    return c_uint(args[0], 0, 0xFFFFFFFF)


def _open_range(text: str, largest: int, alone: int | None) -> IntRange:
    """`a`, `a:b`, `a:` or `:b`; `a` alone is a..`alone` (a..a when None)."""
    res = _run(_OPEN_RANGE, text)
    first = c_uint(res["first"], 0, largest) if "first" in res else 0
    if "last" in res:
        last = c_uint(res["last"], 0, largest)
    elif "colon" in res:
        last = largest
    else:
        last = first if alone is None else alone
    if first > last:
        raise OptionError(f"invalid range (min > max) `{text}'")
    return IntRange(first, last)


def parse_uint_range(args, family, proto) -> IntRange:
    return _open_range(args[0], 0xFFFFFFFF, None)


_U64 = 0xFFFFFFFFFFFFFFFF


def parse_connbytes_range(args, family, proto) -> IntRange:
    """`--connbytes a[:b]`: a 64-bit count range; without `:b` up to 2^64 - 1, as
    libxt_connbytes stores it."""
    return _open_range(args[0], _U64, _U64)


def parse_masked(args, family, proto) -> Masked:
    res = _run(_MASKED, args[0])
    value = c_uint(res["value"])
    mask = c_uint(res["mask"]) if "mask" in res else 0xFFFFFFFF
    return Masked(value, mask)


def parse_protocol(args, family, proto) -> int:
    return protocol_number(args[0])


def protocol_number(text: str) -> int:
    if text[:1].isdigit():
        return c_uint(text, 0, 255, "protocol")
    number = mappings.protocol_numbers().get(text.lower())
    if number is None:
        raise OptionError(f"unknown protocol `{text}' specified",
                          hint="use a name from /etc/protocols or a number 0-255")
    return number


def parse_uint16_range(args, family, proto, top: int = 0xFFFF,
                       any_order: bool = False) -> IntRange:
    """`a:b`, `:b` (from 0), `a:` (to the top) or `a`."""
    text = args[0]
    first, colon, last = text.partition(":")
    low = c_uint(first, 0, top) if first else 0
    high = (c_uint(last, 0, top) if last else top) if colon else low
    if low > high and not any_order:
        raise OptionError(f"invalid range (min > max) `{text}'")
    return IntRange(low, high)


def parse_uint32_range(args, family, proto) -> IntRange:
    return parse_uint16_range(args, family, proto, 0xFFFFFFFF)


# Ranges iptables 1.8.9 takes with the first bound above the last (no value is in them):
# --length, --espspi, --ahspi, --ipcompspi, --fragid, --rt-segsleft
def parse_uint16_range_any_order(args, family, proto) -> IntRange:
    return parse_uint16_range(args, family, proto, any_order=True)


def parse_uint32_range_any_order(args, family, proto) -> IntRange:
    return parse_uint16_range(args, family, proto, 0xFFFFFFFF, any_order=True)


def parse_id_range(args, family, proto) -> IntRange:
    """--uid-owner / --gid-owner: a number, `a-b`, or `root` (0 on every system)."""
    text = args[0]
    if text == "root":
        return IntRange(0, 0)
    first, dash, last = text.partition("-")
    if not first[:1].isdigit() or (dash and not last[:1].isdigit()):
        raise OptionError(f"user or group name `{text}' is not known here",
                          hint="iptables looks names up in the password database of the "
                               "machine it runs on; give the number", unsupported=True)
    low = c_uint(first, 0, 0xFFFFFFFE)
    high = c_uint(last, 0, 0xFFFFFFFE) if dash else low
    if low > high:
        raise OptionError(f"invalid range (min > max) `{text}'")
    return IntRange(low, high)


def parse_probability(args, family, proto) -> int:
    """Stored as iptables stores it: round(p * 2^31), printed back as that / 2^31."""
    try:
        value = float(args[0])
    except ValueError:
        raise OptionError(f"invalid probability `{args[0]}'") from None
    if not 0.0 <= value <= 1.0:
        raise OptionError(f"probability `{args[0]}' out of range (0-1)")
    return int(math.floor(value * 0x80000000 + 0.5))


def parse_uint16(args, family, proto) -> int:
    return c_uint(args[0], 0, 0xFFFF)


def parse_queue_range(args, family, proto) -> IntRange:
    first, colon, last = args[0].partition(":")
    if not colon:
        raise OptionError(f"Bad range \"{args[0]}\"", hint="first:last")
    low, high = c_uint(first, 0, 0xFFFF), c_uint(last, 0, 0xFFFF)
    if low >= high:
        raise OptionError("--queue-balance: the first queue must be below the last")
    return IntRange(low, high)


def parse_uint64(args, family, proto) -> int:
    return c_uint(args[0], 0, 0xFFFFFFFFFFFFFFFF)
