"""What the kernel refuses when a rule loads, though iptables' parser accepts the words.

iptables-restore hands every rule to the kernel, whose extensions check them once more
(checkentry): hooks a match or target may be used from, values they refuse, ipsets that must
exist. A rule the kernel refuses was never on the machine, so fwmigrate refuses it as well,
with the kernel's reason. The value tables are mappings/kernel_checks.toml; the hooks are the
`chains` of matches.toml and targets.toml.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from .. import mappings
from ..errors import OptionError
from ..ir import (
    Match,
    Negatable,
    Rule,
    Ruleset,
    Table,
    TargetExtension,
    builtin_chains_reaching,
)
from .clusterip import clusterip_problems
from .values_numbers import protocol_number


@cache
def _data() -> dict:
    return mappings.load("kernel_checks")


@cache
def _minimums() -> dict[tuple[str, str], tuple[int, str]]:
    return {(m["extension"], name): (m["min"], m["why"])
            for m in _data()["minimum"] for name in m["options"]}


@cache
def _after() -> dict[tuple[str, str], tuple[str, str]]:
    return {(a["extension"], a["option"]): (a["needs"], a["why"]) for a in _data()["after"]}


def check_option_order(module: str, option: str, given: dict, index: int) -> None:
    """Options iptables takes only after another one (`--gid-owner … --suppl-groups`)."""
    found = _after().get((module, option))
    if found is not None and found[0] not in given:
        raise OptionError(found[1], index)


def check_target_values(target: TargetExtension, index: int | None) -> None:
    """A target's values the kernel refuses (`TTL --ttl-inc 0`, `--queue-balance 0:65535`)."""
    minimums = _minimums()
    for opt in target.options:
        found = minimums.get((target.name, opt.name))
        if found is not None and isinstance(opt.value, int) and opt.value < found[0]:
            raise OptionError(found[1], index)
    if target.name == "NFQUEUE":
        balance = target.option("queue-balance")
        limit = _data()["queue_balance"]
        if balance is not None and balance.value.last - balance.value.first + 1 > \
                limit["max_queues"]:
            raise OptionError(limit["why"], index)


def check_rule(matches: list[Match] | tuple[Match, ...], target, index: int | None) -> None:
    """Checks across a rule's matches and its target."""
    problem = _rule_problem(matches, target)
    if problem is not None:
        raise OptionError(problem[0], index, hint=problem[1])


def _rule_problem(matches, target) -> tuple[str, str] | None:
    if isinstance(target, TargetExtension) and target.name == "TCPMSS" and \
            not any(_syn_test(m) for m in matches):
        found = _data()["tcpmss_syn"]
        return found["why"], found["hint"]
    return None


def _target_protocols() -> dict[str, tuple[tuple[int, ...], str, frozenset[str] | None]]:
    """Target → (protocol numbers, what to write, the options that need them; None: all)."""
    return {name: (tuple(t["protocols"]), t["write"],
                   frozenset(t["only_with"]) if "only_with" in t else None)
            for name, t in _data()["target_protocols"].items()}


# bound once: every rule with a target extension is looked up (the match options' table,
# below, is read at import too)
_TARGET_PROTOCOLS = _target_protocols()


def _option_protocols() -> dict[tuple[str, str], tuple[int, str, str]]:
    """(match, option) → (the protocol number it needs, the kernel's message, its -p name)."""
    return {(o["extension"], name): (o["protocol"], o["why"], o["name"])
            for o in _data()["option_protocol"] for name in o["options"]}


