"""Shell syntax for firewall scripts: a pyparsing lexer and a parser into a small command tree.

Covers what firewall scripts use: words with '…', "…", \\ escapes and $VAR / ${VAR} /
${VAR:-default}, comments, `\\` continuations, `;` `&&` `||` `|` `&`, redirections, `for … in …;
do … done`, and `NAME=value`. Constructs whose effect a static reading cannot know (`$(…)`,
backquotes, `if`, `case`, functions, loops other than `for … in`) are kept as Unsupported nodes
so the evaluator can name them (or skip them when asked to).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field

import pyparsing as pp

from ..errors import OptionError
from ..ir import SourceLocation

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

RESERVED = frozenset({"if", "then", "else", "elif", "fi", "case", "esac", "while", "until",
                      "for", "do", "done", "function", "select", "{", "}", "!", "[[", "]]"})


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
            raise OptionError(_lex_problem(text, bad), offset=bad)
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
        raise OptionError(_lex_problem(text, bad), offset=bad)
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


def character_name(ch: str) -> str:
    """`x', or for a character one cannot see (a no-break space pasted from a web page, a byte
    order mark) its code point and name."""
    if ch.isprintable() and not ch.isspace() and ch != "\ufeff":
        return f"`{ch}'"
    return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"


# --- command tree ----------------------------------------------------------------------------

@dataclass(slots=True)
class Simple:
    words: list[Token]
    assignments: list[Token]
    pos: int
    silenced: bool = False      # stderr goes to /dev/null: the script expects it may fail


@dataclass(slots=True)
class ForLoop:
    var: str
    items: list[Token]
    body: list                       # a command list
    pos: int


@dataclass(slots=True)
class Unsupported:
    what: str
    pos: int
    end: int


@dataclass(slots=True)
class AndOr:
    """`first op second op third …` with op in && / ||; `negated` for a leading `!`."""
    items: list
    ops: list[str] = field(default_factory=list)
    negated: bool = False


@dataclass(slots=True)
class Pipeline:
    commands: list
    pos: int


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


