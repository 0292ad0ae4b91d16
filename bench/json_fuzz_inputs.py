"""The inputs of bench/json_fuzz.py: batches of iptables input for fwmigrate to translate.

A Batch is one input file (a script or a save file) whose rule lines are its units: a unit
fwmigrate refuses is blanked out (so every other line keeps its number, and diagnostics still
point at the right one), and a mismatch is narrowed down by blanking units. Every batch is made
again from its `replay` name alone (SOURCE:NUMBER): for the random sources NUMBER is the batch's
seed, for the fixed corpora its index.

Random single rules come from bench/fuzz_rules.py (+ fuzz_rules_more.py, the match fuzzer's
rules, with values aimed at random packets) given a random target and table here; whole
rulesets from bench/ruleset_gen.py; the fixed corpora are iptables 1.8.9's vectors (*.txlate and
*.t, bench/conformance_vectors.py), fwmigrate's own vectors (tests/vectors), samples/ and the
tests/realworld files that convert.
"""

from __future__ import annotations

import random
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_packets  # noqa: E402
import fuzz_rules  # noqa: E402
import ruleset_gen  # noqa: E402
from conformance_vectors import fetched, read_rule_tests, read_txlate  # noqa: E402

from fwmigrate.convert import ConvertOptions  # noqa: E402

PROGRAM = {"ip": "iptables", "ip6": "ip6tables"}


@dataclass
class Batch:
    name: str
    replay: str                    # SOURCE:NUMBER, what --replay takes
    lines: list[str]
    units: list[int]               # indexes of the rule lines
    options: ConvertOptions = field(default_factory=ConvertOptions)
    filename: str = "fuzz.sh"

    def text(self, keep: set[int] | None = None) -> str:
        """The input with the units not in `keep` blanked (all of them kept by default)."""
        units = set(self.units)
        return "".join("\n" if i in units and keep is not None and i not in keep else line + "\n"
                       for i, line in enumerate(self.lines))


# --- random single rules -------------------------------------------------------------------------

REJECT_WITH = {"ip": ["icmp-net-unreachable", "icmp-host-prohibited", "icmp-port-unreachable",
                      "icmp-admin-prohibited", "tcp-reset"],
               "ip6": ["icmp6-no-route", "icmp6-adm-prohibited", "icmp6-port-unreachable",
                       "icmp6-addr-unreachable", "tcp-reset"]}
ADDRESS = {"ip": ["192.0.2.7", "10.1.2.0/24", "198.51.100.1-198.51.100.9"],
           "ip6": ["2001:db8::7", "2001:db8:1::/64", "[2001:db8::1]-[2001:db8::9]"]}
FILTER_TARGETS = [
    "", "-j ACCEPT", "-j DROP", "-j REJECT", "-j REJECT --reject-with {reject}",
    "-j LOG --log-prefix 'fz: ' --log-level 4", "-j LOG --log-tcp-sequence --log-ip-options "
    "--log-uid", "-j NFLOG --nflog-group 3 --nflog-prefix fuzz", "-j MARK --set-mark 0x7",
    "-j CONNMARK --set-mark 0x5/0xf", "-j fuzzchain", "-g fuzzchain", "-j RETURN",
]
MANGLE_TARGETS = [
    "-j MARK --set-xmark 0x3/0xff", "-j MARK --and-mark 0xf", "-j MARK --or-mark 0x10",
    "-j CONNMARK --save-mark", "-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff",
    "-j DSCP --set-dscp 10", "-j DSCP --set-dscp-class EF", "-j TOS --set-tos 0x10",
    "-j {ttl}", "-j TCPMSS --set-mss 1400", "-j TCPMSS --clamp-mss-to-pmtu",
    "-j CLASSIFY --set-class 1:10", "-j TPROXY --on-port 8080 --tproxy-mark 0x1/0x1", "",
]
TTL = {"ip": ["TTL --ttl-set 64", "TTL --ttl-inc 1", "TTL --ttl-dec 2"],
       "ip6": ["HL --hl-set 64", "HL --hl-inc 1", "HL --hl-dec 2"]}
NAT_TARGETS = {
    "PREROUTING": ["-j DNAT --to-destination {addr}", "-j DNAT --to-destination {host}{port}",
                   "-j REDIRECT", "-j REDIRECT --to-ports {ports}", "-j NETMAP --to {net}"],
    "POSTROUTING": ["-j SNAT --to-source {addr}", "-j MASQUERADE",
                    "-j MASQUERADE --to-ports {ports} --random", "-j SNAT --to-source "
                    "{host}{port}", "-j NETMAP --to {net}"],
}
RAW_TARGETS = ["-j CT --notrack", "-j NOTRACK", "-j CT --zone 5", "-j ACCEPT", ""]
MANGLE_CHAINS = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]


