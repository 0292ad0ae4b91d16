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
