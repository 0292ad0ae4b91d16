"""Counter values as iptables reads them (`-c P B` in a script, `[P:B]` in a save file):
checked against iptables-legacy itself, which keeps what it read and lists it with
`iptables-legacy-save -c`. They only count, but a value fwmigrate reads otherwise is a
different number in its output, and one past 2^64 - 1 made `--counters` output nft refuses."""

from __future__ import annotations

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError

SCRIPT_FORMS = ["5 6", "5,6", "5:6", "[5:6]", "5abc 6", "+5 6", "-1 6", "0x10 1", "010 1",
                "5000000000 1", "99999999999999999999999 1", "5", "x 1"]
SAVE_RULE_FORMS = ["[5:6]", "[-1:5]", "[+5:5]", "[0x10:5]", "[5a:5]", "[5:6a]",
                   "[99999999999999999999999:99999999999999999999]", "[x:5]", "[5]"]
SAVE_POLICY_FORMS = ["[5:6]", "[-1:5]", "[+5:5]", "[0x10:5]", "[5a:5]",
                     "[99999999999999999999999:5]", "[x:5]"]


def _ours(text: str, name: str) -> list[str] | None:
    try:
        out = convert(text, name, ConvertOptions(to="iptables-restore", family="ip")).output
    except FwmigrateError:
        return None
    return [line for line in out.splitlines() if line.startswith(("[", ":INPUT"))]


def _legacy(netns, *, script: str | None = None, save: str | None = None) -> list[str] | None:
    netns.run("iptables-legacy", "-F", "INPUT")
    netns.run("iptables-legacy", "-P", "INPUT", "ACCEPT")
    netns.run("iptables-legacy", "-Z")
    if script is not None:
        result = netns.run("sh", "-c", script, check=False)
    else:
        result = netns.run("iptables-legacy-restore", "-c", input=save, check=False)
    if result.returncode != 0:
        return None
    listed = netns.run("iptables-legacy-save", "-c").stdout
    return [line for line in listed.splitlines() if line.startswith(("[", ":INPUT"))]


@pytest.mark.kernel
def test_script_counters_are_read_as_iptables_reads_them(netns):
    for form in SCRIPT_FORMS:
        command = f"iptables -c {form} -A INPUT -j ACCEPT"
        theirs = _legacy(netns, script=command.replace("iptables", "iptables-legacy", 1))
        ours = _ours(command + "\n", "fw.sh")
        if theirs is not None:                  # fwmigrate adds the policy's [0:0]
            theirs = [line for line in theirs if not line.startswith(":")]
            ours = ours and [line for line in ours if not line.startswith(":")]
        assert ours == theirs, form


@pytest.mark.kernel
def test_save_file_counters_are_read_as_iptables_restore_reads_them(netns):
    for form in SAVE_RULE_FORMS:
        save = f"*filter\n:INPUT ACCEPT [0:0]\n{form} -A INPUT -j ACCEPT\nCOMMIT\n"
        assert _ours(save, "fw.save") == _legacy(netns, save=save), form
    for form in SAVE_POLICY_FORMS:
        save = f"*filter\n:INPUT DROP {form}\nCOMMIT\n"
        assert _ours(save, "fw.save") == _legacy(netns, save=save), form


def test_counters_past_64_bits_still_load_in_nft():
    save = ("*filter\n:INPUT ACCEPT [0:0]\n"
            "[99999999999999999999999:5] -A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")
    out = convert(save, "fw.save", ConvertOptions(to="nft", family="ip", counters=True)).output
    assert "counter packets 18446744073709551615 bytes 5 accept" in out


@pytest.mark.kernel
def test_counters_json_cannot_hold_are_refused_for_json_and_the_rest_load(netns):
    """libnftables reads JSON numbers as signed 64-bit: 2^63 and more fail the whole file."""
    def save(packets: int) -> str:
        return (f"*filter\n:INPUT ACCEPT [0:0]\n[{packets}:5] -A INPUT -p tcp --dport 22 "
                "-j ACCEPT\nCOMMIT\n")
    options = ConvertOptions(to="nft-json", family="ip", counters=True)
    out = convert(save(2**63 - 1), "fw.save", options).output
    netns.nft("-j", "-f", "-", input=out)
    assert f"counter packets {2**63 - 1} bytes 5" in netns.nft("list", "ruleset").stdout
    with pytest.raises(FwmigrateError) as info:
        convert(save(2**63), "fw.save", options)
    assert "counter of 2^63 or more" in info.value.diagnostics[0].message
