"""Shell scripts are evaluated statically and in order, never executed."""

import pytest

from fwmigrate.backends.iptables_save import rule_line
from fwmigrate.errors import Diagnostics
from fwmigrate.frontends.shell_script import read_script


def evaluate(script, **kw):
    diags = Diagnostics()
    ruleset = read_script(script, "fw.sh", diags, **kw)
    return ruleset, diags


def rules(script, family="ip", table="filter", **kw):
    ruleset, diags = evaluate(script, **kw)
    assert not diags.errors, [d.render() for d in diags.errors]
    t = ruleset.table(family, table)
    return [rule_line(c.name, r) for c in t.chains for r in c.rules] if t else []


def test_variables_braces_defaults_and_binary_in_a_variable():
    script = """
IPT=/sbin/iptables
WAN="eth0"
$IPT -A INPUT -i ${WAN} -j ACCEPT
${IPTABLES:-iptables} -A INPUT -i "$WAN" -p tcp --dport ${PORT:=22} -j ACCEPT
/usr/sbin/iptables -A INPUT -p tcp --dport $PORT -j DROP
sudo iptables -A INPUT -j RETURN
"""
    assert rules(script) == [
        "-A INPUT -i eth0 -j ACCEPT",
        "-A INPUT -i eth0 -p tcp -m tcp --dport 22 -j ACCEPT",
        "-A INPUT -p tcp -m tcp --dport 22 -j DROP",
        "-A INPUT -j RETURN",
    ]


def test_unquoted_expansion_splits_words_quoted_does_not():
    script = ('IPT="iptables -w"\nC="my comment"\n'
              '$IPT -A INPUT -m comment --comment "$C" -j ACCEPT\n')
    assert rules(script) == ['-A INPUT -m comment --comment "my comment" -j ACCEPT']


def test_for_loops_including_over_programs():
    script = """
PORTS="80 443"
for p in 22 $PORTS; do
    iptables -A INPUT -p tcp --dport $p -j ACCEPT
done
for ipt in iptables ip6tables; do $ipt -P INPUT DROP; done
"""
    assert rules(script) == [f"-A INPUT -p tcp -m tcp --dport {p} -j ACCEPT"
                             for p in (22, 80, 443)]
    ruleset, _ = evaluate(script)
    assert ruleset.table("ip6", "filter").chain("INPUT").policy == "DROP"
    assert ruleset.table("ip", "filter").chain("INPUT").policy == "DROP"


def test_continuations_comments_and_quoting():
    script = ("# a comment\n"
              "iptables -A INPUT \\\n"
              "   -p tcp --dport 22 \\\n"
              "   -m comment --comment 'it'\\''s #not a comment' -j ACCEPT  # trailing\n")
    assert rules(script) == [
        "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"it\\'s #not a comment\" "
        "-j ACCEPT"]


def test_insert_delete_replace_in_order():
    script = """
iptables -N C
iptables -A C -j DROP
iptables -A C -s 10.0.0.1 -j ACCEPT
iptables -I C -s 10.0.0.2 -j ACCEPT
iptables -I C 2 -s 10.0.0.3 -j ACCEPT
iptables -R C 1 -s 10.0.0.4 -j ACCEPT
iptables -D C -j DROP
iptables -D C 3
"""
    assert rules(script) == ["-A C -s 10.0.0.4/32 -j ACCEPT", "-A C -s 10.0.0.3/32 -j ACCEPT"]


def test_delete_by_spec_matches_the_meaning_not_the_spelling():
    script = """
iptables -A INPUT -p tcp --dport 22 -s 10.0.0.1 -j ACCEPT
iptables -A INPUT -p tcp -m tcp --destination-port 22 -s 10.0.0.1/32 -j ACCEPT
iptables -D INPUT -s 10.0.0.1/255.255.255.255 -p tcp -m tcp --dport 22 -j ACCEPT
"""
    assert rules(script) == ["-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT"]


def test_tutorial_delete_removes_the_earlier_rule(samples_dir):
    ruleset, diags = evaluate((samples_dir / "tutorial.sh").read_text())
    assert not diags.errors
    state0 = ruleset.table("ip", "filter").chain("STATE0")
    assert [rule_line("STATE0", r) for r in state0.rules] == [
        "-A STATE0 -p udp -m udp --dport 12345 -m recent --set --name KNOCK1 "
        "--mask 255.255.255.255 --rsource -j DROP",
        "-A STATE0 -j LOGDROP"]


def test_flush_delete_zero_rename():
    script = """
iptables -N A
iptables -N B
iptables -A A -j DROP
iptables -A INPUT -j A
iptables -E A A2
iptables -F
iptables -X
iptables -Z
iptables -N KEEP
"""
    ruleset, diags = evaluate(script)
    assert not diags.errors
    assert [c.name for c in ruleset.table("ip", "filter").chains] == [
        "INPUT", "FORWARD", "OUTPUT", "KEEP"]


def test_rename_updates_jumps():
    script = "iptables -N A\niptables -A INPUT -j A\niptables -E A B\n"
    assert rules(script) == ["-A INPUT -j B"]


def test_multiple_addresses_expand_and_insert_reversed():
    script = "iptables -A INPUT -j DROP\niptables -I INPUT -s 10.0.0.1,10.0.0.2 -j ACCEPT\n"
    assert rules(script) == ["-A INPUT -s 10.0.0.2/32 -j ACCEPT",
                             "-A INPUT -s 10.0.0.1/32 -j ACCEPT", "-A INPUT -j DROP"]


