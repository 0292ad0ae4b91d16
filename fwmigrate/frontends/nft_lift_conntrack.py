"""A connection's counters and timer in nft (`ct packets|bytes|avgpkt`, `ct expiration`) →
-m connbytes and -m conntrack --ctexpire: the inverse of backends/nft_conntrack.py."""

from __future__ import annotations

from typing import Any

from ..ir import IntRange, Match, Option
from .nft_lift_values import int_range, is_range, number, unrepresentable

COUNTER_KEYS = frozenset({"packets", "bytes", "avgpkt"})
_U64 = 0xFFFFFFFFFFFFFFFF


def _u64(value: Any) -> int:
    # nft's JSON lists a 64-bit count as a signed number: 2^64 - 1 is -1
    return number(value, "ct count") & _U64


def counter(lift, key: str, direction: str | None, right: Any, op: str) -> None:
    """`ct [original|reply] packets|bytes|avgpkt <op> N` as one connbytes range."""
    if lift.table == "raw":
        unrepresentable(f"ct {key} in the raw table (no conntrack entry there yet; after -j CT "
                        "a template without counters, which xt_connbytes fails and nft reads "
                        "as 0)")
    if is_range(right):
        first, last = (_u64(v) for v in right["range"])
        if first == last:
            right = first
        elif op in ("==", "!="):
            span, negated = IntRange(first, last), op == "!="
            return _add(lift, key, direction, span, negated)
        else:
            unrepresentable(f"ct {key} {op} a range")
    n = _u64(right)
    # libxt_connbytes holds one range [from, to] or, `!`, outside it; `! a:a` cannot be held
    # (the kernel reads equal swapped bounds as the range itself)
    forms = {
        "==": (IntRange(n, n), False),
        ">=": (IntRange(n, _U64), False),
        "<=": (IntRange(0, n), False),
        ">": (IntRange(n + 1, _U64), False) if n < _U64 else (IntRange(0, _U64), True),
        "<": (IntRange(n, _U64), True) if n < _U64 else (IntRange(0, _U64 - 1), False),
        "!=": (IntRange(1, _U64), False) if n == 0 else
              (IntRange(0, _U64 - 1), False) if n == _U64 else None,
    }
    form = forms.get(op)
    if form is None:
        unrepresentable(f"ct {key} {op} {n} (connbytes cannot invert a single count)")
    _add(lift, key, direction, *form)


def _add(lift, key: str, direction: str | None, span: IntRange, negated: bool) -> None:
    lift.append_match(Match("connbytes", (Option("connbytes", span, negated),
                                          Option("connbytes-mode", key),
                                          Option("connbytes-dir", direction or "both"))))


def expiration(lift, right: Any, op: str) -> None:
    """`ct expiration a-b` as --ctexpire a:b. nft lists the remaining time in whole seconds
    (cut down) though the kernel compares milliseconds, so a listed range is read as the rule
    fwmigrate writes for --ctexpire a:b (a*1000 .. b*1000+999 ms): a hand-written bound with
    milliseconds cannot be told apart in the listing (README, known differences)."""
    if op not in ("==", "!="):
        unrepresentable(f"ct expiration {op} (listed in whole seconds, where the kernel "
                        "compares milliseconds)")
    lift.add_match("conntrack", Option("ctexpire", int_range(right, "ct expiration"),
                                       op == "!="))
