"""bench/json_fuzz.py's second check (--reread): what the kernel lists after loading
fwmigrate's nft text, read back by fwmigrate's nft reader (frontends/nft_ruleset.py, what
`verify` and `diff --live` use), must be the input's rules again (verify's own diff, as
tests/test_verify.py::test_every_vector_round_trips checks the vectors), and translated and
written again it must load to the same bytecode.

The same rules can come back written differently: multiport's ports sorted, a one-address
iprange as -s, tests in another order, a set that covers every port as one range. Where verify's
diff sees a change, `verify --equiv`'s checker (verify/equiv.py) decides whether the two mean the
same; where they do, or the bytecode alone differs, the batch is counted, not a mismatch.
"""

from __future__ import annotations

from fwmigrate.backends import nft_text
from fwmigrate.backends.nft_translate import NftOptions, Untranslatable, translate
from fwmigrate.convert import ConvertOptions
from fwmigrate.errors import Diagnostics
from fwmigrate.frontends.nft_ruleset import Unrepresentable, read_nft_json
from fwmigrate.ir import Ruleset
from fwmigrate.verify.diff import diff
from fwmigrate.verify.equiv import check
from fwmigrate.verify.roundtrip import _set_directions_used
from fwmigrate.verify.space import NotModelled, Space, collect

OTHER_BYTECODE = "re-read: the same rules, other bytecode"
REWRITTEN = "re-read: rules written otherwise, equivalent (verify --equiv)"
NOT_DECIDED = "re-read: rules written otherwise, verify --equiv cannot decide"


class NotReread(Exception):
    """The reader (or the translator after it) refused the listing."""


def _read_back(items: list) -> Ruleset:
    diags = Diagnostics()
    try:
        ruleset = read_nft_json({"nftables": items}, "kernel", diags)
    except Unrepresentable as exc:
        raise NotReread(f"the reader: {exc}") from None
    if diags.errors:
        raise NotReread(f"the reader: {diags.errors[0].message}")
    return ruleset


def _written_again(ruleset: Ruleset, options: ConvertOptions) -> str:
    try:
        translation = translate(ruleset, NftOptions(family=options.family,
                                                    counters=options.counters))
    except Untranslatable as exc:
        raise NotReread(f"translating it again: {exc.message}") from None
    if translation.problems:
        raise NotReread(f"translating it again: {translation.problems[0].message}")
    out = nft_text.render(translation.ruleset)
    if out.problems:
        raise NotReread(f"writing it again: {out.problems[0].message}")
    return out.text


def reread_differs(kernels, source: Ruleset, items: list, code: list[str],
                   options: ConvertOptions, clean, known) -> tuple[str, str] | None:
    """`source`: the input's IR; `items`, `code`: the text side's listing and (normalised)
    bytecode. The re-written text is loaded into the JSON side's namespace. (kind, detail)
    when the rules differ, or the listing cannot be read or written again."""
    try:
        back = _read_back(items)
    except NotReread as exc:
        return "reread-refused", str(exc)
    try:
        text = _written_again(back, options)
    except NotReread as exc:
        return "reread-refused", str(exc)
    except Exception as exc:     # noqa: BLE001 - a crash is a finding, with what it says
        return "reread-crash", f"translating it again: {type(exc).__name__}: {exc}"
    kernels.json.send("text", text)
    rc, err = kernels.json.answer()
    if rc:
        return "reread-unloadable", " | ".join(err.splitlines()[:3])
    kernels.json.send("state")
    again, _items = kernels.json.answer()
    if clean(again) == code:
        return None
    source = _set_directions_used(source)
    changes = diff(source, back)
    if not changes:
        known[OTHER_BYTECODE] += 1
        return None
    # the reader writes some rules otherwise (multiport's ports sorted, a one-address iprange
    # as -s/-d, -m ecn as -m tos): what counts is whether they mean the same
    try:
        if _opaque_tests(source) ^ _opaque_tests(back):
            # the checker takes each test it does not model for a free yes/no of its own:
            # sound only while both sides have the same such tests (-m iprange on one side, -d
            # on the other, would look different)
            known[f"{NOT_DECIDED} (a test it does not model on one side only)"] += 1
            return None
        results = check(source, back)
    except NotModelled as exc:
        known[f"{NOT_DECIDED} ({str(exc)[:60]})"] += 1
        return None
    differences = [(r.family, d) for r in results for d in r.differences]
    if differences:
        family, first = differences[0]
        return "reread-diff", "\n".join(
            [c.describe() for c in changes[:3]] +
            [f"{family} {first.hook}: {first.aspects}: {first.outcome_a} → {first.outcome_b}"])
    known[REWRITTEN] += 1
    return None


def _opaque_tests(ruleset: Ruleset) -> set[str]:
    """The tests verify --equiv's checker does not model (verify/space.py's opaque fields)."""
    out = set()
    for family in ruleset.families:
        space = Space(family)
        collect(space, ruleset)
        out |= {f"{family} {name}" for name in space.fields if name.startswith("opaque:")}
    return out
