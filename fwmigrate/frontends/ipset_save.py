"""`ipset save` output (and `ipset restore` files) → IpSet objects for the IR.

The file is replayed as `ipset restore` does it: `create` declares a set (an error if it
exists, unless `-exist`), `add` a member (the same), `del`, `flush`, `destroy`, `rename` and
`swap` change what is there, in order. `#` lines are comments, a leading `ipset` word is
allowed (a file of `ipset …` commands), `COMMIT` is accepted and ignored. Every problem names
file:line:col.

Members are read into typed values per dimension of the set's type. A range or a network in
`add` of a hash:ip set stands for many members; `ipset save` lists them one by one, and so must
a file given here (refused otherwise, with the reason). Types
fwmigrate cannot translate keep their members as the words written, so the set exists (a rule
naming it gets a precise refusal) without blocking the sets that are translated.
(The sets and their types: ipset_sets.py; reading members: ipset_members.py.)
"""

from __future__ import annotations

from ..errors import Diagnostics, OptionError, undecodable_byte
from ..ir import IpSet, Option, SourceLocation
from .ipset_members import member
from .ipset_sets import DIMENSIONS, NO_FAMILY, IpsetError, ReplayedSet
from .save_file import tokenize

_CREATE_FLAGS = {"counters", "comment", "skbinfo", "forceadd"}
_CREATE_VALUES = {"family", "hashsize", "maxelem", "timeout", "netmask", "markmask", "range",
                  "size", "bucketsize", "initval", "probes", "resize"}
_ADD_FLAGS = {"nomatch"}
_ADD_VALUES = {"timeout", "packets", "bytes", "comment", "skbmark", "skbprio", "skbqueue"}
_COMMANDS = {"create": "create", "-N": "create", "n": "create", "add": "add", "-A": "add",
             "a": "add", "del": "del", "-D": "del", "d": "del", "flush": "flush",
             "-F": "flush", "f": "flush", "destroy": "destroy", "-X": "destroy", "x": "destroy",
             "rename": "rename", "-E": "rename", "e": "rename", "swap": "swap", "-W": "swap",
             "w": "swap"}
_Error = IpsetError


class IpsetReplay:
    """The sets a sequence of ipset commands leaves, starting from `base` (what the kernel
    had before): an `ipset save` file, or the ipset lines of a script, one command at a time."""

    def __init__(self, base: tuple[IpSet, ...] = ()):
        self.sets: dict[str, ReplayedSet] = {s.name: ReplayedSet.from_ir(s) for s in base}

    def run(self, words: list[tuple[str, int]], loc: SourceLocation) -> None:
        """One command's words (text, position) without `ipset`; raises IpsetError."""
        for word, pos in words:
            if (bad := undecodable_byte(word)) is not None:
                raise IpsetError(bad[1], pos, bad[2])
        _command(words, self.sets, loc)

    def result(self) -> tuple[IpSet, ...]:
        return tuple(s.ir() for s in self.sets.values())


# ipset commands that change nothing (scripts print or check sets with them)
READ_ONLY = frozenset({"list", "-L", "l", "save", "-S", "s", "version", "-V", "v", "help",
                       "-H", "h", "-v"})
CHANGING = frozenset(_COMMANDS)


def read_ipsets(text: str, filename: str, diags: Diagnostics) -> tuple[IpSet, ...]:
    """Every set the file leaves behind; problems go to `diags` (all of them)."""
    diags.lines.setdefault(filename, text.splitlines())
    replay = IpsetReplay()
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "COMMIT":
            continue
        try:
            words = tokenize(line)
        except OptionError as exc:
            diags.error(SourceLocation(filename, lineno, exc.offset + 1), exc.message, exc.hint)
            continue
        if words[0][0] == "ipset":
            if len(words) == 1:
                diags.error(SourceLocation(filename, lineno, words[0][1]),
                            "`ipset' without a command")
                continue
            words = words[1:]
        try:
            replay.run(words, SourceLocation(filename, lineno, words[0][1]))
        except IpsetError as exc:
            diags.error(SourceLocation(filename, lineno, exc.col), exc.message, exc.hint)
    return replay.result()


