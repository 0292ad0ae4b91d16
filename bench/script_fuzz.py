"""A differential test of the shell-script frontend: fwmigrate's static evaluation of random
iptables scripts against real bash running them with iptables-legacy, in the kernel.

    python bench/script_fuzz.py [--seed N] [--scripts N] [--commands N] [--no-brace] [-v]
    python bench/script_fuzz.py --replay FILE.sh

Each script (bench/script_gen.py: variables, quoting, continuations, comments, for loops,
$IPT, sudo, -t/-N/-X/-F/-Z/-P/-A/-I/-D/-R/-E over filter, nat, mangle and raw, a few
commands meant to fail) starts with `set -e` and runs under bash in a network namespace made
for the campaign, `iptables`/`ip6tables` (and `sudo`, a shim that runs its arguments) resolving
to iptables-legacy through a directory put first in PATH; an ERR trap says the line where a
command failed. fwmigrate reads the same text (`convert --to iptables-restore`, per family).
Where bash stops at a command, fwmigrate must report an error in that same command (its
first error's line inside the command's lines); where bash runs to the end, fwmigrate must
report no error and print what `iptables-legacy-save` / `ip6tables-legacy-save` list
(counters and comments dropped, chains in name order, tables left as the kernel makes them
not compared: iptables-legacy-save lists every table a command touched, fwmigrate those
the script names). Each mismatch is minimised (items dropped while the same kind of mismatch
stays) and printed. Exit status 1 when any mismatch was found.
"""

from __future__ import annotations

import argparse
import os
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

import script_gen  # noqa: E402
from save_listing import BUILTIN, normalise  # noqa: E402

from fwmigrate.backends import iptables_save  # noqa: E402
from fwmigrate.convert import ConvertOptions, convert  # noqa: E402
from fwmigrate.errors import Diagnostics, FwmigrateError  # noqa: E402
from fwmigrate.frontends import read_ruleset  # noqa: E402

from netns import namespace  # noqa: E402

FAMILIES = {"ip": "iptables", "ip6": "ip6tables"}
MARK = "@@FWM_FAIL_LINE="
# run before each script by bash (BASH_ENV): the line of the command that stops it
TRAP = f"trap 'echo \"{MARK}$LINENO\" >&2' ERR\n"
SUDO = '#!/bin/sh\n# a test double: we are root already; skips sudo\'s own options\n' \
       'while [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n'

# Known differences (README, "Known differences"): mismatches fwmigrate does not copy on
# purpose, counted apart. Each is (name, kinds of mismatch, test on the script and on
# fwmigrate's reason).
_UNCONDITIONAL = re.compile(r"(-[AI]|--append|--insert) \S+( \d+)? (-j|--jump) "
                            r"([\"']?)(ACCEPT|DROP|RETURN)\4\s*(#.*)?$", re.M)
_FWMIGRATE_STOPS = ("fwmigrate refuses a script iptables runs", "fails at another command")
# the same, in a command whose failure the script handles (`|| true`)
_OR_HANDLED = _FWMIGRATE_STOPS + ("different ruleset", "different ruleset before the failure")


def _joined(script: str) -> str:
    """The script with its continuation lines joined, as bash reads the commands."""
    return re.sub(r"[ \t]*\\\n[ \t]*", " ", script)


def _big_port(script: str, reason: str) -> bool:
    if any(int(n) > 65535 for n in re.findall(r"invalid port/service `(\d+)'", reason)):
        return True
    ports = re.findall(r"--(?:d|s)port\s+(\d+)", script.replace("\\\n", " "))
    return "different ruleset" in reason and any(int(n) > 65535 for n in ports)
