"""Text and keyword values: comments, log and nflog prefixes, log levels, recent list and
ipset names, reject types, AUDIT and statistic modes."""

from __future__ import annotations

from .. import mappings
from ..errors import OptionError
from .values_common import c_uint


def _cut(text: str, limit: int) -> str:
    """iptables silently keeps only the first `limit` bytes (the caller warns)."""
    raw = text.encode()
    return raw[:limit].decode(errors="ignore") if len(raw) > limit else text


def parse_comment(args, family, proto) -> str:
    return _cut(args[0], 255)


def parse_log_prefix(args, family, proto) -> str:
    if not args[0]:
        raise OptionError("--log-prefix needs at least one character")
    if "\n" in args[0]:
        raise OptionError("Newlines not allowed in --log-prefix")
    return _cut(args[0], 29)


def parse_log_level(args, family, proto) -> int:
    text = args[0]
    if text.isdigit():
        return c_uint(text, 0, 7, "log level")
    level = mappings.log_levels().get(text)
    if level is None:
        raise OptionError(f"log level `{text}' unknown",
                          hint="0-7 or one of " + ", ".join(sorted(mappings.log_levels())))
    return level


def parse_recent_name(args, family, proto) -> str:
    text = args[0]
    if not text or len(text) >= 200 or "/" in text:
        raise OptionError(f"bad --name `{text}'", hint="1-199 characters, no `/'")
    return text


def parse_reject_with(args, family, proto) -> str:
    text = args[0]
    if text == "default":          # the mapping's default: REJECT without --reject-with
        return mappings.reject_default(family)
    for name, alias, _nft in mappings.reject_names(family):
        if name.lower().startswith(text.lower()) or alias.lower().startswith(text.lower()):
            return name
    raise OptionError(f"unknown reject type `{text}'",
                      hint="one of " + ", ".join(n for n, _a, _x in mappings.reject_names(family)))


def parse_audit_type(args, family, proto) -> str:
    # libxt_AUDIT compares the keyword's length only, ignoring case ("ACCEPTED" is accept)
    for name in ("accept", "drop", "reject"):
        if args[0][:len(name)].lower() == name:
            return name
    raise OptionError(f'Bad action type value "{args[0]}"', hint="accept, drop or reject")


def parse_statistic_mode(args, family, proto) -> str:
    if args[0] not in ("random", "nth"):
        raise OptionError(f'Bad mode "{args[0]}"', hint="random or nth")
    return args[0]


def parse_connbytes_mode(args, family, proto) -> str:
    if args[0] not in ("packets", "bytes", "avgpkt"):
        raise OptionError(f"Unknown --connbytes-mode `{args[0]}'", hint="packets, bytes or avgpkt")
    return args[0]


def parse_connbytes_dir(args, family, proto) -> str:
    if args[0] not in ("original", "reply", "both"):
        raise OptionError(f"Unknown --connbytes-dir `{args[0]}'", hint="original, reply or both")
    return args[0]


def parse_nflog_prefix(args, family, proto) -> str:
    if "\n" in args[0]:
        raise OptionError("Newlines not allowed in --nflog-prefix")
    return _cut(args[0], 63)


def parse_set_ref(args, family, proto) -> tuple[str, tuple[str, ...]]:
    """--match-set / --add-set NAME FLAGS: the ipset's name and src/dst per dimension."""
    name, flags = args
    if not name or len(name) > 31:
        raise OptionError(f"ipset name {name!r} is empty or longer than 31 characters")
    dirs = tuple(flags.split(","))
    if not 1 <= len(dirs) <= 6 or any(d not in ("src", "dst") for d in dirs):
        raise OptionError(f"bad set direction flags {flags!r}",
                          hint="src or dst per dimension, separated by commas (src,dst)")
    return name, dirs


def parse_policy_dir(args, family, proto) -> str:
    if args[0] not in ("in", "out"):
        raise OptionError(f"policy match: bad direction `{args[0]}'", hint="in or out")
    return args[0]


def parse_policy_pol(args, family, proto) -> str:
    if args[0] not in ("none", "ipsec"):
        raise OptionError(f"policy match: bad policy `{args[0]}'", hint="none or ipsec")
    return args[0]
