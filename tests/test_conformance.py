"""iptables' own test vectors (bench/conformance.py) must not regress: every *.txlate vector
recorded as equivalent in tests/conformance_expected.json stays equivalent in the kernel, every
*.t vector recorded as passing still reads back (or is refused) as iptables says.

After adding coverage, record it: `python bench/conformance.py --update-expected`. The vectors
are iptables' files, fetched by `python tests/conformance/fetch_vectors.py` (not in the repository).
"""

import importlib.util
import json
import sys

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("conformance", ROOT / "bench" / "conformance.py")
conformance = importlib.util.module_from_spec(_spec)
sys.modules["conformance"] = conformance     # its dataclasses look themselves up there
_spec.loader.exec_module(conformance)

EXPECTED = json.loads(conformance.EXPECTED.read_text())


def _failures(vectors, results, recorded, good):
    return [f"{v.id}: {results[v.id][0]}: {results[v.id][1]}" for v in vectors
            if v.id in recorded and results[v.id][0] not in good]


def test_rule_vectors_still_read_back_as_iptables_says(iptables_vectors):
    vectors = conformance.read_rule_tests(iptables_vectors)
    results = conformance.run_rule_tests(vectors)
    assert not _failures(vectors, results, set(EXPECTED["rules_ok"]), ("ok", "rejected"))


@pytest.mark.kernel
def test_txlate_vectors_stay_equivalent_in_the_kernel(kernel, iptables_vectors):
    vectors = conformance.read_txlate(iptables_vectors)
    results = conformance.run_txlate(vectors)
    assert not _failures(vectors, results, set(EXPECTED["equivalent"]), ("equivalent",))


def test_fetched_vectors_are_all_there(iptables_vectors):
    assert len(conformance.read_txlate(iptables_vectors)) > 300
    assert len(conformance.read_rule_tests(iptables_vectors)) > 800