def test_or_handles_failures_and_check_idiom():
    script = """
iptables -N A 2>/dev/null || true
iptables -N A 2>/dev/null || true
iptables -C INPUT -j A 2>/dev/null || iptables -A INPUT -j A
iptables -C INPUT -j A 2>/dev/null || iptables -A INPUT -j A
iptables -N B && iptables -A INPUT -j B
"""
    assert rules(script) == ["-A INPUT -j A", "-A INPUT -j B"]


def test_failure_outside_a_condition_is_an_error():
    _, diags = evaluate("iptables -N A\niptables -N A\n")
    assert [str(d.loc) for d in diags.errors] == ["fw.sh:2:13"]


def test_harmless_commands_are_noted_unknown_ones_are_errors():
    script = "#!/bin/sh\nset -e\nmodprobe ip_conntrack\necho 1 > /proc/sys/net/ipv4/ip_forward\n" \
             "sysctl -w net.ipv4.ip_forward=1\nfrobnicate\n"
    _, diags = evaluate(script)
    assert [d.message for d in diags.errors] == ["unknown command `frobnicate'"]
    assert len([d for d in diags.items if d.severity == "note"]) == 2
    assert [str(d.loc) for d in diags.items if d.severity == "warning"] == ["fw.sh:4:1",
                                                                           "fw.sh:5:1"]


def test_skip_unknown_turns_errors_into_warnings():
    script = "if [ -f x ]; then\n  iptables -F\nfi\nf() { iptables -X; }\niptables -P INPUT DROP\n"
    _, diags = evaluate(script)
    assert len(diags.errors) == 2
    ruleset, diags = evaluate(script, skip_unknown=True)
    assert not diags.errors and len(diags.warnings) == 2
    assert ruleset.table("ip", "filter").chain("INPUT").policy == "DROP"


def test_exit_stops_evaluation():
    assert rules("iptables -A INPUT -j ACCEPT\nexit 0\niptables -A INPUT -j DROP\n") == [
        "-A INPUT -j ACCEPT"]


def test_defines_supply_variables_the_script_does_not_set():
    assert rules("iptables -A INPUT -i $LAN -j ACCEPT\n", variables={"LAN": "br0"}) == [
        "-A INPUT -i br0 -j ACCEPT"]


@pytest.mark.parametrize("program,family", [("ip6tables", "ip6"), ("ip6tables-legacy", "ip6"),
                                            ("iptables-nft", "ip")])
def test_program_names(program, family):
    assert rules(f"{program} -A INPUT -j ACCEPT\n", family=family) == ["-A INPUT -j ACCEPT"]


def test_tables_and_hook_restrictions():
    script = "iptables -t nat -N FWD\niptables -t nat -A FWD -j SNAT --to-source 1.2.3.4\n" \
             "iptables -t nat -A PREROUTING -j FWD\n"
    _, diags = evaluate(script)
    assert any("SNAT target: used from hooks PREROUTING" in d.message for d in diags.errors)


def test_unsupported_rule_is_an_error_even_when_the_script_handles_failures():
    # iptables accepts these; fwmigrate cannot translate them: never a silent "handled" note
    for line in ("iptables -A INPUT -p udplite -m udplite --dport 5 -j DROP || true",
                 "iptables -A INPUT -j ULOG || :"):
        _, diags = evaluate(line + "\n")
        assert any("not supported by fwmigrate yet" in d.message for d in diags.errors), line


def test_command_v_is_a_lookup_not_a_run():
    script = "command -v iptables >/dev/null || exit 1\niptables -P INPUT DROP\n"
    ruleset, diags = evaluate(script)
    assert not diags.errors
    assert ruleset.table("ip", "filter").chain("INPUT").policy == "DROP"


def test_nested_default_expansions():
    script = "WAN=eth0\niptables -A INPUT -i ${WAN:-${DEF}} -j DROP\n" \
             'iptables -A INPUT -i "${LAN:-${WAN}x}" -j DROP\n'
    assert rules(script) == ["-A INPUT -i eth0 -j DROP", "-A INPUT -i eth0x -j DROP"]


def test_here_document_bodies_are_not_commands():
    script = ("cat > /usr/local/bin/open-web <<'END'\n"
              "iptables -I INPUT -p tcp --dport 80 -j ACCEPT\n"
              "END\n"
              "cat <<-EOF > /dev/null\n\tiptables -F\n\tEOF\n"
              "iptables -A INPUT -j DROP\n")
    assert rules(script) == ["-A INPUT -j DROP"]


def test_only_newline_ends_a_line():
    script = "iptables -A INPUT -m comment --comment 'a\u2028b\x0cc' -j ACCEPT\n" \
             "iptables -A INPUT -j BOGUS\n"
    _, diags = evaluate(script)
    assert [str(d.loc) for d in diags.errors] == ["fw.sh:2:22"]


def test_a_script_without_iptables_commands_is_an_error():
    from fwmigrate.convert import ConvertOptions, convert
    from fwmigrate.errors import FwmigrateError
    with pytest.raises(FwmigrateError, match="no iptables commands"):
        convert("echo hello\n", "fw.sh", ConvertOptions())


# --- found in published scripts (tests/realworld) -------------------------------------------

def test_an_unknowable_assignment_is_an_error_only_where_the_value_is_used():
    # a148ru/puppet_files: `PATH="$PATH:/usr/sbin"` before plain iptables lines; the value of
    # PATH (and of INET_ADDRESS=$(ifconfig …)) never reaches a rule here
    script = ('PATH="$PATH:/usr/sbin"\nADDR=$(hostname -i)\niptables -A INPUT -j ACCEPT\n'
              'iptables -A INPUT -d $ADDR -j DROP\n')
    _, diags = evaluate(script)
    assert [str(d.loc) for d in diags.errors] == ["fw.sh:4:22"]
    message = diags.errors[0].message
    assert "ADDR" in message and "line 2" in message and "command substitution" in message


