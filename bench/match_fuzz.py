"""A randomized differential test of single-rule match semantics: iptables-legacy against
fwmigrate's nft translation, in the real kernel.

    python bench/match_fuzz.py [--seed N] [--batches N] [--family ip|ip6] [--rules N]
                               [--packets N] [-v]

Each batch makes random packets (bench/fuzz_packets.py) and random rules without a target
aimed at them (bench/fuzz_rules.py): every packet passes every rule, so a rule's counter says
exactly whether it matched. The rules go into iptables-legacy (raw PREROUTING, `-i fwx1`) and
their translations (`fwmigrate translate`) into one nft chain at the same priority, both at
once, in a namespace made for the run (tests/packets.py's Bench); each packet is sent alone
and both sets of counters read after it. A cell (rule, packet) where the two differ is a
mismatch, unless it is one of the known differences README lists (KNOWN below), which are
counted apart. A rule fwmigrate refuses, or iptables-legacy refuses, is skipped and counted.
Each mismatch is minimized (clauses dropped while it stays) and printed with the packet's
bytes. Exit status 1 when any mismatch was found.
"""

from __future__ import annotations

import argparse
import random
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_packets  # noqa: E402
import fuzz_rules  # noqa: E402
import fuzz_rules_more  # noqa: E402

from fwmigrate.dropin import translate_command  # noqa: E402
from fwmigrate.errors import FwmigrateError  # noqa: E402

# Known differences (README): cells where iptables-legacy and nft are documented to disagree,
# not compared. Each is (name, the packet's kind, the rule tags that make the cell differ).
TRANSPORT = {"tcp", "udp", "sctp", "dccp", "icmp", "spi", "mh"}
KNOWN = [
    # xt's transport matches never match a later fragment (xt_tcp drops the IPv4 one at
    # offset 8); nft reads its payload as the header
    ("later fragment, transport test", None, "later_fragment", TRANSPORT),
    # ip6tables drops a later fragment whose next header is an extension header (it cannot
    # follow the chain) in any rule with -p; nft's meta l4proto just does not match
    ("IPv6 later fragment before an extension header, -p", "ip6", "later_fragment_ext",
     {"protocol"}),
    # xt drops a packet whose transport header it cannot read whole; nft reads what it can
    ("truncated transport header", None, "truncated", TRANSPORT),
    # an option whose length runs past the TCP header: xt_tcp finds the kind, nft does not
    ("TCP option running past the header", None, "malformed_option", {"tcp_option"}),
    # xt_sctp's --chunk-types drops an SCTP packet without chunks; nft finds no chunk
    ("SCTP packet without chunks, --chunk-types", None, "sctp_no_chunks", {"sctp_chunks"}),
    # ip6tables finds the protocol past AH, nft's meta l4proto stops at AH
    ("IPv6 AH before the protocol", "ip6", "ah_in_chain", {"protocol"}),
]

# nft's chain runs just before iptables-legacy's raw PREROUTING (-300): it sees every packet,
# also one that an iptables rule then drops
HOOK = "prerouting priority -301"


@dataclass
class Mismatch:
    rule: str
    nft: list[str]
    packet: fuzz_packets.Packet
    legacy: int
    ours: int


@dataclass
class Tally:
    rules: int = 0
    refused_fwmigrate: int = 0
    refused_iptables: int = 0
    refused_only_iptables: list[str] = field(default_factory=list)
    multi_rule: int = 0
    after_drop: int = 0
    ours_broken: list[str] = field(default_factory=list)
    over_refused: list[str] = field(default_factory=list)
    packets: int = 0
    cells: int = 0
    known: int = 0
    known_by_class: Counter = field(default_factory=Counter)
    refusal_reasons: Counter = field(default_factory=Counter)
    mismatches: list[Mismatch] = field(default_factory=list)


def translation(rule: str, family: str) -> list[str] | str:
    """fwmigrate's nft commands for `-A INPUT RULE` (without `nft`), or why it refuses."""
    try:
        lines = translate_command(["-A", "INPUT", *shlex.split(rule)], family)
    except FwmigrateError as error:
        return str(error).splitlines()[0]
    return [" ".join(shlex.split(line)[1:]) for line in lines]


