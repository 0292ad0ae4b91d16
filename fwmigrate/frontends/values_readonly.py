"""Values of the modules fwmigrate reads but does not translate to nft (mappings/matches.toml
and targets.toml, "read, not translated"): kept as iptables stores them, so that
`--to iptables-restore` prints what iptables-save would."""

from __future__ import annotations

import ipaddress

from .. import mappings
from ..errors import OptionError
from ..ir import Address, PortRange
from .clusterip import PARSERS as CLUSTERIP_PARSERS
from .nfacct_objects import parse_nfacct_name
from .rateest_values import parse_byte_rate, parse_estimator_name, parse_usec
from .values_addresses import parse_address_unmasked, parse_ip_address
from .values_common import c_uint
from .values_numbers import parse_uint16, parse_uint32
from .values_ports import _port
from .values_u32 import PARSERS as U32_PARSERS
from .values_u32 import SAVE_TEXT as U32_TEXT
from .xt_values import PARSERS as XT_PARSERS
from .xt_values import SAVE_TEXT as XT_TEXT


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


def parse_tcp_option_list(args, family, proto) -> tuple[int, ...]:
    """TCPOPTSTRIP --strip-options: names or numbers 2-255, kept as a sorted set."""
    names = mappings.load("targets")["tcpoptstrip_options"]
    kinds = set()
    for word in args[0].split(","):
        kind = names.get(word)
        if kind is None:
            try:
                kind = c_uint(word, 0, 255)
            except OptionError:
                raise OptionError(f'Bad TCP option value "{word}"',
                                  hint="2-255 or " + ", ".join(names)) from None
        if kind < 2:
            raise OptionError("Option value may not be 0 or 1",
                              hint="end-of-list and no-op are not options that can be stripped")
        kinds.add(kind)
    return tuple(sorted(kinds))


def parse_prefix_length(args, family, proto) -> int:
    return c_uint(args[0], 0, 32 if family == "ip" else 128, "prefix length")


def parse_hmark_tuple(args, family, proto) -> str:
    if args[0] != "ct":
        raise OptionError(f'Bad type "{args[0]}"', hint="--hmark-tuple takes only `ct'")
    return "ct"


def parse_npt_prefix(args, family, proto) -> Address:
    """DNPT/SNPT --src-pfx/--dst-pfx: the kernel takes a prefix of at most 64 bits with no
    host bits set."""
    value = parse_address_unmasked(args, family, proto)
    plen = value.prefixlen
    if plen is None or plen > 64 or int(value.addr) & ~int(value.mask):
        raise OptionError(f"prefix `{args[0]}' is not one NPT can translate", hint=(
            "the kernel refuses the rule (Invalid argument): a prefix of at most /64 "
            "with its host bits zero"))
    return value


def parse_idletimer_label(args, family, proto) -> str:
    """iptables keeps the first 27 bytes (the caller warns when it cuts)."""
    if not args[0]:
        raise OptionError("--label needs at least one character")
    raw = args[0].encode()
    return raw[:27].decode(errors="ignore") if len(raw) > 27 else args[0]


def parse_interface(args, family, proto) -> str:
    name = args[0]
    if not name or len(name) > 15:
        raise OptionError(f"interface name `{name}' must be 1 to 15 characters long")
    return name


def parse_hmark_mod(args, family, proto) -> int:
    return c_uint(args[0], 1, 0xFFFFFFFF, "--hmark-mod")


def check_hmark(by_name: dict, index: int) -> None:
    if "hmark-spi-mask" in by_name and ({"hmark-sport-mask", "hmark-dport-mask"} & by_name.keys()):
        raise OptionError("you cannot use --hmark-spi-mask and --hmark-?port-mask at the "
                          "same time", index)
    if not _HMARK_KEYS & by_name.keys():
        raise OptionError("you have to specify --hmark-tuple at least", index,
                          hint="a prefix, a mask or --hmark-tuple ct says what to hash")


# what xt_HMARK hashes: without one of these, libxt_HMARK refuses the target
_HMARK_KEYS = frozenset({"hmark-src-prefix", "hmark-dst-prefix", "hmark-spi-mask",
                         "hmark-sport-mask", "hmark-dport-mask", "hmark-proto-mask",
                         "hmark-tuple"})


def parse_ipv6_headers(args, family, proto) -> frozenset[int]:
    numbers = mappings.ipv6_header_numbers()
    found = set()
    for word in args[0].split(","):
        number = numbers.get(word)
        if number is None:
            raise OptionError(f"unknown header `{word}' specified",
                              hint=", ".join(names[0] for _n, names in mappings.ipv6_headers()))
        found.add(number)
    return frozenset(found)


def _small_uint(top: int, what: str):
    def parse(args, family, proto) -> int:
        return c_uint(args[0], 0, top, what)
    return parse


