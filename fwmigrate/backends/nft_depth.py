"""How deep the jumps of an nft ruleset go: the kernel refuses a chain more than 15 jumps (or
gotos) from a base chain (NFT_JUMP_STACK_SIZE is 16 levels; nf_tables counts a goto as well
when it checks a ruleset). iptables-legacy has no such limit, so a ruleset it loads can be
one nft cannot; that is an error at the jump that goes too deep, not a file nft refuses.
"""

from __future__ import annotations

from ..errors import Diagnostic
from .nft_ast import NftChain, NftRule, NftRuleset, Verdict

MAX_DEPTH = 15          # levels below a base chain; the base chain is level 0


def _jumps(chain: NftChain, names) -> list[tuple[NftRule, str]]:
    """(rule, target chain) for each jump and goto of the chain's rules (a verdict is a
    rule's last statement)."""
    out = []
    for rule in chain.rules:
        last = rule.statements[-1] if rule.statements else None
        if type(last) is Verdict and last.kind in ("jump", "goto") and last.target in names \
                and rule.untranslated is None:
            out.append((rule, last.target))
    return out


def _heights(jumps: dict[str, list[tuple[NftRule, str]]]) -> dict[str, int]:
    """Chain → the most jumps below it (0: it jumps nowhere), without recursion: a chain of
    chains can be thousands deep."""
    height: dict[str, int] = {}
    for start in jumps:
        if start in height:
            continue
        stack = [(start, iter(jumps[start]))]
        on_path = {start}
        while stack:
            name, pending = stack[-1]
            step = next(pending, None)
            if step is None:
                stack.pop()
                on_path.discard(name)
                height[name] = max((height.get(t, 0) + 1 for _r, t in jumps[name]), default=0)
                continue
            target = step[1]
            if target not in height and target not in on_path:
                on_path.add(target)
                stack.append((target, iter(jumps[target])))
    return height


def depth_problems(ruleset: NftRuleset) -> list[Diagnostic]:
    """An error for each base chain whose jumps go deeper than the kernel allows, at the jump
    that reaches the level too many."""
    problems = []
    for table in ruleset.tables:
        chains = {c.name: c for c in table.chains}
        jumps = {c.name: _jumps(c, chains) for c in table.chains}
        height = _heights(jumps)
        for base in table.chains:
            if base.base is None or height.get(base.name, 0) <= MAX_DEPTH:
                continue
            # follow the deepest jumps down to the one that leaves level MAX_DEPTH
            chain, level, path = base, 0, [base.name]
            while True:
                rule, target = max(jumps[chain.name], key=lambda rt: height[rt[1]])
                if level == MAX_DEPTH:
                    break
                chain, level = chains[target], level + 1
                path.append(target)
            problems.append(Diagnostic(
                rule.loc, f"this jump goes {MAX_DEPTH + 1} chains deep from {table.family} "
                f"{table.name} {base.name} ({' → '.join(path + [target])}); nftables follows "
                f"at most {MAX_DEPTH}", "error",
                "make the chain of jumps shorter (iptables-nft has the same limit)"))
    return problems
