"""Builds, for every (module, flag) of mappings/matches.toml and targets.toml, a rule that uses
the flag and the rules that differ from it only there (another value, the option left out, `!`
before it), and what fwmigrate makes of each (IR, nft text, iptables-save text). The data a
rule needs lives in tests/option_coverage.toml; tests/test_option_coverage.py asserts."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fwmigrate import mappings
from fwmigrate.convert import ConvertOptions, convert, read
from fwmigrate.dropin import translate_command
from fwmigrate.errors import FwmigrateError
from fwmigrate.frontends import templates
from fwmigrate.mappings import ExtensionSpec, OptionSpec

DATA = tomllib.loads((Path(__file__).parent / "option_coverage.toml").read_text())


@dataclass(frozen=True)
class Pair:
    kind: str                 # "match" or "target"
    ext: ExtensionSpec
    opt: OptionSpec
    flag: str

    @property
    def key(self) -> str:
        return f"{self.ext.name} {self.flag}"

    def __str__(self) -> str:
        return self.key


def pairs() -> list[Pair]:
    out = []
    for kind, specs in (("match", mappings.match_specs()), ("target", mappings.target_specs())):
        for ext in specs.values():
            for opt in ext.options:
                out.extend(Pair(kind, ext, opt, flag) for flag in opt.flags)
    return out


def _for_family(value, family: str):
    return value[family] if isinstance(value, dict) else value


def context(pair: Pair, family: str) -> dict:
    """The module's entry with the option's own entry over it, for one family."""
    merged = dict(DATA.get(pair.kind, {}).get(pair.ext.name, {}))
    merged.update(DATA.get("option", {}).get(pair.key, {}))
    return {k: _for_family(v, family) for k, v in merged.items()}


def example_values(pair: Pair, family: str) -> list[list[str]]:
    """The option's example values as words (an option without an argument: one, empty)."""
    if pair.opt.nargs == 0:
        return [[]]
    ctx = context(pair, family)
    values = ctx.get("values")
    if values is None:
        values = _for_family(DATA["values"].get(pair.opt.value), family)
    if values is None:
        raise LookupError(f"no example values for value kind `{pair.opt.value}' ({pair}): "
                          "add them to tests/option_coverage.toml [values]")
    return [shlex.split(v) for v in values]


def _option_groups(ext: ExtensionSpec, words: list[str]) -> list[tuple[OptionSpec, list[str]]]:
    """Split a module's option words into (spec, words) per option (`!` kept with it)."""
    groups: list[tuple[OptionSpec, list[str]]] = []
    pending: list[str] = []
    for word in words:
        spec = ext.flag_index.get(word)
        if word == "!":
            pending.append(word)
        elif spec is not None:
            groups.append((spec, pending + [word]))
            pending = []
        else:
            assert groups, f"{ext.name}: `{word}' follows no option in the fixture"
            groups[-1][1].append(word)
    return groups


def _same(spec: OptionSpec, opt: OptionSpec) -> bool:
    """One option, or two of a group (only one of them can be given)."""
    return spec.name == opt.name or (opt.group is not None and spec.group == opt.group)


def _others(pair: Pair, ctx: dict, *besides: OptionSpec) -> list[str]:
    """The module's other options: without the one under test (and `besides`) or their
    groups' others."""
    words = []
    for spec, group in _option_groups(pair.ext, shlex.split(ctx.get("options", ""))):
        if not any(_same(spec, o) for o in (pair.opt, *besides)):
            words += group
    return words


def _table_chain(pair: Pair, ctx: dict) -> tuple[str, str]:
    table = ctx.get("table") or (pair.ext.tables[0] if pair.ext.tables else "filter")
    builtin = mappings.iptables_tables()[table]
    chains = [c for c in (pair.ext.chains or builtin) if c in builtin]
    return table, ctx.get("chain") or chains[0]


@dataclass(frozen=True)
class Variant:
    label: str                 # "option", "value", "removed", "negated", "flag:--x", "body:N"
    words: tuple[str, ...]     # the option's own words in the rule (empty: left out)
    body: bool = False         # words are the module's whole option list (fixture `bodies`)


def variants(pair: Pair, family: str) -> list[Variant]:
    """The rule under test first, then the rules that differ from it only in the option."""
    values = example_values(pair, family)
    own = [pair.flag] + values[0]
    out = [Variant("option", tuple(own))]
    if len(values) > 1:
        out.append(Variant("value", tuple([pair.flag] + values[1])))
    out.append(Variant("removed", ()))
    if pair.opt.negatable:
        out.append(Variant("negated", tuple(["!"] + own)))
    # the option's sibling flags: another flag of a flag option (--rsource, --rdest), or an
    # option of its group (--hashlimit-upto, --hashlimit-above) with its first value
    for other in pair.ext.options:
        sibling = other.value == "flag" if other is pair.opt else (
            other.name == pair.opt.name and other.nargs == 0 == pair.opt.nargs
            or pair.opt.group is not None and other.group == pair.opt.group)
        if not sibling:
            continue
        first = [] if other.nargs == 0 else example_values(
            Pair(pair.kind, pair.ext, other, other.flags[0]), family)[0]
        out += [Variant(f"flag:{f}", tuple([f] + first)) for f in other.flags if f != pair.flag]
    # whole option lists for what the above cannot reach (--mode nth needs --every)
    bodies = context(pair, family).get("bodies", [])
    out += [Variant(f"body:{n}", tuple(shlex.split(b)), True) for n, b in enumerate(bodies)]
    return out


