"""A small fixed-seed campaign of bench/save_fuzz.py: random iptables-restore files (headers,
declarations with and without counters, rules with [p:b], -A -I -D -R -N -X -F -Z -P -E lines,
comments, quoting, a table given twice, a missing COMMIT, lines meant to fail) loaded by
iptables-legacy-restore / ip6tables-legacy-restore in a namespace and read by fwmigrate: where
iptables-restore refuses a file, fwmigrate's first error must be at the same line; where it
loads one, fwmigrate must print what iptables-legacy-save lists. Longer campaigns:
`python bench/save_fuzz.py --files 3000 --seed N`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import save_fuzz  # noqa: E402

pytestmark = pytest.mark.kernel


def test_random_restore_files_are_read_as_iptables_legacy_restore_loads_them(netns):
    if shutil.which("iptables-legacy-restore") is None:
        pytest.skip("iptables-legacy is not installed")
    tally = save_fuzz.campaign(netns, seed=7, files=600, minimise_found=False)
    assert not tally.mismatches, "\n".join(save_fuzz.render(m) for m in tally.mismatches)
    # the campaign decided something: both outcomes were seen often, over both families
    assert tally.lines > 15000
    assert tally.both_loaded > 150 and tally.both_failed > 250
    assert min(tally.loaded["ip"], tally.loaded["ip6"]) > 60
