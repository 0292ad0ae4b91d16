"""Read any ruleset into the IR: an iptables script or save file, nft JSON, an nft text file
(loaded into a throwaway network namespace and listed back), or the live kernel."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import Diagnostic, Diagnostics, FwmigrateError, undecodable_byte
from ..frontends import nft_text_line, read_ruleset
from ..frontends.nft_ruleset import read_nft_json
from ..ir import Ruleset, SourceLocation


@contextmanager
def scratch_namespace() -> Iterator[str]:
    name = f"fwmigrate-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if proc.returncode != 0:
        raise FwmigrateError([Diagnostic(None, f"cannot create a scratch network namespace: "
                                               f"{proc.stderr.strip()}",
                                         hint="this needs root and iproute2")])
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def kernel_listing(netns: str, *, load_json: dict | None = None,
                   load_text: str | None = None, name: str = "the ruleset",
                   json_text: str | None = None) -> dict[str, Any]:
    """Load a ruleset into `netns` through libnftables and return what the kernel lists.
    nft text is loaded from a file, so that nft's errors say where (`name`:line:col);
    `json_text` is the file load_json was read from, where a refused command is found."""
    code = ("import json, sys\n"
            "from fwmigrate.apply.kernel import Kernel, KernelError\n"
            "k = Kernel()\n"
            "data = json.load(sys.stdin)\n"
            "try:\n"
            "    if data['json'] is not None: k.run(data['json'])\n"
            "    if data['path'] is not None: k.run_file(data['path'])\n"
            "except KernelError as exc:\n"
            "    print(json.dumps({'error': str(exc)})); sys.exit(0)\n"
            "print(json.dumps(k.ruleset()))\n")
    with tempfile.TemporaryDirectory(prefix="fwmigrate-") as tmp:
        path = None
        if load_text is not None:
            path = os.path.join(tmp, "ruleset.nft")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(_comments_as_utf8(load_text))
        # a name from `ip netns`, or a namespace file's path (which `ip netns exec` refuses)
        enter = ["nsenter", f"--net={netns}"] if "/" in netns else ["ip", "netns", "exec", netns]
        proc = subprocess.run([*enter, sys.executable, "-c", code],
                              input=json.dumps({"json": load_json, "path": path}),
                              capture_output=True, text=True)
    if proc.returncode < 0:         # libnftables itself died (1.0.6 does on some input)
        raise FwmigrateError([Diagnostic(
            None, f"nftables crashed ({signal.Signals(-proc.returncode).name}) reading {name}",
            hint="nft cannot read it either (`nft -c -f FILE` says the same): look for a "
                 "statement written in a way nft does not expect")])
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise FwmigrateError([Diagnostic(None, f"cannot read the kernel's ruleset: {last}")])
    out = json.loads(proc.stdout)
    if "error" in out:
        where = _refused_command(out["error"], json_text, name)
        raise FwmigrateError(_nft_errors(out["error"], path, name, load_text, where))
    return out


def _comments_as_utf8(text: str) -> str:
    """The file with each byte that is not UTF-8 (only comment lines may have one: see
    _undecodable_lines) as `?`: a comment means nothing to the ruleset, but nft quotes the line
    in an error, and the bindings die decoding a message that is not UTF-8."""
    if text.isascii():
        return text
    return re.sub("[\udc80-\udcff]", "?", text)


_COMMAND_INDEX = re.compile(r"Parsing command array at index (\d+) failed")


def _refused_command(message: str, text: str | None, name: str) -> SourceLocation | None:
    """Where in the JSON file the command libnftables names by its index starts."""
    m = _COMMAND_INDEX.search(message)
    if m is None or text is None:
        return None
    offset = json_array_item(text, "nftables", int(m[1]))
    return None if offset is None else _located(text, offset, name)


def _located(text: str, offset: int, name: str) -> SourceLocation:
    return SourceLocation(name, text.count("\n", 0, offset) + 1,
                          offset - text.rfind("\n", 0, offset))


def json_array_item(text: str, key: str, index: int) -> int | None:
    """The offset in `text` (a JSON object) of item `index` of the array at its top-level
    `key`, or None."""
    decoder = json.JSONDecoder()
    blank = re.compile(r"[ \t\n\r]*")
    try:
        pos = blank.match(text, 0).end()
        if text[pos] != "{":
            return None
        pos += 1
        while True:
            pos = blank.match(text, pos).end()
            name, pos = decoder.raw_decode(text, pos)
            pos = blank.match(text, pos).end() + 1             # past the colon
            pos = blank.match(text, pos).end()
            if name != key:
                _value, pos = decoder.raw_decode(text, pos)
                pos = blank.match(text, pos).end() + 1         # past a comma
                continue
            if text[pos] != "[":
                return None
            pos += 1
            for _ in range(index):
                _item, pos = decoder.raw_decode(text, blank.match(text, pos).end())
                pos = blank.match(text, pos).end() + 1         # past a comma
            return blank.match(text, pos).end()
    except (ValueError, IndexError):
        return None


# nft's `FILE:LINE:COL-COL: Error: MESSAGE`, then the line and a marker under the place
_NFT_ERROR = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)(?:-\d+)?: Error: (?P<msg>.*)$")


def _nft_errors(message: str, path: str | None, name: str, text: str | None,
                json_command: SourceLocation | None = None) -> list[Diagnostic]:
    """nft's error report as diagnostics at the places in the user's file (for JSON, which
    nft places nowhere, at the command it refused, where known)."""
    lines = text.splitlines() if text is not None else []
    found = []
    for row in message.splitlines():
        m = _NFT_ERROR.match(row)
        if m is None:
            continue
        file, line, col = m["file"], int(m["line"]), int(m["col"])
        if line == 0:               # JSON input: nft says `internal:0:0`, i.e. nowhere
            found.append(Diagnostic(json_command, f"nftables refused {name}: {m['msg']}"))
            continue
        source = None
        if file == path:
            file = name
            source = lines[line - 1] if 1 <= line <= len(lines) else None
        found.append(Diagnostic(SourceLocation(file, line, col), "nftables: " + m["msg"],
                                source_line=source))
    return found or [Diagnostic(None, f"nftables refused {name}: {message}")]


def live_listing(netns: str | None) -> dict[str, Any]:
    if netns:
        path = netns if "/" in netns else f"/run/netns/{netns}"
        if not os.path.exists(path):        # said as apply's --netns says it
            raise FwmigrateError([Diagnostic(None, f"network namespace {netns}: No such file "
                                                   "or directory (create it with `ip netns add`)")])
        return kernel_listing(netns)
    from ..apply.kernel import Kernel, KernelError
    try:
        return Kernel().ruleset()
    except KernelError as exc:
        raise FwmigrateError([Diagnostic(None, str(exc))]) from None


def read_any(text: str, name: str, diags: Diagnostics, **frontend) -> Ruleset:
    """Any supported input → IR (errors go to `diags`)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            listing = json.loads(text)
        except json.JSONDecodeError as exc:
            diags.error(SourceLocation(name, exc.lineno, exc.colno), f"not valid JSON: {exc.msg}")
            return Ruleset((), name)
        if _misshapen(listing, text, name, diags):
            return Ruleset((), name)
        if not _is_batch(listing):
            read = Diagnostics(diags.lines)
            try:
                ruleset = read_nft_json(listing, name, read)
            except (KeyError, TypeError, AttributeError, IndexError, ValueError):
                # the reader takes nft's own listings (`nft -j list ruleset`); this one has
                # another shape (hand-written, or damaged): the kernel decides what it means
                pass
            else:
                diags.extend(read.items)
                return ruleset
        # commands (what `convert --to nft-json` writes), or a listing of another shape: let
        # the kernel run them and list the result, as for nft text
        with scratch_namespace() as netns:
            loaded = kernel_listing(netns, load_json=listing, name=name, json_text=text)
        return read_nft_json(_with_set_comments(loaded, listing), name, diags)
    if nft_text_line(text) is not None:
        if _undecodable_lines(text, name, diags):
            return Ruleset((), name)
        with scratch_namespace() as netns:
            return read_nft_json(kernel_listing(netns, load_text=text, name=name), name, diags)
    return read_ruleset(text, name, diags, **frontend)


