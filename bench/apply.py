"""Benchmark: loading a ruleset into the kernel, fwmigrate against the usual tools, same file.

For each size a realistic iptables-save file (bench/gen_save.py) is loaded, each time into a
fresh network namespace created here and deleted afterwards, by:

  iptables-nft-restore          the file                      (the target to match)
  iptables-legacy-restore       the file
  nft -f                        iptables-restore-translate's output of the file
  fwmigrate apply               the file, end to end: read, translate, back up, one
                                libnftables transaction (--state-dir in a temporary dir)
  fwmigrate apply, load only    the transaction apply sends (same syntax choice), timed
                                alone: translated beforehand, then one libnftables call

Prints the median and minimum wall time per tool and the ratio to iptables-nft-restore. Not
a test: machines here are noisy, read medians and ratios.

    python bench/apply.py [--runs 3] [--sizes 1000,10000,100000] [--skip-translate-at 100000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert import fwmigrate_command  # noqa: E402
from gen_save import generate  # noqa: E402


def in_fresh_namespace(cmd: list[str], stdin_path: Path | None = None) -> float:
    """Wall seconds of cmd run inside a new, empty network namespace."""
    name = f"fwbench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        full = ["ip", "netns", "exec", name] + cmd
        with open(stdin_path or "/dev/null") as stdin:
            start = time.perf_counter()
            proc = subprocess.run(full, stdin=stdin, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
        return elapsed
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


# apply's own transaction for a file, sent by apply's own code, timing only the send
LOAD_ONLY = """
import sys, time
from fwmigrate.apply.kernel import Kernel
from fwmigrate.apply.transaction import ApplyOptions, ApplyReport, _transaction
from fwmigrate.convert import ConvertOptions, translate_input
_ir, translation = translate_input(open(sys.argv[1]).read(), sys.argv[1], ConvertOptions())[:2]
send = _transaction(translation.ruleset, ApplyOptions(), ApplyReport("", False))
kernel = Kernel()
start = time.perf_counter()
send(kernel, check=False)
print(time.perf_counter() - start)
"""


def load_only(python: str, save: Path) -> float:
    name = f"fwbench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        proc = subprocess.run(["ip", "netns", "exec", name, python, "-c", LOAD_ONLY, str(save)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"load-only run failed: {proc.stderr[-2000:]}")
        return float(proc.stdout.split()[-1])
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def methods_for(save: Path, translated: Path, state: Path, ours: list[str], python: str):
    """(name, run) per tool; each run loads the file once and returns its wall time."""
    return [
        ("iptables-nft-restore", lambda: in_fresh_namespace(["iptables-nft-restore"], save)),
        ("iptables-legacy-restore", lambda: in_fresh_namespace(["iptables-legacy-restore"],
                                                               save)),
        ("nft -f (iptables-restore-translate)", lambda: in_fresh_namespace(
            ["nft", "-f", str(translated)])),
        ("fwmigrate apply", lambda: in_fresh_namespace(
            ours + ["apply", str(save), "--state-dir", str(state)])),
        ("fwmigrate apply, load only", lambda: load_only(python, save)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--skip-translate-at", type=int, default=0,
                        help="skip `nft -f` of iptables-restore-translate's output from this "
                             "size on (it grows much faster than linearly)")
    args = parser.parse_args()
    for tool in ("iptables-nft-restore", "iptables-legacy-restore", "iptables-restore-translate",
                 "nft", "ip"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt install iptables nftables "
                             "iproute2)")
    ours = fwmigrate_command()
    print(f"{'rules':>8} {'tool':<34} {'median s':>9} {'min s':>7} {'vs nft-restore':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            save = Path(tmp) / f"rules-{size}.save"
            save.write_text(generate(size))
            translated = Path(tmp) / f"rules-{size}.nft"
            translated.write_text(subprocess.run(
                ["iptables-restore-translate", "-f", str(save)], capture_output=True, text=True,
                check=True).stdout)
            state = Path(tmp) / "state"
            methods = methods_for(save, translated, state, ours, str(Path(sys.executable)))
            results: dict[str, float] = {}
            for name, run in methods:
                if name.startswith("nft -f") and args.skip_translate_at and \
                        size >= args.skip_translate_at:
                    print(f"{size:>8} {name:<34} {'skipped':>9}")
                    continue
                times = [run() for _ in range(args.runs)]
                results[name] = statistics.median(times)
                base = results.get("iptables-nft-restore")
                ratio = f"{results[name] / base:.2f}x" if base else ""
                print(f"{size:>8} {name:<34} {results[name]:>9.2f} {min(times):>7.2f} "
                      f"{ratio:>15}", flush=True)


if __name__ == "__main__":
    main()