class _Parser:
    def __init__(self, tokens: list[Token], text: str):
        self.tokens = tokens
        self.i = 0
        self.text = text

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def at_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text in words

    def skip_newlines(self) -> None:
        while (tok := self.peek()) is not None and (tok.kind == "newline" or tok.text == ";"):
            self.i += 1

    def parse_list(self, stop: tuple[str, ...] = ()) -> list:
        commands = []
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok is None or (tok.kind == "word" and tok.text in stop):
                return commands
            if tok.kind == "op" and tok.text in (")", ";;"):
                return commands
            commands.append(self.parse_and_or())
            tok = self.peek()
            if tok is not None and tok.kind == "op" and tok.text in (";", "&"):
                self.i += 1

    def parse_and_or(self) -> AndOr:
        node = AndOr([])
        if self.at_word("!"):
            self.i += 1
            node.negated = True
        node.items.append(self.parse_pipeline())
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text in ("&&", "||"):
            self.i += 1
            node.ops.append(tok.text)
            self.skip_newlines_only()
            node.items.append(self.parse_pipeline())
        return node

    def skip_newlines_only(self) -> None:
        while (tok := self.peek()) is not None and tok.kind == "newline":
            self.i += 1

    def parse_pipeline(self) -> Pipeline:
        start = self.peek()
        commands = [self.parse_command()]
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text == "|":
            self.i += 1
            self.skip_newlines_only()
            commands.append(self.parse_command())
        return Pipeline(commands, start.pos if start else 0)

    def parse_command(self):
        tok = self.peek()
        if tok is None:
            return Simple([], [], len(self.text))
        if tok.kind == "word" and tok.text == "for":
            return self.parse_for()
        if tok.kind == "word" and (tok.text in _OPENERS or tok.text == "function"):
            return self.skip_block(tok, "a shell function definition"
                                   if tok.text == "function" else None)
        if tok.kind == "op" and tok.text == "(":
            return self.skip_block(tok)
        if tok.kind == "word" and tok.text in RESERVED:
            raise OptionError(f"unexpected `{tok.text}'", offset=tok.pos)
        return self.parse_simple()

    def parse_simple(self) -> Simple:
        node = Simple([], [], self.peek().pos)
        null_fds = ""           # the file descriptors redirected to /dev/null so far
        while (tok := self.peek()) is not None:
            if tok.kind == "word":
                if not node.words and _ASSIGNMENT.match(tok.text):
                    node.assignments.append(tok)
                else:
                    node.words.append(tok)
                self.i += 1
                # `name() {` defines a function
                if len(node.words) == 1 and self._function_ahead():
                    return self.skip_block(tok, "a shell function definition")
            elif tok.kind == "heredoc":
                self.i += 1
            elif tok.kind == "op" and tok.text[-1] in "<>&" and tok.text not in ("&", "&&"):
                self.i += 1
                nxt = self.peek()
                if nxt is not None and nxt.kind == "word":
                    self.i += 1
                    null_fds = self._redirect(tok.text, nxt.text, null_fds)
                    node.silenced = "2" in null_fds
            else:
                break
        if not node.words and not node.assignments and self.peek() is not None \
                and self.peek().kind == "op" and self.peek().text not in (";", "&", "&&", "||",
                                                                          "|"):
            raise OptionError(f"unexpected `{self.peek().text}'", offset=self.peek().pos)
        return node

    @staticmethod
    def _redirect(op: str, target: str, null_fds: str) -> str:
        """`2>/dev/null`, `>/dev/null 2>&1`: which of stdout (1) and stderr (2) are discarded."""
        fd = op.rstrip("<>&-") or ("0" if op.startswith("<") else "1")
        if op.endswith(">&"):
            to_null = target in null_fds
        elif ">" in op:
            to_null = target == "/dev/null"
        else:
            return null_fds
        return null_fds.replace(fd, "") + (fd if to_null else "")

    def _function_ahead(self) -> bool:
        toks = self.tokens[self.i:self.i + 2]
        return (len(toks) == 2 and toks[0].kind == "op" and toks[0].text == "("
                and toks[1].kind == "op" and toks[1].text == ")")

    def parse_for(self) -> ForLoop | Unsupported:
        start = self.peek()
        self.i += 1
        name = self.peek()
        if name is None or name.kind != "word" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                                    name.text):
            return self.skip_block(start)
        self.i += 1
        items: list[Token] = []
        if self.at_word("in"):
            self.i += 1
            while (tok := self.peek()) is not None and tok.kind == "word":
                items.append(tok)
                self.i += 1
        else:
            return self.skip_block(start, "`for` over the script's arguments")
        self.skip_newlines()
        if not self.at_word("do"):
            raise OptionError("expected `do' in for loop", offset=(self.peek() or start).pos)
        self.i += 1
        body = self.parse_list(stop=("done",))
        if not self.at_word("done"):
            raise OptionError("for loop without `done'", offset=start.pos)
        self.i += 1
        return ForLoop(name.text, items, body, start.pos)

    def skip_block(self, start: Token, what: str | None = None,
                   resume_from: int | None = None) -> Unsupported:
        """Skip a construct we do not evaluate, up to the end of its (nested) block."""
        kind = what or _WHAT.get(start.text, start.text)
        i = self.tokens.index(start)
        if kind == "a shell function definition":
            # name ( ) or function name [( )]: the body is the compound command that follows
            while i < len(self.tokens) and not (self.tokens[i].kind == "word"
                                                and self.tokens[i].text in _OPENERS):
                i += 1
        stack: list[str] = []
        command_pos = True
        while i < len(self.tokens):
            tok = self.tokens[i]
            i += 1
            if tok.kind == "newline" or (tok.kind == "op" and tok.text in _SEPARATORS):
                command_pos = True
                continue
            if tok.kind == "op":
                if tok.text == "(":
                    stack.append(")")
                elif tok.text == ")" and stack and stack[-1] == ")":
                    stack.pop()
                command_pos = True        # a command may follow `(` and a case pattern's `)`
            else:
                if command_pos and tok.text in _OPENERS:
                    stack.append(_OPENERS[tok.text])
                elif command_pos and stack and tok.text == stack[-1]:
                    stack.pop()
                command_pos = tok.text in ("then", "do", "else", "elif", "{", "!")
            if not stack:
                break
        if stack:
            raise OptionError(f"{kind} without its `{stack[-1]}'", offset=start.pos)
        self.i = i
        return Unsupported(kind, start.pos, self.tokens[i - 1].pos)


_OPENERS = {"if": "fi", "case": "esac", "while": "done", "until": "done", "select": "done",
            "for": "done", "{": "}", "[[": "]]"}
_SEPARATORS = frozenset({";", "&", "&&", "||", "|", ";;"})
_WHAT = {"if": "an if statement", "case": "a case statement", "while": "a while loop",
         "until": "an until loop", "select": "a select loop", "for": "this for loop",
         "{": "a { … } block", "(": "a ( … ) subshell", "[[": "a [[ … ]] test",
         "function": "a shell function definition"}


def parse_script(text: str) -> list:
    """The script's command list; raises OptionError(offset=…) on a syntax error."""
    return _Parser(tokenize(text), text).parse_list()


class Positions:
    """Character offsets → SourceLocation (1-based line and column)."""

    def __init__(self, filename: str, text: str):
        self.filename = filename
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def loc(self, offset: int) -> SourceLocation:
        line = bisect.bisect_right(self.starts, offset)
        return SourceLocation(self.filename, line, offset - self.starts[line - 1] + 1)
