"""-m time → nft's `meta time` and `meta hour`, given as numbers: nft reads a number as UTC
seconds (since 1970, since midnight), where a date or clock string would be read in the
timezone of the machine that loads the rule. Kernel semantics: mappings/matches.toml [time].
"""

from __future__ import annotations

from .nft_ast import Compare, Meta, Range, Statement, Symbol
from .nft_recent import Untranslatable

_DAY = 86400


def h_time(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if match.option("kerneltz") is not None:
        raise Untranslatable("--kerneltz: xt_time then counts hours, days and dates in the "
                             "kernel's timezone (sys_tz); nft's `meta hour`/`meta time` count "
                             "in UTC", "write the times in UTC without --kerneltz")
    if match.option("monthdays") is not None:
        raise Untranslatable("--monthdays: nft has no day-of-month test")
    weekdays = match.option("weekdays")
    if weekdays is not None and weekdays.value != frozenset(range(1, 8)):
        raise Untranslatable("--weekdays: xt_time counts days in UTC, nft's `meta day` in the "
                             "kernel's timezone (sys_tz), which differ wherever that is not UTC")
    out: list[Statement] = []
    start = match.option("datestart")
    if start is not None and start.value:
        out.append(Compare(Meta("time"), ">=", Symbol(str(start.value))))
    # xt: whole seconds up to and including --datestop (iptables' default too: 2038-01-19)
    out.append(Compare(Meta("time"), "<", Symbol(str(match.option("datestop").value + 1))))
    if match.option("timestart") is not None:
        first, last = match.option("timestart").value, match.option("timestop").value
        if first < last and (first, last) != (0, _DAY - 1):
            out.append(Compare(Meta("hour"), "==", Range(Symbol(str(first)), Symbol(str(last)))))
        elif first > last + 1:
            # past midnight: every second but those strictly between stop and start
            out.append(Compare(Meta("hour"), "!=", Range(Symbol(str(last + 1)),
                                                          Symbol(str(first - 1)))))
        # first == last, or first == last + 1: xt_time lets every second of the day pass
    if weekdays is not None and not weekdays.value:
        raise Untranslatable("--weekdays with no day never matches")
    return out
