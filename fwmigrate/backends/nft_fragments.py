"""Whether a ruleset meets later fragments unassembled, where nft and xt differ.

Only said, never refused: refusing would refuse every port test. See mappings/fragments.toml.
"""

from __future__ import annotations

from functools import cache

from .. import mappings
from ..ir import Table, TargetExtension


@cache
def _data(family: str) -> tuple[frozenset[str], frozenset[str], frozenset[str], str]:
    raw = mappings.load("fragments")
    return (frozenset(raw["transport_matches"]), frozenset(raw["conntrack_matches"]),
            frozenset(raw["conntrack_targets"]), raw["note" if family == "ip" else "note6"])


def later_fragment_note(tables: list[Table], family: str) -> str | None:
    """The header note for this family's tables, or None where fragments cannot differ."""
    transport, ct_matches, ct_targets, note = _data(family)
    tests_transport = False
    seen: set[int] = set()          # rules of one shape share their matches tuple
    for table in tables:
        for chain in table.chains:
            for rule in chain.rules:
                target = rule.target
                if isinstance(target, TargetExtension) and target.name in ct_targets:
                    return None
                if id(rule.matches) in seen:
                    continue
                seen.add(id(rule.matches))
                for match in rule.matches:
                    if match.module in ct_matches:
                        return None
                    tests_transport = tests_transport or (
                        match.module in transport and bool(match.options))
    return note if tests_transport else None
