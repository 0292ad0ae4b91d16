"""Backups of the kernel's ruleset before each apply, and the transaction that restores one.

A backup is the `nft -j list ruleset` listing (mode 0600, in a 0700 directory) plus what the
apply replaced: only fwmigrate's own tables ("tables"), or everything ("ruleset", after
--flush-ruleset). Restoring puts back exactly that scope, so tables other software changed
since (Docker's, say) are not touched by a rollback of ours.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

DEFAULT_STATE_DIR = "/var/lib/fwmigrate"
_OBJECTS = ("table", "set", "map", "flowtable", "counter", "quota", "ct helper", "limit",
            "ct timeout", "ct expectation", "secmark", "synproxy", "chain", "rule")


class BackupError(Exception):
    """The state directory or a backup in it cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Backup:
    path: Path
    created: str
    netns: str | None
    scope: str                                  # "tables" or "ruleset"
    tables: tuple[tuple[str, str], ...]         # (family, name) the apply replaced
    listing: dict[str, Any]
    # the scope in nft syntax too, when it holds what libnftables 1.0.6 drops from JSON (a
    # set's comment: `ipset NAME TYPE`, which status and diff --live read); restored from this
    text: str | None = None


def netns_token(netns: str | None) -> str:
    """The namespace as it appears in a file name: "host", or the name with "/" (a path given
    to --netns) and "%" escaped."""
    return quote(netns, safe="") if netns else "host"


def named_for(directory: Path, netns: str | None) -> list[Path]:
    """The files `<timestamp>-<token>.json` of this namespace, oldest first. The timestamp's
    fixed shape keeps namespace "lab-host" out of the host's files."""
    return sorted(directory.glob(f"{_STAMP_GLOB}-{glob.escape(netns_token(netns))}.json"))


_STAMP_GLOB = "????????T??????.??????Z"


class StateDir:
    def __init__(self, root: str | os.PathLike = DEFAULT_STATE_DIR):
        self.root = Path(root)
        self.backups = self.root / "backups"
        self.used = self.backups / "rolled-back"

    def _ensure(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)

    def save_backup(self, listing: dict[str, Any], scope: str,
                    tables: list[tuple[str, str]], netns: str | None,
                    text: str | None = None) -> Backup:
        created = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.backups / f"{created}-{netns_token(netns)}.json"
        data = {"fwmigrate_backup": 1, "created": created, "netns": netns, "scope": scope,
                "tables": [list(t) for t in tables], "ruleset": listing}
        if text is not None:
            data["text"] = text
        fd = None
        try:
            self._ensure(self.backups)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            if fd is not None:                  # half written (disk full): not a backup
                path.unlink(missing_ok=True)
            raise BackupError(f"cannot save the backup in {self.backups}: "
                              f"{exc.strerror or exc}; nothing was applied (--state-dir "
                              "chooses another place)") from None
        return Backup(path, created, netns, scope, tuple(tables), listing, text)

    def discard(self, backup: Backup) -> None:
        """Forget the backup of an apply the kernel refused: the ruleset did not change, and
        the apply before it must stay the one `rollback` undoes."""
        backup.path.unlink(missing_ok=True)

    def retire(self, backup: Backup) -> str | None:
        """A rollback restored this backup: keep it aside, so the next rollback steps back to
        the backup before it. Says what went wrong if it could not (the restore stands)."""
        try:
            self._ensure(self.used)
            backup.path.rename(self.used / backup.path.name)
        except OSError as exc:
            return (f"the backup {backup.path} could not be set aside in {self.used} "
                    f"({exc.strerror or exc}): the next rollback would restore it again; "
                    "move it there by hand")
        return None

    def list_backups(self, netns: str | None) -> list[Backup]:
        if not self.backups.is_dir():
            return []
        found = []
        for path in named_for(self.backups, netns):
            backup = read(path)
            if backup.netns == netns:           # "host" is also a namespace's possible name
                found.append(backup)
        return found

    def latest_backup(self, netns: str | None) -> Backup | None:
        backups = self.list_backups(netns)
        return backups[-1] if backups else None

    def used_count(self, netns: str | None) -> int:
        return len(named_for(self.used, netns)) if self.used.is_dir() else 0

    def prune(self, netns: str | None, keep: int) -> list[str]:
        """Remove all but the newest `keep` backups of this namespace, and of those set aside
        by rollbacks: each holds a whole listing. Says what could not be removed."""
        problems = []
        for directory in (self.backups, self.used):
            if not directory.is_dir():
                continue
            mine = [p for p in named_for(directory, netns) if _netns_of(p) == netns]
            for path in mine[:-keep]:
                try:
                    path.unlink()
                except OSError as exc:
                    problems.append(f"cannot remove the old backup {path}: "
                                    f"{exc.strerror or exc}")
        return problems