_JSON_TYPES = {bool: "true or false", int: "a number", float: "a number", str: "a string",
               list: "an array", type(None): "null"}


def _misshapen(document: Any, text: str, name: str, diags: Diagnostics) -> bool:
    """An nft JSON document is an object whose `nftables` is an array of objects: report
    where it is not (libnftables says so without a place)."""
    items = document.get("nftables") if isinstance(document, dict) else None
    if not isinstance(items, list):
        diags.error(SourceLocation(name, 1, 1), "not an nft JSON document: `nftables' must be "
                    "an array", hint="give `nft -j list ruleset` output or what `fwmigrate "
                                     "convert --to nft-json` writes")
        return True
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            diags.error(_located(text, json_array_item(text, "nftables", index) or 0, name),
                        f"item {index} of the `nftables' array is {_JSON_TYPES[type(item)]}, "
                        "not an object")
            return True
    return False


def _undecodable_lines(text: str, name: str, diags: Diagnostics) -> bool:
    """Report each line outside a comment with a byte that is not UTF-8: the reader keeps rule
    comments and names, and nothing but UTF-8 can be written back."""
    found = False
    if text.isascii():
        return found
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        bad = undecodable_byte(line)
        if bad is not None:
            diags.error(SourceLocation(name, lineno, bad[0] + 1), bad[1], bad[2])
            found = True
    return found


def _with_set_comments(loaded: dict, batch: dict) -> dict:
    """The kernel's listing, with the set comments the batch gave: nft 1.0.6 ignores a set's
    "comment" in JSON input, and the comment is what names an ipset's type for the reader."""
    comments = {}
    for command in batch.get("nftables", []):
        # a command ({"add": {"set": …}}) or, in a listing, the object itself ({"set": …})
        for body in [command, *command.values()]:
            if isinstance(body, dict) and isinstance(body.get("set"), dict):
                s = body["set"]
                if "comment" in s:
                    comments[s.get("family"), s.get("table"), s.get("name")] = s["comment"]
    for item in loaded.get("nftables", []):
        s = item.get("set")
        if s is not None and "comment" not in s:
            comment = comments.get((s.get("family"), s.get("table"), s.get("name")))
            if comment is not None:
                s["comment"] = comment
    return loaded


_COMMANDS = frozenset({"add", "create", "insert", "replace", "delete", "destroy", "flush"})


def _is_batch(document: Any) -> bool:
    items = document.get("nftables") if isinstance(document, dict) else None
    return isinstance(items, list) and any(isinstance(i, dict) and _COMMANDS & i.keys()
                                           for i in items)


def read_live(netns: str | None, diags: Diagnostics) -> Ruleset:
    name = f"live ruleset{' of ' + netns if netns else ''}"
    return read_nft_json(live_listing(netns), name, diags)
