"""ipsets → named nft sets: `-m set --match-set` lookups and `-j SET` updates.

An iptables rule only names an ipset; what it tests depends on the set's type (the key built
from the packet: address, network, protocol and port, MAC) and its members, which live in the
kernel. Both come from `--ipsets` (the output of `ipset save`). Without them a rule that uses a
set is refused: an nft set needs its type, and an empty set would not be the same firewall.

What is exact and what is not:
- hash:ip / hash:net / bitmap:ip: `ip saddr @S` (networks: `flags interval`).
- hash:ip,port / hash:net,port / hash:ip,port,ip: the port dimension is a protocol and a port
  in ipset (`tcp:80`), so the key is `ip saddr . meta l4proto . th dport`. ipset reads ports
  of TCP, UDP, SCTP and UDPlite only (ICMP members encode type/code, which nft has no key
  for: refused); a non-first fragment has no port in both, so neither matches it.
- `!` on a set with a port or MAC dimension is refused: ipset's inverted test holds for
  packets without a port (fragments, other protocols) or without an Ethernet header, where
  nft's `th dport` / `ether saddr` stop the rule.
- bitmap:port: ipset reads the port of any protocol (and an ICMP type/code as a port); exact
  only when the rule tests `-p tcp|udp|sctp|udplite`, as `tcp dport @S`.
- size: ipset's maxelem, written out (without one, the kernel caps a set that a rule adds to
  at 65,535, nft_dynset_init; ipset's default is 65,536).
- timeout: the set's default timeout; a member keeps the remaining time `ipset save` printed,
  as `ipset restore` of the same file would give it.
- `-j SET --add-set` is `add @S { key }`, with --exist `update` (which refreshes a member's
  timeout, as --exist does), --timeout the member's timeout; `--del-set` is `delete`. Sets
  with intervals (networks) or bitmaps cannot be updated from the packet path exactly (nft
  refuses dynamic interval sets; a bitmap refuses members outside its range): refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..ir import Address, IpSet, Rule, SourceLocation
from .nft_ast import Compare, Concat, Meta, NftSet, Payload, Prefix, SetElem, SetRef, SetUpdate
from .nft_ast import Symbol as Sym
from .nft_common import L4_NAMES, address_text
from .nft_names import Namer
from .nft_recent import Untranslatable

# the types translated, with their dimensions (ipset_sets.DIMENSIONS spells them the same)
TYPES = {"hash:ip": ("ip",), "hash:net": ("net",), "hash:ip,port": ("ip", "port"),
         "hash:net,port": ("net", "port"), "hash:ip,port,ip": ("ip", "port", "ip"),
         "hash:mac": ("mac",), "bitmap:ip": ("ip",), "bitmap:port": ("port",)}
_REASONS = {
    "list:set": "a list:set tests its member sets in turn (the first that matches), and nft "
                "has no set of sets; write one rule per member set",
    "hash:ip,mark": "nft can look up `ip saddr . meta mark`, but ipset masks the mark with "
                    "markmask first; not translated yet",
    "hash:net,iface": "not translated yet",
    "hash:net,net": "not translated yet",
    "hash:ip,port,net": "not translated yet",
    "hash:net,port,net": "not translated yet",
    "hash:ip,mac": "ipset tests the MAC only where the packet has an Ethernet source; not "
                   "translated yet",
    "bitmap:ip,mac": "ipset fills in the MAC of a member on first sight; nft has no such set",
}
PORT_PROTOCOLS = frozenset({6, 17, 132, 136})       # ports ipset reads the same way as th
NO_IPSETS_HINT = "pass the sets with --ipsets FILE (the output of `ipset save`)"


@dataclass(slots=True)
class _Use:
    ipset: IpSet
    name: str                                   # in nft
    dynamic: bool = False
    problem: Untranslatable | None = None       # why it cannot be declared (every use says so)
    elements: tuple = ()
    interval: bool = False
    notes: list[str] = field(default_factory=list)


class IpsetPlan:
    """The ipsets one nft table uses: their declarations and each rule's statements."""

    def __init__(self, family: str, namer: Namer, ipsets: tuple[IpSet, ...]):
        self.family = family                    # ip / ip6: the iptables family of the table
        self.namer = namer
        self.known = {s.name: s for s in ipsets}
        self.given = bool(ipsets)
        self.used: dict[str, _Use] = {}

    # --- declarations -----------------------------------------------------------------------

    def _use(self, name: str) -> _Use:
        use = self.used.get(name)
        if use is not None:
            if use.problem:
                raise use.problem
            return use
        ipset = self.known.get(name)
        if ipset is None:
            if self.given:
                raise Untranslatable(f"ipset {name} is not in the --ipsets file",
                                     "add it to the file given with --ipsets")
            raise Untranslatable(f"the type and members of ipset {name} are not known",
                                 NO_IPSETS_HINT)
        use = _Use(ipset, self.namer.claim(name, name, "set"))
        try:
            self._check(ipset)
            use.elements, use.interval = _elements(ipset, self.family, use.notes)
        except Untranslatable as exc:
            use.problem = exc
            self.used[name] = use
            raise
        self.used[name] = use
        return use

    def _check(self, s: IpSet) -> None:
        if s.type not in TYPES:
            raise Untranslatable(f"ipset {s.name} is a {s.type}: "
                                 f"{_REASONS.get(s.type, 'not translated')}")
        if s.family is not None and s.family != self.family:
            ours = "IPv4" if self.family == "ip" else "IPv6"
            raise Untranslatable(f"ipset {s.name} holds {'IPv6' if s.family == 'ip6' else 'IPv4'}"
                                 f" members, and an {ours} rule never matches it",
                                 "use it from the other family's rules (ip6tables/iptables)")
        if s.option("netmask") is not None:
            raise Untranslatable(f"ipset {s.name} has a netmask (members are networks the "
                                 "packet's address is masked into); not translated yet")
        if s.timeout == 0:
            raise Untranslatable(f"ipset {s.name} was created with `timeout 0`; nft has no "
                                 "timeout set whose members stay by default")

    def sets(self) -> list[NftSet]:
        out = []
        order = list(self.known)
        # in the order of the --ipsets file, whichever rule used a set first
        for use in sorted(self.used.values(), key=lambda u: order.index(u.ipset.name)):
            if use.problem:
                continue
            s = use.ipset
            key = " . ".join(_type_name(d, s, self.family) for d in TYPES[s.type])
            rng = s.option("range")
            # a set a rule adds to is capped at 65535 without a size, and ipset's default
            # maxelem is 65536: always written
            comment = (f"ipset {s.name}: {s.type}, range {rng.value} (size: its {s.maxelem} "
                       "members)" if rng else
                       f"ipset {s.name}: {s.type}, size = its maxelem ({s.maxelem})")
            if s.timeout is not None and any(o.name == "timeout" for _, opts in s.entries
                                             for o in opts):
                comment += "; members keep the time they had left when saved"
            out.append(NftSet(use.name, key, s.maxelem, s.timeout, use.dynamic, comment,
                              use.elements, use.interval, s.counters, (s.name, s.type)))
        return out

    def notes(self) -> list[str]:
        return [n for use in self.used.values() for n in use.notes]

    # --- statements -------------------------------------------------------------------------

    def match(self, rule: Rule, negated: bool, ref, counters_skipped: bool,
              proto: int | None) -> list:
        name, dirs = ref
        use = self._use(name)
        s = use.ipset
        dims = TYPES[s.type]
        if counters_skipped and s.counters:
            raise Untranslatable(f"! --update-counters: nft updates the counters of ipset "
                                 f"{s.name}'s members on every lookup")
        if negated and ("port" in dims or "mac" in dims):
            raise Untranslatable(f"! --match-set on {s.type} also holds for packets without "
                                 f"{'a port' if 'port' in dims else 'an Ethernet header'} "
                                 "(fragments, other protocols), where nft's lookup stops the "
                                 "rule", "split the rule, or test the protocol first and "
                                 "use a positive match")
        key = self._key(s, dims, dirs, proto)
        return [Compare(key, "!=" if negated else "==", SetRef(use.name))]

    def update(self, rule: Rule, op: str, ref, timeout: int | None, proto: int | None):
        name, dirs = ref
        use = self._use(name)
        s = use.ipset
        dims = TYPES[s.type]
        if use.interval or s.type.startswith("bitmap:"):
            why = ("nft cannot add to a set of networks (an interval set) from the packet "
                   "path" if use.interval else
                   "a bitmap refuses members outside its range, an nft set does not")
            raise Untranslatable(f"-j SET on ipset {s.name} ({s.type}): {why}")
        if s.option("forceadd") is not None:
            raise Untranslatable(f"ipset {s.name} has forceadd (a full set evicts a random "
                                 "member); a full nft set refuses the new one")
        if "mac" in dims:
            raise Untranslatable("-j SET on a hash:mac set: ipset skips packets without an "
                                 "Ethernet source or with a zero one, nft adds them")
        if "port" in dims and proto not in PORT_PROTOCOLS:
            raise Untranslatable(f"-j SET on {s.type} without -p tcp, udp, sctp or udplite: "
                                 "ipset stores an ICMP type/code as the port, nft cannot",
                                 "add -p tcp (or udp, …) to the rule")
        if timeout is not None and s.timeout is None:
            raise Untranslatable(f"--timeout on ipset {s.name}, which was created without "
                                 "timeout (ipset refuses the member)")
        use.dynamic = True
        return [SetUpdate(op, use.name, self._key(s, dims, dirs, proto), timeout=timeout)]

    def _key(self, s: IpSet, dims, dirs, proto):
        if len(dirs) < len(dims):
            raise Untranslatable(f"ipset {s.name} ({s.type}) has {len(dims)} dimensions and the "
                                 f"rule gives {len(dirs)} direction(s): ipset never matches",
                                 f"give {len(dims)} directions, e.g. "
                                 f"{','.join(['src'] * len(dims))}")
        ip = "ip" if self.family == "ip" else "ip6"
        items: list = []
        for dim, direction in zip(dims, dirs, strict=False):   # extra directions are ignored
            side = "saddr" if direction == "src" else "daddr"
            if dim in ("ip", "net"):
                items.append(Payload(ip, side))
            elif dim == "mac":
                items.append(Payload("ether", side))
            elif s.type == "bitmap:port":
                if proto not in PORT_PROTOCOLS:
                    raise Untranslatable(f"bitmap:port set {s.name} without -p tcp, udp, sctp "
                                         "or udplite: ipset also reads an ICMP type/code as a "
                                         "port", "add -p tcp (or udp, …) to the rule")
                items.append(Payload(L4_NAMES[proto], side[0] + "port"))
            else:
                items += [Meta("l4proto"), Payload("th", side[0] + "port")]
        return items[0] if len(items) == 1 else Concat(tuple(items))


