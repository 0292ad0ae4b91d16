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

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from .. import mappings
from ..errors import Diagnostics
from ..ir import (
    Address,
    Chain,
    Counters,
    IcmpType,
    Jump,
    Match,
    Negatable,
    Option,
    PortRange,
    Rule,
    Ruleset,
    SourceLocation,
    Table,
    TargetExtension,
    TcpFlags,
    Verdict,
)
from .values import canonical_rate, parse_value

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_RATE_SCALE = 10000


class Unrepresentable(Exception):
    """A statement or chain the IR has no form for."""


@dataclass
class _SetInfo:
    name: str
    timeout: int | None
    list_name: str                    # the recent list it stands for


@dataclass
class _Context:
    family: str                       # ip / ip6: the view being read
    table_family: str                 # ip / ip6 / inet
    sets: dict[str, _SetInfo] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)   # named constant sets


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


def _strip_prefix(name: str, table: str) -> str:
    return name[len(table) + 1:] if table != "filter" and name.startswith(f"{table}_") else name


class _Reader:
    def __init__(self, listing: dict[str, Any], source: str, diags: Diagnostics):
        self.items = listing.get("nftables", [])
        self.source = source
        self.diags = diags
        self.problems: list[str] = []

    def loc(self, rule: dict[str, Any]) -> SourceLocation:
        return SourceLocation(f"{self.source}#{rule['family']} {rule['table']} {rule['chain']}",
                              rule.get("handle", 0))

    def read(self) -> Ruleset:
        tables: list[Table] = []
        nft_tables = [i["table"] for i in self.items if "table" in i]
        for t in nft_tables:
            views = ("ip", "ip6") if t["family"] == "inet" else (t["family"],)
            for family in views:
                if family not in ("ip", "ip6"):
                    self.problems.append(f"table {t['family']} {t['name']}: the {t['family']} "
                                         "family has no iptables counterpart")
                    continue
                tables += self._table(t, family)
        return Ruleset(tuple(tables), self.source)

    def _objects(self, kind: str, table: dict[str, Any]) -> list[dict[str, Any]]:
        return [i[kind] for i in self.items if kind in i
                and (i[kind]["family"], i[kind]["table"]) == (table["family"], table["name"])]

    def _table(self, t: dict[str, Any], family: str) -> list[Table]:
        ctx = _Context(family, t["family"])
        updated = {stmt["set"]["set"].lstrip("@") for r in self._objects("rule", t)
                   for stmt in r["expr"] if "set" in stmt}
        for s in self._objects("set", t):
            # fwmigrate's recent lists are address sets the rules update (or that are empty,
            # when the rules only check them); a named set of constants stands for its literal
            recent = s["name"] in updated or s.get("timeout") or (
                s["type"] in ("ipv4_addr", "ipv6_addr") and not s.get("elem"))
            if recent:
                ctx.sets[s["name"]] = _set_info(s)
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
                    for stmt in r["expr"]:
                        for verb in ("jump", "goto"):
                            if verb in stmt and stmt[verb]["target"] not in owner:
                                owner[stmt[verb]["target"]] = (table, None)
                                changed = True
        out: dict[str, list[Chain]] = {}
        for c in chains:
            if c["name"] not in owner:
                # no base chain reaches it: its table is what fwmigrate's prefix says
                prefix = c["name"].split("_", 1)[0]
                owner[c["name"]] = (prefix if prefix in mappings.iptables_tables()
                                    and prefix != "filter" else "filter", None)
            table, builtin = owner[c["name"]]
            name = builtin or _strip_prefix(c["name"], table)
            ir_rules = []
            for r in rules.get(c["name"], []):
                try:
                    ir_rules += self._rule(r, ctx, owner)
                except Unrepresentable as exc:
                    self.diags.error(self.loc(r), f"rule cannot be read into iptables terms: "
                                                  f"{exc}")
            policy = c.get("policy", "accept").upper() if builtin else None
            if builtin and policy not in ("ACCEPT", "DROP"):
                self.problems.append(f"chain {c['name']}: policy {policy}")
            out.setdefault(table, []).append(Chain(name, tuple(ir_rules), policy))
        result = []
        for table, chains_of in out.items():
            builtin_names = mappings.iptables_tables()[table]
            present = {ch.name for ch in chains_of}
            # built-in chains nft did not create behave as iptables' empty ACCEPT chains
            chains_of += [Chain(n, (), "ACCEPT") for n in builtin_names if n not in present]
            chains_of.sort(key=lambda ch: (ch.policy is None, builtin_names.index(ch.name)
                                           if ch.policy is not None else 0))
            result.append(Table(family, table, tuple(chains_of)))
        return result

    def _rule(self, r: dict[str, Any], ctx: _Context, owner) -> list[Rule]:
        rules = []
        for exprs in _expand_sets(_inline_constants(r["expr"], ctx)):
            lifted = _Lift(ctx, owner)
            for stmt in exprs:
                lifted.statement(stmt)
                if lifted.skip:
                    break
            if not lifted.skip:
                rules += lifted.rules(self.loc(r))
        if r.get("comment"):
            comment = Match("comment", (Option("comment", r["comment"]),))
            rules = [Rule(x.source, x.destination, x.in_interface, x.out_interface, x.protocol,
                          x.fragment, x.matches + (comment,), x.target, x.counters, x.loc)
                     for x in rules]
        return rules


