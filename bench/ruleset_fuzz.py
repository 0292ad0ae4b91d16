"""A randomized kernel differential test of whole rulesets with state: iptables-legacy against
fwmigrate's nft translation, real connections through tests/differential.py's network.

    python bench/ruleset_fuzz.py [--seed N] [--rounds N] [--probes N] [-v]
    python bench/ruleset_fuzz.py --replay SEED [--no-minimize]

Each round draws, from its own seed, an iptables-save dump for IPv4 and IPv6 (bench/ruleset_gen.py:
filter and maybe nat and mangle, policies, nested user chains with -j/-g/RETURN, conntrack and
state, interfaces with `+` and `!`, marks and connmarks, -m recent, DNAT/SNAT/MASQUERADE/
REDIRECT) and an ordered scenario of probes (knocks, then connections; datagrams back along a
flow for ESTABLISHED and RELATED). The dump goes into iptables-legacy-restore in one fresh
network, fwmigrate's translation (`convert --to nft`, in some rounds `--family inet`, some of
those with the same rules for both families) into another, the same probes through both. A
round fwmigrate refuses is skipped and counted. A probe whose outcome differs is run again to
tell a real difference from a timing one; a real one is minimized (rules dropped while a
probe still differs, then steps) and printed with the round's seed, which --replay runs again.
Exit status 1 when any mismatch was found.

Timing the harness cannot rule out (seen, not translation differences): a ruleset that drops
neighbour discovery makes an IPv6 neighbour FAILED about 3 s after the first try, so a later
probe to it says `unreachable` or `timeout` depending on how long the steps before it took
(seed 800110: the whole round differed three times, its minimized form never).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import random  # noqa: E402

import ruleset_gen  # noqa: E402
from differential import Probe, load_legacy, load_nft, run_scenario  # noqa: E402

from fwmigrate.convert import ConvertOptions, convert  # noqa: E402
from fwmigrate.errors import FwmigrateError  # noqa: E402


@dataclass
class Round:
    seed: int
    inet: bool
    mirror: bool
    rules: ruleset_gen.Ruleset
    steps: list[list[Probe]]

    @property
    def options(self) -> str:
        return "--family inet" if self.inet else ""


@dataclass
class Finding:
    round: Round
    rules: ruleset_gen.Ruleset       # minimized
    steps: list[list[Probe]]         # minimized
    differing: list[tuple[Probe, str, str]]
    nft: str
    minimized: bool = True
    first: list[tuple[Probe, str, str]] = field(default_factory=list)   # before minimizing

    def __str__(self):
        r = self.round
        lines = [f"MISMATCH seed {r.seed} (replay: python bench/ruleset_fuzz.py --replay "
                 f"{r.seed}); convert --to nft {r.options}".rstrip(),
                 f"--- iptables-save{self.how}:", self.rules.save().rstrip(),
                 "--- fwmigrate's nft:", self.nft.rstrip(), f"--- steps{self.how}:"]
        lines += ["  " + " | ".join(map(str, step)) for step in self.steps]
        lines += [f"DIFFERED in the whole round {p}: iptables-legacy {a!r}, nft {b!r}"
                  for p, a, b in self.first]
        lines += [f"DIFFERS {p}: iptables-legacy {a!r}, nft {b!r}" for p, a, b in self.differing]
        if not self.differing:
            lines.append("(the minimized round did not differ in its last run: timing?)")
        return "\n".join(lines)

    @property
    def how(self) -> str:
        return " (minimized)" if self.minimized else ""


@dataclass
class Tally:
    rounds: int = 0
    inet_rounds: int = 0
    compared_rounds: int = 0
    probes: int = 0
    refused: int = 0
    refusals: Counter = field(default_factory=Counter)
    legacy_refused: list[str] = field(default_factory=list)
    nft_refused: list[str] = field(default_factory=list)
    timing: int = 0                   # differences a second run did not show
    timing_examples: list[str] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)   # iptables-legacy's outcomes, by kind
    features: Counter = field(default_factory=Counter)   # compared rounds with each feature
    findings: list[Finding] = field(default_factory=list)

    def __str__(self):
        lines = [f"rounds {self.rounds} ({self.inet_rounds} --family inet), compared "
                 f"{self.compared_rounds}, refused by fwmigrate {self.refused}, probes "
                 f"{self.probes}, timing differences not repeated {self.timing}, mismatches "
                 f"{len(self.findings)}, iptables-legacy refused the dump "
                 f"{len(self.legacy_refused)}, nft refused fwmigrate's output "
                 f"{len(self.nft_refused)}"]
        lines.append(f"  compared rounds with: {dict(self.features)}; outcomes seen: "
                     f"{dict(self.seen)}")
        lines += [f"  refused {n}x: {why}" for why, n in self.refusals.most_common()]
        lines += [f"  timing, once: {x}" for x in self.timing_examples[:20]]
        lines += [f"IPTABLES-LEGACY REFUSED: {x}" for x in self.legacy_refused]
        lines += [f"NFT REFUSED fwmigrate's output: {x}" for x in self.nft_refused]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)


def make_round(seed: int, probes: int) -> Round:
    rng = random.Random(seed)
    inet = rng.random() < 0.4
    mirror = inet and rng.random() < 0.5
    rules = ruleset_gen.ruleset(rng.randrange(2**32), mirror, inet)
    stateful = "-m recent" in rules.save()
    steps = ruleset_gen.scenario(rng.randrange(2**32), stateful,
                                 probes // 2 if stateful else probes,
                                 ruleset_gen.port_hints(rules.save()))
    return Round(seed, inet, mirror, rules, steps)


def translate(save: str, inet: bool) -> str:
    """fwmigrate's nft for the dump; FwmigrateError when it refuses."""
    options = ConvertOptions(to="nft", source_kind="save", family="inet" if inet else None)
    return convert(save, "fuzz.save", options).output


