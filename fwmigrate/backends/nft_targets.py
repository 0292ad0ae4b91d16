"""Targets → nft statements: verdicts, jumps, and a handler per target extension (TARGETS)."""

from __future__ import annotations

from .. import mappings
from ..errors import Diagnostic
from ..ir import Jump, Masked, Rule, TargetExtension, Verdict
from .nft_ast import (
    AnonSet,
    BinOp,
    BitAnd,
    Compare,
    Ct,
    Dup,
    Expr,
    FlagList,
    Log,
    Mangle,
    Meta,
    Nat,
    Notrack,
    Payload,
    Queue,
    Reject,
    Rt,
    Statement,
    Symbol,
    Synproxy,
    TcpOption,
    Tproxy,
)
from .nft_ast import Verdict as NftVerdict
from .nft_common import Ctx, address_text, reaching_hooks
from .nft_recent import Untranslatable

_ALL = 0xFFFFFFFF


def target_statements(tr, rule: Rule, ctx: Ctx) -> list[Statement]:
    """The nft statements of a rule's target (none for a rule without one)."""
    target = rule.target
    if target is None:
        return []
    if isinstance(target, Verdict):
        if target.name == "QUEUE":
            return [Queue(0)]
        return [NftVerdict(target.name.lower())]
    if isinstance(target, Jump):
        return [NftVerdict("goto" if target.goto else "jump", ctx.chains[target.chain])]
    handler = TARGETS.get(target.name)
    if handler is None:     # read (for --to iptables-restore) but never dropped from nft output
        raise Untranslatable(f"-j {target.name} has no exact nft equivalent",
                             mappings.load("extensions")["not_translated"].get(target.name))
    return handler(tr, rule, target, ctx)


# --- target handlers ----------------------------------------------------------------------

