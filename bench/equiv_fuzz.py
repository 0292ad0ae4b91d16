"""A randomized kernel check of the equivalence checker (fwmigrate/verify/equiv.py) on pairs of
rulesets a small edit apart.

    python bench/equiv_fuzz.py [--seed N] [--rounds N] [-v]
    python bench/equiv_fuzz.py --replay SEED

Each round takes one of bench/ruleset_fuzz.py's rounds (a random dump and its scenario) and
edits one rule: removed, ACCEPT and DROP swapped, a port changed, or swapped with the next.
`check(a, b)` then judges the pair. Judged equivalent: the scenario runs under both in
iptables-legacy (tests/differential.py's compare) and every probe must have the same outcome
(a difference is run twice more to tell timing). Judged different: each difference's witness
the test network can send (tests/test_differential.py's realize and observe) is sent under
both, and the count of witnesses the kernel shows differing is reported (a witness may rest on
a field the probe cannot set, such as a mark, so one that does not differ is listed for
reading, not counted as a mismatch).
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ruleset_fuzz  # noqa: E402
from differential import compare, load_legacy  # noqa: E402
from test_differential import observe, realize  # noqa: E402

from fwmigrate.convert import ConvertOptions, read  # noqa: E402
from fwmigrate.errors import FwmigrateError  # noqa: E402
from fwmigrate.verify.equiv import check  # noqa: E402
from fwmigrate.verify.space import Space, collect  # noqa: E402

PORTS = [("--dport 22 ", "--dport 80 "), ("--dport 80 ", "--dport 22 "),
         ("--dport 53 ", "--dport 123 "), ("--sport 22 ", "--sport 2222 ")]


def edit(rules, rng: random.Random) -> tuple[object, str] | None:
    """The ruleset with one rule edited, and what was done; None when nothing to edit."""
    rules = copy.deepcopy(rules)
    chains = [(fam, c) for fam, tables in rules.tables.items()
              for table, cs in tables.items() for c in cs if c.rules and table == "filter"]
    if not chains:
        return None
    fam, chain = rng.choice(chains)
    i = rng.randrange(len(chain.rules))
    rule = chain.rules[i]
    kinds = ["remove"]
    if rule.endswith(("-j ACCEPT", "-j DROP")):
        kinds += ["flip"] * 2
    if any(old in rule + " " for old, _ in PORTS):
        kinds += ["port"] * 2
    if i + 1 < len(chain.rules):
        kinds.append("swap")
    kind = rng.choice(kinds)
    if kind == "remove":
        del chain.rules[i]
    elif kind == "flip":
        chain.rules[i] = rule[:-len("ACCEPT")] + "DROP" if rule.endswith("ACCEPT") else \
            rule[:-len("DROP")] + "ACCEPT"
    elif kind == "port":
        old, new = next(p for p in PORTS if p[0] in rule + " ")
        chain.rules[i] = (rule + " ").replace(old, new, 1).rstrip()
    else:
        chain.rules[i], chain.rules[i + 1] = chain.rules[i + 1], chain.rules[i]
    return rules, f"{kind} {fam} {chain.name} rule {i + 1}: {rule}"


@dataclass
class Tally:
    rounds: int = 0
    refused: int = 0
    equivalent: int = 0
    different: int = 0
    probes: int = 0
    witnesses: int = 0
    reproduced: int = 0
    unrealizable: int = 0
    timing: int = 0
    not_reproduced: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def __str__(self):
        lines = [f"rounds {self.rounds} (refused {self.refused}): judged equivalent "
                 f"{self.equivalent} ({self.probes} probes compared, timing differences not "
                 f"repeated {self.timing}), judged different {self.different} (witnesses sent "
                 f"{self.witnesses}, the kernel differed on {self.reproduced}; not sendable "
                 f"here {self.unrealizable}); mismatches {len(self.findings)}"]
        lines += [f"  witness not reproduced: {x}" for x in self.not_reproduced[:15]]
        lines += self.findings
        return "\n".join(lines)


def parse(save: str):
    return read(save, "fuzz.save", ConvertOptions(source_kind="save"))[0]


def play(seed: int, tally: Tally, verbose: bool = False) -> None:
    r = ruleset_fuzz.make_round(seed, 20)
    edited = edit(r.rules, random.Random(seed))
    if edited is None:
        return
    rules_b, what = edited
    tally.rounds += 1
    save_a, save_b = r.rules.save(), rules_b.save()
    try:
        a, b = parse(save_a), parse(save_b)
        results = check(a, b, max_differences=20)
    except (FwmigrateError, ValueError, KeyError, NotImplementedError) as error:
        tally.refused += 1
        if verbose:
            print(f"seed {seed}: refused: {str(error).splitlines()[0][:200]}", file=sys.stderr)
        return
    differences = [(res.family, d) for res in results for d in res.differences]
    load_a = lambda fw: load_legacy(fw, save_a)   # noqa: E731
    load_b = lambda fw: load_legacy(fw, save_b)   # noqa: E731
    if not differences:
        tally.equivalent += 1
        tally.probes += sum(len(s) for s in r.steps)
        first = {str(m.probe) for m in compare(load_a, load_b, r.steps)}
        if not first:
            return
        real = first & {str(m.probe) for m in compare(load_a, load_b, r.steps)}
        real &= {str(m.probe) for m in compare(load_a, load_b, r.steps)}
        tally.timing += len(first - real)
        if real:
            tally.findings.append(f"MISMATCH seed {seed} (replay: python bench/equiv_fuzz.py "
                                  f"--replay {seed}): judged equivalent after `{what}`, the "
                                  f"kernel differs on {sorted(real)}\n{save_a}")
        return
    tally.different += 1
    for family, d in differences[:6]:
        if d.aspects == ("actions",):
            continue
        if family != "ip":         # realize() prefers the network's IPv4 addresses
            tally.unrealizable += 1
            continue
        space = Space(family)
        collect(space, a)
        collect(space, b)
        space.freeze()
        realized, _why = realize(space, d.hook, d.cube)
        if realized is None:
            tally.unrealizable += 1
            continue
        probe, seeded = realized
        lists = sorted({n.split(":")[1] for n in space.order if n.startswith("recent:")})
        tally.witnesses += 1
        got_a = observe(load_a, probe, seeded, lists)
        got_b = observe(load_b, probe, seeded, lists)
        if got_a != got_b:
            tally.reproduced += 1
        else:
            tally.not_reproduced.append(f"seed {seed} `{what}`: {probe} ({d.hook}): "
                                        f"{d.outcome_a} vs {d.outcome_b}, kernel {got_a[0]}")


def campaign(seed: int, rounds: int, verbose: bool = False) -> Tally:
    tally = Tally()
    for number in range(rounds):
        try:
            play(seed * 100_000 + number, tally, verbose)
        except KeyboardInterrupt:
            break
        if verbose:
            print(f"round {number + 1}: equivalent {tally.equivalent} different "
                  f"{tally.different} mismatches {len(tally.findings)}", file=sys.stderr,
                  flush=True)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--replay", type=int, metavar="SEED")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    if args.replay is not None:
        tally = Tally()
        play(args.replay, tally, args.verbose)
    else:
        tally = campaign(args.seed, args.rounds, args.verbose)
    print(tally)
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
