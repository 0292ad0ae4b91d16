"""Every error names file:line:col, shows the line with a caret, and is collected with the rest."""

import re

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError


def errors(text, name="fw.sh", **options):
    with pytest.raises(FwmigrateError) as info:
        convert(text, name, ConvertOptions(**options))
    return [(str(d.loc), d.message) for d in info.value.diagnostics]


SCRIPT_CASES = [
    # (script, expected location, expected message fragment)
    ("iptables -A INPUT -p tcp --dprot 22 -j ACCEPT\n", "fw.sh:1:26", 'unknown option "--dprot"'),
    ("iptables -A INPUT -p tcp --dport 99999 -j ACCEPT\n", "fw.sh:1:34",
     "invalid port/service `99999'"),
    ("\n\niptables -A NOPE -j ACCEPT\n", "fw.sh:3:13", "No chain/target/match by that name."),
    ("iptables -N A\niptables -I A 3 -j ACCEPT\n", "fw.sh:2:15", "Index of insertion too big."),
    ("iptables -N A\niptables -D A 1\n", "fw.sh:2:15", "Index of deletion too big."),
    ("iptables -N A\niptables -R A 1 -j DROP\n", "fw.sh:2:15", "Index of replacement too big."),
    ("iptables -D INPUT -j DROP\n", "fw.sh:1:1", "Bad rule (does a matching rule exist"),
    ("iptables -N A\niptables -A INPUT -j A\niptables -X A\n", "fw.sh:3:13", "Too many links."),
    ("iptables -N A\niptables -A A -j DROP\niptables -X A\n", "fw.sh:3:13",
     "Directory not empty."),
    ("iptables -N A\niptables -N A\n", "fw.sh:2:13", "Chain already exists."),
    ("iptables -N LOG\n", "fw.sh:1:13", "chain name may not clash with target name"),
    ("iptables -P A DROP\n", "fw.sh:1:13", "Bad built-in chain name."),
    ("iptables -P INPUT REJECT\n", "fw.sh:1:19", "Bad policy name."),
    ("iptables -N A\niptables -N B\niptables -A A -j B\niptables -A B -j A\n"
     "iptables -A INPUT -j A\n", "fw.sh:5:1", "Too many levels of symbolic links."),
    ("iptables -A INPUT -m nosuch -j ACCEPT\n", "fw.sh:1:22", "Couldn't load match `nosuch'"),
    ("iptables -A INPUT -m udplite -j ACCEPT\n", "fw.sh:1:22",
     "-m udplite is not supported by fwmigrate yet"),
    ("iptables -A INPUT -j ULOG\n", "fw.sh:1:22",
     "-j ULOG is not supported by fwmigrate yet"),
    ("  iptables -A INPUT \\\n     -p tcp --dport bad -j ACCEPT\n", "fw.sh:2:21",
     "invalid port/service `bad'"),
    ("if true; then iptables -F; fi\n", "fw.sh:1:1", "cannot evaluate an if statement"),
    ("iptables -A INPUT -s $(cat /etc/allowed) -j ACCEPT\n", "fw.sh:1:22",
     "command substitution"),
    ("iptables -A INPUT -i $WAN -j ACCEPT\n", "fw.sh:1:22", "variable `WAN' is not set"),
    ("iptables -A INPUT -s $1 -j ACCEPT\n", "fw.sh:1:22", "depends on how the script is run"),
    ("frobnicate --now\n", "fw.sh:1:1", "unknown command `frobnicate'"),
    # JamesAri/bsa-notes: a file's path on a line of its own; the command is the whole word
    ("/etc/network/interfaces\n", "fw.sh:1:1", "unknown command `/etc/network/interfaces'"),
    ("iptables-restore < rules.v4\n", "fw.sh:1:1", "cannot follow without running it"),
    ("echo 'unterminated\n", "fw.sh:1:6", "unterminated single-quoted string"),
]


@pytest.mark.parametrize("script,where,message", SCRIPT_CASES, ids=[c[2] for c in SCRIPT_CASES])
def test_script_error_location(script, where, message):
    found = errors(script)
    assert any(loc == where and message in text for loc, text in found), found