def target_problem(target: TargetExtension, proto: Negatable | None,
                   table: str) -> tuple[str, str] | None:
    """(why, hint) when the kernel refuses a target in this table with this protocol."""
    spec = mappings.target_specs()[target.name]
    if spec.tables is not None and table not in spec.tables:
        return (f"{target.name} target: only valid in {' or '.join(spec.tables)} table, not "
                f"{table}", "the kernel refuses the rule in another table")
    for option, tables in target_tables_by_option(target.name).items():
        if table not in tables and target.option(option) is not None:
            return (f"{target.name} target: --{option} only usable from "
                    f"{' or '.join(tables)} table, not {table}",
                    "the kernel refuses the rule (Invalid argument)")
    if target.name == "REJECT" and target.option("reject-with").value == "tcp-reset":
        if proto is None or proto.negated or proto.value != 6:
            return ("REJECT --reject-with tcp-reset needs -p tcp",
                    "the kernel refuses TCP RST for non-TCP packets")
    needed = _TARGET_PROTOCOLS.get(target.name)
    if needed is not None and needed[2] is not None and \
            not needed[2] & {o.name for o in target.options}:
        needed = None                           # ECN: only its TCP operations need -p tcp
    if needed is not None and (proto is None or proto.negated or proto.value not in needed[0]):
        return (f"{target.name} needs {needed[1]}",
                "the kernel refuses the rule (Invalid argument) without it")
    return None


# options the kernel accepts only with one protocol (the module itself works with any), bound
# once: every option of a module that has such options is looked up
_OPTION_PROTOCOL = _option_protocols()


def match_problem(match: Match, proto: Negatable | None, table: str,
                  family: str) -> tuple[str, str] | None:
    """(why, hint) when the kernel refuses a match in this table with this protocol
    (xt_check_match's table and protocol checks, then xt_ecn's TCP bits). iptables' own
    parser does not check these (multiport's -p check is its own: extensions.py)."""
    return module_problem(match.module, proto, table, family) or \
        _option_problem(match, proto)


def module_problem(module: str, proto: Negatable | None, table: str,
                   family: str) -> tuple[str, str] | None:
    """The part of match_problem that depends on the module alone, not its options."""
    spec = mappings.match_specs()[module]
    if spec.tables is not None and table not in spec.tables:
        return (f"{spec.name} match: only valid in {' or '.join(spec.tables)} table, not "
                f"{table}", "the kernel refuses the rule in another table")
    if spec.protocols and family in spec.protocol_families:
        if proto is None or proto.negated or proto.value not in protocol_numbers(module):
            return (f"{spec.name} match requires '-p {spec.protocols[0]}'",
                    f"the kernel refuses the rule without it; add -p {spec.protocols[0]} "
                    f"before -m {spec.name}")
    return None


def _option_problem(match: Match, proto: Negatable | None) -> tuple[str, str] | None:
    if match.module not in _OPTION_MODULES:
        return None
    for opt in match.options:
        needed = _OPTION_PROTOCOL.get((match.module, opt.name))
        if needed is not None and (proto is None or proto.negated or proto.value != needed[0]):
            return (needed[1], f"the kernel refuses the rule (Invalid argument) without "
                               f"-p {needed[2]}")
    return None


_OPTION_MODULES = frozenset(module for module, _option in _OPTION_PROTOCOL)


@cache
def protocol_numbers(module: str) -> frozenset[int]:
    """The protocol numbers a match module needs one of (`-p tcp` … for multiport)."""
    return frozenset(protocol_number(p) for p in mappings.match_specs()[module].protocols)


def _nothing_checked(rule: Rule) -> bool:
    """No match and no target extension (e.g. -s ADDR -j DROP): nothing for checkentry or the
    hook checks to look at."""
    return not rule.matches and not isinstance(rule.target, TargetExtension)


def checkentry_problems(table: Table) -> list[tuple[Rule, str, str]]:
    """The rules of a table the kernel's checkentry refuses (match, target and TCPMSS checks),
    for a save file, whose lines may remove such a rule before COMMIT (iptables-restore hands
    the kernel the table only then, and reports it at the COMMIT line). Scripts check each
    command as it runs (extensions.check_target, ExtensionOptions._check_match)."""
    problems = []
    # verdicts by (module, protocol) and by (matches, target, protocol); ids, since the rules
    # keep these objects alive and a large dump's rules share them (hashing them costs more)
    modules: dict[tuple[str, int], tuple[str, str] | None] = {}
    rules: dict[tuple[int, int, int], tuple[str, str] | None] = {}
    for chain in table.chains:
        for rule in chain.rules:
            if _nothing_checked(rule):
                continue
            key = (id(rule.matches), id(rule.target), id(rule.protocol))
            found = rules.get(key, _UNJUDGED)
            if found is _UNJUDGED:
                found = rules[key] = _entry_problem(rule, table, modules)
            if found is not None:
                problems.append((rule, *found))
    return problems


