"""Kernel differential testing: one ruleset loaded two ways, the same real probes, compared
probe by probe.

Topology (three scratch namespaces, built fresh for every load so that conntrack entries,
recent lists and rate-limit buckets start empty):

    lan  192.168.10.2 .20 .25 .30   fd00:10::2  ──veth── eth1  fw  eth0 ──veth──  wan
                                                        192.168.10.1        203.0.113.50
                                                        fd00:10::1          198.51.100.7
                                                        203.0.113.1 .10     fd00:113::50
                                                        fd00:113::1         2001:db8:1::7

`fw` is the firewall under test and routes between the two sides (forwarding is switched on
in that namespace only). With `containers=True` it is also a Docker host: two more namespaces
sit behind interfaces named like Docker's bridges (a veth each, not a bridge):

    ctr   172.17.0.2 ──veth── docker0          172.17.0.1/16   fw
    ctr2  172.18.0.2 ──veth── br-3f2a1c9d8e7b  172.18.0.1/16   fw
 Every namespace runs one agent process: it listens on a fixed set of
TCP and UDP ports on each of its addresses (TCP answers "<local> <peer> port=<p> mss=<n>": the
address and port that took the connection, which show NAT, and the MSS it got, which shows
TCPMSS; UDP echoes "<local> <peer> port=<p>")
and runs probes on request, so one probe costs a pipe round trip instead of a process start.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from netns import Namespace, namespace, run

TCP_PORTS = (22, 25, 53, 80, 443, 465, 2222, 3128, 5432, 8080, 9100, 1234)
UDP_PORTS = (53, 54, 67, 123, 1234, 12345, 23456, 34567)
PROBE_TIMEOUT = 0.6

ADDRESSES = {
    "lan": ["192.168.10.2", "192.168.10.20", "192.168.10.25", "192.168.10.30", "fd00:10::2"],
    "fw": ["192.168.10.1", "203.0.113.1", "203.0.113.10", "fd00:10::1", "fd00:113::1"],
    "wan": ["203.0.113.50", "198.51.100.7", "fd00:113::50", "2001:db8:1::7"],
}
# which side of fw a client namespace is on
INTERFACE_OF = {"lan": "eth1", "wan": "eth0"}
# Docker's default bridge and a user-defined network, one container each: (interface in fw,
# its address there, the container's address)
CONTAINERS = {"ctr": ("docker0", "172.17.0.1", "172.17.0.2"),
              "ctr2": ("br-3f2a1c9d8e7b", "172.18.0.1", "172.18.0.2")}


@dataclass(frozen=True)
class Probe:
    """One real exchange: kind is tcp (connect), udp (datagram and echo), ping, or knock
    (a datagram nobody answers; its outcome is always "sent")."""
    kind: str
    origin: str          # namespace that sends: lan, wan or fw
    src: str
    dst: str
    port: int = 0
    sport: int = 0

    def __str__(self):
        where = f"{self.dst}:{self.port}" if self.port else self.dst
        sport = f":{self.sport}" if self.sport else ""
        return f"{self.kind} {self.origin} {self.src}{sport} > {where}"


AGENT = r"""
import json, os, random, socket, struct, sys, threading, time

# one CPU for all of this agent's packets: veth queues a packet on the sending CPU's backlog,
# so packets sent from two CPUs may reach the firewall out of order
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

addrs, tcp_ports, udp_ports, timeout = json.loads(sys.argv[1])

def family(a):
    return socket.AF_INET6 if ':' in a else socket.AF_INET

def bare(a):
    return a[7:] if a.startswith('::ffff:') else a

def serve_tcp(s, local, port):
    while True:
        c, peer = s.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        try:
            mss = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            c.sendall(f'{local} {bare(peer[0])} port={port} mss={mss}\n'.encode())
            c.settimeout(5)
            c.recv(10)            # the client closes first; then drop without TIME_WAIT
        except OSError:
            pass
        c.close()