KNOWN = [
    # an unquoted glob (`--log-prefix FW*`) is text to bash only when no file matches it in
    # the directory the script runs in (an empty one here); fwmigrate cannot know, and refuses
    ("unquoted glob", _OR_HANDLED, lambda script, reason: "is a pathname pattern" in reason),
    # libxt_udp/dccp/conntrack read a port number past 65535 through getaddrinfo, which cuts
    # it to 16 bits (`--dport 65536` is port 0); fwmigrate refuses the number
    ("port number past 65535", _OR_HANDLED, _big_port),
    # iptables 1.8.9 takes the whole word as the value of -i/-o written `-ieth0` or
    # `--in-i=eth0` (an interface named `-ieth0`); fwmigrate refuses it
    ("-ieth0: an interface named after the whole word", _OR_HANDLED,
     lambda script, reason: "as the interface name (a rule for an interface" in reason
     or re.search(r"^-A .* -[io] -[io]\S", reason, re.M) is not None),
    # iptables-legacy's kernel (mark_source_chains) does not look past a rule that ACCEPTs,
    # DROPs or RETURNs every packet: a jump loop or a target's hook check behind it is not
    # seen, and the table is taken; fwmigrate checks every rule, as nft does
    ("loop or hook check behind an unconditional verdict", _FWMIGRATE_STOPS,
     lambda script, reason: bool(_UNCONDITIONAL.search(_joined(script))) and bool(re.search(
         r"Too many levels of symbolic links|used from hooks", reason))),
    # ip6tables-legacy 1.8.9's -C compares the options of matches and targets only in part
    # (its mask is made for an IPv4 entry): where a rule differs from the one asked for only
    # in those, fwmigrate cannot tell whether -C finds it, and refuses
    ("ip6tables -C of a rule that differs only in options", _FWMIGRATE_STOPS,
     lambda script, reason: "cannot tell whether ip6tables -C finds this rule" in reason),
]


def known(found: Mismatch) -> str | None:
    reason = found.detail.split("fwmigrate: ", 1)[-1]
    if found.kind.startswith("different ruleset"):
        # only what the kernel has and fwmigrate has not (the diff's "-" lines)
        reason = found.kind + "\n" + "\n".join(
            line[1:] for line in found.detail.splitlines()
            if line.startswith("-") and not line.startswith("---"))
    return next((name for name, kinds, test in KNOWN
                 if found.kind in kinds and test(found.script, reason)), None)


@dataclass
class Outcome:
    """What one side made of a script: the line it stopped at (None: ran to the end), why,
    and the normalised ruleset per family."""
    fail_line: int | None
    reason: str
    rulesets: dict[str, dict]


@dataclass
class Mismatch:
    kind: str
    script: str
    detail: str


@dataclass
class Tally:
    scripts: int = 0
    commands: int = 0                    # commands in the scripts (loop bodies once)
    commands_run: int = 0                # commands bash ran before the end or the failure
    both_failed: int = 0
    both_ran: int = 0
    kinds: Counter = field(default_factory=Counter)
    known: Counter = field(default_factory=Counter)
    mismatches: list[Mismatch] = field(default_factory=list)


# --- normalised save text: save_listing.py -------------------------------------------------


def show(rulesets: dict[str, dict]) -> list[str]:
    lines = []
    for family in sorted(rulesets):
        for table in sorted(rulesets[family]):
            lines.append(f"{family} *{table}")
            for chain, (policy, rules) in rulesets[family][table].items():
                lines.append(f":{chain} {policy}")
                lines.extend(rules)
    return lines


# --- the two sides ---------------------------------------------------------------------------

