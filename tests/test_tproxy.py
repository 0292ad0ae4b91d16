"""-j TPROXY: read as iptables reads it and translated to nft's tproxy, with the drop xt_TPROXY
does without a socket written as a rule after it (kernel behaviour: test_tproxy_kernel.py)."""

from __future__ import annotations

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.dropin import translate_command
from fwmigrate.errors import FwmigrateError

from conftest import save_form

READ_BACK = [
    ("iptables", "-t mangle -A PREROUTING -p tcp -j TPROXY --on-port 5",
     "-A PREROUTING -p tcp -j TPROXY --on-port 5 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
    ("iptables", "-t mangle -A PREROUTING -p udp -j TPROXY --on-port 5 --tproxy-mark 5 "
     "--on-ip 1.2.3.4",
     "-A PREROUTING -p udp -j TPROXY --on-port 5 --on-ip 1.2.3.4 --tproxy-mark 0x5/0xffffffff"),
    ("ip6tables", "-t mangle -A PREROUTING -j TPROXY --on-port 5 --on-ip ::1 -p tcp",
     "-A PREROUTING -p tcp -j TPROXY --on-port 5 --on-ip ::1 --tproxy-mark 0x0/0x0"),
]


@pytest.mark.parametrize("program,command,saved", READ_BACK, ids=[r[1] for r in READ_BACK])
def test_read_back_in_save_form(program, command, saved):
    assert saved in save_form(program, command)


@pytest.mark.parametrize("program,command,expected", [
    ("iptables", "-t mangle -A PREROUTING -i eth0 -p tcp --dport 80 -j TPROXY --on-port 3129 "
     "--on-ip 127.0.0.1 --tproxy-mark 0x1/0x1",
     ['iifname "eth0" tcp dport 80 tproxy to 127.0.0.1:3129 mark set mark | 0x1 accept',
      'iifname "eth0" tcp dport 80 drop']),
    ("iptables", "-t mangle -A PREROUTING -p udp -j TPROXY --on-port 5353",
     ["ip protocol udp tproxy to :5353 accept", "ip protocol udp drop"]),
    ("iptables", "-t mangle -A PREROUTING -p udp -j TPROXY --on-port 0 --on-ip 10.0.0.1 "
     "--tproxy-mark 0x5", ["ip protocol udp tproxy to 10.0.0.1 mark set 0x5 accept",
                           "ip protocol udp drop"]),
    ("ip6tables", "-t mangle -A PREROUTING -p tcp -j TPROXY --on-port 3129 --on-ip ::1",
     ["meta l4proto tcp tproxy to [::1]:3129 accept", "meta l4proto tcp drop"]),
])
def test_tproxy_then_a_drop_for_a_packet_without_a_socket(program, command, expected):
    family = "ip6" if program == "ip6tables" else "ip"
    out = convert(f"{program} {command}\n", "fw.sh", ConvertOptions(to="nft", family=family))
    lines = [line.strip() for line in out.output.splitlines()]
    at = lines.index(expected[0])
    assert lines[at:at + 2] == expected


def test_a_test_with_a_side_effect_before_tproxy_is_refused():
    script = ("iptables -t mangle -A PREROUTING -p tcp -m statistic --mode random "
              "--probability 0.5 -j TPROXY --on-port 3129\n")
    with pytest.raises(FwmigrateError) as info:
        convert(script, "fw.sh", ConvertOptions(to="nft"))
    assert any("TPROXY after a test with a side effect or a random answer" in d.message
               and str(d.loc) == "fw.sh:1:1" for d in info.value.diagnostics)


def test_port_zero_without_an_address_is_refused():
    with pytest.raises(FwmigrateError) as info:
        convert("iptables -t mangle -A PREROUTING -p tcp -j TPROXY --on-port 0\n", "fw.sh",
                ConvertOptions(to="nft"))
    assert any("--on-port 0 without --on-ip" in d.message for d in info.value.diagnostics)


def test_drop_in_insert_keeps_the_drop_after_its_rule():
    lines = translate_command(["-t", "mangle", "-I", "PREROUTING", "-p", "tcp", "-j", "TPROXY",
                               "--on-port", "3129"], "ip")
    assert lines[0].endswith("ip protocol tcp drop'")
    assert "tproxy to :3129" in lines[1]

