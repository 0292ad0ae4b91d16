"""Backups of the kernel's ruleset before each apply, and the transaction that restores one.

A backup is the `nft -j list ruleset` listing (mode 0600, in a 0700 directory) plus what the
apply replaced: only fwmigrate's own tables ("tables"), or everything ("ruleset", after
--flush-ruleset). Restoring puts back exactly that scope, so tables other software changed
since (Docker's, say) are not touched by a rollback of ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_STATE_DIR = "/var/lib/fwmigrate"
_OBJECTS = ("table", "set", "map", "flowtable", "counter", "quota", "ct helper", "limit",
            "ct timeout", "ct expectation", "secmark", "synproxy", "chain", "rule")


class DamagedState(Exception):
    """A backup or pending-apply file fwmigrate cannot read (cut short, or edited)."""


def read_state_file(path: Path, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object in path, with `keys`; DamagedState naming the file if it is not that."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not all(k in data for k in keys):
            raise ValueError(f"it lacks {', '.join(k for k in keys if k not in data)}"
                             if isinstance(data, dict) else "not a JSON object")
    except (OSError, ValueError) as exc:
        raise DamagedState(f"{path}: not {what} fwmigrate can read ({exc}); move it out of "
                           "the way") from None
    return data


def read_backup(path: Path) -> Backup:
    data = read_state_file(path, "a backup", ("created", "netns", "scope", "tables", "ruleset"))
    try:
        tables = tuple(tuple(t) for t in data["tables"])
    except TypeError:
        raise DamagedState(f"{path}: not a backup fwmigrate can read (its tables are not a "
                           "list of lists); move it out of the way") from None
    return Backup(path, data["created"], data["netns"], data["scope"], tables, data["ruleset"])


@dataclass(frozen=True)
class Backup:
    path: Path
    created: str
    netns: str | None
    scope: str                                  # "tables" or "ruleset"
    tables: tuple[tuple[str, str], ...]         # (family, name) the apply replaced
    listing: dict[str, Any]


class StateDir:
    def __init__(self, root: str | os.PathLike = DEFAULT_STATE_DIR):
        self.root = Path(root)
        self.backups = self.root / "backups"

    def _ensure(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)

    def save_backup(self, listing: dict[str, Any], scope: str,
                    tables: list[tuple[str, str]], netns: str | None) -> Backup:
        self._ensure(self.backups)
        created = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.backups / f"{created}-{netns or 'host'}.json"
        data = {"fwmigrate_backup": 1, "created": created, "netns": netns, "scope": scope,
                "tables": [list(t) for t in tables], "ruleset": listing}
        # written whole under a temporary name, then linked to its own (which must not
        # exist yet): a backup cut short would make the next rollback impossible
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return Backup(path, created, netns, scope, tuple(tables), listing)

    def list_backups(self, netns: str | None) -> list[Backup]:
        if not self.backups.is_dir():
            return []
        return [read_backup(path)
                for path in sorted(self.backups.glob(f"*-{netns or 'host'}.json"))]

    def latest_backup(self, netns: str | None) -> Backup | None:
        backups = self.list_backups(netns)
        return backups[-1] if backups else None


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
