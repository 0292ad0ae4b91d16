"""Conformance against iptables' own test vectors (iptables 1.8.9, extensions/*.txlate and *.t).

    python bench/conformance.py [--source DIR] [--json OUT] [--update-expected] [-v]

*.txlate: each `iptables-translate …` / `ip6tables-translate …` command goes through fwmigrate's
drop-in (`fwmigrate translate`, dropin.translate_command). The reference nft commands and ours
are each loaded into the same scratch base table/chains inside a network namespace this script
creates and deletes, and the kernel's JSON listings are compared: the kernel's listing is what
the rule does, so spellings nft normalises away (`ip protocol tcp tcp dport` / `tcp dport`,
`0x01` / `1`, `mark and 0xa` / `mark & 0xa`) do not count. Where the listings differ, the
bytecode the kernel holds is compared (netlink_bytecode.py): nft lists some rules wrongly, and
the same bytecode is the same rule. Every vector is one of

    equivalent         the kernel holds the same rule (and sets) for both (same listing, or
                       the same bytecode)
    reference-wrong    it does not, and a kernel test (REFERENCE_WRONG below) shows the
                       reference's rule counting other packets than iptables' where ours does not
    different          it does not, unproven (which side is right: the notes below)
    refused            fwmigrate refuses the command (fail closed: no exact translation known)
    reference-broken   the reference's nft does not load (or is not nft at all)
    kernel-lacks       neither side can be checked: this kernel lacks a module (nft_queue)
    ours-broken        fwmigrate's output does not load (always a bug)

*.t: `rule;expected-or-=;OK|FAIL` lines go through the script frontend (`iptables -t T -A CHAIN
rule`) and, when read, come back as canonical iptables-save text (`convert --to
iptables-restore`); an OK rule must read back as the expected text, a FAIL rule must be
refused. Results use iptables-legacy's variant of a vector (the kernel semantics fwmigrate
keeps). ebtables/arptables vectors are out of scope and not counted.

The vectors are iptables' own files (GPL-2.0) and not part of this repository: `python
tests/conformance/fetch_vectors.py` downloads Debian's iptables 1.8.9 tarball, checks its sha256
and writes them into tests/conformance/iptables-1.8.9 (the default --source; CI's command does
this first). tests/test_conformance.py runs this and fails when a vector that was equivalent
(or read back right) stops being so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fwmigrate import mappings  # noqa: E402
from fwmigrate.backends import iptables_save  # noqa: E402
from fwmigrate.convert import ConvertOptions, read  # noqa: E402
from fwmigrate.dropin import translate_command  # noqa: E402
from fwmigrate.errors import FwmigrateError, OptionError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netlink_bytecode  # noqa: E402
from conformance_vectors import (  # noqa: E402
    FETCHED,
    RuleVector,
    TxlateVector,
    fetched,
    read_rule_tests,
    read_txlate,
)
from conformance_verdicts import DELIBERATE, REFERENCE_WRONG  # noqa: E402

EXPECTED = ROOT / "tests" / "conformance_expected.json"
TXLATE_LABELS = ("equivalent", "reference-wrong", "different", "refused", "reference-broken",
                 "kernel-lacks", "ours-broken")
RULE_LABELS = ("ok", "normalised-differently", "unsupported", "wrongly-rejected", "rejected",
               "wrongly-accepted")

# --- *.txlate: translate, then compare in the kernel ---------------------------------------------

def ours(vector: TxlateVector) -> tuple[list[str] | None, str | None]:
    """fwmigrate's nft commands for the vector, or (None, the reason it refuses)."""
    try:
        lines = translate_command(list(vector.args), vector.family)
    except FwmigrateError as exc:
        return None, exc.diagnostics[0].message if exc.diagnostics else str(exc)
    except OptionError as exc:
        return None, exc.message
    return [" ".join(shlex.split(line)[1:]) for line in lines], None