def rule_tags(rule: fuzz_rules.Rule) -> set:
    words = rule.words
    tags = set(rule.tags)
    if "-p" in words:
        tags.add("protocol")
    return tags


def known_difference(family: str, rule: fuzz_rules.Rule, packet) -> str | None:
    tags = rule_tags(rule)
    for name, fam, kind, rule_has in KNOWN:
        if (fam in (None, family)) and kind in packet.kinds and tags & rule_has:
            return name
    return None


class Campaign:
    def __init__(self, bench, family: str, verbose: bool = False):
        self.bench, self.family, self.verbose = bench, family, verbose
        bench._where = ("raw", "PREROUTING")
        # an address on fwx1, so that -m addrtype meets LOCAL, BROADCAST and UNICAST
        # destinations, and fwx0's MAC for -m mac
        for address in ("10.98.0.2/24", "fd00::2/64"):
            bench.ns.run("ip", "addr", "add", address, "dev", "fwx1", "nodad", check=False)
        fuzz_rules_more.MAC[0] = bench.ns.run("cat", "/sys/class/net/fwx0/address").stdout.strip()
        self.tally = Tally()

    # --- loading ---------------------------------------------------------------------------

    def _legacy_accepts(self, rule: str) -> bool:
        result = self.bench.ns.run(self.bench._legacy, "-t", "raw", "-A", "PREROUTING", "-i",
                                   "fwx1", *shlex.split(rule), check=False)
        return result.returncode == 0

    def _legacy_takes(self, rule: str) -> bool:
        """Whether iptables-legacy takes the rule (tried in a chain no packet reaches)."""
        run = self.bench.ns.run
        run(self.bench._legacy, "-t", "raw", "-N", "fuzzcheck", check=False)
        taken = run(self.bench._legacy, "-t", "raw", "-A", "fuzzcheck", *shlex.split(rule),
                    check=False).returncode == 0
        run(self.bench._legacy, "-t", "raw", "-F", "fuzzcheck")
        return taken

    def _nft_loads(self, commands: list[str]) -> bool:
        try:
            self.bench.load_nft(commands)
        except subprocess.CalledProcessError:
            return False
        return True

    def load(self, rules: list[fuzz_rules.Rule]) -> list[tuple[fuzz_rules.Rule, list[str]]]:
        """Both rulesets; the rules both take, with their nft commands, in counter order."""
        bench = self.bench
        for table in ("raw", "mangle", "filter"):
            bench.ns.run(bench._legacy, "-t", table, "-F")
        bench._where = ("raw", "PREROUTING")
        translated = []
        for rule in rules:
            self.tally.rules += 1
            nft = translation(rule.text, self.family)
            if isinstance(nft, str):
                self.tally.refused_fwmigrate += 1
                self.tally.refusal_reasons[_reason(nft)] += 1
                if "cannot translate" not in nft and self._legacy_takes(rule.text):
                    # fwmigrate's reader refuses what iptables takes: always a bug
                    self.tally.over_refused.append(f"{rule.text}: {nft}")
            elif sum(c.startswith(("add rule", "insert rule")) for c in nft) != 1:
                self.tally.multi_rule += 1  # one counter per rule keeps the matrix simple
            else:
                translated.append((rule, nft))
        if not self._nft_loads([c for _, nft in translated for c in nft]):
            # fwmigrate wrote something nft does not load: always a bug, said as such
            for rule, nft in list(translated):
                if not self._nft_loads(nft):
                    self.tally.ours_broken.append(f"{rule.text} -> {nft}")
                    translated.remove((rule, nft))
        loaded = []
        for rule, nft in translated:
            if self._legacy_accepts(rule.text):
                self._progress_marker()
                loaded.append((rule, nft))
            else:
                self.tally.refused_iptables += 1
                self.tally.refused_only_iptables.append(rule.text)
        bench.load_nft([c for _, nft in loaded for c in nft] + [self._sentinel_nft], hook=HOOK)
        return loaded

    def _progress_marker(self) -> None:
        """A rule after each iptables rule that counts every packet reaching it: a packet the
        rule before it dropped (xt's hotdrop, whatever the target) is not counted."""
        self.bench.ns.run(self.bench._legacy, "-t", "raw", "-A", "PREROUTING", "-i", "fwx1")

    @property
    def _sentinel_nft(self) -> str:
        return f"add rule {self.family} filter INPUT counter"

    def counts(self) -> tuple[list[int], list[int]]:
        """nft's counters first: its chain runs before iptables' (HOOK), so once nft's last
        rule has counted a packet, iptables' rules have seen it too."""
        nft = self.bench.nft_counts()
        return nft, self.bench.legacy_counts()

    def matrix(self, packets) -> list[list[tuple]]:
        """Per packet, per rule: (what iptables did, nft counted it). iptables: 1 counted,
        0 passed, "drop" dropped the packet there (hotdrop), None never reached (dropped
        earlier). The packet is handled in a softirq after send() returns, so the counters
        are read until nft's last rule has counted it."""
        before, out = self.counts(), []
        for packet in packets:
            self.bench.send(packet.frame())
            for _ in range(400):
                after = self.counts()
                if after[0][-1] > before[0][-1]:
                    break
                time.sleep(0.005)
            else:
                raise RuntimeError(f"the packet never reached nft's rules: {packet.about}")
            nft = [n - m for n, m in zip(after[0][:-1], before[0][:-1], strict=True)]
            legacy = [n - m for n, m in zip(after[1], before[1], strict=True)]
            row, reached = [], True
            for i, ours in enumerate(nft):
                counted, passed = legacy[2 * i], legacy[2 * i + 1]
                theirs = None if not reached else counted if passed else "drop"
                reached = reached and bool(passed)
                row.append((theirs, ours))
            out.append(row)
            before = after
        return out

    # --- one batch ---------------------------------------------------------------------------

    def batch(self, rng: random.Random, rules: int, packets: int) -> None:
        pkts = fuzz_packets.packets(rng, self.family, packets)
        made = [fuzz_rules.rule(rng, rng.choice(pkts), self.family == "ip6")
                for _ in range(rules)]
        loaded = self.load(made)
        self.tally.packets += len(pkts)
        found = []
        for packet, row in zip(pkts, self.matrix(pkts), strict=True):
            for (rule, nft), (legacy, ours) in zip(loaded, row, strict=True):
                if legacy is None:
                    self.tally.after_drop += 1
                    continue
                self.tally.cells += 1
                if legacy == ours:
                    continue
                known = known_difference(self.family, rule, packet)
                if known:
                    self.tally.known += 1
                    self.tally.known_by_class[known] += 1
                    continue
                found.append(Mismatch(rule.text, nft, packet, legacy, ours))
        seen = set()
        for mismatch in found:
            if mismatch.rule in seen or len(seen) >= 6:
                continue                     # one packet per rule is enough to look at
            seen.add(mismatch.rule)
            self.tally.mismatches.append(self.minimize(mismatch))

    def single(self, rule: str, packet) -> tuple[int, int] | None:
        """(legacy, nft) for one rule and one packet, or None when either refuses it."""
        nft = translation(rule, self.family)
        if isinstance(nft, str) or sum(c.startswith("add rule") for c in nft) != 1:
            return None
        for table in ("raw", "mangle", "filter"):
            self.bench.ns.run(self.bench._legacy, "-t", table, "-F")
        if not self._legacy_accepts(rule):
            return None
        self._progress_marker()
        self.bench.load_nft(nft + [self._sentinel_nft], hook=HOOK)
        return self.matrix([packet])[0][0]

    def minimize(self, mismatch: Mismatch) -> Mismatch:
        """Drops clauses while the rule still loads on both sides and still differs."""
        clauses = [list(c) for c in _clauses(mismatch.rule)]
        changed = True
        while changed and len(clauses) > 1:
            changed = False
            for i in range(len(clauses)):
                trial = " ".join(w for c in clauses[:i] + clauses[i + 1:] for w in c)
                result = self.single(trial, mismatch.packet)
                if result and result[0] != result[1]:
                    del clauses[i]
                    changed = True
                    break
        text = " ".join(w for c in clauses for w in c)
        result = self.single(text, mismatch.packet) or (mismatch.legacy, mismatch.ours)
        return Mismatch(text, translation(text, self.family), mismatch.packet, *result)