class Kernel:
    """bash + iptables-legacy in one namespace; each script starts from empty tables."""

    def __init__(self, ns, workdir: Path):
        self.ns = ns
        self.dir = workdir
        bindir = workdir / "bin"
        bindir.mkdir()
        for program in FAMILIES.values():
            os.symlink(f"/usr/sbin/{program}-legacy", bindir / program)
        (bindir / "sudo").write_text(SUDO)
        (bindir / "sudo").chmod(0o755)
        (workdir / "trap.sh").write_text(TRAP)
        reset = "".join(f"*{t}\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in chains) + "COMMIT\n"
                        for t, chains in BUILTIN.items())
        (workdir / "reset").write_text(reset)

    def run(self, scripts: list[str]) -> list[Outcome]:
        # in an empty directory: an unquoted glob there is text (fwmigrate refuses it)
        (self.dir / "cwd").mkdir(exist_ok=True)
        driver = [f"export PATH={self.dir}/bin:$PATH BASH_ENV={self.dir}/trap.sh",
                  f"cd {self.dir}/cwd"]
        for k, text in enumerate(scripts):
            path = self.dir / f"s{k}.sh"
            path.write_text(text)
            driver.append(
                f"iptables-legacy-restore < {self.dir}/reset && "
                f"ip6tables-legacy-restore < {self.dir}/reset\n"
                f"bash {path} > /dev/null 2> {path}.err; echo $? > {path}.rc\n"
                f"iptables-legacy-save > {path}.ip; ip6tables-legacy-save > {path}.ip6")
        self.ns.run("bash", "-c", "\n".join(driver))
        outcomes = []
        for k in range(len(scripts)):
            path = self.dir / f"s{k}.sh"
            err = Path(f"{path}.err").read_text()
            line = re.search(re.escape(MARK) + r"(\d+)", err)
            fail = int(line[1]) if line else None
            if fail is None and Path(f"{path}.rc").read_text().strip() != "0":
                # `exec CMD` failed: no trap runs in CMD's place; the exec line it was
                # (a script whose last `a && b` has `a` failing ends with 1 too: no exec)
                fail = next((k for k, text in enumerate(scripts[k].split("\n"), 1)
                             if re.match(r"\s*exec ", text)), None)
            reason = "; ".join(x for x in err.splitlines() if MARK not in x)[:300]
            outcomes.append(Outcome(fail, reason,
                                    {f: normalise(Path(f"{path}.{f}").read_text())
                                     for f in FAMILIES}))
        return outcomes


def fwmigrate_state(text: str) -> dict[str, dict]:
    """The ruleset fwmigrate's evaluation holds after the script, errors or not (a command
    iptables would refuse leaves it unchanged, as in the kernel)."""
    diags = Diagnostics()
    ruleset = read_ruleset(text, "s.sh", diags, kind="script")
    return {f: normalise(iptables_save.render(ruleset, f, keep_order=False))
            if f in ruleset.families else {} for f in FAMILIES}


def _handled_before(text: str, line: int) -> str:
    """The failures the script handled (`|| …`) before `line`: a later error can follow from
    one (a rule refused there, that bash added, is missing for a -D), so known() sees them."""
    diags = Diagnostics()
    read_ruleset(text, "s.sh", diags, kind="script")
    notes = [d.message for d in diags.items if d.severity == "note" and d.loc is not None
             and d.loc.line < line and d.message.startswith("iptables would fail here")]
    return "".join(f"\n  after: {note}" for note in notes)


def fwmigrate(text: str) -> Outcome:
    rulesets = {}
    for family in FAMILIES:
        try:
            result = convert(text, "s.sh", ConvertOptions(to="iptables-restore",
                                                          source_kind="script", family=family))
        except FwmigrateError as exc:
            errors = [d for d in exc.diagnostics if d.severity == "error"]
            located = [d for d in errors if d.loc is not None]
            if located:
                first = located[0]
                return Outcome(first.loc.line, f"{first.loc.line}:{first.loc.col}: "
                               f"{first.message}{_handled_before(text, first.loc.line)}", {})
            if errors and errors[0].message == f"the input has no {family} rules":
                rulesets[family] = {}
                continue
            return Outcome(0, "; ".join(d.message for d in errors), {})
        rulesets[family] = normalise(result.output)
    return Outcome(None, "", rulesets)


# --- comparison ------------------------------------------------------------------------------

