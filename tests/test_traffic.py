"""The tutorial, applied by fwmigrate, with real packets between two namespaces: the knocks
open SSH for the knocking source only, in the right order only; web, DNS and ping behave as
the tutorial describes."""

import subprocess
import sys

import pytest
from traffic import (
    CLIENT_ADDR,
    OTHER_CLIENT_ADDR,
    SERVER_ADDR,
    Listener,
    ping,
    tcp_connect,
    udp_exchange,
    udp_send,
)

from conftest import SAMPLES

pytestmark = pytest.mark.kernel


@pytest.fixture
def firewall(netns_pair, tmp_path):
    server, client = netns_pair
    proc = subprocess.run([sys.executable, "-m", "fwmigrate", "apply", str(SAMPLES / "tutorial.sh"),
                           "--netns", server.name, "--state-dir", str(tmp_path),
                           "--keep", f"{CLIENT_ADDR}:22"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listener = Listener(server, SERVER_ADDR, tcp_ports=(22, 80, 8080))
    yield server, client
    listener.close()


def knock(client, src, *ports):
    for port in ports:
        udp_send(client, src, SERVER_ADDR, port)


def test_ssh_is_closed_until_the_three_knocks(firewall):
    server, client = firewall
    assert not tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 22)
    knock(client, CLIENT_ADDR, 12345, 23456, 34567)
    assert tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 22)
    # STATE3 removed the flag: the next connection needs a new knock sequence
    assert not tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 22)


def test_knocks_open_ssh_for_the_knocking_source_only(firewall):
    server, client = firewall
    knock(client, CLIENT_ADDR, 12345, 23456, 34567)
    assert not tcp_connect(client, OTHER_CLIENT_ADDR, SERVER_ADDR, 22)
    assert tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 22)


def test_wrong_order_stays_closed(firewall):
    server, client = firewall
    knock(client, CLIENT_ADDR, 23456, 12345, 34567)
    assert not tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 22)
    knock(client, CLIENT_ADDR, 12345, 34567, 23456)
    assert not tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 22)
    # a stray packet between knocks resets the sequence (STATE1 removes KNOCK1 first)
    knock(client, CLIENT_ADDR, 12345, 23456, 40000, 34567)
    assert not tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 22)


def test_http_ping_and_closed_ports(firewall):
    server, client = firewall
    assert tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 80)
    assert not tcp_connect(client, CLIENT_ADDR, SERVER_ADDR, 8080)
    assert ping(client, CLIENT_ADDR, SERVER_ADDR)


def test_outgoing_dns_allowed_other_udp_not(firewall):
    server, client = firewall
    echo = Listener(client, CLIENT_ADDR, udp_ports=(53, 54))
    try:
        assert udp_exchange(server, SERVER_ADDR, CLIENT_ADDR, 53)
        assert not udp_exchange(server, SERVER_ADDR, CLIENT_ADDR, 54)
    finally:
        echo.close()
