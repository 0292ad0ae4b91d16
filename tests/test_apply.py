"""fwmigrate apply / rollback / confirm / save / status against the real kernel, in scratch
namespaces; the CLI runs as a separate process because it enters the namespace itself."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from traffic import CLIENT_ADDR

from conftest import SAMPLES
from conftest import fwmigrate_cli as fw

pytestmark = pytest.mark.kernel
TUTORIAL = str(SAMPLES / "tutorial.sh")


def tables(ns):
    return ns.nft("list", "tables").stdout


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state")


def test_check_applies_nothing(netns_pair, state):
    server, _ = netns_pair
    result = fw("apply", TUTORIAL, "--check", "--netns", server.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "check passed" in result.stdout
    assert "fwmigrate" not in tables(server)


def test_apply_status_rollback(netns_pair, state):
    server, _ = netns_pair
    server.nft("add", "table", "inet", "someone_else")
    result = fw("apply", TUTORIAL, "--netns", server.name, "--state-dir", state,
                "--keep", f"{CLIENT_ADDR}:22")
    assert result.returncode == 0, result.stderr
    assert "stays open" in result.stderr
    assert "knock before you reconnect" in result.stderr
    assert "table ip fwmigrate" in tables(server)
    backups = os.listdir(os.path.join(state, "backups"))
    assert len(backups) == 1
    assert os.stat(os.path.join(state, "backups", backups[0])).st_mode & 0o777 == 0o600
    status = json.loads(fw("status", "--json", "--netns", server.name,
                           "--state-dir", state).stdout)
    table = status["tables"][0]
    assert {c["name"]: c["rules"] for c in table["chains"]}["INPUT"] == 8
    assert sorted(s["name"] for s in table["sets"]) == ["KNOCK1", "KNOCK2", "KNOCK3"]
    result = fw("rollback", "--netns", server.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "fwmigrate" not in tables(server)
    assert "someone_else" in tables(server)


def listing(ns):
    """The kernel ruleset without handles (they count up with every load)."""
    items = json.loads(ns.nft("-j", "list", "ruleset").stdout)["nftables"]
    for item in items:
        for body in item.values():
            body.pop("handle", None)
    return [i for i in items if "metainfo" not in i]


@pytest.mark.parametrize("name", ["tutorial.sh", "nat-gateway.sh", "dual-stack.sh",
                                  "docker-host.save", "mangle-raw.save"])
def test_json_and_text_transactions_load_the_same_ruleset(netns, state, name):
    loaded = {}
    for syntax in ("json", "text"):
        result = fw("apply", str(SAMPLES / name), "--syntax", syntax, "--netns", netns.name,
                    "--state-dir", state)
        assert result.returncode == 0, result.stderr
        assert ("JSON" if syntax == "json" else "nft syntax") in result.stdout
        loaded[syntax] = listing(netns)
    assert loaded["json"] == loaded["text"]


def test_a_ruleset_json_cannot_say_is_applied_as_nft_syntax(netns, state, tmp_path):
    """nft 1.0.6's JSON has no TCP option by number: `auto` sends nft syntax instead (it was
    an internal error), and `--syntax json` refuses by name with nothing applied."""
    script = tmp_path / "fw.sh"
    script.write_text("iptables -A INPUT -p tcp --tcp-option 99 -j ACCEPT\n")
    result = fw("apply", str(script), "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "nft syntax (nft's JSON cannot express TCP option kind 99" in result.stdout
    assert "tcp option 99 exists accept" in netns.nft("list", "ruleset").stdout
    netns.nft("flush", "ruleset")
    result = fw("apply", str(script), "--syntax", "json", "--netns", netns.name,
                "--state-dir", state)
    assert result.returncode == 3, result.stderr          # refused, as for --syntax text
    assert "nft's JSON cannot express TCP option kind 99" in result.stderr
    assert "--syntax text" in result.stderr and "Traceback" not in result.stderr
    assert netns.nft("list", "ruleset").stdout.strip() == ""


def test_failing_transaction_changes_nothing(netns):
    """The last command of the batch fails: the kernel keeps the old ruleset, all of it."""
    code = """
