"""IR rules → steps over the atom space (verify/space.py): what the equivalence walk executes.

A rule becomes a list of steps in iptables' order: tests (a union of disjoint cubes over the
fields, usually one cube) and effects (a recent list updated for this packet's address, a log
line). Tests on a field an effect has already set for this walk are decided by that value.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..frontends.limit_values import normal_connlimit, normal_hashlimit
from ..ir import IcmpType, Jump, Match, Option, Rule, TargetExtension, Verdict, untracks
from .diff import normal_target
from .equiv_nat import nat_steps
from .ipsets import lookup_field
from .nat_status import NAT_TARGETS
from .space import (
    ABSENT,
    CT_STATES,
    NotModelled,
    Space,
    _net,
    _ports,
    connlimit_field,
    hashlimit_field,
    limit_field,
    mark_interval,
    opaque_name,
    recent_field,
)

NO_ENTRY = ("INVALID", "UNTRACKED")


@dataclass(frozen=True)
class Test:
    cubes: tuple[tuple[tuple[int, int], ...], ...]   # union of cubes; cube: ((field, mask), …)


@dataclass(frozen=True)
class Effect:
    field: int               # the recent field it sets (-1: none)
    value: int               # its new mask
    label: tuple             # what the outcome records


@dataclass(frozen=True)
class Untrack:
    """NOTRACK / CT --notrack in raw OUTPUT: the tables after raw see the packet UNTRACKED
    (`value`), unless it came with an entry already (a REJECT's answer: RELATED, or INVALID
    for an answer to an untracked packet), which keeps its state: atoms in `fresh` may become
    UNTRACKED, atoms in `kept` may stay."""
    field: int
    fresh: int
    kept: int
    value: int


@dataclass(frozen=True)
class CompiledRule:
    steps: tuple
    target: object           # Verdict, Jump, TargetExtension, or None
    rule: Rule


class Compiler:
    def __init__(self, space: Space):
        self.space = space
        self.ix = space.index
        self.limit_seen: dict[tuple, int] = {}     # per chain: see start_chain
        # ipsets whose lookups are address tests (verify/ipsets.py), set per ruleset
        self.ipsets: dict[str, list[tuple[int, int]]] = {}
        self.hook: str | None = None               # the hook whose chains are compiled
        # raw tests no conntrack state, so its path does not depend on it (raw sees no entry
        # yet, which the atom space does not model): set per ruleset
        self.raw_state_blind = False

    def skip_unless_new(self) -> CompiledRule:
        not_new = self.space.all("ct_state") ^ self.mask("ct_state", "NEW")
        return CompiledRule((Test((self.cube(ct_state=not_new),)),), Verdict("ACCEPT"),
                            _SKIP_NAT)

    def start_chain(self) -> None:
        self.limit_seen = {}

    def mask(self, name: str, value) -> int:
        return self.space.fields[name].mask(value)

    def neg(self, name: str, mask: int, negated: bool) -> int:
        return self.space.all(name) ^ mask if negated else mask

    def cube(self, **tests: int) -> tuple[tuple[int, int], ...]:
        return tuple((self.ix[name], mask) for name, mask in tests.items())

    def rule(self, rule: Rule, chain_key: tuple) -> CompiledRule:
        steps: list = []
        sel: dict[str, int] = {}
        if rule.source:
            sel["saddr"] = self.neg("saddr", self.space.fields["saddr"].mask(
                *_net(rule.source.value)), rule.source.negated)
        if rule.destination:
            sel["daddr"] = self.neg("daddr", self.space.fields["daddr"].mask(
                *_net(rule.destination.value)), rule.destination.negated)
        for s, name in ((rule.in_interface, "iif"), (rule.out_interface, "oif")):
            if s:
                sel[name] = self.neg(name, self.mask(name, s.value), s.negated)
        if rule.protocol:
            sel["proto"] = self.neg("proto", self.mask("proto", rule.protocol.value),
                                    rule.protocol.negated)
        if rule.fragment:
            sel["fragment"] = self.mask("fragment", not rule.fragment.negated)
        if sel:
            steps.append(Test((self.cube(**sel),)))
        for m in rule.matches:
            steps += self.match(m, chain_key)
        if getattr(rule.target, "name", None) in NAT_TARGETS:
            steps += nat_steps(self, rule.target)
        if chain_key[0] == "raw" and self.hook == "output" and self.raw_state_blind and \
                untracks(rule.target):
            steps.append(self.untrack())
        return CompiledRule(tuple(steps), rule.target, rule)

    def untrack(self) -> Untrack:
        states = {s: self.mask("ct_state", s) for s in CT_STATES}
        return Untrack(self.ix["ct_state"], self.space.all("ct_state") ^ states["UNTRACKED"],
                       states["RELATED"] | states["INVALID"] | states["UNTRACKED"],
                       states["UNTRACKED"])

    # --- matches ------------------------------------------------------------------------------

    def match(self, m: Match, chain_key: tuple) -> list:
        handler = getattr(self, "m_" + m.module, None)
        if handler is not None:
            return handler(m, chain_key)
        if not m.options:
            # still a test (`-m frag`: a fragment header; `-m esp`: a readable header)
            return [self.opaque(m, None)]
        return [self.opaque(m, opt) for opt in m.options]

    def opaque(self, m: Match, opt) -> Test:
        """A test the space does not model: a field of its own, so both rulesets' copies of
        the same test pair up (and differ only where one has it and the other does not)."""
        name = opaque_name(m, opt)
        if name not in self.ix:
            raise NotModelled(f"-m {m.module}" + (f" --{opt.name}" if opt else ""))
        return Test((self.cube(**{name: self.mask(name, True)}),))

    def _l4(self, m: Match) -> list:
        tests = {"fragment": self.mask("fragment", False)}
        for opt in m.options:
            if opt.name in ("sport", "dport"):
                f = self.space.fields[opt.name]
                tests[opt.name] = self.neg(opt.name, f.mask(opt.value.first, opt.value.last),
                                           opt.negated)
            elif opt.name == "tcp-flags":
                flags = self.space.fields["tcp_flags"]
                v = opt.value
                want = flags.mask_where(lambda c, v=v: (c & v.mask) == v.compare)
                tests["tcp_flags"] = self.neg("tcp_flags", want, opt.negated)
            else:
                return [Test((self.cube(**tests),)), self.opaque(m, opt)]
        return [Test((self.cube(**tests),))]

    m_tcp = m_udp = m_udplite = lambda self, m, k: self._l4(m)

    def m_icmp(self, m: Match, chain_key) -> list:
        opt = m.options[0]
        v: IcmpType = opt.value
        tests = {"fragment": self.mask("fragment", False)}
        if v.type is not None:
            type_mask = self.mask("icmp_type", v.type)
            if (v.code_min, v.code_max) == (0, 255):
                tests["icmp_type"] = self.neg("icmp_type", type_mask, opt.negated)
            elif not opt.negated:
                tests["icmp_type"] = type_mask
                tests["icmp_code"] = self.mask("icmp_code", v.code_min)
            else:       # not (type and code): other types, or this type with another code
                code = self.mask("icmp_code", v.code_min)
                return [Test((self.cube(**tests, icmp_type=self.space.all("icmp_type") ^
                                        type_mask),
                              self.cube(**tests, icmp_type=type_mask,
                                        icmp_code=self.space.all("icmp_code") ^ code)))]
        elif opt.negated:
            return [Test(())]                        # ! --icmp-type any: never
        return [Test((self.cube(**tests),))]

    m_icmp6 = m_icmp

    def m_multiport(self, m: Match, chain_key) -> list:
        opt = m.options[0]
        if opt.name == "ports":
            raise NotModelled("-m multiport --ports")
        name = opt.name[:-1]
        f = self.space.fields[name]
        mask = 0
        for p in _ports(opt.value):
            mask |= f.mask(p.first, p.last)
        return [Test((self.cube(fragment=self.mask("fragment", False),
                                **{name: self.neg(name, mask, opt.negated)}),))]

    def m_conntrack(self, m: Match, chain_key) -> list:
        """xt_conntrack: a packet with a conntrack entry meets every option; one without
        (INVALID, UNTRACKED) matches exactly when there is a state test and it passes."""
        states = self.space.fields["ct_state"]
        all_states = self.space.all("ct_state")
        entry = 0
        for s in CT_STATES:
            if s not in NO_ENTRY:
                entry |= states.mask(s)
        no_entry = all_states ^ entry
        state_opt = m.option("ctstate") or m.option("state")
        others: dict[str, int] = {}
        extra: list = []

        def narrow(name: str, mask: int) -> None:
            others[name] = others.get(name, self.space.all(name)) & mask

        for opt in m.options:
            if opt is state_opt:
                continue
            if opt.name == "ctstatus":
                bits = opt.value
                want = self.space.fields["ct_status"].mask_where(
                    (lambda c, bits=bits: bool(c & bits)) if bits else
                    (lambda c: not (c - {"SNAT", "DNAT"})))
                narrow("ct_status", self.neg("ct_status", want, opt.negated))
            elif opt.name == "ctproto":
                narrow("proto", self.neg("proto", self.mask("proto", opt.value), opt.negated))
            elif opt.name == "ctdir":
                narrow("ct_dir", self.mask("ct_dir", opt.value))
            else:
                extra.append(self.opaque(m, opt))
        if state_opt is None:
            return [Test((self.cube(**dict(others, ct_state=entry)),))] + extra
        plain = 0
        for s in state_opt.value - {"SNAT", "DNAT"}:
            plain |= states.mask(s)
        nat = state_opt.value & {"SNAT", "DNAT"}
        any_nat = self.space.fields["ct_status"].mask_where(lambda c: bool(c & nat)) \
            if nat else 0
        cubes = []
        if not state_opt.negated:
            if plain & entry:
                cubes.append(dict(others, ct_state=plain & entry))
            if nat and entry & ~plain:
                cubes.append(dict(others, ct_state=entry & ~plain,
                                  ct_status=others.get("ct_status", self.space.all(
                                      "ct_status")) & any_nat))
            if plain & no_entry:
                cubes.append({"ct_state": plain & no_entry})
        else:
            if entry & ~plain:
                c = dict(others, ct_state=entry & ~plain)
                if nat:
                    c["ct_status"] = others.get("ct_status", self.space.all("ct_status")) & \
                        (self.space.all("ct_status") ^ any_nat)
                cubes.append(c)
            if no_entry & ~plain:
                cubes.append({"ct_state": no_entry & ~plain})
        return [Test(tuple(self.cube(**c) for c in cubes if all(c.values())))] + extra

    m_state = m_conntrack

    def m_limit(self, m: Match, chain_key) -> list:
        name = limit_field(m, self.limit_seen, chain_key)
        return [Test((self.cube(**{name: self.mask(name, False)}),))]

    def m_hashlimit(self, m: Match, chain_key) -> list:
        normal = normal_hashlimit(m)
        if normal.module == "limit":
            return self.m_limit(normal, chain_key)
        name = hashlimit_field(normal, self.limit_seen, chain_key)
        over = normal.options[0].name == "above"
        return [Test((self.cube(**{name: self.mask(name, over)}),))]

    def m_connlimit(self, m: Match, chain_key) -> list:
        name = connlimit_field(m, self.limit_seen, chain_key)
        over = normal_connlimit(m).options[0].name == "above"
        return [Test((self.cube(**{name: self.mask(name, over)}),))]

    def m_recent(self, m: Match, chain_key) -> list:
        opts = {o.name: o for o in m.options}
        if "hitcount" in opts or "rttl" in opts:
            raise NotModelled("-m recent --hitcount/--rttl")
        name = recent_field(m)
        f = self.space.fields[name]
        present = f.mask(0, ABSENT - 1)
        window = f.mask(0, opts["seconds"].value - 1) if "seconds" in opts else present
        fresh = f.mask(0, 0)
        absent = f.mask(ABSENT, ABSENT)
        mode = opts["mode"]
        label = (opts["name"].value, opts["side"].value)
        if mode.value == "set":
            return [Effect(self.ix[name], fresh, ("recent set",) + label)]
        if mode.value == "remove":
            return [Test((self.cube(**{name: present}),)),
                    Effect(self.ix[name], absent, ("recent remove",) + label)]
        test = Test((self.cube(**{name: self.neg(name, window, mode.negated)}),))
        if mode.value == "rcheck":
            return [test]
        return [test, Effect(self.ix[name], fresh, ("recent update",) + label)]

    def m_mark(self, m: Match, chain_key) -> list:
        steps = []
        for opt in m.options:
            span = mark_interval(opt.value) if opt.name == "mark" else None
            if span is None:
                steps.append(self.opaque(m, opt))
                continue
            want = self.space.fields["mark"].mask(*span)
            steps.append(Test((self.cube(mark=self.neg("mark", want, opt.negated)),)))
        return steps

    def m_comment(self, m: Match, chain_key) -> list:
        return []

    def m_set(self, m: Match, chain_key) -> list:
        opt = m.options[0]
        members = self.ipsets.get(opt.value[0])
        if members is None or len(m.options) > 1:
            return [self.opaque(m, o) for o in m.options]
        name = lookup_field(m)
        f = self.space.fields[name]
        mask = 0
        for first, last in members:
            mask |= f.mask(first, last)
        return [Test((self.cube(**{name: self.neg(name, mask, opt.negated)}),))]


_SKIP_NAT = Rule(matches=(Match("conntrack", (Option("ctstate", frozenset({"NEW"}), True),)),),
                target=Verdict("ACCEPT"))


def target_label(target) -> tuple:
    """How a target's outcome is compared (chain names do not matter, their content does)."""
    if target is None:
        return ("none",)
    if isinstance(target, Verdict):
        return (target.name,)
    if isinstance(target, Jump):
        return ("goto" if target.goto else "jump", target.chain)
    assert isinstance(target, TargetExtension)
    # one action said two ways (-j NOTRACK and -j CT --notrack) is one action
    target = normal_target(target)
    if not isinstance(target, TargetExtension):
        return target_label(target)
    if target.name == "AUDIT":
        return ("AUDIT",)           # the kernel ignores --type (Linux 4.12+)
    return (target.name, target.options)
