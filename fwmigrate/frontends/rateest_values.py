"""xt_rateest and xt_RATEEST values, read and printed as libxt_rateest/libxt_RATEEST do: rates
in bytes per second from tc-style units, the estimator's interval and EWMA time constant kept
as the kernel's exponents, and iptables-save's word order (which depends on the mode)."""

from __future__ import annotations

import math

from ..errors import OptionError

# tc's rate units (case-insensitive): bits per second each stands for
_RATE_UNITS = {
    "bit": 1.0, "kibit": 1024.0, "kbit": 1000.0, "mibit": 1024.0 ** 2, "mbit": 1e6,
    "gibit": 1024.0 ** 3, "gbit": 1e9, "tibit": 1024.0 ** 4, "tbit": 1e12,
    "bps": 8.0, "kibps": 8 * 1024.0, "kbps": 8e3, "mibps": 8 * 1024.0 ** 2, "mbps": 8e6,
    "gibps": 8 * 1024.0 ** 3, "gbps": 8e9, "tibps": 8 * 1024.0 ** 4, "tbps": 8e12,
}
_TIME_UNITS = {"s": 1e6, "sec": 1e6, "secs": 1e6, "ms": 1e3, "msec": 1e3, "msecs": 1e3,
               "us": 1.0, "usec": 1.0, "usecs": 1.0}
_USEC_PER_SEC = 1_000_000


def _number_and_unit(text: str) -> tuple[float, str]:
    head = len(text) - len(text.lstrip("0123456789.+-eE"))
    while head and not _is_float(text[:head]):
        head -= 1
    if not head:
        raise OptionError(f"bad value `{text}'")
    return float(text[:head]), text[head:].lower()


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_byte_rate(args, family, proto) -> int:
    """A rate (bare: bits per second) → whole bytes per second, as the kernel stores it."""
    value, unit = _number_and_unit(args[0])
    scale = _RATE_UNITS.get(unit) if unit else 1.0
    if scale is None or value < 0:
        raise OptionError(f"rateest: bad rate value `{args[0]}'",
                          hint="a number with a unit: bit, kbit, mbit, bps, kbps, …")
    rate = int(value * scale / 8.0)
    if rate > 0xFFFFFFFF:
        raise OptionError(f"rateest: rate `{args[0]}' is too large")
    return rate


def rate_text(rate: int) -> str:
    bits = rate * 8.0
    if bits >= 1e9:
        return f"{bits / 1e6:.0f}Mbit"
    if bits >= 1e6:
        return f"{bits / 1e3:.0f}Kbit"
    return f"{bits:.0f}bit"


def parse_estimator_name(args, family, proto) -> str:
    if not args[0] or len(args[0].encode()) > 15:
        raise OptionError(f"estimator name `{args[0]}' must be 1 to 15 characters long")
    return args[0]


def parse_usec(args, family, proto) -> float:
    """A time (bare: microseconds)."""
    value, unit = _number_and_unit(args[0])
    scale = _TIME_UNITS.get(unit) if unit else 1.0
    if scale is None or value < 0:
        raise OptionError(f"RATEEST: bad time value `{args[0]}'")
    return value * scale


def time_text(usec: int) -> str:
    if usec >= _USEC_PER_SEC:
        return f"{usec / _USEC_PER_SEC:.1f}s"
    if usec >= 1000:
        return f"{usec / 1000:.1f}ms"
    return f"{usec}us"


def estimator(interval: float, ewma: float) -> tuple[int, int]:
    """The kernel's (interval exponent, ewma_log) for the times given, as libxt_RATEEST."""
    for exponent in range(6):
        if interval <= (1 << exponent) * (_USEC_PER_SEC / 4):
            break
    else:
        raise OptionError("RATEEST: interval value is too large")
    ewma_log = 1
    while ewma_log < 32:
        weight = 1.0 - 1.0 / (1 << ewma_log)
        if interval / -math.log(weight) > ewma:
            break
        ewma_log += 1
    ewma_log -= 1
    if ewma_log == 0 or ewma_log >= 31:
        raise OptionError("RATEEST: ewmalog value is out of range")
    return exponent - 2, ewma_log


def estimator_words(by_name: dict) -> list[str]:
    """RATEEST's options as iptables-save prints them (the times the kernel keeps)."""
    exponent, ewma_log = estimator(by_name["rateest-interval"].value,
                                   by_name["rateest-ewmalog"].value)
    interval = (_USEC_PER_SEC << (exponent + 2)) // 4
    return ["--rateest-name", by_name["rateest-name"].value,
            "--rateest-interval", time_text(interval),
            "--rateest-ewmalog", time_text(interval * (1 << ewma_log))]


def check_estimator(by_name: dict, index: int) -> None:
    try:
        estimator(by_name["rateest-interval"].value, by_name["rateest-ewmalog"].value)
    except OptionError as exc:
        raise OptionError(exc.message, index) from None


def check_rateest(by_name: dict, index: int) -> None:
    """What the kernel refuses (Invalid argument): no rate to compare, or no comparison."""
    if not {"bps1", "bps2", "pps1", "pps2"} & by_name.keys():
        raise OptionError("rateest: give --rateest-bps or --rateest-pps", index,
                          hint="the kernel refuses the rule (Invalid argument) without one")
    if "mode" not in by_name:
        raise OptionError("rateest: give --rateest-lt, --rateest-gt or --rateest-eq", index,
                          hint="the kernel refuses the rule (Invalid argument) without one")


def rateest_words(by_name: dict) -> list[str]:
    """-m rateest's options in libxt_rateest's save order."""
    delta = "delta" in by_name
    relative = "name2" in by_name
    mode = by_name["mode"]
    words = ["--rateest-delta"] if delta else []
    words += ["--rateest1" if relative else "--rateest", by_name["name1"].value]
    for kind, text in (("bps", rate_text), ("pps", str)):
        if f"{kind}1" not in by_name and f"{kind}2" not in by_name:
            continue
        first = by_name.get(f"{kind}1")
        second = by_name.get(f"{kind}2")
        if delta:
            words += [f"--rateest-{kind}1", text(first.value if first else 0)]
        words += (["!"] if mode.negated else []) + [f"--{mode.value}"]
        words.append(f"--rateest-{kind}2" if delta else f"--rateest-{kind}")
        if delta or not relative:
            words.append(text(second.value if second else 0))
    if relative:
        words += ["--rateest2", by_name["name2"].value]
    return words
