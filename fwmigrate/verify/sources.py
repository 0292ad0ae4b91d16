"""Read any ruleset into the IR: an iptables script or save file, nft JSON, an nft text file
(loaded into a throwaway network namespace and listed back), or the live kernel."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import Diagnostic, Diagnostics, FwmigrateError
from ..frontends import read_ruleset
from ..frontends.nft_ruleset import read_nft_json
from ..ir import Ruleset


def looks_like_nft_text(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return stripped.split()[0] in ("table", "flush", "add", "delete", "define", "include")
    return False


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
                   load_text: str | None = None) -> dict[str, Any]:
    """Load a ruleset into `netns` through libnftables and return what the kernel lists."""
    code = ("import json, sys\n"
            "from fwmigrate.apply.kernel import Kernel, KernelError\n"
            "k = Kernel()\n"
            "data = json.load(sys.stdin)\n"
            "try:\n"
            "    if data['json'] is not None: k.run(data['json'])\n"
            "    if data['text'] is not None: k.run_text(data['text'])\n"
            "except KernelError as exc:\n"
            "    print(json.dumps({'error': str(exc)})); sys.exit(0)\n"
            "print(json.dumps(k.ruleset()))\n")
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", code],
                          input=json.dumps({"json": load_json, "text": load_text}),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise FwmigrateError([Diagnostic(None, f"cannot read the kernel's ruleset: "
                                               f"{proc.stderr.strip()[-500:]}")])
    out = json.loads(proc.stdout)
    if "error" in out:
        raise FwmigrateError([Diagnostic(None, f"nftables refused the ruleset: {out['error']}")])
    return out


def live_listing(netns: str | None) -> dict[str, Any]:
    if netns:
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
        except ValueError as exc:
            diags.error(None, f"{name}: not valid JSON ({exc})")
            return Ruleset((), name)
        if _is_batch(listing):
            # commands (`fwmigrate convert --to nft-json`), not a listing: the kernel says
            # what they build
            with scratch_namespace() as netns:
                return read_nft_json(kernel_listing(netns, load_json=listing), name, diags)
        return read_nft_json(listing, name, diags)
    if looks_like_nft_text(text):
        with scratch_namespace() as netns:
            return read_nft_json(kernel_listing(netns, load_text=text), name, diags)
    return read_ruleset(text, name, diags, **frontend)


def _is_batch(listing: Any) -> bool:
    items = listing.get("nftables", []) if isinstance(listing, dict) else []
    return any(isinstance(i, dict) and i.keys() & {"add", "create", "insert", "delete", "flush"}
               for i in items)


def read_live(netns: str | None, diags: Diagnostics) -> Ruleset:
    name = f"live ruleset{' of ' + netns if netns else ''}"
    return read_nft_json(live_listing(netns), name, diags)
