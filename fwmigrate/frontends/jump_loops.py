"""Jump loops the kernel refuses: the whole table at COMMIT, or the jumps a command adds."""

from __future__ import annotations

from ..ir import Jump, Table
from .chain_state import CommandError, TableState


def jump_graph(table: TableState | Table) -> dict[str, list[str]]:
    chains = table.chains.values() if isinstance(table, TableState) else table.chains
    return {c.name: [r.target.chain for r in c.rules if isinstance(r.target, Jump)]
            for c in chains}


def check_loops(table: TableState, source: str | None = None,
                targets: set[str] | None = None) -> None:
    """The kernel refuses a jump cycle that a built-in chain can reach. With `source` and
    `targets`: only cycles through the jumps just added from source to targets (the table
    had none before), which matter only if a built-in chain reaches source."""
    if targets is not None:
        starts = sorted(targets)
        graph: dict[str, list[str]] = _LazyGraph(table)
    else:
        starts = [c.name for c in table.chains.values() if c.policy is not None]
        graph = jump_graph(table)
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    # depth first, with a stack of its own: a chain of chains thousands deep is a valid
    # iptables ruleset, and Python's recursion would not reach its end
    for start in starts:
        if start in state:
            continue
        state[start] = 1
        path = [start]
        pending = [iter(graph.get(start, ()))]
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                pending.pop()
                continue
            if state.get(nxt) == 1:
                if source is not None and not _reached(table, source):
                    return          # no packet gets there (yet: a later jump is checked then)
                cycle = path[path.index(nxt):] + [nxt]
                raise CommandError("Too many levels of symbolic links.", None,
                                   hint="the jumps form a loop: " + " → ".join(cycle))
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                pending.append(iter(graph.get(nxt, ())))


class _LazyGraph(dict):
    """jump_graph, worked out only for the chains a search visits."""

    def __init__(self, table: TableState):
        super().__init__()
        self.table = table

    def __missing__(self, name: str) -> list[str]:
        chain = self.table.chains.get(name)
        self[name] = [r.target.chain for r in chain.rules if isinstance(r.target, Jump)] \
            if chain is not None else []
        return self[name]

    def get(self, name, default=None):
        return self[name]


def _reached(table: TableState, name: str) -> bool:
    """Whether a built-in chain reaches chain `name` through jumps."""
    graph = jump_graph(table)
    seen = {c.name for c in table.chains.values() if c.policy is not None}
    todo = list(seen)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return name in seen