def _type_name(dim: str, s: IpSet, family: str) -> str:
    if dim in ("ip", "net"):
        return "ipv4_addr" if family == "ip" else "ipv6_addr"
    if dim == "mac":
        return "ether_addr"
    return "inet_service" if s.type == "bitmap:port" else "inet_proto . inet_service"


def _value(dim: str, v, s: IpSet):
    if dim in ("ip", "net"):
        plen = v.prefixlen
        text = address_text(v.addr)
        return [Sym(text) if plen == v.addr.max_prefixlen else Prefix(text, plen)]
    if dim == "mac":
        return [Sym(v)]
    if s.type == "bitmap:port":
        return [Sym(str(v))]
    proto, port = v
    if proto not in PORT_PROTOCOLS or not isinstance(port, int):
        raise Untranslatable(f"ipset {s.name} has a member with protocol {proto} ({port}): "
                             "ipset reads ports of TCP, UDP, SCTP and UDPlite only; nft has no "
                             "key for the others")
    return [Sym(L4_NAMES[proto]), Sym(str(port))]


def _elements(s: IpSet, family: str, notes: list[str]) -> tuple[tuple, bool]:
    dims = TYPES[s.type]
    interval = "net" in dims
    entries = list(s.entries)
    for values, options in entries:
        if any(o.name == "nomatch" for o in options):
            raise Untranslatable(f"ipset {s.name} has a nomatch member ({_show(values)}): an "
                                 "exception inside a network, which nft sets cannot hold")
    if s.type == "hash:net":
        entries = _merged(s, entries, notes)
    out = []
    for values, options in entries:
        opts = {o.name: o.value for o in options}
        parts: list = []
        for dim, v in zip(dims, values, strict=True):
            parts += _value(dim, v, s)
        value = parts[0] if len(parts) == 1 else Concat(tuple(parts))
        timeout = opts.get("timeout")
        if timeout == 0 and s.timeout:
            raise Untranslatable(f"ipset {s.name}: member {_show(values)} never times out "
                                 "(timeout 0), which an nft set with a timeout cannot hold")
        comment = opts.get("comment")
        out.append(SetElem(value, timeout, comment) if timeout or comment else value)
    return tuple(out), interval


