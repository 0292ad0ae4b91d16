"""A differential test of the save-file frontend: fwmigrate reading random iptables-restore
files against iptables-legacy-restore / ip6tables-legacy-restore loading them in the kernel.

    python bench/save_fuzz.py [--seed N] [--files N] [--bad RATE] [--lines N] [-v]
    python bench/save_fuzz.py --replay SEED/K [--bad RATE] [--lines N]  (a campaign's file)
    python bench/save_fuzz.py --replay-file FILE --family ip|ip6

Each file (bench/save_gen.py: headers, `*table`, declarations with and without counters,
rules with `[p:b]`, -A -I -D -R -N -X -F -Z -P -E lines, comments, blank lines, quoting, and
at the rate --bad lines meant to fail or to sit at an odd place) is loaded with
`iptables-legacy-restore` (ip6tables-… for IPv6; `-c` when every declared built-in chain has
counters, as fwmigrate keeps them) into a network namespace made for the campaign, after every
table of that family was emptied, and read by fwmigrate (`convert --from save --to
iptables-restore --family F`). Where iptables-restore refuses the file, fwmigrate must refuse
it too and its first error (by line) must be at the line iptables-restore names ("Error
occurred at line: N", "line N failed"); an error the kernel finds only when a table is
committed (a jump loop, a target used from a hook it is not valid in) names the COMMIT line,
so any line of that table is taken; a missing COMMIT is named at the end of the file by
iptables-restore, at its table by fwmigrate. Where it loads the file, fwmigrate must accept
it and print what `iptables-legacy-save` lists (counters and comments dropped, chains in name
order, tables as the kernel makes them left out). Each mismatch is minimised (lines dropped
while the same kind of mismatch stays) and printed with its seed. Exit status 1 when any
mismatch was found.
"""

from __future__ import annotations

import argparse
import difflib
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import save_gen  # noqa: E402
from save_listing import BUILTIN, normalise  # noqa: E402

from fwmigrate.convert import ConvertOptions, convert  # noqa: E402
from fwmigrate.errors import FwmigrateError  # noqa: E402

from netns import namespace  # noqa: E402

TOOLS = {"ip": "iptables", "ip6": "ip6tables"}
_KERNEL_LINE = re.compile(r"Error occurred at line: ([1-9]\d*)|line (\d+) failed|"
                          r"COMMIT expected at line (\d+)|Bad line (\d+)|line (\d+): ")

# Known differences (README, "Fail closed" and "Known differences"): mismatches fwmigrate
# does not copy on purpose, counted apart. Each is (name, test on the kind, file, reason).
def _cr_line(found: Mismatch) -> bool:
    lines = found.text.split("\n")
    at = found.theirs.fail_line
    return at is not None and 0 < at <= len(lines) and lines[at - 1].endswith("\r")


KNOWN = [
    # README: save files tolerate a CR before the LF; iptables-restore reads it as part of the
    # last word (`unable to initialize table 'filter\r'`, `Bad argument COMMIT\r`)
    ("CR LF line ends", _cr_line),
    # fwmigrate keeps counters, and reads them as iptables-restore -c does; without -c,
    # iptables-restore does not read a policy's counters and takes any rule counters
    # iptables-legacy's kernel (mark_source_chains) walks only from the hooks and stops at a
    # rule that ACCEPTs, DROPs or RETURNs every packet: a jump loop or a target's hook check in a
    # chain it does not reach that way is not seen; fwmigrate checks every chain, as nft does
    ("loop or hook check the kernel does not reach", lambda found: found.kind in (
        "fwmigrate refuses a file iptables-restore loads", "refused at another line")
     and re.search(r"Too many levels of symbolic links|used from hooks", found.ours.reason)
     is not None),
    # fwmigrate refuses an unterminated quote; iptables-restore takes the rest of the line as
    # the value (`--comment "open -j ACCEPT` is a rule without a target)
    ("unterminated quote", lambda found: "unterminated quoted string" in found.ours.reason
     and found.kind != "different ruleset"),
    # `[1 2] -A …`: iptables-restore cuts the counters at the first `:` of the line, which may
    # be inside the rule (a port range), and loads the rule cut short there; fwmigrate refuses
    # iptables-legacy-restore 1.8.9 runs -S/-L inside a table on its uncommitted copy and
    # fails ("Can't find library for target `X'", no line) when a rule there jumps to a chain
    # made in the same table; fwmigrate takes a listing as doing nothing
    ("-S or -L listing a jump to a new chain", lambda found: "Can't find library for target"
     in found.theirs.reason and re.search(r"^(-S|-L)", found.text, re.M) is not None),
    ("counters with a blank inside", lambda found: "bad counters `[1 2]'" in found.ours.reason),
    # ip6tables-legacy-restore 1.8.9's -C compares the options of matches and targets only in
    # part (README, "Fail closed"): fwmigrate refuses a -C it cannot decide
    ("ip6tables -C of a rule that differs only in options", lambda found:
     "cannot tell whether ip6tables -C finds this rule" in found.ours.reason
     and found.kind != "different ruleset"),
    ("counters only -c reads", lambda found: not found.theirs.counters
     and "bad counters" in found.ours.reason and found.kind != "different ruleset"),
]