_RULE_REF = re.compile(r"\b(?:add|insert|replace|create) (?:rule|set) (ip6?|inet) (\S+) (\S+)")
_CHAIN_REF = re.compile(r"\b(?:add|create|flush|delete|rename) chain (ip6?|inet) (\S+) (\S+)")
_TABLE_REF = re.compile(r"\b(?:flush|delete|list) table (ip6?|inet) (\S+)")
_JUMPS = re.compile(r"\b(?:jump|goto) (\S+)")


def setup_text(commands: list[str]) -> str:
    """The base tables and chains the commands refer to, as iptables-nft creates them."""
    tables: dict[tuple[str, str], set[str]] = defaultdict(set)
    for cmd in commands:
        for family, table, chain in _RULE_REF.findall(cmd):
            if not cmd.split()[1] == "set":
                tables[family, table].add(chain)
            else:
                tables[family, table]
        for family, table, chain in _CHAIN_REF.findall(cmd):
            tables[family, table].add(chain.rstrip(";"))
        for family, table in _TABLE_REF.findall(cmd):
            tables[family, table]
        jumps = _JUMPS.findall(cmd)
        rule = _RULE_REF.search(cmd)
        if rule:
            tables[rule.group(1), rule.group(2)].update(jumps)
    lines = []
    builtin = mappings.iptables_tables()
    for (family, table), chains in sorted(tables.items()):
        lines.append(f"add table {family} {table}")
        for chain in sorted(chains):
            if chain in builtin.get(table, ()):
                spec = mappings.base_chain(table, chain)
                lines.append(f"add chain {family} {table} {chain} {{ type {spec.type} hook "
                             f"{spec.hook} priority {spec.priority}; policy accept; }}")
            else:
                lines.append(f"add chain {family} {table} {chain}")
    return "\n".join(lines) + "\n"


def _normalise(listing: list[dict]) -> list:
    """The kernel's listing without handles and with sets named by order of appearance."""
    names: dict[str, str] = {}
    for item in listing:
        if "set" in item:
            names.setdefault(item["set"]["name"], f"set{len(names)}")

    def walk(o):
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items() if k != "handle"}
        if isinstance(o, list):
            return [walk(x) for x in o]
        if isinstance(o, str) and o.startswith("@") and o[1:] in names:
            return "@" + names[o[1:]]
        if isinstance(o, str) and o in _CT_FAMILY_KEYS:
            return _CT_FAMILY_KEYS[o]
        return o
    out = []
    for item in listing:
        if "metainfo" in item:
            continue
        if "set" in item:
            item = {"set": dict(item["set"], name=names[item["set"]["name"]])}
        if "rule" in item:
            item = {"rule": dict(item["rule"], expr=_sorted_tests(item["rule"]["expr"]))}
        out.append(walk(item))
    return out


# `ct original saddr` (NFT_CT_SRC) and `ct original ip saddr` (NFT_CT_SRC_IP) read the same
# 4 bytes of an IPv4 conntrack tuple; in an ip or ip6 table every tuple has the table's family
_CT_FAMILY_KEYS = {f"{ip} {key}": key for ip in ("ip", "ip6") for key in ("saddr", "daddr")}


def _sorted_tests(exprs: list) -> list:
    """Neighbouring tests in a canonical order: a rule's tests are one conjunction without side
    effects, so `ip daddr X ip protocol udp` and `ip protocol udp ip daddr X` are the same."""
    out: list = []
    run: list = []
    for e in exprs + [None]:
        if e is not None and "match" in e:
            run.append(e)
            continue
        out += sorted(run, key=lambda m: json.dumps(m, sort_keys=True))
        run = []
        if e is not None:
            out.append(e)
    return out