def _reason(message: str) -> str:
    """A refusal's reason without the rule it names."""
    return re.sub(r"`-A INPUT.*?' ", "", message.split(": error: ", 1)[-1])[:120]


def _clauses(rule: str) -> list[list[str]]:
    """A rule's words cut before each `-m`/`-p`/`-s`/`-d`/`-f` (and the `!` before one)."""
    out: list[list[str]] = []
    words = shlex.split(rule)
    for i, word in enumerate(words):
        starts = word in ("-m", "-p", "-s", "-d", "-f") or (
            word == "!" and i + 1 < len(words) and words[i + 1] in ("-p", "-s", "-d", "-f"))
        after_bang = i > 0 and words[i - 1] == "!" and word in ("-p", "-s", "-d", "-f")
        if (starts and not after_bang) or not out:
            out.append([word])
        else:
            out[-1].append(word)
    return out


def run(ns, seed: int, batches: int, family: str, rules: int = 40, packets: int = 40,
        verbose: bool = False) -> Tally:
    from packets import Bench
    bench = Bench(ns, family)
    try:
        campaign = Campaign(bench, family, verbose)
        rng = random.Random(seed)
        for number in range(batches):
            campaign.batch(rng, rules, packets)
            if verbose:
                t = campaign.tally
                print(f"batch {number + 1}: rules {t.rules} packets {t.packets} "
                      f"mismatches {len(t.mismatches)}", file=sys.stderr, flush=True)
        return campaign.tally
    finally:
        bench.close()


