"""The packet space, cut into atoms, and cubes of it.

Every field a rule can test (interfaces, addresses, protocol, ports, ICMP type and code, TCP
flags, conntrack state and status, fragments, each recent list's state for the packet's source
or destination, each rate limit being under or over) is cut into *atoms*: the coarsest pieces
no rule of either ruleset can tell apart (ports 0-21, 22, 23-79 … when rules test 22 and 80).
A *cube* gives, per field, a set of atoms (a bitmask), and stands for every packet whose
fields all lie in those sets. A rule's test is a cube too (a negated option is the complement
on its field), so walking a cube through rules only needs AND, AND-NOT and comparisons on
integers; and since every packet of an atom-cube meets every test the same way, checking all
cubes is checking every packet.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from ..frontends.limit_values import normal_connlimit, normal_hashlimit
from ..ir import Match, PortRange, Rule, Ruleset
from .equiv_nat import nat_cuts
from .ipsets import exact_sets, lookup_field

CT_STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED")
CT_STATUS = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SNAT", "DNAT")
TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")


class NotModelled(Exception):
    """A test the checker cannot cut into atoms exactly (e.g. a non-contiguous mask)."""


@dataclass
class Intervals:
    """A field of integers cut at every boundary any rule uses."""
    width: int
    cuts: set[int] = field(default_factory=set)       # starts of atoms
    starts: list[int] = field(default_factory=list)

    def add(self, first: int, last: int) -> None:
        self.cuts.add(first)
        if last + 1 < (1 << self.width):
            self.cuts.add(last + 1)

    def freeze(self) -> None:
        self.starts = sorted(self.cuts | {0})

    @property
    def count(self) -> int:
        return len(self.starts)

    def mask(self, first: int, last: int) -> int:
        lo = bisect_right(self.starts, first) - 1
        hi = bisect_right(self.starts, last) - 1
        return ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)

    def example(self, atom: int) -> int:
        return self.starts[atom]


@dataclass
class Names:
    """A field of discrete values (interface names, protocol numbers, ICMP types …): each value
    any rule names is an atom, and one more atom is "anything else". Interface wildcards
    (`eth+`) get an atom of their own for names they match that no rule spells out."""
    values: list = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    # every packet has one of the values (a conntrack state, a test's answer): the "anything
    # else" atom stands for no packet and is left out of the space
    closed: bool = False

    def add(self, value) -> None:
        if isinstance(value, str) and value.endswith("+"):
            if value[:-1] not in self.prefixes:
                self.prefixes.append(value[:-1])
        elif value not in self.values:
            self.values.append(value)

    def freeze(self) -> None:
        # an atom per listed value, one per wildcard (other names it matches), one "other"
        self.prefixes.sort(key=len, reverse=True)

    @property
    def count(self) -> int:
        return len(self.values) + len(self.prefixes) + 1

    def atom_of(self, value) -> int:
        if value in self.values:
            return self.values.index(value)
        if isinstance(value, str):
            for k, p in enumerate(self.prefixes):
                if value.startswith(p):
                    return len(self.values) + k
        return self.count - 1

    def mask(self, value) -> int:
        if isinstance(value, str) and value.endswith("+"):
            prefix = value[:-1]
            bits = 0
            for k, v in enumerate(self.values):
                if isinstance(v, str) and v.startswith(prefix):
                    bits |= 1 << k
            for k, p in enumerate(self.prefixes):
                if p.startswith(prefix):   # longer or equal wildcard: its names match too
                    bits |= 1 << (len(self.values) + k)
            return bits
        return 1 << self.atom_of(value)

    def example(self, atom: int):
        if atom < len(self.values):
            return self.values[atom]
        if atom < len(self.values) + len(self.prefixes):
            prefix = self.prefixes[atom - len(self.values)]
            candidate = prefix + "x0"
            while candidate in self.values or any(
                    candidate.startswith(p) and len(p) > len(prefix) for p in self.prefixes):
                candidate += "0"
            return candidate
        return None          # "anything else"


@dataclass
class Flags:
    """A field that is a set of bits (TCP flags, conntrack status): one atom per combination of
    the bits any rule tests."""
    names: tuple[str, ...]
    used: list[str] = field(default_factory=list)

    def use(self, bits) -> None:
        for b in bits:
            if b not in self.used:
                self.used.append(b)

    def freeze(self) -> None:
        self.used.sort(key=self.names.index)

    @property
    def count(self) -> int:
        return 1 << len(self.used)

    def combo(self, atom: int) -> frozenset[str]:
        return frozenset(b for k, b in enumerate(self.used) if atom >> k & 1)

    def mask_where(self, test) -> int:
        bits = 0
        for atom in range(self.count):
            if test(self.combo(atom)):
                bits |= 1 << atom
        return bits


class Space:
    """The fields of one family's packets and their atoms, built from both rulesets."""

    def __init__(self, family: str):
        self.family = family
        self.width = 32 if family == "ip" else 128
        self.fields: dict[str, object] = {}
        self.order: list[str] = []

    def field(self, name: str, factory):
        if name not in self.fields:
            self.fields[name] = factory()
            self.order.append(name)
        return self.fields[name]

    def freeze(self) -> None:
        for f in self.fields.values():
            f.freeze()
        self.index = {name: k for k, name in enumerate(self.order)}
        self.full = tuple(_full(self.fields[n]) for n in self.order)

    def all(self, name: str) -> int:
        return self.full[self.index[name]]


