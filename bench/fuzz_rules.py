"""Random iptables rules without a target for the match fuzzer (bench/match_fuzz.py).

A rule is one to three clauses; a clause is the words of one test (`-p tcp --dport 22:`,
`-m ttl --ttl-lt 64`) aimed at one of the batch's packets: its values are taken from the
packet's fields (fuzz_packets.Packet.fields) and moved to the boundaries (equal, ±1, the ends of
the range), inverted with `!` now and then. At most one clause of a rule names a protocol
(iptables refuses a second `-p`). `tags` says which tests a rule makes, so that the campaign
can leave out the cells of a known difference (a TCP test and a later fragment).
"""

from __future__ import annotations

import ipaddress
import random
import shlex
from dataclasses import dataclass, field

from fuzz_rules_more import comment, cpu, exthdr, mac, policy, quota, when
from fuzz_values import _f, bang, near, span

TCP_FLAG_NAMES = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"]
TOS_NAMES = ["Minimize-Delay", "Maximize-Throughput", "Maximize-Reliability",
             "Minimize-Cost", "Normal-Service"]
DSCP_CLASSES = ["CS0", "CS1", "CS4", "CS7", "AF11", "AF23", "AF41", "EF"]
ADDRTYPES = ["UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
             "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"]
SCTP_CHUNKS = ["DATA", "INIT", "INIT_ACK", "SACK", "HEARTBEAT", "HEARTBEAT_ACK", "ABORT",
               "SHUTDOWN", "SHUTDOWN_ACK", "ERROR", "COOKIE_ECHO", "COOKIE_ACK", "ECN_ECNE",
               "ECN_CWR", "SHUTDOWN_COMPLETE", "ASCONF", "ASCONF_ACK", "FORWARD_TSN"]
DCCP_TYPES = ["REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET",
              "SYNC", "SYNCACK", "INVALID"]


@dataclass
class Rule:
    clauses: list[list[str]]
    tags: set = field(default_factory=set)

    @property
    def words(self) -> list[str]:
        return [w for clause in self.clauses for w in clause]

    @property
    def text(self) -> str:
        return shlex.join(self.words)


# --- clauses that name no protocol --------------------------------------------------------------