def _command(words, sets: dict[str, ReplayedSet], loc: SourceLocation) -> None:
    exist = any(w in ("-exist", "-!") for w, _ in words)
    words = [(w, c) for w, c in words if w not in ("-exist", "-!")]
    if not words:
        raise IpsetError("an ipset command without a verb (create, add …)", loc.col)
    verb, col = words[0]
    command = _COMMANDS.get(verb)
    if command is None:
        raise _Error(f"unknown ipset command `{verb}'", col,
                     "ipset save files hold `create' and `add' lines")
    args = words[1:]
    if command == "create":
        _create(args, sets, exist, loc, col)
    elif command in ("add", "del"):
        if len(args) < 2:
            raise _Error(f"`{verb}' needs a set name and a member", col)
        target = _known(sets, args[0])
        values = member(target, args[1])
        if command == "add":
            if values in target.members and not exist:
                raise _Error(f"{args[1][0]} is already in set {target.name}", args[1][1],
                             "use -exist to let a later add replace it, as ipset restore "
                             "-exist does")
            target.members[values] = _add_options(target, args[2:])
        else:
            if values not in target.members and not exist:
                raise _Error(f"{args[1][0]} is not in set {target.name}", args[1][1])
            target.members.pop(values, None)
    elif command in ("flush", "destroy"):
        names = [a for a, _ in args] or list(sets)
        for name, c in args or [(n, col) for n in names]:
            _known(sets, (name, c))
        for name in names:
            if command == "flush":
                sets[name].members.clear()
            else:
                del sets[name]
    else:                               # rename, swap
        if len(args) != 2:
            raise _Error(f"`{verb}' needs two set names", col)
        first = _known(sets, args[0])
        if command == "rename":
            if args[1][0] in sets:
                raise _Error(f"set {args[1][0]} already exists", args[1][1])
            del sets[first.name]
            first.name = args[1][0]
            sets[first.name] = first
        else:
            second = _known(sets, args[1])
            first.name, second.name = second.name, first.name
            sets[first.name], sets[second.name] = first, second


def _known(sets: dict[str, ReplayedSet], word) -> ReplayedSet:
    name, col = word
    if name not in sets:
        raise _Error(f"set {name} does not exist (no `create' line before this one)", col)
    return sets[name]


def _create(args, sets: dict[str, ReplayedSet], exist: bool, loc: SourceLocation, col: int) -> None:
    if len(args) < 2:
        raise _Error("`create' needs a set name and a type", col)
    (name, ncol), (type_, tcol) = args[0], args[1]
    if len(name) > 31:
        raise _Error(f"set name {name!r} is longer than ipset's 31 characters", ncol)
    type_ = type_.lower()
    if type_ not in DIMENSIONS:
        raise _Error(f"unknown ipset type `{type_}'", tcol,
                     "known types: " + ", ".join(sorted(DIMENSIONS)))
    options: dict[str, object] = {}
    for word, arg, _wcol in _option_words(args[2:], _CREATE_FLAGS, _CREATE_VALUES,
                                          f"unknown option `{{}}' for {type_}"):
        options[word] = None if arg is None else _create_value(word, arg, type_)
    family = options.get("family", "inet")
    if family not in ("inet", "inet6"):
        raise _Error(f"family `{family}': ipset knows inet and inet6", col)
    if type_ == "bitmap:ip" and family == "inet6":
        raise _Error("bitmap:ip holds IPv4 addresses only", tcol)
    if type_.startswith("bitmap:") and "range" not in options:
        raise _Error(f"{type_} needs `range'", tcol)
    ir_family = None if type_ in NO_FAMILY else ("ip" if family == "inet" else "ip6")
    if name in sets:
        old = sets[name]
        if exist and (old.type, old.family) == (type_, ir_family):
            return                      # ipset restore -exist: the same set is fine
        raise _Error(f"set {name} already exists", ncol)
    sets[name] = ReplayedSet(name, type_, ir_family, options, loc)


def _option_words(words, flags, valued, unknown: str):
    """(option, (value, column) or None for a flag, column) for each option of a line;
    `unknown` is the message for a word that is neither (`{}` is the word)."""
    i = 0
    while i < len(words):
        word, col = words[i]
        if word in flags:
            yield word, None, col
            i += 1
            continue
        if word not in valued:
            raise _Error(unknown.format(word), col)
        if i + 1 >= len(words):
            raise _Error(f"`{word}' needs a value", col)
        yield word, words[i + 1], col
        i += 2


def _create_value(word: str, arg, type_: str):
    text, col = arg
    if word in ("family", "range"):
        return text
    try:
        number = int(text, 0)
    except ValueError:
        raise _Error(f"`{word}' takes a number, not {text!r}", col) from None
    if word == "maxelem" and number < 1:
        raise _Error("maxelem must be at least 1", col)
    if word == "timeout" and number > 2147483:
        raise _Error("timeout is larger than ipset allows (2147483 seconds)", col)
    return number


def _add_options(target: ReplayedSet, words) -> tuple[Option, ...]:
    out: list[Option] = []
    for word, arg, col in _option_words(words, _ADD_FLAGS, _ADD_VALUES,
                                        "unknown member option `{}'"):
        if arg is None:
            out.append(Option(word))
            continue
        text, vcol = arg
        needs = {"timeout": "timeout", "packets": "counters", "bytes": "counters",
                 "comment": "comment", "skbmark": "skbinfo", "skbprio": "skbinfo",
                 "skbqueue": "skbinfo"}[word]
        if needs not in target.options:
            raise _Error(f"`{word}' on a member of set {target.name}, which was created "
                         f"without `{needs}'", col)
        if word == "comment":
            value: object = text
        elif word in ("skbmark", "skbprio"):
            value = text
        else:
            try:
                value = int(text, 0)
            except ValueError:
                raise _Error(f"`{word}' takes a number, not {text!r}", vcol) from None
        out.append(Option(word, value))
    return tuple(out)

