"""-j CT, -j ECN and -m hbh / -m dst values as their iptables extensions store them, so that
`--to iptables-restore` prints what iptables-save prints and `-D` finds the rule the kernel
has (data: mappings/xt_values.toml).

libxt_CT and libipt_ECN write their kernel structure as they read each option, so the order
matters: a zone option adds its direction and overwrites the one zone; --ecn-tcp-remove
replaces the operations read before it. The options stay as given while the command is read
(so a second one is still "can only be used once"); the stored form is made when the target
is assembled (extensions._assemble), and their words are no template slots, which a later
line would refill one at a time (frontends/templates.py).
"""

from __future__ import annotations

import string
from functools import cache

from .. import mappings
from ..errors import OptionError
from ..ir import Option

_U64 = 2**64


@cache
def _data() -> dict:
    return mappings.load("xt_values")


def _strtoul(text: str) -> tuple[int, int, bool] | None:
    """C's strtoul(text, &end, 0): (value, where the number ends, past 2^64 - 1), or None
    without digits. Blanks and a sign may lead; a minus sign wraps (-1 is 2^64 - 1)."""
    i = len(text) - len(text.lstrip(" \t\n\v\f\r"))
    negative = text[i:i + 1] == "-"
    if text[i:i + 1] in ("+", "-"):
        i += 1
    if text[i:i + 2].lower() == "0x" and text[i + 2:i + 3] in tuple(string.hexdigits):
        base, digits, i = 16, string.hexdigits, i + 2
    elif text[i:i + 1] == "0":
        base, digits = 8, string.octdigits
    else:
        base, digits = 10, string.digits
    end = i
    while end < len(text) and text[end] in digits:
        end += 1
    if end == i or text[i:i + 1] == "":
        return None
    value = int(text[i:end], base)
    if value >= _U64:
        return _U64 - 1, end, True
    return (-value % _U64 if negative else value), end, False


# --- -j CT ---------------------------------------------------------------------------------

def parse_ct_zone(args, family, proto) -> int | str:
    """A zone ID (0-65535, as strtoul base 0 reads it, no sign) or `mark` (any case)."""
    text = args[0]
    if text.lower() == "mark":
        return "mark"
    found = _strtoul(text)
    if found is None or found[1] != len(text) or found[2] or found[0] > 0xFFFF \
            or text.lstrip(" \t\n\v\f\r").startswith("-"):
        raise OptionError(f"Cannot parse {text} as a zone ID")
    return found[0]


def _events(kind: str):
    def parse(args, family, proto) -> frozenset[str]:
        names = _data()["ct_events"][kind]
        given = args[0].split(",")
        for name in given:
            if name not in names:
                raise OptionError(f'Unknown event type "{name}"', hint=", ".join(names))
        return frozenset(given)
    return parse


def _events_text(kind: str):
    def text(value: frozenset[str]) -> str:
        return ",".join(n for n in _data()["ct_events"][kind] if n in value)
    return text


_ZONES = ("zone-orig", "zone-reply", "zone")


def normal_ct(opts: dict[str, Option], index: int) -> dict[str, Option]:
    """The zone options given (in their order) as the one zone libxt_CT stores: each adds its
    direction (--zone none) and the mark flag, the last one's ID wins (0 after `mark`). Both
    directions print as --zone; zone 0 without the mark prints nothing (-j CT alone is the
    same zone-0 template in the kernel)."""
    given = [opts[n] for n in opts if n in _ZONES]
    if not given:
        return opts
    directions = {o.name for o in given} - {"zone"}
    mark = any(o.value == "mark" for o in given)
    last = given[-1].value
    out = {n: o for n, o in opts.items() if n not in _ZONES}
    if mark or last not in (0, "mark"):
        name = directions.pop() if len(directions) == 1 else "zone"
        out[name] = Option(name, "mark" if mark else last, False)
    return out