def test_harmless_commands_need_not_have_known_arguments():
    # BrentonEarl/Iptables-Script echoes its variables; DavidTWang/iptables-firewall runs `clear`
    script = 'clear\necho "firewall for $IFACE"\niptables -A INPUT -j ACCEPT\n'
    _, diags = evaluate(script)
    assert not diags.errors, [d.render() for d in diags.errors]


@pytest.mark.parametrize("substitution", [
    "$(hostname -i)", "`ifconfig eth0 | grep 'inet addr'`", "$(( 1 + 2 ))",
    "\"$(ip r | awk '/default/{print $5}')\"", "$(echo $(cat /etc/x) y)"])
def test_a_command_substitution_with_spaces_is_one_word(substitution):
    # crag-h4k-style `INET_ADDRESS=$(sudo ifconfig wlan1 | grep …)`: the spaces inside must not
    # end the word (the rest was read as a command: "unknown command `-i'")
    _, diags = evaluate(f"ADDR={substitution}\niptables -A INPUT -j ACCEPT\n")
    assert not diags.errors, [d.render() for d in diags.errors]


def test_an_unknown_command_says_how_to_step_over_it():
    # sakz/install_ss ends with `service iptables save`: the hint must say what to do about it
    _, diags = evaluate("iptables -A OUTPUT -p tcp --dport 25 -j DROP\nservice iptables save\n")
    [error] = diags.errors
    assert error.message == "unknown command `service'" and str(error.loc) == "fw.sh:2:1"
    assert "--skip-unknown" in error.hint


def test_a_refusal_inside_a_loop_is_reported_once():
    # an `if` in `for x in '' 6` (a published ip${x}tables owner script) was listed twice
    script = "for x in '' 6; do\n  if true; then ip${x}tables -F; fi\ndone\niptables -F\n"
    _, diags = evaluate(script)
    assert [str(d.loc) for d in diags.errors] == ["fw.sh:2:3"]


def test_shift_is_harmless():
    _, diags = evaluate("shift 3\niptables -F\n")
    assert not diags.errors


@pytest.mark.parametrize("silenced", ["2>/dev/null", ">/dev/null 2>&1", "2> /dev/null"])
def test_a_failure_the_script_silences_is_a_note_unless_errexit(silenced):
    # delete-then-add, the idempotent idiom of many published scripts (e.g. a captive portal's
    # `iptables -t nat -D vrauth … 2>/dev/null`): the shell carries on after the failed delete
    script = f"iptables -D INPUT -j DROP {silenced}\niptables -A INPUT -j DROP\n"
    assert rules(script) == ["-A INPUT -j DROP"]
    for errexit in ("set -e\n", "set -eu\n", "set -o errexit\n", "#!/bin/sh -e\n"):
        _, diags = evaluate(errexit + script)   # the script stops at the failure
        assert [d.loc.line for d in diags.errors] == [2], errexit


def test_an_unsilenced_failure_stays_an_error():
    _, diags = evaluate("iptables -D INPUT -j DROP\niptables -A INPUT -j DROP\n")
    assert [str(d.loc) for d in diags.errors] == ["fw.sh:1:1"]


@pytest.mark.parametrize("module", ["nf_conntrack_ftp", "nf_nat_ftp", "ip_conntrack_ftp",
                                    "ip_nat_ftp", "ip_nat_irc"])
def test_loading_a_helper_module_is_warned_about_old_names_too(module):
    # middle2tw/middle2 scripts/nat.sh: `modprobe ip_nat_ftp`, the pre-2.6.20 name of nf_nat_ftp
    _, diags = evaluate(f"modprobe {module}\niptables -F\n")
    assert [str(d.loc) for d in diags.warnings if d.severity == "warning"] == ["fw.sh:1:1"]


def test_ansi_c_quoting_is_refused_not_misread():
    # bash reads $'a b' as `a b', dash as `$a b': it was written as the comment "$a b"
    _, diags = evaluate("iptables -A INPUT -m comment --comment $'a b' -j ACCEPT\n")
    [error] = diags.errors
    assert str(error.loc) == "fw.sh:1:40" and "$'" in error.message and error.hint


def test_arithmetic_expansion_is_named_as_such():
    _, diags = evaluate("iptables -A INPUT -p tcp --dport $((8000+1)) -j ACCEPT\n")
    [error] = diags.errors
    assert "arithmetic" in error.message and "command substitution" not in error.message


@pytest.mark.parametrize("script,col,name", [
    ("iptables -A INPUT\u00a0-j ACCEPT\n", 18, "NO-BREAK SPACE"),
    ("\ufeffiptables -A INPUT -j ACCEPT\n", 1, "ZERO WIDTH NO-BREAK SPACE")])
def test_an_invisible_character_is_named(script, col, name):
    # pasted from a web page or saved by an editor with a byte order mark; the shell fails too
    _, diags = evaluate(script)
    [error] = diags.errors
    assert error.loc.col == col and name in error.message + (error.hint or "")