# fields whose anonymous-set test becomes one rule per element: a packet has one value of
# each, so at most one of the rules matches and side effects still happen once
_SPLITTABLE = ({"payload": ("icmp", "type")}, {"payload": ("icmpv6", "type")},
               {"payload": ("ip", "saddr")}, {"payload": ("ip", "daddr")},
               {"payload": ("ip6", "saddr")}, {"payload": ("ip6", "daddr")},
               {"payload": ("ip", "protocol")}, {"meta": "l4proto"}, {"meta": "iifname"},
               {"meta": "oifname"})


def _splittable(left: Any) -> bool:
    if not isinstance(left, dict):
        return False
    if "payload" in left:
        return {"payload": (left["payload"].get("protocol"), left["payload"].get("field"))} \
            in _SPLITTABLE
    if "meta" in left:
        return {"meta": left["meta"].get("key")} in _SPLITTABLE
    return False


def _inline_constants(exprs: list[dict[str, Any]], ctx: _Context) -> list[dict[str, Any]]:
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


def _set_info(s: dict[str, Any]) -> _SetInfo:
    timeout = s.get("timeout")
    name = s["name"]
    suffix = f"_{timeout}s"
    list_name = name[:-len(suffix)] if timeout and name.endswith(suffix) else name
    return _SetInfo(name, timeout, list_name)


