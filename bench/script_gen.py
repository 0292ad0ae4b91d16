"""Random shell scripts of iptables/ip6tables commands, for bench/script_fuzz.py.

A script is a preamble (`set -e`, variable assignments) and a list of items: commands (one
or more lines, with `\\` continuations and trailing comments), comment lines and `for` loops
whose bodies are commands. Each command is rendered to text when it is made, with a random
spelling of every part (long or short options, quoting, a variable holding the value, text
next to a variable, the binary in a variable or behind sudo/env/command), so a script can be
cut down by dropping items without changing what the remaining ones say.

A rough shadow of the ruleset (which chains exist, how many rules each has) steers the
commands towards ones iptables accepts; a few percent are meant to fail (a missing chain or
rule, a number past the end, a referenced chain deleted, -P on a user chain, a duplicate
-N …). The shadow is not exact (loops, failed commands): the kernel decides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
}
USER_CHAINS = ("FOO", "web_in", "LOGDROP", "c-2", "Svc.1", "x")
ADDRESSES = {
    "ip": ("10.0.0.1", "192.168.1.0/24", "10.1.2.3/16", "172.16.0.0/255.240.0.0", "0.0.0.0/0",
           "10.0.0.1,10.0.0.2", "1.2.3.4/32", "203.0.113.7/31"),
    "ip6": ("2001:db8::1", "2001:db8::/32", "fe80::1/64", "::/0", "2001:db8::1,2001:db8::2",
            "2001:DB8:0:0::5/128", "2001:db8:1:2::9/48"),
}
# the same value spelt otherwise: -D by spec must find the rule all the same
EQUIVALENT = {"10.1.2.3/16": ("10.1.2.3/16", "10.1.0.0/16", "10.1.0.0/255.255.0.0"),
              "1.2.3.4/32": ("1.2.3.4/32", "1.2.3.4"),
              "172.16.0.0/255.240.0.0": ("172.16.0.0/255.240.0.0", "172.16.0.0/12"),
              "2001:DB8:0:0::5/128": ("2001:DB8:0:0::5/128", "2001:db8::5"),
              "2001:db8:1:2::9/48": ("2001:db8:1:2::9/48", "2001:db8:1::/48")}
PORTS = ("22", "80", "1000:2000", "ssh", "http", "0:1023", "8080")
COMMENTS = ('"it\'s here"', "'say \"hi\"'", '"a\\\\b"', "plain", '"two  spaces"',
            "\"mixed 'q' \\\"dq\\\"\"", "'semi;colon'", '"$NOTE"', '"${NOTE}!"', "'#hash'")
LOG_PREFIXES = ('"IN: "', "'drop '", '"it\'s "', "'say \"x\" '", '"$PFX"', '"${PFX}x "',
                "FW:", '"a  b"')
# the binaries behind each family, and the wrappers a script puts in front of them
BINARIES = {"ip": ("iptables", "iptables-legacy", "/usr/sbin/iptables-legacy"),
            "ip6": ("ip6tables", "ip6tables-legacy", "/usr/sbin/ip6tables-legacy")}
WRAPPERS = ("sudo ", "command ", "env ", "sudo -E ", "nice ")


@dataclass
class Command:
    text: str                       # may span lines
    kind: str                       # what it does, for the tallies: -A, -D#, bad-chain …


@dataclass
class Comment:
    text: str


@dataclass
class Loop:
    header: str                     # `for x in …; do` (may end in a newline)
    body: list                      # Command / Comment
    footer: str = "done"


@dataclass
class Script:
    preamble: list[str]
    items: list

    def render(self) -> tuple[str, list[tuple[int, int]]]:
        """The text and the (first, last) line of each command, in order of appearance."""
        lines: list[str] = list(self.preamble)
        spans: list[tuple[int, int]] = []

        def add(item) -> None:
            if isinstance(item, Comment):
                lines.append(item.text)
            elif isinstance(item, Command):
                start = len(lines) + 1
                lines.extend(item.text.split("\n"))
                spans.append((start, len(lines)))
            else:
                lines.extend(item.header.split("\n"))
                for sub in item.body:
                    add(sub)
                lines.append(item.footer)

        for item in self.items:
            add(item)
        return "\n".join(lines) + "\n", spans

    def commands(self) -> int:
        return sum(len([b for b in i.body if isinstance(b, Command)]) if isinstance(i, Loop)
                   else isinstance(i, Command) for i in self.items)


@dataclass
class Shadow:
    """What the generator believes each (family, table) holds: chain → rule count."""
    chains: dict = field(default_factory=dict)
    specs: dict = field(default_factory=dict)      # (family, table, chain) → [rule parts]

    def table(self, family: str, table: str) -> dict[str, int]:
        key = (family, table)
        if key not in self.chains:
            self.chains[key] = {c: 0 for c in BUILTIN[table]}
        return self.chains[key]


class Generator:
    def __init__(self, rng: random.Random, brace: bool = True):
        self.rng = rng
        self.brace = brace
        self.shadow = Shadow()
        self.vars: dict[str, str] = {}            # value → variable name
        # bash runs every script (`bash FILE`), so the #! line only tells fwmigrate
        self.preamble = [rng.choice(["#!/bin/bash", "#!/usr/bin/env bash", "#!/bin/bash -u"]),
                         rng.choice(["set -e", "set -o errexit", "set -eu"])]

    # --- spelling ---------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def variable(self, value: str, stem: str = "V") -> str:
        """The name of a preamble variable holding value (assigned with random quoting)."""
        name = self.vars.get(value)
        if name is None:
            name = f"{stem}{len(self.vars)}"
            self.vars[value] = name
            quoted = self.rng.choice([f'"{value}"', f"'{value}'"]) if " " in value or \
                "$" in value else self.rng.choice([value, f'"{value}"', f"'{value}'"])
            self.preamble.append(f"{name}={quoted}")
        return name

    def word(self, value: str) -> str:
        """A plain value (no spaces or quotes) as the script might write it."""
        r = self.rng.random()
        if r < 0.55:
            return value
        if r < 0.65:
            return f'"{value}"'
        if r < 0.72:
            return f"'{value}'"
        name = self.variable(value)
        if r < 0.8:
            return f"${name}"
        if r < 0.88:
            return f'"${{{name}}}"'
        if "/" in value and len(value.split("/")[0]) > 0:          # text next to a variable
            head, tail = value.split("/", 1)
            return f"${{{self.variable(head)}}}/{tail}"
        if len(value) > 2:
            return f"{value[0]}${{{self.variable(value[1:])}}}"
        return f"${{{name}}}"

    def binary(self, family: str) -> str:
        r = self.rng.random()
        plain = BINARIES[family][0]
        if r < 0.4:
            return plain
        if r < 0.7:
            name = "IPT" if family == "ip" else "IP6T"
            if name not in self.vars.values():
                self.vars[f"<{name}>"] = name
                self.preamble.append(f"{name}={self.rng.choice(BINARIES[family])}")
            return self.rng.choice([f"${name}", f"${{{name}}}", f'"${name}"'])
        if r < 0.85:
            return self.rng.choice(WRAPPERS) + plain
        if r < 0.855:
            return "exec " + plain                  # the script ends with this command
        return self.rng.choice(BINARIES[family][1:])

    def table_option(self, table: str) -> str:
        if table == "filter":
            return self.rng.choice(["", "", "", "-t filter "])
        return self.rng.choice([f"-t {table} ", f"--table {table} ", f"-t {table} ",
                                f"-t{table} "])

    # --- rules ------------------------------------------------------------------------------

    def rule_parts(self, family: str | None, table: str, chain: str,
                   chains: dict[str, int]) -> list[tuple[str, ...]]:
        """A rule as its options, each a tuple of equivalent spellings (family None: one
        rule both iptables and ip6tables take, for `for ipt in iptables ip6tables`)."""
        rng = self.rng
        parts: list[tuple[str, ...]] = []
        self.rule_count = 1             # `-s a,b` makes two rules
        proto = rng.choice(["tcp", "tcp", "udp", "icmp", None, None])
        if proto == "icmp":
            if family is None:
                proto = None
            elif family == "ip6":
                proto = "icmpv6"
        if family is not None and self.chance(0.4):
            neg = "! " if self.chance(0.2) else ""
            addr = rng.choice(ADDRESSES[family])
            self.rule_count = 1 + addr.count(",")
            opt = rng.choice(["-s", "-d"])
            long = "--source" if opt == "-s" else "--destination"
            same = EQUIVALENT.get(addr, (addr,))
            parts.append(tuple(f"{neg}{o} {a}" for o in (opt, long) for a in same))
        if self.chance(0.25):
            neg = "! " if self.chance(0.3) else ""
            iface = rng.choice(["eth0", "eth+", "lo", "wg0"])
            opt = "-o" if chain in ("OUTPUT", "POSTROUTING") or (
                chain not in BUILTIN[table] and self.chance(0.5)) else "-i"
            if chain == "FORWARD" or self.chance(0.03):
                opt = rng.choice(["-i", "-o"])
            parts.append((f"{neg}{opt} {iface}",))
        if proto is not None:
            spell = {"tcp": ("-p tcp", "--protocol tcp", "-p TCP", "-p 6"),
                     "udp": ("-p udp", "-p 17", "--proto udp"),
                     "icmp": ("-p icmp", "-p 1"), "icmpv6": ("-p icmpv6", "-p ipv6-icmp")}
            parts.append(spell[proto])
            if proto in ("tcp", "udp"):
                r = rng.random()
                explicit = f"-m {proto} " if self.chance(0.3) else ""
                if r < 0.5:
                    opt = rng.choice(["--dport", "--sport"])
                    long = "--destination-port" if opt == "--dport" else "--source-port"
                    neg = "! " if self.chance(0.15) else ""
                    port = rng.choice(PORTS)
                    parts.append((f"{explicit}{neg}{opt} {port}", f"{explicit}{neg}{long} {port}"))
                elif r < 0.75:
                    which = rng.choice(["--dports", "--sports", "--ports"])
                    ports = rng.choice(["22,80,443", "1000:2000,3000", "53", "http,https"])
                    parts.append((f"-m multiport {which} {ports}",))
            elif proto == "icmp":
                t = rng.choice(["echo-request", "8", "3/4", "any"])
                parts.append((f"--icmp-type {t}",))
            elif proto == "icmpv6" and self.chance(0.6):
                t = rng.choice(["echo-request", "128", "1/4"])
                parts.append((f"--icmpv6-type {t}",))
        if self.chance(0.25):
            states = rng.choice(["NEW", "ESTABLISHED,RELATED", "RELATED,ESTABLISHED", "INVALID",
                                 "NEW,ESTABLISHED"])
            orders = (states, ",".join(reversed(states.split(","))))
            if self.chance(0.5):
                neg = "! " if self.chance(0.15) else ""
                parts.append(tuple(f"-m conntrack {neg}--ctstate {s}" for s in orders))
            else:
                parts.append(tuple(f"-m state --state {s}" for s in orders))
        if self.chance(0.15):
            parts.append((f"-m limit --limit {rng.choice(['5/min', '1/s', '10/hour'])}",))
        if self.chance(0.2):
            comment = rng.choice(COMMENTS)
            if "NOTE" in comment:
                self.need_var("NOTE", self.rng.choice(["'web server'", '"x y"', "z"]))
            parts.append((f"-m comment --comment {comment}",))
        parts.extend(self.target(family, table, chain, proto, chains))
        return parts

    def need_var(self, name: str, quoted: str) -> None:
        if f"<{name}>" not in self.vars:
            self.vars[f"<{name}>"] = name
            self.preamble.append(f"{name}={quoted}")

    def target(self, family, table, chain, proto, chains) -> list[tuple[str, ...]]:
        rng = self.rng
        users = [c for c in chains if c not in BUILTIN[table]]
        options: list[str] = ["ACCEPT", "RETURN"]
        if table != "nat":
            options += ["DROP"]
        if table == "filter":
            options += ["REJECT", "LOG"]
            reject = {"ip": "icmp-port-unreachable", "ip6": "icmp6-adm-prohibited"}
            if family is not None:
                options.append(f"REJECT --reject-with {reject[family]}")
            if proto == "tcp":
                options.append("REJECT --reject-with tcp-reset")
        elif table == "nat":
            # mostly where the kernel takes them (a user chain: wherever it is jumped from)
            snat = chain in ("POSTROUTING", "INPUT") or self.chance(0.15)
            dnat = chain in ("PREROUTING", "OUTPUT") or self.chance(0.15)
            ports = proto in ("tcp", "udp") or self.chance(0.1)
            if snat:
                options += ["MASQUERADE"] + (["MASQUERADE --to-ports 1024-2000"] if ports else [])
                options += {"ip": ["SNAT --to-source 192.0.2.1"], None: [],
                            "ip6": ["SNAT --to-source 2001:db8::2"]}[family]
            if dnat:
                options += ["REDIRECT --to-ports 8080"] if ports else ["REDIRECT"]
                options += {"ip": ["DNAT --to-destination 10.0.0.9"], None: [],
                            # quoted: unquoted, [2001:db8::9] is a glob bracket to the shell
                            "ip6": ["DNAT --to-destination \"[2001:db8::9]:80\"" if ports
                                    else "DNAT --to-destination 2001:db8::9"]}[family]
        elif table == "mangle":
            options += ["MARK --set-mark 0x1", "MARK --set-xmark 0x2/0xff", "LOG"]
        else:
            options += ["NOTRACK", "CT --notrack"]
        r = rng.random()
        if r < 0.1:
            return []                                  # no target: counts only
        if r < 0.35 and users:
            dest = rng.choice(users)
            if self.chance(0.2):
                return [(f"-g {dest}", f"--goto {dest}")]
            return [(f"-j {dest}", f"--jump {dest}")]
        if 0.35 <= r < 0.355:
            return [(f"-j {rng.choice(USER_CHAINS)}",)]         # may not exist
        target = rng.choice(options)
        if target == "LOG":
            prefix = rng.choice(LOG_PREFIXES)
            if "PFX" in prefix:
                self.need_var("PFX", self.rng.choice(["'fw: '", '"drop "', "x"]))
            level = rng.choice(["", " --log-level 4", " --log-level info"])
            return [(f"-j LOG --log-prefix {prefix}{level}",)]
        return [(f"-j {target}", f"--jump {target}")]

    def odd_rule(self, family: str | None) -> str:
        """A rule in a rarer or wrong form: iptables' parser decides (and fwmigrate must
        decide the same)."""
        neutral = [
            "--dport 80 -p tcp -j ACCEPT", "-p tcp --dport 22 --dport 23", "-i eth0 -i eth1",
            "-p tcp ! --syn -j DROP", "-p tcp -m tcp --tcp-flags SYN,ACK SYN",
            "-p udp -m multiport --dports 1:10,20:30,40,50,60,70,80,90,100,110,120,130,140",
            "-m conntrack --ctstate NEW,BOGUS",
            "-j LOG --log-prefix 'abcdefghijklmnopqrstuvwxyz0123456'",
            "-j LOG --log-prefix ''", "-m state --state ESTABLISHED -m state --state NEW",
            "-j REJECT --reject-with tcp-reset", "-m limit --limit 0/s", "-p all -j RETURN",
            "-p tcp -m multiport --dports 22 -m multiport --sports 1024:65535",
            "-m comment --comment " + "c" * 260, "-m comment --comment ''",
            "-p udp --dport 53 ! -i lo",
            "-m mark --mark 0x1/0xff -j RETURN", "-j MARK --set-mark 1", "-p tcp --dport=22",
            "-p tcp --dpo 22", "--protocol=udp --sport=67:68", "-m tcp --dport 22",
            "-p tcp -m udp", "-j ACCEPT -j DROP", "-j", "-p",
            "-m conntrack --ctstate NEW --ctstate INVALID",
            "-p tcp --dport 22 -m comment --comment \"dq\\\"in\"",
            "-m addrtype --dst-type LOCAL", "-p icmp", "-p udp --dport 65536",
            "-p tcp --dport 2000:1000", "-p udp --dport 2000:1000", "-ptcp -s10.0.0.0/8",
            "-p udp --dport ssh", "-p icmp -j REDIRECT --to-ports 99",
            "-p tcp -m multiport --dports {80,443}", "-m comment --comment x{a,b}",
            "-m comment --comment {a}", "-j ACC{EPT}", "-p tcp --dport {1..1}", "-ieth0",
            # globs: text when quoted; unquoted, bash matches them against the files of the
            # directory it runs in (an empty one here: text again), and fwmigrate refuses them
            "-m comment --comment 'a*b'", "-j LOG --log-prefix \"[FW] \"",
            "-m comment --comment why\\?", "-j LOG --log-prefix FW*", "-m comment --comment [x]",
        ]
        own = {"ip": ["-s 10.0.0.0/33", "-f -j DROP", "-s 10.0.0.1 ! -d 10.0.0.2", "-d 1.2.3",
                      "-s 10.1/16", "-p icmp --icmp-type 255", "-s 0/0"],
               "ip6": ["-s 2001:db8::/129", "-f", "-s ::1 ! -d ::2", "-p icmpv6 --icmp-type 8",
                       "-p ipv6-icmp --icmpv6-type 1/4", "-s ::/0"]}
        return self.rng.choice(neutral + (own[family] if family else []))

    def spell(self, parts: list[tuple[str, ...]]) -> str:
        out = []
        for alternatives in parts:
            text = self.rng.choice(alternatives)
            # a value (the last word) may come from a variable; not negations or quoted text
            words = text.split(" ")
            if len(words) >= 2 and not any(c in words[-1] for c in "\"'$") and \
                    words[-1] not in ("!",) and self.chance(0.35):
                words[-1] = self.word(words[-1])
            out.append(" ".join(words))
        return " ".join(out)

    # --- commands ---------------------------------------------------------------------------

    def layout(self, words: list[str]) -> str:
        """Words joined into one command, split over `\\` continuation lines now and then,
        with a trailing comment now and then."""
        text = words[0]
        for w in words[1:]:
            if self.chance(0.08):
                text += " \\\n" + self.rng.choice(["  ", "    ", "\t", ""]) + w
            else:
                text += " " + w
        if self.chance(0.08):
            text += "  # " + self.rng.choice(["done", "it's ok", "x; y", "$NOT_EXPANDED"])
        return text

    def command(self, family: str | None, binary: str | None = None) -> Command:
        """One iptables command (family None: inside `for ipt in iptables ip6tables`, binary
        is then `$ipt`)."""
        rng = self.rng
        fams = ("ip", "ip6") if family is None else (family,)
        table = rng.choice(["filter", "filter", "filter", "nat", "mangle", "raw"])
        chains = self.shadow.table(fams[0], table)
        binary = binary or self.binary(family)
        topt = self.table_option(table)
        builtins = BUILTIN[table]
        users = [c for c in chains if c not in builtins]
        r = rng.random()

        def any_chain() -> str:
            return rng.choice(list(chains))

        def filled() -> str | None:
            full = [c for c, n in chains.items() if n > 0]
            return rng.choice(full) if full else None

        def update(fn) -> None:
            for fam in fams:
                fn(self.shadow.table(fam, table))

        def rule_cmd(op: str, chain: str, number: str = "") -> str:
            used = self.shadow.specs.get((fams, table, chain))
            if used and self.chance(0.2):
                # the same rule again: -D by spec then deletes the first of them
                parts = rng.choice(used)
                self.rule_count = 1 + sum(p[0].count(",") for p in parts
                                          if p[0].lstrip("! ")[:2] in ("-s", "-d"))
            else:
                parts = self.rule_parts(family, table, chain, chains)
            self.shadow.specs.setdefault((fams, table, chain), []).append(parts)
            return f"{binary} {topt}{op} {chain}{number} {self.spell(parts)}".rstrip()

        if r < 0.30:
            chain = any_chain()
            op = rng.choice(["-A", "-A", "--append"])
            text, kind = rule_cmd(op, chain), "-A"
            update(lambda t: t.__setitem__(chain, t.get(chain, 0) + self.rule_count))
        elif r < 0.42:
            chain = any_chain()
            n = max(chains.get(chain, 0), 0)
            number = "" if self.chance(0.4) else f" {rng.randint(1, n + 1)}"
            text, kind = rule_cmd(rng.choice(["-I", "--insert"]), chain, number), "-I"
            update(lambda t: t.__setitem__(chain, t.get(chain, 0) + self.rule_count))
        elif r < 0.52:
            # delete (or check) by spec: a spec added before, spelt anew
            specs = [(k[2], p) for k, v in self.shadow.specs.items()
                     if k[0] == fams and k[1] == table for p in v]
            if not specs:
                return self.command(family, binary)
            chain, parts = rng.choice(specs)
            count = sum(p[0].count(",") for p in parts if p[0].lstrip("! ")[:2] in ("-s", "-d"))
            if self.chance(0.15):       # -C: no change; under set -e a missing rule stops
                return Command(self.layout(f"{binary} {topt}-C {chain} {self.spell(parts)}"
                                           .split(" ")), "-C")
            text = f"{binary} {topt}{rng.choice(['-D', '--delete'])} {chain} {self.spell(parts)}"
            kind = "-D spec"
            update(lambda t: t.__setitem__(chain, max(t.get(chain, 0) - 1 - count, 0)))
        elif r < 0.58:
            if filled() is None and self.chance(0.95):
                return self.command(family, binary)
            chain = filled() or any_chain()
            n = max(chains.get(chain, 0), 0)
            num = rng.randint(1, n) if n and self.chance(0.95) else rng.choice([n + 1, 0, 5])
            text, kind = f"{binary} {topt}-D {chain} {self.word(str(num))}", "-D number"
            if 1 <= num <= n:
                update(lambda t: t.__setitem__(chain, max(t.get(chain, 0) - 1, 0)))
        elif r < 0.63:
            if filled() is None and self.chance(0.95):
                return self.command(family, binary)
            chain = filled() or any_chain()
            n = max(chains.get(chain, 0), 0)
            num = rng.randint(1, n) if n and self.chance(0.95) else n + 1
            text, kind = rule_cmd(rng.choice(["-R", "--replace"]), chain, f" {num}"), "-R"
        elif r < 0.74:
            fresh = [c for c in USER_CHAINS if c not in chains]
            name = rng.choice(fresh) if fresh and self.chance(0.95) else rng.choice(USER_CHAINS)
            text, kind = f"{binary} {topt}{rng.choice(['-N', '--new-chain', '-N'])} " \
                         f"{self.word(name)}", "-N"
            update(lambda t: t.setdefault(name, 0))
        elif r < 0.79:
            if users and self.chance(0.8):
                name = rng.choice(users)
                text = f"{binary} {topt}{rng.choice(['-X', '--delete-chain'])} {name}"
                update(lambda t: t.pop(name, None) if not t.get(name) else None)
            else:
                text = f"{binary} {topt}-X"
                update(lambda t: [t.pop(c) for c in list(t) if c not in builtins])
            kind = "-X"
        elif r < 0.85:
            if self.chance(0.5):
                chain = any_chain()
                text = f"{binary} {topt}{rng.choice(['-F', '--flush'])} {chain}"
                update(lambda t: t.__setitem__(chain, 0) if chain in t else None)
            else:
                text = f"{binary} {topt}-F"
                update(lambda t: [t.__setitem__(c, 0) for c in t])
            kind = "-F"
        elif r < 0.88:
            chain = any_chain() if self.chance(0.6) else ""
            text, kind = f"{binary} {topt}{rng.choice(['-Z', '--zero'])} {chain}".rstrip(), "-Z"
            if chain and self.chance(0.2):
                text += f" {rng.randint(1, 3)}"
            elif self.chance(0.2):      # a listing: no change, but a missing chain fails
                chain = rng.choice([any_chain(), any_chain(), rng.choice(USER_CHAINS)])
                text = f"{binary} {topt}{rng.choice(['-S', '-L', '-nL', '-S'])} {chain}"
                text += rng.choice(["", " -n", " 1", " >/dev/null"])
        elif r < 0.93:
            chain = rng.choice(builtins) if self.chance(0.97) else any_chain()
            policy = rng.choice(["ACCEPT", "DROP"] if table != "nat" or self.chance(0.05)
                                else ["ACCEPT"])
            text, kind = f"{binary} {topt}{rng.choice(['-P', '--policy'])} {chain} {policy}", "-P"
        elif r < 0.96:
            if not users:
                return self.command(family, binary)
            old = rng.choice(users)
            free = [c for c in USER_CHAINS + ("renamed",) if c not in chains]
            new = rng.choice(free) if free and self.chance(0.95) else rng.choice(USER_CHAINS)
            text, kind = f"{binary} {topt}{rng.choice(['-E', '--rename-chain'])} {old} {new}", "-E"

            def rename(t):
                if old in t and new not in t:
                    t[new] = t.pop(old)
            update(rename)
        elif r < 0.975:
            # meant to fail
            bad = rng.choice([
                "-A NOPE -j ACCEPT", f"-D {any_chain()} 99", f"-I {any_chain()} 50 -j ACCEPT",
                f"-P {rng.choice(USER_CHAINS)} DROP", f"-X {builtins[0]}",
                f"-R {any_chain()} 40 -j DROP",
                f"-N {rng.choice(users or [builtins[0]])}", "-E NOPE other",
                f"-D {any_chain()} -s 198.51.100.77 -j DROP" if family != "ip6"
                else f"-D {any_chain()} -p udp --dport 9 -j DROP"])
            text, kind = f"{binary} {topt}{bad}", "bad"
        else:
            text, kind = f"{binary} {topt}-A {any_chain()} {self.odd_rule(family)}", "-A odd"
        r = rng.random()
        if r < 0.05:
            text += rng.choice([" || true", " 2>/dev/null || :", " || echo failed"])
        elif r < 0.07:
            text += " 2>/dev/null"      # still fatal under set -e
        return Command(self.layout(text.split(" ")), kind)

    def loop(self) -> Loop:
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            var = rng.choice(["ipt", "IPT_BIN", "t"])
            header = f"for {var} in {rng.choice(['iptables ip6tables', 'ip6tables iptables'])}; do"
            if self.chance(0.3):
                header = header[:-4] + "\ndo"
            binary = rng.choice([f"${var}", f'"${var}"', f"${{{var}}}", f"sudo ${var}"])
            body = [self.command(None, binary) for _ in range(rng.randint(1, 3))]
            return Loop(header, body, rng.choice(["done", "done  # both"]))
        family = rng.choice(["ip", "ip", "ip6"])
        binary = self.binary(family)
        table = rng.choice(["filter", "filter", "mangle"])
        chains = self.shadow.table(family, table)
        chain = rng.choice([c for c in chains])
        topt = self.table_option(table)
        var = rng.choice(["p", "port", "net", "x"])
        if r < 0.75:
            ports = rng.choice(["22 80 443", "53", "8000:8010 9000"])
            if self.brace and self.chance(0.3):
                ports = rng.choice(["{8000..8003}", "{22,80}", "{1..3}0", "7{0,1}"])
            elif self.chance(0.3):
                ports = f"${self.variable(ports, 'P')}"
            target = rng.choice(["ACCEPT", "DROP", "RETURN"])
            line = f"{binary} {topt}-A {chain} -p tcp --dport ${var} -j {target}"
        else:
            nets = " ".join(rng.sample(ADDRESSES[family], 2))
            if self.brace and self.chance(0.3):
                nets = "10.0.{1,2}.0/24" if family == "ip" else "2001:db8:{a,b}::/48"
            line = f"{binary} {topt}-A {chain} -s \"${var}\" -j DROP"
        n = len(ports.split()) if r < 0.75 else 2
        chains[chain] = chains.get(chain, 0) + n
        items = ports if r < 0.75 else nets
        return Loop(f"for {var} in {items}; do", [Command("  " + line, "-A loop")])

    def shell_forms(self) -> Command | Loop:
        """Commands in the shell forms scripts use: options in one variable split on spaces,
        ${X:-default}, a bash array, nested loops, `;` and `&&` on one line."""
        rng = self.rng
        r = rng.random()
        ipt = self.binary("ip")
        if r < 0.2:
            self.need_var("OPTS", rng.choice(['"-p tcp --dport 22"', "'-i lo'",
                                              '"-m state --state NEW -p udp"']))
            return Command(f"{ipt} -A INPUT $OPTS -j {rng.choice(['ACCEPT', 'DROP'])}",
                           "-A $OPTS")
        if r < 0.35:
            return Command(f"{ipt} -A ${{CHAIN_X:-INPUT}} -i ${{WAN:-eth9}} -j "
                           f"${{VERDICT:=DROP}}", "-A ${X:-default}")
        if r < 0.5:
            self.need_var("PORTS_A", "(22 \"80\" '443')")
            body = [Command(f"  {ipt} -A INPUT -p tcp --dport $p -j ACCEPT", "-A array")]
            return Loop(rng.choice(['for p in "${PORTS_A[@]}"; do', "for p in ${PORTS_A[@]}; do",
                                    "for p in ${PORTS_A[1]} ${PORTS_A[0]}; do"]), body)
        if r < 0.65:
            inner = "for p in 22 80; do $t -A INPUT -p tcp --dport $p -j ACCEPT; done"
            return Loop("for t in iptables ip6tables; do", [Command("  " + inner, "-A nested")])
        if r < 0.8:
            name = rng.choice(USER_CHAINS)
            chains = self.shadow.table("ip", "filter")
            chains.setdefault(name, 0)
            chains["INPUT"] = chains.get("INPUT", 0) + 1
            return Command(f"{ipt} -N {name} {rng.choice(['&&', ';', '||'])} "
                           f"{ipt} -A INPUT -j {name}", "-N && -A")
        if r < 0.9:
            chains = self.shadow.table("ip", "filter")
            chains["INPUT"] = chains.get("INPUT", 0) + 1
            off, on = rng.choice([("set -f", "set +f"), ("set -o noglob", "set +o noglob")])
            return Command(f"{off}; {ipt} -A INPUT -m comment --comment "
                           f"{rng.choice(['a*b', '[x]', 'why?'])} -j ACCEPT; {on}", "set -f glob")
        return Command(f"{ipt} -C INPUT -j DROP 2>/dev/null || {ipt} -A INPUT -j DROP",
                       "-C || -A")

    def item(self):
        r = self.rng.random()
        if r < 0.06:
            return Comment(self.rng.choice(["# a comment", "", "  # indented: it's", "#"]))
        if r < 0.16:
            return self.loop()
        if r < 0.2:
            return self.shell_forms()
        return self.command(self.rng.choice(["ip", "ip", "ip6"]))


def script(rng: random.Random, commands: int, brace: bool = True) -> Script:
    gen = Generator(rng, brace)
    items = [gen.item() for _ in range(commands)]
    return Script(gen.preamble, items)


if __name__ == "__main__":
    import sys
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    text, spans = script(random.Random(seed), 25).render()
    print(text)