def _takes_ports(rule_text: str) -> bool:
    words = shlex.split(rule_text)
    return any(w == "-p" and words[i + 1] in ("tcp", "udp", "sctp", "dccp") and
               (i == 0 or words[i - 1] != "!") for i, w in enumerate(words[:-1]))


def _target(rng: random.Random, family: str, rule_text: str) -> tuple[str, str, str]:
    """(table, chain, target words) for a rule."""
    host = {"ip": "192.0.2.9", "ip6": "[2001:db8::9]"}[family]
    values = {"reject": rng.choice(REJECT_WITH[family]), "ttl": rng.choice(TTL[family]),
              "addr": rng.choice(ADDRESS[family]).strip("[]").replace("]-[", "-"),
              "host": host if rng.random() < 0.8 or family == "ip" else host.strip("[]"),
              "port": rng.choice([":8080", ":1000-2000"]) if _takes_ports(rule_text) else "",
              "ports": "8080-8090" if _takes_ports(rule_text) else "",
              "net": {"ip": "10.9.8.0/24", "ip6": "2001:db8:9::/64"}[family]}
    table = rng.choices(["filter", "mangle", "nat", "raw"], [6, 3, 2, 1])[0]
    if table == "filter":
        chain = rng.choice(["INPUT", "INPUT", "FORWARD", "OUTPUT", "fuzzchain"])
        target = rng.choice(FILTER_TARGETS)
        if chain == "fuzzchain" and "fuzzchain" in target:
            target = "-j RETURN"
    elif table == "mangle":
        chain, target = rng.choice(MANGLE_CHAINS), rng.choice(MANGLE_TARGETS)
        if "TCPMSS" in target:
            target = "-p tcp --tcp-flags SYN,RST SYN " + target if "-p" not in rule_text \
                else target
    elif table == "nat":
        chain = rng.choice(sorted(NAT_TARGETS))
        target = rng.choice(NAT_TARGETS[chain])
        if "{ports}" in target and not values["ports"]:
            target = target.split(" --to-ports")[0]
    else:
        chain, target = rng.choice(["PREROUTING", "OUTPUT"]), rng.choice(RAW_TARGETS)
    return table, chain, target.format(**values)


def random_rules(seed: int, families: tuple[str, ...], count: int) -> Batch:
    """`count` random rules with targets, in the four tables (ip, ip6, or both for inet)."""
    rng = random.Random(seed)
    lines = [f"{PROGRAM[f]} -N fuzzchain" for f in families]
    units = []
    pkts = {f: fuzz_packets.packets(rng, f, 24) for f in families}
    for _ in range(count):
        family = rng.choice(families)
        rule = fuzz_rules.rule(rng, rng.choice(pkts[family]), family == "ip6").text
        table, chain, target = _target(rng, family, rule)
        units.append(len(lines))
        lines.append(f"{PROGRAM[family]} -t {table} -A {chain} {rule} {target}".rstrip())
    inet = len(families) > 1
    name = "rules-inet" if inet else f"rules-{families[0]}"
    return Batch(f"{name} seed {seed}", f"{name}:{seed}", lines, units,
                 ConvertOptions(family="inet" if inet else None,
                                counters=rng.random() < 0.3))


# --- random whole rulesets -----------------------------------------------------------------------

def random_ruleset(seed: int) -> Batch:
    rng = random.Random(seed)
    inet = rng.random() < 0.4
    mirror = inet and rng.random() < 0.5
    lines = ruleset_gen.ruleset(rng.randrange(2**32), mirror, inet).save().splitlines()
    counters = rng.random() < 0.4
    if counters:
        # `[packets:bytes]` before each rule, kept with --counters: now and then past what
        # JSON's signed 64-bit numbers hold (nft_json refuses those rules, naming them)
        lines = [f"[{_count(rng)}:{_count(rng)}] {line}" if line.startswith("-A ") else line
                 for line in lines]
    units = [i for i, line in enumerate(lines) if _RULE_LINE.search(line)]
    return Batch(f"rulesets seed {seed}" + (" --family inet" if inet else "")
                 + (" --counters" if counters else ""),
                 f"rulesets:{seed}", lines, units,
                 ConvertOptions(source_kind="save", family="inet" if inet else None,
                                counters=counters),
                 "fuzz.save")


def _count(rng: random.Random) -> int:
    return rng.choice([0, rng.randrange(10**6), rng.randrange(2**63), 2**63 - 1, 2**64 - 1]
                      if rng.random() < 0.1 else [0, rng.randrange(10**6)])


# --- fixed corpora -------------------------------------------------------------------------------

_BUILTIN = {"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"}


