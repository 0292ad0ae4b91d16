"""-m policy's policy elements and -m u32: read as iptables reads them, written back as
iptables-legacy-save prints them, refused for nft with the reason.

Each expected line below is what iptables-legacy 1.8.9 printed (Linux 6.18, which has
xt_policy and xt_u32); the kernel test loads every command into iptables-legacy in a scratch
namespace again and compares, and every refused command is refused there too."""

import shlex
import shutil

import pytest

from fwmigrate.convert import ConvertOptions, convert

from conftest import refusal, save_form

# (program, command after the program, the rule line iptables-save prints)
SAVED = [
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --proto ipcomp",
     "-A INPUT -m policy --dir in --pol ipsec --proto ipcomp"),
    ("iptables", "-A FORWARD -m policy --dir in --pol ipsec --strict --reqid 1 --spi 0x1 "
     "--proto esp --mode tunnel --tunnel-dst 10.0.0.0/8 --tunnel-src 10.0.0.0/8 --next "
     "--reqid 2",
     "-A FORWARD -m policy --dir in --pol ipsec --strict --reqid 1 --spi 0x1 --proto esp "
     "--mode tunnel --tunnel-dst 10.0.0.0/8 --tunnel-src 10.0.0.0/8 --next --reqid 2"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1 --next --spi 1 "
     "--next --spi 2 --next --spi 3",
     "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1 --next --spi 0x1 --next "
     "--spi 0x2 --next --spi 0x3"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec ! --reqid 0x10 ! --spi 300 "
     "! --proto 51 --mode tunnel ! --tunnel-src 1.2.3.4/255.0.255.0 --tunnel-dst 1.2.3.4",
     "-A INPUT -m policy --dir in --pol ipsec ! --reqid 16 ! --spi 0x12c ! --proto ah "
     "--mode tunnel --tunnel-dst 1.2.3.4 ! --tunnel-src 1.2.3.4"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --reqid 1 --strict",
     "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --proto 108 --spi 4294967295",
     "-A INPUT -m policy --dir in --pol ipsec --spi 0xffffffff --proto ipcomp"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec ! --mode transport "
     "--tunnel-src 1.2.3.4/24", "-A INPUT -m policy --dir in --pol ipsec ! --mode transport "
     "--tunnel-src 1.2.3.4/24"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/33",
     "-A INPUT -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --mode tunnel "
     "--tunnel-src 1.2.3.4/0x10 --tunnel-dst 1.2.3.4/010",
     "-A INPUT -m policy --dir in --pol ipsec --mode tunnel --tunnel-dst 1.2.3.4/8 "
     "--tunnel-src 1.2.3.4/16"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --mode tunnel "
     "--tunnel-src 1.2.3.4/255.255.0.0 --tunnel-dst 10/8",
     "-A INPUT -m policy --dir in --pol ipsec --mode tunnel --tunnel-dst 0.0.0.10/8 "
     "--tunnel-src 1.2.3.4/16"),
    # iptables keeps no element with --pol none (without --next it takes the flags)
    ("iptables", "-A INPUT -m policy --dir in --pol none --reqid 5",
     "-A INPUT -m policy --dir in --pol none"),
    ("ip6tables", "-A FORWARD -m policy --dir in --pol ipsec --mode tunnel "
     "--tunnel-src 1:2::3/ffff:: --tunnel-dst ::1",
     "-A FORWARD -m policy --dir in --pol ipsec --mode tunnel --tunnel-dst ::1 "
     "--tunnel-src 1:2::3/16"),
    ("ip6tables", "-A FORWARD -m policy --dir in --pol ipsec --mode tunnel "
     "--tunnel-src 1:2::3/64 --tunnel-dst ::/0",
     "-A FORWARD -m policy --dir in --pol ipsec --mode tunnel --tunnel-dst ::/0 "
     "--tunnel-src 1:2::3/64"),
    ("iptables", "-A INPUT -m u32 --u32 '0x0=0x0&&0x0=0x1'",
     '-A INPUT -m u32 --u32 "0x0=0x0&&0x0=0x1"'),
    ("iptables", "-A INPUT -m u32 ! --u32 ' 0>>22&0x3C@ 12>>26&0x3C@ 0=0x1020304 , 5:010'",
     '-A INPUT -m u32 ! --u32 "0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x1020304,0x5:0x8"'),
    ("iptables", "-A INPUT -m u32 --u32 '" + "&&".join(["0=1"] * 10) + "'",
     '-A INPUT -m u32 --u32 "' + "&&".join(["0x0=0x1"] * 10) + '"'),
]

