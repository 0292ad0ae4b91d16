"""Benchmark: `fwmigrate restore-translate` against `iptables-restore-translate`, same files.

Generates realistic iptables-save files (bench/gen_save.py) of 10,000 and 100,000 rules, runs
both tools several times on each, and prints the median wall time, the peak memory (max RSS of
the process) and the ratio. Not a test: machines here are noisy, so read medians and ratios.

    python bench/convert.py [--runs 5] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_save import generate  # noqa: E402


def measure(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run, output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss


def fwmigrate_command() -> list[str]:
    exe = shutil.which("fwmigrate")
    venv = Path(sys.executable).with_name("fwmigrate")
    return [str(venv)] if venv.exists() else [exe] if exe else [sys.executable, "-m", "fwmigrate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    reference = shutil.which("iptables-restore-translate")
    if reference is None:
        raise SystemExit("iptables-restore-translate is not installed "
                         "(Debian: apt install iptables)")
    ours = fwmigrate_command()
    print(f"{'rules':>8} {'tool':<28} {'median s':>9} {'min s':>7} {'peak MiB':>9} {'µs/rule':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"rules-{size}.save"
            path.write_text(generate(size))
            results = {}
            for name, cmd in (("iptables-restore-translate", [reference, "-f", str(path)]),
                              ("fwmigrate restore-translate",
                               ours + ["restore-translate", "-f", str(path)])):
                runs = [measure(cmd) for _ in range(args.runs)]
                median = statistics.median(t for t, _ in runs)
                peak = max(m for _, m in runs) / 1024
                results[name] = median
                print(f"{size:>8} {name:<28} {median:>9.2f} {min(t for t, _ in runs):>7.2f} "
                      f"{peak:>9.1f} {median / size * 1e6:>8.1f}")
            ratio = results["fwmigrate restore-translate"] / results["iptables-restore-translate"]
            print(f"{size:>8} ratio fwmigrate / reference: {ratio:.2f}x (target at 100,000 "
                  f"rules: at most 2x, peak memory under 300 MiB)")


if __name__ == "__main__":
    main()
