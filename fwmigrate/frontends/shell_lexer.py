"""Shell lexer for firewall scripts: words with their parts ('…', "…", \\ escapes, $VAR,
${…}, $(…)), operators, comments, newlines and `\\` continuations, here-document bodies
skipped. Positions travel with every token (offsets into the script text).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pyparsing as pp

from ..errors import OptionError

# --- lexical grammar -------------------------------------------------------------------------

_WS = " \t"


def _part(expr: pp.ParserElement, kind: str) -> pp.ParserElement:
    return expr.copy().leave_whitespace().set_parse_action(
        lambda s, loc, toks: (kind, toks[0], loc))


_SINGLE = _part(pp.Regex(r"'[^']*'"), "single")
_DOUBLE = _part(pp.Regex(r'"(?:[^"\\`$]|\\.|\$\([^)]*\)|\$|`[^`]*`)*"', re.S), "double")
_ESCAPE = _part(pp.Regex(r"\\(?:.|\n)", re.S), "escape")
# A command substitution is one word part up to its closing `)` or backquote (its value is
# unknowable, but its spaces must not split the word: `ADDR=$(hostname -i)` is one assignment).
# Nesting is followed two levels deep; past that, or unclosed, only the opening is taken.
_QUOTED = r"'[^']*'|\"(?:[^\"\\]|\\.)*\""
_NESTED = rf"\((?:{_QUOTED}|[^()'\"]|\((?:{_QUOTED}|[^()'\"])*\))*\)"
_ARITH = _part(pp.Regex(rf"\$\({_NESTED}\)|\$\(\(", re.S), "unsupported")
_SUBST = _part(pp.Regex(rf"\${_NESTED}|`(?:[^`\\]|\\.)*`|\$\(|`", re.S), "unsupported")
_VAR = _part(pp.Regex(r"\$(?:\{(?:[^{}]|\{[^{}]*\})*\}|[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])"),
             "var")
_PLAIN = _part(pp.Regex(r"[^\s'\"\\$`;&|<>()]+|\$"), "plain")
_WORD_PART = _SINGLE | _DOUBLE | _ESCAPE | _ARITH | _SUBST | _VAR | _PLAIN

_WORD = pp.Group(pp.OneOrMore(_WORD_PART)).set_whitespace_chars(_WS).set_name("word")
_COMMENT = pp.Regex(r"#[^\n]*").set_whitespace_chars(_WS).set_parse_action(
    lambda s, loc, toks: ("comment", toks[0], loc))
_OPERATOR = pp.Regex(r"&&|\|\||;;|[;&|()]|[0-9]*(?:>>|>&|<&|<<-?|>|<)").set_whitespace_chars(
    _WS).set_parse_action(lambda s, loc, toks: ("op", toks[0], loc))
_NEWLINE = pp.Regex(r"\n").set_whitespace_chars(_WS).set_parse_action(
    lambda s, loc, toks: ("newline", "\n", loc))
_CONTINUATION = pp.Regex(r"\\\n").set_whitespace_chars(_WS).set_parse_action(
    lambda s, loc, toks: ("continuation", "", loc))
_TOKEN = (_COMMENT | _CONTINUATION | _NEWLINE | _OPERATOR | _WORD) \
    .set_whitespace_chars(_WS).parse_with_tabs()

@dataclass(frozen=True, slots=True)
class Token:
    kind: str           # word, op, newline
    text: str           # the source text (operator, or the raw word)
    pos: int
    parts: tuple = ()   # word parts: (kind, text, pos)


def tokenize(text: str) -> list[Token]:
    """Tokens of a whole script; raises OptionError(offset=…) at a character that cannot start one.

    A here-document's body (after `<<WORD`, up to the line WORD) is data for its command, not
    script: it is skipped, and its command gets a `heredoc` token in its place.
    """
    tokens: list[Token] = []
    offset = 0
    while True:
        resume = _scan(text, offset, tokens)
        if resume is None:
            return tokens
        offset = resume


def _scan(text: str, offset: int, tokens: list[Token]) -> int | None:
    """Tokenize from `offset`; returns where to resume after a here-document body, or None."""
    expected = offset
    heredoc: tuple[str, bool] | None = None
    for result, start, end in _TOKEN.scan_string(text[offset:]):
        start, end = start + offset, end + offset
        gap = text[expected:start]
        if gap.strip(_WS):
            bad = expected + len(gap) - len(gap.lstrip(_WS))
            raise OptionError(_lex_problem(text, bad), offset=bad, hint=_lex_hint(text, bad))
        item = result[0]
        expected = end
        if isinstance(item, tuple):
            kind, value, pos = item
            pos += offset
            if kind == "newline":
                tokens.append(Token("newline", "\n", pos))
                if heredoc is not None:
                    return _heredoc_end(text, end, *heredoc, tokens)
            elif kind == "op":
                tokens.append(Token("op", value, pos))
        else:
            parts = tuple((k, t, p + offset) for k, t, p in item)
            word = Token("word", text[start:end].lstrip(_WS), parts[0][2], parts)
            if tokens and tokens[-1].kind == "op" and tokens[-1].text.startswith("<<"):
                heredoc = (word.text.strip("'\"").replace("\\", ""),
                           tokens[-1].text == "<<-")
                tokens[-1] = Token("heredoc", tokens[-1].text, tokens[-1].pos)
                continue
            tokens.append(word)
    rest = text[expected:]
    if rest.strip(_WS + "\n"):
        bad = expected + len(rest) - len(rest.lstrip(_WS + "\n"))
        raise OptionError(_lex_problem(text, bad), offset=bad, hint=_lex_hint(text, bad))
    if heredoc is not None:
        raise OptionError(f"here-document without its closing `{heredoc[0]}' line",
                          offset=len(text))
    return None


def _heredoc_end(text: str, body: int, delimiter: str, strip_tabs: bool,
                 tokens: list[Token]) -> int:
    pos = body
    while pos <= len(text):
        nl = text.find("\n", pos)
        line = text[pos:nl if nl != -1 else len(text)]
        if (line.lstrip("\t") if strip_tabs else line) == delimiter:
            tokens.append(Token("newline", "\n", nl if nl != -1 else len(text)))
            return nl + 1 if nl != -1 else len(text)
        if nl == -1:
            break
        pos = nl + 1
    raise OptionError(f"here-document without its closing `{delimiter}' line", offset=body)


def _lex_problem(text: str, pos: int) -> str:
    ch = text[pos]
    if ch in "'\"":
        return f"unterminated {'single' if ch == chr(39) else 'double'}-quoted string"
    return f"unexpected character {character_name(ch)}"


def _lex_hint(text: str, pos: int) -> str | None:
    if text.startswith("\r\n", pos):
        return ("the file has Windows (CR LF) line endings, which the shell does not run "
                "either (`ACCEPT\\r' is no target): convert it, e.g. with dos2unix")
    return None


def character_name(ch: str) -> str:
    """`x', or for a character one cannot see (a no-break space pasted from a web page, a byte
    order mark) its code point and name."""
    if ch.isprintable() and not ch.isspace() and ch != "\ufeff":
        return f"`{ch}'"
    return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"