# (program, command after the program, iptables' message)
REFUSED = [
    ("iptables", "-A INPUT -m policy --dir in --pol none --next --reqid 5",
     "policy match: policy none but policy given"),
    ("iptables", "-A INPUT -m policy --dir in --pol none --next",
     "policy match: policy none but policy given"),
    ("iptables", "-A INPUT -m policy --dir in --pol none --strict",
     "policy match: policy none but --strict given"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --next --reqid 5",
     'policy: option "--next" also requires "--strict".'),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1 ! --next",
     'policy: option "--next" cannot be inverted.'),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1 --reqid 5",
     "policy match: double --reqid option"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1 --next --next",
     "policy match: empty policy element 1. --strict is in effect, but at least one of "
     "reqid, spi, tunnel-src, tunnel-dst, proto or mode is required."),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --strict --next --reqid 1",
     "policy match: empty policy element 0."),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1 --next --spi 1 "
     "--next --spi 2 --next --spi 3 --next --spi 4", "policy match: maximum policy depth"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --proto tcp",
     "policy match: protocol must be ah/esp/ipcomp"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --proto all",
     "policy match: protocol must be ah/esp/ipcomp"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --mode bogus",
     'policy match: invalid mode "bogus"'),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --tunnel-src 1.2.3.4",
     "policy match: --tunnel-src/--tunnel-dst is only valid in tunnel mode"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec ! --mode tunnel --tunnel-dst 1.2.3.4",
     "policy match: --tunnel-src/--tunnel-dst is only valid in tunnel mode"),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --spi -1",
     'policy: bad value for option "--spi", or out of range (0-4294967295).'),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --reqid 4294967296",
     'policy: bad value for option "--reqid", or out of range (0-4294967295).'),
    ("iptables", "-A INPUT -m policy --dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/abc",
     'policy: bad value for option "--tunnel-src", neither a valid network mask nor valid '
     "CIDR (0-32)."),
    ("iptables", "-A INPUT -m u32 --u32 '0=1&&2'", "u32: abrupt end of input"),
    ("iptables", "-A INPUT -m u32 --u32 '0=1;2'", 'u32: at char 3: expected "," or "&&"'),
    ("iptables", "-A INPUT -m u32 --u32 '" + "&&".join(["0=1"] * 11) + "'",
     'u32: at char 53: too many "&&"s'),
]


@pytest.mark.parametrize("program,command,saved", SAVED, ids=[r[1] for r in SAVED])
def test_read_back_in_save_form(program, command, saved):
    assert saved in save_form(program, command)


@pytest.mark.parametrize("program,command,saved", SAVED, ids=[r[1] for r in SAVED])
def test_nft_refuses_with_the_reason(program, command, saved):
    if "--pol none" in command:
        return              # no element left: --pol none's test (tests/vectors)
    text = "\n".join(f"{d.message} {d.hint or ''}" for d in refusal(program, command, "nft"))
    assert ("-m policy's policy elements: xt_policy compares an element with every state"
            in text) if "policy" in command else ("-m u32 has no exact nft equivalent" in text)


@pytest.mark.parametrize("program,command,message", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_as_iptables_refuses(program, command, message):
    diagnostics = refusal(program, command)
    assert any(message in d.message for d in diagnostics), diagnostics


@pytest.mark.kernel
def test_iptables_legacy_prints_and_refuses_the_same(netns):
    if shutil.which("iptables-legacy") is None:
        pytest.skip("iptables-legacy is not installed")
    wrong = []
    for program, command, saved in SAVED:
        tool = f"{program}-legacy"
        netns.run(tool, "-F")
        netns.run(tool, *shlex.split(command))
        lines = netns.run(f"{program}-legacy-save").stdout.splitlines()
        if saved not in lines:
            wrong.append((command, [line for line in lines if line.startswith("-A")]))
    for program, command, message in REFUSED:
        loaded = netns.run(f"{program}-legacy", *shlex.split(command), check=False)
        if loaded.returncode == 0 or message not in loaded.stderr:
            wrong.append((command, loaded.stderr))
        netns.run(f"{program}-legacy", "-F")
    assert not wrong


def test_a_line_of_the_same_shape_keeps_its_own_elements():
    """--pol none drops the elements; a later line that differs only in --pol must not reuse
    that reading (a rule with elements is never served from the template cache)."""
    save = ("*filter\n:INPUT ACCEPT [0:0]\n"
            "-A INPUT -m policy --dir in --pol none --reqid 5 -j DROP\n"
            "-A INPUT -m policy --dir in --pol ipsec --reqid 5 -j DROP\n"
            "-A INPUT -m policy --dir in --pol ipsec --reqid 6 -j DROP\n"
            "-A INPUT -m policy --dir in --pol none --reqid 6 -j DROP\nCOMMIT\n")
    out = convert(save, "fw.save", ConvertOptions(to="iptables-restore")).output.splitlines()
    assert [line for line in out if line.startswith("-A")] == [
        "-A INPUT -m policy --dir in --pol none -j DROP",
        "-A INPUT -m policy --dir in --pol ipsec --reqid 5 -j DROP",
        "-A INPUT -m policy --dir in --pol ipsec --reqid 6 -j DROP",
        "-A INPUT -m policy --dir in --pol none -j DROP"]