def read(path: Path) -> Backup:
    try:
        data = json.loads(path.read_text())
        tables = tuple((str(f), str(n)) for f, n in data["tables"])
        if data["scope"] not in ("tables", "ruleset") or not isinstance(data["ruleset"], dict):
            raise ValueError("not a fwmigrate backup")
        text = data.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError("its text is not text")
        return Backup(path, str(data["created"]), data["netns"], data["scope"], tables,
                      data["ruleset"], text)
    except OSError as exc:
        why = exc.strerror or str(exc)
    except (ValueError, KeyError, TypeError) as exc:
        why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
    raise BackupError(f"cannot read the backup {path} ({why}); move it out of {path.parent} "
                      "to roll back to the one before it")


def _netns_of(path: Path) -> str | None | bool:
    """The namespace a backup names, read from the start of the file (save_backup writes it
    before the listing), so that pruning need not parse whole listings. False if unreadable:
    such a file is left for the user, as `rollback` names it."""
    try:
        with path.open() as fh:
            head = fh.read(4096)
    except OSError:
        return False
    found = re.search(r'"netns": (null|"(?:[^"\\]|\\.)*")', head)
    return json.loads(found[1]) if found else False


def check_trusted(backup: Backup) -> None:
    """Restoring loads the file's rules as root: refuse one another user owns or may write."""
    st = backup.path.stat()
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise BackupError(f"the backup {backup.path} is writable by others or not yours "
                          f"(owner uid {st.st_uid}, mode {st.st_mode & 0o777:04o}); it is not "
                          "restored (check it, then chown/chmod 600 it if it is sound)")


def _clean(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k != "handle"}
    if kind in ("set", "map"):
        # 1.0.6's JSON parser refuses "dynamic" (it follows from the rules); an element's
        # remaining time is listed but cannot be given back
        if "flags" in out:
            flags = [f for f in ([out["flags"]] if isinstance(out["flags"], str)
                                 else out["flags"]) if f != "dynamic"]
            if flags:
                out["flags"] = flags
            else:
                del out["flags"]
        if "elem" in out:
            out["elem"] = [_clean_elem(e) for e in out["elem"]]
    return out


def _clean_elem(elem: Any) -> Any:
    if isinstance(elem, dict) and "elem" in elem:
        inner = {k: v for k, v in elem["elem"].items() if k != "expires"}
        return {"elem": inner}
    return elem


def readd_commands(listing: dict[str, Any],
                   tables: set[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """`add` commands that recreate the listed objects (all, or those of `tables`)."""
    cmds = []
    for item in listing.get("nftables", []):
        for kind in _OBJECTS:
            if kind in item:
                obj = item[kind]
                where = (obj.get("family"), obj.get("name") if kind == "table" else
                         obj.get("table"))
                if tables is None or where in tables:
                    cmds.append({"add": {kind: _clean(kind, obj)}})
    return cmds


def existing_tables(listing: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i["table"]["family"], i["table"]["name"])
            for i in listing.get("nftables", []) if "table" in i}


def restore_batch(backup: Backup, current: dict[str, Any]) -> dict[str, Any]:
    """The transaction that puts the backed-up scope back as it was."""
    cmds: list[dict[str, Any]] = []
    if backup.scope == "ruleset":
        cmds.append({"flush": {"ruleset": None}})
        cmds += readd_commands(backup.listing)
        return {"nftables": cmds}
    wanted = set(backup.tables)
    for family, name in sorted(wanted & existing_tables(current)):
        cmds.append({"delete": {"table": {"family": family, "name": name}}})
    cmds += readd_commands(backup.listing, wanted)
    return {"nftables": cmds}


def in_scope(listing: dict[str, Any], scope: str,
             tables: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The existing tables a backup of this scope covers."""
    return sorted(t for t in existing_tables(listing) if scope == "ruleset" or t in tables)


def needs_text(listing: dict[str, Any], scope: str, tables: set[tuple[str, str]]) -> bool:
    """Would a JSON restore lose something (a set's comment)?"""
    for item in listing.get("nftables", []):
        obj = item.get("set") or item.get("map")
        if obj and "comment" in obj and (scope == "ruleset"
                                         or (obj["family"], obj["table"]) in tables):
            return True
    return False


def restore_text(backup: Backup, current: dict[str, Any]) -> str:
    """restore_batch's transaction in nft syntax, from the backup's text."""
    if backup.scope == "ruleset":
        return "flush ruleset\n" + (backup.text or "")
    lines = [f"delete table {family} {name}"
             for family, name in sorted(set(backup.tables) & existing_tables(current))]
    return "\n".join(lines) + "\n" + (backup.text or "")


def restore(kernel: Any, backup: Backup) -> None:
    """Put the backed-up scope back, as one transaction (in nft syntax where JSON would lose
    something)."""
    current = kernel.ruleset()
    if backup.text is not None:
        kernel.run_text(restore_text(backup, current))
    else:
        kernel.run(restore_batch(backup, current))
