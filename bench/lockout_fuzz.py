"""A randomized kernel differential test of the SSH lockout guard (fwmigrate/apply/lockout.py):
its verdict on a real open TCP session against what iptables-legacy then does to it.

    python bench/lockout_fuzz.py [--seed N] [--rounds N] [-v]
    python bench/lockout_fuzz.py --replay SEED [--no-minimize]

Each round draws a ruleset (bench/ruleset_gen.py) and a session: a client in lan or wan, from a
fixed port, to a port on one of the firewall's addresses in tests/differential.py's network.
The session opens with nothing loaded (so conntrack does not know it; in half of the rounds a
rule that uses conntrack is loaded first, so it does) and passes data. Then the guard runs
inside the firewall's namespace as `fwmigrate apply` runs it (SSH_CONNECTION, locate, tracked,
pickup_state, check), the dump goes into iptables-legacy-restore, and the session sends a line
the server echoes: it keeps working or is cut. Then a new connection from the client's next
port: it opens or not. A guard that says the session keeps working when the kernel cut it is
fail-open, the worst finding; one that says it is cut when it keeps working is reported too
unless the guard said it rests on an assumption (an unknown mark, a rate taken as under its
limit: the guard errs to the safe side). The reconnect verdict is compared when the guard lets
the session live and no NAT rule rewrites the reconnect.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ruleset_gen  # noqa: E402
from differential import load_legacy, network  # noqa: E402

SERVER = r"""
import socket, sys, threading
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(16)
print('ready', flush=True)
def echo(c):
    try:
        while True:
            data = c.recv(100)
            if not data:
                break
            c.sendall(data)
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
"""

CLIENT = r"""
import socket, sys
src, dst, port, cport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
ERR = {111: 'refused', 113: 'unreachable', 101: 'unreachable', 104: 'reset', 1: 'blocked'}
def talk(s, times=1):
    try:
        for _ in range(times):
            s.sendall(b'ping\n')
            if not s.recv(100):
                return 'closed'
        return 'alive'
    except socket.timeout:
        return 'cut'
    except OSError as e:
        return ERR.get(e.errno, 'error %s' % e.errno)
def connect(sport):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport)); s.settimeout(1.5)
    try:
        s.connect((dst, port))
    except socket.timeout:
        return s, 'timeout'
    except OSError as e:
        return s, ERR.get(e.errno, 'error %s' % e.errno)
    return s, 'open'
session = None
print('ready', flush=True)
for line in sys.stdin:
    cmd = line.split()[0]
    if cmd == 'open':
        session, result = connect(cport)
        print(result if result != 'open' else talk(session), flush=True)
    elif cmd == 'talk':
        # twice: an untracked session's first packet is picked up as NEW, the rest are
        # ESTABLISHED
        session.settimeout(2.0)
        print(talk(session, 2), flush=True)
    elif cmd == 'new':
        s, result = connect(cport + 1)
        print(result if result != 'open' else talk(s, 2), flush=True)
        s.close()
"""

GUARD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from fwmigrate.apply import lockout
from fwmigrate.convert import ConvertOptions, read
from fwmigrate.errors import FwmigrateError
try:
    ruleset = read(sys.stdin.read(), 'fuzz.save', ConvertOptions(source_kind='save'))[0]
except FwmigrateError as error:
    print(json.dumps({'refused': str(error)}))
    sys.exit(0)
session = lockout.locate(lockout.session_from_env(sys.argv[2]))
untracked = lockout.tracked(session) is False
pickup = lockout.pickup_state()
report = lockout.check(ruleset, session, pickup if untracked else None, pickup)
print(json.dumps({'cut': report.cut, 'reconnect': report.reconnect, 'untracked': untracked,
                  'session': str(session)}))
"""

CLIENTS = {"ip": {"lan": ["192.168.10.2", "192.168.10.20"],
                  "wan": ["203.0.113.50", "198.51.100.7"]},
           "ip6": {"lan": ["fd00:10::2"], "wan": ["fd00:113::50", "2001:db8:1::7"]}}
SERVERS = {"ip": {"lan": ["192.168.10.1"], "wan": ["203.0.113.1", "203.0.113.10"]},
           "ip6": {"lan": ["fd00:10::1"], "wan": ["fd00:113::1"]}}
