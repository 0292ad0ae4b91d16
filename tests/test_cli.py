"""The command line: help with examples everywhere, exit codes, no tracebacks, - for stdio."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from fwmigrate import __version__
from fwmigrate.cli import main

from conftest import SAMPLES


@pytest.fixture
def runner():
    return CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames \
        else CliRunner()


@pytest.mark.parametrize("command", [[], ["convert"], ["translate"], ["restore-translate"]])
def test_every_command_has_help_with_examples(runner, command):
    result = runner.invoke(main, command + ["--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output


def test_lazily_loaded_commands_are_all_listed():
    # cli.py imports the apply/verify/explain modules only when one of their commands runs;
    # its list of them must name every command those modules define
    import importlib

    from fwmigrate import cli
    for module in set(cli._Commands.lazy.values()):
        importlib.import_module(f"fwmigrate.{module}")
    eager = {"convert", "translate", "restore-translate"}
    assert set(main.commands) == eager | set(cli._Commands.lazy)


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_convert_to_stdout_and_file(runner, tmp_path):
    result = runner.invoke(main, ["convert", str(SAMPLES / "tutorial.sh"), "--to", "nft"])
    assert result.exit_code == 0, result.output
    assert "set KNOCK1 {" in result.stdout
    out = tmp_path / "fw.nft"
    result = runner.invoke(main, ["convert", str(SAMPLES / "tutorial.save"), "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text().startswith("#!/usr/sbin/nft -f")


def test_convert_reads_stdin(runner):
    result = runner.invoke(main, ["convert", "-", "--to", "iptables-restore"],
                           input="iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n")
    assert result.exit_code == 0
    assert "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT" in result.stdout


def test_errors_exit_nonzero_without_traceback_and_write_nothing(tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("iptables -A INPUT -p tcp --dprot 22 -j ACCEPT\n")
    out = tmp_path / "out.nft"
    proc = subprocess.run([sys.executable, "-m", "fwmigrate", "convert", str(bad), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{bad}:1:26: error: unknown option \"--dprot\"" in proc.stderr
    assert "nothing was written" in proc.stderr
    assert not out.exists()


def test_missing_input_is_a_clear_error(runner):
    result = runner.invoke(main, ["convert", "/nonexistent/fw.sh"])
    assert result.exit_code == 1
    assert "cannot read /nonexistent/fw.sh" in result.output + (result.stderr or "")


def test_allow_partial_comments_out_and_reports(runner):
    script = ("iptables -A INPUT -m helper --helper ftp -j DROP\n"
              "iptables -A INPUT -j ACCEPT\n")
    result = runner.invoke(main, ["convert", "-"], input=script)
    assert result.exit_code == 1
    result = runner.invoke(main, ["convert", "-", "--allow-partial"], input=script)
    assert result.exit_code == 0
    assert "# NOT TRANSLATED" in result.stdout
    assert "NOT translated (--allow-partial)" in result.stderr
    assert "\t\taccept\n" in result.stdout


def test_approximate_reports_each_approximation(runner):
    script = ("iptables -A INPUT -p tcp --dport 22 -m recent --name SSH --set\n"
              "iptables -A INPUT -p tcp --dport 22 -m recent --name SSH --update --seconds 60 "
              "--hitcount 4 -j DROP\n")
    assert runner.invoke(main, ["convert", "-"], input=script).exit_code == 1
    result = runner.invoke(main, ["convert", "-", "--approximate"], input=script)
    assert result.exit_code == 0
    assert "approximated: recent list SSH: --hitcount 4 --seconds 60" in result.stderr
    assert "# APPROXIMATED: <stdin>:2:1:" in result.stdout


def test_flush_ruleset_and_table_name(runner):
    result = runner.invoke(main, ["convert", str(SAMPLES / "tutorial.sh"), "--flush-ruleset",
                                  "--table", "fw"])
    assert "flush ruleset" in result.stdout and "table ip fw {" in result.stdout
    assert "delete table" not in result.stdout
    result = runner.invoke(main, ["convert", str(SAMPLES / "tutorial.sh"), "--table", "log"])
    assert result.exit_code == 1


def test_translate_dropin(runner):
    result = runner.invoke(main, ["translate", "-A", "INPUT", "-p", "tcp", "--dport", "22",
                                  "-j", "ACCEPT"])
    assert result.stdout == "nft 'add rule ip filter INPUT tcp dport 22 counter accept'\n"
    result = runner.invoke(main, ["translate", "-6", "-A", "INPUT", "-s", "2001:db8::/32",
                                  "-j", "DROP"])
    assert result.stdout == "nft 'add rule ip6 filter INPUT ip6 saddr 2001:db8::/32 counter drop'\n"
    result = runner.invoke(main, ["translate", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0",
                                  "-j", "MASQUERADE"])
    assert result.stdout == \
        "nft 'add rule ip nat POSTROUTING oifname \"eth0\" counter masquerade'\n"
    result = runner.invoke(main, ["translate", "-A", "INPUT", "-m", "comment", "--comment",
                                  "it's", "-j", "ACCEPT"])
    assert result.stdout == "nft 'add rule ip filter INPUT counter accept comment \"it'\"'\"'s\"'\n"


def test_translate_insert_at_a_place_says_what_its_index_counts(runner):
    """`-I CHAIN N` becomes `index N-1`, which counts the chain's nft rules: iptables' place N
    only while each rule before it is one nft rule (iptables-nft's are; fwmigrate writes a
    conntrack split, hashlimit or TPROXY rule as two). The command cannot see the chain, so
    it says so rather than let the rule land silently elsewhere (e.g. between a pair)."""
    args = ["translate", "-I", "INPUT", "3", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0
    assert result.stdout == \
        "nft 'insert rule ip filter INPUT index 2 tcp dport 22 counter accept'\n"
    assert "warning: `index 2` counts nft rules" in result.stderr
    assert "nft -a list chain ip filter INPUT" in result.stderr
    for first in (["-I", "INPUT"], ["-I", "INPUT", "1"], ["-A", "INPUT"]):
        result = runner.invoke(main, ["translate", *first, "-j", "ACCEPT"])
        assert result.exit_code == 0 and result.stderr == "", first


def test_translate_refuses_what_needs_the_live_ruleset(runner):
    result = runner.invoke(main, ["translate", "-D", "INPUT", "3"])
    assert result.exit_code == 1
    assert "handle" in (result.stderr or result.output)


def test_restore_translate_dropin(runner):
    result = runner.invoke(main, ["restore-translate", "-f", str(SAMPLES / "tutorial.save")])
    assert result.exit_code == 0
    assert "add chain ip filter INPUT { type filter hook input priority 0; policy drop; }" \
        in result.stdout
    assert "add set ip filter KNOCK1 { type ipv4_addr; size 65535; flags dynamic; }" \
        in result.stdout


def test_console_command_exits_at_once_with_its_status_and_whole_output(tmp_path):
    # run() ends the process with os._exit once stdout and stderr are flushed: the output
    # through a pipe must still be complete, and each status the one click or _fail chose
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":ACL - [0:0]"]
    lines += [f"-A ACL -s 10.{i // 250}.{i % 250}.1/32 -j DROP" for i in range(3000)]
    good = tmp_path / "rules.v4"
    good.write_text("\n".join(lines + ["COMMIT", ""]))
    bad = tmp_path / "bad.v4"
    bad.write_text("*filter\n-A NOPE -j DROP\nCOMMIT\n")

    def fwmigrate(*args):
        return subprocess.run([sys.executable, "-m", "fwmigrate", *args],
                              capture_output=True, text=True)

    proc = fwmigrate("restore-translate", "-f", str(good))
    assert proc.returncode == 0 and proc.stderr == ""
    rules = [line for line in proc.stdout.splitlines() if line.startswith("add rule")]
    assert len(rules) == 3000 and proc.stdout.endswith("counter drop\n")
    small = tmp_path / "small.v4"       # an output that stays in stdout's buffer until flushed
    small.write_text("\n".join(lines[:4] + ["COMMIT", ""]))
    assert fwmigrate("restore-translate", "-f", str(small)).stdout.endswith("counter drop\n")
    proc = fwmigrate("restore-translate", "-f", str(bad))
    assert proc.returncode == 1 and "nothing was written" in proc.stderr
    assert fwmigrate("restore-translate").returncode == 2          # click: missing -f
    assert fwmigrate("--version").stdout.startswith("fwmigrate, version")


@pytest.mark.parametrize("command", ["apply", "rollback", "confirm", "save", "status"])
def test_apply_commands_show_their_examples_one_per_line(runner, command):
    """click keeps a paragraph's line breaks only after a \\b line; a literal backslash-b
    (the docstring said \\\\b) ran the examples together into one line."""
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "\\b" not in result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "Examples:" in lines
    examples = lines[lines.index("Examples:") + 1]
    assert examples.startswith(f"fwmigrate {command}") and examples.count("fwmigrate") == 1


def test_every_package_is_installed_by_pyproject():
    """`pip install .` (not -e) installs only the packages pyproject.toml lists: fwmigrate.apply
    and fwmigrate.verify were missing, so an installed apply/verify/diff/explain/status failed
    with ModuleNotFoundError."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(root).parts)
               for init in (root / "fwmigrate").rglob("__init__.py")}
    assert on_disk <= listed