def command_at(spans: list[tuple[int, int]], line: int | None) -> int | None:
    if line is None:
        return None
    for k, (first, last) in enumerate(spans):
        if first <= line <= last:
            return k
    return -1 - line                # not inside a command (e.g. a loop's header)


def compare(script: script_gen.Script, kernel: Outcome, ours: Outcome) -> Mismatch | None:
    text, spans = script.render()
    theirs_at, ours_at = command_at(spans, kernel.fail_line), command_at(spans, ours.fail_line)
    if kernel.fail_line is not None and ours.fail_line is None:
        return Mismatch("fwmigrate accepts a script iptables stops", text,
                        f"bash stops at line {kernel.fail_line}: {kernel.reason}")
    if kernel.fail_line is None and ours.fail_line is not None:
        return Mismatch("fwmigrate refuses a script iptables runs", text,
                        f"fwmigrate: {ours.reason}")
    if kernel.fail_line is not None:
        if theirs_at != ours_at:
            return Mismatch("fails at another command", text,
                            f"bash stops at line {kernel.fail_line}: {kernel.reason}\n"
                            f"fwmigrate: {ours.reason}")
        # what the commands before it made: the script cut after the failing command, when
        # that is not inside a loop (bash stops there; fwmigrate would finish the loop)
        last = spans[theirs_at][1]
        cut = "\n".join(text.split("\n")[:last]) + "\n"
        if theirs_at in top_level(script) and kernel.rulesets != fwmigrate_state(cut):
            return Mismatch("different ruleset before the failure", text,
                            f"bash stops at line {kernel.fail_line}: {kernel.reason}\n"
                            + differences(kernel.rulesets, fwmigrate_state(cut)))
        return None
    if kernel.rulesets != ours.rulesets:
        return Mismatch("different ruleset", text, differences(kernel.rulesets, ours.rulesets))
    return None


def differences(theirs: dict, ours: dict) -> str:
    import difflib
    return "\n".join(difflib.unified_diff(show(theirs), show(ours), "iptables-legacy-save",
                                          "fwmigrate", lineterm="", n=2))


def top_level(script: script_gen.Script) -> set[int]:
    """The indexes (in render()'s spans) of the commands outside loops, and alone on their
    lines (fwmigrate would run the `b` of `a ; b` in a script cut after `a`)."""
    out, k = set(), 0
    for item in script.items:
        if isinstance(item, script_gen.Command):
            if not re.search(r"\s(;|&&|\|\|)\s", item.text):
                out.add(k)
            k += 1
        elif isinstance(item, script_gen.Loop):
            k += sum(isinstance(b, script_gen.Command) for b in item.body)
    return out


# --- minimising ------------------------------------------------------------------------------

def minimise(kernel: Kernel, script: script_gen.Script, kind: str) -> script_gen.Script:
    """Drop items (and loop body commands) while the mismatch stays of the same kind."""
    def still(candidate: script_gen.Script) -> bool:
        text = candidate.render()[0]
        found = compare(candidate, kernel.run([text])[0], fwmigrate(text))
        return found is not None and found.kind == kind

    items = list(script.items)
    changed = True
    while changed:
        changed = False
        k = 0
        while k < len(items):
            trial = items[:k] + items[k + 1:]
            if trial and still(script_gen.Script(script.preamble, trial)):
                items, changed = trial, True
                continue
            item = items[k]
            if isinstance(item, script_gen.Loop) and len(item.body) > 1:
                for j in range(len(item.body)):
                    body = item.body[:j] + item.body[j + 1:]
                    loop = script_gen.Loop(item.header, body, item.footer)
                    if still(script_gen.Script(script.preamble, items[:k] + [loop]
                                               + items[k + 1:])):
                        items[k], changed = loop, True
                        break
            k += 1
    # the preamble's variables: keep only those the remaining text uses
    body = script_gen.Script([], items).render()[0]
    preamble = [line for line in script.preamble if "=" not in line
                or re.search(r"\$\{?" + re.escape(line.split("=")[0]) + r"\b", body)]
    shorter = script_gen.Script(preamble, items)
    return shorter if still(shorter) else script_gen.Script(script.preamble, items)


