"""A small fixed-seed campaign of bench/json_fuzz.py: the nft text and the libnftables JSON of
the same translation (random single rules for ip, ip6 and inet, random whole rulesets, iptables'
and fwmigrate's own vectors) loaded into two scratch namespaces must leave the same bytecode and
the same listing, but for the documented differences (bench/json_fuzz_tally.py KNOWN); and the text
side's listing, read back by fwmigrate's nft reader, must be the input's rules and load again
(--reread). Longer campaigns: `python bench/json_fuzz.py --batches 200 --seed N [--reread]`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import json_fuzz  # noqa: E402
from json_kernel import pair  # noqa: E402

pytestmark = pytest.mark.kernel

RANDOM = ("rules-ip", "rules-ip6", "rules-inet", "rulesets")


@pytest.fixture
def kernels(kernel):
    with pair("fwm-jtest") as both:
        yield both


def test_text_and_json_of_random_rules_load_to_the_same_kernel_ruleset(kernels):
    tally = json_fuzz.run(SEED, BATCHES, rules=150, sources=RANDOM, kernels=kernels,
                          reread=True)
    assert not tally.findings, str(tally)
    assert not tally.batches_refused, tally.batches_refused
    # the campaign decided something: most rules compared, in every source
    assert tally.compared > 0.7 * tally.rules, str(tally)
    for source in RANDOM:
        assert tally.by_source[source] >= 100, str(tally)
    assert tally.refused_json > 0, str(tally)      # refused with the rule named, never dropped


def test_text_and_json_of_the_vectors_load_to_the_same_kernel_ruleset(kernels):
    tally = json_fuzz.run(SEED, 0, sources=("own-vectors",), kernels=kernels)
    assert not tally.findings, str(tally)
    assert tally.by_source["own-vectors"] > 300, str(tally)


def test_the_campaign_finds_a_json_writer_that_swaps_addresses(kernels, monkeypatch):
    """The check can fail: a JSON writer that says daddr for saddr loads, and must be caught
    and narrowed down to one rule with a source address."""
    from fwmigrate.backends import nft_ast, nft_json
    payload = nft_json._EXPRS[nft_ast.Payload]

    def swapped(e):
        out = payload(e)
        if out["payload"]["field"] == "saddr":
            out["payload"]["field"] = "daddr"
        return out
    monkeypatch.setitem(nft_json._EXPRS, nft_ast.Payload, swapped)
    tally = json_fuzz.run(SEED, 1, rules=40, sources=("rules-ip",), kernels=kernels)
    assert tally.findings
    finding = tally.findings[0]
    assert finding.kind == "bytecode" and finding.narrowed and len(finding.rules) == 1
    assert " -s " in finding.rules[0] or "--src" in finding.rules[0], str(finding)
    assert "--replay rules-ip:" in str(finding)


SEED, BATCHES = 7, 8
