"""Reads tests/vectors/*.txt (format in tests/vectors/README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VECTORS = Path(__file__).parent / "vectors"


@dataclass(frozen=True)
class Vector:
    file: str
    line: int
    program: str          # iptables or ip6tables
    setup: tuple[str, ...]
    args: str
    expected: str
    ipsets: tuple[str, ...] = ()      # `ipset …` set-up lines: the --ipsets file, in order

    @property
    def is_error(self) -> bool:
        return self.expected.startswith("ERROR ")

    @property
    def script(self) -> str:
        """The vector as a script; `set -f` makes its words the rule's, as written (a shell
        would match `-i eth*` against the names of files)."""
        lines = ["set -f"] + [f"{self.program} {s}" for s in self.setup]
        return "\n".join(lines + [f"{self.program} {self.args}"]) + "\n"

    @property
    def ipsets_input(self) -> tuple[str, str] | None:
        """ConvertOptions.ipsets for the vector (None when its file declares no ipset)."""
        if not self.ipsets:
            return None
        return "\n".join(self.ipsets) + "\n", f"{self.file} (ipset lines)"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.args}"


def load() -> list[Vector]:
    out = []
    for path in sorted(VECTORS.glob("*.txt")):
        program = "ip6tables" if path.name.startswith("ip6-") else "iptables"
        setup: list[str] = []
        ipsets: list[str] = []
        for lineno, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if "=>" not in line:
                (ipsets if line.startswith("ipset ") else setup).append(line)
                continue
            args, _, expected = line.partition("=>")
            out.append(Vector(path.name, lineno, program, tuple(setup), args.strip(),
                              expected.strip(), tuple(ipsets)))
    return out
