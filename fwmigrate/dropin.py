"""Drop-in replacements for iptables-translate and iptables-restore-translate.

Same arguments and output shape as the reference tools (`nft 'add rule ip filter INPUT …'`,
tables and chains named as iptables-nft names them, a counter on every rule), so existing
tooling can switch; but what the reference leaves as a comment (recent, …) is translated,
and what cannot be translated exactly is an error rather than a silent comment.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from . import __version__, mappings
from .backends import nft_text
from .backends.nft_ast import NftRule
from .backends.nft_depth import jump_depth_problems
from .backends.nft_ipsets import NO_IPSETS_HINT
from .backends.nft_translate import NftOptions, Untranslatable, translate
from .errors import Diagnostic, Diagnostics, FwmigrateError, OptionError, undecodable_byte
from .frontends.command_line import Command
from .frontends.ipset_save import read_ipsets
from .frontends.kernel_checks import hook_violations
from .frontends.save_file import read_save
from .frontends.templates import parse_command
from .ir import Chain, Family, Jump, Ruleset, SourceLocation, Table

_OPTIONS = NftOptions(counters=True, scheme="iptables-nft")
_ONE_COMMAND_IPSETS = ("an ipset's type and members come from `ipset save`: use `fwmigrate "
                       "restore-translate -f RULES --ipsets FILE` or `fwmigrate convert RULES "
                       "--ipsets FILE`")


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def translate_command(args: list[str], family: Family, warnings: list | None = None) -> list[str]:
    """One iptables invocation → the nft command lines that do the same; `warnings` receives
    what the caller should tell the user beside them."""
    for word in args:
        bad = undecodable_byte(word)
        if bad is not None:
            shown = word.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise FwmigrateError([Diagnostic(None, f"{bad[1]} (at `{shown}')", hint=bad[2])])
    try:
        cmd = parse_command(list(args), family, loc=SourceLocation("<command line>", 1))
    except OptionError as exc:
        known = exc.index is not None and exc.index < len(args)
        where = f" (at `{args[exc.index]}')" if known else ""
        raise FwmigrateError([Diagnostic(None, exc.message + where, hint=exc.hint)]) from None
    where = f"{family} {cmd.table}"
    handler = _COMMANDS.get(cmd.action)
    if handler is None:
        raise FwmigrateError([Diagnostic(None, _REFUSED.get(
            cmd.action, f"-{cmd.action} has no nft translation"))])
    if warnings is not None and cmd.action == "insert" and cmd.rulenum and cmd.rulenum > 1:
        warnings.append(_index_warning(cmd, where))
    return ["nft " + _shell_quote(line) for line in handler(cmd, where)]


def _index_warning(cmd: Command, where: str) -> str:
    """nft's index counts the chain's nft rules, iptables' number its rules: the same only
    while each rule before is one nft rule, which this one command cannot see."""
    return (f"`index {cmd.rulenum - 1}` counts nft rules: it is iptables' place {cmd.rulenum} "
            "while each rule before it in the chain is one nft rule, as iptables-nft writes "
            "them; fwmigrate writes some iptables rules as two (a conntrack test split in two, "
            "hashlimit, TPROXY). Check the place with "
            f"`nft -a list chain {where} {cmd.chain}`, or insert by handle "
            "(`nft insert rule … position HANDLE …`)")


def _rules(cmd: Command, verb: str) -> list[str]:
    # a one-rule ruleset: the chain the rule is in, and the chains it jumps to
    jumps = {r.target.chain for r in cmd.rules if isinstance(r.target, Jump)}
    builtin = mappings.iptables_tables()[cmd.table]
    chains = [Chain(cmd.chain, cmd.rules, "ACCEPT" if cmd.chain in builtin else None)]
    chains += [Chain(name) for name in sorted(jumps - {cmd.chain})]
    ruleset = Ruleset((Table(cmd.family, cmd.table, tuple(chains)),))
    # what the kernel refuses from a built-in chain's hook (-m owner in INPUT): iptables would
    # fail to add the rule. A user chain's hooks depend on jumps this one command cannot show.
    refused = hook_violations(ruleset.tables[0])
    if refused:
        raise FwmigrateError([Diagnostic(None, message) for _rule, message in refused])
    try:
        translation = translate(ruleset, _OPTIONS)
    except Untranslatable as exc:
        raise FwmigrateError([Diagnostic(None, exc.message, hint=exc.hint)]) from None
    if translation.problems:
        # one command has no --ipsets of its own: say where the sets can be given
        raise FwmigrateError([replace(p, hint=_ONE_COMMAND_IPSETS) if p.hint == NO_IPSETS_HINT
                              else p for p in translation.problems])
    table = translation.ruleset.tables[0]
    lines = [f"add set {cmd.family} {cmd.table} {s.name} {nft_text._set_spec(s)}"
             for s in table.sets]
    position = ""
    if verb == "insert" and cmd.rulenum and cmd.rulenum > 1:
        position = f" index {cmd.rulenum - 1}"
    chain = table.chains[0]
    for rule in chain.rules:
        line = _rule_line(verb, f"{cmd.family} {cmd.table}", chain.name, rule, position)
        if rule.companion and verb == "insert":
            # inserted at the same place, it must go in first to end up after its rule
            lines.insert(len(lines) - 1, line)
        else:
            lines.append(line)
    return lines


def _rule_line(verb: str, where: str, chain: str, rule: NftRule, position: str) -> str:
    try:
        return nft_text.rule_command(verb, where, chain, rule, position)
    except nft_text.Unwritable as exc:
        raise FwmigrateError([Diagnostic(None, str(exc))]) from None


def _refuse(message: str) -> list[str]:
    raise FwmigrateError([Diagnostic(None, message)])


def _policy(cmd: Command, where: str) -> list[str]:
    spec = mappings.base_chain(cmd.table, cmd.chain)
    return [f"add chain {where} {cmd.chain} {{ type {spec.type} hook {spec.hook} priority "
            f"{spec.priority}; policy {cmd.policy.lower()}; }}"]


_COMMANDS = {
    "append": lambda c, w: _rules(c, "add"),
    "insert": lambda c, w: _rules(c, "insert"),
    "new-chain": lambda c, w: [f"add chain {w} {c.chain}"],
    "policy": _policy,
    "flush": lambda c, w: [f"flush chain {w} {c.chain}" if c.chain else f"flush table {w}"],
    "delete-chain": lambda c, w: [f"delete chain {w} {c.chain}"] if c.chain else _refuse(
        "-X without a chain deletes every user chain, which only the running ruleset knows; "
        "name the chains"),
    "rename-chain": lambda c, w: [f"rename chain {w} {c.chain} {c.new_name}"],
    "list": lambda c, w: [f"list chain {w} {c.chain}" if c.chain else f"list table {w}"],
    "list-rules": lambda c, w: [f"list chain {w} {c.chain}" if c.chain else f"list table {w}"],
}
_REFUSED = {
    "delete": "nft deletes a rule by its handle, which only the running ruleset knows; find it "
              "with `nft -a list chain …` and run `nft delete rule … handle N`",
    "replace": "nft replaces a rule by its handle, which only the running ruleset knows; find "
               "it with `nft -a list chain …` and run `nft replace rule … handle N …`",
    "zero": "nft 1.0.6 cannot reset rule counters by chain; `nft reset counters` resets named "
            "counters only",
    "check": "nft has no rule check; compare `nft list chain …` instead",
}


def restore_translate(text: str, filename: str, family: Family | None,
                      ipsets: tuple[str, str] | None = None, keep: list | None = None) -> str:
    """An iptables-save file → `add table/chain/set/rule` lines that `nft -f` loads.

    `ipsets`: (text, file name) of `ipset save` output for the sets the rules name. `keep`
    receives the models built on the way, for a caller that exits right after (freeing them
    object by object is a tenth of a second on 100,000 rules)."""
    diags = Diagnostics()
    ruleset = read_save(text, filename, diags, family)
    if ipsets is not None:
        ruleset = replace(ruleset, ipsets=read_ipsets(*ipsets, diags))
    diags.raise_if_errors()
    try:
        translation = translate(ruleset, _OPTIONS)
    except Untranslatable as exc:
        raise FwmigrateError([Diagnostic(None, exc.message, hint=exc.hint)]) from None
    if translation.problems:
        raise FwmigrateError(translation.problems)
    too_deep = jump_depth_problems(translation.ruleset)
    if too_deep:
        raise FwmigrateError(too_deep)
    if keep is not None:
        keep += (diags, ruleset, translation)
    stamp = datetime.now(UTC).strftime("%a %b %d %H:%M:%S %Y")
    out = nft_text.render_commands(translation.ruleset,
                                   f"# Translated by fwmigrate {__version__} restore-translate "
                                   f"on {stamp}")
    if out.problems:
        raise FwmigrateError(out.problems)
    return out.text
