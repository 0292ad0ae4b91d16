"""-j CT's zones and event masks, and -m hbh / -m dst option lists, kept as iptables stores
them: `--to iptables-restore` prints what iptables-save prints, and a value iptables refuses is
refused with its reason.

The saved forms are what iptables-legacy-save 1.8.9 printed after iptables-legacy loaded the
command (Linux 6.18); the refusals are iptables'."""

import pytest

from conftest import refusal, save_form

# (program, command after the program, the rule line iptables-save prints)
SAVED = [
    # libxt_CT: each zone option adds its direction and overwrites the one zone
    ("iptables", "-t raw -A PREROUTING -j CT --zone-orig 5 --zone-reply 5",
     "-A PREROUTING -j CT --zone 5"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone-orig 5 --zone-reply 7",
     "-A PREROUTING -j CT --zone 7"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone 7 --zone-orig 5",
     "-A PREROUTING -j CT --zone-orig 5"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone-orig 5 --zone 7",
     "-A PREROUTING -j CT --zone-orig 7"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone-reply 0x10",
     "-A PREROUTING -j CT --zone-reply 16"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone-orig 5 --zone 0", "-A PREROUTING -j CT"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone 0", "-A PREROUTING -j CT"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone MARK", "-A PREROUTING -j CT --zone mark"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone-orig mark --zone-reply 5",
     "-A PREROUTING -j CT --zone mark"),
    ("iptables", "-t raw -A PREROUTING -j CT --notrack --zone-reply mark",
     "-A PREROUTING -j CT --notrack --zone-reply mark"),
    # event masks print in libxt_CT's table order, each once
    ("iptables", "-t raw -A PREROUTING -j CT --ctevents destroy,new,destroy",
     "-A PREROUTING -j CT --ctevents new,destroy"),
    ("iptables", "-t raw -A PREROUTING -j CT --expevents new,new",
     "-A PREROUTING -j CT --expevents new"),
    # libip6t_hbh / libip6t_dst: numbers as strtoul reads them, cut to a byte; length 255
    # is "no length"
    ("ip6tables", "-A INPUT -m hbh --hbh-opts 0x10:3,010,1:255",
     "-A INPUT -m hbh --hbh-opts 16:3,8,1"),
    ("ip6tables", "-A INPUT -m dst --dst-opts ' +1,-1,256'", "-A INPUT -m dst --dst-opts 1,255,0"),
    ("ip6tables", "-A INPUT -m hbh --hbh-opts " + ",".join(["1"] * 16),
     "-A INPUT -m hbh --hbh-opts " + ",".join(["1"] * 16)),
]

