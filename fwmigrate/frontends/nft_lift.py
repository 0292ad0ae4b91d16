"""One nft rule's statements (libnftables JSON) → iptables rules: the built-in selectors, the
matches, and one target per rule. Match expressions are lifted by nft_lift_matches.py,
statements that act on the packet by nft_lift_targets.py; this module keeps what ties them
together: the order of tests and actions, recent lists from set statements, and the checks
that the result means what the nft rule means."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from .. import mappings
from ..ir import (
    Counters,
    Jump,
    Match,
    Negatable,
    Option,
    Rule,
    SourceLocation,
    TargetExtension,
    Verdict,
)
from . import nft_lift_ipset
from . import nft_lift_limits as limits
from . import nft_lift_targets as targets
from . import nft_lift_tproxy as tproxy
from .conntrack_entry import lets_entryless_through
from .nft_lift_matches import lift_match
from .nft_lift_values import Unrepresentable
from .values_numbers import canonical_rate

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_RATE_SCALE = 10000

# matches that change state or draw a random number each time they are tested: a rule with
# them cannot become several iptables rules (each would test them again)
SIDE_EFFECTS = frozenset({"limit", "recent", "statistic", "hashlimit", "connlimit", "quota"})
_QUOTA_UNITS = {"bytes": 1, "kbytes": 1 << 10, "mbytes": 1 << 20, "gbytes": 1 << 30}


def _stateful(match: Match) -> bool:
    """Testing it changes what the next test of it sees (a random draw does not: testing the
    protocol before or after it gives the same answer)."""
    if match.module == "statistic":
        return match.options[0].value == "nth"
    if match.module == "connlabel":
        return match.option("set") is not None
    return match.module in SIDE_EFFECTS


@dataclass
class SetInfo:
    name: str
    timeout: int | None
    list_name: str                    # the recent list it stands for
    size: int | None = None


@dataclass
class LiftContext:
    family: str                       # ip / ip6: the view being read
    table_family: str                 # ip / ip6 / inet
    sets: dict[str, SetInfo] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)   # named constant sets
    anonymous_limits: int = 0         # `limit rate over` read so far (each a hashlimit table)
    ipsets: dict[str, tuple[str, str]] = field(default_factory=dict)  # set → (ipset, type)


def strip_prefix(name: str, table: str) -> str:
    return name[len(table) + 1:] if table != "filter" and name.startswith(f"{table}_") else name


class Lift:
    """One nft rule's statements → selectors, matches and targets (maybe several rules)."""

    def __init__(self, ctx: LiftContext, owner: dict[str, tuple[str, str | None]], table: str,
                 builtin: str | None = None):
        self.ctx = ctx
        self.owner = owner
        self.table = table               # the iptables table the rule's chain belongs to
        self.builtin = builtin           # its built-in chain, None for a user-defined one
        self.sel: dict[str, Negatable] = {}
        self.matches: list[Match] = []
        self.targets: list = []          # non-terminal targets, then at most one terminal one
        self.pending_tproxy: dict | None = None     # a tproxy waiting for its mark and accept
        self.skip = False                # the rule cannot match in this family's view
        self.recent: dict | None = None  # a recent match being assembled from set statements
        self.side_effect_seen = False    # a stateful match came before (see _stateful)
        self.implied_protocol: int | None = None   # tested by a port match (`tcp dport …`)
        self.synproxy_guard = False      # the flags test the backend writes before synproxy
        self.label_set: int | None = None  # `ct label set N`, waiting for its `ct label N`
        # the values of a counter no test follows: what iptables' [packets:bytes] count
        self.counter: Counters | None = None

    # --- statements -------------------------------------------------------------------------

    def statement(self, stmt: dict[str, Any]) -> None:
        (kind, body), = stmt.items()
        if self.pending_tproxy is not None:
            tproxy.after_tproxy(self, kind, body)
        elif kind == "counter":
            # a named counter (a string) is an object of its own, not the rule's
            self.counter = Counters(body["packets"], body["bytes"]) \
                if isinstance(body, dict) and "packets" in body else None
            return
        elif kind in _TESTS:
            # a counter before a test counts packets the rule does not match
            self.counter = None
            if kind == "match":
                self._match(body)
            elif kind == "set":
                self._set_statement(body)
            elif kind == "limit":
                self._limit(body)
            else:
                self._quota(body)
        elif kind in ("accept", "drop", "return"):
            self.target(Verdict(kind.upper()))
        elif kind in ("jump", "goto"):
            table = self.owner.get(body["target"], ("filter", None))[0]
            self.target(Jump(strip_prefix(body["target"], table), kind == "goto"))
        elif kind in ("snat", "dnat", "masquerade", "redirect"):
            targets.nat(self, kind, body)
        elif kind in _TARGET_STATEMENTS:
            _TARGET_STATEMENTS[kind](self, body)
        else:
            raise Unrepresentable(f"the `{kind}` statement")

    def other_family(self) -> None:
        """The rule tests (or acts on) the other family's header: in an inet table this
        family's packets stop there. Whatever they did before it (a limit, a recent list, a
        log) cannot be said in iptables terms, where the other family has its own rules."""
        if self.side_effect_seen or self.targets or (self.recent and self.recent["ops"]):
            raise Unrepresentable("an effect before the rule's test of the other family (in "
                                  "an inet table that family's packets have the effect too)")
        self.skip = True

    def target(self, target) -> None:
        """Add a target after those before it; each becomes a rule of its own with the same
        matches, which must then give the same answer as when nft tested them once."""
        self._flush_recent()
        for earlier in self.targets:
            if not isinstance(earlier, TargetExtension) or mappings.target_specs()[
                    earlier.name].terminal:
                raise Unrepresentable("more than one verdict in one rule")
            changes = targets.CHANGES.get(earlier.name)
            read = {m.module for m in self.matches}
            if changes is None or changes & read:
                raise Unrepresentable(f"{earlier.name} followed by another action, in a rule "
                                      f"whose tests read what {earlier.name} changes")
        if isinstance(target, TargetExtension):
            spec = mappings.target_specs()[target.name]
            if spec.tables is not None and self.table not in spec.tables:
                raise Unrepresentable(f"{target.name} in the {self.table} table (iptables has "
                                      f"it only in {', '.join(spec.tables)})")
            if spec.chains is not None and self.builtin not in (None, *spec.chains):
                raise Unrepresentable(f"{target.name} in {self.builtin} (iptables allows it "
                                      f"only from {', '.join(spec.chains)})")
        self.targets.append(target)

    def _limit(self, body: dict[str, Any]) -> None:
        if body.get("burst_unit", "packets") != "packets" or body.get("rate_unit", "packets") \
                != "packets":
            raise Unrepresentable("a byte-rate limit")
        if body.get("inv"):             # iptables' limit cannot invert; hashlimit can
            self._flush_recent()
            limits.limit_over(self, body)
            return
        period = _RATE_SCALE * _UNIT_SECONDS[body["per"]] // body["rate"]
        rate = canonical_rate(period)
        burst = body.get("burst", 5) or 5
        self._flush_recent()
        self.append_match(Match("limit", (Option("limit", rate), Option("limit-burst", burst))))

    def _quota(self, body: dict[str, Any]) -> None:
        # `used` (what the quota has counted so far) is state, like a counter's values
        unit = _QUOTA_UNITS.get(body.get("val_unit", "bytes"))
        if unit is None:
            raise Unrepresentable(f"a quota in {body.get('val_unit')}")
        self._flush_recent()
        self.append_match(Match("quota", (Option("quota", body["val"] * unit,
                                                 bool(body.get("inv"))),)))

    # --- recent lists, from fwmigrate's set statements ----------------------------------------

    def _set_statement(self, body: dict[str, Any]) -> None:
        ipset = self.ctx.ipsets.get(body["set"].lstrip("@"))
        if ipset is not None:
            self._flush_recent()
            nft_lift_ipset.update(self, body, ipset)
            return
        info = self.ctx.sets.get(body["set"].lstrip("@"))
        if info is None:
            raise Unrepresentable(f"a set statement on {body['set']}")
        if self.targets:
            raise Unrepresentable("a set statement after an action")
        if _other_family(body["elem"], self.ctx.family):
            # an inet rule for the other family: nft lists it without its `meta nfproto`,
            # which the address in the set statement implies
            self.other_family()
            return
        if body.get("stmt"):
            kinds = [next(iter(st)) for st in body["stmt"]]
            self._flush_recent()
            if kinds == ["limit"]:
                limits.hashlimit(self, body, info)
            elif kinds == ["ct count"]:
                limits.connlimit(self, body, info)
            else:
                raise Unrepresentable(f"a set statement on {body['set']} with "
                                      f"{', '.join(kinds)}")
            return
        key, mask = _recent_key(body["elem"])
        rec = self.recent
        if rec is not None and rec["list"] == info.list_name and rec["key"] == (key, mask):
            rec["ops"].append(body["op"])
            return
        self._flush_recent()
        self.recent = {"list": info.list_name, "key": (key, mask), "ops": [body["op"]],
                       "test": None}

    def _recent_test(self, key: str, mask, info: SetInfo, negated: bool) -> None:
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
        self.matches.append(Match("recent", tuple(options)))
        self.side_effect_seen = self.side_effect_seen or mode != "rcheck"

    # --- matches ------------------------------------------------------------------------------

    def _match(self, body: dict[str, Any]) -> None:
        if self.targets:
            # iptables tests all of a rule's matches before its target acts
            raise Unrepresentable("a test after an action")
        left, right, op = body["left"], body["right"], body["op"]
        negated = op in ("!=", "!")
        if isinstance(right, str) and right[1:] in self.ctx.ipsets and right.startswith("@"):
            self._flush_recent()
            nft_lift_ipset.lookup(self, left, self.ctx.ipsets[right[1:]], negated)
            return
        if isinstance(right, str) and right.startswith("@"):
            info = self.ctx.sets.get(right[1:])
            if info is None:
                raise Unrepresentable(f"a lookup in set {right}")
            if _other_family(left, self.ctx.family):
                self.other_family()         # an inet rule for the other family
                return
            key, mask = _recent_key(left)
            self._recent_test(key, mask, info, negated)
            return
        self._flush_recent()
        lift_match(self, left, right, op, negated)

    def add_match(self, module: str, option: Option | None) -> None:
        """Add an option to the previous match of this module if it can take it (as iptables
        keeps `--sport 1 --dport 2` in one tcp match), else start a new match; None: only
        make sure the match is there (`tcp dport 0-65535` tests a readable header)."""
        spec = mappings.match_specs()[module]
        last = self.matches[-1] if self.matches else None
        if option is None:
            if last is None or last.module != module:
                self.append_match(Match(module, ()))
            return
        group = spec.by_name[option.name].group
        if last is not None and last.module == module and not any(
                o.name == option.name or (group and spec.by_name[o.name].group == group)
                for o in last.options) and not (
                module == "conntrack" and lets_entryless_through((*last.options, option))):
            self.matches.pop()
            options = tuple(sorted(last.options + (option,), key=lambda o: spec.order[o.name]))
            self.matches.append(Match(module, options))
        else:
            self.append_match(Match(module, (option,)))

    def append_match(self, match: Match) -> None:
        self.matches.append(match)
        self.side_effect_seen = self.side_effect_seen or _stateful(match)

    def selector(self, name: str, value, negated: bool) -> None:
        if name in self.sel:
            raise Unrepresentable(f"two tests of the same field ({name})")
        self.sel[name] = Negatable(value, negated)

    # --- result ------------------------------------------------------------------------------

    def rules(self, loc: SourceLocation) -> list[Rule]:
        self._flush_recent()
        if self.pending_tproxy is not None:
            raise Unrepresentable("tproxy without accept (xt_TPROXY accepts the packet)")
        if self.synproxy_guard:
            raise Unrepresentable("a test of TCP flags against a set (iptables tests one "
                                  "combination)")
        if self.label_set is not None:
            raise Unrepresentable("ct label set without the test -m connlabel --set makes")
        for m in self.matches:
            allowed = mappings.match_specs()[m.module].chains
            if allowed is not None and self.builtin not in (None, *allowed):
                raise Unrepresentable(f"-m {m.module} in {self.builtin} (the kernel allows it "
                                      f"only from {', '.join(allowed)})")
        s = self.sel
        protocol = s.get("protocol")
        needed = _needed_protocol(self.matches, self.ctx.family) or self.implied_protocol
        if needed is not None and protocol is None:
            if self.side_effect_seen and self.matches and \
                    _first_protocol_match(self.matches) > _first_side_effect(self.matches):
                raise Unrepresentable("a protocol test after a statement with a side effect")
            protocol = Negatable(needed)
        base = dict(source=s.get("source"), destination=s.get("destination"),
                    in_interface=s.get("in_interface"), out_interface=s.get("out_interface"),
                    protocol=protocol, fragment=s.get("fragment"), loc=loc)
        targets_ = self.targets or [None]
        if len(targets_) > 1 and any(m.module in SIDE_EFFECTS for m in self.matches):
            raise Unrepresentable("several actions in one rule whose matches have side effects")
        # each of several targets is a rule of its own, matching the same packets
        return [Rule(matches=tuple(self.matches), target=t, counters=self.counter, **base)
                for t in targets_]


