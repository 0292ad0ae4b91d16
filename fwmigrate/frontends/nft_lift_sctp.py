"""`sctp chunk T exists|missing` → -m sctp --chunk-types: the inverse of backends/nft_sctp.py.

Consecutive `exists` tests make one `--chunk-types all T1,T2` (in iptables-save's order);
`missing` is `! --chunk-types all T`, one type per match."""

from __future__ import annotations

from typing import Any

from .. import mappings
from ..ir import Match, Option
from .nft_lift_values import unrepresentable


def sctp_chunk(lift, body: dict[str, Any], right: Any, op: str, negated: bool) -> None:
    names = {nft: name for name, nft in mappings.load("nft_values")["sctp_chunks"].items()}
    name = names.get(body.get("name"))
    if name is None or "field" in body or not isinstance(right, bool) or op != "==":
        unrepresentable(f"sctp chunk {body.get('name')} {body.get('field') or ''} (only the "
                        "presence of a chunk type is -m sctp --chunk-types)")
    lift.implied_protocol = lift.implied_protocol or mappings.protocol_numbers()["sctp"]
    last = lift.matches[-1] if lift.matches else None
    current = last.option("chunk-types") if last is not None and last.module == "sctp" \
        else None
    if right and current is not None and not current.negated:
        order = list(names.values())
        listed = set(current.value[1].split(",")) | {name}
        value = ("all", ",".join(sorted(listed, key=order.index)))
        lift.matches[-1] = Match("sctp", tuple(
            o for o in last.options if o.name != "chunk-types") + (Option("chunk-types", value),))
        return
    lift.add_match("sctp", Option("chunk-types", ("all", name), not right))
