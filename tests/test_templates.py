"""Reusing a parsed shape for similar lines must give exactly what a full parse gives."""

import pytest
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
    # values the full parse stores with their `!` folded in (the other days; equal bounds)
    ("-A ACL1 -m time ! --weekdays Mo", "-A ACL1 -m time ! --weekdays Tu"),
    ("-A ACL1 -m connbytes ! --connbytes 200 --connbytes-dir reply --connbytes-mode bytes",
     "-A ACL1 -m connbytes ! --connbytes 5:5 --connbytes-dir reply --connbytes-mode bytes"),
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


# --- save files: the fast path (templates.append_rules) against the full one -------------

def _read(text, fast):
    """read_save's ruleset (with each rule's location and counters) and diagnostics, with or
    without append_rules, from empty template caches."""
    from fwmigrate.errors import Diagnostics
    from fwmigrate.frontends import save_file

    templates._TEMPLATES.clear()
    templates._QUICK.clear()
    diags = Diagnostics()
    with pytest.MonkeyPatch.context() as mp:
        if not fast:
            mp.setattr(save_file, "append_rules", lambda *args: None)
        # IPv4 rules without a header: say so (else a family warning joins the diagnostics)
        ruleset = save_file.read_save(text, "t.save", diags, default_family="ip")
    where = [(r.loc, r.counters) for t in ruleset.tables for c in t.chains for r in c.rules]
    return ruleset, where, [d.render() for d in diags.items]


@st.composite
def save_files(draw):
    """A filter table whose rule lines share first looks (length and even words) but not
    always shapes: a chain that decides the interfaces, flags inside values, another protocol,
    jumps to chains that are missing or built in, counters."""
    declared = draw(st.lists(WORDS(["ACL1", "ACL2"]), unique=True))
    body = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    body += [f":{name} - [0:0]" for name in declared]
    for words in draw(lines()):
        prefix = draw(WORDS(["", "", "[1:2] ", "[x:1] "]))
        body.append(prefix + " ".join(words))
    body += draw(st.lists(WORDS([
        "-A ACL1 -o eth0 -j ACCEPT", "-A INPUT -o eth0 -j ACCEPT", "-A ACL2 -i eth1 -j DROP",
        "-A ACL1 -p udp -m udp --dport 53 -j ACCEPT", "-A ACL1 -p tcp -m tcp --dport 53 -j ACL2",
        "-A ACL1 -s 10.0.0.1/32 -j INPUT", "-A ACL1 -m comment --comment -d -j ACCEPT",
        "-A ACL1 -m comment --comment x -j ACCEPT", "-A ACL1 -s 10.0.0.1,10.0.0.2 -j DROP",
        "-I ACL1 -s 10.0.0.1 -j DROP"]), max_size=6))
    return "\n".join(body + ["COMMIT", ""])


@settings(max_examples=300, deadline=None)
@given(save_files())
def test_save_file_fast_path_reads_what_the_full_path_reads(text):
    fast, slow = _read(text, True), _read(text, False)
    assert fast == slow, text


def test_fast_path_keeps_each_lines_location_counters_and_errors():
    text = "\n".join([
        "*filter", ":ACL1 - [0:0]",
        "-A ACL1 -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT",
        "[5:600] -A ACL1 -s 10.0.0.2/32 -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A ACL9 -s 10.0.0.3/32 -p tcp -m tcp --dport 80 -j ACCEPT",       # no such chain
        "-A ACL1 -s 10.0.0.4/33 -p tcp -m tcp --dport 80 -j ACCEPT",       # bad prefix
        "-A ACL1 -s 10.0.0.5/32 -p udp -m udp --dport 80 -j ACCEPT",       # same first look
        "COMMIT", ""])
    ruleset, where, errors = _read(text, True)
    assert (ruleset, where, errors) == _read(text, False)
    assert [(loc.line, loc.col, c) for loc, c in where] == [
        (3, 1, None), (4, 9, iptables_counters(5, 600)), (7, 1, None)]
    assert [e.splitlines()[0] for e in errors] == [
        "t.save:5:4: error: No chain/target/match by that name.",
        "t.save:6:12: error: invalid mask `33' specified"]


def iptables_counters(packets, octets):
    from fwmigrate.ir import Counters
    return Counters(packets, octets)


def test_rules_of_one_shape_share_their_matches_and_target():
    # the translator's caches are keyed by identity: lines with the same values must give
    # the same objects, also without interning them by value
    text = "\n".join(["*filter", ":ACL1 - [0:0]"] + [
        f"-A ACL1 -s 10.0.0.{i}/32 -p tcp -m tcp --dport {22 + i % 2} -j LOG --log-prefix p{i % 2}"
        for i in range(1, 9)] + ["COMMIT", ""])
    ruleset, _where, errors = _read(text, True)
    assert not errors
    rules = ruleset.tables[0].chain("ACL1").rules
    assert len({id(r.matches) for r in rules}) == 2
    assert len({id(r.target) for r in rules}) == 2
    assert rules[0].matches is rules[2].matches and rules[1].target is rules[3].target


@pytest.mark.parametrize("first, second", [
    # a chain whose interfaces are limited, after a user chain of the same first look
    ("-A ACL1 -o eth0 -j ACCEPT", "-A INPUT -o eth0 -j ACCEPT"),
    # a value that is a value flag: the next word is its value, so the shape differs
    ("-A ACL1 -m comment --comment x -s 10.0.0.1 -j ACCEPT",
     "-A ACL1 -m comment --comment -s -s 10.0.0.1 -j ACCEPT"),
    # another word where the first line has no value (same length and even words)
    ("-A ACL1 -p tcp -m tcp --dport 53 -j ACCEPT", "-A ACL1 -p udp -m udp --dport 53 -j ACCEPT"),
    # a jump to a chain that is missing, then to a built-in one
    ("-A ACL1 -p tcp -j ACL1", "-A ACL1 -p tcp -j ACL2"),
    ("-A ACL1 -p tcp -j ACL1", "-A ACL1 -p tcp -j INPUT"),
])
def test_fast_path_tells_apart_lines_of_one_first_look(first, second):
    # the first line twice: the second time puts its template under its first look
    text = "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":ACL1 - [0:0]", first, first, second,
                      "COMMIT", ""])
    fast = _read(text, True)
    assert fast == _read(text, False)
    assert len(fast[1]) + len(fast[2]) == 3      # each line is a rule or an error
