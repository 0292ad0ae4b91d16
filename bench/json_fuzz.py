"""A differential test of fwmigrate's two nft writers: the nft text (`convert --to nft`) and the
libnftables JSON (`--to nft-json`, what `apply` sends) of the same translation must load into
the same kernel ruleset.

    python bench/json_fuzz.py [--seed N] [--batches N] [--rules N] [--sources A,B] [-v]
    python bench/json_fuzz.py --replay SOURCE:NUMBER

Inputs (bench/json_fuzz_inputs.py): random single rules with targets in four tables for ip, ip6
and both in one inet table (bench/fuzz_rules.py), random whole rulesets (bench/ruleset_gen.py),
iptables 1.8.9's vectors, tests/vectors, samples/ and tests/realworld. Each batch of many rules
is translated once (fwmigrate.convert.translate_input); a rule fwmigrate refuses is blanked and
counted. Its nft text goes into one scratch namespace with `nft -f`, its JSON into another with
the Python bindings' json_cmd (bench/json_kernel.py); then the two kernels' bytecode
(`nft --debug=netlink list ruleset`, normalised by bench/netlink_bytecode.py) and listings
(`nft -j list ruleset`, without handles) must be equal, but for the KNOWN differences
(bench/json_fuzz_tally.py). One side loading and the other failing is a mismatch too. A rule
JSON cannot say must be refused by nft_json with its source location (nft_json.Unrepresentable),
never left out: such rules are counted, and one without a location is a finding. With --reread,
the text side's listing is also read back by fwmigrate's nft reader (bench/json_fuzz_reread.py).
A mismatch is narrowed to one rule by blanking halves of the batch, then single rules, and
printed with a --replay name.
Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import json_fuzz_inputs as inputs  # noqa: E402
from json_fuzz_reread import reread_differs  # noqa: E402
from json_fuzz_tally import (  # noqa: E402
    KNOWN_REFUSALS,
    Finding,
    Tally,
    clean_bytecode,
    clean_listing,
    diff_lines,
    first_lines,
    rules_of_text,
)
from json_kernel import pair  # noqa: E402

from fwmigrate.backends import nft_json, nft_text  # noqa: E402
from fwmigrate.convert import ConvertOptions, translate_input  # noqa: E402
from fwmigrate.errors import FwmigrateError  # noqa: E402
from fwmigrate.ir import Ruleset  # noqa: E402


@dataclass
class Rendered:
    keep: set[int]                 # the units that are in it
    text: str
    batch: dict
    rules: int                     # rules in the model (each must be in the JSON batch)
    options: ConvertOptions
    source: Ruleset                # the input's IR


class Campaign:
    def __init__(self, kernels, tally: Tally | None = None, verbose: bool = False,
                 reread: bool = False):
        self.kernels, self.tally, self.verbose = kernels, tally or Tally(), verbose
        self.reread = reread

    # --- translating --------------------------------------------------------------------------

    def render(self, batch: inputs.Batch, keep: set[int], count: bool = False) -> Rendered | None:
        """Translate the units in `keep`, blanking (and with `count`, counting) those fwmigrate
        or a writer refuses; None when the batch is refused as a whole."""
        keep = set(keep)
        for _ in range(len(keep) + 1):
            try:
                source, translation, _diags = translate_input(batch.text(keep), batch.filename,
                                                                batch.options)
            except FwmigrateError as exc:
                refused = self._units_named(batch, keep, [d.loc for d in exc.diagnostics])
                if not refused:
                    if count:
                        self.tally.batches_refused.append(
                            f"{batch.name}: {exc.diagnostics[0].render().splitlines()[0]}")
                    return None
                keep -= refused
                if count:
                    self.tally.refused_fwmigrate += len(refused)
                    for d in exc.diagnostics:
                        self.tally.refusal_reasons[d.message[:100]] += 1
                continue
            model = translation.ruleset
            rules = sum(1 for t in model.tables for c in t.chains for r in c.rules
                        if r.untranslated is None)
            try:
                commands = nft_json.commands(model)
            except nft_json.Unrepresentable as exc:
                locs = [loc for loc, _what in exc.rules]
                refused = self._units_named(batch, keep, locs)
                if None in locs or not exc.rules or not refused:
                    self.tally.findings.append(Finding(
                        "json-refusal-without-rule", batch, [], f"nft_json refused: {exc}"))
                    return None
                keep -= refused
                if count:
                    self.tally.refused_json += len(refused)
                    for _loc, what in exc.rules:
                        self.tally.json_reasons[re.sub(r"\d+", "N", what)[:100]] += 1
                continue
            written = sum("rule" in c.get("add", {}) for c in commands["nftables"])
            if written != rules:
                self.tally.findings.append(Finding(
                    "json-dropped-rules", batch, [], f"the model has {rules} rules, the JSON "
                    f"batch {written}"))
                return None
            out = nft_text.render(model)
            if out.problems:
                refused = self._units_named(batch, keep, [p.loc for p in out.problems])
                if not refused:
                    return None
                keep -= refused
                if count:
                    self.tally.refused_text += len(refused)
                continue
            return Rendered(keep, out.text, commands, rules, batch.options, source)
        return None

    @staticmethod
    def _units_named(batch: inputs.Batch, keep: set[int], locs) -> set[int]:
        return {loc.line - 1 for loc in locs
                if loc is not None and loc.file == batch.filename and loc.line - 1 in keep}

    # --- comparing in the kernel ----------------------------------------------------------------

    def differs(self, rendered: Rendered) -> tuple[str, str] | None:
        """(kind, detail) when the kernels hold different things, else None."""
        (text_rc, text_err), (json_rc, json_err) = self.kernels.load(rendered.text,
                                                                     rendered.batch)
        if text_rc or json_rc:
            kind = "both-refused" if text_rc and json_rc else \
                "text-only" if json_rc else "json-only"
            return kind, (f"text: {first_lines(text_err) if text_rc else 'loaded'}\n"
                          f"JSON: {first_lines(json_err) if json_rc else 'loaded'}")
        (text_code, text_items), (json_code, json_items) = self.kernels.state()
        raw_items = text_items
        text_code = clean_bytecode(text_code, self.tally.known)
        json_code = clean_bytecode(json_code, self.tally.known)
        if text_code != json_code:
            return "bytecode", diff_lines(text_code, json_code)
        text_items = clean_listing(text_items, self.tally.known)
        json_items = clean_listing(json_items, self.tally.known)
        if text_items != json_items:
            return "listing", diff_lines([json.dumps(i) for i in text_items],
                                    [json.dumps(i) for i in json_items])
        if self.reread:
            return reread_differs(self.kernels, rendered.source, raw_items, text_code,
                                  rendered.options, lambda code: clean_bytecode(code, Counter()),
                                  self.tally.known)
        return None

    def play(self, batch: inputs.Batch) -> None:
        """Translate, load and compare the batch; on a mismatch, narrow it down to a rule,
        leave that rule out and compare the rest again (up to MAX_FINDINGS times)."""
        tally = self.tally
        tally.batches += 1
        tally.rules += len(batch.units)
        rendered = self.render(batch, set(batch.units), count=True)
        reread, limits = self.reread, 0
        for _ in range(MAX_FINDINGS):
            if rendered is None or not rendered.keep:
                break
            found = self.differs(rendered)
            if found is not None and found[0] in LIMITS and limits >= MAX_LIMITS:
                # narrowing each rule the reader refuses costs many loads: past a few, the
                # rest of the batch is compared without the re-read
                tally.known[REREAD_SKIPPED] += 1
                self.reread = False
                found = self.differs(rendered)
            if found is None:
                tally.compared += len(rendered.keep)
                tally.by_source[batch.replay.split(":")[0]] += len(rendered.keep)
                break
            finding = self.narrow(batch, rendered.keep, found)
            known = [name for name, _why, test in KNOWN_REFUSALS if finding.kind ==
                     "both-refused" and len(finding.rules) == 1 and
                     test(finding.rules[0], finding.detail)]
            if known:
                tally.known[known[0]] += 1
            elif finding.kind in LIMITS:
                tally.limits.append(finding)
                limits += 1
            else:
                tally.findings.append(finding)
                if self.verbose:
                    print(finding, file=sys.stderr, flush=True)
            if not finding.narrowed:
                break
            rendered = self.render(batch, rendered.keep - set(finding.units))
        self.reread = reread

    def narrow(self, batch: inputs.Batch, keep: set[int], found: tuple[str, str]) -> Finding:
        """Blank halves, then single units, while a mismatch of the same kind stays."""
        kind = found[0]

        def still(units: set[int]) -> tuple[str, str] | None:
            rendered = self.render(batch, units)
            if rendered is None or not rendered.keep:
                return None
            result = self.differs(rendered)
            return result if result and result[0] == kind else None

        units, detail = sorted(keep), found[1]
        while len(units) > 1:
            half = len(units) // 2
            for part in (units[:half], units[half:]):
                result = still(set(part))
                if result:
                    units, detail = part, result[1]
                    break
            else:
                break
        tries = 0
        for unit in list(units):
            if len(units) == 1 or tries > 80:
                break
            tries += 1
            result = still(set(units) - {unit})
            if result:
                units, detail = [u for u in units if u != unit], result[1]
        rendered = self.render(batch, set(units))
        if rendered is not None and len(units) <= 3:
            detail += "\n--- nft text:\n" + rules_of_text(rendered.text) + "\n--- JSON:\n" + \
                "\n".join(json.dumps(c) for c in rendered.batch["nftables"] if "rule" in
                          c.get("add", {}))
        return Finding(kind, batch, [batch.lines[u] for u in units], detail, len(units) <= 3,
                       units)


MAX_FINDINGS = 20      # per batch, known refusals and the reader's limits included
# kinds that are not mismatches but limits of the nft reader (`verify` refuses such rulesets:
# said, not silent): narrowed, counted and listed apart
LIMITS = {"reread-refused"}
MAX_LIMITS = 3
REREAD_SKIPPED = "re-read left out for the rest of a batch (more rules the reader refuses)"

# --- campaigns -----------------------------------------------------------------------------------

SOURCES = ("rules-ip", "rules-ip6", "rules-inet", "rulesets", "vectors", "own-vectors", "files")


def batches(seed: int, count: int, rules: int, sources=SOURCES):
    """The fixed corpora whole (when asked for), then `count` random batches in turn."""
    for source in sources:
        if source in inputs.FIXED:
            yield from inputs.FIXED[source]()
    randoms = [s for s in sources if s in inputs.RANDOM]
    rng = random.Random(seed)
    for number in range(count if randoms else 0):
        source = randoms[number % len(randoms)]
        yield inputs.RANDOM[source](rng.randrange(2**32), rules)


def run(seed: int, count: int, rules: int = 300, sources=SOURCES, verbose: bool = False,
        kernels=None, reread: bool = False) -> Tally:
    if kernels is None:
        with pair() as kernels:
            return run(seed, count, rules, sources, verbose, kernels, reread)
    campaign = Campaign(kernels, verbose=verbose, reread=reread)
    for number, batch in enumerate(batches(seed, count, rules, sources)):
        campaign.play(batch)
        if verbose:
            t = campaign.tally
            print(f"batch {number + 1} {batch.name}: compared {t.compared} findings "
                  f"{len(t.findings)}", file=sys.stderr, flush=True)
    return campaign.tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batches", type=int, default=12, help="random batches")
    parser.add_argument("--rules", type=int, default=300, help="rules per random batch")
    parser.add_argument("--sources", default=",".join(SOURCES),
                        help=f"comma-separated, of {', '.join(SOURCES)}")
    parser.add_argument("--replay", metavar="SOURCE:NUMBER",
                        help="one batch again, as a MISMATCH line names it")
    parser.add_argument("--reread", action="store_true",
                        help="also read the kernel's listing back with fwmigrate's nft reader, "
                             "write it again and compare its bytecode")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    with pair() as kernels:
        if args.replay:
            campaign = Campaign(kernels, verbose=True, reread=args.reread)
            campaign.play(inputs.batch(args.replay, args.rules))
            tally = campaign.tally
        else:
            sources = tuple(s for s in args.sources.split(",") if s)
            unknown = set(sources) - set(SOURCES)
            if unknown:
                parser.error(f"unknown sources {sorted(unknown)}")
            tally = run(args.seed, args.batches, args.rules, sources, args.verbose, kernels,
                        args.reread)
    print(tally)
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