# statements that test the packet (or may stop the rule: a limit, a quota, a set lookup)
_TESTS = frozenset({"match", "set", "limit", "quota"})


_TARGET_STATEMENTS = {"log": targets.log, "reject": targets.reject, "queue": targets.queue,
                      "synproxy": targets.synproxy,
                      "mangle": targets.mangle, "notrack": targets.notrack, "dup": targets.dup,
                      "tproxy": tproxy.tproxy}


def _full_mask(family: str):
    return ipaddress.ip_address((1 << 32) - 1) if family == "ip" else \
        ipaddress.IPv6Address((1 << 128) - 1)


def _other_family(expr: Any, family: str) -> bool:
    """Does the set key read its address from the other family's header (ip / ip6)?"""
    if isinstance(expr, dict) and "&" in expr:
        expr = expr["&"][0]
    payload = expr.get("payload", {}) if isinstance(expr, dict) else {}
    return payload.get("protocol") in ("ip", "ip6") and payload["protocol"] != family


def _recent_key(expr: Any) -> tuple[str, Any]:
    mask = None
    if isinstance(expr, dict) and "&" in expr:
        expr, mask_text = expr["&"]
        mask = ipaddress.ip_address(mask_text)
    payload = expr.get("payload", {}) if isinstance(expr, dict) else {}
    if payload.get("field") not in ("saddr", "daddr") or \
            payload.get("protocol") not in ("ip", "ip6"):
        raise Unrepresentable("a set keyed by something other than an address")
    return payload["field"], mask


def _protocol_of(match: Match, family: str) -> int | None:
    """The protocol a match module needs (-p tcp for -m tcp, -m tcpmss), None: any or several
    (or none in this family: ip6tables -m ah)."""
    spec = mappings.match_specs()[match.module]
    if len(spec.protocols) != 1 or family not in spec.protocol_families:
        return None
    return mappings.protocol_numbers()[spec.protocols[0]]


def _needed_protocol(matches: list[Match], family: str) -> int | None:
    return next((p for p in (_protocol_of(m, family) for m in matches) if p is not None), None)


def _first_protocol_match(matches: list[Match]) -> int:
    return next((i for i, m in enumerate(matches)
                 if mappings.match_specs()[m.module].protocols), len(matches))


def _first_side_effect(matches: list[Match]) -> int:
    return next((i for i, m in enumerate(matches) if _stateful(m)), len(matches))