def parse_led_trigger_id(args, family, proto) -> str:
    # the kernel names the trigger "netfilter-<id>" in a 27-byte field (xt_led_info.id)
    if not args[0] or len(args[0].encode()) > 16:
        raise OptionError(f"--led-trigger-id `{args[0]}' must be 1 to 16 characters long")
    return args[0]


def parse_led_delay(args, family, proto) -> int:
    """milliseconds, or `inf` (kept as -1, as libxt_LED does)."""
    return -1 if args[0] == "inf" else c_uint(args[0], 0, 0xFFFFFFFF, "--led-delay")


def parse_text(args, family, proto) -> str:
    if not args[0]:
        raise OptionError("the value needs at least one character")
    return args[0]


def parse_any_address(args, family, proto):
    """TPROXY --on-ip: one numeric address (absent: the family's any address)."""
    if args[0] == "":
        return ipaddress.ip_address("0.0.0.0" if family == "ip" else "::")
    return parse_ip_address(args, family, proto)


def parse_cluster_node(args, family, proto) -> int:
    """--cluster-local-node N: the mask with bit N - 1."""
    return 1 << (c_uint(args[0], 1, 32, "--cluster-local-node") - 1)


def check_cluster(by_name: dict, index: int) -> None:
    total = by_name["total-nodes"].value
    if by_name["local-nodemask"].value >= 1 << total:
        raise OptionError("cluster match: `--cluster-local-node(mask)' is too big for "
                          "`--cluster-total-nodes'", index)


def parse_bpf_bytecode(args, family, proto) -> tuple[tuple[int, int, int, int], ...]:
    """xt_bpf --bytecode "N,code jt jf k,…" (nfbpf_compile's output): N instructions of
    decimal numbers, kept as numbers (iptables-save prints them back decimal)."""
    text = args[0]
    parts = text.split(",")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()                   # iptables takes a trailing comma
    try:
        count = c_uint(parts[0].strip(), 1, 64, "bpf program length")
        program = []
        for part in parts[1:]:
            words = part.split()
            if len(words) != 4 or not all(w.isdigit() for w in words):
                raise OptionError(f"bpf: bad instruction `{part}'")
            code, jt, jf, k = (int(w) for w in words)
            if code > 0xFFFF or jt > 0xFF or jf > 0xFF or k > 0xFFFFFFFF:
                raise OptionError(f"bpf: instruction `{part}' out of range")
            program.append((code, jt, jf, k))
    except OptionError as exc:
        raise OptionError(exc.message, hint="the form nfbpf_compile prints: "
                                            "N,code jt jf k,code jt jf k,…") from None
    if len(program) != count:
        raise OptionError("bpf: parsed program length is not the encoded length parameter")
    return tuple(program)


PARSERS.update({
    "bpf_bytecode": parse_bpf_bytecode,
    "cluster_node": parse_cluster_node,
    "cluster_nodes": _small_uint(32, "--cluster-total-nodes"),
    "byte_rate": parse_byte_rate,
    "estimator_name": parse_estimator_name,
    "usec": parse_usec,
    "ipv6_headers": parse_ipv6_headers,
    "ecn_bit": _small_uint(1, "ECN bit"),
    "ecn_ect": _small_uint(3, "ECT codepoint"),
    "osf_level": _small_uint(2, "osf level"),
    "led_trigger_id": parse_led_trigger_id,
    "led_delay": parse_led_delay,
    "text": parse_text,
    "any_address": parse_any_address,
    "hmark_mod": parse_hmark_mod,
    "tcp_option_list": parse_tcp_option_list,
    "prefix_length": parse_prefix_length,
    "hex_mask32": parse_uint32,
    "hex_mask16": parse_uint16,
    "hex_mask16_short": parse_uint16,
    "hmark_tuple": parse_hmark_tuple,
    "npt_prefix": parse_npt_prefix,
    "idletimer_label": parse_idletimer_label,
    "interface": parse_interface,
})

# how iptables-save prints these values (backends/iptables_save.py)
SAVE_TEXT = {
    "tcp_option_list": lambda v: ",".join(map(str, v)),
    "hex_mask32": lambda v: f"0x{v:08x}",
    "hex_mask16": lambda v: f"0x{v:04x}",
    "hex_mask16_short": lambda v: f"0x{v:02x}",
    "ipv6_headers": lambda v: ",".join(names[0] for n, names in mappings.ipv6_headers()
                                       if n in v),
    "led_trigger_id": lambda v: f'"{v}"',
    "bpf_bytecode": lambda v: '"' + ",".join([str(len(v))] + [" ".join(map(str, i))
                                                              for i in v]) + '"',
    "led_delay": lambda v: "inf" if v == -1 else str(v),
}

# modules with a grammar of their own
PARSERS.update(U32_PARSERS)
PARSERS.update(CLUSTERIP_PARSERS)
PARSERS["nfacct_name"] = parse_nfacct_name
SAVE_TEXT.update(U32_TEXT)
PARSERS.update(XT_PARSERS)
SAVE_TEXT.update(XT_TEXT)
