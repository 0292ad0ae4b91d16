"""nft model (nft_ast) → a file for `nft -f`, or `add …` commands (restore-translate); each
rule's text comes from nft_text_rules.

The file replaces only its own tables (`table X` + `delete table X` + the new `table X { … }`,
all in one transaction), unless flush_ruleset is asked for. Strings are written so that no
comment, log prefix or interface name can change the syntax around it: nft 1.0.6 has no escape
inside "…", so a string with `"` or a newline cannot be written and is reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import __version__, mappings
from ..errors import Diagnostic
from ..ir import SourceLocation
from .nft_ast import (
    NftChain,
    NftRule,
    NftRuleset,
    NftSet,
    NftTable,
)
from .nft_text_rules import Unwritable, comment_text, expr_text, quoted, rule_text


@dataclass(slots=True)
class TextOutput:
    text: str
    problems: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _priority(base) -> str:
    name = mappings.priority_names().get(base.priority)
    # nft accepts some standard priority names only on some hooks
    only_on = mappings.load("chains")["priority_name_hooks"].get(name or "")
    if only_on is not None and (base.type != "nat" or base.hook not in only_on):
        name = None
    return name or str(base.priority)


class _Writer:
    def __init__(self) -> None:
        self.out = TextOutput("")
        self.cache: dict[int, tuple] = {}

    def problem(self, loc: SourceLocation | None, message: str) -> None:
        self.out.problems.append(Diagnostic(loc, message, "error",
                                            "use --to nft-json, which can hold any string"))

    def set_lines(self, s: NftSet) -> list[str]:
        flags = ["dynamic"] if s.dynamic else []
        if s.timeout is not None:
            flags.append("timeout")
        lines = []
        if s.comment:
            lines.append(f"\t# {s.comment}")
        if s.interval:
            flags.append("interval")
        lines.append(f"\tset {s.name} {{")
        lines.append(f"\t\ttype {s.type}")
        if s.size is not None:
            lines.append(f"\t\tsize {s.size}")
        if flags:
            lines.append(f"\t\tflags {','.join(flags)}")
        if s.timeout is not None:
            lines.append(f"\t\ttimeout {s.timeout}s")
        if s.counter:
            lines.append("\t\tcounter")
        if s.ipset and '"' not in ipset_comment(s):
            lines.append(f"\t\tcomment {quoted(ipset_comment(s))}")
        if s.elements:
            try:
                items = [expr_text(e) for e in s.elements]
            except Unwritable as exc:
                self.problem(None, f"set {s.name}: {exc}")
                items = []
            # a long list (a blocklist) reads and diffs better one member per line
            sep = ",\n\t\t\t     " if sum(len(i) + 2 for i in items) > 72 else ", "
            lines.append("\t\telements = { " + sep.join(items) + " }")
        lines.append("\t}")
        return lines

    def chain_lines(self, chain: NftChain) -> list[str]:
        lines = []
        if chain.comment:
            lines.append(f"\t# {chain.comment}")
        lines.append(f"\tchain {chain.name} {{")
        if chain.base:
            b = chain.base
            lines.append(f"\t\ttype {b.type} hook {b.hook} priority {_priority(b)}; "
                         f"policy {b.policy};")
        for rule in chain.rules:
            if rule.untranslated is not None:
                lines.append(f"\t\t# NOT TRANSLATED ({rule.comment}): {rule.untranslated}")
                continue
            try:
                lines.append("\t\t" + rule_text(rule, self.cache))
            except Unwritable as exc:
                self.problem(rule.loc, str(exc))
                continue
            if rule.comment and comment_text(rule.comment) != rule.comment:
                self.out.notes.append(f"{rule.loc}: the comment's double quotes or newlines "
                                      "are written as single quotes and spaces")
        lines.append("\t}")
        return lines

    def table_lines(self, table: NftTable) -> list[str]:
        lines = [f"table {table.family} {table.name} {{"]
        for s in table.sets:
            lines += self.set_lines(s)
        for chain in table.chains:
            lines += self.chain_lines(chain)
        lines.append("}")
        return lines


def render(ruleset: NftRuleset, *, source: str = "-", flush_ruleset: bool = False,
           header_notes: list[str] | None = None) -> TextOutput:
    writer = _Writer()
    lines = ["#!/usr/sbin/nft -f", f"# Translated by fwmigrate {__version__} from {source}"]
    for note in list(ruleset.notes) + list(header_notes or []):
        lines += [f"# {line}" for line in note.split("\n")]
    if flush_ruleset:
        lines.append("# Replaces the whole ruleset (--flush-ruleset).")
        lines += ["", "flush ruleset"]
    else:
        names = ", ".join(f"{t.family} {t.name}" for t in ruleset.tables)
        lines.append(f"# Replaces only table {names}; other tables (e.g. Docker's) stay as "
                     "they are.")
        lines.append("")
        for table in ruleset.tables:
            # create-if-missing, then delete: the new table below replaces it in one transaction
            lines.append(f"table {table.family} {table.name}")
            lines.append(f"delete table {table.family} {table.name}")
    for table in ruleset.tables:
        lines.append("")
        lines += writer.table_lines(table)
    writer.out.text = "\n".join(lines) + "\n"
    return writer.out


def ipset_comment(s: NftSet) -> str:
    return f"ipset {s.ipset[0]} {s.ipset[1]}"


def _set_spec(s: NftSet) -> str:
    parts = [f"type {s.type}"] + ([f"size {s.size}"] if s.size is not None else [])
    flags = (["dynamic"] if s.dynamic else []) + (["timeout"] if s.timeout is not None else []) \
        + (["interval"] if s.interval else [])
    if flags:
        parts.append(f"flags {','.join(flags)}")
    if s.timeout is not None:
        parts.append(f"timeout {s.timeout}s")
    if s.counter:
        parts.append("counter")
    if s.ipset and '"' not in ipset_comment(s):
        parts.append(f"comment {quoted(ipset_comment(s))}")
    if s.elements:
        parts.append("elements = { " + ", ".join(expr_text(e) for e in s.elements) + " }")
    return "{ " + "; ".join(parts) + "; }"


def table_commands(table: NftTable, declare_chains: bool = True,
                   cache: dict | None = None) -> list[str]:
    """One table as `add …` commands, the form iptables-restore-translate prints."""
    where = f"{table.family} {table.name}"
    lines = [f"add table {where}"]
    if declare_chains:
        for chain in table.chains:
            lines.append(chain_command(where, chain))
    for s in table.sets:
        lines.append(f"add set {where} {s.name} {_set_spec(s)}")
    for chain in table.chains:
        head = f"add rule {where} {chain.name} "       # rule_command's, once per chain
        lines += [head + rule_text(rule, cache) if rule.untranslated is None
                  else rule_command("add", where, chain.name, rule) for rule in chain.rules]
    return lines


def chain_command(where: str, chain: NftChain) -> str:
    if chain.base is None:
        return f"add chain {where} {chain.name}"
    b = chain.base
    return (f"add chain {where} {chain.name} {{ type {b.type} hook {b.hook} priority "
            f"{b.priority}; policy {b.policy}; }}")


def rule_command(verb: str, where: str, chain: str, rule: NftRule, position: str = "",
                 cache: dict | None = None) -> str:
    if rule.untranslated is not None:
        return f"# NOT TRANSLATED ({rule.comment}): {rule.untranslated}"
    return f"{verb} rule {where} {chain}{position} {rule_text(rule, cache)}"


def render_commands(ruleset: NftRuleset, header: str) -> TextOutput:
    writer = _Writer()
    lines = [header] + [f"# {line}" for n in ruleset.notes for line in n.split("\n")]
    for table in ruleset.tables:
        try:
            lines += table_commands(table, cache=writer.cache)
        except Unwritable as exc:
            writer.problem(None, str(exc))
    lines.append("")        # the final newline, without copying the whole text once more
    writer.out.text = "\n".join(lines)
    return writer.out