@pytest.mark.parametrize("command", [
    ["verify", "/nonexistent/fw.sh"],
    ["explain", "/nonexistent/fw.sh", "--packet", "tcp 10.0.0.5:40000 > 10.0.0.1:22"],
    ["diff", "/nonexistent/fw.sh", str(SAMPLES / "tutorial.sh")],
    ["verify", "--equiv", "/nonexistent/fw.sh", str(SAMPLES / "tutorial.sh")],
    ["verify", str(SAMPLES / "tutorial.sh"), "--ipsets", "/nonexistent/fw.sh"],
    ["verify", "--equiv", str(SAMPLES / "tutorial.sh"), str(SAMPLES / "tutorial.sh"),
     "--ipsets", "/nonexistent/fw.sh"],
    ["explain", str(SAMPLES / "tutorial.sh"), "--ipsets", "/nonexistent/fw.sh",
     "--packet", "tcp 10.0.0.5:40000 > 10.0.0.1:22"],
])
def test_verify_commands_exit_2_for_an_input_they_cannot_read(runner, command):
    """verify, explain, diff and verify --equiv say 1 for "different" (or, for explain,
    "dropped") and 2 for an error; verify and explain said 1 for a file they could not read."""
    result = runner.invoke(main, command)
    assert result.exit_code == 2
    assert "cannot read /nonexistent/fw.sh" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["-A", "INPUT", "-m", "owner", "--uid-owner", "0", "-j", "ACCEPT"],
     "owner match: used from hooks INPUT, but only usable from OUTPUT/POSTROUTING"),
    (["-A", "OUTPUT", "-m", "policy", "--dir", "in", "--pol", "none", "-j", "ACCEPT"],
     "policy match: used from hooks OUTPUT"),
])
def test_translate_refuses_what_the_kernel_refuses_in_a_builtin_chain(runner, args, message):
    """convert refuses a match the kernel does not allow from a built-in chain's hook (README:
    `-m owner` from INPUT); translate printed an nft rule for it."""
    result = runner.invoke(main, ["translate", *args])
    assert result.exit_code == 1 and result.stdout == ""
    assert message in result.stderr


def test_translate_leaves_hooks_of_a_user_chain_unknown(runner):
    # which built-in chains reach a user chain is not in one command
    result = runner.invoke(main, ["translate", "-A", "MINE", "-m", "owner", "--uid-owner", "0",
                                  "-j", "ACCEPT"])
    assert result.exit_code == 0, result.stderr


def test_two_families_to_iptables_restore_names_where_the_second_begins(runner, tmp_path):
    # fuzz_inputs: the refusal named no place; the first rule of the second family is where
    # the user looks
    script = tmp_path / "fw.sh"
    script.write_text("iptables -P INPUT DROP\niptables -A INPUT -i lo -j ACCEPT\n"
                      "ip6tables -N LAN\nip6tables -A INPUT -j LAN\n")
    result = runner.invoke(main, ["convert", str(script), "--to", "iptables-restore"])
    assert result.exit_code == 1
    assert f"{script}:4:1: error: the input has IPv4 and IPv6 rules" in result.output, \
        result.output
