"""nft match expressions that come from a lookup or a generator rather than the packet's
bytes: `fib … type` (-m addrtype), `rt ipsec` (-m policy --dir out), `numgen inc` and
`meta random` (-m statistic). Used by nft_lift_matches.py."""

from __future__ import annotations

from typing import Any

from .. import mappings
from ..ir import Match, Option
from .nft_lift_ipsec_label import ipsec
from .nft_lift_values import is_set, number, unrepresentable


def fib(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    if lift.ctx.family != "ip":
        unrepresentable("fib … type in IPv6: xt_addrtype and nft's fib classify IPv6 addresses "
                        "with different route lookups")
    given = body.get("flags", [])
    given = [given] if isinstance(given, str) else list(given)
    keys = [f for f in given if f in ("saddr", "daddr")]
    devices = [f for f in given if f in ("iif", "oif")]
    if body.get("result") != "type" or len(keys) != 1 or len(devices) > 1 \
            or len(keys) + len(devices) != len(given) or op not in ("==", "!="):
        unrepresentable(f"fib {' . '.join(given)} {body.get('result')} (-m addrtype tests the "
                        "type of saddr or daddr, limited to iif or oif)")
    order = mappings.addrtype_order()
    types = set()
    for item in right["set"] if is_set(right) else [right]:
        name = order[item] if isinstance(item, int) and 0 <= item < len(order) \
            else str(item).upper()
        if name not in order:
            unrepresentable(f"fib address type {item}")
        types.add(name)
    option = Option("src-type" if keys[0] == "saddr" else "dst-type", frozenset(types), negated)
    iface = Option("limit-iface", f"limit-iface-{'in' if devices == ['iif'] else 'out'}") \
        if devices else None
    spec = mappings.match_specs()["addrtype"]
    last = lift.matches[-1] if lift.matches else None
    options = [option] + ([iface] if iface else [])
    if last is not None and last.module == "addrtype" and last.option(option.name) is None \
            and last.option("limit-iface") == iface:
        lift.matches.pop()
        options += [o for o in last.options if o.name != "limit-iface"]
    lift.append_match(Match("addrtype", tuple(sorted(options, key=lambda o: spec.order[o.name]))))


def rt(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    if body.get("key") != "ipsec":
        unrepresentable(f"rt {body.get('key')}")
    ipsec(lift, "rt", right, op)


def numgen(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    every = body.get("mod")
    n = number(right, "numgen") if not isinstance(right, dict) else -1
    if body.get("mode") != "inc" or body.get("offset", 0) != 0 or op not in ("==", "!=") \
            or not isinstance(every, int) or not 0 <= n < every:
        unrepresentable("numgen other than `numgen inc mod N` compared with one value "
                        "(-m statistic --mode nth)")
    # numgen gives the k-th packet (from 0) the value k % every; xt matches the packets whose
    # number is --packet modulo --every
    lift.append_match(Match("statistic", (Option("mode", "nth"), Option("every", every, negated),
                                          Option("packet", n))))


def random_share(lift, mask: int, right: Any, op: str) -> None:
    if mask != 0x7FFFFFFF or op not in ("<", ">="):
        unrepresentable("meta random other than `meta random & 0x7fffffff < N` "
                        "(-m statistic --mode random)")
    lift.append_match(Match("statistic", (Option("mode", "random"),
                                          Option("probability", number(right, "meta random"),
                                                 op == ">="))))
