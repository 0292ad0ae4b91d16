"""`-m recent` → named dynamic nft sets, decided for all rules of a list at once.

An xt_recent list is one table of addresses with timestamps, shared by every rule that names
it. nft has no timestamps, only element timeouts, so:
- a check without --seconds looks in a set without timeout (the "base" set);
- a check with --seconds N looks in a set whose elements expire N seconds after their last
  update; xt's test "last seen within N s" is exactly "still in that set";
- every --set / --update refreshes the address in all of the list's sets, --remove deletes it
  from all of them; --remove's match result ("was present") is read from the base set.
What has no exact equivalent (--hitcount, --rttl, one list with different --mask values,
a list both families use with a mask narrower than the address, inverted
--set/--update/--remove, --reap across several windows) is refused, or with approximate=True
replaced by the closest form and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Match, Rule, Ruleset, SourceLocation
from .nft_ast import BitAnd, Compare, Limit, NftSet, Payload, SetRef, SetUpdate, Statement, Symbol
from .nft_names import Namer

# How many addresses a list's set holds. xt_recent keeps ip_list_tot (100) per list and, when
# full, forgets the least recently seen address to take the new one: --set always matches. A
# full nft set takes no new element, and the rule whose `update @set` failed stops there (its
# verdict is skipped; shown in a namespace by tests/test_recent.py). No size is exact, so the
# default keeps that failure far away: nft's own limit, made explicit. Below it the difference
# is the other way round: nft still holds addresses xt_recent would have forgotten.
DEFAULT_SIZE = 65535
XT_RECENT_LIST_TOT = 100    # xt_recent's module parameter ip_list_tot, its default
SIDE_EFFECT_MODULES = frozenset({"recent", "limit", "hashlimit", "connlimit", "quota",
                                 "statistic"})


class Untranslatable(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(slots=True)
class _Use:
    mode: str
    negated: bool
    seconds: int | None
    hitcount: int | None
    reap: bool
    rttl: bool
    mask: object
    side: str
    matters: bool
    loc: SourceLocation | None


@dataclass(slots=True)
class _List:
    name: str
    uses: list[_Use] = field(default_factory=list)
    problem: str | None = None
    hint: str | None = None
    base: str | None = None                     # set name without timeout
    windows: dict[int, str] = field(default_factory=dict)   # seconds → set name
    meters: dict[tuple[int, int], str] = field(default_factory=dict)


def _use(match: Match, matters: bool, loc) -> _Use:
    opts = {o.name: o for o in match.options}
    mode = opts["mode"]
    return _Use(mode=mode.value, negated=mode.negated,
                seconds=opts["seconds"].value if "seconds" in opts else None,
                hitcount=opts["hitcount"].value if "hitcount" in opts else None,
                reap="reap" in opts, rttl="rttl" in opts, mask=opts["mask"].value,
                side=opts["side"].value, matters=matters, loc=loc)


_FULL_MASKS = frozenset({"255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"})
SHARED_HINT = ("give the ip6tables rules a list of their own (another --name), or use no "
               "--mask narrower than the address in either family")


def shared_list_problems(ruleset: Ruleset) -> dict[str, str]:
    """Recent lists named by rules of both families whose masks keep them from being
    translated per family. xt_recent has one list per name for IPv4 and IPv6 alike and masks
    every address with the --mask of the rule that created the list, 16 bytes wide: an IPv4
    rule's 255.255.0.0 masks an IPv6 address to its first 16 bits, and an IPv6 rule's full
    mask, created first, makes the IPv4 rule's own --mask do nothing (tests/test_recent.py
    shows both). Which rule comes first is a matter of load order."""
    if len(ruleset.families) < 2:
        return {}
    masks: dict[str, dict[str, set[str]]] = {}      # name → family → masks
    seen: set[int] = set()
    for table in ruleset.tables:
        for chain in table.chains:
            for rule in chain.rules:
                key = id(rule.matches)
                if key in seen:
                    continue
                seen.add(key)
                for match in rule.matches:
                    if match.module == "recent":
                        masks.setdefault(match.option("name").value, {}).setdefault(
                            table.family, set()).add(str(match.option("mask").value))
    return {name: (f"recent list {name} is used by iptables and ip6tables rules, and the "
                   f"kernel keeps one list for both: it masks every address, IPv4 and IPv6, "
                   f"with the --mask of the rule that created the list first (a matter of load "
                   f"order), so a mask narrower than the address "
                   f"({', '.join(sorted(m for f in by_family.values() for m in f))}) does not "
                   f"mean in one family what it says in its rule")
            for name, by_family in masks.items()
            if len(by_family) == 2 and not all(m in _FULL_MASKS for f in by_family.values()
                                               for m in f)}


def result_matters(rule: Rule, index: int) -> bool:
    """Does the outcome of match `index` change anything (a verdict or a later side effect)?"""
    return rule.target is not None or any(
        m.module in SIDE_EFFECT_MODULES for m in rule.matches[index + 1:])


class RecentPlan:
    """The sets for every recent list of one nft table, and the statements each rule needs."""

    def __init__(self, family: str, namer: Namer, approximate: bool, size: int | None = None,
                 suffix: str = "", shared: dict[str, str] | None = None):
        self.family = family
        self.shared = shared or {}      # list name → why both families' use of it is refused
        self.size = DEFAULT_SIZE if size is None else size
        self.size_origin = ("the --recent-list-size default" if size is None
                            else f"--recent-list-size {size}")
        self.suffix = suffix            # added to every set name (IPv6 lists in an inet table)
        self.ip = "ip" if family == "ip" else "ip6"
        self.namer = namer
        self.approximate = approximate
        self.lists: dict[str, _List] = {}
        self.approximations: list[tuple[SourceLocation | None, str]] = []

    def add(self, rule: Rule) -> None:
        for index, match in enumerate(rule.matches):
            if match.module == "recent":
                name = match.option("name").value
                entry = self.lists.setdefault(name, _List(name))
                entry.uses.append(_use(match, result_matters(rule, index), rule.loc))

    def plan(self) -> None:
        for entry in self.lists.values():
            self._plan_list(entry)

    def _plan_list(self, entry: _List) -> None:
        masks = {str(u.mask) for u in entry.uses}
        if entry.name in self.shared:
            entry.problem, entry.hint = self.shared[entry.name], SHARED_HINT
            return
        if len(masks) > 1:
            entry.problem = (f"the rules using recent list {entry.name} give it different "
                             f"--mask values ({', '.join(sorted(masks))}); the kernel keeps the "
                             "mask of whichever rule created the list first, which depends on "
                             "load order")
            entry.hint = "give every rule of the list the same --mask"
            return
        checks = [u for u in entry.uses if u.mode in ("rcheck", "update")]
        windows = sorted({u.seconds for u in checks
                          if u.seconds and not (u.hitcount and self.approximate)})
        need_base = (any(not u.seconds for u in checks)
                     or any(u.mode == "remove" and u.matters for u in entry.uses)
                     or not windows)
        single = (1 if need_base else 0) + len(windows) == 1
        if need_base:
            entry.base = self.namer.claim(entry.name + self.suffix, entry.name, "set")
        for seconds in windows:
            wanted = entry.name + self.suffix + ("" if single else f"_{seconds}s")
            entry.windows[seconds] = self.namer.claim(wanted, entry.name, "set")
        for u in entry.uses:
            if u.hitcount and self.approximate and u.seconds:
                key = (u.hitcount, u.seconds)
                if key not in entry.meters:
                    entry.meters[key] = self.namer.claim(
                        f"{entry.name}{self.suffix}_hits{u.hitcount}_{u.seconds}s", entry.name,
                        "set")

    def sets(self) -> list[NftSet]:
        addr_type = "ipv4_addr" if self.family == "ip" else "ipv6_addr"
        size, why = self.size, f"; size {self.size}: {self.size_origin}"
        out = []
        for entry in self.lists.values():
            if entry.problem:
                continue
            what = f"xt_recent list {entry.name}"
            if entry.base:
                out.append(NftSet(entry.base, addr_type, size, None, True, what + why))
            for seconds, name in entry.windows.items():
                out.append(NftSet(name, addr_type, size, seconds, True,
                                  f"{what}, seen within {seconds}s{why}"))
            for (hits, seconds), name in entry.meters.items():
                out.append(NftSet(name, addr_type, size, seconds, True,
                                  f"{what}: approximates --hitcount {hits} --seconds {seconds}"
                                  + why))
        return out

    def capacity_notes(self) -> list[str]:
        """What the output says once about the sets' size (nothing without recent lists)."""
        planned = [e for e in self.lists.values() if not e.problem]
        if not planned:
            return []
        note = (f"Each xt_recent list is a set of at most {self.size} addresses "
                f"({self.size_origin}).\nxt_recent keeps {XT_RECENT_LIST_TOT} per list "
                "(ip_list_tot) and forgets the oldest for a new one; a full set takes\nno new "
                "address, and the rule that would add it does not match (its verdict is "
                "skipped).")
        if any(e.base for e in planned):
            note += "\nA list checked without --seconds shrinks only by --remove."
        return [note]

    # --- per rule ---------------------------------------------------------------------------

    def statements(self, rule: Rule, index: int) -> list[Statement]:
        match = rule.matches[index]
        entry = self.lists[match.option("name").value]
        if entry.problem:
            raise Untranslatable(entry.problem, entry.hint)
        use = _use(match, result_matters(rule, index), rule.loc)
        key = Payload(self.ip, "saddr" if use.side == "rsource" else "daddr")
        full = ("255.255.255.255" if self.family == "ip"
                else "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        if str(use.mask) != full:
            key = BitAnd(key, Symbol(str(use.mask)))
        if use.negated and use.mode != "rcheck":
            raise Untranslatable(f"! --{use.mode} has no nft equivalent (the kernel still "
                                 f"changes the list while the match is inverted)",
                                 "rewrite the rule without the inversion")
        if use.rttl:
            if not self.approximate:
                raise Untranslatable("--rttl (the TTL must equal the one stored with the "
                                     "address) has no exact nft equivalent",
                                     "pass --approximate to drop the TTL test and be told so")
            self.approximations.append((rule.loc, f"recent list {entry.name}: --rttl dropped "
                                                  "(the stored TTL is not compared)"))
        refresh = self._all_sets(entry)
        if use.mode == "set":
            return [SetUpdate("update", name, key) for name in refresh]
        if use.mode == "remove":
            head = [Compare(key, "==", SetRef(entry.base))] if use.matters else []
            return head + [SetUpdate("delete", name, key) for name in refresh]
        # rcheck / update
        if use.hitcount:
            test = self._hitcount(entry, use, key)
        else:
            if use.reap and len(refresh) > 1:
                raise Untranslatable(f"--reap on recent list {entry.name}, which is checked "
                                     "with more than one --seconds value, has no exact nft "
                                     "equivalent", "use one --seconds value for the list")
            target = entry.windows[use.seconds] if use.seconds else entry.base
            test = Compare(key, "!=" if use.negated else "==", SetRef(target))
        if use.mode == "rcheck":
            return [test]
        return [test] + [SetUpdate("update", name, key) for name in refresh]

    def _all_sets(self, entry: _List) -> list[str]:
        return ([entry.base] if entry.base else []) + list(entry.windows.values())

    def _hitcount(self, entry: _List, use: _Use, key) -> Statement:
        if not self.approximate or not use.seconds:
            raise Untranslatable(
                f"--hitcount {use.hitcount} (at least {use.hitcount} hits in recent list "
                f"{entry.name}{f' within {use.seconds}s' if use.seconds else ''}) has no exact "
                "nft equivalent: nft sets keep no per-address hit history",
                "pass --approximate to use a per-address rate limit instead, and be told so"
                if use.seconds else "a hit count without --seconds cannot be approximated")
        rate, per = _rate(use.hitcount - 1, use.seconds)
        self.approximations.append(
            (use.loc, f"recent list {entry.name}: --hitcount {use.hitcount} --seconds "
                      f"{use.seconds} approximated by a per-address token bucket "
                      f"(more than {rate}/{per}, burst {use.hitcount - 1})"))
        meter = entry.meters[(use.hitcount, use.seconds)]
        return SetUpdate("update", meter, key,
                         Limit(rate, per, max(use.hitcount - 1, 1), inverted=not use.negated))


def _rate(count: int, seconds: int) -> tuple[int, str]:
    """count per `seconds` as nft's integer rate per standard unit, rounded to the nearest."""
    count = max(count, 1)
    for per, unit in (("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)):
        rate = round(count * unit / seconds)
        if rate >= 1:
            return rate, per
    return 1, "day"
