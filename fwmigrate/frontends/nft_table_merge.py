"""The iptables tables several nft tables (or base chains) stand for, as one IR table each.

nft lets any number of tables hold base chains of one hook and priority; iptables has one
table of each name per family with one chain of each built-in name. The rest of fwmigrate
(diff, verify --equiv, the raw checks of ct_templates.py) takes a family's table by its name,
so the chains the reader found for one iptables table are put in one: where two nft tables
hold different chains of it (table a raw PREROUTING, table b raw OUTPUT) that is exactly what
they do. Where two nft base chains with an effect (a rule, or policy drop) stand for one
built-in chain, each decides on its own (one's accept does not skip the other; one's drop is
final), which no iptables chain says: refused. So are two user chains read as one name.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import mappings
from ..ir import Chain, Table


def _idle(chain: Chain) -> bool:
    """A built-in chain nft did not create, or an empty one that accepts: no effect."""
    return chain.builtin and not chain.rules and chain.policy == "ACCEPT"


def merged(parts: list[tuple[str, Table]], problem: Callable[[str], None]) -> list[Table]:
    """(the nft table it was read from, IR table) → one IR table per family and name;
    `problem` is told of each iptables chain more than one nft chain stands for."""
    groups: dict[tuple[str, str], list[tuple[str, Table]]] = {}
    for origin, table in parts:
        groups.setdefault((table.family, table.name), []).append((origin, table))
    out = []
    for (family, name), group in groups.items():
        found: dict[str, list[tuple[str, Chain]]] = {}
        for origin, table in group:
            for chain in table.chains:
                found.setdefault(chain.name, []).append((origin, chain))
        chains = []
        for chain_name, candidates in found.items():
            busy = [(o, c) for o, c in candidates if not _idle(c)]
            if len(busy) > 1:
                origins = sorted({o for o, _ in busy})
                where = (f"{len(busy)} base chains of table {origins[0]}" if len(origins) == 1
                         else "base chains of " + " and ".join(f"table {o}" for o in origins))
                if busy[0][1].builtin:
                    problem(f"{family} {name} {chain_name}: {where} stand for it, where "
                            "iptables has one chain: each nft base chain decides on its own "
                            "(an accept in one does not skip the other)")
                else:
                    problem(f"{family} {name} user chain {chain_name}: chains of "
                            + " and ".join(f"table {o}" for o in origins)
                            + " are read as it")
            chains.append((busy or candidates)[0][1])
        out.append(Table(family, name, in_iptables_order(name, chains)))
    return out


def in_iptables_order(table: str, chains: list[Chain]) -> tuple[Chain, ...]:
    """The built-in chains in the order iptables lists them for the table, then the user
    chains in the order given."""
    builtin_names = mappings.iptables_tables()[table]
    return tuple(sorted(chains, key=lambda ch: (not ch.builtin, builtin_names.index(ch.name)
                                                if ch.builtin else 0)))
