"""Word expansion for the shell frontend: quotes, variables, defaults and field splitting,
as the shell would do them, without running anything. A value only running the script would
give (`$(…)`, the script's arguments, a variable it does not set, an unquoted glob, which the
shell replaces with the names of files) raises _Unknowable where it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .shell_braces import BraceProblem, brace_words
from .shell_lexer import Token

_IFS = " \t\n"
# No rule needs a longer word; a script whose value grows past it builds it without end
# (`A=$A$A` in a loop doubles it each time), and following it would exhaust the memory.
MAX_VALUE = 1 << 24


def _check_size(size: int, pos: int) -> None:
    if size > MAX_VALUE:
        raise _Unknowable(f"the value grows past {MAX_VALUE:,} characters (built up without "
                          "end, such as `A=$A$A' in a loop?)", pos,
                          "give the variable the value the firewall needs")


class _Unknowable(Exception):
    """A word whose value depends on running something (command substitution, arguments)."""

    def __init__(self, message: str, pos: int, hint: str | None = None,
                 cause: tuple[int, str] | None = None):
        super().__init__(message)
        self.message, self.pos, self.hint = message, pos, hint
        # a variable with no known value: (line, reason) of its assignment, which a variable
        # assigned from it inherits (not a reason nested once per assignment)
        self.cause = cause


@dataclass(slots=True)
class Field:
    """One word after expansion, with the offset of the source text it came from."""
    text: str
    pos: int


class ShellExpansion:
    """Expansion over `self.vars`; mixed into the evaluator, which owns the variables."""

    vars: dict[str, str]
    arrays: dict[str, list[str]]         # bash arrays: NAME=(a b c)
    braces: bool | None                  # brace expansion: bash yes, dash no, None: unknown
    # variables assigned a value only running the script would give: line, reason
    unknowable_vars: dict[str, tuple[int, str]]
    noglob: bool                         # `set -f`: unquoted * ? […] are text

    def assign(self, tok: Token) -> None:
        name, _, _ = tok.text.partition("=")
        if tok.kind == "array":
            self.assign_array(name, tok)
            return
        # the value is the word after `NAME=`: expand it without field splitting
        parts = list(tok.parts)
        first_kind, first_text, first_pos = parts[0]
        rest = first_text[len(name) + 1:]
        parts[0] = (first_kind, rest, first_pos + len(name) + 1)
        try:
            # no pathname expansion in an assignment (`P=FW*` holds FW*)
            self.vars[name] = "".join(piece for piece, _q, _g in self.pieces(parts))
            self.unknowable_vars.pop(name, None)
        except _Unknowable as exc:
            # `ADDR=$(…)`, `PATH="$PATH:…"`: an error only where the value is used
            self.vars.pop(name, None)
            self.unknowable_vars[name] = exc.cause or (self.loc(tok.pos).line, exc.message)

    def assign_array(self, name: str, tok: Token) -> None:
        """`NAME=(a "b c" $D)`: the elements are the words' fields, as in a for list."""
        try:
            elements = [f.text for word in tok.parts for f in self.expand(word)]
            _check_size(sum(map(len, elements)), tok.pos)
        except _Unknowable as exc:
            self.vars.pop(name, None)
            self.arrays.pop(name, None)
            self.unknowable_vars[name] = exc.cause or (self.loc(tok.pos).line, exc.message)
            return
        self.arrays[name] = elements
        self.vars[name] = elements[0] if elements else ""       # $NAME is ${NAME[0]}
        self.unknowable_vars.pop(name, None)

    def expand(self, tok: Token) -> list[Field]:
        """Word → fields: braces expanded (bash), quotes removed, variables substituted,
        unquoted values split."""
        if any(kind == "plain" and "{" in text for kind, text, _ in tok.parts) \
                and self.braces is not False:
            try:
                words = brace_words(tok.parts)
            except BraceProblem as exc:
                raise _Unknowable(exc.message + "; fwmigrate does not follow it", exc.pos,
                                  "write the values out") from None
            if words is not None:
                if self.braces is None:
                    raise _Unknowable(self.brace_shell_problem(tok), tok.pos,
                                      "start the script with #!/bin/bash if bash runs it "
                                      "(fwmigrate then expands the braces as bash does), or "
                                      "write the values out")
                return [f for parts in words for f in self.expand_parts(parts, tok.pos)]
        return self.expand_parts(tok.parts, tok.pos)

    def brace_shell_problem(self, tok: Token) -> str:
        return (f"`{tok.text}' is a brace expansion to bash and plain text to dash (Debian's "
                "/bin/sh), and the script does not say that bash runs it")

    def expand_parts(self, parts: tuple, pos: int) -> list[Field]:
        if len(parts) == 1 and parts[0][0] == "double":
            whole = _WHOLE_ARRAY.fullmatch(parts[0][1])
            if whole:                   # "${NAME[@]}": one field per element
                return [Field(e, pos) for e in self.array(whole[1], pos)]
        fields: list[Field] = []
        current: list[str] = []
        # the field's text as it came: (text, globbable), for _glob_check
        globbable: list[tuple[str, bool]] = []
        started = False

        pieces = self.pieces(list(parts))
        # most words have no glob character outside quotes: no field of theirs needs a look
        maybe_glob = not self.noglob and any(g and not _GLOB_CHARS.isdisjoint(t)
                                             for t, _q, g in pieces)

        def close() -> None:
            if maybe_glob:
                _glob_check(globbable, "".join(current), pos)
            fields.append(Field("".join(current), pos))
            current.clear()
            globbable.clear()

        for piece, quoted, glob in pieces:
            if quoted:
                current.append(piece)
                globbable.append((piece, glob))
                started = True
                continue
            chunks = _split(piece)
            if piece[:1] in _IFS and (current or started):
                close()
                started = False
            for k, chunk in enumerate(chunks):
                if k > 0:
                    close()
                current.append(chunk)
                globbable.append((chunk, True))
                started = True
            if piece[-1:] in _IFS and chunks:
                close()
                started = False
        if started:
            close()
        return fields

    def pieces(self, parts: list) -> list[tuple[str, bool, bool]]:
        """(text, quoted, globbable) pieces; unquoted variable values are the ones that get
        split, and they and the literal text outside quotes are the ones that get globbed."""
        out: list[tuple[str, bool, bool]] = []
        size = 0
        for k, (kind, text, pos) in enumerate(parts):
            if kind == "plain" and text.endswith("$") and k + 1 < len(parts) \
                    and parts[k + 1][0] in ("single", "double"):
                quote = parts[k + 1][1][0]
                raise _Unknowable(f"${quote}…{quote} quoting means one thing to bash and another "
                                  "to sh (dash)", pos + len(text) - 1,
                                  "write the value with plain '…' quotes")
            if kind == "plain":
                out.append((text, True, True))     # literal text is never split
            elif kind == "single":
                out.append((text[1:-1], True, False))
            elif kind == "escape":
                out.append(("" if text[1] == "\n" else text[1], True, False))
            elif kind == "var":
                out.append((self.variable(text, pos), False, True))
                size += len(out[-1][0])
                _check_size(size, pos)
            elif kind == "double":
                out.append((self.double(text, pos), True, False))
                size += len(out[-1][0])
                _check_size(size, pos)
            else:
                shown = text if len(text) <= 40 else text[:39] + "…"
                what = "arithmetic expansion" if text.startswith("$((") \
                    else "command substitution"
                raise _Unknowable(f"cannot know what the {what} {shown} gives without running "
                                  "the script", pos, "replace it with the value it would give")
        return out

    def double(self, text: str, pos: int) -> str:
        inner = text[1:-1]
        out = []
        size = len(inner)
        i = 0
        while i < len(inner):
            ch = inner[i]
            if ch == "\\" and i + 1 < len(inner) and inner[i + 1] in '$`"\\\n':
                if inner[i + 1] != "\n":
                    out.append(inner[i + 1])
                i += 2
            elif ch == "$" and inner[i + 1:i + 2] == "(" or ch == "`":
                raise _Unknowable("cannot know the value of a command substitution without "
                                  "running the script", pos + 1 + i,
                                  "replace it with the value it would give")
            elif ch == "$":
                end = _var_end(inner, i)
                if end == i + 1:
                    out.append("$")
                    i += 1
                    continue
                out.append(self.variable(inner[i:end], pos + 1 + i, quoted=True))
                size += len(out[-1])
                _check_size(size, pos)
                i = end
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def array(self, name: str, pos: int) -> list[str]:
        if name in self.arrays:
            return self.arrays[name]
        return [self.variable("$" + name, pos)]     # a plain variable is a 1-element array

    def subscript(self, text: str, body: str, pos: int, quoted: bool) -> str:
        """${NAME[N]}, ${NAME[@]}, ${NAME[*]}, ${#NAME[@]}."""
        form = _SUBSCRIPT.fullmatch(body)
        if form is None or form[1] == "!" or (form[3] == "@" and quoted and not form[1]):
            raise _Unknowable(f"`{text}': fwmigrate follows ${{NAME[N]}}, ${{NAME[@]}} (as "
                              "a whole word when quoted), ${NAME[*]} and ${#NAME[@]} only",
                              pos, "write the values out")
        prefix, name, index = form[1], form[2], form[3]
        elements = self.array(name, pos)
        if index in ("@", "*"):
            return str(len(elements)) if prefix == "#" else " ".join(elements)
        if not index.isdigit() or prefix:
            raise _Unknowable(f"`{text}': an index that is not a number depends on running "
                              "the script", pos, "write the element out")
        return elements[int(index)] if int(index) < len(elements) else ""

    def variable(self, text: str, pos: int, quoted: bool = False) -> str:
        body = text[2:-1] if text.startswith("${") else text[1:]
        if "[" in body and text.startswith("${"):
            return self.subscript(text, body, pos, quoted)
        name, op, default = body, "", ""
        for candidate in (":-", ":=", "-", "="):
            if candidate in body:
                name, _, default = body.partition(candidate)
                op = candidate
                break
        if not name.replace("_", "a").isalnum() or name[:1].isdigit() or name in "@*#?$!-":
            raise _Unknowable(f"`{text}' depends on how the script is run (its arguments or "
                              "state)", pos, "replace it with the value it would have")
        value = self.vars.get(name)
        if op and (value is None or (op.startswith(":") and value == "")):
            value = self.double('"' + default + '"', pos)
            if op.endswith("="):
                self.vars[name] = value
        if value is None and name in self.unknowable_vars:
            line, why = self.unknowable_vars[name]
            raise _Unknowable(f"variable `{name}' has no known value (line {line}: {why})", pos,
                              f"assign it a plain value in the script or pass --define "
                              f"{name}=VALUE", cause=(line, why))
        if value is None:
            raise _Unknowable(f"variable `{name}' is not set by the script", pos,
                              f"assign it in the script or pass --define {name}=VALUE")
        return value


