"""Shell syntax for firewall scripts: shell_lexer's tokens parsed into a small command tree.

Covers what firewall scripts use: words with '…', "…", \\ escapes and $VAR / ${VAR} /
${VAR:-default}, comments, `\\` continuations, `;` `&&` `||` `|` `&`, redirections, `for … in …;
do … done`, and `NAME=value`. Constructs whose effect a static reading cannot know (`$(…)`,
backquotes, `if`, `case`, functions, loops other than `for … in`) are kept as Unsupported nodes
so the evaluator can name them (or skip them when asked to).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from ..errors import OptionError
from ..ir import SourceLocation
from .shell_lexer import Token, tokenize

RESERVED = frozenset({"if", "then", "else", "elif", "fi", "case", "esac", "while", "until",
                      "for", "do", "done", "function", "select", "{", "}", "!", "[[", "]]"})


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
                    node.assignments.append(self._array(tok) or tok)
                    continue
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

    def _array(self, tok: Token) -> Token | None:
        """`NAME=(a b c)`: the whole bash array assignment as one token of kind "array" whose
        parts are the element words; None (and nothing consumed) for any other word."""
        after = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
        self.i += 1
        if not (tok.text.endswith("=") and after is not None and after.kind == "op"
                and after.text == "(" and after.pos == tok.pos + len(tok.text)):
            return None
        self.i += 1
        elements = []
        while (item := self.peek()) is not None and not (item.kind == "op" and item.text == ")"):
            if item.kind == "word":
                elements.append(item)
            elif item.kind != "newline":
                raise OptionError(f"unexpected `{item.text}' in an array", offset=item.pos)
            self.i += 1
        if item is None:
            raise OptionError("array without its closing `)'", offset=after.pos)
        self.i += 1
        return Token("array", tok.text, tok.pos, tuple(elements))

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