class Loaded(Exception):
    """One side did not load: not a behaviour to compare."""


def outcomes(save: str, nft: str, steps) -> tuple[list[str], list[str]]:
    def legacy(fw):
        try:
            load_legacy(fw, save)
        except Exception as error:
            raise Loaded("legacy", getattr(error, "stderr", str(error))) from error

    def ours(fw):
        try:
            load_nft(fw, nft)
        except Exception as error:
            raise Loaded("nft", getattr(error, "stderr", str(error))) from error

    return run_scenario(legacy, steps), run_scenario(ours, steps)


# what a compared round's dump used, for the tally (a campaign that compared no NAT proves
# nothing about NAT)
FEATURES = {"NAT": ("-j DNAT", "-j SNAT", "-j MASQUERADE", "-j REDIRECT"),
            "marks": ("-m mark", "-m connmark"), "recent": ("-m recent",),
            "user chains": ("-j U", "-g U"), "conntrack": ("--ctstate", "--state", "--ctdir"),
            "interfaces": (" -i ", " -o ")}


def differing(save: str, nft: str, steps, tally: Tally | None = None):
    a, b = outcomes(save, nft, steps)
    if tally is not None:
        tally.seen.update(x.split()[0] for x in a)
    probes = [p for step in steps for p in step]
    return [(p, x, y) for p, x, y in zip(probes, a, b, strict=True) if x != y]


def still_differs(rules: ruleset_gen.Ruleset, steps, inet: bool, wanted: set[str]) -> bool:
    """Whether one of the probes `wanted` names still differs (both sides loading)."""
    try:
        nft = translate(rules.save(), inet)
        return any(str(p) in wanted for p, _, _ in differing(rules.save(), nft, steps))
    except (FwmigrateError, Loaded):
        return False