def known(found: Mismatch) -> str | None:
    return next((name for name, test in KNOWN if test(found)), None)


@dataclass
class Outcome:
    fail_line: int | None       # None: loaded / read without error
    reason: str
    ruleset: dict
    counters: bool = True       # iptables-restore ran with -c


@dataclass
class Mismatch:
    kind: str
    family: str
    seed: str
    text: str
    detail: str
    theirs: Outcome
    ours: Outcome

    def signature(self) -> tuple:
        """What minimising keeps: the kind, the line each side stops at and why."""
        lines = self.text.split("\n")

        def at(outcome: Outcome) -> str | None:
            k = outcome.fail_line
            return None if k is None else lines[k - 1] if 0 < k <= len(lines) else "EOF"
        if self.kind == "different ruleset":
            return (self.kind,)
        return (self.kind, at(self.theirs), re.sub(r"^\d+:\d+: ", "", self.ours.reason))


@dataclass
class Tally:
    files: int = 0
    lines: int = 0
    both_failed: int = 0
    both_loaded: int = 0
    loaded: Counter = field(default_factory=Counter)        # family → files both loaded
    kinds: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    mismatches: list[Mismatch] = field(default_factory=list)


# --- normalised save text: save_listing.py -------------------------------------------------


def show(ruleset: dict) -> list[str]:
    lines = []
    for table in sorted(ruleset):
        lines.append(f"*{table}")
        for chain, (policy, rules) in ruleset[table].items():
            lines.append(f":{chain} {policy}")
            lines.extend(rules)
    return lines


# --- the two sides ---------------------------------------------------------------------------

def wants_counters(text: str) -> bool:
    """-c when every declared built-in chain has counters: iptables-restore -c requires them
    (and reads them whole), plain iptables-restore ignores what follows the policy."""
    declared = [line.split() for line in text.split("\n") if line.startswith(":")]
    builtin = [d for d in declared if len(d) > 1 and d[1] != "-"]
    return bool(builtin) and all(len(d) > 2 for d in builtin)


class Kernel:
    """iptables-legacy-restore in one namespace; each file starts from empty tables."""

    def __init__(self, ns, workdir: Path):
        self.ns = ns
        self.dir = workdir
        reset = "".join(f"*{t}\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in chains) + "COMMIT\n"
                        for t, chains in BUILTIN.items())
        (workdir / "reset").write_text(reset)

    def run(self, files: list[tuple[str, str]]) -> list[Outcome]:
        """files: (family, text)."""
        driver = []
        for k, (family, text) in enumerate(files):
            path = self.dir / f"f{k}"
            path.write_text(text)
            tool = TOOLS[family]
            flag = " -c" if wants_counters(text) else ""
            driver.append(f"{tool}-legacy-restore < {self.dir}/reset\n"
                          f"{tool}-legacy-restore{flag} < {path} > /dev/null 2> {path}.err; "
                          f"echo $? > {path}.rc\n{tool}-legacy-save > {path}.save")
        self.ns.run("bash", "-c", "\n".join(driver))
        outcomes = []
        for k, (_family, text) in enumerate(files):
            path = self.dir / f"f{k}"
            err = Path(f"{path}.err").read_text()
            rc = Path(f"{path}.rc").read_text().strip()
            fail = None
            if rc != "0":
                found = _KERNEL_LINE.search(err)
                fail = int(next(g for g in found.groups() if g)) if found else 0
            reason = "; ".join(x for x in err.split("\n") if x and not x.startswith("Try `"))
            outcomes.append(Outcome(fail, reason[:300], normalise(Path(f"{path}.save").read_text()),
                                    wants_counters(text)))
        return outcomes


