"""iptables-save text reduced to what two differential benches compare (script_fuzz.py and
save_fuzz.py): per table, each chain's policy and rules, counters and comment lines dropped,
chains in name order, and a table left as the kernel makes it (built-in chains, ACCEPT, no
rules) left out, since iptables-save lists only the tables a run touched."""

from __future__ import annotations

import re

# the built-in chains of each table as a fresh table has them
BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}

_COUNTERS = re.compile(r"^\[\d+:\d+\] ")


def normalise(save: str) -> dict[str, dict]:
    """table → {chain: (policy, (rules…))}."""
    tables: dict[str, dict] = {}
    current: dict = {}
    last = None                 # the chain of the last -A line
    for line in save.splitlines():
        if not line or line.startswith("# ") or line == "COMMIT":
            last = None
            continue
        line = _COUNTERS.sub("", line)
        if line.startswith("*"):
            current = tables.setdefault(line[1:], {})
        elif line.startswith(":"):
            name, policy = line[1:].split()[:2]
            current[name] = (policy, [])
        elif line.startswith("-A "):
            last = line.split()[1]
            current[last][1].append(line)
        elif last is not None:
            # a comment with a newline in it: iptables-save prints it as it is
            current[last][1][-1] += "\n" + line
        else:
            raise ValueError(f"unexpected save line {line!r}")
    out = {}
    for name, chains in tables.items():
        fresh = set(chains) == set(BUILTIN.get(name, ())) and all(
            p == "ACCEPT" and not r for p, r in chains.values())
        if not fresh:
            out[name] = {c: (p, tuple(r)) for c, (p, r) in sorted(chains.items())}
    return out
