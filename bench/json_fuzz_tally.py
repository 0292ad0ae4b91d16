"""What bench/json_fuzz.py counts and reports: the documented differences between text and
JSON it leaves out (KNOWN), the refusals both sides share for a known reason, a finding, the
campaign's tally; and the normalising of the two kernels' states before they are compared."""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field

import json_fuzz_inputs as inputs

from netns import without_handles

# Known differences between what the kernel holds from text and from JSON, both documented:
# (name, why, a cleaner for one bytecode line, a cleaner for one `nft -j list ruleset` item),
# applied to both sides before comparing.
KNOWN = [
    ("set comment", "nft 1.0.6 keeps a set's comment from text but not from JSON (a set that "
     "stands for an ipset; nft_json.nft_set; apply sends such rulesets as text)",
     None, lambda item: {"set": {k: v for k, v in item["set"].items() if k != "comment"}}
     if "set" in item else item),
    ("`\"` in a comment", "nft's text has no escape for `\"`: the text writer puts `'` for it "
     "in a comment, JSON keeps it (README, Fail closed)",
     lambda line: line.replace('"', "'") if line.startswith("userdata = ") else line,
     lambda item: {"rule": {**item["rule"], "comment": item["rule"]["comment"].replace('"', "'")}}
     if "rule" in item and "comment" in item["rule"] else item),
]

# Rules both sides fail to load for a known reason, counted apart: (name, why, the test of the
# narrowed rule's input line and the two errors).
KNOWN_REFUSALS = [
    ("kernel lacks nft_queue", "this kernel has no nft_queue module (bench/conformance.py's "
     "kernel-lacks)", lambda rule, detail: "QUEUE" in rule and
     detail.count("No such file or directory") == 2),
]


@dataclass
class Finding:
    kind: str                      # text-only, json-only, both-refused, bytecode, listing, ...
    batch: inputs.Batch
    rules: list[str]               # the input lines it comes down to
    detail: str
    narrowed: bool = True
    units: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        b = self.batch
        lines = [f"MISMATCH {self.kind} in {b.name} (replay: python bench/json_fuzz.py "
                 f"--replay {b.replay}){'' if self.narrowed else ' [not narrowed]'}"]
        lines += [f"  input: {r}" for r in self.rules]
        lines += ["  " + d for d in self.detail.splitlines()]
        return "\n".join(lines)


@dataclass
class Tally:
    batches: int = 0
    rules: int = 0                 # rule lines given to fwmigrate
    compared: int = 0              # rules in the batches that loaded and were compared
    refused_fwmigrate: int = 0
    refused_json: int = 0
    refused_text: int = 0
    batches_refused: list[str] = field(default_factory=list)
    refusal_reasons: Counter = field(default_factory=Counter)
    json_reasons: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    limits: list[Finding] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"batches {self.batches}; rule lines {self.rules}: compared in the kernel "
                 f"{self.compared}, refused by fwmigrate {self.refused_fwmigrate}, refused by "
                 f"nft_json (named) {self.refused_json}, by the text writer {self.refused_text};"
                 f" whole batches refused {len(self.batches_refused)}; findings "
                 f"{len(self.findings)}"]
        lines += [f"  compared, {source}: {n}" for source, n in sorted(self.by_source.items())]
        lines += [f"  known difference, {name}: {n}x" for name, n in self.known.items()]
        lines += [f"  JSON cannot say {n}x: {why}" for why, n in self.json_reasons.most_common()]
        lines += [f"  refused by fwmigrate {n}x: {why}" for why, n in
                  self.refusal_reasons.most_common(12)]
        lines += [f"  batch refused: {b}" for b in self.batches_refused]
        lines += [f"  the nft reader refuses: {f.rules[0] if f.rules else f.batch.name}: "
                  f"{f.detail.splitlines()[0]}" for f in self.limits]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)



def first_lines(err: str) -> str:
    lines = [line for line in (err or "").splitlines() if line.strip()]
    return " | ".join(lines[:3])


def clean_listing(items: list, known: Counter) -> list:
    """The listing without handles, and without what KNOWN leaves out (counted in `known`)."""
    out = [without_handles(i) for i in items if "metainfo" not in i]
    for name, _why, _line, clean in KNOWN:
        cleaned = [clean(i) for i in out]
        if cleaned != out:
            known[name] += 1
            out = cleaned
    return out


def clean_bytecode(lines: list[str], known: Counter) -> list[str]:
    for name, _why, clean, _item in KNOWN:
        if clean is not None:
            cleaned = [clean(line) for line in lines]
            if cleaned != lines:
                known[name] += 1
                lines = cleaned
    return lines


def diff_lines(a: list[str], b: list[str]) -> str:
    lines = list(difflib.unified_diff(a, b, "text", "json", n=2, lineterm=""))
    return "\n".join(lines[:40]) + ("\n..." if len(lines) > 40 else "")


def rules_of_text(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))[:3000]
