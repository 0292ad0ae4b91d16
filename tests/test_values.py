"""Option value grammars, and the fast paths that must agree with them."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fwmigrate.errors import OptionError
from fwmigrate.frontends import (
    values,
    values_addresses,
    values_common,
    values_names,
    values_numbers,
    values_ports,
)
from fwmigrate.frontends.save_file import _words, tokenize
from fwmigrate.ir import PortRange, Rate


@given(st.tuples(*[st.integers(0, 300)] * 4), st.one_of(st.none(), st.integers(0, 40)))
def test_ipv4_fast_path_agrees_with_the_grammar(octets, plen):
    text = ".".join(map(str, octets)) + ("" if plen is None else f"/{plen}")
    fast = values_addresses._FAST_IPV4.match(text)
    slow = None
    try:
        res = values_common._run(values_addresses._ADDRESS["ip"], text)
        ip = values_addresses._ip(res["addr"], "ip")
        mask = values_addresses._mask(res.get("mask"), "ip")
        slow = (int(ip) & int(mask), int(mask))
    except OptionError:
        pass
    try:
        got = values_addresses.address(text, "ip")
        got = (int(got.addr), int(got.mask))
    except OptionError:
        got = None
    assert got == slow
    if fast and slow:
        assert values_addresses.fast_ipv4(text) is not None


@pytest.mark.parametrize("text", ["1.2.3.4/\u0663", "1.2.3.4/\u0663\u0662"])
def test_ipv4_fast_path_reads_only_ascii_prefix_lengths(text):
    # Python's int() reads other scripts' digits; the grammar (and iptables) does not
    assert values_addresses.fast_ipv4(text) is None
    with pytest.raises(OptionError):
        values_addresses.address(text, "ip")


def outcome(parse, *args):
    """What a parser gives, or None where it refuses: the fast path and the grammar must
    agree on both."""
    try:
        return parse(*args)
    except OptionError:
        return None


@given(st.integers(0, 70000), st.one_of(st.none(), st.integers(0, 70000)))
def test_port_fast_path_agrees_with_the_grammar(first, last):
    text = str(first) if last is None else f"{first}:{last}"
    slow = outcome(values_ports._port_range, text, None, False)
    assert outcome(values_ports.parse_port_range, (text,), "ip", "tcp") == slow


@given(st.integers(0, 70000), st.one_of(st.none(), st.integers(0, 70000)),
       st.sampled_from(["", "0", "0x", " "]))
def test_nat_port_fast_path_agrees_with_the_grammar(first, last, prefix):
    text = prefix + (str(first) if last is None else f"{first}-{last}")

    def slow():
        res = values_common._run(values_ports._NAT_PORTS, text)
        a = values_common.c_uint(res["first"], 0, 65535, "port")
        b = values_common.c_uint(res["last"], 0, 65535, "port") if "last" in res else a
        if a > b:
            raise OptionError("min > max")
        return PortRange(a, b)
    assert outcome(values_ports.parse_nat_ports, (text,), "ip", "tcp") == outcome(slow)


@given(st.lists(st.one_of(st.text(alphabet='ab "\\\t', min_size=1, max_size=6)), max_size=6))
def test_restore_word_fast_path_agrees_with_the_grammar(parts):
    line = " ".join(parts)
    try:
        expected = [w for w, _ in tokenize(line)]
    except OptionError:
        expected = None
    try:
        got = _words(line)
    except OptionError:
        got = None
    assert got == expected


@pytest.mark.parametrize("text,rate", [
    ("10/second", Rate(10, "second")), ("10/s", Rate(10, "second")), ("5", Rate(5, "second")),
    ("60/min", Rate(1, "second")), ("1/minute", Rate(1, "minute")), ("7/m", Rate(7, "minute")),
    ("100/hour", Rate(100, "hour")), ("2/d", Rate(2, "day")), ("3/hour", Rate(3, "hour")),
])
def test_rates_read_back_as_iptables_prints_them(text, rate):
    assert values_numbers.parse_rate((text,), "ip", None) == rate


@pytest.mark.parametrize("text,expected", [
    ("10.1.2.3", ("10.1.2.3", 32)), ("10.1.2.3/8", ("10.0.0.0", 8)), ("10/8", ("10.0.0.0", 8)),
    ("10.1", ("10.1.0.0", 32)), ("10.0.0.0/255.255.0.0", ("10.0.0.0", 16)),
    ("10.0.0.0/255.0.255.0", ("10.0.0.0", None)),
])
def test_addresses(text, expected):
    addr = values_addresses.address(text, "ip")
    assert (str(addr.addr), addr.prefixlen) == expected


def test_ipv6_addresses_are_masked_and_compressed():
    addr = values_addresses.address("2001:DB8:0:0::5/64", "ip6")
    assert addr.addr == ipaddress.IPv6Address("2001:db8::") and addr.prefixlen == 64


@pytest.mark.parametrize("kind,text,message", [
    ("port_range", "70000", "invalid port/service"),
    ("port_range", "ssh2x", "invalid port/service"),
    ("rate", "1/fortnight", "bad rate"),
    ("ct_states", "NEW,BOGUS", "Bad ctstate value"),
    ("icmp_type", "echo-re", "Ambiguous ICMP type"),
    ("log_level", "warn", "log level `warn' unknown"),
    ("log_prefix", "a\nb", "Newlines not allowed"),
])
def test_bad_values(kind, text, message):
    with pytest.raises(OptionError) as info:
        values.PARSERS[kind]((text,), "ip", "tcp")
    assert message in info.value.message


def test_long_strings_are_cut_as_iptables_does():
    assert values_names.parse_log_prefix(("x" * 40,), "ip", None) == "x" * 29
    assert len(values_names.parse_comment(("é" * 200,), "ip", None).encode()) <= 255
