"""`-m hashlimit` and `-m connlimit` → named dynamic nft sets with a statement per element.

hashlimit: xt_hashlimit keeps one token bucket per key (the --hashlimit-mode fields, masked)
in a table shared by every rule naming it. nft's `update @S { key limit rate … }` keeps one
limit per set element, created full (as xt creates a bucket full) and, in a set with a
timeout, forgotten after the timeout without traffic (xt: --hashlimit-htable-expire). One set
per --hashlimit-name, so that rules sharing a table share buckets; rules sharing a name must
give it the same configuration (xt uses whichever rule created the table first).

What is not exact, and refused (or with approximate=True emitted and reported):
- an expiry shorter than the time the bucket takes to refill its burst: xt forgets an idle key
  only when its garbage collector next runs (every --hashlimit-htable-gcinterval), nft exactly
  at the timeout; with a refill no longer than the expiry, a forgotten key was full anyway;
- byte rates (xt counts 16-byte chunks against a one-second bucket refilled --burst times),
  --hashlimit-rate-match: refused always.

connlimit: xt_connlimit counts per rule the tracked connections of each key; nft's
`add @S { key ct count [over] N }` does the same per element with the same counting code
(nf_conncount). One set per rule.

Sizes: a full nft set refuses new elements and the rule then does not match (the kernel sizes
a set without `size` that a rule adds to at 65535, the reference's trap). xt_hashlimit's
table holds --hashlimit-htable-max entries (else 8 × --hashlimit-htable-size, else 65536 on a
machine with more than 1 GiB of memory) and drops the packet when full; the set gets the same
size, and a companion rule after each hashlimit rule drops what a full set cannot take.
xt_connlimit has no limit; a key exists only while it has a tracked connection, so the set
gets the largest default nf_conntrack_max (262144: 64-bit, more than 4 GiB of memory).
"""

from __future__ import annotations

import ipaddress

from ..frontends.limit_values import hashlimit_config, hashlimit_size, packet_rate
from ..ir import Rule, SourceLocation
from .nft_ast import (
    BitAnd,
    Compare,
    Concat,
    CtCount,
    Limit,
    NftRule,
    NftSet,
    Payload,
    SetRef,
    SetUpdate,
    Statement,
    Symbol,
    Verdict,
)
from .nft_common import repeatable
from .nft_names import Namer
from .nft_recent import Untranslatable

CONNLIMIT_SIZE = 262144
_CONNLIMIT_NOTE = (f"connlimit sets hold at most {CONNLIMIT_SIZE} addresses each, the largest "
                   "default nf_conntrack_max (xt_connlimit has no limit); when one is full, "
                   "nft's rule does not match a new address: raise their size if your "
                   "nf_conntrack_max is higher")
PLANNED = frozenset({"hashlimit", "connlimit"})
_L4 = {6: "tcp", 17: "udp", 136: "udplite", 132: "sctp", 33: "dccp"}
# matches that leave later fragments out, as xt_tcp and the other port matches do
_FIRST_FRAGMENT_ONLY = frozenset({"tcp", "udp", "udplite", "sctp", "dccp", "multiport"})
_PER = {"sec": "second", "min": "minute", "hour": "hour", "day": "day"}
# the key's fields in iptables-translate's order (the mode's bit order)
_KEY_ORDER = (("dstip", "daddr"), ("dstport", "dport"), ("srcip", "saddr"), ("srcport", "sport"))


def _cfg(match) -> dict:
    return hashlimit_config({o.name: o for o in match.options})


