"""xt_time values: dates, times of day, weekdays, days of the month."""

from __future__ import annotations

import re

from ..errors import OptionError

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")      # xt_time's bits 1-7


def parse_time_date(args, family, proto) -> int:
    """YYYY[-MM[-DD[Thh[:mm[:ss]]]]] in UTC, as libxt_time reads it → seconds since 1970."""
    m = re.fullmatch(r"(\d+)(?:-(\d+)(?:-(\d+)(?:T(\d+)(?::(\d+)(?::(\d+))?)?)?)?)?", args[0])
    bad = OptionError(f'Invalid date "{args[0]}" specified. Should be '
                      "YYYY[-MM[-DD[Thh[:mm[:ss]]]]]")
    if m is None:
        raise bad
    year, month, day, hour, minute, second = (int(g) if g is not None else d for g, d in
                                              zip(m.groups(), (1970, 1, 1, 0, 0, 0), strict=True))
    if not (1970 <= year <= 2038 and 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23
            and minute <= 59 and second <= 59):
        raise bad
    # imported here (with locale): only a rule with a date needs it, not every start
    import calendar
    # mktime (in UTC) normalises month 0 / day 0 and days past the month's end, as here
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def parse_time_of_day(args, family, proto) -> int:
    m = re.fullmatch(r"(\d+):(\d+)(?::(\d+))?", args[0])
    if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise OptionError(f'invalid time "{args[0]}" specified, should be hh:mm[:ss] format '
                          "and within the boundaries")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)


def parse_weekdays(args, family, proto) -> frozenset:
    days = set()
    for word in args[0].split(","):
        if word.isdigit() and 1 <= int(word) <= 7:
            days.add(int(word))
            continue
        # libxt_time compares the first two letters, case-sensitively
        found = [i for i, name in enumerate(WEEKDAYS, 1) if word[:2] and name.startswith(word[:2])]
        if not found:
            raise OptionError(f"No, {word[:2]} is not a day of the week.",
                              hint="Mon … Sun (two letters are enough) or 1 … 7")
        days.update(found)
    return frozenset(days)


def parse_monthdays(args, family, proto) -> frozenset:
    days = set()
    for word in args[0].split(","):
        if not word.isdigit() or not 1 <= int(word) <= 31:
            raise OptionError(f"Illegal day of month: \"{word}\"")
        days.add(int(word))
    return frozenset(days)
