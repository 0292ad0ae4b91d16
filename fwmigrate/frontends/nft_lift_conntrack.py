"""Conntrack keys in nft (`ct state`, `ct original ip saddr`, `ct packets`, `ct expiration`, …)
→ -m conntrack and -m connbytes: the inverse of the backend's conntrack handlers
(backends/nft_matches.py, nft_counters.py)."""

from __future__ import annotations

from typing import Any

from ..ir import IntRange, Match, Option
from .conntrack_entry import NAT_STATES, NO_ENTRY, entry_tested
from .nft_lift_ipsec_label import label_test
from .nft_lift_values import (
    address,
    flags,
    int_range,
    is_range,
    number,
    port_ranges,
    protocol,
    unrepresentable,
)

_CT_ADDR = {("original", "saddr"): "ctorigsrc", ("original", "daddr"): "ctorigdst",
            ("reply", "saddr"): "ctreplsrc", ("reply", "daddr"): "ctrepldst"}
_CT_PORT = {("original", "proto-src"): "ctorigsrcport", ("original", "proto-dst"): "ctorigdstport",
            ("reply", "proto-src"): "ctreplsrcport", ("reply", "proto-dst"): "ctrepldstport"}

COUNTER_KEYS = frozenset({"packets", "bytes", "avgpkt"})
_EXPIRATION_MAX = 0xFFFFFFFF // 1000     # nft lists `ct expiration` in whole seconds
_U64 = 0xFFFFFFFFFFFFFFFF


def _no_nat(lift, nat: frozenset[str]) -> None:
    """`ct status ! dnat`: iptables' ! --ctstate DNAT, which also passes a packet without a
    conntrack entry, where nft's `ct status` stops the rule: the same only after a test that
    has stopped such a packet. A `ct state ! …` right before is the same --ctstate (as the
    backend writes `! --ctstate ESTABLISHED,DNAT` after one)."""
    last = lift.matches[-1] if lift.matches else None
    state = last.option("ctstate") if last is not None and last.module == "conntrack" else None
    if state is not None and state.negated and len(last.options) == 1 and (
            NO_ENTRY <= state.value or entry_tested(lift.matches[:-1])):
        lift.matches[-1] = Match("conntrack", (Option("ctstate", state.value | nat, True),))
    elif entry_tested(lift.matches):
        lift.add_match("conntrack", Option("ctstate", nat, True))
    else:
        unrepresentable("ct status ! snat/dnat without an earlier test that stops a packet "
                        "without a conntrack entry (iptables' ! --ctstate SNAT/DNAT lets it pass)")


def _flag_names(key: str, right: Any, op: str) -> Any:
    """The names a `ct state`/`ct status` test is a test of any of, as xt_conntrack's
    --ctstate/--ctstatus: `in` (nft's implicit flag test) and `!` are; `==`/`!=` compare the
    whole value (listed `ct state == established | related` is never true, `ct status ==
    dnat` holds only where no other bit is set, confirmed or seen-reply); a set is a lookup
    of the whole value, the same only for `ct state`, whose value is one bit."""
    exact = op in ("==", "!=")
    if isinstance(right, dict) and set(right) == {"set"} and key == "state" and exact and \
            all(isinstance(v, str) for v in right["set"]):
        return right["set"]
    if isinstance(right, dict) or (exact and (key == "status" or not isinstance(right, str))):
        unrepresentable(f"ct {key} {op} {_shown(right)} (compares the whole {key}, where "
                        f"iptables' --ct{key} tests for any of the bits)")
    return right


def _shown(right: Any) -> str:
    if isinstance(right, dict) and len(right) == 1:
        (kind, items), = right.items()
        if isinstance(items, list):
            shown = (", " if kind == "set" else f" {kind} ").join(map(str, items))
            return "{ " + shown + " }" if kind == "set" else shown
    return str(right)


def ct(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> bool:
    """A conntrack key's test as -m conntrack / -m connbytes; False: a key without a
    direction left to the table of plain selectors (`ct mark`: -m connmark)."""
    key, direction = body["key"], body.get("dir")
    family = None
    if " " in key:                          # 1.0.6 lists `ct original ip saddr` so
        family, key = key.split(" ", 1)
    if key in ("state", "status"):
        right = _flag_names(key, right, op)
    if key == "state":
        lift.add_match("conntrack", Option("ctstate", flags(right), negated))
    elif key == "label" and direction is None:
        label_test(lift, right, op)
    elif key == "status":
        states = flags(right)
        nat = states & NAT_STATES
        if nat and nat == states and negated:
            _no_nat(lift, nat)
        elif nat and nat == states:
            lift.add_match("conntrack", Option("ctstate", nat, negated))
        elif nat:
            unrepresentable("ct status mixing snat/dnat with other bits")
        else:
            lift.add_match("conntrack", Option("ctstatus", states, negated))
    elif key == "direction":
        if negated:
            unrepresentable("ct direction !=")
        lift.add_match("conntrack", Option("ctdir", str(right).upper()))
    elif key == "protocol" or key == "l3proto":
        if key == "l3proto":
            unrepresentable("ct l3proto")
        lift.add_match("conntrack", Option("ctproto", protocol(right), negated))
    elif key in COUNTER_KEYS:
        counter(lift, key, direction, right, op)
    elif key == "expiration" and direction is None:
        expiration(lift, right, op)
    elif (direction or "original", key) in _CT_ADDR:
        if family is not None and family != lift.ctx.family:
            if lift.ctx.table_family == "inet":
                # no `meta nfproto` of its own: nft compares the other family's connections'
                # addresses with it too (the first 4 bytes of an IPv6 one)
                unrepresentable(f"ct {direction or 'original'} {family} {key} in an inet "
                                "table without a `meta nfproto` test before it")
            lift.skip = True
            return True
        lift.add_match("conntrack", Option(_CT_ADDR[(direction or "original", key)],
                                           address(right, lift.ctx.family), negated))
    elif (direction or "original", key) in _CT_PORT:
        ranges = port_ranges(right)
        if len(ranges) != 1:
            unrepresentable("a set of conntrack ports")
        lift.add_match("conntrack", Option(_CT_PORT[(direction or "original", key)], ranges[0],
                                           negated))
    elif direction is None:
        return False
    else:
        unrepresentable(f"ct {direction} {key}")
    return True


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
    span = int_range(right, "ct expiration")
    if span.last == _EXPIRATION_MAX:
        # nft's largest (32-bit milliseconds): the rule fwmigrate writes for any upper bound
        # from there on, read as iptables' largest
        span = IntRange(span.first, 0xFFFFFFFF)
    lift.add_match("conntrack", Option("ctexpire", span, op == "!="))