def _script_of(family: str, commands: list[list[str]]) -> tuple[list[str], list[int]]:
    """A script of `commands` (iptables arguments), with -N lines first for the user chains
    they add to or jump to (a target is in capitals, a chain mostly not)."""
    chains: set[tuple[str, str]] = set()
    for args in commands:
        table = args[args.index("-t") + 1] if "-t" in args[:-1] else "filter"
        for i, word in enumerate(args[:-1]):
            name = args[i + 1]
            if word in ("-A", "-I") and name not in _BUILTIN:
                chains.add((table, name))
            if word in ("-j", "-g", "--jump", "--goto") and not name.isupper():
                chains.add((table, name))
    lines = [f"{PROGRAM[family]} -t {t} -N {shlex.quote(n)}" for t, n in sorted(chains)]
    units = []
    for args in commands:
        units.append(len(lines))
        lines.append(f"{PROGRAM[family]} {shlex.join(args)}")
    return lines, units


def _iptables_vectors() -> dict[str, list[list[str]]]:
    """The vectors' commands per family: *.txlate's translate commands, *.t's OK rules."""
    out: dict[str, list[list[str]]] = {"ip": [], "ip6": []}
    source = fetched()          # exits saying how to fetch them when they are not there
    for v in read_txlate(source):
        if any(w in v.args for w in ("-A", "-I")):
            out[v.family].append(list(v.args))
    for v in read_rule_tests(source):
        if v.result == "OK" and v.chains:
            out[v.family].append(["-t", v.table, "-A", v.chains[0], *shlex.split(v.rule)])
    return out


CHUNK = 120


def vector_batches() -> list[Batch]:
    """iptables' vectors in chunks per family, and the same chunks as one inet table."""
    out = []
    vectors = _iptables_vectors()
    for family in ("ip", "ip6", "inet"):
        families = ("ip", "ip6") if family == "inet" else (family,)
        for f in families:
            for start in range(0, len(vectors[f]), CHUNK):
                lines, units = _script_of(f, vectors[f][start:start + CHUNK])
                number = len(out)
                out.append(Batch(f"iptables vectors {f} {start}-{start + CHUNK}"
                                 + (" --family inet" if family == "inet" else ""),
                                 f"vectors:{number}", lines, units,
                                 ConvertOptions(family="inet" if family == "inet" else None)))
    return out


def own_vector_batches() -> list[Batch]:
    """tests/vectors, one batch per file (its set-up lines once, every vector after them)."""
    from vectors import load
    files: dict[str, list] = {}
    for v in load():
        if not v.is_error:
            files.setdefault(v.file, []).append(v)
    out = []
    for name, vs in sorted(files.items()):
        setup = list(dict.fromkeys(f"{v.program} {s}" for v in vs for s in v.setup))
        lines = setup + [f"{v.program} {v.args}" for v in vs]
        ipsets = list(dict.fromkeys(s for v in vs for s in v.ipsets))
        options = ConvertOptions(ipsets=("\n".join(ipsets) + "\n", f"{name} (ipset lines)")
                                 if ipsets else None)
        out.append(Batch(f"tests/vectors/{name}", f"own-vectors:{len(out)}", lines,
                         list(range(len(setup), len(lines))), options, name))
    return out


_RULE_LINE = re.compile(r"(^|\s)(-A|-I|--append|--insert)\s")


def file_batches() -> list[Batch]:
    """samples/ and the tests/realworld files that convert, each as it is and as inet."""
    from test_realworld import CONVERTS, OPTIONS, REALWORLD
    files = [(p, {}) for p in sorted((ROOT / "samples").iterdir()) if p.suffix != ".ipsets"]
    files += [(REALWORLD / n, {**OPTIONS.get(n, {}), **o}) for n, o in sorted(CONVERTS.items())]
    out = []
    for path, fields in files:
        ipsets = path.with_suffix(".ipsets")
        if ipsets.exists():
            fields = {**fields, "ipsets": (ipsets.read_text(), str(ipsets))}
        lines = path.read_text().splitlines()
        units = [i for i, line in enumerate(lines) if _RULE_LINE.search(line)
                 and not line.lstrip().startswith("#")]
        for family in (None, "inet"):
            out.append(Batch(f"{path.parent.name}/{path.name}"
                             + (" --family inet" if family else ""),
                             f"files:{len(out)}", lines, units,
                             ConvertOptions(family=family, **fields),
                             f"{path.parent.name}/{path.name}"))
    return out


FIXED = {"vectors": vector_batches, "own-vectors": own_vector_batches, "files": file_batches}
RANDOM = {"rules-ip": lambda seed, n: random_rules(seed, ("ip",), n),
          "rules-ip6": lambda seed, n: random_rules(seed, ("ip6",), n),
          "rules-inet": lambda seed, n: random_rules(seed, ("ip", "ip6"), n),
          "rulesets": lambda seed, n: random_ruleset(seed)}


def batch(replay: str, rules: int) -> Batch:
    """The batch a --replay name stands for."""
    source, _, number = replay.rpartition(":")
    if source in RANDOM:
        return RANDOM[source](int(number), rules)
    return FIXED[source]()[int(number)]
