"""`meta time` / `meta hour` → -m time: the inverse of backends/nft_time.py. nft lists both in
the local timezone of the process that lists them (as it reads strings in the loading
machine's), so they are turned back into UTC here, as nft turned them into local time.
"""

from __future__ import annotations

import time
from typing import Any

from ..ir import Option
from .nft_lift_values import is_range, unrepresentable

_DAY = 86400


def meta_time(lift, key: str, right: Any, op: str) -> None:
    if key == "day":
        unrepresentable("meta day (counted in the kernel's timezone; xt_time counts in UTC)")
    if key == "time":
        if is_range(right) or op not in (">=", "<"):
            unrepresentable(f"meta time {op} {right!r} (the backend writes >= and <)")
        seconds = _date(right)
        option = Option("datestart", seconds) if op == ">=" else Option("datestop", seconds - 1)
        lift.add_match("time", option)
        return
    if not is_range(right) or op not in ("==", "!="):
        unrepresentable(f"meta hour {op} {right!r}")
    first, last = (_clock(v) for v in right["range"])
    if op == "!=":
        first, last = last + 1, first - 1
    lift.add_match("time", Option("timestart", first % _DAY))
    lift.add_match("time", Option("timestop", last % _DAY))


def _date(value: Any) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(time.mktime(time.strptime(value, "%Y-%m-%d %H:%M:%S")))
    except (TypeError, ValueError):
        unrepresentable(f"meta time {value!r}")


def _clock(value: Any) -> int:
    if isinstance(value, int):
        return value
    parts = str(value).split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        unrepresentable(f"meta hour {value!r}")
    h, m, s = (int(p) for p in parts + ["0"] * (3 - len(parts)))
    return (h * 3600 + m * 60 + s - time.localtime().tm_gmtoff) % _DAY
