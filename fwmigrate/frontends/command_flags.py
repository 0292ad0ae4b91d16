"""iptables' own options (letters, long words, which command takes which) and getopt's reading."""

from __future__ import annotations

import re

from ..errors import OptionError

VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})

# short and long spellings → canonical name
COMMANDS = {
    "-A": "append", "--append": "append", "-I": "insert", "--insert": "insert",
    "-D": "delete", "--delete": "delete", "-R": "replace", "--replace": "replace",
    "-N": "new-chain", "--new-chain": "new-chain", "-X": "delete-chain",
    "--delete-chain": "delete-chain", "-F": "flush", "--flush": "flush", "-Z": "zero",
    "--zero": "zero", "-P": "policy", "--policy": "policy", "-E": "rename-chain",
    "--rename-chain": "rename-chain", "-L": "list", "--list": "list", "-S": "list-rules",
    "--list-rules": "list-rules", "-C": "check", "--check": "check", "-h": "help",
    "--help": "help", "-V": "version", "--version": "version",
}
PARAMS = {
    "-p": "protocol", "--protocol": "protocol", "-s": "source", "--source": "source",
    "--src": "source", "-d": "destination", "--destination": "destination",
    "--dst": "destination", "-i": "in-interface", "--in-interface": "in-interface",
    "-o": "out-interface", "--out-interface": "out-interface", "-f": "fragment",
    "--fragment": "fragment", "-j": "jump", "--jump": "jump", "-g": "goto", "--goto": "goto",
    "-m": "match", "--match": "match", "-t": "table", "--table": "table",
    "-c": "set-counters", "--set-counters": "set-counters", "-4": "ipv4", "--ipv4": "ipv4",
    "-6": "ipv6", "--ipv6": "ipv6", "-w": "wait", "--wait": "wait", "-W": "wait-interval",
    "--wait-interval": "wait-interval", "-v": "verbose", "--verbose": "verbose",
    "-n": "numeric", "--numeric": "numeric", "-x": "exact", "--exact": "exact",
    "--line-numbers": "line-numbers", "--modprobe": "modprobe",
}
# getopt's view of iptables' short options: those that take the rest of the word (or the
# next word) as their value, and those that take the rest of the word if there is one
SHORT_VALUE = frozenset("ACDRIMNEPopsdjitmcg")
SHORT_OPTIONAL_VALUE = frozenset("LSFZXhwW")
BASE_LONG = sorted(f for f in list(COMMANDS) + list(PARAMS) if f.startswith("--"))
NEGATABLE = frozenset({"protocol", "source", "destination", "in-interface", "out-interface",
                        "fragment"})
# the commands iptables 1.8.9 takes each of these options with (delete: by rule, not by
# number); any other is "Illegal option `-n' with this command"
LEGAL_WITH = {
    **dict.fromkeys(("numeric", "exact", "line-numbers"), ("list",)),
    "set-counters": ("append", "insert", "replace", "policy"),
    **dict.fromkeys(("protocol", "source", "destination", "in-interface", "out-interface",
                     "jump"), ("append", "insert", "replace", "check", "delete")),
}
# options iptables 1.8.9 cannot take as --opt=value or -ovalue (see ParameterOptions._param)
WHOLE_WORD = frozenset({"protocol", "source", "destination", "in-interface", "out-interface",
                         "jump"})
RULE_ACTIONS = frozenset({"append", "insert", "delete", "replace", "check"})
# built-in chains and the interface option they cannot use
NO_OUT = frozenset({"INPUT", "PREROUTING"})
NO_IN = frozenset({"OUTPUT", "POSTROUTING"})


def short_letter(action: str) -> str:
    """The letter of a command (append → A), for iptables' "Cannot use -A with -D"."""
    for flag, name in COMMANDS.items():
        if name == action and len(flag) == 2:
            return flag[1]
    return action


def check_interface(name: str, index: int) -> None:
    if len(name) > 15:
        raise OptionError(f"interface name `{name}' must be shorter than IFNAMSIZ (15)", index)
    if not name:
        raise OptionError("empty interface name", index)


def short_bundle(word: str) -> list[tuple[str, int]] | None:
    """`-nvL`, `-tnat`, `-vjDROP` as getopt splits them: (word, offset in the original)
    pairs, or None when a letter is not an iptables option."""
    out: list[tuple[str, int]] = []
    for k in range(1, len(word)):
        flag = "-" + word[k]
        if flag not in COMMANDS and flag not in PARAMS:
            return None
        out.append((flag, k if k > 1 else 0))
        if word[k] in SHORT_VALUE or word[k] in SHORT_OPTIONAL_VALUE:
            if k + 1 < len(word):
                out.append((word[k + 1:], k + 1))
            return out
    return out


_STRTOUL = re.compile(r"\s*\+?(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))\Z")


def rule_number(text: str) -> int | None:
    """A rule number as iptables 1.8.9 reads it (strtoul, base 0: 0x10 is 16, 010 is 8,
    leading blanks and `+' taken); None unless 1 to INT_MAX."""
    found = _STRTOUL.match(text)
    if found is None:
        return None
    hexa, octal, decimal = found.groups()
    value = int(hexa, 16) if hexa else int(octal, 8) if octal else int(decimal)
    return value if 1 <= value <= 0x7FFFFFFF else None