def _t_log(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
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


def _t_audit(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    # the same audit record as xt_AUDIT; --type is not part of it (Linux 4.12 and later)
    return [Log(level="audit")]


def _t_tee(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    if target.option("oif") is not None:
        raise Untranslatable("TEE --oif: xt_TEE follows the named device as it comes and goes; "
                             "nft's `dup to … device` looks it up once, when the rule loads "
                             "(and fails if it is not there)", "leave --oif out if the route "
                             "to the gateway is enough")
    if tr.options.family == "inet":
        # nft 1.0.6 refuses `dup to ADDR` in an inet table ("unsupported family"), also after
        # a family test, in text and JSON alike
        raise Untranslatable("TEE in an inet table: nft 1.0.6 refuses `dup to` there "
                             "(unsupported family)", "convert without --family inet (a table "
                             "per family)")
    return [Dup(str(target.option("gateway").value))]


def _t_tproxy(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    """xt_TPROXY: with a transparent socket for the packet, set the mark and ACCEPT; without
    one, DROP. nft's tproxy ends the rule when it finds none, so the translator writes a
    companion rule after this one: the same tests, then drop (see nft_translate)."""
    port = target.option("on-port").value       # a PortRange of one port
    on_ip = target.option("on-ip")
    addr = None
    if on_ip is not None and on_ip.value is not None and not on_ip.value.is_unspecified:
        addr = address_text(on_ip.value)
    if port.first == 0 and addr is None:
        raise Untranslatable("TPROXY --on-port 0 without --on-ip: nft's tproxy needs an "
                             "address or a port", "give --on-ip or the port")
    family = ctx.family if tr.options.family == "inet" else None
    statements: list[Statement] = [Tproxy(family, addr, port.first or None)]
    mark = target.option("tproxy-mark").value
    if mark.mask != 0 or mark.value != 0:
        statements.append(Mangle(Meta("mark"), xmark(Meta("mark"), mark)))
    return statements + [NftVerdict("accept")]


def _t_reject(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    name = target.option("reject-with").value
    if tr.options.family == "inet":
        # the family-neutral form where there is one, so that both families' REJECTs can be
        # one rule; inet's plain `reject` is icmpx port-unreachable
        icmpx = mappings.reject_icmpx().get(name)
        if icmpx == "port-unreachable":
            return [Reject()]
        if icmpx is not None:
            return [Reject("icmpx", icmpx)]
    statement = next(nft for n, _a, nft in mappings.reject_names(ctx.family) if n == name)
    words = statement.split()
    if words == ["reject"]:
        return [Reject()]
    if words[2:4] == ["tcp", "reset"]:
        return [Reject("tcp reset")]
    return [Reject(words[2], words[4])]


def _t_nat(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
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
        if isinstance(ports, tuple):
            raise Untranslatable("a DNAT port shift (:first-last/base) gives each original "
                                 "port its own new port (first + port - base, within the "
                                 "range); nft 1.0.6's dnat has no port offset",
                                 "write one rule per original port (or per range shifted "
                                 "alike) with its own --to-destination")
        if first is None:
            raise Untranslatable(f"--to-{'source' if kind == 'snat' else 'destination'} "
                                 "without an address")
        addr = address_text(first)
        addr_high = address_text(last) if last != first else None
    else:
        opt = target.option("to-ports")
        ports = opt.value if opt else None
    family = None
    if tr.options.family == "inet" and kind in ("snat", "dnat"):
        family = ctx.family
    return [Nat(kind, family, addr, addr_high,
                ports.first if ports else None,
                ports.last if ports and not ports.single else None, tuple(flags))]


# xt_NETMAP maps the destination where conntrack sets up destination NAT and the source where
# it sets up source NAT (HOOK2MANIP of the hook the packet is in)
_NETMAP_KINDS = {"PREROUTING": "dnat", "OUTPUT": "dnat", "POSTROUTING": "snat", "INPUT": "snat"}


def _t_netmap(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    """NETMAP --to ADDR/LEN: nft's prefix NAT (NF_NAT_RANGE_NETMAP) keeps the host bits and
    replaces the prefix, as xt_NETMAP does (tests/test_netmap_kernel.py)."""
    to = target.option("to").value
    if to.prefixlen is None:
        raise Untranslatable(f"NETMAP --to {address_text(to.addr)}/{address_text(to.mask)}: "
                             "nft's prefix NAT takes a prefix length, not a mask with gaps")
    hooks = sorted(reaching_hooks(ctx))
    kinds = {_NETMAP_KINDS[h] for h in hooks}
    if len(kinds) != 1:
        where = (f"chain {ctx.chain} is reached from {' and '.join(hooks)}" if hooks
                 else f"no built-in chain reaches chain {ctx.chain}")
        raise Untranslatable(f"NETMAP maps the source or the destination by the hook a packet "
                             f"is in, and {where}; nft's snat and dnat are fixed per rule",
                             "put the NETMAP rules for each direction in their own chain")
    return [Nat(kinds.pop(), ctx.family, address_text(to.addr), prefix_len=to.prefixlen)]


def xmark(left: Expr, v: Masked) -> Expr:
    """(left & ~mask) ^ value, in the shortest form nft takes."""
    keep = ~v.mask & _ALL
    if v.mask == _ALL:
        return Symbol(f"{v.value:#x}")
    if v.value == 0:
        return BinOp(left, "&", Symbol(f"{keep:#x}"))
    if v.value == v.mask:
        return BinOp(left, "|", Symbol(f"{v.value:#x}"))
    if v.mask == 0:
        return BinOp(left, "^", Symbol(f"{v.value:#x}"))
    return BinOp(BinOp(left, "&", Symbol(f"{keep:#x}")), "^", Symbol(f"{v.value:#x}"))


def _t_mark(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    return [Mangle(Meta("mark"), xmark(Meta("mark"), target.option("xmark").value))]


def _t_connmark(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    given = target.option("xmark")
    if given is not None:
        return [Mangle(Ct("mark"), _shifted(target, xmark(Ct("mark"), given.value)))]
    mode = target.option("mode").value
    nfmask, ctmask = target.option("nfmask").value, target.option("ctmask").value
    # save: ctmark = (ctmark & ~ctmask) ^ (mark & nfmask); restore: the other way round.
    # Keeping part of the destination while copying part of the source combines two fields,
    # which nft 1.0.6 cannot do.
    dest_mask, src_mask = (ctmask, nfmask) if mode == "save-mark" else (nfmask, ctmask)
    if dest_mask != _ALL:
        raise Untranslatable(f"--{mode} keeping part of the destination mark "
                             f"({'--ctmask' if mode == 'save-mark' else '--nfmask'} "
                             f"{dest_mask:#x}) combines two marks, which nft cannot do")
    source: Expr = Meta("mark") if mode == "save-mark" else Ct("mark")
    if src_mask != _ALL:
        source = BinOp(source, "&", Symbol(f"{src_mask:#x}"))
    return [Mangle(Ct("mark") if mode == "save-mark" else Meta("mark"),
                   _shifted(target, source))]


def _shifted(target: TargetExtension, value: Expr) -> Expr:
    """xt_CONNMARK revision 2 shifts the new mark (or the copied part) last, in 32 bits."""
    for name, op_ in (("left-shift-mark", "<<"), ("right-shift-mark", ">>")):
        bits = target.option(name)
        if bits is None:
            continue
        if isinstance(value, Symbol):           # a constant mark: shifted here
            number = int(value.text, 0)
            number = number << bits.value if op_ == "<<" else number >> bits.value
            return Symbol(f"{number & _ALL:#x}")
        return BinOp(value, op_, Symbol(str(bits.value)))
    return value


# xt_SYNPROXY acts on a lone SYN or a lone ACK (of SYN, ACK, FIN, RST) and lets every other
# packet go on; nft's synproxy takes any SYN as a SYN, any ACK as an ACK (a SYN-ACK would be
# answered, a FIN-ACK dropped): the flags are tested first
SYNPROXY_GUARD = Compare(BitAnd(Payload("tcp", "flags"), FlagList(("fin", "syn", "rst", "ack"))),
                         "==", AnonSet((Symbol("syn"), Symbol("ack"))))

SYNPROXY_NOTE = (
    "-j SYNPROXY is nft's synproxy after a test of the TCP flags (a lone SYN or ACK, as\n"
    "xt_SYNPROXY acts on). A malformed TCP packet with other flags (bad checksum or options,\n"
    "cut short) is dropped by xt_SYNPROXY and goes on to the next rule in nft. As with\n"
    "iptables, the handshake needs settings outside the ruleset, which fwmigrate does not\n"
    "change: net.netfilter.nf_conntrack_tcp_loose=0 (the client's ACK must be INVALID) and\n"
    "net.ipv4.tcp_syncookies=2, and the SYNs untracked in raw (`notrack`) from the outside\n"
    "interface only (the proxy's own SYN to the server comes back through lo).")


def _t_synproxy(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    if target.option("ecn") is not None:
        raise Untranslatable("SYNPROXY --ecn: nft 1.0.6's synproxy statement has no ECN flag")
    if SYNPROXY_NOTE not in tr.result.notes:
        tr.result.notes.append(SYNPROXY_NOTE)
    mss, wscale = target.option("mss"), target.option("wscale")
    return [SYNPROXY_GUARD,
            Synproxy(mss.value if mss else None, wscale.value if wscale else None,
                     target.option("timestamp") is not None,
                     target.option("sack-perm") is not None)]


TRACE_NOTE = (
    "-j TRACE is `meta nftrace set 1`: the packets are traced as before, but the trace is read\n"
    "with `nft monitor trace` (iptables-legacy wrote it to the kernel log).")


def _t_trace(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    if TRACE_NOTE not in tr.result.notes:
        tr.result.notes.append(TRACE_NOTE)
    return [Mangle(Meta("nftrace"), Symbol("1"))]


def _t_dscp(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    return [Mangle(Payload(ctx.family, "dscp"),
                   Symbol(f"{target.option('set-dscp').value:#04x}"))]


def _t_tos(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    v: Masked = target.option("tos").value
    out: list[Statement] = []
    for field, shift, width in (("dscp", 2, 0x3F), ("ecn", 0, 0x3)):
        mask, bits = (v.mask >> shift) & width, (v.value >> shift) & width
        if mask == width:
            out.append(Mangle(Payload(ctx.family, field), Symbol(f"{bits:#04x}")))
        elif mask or bits:
            raise Untranslatable(f"TOS {v.value:#04x}/{v.mask:#04x} changes part of the "
                                 f"{field.upper()} bits; nft 1.0.6 can only set a header field "
                                 "whole", "use -j DSCP, or a mask that covers the DSCP (0xfc) "
                                 "and/or ECN (0x03) bits wholly")
    return out


def _t_ttl(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    field = Payload("ip", "ttl") if target.name == "TTL" else Payload("ip6", "hoplimit")
    prefix = target.name.lower()
    op = target.options[0]
    if op.name != f"{prefix}-set":
        raise Untranslatable(f"--{op.name} stops at {'0' if op.name.endswith('dec') else '255'}; "
                             "nft has no arithmetic on header fields that would")
    return [Mangle(field, Symbol(str(op.value)))]


def _t_tcpmss(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    flags = next((m.option("tcp-flags") for m in rule.matches if m.module == "tcp"), None)
    if flags is None or flags.negated or "SYN" not in flags.value.compare:
        raise Untranslatable("iptables refuses TCPMSS on a rule that does not match SYN packets "
                             "(--tcp-flags SYN,RST SYN)")
    size = target.option("set-mss")
    # with a (non-inverted) -m tcpmss test the rule only sees SYNs that carry an MSS option,
    # where xt_TCPMSS and nft do the same: lower it, never raise it. Clamping reads the
    # smaller MTU of the route and of the reverse route in both; nft writes 536 where that
    # exceeds 65535, which IPv4 routes never do (capped at 65520) but IPv6 loopback does.
    # (A route MTU of 40 bytes or less, where xt drops and nft writes 536, carries no TCP.)
    guard = rule.match("tcpmss")
    has_option = guard is not None and not guard.option("mss").negated
    if has_option and (size is not None or ctx.family == "ip"):
        return [Mangle(TcpOption(2, "maxseg", "size"),
                       Rt("mtu") if size is None else Symbol(str(size.value)))]
    if has_option:
        why = ("--clamp-mss-to-pmtu over an IPv6 route with an MTU above 65535 (loopback): "
               "xt_TCPMSS lowers the MSS to the MTU less 60, nft's `rt mtu` gives 536")
    else:
        why = ("TCPMSS also adds an MSS option to a SYN that has none; nft can only change an "
               "option that is there")
    if not tr.options.approximate:
        raise Untranslatable(why, "if SYNs without an MSS option may pass unchanged, say so "
                             "in the rule with -m tcpmss --mss 1:65535, which nft translates "
                             "exactly; or pass --approximate, and be told so"
                             if not has_option else "use --set-mss, or pass --approximate")
    tr.result.approximations.append(Diagnostic(
        rule.loc, "TCPMSS: SYNs without an MSS option pass unchanged (xt_TCPMSS adds one)"
        if not has_option else "TCPMSS: " + why, "warning"))
    value = Rt("mtu") if size is None else Symbol(str(size.value))
    return [Mangle(TcpOption(2, "maxseg", "size"), value)]


def _t_classify(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    value = target.option("set-class").value
    return [Mangle(Meta("priority"), Symbol(f"{value >> 16:x}:{value & 0xFFFF:x}"))]


def _t_ct(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    if target.name == "NOTRACK" or [o.name for o in target.options] == ["notrack"]:
        return [Notrack()]
    if [o.name for o in target.options] == ["zone"]:
        return [Mangle(Ct("zone"), Symbol(str(target.option("zone").value)))]
    names = ", ".join("--" + o.name for o in target.options) or "no option"
    raise Untranslatable(f"-j CT with {names}: only --notrack or --zone alone are translated "
                         "(helpers, timeouts and event masks need nft objects)")


def _t_nflog(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    prefix = target.option("nflog-prefix")
    size = target.option("nflog-size")
    if target.option("nflog-range") is not None:
        tr.result.notes.append(f"{rule.loc}: --nflog-range is left out: the kernel never "
                               "applied it (use --nflog-size)")
    # --nflog-threshold 0 (the default) leaves the log instance's own threshold in force, as
    # nft's log does without queue-threshold (tests/test_xt_parity_kernel.py)
    threshold = target.option("nflog-threshold").value
    return [Log(prefix.value if prefix else None, group=target.option("nflog-group").value,
                snaplen=size.value if size else None, queue_threshold=threshold or None)]


def _t_nfqueue(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    balance = target.option("queue-balance")
    flags = tuple(flag for name, flag in (("queue-bypass", "bypass"),
                                          ("queue-cpu-fanout", "fanout"))
                  if target.option(name) is not None)
    if balance is None:
        return [Queue(target.option("queue-num").value, None, flags)]
    return [Queue(balance.value.first, balance.value.last, flags)]


def _t_set(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    if target.option("map-set") is not None:
        raise Untranslatable("-j SET --map-set (mark, priority or queue from the ipset member) "
                             "has no exact nft equivalent")
    out: list[Statement] = []
    add = target.option("add-set")
    if add is not None:
        timeout = target.option("timeout")
        out += ctx.ipsets.update(rule, "update" if target.option("exist") else "add",
                                 add.value, timeout.value if timeout else None, ctx.proto)
    delete = target.option("del-set")
    if delete is not None:
        out += ctx.ipsets.update(rule, "delete", delete.value, None, ctx.proto)
    return out


TARGETS = {"LOG": _t_log, "REJECT": _t_reject, "SNAT": _t_nat, "DNAT": _t_nat,
           "MASQUERADE": _t_nat, "REDIRECT": _t_nat, "MARK": _t_mark, "CONNMARK": _t_connmark,
           "DSCP": _t_dscp, "TOS": _t_tos, "TTL": _t_ttl, "HL": _t_ttl, "TCPMSS": _t_tcpmss,
           "CLASSIFY": _t_classify, "NOTRACK": _t_ct, "CT": _t_ct, "NFLOG": _t_nflog,
           "NFQUEUE": _t_nfqueue, "SET": _t_set, "AUDIT": _t_audit, "TEE": _t_tee,
           "SYNPROXY": _t_synproxy, "TRACE": _t_trace, "NETMAP": _t_netmap,
           "TPROXY": _t_tproxy}
