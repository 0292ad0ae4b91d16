"""No option fwmigrate accepts is silently ignored.

For every (module, flag) pair of mappings/matches.toml and targets.toml, in each family the
module exists in: a rule using the flag (tests/option_coverage.toml says what else it needs)
is either refused for nft, or its nft (and its `fwmigrate translate` lines, and its inet
table, where those are written) differs from every rule that differs from it only in that
option (another value, the option left out, `!`, a sibling flag) — unless the pair is a
documented no-op, whose reason says why the kernel sees no difference either. The
iptables-save text keeps the option: read back, it is the same IR rule. Two options of a
module in one rule each still count (the pairs that cannot are listed with the reason)."""

from __future__ import annotations

import shlex

import pytest
from option_coverage import (
    DATA,
    Pair,
    Variant,
    example_values,
    forget_shapes,
    outcome,
    pairs,
    rule_words,
    script,
    two_options,
    variants,
)

from fwmigrate import mappings
from fwmigrate.convert import ConvertOptions, read

PAIRS = pairs()
CASES = [(p, f) for p in PAIRS for f in p.ext.families
         if p.opt.families is None or f in p.opt.families]
NOT_TRANSLATED = mappings.load("extensions")["not_translated"]


def _noop_covers(pair: Pair, variant: Variant) -> bool:
    entry = DATA.get("noop", {}).get(pair.key)
    return entry is not None and variant.label in entry["alternatives"]


def check(pair: Pair, family: str) -> tuple[str, list[str]]:
    """("refused" | "differs" | "noop", problems) for one pair in one family."""
    found = variants(pair, family)
    own = outcome(pair, family, found[0])
    problems: list[str] = []
    if own.rule is None:
        return "error", [f"the example rule is not accepted: {own.words}\n{own.parse_error}"]
    compared, noop = 0, False
    for variant in found:
        other = outcome(pair, family, variant)
        if other.rule is None:
            continue
        if other.save_rule != other.rule and pair.key not in DATA.get("save_quirk", {}):
            problems.append(f"{variant.label}: the iptables-save text does not read back as the "
                            f"same rule: {other.words}\n{other.save_error or other.save_rule}")
        if variant is found[0] or other.rule == own.rule:
            continue
        compared += 1
        if _noop_covers(pair, variant):
            noop = True
            if own.nft is not None and own.nft != other.nft:
                problems.append(f"{variant.label}: listed as a no-op, but the nft differs: "
                                "remove it from [noop]")
            continue
        if own.nft is not None and own.nft == other.nft:
            problems.append(f"{variant.label}: silently ignored: {own.words} and "
                            f"{other.words} give the same nft:\n{own.nft}")
        if own.dropin is not None and own.dropin == other.dropin:
            problems.append(f"{variant.label}: `fwmigrate translate` ignores it: {own.words} "
                            f"and {other.words} both give {own.dropin}")
        if own.inet is not None and own.inet == other.inet:
            problems.append(f"{variant.label}: --family inet ignores it: {own.words} and "
                            f"{other.words} give the same inet table")
    if compared == 0 and not _only_form(pair, own):
        problems.append("no variant is a different rule (the IR drops the option, or the "
                        f"example values are wrong): {[v.label for v in found]}")
    kind = "refused" if own.nft is None else "noop" if noop else "differs"
    return kind, problems


def _only_form(pair: Pair, own) -> bool:
    """A module refused for nft as a whole, whose option has no valid other form (a required
    flag such as CHECKSUM --checksum-fill): the IR and the save text keep it."""
    if own.nft is not None or pair.ext.name not in NOT_TRANSLATED:
        return False
    built = own.rule.target if pair.kind == "target" else own.rule.match(pair.ext.name)
    return built.option(pair.opt.name) is not None and own.save_rule == own.rule


@pytest.mark.parametrize(("pair", "family"), CASES, ids=lambda x: str(x))
def test_option_is_not_ignored(pair, family):
    _kind, problems = check(pair, family)
    assert not problems, f"{pair} ({family}):\n" + "\n".join(problems)


def test_every_value_kind_has_examples():
    missing = sorted({p.opt.value for p in PAIRS if p.opt.nargs
                      and p.opt.value not in DATA["values"]
                      and "values" not in DATA.get("option", {}).get(p.key, {})})
    assert not missing, f"value kinds without examples in option_coverage.toml: {missing}"
    for pair in PAIRS:
        for family in pair.opt.families or pair.ext.families:
            values = example_values(pair, family)
            # two, unless the kind has one valid value (--hmark-tuple ct)
            assert pair.opt.nargs == 0 or 1 <= len(values) <= 2, pair.key