def addr(rng, pkt, six):
    side = rng.choice(["-s", "-d"])
    base = ipaddress.ip_address(_f(pkt, "src" if side == "-s" else "dst", "10.98.0.1"))
    bits = 128 if six else 32
    value = int(base) ^ (rng.choice([0, 0, 1, 2, 256, 1 << (bits - 1)]))
    text = str(ipaddress.ip_address(value.to_bytes(bits // 8, "big")))
    roll = rng.random()
    if roll < 0.3:
        suffix = ""
    elif roll < 0.75:
        suffix = "/" + str(rng.choice([0, 1, 8, 16, 23, 24, 25, bits - 1, bits,
                                       rng.randint(0, bits)]))
    else:                                   # a dotted mask, contiguous or not
        mask = rng.choice([(1 << bits) - (1 << rng.randint(0, bits)), rng.getrandbits(bits)])
        suffix = "/" + str(ipaddress.ip_address(mask.to_bytes(bits // 8, "big")))
    return [*bang(rng), side, text + suffix]


def frag(rng, pkt, six):
    return [*bang(rng, 0.5), "-f"]


def length(rng, pkt, six):
    return ["-m", "length", *bang(rng), "--length", span(rng, _f(pkt, "length", 40), 0, 65535)]


def ttl(rng, pkt, six):
    name = "hl" if six else "ttl"
    op = rng.choice(["eq", "eq", "lt", "gt"])
    inv = bang(rng) if op == "eq" else []
    return ["-m", name, *inv, f"--{name}-{op}", str(near(rng, _f(pkt, "ttl", 64), 0, 255))]


def tos(rng, pkt, six):
    value = _f(pkt, "tos", 0)
    roll = rng.random()
    if roll < 0.2:
        text = rng.choice(TOS_NAMES)
    elif roll < 0.5:
        text = f"0x{near(rng, value, 0, 255):02x}"
    else:
        mask = rng.choice([0xFF, 0x3F, 0xFC, 0x1E, 0x03, 0xE0, rng.randint(0, 255)])
        text = f"0x{near(rng, value & mask, 0, 255):02x}/0x{mask:02x}"
    return ["-m", "tos", *bang(rng), "--tos", text]


def dscp(rng, pkt, six):
    if rng.random() < 0.25:
        return ["-m", "dscp", *bang(rng), "--dscp-class", rng.choice(DSCP_CLASSES)]
    return ["-m", "dscp", *bang(rng), "--dscp", str(near(rng, _f(pkt, "tos", 0) >> 2, 0, 63))]


def ecn_ip(rng, pkt, six):
    return ["-m", "ecn", *bang(rng), "--ecn-ip-ect", str(near(rng, _f(pkt, "tos", 0) & 3, 0, 3))]


def iprange(rng, pkt, six):
    side = rng.choice(["src", "dst"])
    base = int(ipaddress.ip_address(_f(pkt, side, "fd00::1" if six else "10.98.0.1")))
    bits = 128 if six else 32
    a = max(0, base - rng.choice([0, 0, 1, 2, 300]))
    b = min((1 << bits) - 1, base + rng.choice([0, 0, 1, 5]) - rng.choice([0, 0, 0, 1]))
    if rng.random() < 0.1:
        a, b = b, a
    show = [str(ipaddress.ip_address(v.to_bytes(bits // 8, "big"))) for v in (a, b)]
    return ["-m", "iprange", *bang(rng), f"--{side}-range", "-".join(show)]


def pkttype(rng, pkt, six):
    value = rng.choice([_f(pkt, "pkttype", "unicast"), "unicast", "broadcast", "multicast"])
    return ["-m", "pkttype", *bang(rng), "--pkt-type", value]


def mark(rng, pkt, six):
    value = rng.choice([0, 0, 1, 0xFF])
    mask = rng.choice(["", "", "/0x1", "/0xff", "/0x0", "/0xffffffff"])
    return ["-m", "mark", *bang(rng), "--mark", f"0x{value:x}{mask}"]


def statistic(rng, pkt, six):
    return ["-m", "statistic", "--mode", "random", *bang(rng), "--probability",
            rng.choice(["0", "1", "0.0", "1.0"])]


def limit(rng, pkt, six):
    # far more than a batch sends: every packet is under the rate, as in iptables
    return ["-m", "limit", "--limit", rng.choice(["10000/sec", "5000/s"]), "--limit-burst",
            rng.choice(["1000", "10000"])]


def addrtype(rng, pkt, six):
    if six:
        return None                         # refused for IPv6 (README)
    types = ",".join(rng.sample(ADDRTYPES, rng.choice([1, 1, 2, 3])))
    words = ["-m", "addrtype", *bang(rng), rng.choice(["--src-type", "--dst-type"]), types]
    if rng.random() < 0.2:
        words.append("--limit-iface-in")
    return words


def devgroup(rng, pkt, six):
    value = rng.choice(["0", "1", "0/0x1", "0x0/0xf", "2/0x2"])
    return ["-m", "devgroup", *bang(rng), "--src-group", value]


# --- clauses that name a protocol ----------------------------------------------------------------

def _proto_word(rng, name: str, number: int) -> str:
    return name if rng.random() < 0.7 else str(number)


def ports(rng, pkt, tags, proto):
    words = []
    for side in ("sport", "dport"):
        if rng.random() < 0.55:
            words += [*bang(rng), f"--{side}", span(rng, _f(pkt, side, 80), 0, 65535)]
            tags.add("ports")
    return words


def _flags(rng, value: int) -> str:
    names = [n for i, n in enumerate(TCP_FLAG_NAMES) if value >> i & 1]
    return ",".join(names) if names else "NONE"


def tcp(rng, pkt, six, tags):
    tags.add("tcp")
    words = ["-p", _proto_word(rng, "tcp", 6)] + (["-m", "tcp"] if rng.random() < 0.3 else [])
    words += ports(rng, pkt, tags, "tcp")
    roll = rng.random()
    if roll < 0.15:
        words += [*bang(rng), "--syn"]
    elif roll < 0.5:
        # iptables names FIN to URG only (ALL is those six): ECE and CWR stay the packets'
        mask = rng.choice([0x17, 0x3F, 0x3F, 0x12, 0x02, 0x30, rng.randint(0, 63)])
        value = _f(pkt, "tcp_flags", 0x02) & mask
        if rng.random() < 0.3:
            value ^= 1 << rng.randint(0, 7)
        words += [*bang(rng), "--tcp-flags", rng.choice([_flags(rng, mask), "ALL"]
                                                       if mask == 0x3F else [_flags(rng, mask)]),
                  _flags(rng, value & mask)]
    if rng.random() < 0.35:
        known = _f(pkt, "tcp_options", []) or [2]
        kind = near(rng, rng.choice(known), 0, 255)
        words += [*bang(rng), "--tcp-option", str(kind)]
        tags.add("tcp_option")
    return words


def tcpmss(rng, pkt, six, tags):
    tags.update({"tcp", "tcp_option"})
    return ["-p", "tcp", "-m", "tcpmss", *bang(rng, 0.1), "--mss",
            span(rng, _f(pkt, "mss", 1460), 0, 65535, open_ends=False)]


def udp(rng, pkt, six, tags):
    tags.add("udp")
    words = ["-p", _proto_word(rng, "udp", 17)] + (["-m", "udp"] if rng.random() < 0.3 else [])
    return words + ports(rng, pkt, tags, "udp")


def sctp(rng, pkt, six, tags):
    tags.add("sctp")
    words = ["-p", _proto_word(rng, "sctp", 132)] + ports(rng, pkt, tags, "sctp")
    if rng.random() < 0.4 and not six:     # refused for IPv6 (no `! -f` there: README)
        known = [SCTP_CHUNKS[c] for c in _f(pkt, "chunks", []) if c < len(SCTP_CHUNKS)]
        types = rng.sample(SCTP_CHUNKS, 2) + known
        chosen = ",".join(sorted(set(rng.sample(types, rng.choice([1, 1, 2])))))
        tags.add("sctp_chunks")
        words += ["!", "-f", "-m", "sctp", *bang(rng, 0.15),
                                                  "--chunk-types", rng.choice(["all", "any"]),
                                                  chosen]
    return words


def dccp(rng, pkt, six, tags):
    tags.add("dccp")
    words = ["-p", _proto_word(rng, "dccp", 33)] + ports(rng, pkt, tags, "dccp")
    if rng.random() < 0.4:
        known = _f(pkt, "dccp_type", 0)
        chosen = {DCCP_TYPES[min(known, 10)], rng.choice(DCCP_TYPES)}
        words += [*bang(rng), "--dccp-types", ",".join(sorted(chosen))]
    return words


def multiport(rng, pkt, six, tags):
    proto = rng.choice(["tcp", "tcp", "udp", "udp", "sctp", "dccp"])
    tags.add(proto)
    tags.add("ports")
    anchor = _f(pkt, rng.choice(["sport", "dport"]), 80)
    items, used = [], 0
    while used < rng.choice([1, 2, 4, 8, 15]):
        item = span(rng, anchor if rng.random() < 0.6 else rng.randint(0, 65535), 0, 65535,
                    open_ends=False)
        used += 2 if ":" in item else 1
        if used > 15:
            break
        items.append(item)
    option = rng.choice(["--sports", "--dports", "--ports"])
    return ["-p", proto, "-m", "multiport", *bang(rng), option, ",".join(items or ["1"])]


def icmp(rng, pkt, six, tags):
    tags.add("icmp")
    kind = near(rng, _f(pkt, "icmp_type", 8), 0, 255)
    code = near(rng, _f(pkt, "icmp_code", 0), 0, 255)
    value = rng.choice([str(kind), f"{kind}/{code}", "1" if six else "any",
                        rng.choice(["echo-request", "destination-unreachable", "port-unreachable",
                                    "echo-reply", "time-exceeded", "redirect"])
                        if not six else
                        rng.choice(["echo-request", "destination-unreachable",
                                    "port-unreachable", "neighbour-solicitation",
                                    "packet-too-big", "time-exceeded"])])
    if six:
        return ["-p", rng.choice(["ipv6-icmp", "icmpv6", "58"]), "-m", "icmp6", *bang(rng),
                "--icmpv6-type", value]
    return ["-p", rng.choice(["icmp", "1"]), "-m", "icmp", *bang(rng), "--icmp-type", value]


def spi(rng, pkt, six, tags):
    tags.add("spi")
    module = rng.choice(["esp", "ipcomp"] + ([] if six else ["ah"]))
    high = 65535 if module == "ipcomp" else 2**32 - 1
    value = span(rng, min(_f(pkt, "spi", 256), high), 0, high, open_ends=False)
    option = {"esp": "--espspi", "ah": "--ahspi", "ipcomp": "--ipcompspi"}[module]
    return ["-p", module, "-m", module, *bang(rng), option, value]


def ecn_tcp(rng, pkt, six, tags):
    if six:
        return None                         # refused for IPv6 (later fragments: README)
    tags.add("tcp")
    words = ["-p", "tcp", "!", "-f", "-m", "ecn"]
    for option in rng.sample(["--ecn-tcp-ece", "--ecn-tcp-cwr"], rng.choice([1, 2])):
        words += [*bang(rng), option]
    return words


def protocol(rng, pkt, six, tags):
    names = ["tcp", "udp", "sctp", "dccp", "esp", "ah", "udplite", "all", "6", "17", "47",
             "50", "255", "0"] + (["ipv6-icmp", "58", "mh"] if six else ["icmp", "1"])
    choice = rng.choice(names + [str(_f(pkt, "proto", 6))])
    if six and choice in ("ah", "51"):
        choice = "esp"                      # refused for IPv6 (README)
    return [*bang(rng), "-p", choice]


PLAIN = [addr, length, ttl, tos, dscp, ecn_ip, iprange, pkttype, mark, statistic, limit,
         addrtype, devgroup, cpu, when, quota, mac, policy, comment]
PLAIN4 = PLAIN + [frag, frag]
PROTOCOL = [tcp, tcp, tcp, udp, udp, sctp, dccp, multiport, multiport, icmp, icmp, spi,
            ecn_tcp, tcpmss, protocol, protocol]


def _protocol_of(clause: list[str]) -> str | None:
    at = clause.index("-p") if "-p" in clause else -1
    return clause[at + 1] if at >= 0 and (at == 0 or clause[at - 1] != "!") else None


def _same_protocol(rng, pkt, six, tags, proto: str) -> list[str] | None:
    """Another protocol clause for the protocol a rule names already, without its `-p`
    (`-p tcp --dport 22 -m multiport --sports 80 -m tcpmss --mss 536`): how the tests of
    several modules on one protocol combine."""
    for _ in range(8):
        clause = rng.choice(PROTOCOL)(rng, pkt, six, tags)
        if clause and _protocol_of(clause) == proto:
            at = clause.index("-p")
            return clause[:at] + clause[at + 2:]
    return None


def rule(rng: random.Random, pkt, six: bool) -> Rule:
    """One to three clauses aimed at `pkt`, at most one naming a protocol (and sometimes one
    more test of that protocol)."""
    tags: set = set()
    clauses = []
    plain = PLAIN + [exthdr] * 4 if six else PLAIN4
    wanted = rng.choice([1, 1, 2, 2, 3])
    with_protocol = rng.random() < 0.65
    for i in range(wanted):
        if with_protocol and i == 0:
            clause = rng.choice(PROTOCOL)(rng, pkt, six, tags)
            proto = _protocol_of(clause) if clause else None
            if proto and rng.random() < 0.35:
                more = _same_protocol(rng, pkt, six, tags, proto)
                clause = clause + (more or [])
        else:
            make = rng.choice(plain)
            clause = make(rng, pkt, six, tags) if make is exthdr else make(rng, pkt, six)
        if clause:
            clauses.append(clause)
    rng.shuffle(clauses)
    return Rule(clauses, tags)
