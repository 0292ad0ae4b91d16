"""-m policy's policy elements: `--reqid`, `--spi`, `--proto`, `--mode`, `--tunnel-src`,
`--tunnel-dst` describe one IPsec state, `--next` starts the next one (with --strict, the
elements describe the whole path in order). Many flags build one value, so the parser hands
these flags here (ACCUMULATED) instead of storing one option per flag.

The value of the `element` option is a tuple of elements, each a tuple of (field, value,
negated) in the order libxt_policy prints them. The checks and messages are libxt_policy's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace

from ..errors import OptionError
from ..ir import Address, Option
from .values_addresses import unresolved
from .values_common import c_uint
from .values_numbers import protocol_number

# the order iptables-save prints an element's fields in
FIELDS = ("reqid", "spi", "proto", "mode", "tunnel-dst", "tunnel-src")
_MAX_ELEMENTS = 4           # XT_POLICY_MAX_ELEM
# the protocols an IPsec state can have, by number, as getprotobynumber names them
PROTOCOLS = {50: "esp", 51: "ah", 108: "ipcomp"}


def _uint32(text: str, flag: str, family: str) -> int:
    if text.lstrip()[:1] == "-":
        raise OptionError(f'policy: bad value for option "{flag}", or out of range '
                          "(0-4294967295).")
    try:
        return c_uint(text)
    except OptionError:
        raise OptionError(f'policy: bad value for option "{flag}", or out of range '
                          "(0-4294967295).") from None


def _proto(text: str, flag: str, family: str) -> int:
    number = 0 if text == "all" else protocol_number(text)
    if number not in PROTOCOLS:
        raise OptionError("policy match: protocol must be ah/esp/ipcomp")
    return number


def _mode(text: str, flag: str, family: str) -> str:
    if text not in ("transport", "tunnel"):
        raise OptionError(f'policy match: invalid mode "{text}"')
    return text


def _address(text: str, flag: str, family: str) -> Address:
    """XTTYPE_HOSTMASK: an address (getaddrinfo: inet_aton's forms for IPv4) and an optional
    mask, a length (strtoul base 0) or an address-shaped mask; a mask with gaps leaves the
    length unset, which libxtables then reads as a host mask."""
    host, slash, mask_text = text.partition("/")
    width = 32 if family == "ip" else 128
    addr = _numeric(host, family)
    if addr is None:
        raise unresolved(host)
    length = width
    if slash:
        try:
            length = c_uint(mask_text, 0, width)
        except OptionError:
            mask = _numeric(mask_text, family)
            if mask is None:
                raise OptionError(f'policy: bad value for option "{flag}", neither a valid '
                                  f"network mask nor valid CIDR (0-{width}).") from None
            bits = int(mask)
            ones = bin(bits).count("1")
            contiguous = bits == ((1 << width) - 1) ^ ((1 << (width - ones)) - 1)
            length = ones if contiguous else width
    full = (1 << width) - 1
    return Address(addr, type(addr)(full ^ (full >> length)))


def _numeric(text: str, family: str):
    """A numeric address as getaddrinfo reads one (None: not numeric)."""
    if not text or any(c.isspace() for c in text):
        return None
    # imported here: only a policy match's address needs it, not every start
    import socket
    try:
        if family == "ip":
            return ipaddress.IPv4Address(socket.inet_aton(text))
        return ipaddress.IPv6Address(socket.inet_pton(socket.AF_INET6, text))
    except OSError:
        return None


_READ = {"reqid": _uint32, "spi": _uint32, "proto": _proto, "mode": _mode,
         "tunnel-src": _address, "tunnel-dst": _address}


def add_element_flag(parser, ext, flag: str, index: int, negated: bool) -> int:
    """One element flag of -m policy; returns the index of the next word."""
    given = ext.options.get("element")
    elements = list(given.value) if given is not None else [()]
    field = flag[2:]
    if field == "next":
        if negated:
            raise OptionError('policy: option "--next" cannot be inverted.', index)
        if len(elements) == _MAX_ELEMENTS:
            raise OptionError("policy match: maximum policy depth reached", index)
        elements.append(())
        following = index + 1
    else:
        current = {name: (value, inverted) for name, value, inverted in elements[-1]}
        if field in current:
            raise OptionError(f"policy match: double --{field} option", index)
        text = parser._take(index + 1, flag)
        try:
            current[field] = (_READ[field](text, flag, parser.family), negated)
        except OptionError as exc:
            raise OptionError(exc.message, index + 1, exc.hint) from None
        elements[-1] = tuple((name, *current[name]) for name in FIELDS if name in current)
        following = index + 2
    ext.options["element"] = Option("element", tuple(elements), False)
    return following


ACCUMULATED = {"policy_element": add_element_flag}


def policy_checks(by_name: dict, index: int) -> None:
    """libxt_policy's final checks."""
    given = by_name.get("element")
    elements = given.value if given is not None else ((),)
    strict = "strict" in by_name
    # libxt_policy's own check comes before libxtables' (--next needs --strict)
    if by_name["pol"].value == "none":
        if strict:
            raise OptionError("policy match: policy none but --strict given", index)
        if len(elements) > 1:
            raise OptionError("policy match: policy none but policy given", index)
        return          # iptables keeps no element then (the kernel reads none)
    if len(elements) > 1 and not strict:
        raise OptionError('policy: option "--next" also requires "--strict".', index)
    for number, element in enumerate(elements):
        fields = {name: (value, inverted) for name, value, inverted in element}
        if strict and not fields:
            raise OptionError(f"policy match: empty policy element {number}. --strict is in "
                              "effect, but at least one of reqid, spi, tunnel-src, tunnel-dst, "
                              "proto or mode is required.", index)
        mode, inverted = fields.get("mode", ("transport", False))
        if ("tunnel-src" in fields or "tunnel-dst" in fields) and \
                (mode == "tunnel") == inverted:
            raise OptionError("policy match: --tunnel-src/--tunnel-dst is only valid in "
                              "tunnel mode", index)


def has_elements(match) -> bool:
    """Whether the kernel compares policy elements (--pol none keeps none)."""
    return match.option("element") is not None and match.option("pol").value == "ipsec"


def normal_policy(match):
    """The match as iptables stores it: with --pol none, element flags (allowed without
    --next) leave no element that iptables-save prints."""
    if match.option("element") is None or has_elements(match):
        return match
    return replace(match, options=tuple(o for o in match.options if o.name != "element"))


def element_save_words(elements: tuple, address_text: Callable) -> list[str]:
    """libxt_policy's print_entry for each element, `--next` between them."""
    words: list[str] = []
    for number, element in enumerate(elements):
        if number:
            words.append("--next")
        for name, value, inverted in element:
            if inverted:
                words.append("!")
            words.append(f"--{name}")
            if name == "spi":
                words.append(f"{value:#x}")
            elif name == "proto":
                words.append(PROTOCOLS[value])
            elif name in ("tunnel-src", "tunnel-dst"):
                words.append(address_text(value))
            else:
                words.append(str(value))
    return words
