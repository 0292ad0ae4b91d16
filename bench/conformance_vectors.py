"""Reading iptables' test vectors: *.txlate (a translate command, then the expected nft) and
*.t (`rule;expected-or-=;OK|FAIL`), as iptables-test.py reads them for iptables-legacy.

The vectors are iptables' files (GPL-2.0), not part of this repository: FETCHED is where
tests/conformance/fetch_vectors.py puts them."""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "fetch_vectors", Path(__file__).resolve().parent.parent / "tests/conformance/fetch_vectors.py")
fetch_vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch_vectors)
FETCHED = fetch_vectors.DEST


def fetched() -> Path:
    """FETCHED, or exit (for the bench scripts) saying how to fetch the vectors."""
    reason = fetch_vectors.problem()
    if reason:
        raise SystemExit(f"error: iptables 1.8.9's test vectors are not fetched ({reason})\n"
                         f"hint: run `{fetch_vectors.COMMAND}` first")
    return FETCHED


class _Located:
    file: str
    line: int

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def extension(self) -> str:
        return extension_of(self.file)


@dataclass(frozen=True)
class TxlateVector(_Located):
    file: str
    line: int
    family: str                 # ip / ip6
    args: tuple[str, ...]
    expected: tuple[str, ...]   # nft command texts, without the leading `nft`


@dataclass(frozen=True)
class RuleVector(_Located):
    file: str
    line: int
    family: str
    table: str
    chains: tuple[str, ...]
    rule: str
    expected: str               # the iptables-save text of the rule
    result: str                 # OK / FAIL


def extension_of(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0]
    return re.sub(r"^lib(xt|ipt|ip6t)_", "", stem)


_PROGRAMS = {"iptables-translate": "ip", "ip6tables-translate": "ip6",
             "iptables": "ip"}      # libxt_tcp.txlate has one `iptables -A …` (a typo there)


def read_txlate(source: Path) -> list[TxlateVector]:
    out = []
    for path in sorted(source.glob("*.txlate")):
        if path.name.startswith(("libebt_", "libarpt_")):
            continue
        current: tuple[int, str, list[str]] | None = None
        expected: list[str] = []
        lines = path.read_text().splitlines() + [""]
        for lineno, line in enumerate(lines, 1):
            words = line.split(None, 1)
            if words and words[0] in _PROGRAMS:
                current = (lineno, _PROGRAMS[words[0]], shlex.split(words[1]))
                expected = []
            elif words and words[0] == "nft" and current is not None:
                expected.append(" ".join(shlex.split(line)[1:]))
            elif not line.strip() and current is not None:
                if current[2] and current[2][0] != "-h":
                    out.append(TxlateVector(path.name, current[0], current[1],
                                            tuple(current[2]), tuple(expected)))
                current = None
    return out


def read_rule_tests(source: Path) -> list[RuleVector]:
    out = []
    for path in sorted(source.glob("*.t")):
        if path.name.startswith(("libebt_", "libarpt_")):
            continue
        family = "ip6" if path.name.startswith("libip6t_") else "ip"
        table, chains = "filter", ()
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip() or line[0] in "#@%":
                continue
            if line[0] == ":":
                chains = tuple(line[1:].strip().split(","))
                continue
            if line[0] == "*":
                table = line[1:].strip()
                continue
            item = line.split(";")
            result = _legacy_result(item)
            expected = item[0] if item[1] == "=" else item[1]
            out.append(RuleVector(path.name, lineno, family, table, chains, item[0], expected,
                                  result))
    return out


def _legacy_result(item: list[str]) -> str:
    """iptables-test.py's variant_res for xtables-legacy-multi."""
    res = item[2].strip()
    if len(item) > 3 and item[3].strip() == "NFT":
        if len(item) > 4:
            return item[4].strip()
        return {"OK": "FAIL", "FAIL": "OK", "NOMATCH": "OK"}[res]
    return "OK" if res == "NOMATCH" else res