def kernel_worker() -> None:
    """Runs inside the namespace: jobs on stdin, one JSON line per finished job on stdout."""
    import nftables
    nft = nftables.Nftables()
    nft.set_json_output(True)
    nft.set_handle_output(False)
    for job in json.load(sys.stdin):
        # announced first: nft 1.0.6 aborts on some listings, and the parent must know which
        print(json.dumps({"start": job["id"]}), flush=True)
        listings = []
        for side in ("expected", "ours"):
            nft.cmd("flush ruleset")
            rc, _out, err = nft.cmd(job["setup"])
            error = err if rc else None
            for command in job[side] if error is None else ():
                rc, _out, err = nft.cmd(command)
                if rc:
                    error = err.strip().splitlines()[0] if err.strip() else f"rc {rc}"
                    if "No such file or directory" in err and "queue" in command:
                        error = "kernel-lacks: nft_queue"
                    break
            if error is not None:
                listings.append({"error": error})
                continue
            print(json.dumps({"listing": side}), flush=True)
            rc, out, err = nft.cmd("list ruleset")
            listings.append({"listing": _normalise(json.loads(out)["nftables"]),
                             "bytecode": netlink_bytecode.read_ruleset_bytecode()})
        print(json.dumps({"done": job["id"], "result": listings}), flush=True)
    nft.cmd("flush ruleset")


def compare_in_kernel(jobs: list[dict]) -> dict:
    """Every job's two loads and listings, in a namespace that exists only meanwhile."""
    name = f"fwm-conf-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    results: dict[str, list] = {}
    try:
        pending = list(jobs)
        while pending:
            proc = subprocess.run(["ip", "netns", "exec", name, sys.executable, __file__,
                                   "--kernel-worker"], input=json.dumps(pending), text=True,
                                  capture_output=True, check=False)
            started, listing_side = None, None
            for line in proc.stdout.splitlines():
                msg = json.loads(line)
                if "start" in msg:
                    started, listing_side = msg["start"], None
                elif "listing" in msg:
                    listing_side = msg["listing"]
                else:
                    results[msg["done"]] = msg["result"]
                    started = None
            if proc.returncode == 0:
                break
            if started is None:
                raise RuntimeError(f"kernel worker failed: {proc.stderr}")
            # nft could not list what the kernel holds: record it, go on after that job
            crash = {"error": f"nft cannot list the loaded rule: {proc.stderr.strip()[-120:]}"}
            results[started] = ([crash, {"error": "not loaded"}] if listing_side == "expected"
                                else [{"listing": "unlistable"}, crash])
            done = {j["id"] for j in pending if j["id"] in results}
            pending = [j for j in pending if j["id"] not in done]
        return results
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def run_txlate(vectors: list[TxlateVector]) -> dict[str, tuple[str, str]]:
    results: dict[str, tuple[str, str]] = {}
    jobs = []
    for v in vectors:
        mine, reason = ours(v)
        job = {"id": v.id, "expected": list(v.expected), "ours": mine or [],
               "setup": setup_text(list(v.expected) + (mine or []))}
        jobs.append(job)
        if mine is None:
            results[v.id] = ("refused", reason or "")
    verdicts = compare_in_kernel(jobs)
    for v in vectors:
        expected, mine = verdicts[v.id]
        if "error" in expected:
            if expected["error"].startswith("kernel-lacks"):
                results[v.id] = ("kernel-lacks", expected["error"])
            elif v.id not in results:
                results[v.id] = ("reference-broken", expected["error"])
            else:
                results[v.id] = ("reference-broken", expected["error"] + "; refused: "
                                 + results[v.id][1])
            continue
        if v.id in results:
            continue
        if "error" in mine:
            label = "kernel-lacks" if mine["error"].startswith("kernel-lacks") else "ours-broken"
            results[v.id] = (label, mine["error"])
        elif mine["listing"] == expected["listing"]:
            results[v.id] = ("equivalent", "")
        elif mine["bytecode"] == expected["bytecode"] and \
                _all_but_rules(mine["listing"]) == _all_but_rules(expected["listing"]):
            # nft lists one of them wrongly: the kernel runs the same expressions (the
            # bytecode leaves out sets' declarations: size, flags, timeout; the listing has them)
            results[v.id] = ("equivalent", "same bytecode, listed differently")
        else:
            label = "reference-wrong" if v.id in REFERENCE_WRONG else "different"
            results[v.id] = (label, "ours: " + "; ".join(_ours_text(v))
                             + (f" (shown by {REFERENCE_WRONG[v.id]})" if v.id in REFERENCE_WRONG
                                else ""))
    return results


