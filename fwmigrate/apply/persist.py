"""`fwmigrate save`: write the nft file that makes the ruleset permanent, safely.

The kernel validates it first (a dry run); then it is written to a temporary file in the same
directory, owned by root and mode 0600, flushed to disk and renamed over the target, so a
file written earlier is never left half-written. A symbolic link at the target is replaced,
not written through (root following a link could overwrite any file). --enable also enables
and starts nftables.service where systemd runs; it is refused for any other file than the one
the service loads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .kernel import Kernel

SERVICE_FILE = "/etc/nftables.conf"     # what Debian's nftables.service loads (nft -f)


def write_atomically(path: str | os.PathLike, text: str, mode: int = 0o600) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        if os.geteuid() == 0:
            os.fchown(fd, 0, 0)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(text: str, path: str, *, use_nft_cli: bool = False) -> None:
    Kernel(force_cli=use_nft_cli).run_text(text, check=True)
    write_atomically(path, text)


def enable_service() -> str:
    """Enable and start nftables.service; says what it did (or why it did nothing)."""
    if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
        return ("systemd is not running here; nothing was enabled (load the file at boot "
                "with your init system, e.g. `nft -f /etc/nftables.conf`)")
    proc = subprocess.run(["systemctl", "enable", "--now", "nftables.service"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return f"systemctl enable --now nftables.service failed: {proc.stderr.strip()}"
    return "enabled and started nftables.service (it loads /etc/nftables.conf at boot)"
