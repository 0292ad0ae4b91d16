"""Brace expansion as bash does it (`{a,b}`, `{8000..8003}`, `{01..10..2}`, `{a..e}`, nested
and next to other text), on a word's parts before any other expansion. Only unquoted text
takes part: `"{a,b}"`, `\\{a,b}` and a quoted comma stay as they are; `${…}` is a variable.

sh (dash) has no brace expansion; which shell runs the script decides (shell_script.py).
"""

from __future__ import annotations

import re

# One word may not become more words than this: `{1..100000000}` would fill the memory.
MAX_WORDS = 100_000

_NUMBERS = re.compile(r"([-+]?\d+)\.\.([-+]?\d+)(?:\.\.([-+]?\d+))?\Z")
_LETTERS = re.compile(r"([a-zA-Z])\.\.([a-zA-Z])(?:\.\.([-+]?\d+))?\Z")


class BraceProblem(Exception):
    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.message, self.pos = message, pos


def brace_words(parts: tuple) -> list[tuple] | None:
    """The words (each a tuple of parts) bash makes of one word; None when the word has no
    brace expansion in it."""
    atoms: list = []
    for part in parts:
        kind, text, pos = part
        if kind == "plain":
            atoms.extend(("char", ch, pos + k) for k, ch in enumerate(text))
        else:
            atoms.append(part)
    if _find(atoms, 0) is None:
        return None
    words = []
    for word in _expand(atoms):
        if word:                    # a word brace expansion left empty is dropped
            words.append(_parts(word))
    return words


def _is(atom, ch: str) -> bool:
    return atom[0] == "char" and atom[1] == ch


def _find(atoms: list, start: int):
    """(opening index, closing index, alternatives) of the first brace expansion from start."""
    for i in range(start, len(atoms)):
        if not _is(atoms[i], "{"):
            continue
        depth, commas = 0, []
        for j in range(i, len(atoms)):
            if _is(atoms[j], "{"):
                depth += 1
            elif _is(atoms[j], "}"):
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and _is(atoms[j], ","):
                commas.append(j)
        else:
            continue                # no closing brace: this `{` is text
        if commas:
            bounds = [i] + commas + [j]
            return i, j, [atoms[a + 1:b] for a, b in zip(bounds, bounds[1:], strict=False)]
        inner = atoms[i + 1:j]
        if inner and all(a[0] == "char" for a in inner):
            terms = _sequence("".join(a[1] for a in inner), atoms[i][2])
            if terms is not None:
                return i, j, [[("char", ch, atoms[i][2]) for ch in t] for t in terms]
    return None


def _sequence(text: str, pos: int) -> list[str] | None:
    numbers = _NUMBERS.match(text)
    letters = _LETTERS.match(text) if numbers is None else None
    if numbers is None and letters is None:
        return None
    found = numbers or letters
    step = abs(int(found[3])) if found[3] else 1
    step = step or 1
    if numbers is not None:
        first, last = int(found[1]), int(found[2])
    else:
        if found[1].islower() != found[2].islower():
            # bash walks the characters between Z and a too (`[`, a backslash, …)
            raise BraceProblem(f"`{{{text}}}' runs from one letter case to the other, through "
                               "the punctuation between them", pos)
        first, last = ord(found[1]), ord(found[2])
    count = abs(last - first) // step + 1
    if count > MAX_WORDS:
        raise BraceProblem(f"`{{{text}}}' makes {count:,} words", pos)
    direction = step if last >= first else -step
    values = [first + k * direction for k in range(count)]
    if letters is not None:
        return [chr(v) for v in values]
    ends = (found[1].lstrip("+-"), found[2].lstrip("+-"))
    if any(len(e) > 1 and e.startswith("0") for e in ends):
        width = max(len(found[1]), len(found[2]))       # zero-padded to the wider end
        return [f"{v:0{width}d}" for v in values]
    return [str(v) for v in values]


def _expand(atoms: list) -> list[list]:
    found = _find(atoms, 0)
    if found is None:
        return [atoms]
    i, j, alternatives = found
    words: list[list] = []
    for alternative in alternatives:
        words.extend(_expand(atoms[:i] + alternative + atoms[j + 1:]))
        if len(words) > MAX_WORDS:
            raise BraceProblem(f"the braces make more than {MAX_WORDS:,} words", atoms[i][2])
    return words


def _parts(atoms: list) -> tuple:
    """Atoms back into word parts: runs of characters become one plain part."""
    parts: list = []
    for atom in atoms:
        if atom[0] == "char":
            if parts and parts[-1][0] == "plain" and isinstance(parts[-1][1], list):
                parts[-1][1].append(atom[1])
                continue
            parts.append(["plain", [atom[1]], atom[2]])
        else:
            parts.append(atom)
    return tuple((p[0], "".join(p[1]), p[2]) if p[0] == "plain" and isinstance(p, list)
                 else p for p in parts)
