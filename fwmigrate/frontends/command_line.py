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

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import mappings
from ..errors import OptionError, lookalike_dash_hint
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
from .command_flags import (
    BASE_LONG,
    COMMANDS,
    LEGAL_WITH,
    NO_IN,
    NO_OUT,
    PARAMS,
    RULE_ACTIONS,
    SHORT_OPTIONAL_VALUE,
    SHORT_VALUE,
    VERDICTS,
    rule_number,
    short_bundle,
    short_letter,
)
from .command_params import ParameterOptions
from .extensions import ExtensionOptions, _implicit_spec, _Loaded
from .kernel_checks import check_rule


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


class _Parser(ParameterOptions, ExtensionOptions):
    def located(self, exc: OptionError) -> OptionError:
        """The error with its word index (and offset) in the words as given."""
        if exc.index is None or exc.index >= len(self.origin):
            return exc
        source, offset = self.origin[exc.index]
        return OptionError(exc.message, source, exc.hint, exc.offset + offset, exc.unsupported)

    base_flags = frozenset(COMMANDS) | frozenset(PARAMS)

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
            raise OptionError(f"Cannot use -{short_letter(action)} with "
                              f"-{short_letter(self.cmd.action)}", i)
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
            if word in COMMANDS:
                i = self._command(COMMANDS[word], word, i)
                continue
            if word in PARAMS:
                i = self._param(PARAMS[word], word, i)
                continue
            if word.startswith("--") and self._find_owner(word) is None:
                resolved = self._resolve_long(word, i)
                if resolved is not None:
                    words[i] = resolved
                    if resolved in COMMANDS or resolved in PARAMS:
                        continue
                    i = self._extension_option(resolved, i)
                    continue
            if word.startswith("-") and len(word) > 2 and not word.startswith("--"):
                # bundled short options (-nvL), a value attached (-tnat, -AINPUT, -vjDROP)
                bundle = short_bundle(word)
                if bundle is not None:
                    if len(bundle) > 1 and bundle[-2][0][1] in SHORT_VALUE | \
                            SHORT_OPTIONAL_VALUE:
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
        candidates = {f for f in BASE_LONG if f.startswith(word)}
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
                cmd.rulenum = rule_number(num)
                cmd.rulenum_index = j
                if cmd.rulenum is None:
                    raise OptionError(f"Invalid rule number `{num}'", j)
                j += 1
            elif action == "replace":
                raise OptionError(f'option "{flag}" requires a rule number', j)
        if action == "policy":
            if self._optional(j) is None:       # iptables' xs_has_arg: `-P DROP`, `-P X -j`
                raise OptionError("-P requires a chain and a policy", j - 1,
                                  hint="e.g. -P INPUT DROP")
            cmd.policy = self.words[j]
            cmd.policy_index = j
            j += 1
        elif action == "rename-chain":
            cmd.new_name = self._take(j, flag)
            if cmd.new_name[:1] in ("-", "!"):
                raise OptionError("-E requires old-chain-name and new-chain-name", j)
            j += 1
        return j


    def _finish(self) -> Command:
        cmd = self.cmd
        if not cmd.action:
            raise OptionError("no command specified", None,
                              hint="e.g. -A CHAIN, -I CHAIN, -N CHAIN, -P CHAIN POLICY")
        rule = cmd.action in RULE_ACTIONS and not (cmd.action == "delete" and cmd.rulenum)
        kind = cmd.action if rule or cmd.action != "delete" else "delete-number"
        illegal = [i for name, i in self.seen.items()
                   if kind not in LEGAL_WITH.get(name, (kind,))
                   and not (self.listing and "list" in LEGAL_WITH[name])]
        if self.fragment is not None and not rule:
            illegal.append(self.words.index("-f") if "-f" in self.words else 0)
        if illegal:
            first = min(illegal)
            raise OptionError(f"Illegal option `{self.words[first]}' with this command", first)
        if not rule:
            return cmd                  # matches are taken, and ignored (as iptables does)
        # iptables checks the chain name only, whatever the table
        if cmd.chain in NO_OUT and self.iface_out is not None:
            raise OptionError(f"Can't use -o with {cmd.chain}", self.seen["out-interface"])
        if cmd.chain in NO_IN and self.iface_in is not None:
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