def test_bash_arrays():
    # bThiiago/Shell-Script, rodrigocamargo854/scripts_bash_v1: PORTS=(…) and for p in
    # "${PORTS[@]}" (each element one word, even quoted; unquoted, split again)
    script = """
PORTS=("137" 22 \\
       443)  # a comment
NAMES=(ssh "my web")
for p in ${PORTS[@]}; do iptables -A INPUT -p tcp --dport $p -j DROP; done
for n in "${NAMES[@]}"; do iptables -A INPUT -m comment --comment "$n" -j ACCEPT; done
iptables -A INPUT -p tcp --dport ${PORTS[2]} -j REJECT
iptables -A INPUT -p tcp --dport $PORTS -m comment --comment "${#NAMES[@]} ${NAMES[*]}"
for n in ${NAMES[*]}; do iptables -A OUTPUT -m comment --comment $n; done
"""
    assert rules(script) == [
        *[f"-A INPUT -p tcp -m tcp --dport {p} -j DROP" for p in (137, 22, 443)],
        "-A INPUT -m comment --comment ssh -j ACCEPT",
        '-A INPUT -m comment --comment "my web" -j ACCEPT',
        "-A INPUT -p tcp -m tcp --dport 443 -j REJECT --reject-with icmp-port-unreachable",
        '-A INPUT -p tcp -m tcp --dport 137 -m comment --comment "2 ssh my web"',
        *[f"-A OUTPUT -m comment --comment {n}" for n in ("ssh", "my", "web")],
    ]


@pytest.mark.parametrize("word", ['"x${A[@]}"', "${!A[@]}", "${A[$i]}"])
def test_array_forms_not_followed_are_refused(word):
    _, diags = evaluate(f"A=(1 2)\ni=0\niptables -A INPUT -m comment --comment {word}\n")
    [error] = diags.errors
    assert error.loc.line == 3 and error.hint


@pytest.mark.parametrize("line", [". network.conf", "source ./iptables_config.sh"])
def test_sourcing_a_file_says_what_to_do_about_its_variables(line):
    # lradaelli85/Policy-Routing: `. network.conf` sets the interfaces and networks
    _, diags = evaluate(f"{line}\niptables -A INPUT -j ACCEPT\n")
    [error] = diags.errors
    assert "runs the commands of another file" in error.message
    assert "-D NAME=VALUE" in error.hint and "--skip-unknown" in error.hint


def test_exit_with_an_unknowable_status_still_ends_the_script():
    # `exit $?` / `exit $RC` close many published scripts; the status does not matter here
    assert rules("iptables -A INPUT -j ACCEPT\nexit $?\niptables -A INPUT -j DROP\n") == [
        "-A INPUT -j ACCEPT"]


def test_short_options_with_their_value_attached():
    # getopt takes the rest of the word as the value: iptables runs `-tnat`, `-AINPUT`,
    # `-mcomment` as written (found by bench/script_fuzz.py)
    script = ("iptables -tnat -APOSTROUTING -o eth0 -j MASQUERADE\n"
              "iptables -NX\niptables -AINPUT -mcomment --comment x -gX\n"
              "iptables -vtmangle -I PREROUTING -j RETURN\n")
    assert rules(script, table="nat") == ["-A POSTROUTING -o eth0 -j MASQUERADE"]
    assert rules(script) == ['-A INPUT -m comment --comment x -g X']
    assert rules(script, table="mangle") == ["-A PREROUTING -j RETURN"]


@pytest.mark.parametrize("words, what", [
    ("-ptcp", "protocol"), ("-s10.0.0.1", "source"), ("-jACCEPT", "jump"),
    ("-vdlo", "destination"), ("-ieth0", "interface name"), ("--in-i=eth0", "interface name"),
    ("--out-interface=eth0", "interface name"), ("--jump=ACCEPT", "jump")])
def test_the_whole_word_is_the_value_of_these_options_attached(words, what):
    # iptables 1.8.9 rereads -p -s -d -i -o -j's value as the word before optind: the
    # whole `-ptcp` (refused: unknown protocol) or `-ieth0` (an interface of that name)
    _, diags = evaluate(f"iptables -A INPUT {words}\n")
    word = words.split()[-1]
    assert [d.message for d in diags.errors] == [
        f"iptables 1.8.9 takes the whole word `{word}' as the {what}" + (
            " (a rule for an interface of that name)" if "interface" in what
            else ", and refuses it")]


def test_nat_ports_with_protocol_1_not_icmpv6():
    # iptables' NAT targets take a port range with -p icmp (protocol 1, IPv6 too: the ICMP
    # id), not with -p icmpv6 (checked against iptables-legacy by bench/script_fuzz.py)
    script = ("iptables -t nat -A OUTPUT -p icmp -j REDIRECT --to-ports 8080\n"
              "iptables -t nat -A POSTROUTING -p icmp -j SNAT --to-source 1.2.3.4:1000\n")
    assert rules(script, table="nat") == [
        "-A OUTPUT -p icmp -j REDIRECT --to-ports 8080",
        "-A POSTROUTING -p icmp -j SNAT --to-source 1.2.3.4:1000"]
    assert rules(script.replace("iptables", "ip6tables").replace("1.2.3.4", "\"[::1]\""),
                 family="ip6", table="nat") == [
        "-A OUTPUT -p icmp -j REDIRECT --to-ports 8080",
        "-A POSTROUTING -p icmp -j SNAT --to-source [::1]:1000"]
    _, diags = evaluate("ip6tables -t nat -A OUTPUT -p icmpv6 -j REDIRECT --to-ports 80\n")
    assert [d.message for d in diags.errors] == [
        "Need TCP, UDP, SCTP or DCCP with port specification"]