class _Lift:
    """One nft rule's statements → selectors, matches and one target (maybe several rules)."""

    def __init__(self, ctx: _Context, owner):
        self.ctx = ctx
        self.owner = owner
        self.sel: dict[str, Negatable] = {}
        self.matches: list[Match] = []
        self.targets: list = []          # log, then at most one verdict-like target
        self.skip = False                # the rule cannot match in this family's view
        self.recent: dict | None = None  # a recent match being assembled from set statements
        self.side_effect_seen = False
        self.implied_protocol: int | None = None   # tested by a port match (`tcp dport …`)

    # --- statements -------------------------------------------------------------------------

    def statement(self, stmt: dict[str, Any]) -> None:
        (kind, body), = stmt.items()
        if kind == "match":
            self._match(body)
        elif kind == "counter":
            return
        elif kind == "set":
            self._set_statement(body)
        elif kind == "limit":
            self._limit(body)
        elif kind == "log":
            self._log(body)
        elif kind in ("accept", "drop", "return"):
            self._target(Verdict(kind.upper()))
        elif kind in ("jump", "goto"):
            table = self.owner.get(body["target"], ("filter", None))[0]
            self._target(Jump(_strip_prefix(body["target"], table), kind == "goto"))
        elif kind == "queue":
            if (body or {}).get("num", 0) != 0 or (body or {}).get("flags"):
                raise Unrepresentable("queue with a number or flags (iptables' QUEUE is queue 0)")
            self._target(Verdict("QUEUE"))
        elif kind == "reject":
            self._reject(body)
        elif kind in ("snat", "dnat", "masquerade", "redirect"):
            self._nat(kind, body or {})
        else:
            raise Unrepresentable(f"the `{kind}` statement")

    def _target(self, target) -> None:
        self._flush_recent()
        if any(not isinstance(t, TargetExtension) or t.name != "LOG" for t in self.targets):
            raise Unrepresentable("more than one verdict in one rule")
        self.targets.append(target)

    def _log(self, body: dict[str, Any]) -> None:
        body = body or {}
        options = []
        if "prefix" in body:
            options.append(Option("log-prefix", body["prefix"]))
        level = mappings.nft_log_levels().index(body.get("level", "warn")) \
            if body.get("level", "warn") in mappings.nft_log_levels() else None
        if level is None:
            raise Unrepresentable(f"log level {body.get('level')}")
        options.append(Option("log-level", level))
        flags = body.get("flags", [])
        flags = ["tcp sequence", "tcp options", "ip options", "skuid", "ether"] \
            if flags == "all" else ([flags] if isinstance(flags, str) else flags)
        for nft_flag, option in (("tcp sequence", "log-tcp-sequence"),
                                 ("tcp options", "log-tcp-options"),
                                 ("ip options", "log-ip-options"), ("skuid", "log-uid"),
                                 ("ether", "log-macdecode")):
            if nft_flag in flags:
                options.append(Option(option))
        if "group" in body or "snaplen" in body:
            raise Unrepresentable("log group (NFLOG)")
        self._flush_recent()
        self.targets.append(TargetExtension("LOG", tuple(options)))

    def _reject(self, body: dict[str, Any] | None) -> None:
        kind = (body or {}).get("type")
        code = (body or {}).get("expr")
        if kind is None or (kind in ("icmp", "icmpv6", "icmpx") and code == "port-unreachable"):
            statement = "reject"
        elif kind == "tcp reset":
            statement = "reject with tcp reset"
            # nft lists `meta l4proto tcp reject with tcp reset` without the protocol test,
            # which the reject statement implies
            self.implied_protocol = self.implied_protocol or 6
        else:
            statement = f"reject with {kind} type {code}"
        for name, _alias, nft in mappings.reject_names(self.ctx.family):
            if nft == statement:
                self._target(TargetExtension("REJECT", (Option("reject-with", name),)))
                return
        raise Unrepresentable(f"reject {kind} {code}")

    def _nat(self, kind: str, body: dict[str, Any]) -> None:
        flags = body.get("flags", [])
        flags = [flags] if isinstance(flags, str) else flags
        options = []
        port = body.get("port")
        ports = None
        if port is not None:
            low, high = (port["range"] if isinstance(port, dict) else (port, port))
            ports = PortRange(low, high)
        if kind in ("snat", "dnat"):
            addr = body.get("addr")
            if addr is None:
                raise Unrepresentable(f"{kind} without an address")
            first, last = addr["range"] if isinstance(addr, dict) else (addr, addr)
            value = (ipaddress.ip_address(first), ipaddress.ip_address(last), ports)
            options.append(Option("to-source" if kind == "snat" else "to-destination", value))
        elif ports is not None:
            options.append(Option("to-ports", ports))
        for nft_flag, option in (("random", "random"), ("fully-random", "random-fully"),
                                 ("persistent", "persistent")):
            if nft_flag in flags:
                options.append(Option(option))
        name = {"snat": "SNAT", "dnat": "DNAT", "masquerade": "MASQUERADE",
                "redirect": "REDIRECT"}[kind]
        spec = mappings.target_specs()[name]
        options.sort(key=lambda o: spec.order[o.name])
        self._target(TargetExtension(name, tuple(options)))

    def _limit(self, body: dict[str, Any]) -> None:
        if body.get("burst_unit", "packets") != "packets" or body.get("rate_unit", "packets") \
                != "packets":
            raise Unrepresentable("a byte-rate limit")
        if body.get("inv"):
            raise Unrepresentable("`limit rate over` (iptables' limit cannot invert)")
        period = _RATE_SCALE * _UNIT_SECONDS[body["per"]] // body["rate"]
        rate = canonical_rate(period)
        burst = body.get("burst", 5) or 5
        self._flush_recent()
        self.side_effect_seen = True
        self.matches.append(Match("limit", (Option("limit", rate), Option("limit-burst",
                                                                           burst))))

    # --- recent lists, from fwmigrate's set statements ----------------------------------------

    def _set_statement(self, body: dict[str, Any]) -> None:
        info = self.ctx.sets.get(body["set"].lstrip("@"))
        if info is None or body.get("stmt"):
            raise Unrepresentable(f"a set statement on {body['set']}")
        key, mask = _recent_key(body["elem"], self.ctx)
        rec = self.recent
        if rec is not None and rec["list"] == info.list_name and rec["key"] == (key, mask):
            rec["ops"].append(body["op"])
            return
        self._flush_recent()
        self.recent = {"list": info.list_name, "key": (key, mask), "ops": [body["op"]],
                       "test": None}

    def _recent_test(self, key: str, mask, info: _SetInfo, negated: bool) -> None:
        self._flush_recent()
        self.recent = {"list": info.list_name, "key": (key, mask), "ops": [],
                       "test": (info, negated)}

    def _flush_recent(self) -> None:
        rec, self.recent = self.recent, None
        if rec is None:
            return
        ops, test = rec["ops"], rec["test"]
        key, mask = rec["key"]
        if test is None and ops and all(op == "update" for op in ops):
            mode, negated, seconds = "set", False, None
        elif test is None and ops and all(op == "delete" for op in ops):
            mode, negated, seconds = "remove", False, None
        elif test is not None and not ops:
            mode, negated, seconds = "rcheck", test[1], test[0].timeout
        elif test is not None and all(op == "update" for op in ops) and not test[1]:
            mode, negated, seconds = "update", False, test[0].timeout
        elif test is not None and all(op == "delete" for op in ops) and not test[1]:
            mode, negated, seconds = "remove", False, None
        else:
            raise Unrepresentable("set statements that are not one recent match")
        options = [Option("mode", mode, negated)]
        if seconds:
            options.append(Option("seconds", seconds))
        options += [Option("name", rec["list"]),
                    Option("mask", mask if mask is not None else _full_mask(self.ctx.family)),
                    Option("side", "rsource" if key == "saddr" else "rdest")]
        self.side_effect_seen = self.side_effect_seen or mode != "rcheck"
        self.matches.append(Match("recent", tuple(options)))

    # --- matches ------------------------------------------------------------------------------

    def _match(self, body: dict[str, Any]) -> None:
        left, right, op = body["left"], body["right"], body["op"]
        negated = op in ("!=", "!")
        if isinstance(right, str) and right.startswith("@"):
            info = self.ctx.sets.get(right[1:])
            if info is None:
                raise Unrepresentable(f"a lookup in set {right}")
            key, mask = _recent_key(left, self.ctx)
            self._recent_test(key, mask, info, negated)
            return
        self._flush_recent()
        _lift_match(self, left, right, op, negated)

    def add_match(self, module: str, option: Option | None) -> None:
        """Add an option to the previous match of this module if it can take it (as iptables
        keeps `--sport 1 --dport 2` in one tcp match), else start a new match; None: only
        make sure the match is there (`tcp dport 0-65535` tests a readable header)."""
        spec = mappings.match_specs()[module]
        if option is None:
            if not (self.matches and self.matches[-1].module == module):
                self.matches.append(Match(module, ()))
            return
        if self.matches and self.matches[-1].module == module and \
                self.matches[-1].option(option.name) is None:
            last = self.matches.pop()
            options = tuple(sorted(last.options + (option,), key=lambda o: spec.order[o.name]))
            self.matches.append(Match(module, options))
        else:
            self.matches.append(Match(module, (option,)))

    def selector(self, name: str, value, negated: bool) -> None:
        if name in self.sel:
            raise Unrepresentable(f"two tests of the same field ({name})")
        self.sel[name] = Negatable(value, negated)

    # --- result ------------------------------------------------------------------------------

    def rules(self, loc: SourceLocation) -> list[Rule]:
        self._flush_recent()
        s = self.sel
        protocol = s.get("protocol")
        needed = _needed_protocol(self.matches) or self.implied_protocol
        if needed is not None and protocol is None:
            if self.side_effect_seen and self.matches and \
                    _first_protocol_match(self.matches) > _first_side_effect(self.matches):
                raise Unrepresentable("a protocol test after a statement with a side effect")
            protocol = Negatable(needed)
        base = dict(source=s.get("source"), destination=s.get("destination"),
                    in_interface=s.get("in_interface"), out_interface=s.get("out_interface"),
                    protocol=protocol, fragment=s.get("fragment"), loc=loc)
        targets = self.targets or [None]
        if len(targets) > 1 and any(m.module in ("limit", "recent") for m in self.matches):
            raise Unrepresentable("log and a verdict in one rule whose matches have side effects")
        return [Rule(matches=tuple(self.matches), target=t, **base) for t in targets]


