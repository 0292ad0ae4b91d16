"""Readers that turn what users wrote (shell scripts, iptables-save files) into the IR."""

from __future__ import annotations

from dataclasses import replace

from ..errors import Diagnostics
from ..ir import Family, IpSet, Ruleset, SourceLocation
from .kernel_checks import missing_ipsets
from .save_detect import looks_like_save
from .save_file import read_save


def detect_kind(text: str) -> str:
    """"save" for an iptables-save dump, "script" for anything else (a shell script)."""
    return "save" if looks_like_save(text) else "script"


def nft_text_line(text: str) -> int | None:
    """The line an nft file's first statement is on; None when text is not nft's."""
    for lineno, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word = stripped.split()[0]
        return lineno if word in ("table", "flush", "add", "delete", "define", "include") \
            else None
    return None


def read_ruleset(text: str, filename: str, diags: Diagnostics, *, kind: str = "auto",
                 family: Family | None = None, default_family: Family | None = None,
                 skip_unknown: bool = False,
                 variables: dict[str, str] | None = None,
                 ipsets: tuple[IpSet, ...] = ()) -> Ruleset:
    """Read a script or a save file into the IR; problems go to `diags` (all of them).
    `ipsets`: the sets the kernel has (--ipsets); a script's ipset commands start from them."""
    if kind == "auto":
        kind = detect_kind(text)
        line = nft_text_line(text) if kind == "script" else None
        json_line = text[:len(text) - len(text.lstrip())].count("\n") + 1 \
            if text.lstrip().startswith("{") else None
        if line is not None or json_line is not None:
            # a shell would fail at once: `table: command not found`
            diags.error(SourceLocation(filename, line or json_line, 1),
                        f"this is {'nftables JSON' if line is None else 'an nftables file'}, "
                        "not iptables input",
                        hint="convert, apply and save read iptables scripts and iptables-save "
                             "files; diff, explain and verify --equiv read nft files too")
            return Ruleset((), filename)
    if kind == "save":
        ruleset = read_save(text, filename, diags, family, default_family)
        if not ipsets:      # the sets are unknown, not missing: translating them says so
            return ruleset
        ruleset = replace(ruleset, ipsets=ipsets)
        for rule, message in missing_ipsets(ruleset):
            diags.error(rule.loc, message, hint="--ipsets lists the sets the kernel has")
        return ruleset
    # imported here: save files (restore-translate, large dumps) start faster without the
    # shell grammar
    from .shell_script import read_script
    return read_script(text, filename, diags, skip_unknown=skip_unknown, variables=variables,
                       ipsets=ipsets)


__all__ = ["detect_kind", "nft_text_line", "read_ruleset"]
