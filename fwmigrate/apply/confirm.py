"""--confirm: keep the new ruleset only if the operator confirms in time, like iptables-apply.

The watchdog is started before the commit, in its own session (so it survives the SSH
connection and the shell that started it): started after it, a session dying in between would
leave the new ruleset in place unconfirmed. It waits until the deadline (counted from the start
of the commit) and until the commit has settled (the apply records it, or its process is gone);
unless a confirmation has been recorded by then (at the prompt, or by `fwmigrate confirm` from
another shell), it restores the backup taken just before the commit. A commit the kernel
refused is recorded as cancelled: nothing changed, nothing to roll back.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .backup import BackupError, StateDir, netns_token, restore
from .backup import read as read_backup
from .kernel import Kernel, KernelError

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Pending:
    path: Path               # pending/<id>.json
    backup: Path
    deadline: float
    netns: str | None
    owner: int = 0           # pid of the apply that commits

    @property
    def committed_marker(self) -> Path:
        return self.path.with_suffix(".committed")

    @property
    def cancelled_marker(self) -> Path:
        return self.path.with_suffix(".cancelled")

    @property
    def confirmed_marker(self) -> Path:
        return self.path.with_suffix(".confirmed")

    @property
    def rejected_marker(self) -> Path:              # answered `no` at the prompt
        return self.path.with_suffix(".rejected")

    @property
    def result_file(self) -> Path:
        return self.path.with_suffix(".result")

    @property
    def watchdog_file(self) -> Path:
        return self.path.with_suffix(".watchdog")


def _pending_dir(state: StateDir) -> Path:
    path = state.root / "pending"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def start(state: StateDir, backup: Path, seconds: float, netns: str | None) -> Pending:
    """Record the pending apply and start the watchdog that rolls back unless confirmed."""
    ident = f"{os.getpid()}-{int(time.time() * 1000)}"
    pending = Pending(_pending_dir(state) / f"{ident}-{netns_token(netns)}.json", backup,
                      time.time() + seconds, netns, os.getpid())
    fd = os.open(pending.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"backup": str(backup), "deadline": pending.deadline, "netns": netns,
                   "owner": pending.owner}, fh)
    child = os.fork()
    if child == 0:                      # first child: detach, then fork the watchdog
        try:
            os.setsid()
            if os.fork() == 0:
                _watchdog(pending, state)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return pending


def _watchdog(pending: Pending, state: StateDir) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    pending.watchdog_file.write_text(f"{os.getpid()}\n")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while ((time.time() < pending.deadline and not pending.rejected_marker.exists())
           or not _settled(pending)):
        if pending.cancelled_marker.exists():
            _finish(pending, "cancelled: the commit was refused, nothing changed")
            os._exit(0)
        if pending.confirmed_marker.exists():
            _finish(pending, "confirmed")
            os._exit(0)
        time.sleep(POLL_SECONDS)
    if pending.confirmed_marker.exists():
        _finish(pending, "confirmed")
        os._exit(0)
    if not pending.backup.exists() and (state.used / pending.backup.name).exists():
        _finish(pending, "already rolled back (by `fwmigrate rollback`)")
        os._exit(0)
    try:
        backup = read_backup(pending.backup)
        restore(Kernel(), backup)
        stuck = state.retire(backup)    # a later `fwmigrate rollback` steps back from here
        _finish(pending, "rolled back" + (f"; {stuck}" if stuck else ""))
    except (BackupError, KernelError, OSError) as exc:
        _finish(pending, f"rollback failed: {exc}")
    os._exit(0)


def committed(pending: Pending) -> None:
    """The new ruleset is in place: the watchdog may roll it back from the deadline on."""
    pending.committed_marker.touch(mode=0o600)


def cancel(pending: Pending) -> None:
    """The kernel refused the commit: the watchdog leaves the ruleset alone."""
    pending.cancelled_marker.touch(mode=0o600)


def _settled(pending: Pending) -> bool:
    # a commit in flight may still land: rolling back before it would be undone by it
    return (pending.committed_marker.exists() or pending.cancelled_marker.exists()
            or not _alive(pending.owner))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"     # a zombie has ended
    except (OSError, IndexError):
        return False


def _finish(pending: Pending, result: str) -> None:
    pending.result_file.write_text(result + "\n")
    pending.path.unlink(missing_ok=True)
    for marker in (pending.committed_marker, pending.cancelled_marker, pending.watchdog_file):
        marker.unlink(missing_ok=True)


def waiting(state: StateDir, netns: str | None) -> Pending | None:
    """A pending apply of this namespace whose watchdog has not finished: its rollback would
    undo whatever is applied meanwhile too. Files left by a watchdog that died (a reboot) do
    not count."""
    for pending in _pending(state, netns):
        try:
            dog = int(pending.watchdog_file.read_text())
        except (OSError, ValueError):
            dog = 0
        if _ours(dog) or (not pending.result_file.exists() and _ours(pending.owner)):
            return pending
    return None


def _ours(pid: int) -> bool:
    """A live fwmigrate process (after a reboot the pid may be another program's)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"fwmigrate" in fh.read() and _alive(pid)
    except OSError:
        return False


def _pending(state: StateDir, netns: str | None) -> list[Pending]:
    """This namespace's pending applies, newest first."""
    directory = state.root / "pending"
    if not directory.is_dir():
        return []
    token = glob.escape(netns_token(netns))
    found = []
    for path in sorted(directory.glob(f"*-{token}.json"), key=_mtime, reverse=True):
        try:
            data = json.loads(path.read_text())
            pending = Pending(path, Path(data["backup"]), float(data["deadline"]),
                              data["netns"], int(data.get("owner", 0)))
        except (OSError, ValueError, KeyError, TypeError):
            continue        # finished meanwhile, or not ours: the watchdog reads its own
        if pending.netns == netns:
            found.append(pending)
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def confirm(state: StateDir, netns: str | None) -> Pending | None:
    """Record the confirmation of the newest pending apply for this namespace."""
    for pending in _pending(state, netns):
        if time.time() <= pending.deadline:
            pending.confirmed_marker.touch(mode=0o600)
            return pending
    return None


def wait_for_result(pending: Pending, grace: float = 10.0) -> str | None:
    """The watchdog's verdict, once it has one (None if it gives none in time)."""
    until = pending.deadline + grace
    while time.time() < until:
        if pending.result_file.exists():
            return pending.result_file.read_text().strip()
        time.sleep(POLL_SECONDS)
    return None
