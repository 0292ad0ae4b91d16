"""IR → nftables model (nft_ast): every decision about meaning is taken here.

Each iptables rule becomes one nft rule with the same meaning, statements in the same order
(so side effects such as limit and recent happen for the same packets). A rule that has no
exact translation is never dropped: it is reported with its location and reason, and only
with allow_partial does the output go on without it (as a visible comment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from socket import inet_ntoa

from .. import mappings
from ..errors import Diagnostic
from ..ir import (
    Address,
    Chain,
    IcmpType,
    Jump,
    Match,
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
from . import iptables_save
from .nft_ast import (
    AnonSet,
    BaseChain,
    BitAnd,
    Compare,
    Concat,
    Counter,
    Ct,
    Expr,
    FlagList,
    Limit,
    Log,
    Meta,
    Nat,
    NftChain,
    NftRule,
    NftRuleset,
    NftTable,
    Payload,
    Prefix,
    Queue,
    Range,
    Reject,
    Statement,
    Symbol,
    TcpOption,
    Text,
)
from .nft_ast import Verdict as NftVerdict
from .nft_names import Namer, chain_name, table_name, writable
from .nft_recent import SIDE_EFFECT_MODULES, RecentPlan, Untranslatable
from .nft_sets import hoist

NFT_COMMENT_MAX = 128
# matches whose nft form tests the protocol themselves (`tcp dport 22` implies tcp)
_IMPLYING = frozenset({"tcp", "udp", "udplite", "icmp", "icmp6", "multiport"})
_L4_NAMES = {6: "tcp", 17: "udp", 136: "udplite", 132: "sctp", 33: "dccp"}


@dataclass(frozen=True, slots=True)
class NftOptions:
    table: str = "fwmigrate"
    family: str | None = None       # None: one table per family; ip / ip6: only that one; inet
    counters: bool = False
    approximate: bool = False
    scheme: str = "fwmigrate"       # or "iptables-nft" (the drop-in commands)


@dataclass(slots=True)
class Translation:
    ruleset: NftRuleset
    problems: list[Diagnostic] = field(default_factory=list)       # untranslatable rules
    approximations: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Ctx:
    family: str                     # the iptables family: ip / ip6
    ipt_table: str
    chains: dict[str, str]          # iptables chain → nft chain name
    recent: RecentPlan
    options: NftOptions
    proto: int | None = None


class _Translator:
    def __init__(self, options: NftOptions):
        self.options = options
        self.result = Translation(NftRuleset(()))
        # (match, family, protocol) → statements: rules repeat the same matches many times
        self.match_cache: dict[tuple, list[Statement]] = {}
        self.shape_cache: dict[tuple, tuple] = {}

    # --- tables -----------------------------------------------------------------------------

    def translate(self, ruleset: Ruleset) -> Translation:
        opts = self.options
        families = list(ruleset.families)
        if opts.family in ("ip", "ip6"):
            if opts.family not in families:
                raise Untranslatable(f"the input has no {'IPv4' if opts.family == 'ip' else 'IPv6'}"
                                     " rules", "leave out --family to translate what it has")
            families = [opts.family]
        if opts.family == "inet" and len(families) > 1:
            raise Untranslatable("merging IPv4 and IPv6 rules into one inet table is not "
                                 "supported yet", "use --family ip and --family ip6, or leave "
                                 "out --family to get one table per family")
        tables: list[NftTable] = []
        for family in families:
            ipt_tables = [t for t in ruleset.tables if t.family == family]
            if opts.scheme == "iptables-nft":
                for t in ipt_tables:
                    tables.append(self._table(family, family, t.name, [t]))
            else:
                nft_family = "inet" if opts.family == "inet" else family
                tables.append(self._table(family, nft_family, opts.table, ipt_tables))
        self.result.ruleset = hoist(NftRuleset(tuple(tables), tuple(self.result.notes)))
        return self.result

    def _table(self, family: str, nft_family: str, name: str, ipt_tables: list[Table]) -> NftTable:
        namer = Namer()
        recent = RecentPlan(family, namer, self.options.approximate)
        chain_maps: dict[str, dict[str, str]] = {}
        # base chains claim their names first, so a user chain never takes one of them
        for builtin_pass in (True, False):
            for t in ipt_tables:
                names = chain_maps.setdefault(t.name, {})
                for chain in t.chains:
                    if chain.builtin == builtin_pass:
                        wanted = chain_name(self.options.scheme, t.name, chain.name)
                        names[chain.name] = namer.claim(wanted, chain.name, "chain")
        for t in ipt_tables:
            for chain in t.chains:
                for rule in chain.rules:
                    recent.add(rule)
        recent.plan()
        chains: list[NftChain] = []
        for t in ipt_tables:
            ctx = _Ctx(family, t.name, chain_maps[t.name], recent, self.options)
            for chain in t.chains:
                chains.append(self._chain(t, chain, ctx, nft_family))
        for loc, text in recent.approximations:
            self.result.approximations.append(Diagnostic(loc, text, "warning"))
        for kind, original, new in namer.renamed:
            self.result.notes.append(f"{kind} {original} is called {new} in nft ({original!r} "
                                     "cannot be written as an nft name)")
        return NftTable(nft_family, table_name(self.options.scheme, name, ipt_tables[0].name
                                               if ipt_tables else "filter"),
                        tuple(recent.sets()), tuple(chains))

    def _chain(self, table: Table, chain: Chain, ctx: _Ctx, nft_family: str) -> NftChain:
        rules = []
        if nft_family == "inet" and chain.builtin:
            # an inet chain sees both families; the other one passes untouched, as it did
            # when only this family's iptables had rules
            other = "ipv6" if ctx.family == "ip" else "ipv4"
            rules.append(NftRule((Compare(Meta("nfproto"), "==", Symbol(other)),
                                  NftVerdict("accept"))))
        for rule in chain.rules:
            rules.append(self._rule(table, chain, rule, ctx))
        base = None
        if chain.builtin:
            spec = mappings.base_chain(table.name, chain.name)
            base = BaseChain(spec.type, spec.hook, spec.priority, chain.policy.lower())
        comment = None
        if ctx.chains[chain.name] != chain_name(self.options.scheme, table.name, chain.name):
            comment = f"iptables chain {chain.name} (table {table.name})"
        return NftChain(ctx.chains[chain.name], tuple(rules), base, comment)

    # --- rules ------------------------------------------------------------------------------

    def _rule(self, table: Table, chain: Chain, rule: Rule, ctx: _Ctx) -> NftRule:
        try:
            statements, comment = self._statements(rule, ctx)
        except Untranslatable as exc:
            text = iptables_save.rule_line(chain.name, rule, with_counters=False)
            self.result.problems.append(Diagnostic(
                rule.loc, f"cannot translate `{text}' exactly: {exc.message}", "error", exc.hint))
            return NftRule((), exc.message, rule.loc, untranslated=f"-t {table.name} {text}")
        return NftRule(tuple(statements), comment, rule.loc)

    def _statements(self, rule: Rule, ctx: _Ctx) -> tuple[list[Statement], str | None]:
        ctx.proto = rule.protocol.value if rule.protocol and not rule.protocol.negated else None
        parts = (rule.in_interface, rule.out_interface, rule.protocol, rule.fragment,
                 rule.matches, rule.target)
        # Rules read from one template share these objects; everything but the addresses is
        # then translated once. Keyed by identity (the ruleset keeps them alive meanwhile).
        key = tuple(map(id, parts))
        cached = self.shape_cache.get(key)
        if cached is None or any(a is not b for a, b in zip(cached[0], parts)):
            cached = (parts, *self._shape(rule, ctx))
            if not any(m.module == "recent" for m in rule.matches):
                self.shape_cache[key] = cached
        _parts, interfaces, middle, target, comment = cached
        out = list(interfaces)
        ip = ctx.family
        if rule.source is not None:
            out.append(_address_compare(_PAYLOADS[ip, "saddr"], rule.source.value,
                                        rule.source.negated))
        if rule.destination is not None:
            out.append(_address_compare(_PAYLOADS[ip, "daddr"], rule.destination.value,
                                        rule.destination.negated))
        out += middle
        if self.options.counters:
            c = rule.counters
            out.append(Counter(c.packets, c.bytes) if c else _COUNTER)
        out += target
        return out, comment

    def _shape(self, rule: Rule, ctx: _Ctx):
        """Everything but the addresses: interfaces, (protocol, matches), target, comment."""
        interfaces: list[Statement] = []
        for sel, key in ((rule.in_interface, "iifname"), (rule.out_interface, "oifname")):
            if sel is not None:
                name = sel.value
                if "*" in name[:-1] or name.endswith("*"):
                    raise Untranslatable(f"interface name {name!r} contains `*', which nft "
                                         "reads as a wildcard")
                pattern = name[:-1] + "*" if name.endswith("+") else name
                interfaces.append(Compare(Meta(key), _op(sel.negated), Text(pattern)))
        middle: list[Statement] = []
        ip = ctx.family
        if rule.protocol is not None and not self._protocol_implied(rule):
            number = rule.protocol.value
            left = Payload("ip", "protocol") if ip == "ip" else Meta("l4proto")
            middle.append(Compare(left, _op(rule.protocol.negated), _protocol(number)))
        if rule.fragment is not None:
            middle.append(Compare(BitAnd(Payload("ip", "frag-off"), Symbol("0x1fff")),
                                  "==" if rule.fragment.negated else "!=", Symbol("0")))
        comments: list[str] = []
        for index, match in enumerate(rule.matches):
            if match.module == "comment":
                comments.append(match.options[0].value)
                continue
            if match.module == "recent":      # depends on the list's plan, not only on itself
                middle += self._match(rule, index, match, ctx)
                continue
            key = (match, ctx.family, ctx.proto)
            cached = self.match_cache.get(key)
            if cached is None:
                cached = self.match_cache[key] = self._match(rule, index, match, ctx)
            middle += cached
        target = self._target(rule, ctx)
        comment = " ".join(comments) if comments else None
        if comment is not None and len(comment.encode()) > NFT_COMMENT_MAX:
            comment = comment.encode()[:NFT_COMMENT_MAX].decode(errors="ignore")
            self.result.notes.append(f"a comment at {rule.loc} is cut to nft's "
                                     f"{NFT_COMMENT_MAX} bytes")
        return tuple(interfaces), tuple(middle), tuple(target), comment

    def _protocol_implied(self, rule: Rule) -> bool:
        """Does a later match test the protocol before anything with a side effect runs?"""
        if rule.protocol.negated:
            return False
        for match in rule.matches:
            if match.module in SIDE_EFFECT_MODULES:
                return False
            if match.module in _IMPLYING:
                return True
        return False

    # --- matches ----------------------------------------------------------------------------

    def _match(self, rule: Rule, index: int, match: Match, ctx: _Ctx) -> list[Statement]:
        spec = mappings.match_specs()[match.module]
        if spec.protocols and not match.options:
            # `-p tcp -m tcp` alone still needs a readable first-fragment header, as in xt
            return [Compare(Payload(match.module, "dport"), "==",
                            Range(Symbol("0"), Symbol("65535")))]
        out: list[Statement] = []
        handled: set[str] = set()
        for opt in match.options:
            ospec = spec.by_name[opt.name]
            if ospec.nft is None:
                raise Untranslatable(f"-m {match.module} {ospec.flags[0]} has no exact nft "
                                     "equivalent", _REFUSAL_HINTS.get((match.module, opt.name)))
            if ospec.nft.startswith("@"):
                handler = ospec.nft[1:]
                if handler in handled:
                    continue
                handled.add(handler)
                out += _HANDLERS[handler](self, rule, index, match, opt, ctx)
            else:
                out.append(Compare(_selector(ospec.nft, ctx), _op(opt.negated),
                                   _value(opt, ospec.value, ctx)))
        return out

    # --- targets ----------------------------------------------------------------------------

    def _target(self, rule: Rule, ctx: _Ctx) -> list[Statement]:
        target = rule.target
        if target is None:
            return []
        if isinstance(target, Verdict):
            if target.name == "QUEUE":
                return [Queue(0)]
            return [NftVerdict(target.name.lower())]
        if isinstance(target, Jump):
            return [NftVerdict("goto" if target.goto else "jump", ctx.chains[target.chain])]
        return _TARGETS[target.name](self, rule, target, ctx)


# --- helpers -------------------------------------------------------------------------------


def _op(negated: bool) -> str:
    return "!=" if negated else "=="


def _protocol(number: int) -> Symbol:
    return Symbol(mappings.protocol_nft_names().get(number, str(number)))


_PAYLOADS = {(ip, key): Payload(ip, key) for ip in ("ip", "ip6") for key in ("saddr", "daddr")}
_COUNTER = Counter()


def _address_text(addr) -> str:
    if addr.version == 4:       # ipaddress' own str() is several times slower
        return inet_ntoa(addr.packed)
    return str(addr)


def _address(addr: Address) -> Expr:
    plen = addr.prefixlen
    if plen == addr.addr.max_prefixlen:
        return Symbol(_address_text(addr.addr))
    return Prefix(_address_text(addr.addr), plen)


def _address_compare(left: Expr, addr: Address, negated: bool) -> Compare:
    if addr.prefixlen is None:
        return Compare(BitAnd(left, Symbol(str(addr.mask))), _op(negated), Symbol(str(addr.addr)))
    return Compare(left, _op(negated), _address(addr))


def _selector(text: str, ctx: _Ctx) -> Expr:
    words = text.replace("{ip}", ctx.family).split()
    if words[0] == "{l4}":
        l4 = _L4_NAMES.get(ctx.proto or -1)
        if l4 is None:
            raise Untranslatable("the ports need -p tcp, udp, udplite, sctp or dccp")
        words[0] = l4
    if words[0] == "ct":
        direction = next((w for w in words[1:-1] if w in ("original", "reply")), None)
        family = next((w for w in words[1:-1] if w in ("ip", "ip6")), None)
        return Ct(words[-1], direction, family)
    if words[0] == "meta":
        return Meta(words[1])
    return Payload(words[0], words[1])


def _port(p: PortRange) -> Expr:
    return Symbol(str(p.first)) if p.single else Range(Symbol(str(p.first)), Symbol(str(p.last)))


def _value(opt: Option, kind: str, ctx: _Ctx) -> Expr:
    v = opt.value
    if kind == "port_range":
        return _port(v)
    if kind == "port_list":
        return _port(v[0]) if len(v) == 1 else AnonSet(tuple(_port(p) for p in v))
    if kind == "address":
        if v.prefixlen is None:
            raise Untranslatable(f"{opt.name} with a non-contiguous mask ({v.mask})")
        return _address(v)
    if kind == "protocol":
        return Symbol(str(v))
    if kind == "ct_dir":
        return Symbol(v.lower())
    raise AssertionError(f"no nft value for {kind}")


def _flags(names, order) -> FlagList:
    return FlagList(tuple(n.lower().replace("_", "-") for n in order if n in names))


# --- option handlers ----------------------------------------------------------------------

_CT_STATE_ORDER = ("INVALID", "ESTABLISHED", "RELATED", "NEW", "UNTRACKED")
_CT_STATUS_ORDER = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SNAT", "DNAT")


# states a packet without a conntrack entry can have; `ct state` reads them, other ct keys do not
_NO_ENTRY = frozenset({"INVALID", "UNTRACKED"})


def _check_no_entry(match) -> None:
    """xt_conntrack lets a packet without a conntrack entry through once its state test
    passes, ignoring the match's other options; nft's other ct keys stop the rule instead."""
    state = match.option("ctstate")
    if state is None or len(match.options) == 1:
        return
    if any((s in state.value) != state.negated for s in _NO_ENTRY):
        raise Untranslatable("with this --ctstate a packet without a conntrack entry (INVALID or "
                             "UNTRACKED) passes iptables' test and skips the other conntrack "
                             "options, while nft stops the rule at them",
                             "split the rule: one with --ctstate alone, one with the rest")


def _h_ct_state(self, rule, index, match, opt, ctx) -> list[Statement]:
    states = opt.value
    if match.module == "conntrack":
        _check_no_entry(match)
        if {"SNAT", "DNAT"} & states and opt.negated:
            raise Untranslatable("! --ctstate SNAT/DNAT also holds for packets without a "
                                 "conntrack entry, where nft's `ct status` does not",
                                 "use --ctstatus, or split the rule")
    nat = states & {"SNAT", "DNAT"}
    if nat and nat != states:
        raise Untranslatable("--ctstate mixing SNAT/DNAT with connection states means "
                             "\"either\", which one nft rule cannot say",
                             "split it into two rules with the same target")
    if nat:
        return [Compare(Ct("status"), _op(opt.negated), _flags(nat, _CT_STATUS_ORDER))]
    return [Compare(Ct("state"), _op(opt.negated), _flags(states, _CT_STATE_ORDER))]


def _h_ct_port(self, rule, index, match, opt, ctx) -> list[Statement]:
    if match.option("ctproto") is None or match.option("ctproto").negated:
        raise Untranslatable(f"--{opt.name} without --ctproto: nft reads a conntrack port only "
                             "once it knows the protocol", "add --ctproto tcp (or udp, …)")
    direction, key = {"ctorigsrcport": ("original", "proto-src"),
                      "ctorigdstport": ("original", "proto-dst"),
                      "ctreplsrcport": ("reply", "proto-src"),
                      "ctrepldstport": ("reply", "proto-dst")}[opt.name]
    out: list[Statement] = []
    if self.options.family == "inet":
        # in an inet table nft needs the family to read a conntrack port
        out.append(Compare(Meta("nfproto"), "==",
                           Symbol("ipv4" if ctx.family == "ip" else "ipv6")))
    return out + [Compare(Ct(key, direction), _op(opt.negated), _port(opt.value))]


def _h_ct_status(self, rule, index, match, opt, ctx) -> list[Statement]:
    if not opt.value:
        raise Untranslatable("--ctstatus NONE has no nft equivalent")
    return [Compare(Ct("status"), _op(opt.negated), _flags(opt.value, _CT_STATUS_ORDER))]


def _h_tcp_flags(self, rule, index, match, opt, ctx) -> list[Statement]:
    value: TcpFlags = opt.value
    order = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")
    # the kernel compares (flags & mask) with the whole compare set: bits outside the mask
    # make the test impossible, and nft is given exactly that test
    mask = _flags(value.mask, order) if value.mask else Symbol("0x0")
    compare = _flags(value.compare, order)
    right = compare if compare.names else Symbol("0x0")
    return [Compare(BitAnd(Payload("tcp", "flags"), mask), _op(opt.negated), right)]


def _h_tcp_option(self, rule, index, match, opt, ctx) -> list[Statement]:
    if opt.value < 2:
        raise Untranslatable(f"--tcp-option {opt.value}: iptables and nft scan one-byte options "
                             "(EOL, NOP) differently at the end of the header")
    option = TcpOption(opt.value, mappings.tcp_option_names().get(opt.value))
    out: list[Statement] = []
    if opt.negated and not any(o.name != "tcp-option" for o in match.options):
        # nft's "missing" also holds where there is no TCP header (other protocols, later
        # fragments); xt's tcp match fails there: test for a readable TCP header first
        out.append(Compare(Payload("tcp", "dport"), "==", Range(Symbol("0"), Symbol("65535"))))
    out.append(Compare(option, "==", Symbol("missing" if opt.negated else "exists")))
    return out


def _h_icmp_type(self, rule, index, match, opt, ctx) -> list[Statement]:
    value: IcmpType = opt.value
    proto = "icmp" if match.module == "icmp" else "icmpv6"
    if value.type is None:            # `any`: any type, but like xt only with a readable header
        if opt.negated:
            raise Untranslatable("! --icmp-type any never matches")
        return [Compare(Payload(proto, "type"), "==", Range(Symbol("0"), Symbol("255")))]
    family = "ip" if proto == "icmp" else "ip6"
    type_sym = Symbol(mappings.icmp_nft_types(family).get(value.type, str(value.type)))
    if value.code_min == 0 and value.code_max == 0xFF:
        return [Compare(Payload(proto, "type"), _op(opt.negated), type_sym)]
    codes = mappings.icmp_nft_codes(family).get(value.type, {})
    code_sym = Symbol(codes.get(value.code_min, str(value.code_min)))
    if opt.negated:
        return [Compare(Concat((Payload(proto, "type"), Payload(proto, "code"))), "!=",
                        AnonSet((Concat((type_sym, code_sym)),)))]
    return [Compare(Payload(proto, "type"), "==", type_sym),
            Compare(Payload(proto, "code"), "==", code_sym)]


def _h_limit(self, rule, index, match, opt, ctx) -> list[Statement]:
    rate = match.option("limit").value
    burst = match.option("limit-burst").value
    return [Limit(rate.count, rate.unit, burst)]


def _h_recent(self, rule, index, match, opt, ctx) -> list[Statement]:
    return ctx.recent.statements(rule, index)


def _h_comment(self, rule, index, match, opt, ctx) -> list[Statement]:
    return []


_HANDLERS = {
    "ct_state": _h_ct_state, "ct_status": _h_ct_status, "ct_port": _h_ct_port, "tcp_flags": _h_tcp_flags,
    "tcp_option": _h_tcp_option, "icmp_type": _h_icmp_type, "limit": _h_limit,
    "recent": _h_recent, "comment": _h_comment,
}

_REFUSAL_HINTS = {
    ("multiport", "ports"): "write two rules, one with --sports and one with --dports",
    ("conntrack", "ctexpire"): "nft compares the remaining time in milliseconds exactly, "
                               "iptables in whole seconds",
}


# --- target handlers ----------------------------------------------------------------------

def _t_log(self, rule, target: TargetExtension, ctx) -> list[Statement]:
    prefix = target.option("log-prefix")
    level = target.option("log-level").value
    flags = []
    if target.option("log-tcp-sequence") and target.option("log-tcp-options"):
        flags.append("tcp sequence,options")
    elif target.option("log-tcp-sequence"):
        flags.append("tcp sequence")
    elif target.option("log-tcp-options"):
        flags.append("tcp options")
    if target.option("log-ip-options"):
        flags.append("ip options")
    if target.option("log-uid"):
        flags.append("skuid")
    if target.option("log-macdecode"):
        flags.append("ether")
    return [Log(prefix.value if prefix else None,
                None if level == 4 else mappings.nft_log_levels()[level], tuple(flags))]


def _t_reject(self, rule, target: TargetExtension, ctx) -> list[Statement]:
    name = target.option("reject-with").value
    statement = next(nft for n, _a, nft in mappings.reject_names(ctx.family) if n == name)
    words = statement.split()
    if words == ["reject"]:
        return [Reject()]
    if words[2:4] == ["tcp", "reset"]:
        return [Reject("tcp reset")]
    return [Reject(words[2], words[4])]


def _t_nat(self, rule, target: TargetExtension, ctx) -> list[Statement]:
    kind = target.name.lower() if target.name in ("SNAT", "DNAT") else {
        "MASQUERADE": "masquerade", "REDIRECT": "redirect"}[target.name]
    flags = []
    for opt_name, flag in (("random", "random"), ("random-fully", "fully-random"),
                           ("persistent", "persistent")):
        if target.option(opt_name):
            flags.append(flag)
    addr = addr_high = None
    ports = None
    if kind in ("snat", "dnat"):
        first, last, ports = target.options[0].value
        if first is None:
            raise Untranslatable(f"--to-{'source' if kind == 'snat' else 'destination'} "
                                 "without an address")
        addr = str(first)
        addr_high = str(last) if last != first else None
    else:
        opt = target.option("to-ports")
        ports = opt.value if opt else None
    family = None
    if self.options.family == "inet" and kind in ("snat", "dnat"):
        family = ctx.family
    return [Nat(kind, family, addr, addr_high,
                ports.first if ports else None,
                ports.last if ports and not ports.single else None, tuple(flags))]


_TARGETS = {"LOG": _t_log, "REJECT": _t_reject, "SNAT": _t_nat, "DNAT": _t_nat,
            "MASQUERADE": _t_nat, "REDIRECT": _t_nat}


def translate(ruleset: Ruleset, options: NftOptions | None = None) -> Translation:
    """The nft model of a ruleset, with every rule that could not be translated listed."""
    return _Translator(options or NftOptions()).translate(ruleset)


def check_table_name(name: str) -> str | None:
    return None if writable(name) else (f"`{name}' cannot be an nft table name (it is an nft "
                                         "keyword or has characters nft does not accept)")


__all__ = ["NftOptions", "Translation", "translate", "Untranslatable", "check_table_name",
           "SourceLocation"]
