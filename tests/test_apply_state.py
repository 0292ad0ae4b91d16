"""apply / rollback / confirm and the state directory, when things go wrong: a transaction the
kernel refuses at commit, backups of other namespaces, a state directory that cannot be used,
unreadable backups, rolling back more than once. Real kernel, scratch namespaces."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import SAMPLES, apply_at_prompt
from conftest import fwmigrate_cli as fw

pytestmark = pytest.mark.kernel
TUTORIAL = str(SAMPLES / "tutorial.sh")
DUAL = str(SAMPLES / "dual-stack.sh")


def listing(ns) -> str:
    return ns.nft("list", "ruleset").stdout


# the batch's last command fails in the kernel (its chain does not exist): the commit is
# refused after everything before it was accepted
REFUSE_LAST = """
from fwmigrate.backends import nft_json
real = nft_json.commands
def commands(*args, **kwargs):
    batch = real(*args, **kwargs)
    batch["nftables"].append({"add": {"rule": {"family": "ip", "table": "fwmigrate",
                              "chain": "NO_SUCH_CHAIN", "expr": [{"accept": None}]}}})
    return batch
nft_json.commands = commands
import sys
import time
from fwmigrate.cli import main
main(sys.argv[1:])
"""


def fw_refused(*args):
    return subprocess.run([sys.executable, "-c", REFUSE_LAST, *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state")


def backups(state):
    folder = os.path.join(state, "backups")
    return sorted(f for f in os.listdir(folder) if f.endswith(".json"))


def test_a_refused_apply_leaves_no_backup_and_rollback_still_undoes_the_last_apply(
        netns, state):
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    before = listing(netns)
    assert len(backups(state)) == 1
    result = fw_refused("apply", DUAL, "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 4, result.stderr
    assert listing(netns) == before
    assert len(backups(state)) == 1           # the refused apply's backup is gone
    result = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "fwmigrate" not in listing(netns)  # the tutorial's apply is undone


def test_rollback_twice_steps_back_twice(netns, state):
    netns.nft("add", "table", "inet", "mine")
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    after_first = listing(netns)
    assert fw("apply", DUAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    assert "table ip6 fwmigrate" in listing(netns)
    first = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert first.returncode == 0, first.stderr
    assert listing(netns) == after_first
    second = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert second.returncode == 0, second.stderr
    assert first.stdout != second.stdout      # each names the backup it used
    assert listing(netns).strip() == "table inet mine {\n}"
    third = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert third.returncode == 1
    assert "no backup to roll back to" in third.stderr
    assert "2 used by earlier rollbacks" in third.stderr
    assert listing(netns).strip() == "table inet mine {\n}"


def test_backups_of_a_namespace_named_like_host_are_not_the_hosts(state):
    """A namespace whose name ends in "-host" (or is "host") must not lend its backups to a
    rollback of the host's ruleset, nor the other way round."""
    from fwmigrate.apply.backup import StateDir
    sd = StateDir(state)
    sd.save_backup({"nftables": []}, "ruleset", [("ip", "fwmigrate")], "lab-host")
    sd.save_backup({"nftables": []}, "ruleset", [("ip", "fwmigrate")], "host")
    assert sd.latest_backup(None) is None
    assert sd.latest_backup("lab-host").netns == "lab-host"
    assert sd.latest_backup("host").netns == "host"
    sd.save_backup({"nftables": []}, "tables", [("ip", "fwmigrate")], None)
    assert sd.latest_backup(None).netns is None
    assert sd.latest_backup("host").netns == "host"