def _full(f) -> int:
    every = (1 << f.count) - 1
    return every & ~(1 << (f.count - 1)) if getattr(f, "closed", False) else every


def _closed(values: list) -> Names:
    return Names(values, closed=True)


def _net(addr) -> tuple[int, int]:
    if addr.prefixlen is None:
        raise NotModelled(f"the non-contiguous mask {addr.mask}")
    first = int(addr.addr)
    return first, first | (int(addr.mask) ^ ((1 << addr.addr.max_prefixlen) - 1))


def _ports(value) -> list[PortRange]:
    return list(value) if isinstance(value, tuple) else [value]


def collect(space: Space, ruleset: Ruleset) -> None:
    """Cut the space at every value the ruleset's rules test."""
    f = space.field
    f("iif", Names).add("")           # "" is "no interface" (output / input hooks)
    f("oif", Names).add("")
    for name in ("saddr", "daddr"):
        f(name, lambda: Intervals(space.width))
    for name in ("sport", "dport"):
        f(name, lambda: Intervals(16))
    f("proto", Names)
    f("fragment", lambda: _closed([False, True]))
    f("ct_state", lambda: _closed(list(CT_STATES)))
    sets = exact_sets(ruleset, space.family)
    for table in ruleset.tables:
        if table.family != space.family:
            continue
        for chain in table.chains:
            seen: dict[tuple, int] = {}
            for rule in chain.rules:
                _collect_rule(space, rule, (table.name, chain.name), seen, sets)


def _collect_rule(space: Space, rule: Rule, chain_key: tuple, seen: dict,
                  sets: dict | None = None) -> None:
    f = space.field
    if rule.in_interface:
        f("iif", Names).add(rule.in_interface.value)
    if rule.out_interface:
        f("oif", Names).add(rule.out_interface.value)
    for sel, name in ((rule.source, "saddr"), (rule.destination, "daddr")):
        if sel:
            f(name, lambda: Intervals(space.width)).add(*_net(sel.value))
    if rule.protocol:
        f("proto", Names).add(rule.protocol.value)
    for m in rule.matches:
        if m.module == "set" and sets and m.options[0].value[0] in sets \
                and len(m.options) == 1:
            addresses = f(lookup_field(m), lambda: Intervals(space.width))
            for first, last in sets[m.options[0].value[0]]:
                addresses.add(first, last)
            continue
        _collect_match(space, m, chain_key, seen)
    value = exact_mark(rule.target)
    if value is not None:
        f("mark", lambda: Intervals(32)).add(value, value)
    # the values a NAT rule rewrites to, and where its rewrite changes the tuple
    for name, first, last in nat_cuts(rule.target, space.family):
        f(name, lambda: Intervals(16)).add(first, last)      # the fields exist already


MARK_BITS = (1 << 32) - 1


def mark_interval(masked) -> tuple[int, int] | None:
    """The marks `-m mark --mark V/M` accepts, as one interval when M keeps the high bits
    (0xffffffff, 0xffff0000 …); None for other masks (the test is then opaque)."""
    low = MARK_BITS ^ masked.mask
    if low & (low + 1):
        return None
    first = masked.value & masked.mask
    return first, first | low


def exact_mark(target) -> int | None:
    """The mark a `MARK --set-mark V` target sets (whole-mark writes only), else None."""
    if getattr(target, "name", None) != "MARK":
        return None
    for opt in target.options:
        if opt.name == "xmark" and opt.value.mask == MARK_BITS:
            return opt.value.value
    return None


# modules whose test without options the checker models (a readable transport header)
_OPTIONLESS_MODELLED = frozenset({"tcp", "udp", "udplite", "comment"})


def opaque_name(m: Match, opt) -> str:
    """The field of a test the checker does not model; opt None: the module's own test."""
    if opt is None:
        return f"opaque:{m.module}"
    return f"opaque:{m.module}:{opt.name}:{opt.value!r}:{opt.negated}"


