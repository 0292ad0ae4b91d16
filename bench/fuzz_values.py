"""Values for the match fuzzer's rules, taken from a packet's fields and moved to the boundaries
(bench/fuzz_rules.py, bench/fuzz_rules_more.py)."""

from __future__ import annotations

import random


def near(rng: random.Random, value: int, low: int, high: int) -> int:
    """The value, one off it, an end of [low, high] or anything in it."""
    roll = rng.random()
    if roll < 0.4:
        out = value
    elif roll < 0.75:
        out = value + rng.choice((-1, 1))
    elif roll < 0.9:
        out = rng.choice((low, high))
    else:
        out = rng.randint(low, high)
    return max(low, min(high, out))


def span(rng: random.Random, value: int, low: int, high: int, sep: str = ":",
         open_ends: bool = True) -> str:
    """`v`, `a:b` around v, or an open range `a:` / `:b`."""
    roll = rng.random()
    if roll < 0.45:
        return str(near(rng, value, low, high))
    a, b = near(rng, value, low, high), near(rng, value, low, high)
    if roll < 0.85 or not open_ends:
        if rng.random() < 0.95:
            a, b = min(a, b), max(a, b)
        return f"{a}{sep}{b}"
    return f"{a}{sep}" if roll < 0.93 else f"{sep}{b}"


def bang(rng: random.Random, p: float = 0.3) -> list[str]:
    return ["!"] if rng.random() < p else []


def _f(pkt, name, default):
    return pkt.fields.get(name, default)