def serve_udp(s, local, port):
    while True:
        data, peer = s.recvfrom(200)
        try:
            s.sendto(f'{local} {bare(peer[0])} port={port}'.encode(), peer)
        except OSError:
            pass              # the answer dropped in this namespace's output hook (EPERM)

for a in addrs:
    for port in tcp_ports:
        s = socket.socket(family(a), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # a probe may leave from a port a server of its namespace listens on (a witness
        # with source port 80): only SO_REUSEPORT on both lets it bind beside the listener
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((a, port)); s.listen(64)
        threading.Thread(target=serve_tcp, args=(s, a, port), daemon=True).start()
    for port in udp_ports:
        s = socket.socket(family(a), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # likewise (source port 53)
        s.bind((a, port))
        threading.Thread(target=serve_udp, args=(s, a, port), daemon=True).start()

def checksum(data):
    data += b'\0' * (len(data) % 2)
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff

def error(e):
    # EPERM: the sender's own output hook dropped the packet
    return {1: 'blocked', 111: 'refused', 113: 'unreachable', 101: 'unreachable'}.get(
        e.errno, 'error %s' % e.errno)

def tcp(src, dst, port, sport):
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # concurrent probes, one sport
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)   # a sport a server listens on
    s.bind((src, sport)); s.settimeout(timeout)
    try:
        s.connect((dst, port))
        line = s.makefile().readline().strip()
        return 'open ' + line
    except socket.timeout:
        return 'timeout'
    except OSError as e:
        return error(e)
    finally:
        s.close()

def udp(src, dst, port, sport, answer=True):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport)); s.settimeout(timeout)
    try:
        s.connect((dst, port))
        s.send(b'probe')
        if not answer:
            time.sleep(0.05)      # let the packet cross the firewall before the next step
            return 'sent'
        return 'answered ' + s.recv(200).decode()
    except socket.timeout:
        return 'silent'
    except OSError as e:
        return error(e)
    finally:
        s.close()

def ours(inner, v6, ident):
    # an ICMP error quotes the packet it is about: only errors about this echo count
    # (a raw socket sees every ICMP packet of the namespace, also other probes')
    quoted = inner[40:] if v6 else inner[(inner[0] & 15) * 4:] if inner else b''
    return len(quoted) >= 6 and quoted[0] == (128 if v6 else 8) and \
        quoted[4:6] == struct.pack('!H', ident)

