"""Which built-in chains reach each chain of a table, kept up to date command by command, so
that a script's rule the kernel would refuse for its hook fails at its own command.

iptables-legacy hands the whole table to the kernel at every command, and the kernel checks
each match and target against the built-in chains that reach its chain (a MASQUERADE reached
from PREROUTING, a DNAT reached from POSTROUTING): the command that makes such a table fails,
whether it adds the rule or the jump that leads to it. Checking the whole table after each
command took quadratic time on scripts with thousands of chains; here a jump only spreads the
hooks it adds, and a rule is checked against its chain's hooks. Commands that can take
reachability away (-D, -R, -F, -X, -E) drop the record, rebuilt when next needed.
"""

from __future__ import annotations

from ..ir import Jump, Rule
from .kernel_checks import hook_limited, rule_hook_violation


class HookProblem(Exception):
    def __init__(self, rule: Rule, message: str):
        super().__init__(message)
        self.rule, self.message = rule, message


class HookReach:
    """chain name → the built-in chains that reach it; `chains` is the table's chain dict
    (name → ChainState: .rules, .policy)."""

    def __init__(self, table_name: str):
        self.table_name = table_name
        self.reach: dict[str, set[str]] | None = None
        self.limited = False        # a rule some built-in chain may not reach went in

    def forget(self) -> None:
        self.reach = None

    def _built(self, chains: dict) -> dict[str, set[str]]:
        """The record, rebuilt from the table if forgotten, checking every rule on the way:
        the rules that were there passed, so a problem is one the current command made."""
        if self.reach is None:
            self.reach = {}
            for name, chain in chains.items():
                if chain.policy is not None:
                    self._spread(chains, name, {name})
        return self.reach

    def added(self, chains: dict, chain: str, rules: tuple[Rule, ...] | list[Rule]) -> None:
        """Rules just put into `chain`: raises HookProblem (the record then forgotten) when the
        table they make is one the kernel refuses."""
        limited = any(hook_limited(r, self.table_name) for r in rules)
        self.limited = self.limited or limited
        jumps = [r.target.chain for r in rules if isinstance(r.target, Jump)]
        if not self.limited or not (limited or jumps):
            return
        try:
            hooks = self._built(chains).get(chain, set())
            if not hooks:
                return              # no built-in chain reaches it (yet): checked at the jump
            for rule in rules:
                message = rule_hook_violation(rule, hooks)
                if message is not None:
                    raise HookProblem(rule, message)
            for target in jumps:
                self._spread(chains, target, hooks)
        except HookProblem:
            self.reach = None
            raise

    def _spread(self, chains: dict, start: str, hooks: set[str]) -> None:
        """Adds `hooks` to `start` and what it jumps to, checking rules newly reached."""
        reach = self.reach
        todo = [start]
        while todo:
            name = todo.pop()
            have = reach.setdefault(name, set())
            if hooks <= have:
                continue
            have |= hooks
            chain = chains.get(name)
            if chain is None:
                continue
            for rule in chain.rules:
                message = rule_hook_violation(rule, have)
                if message is not None:
                    raise HookProblem(rule, message)
                if isinstance(rule.target, Jump):
                    todo.append(rule.target.chain)
