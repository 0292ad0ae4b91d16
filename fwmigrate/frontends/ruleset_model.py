"""An in-memory ruleset that iptables commands are applied to in order, as the kernel would.

Scripts say `-I`, `-D`, `-R`, `-X`, `-E` …: the result depends on the order, so commands are
evaluated, never just collected. A command iptables would refuse raises CommandError with
iptables' own reason and leaves the ruleset unchanged (as iptables does).
"""

from __future__ import annotations

from .. import mappings
from ..ir import Chain, Counters, Family, Jump, Rule, Ruleset, Table, TargetExtension
from .chain_state import (
    MAX_CHAIN_NAME,
    ChainState,
    CommandError,
    TableState,
    chain_hint,
    check_chain_name,
)
from .command_flags import VERDICTS
from .command_line import Command
from .hook_reach import HookProblem
from .jump_loops import check_loops
from .kernel_checks import hook_limited

# save_file.py imports these from here
__all__ = ["ChainState", "CommandError", "RulesetModel", "TableState", "check_chain_name",
           "check_loops"]


class RulesetModel:
    """Tables per family, changed command by command."""

    def __init__(self, source: str = "-", check_loops_each_command: bool = True):
        self.source = source
        self.tables: dict[tuple[Family, str], TableState] = {}
        self.check_loops_each_command = check_loops_each_command

    def table(self, family: Family, name: str) -> TableState:
        key = (family, name)
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = TableState.fresh(family, name)
        return table

    def reset_table(self, family: Family, name: str) -> TableState:
        """iptables-restore replaces a table's rules and user chains at `*table`; the built-in
        chains keep their policies (a table given twice keeps the first one's)."""
        old = self.tables.pop((family, name), None)
        table = self.table(family, name)
        if old is not None:
            for chain in table.chains.values():
                before = old.chains.get(chain.name)
                if before is not None and before.policy is not None:
                    chain.policy, chain.counters, chain.loc = \
                        before.policy, before.counters, before.loc
        return table

    def freeze_table(self, family: Family, name: str) -> Table:
        table = self.tables[(family, name)]
        return Table(family, name, tuple(Chain(c.name, tuple(c.rules), c.policy, c.counters,
                                               c.loc) for c in table.chains.values()))

    # --- commands ---------------------------------------------------------------------------

    def apply(self, cmd: Command) -> None:
        handler = _HANDLERS.get(cmd.action)
        if handler is None:      # list, list-rules, help, version: no effect on the ruleset
            if cmd.action in ("list", "list-rules") and cmd.chain is not None:
                # but listing a chain that does not exist fails (the table is not made here:
                # an empty table in the output for an `iptables -t raw -L` would be noise)
                table = self.tables.get((cmd.family, cmd.table))
                chains = table.chains if table else mappings.iptables_tables()[cmd.table]
                if cmd.chain not in chains:
                    raise CommandError("No chain/target/match by that name.", cmd.chain_index)
            return
        table = self.tables.get((cmd.family, cmd.table)) or self.table(cmd.family, cmd.table)
        handler(self, table, cmd)

    def _append(self, table: TableState, cmd: Command) -> None:
        chain = table.chain(cmd.chain, cmd.chain_index)
        self._check_targets(table, chain, cmd)
        if not self.check_loops_each_command:      # a save file: checked at COMMIT
            chain.rules.extend(cmd.rules)
            return
        before = self._snapshot(table, chain, cmd)
        chain.rules.extend(cmd.rules)
        self._after_jump(table, chain, before, cmd)

    def _insert(self, table: TableState, cmd: Command) -> None:
        chain = table.chain(cmd.chain, cmd.chain_index)
        pos = (cmd.rulenum or 1) - 1
        if pos > len(chain.rules):
            raise CommandError("Index of insertion too big.", cmd.rulenum_index,
                               hint=f"{chain.name} has {len(chain.rules)} rules; "
                                    f"-I takes 1 to {len(chain.rules) + 1}")
        self._check_targets(table, chain, cmd)
        before = self._snapshot(table, chain, cmd)
        # each address combination goes in at the same position, so they end up reversed
        for rule in cmd.rules:
            chain.rules.insert(pos, rule)
        self._after_jump(table, chain, before, cmd)

    def _replace(self, table: TableState, cmd: Command) -> None:
        chain = table.chain(cmd.chain, cmd.chain_index)
        pos = (cmd.rulenum or 0) - 1
        if pos >= len(chain.rules):
            raise CommandError("Index of replacement too big.", cmd.rulenum_index,
                               hint=f"{chain.name} has {len(chain.rules)} rules")
        self._check_targets(table, chain, cmd)
        before = self._snapshot(table, chain, cmd)
        table.removed((chain.rules[pos],))
        chain.rules[pos] = cmd.rules[0]
        self._after_jump(table, chain, before, cmd)

    def _delete(self, table: TableState, cmd: Command) -> None:
        chain = table.chain(cmd.chain, cmd.chain_index)
        if cmd.rulenum is not None:
            if cmd.rulenum > len(chain.rules):
                raise CommandError("Index of deletion too big.", cmd.rulenum_index,
                                   hint=f"{chain.name} has {len(chain.rules)} rules")
            table.removed((chain.rules.pop(cmd.rulenum - 1),))
            return
        positions = self._find(chain, cmd)
        table.removed([chain.rules[pos] for pos in positions])
        for pos in sorted(positions, reverse=True):
            del chain.rules[pos]

    def _check(self, table: TableState, cmd: Command) -> None:
        chain = table.chain(cmd.chain, cmd.chain_index)
        if table.family == "ip6":
            _ip6_check_decidable(chain, cmd)
        self._find(chain, cmd)

    def _find(self, chain: ChainState, cmd: Command) -> list[int]:
        """Positions of the first rule equal to each of the command's rules (all must exist)."""
        taken: set[int] = set()
        for wanted in cmd.rules or (None,):
            for pos, rule in enumerate(chain.rules):
                if pos not in taken and rule == wanted:
                    taken.add(pos)
                    break
            else:
                raise CommandError("Bad rule (does a matching rule exist in that chain?).",
                                   None, hint=f"no rule in {chain.name} is exactly this one; "
                                   "options, their order and values must all match")
        return list(taken)

    def _new_chain(self, table: TableState, cmd: Command) -> None:
        name = cmd.chain or ""
        check_chain_name(name, cmd.chain_index)
        if name in table.chains:
            raise CommandError("Chain already exists.", cmd.chain_index)
        table.chains[name] = ChainState(name, None, loc=None)

    def _delete_chain(self, table: TableState, cmd: Command) -> None:
        if cmd.chain is not None:
            chain = table.chain(cmd.chain, cmd.chain_index)
            problem = self._why_not_deletable(table, chain, frozenset())
            if problem:
                raise CommandError(problem, cmd.chain_index)
            del table.chains[chain.name]
            return
        # every user chain, all or nothing; iptables reports the last failure in name order
        users = sorted((c for c in table.chains.values() if c.policy is None),
                       key=lambda c: c.name.encode())
        doomed = frozenset(c.name for c in users)
        problems = [p for p in (self._why_not_deletable(table, c, doomed) for c in users) if p]
        if problems:
            raise CommandError(problems[-1], None,
                               hint="flush the chains (-F) before deleting them (-X)")
        for c in users:
            del table.chains[c.name]

    def _why_not_deletable(self, table: TableState, chain: ChainState,
                           doomed: frozenset) -> str | None:
        if chain.policy is not None:
            return "Invalid argument. Run `dmesg' for more information."
        referrers = [c.name for c in table.chains.values() for r in c.rules
                     if isinstance(r.target, Jump) and r.target.chain == chain.name
                     and c.name not in doomed]
        if referrers:
            return "Too many links."
        if chain.rules:
            return "Directory not empty."
        return None

    def _flush(self, table: TableState, cmd: Command) -> None:
        chains = ([table.chain(cmd.chain, cmd.chain_index)] if cmd.chain is not None
                  else list(table.chains.values()))
        for chain in chains:
            table.removed(chain.rules)
            chain.rules.clear()

    def _zero(self, table: TableState, cmd: Command) -> None:
        chains = ([table.chain(cmd.chain, cmd.chain_index)] if cmd.chain is not None
                  else list(table.chains.values()))
        for chain in chains:
            if cmd.rulenum is not None and cmd.rulenum > len(chain.rules):
                raise CommandError("Index of counter too big.", cmd.rulenum_index)
            chain.counters = Counters(0, 0) if chain.policy is not None else None
            chain.rules[:] = [_zeroed(r) for r in chain.rules]

    def _policy(self, table: TableState, cmd: Command) -> None:
        chain = table.chains.get(cmd.chain or "")
        if chain is None or chain.policy is None:
            raise CommandError("Bad built-in chain name.", cmd.chain_index,
                               hint="policies exist only on built-in chains: " +
                               ", ".join(mappings.iptables_tables()[table.name]))
        if cmd.policy not in ("ACCEPT", "DROP"):
            raise CommandError("Bad policy name. Run `dmesg' for more information.",
                               cmd.policy_index, hint="a policy is ACCEPT or DROP")
        if table.name == "nat" and cmd.policy == "DROP":
            raise CommandError('The "nat" table is not intended for filtering, the use of '
                               'DROP is therefore inhibited.', cmd.policy_index)
        chain.policy = cmd.policy

    def _rename_chain(self, table: TableState, cmd: Command) -> None:
        old = cmd.chain or ""
        new = cmd.new_name or ""
        if len(old) > MAX_CHAIN_NAME:
            raise CommandError(f"chain name `{old}' too long (must be under 29 chars)",
                               cmd.chain_index)
        chain = table.chains.get(old)
        if chain is None or chain.policy is not None:
            raise CommandError("No chain/target/match by that name.", cmd.chain_index)
        if new in table.chains or new in VERDICTS:
            raise CommandError("File exists.", None)
        try:
            check_chain_name(new, None)
        except CommandError as exc:
            raise CommandError(exc.message, None, hint="iptables -E checks less than -N and "
                               "makes such a chain, but neither -N nor iptables-restore could "
                               "make it again") from None
        table.chains = {(new if k == old else k): v for k, v in table.chains.items()}
        if table.hooks is not None:
            table.hooks.forget()
        chain.name = new
        for c in table.chains.values():
            c.rules[:] = [_retarget(r, old, new) for r in c.rules]

    # --- checks -----------------------------------------------------------------------------

    def _check_targets(self, table: TableState, chain: ChainState, cmd: Command) -> None:
        for rule in cmd.rules:
            target = rule.target
            if isinstance(target, Jump):
                dest = table.chains.get(target.chain)
                if dest is None or dest.policy is not None:
                    hint = chain_hint(target.chain, table)
                    if target.chain.upper() in VERDICTS:
                        hint = f"targets are case-sensitive: -j {target.chain.upper()}"
                    raise CommandError(f"Couldn't load target `{target.chain}':No such file or "
                                       "directory", cmd.target_index, hint=hint)

    def _snapshot(self, table: TableState, chain: ChainState,
                  cmd: Command) -> list[Rule] | None:
        """The chain's rules before a command that adds a jump or a rule some built-in chains
        may not reach, to undo it if the kernel would refuse the table it makes."""
        if self.check_loops_each_command and any(
                isinstance(r.target, Jump) or hook_limited(r, table.name) for r in cmd.rules):
            return list(chain.rules)
        return None

    def _after_jump(self, table: TableState, chain: ChainState, before: list[Rule] | None,
                    cmd: Command) -> None:
        if before is None:
            return
        try:
            jumps = {r.target.chain for r in cmd.rules if isinstance(r.target, Jump)}
            if jumps:
                # a loop this command makes goes through a jump it adds: look from their
                # targets only (the whole table after each command took quadratic time)
                check_loops(table, chain.name, jumps)
            table.hooks.added(table.chains, chain.name, cmd.rules)
        except HookProblem as exc:
            chain.rules[:] = before
            own = any(exc.rule is r for r in cmd.rules)
            raise CommandError(exc.message, cmd.target_index if own else None,
                               hint=None if own or exc.rule.loc is None else
                               f"the rule at line {exc.rule.loc.line} is reached through "
                               "this jump") from None
        except CommandError:
            chain.rules[:] = before
            raise

    # --- result -----------------------------------------------------------------------------

    def freeze(self) -> Ruleset:
        return Ruleset(tuple(self.freeze_table(*key) for key in self.tables), self.source)