def test_a_rule_the_kernel_refuses_for_its_hook_fails_at_its_command():
    # iptables-legacy hands the whole table to the kernel at each command, which refuses a
    # MASQUERADE reached from INPUT or PREROUTING there, leaving the table as it was
    # (found by bench/script_fuzz.py: a later -R hid the rule, and nothing was reported)
    _, diags = evaluate("iptables -t nat -A INPUT -j MASQUERADE\n"
                        "iptables -t nat -R INPUT 1 -j ACCEPT\n")
    assert [(d.loc.line, d.message) for d in diags.errors] == [
        (1, "MASQUERADE target: used from hooks INPUT, but only usable from POSTROUTING"),
        (2, "Index of replacement too big.")]        # the rule never went in
    script = ("iptables -t nat -N M\n"
              "iptables -t nat -A M -j MASQUERADE\n"
              "iptables -t nat -A PREROUTING -j M || true\n"
              "iptables -t nat -A POSTROUTING -j M\n")
    assert rules(script, table="nat") == ["-A POSTROUTING -j M", "-A M -j MASQUERADE"]
    _, diags = evaluate(script.replace(" || true", ""))
    assert [d.loc.line for d in diags.errors] == [3]
    assert "MASQUERADE target: used from hooks PREROUTING" in diags.errors[0].message


@pytest.mark.parametrize("unlink", [
    "iptables -t nat -D PREROUTING -j M", "iptables -t nat -D PREROUTING 1",
    "iptables -t nat -R PREROUTING 1 -j ACCEPT", "iptables -t nat -F PREROUTING",
    "iptables -t nat -F", "iptables -t nat -E M OLD\niptables -t nat -N M"])
def test_a_chain_no_longer_reached_from_a_hook_may_hold_what_that_hook_may_not(unlink):
    # (a MASQUERADE first, so that the record of what reaches M is kept from the start)
    script = ("iptables -t nat -A POSTROUTING -o eth9 -j MASQUERADE\n"
              "iptables -t nat -N M\niptables -t nat -A PREROUTING -j M\n" + unlink +
              "\niptables -t nat -A M -j MASQUERADE\niptables -t nat -A POSTROUTING -j M\n")
    assert "-A M -j MASQUERADE" in rules(script, table="nat")


def test_exec_runs_its_command_in_place_of_the_shell():
    # nothing after `exec iptables …` runs; `exec >log` (no command) only redirects
    script = ("exec >/tmp/fw.log 2>&1\niptables -A INPUT -j ACCEPT\n"
              "for c in A B; do exec iptables -N $c; done\niptables -A INPUT -j DROP\n")
    assert rules(script) == ["-A INPUT -j ACCEPT"]
    ruleset, _ = evaluate(script)
    assert [c.name for c in ruleset.table("ip", "filter").chains][3:] == ["A"]


BASH = "#!/bin/bash\n"


@pytest.mark.parametrize("word, fields", [
    # as bash 5.2 expands them (echo), one per line of its manual's rules
    ("{01..3}", ["01", "02", "03"]), ("{-01..2}", ["-01", "000", "001", "002"]),
    ("{10..1..3}", ["10", "7", "4", "1"]), ("{1..5..-2}", ["1", "3", "5"]),
    ("{1..3..0}", ["1", "2", "3"]), ("{0..-2}", ["0", "-1", "-2"]), ("{+1..3}", ["1", "2", "3"]),
    ("{a..e..2}", ["a", "c", "e"]), ("{1..a}", ["{1..a}"]),
    ("{a,b}{1..2}", ["a1", "a2", "b1", "b2"]),
    ("x{,y}", ["x", "xy"]), ("{a}", ["{a}"]), ("{}", ["{}"]), ("{a,b", ["{a,b"]),
    ("a{b,c}d}", ["abd}", "acd}"]), ("{{a,b}}", ["{a}", "{b}"]), ("{a,b}{", ["a{", "b{"]),
    ('"{a,b}"', ["{a,b}"]), ('{"a,b"}', ["{a,b}"]), ('{a,"b c"}', ["a", "b c"]),
    ("{$X,y}", ["p", "q", "y"]), ("\\{a,b}", ["{a,b}"]), ("{a\\,b,c}", ["a,b", "c"]),
    ("{a,{b,c}d}e", ["ae", "bde", "cde"]), ("{,}", []), ("{1...3}", ["{1...3}"]),
    ("{1,2}0.0.{1..2}", ["10.0.1", "10.0.2", "20.0.1", "20.0.2"]), ("{08..10}", ["08", "09", "10"]),
    ("${X}{1,2}", ["p", "q1", "p", "q2"]),
])
def test_brace_expansion_as_bash_does_it(word, fields):
    from fwmigrate.frontends.shell_lexer import tokenize
    from fwmigrate.frontends.shell_script import ShellEvaluator
    evaluator = ShellEvaluator(BASH, "fw.sh", Diagnostics(), variables={"X": "p q"})
    tok = [t for t in tokenize(word) if t.kind == "word"][0]
    assert [f.text for f in evaluator.expand(tok)] == fields


def test_brace_expansion_in_for_lists_and_arguments():
    # bash makes `{x,y}' two chains; read as one word it made a chain named `{x,y}'
    script = BASH + ("for c in {x,y}; do iptables -N $c; done\n"
                     "for p in {8000..8002}; do iptables -A x -p tcp --dport $p -j ACCEPT; done\n"
                     "iptables -A INPUT -s 10.0.{1,2}.0/24 -j y\n")
    ruleset, diags = evaluate(script)
    assert [c.name for c in ruleset.table("ip", "filter").chains][3:] == ["x", "y"]
    assert rules(script.rsplit("iptables -A INPUT", 1)[0]) == [
        f"-A x -p tcp -m tcp --dport {p} -j ACCEPT" for p in (8000, 8001, 8002)]
    # -s 10.0.1.0/24 10.0.2.0/24: two words, as bash passes them
    assert [(d.loc.line, d.message) for d in diags.errors] == [(4, "Bad argument `10.0.2.0/24'")]


