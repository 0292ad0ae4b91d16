"""Semantic diff between two IR rulesets: chain by chain, rules aligned, cosmetics ignored.

Both sides are first normalised so that spellings with one meaning compare equal: `-m state`
is `-m conntrack --ctstate`, a one-port multiport is a plain port match, split `-m tcp`
matches are one, comments are not rules' meaning, and a built-in chain that is empty with
policy ACCEPT is the same as no chain at all (nothing filters there either way). Targets and
matches that say one thing two ways (-j NOTRACK and -j CT --notrack, -j TOS on the DSCP bits
and -j DSCP) are written one way; `! --ctstate X` then `! --ctstate Y` is `! --ctstate X,Y`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..backends.iptables_save import rule_line
from ..frontends.conntrack_entry import without_idle_nat
from ..frontends.limit_values import normal_connlimit, normal_hashlimit
from ..ir import (
    Chain,
    IntRange,
    Masked,
    Match,
    Option,
    Rule,
    Ruleset,
    TargetExtension,
    Verdict,
)

_PORT_MODULES = {6: "tcp", 17: "udp"}


@dataclass(frozen=True)
class Change:
    kind: str                  # added, removed, changed, policy
    family: str
    table: str
    chain: str
    a: Rule | None = None
    b: Rule | None = None
    a_index: int | None = None     # 1-based rule numbers
    b_index: int | None = None
    a_policy: str | None = None
    b_policy: str | None = None

    def describe(self) -> str:
        where = f"{self.family} {self.table} {self.chain}"
        if self.kind == "policy":
            return f"{where}: policy {self.a_policy or '(none)'} → {self.b_policy or '(none)'}"
        lines = [f"{where}: rule {self.kind}"]
        if self.a is not None:
            lines.append(f"  - A rule {self.a_index} ({self.a.loc}): "
                         f"{rule_line(self.chain, self.a, False)}")
        if self.b is not None:
            lines.append(f"  + B rule {self.b_index} ({self.b.loc}): "
                         f"{rule_line(self.chain, self.b, False)}")
        return "\n".join(lines)

    def as_json(self) -> dict:
        out = {"kind": self.kind, "family": self.family, "table": self.table,
               "chain": self.chain}
        for side in ("a", "b"):
            rule = getattr(self, side)
            if rule is not None:
                out[side] = {"index": getattr(self, f"{side}_index"),
                             "location": str(rule.loc) if rule.loc else None,
                             "rule": rule_line(self.chain, rule, False)}
        if self.kind == "policy":
            out.update(a_policy=self.a_policy, b_policy=self.b_policy)
        return out


_DSCP_BITS = 0xFC          # the DSCP field's place in the TOS byte


# header lengths in bytes the kernel compares: (unit, smallest, largest) a header can have
_LENGTHS = {"rt-len": (8, 8, 2048), "hbh-len": (8, 8, 2048), "dst-len": (8, 8, 2048),
            "ahlen": (4, 8, 1028)}


def _tests_nothing(module: str, opt: Option) -> bool:
    """Options the kernel does not test: --fraglen, --compres, ip6t_ah's --ahlen 0, `! --rt-len N`
    where no header is N bytes long (every header differs)."""
    if (module, opt.name) in (("frag", "fraglen"), ("ipcomp", "compres")):
        return True
    if opt.name == "ahlen" and opt.value == 0:
        return True
    if opt.name in _LENGTHS and opt.negated:
        unit, low, high = _LENGTHS[opt.name]
        return opt.value % unit != 0 or not low <= opt.value <= high
    return False


_FIELD_TOP = {"rt-segsleft": 255, "ipcompspi": 0xFFFF}


def _byte_field(opt: Option) -> Option:
    """--rt-segsleft 2:300 is 2:255: the field has 8 bits (the IPComp CPI 16)."""
    top = _FIELD_TOP.get(opt.name)
    if top is not None and opt.value.last > top >= opt.value.first:
        return Option(opt.name, IntRange(opt.value.first, top), opt.negated)
    return opt


def _normal_time(match: Match) -> Match:
    """--contiguous only moves the day that --weekdays/--monthdays test; a time window that
    lets every second pass (start == stop, start == stop + 1, the whole day) tests nothing."""
    drop = set()
    if not any(o.name in ("weekdays", "monthdays") for o in match.options):
        drop.add("contiguous")
    start, stop = match.option("timestart"), match.option("timestop")
    if start is not None and stop is not None and (
            start.value in (stop.value, stop.value + 1) or (start.value, stop.value) == (0, 86399)):
        drop |= {"timestart", "timestop"}
    return Match("time", tuple(o for o in match.options if o.name not in drop))


def _normal_sctp(match: Match) -> Match:
    """--chunk-types any T with one type (and no flags) is the test of `all T`."""
    opt = match.option("chunk-types")
    if opt is None or opt.value[0] != "any" or "," in opt.value[1] or ":" in opt.value[1]:
        return match
    return Match("sctp", tuple(Option(o.name, ("all", o.value[1]), o.negated)
                               if o is opt else o for o in match.options))


def _normal_match(match: Match, protocol: int | None) -> Match | None:
    if match.module == "comment":
        return None
    if match.module == "hashlimit":
        return normal_hashlimit(match)
    if match.module == "connlimit":
        return normal_connlimit(match)
    if match.module == "time":
        match = _normal_time(match)
    if match.module in ("frag", "rt", "hbh", "dst", "ah", "ipcomp"):
        match = Match(match.module, tuple(_byte_field(o) for o in match.options
                                          if not _tests_nothing(match.module, o)))
    if match.module == "sctp":
        match = _normal_sctp(match)
    if match.module == "state":
        return Match("conntrack", (Option("ctstate", match.options[0].value,
                                          match.options[0].negated),))
    if match.module == "conntrack":
        # SNAT/DNAT that cannot change the state test's answer (the backend leaves them out)
        return Match("conntrack", tuple(Option(o.name, without_idle_nat(o.value), o.negated)
                                        if o.name == "ctstate" else o for o in match.options))
    opt = match.options[0] if match.options else None
    if match.module == "tos" and opt.value.mask == _DSCP_BITS \
            and not opt.value.value & ~_DSCP_BITS:
        # (tos & 0xfc) == V is the DSCP test of V >> 2
        return Match("dscp", (Option("dscp", opt.value.value >> 2, opt.negated),))
    if match.module == "devgroup":
        # xt_devgroup ignores the value's bits outside the mask
        return Match("devgroup", tuple(Option(o.name, Masked(o.value.value & o.value.mask,
                                                             o.value.mask), o.negated)
                                       for o in match.options))
    if match.module == "multiport" and protocol in _PORT_MODULES and len(match.options) == 1:
        opt = match.options[0]
        if opt.name in ("sports", "dports") and len(opt.value) == 1:
            return Match(_PORT_MODULES[protocol], (Option(opt.name[:-1], opt.value[0],
                                                          opt.negated),))
    return match


_SIDE_EFFECTS = frozenset({"recent", "limit", "hashlimit", "connlimit", "quota", "statistic"})


def _pure_runs_sorted(matches: list[Match]) -> list[Match]:
    """Matches without side effects commute: sort each run of them between the others."""
    out: list[Match] = []
    run: list[Match] = []
    for m in matches + [None]:
        if m is None or m.module in _SIDE_EFFECTS:
            out += sorted(run, key=lambda x: (x.module, repr(x.options)))
            run = []
            if m is not None:
                out.append(m)
        else:
            run.append(m)
    return out


def normal_target(target):
    if not isinstance(target, TargetExtension):
        return target
    if target.name == "NOTRACK":
        return TargetExtension("CT", (Option("notrack"),))
    if target.name == "AUDIT":
        return TargetExtension("AUDIT", ())     # the kernel ignores --type (Linux 4.12+)
    if target.name == "NFQUEUE" and target.options == (Option("queue-num", 0),):
        return Verdict("QUEUE")              # NF_QUEUE is queue 0, without bypass
    if target.name == "NFLOG":
        # the kernel never applied --nflog-range (the backend leaves it out, saying so)
        return TargetExtension("NFLOG", tuple(o for o in target.options
                                              if o.name != "nflog-range"))
    if target.name == "TOS" and target.options[0].value.mask == _DSCP_BITS \
            and not target.options[0].value.value & ~_DSCP_BITS:
        return TargetExtension("DSCP", (Option("set-dscp", target.options[0].value.value >> 2),))
    return target


def _split_ecn(matches: tuple[Match, ...]) -> list[Match]:
    """-m ecn --ecn-ip-ect V is the TOS byte's ECN bits == V (nft lists it as `ip ecn`, read
    back as -m tos); its TCP flag tests stay an ecn match of their own."""
    out: list[Match] = []
    for m in matches:
        if m.module != "ecn":
            out.append(m)
            continue
        tcp = tuple(o for o in m.options if o.name != "ecn-ip-ect")
        ect = m.option("ecn-ip-ect")
        if ect is not None:
            out.append(Match("tos", (Option("tos", Masked(ect.value, 0x03), ect.negated),)))
        if tcp:
            out.append(Match("ecn", tcp))
    return out


def _none_of(match: Match) -> bool:
    return match.module == "conntrack" and len(match.options) == 1 and \
        match.options[0].name == "ctstate" and match.options[0].negated


def normal_rule(rule: Rule) -> Rule:
    protocol = rule.protocol.value if rule.protocol and not rule.protocol.negated else None
    matches: list[Match] = []
    for m in _split_ecn(rule.matches):
        n = _normal_match(m, protocol)
        if n is None:
            continue
        if matches and n.module in ("tcp", "udp", "conntrack") and matches[-1].module == \
                n.module and not {o.name for o in matches[-1].options} & \
                {o.name for o in n.options}:
            merged = matches.pop()
            n = Match(n.module, tuple(sorted(merged.options + n.options, key=lambda o: o.name)))
        elif matches and _none_of(matches[-1]) and _none_of(n):
            # ! --ctstate X, then ! --ctstate Y: none of X ∪ Y, also without a conntrack entry
            n = Match("conntrack", (Option("ctstate", without_idle_nat(
                matches.pop().options[0].value | n.options[0].value), True),))
        elif n.module in ("tcp", "udp", "conntrack"):
            n = Match(n.module, tuple(sorted(n.options, key=lambda o: o.name)))
        matches.append(n)
    return Rule(rule.source, rule.destination, rule.in_interface, rule.out_interface,
                rule.protocol, rule.fragment, tuple(_pure_runs_sorted(matches)),
                normal_target(rule.target), rule.counters, rule.loc)


def _chains(ruleset: Ruleset) -> dict[tuple[str, str, str], Chain]:
    out = {}
    for table in ruleset.tables:
        for chain in table.chains:
            if chain.builtin and not chain.rules and chain.policy == "ACCEPT":
                continue
            out[(table.family, table.name, chain.name)] = chain
    return out


def diff(a: Ruleset, b: Ruleset) -> list[Change]:
    changes: list[Change] = []
    ca, cb = _chains(a), _chains(b)
    order = list(ca) + [k for k in cb if k not in ca]
    for key in order:
        family, table, name = key
        chain_a, chain_b = ca.get(key), cb.get(key)
        pa = chain_a.policy if chain_a else ("ACCEPT" if chain_b and chain_b.builtin else None)
        pb = chain_b.policy if chain_b else ("ACCEPT" if chain_a and chain_a.builtin else None)
        if pa != pb:
            changes.append(Change("policy", family, table, name, a_policy=pa, b_policy=pb))
        rules_a = chain_a.rules if chain_a else ()
        rules_b = chain_b.rules if chain_b else ()
        keys_a = [normal_rule(r) for r in rules_a]
        keys_b = [normal_rule(r) for r in rules_b]
        matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            for k in range(pairs):
                changes.append(Change("changed", family, table, name, rules_a[i1 + k],
                                      rules_b[j1 + k], i1 + k + 1, j1 + k + 1))
            for i in range(i1 + pairs, i2):
                changes.append(Change("removed", family, table, name, a=rules_a[i],
                                      a_index=i + 1))
            for j in range(j1 + pairs, j2):
                changes.append(Change("added", family, table, name, b=rules_b[j],
                                      b_index=j + 1))
    return changes