_HANDLERS = {action: getattr(RulesetModel, "_" + action.replace("-", "_"))
             for action in ("append", "insert", "replace", "delete", "check", "new-chain",
                            "delete-chain", "flush", "zero", "policy", "rename-chain")}


def _skeleton(rule: Rule) -> tuple:
    """What ip6tables-legacy 1.8.9's -C compares in full: the IPv6 header part, the match
    modules in order, the verdict or jump, the target's name (not their options)."""
    target = rule.target.name if isinstance(rule.target, TargetExtension) else rule.target
    return (rule.source, rule.destination, rule.in_interface, rule.out_interface, rule.protocol,
            rule.fragment, tuple(m.module for m in rule.matches), target)


def _ip6_check_decidable(chain: ChainState, cmd: Command) -> None:
    """ip6tables-legacy 1.8.9 (and -restore) build -C's compare mask for an IPv4 entry, 56
    bytes short, so the options of matches and targets are compared only in part, as far as
    each extension's size pushes the mask (iptables 1.8.10 fixed it; -D compares them all).
    Where no rule is exactly the one asked for but one differs only in such options, whether
    -C finds it cannot be told without the kernel's struct sizes: refuse."""
    for wanted in cmd.rules:
        if wanted in chain.rules:
            continue
        for pos, rule in enumerate(chain.rules, 1):
            if _skeleton(rule) == _skeleton(wanted):
                raise CommandError(
                    "cannot tell whether ip6tables -C finds this rule: ip6tables-legacy 1.8.9 "
                    "compares the options of matches and targets only in part (a bug fixed in "
                    f"1.8.10), and rule {pos} of {chain.name} differs from it only in those",
                    None, hint="check for the rule another way (`ip6tables -S CHAIN | grep`), "
                    "or write the script without the -C", unsupported=True)


def _zeroed(rule: Rule) -> Rule:
    if rule.counters is None:
        return rule
    return Rule(rule.source, rule.destination, rule.in_interface, rule.out_interface,
                rule.protocol, rule.fragment, rule.matches, rule.target, Counters(0, 0), rule.loc)


def _retarget(rule: Rule, old: str, new: str) -> Rule:
    target = rule.target
    if not (isinstance(target, Jump) and target.chain == old):
        return rule
    return Rule(rule.source, rule.destination, rule.in_interface, rule.out_interface,
                rule.protocol, rule.fragment, rule.matches, Jump(new, target.goto),
                rule.counters, rule.loc)