_GLOB_CHARS = frozenset("*?[")


def _glob_check(pieces: list[tuple[str, bool]], text: str, pos: int) -> None:
    """Raises when a field is a pathname pattern: an unquoted * or ?, or an unquoted [ closed
    by a later unquoted ] with something between (bash's rule: `[` alone, as in `[ -x … ]`,
    and a quoted bracket are text). pieces: the field's text as it came, (text, globbable)."""
    opened = -1             # where the last unquoted [ is in the field
    at = 0
    for piece, globbable in pieces:
        for ch in piece if globbable else ():
            if ch in "*?" or (ch == "]" and 0 <= opened < at - 1):
                raise _Unknowable(
                    f"`{text}' is a pathname pattern: the shell replaces it with the names of "
                    "the files it matches in the directory the script runs in (and leaves it "
                    "as it is only when none does), which fwmigrate cannot know", pos,
                    "quote the word ('…' or \"…\") if it is meant as text, or put `set -f` "
                    "before it (no pathname expansion)")
            if ch == "[" and opened < 0:
                opened = at
            at += 1
        if not globbable:
            at += len(piece)


_WHOLE_ARRAY = re.compile(r'"\$\{([A-Za-z_][A-Za-z0-9_]*)\[@\]\}"')
_SUBSCRIPT = re.compile(r"([#!]?)([A-Za-z_][A-Za-z0-9_]*)\[([^\]]*)\]")


def _var_end(text: str, i: int) -> int:
    if text[i + 1:i + 2] == "{":
        depth = 0
        for j in range(i + 1, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
        return len(text)
    j = i + 1
    if j < len(text) and (text[j].isdigit() or text[j] in "@*#?$!-"):
        return j + 1
    while j < len(text) and (text[j].isalnum() or text[j] == "_"):
        j += 1
    return j


def _split(value: str) -> list[str]:
    return value.split()


