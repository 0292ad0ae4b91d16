"""The iptables command language: the words of one invocation → a Command carrying IR rules.

Follows iptables 1.8.9's own parser where users can tell the difference: long options may be
abbreviated and given as --opt=value, a short option's value may be attached (-tnat) (but
for -p -s -d -i -o -j, whose value 1.8.9 then takes to be the whole word), an option belongs
to the most recently loaded extension that knows it, `-p tcp` loads the tcp match when one of
its options first appears (and the match takes that position in the rule), `-s a,b` makes one
rule per address. Error texts are iptables' own, so that users recognise them.

This is the hot path for large save files: plain dict lookups, values parsed through a cache.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import mappings
from ..errors import OptionError, did_you_mean, lookalike_dash_hint
from ..ir import (
    Counters,
    Family,
    Jump,
    Match,
    Negatable,
    Rule,
    SourceLocation,
    TargetExtension,
    Verdict,
)
from .extensions import ExtensionOptions, _implicit_spec, _intrapositioned, _Loaded
from .kernel_checks import check_rule
from .values_common import scanf_u64
from .values_numbers import protocol_number

VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})

# short and long spellings → (canonical name, number of argument words)
_COMMANDS = {
    "-A": "append", "--append": "append", "-I": "insert", "--insert": "insert",
    "-D": "delete", "--delete": "delete", "-R": "replace", "--replace": "replace",
    "-N": "new-chain", "--new-chain": "new-chain", "-X": "delete-chain",
    "--delete-chain": "delete-chain", "-F": "flush", "--flush": "flush", "-Z": "zero",
    "--zero": "zero", "-P": "policy", "--policy": "policy", "-E": "rename-chain",
    "--rename-chain": "rename-chain", "-L": "list", "--list": "list", "-S": "list-rules",
    "--list-rules": "list-rules", "-C": "check", "--check": "check", "-h": "help",
    "--help": "help", "-V": "version", "--version": "version",
}
_PARAMS = {
    "-p": "protocol", "--protocol": "protocol", "-s": "source", "--source": "source",
    "--src": "source", "-d": "destination", "--destination": "destination",
    "--dst": "destination", "-i": "in-interface", "--in-interface": "in-interface",
    "-o": "out-interface", "--out-interface": "out-interface", "-f": "fragment",
    "--fragment": "fragment", "-j": "jump", "--jump": "jump", "-g": "goto", "--goto": "goto",
    "-m": "match", "--match": "match", "-t": "table", "--table": "table",
    "-c": "set-counters", "--set-counters": "set-counters", "-4": "ipv4", "--ipv4": "ipv4",
    "-6": "ipv6", "--ipv6": "ipv6", "-w": "wait", "--wait": "wait", "-W": "wait-interval",
    "--wait-interval": "wait-interval", "-v": "verbose", "--verbose": "verbose",
    "-n": "numeric", "--numeric": "numeric", "-x": "exact", "--exact": "exact",
    "--line-numbers": "line-numbers", "--modprobe": "modprobe",
}
# getopt's view of iptables' short options: those that take the rest of the word (or the
# next word) as their value, and those that take the rest of the word if there is one
_SHORT_VALUE = frozenset("ACDRIMNEPopsdjitmcg")
_SHORT_OPTIONAL_VALUE = frozenset("LSFZXhwW")
_BASE_LONG = sorted(f for f in list(_COMMANDS) + list(_PARAMS) if f.startswith("--"))
# options that only make sense with a rule specification
_RULE_PARAMS = frozenset({"protocol", "source", "destination", "in-interface", "out-interface",
                          "fragment", "jump", "goto", "match"})
_NEGATABLE = frozenset({"protocol", "source", "destination", "in-interface", "out-interface",
                        "fragment"})
# the commands iptables 1.8.9 takes each of these options with (delete: by rule, not by
# number); any other is "Illegal option `-n' with this command"
_LEGAL_WITH = {
    **dict.fromkeys(("numeric", "exact", "line-numbers"), ("list",)),
    "set-counters": ("append", "insert", "replace", "policy"),
    **dict.fromkeys(("protocol", "source", "destination", "in-interface", "out-interface",
                     "jump"), ("append", "insert", "replace", "check", "delete")),
}
# options iptables 1.8.9 cannot take as --opt=value or -ovalue (see _Parser._param)
_WHOLE_WORD = frozenset({"protocol", "source", "destination", "in-interface", "out-interface",
                         "jump"})
_RULE_ACTIONS = frozenset({"append", "insert", "delete", "replace", "check"})
# built-in chains and the interface option they cannot use
_NO_OUT = frozenset({"INPUT", "PREROUTING"})
_NO_IN = frozenset({"OUTPUT", "POSTROUTING"})


@dataclass(slots=True)
class Command:
    action: str
    family: Family
    table: str
    chain: str | None = None
    rulenum: int | None = None
    rules: tuple[Rule, ...] = ()
    policy: str | None = None
    new_name: str | None = None
    # word positions, so that errors found later (unknown chain, bad index) point at them
    chain_index: int | None = None
    rulenum_index: int | None = None
    target_index: int | None = None
    policy_index: int | None = None
    warnings: list[tuple[int | None, str]] = field(default_factory=list)


class _Parser(ExtensionOptions):
    def located(self, exc: OptionError) -> OptionError:
        """The error with its word index (and offset) in the words as given."""
        if exc.index is None or exc.index >= len(self.origin):
            return exc
        source, offset = self.origin[exc.index]
        return OptionError(exc.message, source, exc.hint, exc.offset + offset, exc.unsupported)

    base_flags = frozenset(_COMMANDS) | frozenset(_PARAMS)

    def __init__(self, words: Sequence[str], family: Family, table: str | None,
                 loc: SourceLocation | None, restore: bool):
        self.words = list(words)
        self.family = family
        self.restore = restore
        self.cmd = Command(action="", family=family, table=table or "filter")
        self.table_given = False
        self.loc = loc
        self.negate_next: int | None = None   # index of a pending `!`
        self.seen: dict[str, int] = {}
        self.addresses: dict[str, tuple[int, bool]] = {}   # source/destination → (word, !)
        # word index → (extension, option name) for one-word option values; with `positions`
        # (extension → where it landed in the rule) this lets templates.py re-read the value
        self.slots: dict[int, tuple[_Loaded, str]] = {}
        self.positions: dict[int, int | None] = {}          # id(extension) → match index
        self.rewritten = False            # words were split (--opt=value, -nvL)
        # values written in one word with their option (--opt=value, -ptcp) → that word
        self.glued: dict[int, str] = {}
        self.listing = False              # -L (or -S) given with -Z
        # for each word, the word it came from and where in it (so errors point at the text)
        self.origin: list[tuple[int, int]] = [(k, 0) for k in range(len(self.words))]
        self.result: Command | None = None
        self.iface_in: Negatable | None = None
        self.iface_out: Negatable | None = None
        self.proto: Negatable | None = None
        self.fragment: Negatable | None = None
        self.loaded: list[_Loaded] = []       # matches and the target, in load order
        self.target: _Loaded | None = None
        self.target_name: str | None = None
        self.goto = False
        self.counters: Counters | None = None

    # --- helpers ----------------------------------------------------------------------------

    def _take(self, i: int, flag: str) -> str:
        if i >= len(self.words):
            raise OptionError(f'option "{flag}" requires an argument', i - 1)
        return self.words[i]

    def _optional(self, i: int) -> str | None:
        """An optional argument: the next word if it does not look like an option."""
        if i < len(self.words) and not self.words[i].startswith("-") and self.words[i] != "!":
            return self.words[i]
        return None

    def _set_command(self, action: str, i: int) -> None:
        if self.cmd.action:
            if {action, self.cmd.action} in ({"zero", "list"}, {"zero", "list-rules"}):
                # `-L -Z`: list, then zero the counters; only the zeroing changes anything
                self.listing = True
                self.cmd.action = "zero"
                return
            raise OptionError(f"Cannot use -{_short(action)} with -{_short(self.cmd.action)}", i)
        self.cmd.action = action

    def _once(self, name: str, flag: str, i: int) -> None:
        if name in self.seen:
            raise OptionError(f"multiple {flag} flags not allowed", i)
        self.seen[name] = i

    def _negation(self, i: int, what: str, allowed: bool) -> bool:
        if self.negate_next is None:
            return False
        self.negate_next = None
        if not allowed:
            raise OptionError(f"cannot have ! before {what}", i)
        return True

    # --- the main loop ----------------------------------------------------------------------

    def parse(self) -> Command:
        words = self.words
        i = 0
        n = len(words)
        while i < n:
            word = words[i]
            if word == "!":
                if self.negate_next is not None:
                    raise OptionError("multiple consecutive ! not allowed", i)
                self.negate_next = i
                i += 1
                continue
            if word.startswith("--") and "=" in word:
                flag, _, value = word.partition("=")
                words[i:i + 1] = [flag, value]
                self.glued[i + 1] = word
                source = self.origin[i][0]
                self.origin[i:i + 1] = [(source, 0), (source, len(flag) + 1)]
                n += 1
                word = flag
                self.rewritten = True
            if word in _COMMANDS:
                i = self._command(_COMMANDS[word], word, i)
                continue
            if word in _PARAMS:
                i = self._param(_PARAMS[word], word, i)
                continue
            if word.startswith("--") and self._find_owner(word) is None:
                resolved = self._resolve_long(word, i)
                if resolved is not None:
                    words[i] = resolved
                    if resolved in _COMMANDS or resolved in _PARAMS:
                        continue
                    i = self._extension_option(resolved, i)
                    continue
            if word.startswith("-") and len(word) > 2 and not word.startswith("--"):
                # bundled short options (-nvL), a value attached (-tnat, -AINPUT, -vjDROP)
                bundle = _short_bundle(word)
                if bundle is not None:
                    if len(bundle) > 1 and bundle[-2][0][1] in _SHORT_VALUE | \
                            _SHORT_OPTIONAL_VALUE:
                        self.glued[i + len(bundle) - 1] = word
                    source, base = self.origin[i]
                    words[i:i + 1] = [w for w, _ in bundle]
                    self.origin[i:i + 1] = [(source, base + at) for _, at in bundle]
                    n = len(words)
                    self.rewritten = True
                    continue
            if word.startswith("-") and len(word) > 1:
                i = self._extension_option(word, i)
                continue
            raise OptionError(f"Bad argument `{word}'", i, hint=lookalike_dash_hint(word))
        if self.negate_next is not None:
            raise OptionError("! must be followed by an option", self.negate_next)
        return self._finish()

    def _resolve_long(self, word: str, i: int) -> str | None:
        """getopt_long accepts any unambiguous prefix of a long option."""
        candidates = {f for f in _BASE_LONG if f.startswith(word)}
        for ext in self.loaded:
            candidates |= {f for f in ext.spec.flag_index if f.startswith(word)}
        if not candidates and self.proto is not None:
            # iptables loads the protocol match and tries again
            implicit = _implicit_spec(self.proto.value, self.family)
            if implicit is not None:
                candidates = {f for f in implicit.flag_index if f.startswith(word)}
        if word in candidates:
            return None
        if len(candidates) == 1:
            return candidates.pop()
        if len(candidates) > 1:
            raise OptionError(f'option "{word}" is ambiguous', i,
                              hint="possibilities: " + " ".join(sorted(candidates)))
        return None

    def _command(self, action: str, flag: str, i: int) -> int:
        self._negation(i, flag, False)
        self._set_command(action, i)
        cmd = self.cmd
        j = i + 1
        if action in ("append", "insert", "delete", "replace", "new-chain", "policy",
                      "rename-chain", "check"):
            cmd.chain = self._take(j, flag)
            cmd.chain_index = j
            j += 1
        elif action in ("delete-chain", "flush", "zero", "list", "list-rules"):
            chain = self._optional(j)
            if chain is not None:
                cmd.chain, cmd.chain_index = chain, j
                j += 1
        if action in ("insert", "delete", "zero", "list", "list-rules", "replace"):
            num = self._optional(j)
            if num is not None and (action != "zero" or cmd.chain):
                cmd.rulenum = _rule_number(num)
                cmd.rulenum_index = j
                if cmd.rulenum is None:
                    raise OptionError(f"Invalid rule number `{num}'", j)
                j += 1
            elif action == "replace":
                raise OptionError(f'option "{flag}" requires a rule number', j)
        if action == "policy":
            cmd.policy = self._take(j, flag)
            cmd.policy_index = j
            j += 1
        elif action == "rename-chain":
            cmd.new_name = self._take(j, flag)
            if cmd.new_name[:1] in ("-", "!"):
                raise OptionError("-E requires old-chain-name and new-chain-name", j)
            j += 1
        return j

    def _param(self, name: str, flag: str, i: int) -> int:
        negated = self._negation(i, flag, name in _NEGATABLE)
        if name in ("verbose", "numeric", "exact", "line-numbers", "ipv4", "ipv6"):
            if name in ("numeric", "exact", "line-numbers"):
                self._once(name, {"numeric": "-n", "exact": "-x"}.get(name, flag), i)
            else:
                self.seen.setdefault(name, i)       # -v -v, -4 -4 are allowed
            if name == "ipv6" and self.family == "ip" or name == "ipv4" and self.family == "ip6":
                raise OptionError(f"This is {'IPv4' if self.family == 'ip' else 'IPv6'} "
                                  f"iptables; {flag} is not allowed here", i)
            return i + 1
        if name == "wait":
            nxt = self._optional(i + 1)
            return i + 2 if nxt is not None and nxt.replace(".", "", 1).isdigit() else i + 1
        if name in ("wait-interval", "modprobe"):
            self._take(i + 1, flag)
            return i + 2
        if name == "fragment":
            if self.family == "ip6":
                raise OptionError('unknown option "-f"', i,
                                  hint="ip6tables has no -f; fragments are matched with -m frag")
            self._once(name, "-f", i)
            self.fragment = Negatable(True, negated)
            return i + 1
        value = self._take(i + 1, flag)
        if i + 1 in self.glued and name in _WHOLE_WORD:
            # iptables 1.8.9 rereads these options' value from the word before its optind
            # (for the old `-s ! addr` negation): the whole `--opt=value` or `-ptcp` word
            word = self.glued[i + 1]
            if name.endswith("interface"):
                raise OptionError(f"iptables 1.8.9 takes the whole word `{word}' as the "
                                  "interface name (a rule for an interface of that name)", i,
                                  hint=f"write {flag} {value}")
            raise OptionError(f"iptables 1.8.9 takes the whole word `{word}' as the {name}, "
                              "and refuses it", i, hint=f"write {flag} {value}")
        if value == "!" and name in _NEGATABLE:
            raise OptionError(_intrapositioned(flag), i + 1,
                              hint=f"write the negation before the option: ! {flag} …")
        if name == "table":
            if self.restore:
                raise OptionError("The -t option (seen in line) cannot be used in "
                                  "iptables-restore", i)
            self.seen[name] = i             # `-t nat -t nat`: iptables takes the last
            if value not in mappings.iptables_tables():
                raise OptionError(f"can't initialize iptables table `{value}': Table does not "
                                  "exist", i + 1, hint="tables are " +
                                  ", ".join(mappings.iptables_tables()))
            self.cmd.table = value
            self.table_given = True
        elif name == "protocol":
            self._once(name, "-p", i)
            try:
                number = protocol_number(value)
            except OptionError:
                raise OptionError(f'unknown protocol "{value}" specified', i + 1,
                                  hint=did_you_mean(value.lower(), mappings.protocol_numbers())
                                  ) from None
            if number == 0:
                if negated:
                    raise OptionError("rule would never match protocol", i)
                self.proto = None
            else:
                self.proto = Negatable(number, negated)
        elif name in ("source", "destination"):
            # parsed in _expand: the rest of the rule does not depend on the address
            self._once(name, "-s" if name == "source" else "-d", i)
            self.addresses[name] = (i + 1, negated)
        elif name in ("in-interface", "out-interface"):
            self._once(name, "-i" if name == "in-interface" else "-o", i)
            _check_interface(value, i + 1)
            if value == "+" and negated:
                raise OptionError(f"`! {flag} +' never matches (every packet has an interface), "
                                  "so the rule has no effect", i,
                                  hint="remove the rule", unsupported=True)
            iface = Negatable(value, negated)
            if name == "in-interface":
                self.iface_in = iface
            else:
                self.iface_out = iface
        elif name in ("jump", "goto"):
            self._once("jump", flag if name == "jump" else "-g", i)
            self._jump(value, i + 1, name == "goto")
        elif name == "match":
            self._load_match(value, i + 1)
        elif name == "set-counters":
            self._once(name, "-c", i)
            return self._counters(value, i, flag)
        return i + 2

    def _counters(self, value: str, i: int, flag: str) -> int:
        """`-c PACKETS BYTES` or `-c PACKETS,BYTES`, each read as iptables reads it."""
        comma = value.find(",", 1)
        octets = value[comma + 1:] if comma >= 0 else self._optional(i + 2)
        if octets is None:
            raise OptionError(f"{flag} requires packet and byte counter", i)
        packets, octets_read = scanf_u64(value), scanf_u64(octets)
        if packets is None:
            raise OptionError(f"{flag} packet counter not numeric", i + 1)
        if octets_read is None:
            raise OptionError(f"{flag} byte counter not numeric", i + 1 if comma >= 0 else i + 2)
        self.counters = Counters(packets[0], octets_read[0])
        return i + 2 if comma >= 0 else i + 3

    def _finish(self) -> Command:
        cmd = self.cmd
        if not cmd.action:
            raise OptionError("no command specified", None,
                              hint="e.g. -A CHAIN, -I CHAIN, -N CHAIN, -P CHAIN POLICY")
        rule = cmd.action in _RULE_ACTIONS and not (cmd.action == "delete" and cmd.rulenum)
        kind = cmd.action if rule or cmd.action != "delete" else "delete-number"
        illegal = [i for name, i in self.seen.items()
                   if kind not in _LEGAL_WITH.get(name, (kind,))
                   and not (self.listing and "list" in _LEGAL_WITH[name])]
        if self.fragment is not None and not rule:
            illegal.append(self.words.index("-f") if "-f" in self.words else 0)
        if illegal:
            first = min(illegal)
            raise OptionError(f"Illegal option `{self.words[first]}' with this command", first)
        if not rule:
            return cmd                  # matches are taken, and ignored (as iptables does)
        # iptables checks the chain name only, whatever the table
        if cmd.chain in _NO_OUT and self.iface_out is not None:
            raise OptionError(f"Can't use -o with {cmd.chain}", self.seen["out-interface"])
        if cmd.chain in _NO_IN and self.iface_in is not None:
            raise OptionError(f"Can't use -i with {cmd.chain}", self.seen["in-interface"])
        # `-i +` matches every interface: iptables keeps no test
        if self.iface_in is not None and self.iface_in.value == "+":
            self.iface_in = None
        if self.iface_out is not None and self.iface_out.value == "+":
            self.iface_out = None
        matches: list[Match] = []
        target = None
        for ext in self.loaded:
            built = self._build(ext)
            if ext is self.target:
                target = built
                self.positions[id(ext)] = None
            else:
                self.positions[id(ext)] = len(matches)
                matches.append(built)
        if target is None and self.target_name is not None:
            target = self._plain_target()
        self._check_target(target)
        if not self.restore:        # iptables-restore: at COMMIT (save_file.py)
            check_rule(matches, target, self.cmd.target_index)
        if cmd.action == "replace":
            for name in self.addresses:
                index = self.addresses[name][0]
                if "," in self.words[index]:
                    raise OptionError("Replacement rule does not specify a unique address",
                                      index - 1)
        cmd.rules = (Rule(in_interface=self.iface_in, out_interface=self.iface_out,
                          protocol=self.proto, fragment=self.fragment, matches=tuple(matches),
                          target=target, counters=self.counters),)
        return cmd

    def _plain_target(self):
        name = self.target_name
        assert name is not None
        if name in VERDICTS:
            if self.goto:
                raise OptionError(f"goto '{name}' is not a chain", self.cmd.target_index)
            if name == "DROP" and self.cmd.table == "nat":
                raise OptionError('The "nat" table is not intended for filtering, the use of '
                                  'DROP is therefore inhibited.', self.cmd.target_index)
            return Verdict(name)
        if name in mappings.target_specs():
            return TargetExtension(name, ())
        return Jump(name, self.goto)

def _short(action: str) -> str:
    for flag, name in _COMMANDS.items():
        if name == action and len(flag) == 2:
            return flag[1]
    return action


def _check_interface(name: str, index: int) -> None:
    if len(name) > 15:
        raise OptionError(f"interface name `{name}' must be shorter than IFNAMSIZ (15)", index)
    if not name:
        raise OptionError("empty interface name", index)


def parse_uncached(words: Sequence[str], family: Family, *, table: str | None = None,
                   loc: SourceLocation | None = None, restore: bool = False) -> _Parser:
    """Parse one invocation's words; the parser keeps where each value came from.

    Most callers want templates.parse_command, which reuses parses across similar lines.
    parser.result is the Command; its rule has no addresses yet (see parser.addresses).
    """
    parser = _Parser(list(words), family, table, loc, restore)
    try:
        parser.result = parser.parse()
    except OptionError as exc:
        raise parser.located(exc) from None
    if parser.rewritten:   # later errors (unknown chain …) point into the words as given
        cmd = parser.result
        for attr in ("chain_index", "rulenum_index", "target_index", "policy_index"):
            index = getattr(cmd, attr)
            if index is not None:
                setattr(cmd, attr, parser.origin[index][0])
        cmd.warnings = [(None if i is None else parser.origin[i][0], m) for i, m in cmd.warnings]
    return parser


def _short_bundle(word: str) -> list[tuple[str, int]] | None:
    """`-nvL`, `-tnat`, `-vjDROP` as getopt splits them: (word, offset in the original)
    pairs, or None when a letter is not an iptables option."""
    out: list[tuple[str, int]] = []
    for k in range(1, len(word)):
        flag = "-" + word[k]
        if flag not in _COMMANDS and flag not in _PARAMS:
            return None
        out.append((flag, k if k > 1 else 0))
        if word[k] in _SHORT_VALUE or word[k] in _SHORT_OPTIONAL_VALUE:
            if k + 1 < len(word):
                out.append((word[k + 1:], k + 1))
            return out
    return out


_STRTOUL = re.compile(r"\s*\+?(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))\Z")


def _rule_number(text: str) -> int | None:
    """A rule number as iptables 1.8.9 reads it (strtoul, base 0: 0x10 is 16, 010 is 8,
    leading blanks and `+' taken); None unless 1 to INT_MAX."""
    found = _STRTOUL.match(text)
    if found is None:
        return None
    hexa, octal, decimal = found.groups()
    value = int(hexa, 16) if hexa else int(octal, 8) if octal else int(decimal)
    return value if 1 <= value <= 0x7FFFFFFF else None
