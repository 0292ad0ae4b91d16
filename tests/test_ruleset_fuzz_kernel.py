"""A small fixed-seed campaign of bench/ruleset_fuzz.py: random whole rulesets with state (user
chains, policies, conntrack, interfaces, marks, -m recent, NAT; some rounds merged with
`--family inet`) loaded into iptables-legacy and, as fwmigrate translates them, into nft, each
in a fresh copy of tests/differential.py's network; the same ordered real probes through both
must have the same outcomes. Longer campaigns: `python bench/ruleset_fuzz.py --rounds 200
--seed N`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import ruleset_fuzz  # noqa: E402

pytestmark = pytest.mark.kernel


def test_random_rulesets_with_state_behave_as_under_iptables(netns):
    tally = ruleset_fuzz.campaign(SEED, ROUNDS, probes=20, minimizing=False)
    assert not tally.findings, str(tally)
    assert not tally.nft_refused, tally.nft_refused
    assert not tally.legacy_refused, tally.legacy_refused     # the generator's own mistakes
    # the campaign decided something: most rounds compared, every area in some of them, and
    # the probes met both open and closed doors
    # (a round fwmigrate refuses is not compared: the generator's notrack story often makes
    # the raw OUTPUT notrack that nft_notrack_answers refuses)
    assert tally.compared_rounds >= ROUNDS // 3, str(tally)
    for feature in ("NAT", "marks", "recent", "user chains", "conntrack", "interfaces",
                    "--family inet"):
        assert tally.features[feature] >= 2, (feature, str(tally))
    assert tally.seen["open"] >= 8 and tally.seen["timeout"] >= 10, tally.seen
    assert tally.seen["refused"] + tally.seen["unreachable"] > 5, tally.seen


SEED, ROUNDS = 7, 14