# what the kernel checks when the table is committed: hooks, jump loops, and each rule's
# checkentry (fwmigrate refuses those at the rule's line; iptables-restore names COMMIT)
_AT_COMMIT = re.compile(r"used from hooks|only usable from|Too many levels of symbolic links|"
                        r"the kernel refuses|(target|match): only valid in [\w ]+ table|"
                        r"match requires '-p|cannot match TCP bits|"
                        r"tcp-reset needs -p tcp|(SYNPROXY|TCPOPTSTRIP|TPROXY|ECN) needs")


def commit_line(lines: list[str], line: int) -> int:
    """The COMMIT line closing the table `line` is in (the line after the end when none)."""
    for k in range(line, len(lines) + 1):
        if lines[k - 1].rstrip("\r") == "COMMIT":
            return k
        if k > line and lines[k - 1].startswith("*"):
            break
    return len(lines) + 1


def fwmigrate(family: str, text: str) -> Outcome:
    """fwmigrate's first error, by the line iptables-restore would stop at: a rule the kernel
    checks only when the table is committed (a target outside its hooks) counts at COMMIT."""
    lines = text.split("\n")
    try:
        result = convert(text, "f.rules", ConvertOptions(to="iptables-restore",
                                                         source_kind="save", family=family))
    except FwmigrateError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        located = sorted(((commit_line(lines, d.loc.line) if _AT_COMMIT.search(d.message)
                           else d.loc.line, d) for d in errors if d.loc is not None),
                         key=lambda x: (x[0], x[1].loc.col))
        if located:
            line, first = located[0]
            return Outcome(line, f"{first.loc.line}:{first.loc.col}: {first.message}", {})
        if errors and errors[0].message == f"the input has no {family} rules":
            return Outcome(None, "", {})
        return Outcome(0, "; ".join(d.message for d in errors), {})
    return Outcome(None, "", normalise(result.output))


# --- comparison ------------------------------------------------------------------------------

def table_span(lines: list[str], line: int) -> tuple[int, int]:
    """The lines of the table a COMMIT line (or the end of the file) closes."""
    start = line
    while start > 1 and not lines[start - 2].startswith("*"):
        start -= 1
    return start - 1, line


def same_place(lines: list[str], theirs: Outcome, ours: Outcome) -> bool:
    if theirs.fail_line == ours.fail_line:
        return True
    if "bytes: iptables-restore reads that much" in ours.reason and \
            theirs.fail_line == ours.fail_line + 1:
        return True         # the line's cut-off rest, which iptables-restore counts as a line
    at = theirs.fail_line
    commit = at is not None and (at > len(lines) or lines[at - 1].rstrip("\r") == "COMMIT"
                                 and "line" in theirs.reason and "failed" in theirs.reason)
    if commit and ours.fail_line is not None:
        # checked by the kernel when the table is committed; iptables names the COMMIT line
        first, last = table_span(lines, min(at, len(lines)))
        return first <= ours.fail_line <= last
    return False


def compare(family: str, seed: str, text: str, theirs: Outcome,
            ours: Outcome) -> Mismatch | None:
    lines = text.split("\n")[:-1]
    if theirs.fail_line is not None and ours.fail_line is None:
        return Mismatch("fwmigrate accepts a file iptables-restore refuses", family, seed, text,
                        f"iptables-restore: line {theirs.fail_line}: {theirs.reason}", theirs, ours)
    if theirs.fail_line is None and ours.fail_line is not None:
        return Mismatch("fwmigrate refuses a file iptables-restore loads", family, seed, text,
                        f"fwmigrate: {ours.reason}", theirs, ours)
    if theirs.fail_line is not None:
        if not same_place(lines, theirs, ours):
            return Mismatch("refused at another line", family, seed, text,
                            f"iptables-restore: line {theirs.fail_line}: {theirs.reason}\n"
                            f"fwmigrate: {ours.reason}", theirs, ours)
        return None
    if theirs.ruleset != ours.ruleset:
        return Mismatch("different ruleset", family, seed, text, "\n".join(
            difflib.unified_diff(show(theirs.ruleset), show(ours.ruleset),
                                 f"{TOOLS[family]}-legacy-save", "fwmigrate", lineterm="", n=2)),
            theirs, ours)
    return None


def check(kernel: Kernel, family: str, seed: str, text: str) -> Mismatch | None:
    return compare(family, seed, text, kernel.run([(family, text)])[0], fwmigrate(family, text))


def minimise(kernel: Kernel, found: Mismatch) -> Mismatch:
    """Drop lines while the mismatch stays the same (its signature)."""
    lines = found.text.split("\n")[:-1]
    best = found
    k = 0
    while k < len(lines):
        trial = lines[:k] + lines[k + 1:]
        again = check(kernel, found.family, found.seed, "\n".join(trial) + "\n") \
            if trial else None
        if again is not None and again.signature() == found.signature():
            lines, best = trial, again
        else:
            k += 1
    return best


