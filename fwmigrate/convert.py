"""The conversion pipeline as a library call: input text → IR → the chosen output text.

Nothing is returned unless the whole input was read and translated exactly, or the caller
asked for partial output; every problem found is in the raised FwmigrateError.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .backends import iptables_save, nft_text
from .backends.nft_depth import jump_depth_problems
from .backends.nft_translate import (
    NftOptions,
    Translation,
    Untranslatable,
    check_table_name,
    translate,
)
from .errors import Diagnostic, Diagnostics, FwmigrateError
from .frontends import detect_kind, read_ruleset
from .frontends.ipset_save import read_ipsets
from .ir import Ruleset, SourceLocation

TARGETS = ("nft", "nft-json", "iptables-restore")


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    to: str = "nft"
    source_kind: str = "auto"        # auto, script, save
    family: str | None = None        # ip, ip6, inet (nft) / ip, ip6 (iptables-restore)
    table: str = "fwmigrate"
    counters: bool = False
    approximate: bool = False
    allow_partial: bool = False
    flush_ruleset: bool = False
    skip_unknown: bool = False
    variables: tuple[tuple[str, str], ...] = ()
    recent_list_size: int | None = None   # None: the default (backends/nft_recent.py)
    ipsets: tuple[str, str] | None = None    # (text, file name) of `ipset save` output


@dataclass(slots=True)
class ConvertResult:
    output: str
    ruleset: Ruleset
    warnings: list[Diagnostic] = field(default_factory=list)   # warnings and notes
    untranslated: list[Diagnostic] = field(default_factory=list)
    approximations: list[Diagnostic] = field(default_factory=list)


def read(text: str, filename: str, options: ConvertOptions) -> tuple[Ruleset, Diagnostics]:
    diags = Diagnostics()
    ipsets = read_ipsets(*options.ipsets, diags) if options.ipsets is not None else ()
    ruleset = read_ruleset(text, filename, diags, kind=options.source_kind,
                           default_family=options.family if options.family in ("ip", "ip6")
                           else None,
                           skip_unknown=options.skip_unknown, variables=dict(options.variables),
                           ipsets=ipsets)
    diags.raise_if_errors()
    return ruleset, diags


def translate_input(text: str, filename: str,
                    options: ConvertOptions) -> tuple[Ruleset, Translation, Diagnostics]:
    """Read and translate to the nft model; raises unless every rule is exact (or allowed)."""
    ruleset, diags = read(text, filename, options)
    problem = check_table_name(options.table)
    if problem:
        raise FwmigrateError([Diagnostic(None, problem, hint="choose another --table")])
    if options.recent_list_size is not None and not 0 < options.recent_list_size < 2**32:
        raise FwmigrateError([Diagnostic(None, f"--recent-list-size {options.recent_list_size}"
                                               ": a set holds 1 to 4294967295 elements")])
    try:
        translation = translate(ruleset, NftOptions(
            table=options.table, family=options.family, counters=options.counters,
            approximate=options.approximate, recent_list_size=options.recent_list_size))
    except Untranslatable as exc:
        raise FwmigrateError([Diagnostic(None, exc.message, hint=exc.hint)]) from None
    if translation.problems and not options.allow_partial:
        raise FwmigrateError(translation.problems)
    too_deep = jump_depth_problems(translation.ruleset)
    if too_deep:
        raise FwmigrateError(too_deep)
    return ruleset, translation, diags


def convert(text: str, filename: str, options: ConvertOptions) -> ConvertResult:
    if options.to == "iptables-restore":
        ruleset, diags = read(text, filename, options)
        kind = options.source_kind if options.source_kind != "auto" else detect_kind(text)
        return ConvertResult(_restore_text(ruleset, kind, options), ruleset, diags.warnings)
    if options.to not in ("nft", "nft-json"):
        raise FwmigrateError([Diagnostic(None, f"unknown output format {options.to!r}")])
    ruleset, translation, diags = translate_input(text, filename, options)
    if options.to == "nft-json":
        text, render_notes = _json_text(translation.ruleset, options)
    else:
        text, render_notes = nft_file(translation, filename, options)
    warnings = diags.warnings + [Diagnostic(None, n, "note") for n in translation.notes
                                 + render_notes]
    return ConvertResult(text, ruleset, warnings,
                         [Diagnostic(p.loc, p.message, "warning", p.hint)
                          for p in translation.problems],
                         translation.approximations)


def nft_file(translation: Translation, filename: str,
             options: ConvertOptions) -> tuple[str, list[str]]:
    """The `nft -f` text of a translation, with approximations and gaps in its header."""
    notes = [f"APPROXIMATED: {a.loc}: {a.message}" for a in translation.approximations]
    notes += [f"NOT TRANSLATED: {p.loc}: {p.message}" for p in translation.problems]
    rendered = nft_text.render(translation.ruleset, source=filename,
                               flush_ruleset=options.flush_ruleset, header_notes=notes)
    if rendered.problems:
        raise FwmigrateError(rendered.problems)
    return rendered.text, rendered.notes


def _json_text(model, options: ConvertOptions) -> tuple[str, list[str]]:
    import json

    from .backends import nft_json  # only --to nft-json needs it (shorter start for others)
    try:
        batch = nft_json.commands(model, flush_ruleset=options.flush_ruleset)
    except nft_json.Unrepresentable as exc:
        raise FwmigrateError([Diagnostic(loc, f"nft's JSON cannot express {what}",
                                         hint="use --to nft")
                              for loc, what in exc.rules or ((None, exc.what),)]) from None
    # one command per line: readable, diffable, and still one JSON document for `nft -j -f`
    lines = ",\n  ".join(json.dumps(cmd) for cmd in batch["nftables"])
    return '{"nftables": [\n  ' + lines + "\n]}\n", []


def _second_family_start(ruleset: Ruleset) -> SourceLocation | None:
    """Where the family met second in the input starts: its first rule or chain command."""
    def place(loc: SourceLocation) -> tuple[int, int]:
        return loc.line, loc.col
    first: dict[str, SourceLocation] = {}
    for table in ruleset.tables:
        for chain in table.chains:
            for loc in (chain.loc, *(rule.loc for rule in chain.rules)):
                if loc is not None:
                    known = first.get(table.family)
                    first[table.family] = loc if known is None else min(known, loc, key=place)
    return max(first.values(), key=place) if len(first) > 1 else None


def _restore_text(ruleset: Ruleset, kind: str, options: ConvertOptions) -> str:
    families = ruleset.families
    family = options.family
    if family == "inet":
        raise FwmigrateError([Diagnostic(None, "iptables-restore has no inet family",
                                         hint="use --family ip or --family ip6")])
    if family is None and len(families) > 1:
        raise FwmigrateError([Diagnostic(_second_family_start(ruleset),
                                         "the input has IPv4 and IPv6 rules, and one "
                                         "iptables-restore file holds only one family",
                                         hint="run twice, with --family ip and --family ip6")])
    if family is not None and family not in families:
        raise FwmigrateError([Diagnostic(None, f"the input has no {family} rules")])
    # a save file keeps its table order; a script's tables come in iptables-nft-save's order
    return iptables_save.render(ruleset, family, keep_order=kind == "save")
