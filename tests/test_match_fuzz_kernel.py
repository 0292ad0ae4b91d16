"""A small fixed-seed campaign of bench/match_fuzz.py: random rules without a target, loaded
into iptables-legacy and (as fwmigrate translates them) into nft in one namespace, and random
packets aimed at them; every rule must count the same packets on both sides, but for the known
differences README lists (bench/match_fuzz.py KNOWN). Longer campaigns:
`python bench/match_fuzz.py --family ip6 --batches 300 --seed N`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import match_fuzz  # noqa: E402

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("family, seed", [("ip", 11), ("ip6", 12)])
def test_random_rules_count_the_same_packets_as_iptables(netns, family, seed):
    tally = match_fuzz.run(netns, seed, batches=12, family=family, rules=40, packets=40)
    assert not tally.ours_broken, tally.ours_broken
    assert not tally.over_refused, tally.over_refused
    assert not tally.refused_only_iptables, tally.refused_only_iptables  # fwmigrate took them
    assert not tally.mismatches, match_fuzz.report(tally, family)
    # the campaign decided something: most cells compared, and both answers seen often
    assert tally.cells > 12000
    assert tally.refused_fwmigrate < tally.rules // 5