_UNJUDGED = object()


def _entry_problem(rule: Rule, table: Table,
                   modules: dict[tuple[str, int], tuple[str, str] | None]
                   ) -> tuple[str, str] | None:
    proto = rule.protocol
    # the kernel checks the matches first, then the target (find_check_entry)
    for match in rule.matches:
        key = (match.module, id(proto))
        found = modules.get(key, _UNJUDGED)
        if found is _UNJUDGED:
            found = modules[key] = module_problem(match.module, proto, table.name,
                                                  table.family)
        found = found or _option_problem(match, proto)
        if found is not None:
            return found
    target = rule.target
    if isinstance(target, TargetExtension):
        return target_problem(target, proto, table.name) or _rule_problem(rule.matches, target)
    return None


def _syn_test(match: Match) -> bool:
    """xt_TCPMSS's find_syn_match: a tcp match comparing SYN as set, not inverted."""
    if match.module != "tcp":
        return False
    flags = match.option("tcp-flags")
    return flags is not None and not flags.negated and "SYN" in flags.value.compare


# --- hooks: what a rule may be used from ----------------------------------------------------

@cache
def chains_by_value(module: str) -> dict[str, tuple[str, ...]]:
    """`option=value` (or `option`, whatever its value) → the built-in chains a match with it
    may be used from (-m policy, -m devgroup)."""
    raw = mappings.load("matches")[module].get("chains_by_value", {})
    return {key: tuple(chains) for key, chains in raw.items()}


def _allowed_chains(match: Match) -> tuple[str, ...] | None:
    by_value = chains_by_value(match.module)
    found = None
    for opt in match.options if by_value else ():
        chains = by_value.get(f"{opt.name}={opt.value}", by_value.get(opt.name))
        if chains is not None:
            # xt_devgroup with both groups: the chains both allow
            found = chains if found is None else tuple(c for c in found if c in chains)
    if found is not None:
        return found
    return mappings.match_specs()[match.module].chains


@cache
def target_tables_by_option(name: str) -> dict[str, tuple[str, ...]]:
    """Option → the tables a target with it may be in (SET --map-set: mangle)."""
    raw = mappings.load("targets")[name].get("tables_by_option", {})
    return {key: tuple(tables) for key, tables in raw.items()}


@cache
def target_chains_by_value(name: str) -> dict[str, tuple[str, ...]]:
    """`option` (a flag) or `option=value` → the built-in chains a target with it may be used
    from (TCPMSS --clamp-mss-to-pmtu)."""
    raw = mappings.load("targets")[name].get("chains_by_value", {})
    return {key: tuple(chains) for key, chains in raw.items()}


def _target_chains(target: TargetExtension, specs: dict) -> tuple[str, ...] | None:
    by_value = target_chains_by_value(target.name)
    for opt in target.options if by_value else ():
        chains = by_value.get(opt.name if opt.value is None else f"{opt.name}={opt.value}")
        if chains is not None:
            return chains
    return specs[target.name].chains


def hook_violations(table: Table) -> list[tuple[Rule, str]]:
    """Matches and targets used from built-in chains they do not allow (the kernel checks at
    commit, for user chains from every built-in chain that reaches them), and CLUSTERIP rules
    whose addresses the kernel refused (clusterip.py)."""
    reached_from = builtin_chains_reaching(table)
    problems = []
    specs = mappings.target_specs()
    # rules read from one template share their match tuples and targets: judge each
    # combination once per set of hooks (the rules keep the objects, so their ids stay theirs)
    by_hooks: dict[frozenset[str], dict[tuple[int, int], str | None]] = {}
    for chain in table.chains:
        hooks = reached_from.get(chain.name)
        if not hooks:           # no built-in chain reaches it: nothing to check
            continue
        verdicts = by_hooks.setdefault(hooks, {})
        for rule in chain.rules:
            if _nothing_checked(rule):
                continue
            key = (id(rule.matches), id(rule.target))
            if key not in verdicts:
                verdicts[key] = _hook_violation(rule, hooks, specs)
            message = verdicts[key]
            if message is not None:
                problems.append((rule, message))
    return problems + clusterip_problems(table)