import json, sys
from fwmigrate.apply.kernel import Kernel, KernelError
from fwmigrate.backends import nft_json
from fwmigrate.backends.nft_translate import translate
from fwmigrate.convert import ConvertOptions, read
k = Kernel()
k.run({"nftables": [{"add": {"table": {"family": "ip", "name": "fwmigrate"}}},
                    {"add": {"chain": {"family": "ip", "table": "fwmigrate", "name": "OLD"}}}]})
before = k.ruleset()
ruleset, _ = read(open(sys.argv[1]).read(), "t", ConvertOptions())
batch = nft_json.commands(translate(ruleset).ruleset)
batch["nftables"].append({"add": {"rule": {"family": "ip", "table": "fwmigrate",
                                           "chain": "NO_SUCH_CHAIN", "expr": [{"accept": None}]}}})
try:
    k.run(batch)
    print("applied")
except KernelError as exc:
    print("refused", exc)
print(json.dumps(k.ruleset() == before))
"""
    out = netns.run(sys.executable, "-c", code, TUTORIAL).stdout.splitlines()
    assert out[0].startswith("refused")
    assert out[-1] == "true"


def test_lockout_guard_refuses_what_cuts_the_session(netns_pair, state, tmp_path):
    server, _ = netns_pair
    script = tmp_path / "cut.sh"
    script.write_text("iptables -P INPUT DROP\niptables -A INPUT -p tcp --dport 80 -j ACCEPT\n")
    result = fw("apply", str(script), "--netns", server.name, "--state-dir", state,
                "--keep", f"{CLIENT_ADDR}:22")
    assert result.returncode == 3
    assert "would cut your session 10.99.0.2 → 10.99.0.1:22 on eth1" in result.stderr
    assert "DROP by the policy of filter INPUT" in result.stderr
    assert "fwmigrate" not in tables(server)
    result = fw("apply", str(script), "--netns", server.name, "--state-dir", state,
                "--keep", f"{CLIENT_ADDR}:22", "--force")
    assert result.returncode == 0
    assert "fwmigrate" in tables(server)


def test_confirm_timeout_rolls_back(netns_pair, state):
    server, _ = netns_pair
    result = fw("apply", TUTORIAL, "--netns", server.name, "--state-dir", state,
                "--keep", f"{CLIENT_ADDR}:22", "--confirm", "2", input="")
    assert result.returncode == 3, result.stderr
    assert "rolled back" in result.stderr
    assert "fwmigrate" not in tables(server)


def test_confirm_from_another_shell_keeps_it(netns_pair, state):
    server, _ = netns_pair
    proc = subprocess.Popen([sys.executable, "-m", "fwmigrate", "apply", TUTORIAL, "--netns",
                             server.name, "--state-dir", state, "--keep", f"{CLIENT_ADDR}:22",
                             "--confirm", "20"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server.wait_for_table("fwmigrate")
    result = fw("confirm", "--netns", server.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "confirmed" in out
    time.sleep(0.5)
    assert "fwmigrate" in tables(server)


def test_rollback_survives_the_calling_process_dying(netns_pair, state):
    server, _ = netns_pair
    proc = subprocess.Popen([sys.executable, "-m", "fwmigrate", "apply", TUTORIAL, "--netns",
                             server.name, "--state-dir", state, "--keep", f"{CLIENT_ADDR}:22",
                             "--confirm", "3"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    server.wait_for_table("fwmigrate")
    os.killpg(proc.pid, signal.SIGKILL)      # the SSH session and its shell are gone
    proc.wait()
    assert "fwmigrate" in tables(server)
    deadline = time.time() + 10
    while "fwmigrate" in tables(server) and time.time() < deadline:
        time.sleep(0.2)
    assert "fwmigrate" not in tables(server)


def patched_fw(patch: str, *args):
    """fwmigrate with `patch` run first in its process: a fault put exactly where a test
    needs it (a crash right after the commit, a refused commit)."""
    code = patch + "import sys\nfrom fwmigrate.cli import main\nmain(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60)


def test_rollback_covers_a_session_that_dies_right_after_the_commit(netns_pair, state):
    """The watchdog runs before the commit: an apply that dies the moment the new ruleset is
    in, before it can record anything, is still rolled back (started after the commit, the
    watchdog would miss that window and the unconfirmed ruleset would stay)."""
    server, _ = netns_pair
    patch = ("import os\n"
             "from fwmigrate.apply import confirm\n"
             "confirm.committed = lambda pending: os._exit(9)   # dies right after the commit\n")
    proc = patched_fw(patch, "apply", TUTORIAL, "--netns", server.name, "--state-dir", state,
                      "--keep", f"{CLIENT_ADDR}:22", "--confirm", "2")
    assert proc.returncode == 9, proc.stderr
    assert "fwmigrate" in tables(server)
    deadline = time.time() + 10
    while "fwmigrate" in tables(server) and time.time() < deadline:
        time.sleep(0.2)
    assert "fwmigrate" not in tables(server)


def test_a_refused_commit_under_confirm_is_not_rolled_back(netns_pair, state):
    """The kernel refuses the commit: nothing changed, and the watchdog says so instead of
    restoring a backup over whatever is there by then."""
    server, _ = netns_pair
    bad = ("iptables -A INPUT -m comment --comment x -j ACCEPT\n")
    patch = ("from fwmigrate.apply import transaction\n"
             "from fwmigrate.apply.kernel import KernelError\n"
             "def refuse(kernel, check):\n"
             "    raise KernelError('refused for the test')\n"
             "transaction._transaction = lambda *a: refuse\n")
    path = os.path.join(state, "bad.sh")
    os.makedirs(state, exist_ok=True)
    with open(path, "w") as fh:
        fh.write(bad)
    proc = patched_fw(patch, "apply", path, "--netns", server.name, "--state-dir", state,
                      "--keep", f"{CLIENT_ADDR}:22", "--confirm", "1")
    assert proc.returncode == 4, proc.stderr
    deadline = time.time() + 10
    results = []
    while not results and time.time() < deadline:
        results = [open(os.path.join(state, "pending", f)).read()
                   for f in os.listdir(os.path.join(state, "pending")) if f.endswith(".result")]
        time.sleep(0.2)
    assert results and results[0].startswith("cancelled"), results


def test_save_writes_atomically_root_owned_0600(netns, tmp_path):
    target = tmp_path / "etc" / "nftables.conf"
    target.parent.mkdir()
    target.write_text("# the old file\n")
    bad = tmp_path / "bad.sh"
    bad.write_text("iptables -A INPUT -p tcp --dprot 22 -j ACCEPT\n")
    assert fw("save", str(bad), "-o", str(target), "--netns", netns.name).returncode == 1
    assert target.read_text() == "# the old file\n"
    result = fw("save", TUTORIAL, "-o", str(target), "--netns", netns.name)
    assert result.returncode == 0, result.stderr
    st = os.stat(target)
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == 0
    assert target.read_text().startswith("#!/usr/sbin/nft -f")
    assert [p.name for p in target.parent.iterdir()] == ["nftables.conf"]
    netns.nft("-c", "-f", str(target))


def test_confirm_timeout_rolls_back_past_another_damaged_backup(netns_pair, state):
    # the watchdog read every backup to find its own: one that cannot be read (an older
    # one, cut short) stopped it before the rollback
    from pathlib import Path
    server, _ = netns_pair
    backups = Path(state) / "backups"
    backups.mkdir(parents=True, exist_ok=True)
    (backups / f"20000101T000000.000000Z-{server.name}.json").write_text('{"created": ')
    result = fw("apply", TUTORIAL, "--netns", server.name, "--state-dir", state,
                "--keep", f"{CLIENT_ADDR}:22", "--confirm", "2", input="")
    assert result.returncode == 3, result.stderr
    assert "rolled back" in result.stderr
    assert "fwmigrate" not in tables(server)
