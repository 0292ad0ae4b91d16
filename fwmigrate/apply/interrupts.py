"""Ctrl-C, SIGTERM and SIGHUP while an apply holds a backup it has not committed yet.

Between saving the backup and the end of the commit, an interruption would leave a backup of
an apply that never happened (the next `rollback` restores it: nothing changes, and the apply
the user meant to undo stays), or stop the process with the commit done and nobody told.
Inside `deferred()` these signals are only noted; the apply looks at them where it knows what
happened: before the commit it removes the backup and stops (`Interrupted`), after it the
ruleset is in place and the caller says so.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """A signal came before the commit: nothing was applied, and its backup is gone."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name


@contextmanager
def _handling(signals: tuple[int, ...], handler) -> Iterator[None]:
    """`handler` for those of `signals` that are not ignored (as under nohup), the previous
    handlers again afterwards. Outside the main thread (no signal handlers there) nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in signals
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def deferred() -> Iterator[list[int]]:
    """Note SIGINT, SIGTERM and SIGHUP instead of acting on them; yields the list of those
    that came."""
    caught: list[int] = []
    with _handling(SIGNALS, lambda got, _frame: caught.append(got)):
        yield caught


@contextmanager
def raised(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """SIGTERM (and SIGINT) raise Interrupted here, where the caller can act on them (roll
    back a pending confirmation) instead of the process ending (SIGTERM's default) or click
    printing `Aborted!` (KeyboardInterrupt)."""
    def stop(signum, _frame):
        raise Interrupted(signum)
    with _handling(signals, stop):
        yield
