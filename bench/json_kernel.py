"""Two scratch network namespaces for bench/json_fuzz.py: one loads nft text with `nft -f`, the
other libnftables JSON through the Python bindings (`Nftables.json_cmd`, as `fwmigrate apply`
sends it, fwmigrate/apply/kernel.py), and each tells what its kernel then holds.

Each namespace has a worker process that entered it (forked, then setns): the bindings load in
the worker's own namespace, and the `nft` programs it runs inherit it. The two loads of a batch
run at the same time, one per core.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import netlink_bytecode  # noqa: E402

from fwmigrate.apply.kernel import enter_netns  # noqa: E402


def _nft(*args: str, input: str | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(["nft", *args], input=input, text=True, capture_output=True)
    return proc.returncode, proc.stdout, proc.stderr


def _serve(conn, namespace: str) -> None:
    enter_netns(namespace)
    import nftables
    bindings = nftables.Nftables()
    bindings.set_json_output(True)
    while True:
        op, arg = conn.recv()
        if op == "stop":
            return
        try:
            if op == "text":
                _nft("flush", "ruleset")
                rc, _out, err = _nft("-f", "-", input=arg)
                conn.send((rc, err))
            elif op == "json":
                _nft("flush", "ruleset")
                rc, _out, err = bindings.json_cmd(arg)
                conn.send((rc, err))
            elif op == "state":
                rc, out, err = _nft("--debug=netlink", "list", "ruleset")
                _rc, listing, _err = _nft("-j", "list", "ruleset")
                conn.send((netlink_bytecode.normalise(out) if rc == 0 else [f"ERROR {err}"],
                           json.loads(listing)["nftables"] if listing.strip() else []))
            else:
                conn.send(ValueError(f"unknown request {op}"))
        except Exception as exc:     # noqa: BLE001 - handed to the caller, which raises it
            conn.send(exc)


class Worker:
    def __init__(self, namespace: str):
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, namespace), daemon=True)
        self.process.start()

    def send(self, op: str, arg=None) -> None:
        self.conn.send((op, arg))

    def answer(self):
        reply = self.conn.recv()
        if isinstance(reply, Exception):
            raise reply
        return reply

    def stop(self) -> None:
        try:
            self.send("stop")
        finally:
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


class Pair:
    """The text namespace and the JSON namespace."""

    def __init__(self, text_ns: str, json_ns: str):
        self.text, self.json = Worker(text_ns), Worker(json_ns)

    def load(self, text: str, batch: dict) -> tuple[tuple[int, str], tuple[int, str]]:
        """(rc, error) of loading the text and of loading the JSON, each in its namespace
        (emptied first)."""
        self.text.send("text", text)
        self.json.send("json", batch)
        return self.text.answer(), self.json.answer()

    def state(self) -> tuple[tuple[list[str], list], tuple[list[str], list]]:
        """(bytecode lines, `nft -j list ruleset` items) of the text side and the JSON side."""
        self.text.send("state")
        self.json.send("state")
        return self.text.answer(), self.json.answer()

    def stop(self) -> None:
        for worker in (self.text, self.json):
            worker.stop()


@contextmanager
def pair(prefix: str = "fwm-json"):
    from netns import namespace
    with ExitStack() as stack:
        text_ns = stack.enter_context(namespace(prefix + "-text"))
        json_ns = stack.enter_context(namespace(prefix + "-json"))
        kernels = Pair(text_ns.name, json_ns.name)
        try:
            yield kernels
        finally:
            kernels.stop()