class LimitPlan:
    """The sets for the hashlimit tables and connlimit rules of one nft table."""

    def __init__(self, family: str, namer: Namer, approximate: bool):
        self.family = family
        self.ip = "ip" if family == "ip" else "ip6"
        self.namer = namer
        self.approximate = approximate
        self.tables: dict[str, list[dict]] = {}       # hashlimit name → configurations
        self.problems: dict[str, str] = {}
        self.set_names: dict[str, str] = {}
        # the sets in the order the rules need them: an NftSet, or a hashlimit set's name
        # (its comment is written once every rule is translated)
        self.out: list[NftSet | str] = []
        self.approximations: list[tuple[SourceLocation | None, str]] = []
        self.connlimits = 0
        # hashlimit set name → (size, why, table name, key type, timeout), and the sets some
        # rule uses without the companion rule that drops what a full set cannot take
        self.hashlimit_sets: dict[str, tuple[int, str, str, str, int]] = {}
        self.uncovered: set[str] = set()

    def add(self, rule: Rule) -> None:
        for match in rule.matches:
            if match.module == "hashlimit":
                cfg = _cfg(match)
                self.tables.setdefault(cfg["name"], []).append(cfg)

    def plan(self) -> None:
        for name, cfgs in self.tables.items():
            if any(c != cfgs[0] for c in cfgs):
                self.problems[name] = (
                    f"the rules using hashlimit table {name} configure it differently; the "
                    "kernel keeps the configuration of whichever rule created the table first, "
                    "which depends on load order")
                continue
            if cfgs[0]["mode"] or len(cfgs) > 1:
                self.set_names[name] = self.namer.claim(name, name, "set")

    def sets(self) -> list[NftSet]:
        """The sets, once every rule is translated (a hashlimit set's comment says whether
        every rule using it drops what it cannot hold)."""
        out = []
        for s in self.out:
            if isinstance(s, str):
                size, why, name, key_type, timeout = self.hashlimit_sets[s]
                s = NftSet(s, key_type, size, timeout, True, f"xt_hashlimit table {name}: size "
                           f"{size} ({why}); {self._when_full(s)}")
            out.append(s)
        return out

    @property
    def notes(self) -> list[str]:
        """The sizes chosen, for the header and -v (once every rule is translated)."""
        out = []
        for s in self.out:          # in the order the sets were made
            if isinstance(s, str):
                size, why, name, _type, _timeout = self.hashlimit_sets[s]
                out.append(f"set {s} (hashlimit table {name}) holds at most {size} keys: "
                           f"{why}; {self._when_full(s)}")
            elif _CONNLIMIT_NOTE not in out:
                out.append(_CONNLIMIT_NOTE)
        return out

    def _when_full(self, set_name: str) -> str:
        if set_name in self.uncovered:
            return ("when it is full, iptables drops a packet with a new key, nft's rule does "
                    "not match it (the packet goes on): a rule testing something with a side "
                    "effect before the hashlimit cannot be followed by the drop that would say it")
        return ("when it is full, the rule after each rule using it drops a packet with a new "
                "key, as iptables does")

    # --- hashlimit -----------------------------------------------------------------------------

    def hashlimit(self, rule: Rule, index: int) -> list[Statement]:
        cfg = _cfg(rule.matches[index])
        name = cfg["name"]
        if name in self.problems:
            raise Untranslatable(self.problems[name],
                                 "give every rule of the table the same options")
        if cfg["kind"] == "bytes":
            raise Untranslatable("a --hashlimit byte rate has no exact nft equivalent: "
                                 "xt_hashlimit counts 16-byte chunks against a bucket of one "
                                 "second of traffic that --hashlimit-burst refills, nft's "
                                 "`limit rate … bytes/second` is one token bucket of bytes")
        if cfg["rate_match"]:
            raise Untranslatable("--hashlimit-rate-match (test a flow's rate without limiting "
                                 "it) has no nft equivalent")
        count, unit = packet_rate(cfg["avg"])
        limit = Limit(count, _PER[unit], cfg["burst"], inverted=cfg["above"])
        expire = cfg["expire_ms"]
        if expire == 0 or expire % 1000:
            raise Untranslatable(f"--hashlimit-htable-expire {expire} is not a whole number of "
                                 "seconds, which nft's set timeouts are here",
                                 "give it in whole seconds (a multiple of 1000)")
        self._check_timing(rule, cfg)
        set_name = self.set_names.get(name)
        if set_name is None:            # one rule, no key: one bucket, a plain limit
            return [limit]
        if not cfg["mode"]:
            raise Untranslatable(f"hashlimit table {name} has no --hashlimit-mode: one bucket "
                                 "shared by several rules, where nft's limit statements each "
                                 "keep their own", "give each rule its own --hashlimit-name, "
                                 "or key the table with --hashlimit-mode")
        key = self._key(rule, index, cfg)
        if set_name not in self.hashlimit_sets:
            size, why = hashlimit_size(cfg)
            self.hashlimit_sets[set_name] = (size, why, name, self._key_type(cfg),
                                             expire // 1000)
            self.out.append(set_name)
        return [SetUpdate("update", set_name, key, limit)]

    def companion(self, rule: NftRule) -> NftRule | None:
        """The rule written right after `rule` when it updates a hashlimit set: the same tests,
        then the key not in the set → drop. A key that finds xt_hashlimit's table full is
        dropped (hotdrop); nft's update cannot add it and the rule stops, so the companion
        catches it (a key that is there, just added or refreshed, passes it). Only where the
        statements before the update give the same answer when the packet meets them again;
        otherwise the set is `uncovered` and the notes say what differs."""
        found = None
        for i, s in enumerate(rule.statements):
            if type(s) is not SetUpdate or s.set not in self.hashlimit_sets:
                continue
            head = rule.statements[:i]
            if found is None and all(map(repeatable, head)):
                found = NftRule((*head, Compare(s.key, "!=", SetRef(s.set)), Verdict("drop")),
                                None, rule.loc, companion=True)
            else:
                self.uncovered.add(s.set)
        return found

    def _check_timing(self, rule: Rule, cfg: dict) -> None:
        refill_ms = -(-cfg["avg"] * cfg["burst"] // 1000)
        if refill_ms <= cfg["expire_ms"]:
            return
        why = (f"--hashlimit-htable-expire {cfg['expire_ms']} ms is shorter than the "
               f"{refill_ms} ms a bucket needs to refill its burst of {cfg['burst']}: "
               "xt_hashlimit forgets an idle key only when its garbage collector next runs "
               f"(every {cfg['gc_ms']} ms), nft exactly at the timeout, so a key that comes "
               "back in between finds a partly refilled bucket in iptables and a full one in nft")
        if not self.approximate:
            raise Untranslatable(why, f"give --hashlimit-htable-expire {refill_ms} or more, or "
                                      "pass --approximate to accept this and be told")
        self.approximations.append((rule.loc, f"hashlimit {cfg['name']}: {why}"))

    def _key(self, rule: Rule, index: int, cfg: dict):
        items = []
        for mode, field in _KEY_ORDER:
            if mode not in cfg["mode"]:
                continue
            if field.endswith("port"):
                items.append(Payload(self._l4(rule, index), field))
                continue
            mask = cfg["srcmask" if field == "saddr" else "dstmask"]
            expr = Payload(self.ip, field)
            if mask is not None:
                expr = BitAnd(expr, Symbol(_mask_text(self.family, mask)))
            items.append(expr)
        return items[0] if len(items) == 1 else Concat(tuple(items))

    def _l4(self, rule: Rule, index: int) -> str:
        proto = rule.protocol
        if proto is None or proto.negated or proto.value not in _L4:
            raise Untranslatable("--hashlimit-mode srcport/dstport: xt_hashlimit reads port 0 "
                                 "for protocols without ports, nft reads ports only from a "
                                 "TCP, UDP, SCTP or DCCP header", "add -p tcp (or udp, …)")
        earlier = rule.matches[:index]
        if not any(m.module in _FIRST_FRAGMENT_ONLY for m in earlier) and not (
                rule.fragment is not None and rule.fragment.negated):
            raise Untranslatable("--hashlimit-mode srcport/dstport: on a later fragment "
                                 "xt_hashlimit keys on the bytes where the ports would be, nft "
                                 "stops the rule (it has no ports there)",
                                 f"put -m {_L4[proto.value]} before -m hashlimit (it leaves "
                                 "later fragments out), or add ! -f")
        return _L4[proto.value]

    def _key_type(self, cfg: dict) -> str:
        addr = "ipv4_addr" if self.family == "ip" else "ipv6_addr"
        return " . ".join(addr if mode.endswith("ip") else "inet_service"
                          for mode, _field in _KEY_ORDER if mode in cfg["mode"])

    # --- connlimit -----------------------------------------------------------------------------

    def connlimit(self, rule: Rule, index: int) -> list[Statement]:
        opts = {o.name: o for o in rule.matches[index].options}
        direction = opts.get("upto") or opts.get("above")
        above = (direction.name == "above") != direction.negated
        field = "daddr" if opts["side"].value == "connlimit-daddr" else "saddr"
        key = Payload(self.ip, field)
        full = 32 if self.family == "ip" else 128
        if opts["mask"].value != full:
            key = BitAnd(key, Symbol(_mask_text(self.family, opts["mask"].value)))
        self.connlimits += 1
        name = self.namer.claim(f"connlimit{self.connlimits}", "connlimit", "set")
        addr = "ipv4_addr" if self.family == "ip" else "ipv6_addr"
        self.out.append(NftSet(name, addr, CONNLIMIT_SIZE, None, True,
                               f"xt_connlimit of the rule at {rule.loc}: size {CONNLIMIT_SIZE} "
                               "(the largest default nf_conntrack_max); when it is full nft's "
                               "rule does not match"))
        return [SetUpdate("add", name, key, CtCount(direction.value, inverted=above))]


def _mask_text(family: str, length: int) -> str:
    width = 32 if family == "ip" else 128
    bits = ((1 << width) - 1) ^ ((1 << (width - length)) - 1)
    return str(ipaddress.ip_address(bits) if width == 32 else ipaddress.IPv6Address(bits))