@pytest.mark.parametrize("first_line", ["", "#!/bin/sh\n", "#!/bin/sh -e\n"])
def test_brace_expansion_is_refused_where_the_shell_may_be_dash(first_line):
    _, diags = evaluate(first_line + "for c in {x,y}; do iptables -N $c; done\n")
    assert [(d.loc.line, d.loc.col) for d in diags.errors] == [(1 + bool(first_line), 10)]
    assert "dash" in diags.errors[0].message


def test_dash_reads_braces_as_text():
    assert rules("#!/bin/dash\niptables -A INPUT -m comment --comment {a,b} -j DROP\n") == [
        '-A INPUT -m comment --comment "{a,b}" -j DROP']
    assert rules("#!/usr/bin/env bash\niptables -A INPUT -m comment --comment a{b} -j DROP\n") \
        == ['-A INPUT -m comment --comment "a{b}" -j DROP']


def test_braces_bash_does_not_expand_or_fwmigrate_does_not_follow():
    # a variable's value is not brace-expanded (that happens before variables are)
    script = BASH + "X={a,b}\niptables -N $X\n"
    ruleset, _ = evaluate(script)
    assert [c.name for c in ruleset.table("ip", "filter").chains][3:] == ["{a,b}"]
    for word, message in (("{Z..a}", "from one letter case to the other"),
                          ("{1..1000000}", "makes 1,000,000 words")):
        _, diags = evaluate(BASH + f"for p in {word}; do iptables -N c$p; done\n")
        assert [(d.loc.line, d.loc.col) for d in diags.errors] == [(2, 10)]
        assert message in diags.errors[0].message


def test_a_failing_check_ends_a_set_e_script():
    # `iptables -C` only reports, but under set -e its failure ends the script (bash stops
    # there; found by bench/script_fuzz.py); handled or without set -e, nothing happens
    script = "iptables -C INPUT -j ACCEPT\niptables -A INPUT -j DROP\n"
    _, diags = evaluate("set -e\n" + script)
    assert [(d.loc.line, d.message) for d in diags.errors] == [
        (2, "Bad rule (does a matching rule exist in that chain?).")]
    assert rules(script) == ["-A INPUT -j DROP"]
    assert rules("set -e\n" + script.replace("\n", " || true\n", 1)) == ["-A INPUT -j DROP"]


@pytest.mark.parametrize("line", [
    "iptables -N X && iptables -A INPUT -j X", "! iptables -N X",
    "iptables -N X && iptables -A INPUT -j X || true"])
def test_a_failure_an_and_or_list_tests_is_a_note(line):
    # bash does not stop (set -e or not) at a command whose status `&&`/`||`/`!` tests: the
    # script expects it may fail (`iptables -N X && iptables -A INPUT -j X`: link a chain only
    # when it is new); found by bench/script_fuzz.py
    script = "set -e\niptables -N X\n" + line + "\niptables -A INPUT -j DROP\n"
    assert rules(script) == ["-A INPUT -j DROP"]


def test_the_last_command_of_an_and_list_still_stops_a_set_e_script():
    _, diags = evaluate("set -e\niptables -N X && iptables -A INPUT -j Y\n")
    assert [d.loc.line for d in diags.errors] == [2]


def test_a_failing_exec_command_is_not_handled_by_what_follows_it():
    # `exec` replaces the shell: the `||` after it never runs, the failure ends the script
    _, diags = evaluate("iptables -N X\nexec iptables -N X || iptables -A INPUT -j DROP\n")
    assert [d.loc.line for d in diags.errors] == [2]


@pytest.mark.parametrize("command, message", [
    ("iptables -S NOPE", "No chain/target/match by that name."),
    ("iptables -L NOPE -n", "No chain/target/match by that name."),
    ("iptables -Z INPUT 1", "Index of counter too big.")])
def test_listing_a_missing_chain_and_zeroing_a_missing_rule_fail(command, message):
    # as iptables-legacy does (bench/script_fuzz.py); -S/-L of a rule past the end does not
    _, diags = evaluate(f"{command}\niptables -S INPUT 3\niptables -L INPUT 1\n")
    assert [(d.loc.line, d.message) for d in diags.errors] == [(1, message)]


@pytest.mark.parametrize("command, illegal", [
    ("-A INPUT -n -j ACCEPT", "-n"), ("-S INPUT -n", "-n"), ("-Z -x", "-x"),
    ("-I INPUT --line-numbers", "--line-numbers"), ("-L INPUT -c 1 2", "-c"),
    ("-D INPUT 1 -c 1 2", "-c"), ("-D INPUT -j ACCEPT -c 1 2", "-c"), ("-X X -n", "-n"),
    ("-F INPUT -g X", "-g"), ("-C INPUT -j ACCEPT -c 1 2", "-c")])
def test_options_iptables_takes_with_some_commands_only(command, illegal):
    # iptables-legacy 1.8.9: -n, -x, --line-numbers with -L only; -c with -A -I -R -P;
    # rule options with -A -I -R -C and -D by rule (bench/script_fuzz.py)
    _, diags = evaluate(f"iptables -N X\niptables -A INPUT -j ACCEPT\niptables {command}\n")
    assert [(d.loc.line, d.message) for d in diags.errors] == [
        (3, f"Illegal option `{illegal}' with this command")]


@pytest.mark.parametrize("command", [
    "-L INPUT --line-numbers -x -v -n", "-P INPUT ACCEPT -v -c 1 2", "-A INPUT -v -w -c 1 2",
    "-F -m comment --comment a", "-D INPUT 1 -m comment --comment a"])
def test_options_iptables_takes_or_ignores(command):
    _, diags = evaluate(f"iptables -N X\niptables -A INPUT -j DROP\niptables {command}\n")
    assert not diags.errors, [d.render() for d in diags.errors]