def _full_mask(family: str):
    return ipaddress.ip_address((1 << 32) - 1) if family == "ip" else \
        ipaddress.IPv6Address((1 << 128) - 1)


def _recent_key(expr: Any, ctx: _Context) -> tuple[str, Any]:
    mask = None
    if isinstance(expr, dict) and "&" in expr:
        expr, mask_text = expr["&"]
        mask = ipaddress.ip_address(mask_text)
    payload = expr.get("payload", {}) if isinstance(expr, dict) else {}
    if payload.get("field") not in ("saddr", "daddr") or \
            payload.get("protocol") not in ("ip", "ip6"):
        raise Unrepresentable("a set keyed by something other than an address")
    return payload["field"], mask


_PROTO_MODULES = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58, "multiport": None}


def _needed_protocol(matches: list[Match]) -> int | None:
    for m in matches:
        if m.module in ("tcp", "udp", "icmp", "icmp6"):
            return _PROTO_MODULES[m.module]
    return None


def _first_protocol_match(matches: list[Match]) -> int:
    return next((i for i, m in enumerate(matches) if m.module in ("tcp", "udp", "icmp",
                                                                  "icmp6", "multiport")),
                len(matches))


def _first_side_effect(matches: list[Match]) -> int:
    return next((i for i, m in enumerate(matches) if m.module in ("limit", "recent")),
                len(matches))


from .nft_lift import _lift_match  # noqa: E402  (the match table, kept in its own module)


def read_nft_json(listing: dict[str, Any], source: str, diags: Diagnostics) -> Ruleset:
    reader = _Reader(listing, source, diags)
    ruleset = reader.read()
    for problem in reader.problems:
        diags.error(SourceLocation(source, 1), problem)
    return ruleset


__all__ = ["read_nft_json", "Unrepresentable", "Address", "Counters", "IcmpType", "TcpFlags",
           "parse_value"]
