"""fwmigrate's nft counts the same packets as the iptables rule it translates, for the matches
where the kernel proved an earlier translation wrong (and iptables-translate right):
statistic --mode nth, dccp --dccp-types INVALID; and NFLOG's default threshold, where what
differs is when the log message reaches the listener."""

from __future__ import annotations

import shlex

import pytest
from packets import DCCP, UDP, Bench, dccp, ipv4, udp

from fwmigrate.dropin import translate_command

pytestmark = pytest.mark.kernel


@pytest.fixture
def bench(netns):
    b = Bench(netns)
    yield b
    b.close()


def ours(rule: str, family: str = "ip") -> list[str]:
    """fwmigrate's nft commands for `-A INPUT RULE`, without the leading `nft`."""
    lines = translate_command(["-A", "INPUT", *shlex.split(rule)], family)
    return [" ".join(shlex.split(line)[1:]) for line in lines]


STATISTIC = ["-p udp -m statistic --mode nth --every 3 --packet 0",
             "-p udp -m statistic --mode nth --every 3 --packet 1",
             "-p udp -m statistic --mode nth --every 3 --packet 2",
             "-p udp -m statistic --mode nth ! --every 4 --packet 1",
             "-p udp -m statistic --mode nth --every 1 --packet 0"]


def test_statistic_nth_matches_the_packets_iptables_matches(bench):
    packets = [ipv4(UDP, udp(9))] * 8
    legacy = bench.legacy_per_packet(STATISTIC, packets)
    nft = bench.nft_per_packet([c for r in STATISTIC for c in ours(r)], packets)
    # xt_statistic: the packets numbered (from 0) --packet modulo --every
    assert [row[1] for row in legacy] == [0, 1, 0, 0, 1, 0, 0, 1]
    assert nft == legacy


DCCP_TYPES = ["-p dccp -m dccp --dccp-types INVALID",
              "-p dccp -m dccp ! --dccp-types INVALID",
              "-p dccp -m dccp --dccp-types REQUEST,CLOSE,INVALID",
              "-p dccp -m dccp --dccp-types SYNCACK"]


def test_dccp_types_match_the_packets_iptables_matches(bench):
    packets = [ipv4(DCCP, dccp(t)) for t in range(16)]
    legacy = bench.legacy_per_packet(DCCP_TYPES, packets)
    nft = bench.nft_per_packet([c for r in DCCP_TYPES for c in ours(r)], packets)
    # xt_dccp's INVALID holds for every type from 10 (the 4-bit field goes to 15)
    assert [row[0] for row in legacy] == [0] * 10 + [1] * 6
    assert nft == legacy
