"""Shell scripts of iptables commands → IR, by evaluating them statically (never executing).

Variables, `for … in` loops, `&&`/`||` and the iptables commands themselves are evaluated in
order against an in-memory ruleset. Everything else is either known to be harmless (modprobe,
echo, sysctl …: skipped with a note) or cannot be known without running the script (`$(…)`,
`if`, functions, the script's arguments): an error naming the line, or, with skip_unknown, a
warning (the user then knows which rules may be missing).
"""

from __future__ import annotations

import os
from dataclasses import replace

from .. import mappings
from ..errors import Diagnostics, OptionError, undecodable_byte
from ..ir import IpSet, Ruleset
from .ipset_save import IpsetReplay
from .kernel_checks import hook_violations, missing_ipsets
from .nfacct_objects import missing_nfacct_objects, nfacct_command
from .ruleset_model import CommandError, RulesetModel
from .script_ipset import ipset_command
from .shell_expand import Field, ShellExpansion, _Unknowable
from .shell_lexer import character_name
from .shell_syntax import (
    AndOr,
    ForLoop,
    Pipeline,
    Positions,
    Simple,
    Unsupported,
    parse_script,
)
from .templates import parse_command

_DECLARATIONS = ("export", "readonly", "declare", "typeset", "local")


class _Exit(Exception):
    """`exit` in the script: nothing after it runs."""


# Loop bodies a script may run in all: nested loops over long lists (or a list built up
# without end) would otherwise keep fwmigrate busy for hours.
MAX_LOOP_RUNS = 1_000_000