def minimize(r: Round, found: list[tuple[Probe, str, str]]) -> Finding:
    """Rules dropped (a chain's all at once, then one at a time) while a probe that differed
    still differs; then probes the same way."""
    wanted = {str(p) for p, _, _ in found}
    rules = copy.deepcopy(r.rules)
    rules.drop_rules(lambda: still_differs(rules, r.steps, r.inet, wanted))
    steps = [s[:] for s in r.steps]
    for k in range(len(steps) - 1, -1, -1):
        for j in range(len(steps[k]) - 1, -1, -1):
            trial = [s[:] for s in steps]
            probe = trial[k].pop(j)
            if str(probe) in wanted and not any(str(p) in wanted for s in trial for p in s):
                continue
            trial = [s for s in trial if s]
            if still_differs(rules, trial, r.inet, wanted):
                steps = trial
    nft = translate(rules.save(), r.inet)
    return Finding(r, rules, steps, differing(rules.save(), nft, steps), nft, first=found)


def play(r: Round, tally: Tally, minimizing: bool = True, verbose: bool = False) -> None:
    tally.rounds += 1
    tally.inet_rounds += r.inet
    save = r.rules.save()
    try:
        nft = translate(save, r.inet)
    except FwmigrateError as error:
        tally.refused += 1
        first = str(error).splitlines()[0]
        tally.refusals[first.split(" error: ", 1)[-1].split("exactly: ", 1)[-1][:160]] += 1
        return
    try:
        found = differing(save, nft, r.steps, tally)
    except Loaded as error:
        side, why = error.args
        (tally.legacy_refused if side == "legacy" else tally.nft_refused).append(
            f"seed {r.seed}: {why.strip()[:300]}")
        return
    tally.compared_rounds += 1
    tally.probes += sum(len(s) for s in r.steps)
    tally.features.update(name for name, words in FEATURES.items()
                          if any(w in save for w in words))
    tally.features["--family inet"] += r.inet
    if found:
        # two more runs: a probe that does not differ every time is the timing of this
        # machine (a loaded machine answers after the probe's timeout now and then)
        again = {str(p) for p, _, _ in differing(save, nft, r.steps)}
        again &= {str(p) for p, _, _ in differing(save, nft, r.steps)}
        real = [f for f in found if str(f[0]) in again]
        tally.timing += len(found) - len(real)
        tally.timing_examples += [f"seed {r.seed} {p}: {a!r} vs {b!r}" for p, a, b in found
                                  if (p, a, b) not in real][:3]
        if real:
            finding = minimize(r, real) if minimizing else Finding(r, r.rules, r.steps, real,
                                                                   nft, minimized=False)
            tally.findings.append(finding)
            if verbose:
                print(finding, file=sys.stderr, flush=True)


def campaign(seed: int, rounds: int, probes: int = 24, verbose: bool = False,
             minimizing: bool = True) -> Tally:
    tally = Tally()
    for number in range(rounds):
        try:
            play(make_round(seed * 100_000 + number, probes), tally, minimizing, verbose)
        except KeyboardInterrupt:      # Ctrl-C: the tally so far (this round not counted)
            print(f"interrupted in round {number + 1}", file=sys.stderr)
            break
        if verbose:
            print(f"round {number + 1}: compared {tally.compared_rounds} refused "
                  f"{tally.refused} probes {tally.probes} mismatches {len(tally.findings)}",
                  file=sys.stderr, flush=True)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--probes", type=int, default=24)
    parser.add_argument("--replay", type=int, metavar="SEED",
                        help="one round, by the seed a MISMATCH line prints")
    parser.add_argument("--no-minimize", action="store_true")
    parser.add_argument("--show", action="store_true", help="print the round's dump and nft")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    if args.replay is not None:
        r = make_round(args.replay, args.probes)
        if args.show:
            print(r.rules.save())
            print("\n".join(" | ".join(map(str, s)) for s in r.steps))
        tally = Tally()
        play(r, tally, not args.no_minimize, args.verbose)
    else:
        tally = campaign(args.seed, args.rounds, args.probes, args.verbose,
                         not args.no_minimize)
    print(tally)
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if tally.findings or tally.nft_refused else 0


if __name__ == "__main__":
    sys.exit(main())