def test_a_namespace_given_as_a_path(netns, state):
    path = f"/run/netns/{netns.name}"
    result = fw("apply", TUTORIAL, "--netns", path, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "table ip fwmigrate" in listing(netns)
    result = fw("rollback", "--netns", path, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "fwmigrate" not in listing(netns)


@pytest.mark.parametrize("kind", ["file", "backups-file"])
def test_an_unusable_state_dir_is_a_clear_error_and_nothing_is_applied(netns, tmp_path, kind):
    state = tmp_path / "state"
    if kind == "file":
        state.write_text("")
    else:
        state.mkdir()
        (state / "backups").write_text("")
    result = fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", str(state))
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr
    assert "cannot save the backup" in result.stderr and "nothing was applied" in result.stderr
    assert "fwmigrate" not in listing(netns)


def test_an_unreadable_backup_is_named_not_a_crash(netns, state):
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    path = os.path.join(state, "backups", backups(state)[0])
    for broken in ('{"fwmigrate_backup": 1, "crea', "{}", "[]"):
        with open(path, "w") as fh:
            fh.write(broken)
        result = fw("rollback", "--netns", netns.name, "--state-dir", state)
        assert result.returncode == 1, result.stderr
        assert "internal error" not in result.stderr
        assert f"cannot read the backup {path}" in result.stderr
        assert "table ip fwmigrate" in listing(netns)
        result = fw("status", "--netns", netns.name, "--state-dir", state)
        assert result.returncode == 0, result.stderr
        assert "table ip fwmigrate" in result.stdout


def test_a_backup_others_can_write_is_not_restored(netns, state):
    """Loading a backup anyone could have edited would load their rules as root."""
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    path = os.path.join(state, "backups", backups(state)[0])
    os.chmod(path, 0o666)
    result = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 1
    assert "writable by others" in result.stderr
    assert "table ip fwmigrate" in listing(netns)


def test_confirm_does_not_create_the_state_dir(tmp_path):
    state = tmp_path / "nothing-here"
    result = fw("confirm", "--state-dir", str(state))
    assert result.returncode == 1
    assert "no apply is waiting for confirmation" in result.stderr
    assert not state.exists()


def test_check_changes_nothing_and_writes_nothing(netns, state):
    netns.nft("add", "table", "inet", "mine")
    before = json.loads(netns.nft("-j", "list", "ruleset").stdout)
    for extra in ([], ["--flush-ruleset"], ["--use-nft-cli"], ["--syntax", "text"]):
        result = fw("apply", TUTORIAL, "--check", *extra, "--netns", netns.name,
                    "--state-dir", state)
        assert result.returncode == 0, result.stderr
    assert json.loads(netns.nft("-j", "list", "ruleset").stdout) == before
    assert not os.path.exists(state)


def test_a_rollback_by_hand_while_a_confirmation_is_pending(netns, state):
    """`fwmigrate rollback` during the wait undoes the apply; the watchdog then has nothing
    left to do and says so, instead of failing to find the backup."""
    proc = subprocess.Popen([sys.executable, "-m", "fwmigrate", "apply", TUTORIAL, "--netns",
                             netns.name, "--state-dir", state, "--confirm", "3"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    netns.wait_for_table("fwmigrate")
    result = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "already rolled back" in err and "failed" not in err
    assert "fwmigrate" not in listing(netns)


def test_save_enable_refuses_a_file_the_service_does_not_load(netns, tmp_path):
    """nftables.service loads /etc/nftables.conf: enabling it after writing another file would
    start it with whatever that file holds, not the rules just saved."""
    target = tmp_path / "fw.nft"
    result = fw("save", TUTORIAL, "-o", str(target), "--enable", "--netns", netns.name)
    assert result.returncode == 1
    assert "--enable" in result.stderr and "/etc/nftables.conf" in result.stderr
    assert not target.exists()


def test_save_refuses_standard_output(netns, tmp_path, monkeypatch):
    """`-` is standard output elsewhere; save wrote a root-only file named `-` in the current
    directory instead. Printing is convert's job (save's file is atomic, mode 0600)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.chdir(tmp_path)
    result = fw("save", TUTORIAL, "-o", "-", "--netns", netns.name, env={"PYTHONPATH": root})
    assert result.returncode == 1
    assert "fwmigrate convert" in result.stderr and "nothing was written" in result.stderr
    assert result.stdout == "" and not (tmp_path / "-").exists()


def test_save_replaces_a_symlink_instead_of_writing_through_it(netns, tmp_path):
    """Root writing through a link (in /tmp, say) could overwrite any file: the link itself is
    replaced; the file it pointed to is untouched."""
    real = tmp_path / "real"
    real.write_text("keep me\n")
    link = tmp_path / "link.nft"
    link.symlink_to(real)
    result = fw("save", TUTORIAL, "-o", str(link), "--netns", netns.name)
    assert result.returncode == 0, result.stderr
    assert real.read_text() == "keep me\n"
    assert not link.is_symlink() and link.read_text().startswith("#!/usr/sbin/nft -f")


def json_listing(ns):
    items = json.loads(ns.nft("-j", "list", "ruleset").stdout)["nftables"]
    for item in items:
        for body in item.values():
            body.pop("handle", None)
    return [i for i in items if "metainfo" not in i]


@pytest.mark.parametrize("flush", [[], ["--flush-ruleset"]])
def test_rollback_restores_ipset_sets_with_their_comments(netns, state, flush):
    """A set made from an ipset carries an `ipset NAME TYPE` comment (status and diff --live
    read it); libnftables 1.0.6 drops a set's comment from JSON, so a JSON restore lost it."""
    result = fw("apply", str(SAMPLES / "ipset-blocklist.save"), "--ipsets",
                str(SAMPLES / "ipset-blocklist.ipsets"), "--netns", netns.name,
                "--state-dir", state)
    assert result.returncode == 0, result.stderr
    before = json_listing(netns)
    assert any("ipset" in i["set"].get("comment", "") for i in before if "set" in i)
    result = fw("apply", TUTORIAL, *flush, "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    result = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert json_listing(netns) == before


def test_a_family_the_new_input_lacks_keeps_its_earlier_table_and_says_so(netns, state):
    """dual-stack.sh made ip and ip6 tables; the tutorial has only IPv4 rules, so (as
    iptables-restore leaves ip6tables alone) the ip6 table stays. The warning must not call it
    someone else's table, and status must still show it."""
    assert fw("apply", DUAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    result = fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "table ip6 fwmigrate" in listing(netns)
    assert "table ip6 fwmigrate from an earlier apply still filters" in result.stderr
    assert "nft delete table ip6 fwmigrate" in result.stderr
    shown = fw("status", "--netns", netns.name, "--state-dir", state).stdout
    assert "table ip fwmigrate" in shown and "table ip6 fwmigrate" in shown


def test_no_apply_while_another_waits_for_confirmation(netns, state):
    """The watchdog of an unconfirmed apply restores the ruleset from before it: an apply made
    meanwhile would be half undone (its ip table restored, its ip6 table left)."""
    proc = subprocess.Popen([sys.executable, "-m", "fwmigrate", "apply", TUTORIAL, "--netns",
                             netns.name, "--state-dir", state, "--confirm", "20"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        netns.wait_for_table("fwmigrate")
        before = listing(netns)
        result = fw("apply", DUAL, "--netns", netns.name, "--state-dir", state)
        assert result.returncode == 3, result.stderr
        assert "waiting for confirmation" in result.stderr
        assert listing(netns) == before
        assert fw("apply", DUAL, "--check", "--netns", netns.name,
                  "--state-dir", state).returncode == 0
        assert fw("confirm", "--netns", netns.name, "--state-dir", state).returncode == 0
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    deadline = time.time() + 10
    while time.time() < deadline:       # the watchdog records the confirmation and ends
        result = fw("apply", DUAL, "--netns", netns.name, "--state-dir", state)
        if result.returncode == 0:
            break
        time.sleep(0.3)
    assert result.returncode == 0, result.stderr
    assert "table ip6 fwmigrate" in listing(netns)


def test_answering_no_at_the_prompt_rolls_back_at_once(netns, state):
    """The prompt asks for `yes`; a `no` is an answer too (as iptables-apply takes it): roll
    back now, not after the whole timeout."""
    started = time.time()
    with apply_at_prompt(netns, state, TUTORIAL) as (proc, terminal):
        os.write(terminal, b"maybe\n")
        time.sleep(0.5)
        assert proc.poll() is None           # not an answer: it asks again
        os.write(terminal, b"no\n")
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "type yes or no" in err
    assert "rolled back" in err
    assert time.time() - started < 40
    assert "fwmigrate" not in listing(netns)


def test_ssh_connection_of_a_session_that_does_not_reach_the_namespace(netns_pair, state,
                                                                      tmp_path):
    """Run over SSH with --netns, SSH_CONNECTION describes the host's session: the guard
    checks it only when its server address is in that namespace (sshd runs there)."""
    from traffic import CLIENT_ADDR, SERVER_ADDR
    server, _ = netns_pair
    cut = tmp_path / "cut.sh"
    cut.write_text("iptables -P INPUT DROP\n")
    host_session = {"SSH_CONNECTION": "192.0.2.7 50000 192.0.2.1 22"}
    result = fw("apply", str(cut), "--check", "--netns", server.name, "--state-dir", state,
                env=host_session)
    assert result.returncode == 0, result.stderr
    assert "does not reach namespace" in result.stderr and "--keep" in result.stderr
    in_namespace = {"SSH_CONNECTION": f"{CLIENT_ADDR} 50000 {SERVER_ADDR} 22"}
    result = fw("apply", str(cut), "--check", "--netns", server.name, "--state-dir", state,
                env=in_namespace)
    assert result.returncode == 3, result.stderr
    assert "would cut your session" in result.stderr
    result = fw("apply", str(cut), "--check", "--netns", server.name, "--state-dir", state,
                "--keep", "192.0.2.7:22", env=host_session)
    assert result.returncode == 3, result.stderr


def test_without_the_bindings_it_says_so_and_nft_loads_the_same(netns, state, tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['nftables'] = None\n")
    loaded = []
    for env in ({}, {"PYTHONPATH": str(hide)}):
        netns.nft("flush", "ruleset")
        result = fw("apply", DUAL, "--netns", netns.name, "--state-dir", state, env=env)
        assert result.returncode == 0, result.stderr
        loaded.append(json_listing(netns))
    assert "bindings cannot be loaded" in result.stderr and "python3-nftables" in result.stderr
    assert "via nft -j -f -" in result.stdout
    assert loaded[0] == loaded[1]
    result = fw("rollback", "--netns", netns.name, "--state-dir", state,
                env={"PYTHONPATH": str(hide)})
    assert result.returncode == 0, result.stderr
    assert "fwmigrate" not in listing(netns)
    nowhere = tmp_path / "bin"
    nowhere.mkdir()
    result = fw("apply", DUAL, "--netns", netns.name, "--state-dir", state,
                env={"PYTHONPATH": str(hide), "PATH": str(nowhere)})
    assert result.returncode == 4
    assert "cannot reach nftables" in result.stderr and "refused" not in result.stderr
    assert "fwmigrate" not in listing(netns)


def test_rollback_after_the_table_was_deleted_by_hand(netns, state):
    netns.nft("add", "table", "ip", "fwmigrate")
    netns.nft("add", "chain", "ip", "fwmigrate", "OLD")
    before = listing(netns)
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    netns.nft("delete", "table", "ip", "fwmigrate")
    result = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert listing(netns) == before


def test_confirm_after_the_apply_was_killed(netns, state):
    """The apply's process is gone (the SSH session died); `fwmigrate confirm` from a new
    login still keeps the ruleset before the deadline."""
    proc = subprocess.Popen([sys.executable, "-m", "fwmigrate", "apply", TUTORIAL, "--netns",
                             netns.name, "--state-dir", state, "--confirm", "6"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    netns.wait_for_table("fwmigrate")
    os.killpg(proc.pid, signal.SIGHUP)
    proc.wait(timeout=10)
    result = fw("confirm", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    time.sleep(7)
    assert "table ip fwmigrate" in listing(netns)
    result = fw("confirm", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 1 and "no apply is waiting" in result.stderr


def test_a_namespace_that_does_not_exist(state):
    for args in (["apply", TUTORIAL], ["rollback"], ["status"]):
        result = fw(*args, "--netns", "fwm-no-such-namespace", "--state-dir", state)
        assert result.returncode == 1, result.stderr
        assert "create it with `ip netns add`" in result.stderr
    assert not os.path.exists(state)


def test_input_errors_apply_nothing_and_write_no_backup(netns, state, tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("iptables -A INPUT -p tcp --dprot 22 -j ACCEPT\n")
    result = fw("apply", str(bad), "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 1
    assert "bad.sh:1" in result.stderr
    assert listing(netns).strip() == ""
    assert not os.path.exists(state)


def test_status_shows_dynamic_set_members_and_their_time_left(netns, state):
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    netns.nft("add", "element", "ip", "fwmigrate", "KNOCK1", "{ 192.0.2.7 }")
    netns.nft("add", "set", "ip", "fwmigrate", "T",
              "{ type ipv4_addr; flags timeout; timeout 60s; }")
    netns.nft("add", "element", "ip", "fwmigrate", "T", "{ 192.0.2.8 timeout 30s }")
    data = json.loads(fw("status", "--json", "--netns", netns.name,
                         "--state-dir", state).stdout)
    sets = {s["name"]: s for s in data["tables"][0]["sets"]}
    assert sets["KNOCK1"]["members"] == [{"address": "192.0.2.7", "expires_in": None}]
    assert sets["T"]["timeout"] == 60
    [member] = sets["T"]["members"]
    assert member["address"] == "192.0.2.8" and 0 < member["expires_in"] <= 30
    text = fw("status", "--netns", netns.name, "--state-dir", state).stdout
    assert "set T (ipv4_addr, entries expire after 60s): 1 member" in text
    assert "192.0.2.8 (" in text and "s left)" in text


def test_a_backup_that_cannot_be_set_aside_after_the_rollback(netns, state):
    """The restore is done; only moving its backup aside failed: say so, without a
    traceback and without claiming nothing changed."""
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    with open(os.path.join(state, "backups", "rolled-back"), "w") as fh:
        fh.write("in the way\n")
    result = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "rolled back to" in result.stdout
    assert "could not be set aside" in result.stderr and "Traceback" not in result.stderr
    assert "fwmigrate" not in listing(netns)


def test_prune_keeps_the_newest_backups_of_one_namespace_only(state):
    """Each backup is a whole listing: old ones go, newest first kept, and another
    namespace's (even one named "host", whose file name token is the host's) stay."""
    from fwmigrate.apply.backup import StateDir
    sd = StateDir(state)
    host = [sd.save_backup({"nftables": []}, "tables", [("ip", "fwmigrate")], None)
            for _ in range(4)]
    other = [sd.save_backup({"nftables": []}, "tables", [("ip", "fwmigrate")], name)
             for name in ("host", "host", "lab")]
    for b in host[:2]:
        assert sd.retire(b) is None
    assert sd.prune(None, 1) == []
    assert [b.path.name for b in sd.list_backups(None)] == [host[3].path.name]
    assert [b.path for b in sd.list_backups("host")] == [b.path for b in other[:2]]
    assert sd.latest_backup("lab").path == other[2].path
    assert sd.used_count(None) == 1           # rolled-back ones are kept to the same number
    assert (sd.used / host[1].path.name).exists()


def test_apply_keeps_only_the_newest_backups(netns, state):
    for source in (TUTORIAL, DUAL, TUTORIAL):
        result = fw("apply", source, "--netns", netns.name, "--state-dir", state,
                    "--keep-backups", "2")
        assert result.returncode == 0, result.stderr
    assert len(backups(state)) == 2
    assert fw("rollback", "--netns", netns.name, "--state-dir", state).returncode == 0
    assert "table ip6 fwmigrate" in listing(netns)        # the DUAL apply is back
    assert fw("rollback", "--netns", netns.name, "--state-dir", state).returncode == 0
    assert "table ip6 fwmigrate" not in listing(netns)    # the first TUTORIAL's
    third = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert third.returncode == 1 and "no backup to roll back to" in third.stderr


def test_keep_backups_needs_at_least_one(netns, state):
    result = fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state,
                "--keep-backups", "0")
    assert result.returncode == 2 and "--keep-backups" in result.stderr
    assert "fwmigrate" not in listing(netns)


@pytest.mark.parametrize("keep", ["10.0.0.1:70000", "2001:db8::7:22", "10.0.0.1"])
def test_a_malformed_keep_is_a_usage_error_before_anything_is_done(netns, state, keep):
    """Exit 3 means the guard refused the ruleset; a --keep that cannot be read is the
    command line's error (2), found before the input is even translated."""
    result = fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state, "--keep", keep)
    assert result.returncode == 2, result.stderr
    assert "--keep" in result.stderr and "CLIENT:PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert "fwmigrate" not in listing(netns) and not os.path.exists(state)


def test_the_legacy_rules_warning_counts_one_rule_as_one(netns, state):
    netns.run("iptables-legacy", "-A", "INPUT", "-j", "ACCEPT")
    result = fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "iptables (legacy) still holds 1 rule;" in result.stderr
