"""Reusing a parsed shape for similar lines must give exactly what a full parse gives."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fwmigrate.errors import OptionError
from fwmigrate.frontends import templates
from fwmigrate.frontends.command_line import parse_uncached

CHAINS = ["INPUT", "FORWARD", "ACL1", "ACL2"]
PORTS = ["22", "80", "0:65535", "1024:", "70000", "ssh", "5:3"]
ADDRS = ["10.0.0.1", "10.1.2.0/24", "0/0", "10.0.0.1,10.0.0.2", "300.1.1.1", "fe80::1"]
WORDS = st.sampled_from


@st.composite
def shape(draw):
    """A rule shape: which options it has; the values are drawn per line (see lines())."""
    return dict(neg_s=draw(st.booleans()), s=draw(st.booleans()), d=draw(st.booleans()),
                proto=draw(WORDS(["tcp", "udp", "icmp", None])), dport=draw(st.booleans()),
                neg_dport=draw(st.booleans()), comment=draw(st.booleans()),
                multiport=draw(st.booleans()), recent=draw(st.booleans()),
                target=draw(WORDS(["ACCEPT", "REJECT", "LOG", "ACL1"])))


@st.composite
def line(draw, sh):
    words = ["-A", draw(WORDS(CHAINS))]
    if sh["s"]:
        words += (["!"] if sh["neg_s"] else []) + ["-s", draw(WORDS(ADDRS))]
    if sh["d"]:
        words += ["-d", draw(WORDS(ADDRS))]
    if sh["proto"]:
        words += ["-p", sh["proto"]]
        if sh["proto"] != "icmp" and sh["dport"]:
            words += (["!"] if sh["neg_dport"] else []) + ["--dport", draw(WORDS(PORTS))]
    if sh["comment"]:
        words += ["-m", "comment", "--comment", draw(WORDS(["x", "-s", "--dport", "y" * 300]))]
    if sh["multiport"]:
        words += ["-m", "multiport", "--dports", draw(WORDS(["22,80", "1:2,3", "9"]))]
    if sh["recent"]:
        words += ["-m", "recent", "--name", draw(WORDS(["A", "B"])), "--rcheck", "--seconds",
                  draw(WORDS(["60", "0", "x"]))]
    words += ["-j", sh["target"]]
    if sh["target"] == "REJECT":
        words += ["--reject-with", draw(WORDS(["tcp-reset", "icmp-host-prohibited"]))]
    if sh["target"] == "LOG":
        words += ["--log-prefix", draw(WORDS(["a", "b" * 40]))]
    return words


@st.composite
def lines(draw):
    shapes = draw(st.lists(shape(), min_size=1, max_size=2))
    return draw(st.lists(st.sampled_from(shapes).flatmap(line), min_size=5, max_size=40))


def reference(words):
    try:
        parser = parse_uncached(words, "ip", table="filter", restore=True)
        template = templates._template(parser, parser.result.chain_index == 1)
        cmd = templates._expand(template, parser.words, "ip", None, reparse=False)
        return ("ok", cmd.chain, cmd.rules, cmd.warnings)
    except OptionError as exc:
        return ("error", exc.message, exc.index)


def templated(words):
    try:
        cmd = templates.parse_command(words, "ip", table="filter", restore=True)
        return ("ok", cmd.chain, cmd.rules, cmd.warnings)
    except OptionError as exc:
        return ("error", exc.message, exc.index)


@settings(max_examples=400, deadline=None)
@given(lines())
def test_templates_agree_with_a_full_parse(sequence):
    templates._TEMPLATES.clear()
    for words in sequence:
        assert templated(words) == reference(words), " ".join(words)


TRANSITIONS = [
    # a value that makes the option vanish, after one that does not
    ("-A ACL1 -p tcp --dport 22 -j ACCEPT", "-A ACL1 -p tcp --dport 0:65535 -j ACCEPT"),
    # a value whose check depends on the protocol
    ("-A ACL1 -p udp -j REJECT --reject-with icmp-host-prohibited",
     "-A ACL1 -p udp -j REJECT --reject-with tcp-reset"),
    # a value iptables cuts (and warns about)
    ("-A ACL1 -j LOG --log-prefix a", "-A ACL1 -j LOG --log-prefix " + "b" * 40),
    # a word that looks like a flag, inside a value
    ("-A ACL1 -m comment --comment x -s 10.0.0.1 -j ACCEPT",
     "-A ACL1 -m comment --comment -s -s 10.0.0.1 -j ACCEPT"),
    # a value that a check of the whole match refuses
    ("-A ACL1 -m recent --name A --rcheck --seconds 60 -j DROP",
     "-A ACL1 -m recent --name A --rcheck --seconds 0 -j DROP"),
    # a bad value where the first line had a good one
    ("-A ACL1 -p tcp --dport 22 -j ACCEPT", "-A ACL1 -p tcp --dport 70000 -j ACCEPT"),
    ("-A ACL1 -s 10.0.0.1 -j ACCEPT", "-A ACL1 ! -s 10.0.0.1,10.0.0.2 -j ACCEPT"),
    # two bad values: the match's error comes first, as in a full parse (found by hypothesis)
    ("-A ACL1 -p udp -m recent --name A --rcheck --seconds 5 -j REJECT --reject-with "
     "icmp-host-prohibited",
     "-A ACL1 -p udp -m recent --name A --rcheck --seconds 0 -j REJECT --reject-with tcp-reset"),
]


def test_known_transitions():
    for first, second in TRANSITIONS:
        templates._TEMPLATES.clear()
        for text in (first, second, first):
            words = text.split()
            assert templated(words) == reference(words), text


def test_a_value_is_reread_with_the_grammar_of_its_own_flag():
    # --or-mark and --set-xmark are one IR option with different grammars: a template made
    # from one line must re-read the next line's value as --or-mark, not as --set-xmark
    for value in ("0x10", "0x20"):
        words = ["-t", "mangle", "-A", "PREROUTING", "-j", "MARK", "--or-mark", value]
        cmd = templates.parse_command(words, "ip")
        assert cmd.rules == parse_uncached(words, "ip").result.rules
    for name in ("EF", "AF11"):
        words = ["-t", "mangle", "-A", "PREROUTING", "-j", "DSCP", "--set-dscp-class", name]
        assert templates.parse_command(words, "ip").rules == \
            parse_uncached(words, "ip").result.rules


def test_value_checks_see_the_whole_new_line_not_half_of_it():
    # --packet must be below --every: checked once both values of the new line are in place
    first = ["-A", "INPUT", "-m", "statistic", "--mode", "nth", "--every", "10", "--packet", "9"]
    second = ["-A", "INPUT", "-m", "statistic", "--mode", "nth", "--every", "5", "--packet", "2"]
    templates.parse_command(first, "ip")
    assert templates.parse_command(second, "ip").rules == parse_uncached(second, "ip").result.rules