SERVER_PORTS = [22, 22, 22, 80, 443, 2222, 8080, 1234]
CLIENT_PORTS = [40022, 1500, 50100]
TRACK_FIRST = "-m conntrack --ctstate INVALID -j LOG"   # a rule that makes conntrack track


@dataclass
class Round:
    seed: int
    rules: ruleset_gen.Ruleset
    fam: str
    side: str
    client: str
    server: str
    port: int
    cport: int
    track_first: bool

    def __str__(self):
        return (f"session {self.client}:{self.cport} ({self.side}) → {self.server}:{self.port}"
                f"{', tracked before the load' if self.track_first else ', untracked'}")


def make_round(seed: int) -> Round:
    rng = random.Random(seed)
    rules = ruleset_gen.ruleset(rng.randrange(2**32), rng.random() < 0.5, False)
    fam = "ip" if rng.random() < 0.7 else "ip6"
    side = rng.choice(["lan", "wan"])
    return Round(seed, rules, fam, side, rng.choice(CLIENTS[fam][side]),
                 rng.choice(SERVERS[fam][side]), rng.choice(SERVER_PORTS),
                 rng.choice(CLIENT_PORTS), rng.random() < 0.5)


@dataclass
class Verdicts:
    guard: dict
    opened: str           # the session before the load
    kept: str             # after: alive, cut, reset, …
    reconnect: str        # a new connection after: alive (it opened and echoed) or not

    @property
    def guard_keeps(self) -> bool:
        return not self.guard["cut"]

    @property
    def guard_reconnects(self) -> bool:
        return not any("would be refused" in r or "would fail" in r
                       for r in self.guard["reconnect"])

    @property
    def rewritten(self) -> bool:
        return any("would be rewritten" in r for r in self.guard["reconnect"])

    @property
    def assumed(self) -> bool:
        """Every cut the guard names rests on an assumption, or is a NAT rewrite (which may
        leave the address and port as they were: a REDIRECT to the port the session has)."""
        return all("(if " in c or "would be rewritten" in c for c in self.guard["cut"])

    def problems(self) -> list[str]:
        out = []
        if self.opened != "alive" or "refused" in self.guard:
            return out
        if self.guard_keeps and self.kept != "alive":
            out.append(f"FAIL-OPEN: the guard says the session keeps working, the kernel: "
                       f"{self.kept}")
        if not self.guard_keeps and self.kept == "alive" and not self.assumed:
            out.append("the guard says the session is cut (without assuming anything), the "
                       "kernel keeps it working")
        if self.guard_keeps and not self.rewritten:
            if self.guard_reconnects and self.reconnect != "alive":
                out.append(f"the guard says a reconnect works, the kernel: {self.reconnect}")
            if not self.guard_reconnects and self.reconnect == "alive" and not all(
                    "(if " in r for r in self.guard["reconnect"]):
                out.append("the guard says a reconnect is refused, the kernel lets it in")
        return out


def run_round(r: Round, rules: ruleset_gen.Ruleset | None = None) -> Verdicts:
    save = (rules or r.rules).save()
    with network(lambda fw: None) as net:
        fw = net.ns["fw"]
        net.agents["fw"].close()        # its listeners hold the ports the session wants
        if r.track_first:
            tool = "iptables-legacy" if r.fam == "ip" else "ip6tables-legacy"
            fw.run(tool, "-A", "INPUT", *TRACK_FIRST.split())
        server = _start(fw, SERVER, r.server, str(r.port))
        client = _start(net.ns[r.side], CLIENT, r.client, r.server, str(r.port), str(r.cport))
        try:
            opened = _ask(client, "open")
            guard = json.loads(fw.run(
                sys.executable, "-c", GUARD, str(ROOT),
                f"{r.client} {r.cport} {r.server} {r.port}", input=save).stdout)
            if "refused" in guard:
                return Verdicts(guard, opened, "", "")
            load_legacy(fw, save)
            kept = _ask(client, "talk")
            reconnect = _ask(client, "new")
        finally:
            for proc in (client, server):
                proc.kill()
                proc.wait()
    return Verdicts(guard, opened, kept, reconnect)


