"""bench/netlink_bytecode.py and bench/conformance.py's fallback to it: two rules whose kernel
listings differ count as equivalent only where the kernel holds the same bytecode."""

from __future__ import annotations

import pytest
from test_reference_wrong import conformance, vector_of

normalise = conformance.netlink_bytecode.normalise

DEBUG_OUTPUT = """\
ip filter @__set3
\telement 08070605  : 0 [end]
\telement 04030201  : 0 [end]
ip filter INPUT 7 5
  [ ct load src_ip => reg 1 , dir original ]
  [ cmp eq reg 1 0x0000640a ]
  [ lookup reg 1 set __set3 0x0 ]

table ip filter {
\tchain INPUT {
\t}
}
"""


def test_handles_set_names_element_order_and_the_ct_key_do_not_count():
    assert normalise(DEBUG_OUTPUT) == [
        "ip filter @set0",
        "element 04030201  : 0 [end]",
        "element 08070605  : 0 [end]",
        "ip filter INPUT",
        "[ ct load src => reg 1 , dir original ]",
        "[ cmp eq reg 1 0x0000640a ]",
        "[ lookup reg 1 set set0 0x0 ]",
    ]


def test_everything_else_counts():
    other_value = DEBUG_OUTPUT.replace("0x0000640a", "0x0000650a")
    assert normalise(other_value) != normalise(DEBUG_OUTPUT)
    # in an inet table `src` also reads IPv6 tuples, `src_ip` only IPv4 ones
    inet = DEBUG_OUTPUT.replace("ip filter", "inet filter")
    assert normalise(inet) != normalise(inet.replace("src_ip", "src"))


@pytest.mark.kernel
def test_conformance_counts_a_rule_nft_lists_wrongly_as_equivalent(kernel, iptables_vectors):
    """nft 1.0.6 lists the reference's `ct original saddr 10.100.0.0/16` as `ct original ip
    saddr 0.0.10.100`: the listings differ, the bytecode does not; `ct expiration 3` and
    fwmigrate's `3s-3s999ms` differ in both."""
    ids = ["libxt_conntrack.txlate:19", "libxt_conntrack.txlate:46"]
    results = conformance.run_txlate([vector_of(i) for i in ids])
    assert results[ids[0]] == ("equivalent", "same bytecode, listed differently")
    assert results[ids[1]][0] == "reference-wrong"


@pytest.mark.kernel
def test_sets_declared_differently_are_not_equivalent(kernel, iptables_vectors):
    """connlimit: the same bytecode, but the reference's set has no size (the kernel caps it
    at 65535) where fwmigrate's is sized: the set declarations differ, so the rules do (not
    equivalent; reference-wrong, as tests/test_reference_wrong.py shows)."""
    vector_id = "libxt_connlimit.txlate:1"
    assert conformance.run_txlate([vector_of(vector_id)])[vector_id][0] == "reference-wrong"
