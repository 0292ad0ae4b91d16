"""Values of the modules fwmigrate reads but does not translate to nft (mappings/matches.toml
and targets.toml, "read, not translated"): kept as iptables stores them, so that
`--to iptables-restore` prints what iptables-save would."""

from __future__ import annotations

from ..errors import OptionError
from ..ir import PortRange
from .values_ports import _port


def _choice(args, names: tuple[str, ...], what: str) -> str:
    upper = args[0].upper()
    if upper not in names:
        raise OptionError(f"Bad value for \"{what}\" option: \"{args[0]}\"",
                          hint=" or ".join(names))
    return upper


def parse_port(args, family, proto) -> PortRange:
    """One port or service name (no range): xt_ipvs --vport, --vportctl."""
    port = _port(args[0], proto)
    return PortRange(port, port)


def parse_ipvs_method(args, family, proto) -> str:
    return _choice(args, ("GATE", "IPIP", "MASQ"), "--vmethod")


PARSERS = {
    "port": parse_port,
    "ipvs_method": parse_ipvs_method,
}


# xt_string keeps at most this many pattern bytes (XT_STRING_MAX_PATTERN_SIZE)
_STRING_MAX = 128


def _pattern(data: bytes, text: str) -> bytes:
    if not data:
        raise OptionError("STRING must contain at least one char")
    if len(data) > _STRING_MAX:
        raise OptionError(f"STRING too long `{text}'",
                          hint=f"xt_string takes at most {_STRING_MAX} bytes")
    return data


def parse_string_pattern(args, family, proto) -> bytes:
    """--string: the bytes as given."""
    return _pattern(args[0].encode(), args[0])


def parse_hex_pattern(args, family, proto) -> bytes:
    """--hex-string: hex byte pairs between `|`s (spaces allowed there), other characters
    as they are, `\\` taking the next one literally."""
    text = args[0]
    out = bytearray()
    hex_mode = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "|":
            hex_mode = not hex_mode
            i += 1
        elif hex_mode:
            if ch == " ":
                i += 1
                continue
            pair = text[i:i + 2]
            if len(pair) < 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
                raise OptionError(f"Invalid hex char `{pair}' in --hex-string `{text}'")
            out.append(int(pair, 16))
            i += 2
        elif ch == "\\":
            if i + 1 >= len(text):
                raise OptionError("Bad literal placement at end of string")
            out += text[i + 1].encode()
            i += 2
        else:
            out += ch.encode()
            i += 1
    if hex_mode:
        raise OptionError(f"unterminated `|' in --hex-string `{text}'")
    return _pattern(bytes(out), text)


def parse_string_algo(args, family, proto) -> str:
    if args[0] not in ("bm", "kmp"):
        raise OptionError(f"unknown string search algorithm `{args[0]}'",
                          hint="the kernel's text search has bm and kmp")
    return args[0]


def string_save_words(pattern: bytes) -> tuple[str, str]:
    """libxt_string's choice: --string "…" when every byte is printable (and the last is not
    a backslash), else --hex-string "|…|"."""
    if all(0x20 <= b < 0x7F for b in pattern) and pattern[-1:] != b"\\":
        text = "".join("\\" + chr(b) if chr(b) in "\"\\" else chr(b) for b in pattern)
        return "--string", f'"{text}"'
    return "--hex-string", '"|' + pattern.hex() + '|"'


PARSERS.update({
    "string_pattern": parse_string_pattern,
    "hex_pattern": parse_hex_pattern,
    "string_algo": parse_string_algo,
})


def check_string(by_name: dict, index: int) -> None:
    """xt_string refuses a search window that ends before it starts."""
    if by_name["from"].value > by_name["to"].value:
        raise OptionError("string: --from is after --to", index,
                          hint="the kernel refuses the rule (Invalid argument)")
