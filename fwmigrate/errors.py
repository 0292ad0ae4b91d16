"""Diagnostics: every problem names file:line:col, shows the line with a caret, and may carry
a hint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .ir import SourceLocation

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    loc: SourceLocation | None
    message: str
    severity: Severity = "error"
    hint: str | None = None
    # The source line the caret points into; filled in by whoever still has the text.
    source_line: str | None = field(default=None, compare=False)

    def render(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        out = [f"{where}{self.severity}: {self.message}"]
        if self.source_line is not None and self.loc is not None:
            line = self.source_line.rstrip("\n").expandtabs(1)
            out.append(f"    {line}")
            out.append("    " + " " * max(self.loc.col - 1, 0) + "^")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


class FwmigrateError(Exception):
    """One or more problems that stop the run; carries every diagnostic collected so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class Diagnostics:
    """Collects errors and warnings so that a whole file is checked, not just up to the first
    error."""

    def __init__(self, lines: dict[str, list[str]] | None = None):
        self.items: list[Diagnostic] = []
        # file name → its lines, so diagnostics can show the offending line
        self.lines: dict[str, list[str]] = lines if lines is not None else {}
        # a line evaluated more than once (a shell loop) reports each problem once
        self._seen: set[tuple] = set()

    def _with_line(self, loc: SourceLocation | None) -> str | None:
        if loc is None:
            return None
        lines = self.lines.get(loc.file)
        if lines is None or not (1 <= loc.line <= len(lines)):
            return None
        return lines[loc.line - 1]

    def add(self, loc: SourceLocation | None, message: str, *, hint: str | None = None,
            severity: Severity = "error") -> None:
        key = (loc, message, severity)
        if key in self._seen:
            return
        self._seen.add(key)
        self.items.append(Diagnostic(loc, message, severity, hint, self._with_line(loc)))

    def error(self, loc, message, hint=None):
        self.add(loc, message, hint=hint)

    def warning(self, loc, message, hint=None):
        self.add(loc, message, hint=hint, severity="warning")

    def note(self, loc, message, hint=None):
        self.add(loc, message, hint=hint, severity="note")

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            if d.source_line is None and d.loc is not None:
                d = Diagnostic(d.loc, d.message, d.severity, d.hint, self._with_line(d.loc))
            self.items.append(d)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity != "error"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise FwmigrateError(self.errors)


class OptionError(Exception):
    """A problem in one command's arguments; `index` is the offending word, the caller adds the
    location."""

    def __init__(self, message: str, index: int | None = None, hint: str | None = None,
                 offset: int = 0, unsupported: bool = False):
        super().__init__(message)
        self.message = message
        self.index = index
        self.hint = hint
        # characters into the word, for errors inside a value (e.g. a bad port in a list)
        self.offset = offset
        # iptables would accept this; fwmigrate cannot translate it (never a "failure" a
        # script may handle with `|| true`: the rule would be lost)
        self.unsupported = unsupported


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    # imported here: only a misspelt word needs it, not every start
    import difflib
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else None


# dashes that word processors and web pages put where a script had "-" or "--"
_LOOKALIKE_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"


def lookalike_dash_hint(word: str) -> str | None:
    """`–dport` pasted from a web page: iptables only says "Bad argument"; say which
    character it is and what was meant."""
    if not word or word[0] not in _LOOKALIKE_DASHES:
        return None
    name = {"\u2013": "an en dash", "\u2014": "an em dash", "\u2212": "a minus sign"}.get(
        word[0], "a typographic dash")
    meant = "-" + word.lstrip(_LOOKALIKE_DASHES) if len(word) == 2 else \
        "--" + word.lstrip(_LOOKALIKE_DASHES)
    return f"`{word[0]}' is {name} (U+{ord(word[0]):04X}), not ASCII hyphens: write `{meant}'"


def undecodable_byte(text: str) -> tuple[int, str, str] | None:
    """Where text (read with errors="surrogateescape") has a byte that is not UTF-8, and what
    to say: nft reads and writes UTF-8 only, so such a byte in a rule cannot be carried over."""
    if text.isascii():
        return None
    for index, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            return (index, f"byte 0x{ord(char) - 0xDC00:02X} is not UTF-8 text",
                    "nftables reads UTF-8 only: re-encode the file, e.g. "
                    "`iconv -f latin1 -t utf-8`")
    return None
