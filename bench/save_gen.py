"""Random iptables-restore files, for bench/save_fuzz.py.

A file is a list of lines for one family (iptables or ip6tables): header comments, `*table`,
`:CHAIN POLICY [p:b]` declarations (built-in and user chains), rules with or without `[p:b]`
counters, the other commands iptables-restore takes inside a table (-I [n], -D by spec and by
number, -R, -N, -X, -F, -Z, -P, -E), COMMIT, comments and blank lines. Values are quoted as
iptables-restore reads them (only double quotes group; a backslash inside them escapes).

A rough shadow of each table (its chains and their rule counts) steers the lines towards ones
iptables-restore accepts; at a controlled rate a line is made to fail or to sit at an odd place
(a chain never declared, a policy on a user chain, nat DROP, a table given twice, a missing
COMMIT, a declaration after the rules, a bad counter, an unterminated quote, CR LF …). The
shadow is not exact: the kernel decides.
"""

from __future__ import annotations

import random

from save_listing import BUILTIN  # one table of the built-in chains, for both benches

USER_CHAINS = ("FOO", "web_in", "LOGDROP", "c-2", "Svc.1", "x", "DOCKER-USER")
ADDRESSES = {
    "ip": ("10.0.0.1", "192.168.1.0/24", "10.1.2.3/16", "172.16.0.0/255.240.0.0", "0.0.0.0/0",
           "1.2.3.4/32", "203.0.113.7/31", "10.0.0.1,10.0.0.2"),
    "ip6": ("2001:db8::1", "2001:db8::/32", "fe80::1/64", "::/0", "2001:DB8:0:0::5/128",
            "2001:db8:1:2::9/48", "2001:db8::1,2001:db8::2"),
}
PORTS = ("22", "80", "1000:2000", "ssh", "0:1023", "8080", "https")
# as written in a restore file; what iptables-restore makes of each is its business
COMMENTS = ('"it\'s here"', '"say \\"hi\\""', '"a\\\\b"', "plain", '"two  spaces"',
            "'single'", '"semi;colon"', '"#hash"', '""', 'mid"dle q"', '"tab\there"',
            '"trailing\\\\"', '"' + "c" * 250 + '"', '"café ☕"', '"' + "é" * 127 + '"')
LOG_PREFIXES = ('"IN: "', '"drop "', "FW:", '"a  b"', '"q\\"x "', "'s'", '"back\\\\ "',
                '"abcdefghijklmnopqrstuvwxyz012"')

# matches with the protocol the kernel wants, a wrong one or none: the kernel checks them when
# the table is committed (so a later line may remove the rule first), libxt_multiport as
# iptables parses the line
PROTOCOL_MATCHES = (
    "-m tcp --dport 22", "-p udp -m tcp --sport 1", "! -p tcp -m tcp --dport 2",
    "-p all -m tcp --dport 3", "-m udp --dport 53", "-p tcp -m udp --dport 53",
    "-p 17 -m udp --sport 5", "-m icmp --icmp-type 8", "-p tcp -m icmp --icmp-type 8",
    "-p icmp -m icmp --icmp-type 3", "-m icmp6 --icmpv6-type 128",
    "-p ipv6-icmp -m icmp6 --icmpv6-type 1", "-m tcpmss --mss 1:500",
    "-p tcp -m tcpmss --mss 1:500", "-m ecn --ecn-tcp-ece", "-p udp -m ecn --ecn-tcp-cwr",
    "-p tcp -m ecn --ecn-tcp-cwr", "-m ecn --ecn-ip-ect 1", "-m esp --espspi 1",
    "-p esp -m esp --espspi 1", "-m ah --ahspi 1", "-p ah -m ah --ahspi 2",
    "-m mh --mh-type 1", "-p mh -m mh --mh-type 1", "-m sctp --dport 1",
    "-p sctp -m sctp --dport 1", "-m dccp --dport 1", "-m multiport --dports 22",
    "-p udplite -m multiport --dports 22", "! -p tcp -m multiport --dports 22",
    "-m ipcomp --ipcompspi 1", "-m rpfilter", "-p tcp -m osf --genre Linux",
    "-m osf --genre Linux",
)

