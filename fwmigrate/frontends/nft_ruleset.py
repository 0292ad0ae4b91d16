"""nftables rulesets (libnftables JSON: `nft -j list ruleset`) → IR.

Reads back what fwmigrate writes and common hand-written nft, so that any two rulesets can be
compared in the same terms. Base chains become iptables' tables and built-in chains by their
hook, type and priority; fwmigrate's chain prefixes (`nat_POSTROUTING`) are undone; an inet
table is read once per family (its `meta nfproto` tests decided for that family). Statements
become the iptables matches and targets with the same meaning; recent lists come back from
the sets fwmigrate made for them. What the IR cannot hold is reported, with the rule, never
skipped silently.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import mappings
from ..errors import Diagnostics
from ..ir import Chain, IpSet, Match, Option, Rule, Ruleset, SourceLocation, Table
from .conntrack_entry import moves_state
from .ct_templates import template_problems
from .nft_ct_fold import fold
from .nft_lift import Lift, LiftContext, SetInfo, strip_prefix
from .nft_lift_ipset import ipset_from_nft, ipset_of
from .nft_lift_values import Unrepresentable
from .nft_table_merge import in_iptables_order, merged


def _base_chain(chain: dict[str, Any]) -> tuple[str, str] | None:
    """(iptables table, built-in chain) for a base chain, by type, hook and priority."""
    tables = mappings.iptables_tables()
    for table, builtin in tables.items():
        for name in builtin:
            spec = mappings.base_chain(table, name)
            if (spec.type, spec.hook, spec.priority) == (chain.get("type"), chain.get("hook"),
                                                          chain.get("prio")):
                return table, name
    return None


class _Reader:
    def __init__(self, listing: dict[str, Any], source: str, diags: Diagnostics,
                 ipsets: dict[str, tuple[str, str]] | None = None):
        self.ipsets = ipsets or {}
        self.found: dict[str, IpSet] = {}       # the ipsets the sets stand for, by ipset name
        self.items = listing.get("nftables", [])
        for item in self.items:
            if "rule" in item and "expr" not in item["rule"]:
                # nft lists a rule without statements (one that only counts) with no "expr"
                item["rule"] = {**item["rule"], "expr": []}
        self.source = source
        self.diags = diags
        self.problems: list[str] = []

    def loc(self, rule: dict[str, Any]) -> SourceLocation:
        return SourceLocation(f"{self.source}#{rule['family']} {rule['table']} {rule['chain']}",
                              rule.get("handle", 0))

    def read(self) -> Ruleset:
        parts: list[tuple[str, Table]] = []
        nft_tables = [i["table"] for i in self.items if "table" in i]
        for t in nft_tables:
            views = ("ip", "ip6") if t["family"] == "inet" else (t["family"],)
            for family in views:
                if family not in ("ip", "ip6"):
                    self.problems.append(f"table {t['family']} {t['name']}: the {t['family']} "
                                         "family has no iptables counterpart")
                    continue
                parts += [(f"{t['family']} {t['name']}", x) for x in self._table(t, family)]
        # one IR table per iptables table, whichever nft tables hold its chains
        tables = merged(parts, self.problems.append)
        # a dup or synproxy in any table of the family sends packets through raw OUTPUT
        # (ct_templates.py)
        tables = [self._template_free(t, [u for u in tables if u.family == t.family])
                  for t in tables]
        return Ruleset(tuple(tables), self.source, tuple(self.found.values()))

    def _objects(self, kind: str, table: dict[str, Any]) -> list[dict[str, Any]]:
        return [i[kind] for i in self.items if kind in i
                and (i[kind]["family"], i[kind]["table"]) == (table["family"], table["name"])]

    def _table(self, t: dict[str, Any], family: str) -> list[Table]:
        ctx = LiftContext(family, t["family"])
        updated = {stmt["set"]["set"].lstrip("@") for r in self._objects("rule", t)
                   for stmt in r["expr"] if "set" in stmt}
        for s in self._objects("set", t):
            ipset = ipset_of(s.get("comment")) or self.ipsets.get(s["name"])
            if ipset is not None:
                ctx.ipsets[s["name"]] = ipset
                self.found.setdefault(ipset[0], ipset_from_nft(s, ipset))
                continue
            # fwmigrate's recent lists are address sets the rules update (or that are empty,
            # when the rules only check them); a named set of constants stands for its literal
            recent = s["name"] in updated or s.get("timeout") or (
                s["type"] in ("ipv4_addr", "ipv6_addr") and not s.get("elem"))
            if recent:
                ctx.sets[s["name"]] = _set_info(s, t["family"] == "inet")
            else:
                ctx.constants[s["name"]] = {"set": s.get("elem", [])}
        chains = self._objects("chain", t)
        rules: dict[str, list[dict[str, Any]]] = {c["name"]: [] for c in chains}
        for r in self._objects("rule", t):
            rules.setdefault(r["chain"], []).append(r)
        # which iptables table each chain belongs to: base chains by hook, others by reach
        owner: dict[str, tuple[str, str]] = {}
        for c in chains:
            if "hook" in c:
                where = _base_chain(c)
                if where is None:
                    self.problems.append(f"chain {t['family']} {t['name']} {c['name']}: hook "
                                         f"{c['hook']} type {c.get('type')} priority "
                                         f"{c.get('prio')} matches no iptables built-in chain")
                    continue
                owner[c["name"]] = where
        changed = True
        while changed:
            changed = False
            for name, (table, _) in list(owner.items()):
                for r in rules.get(name, []):
                    for target in _targets(r):
                        if target not in owner:
                            owner[target] = (table, None)
                            changed = True
        for c in chains:
            if c["name"] not in owner:
                # no base chain reaches it: its table is what fwmigrate's prefix says (known
                # for every chain before any rule is read: a jump's target is named by it)
                prefix = c["name"].split("_", 1)[0]
                owner[c["name"]] = (prefix if prefix in mappings.iptables_tables()
                                    and prefix != "filter" else "filter", None)
        inet = t["family"] == "inet"
        out: dict[str, list[Chain]] = {}
        for c in chains:
            table, builtin = owner[c["name"]]
            name = builtin or strip_prefix(c["name"], table)
            chain_rules = rules.get(c["name"], [])
            policy = c.get("policy", "accept").upper() if builtin else None
            if inet:
                chain_rules, policy = _inet_view(chain_rules, policy, family)
                if chain_rules is None:
                    continue                # the other family's user chain
            ir_rules = []
            # the rule before, and the one before that this family sees (in an inet table a
            # companion shared by both families may follow the other family's rule)
            previous = seen = None
            awaiting = None         # a tproxy rule of this family, until its drop follows
            first = None            # (rule, where its IR rules start): a conntrack pair's first
            for r in chain_rules:
                if any(p is not None and _companion_of(p, r) for p in (previous, seen)):
                    if awaiting is not None and _companion_of(awaiting, r):
                        awaiting = None
                    previous = seen = first = None      # part of the rule before it
                    continue
                folded = first and self._fold(first[0], r, ctx, owner, table, builtin)
                if folded:
                    ir_rules[first[1]:] = folded
                    previous = seen = first = None
                    continue
                previous = r
                try:
                    lifted = self._rule(r, ctx, owner, table, builtin)
                    if lifted:
                        self._unfinished(awaiting)
                        seen = r
                        first = (r, len(ir_rules))
                        awaiting = r if any("tproxy" in e for e in r["expr"]) else None
                    ir_rules += lifted
                except Unrepresentable as exc:
                    first = None
                    self.diags.error(self.loc(r), f"rule cannot be read into iptables terms: "
                                                  f"{exc}")
            self._unfinished(awaiting)
            if builtin and policy not in ("ACCEPT", "DROP"):
                self.problems.append(f"chain {c['name']}: policy {policy}")
            out.setdefault(table, []).append(Chain(name, tuple(ir_rules), policy))
        result = []
        for table, chains_of in out.items():
            builtin_names = mappings.iptables_tables()[table]
            present = {ch.name for ch in chains_of}
            # built-in chains nft did not create behave as iptables' empty ACCEPT chains
            chains_of += [Chain(n, (), "ACCEPT") for n in builtin_names if n not in present]
            result.append(Table(family, table, in_iptables_order(table, chains_of)))
        return result

    def _template_free(self, table: Table, family: list[Table]) -> Table:
        """The table without the raw rules whose iptables form means something else after a
        `ct zone set` (xt_conntrack reads the template nft's ct keys stop at) or after
        `notrack` (xt_CT leaves the packet untracked): ct_templates.py; each reported."""
        problems = template_problems(table, family)
        if not problems:
            return table
        chains, told = [], set()
        for chain in table.chains:
            for rule in chain.rules:
                # one report per nft rule (a set may have made it several iptables rules)
                if id(rule) in problems and rule.loc not in told:
                    told.add(rule.loc)
                    message, hint = problems[id(rule)]
                    self.diags.error(rule.loc, "rule cannot be read into iptables terms: "
                                               f"{message}", hint)
            chains.append(replace(chain, rules=tuple(r for r in chain.rules
                                                     if id(r) not in problems)))
        return replace(table, chains=tuple(chains))

    def _unfinished(self, rule: dict[str, Any] | None) -> None:
        if rule is not None:
            self.diags.error(self.loc(rule), "rule cannot be read into iptables terms: tproxy "
                                             "without the drop after it (a packet without a "
                                             "socket goes on to the next rule, where "
                                             "xt_TPROXY drops it)")

    def _fold(self, first: dict[str, Any], r: dict[str, Any], ctx: LiftContext, owner,
              table: str, builtin: str | None) -> list[Rule] | None:
        """The IR of `first` and `r` as the one rule they say (nft_ct_fold), or None."""
        folded = fold(first, r, _without_nfproto)
        if folded is None:
            return None
        try:
            rules = self._rule(folded, ctx, owner, table, builtin)
            # in an inet table the two may differ in their `meta nfproto` tests (fold leaves
            # them out): the pair is one rule of this family only where both rules are
            second = self._rule(r, ctx, owner, table, builtin)
        except Unrepresentable:
            return None
        if not second:
            return None
        if any(moves_state(table, x.target) for x in rules):
            return None
        # the pair's counters count its two rules' packets apart: neither is the one rule's
        return [replace(x, counters=None) for x in rules]

    def _rule(self, r: dict[str, Any], ctx: LiftContext, owner, table: str,
              builtin: str | None) -> list[Rule]:
        rules = []
        expanded = _expand_sets(_inline_constants(r["expr"], ctx))
        for exprs in expanded:
            lifted = Lift(ctx, owner, table, builtin)
            for stmt in exprs:
                lifted.statement(stmt)
                if lifted.skip:
                    break
            if not lifted.skip:
                rules += lifted.rules(self.loc(r))
        if len(expanded) > 1:
            # one rule per element of a set: nft's counter counts the packets of them all
            rules = [replace(x, counters=None) for x in rules]
        if r.get("comment"):
            comment = Match("comment", (Option("comment", r["comment"]),))
            rules = [Rule(x.source, x.destination, x.in_interface, x.out_interface, x.protocol,
                          x.fragment, x.matches + (comment,), x.target, x.counters, x.loc)
                     for x in rules]
        return rules


def _companion_of(rule: dict[str, Any], after: dict[str, Any]) -> bool:
    """Is `after` the rule fwmigrate writes after a hashlimit update (the same tests, then the
    key not in the set → drop: what xt_hashlimit does to a new key when its table is full) or
    after a tproxy (the same tests, then drop: xt_TPROXY without a socket)?"""
    exprs = rule["expr"]
    for i, stmt in enumerate(exprs):
        if isinstance(stmt, dict) and "tproxy" in stmt:
            # tproxy found no socket: xt_TPROXY drops the packet (the counter stays behind)
            head = [e for e in exprs[:i] if not (isinstance(e, dict) and "counter" in e)]
            return _without_nfproto(after["expr"]) == _without_nfproto([*head, {"drop": None}])
        update = stmt.get("set") if isinstance(stmt, dict) else None
        if isinstance(update, dict) and update.get("op") == "update":
            lookup = {"match": {"op": "!=", "left": update["elem"], "right": update["set"]}}
            # in an inet table the kernel keeps a `meta nfproto` test only where the rest does
            # not imply it: the two rules may differ there
            return _without_nfproto(after["expr"]) == _without_nfproto(
                [*exprs[:i], lookup, {"drop": None}])
    return False


def _without_nfproto(exprs: list) -> list:
    return [e for e in exprs if not (isinstance(e, dict) and "match" in e
                                     and e["match"].get("left") == {"meta": {"key": "nfproto"}})]


# fields whose anonymous-set test becomes one rule per element: a packet has one value of
# each, so at most one of the rules matches and side effects still happen once
_SPLITTABLE = ({"payload": ("icmp", "type")}, {"payload": ("icmpv6", "type")},
               {"payload": ("ip", "saddr")}, {"payload": ("ip", "daddr")},
               {"payload": ("ip6", "saddr")}, {"payload": ("ip6", "daddr")},
               {"payload": ("ip", "protocol")}, {"meta": "l4proto"}, {"meta": "iifname"},
               {"meta": "oifname"}, {"meta": "pkttype"}, {"payload": ("ether", "saddr")})


def _splittable(left: Any) -> bool:
    if not isinstance(left, dict):
        return False
    if "payload" in left:
        return {"payload": (left["payload"].get("protocol"), left["payload"].get("field"))} \
            in _SPLITTABLE
    if "meta" in left:
        return {"meta": left["meta"].get("key")} in _SPLITTABLE
    return False


def _inline_constants(exprs: list[dict[str, Any]], ctx: LiftContext) -> list[dict[str, Any]]:
    out = []
    for stmt in exprs:
        body = stmt.get("match")
        right = body.get("right") if body else None
        if isinstance(right, str) and right.startswith("@") and right[1:] in ctx.constants:
            stmt = dict(stmt, match=dict(body, right=ctx.constants[right[1:]]))
        out.append(stmt)
    return out


def _expand_sets(exprs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    for i, stmt in enumerate(exprs):
        body = stmt.get("match")
        if body and body["op"] == "==" and isinstance(body["right"], dict) \
                and "set" in body["right"] and _splittable(body["left"]):
            out = []
            for elem in body["right"]["set"]:
                single = dict(stmt, match=dict(body, right=elem))
                out += _expand_sets(exprs[:i] + [single] + exprs[i + 1:])
            return out
    return [exprs]


def _targets(r: dict[str, Any]) -> list[str]:
    return [stmt[verb]["target"] for stmt in r["expr"] for verb in ("jump", "goto")
            if verb in stmt]


def _marker(r: dict[str, Any], kind: str, family: str) -> str | None:
    """The verdict of fwmigrate's pass, absent or policy rule (`kind`) for `family` in an inet
    chain, if `r` is that rule (see backends/nft_inet.py)."""
    expr = r["expr"]
    if len(expr) != 2 or r.get("comment") != mappings.inet_comment(kind, family):
        return None
    test, verdict = expr
    if test != {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}},
                          "right": "ipv4" if family == "ip" else "ipv6"}}:
        return None
    (name, _), = verdict.items()
    return name.upper() if name in ("accept", "drop", "return") else None


def _inet_view(rules: list[dict[str, Any]], policy: str | None,
               family: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """An inet chain as one family sees it: a base chain is none at all when its first rule
    lets the family pass, and has the policy its last rule gives the family; a user chain
    whose first rule says the family has no such chain is left out (None)."""
    if policy is None:
        return (None, None) if rules and _marker(rules[0], "absent", family) == "RETURN" \
            else (rules, None)
    if rules and _marker(rules[0], "pass", family) == "ACCEPT":
        return [], "ACCEPT"     # what iptables does without the chain
    if rules and _marker(rules[-1], "policy", family) in ("ACCEPT", "DROP"):
        return rules[:-1], _marker(rules[-1], "policy", family)
    return rules, policy


def _set_info(s: dict[str, Any], inet: bool) -> SetInfo:
    timeout = s.get("timeout")
    name = s["name"]
    suffix = f"_{timeout}s"
    list_name = name[:-len(suffix)] if timeout and name.endswith(suffix) else name
    ip6_suffix = mappings.inet()["ip6_set_suffix"]
    if inet and s["type"] == "ipv6_addr" and list_name.endswith(ip6_suffix):
        list_name = list_name[:-len(ip6_suffix)]     # IPv6 lists in an inet table
    return SetInfo(name, timeout, list_name, s.get("size"))


def read_nft_json(listing: dict[str, Any], source: str, diags: Diagnostics,
                  ipsets: dict[str, tuple[str, str]] | None = None) -> Ruleset:
    """`ipsets`: nft set name → (ipset name, type) for sets that stand for ipsets where the
    listing lost fwmigrate's `ipset NAME TYPE` comment (nft 1.0.6 drops it from JSON input)."""
    reader = _Reader(listing, source, diags, ipsets)
    ruleset = reader.read()
    for problem in reader.problems:
        diags.error(SourceLocation(source, 1), problem)
    return ruleset


__all__ = ["read_nft_json", "Unrepresentable"]