# --- campaign --------------------------------------------------------------------------------

def campaign(ns, seed: int, scripts: int, commands: int = 25, brace: bool = True,
             batch: int = 20, minimise_found: bool = True, verbose: bool = False) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="script-fuzz-") as tmp:
        kernel = Kernel(ns, Path(tmp))
        done = 0
        while done < scripts:
            made = [script_gen.script(rng, rng.randint(commands // 2, commands), brace)
                    for _ in range(min(batch, scripts - done))]
            texts = [s.render()[0] for s in made]
            for script, text, theirs in zip(made, texts, kernel.run(texts), strict=True):
                ours = fwmigrate(text)
                spans = script.render()[1]
                tally.scripts += 1
                tally.commands += len(spans)
                at = command_at(spans, theirs.fail_line)
                tally.commands_run += len(spans) if at is None else max(at, 0)
                found = compare(script, theirs, ours)
                if found is None:
                    if theirs.fail_line is None:
                        tally.both_ran += 1
                    else:
                        tally.both_failed += 1
                    continue
                if known(found):
                    tally.known[known(found)] += 1
                    continue
                tally.kinds[found.kind] += 1
                if minimise_found:
                    small = minimise(kernel, script, found.kind)
                    text = small.render()[0]
                    found = compare(small, kernel.run([text])[0], fwmigrate(text)) or found
                tally.mismatches.append(found)
                if verbose:
                    print(render(found), flush=True)
            done += len(made)
    return tally


def render(found: Mismatch) -> str:
    numbered = "\n".join(f"{k:3} {line}" for k, line in
                         enumerate(found.script.rstrip("\n").split("\n"), 1))
    return f"=== {found.kind}\n{numbered}\n--- {found.detail}\n"


def replay(ns, path: Path) -> int:
    text = path.read_text()
    with tempfile.TemporaryDirectory(prefix="script-fuzz-") as tmp:
        theirs = Kernel(ns, Path(tmp)).run([text])[0]
    ours = fwmigrate(text)
    print(f"bash: stops at {theirs.fail_line} {theirs.reason}")
    print(f"fwmigrate: stops at {ours.fail_line} {ours.reason}")
    if theirs.fail_line is None and ours.fail_line is None:
        print("\n".join(show(theirs.rulesets)) if theirs.rulesets == ours.rulesets
              else "rulesets differ:\n" + "\n".join(show(theirs.rulesets)) + "\n---\n"
              + "\n".join(show(ours.rulesets)))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scripts", type=int, default=200)
    ap.add_argument("--commands", type=int, default=25, help="items per script (at most)")
    ap.add_argument("--no-brace", action="store_true", help="no {a,b} / {1..3} in for lists")
    ap.add_argument("--replay", type=Path, help="run one script on both sides and show both")
    ap.add_argument("-v", "--verbose", action="store_true", help="print mismatches as found")
    args = ap.parse_args()
    with namespace("fwm-scriptfuzz") as ns:
        if args.replay:
            return replay(ns, args.replay)
        start = time.time()
        tally = campaign(ns, args.seed, args.scripts, args.commands, not args.no_brace,
                         verbose=args.verbose)
    if not args.verbose:
        for found in tally.mismatches:
            print(render(found))
    print(f"{tally.scripts} scripts, {tally.commands} commands ({tally.commands_run} run by "
          f"bash before the end or the failure); both ran to the end: {tally.both_ran}, both "
          f"stopped at the same command: {tally.both_failed}; mismatches: "
          f"{dict(tally.kinds) or 0}; known differences: {dict(tally.known) or 0}; "
          f"{time.time() - start:.0f} s")
    return 1 if tally.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
