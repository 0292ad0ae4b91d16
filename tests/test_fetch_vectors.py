"""tests/conformance/fetch_vectors.py's safety checks, on small tarballs built here (no network):
a tarball whose sha256 is not the pinned one is refused, and only regular *.txlate / *.t files
directly in iptables-1.8.9/extensions/ are written, under their own name inside the destination."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import fetch_vectors

SCRIPT = Path(fetch_vectors.__file__)


def tarball(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


GOOD = {"iptables-1.8.9/extensions/libxt_tcp.t": b":INPUT\n-p tcp;=;OK\n",
        "iptables-1.8.9/extensions/libxt_tcp.txlate": b"iptables-translate -p tcp\nnft 'x'\n"}


def test_a_tarball_with_another_hash_is_refused_and_nothing_written(tmp_path):
    data = tarball(GOOD)
    dest = tmp_path / "vectors"
    with pytest.raises(fetch_vectors.FetchError, match="refusing to use it"):
        fetch_vectors.extract(data, dest)       # the pinned hash of Debian's tarball
    assert not dest.exists()


def test_only_vectors_directly_in_extensions_are_written(tmp_path):
    outside = tmp_path / "escaped.t"
    evil = {
        "iptables-1.8.9/extensions/../../escaped.t": b"x",
        "iptables-1.8.9/extensions/../libxt_up.t": b"x",
        "../escaped.t": b"x",
        "/tmp/absolute.t": b"x",
        "iptables-1.8.9/extensions/sub/libxt_deep.t": b"x",
        "iptables-1.8.9/iptables/tests/libxt_other.t": b"x",
        "other-1.0/extensions/libxt_other.t": b"x",
        "iptables-1.8.9/extensions/libxt_tcp.c": b"x",
        "iptables-1.8.9/extensions/.hidden.t": b"x",
        "iptables-1.8.9/extensions/..t": b"x",
    }
    data = tarball(GOOD | evil, links={"iptables-1.8.9/extensions/libxt_link.t": str(outside)})
    dest = tmp_path / "a" / "vectors"
    assert fetch_vectors.extract(data, dest, tarball_sha256=sha(data)) == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        ".fetched", "libxt_tcp.t", "libxt_tcp.txlate"]
    assert (dest / "libxt_tcp.t").read_bytes() == GOOD["iptables-1.8.9/extensions/libxt_tcp.t"]
    assert not outside.exists()
    assert fetch_vectors.problem(dest, sha(data)) is None


def test_a_changed_or_extra_or_missing_file_is_noticed_and_fetched_again(tmp_path):
    data = tarball(GOOD)
    dest = tmp_path / "vectors"
    fetch_vectors.extract(data, dest, tarball_sha256=sha(data))
    assert fetch_vectors.problem(dest, "0" * 64).endswith("was fetched from another tarball "
                                                          f"(sha256 {sha(data)})")
    (dest / "libxt_tcp.t").write_text("edited\n")
    assert fetch_vectors.problem(dest, sha(data)).endswith("libxt_tcp.t changed since it was "
                                                           "fetched")
    (dest / "libxt_tcp.t").unlink()
    assert fetch_vectors.problem(dest, sha(data)).endswith("libxt_tcp.t is missing")
    (dest / "libxt_new.t").write_text("")
    assert "libxt_new.t" in fetch_vectors.problem(dest, sha(data))
    fetch_vectors.extract(data, dest, tarball_sha256=sha(data))     # replaces what is there
    assert fetch_vectors.problem(dest, sha(data)) is None
    assert sorted(p.name for p in dest.iterdir()) == [".fetched", "libxt_tcp.t",
                                                      "libxt_tcp.txlate"]
    (dest / ".fetched").write_text(json.dumps({"files": {}}))
    assert "not a marker" in fetch_vectors.problem(dest, sha(data))
    (dest / ".fetched").unlink()
    assert "no complete fetch" in fetch_vectors.problem(dest, sha(data))


def test_the_command_refuses_a_wrong_tarball_without_a_traceback(tmp_path):
    # a copy of the script writes next to itself: the real vectors are never at stake here
    script = tmp_path / "fetch_vectors.py"
    script.write_bytes(SCRIPT.read_bytes())
    bad = tmp_path / "iptables_1.8.9.orig.tar.xz"
    bad.write_bytes(tarball(GOOD))
    run = subprocess.run([sys.executable, script, "--tarball", bad],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.startswith(f"error: {bad} has sha256 {sha(bad.read_bytes())}, expected "
                                 f"{fetch_vectors.TARBALL_SHA256}")
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([bad.name, script.name])
    missing = subprocess.run([sys.executable, script, "--tarball", tmp_path / "nope"],
                             capture_output=True, text=True, timeout=60)
    assert (missing.returncode, missing.stderr) == (
        1, f"error: cannot read {tmp_path / 'nope'}: No such file or directory\n")


def test_a_failed_download_says_what_where_and_what_to_do(tmp_path):
    script = tmp_path / "fetch_vectors.py"
    script.write_bytes(SCRIPT.read_bytes())
    with socket.socket() as sock:           # a local port nothing listens on: no network here
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy")}
    env["http_proxy"] = f"http://127.0.0.1:{port}"
    run = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60,
                         env=env)
    assert run.returncode == 1
    assert run.stderr == (f"error: could not download {fetch_vectors.URL}: [Errno 111] "
                          "Connection refused\nhint: check the network (or the http_proxy "
                          "variable), or download that file by hand and run `python "
                          "tests/conformance/fetch_vectors.py --tarball FILE`\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [script.name]
