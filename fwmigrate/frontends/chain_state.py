"""Chains and tables as commands change them, and CommandError (for ruleset_model, jump_loops)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import mappings
from ..ir import Counters, Family, Jump, Rule, SourceLocation
from .command_flags import VERDICTS
from .hook_reach import HookReach

MAX_CHAIN_NAME = 28


class CommandError(Exception):
    """iptables would refuse this command; `index` is the word to point at (None: the command)."""

    def __init__(self, message: str, index: int | None = None, hint: str | None = None,
                 loc: SourceLocation | None = None, unsupported: bool = False):
        super().__init__(message)
        self.message = message
        self.index = index
        self.hint = hint
        self.loc = loc
        self.unsupported = unsupported      # not iptables failing: fwmigrate cannot tell


@dataclass(slots=True)
class ChainState:
    name: str
    policy: str | None                    # None: user-defined
    rules: list[Rule] = field(default_factory=list)
    counters: Counters | None = None
    loc: SourceLocation | None = None


@dataclass(slots=True)
class TableState:
    family: Family
    name: str
    chains: dict[str, ChainState]
    hooks: HookReach | None = None   # which built-in chains reach each chain (scripts)

    @classmethod
    def fresh(cls, family: Family, name: str) -> TableState:
        builtin = mappings.iptables_tables()[name]
        return cls(family, name, {c: ChainState(c, "ACCEPT") for c in builtin},
                   HookReach(name))

    def chain(self, name: str | None, index: int | None) -> ChainState:
        chain = self.chains.get(name or "")
        if chain is None:
            raise CommandError("No chain/target/match by that name.", index,
                               hint=chain_hint(name, self))
        return chain

    def extend(self, name: str, rules: tuple[Rule, ...], jump: str | None) -> bool:
        """Append a save file's rules when the chain exists and a jump leads to a user chain
        (the checks of -A); False, with nothing changed, when the command must go through
        RulesetModel.apply to report what is wrong."""
        chain = self.chains.get(name)
        if chain is None:
            return False
        if jump is not None:
            dest = self.chains.get(jump)
            if dest is None or dest.policy is not None:
                return False
        chain.rules.extend(rules)
        return True

    def removed(self, rules) -> None:
        """Rules taken out: a jump among them may leave chains reached from fewer built-in
        chains, so the record is rebuilt when next needed (hook_reach.py)."""
        if self.hooks is not None and any(isinstance(r.target, Jump) for r in rules):
            self.hooks.forget()

    def references(self, name: str) -> int:
        return sum(1 for c in self.chains.values() for r in c.rules
                   if isinstance(r.target, Jump) and r.target.chain == name)


def chain_hint(name: str | None, table: TableState) -> str | None:
    import difflib
    close = difflib.get_close_matches(name or "", list(table.chains), n=1)
    if close:
        return f"did you mean {close[0]}?"
    return f"create it first with -N {name}" if name else None


def check_chain_name(name: str, index: int | None) -> None:
    if len(name) > MAX_CHAIN_NAME:
        raise CommandError(f"chain name `{name}' too long (must be under 29 chars)", index)
    if name.startswith("-") or name.startswith("!"):
        raise CommandError(f"chain name not allowed to start with `{name[0]}'", index)
    if not name or any(ch.isspace() for ch in name):
        raise CommandError(f"Invalid chain name `{name}'", index)
    if name in VERDICTS or name in mappings.target_specs() or \
            name in mappings.load("extensions")["targets"]:
        raise CommandError("chain name may not clash with target name", index)