@pytest.mark.parametrize("command", ["-L -Z", "-Z -L", "-L INPUT -Z", "-S -Z",
                                     "-L -n -v -Z INPUT", "-Z INPUT -L FORWARD"])
def test_listing_and_zeroing_in_one_command(command):
    # iptables lists, then zeroes the counters (`iptables -L -n -v -Z`)
    assert rules(f"iptables -A INPUT -j ACCEPT\niptables {command}\n") == [
        "-A INPUT -j ACCEPT"]


@pytest.mark.parametrize("new, line, message", [
    ("ACCEPT", 2, "File exists."), ("INPUT", 2, "File exists."),
    ("-y", 2, "-E requires old-chain-name and new-chain-name"),
    ("'!y'", 2, "-E requires old-chain-name and new-chain-name"),
    # iptables-legacy renames to these, though -N refuses them: a chain named LOG (-j LOG
    # then means the target), `abc…0123' cut to 29 characters, an empty name; fwmigrate
    # refuses them as -N does (no iptables-restore file could make them)
    ("LOG", 2, "chain name may not clash with target name"),
    ("abcdefghijklmnopqrstuvwxyz0123", 2, "too long"), ("''", 2, "Invalid chain name"),
])
def test_renaming_a_chain_to_a_name_iptables_refuses_or_mangles(new, line, message):
    _, diags = evaluate(f"iptables -N X\niptables -E X {new}\n")
    assert [d.loc.line for d in diags.errors] == [line]
    assert message in diags.errors[0].message


@pytest.mark.parametrize("args", ["DROP", "INPUT -j DROP", "INPUT '!'"])
def test_a_policy_without_its_chain_or_policy_is_refused_in_iptables_words(args):
    # iptables 1.8.9: `-P DROP` takes DROP for the chain and says "-P requires a chain and a
    # policy" (dairinin/sshguard-ipset's iptables.rules has `-P DROP`); `-j` is no policy
    _, diags = evaluate(f"iptables -P {args}\n")
    assert [d.message for d in diags.errors] == ["-P requires a chain and a policy"]


@pytest.mark.parametrize("number, left", [
    ("010", [1, 2, 3, 4, 5, 6, 7, 9]), ("0x2", [1, 3, 4, 5, 6, 7, 8, 9]),
    ("+1", [2, 3, 4, 5, 6, 7, 8, 9]), ("'  3'", [1, 2, 4, 5, 6, 7, 8, 9])])
def test_rule_numbers_are_read_as_strtoul_reads_them(number, left):
    # iptables 1.8.9 reads a rule number with strtoul(…, 0): 010 is rule 8, 0x2 rule 2
    # (checked against iptables-legacy by bench/script_fuzz.py)
    script = "iptables -N X\n" + "".join(f"iptables -A X -m comment --comment r{k}\n"
                                         for k in range(1, 10))
    assert rules(script + f"iptables -D X {number}\n") == [
        f"-A X -m comment --comment r{k}" for k in left]


@pytest.mark.parametrize("command, word", [
    ("-D X 08", "08"), ("-I X 1x -j DROP", "1x"), ("-I X 00 -j DROP", "00"),
    ("-D X 0x", "0x"), ("-R X 1e1 -j DROP", "1e1")])
def test_bad_rule_numbers(command, word):
    _, diags = evaluate(f"iptables -N X\niptables -A X\niptables {command}\n")
    assert [(d.loc.line, d.message) for d in diags.errors] == [
        (3, f"Invalid rule number `{word}'")]


@pytest.mark.parametrize("command, flag", [
    ("-nL -n", "-n"), ("-L -x -x", "-x"), ("-L --line-numbers --line-numbers", "--line-numbers"),
    ("-A INPUT -c 1 2 -c 3 4", "-c")])
def test_options_iptables_takes_once(command, flag):
    _, diags = evaluate(f"iptables {command}\n")
    assert [d.message for d in diags.errors] == [f"multiple {flag} flags not allowed"]


@pytest.mark.parametrize("command", ["-L -v -v", "-A INPUT -4 -4", "-L -w -w",
                                     "-t nat -t nat -L", "-t raw -t nat -A INPUT -j ACCEPT"])
def test_options_iptables_takes_again(command):
    ruleset, diags = evaluate(f"iptables {command}\n")
    assert not diags.errors, [d.render() for d in diags.errors]
    if "-A INPUT -j" in command:        # the last -t counts
        assert ruleset.table("ip", "nat").chain("INPUT").rules


# --- pathname expansion (globs) -------------------------------------------------------------
# bash 5.2 replaces an unquoted word with `*`, `?` or a `[…]` bracket by the names of the
# files it matches in the directory the script runs in (the word stays as it is only when
# none matches); `set -f` / `set -o noglob` turns that off. In a directory holding a1, b2 and
# d:80: `echo FW* a* [ab]1 [2001:db8::1]:80 "a*" a\* [ x ]` prints `FW* a1 a1 d:80 a* a* [ x ]`,
# and `for x in *` loops over the files.

