"""Fetch iptables 1.8.9's own test vectors (extensions/*.txlate and *.t) for the conformance
tests and bench/conformance.py. They are iptables' files (GPL-2.0), not part of this repository.

    python tests/conformance/fetch_vectors.py [--tarball FILE] [--force]

Downloads Debian's pristine upstream tarball (the one iptables_1.8.9-2.dsc names), refuses it
unless its sha256 is the one that .dsc records, and writes only iptables-1.8.9/extensions/*.txlate
and *.t into tests/conformance/iptables-1.8.9/, then a marker (.fetched) listing each file's
sha256. With the marker and every file in place it does nothing. Stdlib only: a fresh machine
may have neither curl nor the project's dependencies yet.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

URL = "http://deb.debian.org/debian/pool/main/i/iptables/iptables_1.8.9.orig.tar.xz"
# from Debian's iptables_1.8.9-2.dsc (Checksums-Sha256); plain http is fine behind this check
TARBALL_SHA256 = "ef6639a43be8325a4f8ea68123ffac236cb696e8c78501b64e8106afb008c87f"
TOP = "iptables-1.8.9"
DEST = Path(__file__).resolve().parent / TOP
MARKER = ".fetched"
COMMAND = "python tests/conformance/fetch_vectors.py"
MAX_BYTES = 16 << 20          # the tarball is 637,848 bytes; anything far larger is not it
_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*\.(?:txlate|t)")


class FetchError(Exception):
    """A failure the user can act on: printed as one message, exit status 1."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _vector_files(dest: Path) -> dict[str, Path]:
    return {p.name: p for p in dest.iterdir() if p.suffix in (".t", ".txlate")}


def problem(dest: Path = DEST, tarball_sha256: str = TARBALL_SHA256) -> str | None:
    """Why `dest` does not hold the vectors a complete fetch wrote, or None when it does."""
    marker = dest / MARKER
    if not dest.is_dir():
        return f"{dest} does not exist"
    try:
        recorded = json.loads(marker.read_text())
        files = recorded["files"]
        from_tarball = recorded["tarball_sha256"]
    except FileNotFoundError:
        return f"{marker} is missing (no complete fetch)"
    except (OSError, ValueError, KeyError, TypeError):
        return f"{marker} is not a marker this script wrote"
    if from_tarball != tarball_sha256:
        return f"{dest} was fetched from another tarball (sha256 {from_tarball})"
    present = _vector_files(dest)
    for name in sorted(set(files) | set(present)):
        if name not in present:
            return f"{dest / name} is missing"
        if name not in files:
            return f"{dest / name} is not from the tarball"
        if _sha256(present[name].read_bytes()) != files[name]:
            return f"{dest / name} changed since it was fetched"
    return None


def download(url: str = URL) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(
            f"could not download {url}: {reason}\n"
            f"hint: check the network (or the http_proxy variable), or download that file by "
            f"hand and run `{COMMAND} --tarball FILE`") from None
    if len(data) > MAX_BYTES:
        raise FetchError(f"{url} is larger than {MAX_BYTES} bytes: not the iptables tarball")
    return data


def members(archive: tarfile.TarFile) -> list[tuple[str, tarfile.TarInfo]]:
    """(file name, member) for each regular file directly in TOP/extensions/ named *.txlate or
    *.t. Anything else (another directory, `..`, an absolute name, a link) is left out."""
    out = []
    for member in archive.getmembers():
        parts = member.name.split("/")
        if (len(parts) == 3 and parts[:2] == [TOP, "extensions"] and member.isfile()
                and _NAME.fullmatch(parts[2])):
            out.append((parts[2], member))
    return out


def extract(data: bytes, dest: Path, tarball_sha256: str = TARBALL_SHA256,
            origin: str = URL) -> int:
    """Check the tarball's sha256, then write its vectors into dest (replacing vector files
    already there) and the marker last. Returns how many files were written."""
    digest = _sha256(data)
    if digest != tarball_sha256:
        raise FetchError(f"{origin} has sha256 {digest}, expected {tarball_sha256} (the hash in "
                         f"Debian's iptables_1.8.9-2.dsc): refusing to use it")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            wanted = [(name, archive.extractfile(member).read())
                      for name, member in members(archive)]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FetchError(f"{origin} cannot be read as a tarball: {exc}") from None
    if not wanted:
        raise FetchError(f"{origin} has no {TOP}/extensions/*.txlate or *.t files")
    if len({name for name, _ in wanted}) != len(wanted):
        raise FetchError(f"{origin} holds a vector file twice")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MARKER).unlink(missing_ok=True)
    for stale in _vector_files(dest).values():
        stale.unlink()
    for name, content in wanted:
        with open(dest / name, "xb") as out:    # "x": never through a link left in dest
            out.write(content)
    record = {"source": origin, "tarball_sha256": digest,
              "files": {name: _sha256(content) for name, content in sorted(wanted)}}
    (dest / MARKER).write_text(json.dumps(record, indent=1) + "\n")
    return len(wanted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tarball", type=Path, metavar="FILE",
                    help=f"use this copy of {URL.rsplit('/', 1)[1]} instead of downloading it")
    ap.add_argument("--force", action="store_true", help="fetch again even if complete")
    args = ap.parse_args(argv)
    reason = problem()
    if not args.force and reason is None:
        print(f"iptables 1.8.9 test vectors already in {DEST}")
        return 0
    if reason and DEST.exists():
        print(f"fetching again: {reason}")
    try:
        if args.tarball:
            try:
                data = args.tarball.read_bytes()
            except OSError as exc:
                raise FetchError(f"cannot read {args.tarball}: {exc.strerror}") from None
            count = extract(data, DEST, origin=str(args.tarball))
        else:
            print(f"downloading {URL}", flush=True)
            count = extract(download(), DEST)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write the vectors into {DEST}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {count} iptables 1.8.9 test vectors (GPL-2.0) into {DEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