def test_fixture_names_only_existing_modules_and_options():
    keys = {p.key for p in PAIRS}
    modules = {("match", n) for n in mappings.match_specs()} | {
        ("target", n) for n in mappings.target_specs()}
    stale = [f"[{kind}.{name}]" for kind in ("match", "target") for name in DATA.get(kind, {})
             if (kind, name) not in modules]
    stale += [f'[{section}."{key}"]' for section in ("option", "noop", "save_quirk", "pair_noop")
              for key in DATA.get(section, {}) if key not in keys]
    assert not stale, f"option_coverage.toml names what the mappings no longer have: {stale}"
    for key, entry in DATA.get("noop", {}).items():
        assert entry.get("reason") and entry.get("alternatives"), key
    for section in ("save_quirk", "pair_noop"):
        for key, entry in DATA.get(section, {}).items():
            assert entry.get("reason"), key


def test_refusals_name_why():
    """A refused pair's module is refused as a whole ([not_translated]), or the refusal is
    about this rule: the same rule without the option is translated, or says something else,
    or it names the option this one needs (`refused_for`: SET --map-mark needs --map-set)."""
    for pair, family in CASES:
        found = variants(pair, family)
        own = outcome(pair, family, found[0])
        if own.rule is None or own.nft is not None or pair.ext.name in NOT_TRANSLATED:
            continue
        needed = DATA.get("option", {}).get(pair.key, {}).get("refused_for")
        if needed is not None and needed in own.nft_refusal:
            continue
        others = [outcome(pair, family, v) for v in found[1:]]
        assert any(o.rule is not None and o.nft_refusal != own.nft_refusal for o in others), (
            f"{pair} ({family}): refused for a reason the option does not change:\n"
            f"{own.nft_refusal}")


@pytest.mark.parametrize(("pair", "family"), CASES, ids=lambda x: str(x))
def test_a_line_of_the_same_shape_keeps_its_own_values(pair, family):
    """The second of two lines that differ in one value is read from the first one's template
    (frontends/templates.py): it must be the rule it is when read alone."""
    found = variants(pair, family)
    alone = {v: outcome(pair, family, v) for v in found}
    accepted = [v for v in found if alone[v].rule is not None]
    program = "iptables" if family == "ip" else "ip6tables"
    for first in accepted[:1]:
        for second in accepted[1:]:
            for a, b in ((first, second), (second, first)):
                table, chain, words = rule_words(pair, family, b)
                text, ipsets = script(pair, family, rule_words(pair, family, a)[2])
                text += f"{program} {shlex.join(words)}\n"
                forget_shapes()         # the first line makes the shape's template
                ruleset, _ = read(text, "twice.sh", ConvertOptions(ipsets=ipsets, family=family))
                got = ruleset.table(family, table).chain(chain).rules[-1]
                assert got == alone[b].rule, f"{pair} ({family}): {words} after {a.label}"


MODULES = [(kind, ext, family) for kind, specs in (("match", mappings.match_specs()),
                                                    ("target", mappings.target_specs()))
           for ext in specs.values() if ext.name not in NOT_TRANSLATED and len(ext.options) > 1
           for family in ext.families]


@pytest.mark.parametrize(("kind", "ext", "family"), MODULES,
                         ids=lambda x: getattr(x, "name", str(x)))
def test_two_options_both_count(kind, ext, family):
    """With two options of a module in one rule, each still changes the nft: a handler that
    reads only one of them (or drops one in the other's presence) is caught here."""
    problems = []
    options = [o for o in ext.options if o.const is None
               and (o.families is None or family in o.families)]
    for i, x in enumerate(options):
        for y in options[i + 1:]:
            if x.name == y.name or (x.group is not None and x.group == y.group):
                continue
            pair, found = two_options(kind, ext, x, y, family)
            both = outcome(pair, family, found["both"])
            if both.nft is None:
                continue
            for alone, dropped in ((found["x"], y), (found["y"], x)):
                other = outcome(pair, family, alone)
                key = f"{ext.name} {dropped.flags[0]}"
                if other.rule is None or other.rule == both.rule or key in PAIR_NOOPS or \
                        "removed" in DATA["noop"].get(key, {}).get("alternatives", ()):
                    continue
                if other.nft == both.nft:
                    problems.append(f"{dropped.flags[0]} ignored in {both.words}")
    assert not problems, f"{ext.name} ({family}):\n" + "\n".join(problems)


PAIR_NOOPS = DATA.get("pair_noop", {})