def report(tally: Tally, family: str) -> str:
    lines = [f"family {family}: rules tried {tally.rules}, skipped {tally.refused_fwmigrate} "
             f"refused by fwmigrate + {tally.refused_iptables} refused by iptables-legacy only "
             f"+ {tally.multi_rule} translated to several rules; packets {tally.packets}; "
             f"cells compared {tally.cells} (and {tally.after_drop} after iptables dropped the "
             f"packet), known differences {tally.known}; "
             f"mismatches {len(tally.mismatches)}; fwmigrate output nft refuses "
             f"{len(tally.ours_broken)}; refused by fwmigrate's reader but taken by "
             f"iptables {len(tally.over_refused)}"]
    lines += [f"  known difference, {name}: {n} cells" for name, n in
              tally.known_by_class.most_common()]
    lines += [f"  refused by fwmigrate {n}x: {why}" for why, n in
              tally.refusal_reasons.most_common()]
    lines += [f"NFT REFUSES fwmigrate's output: {r}" for r in tally.ours_broken]
    lines += [f"FWMIGRATE REFUSES what iptables takes: {r}" for r in tally.over_refused]
    for m in tally.mismatches:
        lines += [f"MISMATCH iptables {m.legacy} nft {m.ours}: {m.rule}",
                  f"  nft: {m.nft}", f"  packet: {m.packet.about} kinds {sorted(m.packet.kinds)}",
                  f"  bytes: {m.packet.ethertype:04x} {m.packet.data.hex()} "
                  f"{m.packet.dst_mac or ''}"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--family", choices=["ip", "ip6"], default="ip")
    parser.add_argument("--rules", type=int, default=40)
    parser.add_argument("--packets", type=int, default=40)
    parser.add_argument("--show-iptables-refusals", action="store_true")
    parser.add_argument("--replay", nargs="+", metavar=("RULE", "ETHERTYPE HEX [MAC]"),
                        help="one rule and one packet as a MISMATCH line prints them")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    from netns import namespace
    started = time.monotonic()
    if args.replay:
        from packets import Bench
        rule, ethertype, data, *mac = args.replay
        packet = fuzz_packets.Packet(int(ethertype, 16), bytes.fromhex(data),
                                     mac[0] if mac else None)
        with namespace("fwm-fuzz") as ns:
            bench = Bench(ns, args.family)
            try:
                print("iptables, nft:", Campaign(bench, args.family).single(rule, packet),
                      translation(rule, args.family))
            finally:
                bench.close()
        return 0
    with namespace("fwm-fuzz") as ns:
        tally = run(ns, args.seed, args.batches, args.family, args.rules, args.packets,
                    args.verbose)
    print(report(tally, args.family))
    if args.show_iptables_refusals:
        print("\n".join(f"iptables-legacy refuses: {r}" for r in tally.refused_only_iptables))
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if tally.mismatches or tally.ours_broken or tally.over_refused else 0


if __name__ == "__main__":
    sys.exit(main())
