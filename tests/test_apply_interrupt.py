"""apply interrupted (Ctrl-C, SIGTERM, SIGHUP) around the commit: no backup may stay for an
apply that never happened (a later `rollback` would restore it, a no-op, instead of undoing
the apply before), a commit that did happen is said to have, and Ctrl-C while `--confirm`
waits rolls back at once. Real kernel, scratch namespaces; the signal is put exactly where
the test needs it by a patch run first in the fwmigrate process."""

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

# how each interruption arrives: a Ctrl-C at the terminal, `kill`, the SSH session dropping
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}


def patched_fw(patch: str, *args, timeout: float = 60):
    code = patch + "import sys\nfrom fwmigrate.cli import main\nmain(sys.argv[1:])\n"
    environ = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=environ)


def after(module: str, name: str, signum: int) -> str:
    """A patch: `module.name` (a function, or Class.method) does its work, then the process
    gets `signum`, as a signal arriving right then would."""
    owner, _, attr = name.rpartition(".")
    return (f"import importlib, os, time\n"
            f"owner = importlib.import_module('{module}')\n"
            + (f"owner = owner.{owner}\n" if owner else "")
            + f"real = getattr(owner, '{attr}')\n"
            f"def patched(*args, **kwargs):\n"
            f"    result = real(*args, **kwargs)\n"
            f"    os.kill(os.getpid(), {int(signum)})\n"
            f"    time.sleep(0.2)          # the signal arrives while the work goes on\n"
            f"    return result\n"
            f"setattr(owner, '{attr}', patched)\n")


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state")


def listing(ns) -> str:
    return ns.nft("list", "ruleset").stdout


def backups(state):
    folder = os.path.join(state, "backups")
    return sorted(f for f in os.listdir(folder) if f.endswith(".json"))


@pytest.mark.parametrize("sig", SIGNALS)
def test_an_interrupt_between_the_backup_and_the_commit_leaves_no_backup(netns, state, sig):
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0
    before = listing(netns)
    patch = after("fwmigrate.apply.backup", "StateDir.save_backup", SIGNALS[sig])
    result = patched_fw(patch, "apply", DUAL, "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 128 + SIGNALS[sig], result.stderr
    assert "Traceback" not in result.stderr
    if sig != "SIGHUP":                     # the terminal is gone: nothing to read it
        assert f"interrupted ({sig}) before the commit: nothing was applied" in result.stderr
    assert listing(netns) == before
    assert len(backups(state)) == 1         # only the tutorial's
    # so rollback undoes the tutorial's apply, not the one that never happened
    result = fw("rollback", "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 0, result.stderr
    assert "fwmigrate" not in listing(netns)


def _results(state, wait: float = 10):
    deadline = time.time() + wait
    while time.time() < deadline:
        found = [open(os.path.join(state, "pending", f)).read()
                 for f in os.listdir(os.path.join(state, "pending")) if f.endswith(".result")]
        if found:
            return found
        time.sleep(0.2)
    return []


def test_an_interrupt_after_the_watchdog_started_cancels_it(netns, state):
    patch = after("fwmigrate.apply.confirm", "start", signal.SIGINT)
    result = patched_fw(patch, "apply", TUTORIAL, "--netns", netns.name, "--state-dir", state,
                        "--confirm", "30")
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "nothing was applied" in result.stderr
    assert "fwmigrate" not in listing(netns)
    assert backups(state) == []
    [verdict] = _results(state)
    assert verdict.startswith("cancelled")
    # and nothing waits for a confirmation: the next apply goes ahead
    assert fw("apply", TUTORIAL, "--netns", netns.name, "--state-dir", state).returncode == 0


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_interrupt_during_the_commit_keeps_the_applied_ruleset_and_says_so(netns, state,
                                                                             sig):
    patch = after("fwmigrate.apply.kernel", "Kernel.run", SIGNALS[sig])
    result = patched_fw(patch, "apply", TUTORIAL, "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 128 + SIGNALS[sig], result.stderr
    assert "Traceback" not in result.stderr
    assert f"interrupted ({sig}) once the commit had begun" in result.stderr
    assert "is in place" in result.stderr and "fwmigrate rollback" in result.stderr
    assert "table ip fwmigrate" in listing(netns)
    assert len(backups(state)) == 1
    assert fw("rollback", "--netns", netns.name, "--state-dir", state).returncode == 0
    assert "fwmigrate" not in listing(netns)


def test_an_interrupt_during_the_commit_under_confirm_rolls_back_at_once(netns, state):
    patch = after("fwmigrate.apply.kernel", "Kernel.run", signal.SIGINT)
    started = time.time()
    result = patched_fw(patch, "apply", TUTORIAL, "--netns", netns.name, "--state-dir", state,
                        "--confirm", "60")
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "rolled back" in result.stderr
    assert time.time() - started < 30
    assert "fwmigrate" not in listing(netns)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_interrupt_while_confirm_waits_rolls_back_at_once(netns, state, sig):
    started = time.time()
    with apply_at_prompt(netns, state, TUTORIAL) as (proc, _terminal):
        time.sleep(0.5)                 # at the prompt
        proc.send_signal(SIGNALS[sig])
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + SIGNALS[sig], err
    assert "Traceback" not in err
    assert f"interrupted ({sig}): rolled back" in err
    assert time.time() - started < 40
    assert "fwmigrate" not in listing(netns)
    # the backup was used: set aside, as after any rollback
    assert backups(state) == []


def test_ctrl_c_before_the_backup_applies_nothing_without_a_traceback(netns, state):
    patch = after("fwmigrate.apply.kernel", "Kernel.ruleset", signal.SIGINT)
    result = patched_fw(patch, "apply", TUTORIAL, "--netns", netns.name, "--state-dir", state)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "nothing was applied" in result.stderr
    assert "fwmigrate" not in listing(netns)
    assert not os.path.isdir(os.path.join(state, "backups")) or backups(state) == []


def test_a_hangup_during_the_commit_under_confirm_leaves_it_to_the_watchdog(netns, state):
    # the SSH session died: nobody can answer the prompt, but `fwmigrate confirm` from a new
    # login still may until the deadline; without it the watchdog rolls back then
    patch = after("fwmigrate.apply.kernel", "Kernel.run", signal.SIGHUP)
    result = patched_fw(patch, "apply", TUTORIAL, "--netns", netns.name, "--state-dir", state,
                        "--confirm", "4")
    assert result.returncode == 129, result.stderr
    assert "table ip fwmigrate" in listing(netns)
    [verdict] = _results(state, wait=15)
    assert verdict.startswith("rolled back")
    assert "fwmigrate" not in listing(netns)
