"""A randomized kernel differential test of fwmigrate's packet evaluator (the walk behind
`fwmigrate explain` and the SSH lockout guard) against iptables-legacy itself.

    python bench/evaluator_fuzz.py [--seed N] [--start K] [--rounds N] [--probes N] [-v]
    python bench/evaluator_fuzz.py --replay SEED [--no-minimize]

Each round is one of bench/ruleset_fuzz.py's (the same seeds: a random stateful
iptables-save dump from bench/ruleset_gen.py and an ordered scenario of probes). The dump goes
into iptables-legacy-restore in tests/differential.py's network, read into fwmigrate's IR
beside it, and before every step of the scenario the harness reads the firewall's recent lists
and conntrack table, so that each probe's packets are handed to the evaluator in the state the
kernel gives them (a first packet NEW, or ESTABLISHED in either direction when an earlier
datagram opened the flow; replies ESTABLISHED; errors RELATED). bench/evaluator_model.py turns
the evaluator's outcomes for the exchange into the outcomes the probe's agent may report; the
kernel's outcome must be one of them, and after a knock the recent lists the kernel holds must
be ones the evaluator left (plus, for IPv6, entries the evaluator says the neighbour discovery
of the hosts on the way may add: Exchange.neighbour_entries). Compared when raw PREROUTING
is empty (a later packet it untracks would not be rewritten; evaluator_nat.nat_compares): a
new flow that a DNAT in PREROUTING sends elsewhere (routed anew, the exchange then goes there,
its later packets rewritten after raw and mangle: Exchange.first_walk, Packet.nat_dst) or
whose source a SNAT or MASQUERADE rewrites in the last POSTROUTING of its path. Not compared:
other probes a NAT rule rewrote (nat OUTPUT's reroute, nat INPUT's SNAT, a rewrite the
evaluator cannot say), or that belong to a flow one rewrote, or go the other way of it; the
lists both families name with a narrower --mask (a known difference). A mismatch is run
again twice (a timing one does not repeat), minimized (rules dropped while it persists) and
printed with the seed --replay takes.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluator_model  # noqa: E402
import ruleset_fuzz  # noqa: E402
import ruleset_gen  # noqa: E402
from differential import ADDRESSES, Probe, load_legacy, network  # noqa: E402
from evaluator_model import EPHEMERAL, Flow, neighbour_discovery_drops, predict  # noqa: E402

from fwmigrate.backends.nft_recent import shared_list_problems  # noqa: E402
from fwmigrate.convert import ConvertOptions, read  # noqa: E402
from fwmigrate.errors import FwmigrateError  # noqa: E402
from fwmigrate.verify.explain import describe_packet  # noqa: E402

STATE = ("for f in /proc/net/xt_recent/*; do [ -e \"$f\" ] && sed \"s|^|${f##*/} |\" \"$f\"; "
         "done; echo ---; cat /proc/net/nf_conntrack 2>/dev/null")


@dataclass
class Observed:
    """One probe: what the kernel did and what the evaluator allowed."""
    index: int
    probe: Probe
    kernel: str
    allowed: set[str]
    flow: Flow
    lists_ok: bool = True
    why: list[str] = field(default_factory=list)
    lists: str = ""             # when they differ: the kernel's and the evaluator's

    @property
    def agrees(self) -> bool:
        return self.kernel in self.allowed and self.lists_ok

    def __str__(self):
        state = f" (ct {self.flow.state} {self.flow.direction})" if self.flow.known else ""
        lists = "" if self.lists_ok else "; the recent lists after it are none the " \
            f"evaluator left: {self.lists}"
        return (f"#{self.index} {self.probe}{state}: kernel {self.kernel!r}, evaluator "
                f"{sorted(self.allowed)}{lists}")


def kernel_state(fw) -> tuple[dict, list]:
    """The recent lists (name → addresses) and conntrack entries (proto, orig tuple, reply
    tuple, unreplied) of the firewall now."""
    out = fw.run("sh", "-c", STATE, check=False).stdout
    recent_part, _, ct_part = out.partition("---\n")
    lists: dict[str, set] = {}
    for line in recent_part.splitlines():
        name, _, rest = line.partition(" ")
        found = re.search(r"src=(\S+)", rest)
        if found:
            lists.setdefault(name, set()).add(ipaddress.ip_address(found.group(1)))
    entries = []
    for line in ct_part.splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        values = {}
        for w in words:
            key, sep, value = w.partition("=")
            if sep and key in ("src", "dst", "sport", "dport"):
                values.setdefault(key, []).append(value)
        if len(values.get("src", [])) < 2 or len(values.get("sport", [])) < 2:
            continue
        tup = [(str(ipaddress.ip_address(values["src"][k])),
                str(ipaddress.ip_address(values["dst"][k])), int(values["sport"][k]),
                int(values["dport"][k])) for k in (0, 1)]
        entries.append((words[2], tup[0], tup[1], "[UNREPLIED]" in words))
    return {n: frozenset(a) for n, a in lists.items()}, entries


def flow_of(probe: Probe, entries: list) -> Flow | None:
    """The conntrack state of the probe's first packet; None: it belongs to a NATed flow."""
    if probe.kind in ("udp", "knock") and probe.sport:
        mine = (probe.src, probe.dst, probe.sport, probe.port)
        for proto, orig, reply, unreplied in entries:
            if proto != "udp":
                continue
            if orig == (mine[1], mine[0], mine[3], mine[2]) and reply != mine:
                # the other way of a flow NAT rewrote: the probe's errors are RELATED to it
                # and rewritten too (seed 1300050)
                return None
            if orig == mine:
                if reply != (orig[1], orig[0], orig[3], orig[2]):
                    return None       # a flow NAT rewrote: its packets are rewritten too
                return Flow("new" if unreplied else "established", "ORIGINAL", orig, True)
            if reply == mine:
                if orig != (reply[1], reply[0], reply[3], reply[2]):
                    return None
                return Flow("established", "REPLY", orig, True)
    sport = probe.sport or (EPHEMERAL if probe.kind != "ping" else None)
    return Flow("new", "ORIGINAL", (probe.src, probe.dst, sport, probe.port or None))