def test_all_errors_of_a_file_are_reported():
    script = ("iptables -A INPUT -p tcp --dprot 22 -j ACCEPT\n"
              "iptables -A INPUT -j NOPE\n"
              "iptables -P INPUT MAYBE\n")
    found = errors(script)
    assert [loc for loc, _ in found] == ["fw.sh:1:26", "fw.sh:2:22", "fw.sh:3:19"]


def test_error_shows_line_caret_and_hint():
    with pytest.raises(FwmigrateError) as info:
        convert("iptables -A INPUT -p tcp --dprot 22 -j ACCEPT\n", "fw.sh", ConvertOptions())
    rendered = info.value.render()
    assert rendered.splitlines() == [
        'fw.sh:1:26: error: unknown option "--dprot"',
        "    iptables -A INPUT -p tcp --dprot 22 -j ACCEPT",
        "                             ^",
        "  hint: did you mean --dport?",
    ]


SAVE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
{rules}
COMMIT
"""

SAVE_CASES = [
    ("-A INPUT -p tcp --dprot 22 -j ACCEPT", "r.save:5:17", 'unknown option "--dprot"'),
    ("-A INPUT -s 10.0.0.0/40 -j DROP", "r.save:5:13", "invalid mask `40'"),
    ("-A NOPE -j DROP", "r.save:5:4", "No chain/target/match by that name."),
    ("[1:2] -A INPUT -j NOPE", "r.save:5:19", "Couldn't load target `NOPE'"),
    ('-A INPUT -m comment --comment "open -j ACCEPT', "r.save:5:31", "unterminated quoted string"),
    ("-A INPUT -t nat -j ACCEPT", "r.save:5:10", "cannot be used in iptables-restore"),
    (":BAD ACCEPT [0:0]", "r.save:5:6", "cannot have a policy"),
]


@pytest.mark.parametrize("line,where,message", SAVE_CASES, ids=[c[2] for c in SAVE_CASES])
def test_save_error_location(line, where, message):
    found = errors(SAVE.format(rules=line), "r.save")
    assert any(loc == where and message in text for loc, text in found), found


def test_save_structure_errors():
    found = errors("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n", "r.save")
    assert ("r.save:4:1", "table `filter' (line 1) is never committed") in found
    found = errors("-A INPUT -j ACCEPT\n*filter\nCOMMIT\n", "r.save", source_kind="save")
    assert ("r.save:1:1", "rule or chain outside a table") in found
    found = errors("*bogus\nCOMMIT\n", "r.save")
    assert found[0][0] == "r.save:1:2" and "unknown table `bogus'" in found[0][1]


def test_untranslatable_rule_is_named_not_dropped():
    found = errors("iptables -A INPUT -m helper --helper ftp -j DROP\n")
    assert found[0][0] == "fw.sh:1:1"
    assert "cannot translate `-A INPUT -m helper --helper ftp -j DROP'" in found[0][1]


def test_columns_after_option_equals_value():
    found = errors("iptables -A INPUT -p tcp --dport=22 --sport 99999 -j ACCEPT\n")
    assert found[0][0] == "fw.sh:1:45"
    found = errors(SAVE.format(rules="-A INPUT -p tcp --dport=22 -j BOGUS"), "r.save")
    assert found[0][0] == "r.save:5:31"
    found = errors("iptables -A INPUT -p tcp --dport=99999 -j ACCEPT\n")
    assert found[0][0] == "fw.sh:1:34"


def test_save_file_lines_end_only_at_newline():
    text = SAVE.format(
        rules='-A INPUT -m comment --comment "a\u2028b" -j ACCEPT\n-A INPUT -j BOGUS')
    found = errors(text, "r.save")
    assert found == [("r.save:6:13", "Couldn't load target `BOGUS':No such file or directory")]


def test_replace_with_two_addresses_is_refused_after_a_cached_shape():
    found = errors("iptables -A FORWARD -j ACCEPT\niptables -R FORWARD 1 -s 1.1.1.1 -j DROP\n"
                   "iptables -R FORWARD 1 -s 2.2.2.2,3.3.3.3 -j DROP\n")
    assert found == [("fw.sh:3:23", "Replacement rule does not specify a unique address")]


def test_an_en_dash_pasted_for_two_hyphens_gets_a_hint():
    # Doboo/manyuser d7firewall.sh: `–dport` as pasted from a web page; iptables says
    # "Bad argument" and so do we, with a hint at the character
    from fwmigrate.errors import Diagnostics
    from fwmigrate.frontends.shell_script import read_script
    diags = Diagnostics()
    read_script("iptables -A OUTPUT -p tcp –dport 25 -j DROP\n", "fw.sh", diags)
    [error] = diags.errors
    assert error.message == "Bad argument `–dport'" and str(error.loc) == "fw.sh:1:27"
    assert "en dash" in error.hint and "--dport" in error.hint


# a test before the conntrack test that must not run twice: with it, the rule is not
# written as the two rules its refusal names (see test_ct_split.py for those that are)
RANDOM = "-m statistic --mode random --probability 0.5 "


@pytest.mark.parametrize("states, hint", [
    # kube-proxy's KUBE-FIREWALL rule (pradeepgadde/blog's dump): the two rules that say it
    # (iptables' --ctstatus takes no SNAT/DNAT, so the entry rule has two conntrack matches)
    ("RELATED,ESTABLISHED,DNAT", "one with -m conntrack --ctstate INVALID,UNTRACKED, and one "
                                 "with -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT"),
    ("INVALID,SNAT", "one with -m conntrack --ctstate UNTRACKED, and one with -m conntrack "
                     "--ctstate NEW,ESTABLISHED,RELATED -m conntrack ! --ctstate SNAT"),
])
def test_an_inverted_nat_ctstate_is_refused_with_the_rules_that_say_it(states, hint):
    error, rules = _refused_with_rules(
        "-A INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 " + RANDOM + "-m conntrack ! --ctstate {} "
        "-j DROP", states)
    assert "! --ctstate SNAT/DNAT" in error.message and hint in error.hint, error.hint
    assert rules and "ct state" in convert(rules, "fw.sh", ConvertOptions()).output
    if "two rules" in error.hint:       # fwmigrate writes them itself, but not after a draw
        assert "random" in error.message and "jumps to" in error.hint, error


@pytest.mark.parametrize("test, nft", [
    ("! --ctstate NEW,ESTABLISHED,RELATED,DNAT", "ct state ! established,related,new"),
    ("--ctstate NEW,ESTABLISHED,RELATED,SNAT", "ct state established,related,new")])
def test_with_every_entry_state_the_nat_bits_are_left_out_even_after_a_draw(test, nft):
    # a packet with an entry is NEW, ESTABLISHED or RELATED: the states alone decide, in one
    # rule, so the random draw before it runs once (tests/test_ct_state_kernel.py)
    out = convert(f"iptables -A INPUT {RANDOM}-m conntrack {test} -j DROP\n", "fw.sh",
                  ConvertOptions()).output
    assert f"< 1073741824 {nft} drop" in out and "ct status" not in out, out


def _refused_with_rules(rule: str, states: str) -> tuple:
    """The refusal of `rule` with these states, and a script of the rules its hint names
    instead (each replacing the rule's conntrack test)."""
    with pytest.raises(FwmigrateError) as info:
        convert(f"iptables {rule.format(states)}\n", "fw.sh", ConvertOptions())
    [error] = info.value.diagnostics
    test = rule[rule.index("-m conntrack"):rule.index("{}") + 2]
    written = re.findall(r"-m conntrack --ctstate [A-Z]+(?:,[A-Z]+)*"
                         r"(?: -m conntrack !? ?--ctstate [A-Z]+(?:,[A-Z]+)*)?", error.hint)
    return error, "".join(f"iptables {rule.replace(test, w)}\n" for w in written)


@pytest.mark.parametrize("states, hint", [
    ("NEW,DNAT", "one with -m conntrack --ctstate NEW, and one with -m conntrack --ctstate "
                 "ESTABLISHED,RELATED -m conntrack --ctstate DNAT"),
    ("INVALID,SNAT,DNAT", "one with -m conntrack --ctstate INVALID, and one with -m conntrack "
                          "--ctstate NEW,ESTABLISHED,RELATED -m conntrack --ctstate SNAT,DNAT"),
])
def test_a_nat_ctstate_mixed_with_states_names_two_rules_that_do_not_overlap(states, hint):
    # "either": two rules, one per part, would both act on a NEW connection that was DNATed
    error, rules = _refused_with_rules("-A FORWARD " + RANDOM + "-m conntrack --ctstate {} "
                                       "-j LOG", states)
    assert "mixing SNAT/DNAT" in error.message and hint in error.hint, error.hint
    assert rules.count("\n") == 2
    assert "ct status" in convert(rules, "fw.sh", ConvertOptions()).output


def test_an_option_of_a_target_iptables_does_not_know_says_why():
    # EFForg/OpenWireless: `-j ACCOUNT --addr …` (xtables-addons). iptables 1.8.9 reads -j
    # ACCOUNT as a jump to a chain, which takes no options: unknown option "--addr"
    from fwmigrate.errors import Diagnostics
    from fwmigrate.frontends.shell_script import read_script
    diags = Diagnostics()
    read_script("iptables -N ACCOUNT\niptables -I FORWARD -j ACCOUNT --addr 0.0.0.0/0\n",
                "fw.sh", diags)
    [error] = diags.errors
    assert error.message == 'unknown option "--addr"' and str(error.loc) == "fw.sh:2:32"
    assert "-j ACCOUNT" in error.hint and "chain" in error.hint and "xtables-addons" in error.hint


def test_an_empty_word_is_a_bad_argument_not_a_crash():
    # fuzz: `fwmigrate translate -A INPUT "" -j ACCEPT` raised IndexError in the dash hint
    from click.testing import CliRunner

    from fwmigrate.cli import main
    result = CliRunner().invoke(main, ["translate", "-A", "INPUT", "", "-j", "ACCEPT"])
    assert result.exit_code == 1, result.exception
    assert "error: Bad argument `'" in result.stderr


def test_a_byte_that_is_not_utf8_is_an_error_where_it_is():
    # fuzz: a latin-1 byte in a comment made convert and restore-translate die with
    # UnicodeEncodeError when writing; nft reads UTF-8 only, so say where the byte is
    text = b"# caf\xe9 is fine in a comment\niptables -A INPUT -m comment --comment x\xff " \
           b"-j ACCEPT\n".decode("utf-8", "surrogateescape")
    assert errors(text) == [("fw.sh:2:40", "byte 0xFF is not UTF-8 text")]
    save = SAVE.format(rules='# caf\udce9\n-A INPUT -m comment --comment "a\udcffb" -j ACCEPT')
    assert errors(save, "r.save") == [("r.save:6:33", "byte 0xFF is not UTF-8 text")]
    assert errors(SAVE.format(rules=":X\udcff - [0:0]"), "r.save") == \
        [("r.save:5:3", "byte 0xFF is not UTF-8 text")]


def test_cli_reports_a_byte_that_is_not_utf8_and_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from fwmigrate.cli import main
    source = tmp_path / "r.save"
    source.write_bytes(SAVE.format(rules='-A INPUT -m comment --comment "a\\xffb" -j ACCEPT')
                       .encode().replace(b"\\xff", b"\xff"))
    out = tmp_path / "out.nft"
    for command in (["convert", str(source), "-o", str(out)],
                    ["restore-translate", "-f", str(source)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.exception
        assert f"{source}:5:33: error: byte 0xFF is not UTF-8 text" in result.stderr
        assert "hint: nftables reads UTF-8 only" in result.stderr
    assert list(tmp_path.iterdir()) == [source]


def test_ipset_lines_with_a_byte_that_is_not_utf8(tmp_path):
    from fwmigrate.errors import Diagnostics
    from fwmigrate.frontends.ipset_save import read_ipsets
    diags = Diagnostics()
    read_ipsets('create s hash:ip comment\nadd s 1.2.3.4 comment "\udcff"\n'
                'create t\udce9 hash:ip\n', "sets", diags)
    assert [(str(d.loc), d.message) for d in diags.errors] == [
        ("sets:2:23", "byte 0xFF is not UTF-8 text"), ("sets:3:8", "byte 0xE9 is not UTF-8 text")]
    found = errors("ipset create t\udce9 hash:ip\n")
    assert found == [("fw.sh:1:14", "ipset: byte 0xE9 is not UTF-8 text")]


def test_an_output_that_cannot_be_written_leaves_no_temporary_file(tmp_path):
    # fuzz: an exception other than OSError while writing left out.nft.fwmigrate-tmp behind
    from fwmigrate.cli import _write
    out = tmp_path / "out.nft"
    with pytest.raises(UnicodeEncodeError):
        _write(str(out), "comment \udcff\n")
    assert list(tmp_path.iterdir()) == []


def _cli(tmp_path, name, data, *command):
    from click.testing import CliRunner

    from fwmigrate.cli import main
    source = tmp_path / name
    source.write_bytes(data)
    return str(source), CliRunner().invoke(main, [command[0], str(source), *command[1:]])


def test_the_cli_reads_a_file_as_it_is_a_carriage_return_is_no_line_break(tmp_path):
    # fuzz: the CLI read files with universal newlines, so a lone CR became a line break (the
    # shell and iptables-restore end lines only at LF): the lines around it were read as other
    # commands and every later error named the wrong line
    path, result = _cli(tmp_path, "r.save", SAVE.format(
        rules='-A INPUT -m comment --comment "a\rb" -j ACCEPT\n-A INPUT -j BOGUS').encode(),
        "convert")
    assert result.exit_code == 1, result.exception
    assert result.stderr.startswith(f"{path}:6:13: error: Couldn't load target `BOGUS'")
    path, result = _cli(tmp_path, "fw.sh", b"iptables -A INPUT -p tcp --dport 22\r -j DROP\n"
                        b"iptables -A INPUT -j BOGUS\n", "convert")
    assert result.exit_code == 1, result.exception
    assert result.stderr.startswith(f"{path}:1:36: error: unexpected character U+000D")


def test_a_script_with_windows_line_endings_gets_a_hint(tmp_path):
    # the shell does not run such a script either (`ACCEPT\r' is no target); say what it is
    path, result = _cli(tmp_path, "fw.sh", b"iptables -A INPUT -j ACCEPT\r\n", "convert")
    assert result.exit_code == 1, result.exception
    assert result.stderr.startswith(f"{path}:1:28: error: unexpected character U+000D")
    assert "hint: the file has Windows (CR LF) line endings" in result.stderr


def test_a_value_built_up_without_end_is_refused_quickly():
    # fuzz: `A=$A$A` in a 40-step loop doubled the value to 2**40 characters: no end in sight
    import time
    start = time.monotonic()
    found = errors("A=x\nfor i in " + " ".join(["1"] * 40) + "; do A=$A$A; done\n"
                   "iptables -A INPUT -m comment --comment \"$A\" -j ACCEPT\n")
    assert time.monotonic() - start < 10
    [(where, message)] = found
    assert where == "fw.sh:3:41" and message.startswith(
        "variable `A' has no known value (line 2: the value grows past 16,777,216 characters")


def test_loops_that_would_run_for_hours_are_stopped(monkeypatch):
    # 1000**3 runs of the innermost body: hours. The real bound is 1,000,000 runs (8 s of
    # `true`); a smaller one here keeps the test fast
    from fwmigrate.frontends import shell_script
    monkeypatch.setattr(shell_script, "MAX_LOOP_RUNS", 10_000)
    found = errors('L="' + " ".join(map(str, range(1000))) + '"\nfor a in $L; do for b in $L; '
                   'do for c in $L; do true; done; done; done\niptables -A INPUT -j ACCEPT\n')
    assert found == [("fw.sh:2:33", "the script's loops run more than 10,000 times in all; "
                                    "fwmigrate stops following them")]


def test_an_nft_file_given_to_convert_is_named_as_such():
    # fuzz: convert on an nft file said "unexpected `}'" somewhere in the middle
    text = "#!/usr/sbin/nft -f\n# rules\n\ntable ip t {\n  chain c {\n    accept\n  }\n}\n"
    assert errors(text, "fw.nft") == [("fw.nft:4:1", "this is an nftables file, not iptables "
                                                     "input")]
    assert errors('\n{"nftables": []}\n', "fw.json") == [
        ("fw.json:2:1", "this is nftables JSON, not iptables input")]


def test_a_table_name_longer_than_nft_takes_is_refused():
    # fuzz: --table with 256 characters was written; the kernel refuses it (NFT_NAME_MAXLEN)
    with pytest.raises(FwmigrateError) as info:
        convert("iptables -A INPUT -j ACCEPT\n", "fw.sh", ConvertOptions(table="a" * 256))
    assert info.value.diagnostics[0].message == \
        "--table: a table name has at most 255 characters (this one has 256)"
    convert("iptables -A INPUT -j ACCEPT\n", "fw.sh", ConvertOptions(table="a" * 255))


@pytest.mark.parametrize("define", ["A B=1", "1A=x", "A-B=1", "=x"])
def test_a_define_that_is_no_shell_variable_name_is_refused(define):
    # fuzz: -D 'A B=1' was taken and silently never used (no script can say $A B)
    from click.testing import CliRunner

    from fwmigrate.cli import main
    result = CliRunner().invoke(main, ["convert", "-", "-D", define],
                                input="iptables -A INPUT -j ACCEPT\n")
    assert result.exit_code == 2, result.output
    assert "Invalid value for --define" in result.stderr


def _chain_of_chains(count: int) -> str:
    chains = [f"C{i}" for i in range(count)]
    return "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                      ":OUTPUT ACCEPT [0:0]", *[f":{c} - [0:0]" for c in chains],
                      "-A INPUT -j C0",
                      *[f"-A {a} -p tcp --dport {i + 1} -j {b}"
                        for i, (a, b) in enumerate(zip(chains, chains[1:], strict=False))],
                      "COMMIT", ""])


def test_jumps_deeper_than_nft_follows_are_an_error_at_the_jump():
    # fuzz: 16 chains in a row converted, and nft refused the file (Too many links); 3,000
    # made the loop check die with RecursionError
    convert(_chain_of_chains(15), "d.save", ConvertOptions())
    found = errors(_chain_of_chains(16), "d.save")
    assert len(found) == 1 and found[0][0] == "d.save:36:1", found
    assert found[0][1].startswith("chain C15 is 16 jumps below a base chain (INPUT → C0 → ")
    found = errors(_chain_of_chains(3000), "d.save")
    assert found[0][0] == "d.save:3020:1"


def test_a_script_adding_jumps_does_not_recheck_the_whole_table_each_time(monkeypatch):
    # fuzz: 3,000 `iptables -A Cn -j Cn+1` took 10 s: every jump rule re-walked every chain
    from fwmigrate.frontends import jump_loops
    walks = []
    whole = jump_loops.jump_graph
    monkeypatch.setattr(jump_loops, "jump_graph", lambda t: walks.append(1) or whole(t))
    script = "".join(f"iptables -N C{i}\n" for i in range(300)) + "".join(
        f"iptables -A C{i} -j C{i + 1}\n" for i in range(299)) + "iptables -A INPUT -j C0\n" \
        "iptables -A C299 -j C0\n"
    assert errors(script) == [("fw.sh:601:1", "Too many levels of symbolic links.")]
    assert len(walks) <= 1          # only to learn whether a built-in chain reaches the loop


def test_an_unterminated_quote_in_an_ipset_file_is_an_error_where_it_is():
    # fuzz: it escaped read_ipsets as an OptionError (an internal error for the user)
    from fwmigrate.errors import Diagnostics
    from fwmigrate.frontends.ipset_save import read_ipsets
    diags = Diagnostics()
    read_ipsets('create s hash:ip comment\nadd s 1.2.3.4 comment "open\nadd s 1.2.3.5\n',
                "sets", diags)
    assert [(str(d.loc), d.message) for d in diags.errors] == [
        ("sets:2:23", "unterminated quoted string")]


def test_a_listed_rule_without_statements_is_read_as_a_rule_that_only_counts():
    # fuzz: nft lists a rule with no statements without "expr" (a JSON batch can add one);
    # the reader died with KeyError 'expr'
    from fwmigrate.errors import Diagnostics
    from fwmigrate.frontends.nft_ruleset import read_nft_json
    listing = {"nftables": [
        {"table": {"family": "ip", "name": "t", "handle": 1}},
        {"chain": {"family": "ip", "table": "t", "name": "INPUT", "handle": 1, "type": "filter",
                   "hook": "input", "prio": 0, "policy": "accept"}},
        {"rule": {"family": "ip", "table": "t", "chain": "INPUT", "handle": 2}}]}
    diags = Diagnostics()
    ruleset = read_nft_json(listing, "l.json", diags)
    assert not diags.errors
    [rule] = [r for t in ruleset.tables for c in t.chains if c.name == "INPUT" for r in c.rules]
    assert rule.target is None and rule.matches == ()


def test_json_whose_nftables_is_not_a_list_is_no_batch():
    from fwmigrate.verify.sources import _is_batch
    for document in ({"nftables": 0}, {"nftables": None}, {"nftables": "x"}, [], 5):
        assert _is_batch(document) is False


def test_flags_nft_lists_as_a_number_are_reported_not_a_crash():
    # fuzz: `ct state 65535` is listed as the number 65535 (bits without names); the reader
    # called .upper() on it
    from fwmigrate.frontends.nft_lift_values import Unrepresentable, flags
    assert flags(["established", "related"]) == {"ESTABLISHED", "RELATED"}
    assert flags(0) == frozenset()
    for value in (65535, [2, "new"]):
        with pytest.raises(Unrepresentable) as info:
            flags(value)
        assert "65535" in str(info.value) or "2" in str(info.value)


def test_translate_refuses_an_argument_that_is_not_utf8():
    # fuzz: `translate … --string $'\xff'` (argv decoded with surrogateescape) died with
    # UnicodeEncodeError inside the string match
    from click.testing import CliRunner

    from fwmigrate.cli import main
    result = CliRunner().invoke(main, ["translate", "-A", "INPUT", "-m", "string", "--algo",
                                       "bm", "--string", "a\udcff", "-j", "DROP"])
    assert result.exit_code == 1, result.exception
    assert "error: byte 0xFF is not UTF-8 text (at `a\\xff')" in result.stderr


NOTRACK_ANSWERS = ("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                   "-A FORWARD -p tcp -m multiport --dports 22,80,443 -j REJECT "
                   "--reject-with icmp-net-unreachable\n"
                   "-A OUTPUT -m conntrack --ctstate {state} -j DROP\nCOMMIT\n"
                   "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                   "-A PREROUTING -s 192.168.10.0/24 -j CT --notrack\n"
                   "-A OUTPUT -s 192.168.10.0/24 {proto}-j CT --notrack\nCOMMIT\n")


def test_raw_output_notrack_of_answers_to_untracked_packets_is_refused():
    # ruleset_fuzz seed 1400400023 (tests/test_differential.py shows the kernel's two answers):
    # iptables delivers the REJECT's error, nft's notrack makes it UNTRACKED and OUTPUT drops it
    with pytest.raises(FwmigrateError) as info:
        convert(NOTRACK_ANSWERS.format(state="UNTRACKED", proto=""), "a.save", ConvertOptions())
    [error] = info.value.diagnostics
    assert str(error.loc) == "a.save:12:1", error.loc
    assert "xt_CT's notrack leaves alone" in error.message and "a.save:6:1" in error.message
    # where it cannot differ, it translates
    for state, proto in (("INVALID,UNTRACKED", ""), ("UNTRACKED", "-p udp ")):
        convert(NOTRACK_ANSWERS.format(state=state, proto=proto), "a.save", ConvertOptions())
