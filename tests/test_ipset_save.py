"""`ipset save` / `ipset restore` files → IpSet objects, and every error with file:line:col."""

import ipaddress

import pytest

from fwmigrate.errors import Diagnostics
from fwmigrate.frontends.ipset_save import read_ipsets
from fwmigrate.ir import Address, Option

# what `ipset save` printed on this machine (ipset 7.17) for a blocklist and an allowlist
SAVED = """\
create blocklist hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x72f284bd
add blocklist 192.0.2.0/24
add blocklist 198.51.100.7
create allow hash:ip,port family inet hashsize 1024 maxelem 1000 timeout 3600 counters \
comment bucketsize 12 initval 0x9cf472a3
add allow 203.0.113.5,tcp:22 timeout 1187 packets 4 bytes 240 comment "admin host"
add allow 203.0.113.6,udp:53 timeout 95 packets 0 bytes 0
create ports bitmap:port range 0-1023
add ports 22
create six hash:net family inet6 hashsize 1024 maxelem 65536
add six 2001:db8::/32
"""


def _read(text, name="sets.save"):
    diags = Diagnostics()
    sets = read_ipsets(text, name, diags)
    return {s.name: s for s in sets}, diags


def _host(text):
    a = ipaddress.ip_address(text)
    return Address(a, ipaddress.ip_address((1 << a.max_prefixlen) - 1 if a.version == 6
                                           else "255.255.255.255"))


def test_ipset_save_output_is_read_with_types_members_and_options():
    sets, diags = _read(SAVED)
    assert not diags.items
    block = sets["blocklist"]
    assert (block.type, block.family, block.maxelem, block.timeout) == \
        ("hash:net", "ip", 65536, None)
    assert [values for values, _ in block.entries] == [
        (Address(ipaddress.ip_address("192.0.2.0"), ipaddress.ip_address("255.255.255.0")),),
        (_host("198.51.100.7"),)]
    allow = sets["allow"]
    assert (allow.maxelem, allow.timeout, allow.counters, allow.comment) == (1000, 3600, True,
                                                                            True)
    values, options = allow.entries[0]
    assert values == (_host("203.0.113.5"), (6, 22))
    assert Option("timeout", 1187) in options and Option("comment", "admin host") in options
    assert allow.entries[1][0] == (_host("203.0.113.6"), (17, 53))
    # hash-table tuning (hashsize, bucketsize, initval) has no meaning for membership
    assert allow.options == ()
    ports = sets["ports"]
    assert (ports.family, ports.maxelem, ports.entries[0][0]) == (None, 1024, (22,))
    assert ports.option("range").value == "0-1023"
    assert sets["six"].family == "ip6"


def test_restore_files_replay_commands_in_order():
    text = """\
# hand-written, as for `ipset restore -exist`
ipset create a hash:ip
create -exist a hash:ip
add a 10.0.0.1
add -exist a 10.0.0.1
add a 10.0.0.2
add a 10.0.0.3
del a 10.0.0.2
create b hash:ip
add b 10.9.9.9
swap a b
rename b c
create gone hash:ip
destroy gone
COMMIT
"""
    sets, diags = _read(text)
    assert not diags.items
    assert sorted(sets) == ["a", "c"]
    assert [v for v, _ in sets["a"].entries] == [(_host("10.9.9.9"),)]
    assert [v for v, _ in sets["c"].entries] == [(_host("10.0.0.1"),), (_host("10.0.0.3"),)]


def test_sets_of_types_not_translated_are_still_read():
    """An unused set fwmigrate cannot translate must not stop the file being read."""
    text = ("create nets hash:ip family inet netmask 24\nadd nets 10.0.1.0/24\n"
            "create group list:set size 8\nadd group nets\n"
            "create byif hash:net,iface\nadd byif 10.0.0.0/8,eth0\n")
    sets, diags = _read(text)
    assert not diags.items
    assert sets["nets"].option("netmask").value == 24
    assert sets["group"].entries[0][0] == ("nets",)
    assert sets["byif"].entries[0][0] == ("10.0.0.0/8", "eth0")


def test_port_members_default_to_tcp_and_accept_service_names():
    sets, diags = _read("create s hash:ip,port\nadd s 10.0.0.1,80\nadd s 10.0.0.1,udp:domain\n")
    assert not diags.items
    assert [v[1] for v, _ in sets["s"].entries] == [(6, 80), (17, 53)]


@pytest.mark.parametrize("text, where, message", [
    ("add nosuch 10.0.0.1\n", (1, 5), "set nosuch does not exist"),
    ("create a hash:ip\ncreate a hash:ip\n", (2, 8), "set a already exists"),
    ("create a hash:ip\nadd a 10.0.0.1\nadd a 10.0.0.1\n", (3, 7), "already in set a"),
    ("create a hash:bogus\n", (1, 10), "unknown ipset type `hash:bogus'"),
    ("create a hash:ip frobnicate\n", (1, 18), "unknown option `frobnicate'"),
    ("create a hash:ip maxelem lots\n", (1, 26), "`maxelem' takes a number"),
    ("create a hash:ip\nadd a 10.0.0.300\n", (2, 7), "is not an address"),
    ("create a hash:ip\nadd a 2001:db8::1\n", (2, 7), "is not an IPv4 address"),
    ("create a hash:ip\nadd a 10.0.0.0/24\n", (2, 7), "write them one per line"),
    ("create a hash:ip,port\nadd a 10.0.0.1\n", (2, 7), "have 2 part(s)"),
    ("create a hash:ip,port\nadd a 10.0.0.1,tcp:99999\n", (2, 16), "out of range"),
    ("create a hash:ip\nadd a 10.0.0.1 timeout 5\n", (2, 16), "created without `timeout'"),
    ("create a hash:ip\nadd a 10.0.0.1 comment \"x\"\n", (2, 16), "without `comment'"),
    ("create a hash:mac\nadd a 00:11:22\n", (2, 7), "is not a MAC address"),
    ("create a bitmap:port\n", (1, 10), "bitmap:port needs `range'"),
    ("list\n", (1, 1), "unknown ipset command `list'"),
    ("create a hash:ip\nadd a\n", (2, 1), "`add' needs a set name and a member"),
])
def test_errors_name_file_line_and_column(text, where, message):
    _sets, diags = _read(text)
    assert len(diags.errors) == 1, diags.items
    error = diags.errors[0]
    assert (error.loc.file, error.loc.line, error.loc.col) == ("sets.save", *where)
    assert message in error.message
    assert error.source_line is not None        # the caret is shown under the line


def test_every_error_of_a_file_is_reported_not_just_the_first():
    _sets, diags = _read("add x 1.2.3.4\ncreate a hash:ip\nadd a nonsense\nadd y 1.2.3.4\n")
    assert [e.loc.line for e in diags.errors] == [1, 3, 4]