def settle(net, seconds: float = 4) -> None:
    """Until no IPv6 address is tentative (duplicate address detection of the link-local
    ones): before that, the first IPv6 packets forwarded are lost whatever the rules say."""
    deadline = time.monotonic() + seconds
    for ns in net.ns.values():
        while ns.run("ip", "-6", "addr", "show", "tentative").stdout.strip() and \
                time.monotonic() < deadline:
            time.sleep(0.1)


# the firewall's IPv6 addresses: the sources of the neighbour solicitations it sends for the
# packets it forwards or sends, which come when they come (seed 1600109)
FW_IPV6 = frozenset(ipaddress.ip_address(a) for a in ADDRESSES["fw"] if ":" in a)


def _probed(held: frozenset, shared: set[str]) -> frozenset:
    """The list entries probes can make: not the multicast and link-local addresses of the
    kernel's own IPv6 neighbour discovery and MLD, which come when they come (seed 500015),
    nor the firewall's IPv6 addresses (FW_IPV6); and not the lists of `shared`
    (shared_list_problems: both families name them, and the kernel masks every address with
    the --mask of the rule that created the list; a known difference of the evaluator, seeds
    500099, 1300063)."""
    return frozenset((n, a) for n, a in held if not (a.is_multicast or a.is_link_local
                                                     or a in FW_IPV6 or n in shared))


def _lists(held: frozenset) -> str:
    return "{" + ", ".join(f"{n}: {a}" for n, a in sorted(held, key=str)) + "}"


def normal(outcome: str) -> str:
    word = outcome.split()[0] if outcome else outcome
    return word if word in ("open", "answered") else outcome


