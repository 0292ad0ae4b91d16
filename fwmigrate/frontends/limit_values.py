"""xt_hashlimit and xt_connlimit values, and the arithmetic iptables 1.8.9 (libxt_hashlimit.c,
revision 3) applies to them: what it stores, what iptables-save prints back, and the table
defaults the kernel fills in. The nft backend and the iptables-save writer both read these.

A hashlimit rate is kept as (kind, avg, mult):
- ("packets", period, unit seconds): period in millionths of a second per packet
  (XT_HASHLIMIT_SCALE_v2 * unit / count, rounded down as iptables does); the unit the user
  wrote is kept because the table's default expiry is one such unit (60/min expires after 60 s,
  1/sec after 1 s, although both store the same period);
- ("bytes", cost, 15): xt_hashlimit's byte cost (UINT32_MAX / (bytes/16 + 1)).
"""

from __future__ import annotations

from ..errors import OptionError
from ..ir import Match, Option
from .values_numbers import canonical_rate  # not values.py, which imports this module

SCALE = 1_000_000                  # XT_HASHLIMIT_SCALE_v2
BURST_MAX = 1_000_000              # XT_HASHLIMIT_BURST_MAX
GC_INTERVAL_MS = 1000              # XT_HASHLIMIT_GCINTERVAL
BYTE_EXPIRE, BYTE_EXPIRE_BURST = 15, 60
U32 = 0xFFFFFFFF
_UNITS = (("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400))
_SAVE_UNITS = (("day", 86400), ("hour", 3600), ("min", 60), ("sec", 1))
MODE_ORDER = ("srcip", "srcport", "dstip", "dstport")       # iptables-save's order
# the kernel's hash table on a machine with more than 1 GiB of memory: 8192 buckets, and at
# most 8 entries per bucket unless --hashlimit-htable-max says otherwise
DEFAULT_HTABLE_SIZE = 8192


def _atoll(text: str) -> int:
    digits = ""
    for ch in text.lstrip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def bytes_to_cost(count: int) -> int:
    return U32 // (((count >> 4) & U32) + 1)


def cost_to_bytes(cost: int) -> int:
    r = U32 // cost if cost else U32
    return (r - 1) << 4


def _factor(ch: str) -> int:
    return {"m": 1024 * 1024, "k": 1024}.get(ch, 1)


def parse_hashlimit_rate(args, family, proto) -> tuple:
    text = args[0]
    at = text.find("b/s")
    if at > 0:                                  # bytes per second (parse_bytes)
        count = _atoll(text)
        if count:
            total = count * _factor(text[at - 1])
            if total > (1 << 64) - 1:
                raise OptionError(f'Rate value too large "{total}"')
            cost = bytes_to_cost(total)
            if cost == 0:
                raise OptionError(f'Rate too high "{text}"')
            return ("bytes", cost, BYTE_EXPIRE)
    unit_seconds = 1
    count_text, slash, unit = text.partition("/")
    if slash:
        if not unit:
            raise OptionError(f"bad value for --hashlimit `{text}'")
        for name, seconds in _UNITS:
            if name.startswith(unit.lower()):
                unit_seconds = seconds
                break
        else:
            raise OptionError(f"bad value for --hashlimit `{text}'",
                              hint="units are second, minute, hour, day, or b/s, kb/s, mb/s")
    count = _atoll(count_text)
    if not count:
        raise OptionError(f"bad value for --hashlimit `{text}'")
    period = SCALE * unit_seconds // count
    if period == 0:
        raise OptionError(f'Rate too fast "{text}"', hint="at most 1000000/second")
    return ("packets", period, unit_seconds)


def parse_hashlimit_burst(args, family, proto) -> int:
    text = args[0]
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    if not digits or int(digits) < 1:
        raise OptionError(f'bad value for option "--hashlimit-burst", or out of range '
                          f"(1-{BURST_MAX}).")
    rest = text[len(digits):]
    if not rest and int(digits) > BURST_MAX:
        raise OptionError(f'bad value for option "--hashlimit-burst", or out of range '
                          f"(1-{BURST_MAX}).")
    return int(digits) * _factor(rest[:1])


def parse_hashlimit_mode(args, family, proto) -> frozenset:
    words = [w for part in args[0].split(",") for w in part.split("|") if w]
    if any(w not in MODE_ORDER for w in words):
        raise OptionError(f"bad value for --hashlimit-mode `{args[0]}'",
                          hint="a comma-separated list of " + ", ".join(MODE_ORDER))
    return frozenset(words)


def parse_hashlimit_name(args, family, proto) -> str:
    text = args[0]
    if not text or len(text) >= 255:         # char name[255], NUL included
        raise OptionError(f"bad --hashlimit-name `{text}'")
    return text


def parse_prefix_len(args, family, proto) -> int:
    top = 32 if family == "ip" else 128
    if args[0] == "max":                    # the mapping's default: the whole address
        return top
    text = args[0]
    if not text.isdigit() or int(text) > top:
        raise OptionError(f"invalid prefix length `{text}'", hint=f"0-{top}")
    return int(text)


def parse_rate_interval(args, family, proto) -> int:
    value = _atoll(args[0])
    if value <= 0 or value > U32:
        raise OptionError(f"bad value for --hashlimit-rate-interval `{args[0]}'")
    return value


PARSERS = {
    "hashlimit_rate": parse_hashlimit_rate,
    "hashlimit_burst": parse_hashlimit_burst,
    "hashlimit_mode": parse_hashlimit_mode,
    "hashlimit_name": parse_hashlimit_name,
    "prefix_len": parse_prefix_len,
    "rate_interval": parse_rate_interval,
}


# --- what iptables stores --------------------------------------------------------------------

def hashlimit_config(opts: dict) -> dict:
    """The configuration the kernel gets (hashlimit_mt_check), from options by name."""
    direction = opts.get("upto") or opts.get("above")
    kind, avg, mult = direction.value
    above = (direction.name == "above") != direction.negated
    burst = opts["burst"].value if "burst" in opts else None
    expire = opts["htable-expire"].value if "htable-expire" in opts else mult * 1000
    if kind == "bytes":
        unit = cost_to_bytes(avg)
        if burst is None:
            burst_count = 0
        else:
            if unit == 0 or burst < unit:
                raise OptionError(f"burst cannot be smaller than {unit}b")
            burst_count = -(-burst // unit)
            if "htable-expire" not in opts:
                expire = BYTE_EXPIRE_BURST * 1000
    else:
        burst_count = 5 if burst is None else burst
        if burst_count > BURST_MAX:
            raise OptionError(f'bad value for option "--hashlimit-burst", or out of range '
                              f"(1-{BURST_MAX}).")
    interval = opts["rate-interval"].value if "rate-interval" in opts else 0
    if "rate-match" in opts:
        if kind == "packets":
            avg //= mult
        if interval == 0:
            interval = 1 if kind == "bytes" else mult
    return {"kind": kind, "avg": avg, "mult": mult, "above": above, "burst": burst_count,
            "mode": opts["mode"].value if "mode" in opts else frozenset(),
            "name": opts["name"].value, "expire_ms": expire,
            "size": opts["htable-size"].value if "htable-size" in opts else 0,
            "max": opts["htable-max"].value if "htable-max" in opts else 0,
            "gc_ms": opts["htable-gcinterval"].value if "htable-gcinterval" in opts
            else GC_INTERVAL_MS,
            "srcmask": opts["srcmask"].value if "srcmask" in opts else None,
            "dstmask": opts["dstmask"].value if "dstmask" in opts else None,
            "rate_match": "rate-match" in opts, "interval": interval}


def hashlimit_size(cfg: dict) -> tuple[int, str]:
    """The kernel's table capacity for this configuration, and where it comes from."""
    size = cfg["size"] or DEFAULT_HTABLE_SIZE
    if cfg["max"]:
        if cfg["max"] >= size:
            return cfg["max"], "--hashlimit-htable-max"
        return size, "--hashlimit-htable-max, raised to the table size as the kernel does"
    if cfg["size"]:
        return 8 * size, "8 × --hashlimit-htable-size, as the kernel does"
    return 8 * size, "the kernel's default on a machine with more than 1 GiB of memory"


def check_hashlimit(opts: dict, index: int) -> None:
    if "upto" not in opts and "above" not in opts:
        raise OptionError("You have to specify --hashlimit", index,
                          hint="--hashlimit-upto RATE or --hashlimit-above RATE")
    try:
        hashlimit_config(opts)
    except OptionError as exc:
        raise OptionError(exc.message, index, exc.hint) from None


_OTHER_DIRECTION = {"upto": "above", "above": "upto"}


def normal_direction(match: Match) -> Match:
    """`! --hashlimit-upto` is stored as --hashlimit-above (and the other way round), as the
    invert flag both set (connlimit alike): one rule, whichever was written."""
    first = match.options[0]
    if not (first.negated and first.name in _OTHER_DIRECTION):
        return match
    # upto and above come first in both modules' canonical order
    flipped = Option(_OTHER_DIRECTION[first.name], first.value, False)
    return Match(match.module, (flipped, *match.options[1:]))


def check_connlimit(opts: dict, index: int) -> None:
    if "upto" not in opts and "above" not in opts:
        raise OptionError('You must specify "--connlimit-above" or "--connlimit-upto".', index)


def packet_rate(period: int) -> tuple[int, str]:
    """The rate iptables prints for a period (print_rate): count per unit (sec, min …)."""
    i = 1
    while i < len(_SAVE_UNITS):
        mult = _SAVE_UNITS[i][1] * SCALE
        if period > mult or mult // period < mult % period:
            break
        i += 1
    name, seconds = _SAVE_UNITS[i - 1]
    return seconds * SCALE // period, name


def _byte_units(r: int, avg: int | None) -> str:
    for name, thresh in (("m", 1 << 20), ("k", 1 << 10)):
        if r >= thresh and (avg is None or bytes_to_cost(r & ~(thresh - 1)) == avg):
            return f"{r // thresh}{name}b"
    return f"{r}b"


def save_words(opts: dict) -> list[str]:
    """hashlimit's options as iptables-save prints them (hashlimit_mt_save, revision 3)."""
    cfg = hashlimit_config(opts)
    words = ["--hashlimit-above" if cfg["above"] else "--hashlimit-upto"]
    if cfg["kind"] == "bytes":
        r = cost_to_bytes(cfg["avg"])
        words.append(_byte_units(r, cfg["avg"]) + "/s")
        quantum = BYTE_EXPIRE * 1000
        if cfg["burst"]:
            words += ["--hashlimit-burst", _byte_units(r * cfg["burst"], None)]
            quantum = BYTE_EXPIRE_BURST * 1000
    else:
        count, unit = packet_rate(cfg["avg"])
        words += [f"{count}/{unit}", "--hashlimit-burst", str(cfg["burst"])]
        quantum = dict(_SAVE_UNITS)[unit] * 1000
    if cfg["mode"]:
        words += ["--hashlimit-mode", ",".join(m for m in MODE_ORDER if m in cfg["mode"])]
    words += ["--hashlimit-name", cfg["name"]]
    for key, flag in (("size", "htable-size"), ("max", "htable-max")):
        if cfg[key]:
            words += [f"--hashlimit-{flag}", str(cfg[key])]
    if cfg["gc_ms"] != GC_INTERVAL_MS:
        words += ["--hashlimit-htable-gcinterval", str(cfg["gc_ms"])]
    if cfg["expire_ms"] != quantum:
        words += ["--hashlimit-htable-expire", str(cfg["expire_ms"])]
    for key in ("srcmask", "dstmask"):
        if cfg[key] is not None:
            words += [f"--hashlimit-{key}", str(cfg[key])]
    if cfg["rate_match"]:
        words.append("--hashlimit-rate-match")
        if cfg["interval"] != 1:
            words += ["--hashlimit-rate-interval", str(cfg["interval"])]
    return words


# --- one meaning, one form (verify/diff.py) ---------------------------------------------------

def normal_hashlimit(match: Match) -> Match:
    """What the kernel does with a hashlimit, in one form: the stored configuration, the
    table's real capacity; without a key and --hashlimit-upto it is a plain limit."""
    cfg = hashlimit_config({o.name: o for o in match.options})
    rate = Option("above" if cfg["above"] else "upto", (cfg["kind"], cfg["avg"], 1))
    burst = Option("burst", cfg["burst"])
    if cfg["kind"] == "packets" and not cfg["mode"] and not cfg["rate_match"]:
        if not cfg["above"] and cfg["avg"] // 100:
            return Match("limit", (Option("limit", canonical_rate(cfg["avg"] // 100)),
                                   Option("limit-burst", cfg["burst"])))
        return Match("hashlimit", (rate, burst))
    options = [rate, burst, Option("mode", cfg["mode"]), Option("name", cfg["name"]),
               Option("htable-max", hashlimit_size(cfg)[0]),
               Option("htable-expire", cfg["expire_ms"])]
    # a mask of an address the key does not hold changes nothing
    options += [Option(k, cfg[k]) for k, ip in (("srcmask", "srcip"), ("dstmask", "dstip"))
                if cfg[k] is not None and ip in cfg["mode"]]
    if cfg["rate_match"]:
        options += [Option("rate-match"), Option("rate-interval", cfg["interval"])]
    return Match("hashlimit", tuple(options))


def normal_connlimit(match: Match) -> Match:
    """`! --connlimit-upto N` is `--connlimit-above N` (the kernel keeps one flag)."""
    first = match.options[0]
    if not first.negated:
        return match
    flipped = Option("above" if first.name == "upto" else "upto", first.value)
    return Match("connlimit", (flipped, *match.options[1:]))
