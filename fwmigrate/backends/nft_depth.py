"""Limits the kernel checks only when a transaction commits, found in the model beforehand.

A packet may be sent at most 15 jumps (or gotos: the kernel counts both when it validates)
deep below a base chain; a chain 16 levels down fails the whole transaction with EMLINK ("Too
many links"). The kernel checks this when the batch commits, so a dry run (`nft -c`, `apply
--check`, `save`) does not see it. iptables-legacy has no such limit, so a script that ran
there can hit it: it is an error here, naming the jump that goes too deep.

A loop of jumps fails the same way, when the rule that closes it is added (ELOOP, which nft
reports as "Too many links"). iptables refuses loops too, so one family's rules have none; but
one inet table makes the two families' chains of the same name one chain, and IPv4's U0 → U1
with IPv6's U1 → U0 is a loop there: an error, naming the jump that closes it.
"""

from __future__ import annotations

from ..errors import Diagnostic
from .nft_ast import NftRule, NftRuleset, NftTable, Verdict

MAX_JUMP_DEPTH = 15


def jump_depth_problems(model: NftRuleset) -> list[Diagnostic]:
    problems = []
    for table in model.tables:
        problem = _loop(table) or _too_deep(table)
        if problem is not None:
            problems.append(problem)
    return problems


def _loop(table: NftTable) -> Diagnostic | None:
    """The first jump that closes a loop, whether or not a base chain reaches it (the kernel
    checks every chain). Only an inet table that merged two families can have one."""
    if table.family != "inet":
        return None
    edges = _jumps(table)
    done: set[str] = set()
    for start in table.chains:
        if start.name in done:
            continue
        # depth first, without recursion: the path and, per chain on it, its next edge
        path, next_edge = [start.name], [0]
        while path:
            chain, k = path[-1], next_edge[-1]
            if k == len(edges[chain]):
                done.add(chain)
                path.pop()
                next_edge.pop()
                continue
            next_edge[-1] += 1
            target, rule = edges[chain][k]
            if target in path:
                loop = " → ".join(path[path.index(target):] + [target])
                return Diagnostic(rule.loc, f"the jumps {loop} are a loop (one inet table makes "
                                  "the two families' chains of the same name one chain); "
                                  "nftables refuses a ruleset with a loop of jumps or gotos",
                                  hint="give the two families' chains different names, or "
                                       "leave out --family inet")
            if target not in done:
                path.append(target)
                next_edge.append(0)
    return None


def _jumps(table: NftTable) -> dict[str, list[tuple[str, NftRule]]]:
    edges: dict[str, list[tuple[str, NftRule]]] = {c.name: [] for c in table.chains}
    for chain in table.chains:
        out = edges[chain.name]
        for rule in chain.rules:
            # a verdict ends its rule (nft refuses a statement after one): only the last
            # statement can jump
            if rule.statements and type(last := rule.statements[-1]) is Verdict and \
                    last.kind in ("jump", "goto") and last.target in edges and \
                    rule.untranslated is None:
                out.append((last.target, rule))
    return edges


def _too_deep(table: NftTable) -> Diagnostic | None:
    if sum(1 for c in table.chains if c.base is None) <= MAX_JUMP_DEPTH:
        return None     # each level of a path is another regular chain (loops are refused)
    edges = _jumps(table)
    deepest: dict[str, int] = {}        # the deepest level each chain was reached at so far

    def walk(chain: str, path: list[tuple[str, NftRule | None]]) -> Diagnostic | None:
        level = len(path) - 1
        if level > MAX_JUMP_DEPTH:
            rule = path[-1][1]
            names = " → ".join(name for name, _ in path)
            return Diagnostic(rule.loc if rule else None,
                              f"chain {chain} is {level} jumps below a base chain ({names}); "
                              f"nftables allows {MAX_JUMP_DEPTH} (iptables-legacy has no such "
                              "limit) and would refuse the whole ruleset when it commits",
                              hint="fold some of these chains into their callers")
        if deepest.get(chain, -1) >= level or any(name == chain for name, _ in path[:-1]):
            return None                 # seen as deep already, or a loop (refused elsewhere)
        deepest[chain] = level
        for target, rule in edges[chain]:
            found = walk(target, path + [(target, rule)])
            if found is not None:
                return found
        return None

    for chain in table.chains:
        if chain.base is not None:
            found = walk(chain.name, [(chain.name, None)])
            if found is not None:
                return found
    return None