def _all_but_rules(listing: list) -> list:
    return [item for item in listing if "rule" not in item]


def _ours_text(v: TxlateVector) -> list[str]:
    mine, _ = ours(v)
    return mine or []


# --- *.t: read, normalise, refuse ---------------------------------------------------------------

def run_rule_tests(vectors: list[RuleVector]) -> dict[str, tuple[str, str]]:
    results = {}
    for v in vectors:
        outcomes = [_rule_outcome(v, chain) for chain in v.chains]
        bad = [o for o in outcomes if o[0] not in ("ok", "rejected")]
        results[v.id] = bad[0] if bad else outcomes[0]
    return results


def _rule_outcome(v: RuleVector, chain: str) -> tuple[str, str]:
    program = "ip6tables" if v.family == "ip6" else "iptables"
    table = "" if v.table == "filter" else f"-t {v.table} "
    # `set -f`: a vector's words are the rule's (iptables-test.py runs them through a shell
    # in a directory where no glob such as `[dead::beef]:80` matches a file, so as text)
    script = f"{program} {table}-A {chain} {v.rule}\n"
    # a jump to a user chain needs the chain
    jump = re.search(r"-[jg] (\S+)", v.rule)
    if jump and jump.group(1) not in mappings.load("extensions")["targets"] and \
            jump.group(1) not in ("ACCEPT", "DROP", "RETURN", "QUEUE"):
        script = f"{program} {table}-N {jump.group(1)}\n" + script
    script = "set -f\n" + script
    try:
        ruleset, _ = read(script, v.file, ConvertOptions(source_kind="script"))
    except FwmigrateError as exc:
        message = exc.diagnostics[0].message if exc.diagnostics else str(exc)
        if "not supported by fwmigrate" in message:
            return "unsupported", message
        if v.result == "FAIL":
            return "rejected", message
        return "wrongly-rejected", message
    if v.result == "FAIL":
        return "wrongly-accepted", "read without error"
    table_ir = ruleset.table(v.family, v.table)
    lines = [" ".join(iptables_save.rule_words(r)) for c in table_ir.chains
             if c.name == chain for r in c.rules]
    if any(line == v.expected.strip() for line in lines):
        return "ok", ""
    return "normalised-differently", f"ours: {' | '.join(lines)}"


# --- report ------------------------------------------------------------------------------------

def totals(results: dict[str, tuple[str, str]], vectors, labels) -> tuple[dict, Counter]:
    per_ext: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for v in vectors:
        label = results[v.id][0]
        per_ext[v.extension][label] += 1
        overall[label] += 1
    return dict(sorted(per_ext.items())), overall


def table(per_ext: dict, overall: Counter, labels, title: str) -> str:
    used = [lab for lab in labels if overall[lab]]
    head = f"| {title} | " + " | ".join(used) + " |"
    lines = [head, "|" + "---|" * (len(used) + 1)]
    for ext, counts in per_ext.items():
        lines.append(f"| {ext} | " + " | ".join(str(counts[lab] or "") for lab in used) + " |")
    lines.append("| **total** | " + " | ".join(f"**{overall[lab]}**" for lab in used) + " |")
    return "\n".join(lines)


_CANNOT = re.compile(r"^cannot translate `.*' exactly: ")
_AT = re.compile(r" \(at `[^']*'\)$")


def refusal_reason(v: TxlateVector) -> str:
    """Why fwmigrate refuses the vector, in one line: the message (without the rule it
    repeats), and the hint where it says more."""
    try:
        translate_command(list(v.args), v.family)
    except FwmigrateError as exc:
        diag = exc.diagnostics[0] if exc.diagnostics else None
        message, hint = (diag.message, diag.hint) if diag else (str(exc), None)
    except OptionError as exc:
        message, hint = exc.message, exc.hint
    else:
        return "(translated now)"
    message = _AT.sub("", _CANNOT.sub("", message))
    return message + (f" ({hint})" if hint and not hint.startswith("see the README") else "")


