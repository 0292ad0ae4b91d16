"""Random whole rulesets with state, and random ordered scenarios of real probes for them, over
the addresses and interfaces of tests/differential.py's network (bench/ruleset_fuzz.py runs
them).

A ruleset is an iptables-save dump for both families (filter, and maybe nat and mangle):
policies in INPUT/FORWARD/OUTPUT, user chains reached by -j and -g (nested, each with the base
chain it hangs from, so -i/-o stay where iptables takes them), RETURN, conntrack and state
tests, interfaces with `+` and `!`, marks and connmarks set in mangle and tested in filter,
-m recent lists, NAT. Each rule draws from its own seed: a rule both families draw from the
same seed has the same shape in both (the same ports, interfaces, states; the address at the
same place of each family's pool), which is what `--family inet` writes once.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from differential import Probe

# per family, the same length and order, so one seed makes the same shape in both
NETS = {
    "ip": ["192.168.10.0/24", "192.168.10.2", "192.168.10.20/31", "203.0.113.50",
           "198.51.100.0/24", "203.0.113.0/24", "192.168.10.1", "203.0.113.1", "203.0.113.10",
           "10.0.0.0/8"],
    "ip6": ["fd00:10::/64", "fd00:10::2", "fd00:10::2/127", "fd00:113::50", "2001:db8::/32",
            "fd00:113::/64", "fd00:10::1", "fd00:113::1", "fd00:113::1/128", "fc00::/7"],
}
DNAT_TO = {"ip": ["203.0.113.50", "192.168.10.20", "198.51.100.7", "192.168.10.1"],
           "ip6": ["fd00:113::50", "fd00:10::2", "2001:db8:1::7", "fd00:10::1"]}
SNAT_TO = {"ip": {"eth0": "203.0.113.10", "eth1": "192.168.10.1"},
           "ip6": {"eth0": "fd00:113::1", "eth1": "fd00:10::1"}}
MASKS = {"ip": "255.255.255.0", "ip6": "ffff:ffff:ffff:ffff::"}
REJECTS = {"ip": ["icmp-port-unreachable", "icmp-host-prohibited", "icmp-net-unreachable",
                  "icmp-admin-prohibited"],
           "ip6": ["icmp6-port-unreachable", "icmp6-adm-prohibited", "icmp6-no-route",
                   "icmp6-addr-unreachable"]}
ICMP = {"ip": ("icmp", "icmp", "--icmp-type", ["echo-request", "echo-reply",
                                               "destination-unreachable"]),
        "ip6": ("ipv6-icmp", "icmp6", "--icmpv6-type", ["echo-request", "echo-reply",
                                                         "destination-unreachable"])}
# ports the probes use (listeners, a closed one, knock ports) and some around them
TCP_MATCH = ["22", "80", "443", "8080", "2222", "9", "1000:2000", "20:25", "1024:65535"]
UDP_MATCH = ["53", "123", "1234", "7001", "7002", "7003", "40000", "5353", "7000:7002"]
MULTIPORT = {"tcp": ["22,80,443", "80,8080", "22,2222:2230"], "udp": ["53,123", "7001,7003"]}
KNOCK_PORTS = (7001, 7002, 7003)
INTERFACES = ["eth0", "eth1", "eth+", "e+", "lo", "ppp0", "wg+", "+"]
CTSTATES = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]
CTSTATUS = ["SEEN_REPLY", "ASSURED", "CONFIRMED", "EXPECTED"]
MARKS = ["0x1", "0x2", "0x4", "0x3"]
MARK_TESTS = ["0x1", "0x1/0x1", "0x2/0x2", "0x0", "0x4/0x4", "0x3/0x3", "0x5"]
LISTS = ["A", "B"]

BASE = {"filter": ["INPUT", "FORWARD", "OUTPUT"], "raw": ["PREROUTING", "OUTPUT"],
        "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]}
TAKES_IN = {"PREROUTING", "INPUT", "FORWARD"}
TAKES_OUT = {"FORWARD", "OUTPUT", "POSTROUTING"}


@dataclass
class Chain:
    name: str
    hook: str                     # the base chain it hangs from (itself for a base chain)
    policy: str | None = None     # None for a user chain
    rules: list[str] = field(default_factory=list)


@dataclass
class Ruleset:
    """Per family, per table, the chains in order; save() is the iptables-save dump."""
    tables: dict[str, dict[str, list[Chain]]]

    def lines(self) -> list[tuple[str, str, int]]:
        """Every rule as (family, table, index in its chain list) places, for dropping."""
        return [(fam, table, k) for fam, tables in self.tables.items()
                for table, chains in tables.items() for k, c in enumerate(chains)]

    def drop_rules(self, persists) -> None:
        """Minimise in place: each chain's rules dropped all at once, then one at a time,
        wherever `persists()` (the finding still shows without them) says so."""
        chains = [c for tables in self.tables.values() for cs in tables.values() for c in cs]
        for chain in chains:
            kept = chain.rules[:]
            chain.rules.clear()
            if not persists():
                chain.rules[:] = kept
        for chain in chains:
            i = 0
            while i < len(chain.rules):
                kept = chain.rules[:]
                del chain.rules[i]
                if not persists():
                    chain.rules[:] = kept
                    i += 1

    def rule_count(self) -> int:
        return sum(len(c.rules) for tables in self.tables.values()
                   for chains in tables.values() for c in chains)

    def save(self) -> str:
        out = []
        for fam, tables in self.tables.items():
            out.append(f"# Generated by {'iptables' if fam == 'ip' else 'ip6tables'}-save\n")
            for table, chains in tables.items():
                out.append(f"*{table}\n")
                out += [f":{c.name} {c.policy or '-'} [0:0]\n" for c in chains]
                out += [f"-A {c.name} {r}\n" for c in chains for r in c.rules]
                out.append("COMMIT\n")
        return "".join(out)


class Shape:
    """One rule's draws: made from the rule's own seed and rendered for a family."""

    def __init__(self, seed: int, fam: str, table: str, chain: Chain, jumps: list[str],
                 lists: dict[str, str | None]):
        self.rng = random.Random(seed)
        self.fam, self.table, self.chain, self.jumps, self.lists = fam, table, chain, jumps, \
            lists
        self.words: list[str] = []
        self.proto: str | None = None

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    def bang(self, p: float = 0.2) -> list[str]:
        return ["!"] if self.chance(p) else []

    # --- matches -------------------------------------------------------------------------------

    def protocol(self, want: str | None = None) -> None:
        if self.proto:
            return
        self.proto = want or self.pick(["tcp", "udp", "icmp"])
        if self.proto == "icmp":
            name, module, option, types = ICMP[self.fam]
            self.words += ["-p", name]
            if self.chance(0.6):
                self.words += ["-m", module, option, self.pick(types)]
            return
        self.words += ["-p", self.proto]
        ports = TCP_MATCH if self.proto == "tcp" else UDP_MATCH
        module = False
        if self.chance(0.25):
            which = self.pick(["--dports", "--sports"])
            self.words += ["-m", "multiport", which, self.pick(MULTIPORT[self.proto])]
        elif self.chance(0.8):
            self.words += ["-m", self.proto, *self.bang(0.15),
                           self.pick(["--dport", "--dport", "--sport"]), self.pick(ports)]
            module = True
        if self.proto == "tcp" and self.chance(0.15):
            self.words += ["--syn"] if module else ["-m", "tcp", "--syn"]

    def address(self) -> None:
        self.words += [*self.bang(), self.pick(["-s", "-d"]), self.pick(NETS[self.fam])]

    def interface(self) -> None:
        hook = self.chain.hook
        options = (["-i"] if hook in TAKES_IN else []) + (["-o"] if hook in TAKES_OUT else [])
        if options:
            name = self.pick(INTERFACES)
            # `! -i +` never matches: fwmigrate refuses the rule as one without effect
            self.words += [*(self.bang(0.3) if name != "+" else []), self.pick(options), name]

    def conntrack(self) -> None:
        states = ",".join(sorted(self.rng.sample(CTSTATES, self.rng.randint(1, 2))))
        kind = self.rng.random()
        if kind < 0.3:
            self.words += ["-m", "state", *self.bang(0.15), "--state", states]
        elif kind < 0.75:
            if self.chance(0.2):      # conntrack's own states: NAT done on the connection
                nat = self.pick(["DNAT", "SNAT", "DNAT,SNAT"])
                form = self.rng.random()
                # inverted, or with connection states ("either"): two nft rules where a
                # packet without a conntrack entry is not stopped before (nft_ct_split)
                words = ["--ctstate", nat] if form < 0.4 else \
                    ["!", "--ctstate", f"{states},{nat}"] if form < 0.7 else \
                    ["--ctstate", f"{states},{nat}"]
                self.words += ["-m", "conntrack", *words]
                return
            self.words += ["-m", "conntrack", *self.bang(0.15), "--ctstate", states]
        elif kind < 0.85:
            self.words += ["-m", "conntrack", "--ctdir", self.pick(["ORIGINAL", "REPLY"])]
        elif kind < 0.95:
            self.words += ["-m", "conntrack", *self.bang(0.15), "--ctstatus",
                           self.pick(CTSTATUS)]
        else:
            self.words += ["-m", "conntrack", "--ctorigdst", self.pick(NETS[self.fam])]

    def mark(self) -> None:
        self.words += ["-m", self.pick(["mark", "connmark"]), *self.bang(0.2), "--mark",
                       self.pick(MARK_TESTS)]

    def recent(self, action: str | None = None) -> None:
        name = self.pick(LISTS)
        action = action or self.pick(["--set", "--rcheck", "--rcheck", "--update", "--remove"])
        self.words += ["-m", "recent"]
        if self.chance(0.2) and action == "--rcheck":   # `! --update` is refused
            self.words += ["!"]
        self.words += [action, "--name", name]
        if action in ("--rcheck", "--update") and self.chance(0.25):
            self.words += ["--seconds", "3600"]
        self.words += [self.pick(["--rsource", "--rsource", "--rsource", "--rdest"])]
        if self.lists.get(name):
            self.words += ["--mask", self.lists[name]]

    def matches(self) -> None:
        draws = [(0.5, self.protocol), (0.3, self.address), (0.35, self.interface),
                 (0.3, self.conntrack), (0.15, self.mark), (0.15 if self.lists else 0,
                                                           self.recent)]
        for p, draw in draws:
            if self.chance(p):
                draw()

    # --- targets -------------------------------------------------------------------------------

    def target(self) -> list[str]:
        table, hook, user = self.table, self.chain.hook, self.chain.policy is None
        choices = ["RETURN"] * (2 if user else 1) + ["jump"] * (3 if self.jumps else 0) + \
            ["goto"] * (1 if self.jumps else 0) + ["MARK", "CONNMARK", "none"]
        if table == "filter":
            choices += ["ACCEPT"] * 4 + ["DROP"] * 3 + ["REJECT"] * 2
        elif table == "mangle":
            choices += ["MARK"] * 3 + ["CONNMARK"] * 2 + ["ACCEPT", "DROP"]
        elif table == "raw":
            choices += ["ACCEPT", "DROP", "NOTRACK", "NOTRACK"]
        else:
            choices += ["ACCEPT"] + ["NAT"] * 6
        kind = self.pick(choices)
        if kind in ("jump", "goto"):
            return ["-j" if kind == "jump" else "-g", self.pick(self.jumps)]
        if kind == "none":
            return []
        if kind == "REJECT":
            if self.proto == "tcp" and self.chance(0.4):
                return ["-j", "REJECT", "--reject-with", "tcp-reset"]
            return ["-j", "REJECT", "--reject-with", self.pick(REJECTS[self.fam])]
        if kind == "MARK":
            how = self.pick(["--set-mark", "--set-xmark", "--or-mark", "--and-mark",
                             "--xor-mark"])
            value = self.pick(MARKS) + ("/0x3" if how == "--set-xmark" and self.chance(0.5)
                                        else "")
            return ["-j", "MARK", how, value]
        if kind == "CONNMARK":
            how = self.pick(["--set-mark", "--save-mark", "--restore-mark"])
            return ["-j", "CONNMARK", how] + ([self.pick(MARKS)] if how == "--set-mark" else [])
        if kind == "NOTRACK":
            return ["-j", "CT", "--notrack"]
        if kind == "NAT":
            return self.nat(hook)
        return ["-j", kind]

    def nat(self, hook: str) -> list[str]:
        if hook in ("PREROUTING", "OUTPUT"):
            if self.chance(0.3):
                self.protocol(self.pick(["tcp", "udp"]))
                if self.proto in ("tcp", "udp"):
                    return ["-j", "REDIRECT", "--to-ports", self.pick(["22", "80", "53"])]
            to = self.pick(DNAT_TO[self.fam])
            if self.chance(0.6):
                self.protocol(self.pick(["tcp", "udp"]))
            if self.proto in ("tcp", "udp") and self.chance(0.7):
                port = self.pick(["22", "80", "53", "1234"])
                to = f"[{to}]:{port}" if self.fam == "ip6" else f"{to}:{port}"
            return ["-j", "DNAT", "--to-destination", to]
        if hook == "POSTROUTING" and self.chance(0.5):
            if self.proto in ("tcp", "udp") and self.chance(0.3):
                return ["-j", "MASQUERADE", "--to-ports", "40000-40100"]
            return ["-j", "MASQUERADE"]
        out = self.pick(["eth0", "eth1"])
        if hook == "POSTROUTING" and "-o" not in self.words:
            self.words += ["-o", out]
        return ["-j", "SNAT", "--to-source", SNAT_TO[self.fam][out]]

    def render(self) -> str:
        self.matches()
        target = self.target()
        if not self.words and target[1:2] in (["ACCEPT"], ["DROP"], ["REJECT"], ["RETURN"]) \
                and self.chance(0.8):
            self.protocol()          # a rule for every packet ends the chain: rarely
        return " ".join(self.words + target)


def ruleset(seed: int, mirror: bool, inet: bool = False) -> Ruleset:
    """A random dump for both families; mirror: every rule the same shape in both (else each
    drawn apart half of the time); inet or mirror: the same chains and policies in both (an
    inet chain has one policy: different ones, both reached by RETURN, are refused)."""
    rng = random.Random(seed)
    tables_wanted = ["filter"] + [t for t, p in (("mangle", 0.35), ("nat", 0.4))
                                  if rng.random() < p]
    lists = {name: (rng.random() < 0.3) for name in LISTS} if rng.random() < 0.4 else {}
    stories = [(name, rng.randrange(2**32)) for name in STORIES if rng.random() < 0.35]
    for name, _seed in stories:
        tables_wanted += [t for t in STORIES[name][1] if t not in tables_wanted]
        if name == "knock" and not lists:
            lists = {n: False for n in LISTS}
    plan_seeds = {fam: rng.randrange(2**32) for fam in ("ip", "ip6")}
    own_seeds = {fam: seed ^ 0x5EED for fam, seed in plan_seeds.items()}
    if mirror or inet:
        plan_seeds["ip6"] = plan_seeds["ip"]
    shared = rng.randrange(2**32)
    out: dict[str, dict[str, list[Chain]]] = {}
    for fam in ("ip", "ip6"):
        fam_lists = {n: (MASKS[fam] if masked else None) for n, masked in lists.items()}
        plan = random.Random(plan_seeds[fam])
        rule_seeds = random.Random(shared)
        own = random.Random(own_seeds[fam])
        out[fam] = {}
        for table in tables_wanted:
            chains = _chains(plan, table)
            for chain in chains:
                # user chains this one may jump to: later ones with the same base chain
                later = [c.name for c in chains[chains.index(chain) + 1:]
                         if c.policy is None and c.hook == chain.hook]
                for _ in range(plan.randint(0, 5 if chain.policy else 4)):
                    common = rule_seeds.randrange(2**32)
                    seed_here = common if mirror or own.random() < 0.5 else \
                        own.randrange(2**32)
                    text = Shape(seed_here, fam, table, chain, later, fam_lists).render()
                    chain.rules.append(text)
            if table == "filter":
                for chain in chains[:3]:
                    if plan.random() < 0.7:
                        # the usual first rule: replies and ICMP errors of allowed traffic
                        form = plan.choice(["-m conntrack --ctstate RELATED,ESTABLISHED",
                                            "-m state --state RELATED,ESTABLISHED",
                                            "-m conntrack --ctstate ESTABLISHED"])
                        chain.rules.insert(plan.randint(0, min(1, len(chain.rules))),
                                           f"{form} -j ACCEPT")
            # drawn for both families, so that a shared plan stays in step
            if table == "filter" and plan.random() < 0.85 and fam == "ip6":
                # neighbour discovery, or nothing IPv6 gets through a DROP policy
                for chain in chains[:3]:
                    chain.rules.insert(0, "-p ipv6-icmp -m icmp6 --icmpv6-type "
                                          "neighbour-solicitation -j ACCEPT")
                    chain.rules.insert(0, "-p ipv6-icmp -m icmp6 --icmpv6-type "
                                          "neighbour-advertisement -j ACCEPT")
            out[fam][table] = chains
        for name, story_seed in stories:
            r = random.Random(story_seed)
            for table, chain_name, rule in STORIES[name][0](r, fam, fam_lists):
                chain = next(c for c in out[fam][table] if c.name == chain_name)
                chain.rules.insert(r.randint(0, len(chain.rules) // 2), rule)
    return Ruleset(out)


# --- stories: the few rules that make a feature do something, placed among the random ones ------

LAN_HOST = {"ip": "192.168.10.20", "ip6": "fd00:10::2"}
LAN_NET = {"ip": "192.168.10.0/24", "ip6": "fd00:10::/64"}
PUBLIC = {"ip": "203.0.113.10", "ip6": "fd00:113::1"}


def _knock(r: random.Random, fam: str, lists: dict) -> list[tuple[str, str, str]]:
    """Port knocking: 7001 then 7002 opens a TCP port (7003 closes it again)."""
    side = r.choice(["--rsource"] * 3 + ["--rdest"])

    def names(name):
        return f"--name {name} {side}" + (f" --mask {lists[name]}" if lists.get(name) else "")
    seconds = " --seconds 3600" if r.random() < 0.3 else ""
    port = r.choice(["22", "80", "1234"])
    chain = r.choice(["INPUT", "INPUT", "FORWARD"])
    rules = [f"-p udp -m udp --dport 7001 -m recent --set {names('A')} -j DROP",
             f"-p udp -m udp --dport 7002 -m recent --rcheck {names('A')}{seconds} "
             f"-m recent --set {names('B')} -j DROP",
             f"-p tcp -m tcp --dport {port} -m recent --{r.choice(['rcheck', 'update'])} "
             f"{names('B')}{seconds} -j ACCEPT",
             f"-p tcp -m tcp --dport {port} -j "
             f"{r.choice(['DROP', 'REJECT --reject-with tcp-reset'])}"]
    if r.random() < 0.5:
        rules.insert(r.randint(1, 3), f"-p udp -m udp --dport 7003 -m recent --remove "
                                      f"{names('B')} -j DROP")
    return [("filter", chain, rule) for rule in rules]


def _port_forward(r: random.Random, fam: str, lists: dict) -> list[tuple[str, str, str]]:
    """A published port: DNAT to a LAN host, FORWARD lets DNATed connections in, masquerade."""
    outside, inside = r.choice(["8080", "2222", "3128"]), r.choice(["22", "80", "1234"])
    to = f"[{LAN_HOST[fam]}]:{inside}" if fam == "ip6" else f"{LAN_HOST[fam]}:{inside}"
    where = r.choice(["-i eth0 ", f"-d {PUBLIC[fam]} ", ""])
    rules = [("nat", "PREROUTING", f"{where}-p tcp -m tcp --dport {outside} -j DNAT "
                                   f"--to-destination {to}"),
             ("filter", "FORWARD", r.choice([
                 "-m conntrack --ctstate DNAT -j ACCEPT",
                 f"-d {LAN_HOST[fam]} -p tcp -m tcp --dport {inside} -m conntrack --ctstate NEW "
                 "-j ACCEPT",
                 f"-p tcp -m conntrack --ctstate DNAT --ctorigdstport {outside} -j ACCEPT"]))]
    if r.random() < 0.5:
        rules.append(("nat", "POSTROUTING", f"-s {LAN_NET[fam]} -o eth0 -j MASQUERADE"))
    if r.random() < 0.3:
        rules.append(("nat", "OUTPUT", f"-p tcp -m tcp --dport {outside} -j DNAT "
                                       f"--to-destination {to}"))
    return rules


def _marks(r: random.Random, fam: str, lists: dict) -> list[tuple[str, str, str]]:
    """Packets marked in mangle by where they came in (kept on the connection or not), judged
    by the mark in filter."""
    where = r.choice(["-i eth1", "-i eth0", "-i eth+", "! -i eth1"])
    if r.random() < 0.5:
        rules = [("mangle", "PREROUTING", f"{where} -j MARK --set-mark 0x1")]
        test = "-m mark --mark 0x1"
    else:
        rules = [("mangle", "PREROUTING", "-j CONNMARK --restore-mark"),
                 ("mangle", "PREROUTING", f"{where} -m mark --mark 0x0 -j MARK --set-mark 0x2"),
                 ("mangle", "PREROUTING", "-j CONNMARK --save-mark")]
        test = r.choice(["-m connmark --mark 0x2", "-m mark --mark 0x2/0x2"])
    verdict = r.choice(["ACCEPT", "DROP", "REJECT"])
    rules += [("filter", chain, f"{test} -j {verdict}")
              for chain in r.sample(["INPUT", "FORWARD", "OUTPUT"], r.randint(1, 2))]
    return rules


def _notrack(r: random.Random, fam: str, lists: dict) -> list[tuple[str, str, str]]:
    """Some traffic left untracked in raw, judged by its state in filter."""
    what = r.choice(["-p udp -m udp --dport 53", "-p tcp -m tcp --dport 80", "-p udp",
                     f"-s {LAN_NET[fam]}", "-i eth0"])
    target = r.choice(["-j CT --notrack", "-j NOTRACK"])
    rules = [("raw", "PREROUTING", f"{what} {target}")]
    # raw OUTPUT: a notrack of every protocol meets the host's REJECT answers, which
    # fwmigrate refuses once a state test tells INVALID from UNTRACKED (nft_notrack_answers):
    # seldom, so that most rounds are compared
    if r.random() < (0.5 if what.startswith("-p") else 0.1):
        rules.append(("raw", "OUTPUT", f"{what.replace('-i eth0', '-o eth0')} {target}"))
    state = r.choice(["-m state --state UNTRACKED", "-m conntrack --ctstate UNTRACKED",
                      "-m conntrack ! --ctstate UNTRACKED,INVALID",
                      "-m state --state NEW,UNTRACKED"])
    rules += [("filter", chain, f"{state} -j {r.choice(['ACCEPT', 'DROP'])}")
              for chain in r.sample(["INPUT", "FORWARD", "OUTPUT"], r.randint(1, 2))]
    return rules


STORIES = {"knock": (_knock, ()), "port forward": (_port_forward, ("nat",)),
           "marks": (_marks, ("mangle",)), "notrack": (_notrack, ("raw",))}


def _chains(plan: random.Random, table: str) -> list[Chain]:
    chains = []
    for name in BASE[table]:
        policy = "ACCEPT"
        if table == "filter":
            policy = plan.choice(["ACCEPT", "ACCEPT", "DROP"] if name != "OUTPUT" else
                                 ["ACCEPT"] * 5 + ["DROP"])
        chains.append(Chain(name, name, policy))
    for k in range(plan.choice([0, 1, 2, 2, 3, 4])):
        hook = plan.choice(BASE[table])
        chains.append(Chain(f"U{k}", hook))
    # every user chain reached from its base chain or an earlier user chain of that base:
    # iptables-save lists user chains after the base chains, in any order
    return chains


# --- scenarios -----------------------------------------------------------------------------------

HOSTS = {"ip": {"lan": ["192.168.10.2", "192.168.10.20", "192.168.10.30"],
                "wan": ["203.0.113.50", "198.51.100.7"],
                "fw": ["192.168.10.1", "203.0.113.1", "203.0.113.10"]},
         "ip6": {"lan": ["fd00:10::2"], "wan": ["fd00:113::50", "2001:db8:1::7"],
                 "fw": ["fd00:10::1", "fd00:113::1"]}}
# where traffic goes: (from, to); fw to fw crosses lo
PATHS = [("lan", "fw"), ("wan", "fw"), ("fw", "lan"), ("fw", "wan"), ("fw", "fw"),
         ("lan", "wan"), ("wan", "lan")]
TCP_TO = [22, 80, 443, 8080, 2222, 1234, 3128, 9]           # 9: nobody listens (RST)
UDP_TO = [53, 123, 1234, 54, 40000]                          # 40000: closed (ICMP, RELATED)
SPORTS = [5353, 7001, 40002]


def _probe(rng: random.Random, stateful: bool, hints: list[tuple[str, int]]) -> Probe:
    fam = "ip" if rng.random() < 0.65 else "ip6"
    origin, to = rng.choice(PATHS)
    src, dst = rng.choice(HOSTS[fam][origin]), rng.choice(HOSTS[fam][to])
    if hints and rng.random() < 0.35:
        # a port the rules name: a probe that meets them (a published port, a knock)
        kind, port = rng.choice(hints)
        kind = "knock" if kind == "udp" and port in KNOCK_PORTS else kind
        return Probe(kind, origin, src, dst, port)
    kind = rng.choices(["tcp", "udp", "ping", "knock"], [5, 3, 2, 3 if stateful else 1])[0]
    if kind == "ping":
        return Probe("ping", origin, src, dst)
    sport = rng.choice(SPORTS) if kind != "tcp" and rng.random() < 0.3 else 0
    if kind == "knock":
        return Probe("knock", origin, src, dst, rng.choice(KNOCK_PORTS + (5353,)), sport)
    return Probe(kind, origin, src, dst, rng.choice(TCP_TO if kind == "tcp" else UDP_TO),
                 sport)


def _reverse(rng: random.Random) -> tuple[Probe, Probe]:
    """A datagram nobody answers, then one back along the same flow: conntrack takes the
    second for the first's reply (ESTABLISHED, ctdir REPLY); it meets a closed port, so its
    answer is the ICMP error (RELATED) that comes back."""
    fam = "ip" if rng.random() < 0.65 else "ip6"
    origin, to = rng.choice(PATHS)
    src, dst = rng.choice(HOSTS[fam][origin]), rng.choice(HOSTS[fam][to])
    sport, dport = rng.choice(SPORTS), 40001
    return (Probe("knock", origin, src, dst, dport, sport),
            Probe("udp", to, dst, src, sport, dport))


def _one_flow_each(probes: list[Probe]) -> list[Probe]:
    """Probes that go out together with a fixed source port must not share a socket."""
    seen, out = set(), []
    for p in probes:
        key = (p.src, p.sport) if p.sport else p
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def port_hints(save: str) -> list[tuple[str, int]]:
    """(tcp|udp, port) for each single --dport the dump's rules test, in order, once each."""
    found = re.findall(r"-p (tcp|udp) (?:-m \w+ )?(?:! )?--dport (\d+)(?=\s)", save)
    return sorted({(kind, int(port)) for kind, port in found})


def scenario(seed: int, stateful: bool, size: int,
             hints: list[tuple[str, int]] = ()) -> list[list[Probe]]:
    """Steps of probes. Without -m recent: the first halves of some reverse pairs, then
    everything else together. With it (a probe changes what later ones meet): one probe a step,
    knocks among them."""
    rng = random.Random(seed)
    pairs = [_reverse(rng) for _ in range(max(1, size // 8))]
    if not stateful:
        probes = _one_flow_each([p for _, p in pairs] + [_probe(rng, False, hints)
                                                          for _ in range(size)])
        return [_one_flow_each([p for p, _ in pairs]), probes]
    steps = [[_probe(rng, True, hints)] for _ in range(size)]
    for first, second in pairs:
        k = rng.randrange(len(steps) + 1)
        steps[k:k] = [[first]]
        steps.insert(rng.randrange(k + 1, len(steps) + 1), [second])
    return steps
