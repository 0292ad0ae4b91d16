"""Readers that turn what users wrote (shell scripts, iptables-save files) into the IR."""

from __future__ import annotations

from dataclasses import replace

from ..errors import Diagnostics
from ..ir import Family, IpSet, Ruleset
from .kernel_checks import missing_ipsets
from .save_file import looks_like_save, read_save


def detect_kind(text: str) -> str:
    """"save" for an iptables-save dump, "script" for anything else (a shell script)."""
    return "save" if looks_like_save(text) else "script"


def read_ruleset(text: str, filename: str, diags: Diagnostics, *, kind: str = "auto",
                 family: Family | None = None, default_family: Family | None = None,
                 skip_unknown: bool = False,
                 variables: dict[str, str] | None = None,
                 ipsets: tuple[IpSet, ...] = ()) -> Ruleset:
    """Read a script or a save file into the IR; problems go to `diags` (all of them).
    `ipsets`: the sets the kernel has (--ipsets); a script's ipset commands start from them."""
    if kind == "auto":
        kind = detect_kind(text)
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


__all__ = ["detect_kind", "read_ruleset"]