def two_options(kind: str, ext: ExtensionSpec, x: OptionSpec, y: OptionSpec,
                family: str) -> tuple[Pair, dict[str, Variant]]:
    """The module with options x and y (their first flags and values), with x alone and with
    y alone, over the module's other options: as whole option lists of x's pair."""
    px, py = Pair(kind, ext, x, x.flags[0]), Pair(kind, ext, y, y.flags[0])
    others = _others(px, context(px, family), y)
    wx = [x.flags[0]] + example_values(px, family)[0]
    wy = [y.flags[0]] + example_values(py, family)[0]
    return px, {label: Variant(label, tuple(others + words), True)
                for label, words in (("both", wx + wy), ("x", wx), ("y", wy))}


def rule_words(pair: Pair, family: str, variant: Variant) -> tuple[str, str, list[str]]:
    """(table, chain, the iptables words after the program) of one variant."""
    ctx = context(pair, family)
    table, chain = _table_chain(pair, ctx)
    before = shlex.split(ctx.get("before", ""))
    if pair.ext.protocols and family in pair.ext.protocol_families and "-p" not in before:
        before = ["-p", pair.ext.protocols[0]] + before
    words = ["-t", table, "-A", chain] + before
    body = list(variant.words) if variant.body else (
        _others(pair, ctx) + shlex.split(ctx.get("prefix", "")) + list(variant.words)
        + shlex.split(ctx.get("suffix", "")))
    if pair.kind == "match":
        words += ["-m", pair.ext.name] + body + shlex.split(ctx.get("after", ""))
        words += ["-j", ctx.get("target", "ACCEPT")]
    else:
        words += ["-j", pair.ext.name] + body
    return table, chain, words


def script(pair: Pair, family: str, words: list[str]) -> tuple[str, tuple[str, str] | None]:
    program = "iptables" if family == "ip" else "ip6tables"
    ctx = context(pair, family)
    lines, ipsets = ["set -f"], []
    for line in ctx.get("setup", []):
        if line.startswith("ipset "):
            ipsets.append(line)
        elif line.startswith("-"):
            lines.append(f"{program} {line}")
        else:
            lines.append(line)
    lines.append(f"{program} {shlex.join(words)}")
    ipset_input = ("\n".join(ipsets) + "\n", "coverage.ipsets") if ipsets else None
    return "\n".join(lines) + "\n", ipset_input


@dataclass
class Outcome:
    """What fwmigrate makes of one variant's rule."""
    words: list[str]
    rule: object = None            # the IR rule; None when the rule was not accepted
    parse_error: str | None = None
    nft: str | None = None         # the nft text (comment lines left out); None: refused
    nft_refusal: str | None = None
    inet: str | None = None        # the same rule in an inet table (--family inet)
    dropin: tuple[str, ...] | None = None   # `fwmigrate translate` lines; None: refused
    save_rule: object = None       # the IR rule read back from the iptables-save text
    save_error: str | None = None


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def forget_shapes() -> None:
    """Clear the parser's cache of line shapes, so that the next line is parsed in full (a
    line of a shape seen before would be read from that shape's template)."""
    templates._TEMPLATES.clear()
    templates._QUICK.clear()


@cache
def outcome(pair: Pair, family: str, variant: Variant) -> Outcome:
    """Each variant read on its own, in full (tests/test_option_coverage.py reads lines of one
    shape after another to check the templates against this)."""
    forget_shapes()
    table, chain, words = rule_words(pair, family, variant)
    text, ipsets = script(pair, family, words)
    result = Outcome(words)
    options = ConvertOptions(ipsets=ipsets, family=family)
    try:
        ruleset, _ = read(text, "coverage.sh", options)
    except FwmigrateError as exc:
        result.parse_error = exc.render()
        return result
    result.rule = ruleset.table(family, table).chain(chain).rules[-1]
    try:
        result.nft = _body(convert(text, "coverage.sh", options).output)
    except FwmigrateError as exc:
        result.nft_refusal = exc.render()
    try:
        result.inet = _body(convert(text, "coverage.sh", ConvertOptions(
            ipsets=ipsets, family="inet")).output)
    except FwmigrateError:
        pass
    try:
        result.dropin = tuple(translate_command(words, family))
    except FwmigrateError:
        pass
    try:
        save = convert(text, "coverage.sh", ConvertOptions(
            to="iptables-restore", ipsets=ipsets, family=family)).output
        back, _ = read(save, "coverage.save", ConvertOptions(
            source_kind="save", ipsets=ipsets, family=family))
        result.save_rule = back.table(family, table).chain(chain).rules[-1]
    except (FwmigrateError, AttributeError, IndexError) as exc:
        result.save_error = f"{type(exc).__name__}: {exc}"
    return result
