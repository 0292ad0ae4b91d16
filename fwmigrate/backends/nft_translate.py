"""IR → nftables model (nft_ast): every decision about meaning is taken here.

Each iptables rule becomes one nft rule with the same meaning, statements in the same order
(so side effects such as limit and recent happen for the same packets). A rule that has no
exact translation is never dropped: it is reported with its location and reason, and only
with allow_partial does the output go on without it (as a visible comment).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import mappings
from ..errors import Diagnostic
from ..frontends.conntrack_entry import entry_tested
from ..frontends.kernel_checks import INET_HOOK_HINT, inet_hook_conflicts
from ..ir import (
    Chain,
    Negatable,
    Rule,
    Ruleset,
    SourceLocation,
    Table,
)
from . import iptables_save, nft_inet
from .nft_ast import (
    AnonSet,
    BaseChain,
    BitAnd,
    Compare,
    Counter,
    Meta,
    NftChain,
    NftRule,
    NftRuleset,
    NftTable,
    Payload,
    Statement,
    Symbol,
    Text,
    Tproxy,
)
from .nft_common import PAYLOADS, Ctx, NftOptions, address_compare, op, protocol
from .nft_companions import check_tproxy_tests, companion_of
from .nft_ct_split import Split
from .nft_ct_templates import template_problems
from .nft_exthdr import AH_WITH_PROTOCOL
from .nft_fragments import later_fragment_note
from .nft_ipsets import IpsetPlan
from .nft_limits import PLANNED as LIMIT_PLANNED
from .nft_limits import LimitPlan
from .nft_matches import match_statements
from .nft_names import Namer, chain_name, check_table_name, table_name
from .nft_neq import keep_neq_apart
from .nft_notrack_answers import notrack_answer_problems
from .nft_protocol_test import protocol_implied
from .nft_recent import RecentPlan, Untranslatable, shared_list_problems
from .nft_sets import hoist
from .nft_targets import target_statements

NFT_COMMENT_MAX = 128
# Not exact, and not refusable without refusing every IPv6 protocol test: said in the output
# (tests/test_exthdr_kernel.py shows both kernels' behaviour)
AH_NOTE = ("IPv6 packets that carry an AH (IPsec authentication) header: ip6tables finds the\n"
           "protocol and ports past AH, nft's `meta l4proto`, `tcp dport` … stop at it, so the\n"
           "rules that test -p or ports treat such packets differently.")
# matches translated from a plan of the whole table (sets), never from a cache
_PLANNED = frozenset({"recent", "set"}) | LIMIT_PLANNED
_CHAIN_DEPENDENT_TARGETS = frozenset({"SET", "NETMAP"})
_COUNTER = Counter()


@dataclass(slots=True)
class Translation:
    ruleset: NftRuleset
    problems: list[Diagnostic] = field(default_factory=list)       # untranslatable rules
    approximations: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Translator:
    def __init__(self, options: NftOptions):
        self.options = options
        self.result = Translation(NftRuleset(()))
        # (match, family, protocol) → statements: rules repeat the same matches many times
        self.match_cache: dict[tuple, list[Statement]] = {}
        self.shape_cache: dict[tuple, tuple] = {}
        # ids of the rules made by _rule whose statements compare with a literal set (a
        # superset of what nft_sets.hoist names; the rules are kept by the result)
        self.set_rules: set[int] = set()
        # id of a rule → (that rule, the rule written after it): see LimitPlan.companion
        self.companions: dict[int, tuple[NftRule, NftRule]] = {}
        # id of a state test → the second rule it needs (nft_ct_split; kept alive there)
        self.ct_splits: dict[int, Split] = {}
        # family → (saddr, daddr) caches: id of a -s/-d selector → (selector, compare)
        self.address_cache: dict[str, tuple[dict, dict]] = {"ip": ({}, {}), "ip6": ({}, {})}
        self.ipsets: tuple = ()
        # ipset → (nft table, updated there by -j SET) for every table that uses it
        self.ipset_tables: dict[str, list[tuple[str, bool]]] = {}
        # id of a rule → why the rules around it keep it from being translated (one inet
        # table cannot hold it: kernel_checks.inet_hook_conflicts; nft_notrack_answers;
        # nft_ct_templates)
        self.refused_by_context: dict[int, Untranslatable] = {}
        # recent list → why the rules of both families using it are refused
        self.shared_recent: dict[str, str] = {}

    # --- tables -----------------------------------------------------------------------------

    def translate(self, ruleset: Ruleset) -> Translation:
        opts = self.options
        self.ipsets = ruleset.ipsets
        self.shared_recent = shared_list_problems(ruleset)
        self.refused_by_context.update(notrack_answer_problems(ruleset))
        self.refused_by_context.update(template_problems(ruleset))
        families = list(ruleset.families)
        if opts.family in ("ip", "ip6"):
            if opts.family not in families:
                raise Untranslatable(f"the input has no {'IPv4' if opts.family == 'ip' else 'IPv6'}"
                                     " rules", "leave out --family to translate what it has")
            families = [opts.family]
        tables: list[NftTable] = []
        if opts.family == "inet" and opts.scheme != "iptables-nft" and families:
            # one inet table for whatever families the input has (nft_inet merges them, IPv4
            # first: in the input's order, ip6tables first swapped the families' tags)
            tables.append(self._table("inet", opts.table, [
                (family, [t for t in ruleset.tables if t.family == family])
                for family in ("ip", "ip6") if family in families]))
            families = []
        for family in families:
            ipt_tables = [t for t in ruleset.tables if t.family == family]
            if opts.scheme == "iptables-nft":
                for t in ipt_tables:
                    tables.append(self._table(family, t.name, [(family, [t])]))
            else:
                tables.append(self._table(family, opts.table, [(family, ipt_tables)]))
        for set_name, uses in self.ipset_tables.items():
            if len(uses) > 1 and any(dynamic for _, dynamic in uses):
                self.result.problems.append(Diagnostic(None, (
                    f"ipset {set_name} is changed by -j SET and used from several nft tables "
                    f"({', '.join(w for w, _ in uses)}); an nft set belongs to one table, so "
                    "each would have its own copy"), "error",
                    "use the set from one family's rules only"))
        # inet tables' rules are rebuilt by nft_inet after _rule: hoist looks at all of them
        candidates = None if opts.family == "inet" else self.set_rules
        self.result.ruleset = hoist(NftRuleset(tuple(tables), tuple(self.result.notes)),
                                    candidates=candidates)
        return self.result

    def _table(self, nft_family: str, name: str,
               parts: list[tuple[str, list[Table]]]) -> NftTable:
        """One nft table for the iptables tables of one family, or of both (inet)."""
        namer = Namer()
        chain_maps = self._claim_chains(namer, [t for _family, ts in parts for t in ts])
        first = parts[0][1]
        nft_name = table_name(self.options.scheme, name, first[0].name if first else "filter")
        sets = []
        chains_of: list[list[NftChain]] = []
        if nft_family == "inet" and len(parts) == 2:
            by_name = {t.name: t for t in parts[1][1]}
            for t in parts[0][1]:
                if t.name in by_name:
                    for rule, message in inet_hook_conflicts(t, by_name[t.name]):
                        self.refused_by_context[id(rule)] = Untranslatable(message, INET_HOOK_HINT)
        for family, ipt_tables in parts:
            suffix = mappings.inet()["ip6_set_suffix"] if nft_family == "inet" and \
                family == "ip6" else ""
            recent, limits = self._plans(family, namer, suffix, ipt_tables)
            ipsets = IpsetPlan(family, namer, self.ipsets)
            if family == "ip6" and AH_NOTE not in self.result.notes and any(
                    r.protocol is not None for t in ipt_tables for c in t.chains
                    for r in c.rules):
                self.result.notes.append(AH_NOTE)
            fragments = later_fragment_note(ipt_tables, family)
            if fragments is not None and fragments not in self.result.notes:
                self.result.notes.append(fragments)
            chains: list[NftChain] = []
            for t in ipt_tables:
                ctx = Ctx(family, t.name, chain_maps[t.name], recent, self.options,
                          limits=limits, ipsets=ipsets, table=t)
                chains += [self._chain(t, chain, ctx) for chain in t.chains]
            chains_of.append(chains)
            sets += recent.sets() + limits.sets() + ipsets.sets()
            for set_name, use in ipsets.used.items():
                self.ipset_tables.setdefault(set_name, []).append(
                    (f"{nft_family} {nft_name}", use.dynamic))
            self.result.notes += ipsets.notes()
            self.result.notes += limits.notes
            for loc, text in recent.approximations + limits.approximations:
                self.result.approximations.append(Diagnostic(loc, text, "warning"))
            for note in recent.capacity_notes():
                if note not in self.result.notes:       # said once, for all tables
                    self.result.notes.append(note)
            if suffix and recent.lists:
                self.result.notes.append(
                    f"the IPv6 recent lists {', '.join(recent.lists)} are the sets "
                    f"{', '.join(n + suffix for n in recent.lists)} (an nft set holds one "
                    "address family; an xt_recent entry carries its family, so each family "
                    "meets the same members)")
        if nft_family != "inet":
            chains = chains_of[0]
        elif len(parts) == 1:
            chains = [nft_inet.alone(c, parts[0][0]) for c in chains_of[0]]
        else:
            chains = nft_inet.merge_chains(*chains_of)
        for kind, original, new, why in namer.renamed:
            self.result.notes.append(f"{kind} {original} is called {new} in nft ({why})")
        return NftTable(nft_family, nft_name, tuple(sets), tuple(chains))

    def _claim_chains(self, namer: Namer, ipt_tables: list[Table]) -> dict[str, dict[str, str]]:
        """nft chain names by iptables table and chain; one name for a chain both families
        have, so that their rules meet in one chain."""
        chain_maps: dict[str, dict[str, str]] = {}
        # base chains claim their names first, so a user chain never takes one of them
        for builtin_pass in (True, False):
            for t in ipt_tables:
                names = chain_maps.setdefault(t.name, {})
                for chain in t.chains:
                    if chain.builtin == builtin_pass and chain.name not in names:
                        wanted = chain_name(self.options.scheme, t.name, chain.name)
                        names[chain.name] = namer.claim(wanted, chain.name, "chain")
        return chain_maps

    def _plans(self, family: str, namer: Namer, suffix: str,
               ipt_tables: list[Table]) -> tuple[RecentPlan, LimitPlan]:
        """The sets that recent lists and hashlimit/connlimit need, planned over the table."""
        recent = RecentPlan(family, namer, self.options.approximate,
                            self.options.recent_list_size, suffix, self.shared_recent)
        limits = LimitPlan(family, namer, self.options.approximate)
        plain: set[int] = set()     # ids of match tuples without planned matches
        for t in ipt_tables:
            for chain in t.chains:
                for rule in chain.rules:
                    if id(rule.matches) in plain:
                        continue
                    if any(m.module in _PLANNED for m in rule.matches):
                        recent.add(rule)
                        limits.add(rule)
                    else:
                        plain.add(id(rule.matches))
        recent.plan()
        limits.plan()
        return recent, limits

    def _chain(self, table: Table, chain: Chain, ctx: Ctx) -> NftChain:
        rule_of = self._rule
        rules = [rule_of(table, chain, rule, ctx) for rule in chain.rules]
        if self.companions:
            companions = self.companions
            rules = [r for rule in rules for r in (
                (rule, companions[id(rule)][1]) if id(rule) in companions else (rule,))]
        base = None
        if chain.builtin:
            spec = mappings.base_chain(table.name, chain.name)
            base = BaseChain(spec.type, spec.hook, spec.priority, chain.policy.lower())
        comment = None
        if ctx.chains[chain.name] != chain_name(self.options.scheme, table.name, chain.name):
            comment = f"iptables chain {chain.name} (table {table.name})"
        return NftChain(ctx.chains[chain.name], tuple(rules), base, comment)

    # --- rules ------------------------------------------------------------------------------

    def _rule(self, table: Table, chain: Chain, rule: Rule, ctx: Ctx) -> NftRule:
        # Rules read from one template share these objects; everything but the addresses is
        # then translated once. Keyed by identity: an entry keeps its parts alive, so no other
        # object can have their ids while it is there.
        if self.refused_by_context and id(rule) in self.refused_by_context:
            return self._untranslated(table, chain, rule, self.refused_by_context[id(rule)])
        key = (id(rule.matches), id(rule.target), id(rule.protocol), id(rule.in_interface),
               id(rule.out_interface), id(rule.fragment))
        cached = self.shape_cache.get(key)
        if cached is None:
            cached = self._shape_entry(table, chain, rule, ctx, key)
            if type(cached) is NftRule:
                return cached           # not translatable: the problem is recorded
        _parts, interfaces, middle, target, tail, comment, literal_sets, unequal = cached
        if rule.counters is not None and self.options.counters:
            c = rule.counters
            tail = (*middle, Counter(c.packets, c.bytes), *target)
        source = rule.source
        destination = rule.destination
        if source is None and destination is None:
            statements = interfaces + tail if interfaces else tail
        else:
            addresses = (self._address(source, ctx.family, "saddr"),) if destination is None \
                else (self._address(destination, ctx.family, "daddr"),) if source is None \
                else (self._address(source, ctx.family, "saddr"),
                      self._address(destination, ctx.family, "daddr"))
            statements = (*interfaces, *addresses, *tail)
            # an address test is `!=` exactly when its selector is negated
            unequal += (source is not None and source.negated) + \
                (destination is not None and destination.negated)
        if unequal > 1:     # a join needs two `!=` tests
            statements = keep_neq_apart(statements)
        if not statements:
            # `-A CHAIN` alone only counts; nft has no empty rule (iptables-translate: counter)
            statements = (Counter(),)
        nft_rule = NftRule(statements, comment, rule.loc)
        try:
            companion = companion_of(self, nft_rule, target, ctx, rule, table.name)
        except Untranslatable as exc:       # a conntrack test that two rules cannot say
            return self._untranslated(table, chain, rule, exc)
        if literal_sets:
            self.set_rules.add(id(nft_rule))
        if companion is not None:
            self.companions[id(nft_rule)] = (nft_rule, companion)
            if literal_sets:        # its tests are the rule's: hoist names its sets alike
                self.set_rules.add(id(companion))
        return nft_rule

    def _untranslated(self, table: Table, chain: Chain, rule: Rule,
                      exc: Untranslatable) -> NftRule:
        """The placeholder of a rule that cannot be translated, with the problem recorded."""
        text = iptables_save.rule_line(chain.name, rule, with_counters=False)
        self.result.problems.append(Diagnostic(
            rule.loc, f"cannot translate `{text}' exactly: {exc.message}", "error", exc.hint))
        return NftRule((), exc.message, rule.loc, untranslated=f"-t {table.name} {text}")

    def _shape_entry(self, table: Table, chain: Chain, rule: Rule, ctx: Ctx,
                     key: tuple) -> tuple | NftRule:
        """A shape_cache entry for the rule (cached unless a plan or -j SET is involved):
        (its parts, interfaces, middle, target, middle + counter + target, comment, whether
        it compares with a literal set, its number of `!=` tests); for a rule that cannot be
        translated, its placeholder rule, with the problem recorded."""
        ctx.proto = rule.protocol.value if rule.protocol and not rule.protocol.negated \
            else None
        ctx.chain = chain.name
        try:
            interfaces, middle, target, comment = self._shape(rule, ctx)
            if target and type(target[0]) is Tproxy:
                check_tproxy_tests((*interfaces, *middle))
        except Untranslatable as exc:
            return self._untranslated(table, chain, rule, exc)
        # what follows the addresses, with the counter most rules have
        tail = (*middle, _COUNTER, *target) if self.options.counters else (*middle, *target)
        # whether a statement compares with a literal set (addresses never do)
        literal_sets = any(type(s) is Compare and type(s.right) is AnonSet
                           for s in (*interfaces, *middle, *target))
        # how many `!=` tests besides the addresses': keep_neq_apart has work only from two
        unequal = sum(type(s) is Compare and s.op == "!=" for s in (*interfaces, *middle, *target))
        # the entry's first item keeps the objects whose ids make its key alive
        entry = ((rule.matches, rule.target, rule.protocol, rule.in_interface,
                  rule.out_interface, rule.fragment), interfaces, middle, target, tail, comment,
                 literal_sets, unequal)
        # not cached: plans, -j SET, and targets whose translation depends on the chain
        if not any(m.module in _PLANNED for m in rule.matches) and \
                getattr(rule.target, "name", None) not in _CHAIN_DEPENDENT_TARGETS:
            self.shape_cache[key] = entry
        return entry

    def _address(self, selector: Negatable, ip: str, side: str) -> Compare:
        """The compare of a -s/-d selector; the reader shares one selector object among the
        rules with the same address text, so the cache is keyed by its identity, and each
        entry keeps its selector alive."""
        cache = self.address_cache[ip][0 if side == "saddr" else 1]
        hit = cache.get(id(selector))
        if hit is None:
            hit = cache[id(selector)] = (selector, address_compare(
                PAYLOADS[ip, side], selector.value, selector.negated))
        return hit[1]

    def _shape(self, rule: Rule, ctx: Ctx):
        """Everything but the addresses: interfaces, (protocol, matches), target, comment."""
        interfaces: list[Statement] = []
        for sel, key in ((rule.in_interface, "iifname"), (rule.out_interface, "oifname")):
            if sel is not None:
                name = sel.value
                # nft reads only a last `*` as a wildcard (`\*` is the character itself)
                if name.endswith("+"):
                    pattern = name[:-1] + "*"
                elif name.endswith("*"):
                    pattern = name[:-1] + "\\*"
                else:
                    pattern = name
                interfaces.append(Compare(Meta(key), op(sel.negated), Text(pattern)))
        middle: list[Statement] = []
        ip = ctx.family
        if ip == "ip6" and rule.protocol is not None and rule.protocol.value == 51:
            raise Untranslatable("ip6tables' -p ah never matches an AH packet (ip6_tables skips "
                                 "AH to find the protocol), while nft's meta l4proto ah does",
                                 "use -m ah without -p to test for AH")
        if ip == "ip6" and rule.protocol is not None and \
                any(m.module == "ah" for m in rule.matches):
            # checked here, before -m ah (which names AH's protocol) drops the -p test as
            # implied, and whatever options -m ah has
            raise Untranslatable(AH_WITH_PROTOCOL, "test the protocol in a rule of its own")
        if rule.protocol is not None and not protocol_implied(rule):
            number = rule.protocol.value
            # an inet table tests both families' protocol with `meta l4proto` (for IPv4 the
            # header's protocol field, as `ip protocol`), so that both families' -p can be
            # one rule
            left = Payload("ip", "protocol") if ip == "ip" and self.options.family != "inet" \
                else Meta("l4proto")
            middle.append(Compare(left, op(rule.protocol.negated), protocol(number)))
        if rule.fragment is not None:
            middle.append(Compare(BitAnd(Payload("ip", "frag-off"), Symbol("0x1fff")),
                                  "==" if rule.fragment.negated else "!=", Symbol("0")))
        comments: list[str] = []
        for index, match in enumerate(rule.matches):
            if match.module == "comment":
                comments.append(match.options[0].value)
                continue
            if match.module in _PLANNED:      # depends on the table's plan, not only on itself
                middle += match_statements(self, rule, index, match, ctx)
                continue
            key = (match, ctx.family, ctx.proto)
            if match.module == "conntrack":     # h_ct_state reads the state tests before it
                key += (entry_tested(rule.matches[:index]),)
            cached = self.match_cache.get(key)
            if cached is None:
                cached = self.match_cache[key] = match_statements(self, rule, index, match, ctx)
            middle += cached
        target = target_statements(self, rule, ctx)
        comment = " ".join(comments) if comments else None
        if comment is not None and len(comment.encode()) > NFT_COMMENT_MAX:
            comment = comment.encode()[:NFT_COMMENT_MAX].decode(errors="ignore")
            self.result.notes.append(f"a comment at {rule.loc} is cut to nft's "
                                     f"{NFT_COMMENT_MAX} bytes")
        return tuple(interfaces), tuple(middle), tuple(target), comment


def translate(ruleset: Ruleset, options: NftOptions | None = None) -> Translation:
    """The nft model of a ruleset, with every rule that could not be translated listed."""
    return _Translator(options or NftOptions()).translate(ruleset)


__all__ = ["NftOptions", "Translation", "translate", "Untranslatable", "check_table_name",
           "SourceLocation"]
