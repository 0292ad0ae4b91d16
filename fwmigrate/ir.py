"""The intermediate representation: every frontend writes it, every backend reads only it.

The shape follows iptables (tables → chains → rules → matches with options → one target)
because that is what users wrote and what iptables-save must give back; the values inside are
typed and normalised (addresses masked, ports as ranges, states as sets) so that two spellings
of the same rule compare equal. Source locations and counters never take part in equality:
`iptables -D CHAIN <spec>` finds a rule by its meaning, not by where it was written.
"""

from __future__ import annotations

import ipaddress
from dataclasses import MISSING, dataclass, field, fields
from operator import attrgetter
from typing import Literal, Union


def quick_init(cls):
    """Build a frozen slotted dataclass's instances without paying for its frozenness.

    The generated __init__ stores each field with a C call that passes the frozen guard
    (object.__setattr__); a large dump builds several of these records per rule. From three
    fields on, __new__ fills an instance of a plain twin class with the same slots (ordinary
    attribute stores) and then makes it a `cls` by assigning its __class__, which Python
    allows between classes of the same layout: half the cost for Rule's ten fields. That has a
    fixed cost of its own, so one or two fields are stored by an __init__ through the slots'
    own descriptors. Same parameters and defaults as the generated __init__ either way."""
    params, stores, names = [], [], {}
    for f in fields(cls):
        if f.default_factory is not MISSING or not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields and defaults")
        if f.default is MISSING:
            params.append(f.name)
        else:
            names[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        names[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        stores.append(f.name)
    if len(stores) <= 2:
        body = [f"    _set_{name}(self, {name})" for name in stores]
        exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body), names)
        cls.__init__ = names["__init__"]
        cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
        return cls
    names.update(_twin=type(f"_Unfrozen{cls.__name__}", (), {"__slots__": cls.__slots__}),
                 _new=object.__new__)
    body = [f"    self.{name} = {name}" for name in stores]
    exec(f"def __new__(cls, {', '.join(params)}):\n    self = _new(_twin)\n"
         + "\n".join(body) + "\n    self.__class__ = cls\n    return self", names)
    cls.__new__ = names["__new__"]
    cls.__new__.__qualname__ = f"{cls.__qualname__}.__new__"
    del cls.__init__
    # copy and pickle: through the constructor (object's way calls __new__ without fields)
    getter = attrgetter(*stores)
    cls.__reduce__ = lambda self: (type(self), getter(self))
    return cls


Family = Literal["ip", "ip6"]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


@quick_init
@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# --- option values -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PortRange:
    first: int
    last: int

    @property
    def single(self) -> bool:
        return self.first == self.last


@quick_init
@dataclass(frozen=True, slots=True)
class Address:
    """An address under a mask, host bits already cleared (as the kernel stores it)."""
    addr: IPAddress
    mask: IPAddress

    @property
    def version(self) -> int:
        return self.addr.version

    @property
    def prefixlen(self) -> int | None:
        """Prefix length, or None when the mask is not contiguous (e.g. 255.0.255.0)."""
        return _PREFIX_LENGTHS[self.addr.max_prefixlen].get(int(self.mask))

    @property
    def is_any(self) -> bool:
        return self.mask._ip == 0      # int(self.mask), without ipaddress' __int__ call

    @property
    def is_host(self) -> bool:
        return self.prefixlen == self.addr.max_prefixlen


_PREFIX_LENGTHS = {width: {((1 << width) - 1) ^ ((1 << (width - n)) - 1): n
                           for n in range(width + 1)} for width in (32, 128)}


@dataclass(frozen=True, slots=True)
class AddressRange:
    first: IPAddress
    last: IPAddress


@dataclass(frozen=True, slots=True)
class Rate:
    """A packet rate as the user gave it: `count` per `unit`."""
    count: int
    unit: Literal["second", "minute", "hour", "day"]


@dataclass(frozen=True, slots=True)
class IcmpType:
    """ICMP / ICMPv6 type with an inclusive code range; type None means `any`."""
    type: int | None
    code_min: int = 0
    code_max: int = 0xFF


@dataclass(frozen=True, slots=True)
class TcpFlags:
    mask: frozenset[str]
    compare: frozenset[str]


@dataclass(frozen=True, slots=True)
class Masked:
    """A value under a mask, as in `--mark 0x1/0xff`; mask all ones when none was given."""
    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class IntRange:
    first: int
    last: int


# None: an option that takes no value (a flag such as --rsource).
Value = Union[None, int, str, PortRange, Address, AddressRange, Rate, IcmpType, TcpFlags,
              Masked, IntRange, frozenset, tuple]


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a match or target: canonical name (no dashes), typed value, `!` before it."""
    name: str
    value: Value = None
    negated: bool = False


# --- rules ---------------------------------------------------------------------------------

@quick_init
@dataclass(frozen=True, slots=True)
class Negatable:
    """A built-in selector value (-s, -d, -i, -o, -p) and whether `!` preceded it."""
    value: object
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    """One match module instance (`-m tcp --dport 22`); options in the module's canonical order."""
    module: str
    options: tuple[Option, ...]

    def option(self, name: str) -> Option | None:
        for opt in self.options:
            if opt.name == name:
                return opt
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """ACCEPT, DROP, RETURN or QUEUE."""
    name: str


