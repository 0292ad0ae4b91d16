"""xt_u32's test language (`--u32 "0>>22&0x3C@ 12>>26&0x3C@ 0=0x1020304"`), read as
libxt_u32 reads it and printed as iptables-save prints it (hex numbers, no spaces).

    tests    := test ("&&" test)*                    at most 10
    test     := location "=" range ("," range)*      at most 10 ranges
    location := number (op number)*                  at most 10 numbers; op: & << >> @
    range    := number [":" number]

Numbers are read with strtoul base 0 (0x.. hex, 0.. octal), spaces are allowed around every
element. The value is a tuple of tests, each (location, ranges): location a tuple of
(operator or None for the first, number), ranges a tuple of (min, max).
"""

from __future__ import annotations

import re

from ..errors import OptionError

_MAX = 10           # XT_U32_MAXSIZE: numbers per location, ranges per test, tests
_OPS = {"&": "&", "<": "<<", ">": ">>", "@": "@"}
# strtoumax base 0 after optional spaces and `+` (libxtables refuses a `-`)
_NUMBER = re.compile(r"\s*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")

U32Test = tuple[tuple[tuple[str | None, int], ...], tuple[tuple[int, int], ...]]


def _number(text: str, at: int) -> tuple[int, int]:
    """(value, position after it), as libxt_u32's parse_number."""
    found = _NUMBER.match(text, at)
    if found is None:
        raise OptionError(f"u32: at char {at}: not a number or out of range")
    digits = found.group(1)
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    else:
        value = int(digits, 8 if digits.startswith("0") else 10)
    if value > 0xFFFFFFFF:
        raise OptionError(f"u32: at char {at}: not a number or out of range")
    return value, found.end()


def parse_u32(args, family, proto) -> tuple[U32Test, ...]:
    text = args[0]
    tests: list[U32Test] = []
    location: list[tuple[str | None, int]] = []
    ranges: list[tuple[int, int]] = []
    reading_values = False
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            if not reading_values:
                raise OptionError("u32: abrupt end of input after location specifier")
            if not ranges:
                raise OptionError("u32: test ended with no value specified")
            tests.append((tuple(location), tuple(ranges)))
            if len(tests) > _MAX:
                raise OptionError(f'u32: at char {at}: too many "&&"s')
            return tuple(tests)
        char = text[at]
        if not reading_values:
            if char == "=":
                if not location:
                    raise OptionError(f"u32: at char {at}: location spec missing")
                at += 1
                reading_values = True
                continue
            op = None
            if location:
                op = _OPS.get(char)
                if op is None:
                    raise OptionError(f"u32: at char {at}: operator expected")
                if len(op) == 2:
                    at += 1
                    if text[at:at + 1] != char:
                        raise OptionError(f"u32: at char {at}: a second '{char}' was expected")
                at += 1
            number, at = _number(text, at)
            location.append((op, number))
            if len(location) > _MAX:
                raise OptionError(f"u32: at char {at}: too many operators")
            continue
        if char == "&":
            at += 1
            if text[at:at + 1] != "&":
                raise OptionError(f"u32: at char {at}: a second '&' was expected")
            if not ranges:
                raise OptionError(f"u32: at char {at}: value spec missing")
            tests.append((tuple(location), tuple(ranges)))
            if len(tests) > _MAX:
                raise OptionError(f'u32: at char {at}: too many "&&"s')
            at += 1
            location, ranges, reading_values = [], [], False
            continue
        if ranges:
            if char != ",":
                raise OptionError(f'u32: at char {at}: expected "," or "&&"')
            at += 1
        low, at = _number(text, at)
        while at < len(text) and text[at].isspace():
            at += 1
        high = low
        if text[at:at + 1] == ":":
            high, at = _number(text, at + 1)
        ranges.append((low, high))
        if len(ranges) > _MAX:
            raise OptionError(f'u32: at char {at}: too many ","s')


def u32_text(tests: tuple[U32Test, ...]) -> str:
    """libxt_u32's u32_dump: every number in hex, quoted."""
    out = []
    for location, ranges in tests:
        where = "".join(f"{op or ''}{number:#x}" for op, number in location)
        values = ",".join(f"{low:#x}" if low == high else f"{low:#x}:{high:#x}"
                          for low, high in ranges)
        out.append(f"{where}={values}")
    return '"' + "&&".join(out) + '"'


PARSERS = {"u32_tests": parse_u32}
SAVE_TEXT = {"u32_tests": u32_text}