@pytest.mark.parametrize("script,loc", [
    ("iptables -A INPUT -j LOG --log-prefix FW*\n", "1:39"),
    ("iptables -A INPUT -j LOG --log-prefix [FW]\n", "1:39"),
    ("iptables -A INPUT -m comment --comment why?\n", "1:40"),
    ("ip6tables -t nat -A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1]:80\n",
     "1:64"),
    ('iptables -A INPUT -j LOG --log-prefix "FW"*\n', "1:39"),
    ("P='FW* x'\niptables -A INPUT -j LOG --log-prefix $P\n", "2:39"),
    ("for x in *; do iptables -A INPUT -i $x -j ACCEPT; done\n", "1:10"),
    ("A=(eth*)\niptables -A INPUT -i ${A[0]} -j ACCEPT\n", "2:22"),
])
def test_an_unquoted_glob_is_an_error_naming_the_word(script, loc):
    _, diags = evaluate(script)
    [error] = diags.errors
    assert str(error.loc) == f"fw.sh:{loc}"
    assert "files" in error.message
    if "A=(" in script:                 # the array's elements are globbed where it is made
        assert "line 1" in error.message
    else:
        assert "set -f" in error.hint and "quote" in error.hint


def test_an_unquoted_glob_is_skipped_with_a_warning_under_skip_unknown():
    ruleset, diags = evaluate("iptables -A INPUT -j ACCEPT\n"
                              "iptables -A INPUT -j LOG --log-prefix FW*\n", skip_unknown=True)
    assert not diags.errors and "--skip-unknown" in diags.warnings[0].message
    assert len(ruleset.table("ip", "filter").chain("INPUT").rules) == 1


@pytest.mark.parametrize("script,prefix", [
    ('iptables -A INPUT -j LOG --log-prefix "FW* "\n', "FW* "),
    ("iptables -A INPUT -j LOG --log-prefix '[FW] '\n", "[FW] "),
    ("iptables -A INPUT -j LOG --log-prefix FW\\*\n", "FW*"),
    ('P="FW*"\niptables -A INPUT -j LOG --log-prefix "$P"\n', "FW*"),
    ("P=FW*\niptables -A INPUT -j LOG --log-prefix \"$P\"\n", "FW*"),   # no globbing in X=…
    ('iptables -A INPUT -j LOG --log-prefix [a"]"1\n', "[a]1"),   # a quoted ] closes nothing
    ("iptables -A INPUT -j LOG --log-prefix [FW\n", "[FW"),
    ("set -f\niptables -A INPUT -j LOG --log-prefix FW*\n", "FW*"),
    ("set -o noglob\niptables -A INPUT -j LOG --log-prefix [FW]\n", "[FW]"),
    ("set -euf\niptables -A INPUT -j LOG --log-prefix why?\n", "why?"),
    ("#!/bin/sh -f\niptables -A INPUT -j LOG --log-prefix FW*\n", "FW*"),
])
def test_a_quoted_or_noglob_glob_is_text(script, prefix):
    assert rules(script) == [f'-A INPUT -j LOG --log-prefix "{prefix}"']


@pytest.mark.parametrize("script", [
    "set -f\nset +f\niptables -A INPUT -j LOG --log-prefix FW*\n",
    "set -o noglob\nset +o noglob\niptables -A INPUT -j LOG --log-prefix FW*\n",
])
def test_globbing_turned_back_on_is_an_error_again(script):
    _, diags = evaluate(script)
    assert [d.loc.line for d in diags.errors] == [3]


def test_brackets_of_the_test_command_and_harmless_lines_are_no_glob():
    # `[` alone is no pattern; echo's arguments never reach a rule
    _, diags = evaluate("echo setting up * now?\niptables -A INPUT -j ACCEPT\n")
    assert not diags.errors, [d.render() for d in diags.errors]


@pytest.mark.parametrize("check", [
    "ip6tables -C INPUT -p tcp --dport 2 -j LOG --log-prefix b || true",
    "ip6tables -C INPUT -p tcp --dport 1 -j LOG --log-prefix b || ip6tables -A INPUT -j DROP",
    "ip6tables -C INPUT -p tcp --dport 1 -j LOG --log-prefix b"])
def test_ip6tables_check_of_a_rule_that_differs_only_in_options_is_refused(check):
    # ip6tables-legacy 1.8.9's -C compares match and target options through a mask made for
    # an IPv4 entry (56 bytes short): `-C … --dport 2 … --log-prefix b` finds the rule written
    # with --dport 1 and prefix a, whether a rule is found depends on each extension's size
    # (bench/script_fuzz.py, seed 2700003); -D compares them all
    _, diags = evaluate("ip6tables -A INPUT -p tcp --dport 1 -j LOG --log-prefix a\n"
                        f"{check}\n")
    assert [(d.loc.line, d.message.split(":")[0]) for d in diags.errors] == [
        (2, "cannot tell whether ip6tables -C finds this rule")]


@pytest.mark.parametrize("check, found", [
    ("ip6tables -C INPUT -p tcp --dport 1 -j LOG --log-prefix a", True),     # the same rule
    ("iptables -C INPUT -p tcp --dport 2 -j LOG --log-prefix b", False),     # IPv4 compares all
    ("ip6tables -C INPUT -p udp --dport 1 -j LOG --log-prefix a", False),    # another header
    ("ip6tables -C INPUT -p tcp -m mark --mark 1 -j LOG", False),            # other modules
    ("ip6tables -C INPUT -p tcp --dport 1 -j NFLOG", False),                 # another target
    ("ip6tables -D INPUT -p tcp --dport 2 -j LOG --log-prefix b", False)])   # -D compares all
def test_ip6tables_check_where_the_kernel_and_fwmigrate_agree(check, found):
    script = ("iptables -A INPUT -p tcp --dport 1 -j LOG --log-prefix a\n"
              "ip6tables -A INPUT -p tcp --dport 1 -j LOG --log-prefix a\n"
              f"{check} || ip6tables -A OUTPUT -j DROP\n")
    assert rules(script, family="ip6")[-1] == (
        "-A INPUT -p tcp -m tcp --dport 1 -j LOG --log-prefix a" if found
        else "-A OUTPUT -j DROP")
