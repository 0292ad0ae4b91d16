"""Connection label numbers and names as libxt_connlabel reads and prints them.

--label is a number (strtoul base 0: 0x28 and 040 are labels 40 and 32) or a name from
libnetfilter_conntrack's label map, connlabel.conf (`BIT NAME` lines) on the machine iptables
runs on; iptables-save prints a label's name where the map has one. fwmigrate reads the same
file on the machine it runs on, so its output is what iptables and iptables-save would give
there. A map line whose bit or name an earlier line took is left out (iptables-legacy 1.8.9
with libnetfilter_conntrack 1.0.9 resolves and prints so).
"""

from __future__ import annotations

import re
from functools import cache

from ..errors import OptionError

# libnetfilter_conntrack's path (Debian's build: iptables warns "cannot open" it by this name)
CONNLABEL_CONF = "/etc/xtables/connlabel.conf"
_MAX_BITS = 1024            # the label map's bits
_LABELS = 128               # XT_CONNLABEL_MAXBIT + 1: the labels the kernel keeps
# strtoul base 0 on the whole word (libxt_connlabel's connlabel_value_parse)
_NUMBER = re.compile(r"\s*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def _number(text: str) -> tuple[int, int] | None:
    """(value, end) of strtoul base 0 at the start of text, None if it reads no digit."""
    found = _NUMBER.match(text)
    if found is None:
        return None
    digits = found.group(1)
    base = 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") else 10
    return int(digits, base), found.end()


@cache
def label_map(path: str) -> tuple[dict[str, int], dict[int, str]]:
    """(name → bit, bit → name) of a connlabel.conf; empty when there is none."""
    by_name: dict[str, int] = {}
    by_bit: dict[int, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                read = None if line.startswith("#") else _number(line)
                if read is None or read[0] >= _MAX_BITS:
                    continue
                name = line[read[1]:].strip()
                if name and name not in by_name and read[0] not in by_bit:
                    by_name[name] = read[0]
                    by_bit[read[0]] = name
    except OSError:
        pass
    return by_name, by_bit


def parse_connlabel(args, family, proto) -> int:
    """--label: a number, else a name of the label map; the kernel keeps labels 0-127."""
    text = args[0]
    read = _number(text) if text else None
    if read is not None and read[1] == len(text):
        bit = read[0]
    else:
        bit = label_map(CONNLABEL_CONF)[0].get(text)
        if bit is None:
            raise OptionError(f"label '{text}' not found or invalid value",
                              hint=f"iptables looks label names up in {CONNLABEL_CONF} on the "
                                   "machine it runs on (fwmigrate reads it here); write the "
                                   "label's number")
    if bit >= _LABELS:
        raise OptionError(f"connlabel: label {text} does not exist (labels are 0 to 127)",
                          hint="the kernel refuses it (Numerical result out of range)")
    return bit


def connlabel_text(bit: int) -> str:
    """libxt_connlabel's save: the label's name where the map has one, quoted."""
    name = label_map(CONNLABEL_CONF)[1].get(bit)
    return f'"{name if name else bit}"'