def refusals_markdown(vectors: list[TxlateVector], results: dict) -> str:
    """The refused *.txlate vectors by extension, one line per distinct reason."""
    by_ext: dict[str, dict[str, list[TxlateVector]]] = defaultdict(lambda: defaultdict(list))
    for v in vectors:
        if results[v.id][0] == "refused":
            by_ext[v.extension][refusal_reason(v)].append(v)
    total = sum(len(vs) for reasons in by_ext.values() for vs in reasons.values())
    lines = [f"Refused `*.txlate` vectors ({total}), by extension and reason:", "",
             "| extension | vectors | why fwmigrate refuses |", "|---|---|---|"]
    for ext in sorted(by_ext, key=lambda e: (-sum(map(len, by_ext[e].values())), e.lower())):
        for reason, vs in sorted(by_ext[ext].items(), key=lambda item: -len(item[1])):
            where = ", ".join(sorted({v.file for v in vs})) + ":" + ",".join(
                str(v.line) for v in vs) if len({v.file for v in vs}) == 1 else \
                ", ".join(f"{v.file}:{v.line}" for v in vs)
            text = reason.replace("|", "\\|")
            lines.append(f"| {ext} | {len(vs)} ({where}) | {text} |")
    return "\n".join(lines)


def run(source: Path) -> dict:
    txlate = read_txlate(source)
    rules = read_rule_tests(source)
    tx_results = run_txlate(txlate)
    rule_results = run_rule_tests(rules)
    return {"txlate": (txlate, tx_results), "rules": (rules, rule_results)}


def summary(outcome: dict) -> dict:
    txlate, tx_results = outcome["txlate"]
    rules, rule_results = outcome["rules"]
    return {
        "equivalent": sorted(v.id for v in txlate if tx_results[v.id][0] == "equivalent"),
        "rules_ok": sorted(v.id for v in rules if rule_results[v.id][0] in ("ok", "rejected")),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path,
                    help="directory with the *.txlate and *.t files (default: the fetched copy "
                         f"in {FETCHED.relative_to(ROOT)}; or an iptables source tree's "
                         "extensions/)")
    ap.add_argument("--json", type=Path, help="write every vector's result here")
    ap.add_argument("--update-expected", action="store_true",
                    help=f"record what passes now in {EXPECTED.relative_to(ROOT)}")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every vector not passing")
    ap.add_argument("--refusals-markdown", action="store_true",
                    help="print only the refused *.txlate vectors, by extension with the reason, "
                         "as a Markdown table (for the README)")
    ap.add_argument("--kernel-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.kernel_worker:
        kernel_worker()
        return 0
    source = args.source or fetched()
    if not any(source.glob("*.txlate")) and not any(source.glob("*.t")):
        print(f"error: no *.txlate or *.t files in {source}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("needs root (it creates a network namespace)", file=sys.stderr)
        return 2
    outcome = run(source)
    txlate, tx_results = outcome["txlate"]
    rules, rule_results = outcome["rules"]
    if args.refusals_markdown:
        print(refusals_markdown(txlate, tx_results))
        return 0
    per_ext, overall = totals(tx_results, txlate, TXLATE_LABELS)
    print(table(per_ext, overall, TXLATE_LABELS, "*.txlate"))
    print()
    per_ext, overall = totals(rule_results, rules, RULE_LABELS)
    print(table(per_ext, overall, RULE_LABELS, "*.t"))
    if args.verbose:
        print()
        for vectors, results, good in ((txlate, tx_results, ("equivalent",)),
                                       (rules, rule_results, ("ok", "rejected"))):
            for v in vectors:
                label, detail = results[v.id]
                if label not in good:
                    args_text = " ".join(v.args) if isinstance(v, TxlateVector) else v.rule
                    print(f"{v.id}: {label}: {args_text}\n    {detail}")
        print()
        for name, why in DELIBERATE.items():
            print(f"deliberate: {name}: {why}")
    if args.json:
        args.json.write_text(json.dumps({k: {v.id: list(r[v.id]) for v in vs}
                                         for k, (vs, r) in outcome.items()}, indent=1) + "\n")
    if args.update_expected:
        EXPECTED.write_text(json.dumps(summary(outcome), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
