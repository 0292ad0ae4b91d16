"""A small fixed-seed campaign of bench/script_fuzz.py: random iptables scripts (variables,
quoting, continuations, for loops, brace expansion, $IPT/sudo/exec, -N -X -F -Z -P -A -I -D
-R -E over four tables, commands meant to fail) run by bash with iptables-legacy in a
namespace and read by fwmigrate: where bash stops, fwmigrate's first error must be in the same
command and its ruleset before it the same; where bash runs to the end, fwmigrate must print
what iptables-legacy-save lists. Longer campaigns: `python bench/script_fuzz.py --scripts
1000 --seed N`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import script_fuzz  # noqa: E402

pytestmark = pytest.mark.kernel


def test_random_scripts_end_as_bash_and_iptables_legacy_end_them(netns):
    tally = script_fuzz.campaign(netns, seed=21, scripts=250, minimise_found=False)
    assert not tally.mismatches, "\n".join(script_fuzz.render(m) for m in tally.mismatches)
    # the campaign decided something: most commands ran, and both outcomes were seen often
    assert tally.commands_run > 2000
    assert tally.both_ran > 40 and tally.both_failed > 150
