"""The lockout guard against the kernel: a TCP connection held open to port 22 across
applies, as an SSH session would be. What the guard says about the session is what happens."""

import os
import subprocess
import sys
import textwrap

import pytest
from traffic import CLIENT_ADDR, SERVER_ADDR

pytestmark = pytest.mark.kernel

ECHO = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(({addr!r}, 22)); s.listen(1); print('ready', flush=True)
c, _ = s.accept()
while True:
    data = c.recv(100)
    if not data:
        break
    c.sendall(data)
"""

SESSION = """
import socket, sys
s = socket.create_connection(({addr!r}, 22), timeout=5)
print('connected', s.getsockname()[1], flush=True)
for line in sys.stdin:
    s.settimeout(2)
    try:
        s.sendall(line.encode())
        print('ok' if s.recv(100) == line.encode() else 'garbled', flush=True)
    except OSError:
        print('lost', flush=True)
"""


def spawn(ns, code):
    return subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c",
                             textwrap.dedent(code)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def apply(ns, script, state, ssh_connection, *extra):
    """fwmigrate apply run from inside the session: SSH_CONNECTION names it."""
    env = dict(os.environ, SSH_CONNECTION=ssh_connection)
    return subprocess.run([sys.executable, "-m", "fwmigrate", "apply", str(script), "--netns",
                           ns.name, "--state-dir", state, *extra],
                          capture_output=True, text=True, timeout=60, env=env)


KEEPS = ("iptables -P INPUT DROP\n"
         "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n")


def test_the_session_survives_exactly_when_the_guard_says(netns_pair, tmp_path):
    """An SSH session opened before any rule used conntrack is not tracked: the kernel takes
    its next packet as a NEW connection, so "established only" cuts it. Once tracked (a
    ruleset that lets it in as new), "established only" keeps it, and NOTRACK cuts it."""
    server, client = netns_pair
    state = str(tmp_path / "state")
    scripts = {}
    for name, text in (("keeps", KEEPS),
                       ("opens_22", KEEPS + "iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n"),
                       ("untracked", "iptables -t raw -A PREROUTING -p tcp --dport 22 -j "
                                     "NOTRACK\n" + KEEPS)):
        scripts[name] = tmp_path / f"{name}.sh"
        scripts[name].write_text(text)
    echo = spawn(server, ECHO.format(addr=SERVER_ADDR))
    session = None
    try:
        assert echo.stdout.readline().strip() == "ready"
        session = spawn(client, SESSION.format(addr=SERVER_ADDR))
        word, port = session.stdout.readline().split()
        assert word == "connected"
        ssh = f"{CLIENT_ADDR} {port} {SERVER_ADDR} 22"

        def probe() -> str:
            session.stdin.write("ping\n")
            session.stdin.flush()
            return session.stdout.readline().strip()

        assert probe() == "ok"
        result = apply(server, scripts["keeps"], state, ssh)
        assert result.returncode == 3, result.stderr
        assert "conntrack does not track your session yet" in result.stderr
        assert probe() == "ok"                  # refused: nothing changed
        result = apply(server, scripts["opens_22"], state, ssh)
        assert result.returncode == 0 and "stays open" in result.stderr, result.stderr
        assert probe() == "ok"                  # picked up by conntrack from here on
        result = apply(server, scripts["keeps"], state, ssh)
        assert result.returncode == 0 and "stays open" in result.stderr, result.stderr
        assert probe() == "ok"
        result = apply(server, scripts["untracked"], state, ssh)
        assert result.returncode == 3 and "would cut your session" in result.stderr
        assert probe() == "ok"
        result = apply(server, scripts["untracked"], state, ssh, "--force")
        assert result.returncode == 0, result.stderr
        assert probe() == "lost"                # what the guard said
    finally:
        for proc in (session, echo):
            if proc is not None:
                proc.kill()
                proc.wait()
