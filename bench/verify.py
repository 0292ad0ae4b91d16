"""Benchmark: `fwmigrate verify --equiv` on a 10,000-rule save file against its nft translation
(equivalent), and against a copy with one rule changed deep in a chain (must be found).

Prints median wall time and peak memory (max RSS) of each, against the targets: under 10 s
each, under 1 GB. Needs root (the nft file is loaded into a scratch namespace to be read).

    python bench/verify.py [--rules 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert import fwmigrate_command  # noqa: E402
from gen_save import generate  # noqa: E402


def run(cmd: list[str]) -> tuple[float, int, int, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() + proc.stderr.read()
    return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status), out


def change_one_rule(nft: str) -> tuple[str, str]:
    """Change the port of the middle `dport 443` rule of the longest user chain."""
    lines = nft.splitlines()
    chains: dict[str, list[int]] = {}
    current = None
    for k, line in enumerate(lines):
        m = re.match(r"\tchain (\S+) \{", line)
        if m:
            current = m.group(1)
        elif current and "dport 443 " in line:
            chains.setdefault(current, []).append(k)
    chain = max(chains, key=lambda c: len(chains[c]))
    k = chains[chain][len(chains[chain]) // 2]
    lines[k] = lines[k].replace("dport 443 ", "dport 444 ", 1)
    return "\n".join(lines) + "\n", f"{chain}, line {k + 1}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ours = fwmigrate_command()
    with tempfile.TemporaryDirectory() as tmp:
        save = Path(tmp) / "rules.save"
        save.write_text(generate(args.rules))
        nft = Path(tmp) / "rules.nft"
        nft.write_text(subprocess.run(ours + ["convert", str(save)], capture_output=True,
                                      text=True, check=True).stdout)
        changed = Path(tmp) / "changed.nft"
        text, where = change_one_rule(nft.read_text())
        changed.write_text(text)
        print(f"{'case':<40} {'median s':>9} {'peak MiB':>9}  result")
        for label, other, expect in (("translation (equivalent)", nft, 0),
                                     (f"one rule changed ({where})", changed, 1)):
            runs = [run(ours + ["verify", "--equiv", str(save), str(other)])
                    for _ in range(args.runs)]
            median = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs) / 1024
            codes = {r[2] for r in runs}
            verdict = "equivalent" if codes == {0} else "difference found" if codes == {1} \
                else f"exit {codes}"
            ok = "ok" if codes == {expect} else "WRONG"
            print(f"{label[:40]:<40} {median:>9.2f} {peak:>9.1f}  {verdict} ({ok}; "
                  f"target < 10 s, < 1024 MiB)")


if __name__ == "__main__":
    main()
