"""Whole samples against reviewed golden files (FWMIGRATE_UPDATE_GOLDEN=1 rewrites them)."""

import os
import re

import pytest

from fwmigrate.convert import ConvertOptions, convert

from conftest import ROOT, SAMPLES, ipsets_of, sample_inputs

GOLDEN = ROOT / "tests" / "golden"
CASES = []
for sample in sample_inputs():
    CASES.append((sample.name, "nft", None))
    families = ("ip", "ip6") if sample.name.startswith("dual-stack") else (None,)
    CASES += [(sample.name, "iptables-restore", f) for f in families]
    if sample.name.startswith("dual-stack"):
        CASES.append((sample.name, "nft", "inet"))      # both families in one inet table

_STAMP = re.compile(r"^# (Generated|Completed) .*$", re.M)


def golden_name(sample, to, family):
    dot_family = "." + family if family else ""
    suffix = f"{family}.nft" if to == "nft" and family else "nft" if to == "nft" \
        else f"restore{dot_family}"
    return f"{sample}.{suffix}"


@pytest.mark.parametrize("sample,to,family", CASES, ids=lambda c: str(c))
def test_sample_matches_golden(sample, to, family):
    text = (SAMPLES / sample).read_text()
    out = convert(text, f"samples/{sample}", ConvertOptions(
        to=to, family=family, ipsets=ipsets_of(SAMPLES / sample))).output
    out = _STAMP.sub("# (timestamp)", out)
    path = GOLDEN / golden_name(sample, to, family)
    if os.environ.get("FWMIGRATE_UPDATE_GOLDEN"):
        path.write_text(out)
    assert out == path.read_text()