def observe(ruleset_ir, save: str, steps, tally=None) -> list[Observed]:
    """Run the scenario in a fresh network under iptables-legacy; every probe with the
    evaluator's verdict beside the kernel's."""
    fragile = neighbour_discovery_drops(ruleset_ir)
    shared = set(shared_list_problems(ruleset_ir))
    seen: list[Observed] = []
    with network(lambda fw: load_legacy(fw, save)) as net:
        settle(net)
        fw = net.ns["fw"]
        lists, entries = kernel_state(fw)
        for step in steps:
            predictions = []
            for probe in step:
                flow = flow_of(probe, entries)
                predictions.append(None if flow is None else
                                   (flow, predict(ruleset_ir, probe, dict(lists), flow,
                                                  fragile)))
            results = net.together(step)
            lists, entries = kernel_state(fw)
            for probe, result, prediction in zip(step, results, predictions, strict=True):
                index = len(seen)
                if prediction is None or prediction[1].nat or prediction[1].fragile:
                    if tally is not None:
                        if prediction is not None and prediction[1].fragile:
                            tally.fragile += 1
                        else:
                            tally.nat += 1
                    seen.append(None)
                    continue
                flow, pred = prediction
                if tally is not None:
                    tally.snat += pred.snat
                    tally.dnat += pred.dnat
                # after a knock alone in its step, the lists are the knock's doing
                held = _probed(frozenset((n, a) for n, ms in lists.items() for a in ms),
                               shared)
                # (with what the hosts' neighbour discovery may add)
                lists_ok = not (probe.kind == "knock" and len(step) == 1) or any(
                    left <= held and held - left <= pred.neighbours
                    for left in {_probed(x, shared) for x in pred.lists})
                seen.append(Observed(index, probe, normal(result), pred.outcomes, flow,
                                     lists_ok, pred.why,
                                     f"kernel {_lists(held)}, evaluator "
                                     f"{' or '.join(map(_lists, pred.lists))}"))
    return seen


@dataclass
class Finding:
    seed: int
    save: str
    steps: list
    observed: list[Observed]
    minimized: bool

    def __str__(self):
        how = " (minimized)" if self.minimized else ""
        lines = [f"MISMATCH seed {self.seed} (replay: python bench/evaluator_fuzz.py --replay "
                 f"{self.seed})", f"--- iptables-save{how}:", self.save.rstrip(),
                 "--- steps:"]
        lines += ["  " + " | ".join(map(str, s)) for s in self.steps]
        for o in self.observed:
            lines.append(f"DIFFERS {o}")
            if o.why:
                lines.append(f"  ({'; '.join(o.why)})")
        return "\n".join(lines)


@dataclass
class Tally:
    rounds: int = 0
    compared_rounds: int = 0
    refused: int = 0
    probes: int = 0
    nat: int = 0
    snat: int = 0
    dnat: int = 0
    fragile: int = 0
    knocks_checked: int = 0
    timing: int = 0
    timing_examples: list[str] = field(default_factory=list)
    legacy_refused: list[str] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def __str__(self):
        lines = [f"rounds {self.rounds}, compared {self.compared_rounds}, refused by "
                 f"fwmigrate's reader {self.refused}, probes compared {self.probes} (of which "
                 f"SNAT in the last POSTROUTING {self.snat}, DNAT in PREROUTING {self.dnat}; "
                 f"not compared: NAT {self.nat}, "
                 f"IPv6 with neighbour discovery dropped "
                 f"{self.fragile}), recent lists checked after {self.knocks_checked} knocks, "
                 f"timing differences not repeated {self.timing}, mismatches "
                 f"{len(self.findings)}, iptables-legacy refused {len(self.legacy_refused)}",
                 f"  kernel outcomes: {dict(self.seen)}"]
        lines += [f"  timing, once: {x}" for x in self.timing_examples[:20]]
        lines += [f"IPTABLES-LEGACY REFUSED: {x}" for x in self.legacy_refused]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)


def parse(save: str):
    return read(save, "fuzz.save", ConvertOptions(source_kind="save"))[0]


def wrong(save: str, steps) -> dict[int, Observed]:
    return {o.index: o for o in observe(parse(save), save, steps) if o and not o.agrees}


