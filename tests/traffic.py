"""Real traffic between two scratch namespaces joined by a veth pair.

The server namespace's end is called eth1 (the tutorial's interface). Probes are short Python
programs run inside a namespace with `ip netns exec`; sockets bind to an explicit source
address so one client namespace can play several hosts. TCP probes close abortively
(SO_LINGER 0) so that no stray FIN or RST outlives a scenario.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from contextlib import contextmanager

from netns import Namespace, run

SERVER_ADDR = "10.99.0.1"
CLIENT_ADDR = "10.99.0.2"
OTHER_CLIENT_ADDR = "10.99.0.3"


# Every probe runs on one CPU: veth hands a sent packet to the receiving side through the
# sending CPU's backlog, so probes from different CPUs could overtake each other (a knock
# processed after the SSH attempt that follows it) on a loaded machine.
PIN_CPU = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"


def _py(ns: Namespace, code: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, "-c",
                           PIN_CPU + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def tcp_connect(ns: Namespace, src: str, dst: str, port: int, timeout: float = 1.5) -> bool:
    proc = _py(ns, f"""
        import socket, struct
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.bind(({src!r}, 0))
        s.settimeout({timeout})
        try:
            s.connect(({dst!r}, {port}))
            print('open')
        except OSError as e:
            print('closed', e)
        s.close()
    """)
    return proc.stdout.startswith("open")


def udp_send(ns: Namespace, src: str, dst: str, port: int) -> None:
    _py(ns, f"""
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(({src!r}, 0))
        s.sendto(b'knock', ({dst!r}, {port}))
    """)
    time.sleep(0.2)


def udp_exchange(ns: Namespace, src: str, dst: str, port: int, timeout: float = 1.5) -> bool:
    """Send a datagram and wait for the echo (the other side runs udp_echo)."""
    proc = _py(ns, f"""
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(({src!r}, 0))
        s.settimeout({timeout})
        s.sendto(b'ping', ({dst!r}, {port}))
        try:
            s.recvfrom(100)
            print('answered')
        except OSError:
            print('silent')
    """)
    return proc.stdout.startswith("answered")


def ping(ns: Namespace, src: str, dst: str, timeout: float = 1.5) -> bool:
    proc = _py(ns, f"""
        import socket, struct, time
        def checksum(data):
            data += b'\\0' * (len(data) % 2)
            total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
            total = (total >> 16) + (total & 0xffff)
            total += total >> 16
            return ~total & 0xffff
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.bind(({src!r}, 0))
        s.settimeout({timeout})
        header = struct.pack('!BBHHH', 8, 0, 0, 0x4242, 1)
        packet = struct.pack('!BBHHH', 8, 0, checksum(header + b'fw'), 0x4242, 1) + b'fw'
        s.sendto(packet, ({dst!r}, 0))
        deadline = time.time() + {timeout}
        while time.time() < deadline:
            try:
                data, addr = s.recvfrom(1500)
            except OSError:
                break
            if addr[0] == {dst!r} and data[20] == 0:
                print('reply')
                break
    """, timeout=timeout + 5)
    return proc.stdout.startswith("reply")


class Listener:
    """TCP or UDP-echo servers in a namespace, for the duration of a `with` block."""

    def __init__(self, ns: Namespace, addr: str, tcp_ports=(), udp_ports=()):
        code = f"""
            import socket, select, struct
            socks = []
            for port in {list(tcp_ports)!r}:
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(({addr!r}, port)); s.listen(16); socks.append(('tcp', s))
            for port in {list(udp_ports)!r}:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(({addr!r}, port)); socks.append(('udp', s))
            print('ready', flush=True)
            while True:
                ready = select.select([s for _, s in socks], [], [])[0]
                for kind, s in list(socks):
                    if s not in ready:
                        continue
                    if kind == 'tcp':
                        c, _ = s.accept()
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                        # keep it until the client closes: closing first would send a reset
                        # that can reach the client before its connect() has returned
                        socks.append(('conn', c))
                    elif kind == 'conn':
                        s.close()
                        socks.remove((kind, s))
                    else:
                        data, peer = s.recvfrom(100)
                        s.sendto(data, peer)
        """
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c",
                                      textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
        self.proc.stdout.readline()

    def close(self):
        self.proc.kill()
        self.proc.wait()


@contextmanager
def veth_pair(server: Namespace, client: Namespace):
    """server eth1 10.99.0.1/24 <-> client 10.99.0.2/24 (+ 10.99.0.3 as a second host)."""
    tag = uuid.uuid4().hex[:6]
    run(["ip", "link", "add", f"fws{tag}", "netns", server.name, "type", "veth", "peer",
         "name", f"fwc{tag}", "netns", client.name])
    server.run("ip", "link", "set", f"fws{tag}", "name", "eth1")
    server.run("ip", "addr", "add", f"{SERVER_ADDR}/24", "dev", "eth1")
    server.run("ip", "link", "set", "eth1", "up")
    server.run("ip", "link", "set", "lo", "up")
    client.run("ip", "addr", "add", f"{CLIENT_ADDR}/24", "dev", f"fwc{tag}")
    client.run("ip", "addr", "add", f"{OTHER_CLIENT_ADDR}/24", "dev", f"fwc{tag}")
    client.run("ip", "link", "set", f"fwc{tag}", "up")
    client.run("ip", "link", "set", "lo", "up")
    yield
