"""Benchmark: `fwmigrate restore-translate` against `iptables-restore-translate`, same files.

Generates realistic iptables-save files (bench/gen_save.py) of 10,000 and 100,000 rules, runs
both tools several times on each, and prints the median wall time, the peak memory (max RSS of
the process) and the ratio. Not a test: machines here are noisy, so read medians and ratios.

    python bench/convert.py [--runs 5] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
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


def precompile() -> None:
    """Byte-compile fwmigrate and its imports, as an installed package is.

    An editable install has no .pyc files, and with PYTHONDONTWRITEBYTECODE set (as on our
    build machines) every run would compile the sources again, and parse the mappings tables
    again: about 50 ms and 116 M instructions of each run that a user's installed copy never
    pays.
    """
    for module in ("fwmigrate", "pyparsing", "click"):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                compileall.compile_dir(folder, quiet=1)
    # and let one small run keep the parsed mappings tables (mappings.load), as an installed
    # copy's first run does where writing bytecode is not turned off
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.NamedTemporaryFile("w", suffix=".save") as small:
        small.write(generate(200))
        small.flush()
        subprocess.run([*fwmigrate_command(), "restore-translate", "-f", small.name],
                       env=env, stdout=subprocess.DEVNULL, check=True)


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
    precompile()
    print(f"{'rules':>8} {'tool':<28} {'median s':>9} {'min s':>7} {'peak MiB':>9} {'µs/rule':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"rules-{size}.save"
            path.write_text(generate(size))
            commands = {"iptables-restore-translate": [reference, "-f", str(path)],
                        "fwmigrate restore-translate":
                            ours + ["restore-translate", "-f", str(path)]}
            # alternate the two tools so that a busy spell on this shared machine slows both
            runs: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, cmd in commands.items():
                    runs[name].append(measure(cmd))
            results = {}
            for name, samples in runs.items():
                median = statistics.median(t for t, _ in samples)
                peak = max(m for _, m in samples) / 1024
                results[name] = median
                print(f"{size:>8} {name:<28} {median:>9.2f} {min(t for t, _ in samples):>7.2f} "
                      f"{peak:>9.1f} {median / size * 1e6:>8.1f}")
            ratio = results["fwmigrate restore-translate"] / results["iptables-restore-translate"]
            print(f"{size:>8} ratio fwmigrate / reference: {ratio:.2f}x (target at 100,000 "
                  f"rules: at most 2x, peak memory under 300 MiB)")


if __name__ == "__main__":
    main()
