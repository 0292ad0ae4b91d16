"""Names in the nft output: which table each chain lands in and what it is called there.

Two schemes:
- "fwmigrate" (convert): one table per family, because an nft set belongs to one table while
  an xt_recent list is shared by every iptables table that names it (or one inet table for
  both families, where a chain both have gets one name: nft_inet merges them). Filter chains
  keep their names; chains of nat/mangle/raw/security get the table as a prefix (`nat_POSTROUTING`).
- "iptables-nft" (the translate / restore-translate drop-ins): tables named like iptables'
  (`filter`, `nat` …) and chains keep their names, as iptables-nft creates them.

nft 1.0.6 cannot write some iptables chain names (`log` is a keyword, `1x` starts with a digit);
such names are changed in a predictable way and every change is reported.
"""

from __future__ import annotations

import re
from functools import cache

from .. import mappings

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_./\-]*\Z")


@cache
def _reserved() -> frozenset[str]:
    return frozenset(mappings.load("nft_keywords")["reserved"])


def writable(name: str) -> bool:
    """Can nft's text parser take this as a chain, set or table name?"""
    return bool(_IDENTIFIER.match(name)) and name not in _reserved()


def _sanitized(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_./\-]", "_", name)
    if not clean or not (clean[0].isalpha() or clean[0] == "_"):
        clean = "_" + clean
    if clean in _reserved():
        clean += "_"
    return clean


class Namer:
    """Hands out unique, writable names within one nft table and remembers every rename."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        # (kind, original, new, why)
        self.renamed: list[tuple[str, str, str, str]] = []

    def claim(self, wanted: str, original: str, kind: str) -> str:
        name = wanted if writable(wanted) else _sanitized(wanted)
        why = (f"{original!r} cannot be written as an nft name" if name != wanted else
               f"another set or chain of the table is called {name}")
        base, n = name, 2
        while name in self.taken:
            name = f"{base}_{n}"
            n += 1
        self.taken.add(name)
        if name != wanted:
            self.renamed.append((kind, original, name, why))
        return name


def chain_name(scheme: str, ipt_table: str, chain: str) -> str:
    """The wanted nft chain name before collision handling."""
    if scheme == "iptables-nft" or ipt_table == "filter":
        return chain
    return f"{ipt_table}_{chain}"


def table_name(scheme: str, wanted: str, ipt_table: str) -> str:
    return ipt_table if scheme == "iptables-nft" else wanted


# the kernel's NFT_NAME_MAXLEN (256) counts the terminating NUL
_MAX_TABLE_NAME = 255


def check_table_name(name: str) -> str | None:
    if len(name) > _MAX_TABLE_NAME:
        return (f"--table: a table name has at most {_MAX_TABLE_NAME} characters (this one has "
                f"{len(name)})")
    return None if writable(name) else (f"`{name}' cannot be an nft table name (it is an nft "
                                         "keyword or has characters nft does not accept)")