def ping(src, dst):
    v6 = ':' in dst
    s = socket.socket(family(dst), socket.SOCK_RAW,
                      socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    s.bind((src, 0))
    ident = random.randrange(1, 0xffff)
    request = 128 if v6 else 8
    header = struct.pack('!BBHHH', request, 0, 0, ident, 1)
    csum = 0 if v6 else checksum(header + b'fw')   # the kernel sums ICMPv6 itself
    deadline = time.time() + timeout
    try:
        s.sendto(struct.pack('!BBHHH', request, 0, csum, ident, 1) + b'fw', (dst, 0))
        while time.time() < deadline:
            s.settimeout(max(deadline - time.time(), 0.01))
            try:
                data, peer = s.recvfrom(1500)
            except socket.timeout:
                break
            icmp = data if v6 else data[(data[0] & 15) * 4:]
            kind = icmp[0]
            mine = icmp[4:6] == struct.pack('!H', ident)
            if kind == (129 if v6 else 0) and peer[0] == dst and mine:
                return 'reply'
            if kind == (1 if v6 else 3) and ours(icmp[8:], v6, ident):
                return 'unreachable'
        return 'silent'
    except OSError as e:
        return error(e)
    finally:
        s.close()

def one(p):
    if p['kind'] == 'tcp':
        out = tcp(p['src'], p['dst'], p['port'], p['sport'])
    elif p['kind'] == 'udp':
        out = udp(p['src'], p['dst'], p['port'], p['sport'])
    elif p['kind'] == 'knock':
        out = udp(p['src'], p['dst'], p['port'], p['sport'], answer=False)
    else:
        out = ping(p['src'], p['dst'])
    return out

def batch(probes):
    # independent probes, all at once: a dropped one costs one timeout, not one each
    out = [None] * len(probes)
    def work(k):
        out[k] = one(probes[k])
    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(probes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out

print('ready', flush=True)
for line in sys.stdin:
    print(json.dumps(batch(json.loads(line))), flush=True)
"""


class Agent:
    def __init__(self, ns: Namespace, addrs: list[str]):
        config = json.dumps([addrs, TCP_PORTS, UDP_PORTS, PROBE_TIMEOUT])
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, sys.executable, "-c", AGENT, config],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"probe agent in {ns.name} did not start")

    def send(self, probes: list[Probe]) -> None:
        self.proc.stdin.write(json.dumps([p.__dict__ for p in probes]) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> list[str]:
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.kill()
        self.proc.wait()


class Network:
    """The three namespaces, wired and addressed, with an agent in each."""

    def __init__(self, stack: ExitStack, containers: bool = False):
        tag = uuid.uuid4().hex[:6]
        self.addresses = {role: list(addrs) for role, addrs in ADDRESSES.items()}
        self.ns = {role: stack.enter_context(namespace(f"fwd-{role}")) for role in ADDRESSES}
        fw = self.ns["fw"]
        for side, ifname in INTERFACE_OF.items():
            run(["ip", "link", "add", f"fw{side}{tag}", "netns", fw.name, "type", "veth",
                 "peer", "name", f"{side}{tag}", "netns", self.ns[side].name])
            fw.run("ip", "link", "set", f"fw{side}{tag}", "name", ifname)
            fw.run("ip", "link", "set", ifname, "up")
            self.ns[side].run("ip", "link", "set", f"{side}{tag}", "name", "eth0")
            self.ns[side].run("ip", "link", "set", "eth0", "up")
        for ns in self.ns.values():
            ns.run("ip", "link", "set", "lo", "up")
        for a in ADDRESSES["fw"]:
            ifname = "eth1" if a.startswith(("192.168.10.", "fd00:10:")) else "eth0"
            self._address(fw, a, ifname, 24 if "." in a else 64)
        self._address(self.ns["lan"], "192.168.10.2", "eth0", 24)
        for a in ADDRESSES["lan"][1:]:
            self._address(self.ns["lan"], a, "eth0", 24 if "." in a else 64)
        wan = self.ns["wan"]
        self._address(wan, "203.0.113.50", "eth0", 24)
        self._address(wan, "198.51.100.7", "eth0", 32)
        self._address(wan, "fd00:113::50", "eth0", 64)
        self._address(wan, "2001:db8:1::7", "eth0", 128)
        self.ns["lan"].run("ip", "route", "add", "default", "via", "192.168.10.1")
        self.ns["lan"].run("ip", "-6", "route", "add", "default", "via", "fd00:10::1")
        wan.run("ip", "route", "add", "default", "via", "203.0.113.1", "src", "203.0.113.50")
        wan.run("ip", "-6", "route", "add", "default", "via", "fd00:113::1")
        fw.run("ip", "route", "add", "198.51.100.0/24", "via", "203.0.113.50")
        fw.run("ip", "-6", "route", "add", "2001:db8:1::/48", "via", "fd00:113::50")
        if containers:
            self._containers(stack, tag)
        for ns in self.ns.values():
            # no rate limit on ICMP errors: which of several concurrent probes' errors to one
            # host the limit drops depends on their order, not on the firewall
            ns.run("sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
        fw.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        fw.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        self.agents = {}
        for role, ns in self.ns.items():
            self.agents[role] = Agent(ns, self.addresses[role])
            stack.callback(self.agents[role].close)

    def _containers(self, stack: ExitStack, tag: str) -> None:
        fw = self.ns["fw"]
        for role, (ifname, gateway, addr) in CONTAINERS.items():
            ns = self.ns[role] = stack.enter_context(namespace(f"fwd-{role}"))
            run(["ip", "link", "add", f"fw{role}{tag}", "netns", fw.name, "type", "veth",
                 "peer", "name", f"{role}{tag}", "netns", ns.name])
            fw.run("ip", "link", "set", f"fw{role}{tag}", "name", ifname)
            fw.run("ip", "link", "set", ifname, "up")
            ns.run("ip", "link", "set", f"{role}{tag}", "name", "eth0")
            ns.run("ip", "link", "set", "eth0", "up")
            ns.run("ip", "link", "set", "lo", "up")
            self._address(fw, gateway, ifname, 16)
            self._address(ns, addr, "eth0", 16)
            ns.run("ip", "route", "add", "default", "via", gateway)
            self.addresses[role] = [addr]
            self.addresses["fw"].append(gateway)

    @staticmethod
    def _address(ns: Namespace, addr: str, ifname: str, plen: int):
        extra = ["nodad"] if ":" in addr else []
        ns.run("ip", "addr", "add", f"{addr}/{plen}", "dev", ifname, *extra)

    def probe(self, probe: Probe) -> str:
        return self.together([probe])[0]

    def together(self, probes: list[Probe]) -> list[str]:
        """Independent probes sent concurrently from every namespace; outcomes in order."""
        by_origin: dict[str, list[int]] = {}
        for k, p in enumerate(probes):
            by_origin.setdefault(p.origin, []).append(k)
        for origin, ks in by_origin.items():
            self.agents[origin].send([probes[k] for k in ks])
        out: list[str] = [""] * len(probes)
        for origin, ks in by_origin.items():
            for k, result in zip(ks, self.agents[origin].receive(), strict=True):
                out[k] = result
        return out

    def run(self, scenario: list[list[Probe]]) -> list[str]:
        """A scenario is a list of steps; the probes of one step are independent of each
        other and go out together, the steps go one after another."""
        return [result for step in scenario for result in self.together(step)]


# --- loading a ruleset into fw -------------------------------------------------------------------

def load_legacy(fw: Namespace, save_text: str) -> None:
    """iptables-legacy-restore (and ip6tables-legacy-restore for ip6tables-save sections)."""
    v4, v6 = [], []
    target = v4
    for line in save_text.splitlines(keepends=True):
        if line.startswith("# Generated by ip6tables-save"):
            target = v6
        elif line.startswith("# Generated by iptables-save"):
            target = v4
        target.append(line)
    if "".join(v4).strip():
        fw.run("iptables-legacy-restore", input="".join(v4))
    if "".join(v6).strip():
        fw.run("ip6tables-legacy-restore", input="".join(v6))


def load_nft(fw: Namespace, nft_text: str) -> None:
    fw.run("nft", "-f", "-", input=nft_text)


def for_synproxy(load):
    """`load`, after the settings fwmigrate's SYNPROXY output header names (without them
    neither load's handshake completes: a reset without the first, a timeout without the
    second)."""
    def go(fw: Namespace) -> None:
        fw.run("sysctl", "-w", "net.netfilter.nf_conntrack_tcp_loose=0",
               "net.ipv4.tcp_syncookies=2")
        load(fw)
    return go


@contextmanager
def network(load, containers: bool = False):
    """A fresh topology with `load(fw_namespace)` applied to the firewall."""
    with ExitStack() as stack:
        net = Network(stack, containers)
        load(net.ns["fw"])
        yield net


# --- recent lists: seeding and observing -------------------------------------------------------

def recent_lists(fw: Namespace, names) -> dict[str, set[str]]:
    """Addresses each named recent list holds now: /proc/net/xt_recent for xt_recent, the
    same-named dynamic sets for nftables (absent lists are empty)."""
    held = {name: set() for name in names}
    listing = json.loads(fw.nft("-j", "list", "sets").stdout or '{"nftables": []}')
    nft_sets = {}
    for item in listing["nftables"]:
        s = item.get("set")
        if s and s["name"] in held:
            nft_sets[s["name"]] = (s["family"], s["table"])
    for name in held:
        proc = fw.run("cat", f"/proc/net/xt_recent/{name}", check=False)
        held[name] |= set(re.findall(r"src=(\S+)", proc.stdout))
        if name in nft_sets:
            family, table = nft_sets[name]
            out = json.loads(fw.nft("-j", "list", "set", family, table, name).stdout)
            for item in out["nftables"]:
                for elem in item.get("set", {}).get("elem", []):
                    value = elem["elem"]["val"] if isinstance(elem, dict) else elem
                    held[name].add(str(ipaddress.ip_address(value)))
    return held


def seed_recent(fw: Namespace, name: str, addr: str) -> None:
    """Put addr on a recent list, whichever implementation is loaded (no-op if neither has
    such a list)."""
    proc = fw.run("sh", "-c", f"echo +{addr} > /proc/net/xt_recent/{name}", check=False)
    if proc.returncode == 0:
        return
    listing = json.loads(fw.nft("-j", "list", "sets").stdout or '{"nftables": []}')
    for item in listing["nftables"]:
        s = item.get("set")
        if s and s["name"] == name:
            fw.nft("add", "element", s["family"], s["table"], name, f"{{ {addr} }}")


# --- scenarios ----------------------------------------------------------------------------------

def standard_probes() -> list[Probe]:
    """Traffic every firewall here has an opinion on: clients on both sides to the firewall,
    the firewall to clients, and through it both ways; IPv4 and IPv6."""
    probes: list[Probe] = []
    into = [("lan", "192.168.10.2", "192.168.10.1"), ("wan", "203.0.113.50", "203.0.113.1"),
            ("wan", "198.51.100.7", "203.0.113.1"), ("lan", "fd00:10::2", "fd00:10::1"),
            ("wan", "fd00:113::50", "fd00:113::1"), ("wan", "2001:db8:1::7", "fd00:113::1")]
    for origin, src, dst in into:
        for port in (22, 53, 80, 443, 2222, 3128, 8080, 9100, 1234):
            probes.append(Probe("tcp", origin, src, dst, port))
        for port in (53, 123, 1234):
            probes.append(Probe("udp", origin, src, dst, port))
        probes.append(Probe("ping", origin, src, dst))
    probes.append(Probe("udp", "lan", "192.168.10.2", "192.168.10.1", 67, sport=68))
    probes.append(Probe("tcp", "wan", "203.0.113.50", "203.0.113.10", 8080))
    out = [("fw", "192.168.10.1", "192.168.10.2"), ("fw", "203.0.113.1", "203.0.113.50"),
           ("fw", "fd00:10::1", "fd00:10::2")]
    for origin, src, dst in out:
        for port in (22, 53, 80, 1234):
            probes.append(Probe("tcp", origin, src, dst, port))
        for port in (53, 54):
            probes.append(Probe("udp", origin, src, dst, port))
        probes.append(Probe("ping", origin, src, dst))
    through = [("lan", "192.168.10.2", "203.0.113.50"), ("lan", "192.168.10.25", "203.0.113.50"),
               ("wan", "203.0.113.50", "192.168.10.20"), ("wan", "203.0.113.50", "192.168.10.30"),
               ("lan", "fd00:10::2", "fd00:113::50"), ("wan", "fd00:113::50", "fd00:10::2")]
    for origin, src, dst in through:
        for port in (22, 25, 80, 465, 1234):
            probes.append(Probe("tcp", origin, src, dst, port))
        probes.append(Probe("udp", origin, src, dst, 53))
        probes.append(Probe("ping", origin, src, dst))
    return probes


def knock_probes() -> list[Probe]:
    """Ordered sequences for the tutorial's port knocking: the right order then SSH, SSH again
    (the knock is spent), the wrong order, another source, a stray packet mid-sequence."""
    me, other, fw = "192.168.10.2", "192.168.10.20", "192.168.10.1"

    def knock(src, *ports):
        return [Probe("knock", "lan", src, fw, p) for p in ports]

    def ssh(src):
        return Probe("tcp", "lan", src, fw, 22)

    return [ssh(me), *knock(me, 12345, 23456, 34567), ssh(me), ssh(me),
            *knock(me, 23456, 12345, 34567), ssh(me),
            *knock(me, 12345, 23456, 34567), ssh(other), ssh(me),
            *knock(me, 12345, 23456, 1234, 34567), ssh(me),
            *knock(other, 12345, 23456, 34567), ssh(me), ssh(other)]


def docker_probes() -> list[Probe]:
    """A Docker host's traffic (needs containers=True): published ports from both sides and
    from the host itself, containers reached directly, containers going out (masqueraded),
    to the host, to each other (isolated), and to a published port from a bridge."""
    ctr, ctr2, wan, lan = "172.17.0.2", "172.18.0.2", "203.0.113.50", "192.168.10.2"
    probes = [Probe("tcp", "wan", wan, "203.0.113.1", 8080),
              Probe("tcp", "lan", lan, "192.168.10.1", 8080),
              Probe("tcp", "wan", wan, "203.0.113.1", 5432),
              Probe("tcp", "lan", lan, "192.168.10.1", 5432),
              Probe("tcp", "fw", "203.0.113.1", "203.0.113.1", 8080),
              Probe("tcp", "fw", "192.168.10.1", "192.168.10.1", 5432)]
    for origin, src in (("lan", lan), ("wan", wan)):
        for dst, port in ((ctr, 80), (ctr, 22), (ctr, 8080), (ctr2, 5432), (ctr2, 80)):
            probes.append(Probe("tcp", origin, src, dst, port))
        probes += [Probe("ping", origin, src, ctr), Probe("udp", origin, src, ctr2, 53)]
    for origin, src, gateway in (("ctr", ctr, "172.17.0.1"), ("ctr2", ctr2, "172.18.0.1")):
        for port in (22, 80, 9100):
            probes.append(Probe("tcp", origin, src, gateway, port))
            probes.append(Probe("tcp", origin, src, wan, port))
            probes.append(Probe("tcp", origin, src, lan, port))
        probes += [Probe("udp", origin, src, gateway, 53), Probe("udp", origin, src, wan, 53),
                   Probe("ping", origin, src, wan), Probe("ping", origin, src, gateway),
                   Probe("tcp", origin, src, "203.0.113.1", 8080),
                   Probe("tcp", origin, src, "192.168.10.1", 5432),
                   Probe("tcp", origin, src, "172.18.0.1" if origin == "ctr" else "172.17.0.1",
                         9100)]
    probes += [Probe("tcp", "ctr", ctr, ctr2, 5432), Probe("tcp", "ctr2", ctr2, ctr, 80),
               Probe("ping", "ctr", ctr, ctr2)]
    return probes


def scenario(independent: list[Probe], ordered: list[Probe] = ()) -> list[list[Probe]]:
    """Independent probes in one step, then each ordered probe in a step of its own."""
    return [independent] + [[p] for p in ordered]


def run_scenario(load, steps: list[list[Probe]], containers: bool = False) -> list[str]:
    with network(load, containers) as net:
        return net.run(steps)


@dataclass
class Mismatch:
    index: int
    probe: Probe
    a: str
    b: str

    def __str__(self):
        return f"#{self.index} {self.probe}: {self.a} vs {self.b}"


def compare(load_a, load_b, steps: list[list[Probe]],
            containers: bool = False) -> list[Mismatch]:
    """Run the scenario against both loads (each in a fresh network) and list the probes
    whose outcomes differ."""
    a = run_scenario(load_a, steps, containers)
    b = run_scenario(load_b, steps, containers)
    probes = [p for step in steps for p in step]
    return [Mismatch(i, p, x, y)
            for i, (p, x, y) in enumerate(zip(probes, a, b, strict=True)) if x != y]


def fwmigrate_nft(source: str, *options: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "fwmigrate", "convert", source, "--to", "nft",
                           *options], capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(proc.stderr)
    return proc.stdout


def restore_translate(save_path: str) -> str:
    """The reference translator's output for a save file (it has no stdin mode)."""
    proc = subprocess.run(["iptables-restore-translate", "-f", save_path], capture_output=True,
                          text=True, check=True)
    return proc.stdout