# spellings iptables reads as the same rule (for -D by spec)
RESPELLINGS = (("-p tcp", "-p 6"), ("-p udp", "--protocol 17"), ("--dport", "--destination-port"),
               ("-s ", "--source "), ("-d ", "--destination "), ("-j ", "--jump "),
               ("10.1.2.3/16", "10.1.0.0/16"), ("172.16.0.0/255.240.0.0", "172.16.0.0/12"),
               ("2001:DB8:0:0::5/128", "2001:db8::5"), ("2001:db8:1:2::9/48", "2001:db8:1::/48"),
               ("1.2.3.4/32", "1.2.3.4"), ("RELATED,ESTABLISHED", "ESTABLISHED,RELATED"),
               ("--log-level 4", "--log-level warning"), ("-i eth0", "--in-interface eth0"),
               ("--ctstate NEW", "--ctstate new"), ("--limit 1/sec", "--limit 1/s"),
               ("--set-mark 0x1", "--set-mark 1"), ("-m state --state", "-m conntrack --ctstate"),
               ("--icmp-type 8", "--icmp-type echo-request"), ("--sport 22", "--sport ssh"),
               ("-p icmpv6", "-p ipv6-icmp"), ("--syn", "--tcp-flags FIN,SYN,RST,ACK SYN"))