@dataclass(frozen=True, slots=True)
class Jump:
    """`-j CHAIN` (goto False) or `-g CHAIN` (goto True) to a user-defined chain."""
    chain: str
    goto: bool = False


@dataclass(frozen=True, slots=True)
class TargetExtension:
    """A target module such as LOG or REJECT, with its options in canonical order."""
    name: str
    options: tuple[Option, ...] = ()

    def option(self, name: str) -> Option | None:
        for opt in self.options:
            if opt.name == name:
                return opt
        return None


Target = Union[Verdict, Jump, TargetExtension]


@dataclass(frozen=True, slots=True)
class Counters:
    packets: int
    bytes: int


@quick_init
@dataclass(frozen=True, slots=True)
class Rule:
    source: Negatable | None = None          # Address
    destination: Negatable | None = None     # Address
    in_interface: Negatable | None = None    # str, iptables spelling (`eth+`)
    out_interface: Negatable | None = None
    protocol: Negatable | None = None        # int protocol number
    fragment: Negatable | None = None        # value True: -f
    matches: tuple[Match, ...] = ()
    target: Target | None = None             # None: the rule only matches (counts, side effects)
    counters: Counters | None = field(default=None, compare=False)
    loc: SourceLocation | None = field(default=None, compare=False)

    def match(self, module: str) -> Match | None:
        for m in self.matches:
            if m.module == module:
                return m
        return None

    @property
    def comment(self) -> str | None:
        parts = [m.options[0].value for m in self.matches if m.module == "comment"]
        return " ".join(str(p) for p in parts) if parts else None


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    rules: tuple[Rule, ...] = ()
    policy: str | None = None                # builtin chains only: ACCEPT or DROP
    counters: Counters | None = field(default=None, compare=False)
    loc: SourceLocation | None = field(default=None, compare=False)

    @property
    def builtin(self) -> bool:
        return self.policy is not None


@dataclass(frozen=True, slots=True)
class Table:
    family: Family
    name: str                                # filter, nat, mangle, raw, security
    chains: tuple[Chain, ...] = ()

    def chain(self, name: str) -> Chain | None:
        for c in self.chains:
            if c.name == name:
                return c
        return None


def untracks(target: object) -> bool:
    """NOTRACK and CT --notrack: the target that leaves a packet without a conntrack entry."""
    return isinstance(target, TargetExtension) and (target.name == "NOTRACK" or (
        target.name == "CT" and target.option("notrack") is not None))


def builtin_chains_reaching(table: Table) -> dict[str, frozenset[str]]:
    """Chain name → the built-in chains whose packets reach it through jumps and gotos
    (what the kernel checks a match or target against, and what decides a hook-dependent
    target's meaning, such as NETMAP's source or destination mapping)."""
    graph = {c.name: [r.target.chain for r in c.rules if isinstance(r.target, Jump)]
             for c in table.chains}
    reached: dict[str, set[str]] = {}
    for chain in table.chains:
        if not chain.builtin:
            continue
        stack, seen = [chain.name], {chain.name}
        while stack:
            cur = stack.pop()
            reached.setdefault(cur, set()).add(chain.name)
            for nxt in graph.get(cur, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return {name: frozenset(hooks) for name, hooks in reached.items()}


@dataclass(frozen=True, slots=True)
class IpSet:
    """An ipset as `ipset save` lists it: what `-m set` and `-j SET` rules name.

    The rules only name a set; its type (the key a lookup builds) and its contents live in
    the kernel, so they come from a second input (`--ipsets`). `entries` holds one
    (values, options) pair per member: a value per dimension of the type (Address for ip/net,
    (protocol number, port) for port, an int for bitmap:port, str for mac, the words as written
    for types fwmigrate does not read), and the add options (timeout, comment, nomatch, …)."""
    name: str
    type: str                                # hash:ip, hash:net, hash:ip,port, bitmap:port …
    family: Family | None                    # None: ipset matches both (hash:mac, bitmap:port)
    entries: tuple[tuple[tuple, tuple[Option, ...]], ...] = ()
    timeout: int | None = None               # default entry timeout, seconds (0 never happens)
    counters: bool = False
    comment: bool = False
    maxelem: int = 65536
    options: tuple[Option, ...] = ()         # the other create options: netmask, range, …
    loc: SourceLocation | None = field(default=None, compare=False)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


@dataclass(frozen=True, slots=True)
class Ruleset:
    tables: tuple[Table, ...] = ()
    source: str = "-"
    ipsets: tuple[IpSet, ...] = ()           # from --ipsets; empty when none were given

    def table(self, family: Family, name: str) -> Table | None:
        for t in self.tables:
            if t.family == family and t.name == name:
                return t
        return None

    @property
    def families(self) -> tuple[Family, ...]:
        seen: list[Family] = []
        for t in self.tables:
            if t.family not in seen:
                seen.append(t.family)
        return tuple(seen)

    def ipset(self, name: str) -> IpSet | None:
        return next((s for s in self.ipsets if s.name == name), None)
