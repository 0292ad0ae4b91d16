"""What every option value grammar shares: running a pyparsing grammar over a whole value, and
reading a number as iptables does (strtoul base 0).
"""

from __future__ import annotations

import re

import pyparsing as pp

from ..errors import OptionError

# the pieces more than one values_*.py grammar is built from
_UINT = pp.Regex(r"0[xX][0-9a-fA-F]+|[0-9]+").set_name("number")
_MASKED = (_UINT("value") + pp.Opt(pp.Suppress("/") + _UINT("mask"))).set_name("value[/mask]")

_WHOLE: dict[int, pp.ParserElement] = {}


def _run(grammar: pp.ParserElement, text: str) -> pp.ParseResults:
    whole = _WHOLE.get(id(grammar))
    if whole is None:
        # parse_all=True would build `Empty() + StringEnd()` on every call
        whole = _WHOLE[id(grammar)] = (grammar + pp.StringEnd()).set_name(
            grammar.name).parse_with_tabs()
    try:
        return whole.parse_string(text)
    except pp.ParseBaseException as exc:
        raise OptionError(f"expected {grammar.name} in `{text}'", offset=exc.loc) from None


def c_uint(text: str, lo: int = 0, hi: int = 0xFFFFFFFF, what: str = "number") -> int:
    """A number as iptables reads it (strtoul base 0: 0x.. hex, 0.. octal)."""
    try:
        if text.lower().startswith("0x"):
            value = int(text, 16)
        elif len(text) > 1 and text.startswith("0"):
            value = int(text, 8)
        else:
            value = int(text, 10)
    except ValueError:
        raise OptionError(f"invalid {what} `{text}'") from None
    if not lo <= value <= hi:
        raise OptionError(f"{what} `{text}' out of range ({lo}-{hi})")
    return value


U64_MAX = 2**64 - 1
_LLU = re.compile(r"\s*([+-]?)0*(\d+)")


def scanf_u64(text: str) -> tuple[int, int] | None:
    """A counter as iptables reads one (sscanf's %llu): blanks, a sign, then digits up to the
    first other character, which is not an error. Past 2^64 - 1 it stays there; a minus sign
    wraps (-1 is 2^64 - 1). The value and where the digits end, or None without digits."""
    found = _LLU.match(text)
    if found is None:
        return None
    digits = found[2]
    value = U64_MAX if len(digits) > 20 else min(int(digits), U64_MAX)
    if found[1] == "-" and value != U64_MAX:
        value = -value % 2**64
    return value, found.end()
