"""Scratch network namespaces for tests that load rules into the real kernel.

Every namespace is created by the test that uses it and deleted afterwards, even when the test
fails; nothing here touches the root namespace's ruleset, addresses or routes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from contextlib import contextmanager


def kernel_available() -> str | None:
    """None when namespaces can be used here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    return None


def run(cmd: list[str], *, input: str | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=input, text=True, capture_output=True, check=check)


class Namespace:
    def __init__(self, name: str):
        self.name = name

    def run(self, *cmd: str, input: str | None = None, check: bool = True):
        return run(["ip", "netns", "exec", self.name, *cmd], input=input, check=check)

    def nft(self, *args: str, input: str | None = None, check: bool = True):
        return self.run("nft", *args, input=input, check=check)

    def wait_for_table(self, name: str, seconds: float = 15) -> None:
        """Until `nft list tables` names `name` (a command in the background has loaded it),
        or `seconds` pass: the caller's asserts then say whether it came."""
        deadline = time.time() + seconds
        while name not in self.nft("list", "tables").stdout and time.time() < deadline:
            time.sleep(0.2)


def without_handles(listing):
    """An `nft -j list` listing (or any part of one) without its `handle` keys, which differ
    from one load to the next."""
    if isinstance(listing, dict):
        return {k: without_handles(v) for k, v in listing.items() if k != "handle"}
    if isinstance(listing, list):
        return [without_handles(x) for x in listing]
    return listing


@contextmanager
def namespace(prefix: str = "fwm-test"):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    run(["ip", "netns", "add", name])
    try:
        yield Namespace(name)
    finally:
        run(["ip", "netns", "del", name], check=False)
