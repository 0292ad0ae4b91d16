"""IPv6 extension headers (ip6tables -m frag, rt, hbh, dst, mh) → nft's exthdr expression,
and -m ah (IPv4 and IPv6) → nft's `ah` fields. Kernel semantics: mappings/matches.toml.

xt compares header lengths in bytes; nft's hdrlength is the raw field (units of 8 bytes after
the first 8; AH: units of 4 bytes after the first 8).
"""

from __future__ import annotations

from ..ir import IntRange
from .nft_ast import Compare, Exthdr, Payload, Range, Statement, Symbol
from .nft_common import int_range, op
from .nft_recent import Untranslatable

# modules read through nft's exthdr: without options the test is the header's presence
EXTHDR_MODULES = frozenset({"frag", "rt", "hbh", "dst", "mh"})


# IPv6 `-p X -m ah` (refused in nft_translate, before the -p test is dropped as implied)
AH_WITH_PROTOCOL = ("ip6tables' -p finds the protocol past any AH header, while nft's `ah` "
                    "fields need nft's protocol (meta l4proto) to be AH itself: no nft rule "
                    "tests both")


def h_ah(tr, rule, index, match, opt, ctx) -> list[Statement]:
    out: list[Statement] = []
    spi = match.option("ahspi")
    if spi is not None:
        out.append(Compare(Payload("ah", "spi"), op(spi.negated), int_range(spi.value)))
    length = match.option("ahlen")
    if length is not None and length.value:          # ip6t_ah: --ahlen 0 is "not given"
        # the whole header in bytes, (hdrlength + 2) * 4
        out += _field_equals(Payload("ah", "hdrlength"), length, 4, 2, "--ahlen")
    if match.option("ahres") is not None:
        out.append(Compare(Payload("ah", "reserved"), "==", Symbol("0")))
    if not out:       # a readable AH header, as xt reads it
        out.append(Compare(Payload("ah", "spi"), "==",
                           Range(Symbol("0"), Symbol("4294967295"))))
    return out


def _field_equals(left, option, unit: int, extra: int, flag: str) -> list[Statement]:
    """A header length in bytes as xt compares it, against a length field counting `unit`
    bytes beyond the first `extra` units: nothing else has that length."""
    field, rest = divmod(option.value, unit)
    field -= extra
    if rest or not 0 <= field <= 255:
        if option.negated:
            return []               # every header differs: the header's presence is the test
        raise Untranslatable(f"{flag} {option.value} never matches (no header has that "
                             f"length: it is a multiple of {unit} from {unit * extra} to "
                             f"{unit * (255 + extra)})", "remove the rule, or fix the length")
    return [Compare(left, op(option.negated), Symbol(str(field)))]


def _byte_range(left, option, flag: str) -> list[Statement]:
    """A range of a 32-bit option against an 8-bit field (--rt-type, --rt-segsleft)."""
    v = option.value
    first, last = (v.first, v.last) if isinstance(v, IntRange) else (v, v)
    if first > 255:
        if option.negated:
            return []
        raise Untranslatable(f"{flag} {first} never matches (the field has 8 bits)",
                             "remove the rule, or fix the value")
    right = int_range(IntRange(first, min(last, 255)))
    return [Compare(left, op(option.negated), right)]


def h_exthdr(tr, rule, index, match, opt, ctx) -> list[Statement]:
    name = match.module
    out: list[Statement] = []
    for option in match.options:
        flag = "--" + option.name
        if name == "frag":
            if option.name == "fragid":
                out.append(Compare(Exthdr("frag", "id"), op(option.negated),
                                   int_range(option.value)))
            elif option.name == "fragres":
                # xt: the reserved byte and the two reserved bits of the offset field are 0
                out += [Compare(Exthdr("frag", "reserved"), "==", Symbol("0")),
                        Compare(Exthdr("frag", "reserved2"), "==", Symbol("0"))]
            elif option.name == "fragfirst":
                out.append(Compare(Exthdr("frag", "frag-off"), "==", Symbol("0")))
            elif option.name in ("fragmore", "fraglast"):
                out.append(Compare(Exthdr("frag", "more-fragments"), "==",
                                   Symbol("1" if option.name == "fragmore" else "0")))
            # --fraglen: the kernel never tests it
        elif name == "rt":
            if option.name in ("rt-0-res", "rt-0-addrs", "rt-0-not-strict"):
                raise Untranslatable(f"{flag}: type 0 routing header fields have no exact "
                                     "nft test")
            if option.name == "rt-len":
                out += _field_equals(Exthdr("rt", "hdrlength"), option, 8, 1, flag)
            else:
                out += _byte_range(Exthdr("rt", "type" if option.name == "rt-type"
                                          else "seg-left"), option, flag)
        elif name in ("hbh", "dst"):
            if option.name.endswith("-opts"):
                raise Untranslatable(f"{flag}: nft has no test of the options' sequence")
            out += _field_equals(Exthdr(name, "hdrlength"), option, 8, 1, flag)
        elif name == "mh":
            out.append(Compare(Exthdr("mh", "type"), op(option.negated),
                               int_range(option.value)))
    if not any(isinstance(s, Compare) and isinstance(s.left, Exthdr) for s in out):
        out.append(Compare(Exthdr(name), "==", Symbol("exists")))
    return out
