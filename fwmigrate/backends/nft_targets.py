"""Targets → nft statements: verdicts, jumps, and a handler per target extension (TARGETS)."""

from __future__ import annotations

from .. import mappings
from ..errors import Diagnostic
from ..ir import Jump, Masked, Option, Rule, TargetExtension, Verdict
from .nft_ast import (
    AnonSet,
    BitAnd,
    Compare,
    Ct,
    Dup,
    FlagList,
    Log,
    Mangle,
    Meta,
    Notrack,
    Payload,
    Queue,
    Reject,
    Rt,
    Statement,
    Symbol,
    Synproxy,
    TcpOption,
)
from .nft_ast import Verdict as NftVerdict
from .nft_common import Ctx
from .nft_marks import connmark_target, mark_target
from .nft_nat import nat_target, netmap_target, tproxy_target
from .nft_recent import Untranslatable


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
    # -j CT alone is the kernel's `--zone 0` (a zone-0 template; iptables-save prints neither)
    zone = target.options[0] if len(target.options) == 1 else Option("zone", 0, False)
    names = ", ".join("--" + o.name + (" mark" if o.value == "mark" else "")
                      for o in target.options)
    if len(target.options) > 1 or zone.name not in _ZONE_DIRECTIONS:
        raise Untranslatable(f"-j CT with {names}: only --notrack or a zone (--zone, "
                             "--zone-orig, --zone-reply) alone are translated (helpers, "
                             "timeouts and event masks need nft objects)")
    if zone.value == "mark":
        raise Untranslatable(f"-j CT with {names}: only a zone number is translated (nft "
                             "1.0.6 refuses `ct zone set meta mark`: datatype mismatch)")
    # a zone for one direction: nft_ct sets the template's zone direction as xt_CT does
    return [Mangle(Ct("zone", _ZONE_DIRECTIONS[zone.name]), Symbol(str(zone.value)))]


_ZONE_DIRECTIONS = {"zone": None, "zone-orig": "original", "zone-reply": "reply"}


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


TARGETS = {"LOG": _t_log, "REJECT": _t_reject, "SNAT": nat_target, "DNAT": nat_target,
           "MASQUERADE": nat_target, "REDIRECT": nat_target, "MARK": mark_target,
           "CONNMARK": connmark_target, "DSCP": _t_dscp, "TOS": _t_tos, "TTL": _t_ttl,
           "HL": _t_ttl, "TCPMSS": _t_tcpmss, "CLASSIFY": _t_classify, "NOTRACK": _t_ct,
           "CT": _t_ct, "NFLOG": _t_nflog, "NFQUEUE": _t_nfqueue, "SET": _t_set,
           "AUDIT": _t_audit, "TEE": _t_tee, "SYNPROXY": _t_synproxy, "TRACE": _t_trace,
           "NETMAP": netmap_target, "TPROXY": tproxy_target}