def _collect_match(space: Space, m: Match, chain_key: tuple, seen: dict) -> None:
    f = space.field
    for opt in m.options:
        name = opt.name
        if m.module in ("tcp", "udp", "multiport") and name in ("sport", "dport", "sports",
                                                               "dports", "ports"):
            for p in _ports(opt.value):
                for port_field in ({"sport": ["sport"], "sports": ["sport"], "dport": ["dport"],
                                    "dports": ["dport"], "ports": ["sport", "dport"]}[name]):
                    f(port_field, lambda: Intervals(16)).add(p.first, p.last)
        elif name == "tcp-flags":
            f("tcp_flags", lambda: Flags(TCP_FLAGS)).use(opt.value.mask | opt.value.compare)
        elif name in ("icmp-type", "icmpv6-type"):
            if opt.value.type is not None:
                f("icmp_type", Names).add(opt.value.type)
                if (opt.value.code_min, opt.value.code_max) != (0, 255):
                    f("icmp_code", Names).add(opt.value.code_min)
        elif name in ("ctstate", "state"):
            nat = opt.value & {"SNAT", "DNAT"}
            if nat:
                f("ct_status", lambda: Flags(CT_STATUS)).use(nat)
        elif name == "ctstatus":
            f("ct_status", lambda: Flags(CT_STATUS)).use(opt.value)
        elif name == "ctproto":
            f("proto", Names).add(opt.value)
        elif name == "ctdir":
            f("ct_dir", lambda: _closed(["ORIGINAL", "REPLY"]))
        elif m.module == "mark" and name == "mark" and mark_interval(opt.value):
            f("mark", lambda: Intervals(32)).add(*mark_interval(opt.value))
        elif m.module == "recent":
            continue
        elif m.module in ("limit", "comment", "hashlimit", "connlimit"):
            continue
        else:
            f(opaque_name(m, opt), lambda: _closed([False, True]))
    if not m.options and m.module not in _OPTIONLESS_MODELLED:
        f(opaque_name(m, None), lambda: _closed([False, True]))
    if m.module == "recent":
        opts = {o.name: o for o in m.options}
        ages = f(recent_field(m), lambda: Intervals(32))
        ages.add(0, 0)                                   # just updated
        ages.add(ABSENT, ABSENT)                         # not in the list
        if "seconds" in opts and opts["seconds"].value:
            ages.add(0, opts["seconds"].value - 1)       # seen within the window
    elif m.module == "limit":
        f(limit_field(m, seen, chain_key), lambda: _closed([False, True]))
    elif m.module == "hashlimit":
        normal = normal_hashlimit(m)
        name = limit_field(normal, seen, chain_key) if normal.module == "limit" \
            else hashlimit_field(normal, seen, chain_key)
        f(name, lambda: _closed([False, True]))
    elif m.module == "connlimit":
        f(connlimit_field(m, seen, chain_key), lambda: _closed([False, True]))


def recent_field(m: Match) -> str:
    """A recent list's state for the packet's source or destination: how long ago the address
    was last seen, in whole seconds (atoms cut at every --seconds), or absent."""
    opts = {o.name: o for o in m.options}
    return f"recent:{opts['name'].value}:{opts['side'].value}:{opts['mask'].value}"


def limit_field(m: Match, seen: dict, chain_key: tuple) -> str:
    """Whether this rate limit is over its rate now. Each limit is a token bucket of its own;
    the two rulesets' limits pair up by chain, rate, burst and order among such limits."""
    opts = {o.name: o.value for o in m.options}
    key = (chain_key, opts["limit"], opts["limit-burst"])
    seen[key] = seen.get(key, -1) + 1
    return f"limit:{chain_key}:{opts['limit']}:{opts['limit-burst']}:{seen[key]}"


def hashlimit_field(normal: Match, seen: dict, chain_key: tuple) -> str:
    """Whether the packet's key is over its rate in this hashlimit table. The table's buckets
    are shared by every rule naming it, so the field is the table's (name and configuration,
    as limit_values.normal_hashlimit gives them, whichever of upto/above tests it), not the
    rule's. A table without a key and without a name in its normal form (`limit rate over`)
    is one bucket per rule, paired like a limit."""
    rate = normal.options[0].value
    rest = ":".join(f"{o.name}={o.value!r}" for o in normal.options[1:])
    if not any(o.name == "name" for o in normal.options):
        key = (chain_key, "hashlimit", rate, rest)
        seen[key] = seen.get(key, -1) + 1
        return f"limit:hashlimit:{chain_key}:{rate!r}:{rest}:{seen[key]}"
    return f"limit:hashlimit:{rate!r}:{rest}"


def connlimit_field(m: Match, seen: dict, chain_key: tuple) -> str:
    """Whether the packet's key has more connections than this connlimit allows. Each rule
    counts on its own; the two rulesets' connlimits pair up by chain, count, mask, side and
    order among such matches."""
    opts = normal_connlimit(m).options
    key = (chain_key, "connlimit", opts[0].value, opts[1].value, opts[2].value)
    seen[key] = seen.get(key, -1) + 1
    return f"limit:connlimit:{chain_key}:{opts[0].value}:{opts[1].value}:{opts[2].value}:" \
           f"{seen[key]}"


ABSENT = (1 << 32) - 1        # a recent list's "age" for an address it does not hold
