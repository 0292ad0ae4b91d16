"""The kernel's nftables, through libnftables: the official Python bindings (Debian:
python3-nftables), or `nft -j` when they cannot be imported. Also entering a network namespace.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

CLONE_NEWNET = 0x40000000


class KernelError(Exception):
    """nftables refused a transaction (nothing of it was applied) or could not be reached."""


class NoNftables(KernelError):
    """Neither the bindings nor the nft program: nothing was sent."""


def enter_netns(name: str) -> None:
    """Move this (single-threaded) process into the named network namespace for good."""
    path = name if "/" in name else f"/run/netns/{name}"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise KernelError(f"network namespace {name}: {exc.strerror}"
                          " (create it with `ip netns add`)") from None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise KernelError(f"cannot enter network namespace {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


class Kernel:
    """Runs libnftables JSON batches; each batch is one transaction, all or nothing."""

    def __init__(self, force_cli: bool = False):
        self.nft = None
        self.fallback_reason: str | None = None
        if not force_cli:
            try:
                import nftables  # noqa: PLC0415 - optional: the distribution's bindings
                self.nft = nftables.Nftables()
                self.nft.set_json_output(True)
            except (ImportError, OSError) as exc:
                self.fallback_reason = (f"the nftables Python bindings cannot be loaded ({exc}); "
                                        "using `nft -j -f -` instead (Debian: apt install "
                                        "python3-nftables)")
        else:
            self.fallback_reason = "using `nft -j` as asked"
        if self.nft is None and shutil.which("nft") is None:
            raise NoNftables("neither the nftables Python bindings nor the nft program is "
                              "available (Debian: apt install nftables python3-nftables)")

    @property
    def via(self) -> str:
        return "libnftables (python3-nftables)" if self.nft is not None else "nft -j -f -"

    def run(self, batch: dict[str, Any], *, check: bool = False) -> None:
        """Apply (or with check=True only validate, in the kernel too) one JSON batch."""
        self._load(lambda nft: nft.json_cmd(batch), ["-j", *(["-c"] if check else []), "-f", "-"],
                   lambda: json.dumps(batch), check=check, text=False, what="transaction")

    def run_text(self, text: str, *, check: bool = False) -> None:
        """The same for an `nft -f` text file."""
        self._load(lambda nft: nft.cmd(text), [*(["-c"] if check else []), "-f", "-"],
                   lambda: text, check=check, text=True, what="file")

    def run_file(self, path: str) -> None:
        """Load an `nft -f` file by its name: nft's errors then say line and column (for text
        given as a buffer libnftables shows neither)."""
        self._load(lambda nft: nft.cmd_from_file(path), ["-f", path], None, check=False,
                   text=True, what="file")

    def _load(self, library: Callable[[Any], tuple[int, str, str]], cli: list[str],
              cli_input: Callable[[], str] | None, *, check: bool, text: bool,
              what: str) -> None:
        """One load through the bindings (dry run when checking; nft syntax, not JSON, when
        `text`), or through the nft program with `cli` as its arguments."""
        if self.nft is not None:
            self.nft.set_dry_run(check)
            if text:
                self.nft.set_json_output(False)
            try:
                rc, _out, err = library(self.nft)
            finally:
                self.nft.set_dry_run(False)
                if text:
                    self.nft.set_json_output(True)
        else:
            # in its own process group: a Ctrl-C at the terminal reaches fwmigrate (which
            # waits for the commit to end, interrupts.py), not nft in the middle of it
            proc = subprocess.run(["nft", *cli], input=cli_input() if cli_input else None,
                                  text=True, capture_output=True, process_group=0)
            rc, err = proc.returncode, proc.stderr
        if rc != 0:
            raise KernelError(_short(err) or f"nftables refused the {what} (rc {rc})")

    def ruleset(self) -> dict[str, Any]:
        """`nft -j list ruleset`, as data."""
        return self._list({"ruleset": None}, ["ruleset"])

    def text(self, words: list[str]) -> str:
        """`nft list WORDS…` in nft syntax (e.g. ["table", "ip", "fwmigrate"])."""
        if self.nft is not None:
            self.nft.set_json_output(False)
            try:
                rc, out, err = self.nft.cmd("list " + " ".join(words))
            finally:
                self.nft.set_json_output(True)
        else:
            proc = subprocess.run(["nft", "list", *words], text=True, capture_output=True)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        if rc != 0:
            raise KernelError(_short(err))
        return out

    def _list(self, what: dict[str, Any], words: list[str]) -> dict[str, Any]:
        if self.nft is not None:
            rc, out, err = self.nft.json_cmd({"nftables": [{"list": what}]})
            if rc != 0:
                raise KernelError(_short(err))
            return out if out else {"nftables": []}
        proc = subprocess.run(["nft", "-j", "list", *words], text=True, capture_output=True)
        if proc.returncode != 0:
            raise KernelError(_short(proc.stderr))
        return json.loads(proc.stdout) if proc.stdout.strip() else {"nftables": []}


def _short(err: str) -> str:
    lines = [line for line in (err or "").splitlines() if line.strip()]
    return "\n".join(lines[:12])