# --- campaign --------------------------------------------------------------------------------

def make(seed: int, k: int, bad: float = 0.02, most: int = 12) -> tuple[str, str, str]:
    """The k-th file of a campaign: (family, name, text); the same for the same seed (and
    --bad, --lines)."""
    rng = random.Random(f"{seed}/{k}")
    family = rng.choice(["ip", "ip6"])
    flags = "".join(f" --{name} {value}" for name, value, default in
                    (("bad", bad, 0.02), ("lines", most, 12)) if value != default)
    return family, f"{seed}/{k}{flags}", "\n".join(save_gen.restore_file(rng, family, bad, most)) \
        + "\n"


def campaign(ns, seed: int, files: int, bad: float = 0.02, batch: int = 25,
             minimise_found: bool = True, verbose: bool = False, most: int = 12) -> Tally:
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="save-fuzz-") as tmp:
        kernel = Kernel(ns, Path(tmp))
        for start in range(0, files, batch):
            made = [make(seed, k, bad, most) for k in range(start, min(files, start + batch))]
            outcomes = kernel.run([(family, text) for family, _name, text in made])
            for (family, name, text), theirs in zip(made, outcomes, strict=True):
                tally.files += 1
                tally.lines += text.count("\n")
                found = compare(family, name, text, theirs, fwmigrate(family, text))
                if found is None:
                    if theirs.fail_line is None:
                        tally.both_loaded += 1
                        tally.loaded[family] += 1
                    else:
                        tally.both_failed += 1
                    continue
                if known(found):
                    tally.known[known(found)] += 1
                    continue
                tally.kinds[found.kind] += 1
                if minimise_found:
                    found = minimise(kernel, found)
                tally.mismatches.append(found)
                if verbose:
                    print(render(found), flush=True)
    return tally


def render(found: Mismatch) -> str:
    numbered = "\n".join(f"{k:3} {line!r}"[:300] for k, line in
                         enumerate(found.text.split("\n")[:-1], 1))
    return (f"=== {found.kind} ({found.family}, --replay {found.seed})\n{numbered}\n"
            f"--- {found.detail}\n")


def replay(ns, family: str, name: str, text: str) -> int:
    with tempfile.TemporaryDirectory(prefix="save-fuzz-") as tmp:
        kernel = Kernel(ns, Path(tmp))
        theirs = kernel.run([(family, text)])[0]
        ours = fwmigrate(family, text)
        print("\n".join(f"{k:3} {line!r}" for k, line in enumerate(text.split("\n")[:-1], 1)))
        print(f"iptables-restore: line {theirs.fail_line} {theirs.reason}")
        print(f"fwmigrate: line {ours.fail_line} {ours.reason}")
        found = compare(family, name, text, theirs, ours)
        if found is not None:
            print(render(minimise(kernel, found)))
        elif theirs.fail_line is None:
            print("\n".join(show(theirs.ruleset)))
    return 1 if found else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--bad", type=float, default=0.02, help="rate of lines meant to fail")
    ap.add_argument("--lines", type=int, default=12, help="lines per table, at most")
    ap.add_argument("--replay", help="SEED/K: one file of a campaign, shown and compared")
    ap.add_argument("--replay-file", type=Path, help="a restore file of your own")
    ap.add_argument("--family", choices=TOOLS, default="ip", help="for --replay-file")
    ap.add_argument("-v", "--verbose", action="store_true", help="print mismatches as found")
    args = ap.parse_args()
    with namespace("fwm-savefuzz") as ns:
        if args.replay:
            seed, k = args.replay.split("/")
            family, name, text = make(int(seed), int(k), args.bad, args.lines)
            return replay(ns, family, name, text)
        if args.replay_file:
            return replay(ns, args.family, str(args.replay_file), args.replay_file.read_text())
        start = time.time()
        tally = campaign(ns, args.seed, args.files, args.bad, verbose=args.verbose,
                         most=args.lines)
    if not args.verbose:
        for found in tally.mismatches:
            print(render(found))
    print(f"{tally.files} files, {tally.lines} lines; both loaded: {tally.both_loaded}, both "
          f"refused at the same line: {tally.both_failed}; mismatches: "
          f"{dict(tally.kinds) or 0}; known differences: {dict(tally.known) or 0}; "
          f"{time.time() - start:.0f} s")
    return 1 if tally.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
