"""Feed mutated real inputs to every command that reads one, and report what misbehaves.

Seeds are the project's own inputs (samples/, tests/realworld/, tests/golden/, the iptables
1.8.9 *.t rule vectors); each is mutated (truncated, words and lines deleted, duplicated or
swapped, values replaced by edge values, quotes unbalanced, bytes that are not UTF-8 ...) and
run through the command line in this process (click's CliRunner). Flagged:

  crash      an exception other than click's own exit (a traceback for the user)
  hang       a run longer than --timeout seconds (small inputs only)
  exit0err   exit status 0 while stderr says "error:"
  noloc      an error about a file's contents with no file:line:col in it
  leftover   an output file (or its temporary) present after a failed convert
  nftreject  convert --to nft succeeded but `nft -c -f` refuses the output (--nft-check:
             run in a scratch network namespace made and deleted here)

Usage: python bench/fuzz_inputs.py [--seed N] [--rounds N] [--timeout S] [--nft-check N] [-v]
Each finding is printed once per distinct signature, with the input that showed it first
(saved under --keep DIR when given).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from contextlib import suppress
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conformance_vectors import fetched  # noqa: E402

from fwmigrate.cli import main  # noqa: E402

EDGE_VALUES = ["", "0", "-1", "65535", "65536", "4294967295", "4294967296",
               "18446744073709551616", "9" * 60, "!", "!!", "--", "-", "'", '"', "\\",
               "é", "\u2013dport", "\x00", "a" * 5000, "0x", "0xffffffffff", "1:", ":1",
               "65536:1", "1,2,,3", "/", "1.2.3.4/33", "::/129", "1.2.3.4/-1", "300.1.1.1",
               "$X", "${", "$(", "`", "*", "[", "]", "{", "}", ";", "&&", "|", "#", "\t",
               "\r", "--dport", "-j", "-m", "-p", "ACCEPT", "-A", "-N", "-X", "-F", "-P",
               "INPUT", "nft", "1/sec", "0/second", "10/minute", "1e9", "-0", "+1", "1.5"]
BAD_BYTES = [b"\xff", b"\xc3", b"\x80\x80", b"\xed\xa0\x80", b"\x00"]


def _words(line: str) -> list[str]:
    return line.split(" ")


def mutate(text: str, rng: random.Random) -> bytes:
    """One to three random mutations of text; bytes, since some produce invalid UTF-8."""
    lines = text.split("\n")
    raw_tail = b""
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(14)
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        words = _words(lines[i])
        j = rng.randrange(len(words))
        if op == 0:                                   # truncate the whole text
            flat = "\n".join(lines)
            flat = flat[:rng.randrange(len(flat) + 1)]
            lines = flat.split("\n")
        elif op == 1:
            del words[j]
            lines[i] = " ".join(words)
        elif op == 2:
            words.insert(j, words[j])
            lines[i] = " ".join(words)
        elif op == 3:
            k = rng.randrange(len(words))
            words[j], words[k] = words[k], words[j]
            lines[i] = " ".join(words)
        elif op == 4:
            del lines[i]
        elif op == 5:
            lines.insert(i, lines[i])
        elif op == 6:
            k = rng.randrange(len(lines))
            lines[i], lines[k] = lines[k], lines[i]
        elif op in (7, 8, 9):                         # the commonest: a value at its edge
            words[j] = rng.choice(EDGE_VALUES)
            lines[i] = " ".join(words)
        elif op == 10:
            words.insert(j, rng.choice(["'", '"', "\\", "'a", 'a"', "$'", "${A", "$((1"]))
            lines[i] = " ".join(words)
        elif op == 11:
            lines = [ln + "\r" for ln in lines] if rng.random() < .5 else \
                [ln.replace(" ", "\t") for ln in lines]
        elif op == 12:
            raw_tail = rng.choice([b"\\", b"\\\n", b"'", b'"', b"\xff\xfe", b"\x00"])
        else:
            lines[i] = lines[i][:rng.randrange(len(lines[i]) + 1)] + "\udcff" + \
                lines[i][rng.randrange(len(lines[i]) + 1):]
    data = "\n".join(lines).encode("utf-8", "surrogateescape")
    if rng.random() < .1:
        pos = rng.randrange(len(data) + 1)
        data = data[:pos] + rng.choice(BAD_BYTES) + data[pos:]
    return data + raw_tail


def generated(rng: random.Random) -> list[tuple[str, bytes]]:
    """Inputs no seed has: deep and recursive jump chains, thousands of chains."""
    out = []
    n = rng.choice([50, 500, 3000])
    chains = [f"C{i}" for i in range(n)]
    save = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    save += [f":{c} - [0:0]" for c in chains]
    pairs = list(zip(chains, chains[1:], strict=False))
    save += ["-A INPUT -j C0"] + [f"-A {a} -j {b}" for a, b in pairs]
    out.append((f"deep-{n}.save", ("\n".join(save + ["COMMIT", ""])).encode()))
    loop = save + [f"-A {chains[-1]} -j C0", "COMMIT", ""]
    out.append((f"loop-{n}.save", "\n".join(loop).encode()))
    script = [f"iptables -N {c}" for c in chains] + [
        f"iptables -A {a} -p tcp --dport {i % 65535 + 1} -j {b}"
        for i, (a, b) in enumerate(pairs)] + ["iptables -A INPUT -j C0"]
    out.append((f"deep-{n}.sh", ("\n".join(script) + "\n").encode()))
    nft = ["table ip t {"] + [f"  chain {c} {{\n    jump {b}\n  }}" for c, b in
                               zip(chains, chains[1:] + [chains[0]], strict=True)] + [
        "  chain input { type filter hook input priority 0; jump C0; }", "}"]
    out.append((f"loop-{n}.nft", ("\n".join(nft) + "\n").encode()))
    return out


def seeds() -> dict[str, list[tuple[str, str]]]:
    """kind → [(name, text)]: iptables inputs (scripts and dumps), nft inputs, rule word lists."""
    files = sorted(glob.glob(str(ROOT / "samples/*")) + glob.glob(str(ROOT / "tests/realworld/*")))
    ipt = [(Path(f).name, Path(f).read_text(errors="surrogateescape")) for f in files
           if not f.endswith(".ipsets")]
    nft = [(Path(f).name, Path(f).read_text()) for f in
           sorted(glob.glob(str(ROOT / "tests/golden/*.nft")))]
    rules = []
    # iptables' vectors: exits saying how to fetch them when they are not there
    for t in sorted(glob.glob(str(fetched() / "*.t"))):
        chain = "INPUT"
        table = "filter"
        for line in Path(t).read_text().splitlines():
            if line.startswith(":"):
                chain = line[1:].split(",")[0]
                continue
            if line.startswith("*"):
                table = line[1:]
                continue
            if not line or line.startswith("#"):
                continue
            rules.append((Path(t).name, f"-t {table} -A {chain} {line.split(';')[0]}"))
    # the .t rule vectors as tiny scripts too, so convert sees them
    ipt += [(n, f"iptables {r}\n") for n, r in rules[::7]]
    return {"ipt": ipt, "nft": nft, "rules": rules}


PACKETS = ["tcp 10.0.0.5:40000 > 10.0.0.1:22 in eth1 ct new",
           "udp [2001:db8::1]:53 > [2001:db8::2]:5353 out eth0 hook output",
           "icmp 192.0.2.1 > 10.0.0.1 type 8/0 ct established status SNAT,ASSURED frag",
           "tcp 10.0.0.5:1 > 10.0.0.1:80 flags SYN,ACK recent SSH recent L@dst hook forward"]
JSON_EDGES = [5, -1, 0, 4294967296, "x", "", None, [], {}, True, "\u2013", "a" * 300,
              {"set": 5}, [1, "x"], {"payload": {"protocol": "tcp"}}]


def mutate_json(document, rng: random.Random) -> bytes:
    """The JSON with one to three nodes replaced, deleted or duplicated: the same shape
    except in a few places, which text mutation (almost always invalid JSON) does not give."""
    doc = json.loads(json.dumps(document))
    for _ in range(rng.randint(1, 3)):
        parent, key, node = None, None, doc
        for _depth in range(rng.randint(1, 9)):
            if isinstance(node, dict) and node:
                parent, key = node, rng.choice(list(node))
            elif isinstance(node, list) and node:
                parent, key = node, rng.randrange(len(node))
            else:
                break
            node = parent[key]
        if parent is None:
            continue
        op = rng.randrange(3)
        if op == 0:
            parent[key] = rng.choice(JSON_EDGES)
        elif op == 1:
            del parent[key]
        elif isinstance(parent, list):
            parent.insert(key, parent[key])
        else:
            parent[key + "_"] = parent[key]
    return json.dumps(doc).encode()


def json_seeds(tmp: Path) -> list[tuple[str, dict]]:
    """nft JSON as fwmigrate writes it (a batch) and as `nft -j list ruleset` writes it (a
    listing, made in a scratch namespace from each golden nft file)."""
    out = []
    runner = CliRunner()
    for sample in sorted(glob.glob(str(ROOT / "samples/*.save")))[:4]:
        result = runner.invoke(main, ["convert", sample, "--to", "nft-json"])
        if result.exit_code == 0:
            out.append((Path(sample).name + ".json", json.loads(result.stdout)))
    ns = f"fwfuzzj{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        return out
    try:
        for golden in sorted(glob.glob(str(ROOT / "tests/golden/*.nft")))[:6]:
            run = ["ip", "netns", "exec", ns, "nft"]
            subprocess.run([*run, "flush", "ruleset"], capture_output=True)
            if subprocess.run([*run, "-f", golden], capture_output=True).returncode == 0:
                listing = subprocess.run([*run, "-j", "list", "ruleset"], capture_output=True,
                                         text=True).stdout
                out.append((Path(golden).name + ".listing.json", json.loads(listing)))
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return out


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


LOC = re.compile(r":\d+:\d+: ")


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.runner = CliRunner()
        self.tmp = Path(tempfile.mkdtemp(prefix="fwfuzz-"))
        self.tried: Counter = Counter()
        self.findings: dict[tuple, tuple] = {}
        self.counts: Counter = Counter()
        self.nft_candidates: list[tuple[str, str]] = []
        signal.signal(signal.SIGALRM, _alarm)

    def flag(self, kind, command, signature, name, data, detail):
        key = (kind, command[0], signature)
        self.counts[(kind, command[0])] += 1
        if key in self.findings:
            return
        self.findings[key] = (name, data, detail, command)
        if self.args.keep:
            keep = Path(self.args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"{kind}-{len(self.findings)}-{name}").write_bytes(
                data if isinstance(data, bytes) else repr(data).encode())
        if self.args.verbose:
            print(f"[{kind}] {' '.join(command)} on {name}: {detail}", flush=True)

    def invoke(self, command: list[str], name: str, data, stdin=None):
        label = command[0] + (" " + command[command.index("--to") + 1]
                              if command[0] == "convert" and "--to" in command else "")
        self.tried[label] += 1
        small = (len(data) if data is not None else 0) < 200_000
        signal.alarm(self.args.timeout if small else 120)
        start = time.monotonic()
        try:
            result = self.runner.invoke(main, command, input=stdin, catch_exceptions=True)
        except Timeout:
            self.flag("hang", [label], name, name, data, f">{self.args.timeout}s")
            return None
        finally:
            signal.alarm(0)
        exc = result.exception
        if isinstance(exc, Timeout):
            self.flag("hang", [label], "", name, data,
                      f">{self.args.timeout}s after {time.monotonic() - start:.1f}s")
            return None
        if exc is not None and not isinstance(exc, SystemExit):
            tb = traceback.extract_tb(result.exc_info[2])
            own = [f for f in tb if "/fwmigrate/" in f.filename] or tb
            where = f"{Path(own[-1].filename).name}:{own[-1].lineno}"
            self.flag("crash", [label], f"{type(exc).__name__}@{where}", name, data,
                      f"{type(exc).__name__}: {str(exc)[:200]} at {where}")
            return None
        stderr = result.stderr
        if result.exit_code == 0 and "error:" in stderr:
            self.flag("exit0err", [label], stderr[:60], name, data, stderr[:300])
        if result.exit_code not in (0, 1, 2):
            self.flag("exitcode", [label], str(result.exit_code), name, data, stderr[:300])
        if result.exit_code != 0 and "error" in stderr and not LOC.search(stderr) \
                and "Usage:" not in stderr and label != "translate" \
                and not stderr.startswith("Error: cannot read"):
            first = stderr.strip().splitlines()[0] if stderr.strip() else ""
            sig = re.sub(r"[`'\"].*?[`'\"]|\d+", "_", first)[:40]   # one per kind of message
            self.flag("noloc", [label], sig, name, data, stderr[:300])
        return result

    def write(self, name: str, data: bytes) -> str:
        path = self.tmp / re.sub(r"[^\w.-]", "_", name)
        path.write_bytes(data)
        return str(path)

    def convert(self, name, data, to):
        path = self.write("in-" + name, data)
        out = self.tmp / "out.result"
        for leftover in (out, Path(f"{out}.fwmigrate-tmp")):
            leftover.unlink(missing_ok=True)
        result = self.invoke(["convert", path, "--to", to, "-o", str(out)], name, data)
        if result is None:
            return
        if result.exit_code != 0:
            left = [p.name for p in (out, Path(f"{out}.fwmigrate-tmp")) if p.exists()]
            if left:
                self.flag("leftover", ["convert"], to, name, data, f"left {left}")
        elif to == "nft" and out.exists():
            self.nft_candidates.append((name, out.read_text()))

    def run_round(self, kinds):
        rng = self.rng
        name, text = rng.choice(kinds["ipt"])
        data = mutate(text, rng)
        for to in ("nft", "nft-json", "iptables-restore"):
            self.convert(name, data, to)
        path = self.write("rt-" + name, data)
        self.invoke(["restore-translate", "-f", path], name, data)
        if rng.random() < .3:
            self.invoke(["explain", path, "--packet",
                         "tcp 10.0.0.5:40000 > 10.0.0.1:22 in eth1 ct new"], name, data)
        # a packet spec, mutated, against a sample
        spec = rng.choice(PACKETS)
        pdata = mutate(spec, rng).decode("utf-8", "surrogateescape").replace("\x00", "")
        self.invoke(["explain", str(ROOT / "samples/tutorial.sh"), "--packet", pdata],
                    "packet", pdata)
        # translate: a rule vector's words, mutated
        rname, rule = rng.choice(kinds["rules"])
        words = rule.split()
        if rng.random() < .5:
            with suppress(ValueError):          # an unbalanced quote: keep the plain words
                words = shlex.split(mutate(rule, rng).decode("utf-8", "surrogateescape")
                                    .replace("\x00", ""))
        if rng.random() < .3:
            words = [w if rng.random() > .2 else rng.choice(EDGE_VALUES).replace("\x00", "")
                     for w in words]
        self.invoke(["translate", *(["-6"] if "ip6t" in rname and rng.random() < .8 else []),
                     *words], rname, " ".join(words))
        # nft text input: diff (and explain) against the untouched file
        nname, ntext = rng.choice(kinds["nft"])
        ndata = mutate(ntext, rng)
        npath = self.write("nft-" + nname, ndata)
        orig = self.write("orig-" + nname, ntext.encode())
        self.invoke(["diff", orig, npath], nname, ndata)
        if rng.random() < .2:
            self.invoke(["explain", npath, "--packet", "udp 192.0.2.1:5353 > 10.0.0.1:53 in eth0"],
                        nname, ndata)
        if rng.random() < .05:
            self.invoke(["verify", "--equiv", orig, npath], nname, ndata)
        # an `ipset save` file, mutated, with the save file that names its sets
        if rng.random() < .3:
            ipsets = (ROOT / "samples/ipset-blocklist.ipsets").read_text()
            sdata = mutate(ipsets, rng)
            spath = self.write("sets.ipsets", sdata)
            out = self.tmp / "out.result"
            out.unlink(missing_ok=True)
            result = self.invoke(["convert", str(ROOT / "samples/ipset-blocklist.save"),
                                  "--ipsets", spath, "-o", str(out)], "ipset-blocklist.ipsets",
                                 sdata)
            if result is not None and result.exit_code != 0 and out.exists():
                self.flag("leftover", ["convert"], "ipsets", "ipsets", sdata, "left output")
            self.invoke(["restore-translate", "-f", str(ROOT / "samples/ipset-blocklist.save"),
                         "--ipsets", spath], "ipset-blocklist.ipsets", sdata)
        # nft JSON input (batches and listings), mutated in its structure
        if kinds["json"] and rng.random() < .5:
            jname, document = rng.choice(kinds["json"])
            jdata = mutate_json(document, rng)
            jpath = self.write("json-" + jname, jdata)
            self.invoke(["diff", jpath, jpath], jname, jdata)
            if rng.random() < .2:
                self.invoke(["explain", jpath, "--packet", "tcp 10.0.0.5:40000 > 10.0.0.1:22"],
                            jname, jdata)

    def nft_check(self, limit):
        """convert --to nft succeeded: does nft itself accept the file? (scratch namespace)"""
        if not self.nft_candidates or limit <= 0:
            return 0
        ns = f"fwfuzz{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        checked = 0
        try:
            sample = self.rng.sample(self.nft_candidates, min(limit, len(self.nft_candidates)))
            for name, text in sample:
                f = self.tmp / "check.nft"
                f.write_text(text)
                checked += 1
                p = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", str(f)],
                                   capture_output=True, text=True, timeout=60)
                if p.returncode != 0:
                    err = p.stderr.strip().splitlines()[0] if p.stderr.strip() else "?"
                    if "No such file or directory" in err and "queue" in p.stderr:
                        continue        # this kernel has no nft_queue (see the conformance notes)
                    sig = re.sub(r"\d+", "_", err)[:80]
                    self.flag("nftreject", ["convert"], sig, name, text.encode(), p.stderr[:400])
        finally:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        return checked

    def report(self, elapsed, checked):
        print(f"fuzz: seed {self.args.seed}, {self.args.rounds} rounds in {elapsed:.0f}s")
        print("inputs tried per command:")
        for label, n in sorted(self.tried.items()):
            print(f"  {label:28} {n}")
        print(f"  nft -c -f on converted output {checked} (of {len(self.nft_candidates)} "
              "successful conversions)")
        by_kind = defaultdict(list)
        for (kind, command, sig), found in self.findings.items():
            by_kind[kind].append((command, sig, found))
        print(f"findings: {len(self.findings)} distinct")
        for kind in ("crash", "hang", "exit0err", "exitcode", "leftover", "noloc", "nftreject"):
            for command, _sig, (name, data, detail, _) in by_kind.get(kind, []):
                runs = self.counts[(kind, command)]
                print(f"  [{kind}] {command} ({runs} runs): {detail!s:.300}"
                      f"\n      first on {name}: {data[:160]!r}")


def main_() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--timeout", type=int, default=10)
    ap.add_argument("--nft-check", type=int, default=60, metavar="N",
                    help="check N successful conversions with nft -c (0: none)")
    ap.add_argument("--keep", metavar="DIR", help="save each finding's input here")
    ap.add_argument("--no-generated", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    kinds = seeds()             # first: it may exit (vectors not fetched)
    fuzzer = Fuzzer(args)
    kinds["json"] = json_seeds(fuzzer.tmp)
    start = time.monotonic()
    if not args.no_generated:
        for name, data in generated(fuzzer.rng):
            if name.endswith(".nft"):
                p = fuzzer.write(name, data)
                fuzzer.invoke(["diff", p, p], name, data)
                fuzzer.invoke(["explain", p, "--packet", "tcp 1.2.3.4:1 > 5.6.7.8:22"], name, data)
            else:
                for to in ("nft", "nft-json", "iptables-restore"):
                    fuzzer.convert(name, data, to)
                fuzzer.invoke(["restore-translate", "-f", fuzzer.write(name, data)], name, data)
    for _ in range(args.rounds):
        fuzzer.run_round(kinds)
    checked = fuzzer.nft_check(args.nft_check)
    fuzzer.report(time.monotonic() - start, checked)
    return 1 if any(k[0] in ("crash", "hang", "leftover", "nftreject", "exit0err")
                    for k in fuzzer.findings) else 0


if __name__ == "__main__":
    sys.exit(main_())