def ct_option(parser, ext, name: str) -> None:
    """A zone's words are no template slots: the zone depends on the others (and on 0)."""
    if name in _ZONES:
        _unslot(parser, ext, _ZONES)


# --- -j ECN --------------------------------------------------------------------------------

_TCP_BITS = ("ecn-tcp-cwr", "ecn-tcp-ece")      # libipt_ECN's option ids order


def normal_ecn(opts: dict[str, Option], index: int) -> dict[str, Option]:
    """--ecn-tcp-remove is ECE and CWR set to 0 (so is that given as two options, without
    --ecn-ip-ect); it replaces what was read before it (an --ecn-ip-ect before it is lost)."""
    if "ecn-tcp-remove" in opts:
        for bit in _TCP_BITS:
            if bit in opts:
                raise OptionError(f'ECN: option "--ecn-tcp-remove" cannot be used together '
                                  f'with "--{bit}".', index)
        names = list(opts)
        if "ecn-ip-ect" not in opts or names.index("ecn-ip-ect") < names.index(
                "ecn-tcp-remove"):
            return {"ecn-tcp-remove": opts["ecn-tcp-remove"]}
        return {"ecn-tcp-ece": Option("ecn-tcp-ece", 0, False),
                "ecn-tcp-cwr": Option("ecn-tcp-cwr", 0, False),
                "ecn-ip-ect": opts["ecn-ip-ect"]}
    if "ecn-ip-ect" not in opts and all(b in opts and opts[b].value == 0 for b in _TCP_BITS):
        return {"ecn-tcp-remove": Option("ecn-tcp-remove", None, False)}
    return opts


def ecn_option(parser, ext, name: str) -> None:
    """The TCP bits' words are no template slots: both 0 is another option."""
    if name in _TCP_BITS:
        _unslot(parser, ext, _TCP_BITS)


def _unslot(parser, ext, names) -> None:
    for index, owner in list(parser.slots.items()):
        if owner[0] is ext and owner[1] in names:
            del parser.slots[index]


# --- -m hbh / -m dst -----------------------------------------------------------------------

def _opts_number(text: str, what: str, module: str) -> int:
    found = _strtoul(text)
    if found is None:
        raise OptionError(f"{module}: no valid digits in {what} `{text}'")
    if found[2]:
        raise OptionError(f"{what} `{text}' specified too big: would overflow")
    if found[1] != len(text):
        raise OptionError(f"{module}: error parsing {what} `{text}'")
    return found[0] & 0xFF


def _ipv6_opts(module: str):
    def parse(args, family, proto) -> tuple[tuple[int, int], ...]:
        data = _data()["ipv6_opts"]
        items = args[0].split(",")
        out = []
        for i, item in enumerate(items[:data["max"]]):
            kind, colon, length = item.partition(":")
            if colon and i == data["max"] - 1:
                raise OptionError(data["length_on_last"])
            number = _opts_number(kind, "opt", module)
            if colon and number == 0:
                raise OptionError(data["pad0"][module])
            out.append((number, _opts_number(length, "length", module) if colon
                        else data["no_length"]))
        if len(items) > data["max"]:
            raise OptionError(data["too_many"], hint=f"at most {data['max']} options")
        return tuple(out)
    return parse


def _ipv6_opts_text(value: tuple[tuple[int, int], ...]) -> str:
    none = _data()["ipv6_opts"]["no_length"]
    return ",".join(str(t) if n == none else f"{t}:{n}" for t, n in value)


PARSERS = {
    "ct_zone": parse_ct_zone,
    "ct_events": _events("ctevents"),
    "exp_events": _events("expevents"),
    "hbh_opts": _ipv6_opts("hbh"),
    "dst_opts": _ipv6_opts("dst"),
}

SAVE_TEXT = {
    "ct_zone": str,
    "ct_events": _events_text("ctevents"),
    "exp_events": _events_text("expevents"),
    "hbh_opts": _ipv6_opts_text,
    "dst_opts": _ipv6_opts_text,
}
