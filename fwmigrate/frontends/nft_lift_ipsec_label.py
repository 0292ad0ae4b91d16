"""nft's IPsec presence tests and connection label tests → -m policy / -m connlabel: the
inverse of backends/nft_ipsec_label.py, used by nft_lift_matches.py and nft_lift.py."""

from __future__ import annotations

from typing import Any

from ..ir import Match, Option
from .kernel_checks import chains_by_value
from .nft_lift_values import number, unrepresentable


def ipsec(lift, where: str, right: Any, op: str) -> None:
    """`meta ipsec exists|missing` (in) / `rt ipsec exists|missing` (out)."""
    if not isinstance(right, bool) or op != "==":
        unrepresentable(f"{where} ipsec {op} {right!r}")
    direction = "in" if where == "meta" else "out"
    allowed = chains_by_value("policy")[f"dir={direction}"]
    if lift.builtin is not None and lift.builtin not in allowed:
        unrepresentable(f"{where} ipsec in {lift.builtin} (xt_policy --dir {direction} is "
                        f"allowed only from {', '.join(allowed)})")
    lift.append_match(Match("policy", (Option("dir", direction),
                                       Option("pol", "ipsec" if right else "none"))))


def label_set(lift, value: Any) -> None:
    """`ct label set N`: one half of `--label N --set`, whose test must follow."""
    if lift.label_set is not None or lift.targets:
        unrepresentable("ct label set where no -m connlabel --set can stand")
    lift.label_set = number(value, "ct label")


def label_test(lift, right: Any, op: str) -> None:
    """`ct label N` (after `ct label set N`: --set)."""
    if op != "in":
        unrepresentable("ct label != (xt_connlabel's ! --label also holds without a "
                        "conntrack entry)")
    bit = number(right, "ct label")
    options = (Option("label", bit),)
    if lift.label_set is not None:
        if lift.label_set != bit:
            unrepresentable("ct label set N followed by a test of another label")
        lift.label_set = None
        options += (Option("set"),)
    lift.append_match(Match("connlabel", options))