class Generator:
    def __init__(self, rng: random.Random, family: str, bad: float = 0.04, lines: int = 12):
        self.rng = rng
        self.most = lines                       # lines per table, at most
        self.family = family
        self.bad = bad                          # the rate of lines meant to fail or be odd
        self.lines: list[str] = []
        self.chains: dict[str, int] = {}        # the current table's chains → rule counts

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # --- rules ------------------------------------------------------------------------------

    def spec(self, table: str, chain: str) -> str:
        """A rule's matches and target (everything after `-A CHAIN`)."""
        rng, family = self.rng, self.family
        parts: list[str] = []
        proto = rng.choice(["tcp", "tcp", "udp", "icmp", None, None])
        if proto == "icmp" and family == "ip6":
            proto = rng.choice(["icmpv6", "ipv6-icmp"])
        if self.chance(0.4):
            address = rng.choice(ADDRESSES[family])
            neg = "! " if self.chance(0.2) and "," not in address else ""
            parts.append(f"{neg}{rng.choice(['-s', '-d'])} {address}")
        if self.chance(0.25):
            opt = "-o" if chain in ("OUTPUT", "POSTROUTING") else "-i"
            if chain not in BUILTIN[table] or chain == "FORWARD":
                opt = rng.choice(["-i", "-o"])
            neg = "! " if self.chance(0.2) else ""
            parts.append(f"{neg}{opt} {rng.choice(['eth0', 'eth+', 'lo', 'wg0'])}")
        if proto is not None:
            parts.append(f"-p {proto}")
            if proto in ("tcp", "udp"):
                r = rng.random()
                if r < 0.5:
                    explicit = f"-m {proto} " if self.chance(0.5) else ""
                    neg = "! " if self.chance(0.15) else ""
                    # a service name with udp: fixed on the scriptdiff branch (any protocol's)
                    ports = PORTS if proto == "tcp" else [p for p in PORTS if p[0].isdigit()]
                    parts.append(f"{explicit}{neg}--{rng.choice(['d', 's'])}port "
                                 f"{rng.choice(ports)}")
                elif r < 0.7:
                    parts.append(f"-m multiport --{rng.choice(['d', 's', ''])}ports "
                                 f"{rng.choice(['22,80,443', '1000:2000,3000', '53'])}")
                elif r < 0.8 and proto == "tcp":
                    parts.append(rng.choice(["--syn", "! --syn",
                                             "-m tcp --tcp-flags SYN,ACK SYN"]))
            elif proto == "icmp":
                parts.append(f"-m icmp --icmp-type {rng.choice(['echo-request', '8', '3/4'])}")
            elif self.chance(0.6):
                parts.append(f"-m icmp6 --icmpv6-type {rng.choice(['echo-request', '128'])}")
        if self.chance(0.25):
            states = rng.choice(["NEW", "RELATED,ESTABLISHED", "INVALID", "NEW,ESTABLISHED"])
            parts.append(rng.choice([f"-m conntrack --ctstate {states}",
                                     f"-m state --state {states}"]))
        if self.chance(0.12):
            parts.append(f"-m limit --limit {rng.choice(['5/min', '1/sec', '10/hour'])}"
                         + rng.choice(["", " --limit-burst 3"]))
        if self.chance(0.1):
            parts.append(f"-m mark --mark {rng.choice(['0x1', '0x2/0xff', '7'])}")
        if self.chance(0.12):
            parts.append(rng.choice([
                "-m iprange --src-range " + ("10.0.0.1-10.0.0.9" if family == "ip"
                                             else "2001:db8::1-2001:db8::9"),
                "-m length --length 40:1500", "-m pkttype --pkt-type broadcast",
                "-m addrtype --dst-type LOCAL", "-m ttl --ttl-gt 5" if family == "ip"
                else "-m hl --hl-lt 9", "-m recent --name bad --rcheck --seconds 60",
                "-m recent --set --name knock", "-m connmark --mark 0x4/0xf",
                "-m physdev --physdev-in eth1" if chain != "OUTPUT" else "-m mark ! --mark 3",
                "-m conntrack --ctstate NEW --ctorigdst " + ("10.0.0.0/8" if family == "ip"
                                                            else "2001:db8::/32"),
                "-m tos --tos 0x10" if family == "ip" else "-m dscp --dscp 8",
                "-m u32 --u32 \"0x0>>0x16&0x3c@0x0>>0x10=0x50\"" if family == "ip"
                else "-m frag --fragid 1", "-m helper --helper ftp",
                "-m hashlimit --hashlimit-upto 5/sec --hashlimit-name hl --hashlimit-mode srcip",
            ]))
        if self.chance(0.2):
            parts.append(f"-m comment --comment {rng.choice(COMMENTS)}")
        target = self.target(table, chain, proto)
        if target:
            parts.append(target)
        return " ".join(parts)

    def target(self, table: str, chain: str, proto: str | None) -> str:
        rng, family = self.rng, self.family
        # jumps go down the list of user chains, so that loops are rare (odd_line makes some)
        users = [c for c in self.chains if c not in BUILTIN[table] and (
            chain in BUILTIN[table] or c > chain)]
        options = ["ACCEPT", "RETURN"] + (["DROP"] if table != "nat" else [])
        options += ["NFLOG --nflog-group 2", "NFQUEUE --queue-num 3 --queue-bypass",
                    "CONNMARK --set-mark 0x1", "MARK --or-mark 0x4"] if self.chance(0.2) else []
        if table == "filter":
            options += ["REJECT", "LOG"]
            options.append("REJECT --reject-with " + ("icmp-host-prohibited" if family == "ip"
                                                      else "icmp6-adm-prohibited"))
            if proto == "tcp":
                options.append("REJECT --reject-with tcp-reset")
        elif table == "nat":
            ports = proto in ("tcp", "udp")
            if chain in ("POSTROUTING", "INPUT") or self.chance(0.1):
                options += ["MASQUERADE", "SNAT --to-source " + (
                    "192.0.2.1" if family == "ip" else "2001:db8::2")]
                if ports:
                    options.append("MASQUERADE --to-ports 1024-2000")
            if chain in ("PREROUTING", "OUTPUT") or self.chance(0.1):
                options += ["REDIRECT --to-ports 8080" if ports else "REDIRECT"]
                options.append("DNAT --to-destination " + (
                    "10.0.0.9" if family == "ip" else "2001:db8::9"))
        elif table == "mangle":
            options += ["MARK --set-mark 0x1", "MARK --set-xmark 0x2/0xff", "LOG",
                        "CONNMARK --restore-mark", "DSCP --set-dscp 10", "TOS --set-tos 0x10",
                        "TCPMSS --set-mss 1400" if proto == "tcp" else "RETURN",
                        "CONNMARK --save-mark", "TTL --ttl-set 64" if family == "ip"
                        else "HL --hl-set 64"]
        else:
            options += ["NOTRACK", "CT --notrack", "DROP", "CT --zone 5", "CT --helper ftp"
                        if proto == "tcp" else "TRACE"]
        r = rng.random()
        if r < 0.08:
            return ""                                   # counts only
        if r < 0.35 and users:
            return f"{rng.choice(['-j', '-g'])} {rng.choice(users)}"
        target = rng.choice(options)
        if target == "LOG":
            return (f"-j LOG --log-prefix {rng.choice(LOG_PREFIXES)}"
                    + rng.choice(["", " --log-level 4", " --log-level info"]))
        return f"-j {target}"

    def counters(self) -> str:
        if self.chance(0.4):
            return ""
        if self.chance(self.bad):
            return self.rng.choice(["[5a:6] ", "[1:] ", "[x:y] ", "[1:2]", "[1 2] ",
                                    "[-1:3] ", "[1:2:3] ", "[0x10:5] "])
        return f"[{self.rng.randint(0, 99)}:{self.rng.randint(0, 9999)}] "

    # --- a table ----------------------------------------------------------------------------

    def odd_line(self, table: str) -> str:
        """A line in a rarer or wrong form: iptables-restore decides."""
        rng = self.rng
        chain = rng.choice(list(self.chains) or ["INPUT"])
        return rng.choice([
            f"-A NOPE{rng.randint(0, 9)} -j ACCEPT", f"-A {chain} -j NOPE",
            f"-A {chain} -t nat -j ACCEPT", f"-A {chain} --bogus", f"-A {chain} -p tcp --dport",
            f'-A {chain} -m comment --comment "open', f"-A {chain} -j",
            f"-P {rng.choice(list(self.chains))} DROP", "-P FOO ACCEPT",
            f"-P {BUILTIN[table][0]} {rng.choice(['DROP', 'REJECT', 'RETURN'])}",
            f"-X {chain}", "-X INPUT", f"-N {chain}", f"-E {chain} {chain}",
            f"-D {chain} 99", f"-R {chain} 99 -j ACCEPT", f"-I {chain} 99 -j ACCEPT",
            f"-D {chain} -p udp --dport 9 -j ACCEPT", f"-I {chain} 0 -j ACCEPT",
            f":{chain} DROP [0:0]", ":FOO ACCEPT [0:0]", f":{BUILTIN[table][0]} BOGUS [0:0]",
            ":FORWARD DROP [0:0]", ":UNDECLARED", f"  # an indented comment in {table}",
            "   ", "COMMIT ", "*nosuch", f"-L {chain}", "--append INPUT -j ACCEPT",
            f"-A {chain} -j LOG --log-prefix " + '"' + "p" * 30 + '"',
            f"-A {chain} -j ACCEPT -j DROP", f"-A {chain} -p tcp -m tcp --dport 65536",
            f"-S {chain}", f"-C {chain} -j ACCEPT", "-A INPUT -j ACCEPT\r",
            f"-A {chain} -m comment --comment " + '"' + "c" * 256 + '"',
            f"-A {chain}  -j  ACCEPT  ", f"-A {chain}\t-j ACCEPT", f"-A {chain} -j {chain}",
            f'-A {chain} -m comment --comment "x"y', f'-A {chain} -m comment --comment a"b c"d',
            f"-A {chain} ! -s {ADDRESSES[self.family][-1]} -j ACCEPT",
            f"-A {chain} -j ACCEPT # a trailing comment", f":{chain} - [0:0]",
            f":{BUILTIN[table][-1]} {'DROP' if table != 'nat' else 'ACCEPT'} [0:0]",
            f"-A {chain} " + " ".join(f"-m comment --comment c{k}" for k in range(60)),
            f"-A {chain} " + " ".join("-m comment --comment " + "y" * 200 for _ in range(60)),
            f"-A {chain} -p tcp -m multiport --dports " + ",".join(map(str, range(1, 16))),
            f"-A {chain} -p tcp -m multiport --dports " + ",".join(map(str, range(1, 17))),
            "*", f"-I {chain} -1 -j ACCEPT", f"-D {chain}", f"-R {chain} 1", f"-E {chain}",
            f"-F {chain} extra", f"-A {chain} -j ACCEPT extra", f"-A {chain} -s",
            f"-A {chain} -m comment --comment " + '"\\\\\\""', f"-X {chain} {chain}",
            "-N " + "n" * 29, "-N " + "n" * 28, "-N -bad", "-N ACCEPT", "-N 7up",
            self.protocol_match(chain), self.protocol_match(chain),
        ])

    def protocol_match(self, chain: str) -> str:
        """A rule whose match may lack the protocol it needs, kept or removed before COMMIT."""
        # no other family's ICMP: without a header, fwmigrate takes the family from the
        # first rule that shows one (and ip6tables has no icmp match, iptables no icmp6)
        other = ("icmp6", "mh") if self.family == "ip" else ("-m icmp ", "-p icmp ")
        pieces = [p for p in PROTOCOL_MATCHES if not any(o in p + " " for o in other)]
        rule = f"{self.rng.choice(pieces)} -j ACCEPT"
        return f"-A {chain} {rule}" + self.rng.choice([
            "", "", f"\n-D {chain} {rule}", f"\n-F {chain}", f"\n-I {chain} -j ACCEPT"])

    def command(self, table: str) -> str:
        """One line inside a table, mostly one iptables-restore accepts."""
        rng = self.rng
        chains = self.chains
        chain = rng.choice(list(chains))
        r = rng.random()
        if r < 0.6:
            chains[chain] += 1
            append = "--append" if self.chance(0.05) else "-A"
            return f"{self.counters()}{append} {chain} {self.spec(table, chain)}".rstrip()
        if r < 0.7:
            at = f" {rng.randint(1, chains[chain] + 1)}" if self.chance(0.6) else ""
            chains[chain] += 1
            counters = self.counters() if self.chance(0.2) else ""
            return f"{counters}-I {chain}{at} {self.spec(table, chain)}".rstrip()
        if r < 0.76 and chains[chain]:
            chains[chain] -= 1
            return f"-D {chain} {rng.randint(1, chains[chain] + 1)}"
        if r < 0.8 and chains[chain]:
            counters = self.counters() if self.chance(0.2) else ""
            return f"{counters}-R {chain} {rng.randint(1, chains[chain])} " \
                f"{self.spec(table, chain)}".rstrip()
        if r < 0.83:
            users = [c for c in chains if c not in BUILTIN[table]]
            if users:
                # -X of a chain: refused while a rule jumps to it or it has rules
                name = rng.choice(users)
                if self.chance(0.3):
                    return "-X"
                del chains[name]
                return rng.choice([f"-X {name}", f"--delete-chain {name}"])
        if r < 0.86:
            name = rng.choice(USER_CHAINS)
            if name not in chains:
                chains[name] = 0
                return f"-N {name}"
            return f"-F {name}" if self.chance(0.5) else f"-Z {name}"
        if r < 0.9:
            users = [c for c in chains if c not in BUILTIN[table]]
            if users and self.chance(0.5):
                name = rng.choice(users)
                new = rng.choice(USER_CHAINS) + "2"
                if new not in chains:
                    chains[new] = chains.pop(name)
                    return f"-E {name} {new}"
            return f"-F {chain}" if self.chance(0.6) else "-F"
        if r < 0.93:
            policies = ["ACCEPT", "DROP"] if table != "nat" else ["ACCEPT"]
            return f"-P {rng.choice(BUILTIN[table])} {rng.choice(policies)}"
        if r < 0.96:
            return f"-Z {chain}" if self.chance(0.5) else "-Z"
        # a rule deleted by its spec: the same rule as one added before, perhaps spelt
        # otherwise (or not)
        spec = self.spec(table, chain)
        chains[chain] += 1
        again = self.respelt(spec) if self.chance(0.6) else spec
        return f"-A {chain} {spec}".rstrip() + "\n" + f"-D {chain} {again}".rstrip()

    def respelt(self, spec: str) -> str:
        """The same rule in other words, as far as iptables is concerned."""
        udp = "udp" in spec
        for old, new in RESPELLINGS:
            if new == "--sport ssh" and udp:
                continue        # udp's service names: fixed on the scriptdiff branch
            if old in spec and self.chance(0.7):
                spec = spec.replace(old, new)
        return spec

    def table(self, name: str) -> None:
        rng, lines = self.rng, self.lines
        lines.append(f"*{name}")
        self.chains = {c: 0 for c in BUILTIN[name]}
        declared = list(BUILTIN[name])
        rng.shuffle(declared)
        users = rng.sample(USER_CHAINS, rng.randint(0, 3))
        for chain in declared:
            if self.chance(0.15):
                continue                              # a built-in chain left undeclared
            policy = rng.choice(["ACCEPT", "DROP"] if name != "nat" else ["ACCEPT"])
            lines.append(f":{chain} {policy} {self.policy_counters()}".rstrip())
        late = []
        for chain in users:
            self.chains[chain] = 0
            line = f":{chain} - {self.policy_counters()}".rstrip()
            (late if self.chance(0.1) else lines).append(line)
        for _ in range(rng.randint(0, self.most)):
            if self.chance(self.bad):
                lines.extend(self.odd_line(name).split("\n"))
            elif self.chance(0.06):
                lines.append(rng.choice(["", "# a comment", "#", f"# -A {name} x"]))
            else:
                lines.extend(self.command(name).split("\n"))
            if late and self.chance(0.3):
                lines.append(late.pop())
        lines.extend(late)
        if not self.chance(self.bad / 2):
            lines.append("COMMIT")

    def policy_counters(self) -> str:
        if self.chance(0.15):
            return ""
        if self.chance(self.bad / 2):
            return self.rng.choice(["[1a:2]", "[1:2", "x", "[0:0] extra"])
        return f"[{self.rng.randint(0, 99)}:{self.rng.randint(0, 9999)}]"

    def file(self) -> list[str]:
        rng = self.rng
        tool = "iptables" if self.family == "ip" else "ip6tables"
        if self.chance(0.8):
            self.lines.append(f"# Generated by {tool}-save v1.8.9 on Fri Nov 27 08:00:00 2026")
        tables = rng.sample(list(BUILTIN), rng.randint(1, 4))
        if self.chance(0.1):
            tables.append(rng.choice(tables))             # a table given twice
        for name in tables:
            self.table(name)
            if self.chance(0.1):
                self.lines.append(rng.choice(["", "# Completed on Fri Nov 27 08:00:00 2026"]))
        if self.chance(self.bad / 2):
            self.lines.append(rng.choice(["-A INPUT -j ACCEPT", ":X - [0:0]", "*bogus"]))
        return self.lines


def restore_file(rng: random.Random, family: str, bad: float = 0.04,
                 most: int = 12) -> list[str]:
    lines = Generator(rng, family, bad, most).file()
    if rng.random() < bad / 2:
        lines = [line + "\r" for line in lines]                # CR LF
    elif rng.random() < 0.05:
        k = rng.randrange(len(lines))
        lines[k] += rng.choice([" ", "\t", "  "])               # trailing whitespace
    return lines
