"""Backend helpers with fast paths that must agree with the general code."""

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from fwmigrate.backends.nft_ast import BitAnd, Compare, Symbol
from fwmigrate.backends.nft_common import PAYLOADS, address, address_compare, op
from fwmigrate.ir import Address


@given(st.integers(0, 2**32 - 1), st.one_of(st.integers(0, 32), st.integers(0, 2**32 - 1)),
       st.booleans())
def test_ipv4_address_compare_agrees_with_the_general_form(value, mask, negated):
    # a small number is a prefix length; a large one a mask, often not contiguous
    mask_int = (2**32 - 1) ^ ((1 << (32 - mask)) - 1) if mask <= 32 else mask
    mask_ip = ipaddress.IPv4Address(mask_int)
    addr = Address(ipaddress.IPv4Address(value & mask_int), mask_ip)
    left = PAYLOADS["ip", "saddr"]
    if addr.prefixlen is None:
        expected = Compare(BitAnd(left, Symbol(str(addr.mask))), op(negated),
                           Symbol(str(addr.addr)))
    else:
        expected = Compare(left, op(negated), address(addr))
    assert address_compare(left, addr, negated) == expected


def test_hoisting_from_the_translators_candidates_finds_every_literal_set(monkeypatch):
    """translate tells nft_sets.hoist which rules may hold literal sets (per rule shape, so
    that hoist need not look at every statement of 100,000 rules); what it names must be what
    a look at every statement names, for rules of many shapes around the threshold."""
    from fwmigrate.backends import nft_sets, nft_translate
    from fwmigrate.backends.nft_translate import NftOptions
    from fwmigrate.convert import ConvertOptions, read

    seen = []
    monkeypatch.setattr(nft_translate, "hoist",
                        lambda ruleset, **kw: seen.append((ruleset, kw))
                        or nft_sets.hoist(ruleset, **kw))
    shapes = ["-s 10.0.{i}.1 -p tcp -m multiport --dports {p},443 -j ACCEPT",
              "-i eth{i} -p udp -m multiport --sports 53,{p} -j DROP",
              "-s 10.1.{i}.0/24 -d 10.2.0.{i} -p tcp --dport {p} -j ACCEPT",
              "-p tcp -m multiport --dports {p}:{q},22 -m comment --comment c{i} -j LOG",
              "-o eth1 -j ACCEPT"]
    for count in (nft_sets.THRESHOLD - 1, nft_sets.THRESHOLD + 1):
        lines = ["iptables -N ACL"] + [
            f"iptables -A {'ACL' if i % 3 else 'FORWARD'} "
            + shapes[i % len(shapes)].format(i=i % 250, p=1000 + i % 7, q=2000 + i % 5)
            for i in range(count * 2)]
        ruleset, _ = read("\n".join(lines) + "\n", "t.sh", ConvertOptions())
        seen.clear()
        got = nft_translate.translate(ruleset, NftOptions()).ruleset
        ((raw, kw),) = seen
        assert kw["candidates"] is not None
        assert got == nft_sets.hoist(raw)