def _merged(s: IpSet, entries, notes: list[str]):
    """hash:net members may overlap (10.0.0.0/8 and 10.1.0.0/16); an nft interval set may
    not. Membership is the union either way, so overlapping networks are merged."""
    nets = [ipaddress.ip_network(f"{v[0].addr}/{v[0].prefixlen}") for v, _ in entries]
    ordered = sorted(range(len(nets)), key=lambda i: (nets[i].network_address,
                                                      -nets[i].prefixlen))
    overlap = any(nets[a].overlaps(nets[b]) for a, b in zip(ordered, ordered[1:], strict=False))
    if not overlap:
        return entries
    if s.timeout is not None or any(opts for _, opts in entries):
        raise Untranslatable(f"ipset {s.name} has overlapping networks with their own timeouts "
                             "or comments; an nft interval set cannot hold overlapping members")
    merged = ipaddress.collapse_addresses(nets)
    notes.append(f"ipset {s.name}: overlapping networks merged (the same addresses match)")
    return [((Address(n.network_address, n.netmask),), ()) for n in merged]


def _show(values) -> str:
    def one(v):
        if isinstance(v, Address):
            return address_text(v.addr) + ("" if v.is_host else f"/{v.prefixlen}")
        return f"{v[0]}:{v[1]}" if isinstance(v, tuple) else str(v)
    return ",".join(one(v) for v in values)


__all__ = ["IpsetPlan", "NO_IPSETS_HINT", "TYPES", "SourceLocation"]