# (program, command after the program, iptables' refusal)
REFUSED = [
    ("iptables", "-t raw -A PREROUTING -j CT --zone 65536", "Cannot parse 65536 as a zone ID"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone-orig x", "Cannot parse x as a zone ID"),
    ("iptables", "-t raw -A PREROUTING -j CT --zone-orig 5 --zone-orig 6",
     'CT: option "--zone-orig" can only be used once'),
    ("iptables", "-t raw -A PREROUTING -j CT --ctevents new,,related", 'Unknown event type ""'),
    ("iptables", "-t raw -A PREROUTING -j CT --ctevents NEW", 'Unknown event type "NEW"'),
    ("iptables", "-t raw -A PREROUTING -j CT --expevents related",
     'Unknown event type "related"'),
    ("ip6tables", "-A INPUT -m hbh --hbh-opts 256:2", "PAD0 has not got length"),
    ("ip6tables", "-A INPUT -m dst --dst-opts 0:2", "PAD0 hasn't got length"),
    ("ip6tables", "-A INPUT -m hbh --hbh-opts '1 '", "hbh: error parsing opt `1 '"),
    ("ip6tables", "-A INPUT -m dst --dst-opts 08", "dst: error parsing opt `08'"),
    ("ip6tables", "-A INPUT -m hbh --hbh-opts 1,", "hbh: no valid digits in opt `'"),
    ("ip6tables", "-A INPUT -m dst --dst-opts 1:x", "dst: no valid digits in length `x'"),
    ("ip6tables", "-A INPUT -m hbh --hbh-opts 99999999999999999999999",
     "opt `99999999999999999999999' specified too big: would overflow"),
    ("ip6tables", "-A INPUT -m hbh --hbh-opts " + ",".join(["1"] * 17),
     "too many addresses specified"),
    ("ip6tables", "-A INPUT -m dst --dst-opts " + ",".join(["1"] * 15 + ["1:2"]),
     "too many ports specified"),
]


@pytest.mark.parametrize("program,command,saved", SAVED, ids=[r[1] for r in SAVED])
def test_saved_as_iptables_saves(program, command, saved):
    assert saved in save_form(program, command)


@pytest.mark.parametrize("program,command,message", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_as_iptables_refuses(program, command, message):
    diagnostics = refusal(program, command)
    assert any(message in d.message for d in diagnostics), diagnostics


def test_zone_from_the_mark_is_refused_for_nft():
    for words in ("--zone-orig mark", "--zone-reply mark", "--zone mark"):
        text = "\n".join(d.message for d in refusal(
            "iptables", f"-t raw -A PREROUTING -j CT {words}", "nft"))
        assert "-j CT with --zone" in text, text


def _saved_rules(text: str, name: str, source_kind: str | None = None) -> list[str]:
    from fwmigrate.convert import ConvertOptions, convert
    options = ConvertOptions(to="iptables-restore", family="ip")
    if source_kind:
        options = ConvertOptions(to="iptables-restore", family="ip", source_kind=source_kind)
    return [line for line in convert(text, name, options).output.splitlines()
            if line.startswith("-A ")]


# lines of one shape whose values change the stored form: the later line is not the first
# one's with a value swapped in (frontends/templates.py)
SAME_SHAPE = [
    ("-t raw -A PREROUTING -j CT --zone 5", "-t raw -A PREROUTING -j CT --zone 0",
     "-A PREROUTING -j CT"),
    ("-t raw -A PREROUTING -j CT --zone-orig 5 --zone-reply 7",
     "-t raw -A PREROUTING -j CT --zone-orig 5 --zone-reply 5", "-A PREROUTING -j CT --zone 5"),
    ("-t mangle -A PREROUTING -p tcp -j ECN --ecn-tcp-ece 1 --ecn-tcp-cwr 1",
     "-t mangle -A PREROUTING -p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0",
     "-A PREROUTING -p tcp -j ECN --ecn-tcp-remove"),
    ("-t mangle -A PREROUTING -p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-remove",
     "-t mangle -A PREROUTING -p tcp -j ECN --ecn-ip-ect 2 --ecn-tcp-remove",
     "-A PREROUTING -p tcp -j ECN --ecn-tcp-remove"),
]


@pytest.mark.parametrize("first,second,saved", SAME_SHAPE, ids=[s[1] for s in SAME_SHAPE])
def test_a_line_of_the_same_shape_is_stored_as_read_alone(first, second, saved):
    from fwmigrate.frontends import templates
    templates._TEMPLATES.clear()
    templates._QUICK.clear()
    script = f"iptables {first}\niptables {second}\n"
    assert _saved_rules(script, "fw.sh")[-1] == saved
    table = first.split()[1]
    chain = "PREROUTING"
    save = (f"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {first.split(' -A PREROUTING ')[1]}\n"
            f"-A {chain} {second.split(' -A PREROUTING ')[1]}\nCOMMIT\n")
    assert _saved_rules(save, "fw.save", "save")[-1] == saved


def test_delete_finds_the_zone_as_the_kernel_keeps_it():
    script = ("iptables -t raw -A PREROUTING -j CT --zone-orig 5 --zone-reply 5\n"
              "iptables -t raw -D PREROUTING -j CT --zone 5\n"
              "iptables -t mangle -A PREROUTING -p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0\n"
              "iptables -t mangle -D PREROUTING -p tcp -j ECN --ecn-tcp-remove\n")
    assert _saved_rules(script, "fw.sh") == []