class ShellEvaluator(ShellExpansion):
    def __init__(self, text: str, filename: str, diags: Diagnostics, *,
                 skip_unknown: bool = False, variables: dict[str, str] | None = None,
                 ipsets: tuple[IpSet, ...] = ()):
        self.text = text
        self.filename = filename
        self.diags = diags
        self.skip_unknown = skip_unknown
        self.vars: dict[str, str] = dict(variables or {})
        self.arrays: dict[str, list[str]] = {}
        # variables assigned a value only running the script would give: line, reason
        self.unknowable_vars: dict[str, tuple[int, str]] = {}
        self.model = RulesetModel(filename)
        # the sets: what --ipsets says the kernel has, then what the script's ipset lines do
        self.ipsets = IpsetReplay(ipsets)
        self.nfacct_names: set[str] = set()     # `nfacct add` (frontends/nfacct_objects.py)
        self.iptables_commands = 0
        self.exec_pos: int | None = None    # `exec CMD` seen in the command being run
        self.loop_runs = 0          # loop bodies run so far, against MAX_LOOP_RUNS
        # `set -e` (or `#!/bin/sh -e`): a failing command ends the script, silenced or not
        first = text.split("\n", 1)[0]
        self.errexit = first.startswith("#!") and any(
            w.startswith("-") and "e" in w for w in first.split()[1:])
        # `set -f` (or `#!/bin/sh -f`): no pathname expansion, so `FW*` is text
        self.noglob = first.startswith("#!") and any(
            w.startswith("-") and w[1:].isalpha() and "f" in w for w in first.split()[1:])
        self.braces = _brace_expansion(first)
        self.positions = Positions(filename, text)
        self.shell = mappings.shell()
        diags.lines.setdefault(filename, text.split("\n"))

    def loc(self, pos: int):
        return self.positions.loc(pos)

    def run(self) -> Ruleset:
        try:
            tree = parse_script(self.text)
        except OptionError as exc:
            self.diags.error(self.loc(exc.offset), exc.message, exc.hint)
            return self.model.freeze()
        try:
            self.run_list(tree)
        except _Exit as stop:
            self.diags.note(self.loc(int(str(stop))), "the script exits here; what follows is "
                            "not evaluated")
        ruleset = replace(self.model.freeze(), ipsets=self.ipsets.result())
        for table in ruleset.tables:
            for rule, message in hook_violations(table):
                self.diags.error(rule.loc, message)
        for rule, message in missing_ipsets(ruleset):
            self.diags.error(rule.loc, message, "create it in the script before the rule, or "
                             "give the sets the kernel has with --ipsets FILE")
        for rule, message in missing_nfacct_objects(ruleset, self.nfacct_names):
            self.diags.error(rule.loc, message, "create it in the script: nfacct add NAME")
        if not self.iptables_commands and not self.diags.errors:
            self.diags.error(self.loc(0), "no iptables commands found in the script",
                             hint="give a shell script of iptables/ip6tables commands or an "
                                  "iptables-save file")
        return ruleset

    def run_list(self, commands: list) -> bool:
        status = True
        for node in commands:
            status = self.run_and_or(node)
        return status

    def run_and_or(self, node: AndOr) -> bool:
        # the script tests the status of every command but the last of `a && b || c`, and of
        # all of them after `!`: their failure is expected (bash's errexit ignores it too)
        last = len(node.items) - 1
        status = self.run_pipeline(node.items[0], handled=node.negated or last > 0)
        for k, op in enumerate(node.ops):
            nxt = node.items[k + 1]
            if (op == "&&" and status) or (op == "||" and not status):
                status = self.run_pipeline(nxt, handled=node.negated or k + 1 < last)
        return not status if node.negated else status

    def run_pipeline(self, node: Pipeline, handled: bool) -> bool:
        status = True
        for command in node.commands:
            status = self.run_command(command, handled)
        return status

    def run_command(self, node, handled: bool) -> bool:
        if isinstance(node, Simple):
            return self.run_simple(node, handled)
        if isinstance(node, ForLoop):
            return self.run_for(node)
        if isinstance(node, Unsupported):
            self.unknown(node.pos, f"cannot evaluate {node.what} without running the script",
                         "write the iptables commands it would run out as plain lines, or pass "
                         "--skip-unknown to skip it (its rules will then be missing)")
            return True
        raise AssertionError(node)

    def unknown(self, pos: int, message: str, hint: str | None = None) -> None:
        if self.skip_unknown:
            self.diags.warning(self.loc(pos), message + "; skipped (--skip-unknown)")
        else:
            self.diags.error(self.loc(pos), message, hint)

    def run_for(self, node: ForLoop) -> bool:
        try:
            items = [f.text for tok in node.items for f in self.expand(tok)]
        except _Unknowable as exc:
            self.unknown(exc.pos, exc.message, exc.hint)
            return True
        status = True
        for item in items:
            self.loop_runs += 1
            if self.loop_runs > MAX_LOOP_RUNS:
                if self.loop_runs > MAX_LOOP_RUNS + 1:
                    return False        # said once; the loops around it stop as well
                self.diags.error(self.loc(node.pos), f"the script's loops run more than "
                                 f"{MAX_LOOP_RUNS:,} times in all; fwmigrate stops following "
                                 "them", "so many rules would be slow in iptables too: "
                                 "put the addresses or ports in an ipset (a set in nft)")
                return False
            self.vars[node.var] = item
            status = self.run_list(node.body)
        return status

    # --- simple commands --------------------------------------------------------------------

    def run_simple(self, node: Simple, handled: bool) -> bool:
        self.exec_pos = None
        status = self._simple(node, handled)
        if self.exec_pos is not None:
            raise _Exit(str(self.exec_pos))     # `exec CMD`: the shell is gone once CMD ends
        return status

    def _simple(self, node: Simple, handled: bool) -> bool:
        if not node.words:
            for tok in node.assignments:
                self.assign(tok)
            return True
        fields: list[Field] = []
        unknowable = None
        for tok in node.words:
            try:
                fields.extend(self.expand(tok))
            except _Unknowable as exc:
                unknowable = exc
                break
        if unknowable is not None and not self.ignores_arguments(fields):
            self.unknown(unknowable.pos, unknowable.message, unknowable.hint)
            return True
        if os.path.basename(fields[0].text) == "command" and len(fields) > 1 \
                and fields[1].text in ("-v", "-V"):
            return True                       # `command -v iptables`: a lookup, nothing runs
        fields = self.strip_wrappers(fields, evaluating=True)
        if not fields:
            return True
        program = os.path.basename(fields[0].text)
        families = self.shell["iptables_programs"]
        handled = handled or (node.silenced and not self.errexit)
        if self.exec_pos is not None:
            handled = False         # the shell is gone: nothing after `exec` sees the status
        if program in families:
            self.iptables_commands += 1
            return self.run_iptables(families[program], fields, handled)
        if program == "set":
            self.set_options([f.text for f in fields[1:]])
        if program in _DECLARATIONS:
            for tok in node.words[1:]:
                if "=" in tok.text and not tok.text.startswith("-"):
                    self.assign(tok)
            return True
        if program == "exit":
            raise _Exit(str(fields[0].pos))
        if program in self.shell["harmless"]:
            line = self.text[self.text.rfind("\n", 0, node.pos) + 1:self.text.find("\n", node.pos)]
            if program == "modprobe" and any(f.text.startswith(tuple(self.shell["helper_modules"]))
                                             for f in fields[1:]):
                self.diags.warning(self.loc(fields[0].pos), "this loads a connection-tracking "
                                   "helper module, which the translated ruleset does not do",
                                   "list the module in /etc/modules-load.d/ (and assign the "
                                   "helper with a ct helper rule where the kernel requires it)")
                return True
            if program != "modprobe" and any(k in line for k in self.shell["kernel_settings"]):
                self.diags.warning(self.loc(fields[0].pos), "this line changes a kernel setting "
                                   "(IP forwarding or the like), which is not part of the "
                                   "ruleset; the translated ruleset does not do it",
                                   "keep it in /etc/sysctl.d/ so it survives the move")
                return True
            self.diags.note(self.loc(fields[0].pos), f"`{program}' does not change the firewall;"
                            " skipped")
            return True
        if program == "ipset":
            return ipset_command(self, fields, handled)
        if program == "nfacct":
            return nfacct_command(self, fields)
        if program in (".", "source"):
            sourced = " ".join(f.text for f in fields[1:2])
            self.unknown(fields[0].pos, f"`{program} {sourced}' runs the commands of another "
                         "file, which fwmigrate does not read",
                         "if that file only sets variables, give them with -D NAME=VALUE and "
                         "pass --skip-unknown to step over this line; otherwise paste its "
                         "commands into the script")
            return True
        if program in self.shell["refused"]:
            self.unknown(fields[0].pos, f"`{program}' changes the firewall in a way fwmigrate "
                         "cannot follow without running it",
                         "convert its input file directly (e.g. fwmigrate convert FILE)")
            return True
        invisible = next((ch for ch in program if not ch.isprintable() or ch == "\ufeff"),
                         None)
        if invisible is not None:
            self.unknown(fields[0].pos, f"unknown command `{program}': it contains "
                         f"{character_name(invisible)}, which the shell does not skip either",
                         "delete the character (editors show it as a space, or not at all)")
            return True
        self.unknown(fields[0].pos, f"unknown command `{fields[0].text}'",
                     "fwmigrate follows iptables commands, variables and for loops and runs "
                     "nothing else; if this command does not change the firewall, pass "
                     "--skip-unknown to step over it (a warning then)")
        return True

    def set_options(self, words: list[str]) -> None:
        """Follows errexit and noglob through `set -e`, `set +e`, `set -o errexit`, `set -eu`,
        `set -f`, `set -o noglob` …"""
        for k, word in enumerate(words):
            if word == "--":
                break                           # what follows are positional parameters
            if word in ("-o", "+o") and words[k + 1:k + 2] == ["errexit"]:
                self.errexit = word == "-o"
            elif word in ("-o", "+o") and words[k + 1:k + 2] == ["noglob"]:
                self.noglob = word == "-o"
            elif word[:1] in "-+" and word[1:].isalpha():
                if "e" in word:
                    self.errexit = word[0] == "-"
                if "f" in word:
                    self.noglob = word[0] == "-"

    def ignores_arguments(self, fields: list[Field]) -> bool:
        """Whether the command read so far is one whose arguments cannot change the firewall
        (`echo "… $UNSET"`, `export PATH="$PATH:…"`), so an unknowable argument is no error."""
        fields = self.strip_wrappers(fields)
        if not fields:
            return False
        program = os.path.basename(fields[0].text)
        return program in self.shell["harmless"] or program in _DECLARATIONS \
            or program == "exit"            # `exit $?`: the status changes no rule

    def strip_wrappers(self, fields: list[Field], evaluating: bool = False) -> list[Field]:
        """The command behind `sudo`, `env`, `exec` …; evaluating, an `exec` with a command
        after it is noted in exec_pos (the script ends after that command)."""
        wrappers = self.shell["wrappers"]
        while fields and os.path.basename(fields[0].text) in wrappers:
            if evaluating and fields[0].text == "exec" and len(fields) > 1:
                self.exec_pos = fields[0].pos
            fields = fields[1:]
            while fields and (fields[0].text.startswith("-") or "=" in fields[0].text):
                fields = fields[1:]
        return fields

    def run_iptables(self, family, fields: list[Field], handled: bool) -> bool:
        args = [f.text for f in fields[1:]]
        for field in fields[1:]:
            if (bad := undecodable_byte(field.text)) is not None:
                self.diags.error(self.loc(field.pos), bad[1], bad[2])
                return False
        cmd = None
        try:
            cmd = parse_command(args, family, loc=self.loc(fields[0].pos))
            self.model.apply(cmd)
        except (OptionError, CommandError) as exc:
            pos = fields[0].pos if exc.index is None else fields[min(exc.index + 1,
                                                                      len(fields) - 1)].pos
            if isinstance(exc, OptionError):
                pos += exc.offset
            unsupported = getattr(exc, "unsupported", False)   # fwmigrate cannot tell
            checking = cmd is not None and cmd.action == "check" and not unsupported
            if handled and not unsupported:
                self.diags.note(self.loc(pos), f"iptables would fail here ({exc.message}); the "
                                "script handles the failure")
            elif not (checking and not self.errexit):
                # -C only reports, but under set -e its failure ends the script
                hint = "under set -e the script stops here; check with `iptables -C … || …'" \
                    if checking else exc.hint
                self.diags.error(self.loc(pos), exc.message, hint)
            return False
        for index, message in cmd.warnings:
            pos = fields[index + 1].pos if index is not None and index + 1 < len(fields) \
                else fields[0].pos
            self.diags.warning(self.loc(pos), message)
        return True


def _brace_expansion(first_line: str) -> bool | None:
    """Whether the shell the `#!` line names expands `{a,b}`: bash, ksh and zsh do, dash, ash
    and busybox do not; /bin/sh is dash on Debian and bash elsewhere, and a script without
    the line runs in whatever shell starts it (None: unknown)."""
    if not first_line.startswith("#!"):
        return None
    words = first_line[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    shell = os.path.basename(words[0]) if words else ""
    if shell in ("bash", "ksh", "ksh93", "mksh", "zsh"):
        return True
    if shell in ("dash", "ash", "busybox"):
        return False
    return None


def read_script(text: str, filename: str, diags: Diagnostics, *, skip_unknown: bool = False,
                variables: dict[str, str] | None = None,
                ipsets: tuple[IpSet, ...] = ()) -> Ruleset:
    return ShellEvaluator(text, filename, diags, skip_unknown=skip_unknown,
                          variables=variables, ipsets=ipsets).run()