def minimize(rules: ruleset_gen.Ruleset, steps, wanted: set[int]) -> ruleset_gen.Ruleset:
    """Rules dropped (a chain's all at once, then one by one) while a wanted probe still
    disagrees."""
    rules = copy.deepcopy(rules)

    def persists() -> bool:
        try:
            return bool(wanted & set(wrong(rules.save(), steps)))
        except Exception:      # fwmigrate or iptables-legacy refused the trimmed dump
            return False

    rules.drop_rules(persists)
    return rules


def play(seed: int, probes: int, tally: Tally, minimizing: bool = True,
         verbose: bool = False) -> None:
    r = ruleset_fuzz.make_round(seed, probes)
    tally.rounds += 1
    save = r.rules.save()
    try:
        ir = parse(save)
    except FwmigrateError:
        tally.refused += 1
        return
    try:
        seen = observe(ir, save, r.steps, tally)
    except Exception as error:       # the dump did not load
        tally.legacy_refused.append(f"seed {seed}: {getattr(error, 'stderr', error)}"[:300])
        return
    tally.compared_rounds += 1
    compared = [o for o in seen if o]
    tally.probes += len(compared)
    tally.seen.update(o.kernel.split()[0] for o in compared)
    tally.knocks_checked += sum(o.probe.kind == "knock" for o in compared)
    bad = {o.index for o in compared if not o.agrees}
    if not bad:
        return
    bad &= set(wrong(save, r.steps))
    bad &= set(wrong(save, r.steps))
    tally.timing += sum(1 for o in compared if not o.agrees and o.index not in bad)
    tally.timing_examples += [f"seed {seed} {o}" for o in compared
                              if not o.agrees and o.index not in bad][:3]
    if not bad:
        return
    rules = minimize(r.rules, r.steps, bad) if minimizing else r.rules
    last = wrong(rules.save(), r.steps)
    shown = [last[k] for k in sorted(bad & set(last))] or \
        [o for o in compared if o.index in bad]
    finding = Finding(seed, rules.save(), r.steps, shown, minimizing)
    tally.findings.append(finding)
    if verbose:
        print(finding, file=sys.stderr, flush=True)


def campaign(seed: int, rounds: int, probes: int = 24, verbose: bool = False,
             minimizing: bool = True, start: int = 0) -> Tally:
    """Rounds seed * 100,000 + start, + start + 1, … (--start: new seeds of a used --seed)."""
    tally = Tally()
    for number in range(start, start + rounds):
        try:
            play(seed * 100_000 + number, probes, tally, minimizing, verbose)
        except KeyboardInterrupt:
            print(f"interrupted in round {number - start + 1}", file=sys.stderr)
            break
        if verbose:
            print(f"round {number - start + 1}: compared {tally.compared_rounds} probes "
                  f"{tally.probes} mismatches {len(tally.findings)}", file=sys.stderr,
                  flush=True)
    return tally


def explain_first(save: str, probe: Probe) -> str:
    """The probe's first packet in `fwmigrate explain`'s words (for reading a finding)."""
    flow = Flow("new", "ORIGINAL", (probe.src, probe.dst, probe.sport, probe.port))
    exchange = evaluator_model.Exchange(parse(save), probe, flow, set())
    kind = {"tcp": 6, "udp": 17, "knock": 17}.get(probe.kind, 1)
    return describe_packet(exchange.packet(False, kind, "new", {}), "input")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="the first round's number")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--probes", type=int, default=24)
    parser.add_argument("--replay", type=int, metavar="SEED")
    parser.add_argument("--no-minimize", action="store_true")
    parser.add_argument("--show", action="store_true", help="print the round's dump and steps")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    if args.replay is not None:
        if args.show:
            r = ruleset_fuzz.make_round(args.replay, args.probes)
            print(r.rules.save())
            print("\n".join(" | ".join(map(str, s)) for s in r.steps))
        tally = Tally()
        play(args.replay, args.probes, tally, not args.no_minimize, args.verbose)
    else:
        tally = campaign(args.seed, args.rounds, args.probes, args.verbose,
                         not args.no_minimize, args.start)
    print(tally)
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
