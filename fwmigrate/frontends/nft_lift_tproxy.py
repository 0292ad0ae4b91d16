"""`tproxy to ADDR:PORT [meta mark set …] accept` → -j TPROXY: nft's tproxy hands the packet
to a socket, the mark and the accept are what xt_TPROXY does next. (The drop fwmigrate
writes after it, for a packet without a socket, is folded into this rule by nft_ruleset.)"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..ir import Masked, Option, PortRange, TargetExtension
from .nft_lift_targets import xmark_parts
from .nft_lift_values import ALL_ONES, unrepresentable


def tproxy(lift, body: dict[str, Any]) -> None:
    if lift.targets or lift.pending_tproxy is not None:
        unrepresentable("tproxy after another action")
    if body.get("family") not in (None, "ip", "ip6"):
        unrepresentable(f"tproxy {body.get('family')}")
    if body.get("family") not in (None, lift.ctx.family):
        lift.other_family()
        return
    lift.pending_tproxy = {"body": body, "mark": None}


def after_tproxy(lift, kind: str, body: Any) -> None:
    """A statement after tproxy: an optional `meta mark set`, then accept."""
    pending = lift.pending_tproxy
    if kind == "counter":
        return
    if kind == "mangle" and body.get("key") == {"meta": {"key": "mark"}} \
            and pending["mark"] is None:
        source, keep, flip = xmark_parts(body["value"])
        if source not in (None, "meta mark"):
            unrepresentable("tproxy with the mark set from the connection's mark")
        pending["mark"] = Masked(flip, ~keep & ALL_ONES)
        return
    if kind != "accept":
        unrepresentable(f"tproxy followed by `{kind}` (xt_TPROXY sets the mark and accepts)")
    lift.pending_tproxy = None
    given = pending["body"]
    addr = given.get("addr")
    any_addr = "0.0.0.0" if lift.ctx.family == "ip" else "::"
    port = given.get("port", 0)
    lift.target(TargetExtension("TPROXY", (
        Option("on-port", PortRange(port, port)),
        Option("on-ip", ipaddress.ip_address(addr if addr is not None else any_addr)),
        Option("tproxy-mark", pending["mark"] or Masked(0, 0)))))