def _start(ns, script: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", script,
                             *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if not proc.stdout.readline().startswith("ready"):
        raise RuntimeError(f"{script.split()[1]} did not start in {ns.name}")
    return proc


def _ask(proc: subprocess.Popen, command: str) -> str:
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


@dataclass
class Finding:
    round: Round
    save: str
    verdicts: Verdicts
    problems: list[str]
    minimized: bool

    def __str__(self):
        r, v = self.round, self.verdicts
        return "\n".join(
            [f"MISMATCH seed {r.seed} (replay: python bench/lockout_fuzz.py --replay "
             f"{r.seed}): {r}", f"--- iptables-save{' (minimized)' if self.minimized else ''}:",
             self.save.rstrip(), f"--- guard ({v.guard['session']}"
             f"{', untracked' if v.guard['untracked'] else ''}):"]
            + [f"  cut: {c}" for c in v.guard["cut"]]
            + [f"  reconnect: {c}" for c in v.guard["reconnect"]]
            + [f"--- kernel: before {v.opened}, after the load {v.kept}, a reconnect "
               f"{v.reconnect}"] + [f"DIFFERS {p}" for p in self.problems])


@dataclass
class Tally:
    rounds: int = 0
    compared: int = 0
    refused: int = 0
    not_opened: int = 0
    kept: int = 0
    cut: int = 0
    conservative: int = 0          # the guard said cut on an assumption, the kernel kept it
    untracked: int = 0
    timing: int = 0
    findings: list[Finding] = field(default_factory=list)

    def __str__(self):
        lines = [f"rounds {self.rounds}, compared {self.compared} (untracked sessions "
                 f"{self.untracked}), refused by fwmigrate's reader {self.refused}, session "
                 f"did not open {self.not_opened}; the kernel kept {self.kept} and cut "
                 f"{self.cut}; the guard said cut on an assumption where the kernel kept it "
                 f"{self.conservative}; differences not repeated {self.timing}; mismatches "
                 f"{len(self.findings)} (fail-open "
                 f"{sum(any('FAIL-OPEN' in p for p in f.problems) for f in self.findings)})"]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)


def minimize(r: Round, wanted: str) -> ruleset_gen.Ruleset:
    rules = copy.deepcopy(r.rules)

    def persists() -> bool:
        try:
            v = run_round(r, rules)
        except subprocess.CalledProcessError:     # iptables-legacy refused the trimmed dump
            return False
        return "refused" not in v.guard and any(p.split(":")[0] == wanted
                                                for p in v.problems())
    rules.drop_rules(persists)
    return rules


def play(seed: int, tally: Tally, minimizing: bool = True, verbose: bool = False) -> None:
    r = make_round(seed)
    tally.rounds += 1
    v = run_round(r)
    if "refused" in v.guard:
        tally.refused += 1
        return
    if v.opened != "alive":
        tally.not_opened += 1
        return
    tally.compared += 1
    tally.untracked += v.guard["untracked"]
    tally.kept += v.kept == "alive"
    tally.cut += v.kept != "alive"
    tally.conservative += (not v.guard_keeps and v.kept == "alive" and v.assumed)
    problems = v.problems()
    if problems:
        again = run_round(r).problems()
        if not again or not run_round(r).problems():
            tally.timing += 1
            return
        rules = minimize(r, problems[0].split(":")[0]) if minimizing else r.rules
        last = run_round(r, rules)
        finding = Finding(r, rules.save(), last, last.problems() or problems, minimizing)
        tally.findings.append(finding)
        if verbose:
            print(finding, file=sys.stderr, flush=True)


def campaign(seed: int, rounds: int, verbose: bool = False, minimizing: bool = True) -> Tally:
    tally = Tally()
    for number in range(rounds):
        try:
            play(seed * 100_000 + number, tally, minimizing, verbose)
        except KeyboardInterrupt:
            print(f"interrupted in round {number + 1}", file=sys.stderr)
            break
        if verbose:
            print(f"round {number + 1}: compared {tally.compared} mismatches "
                  f"{len(tally.findings)}", file=sys.stderr, flush=True)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--replay", type=int, metavar="SEED")
    parser.add_argument("--no-minimize", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    if args.replay is not None:
        tally = Tally()
        play(args.replay, tally, not args.no_minimize, args.verbose)
    else:
        tally = campaign(args.seed, args.rounds, args.verbose, not args.no_minimize)
    print(tally)
    print(f"{time.monotonic() - started:.0f} s")
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