def hook_limited(rule: Rule, table: str) -> bool:
    """Whether a rule has a match or target the kernel refuses from some of the table's
    built-in chains."""
    builtin = mappings.iptables_tables()[table]
    allowed = [_allowed_chains(m) for m in rule.matches]
    if isinstance(rule.target, TargetExtension):
        allowed.append(_target_chains(rule.target, mappings.target_specs()))
    return any(a is not None and not all(c in a for c in builtin) for a in allowed)


def rule_hook_violation(rule: Rule, hooks: set[str] | frozenset[str]) -> str | None:
    """Why the kernel refuses the rule when these built-in chains reach it (None: it takes
    it)."""
    return _hook_violation(rule, hooks, mappings.target_specs())


INET_HOOK_HINT = "give the two families' chains different names, or leave out --family inet"


def inet_hook_conflicts(v4: Table, v6: Table) -> list[tuple[Rule, str]]:
    """Rules the kernel refuses in one inet table though it takes them per family: the user
    chains both families name are one nft chain there, and nft checks every rule against every
    hook that reaches its chain through the merged chains, whichever family's jumps lead there
    (an IPv6 DNAT in a chain that IPv4 jumps to from POSTROUTING; an IPv6 SNAT in a U1 that
    IPv6's OUTPUT reaches through IPv4's jump in U0)."""
    merged = {c.name: c for c in v4.chains}
    for c in v6.chains:
        merged[c.name] = replace(merged[c.name], rules=merged[c.name].rules + c.rules) \
            if c.name in merged else c
    reach = builtin_chains_reaching(replace(v4, chains=tuple(merged.values())))
    own = {"ip": builtin_chains_reaching(v4), "ip6": builtin_chains_reaching(v6)}
    specs = mappings.target_specs()
    problems = []
    for family, table in (("ip", v4), ("ip6", v6)):
        for chain in table.chains:
            extra = reach.get(chain.name, frozenset()) - \
                own[family].get(chain.name, frozenset())
            for rule in chain.rules if extra else ():
                message = _hook_violation(rule, extra, specs)
                if message is not None:
                    problems.append((rule, (
                        f"{message} (one inet table merges the two families' chains of the "
                        f"same name, and through them packets from "
                        f"{', '.join(sorted(extra))} reach {table.name} chain {chain.name})")))
    return problems


def _hook_violation(rule: Rule, hooks: set[str], specs: dict) -> str | None:
    # the matches in order, then the target; the message is built only for a refused one
    for m in rule.matches:
        allowed = _allowed_chains(m)
        if allowed is not None and not hooks.issubset(allowed):
            return _hook_message(f"{m.module} match", hooks, allowed)
    target = rule.target
    if isinstance(target, TargetExtension):
        allowed = _target_chains(target, specs)
        if allowed is not None and not hooks.issubset(allowed):
            return _hook_message(f"{target.name} target", hooks, allowed)
    return None


def _hook_message(what: str, hooks: set[str], allowed: tuple[str, ...]) -> str:
    bad = sorted(h for h in hooks if h not in allowed)
    return f"{what}: used from hooks {', '.join(bad)}, but only usable from {'/'.join(allowed)}"


# --- ipsets ---------------------------------------------------------------------------------

def missing_ipsets(ruleset: Ruleset) -> list[tuple[Rule, str]]:
    """Rules naming an ipset the kernel does not have: xt_set refuses to load them."""
    known = {s.name for s in ruleset.ipsets}
    problems = []
    for table in ruleset.tables:
        for chain in table.chains:
            for rule in chain.rules:
                for name in _set_names(rule):
                    if name not in known:
                        problems.append((rule, f"ipset {name} does not exist: the kernel "
                                               "refuses a rule naming a missing set"))
                        break
    return problems


def _set_names(rule: Rule) -> list[str]:
    names = [o.value[0] for m in rule.matches if m.module == "set" for o in m.options
             if o.name == "match-set"]
    if isinstance(rule.target, TargetExtension) and rule.target.name == "SET":
        names += [o.value[0] for o in rule.target.options
                  if o.name in ("add-set", "del-set", "map-set")]
    return names
