"""nft statements that act on a packet (libnftables JSON) → the iptables target with the same
effect: the inverse of backends/nft_targets.py, used by nft_lift.py.

Each function takes the rule being lifted and the statement's body, and hands the target to
`lift.target()`, which checks that the rule's targets can be iptables rules one after another.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .. import mappings
from ..ir import IntRange, Masked, Option, PortRange, TargetExtension, Verdict
from .nft_lift_ipsec_label import label_set
from .nft_lift_values import ALL_ONES, dscp, ecn, number, tc_class, unrepresentable
from .values_addresses import address

# match modules whose answer a target's change can turn: a rule whose statements are a target
# and then more becomes one iptables rule per target, each testing the matches again, which
# is only the same when the earlier targets changed nothing those matches read. None: unknown.
CHANGES: dict[str, frozenset[str] | None] = {
    "LOG": frozenset(), "NFLOG": frozenset(), "CLASSIFY": frozenset(),
    "MARK": frozenset({"mark"}), "CONNMARK": frozenset({"connmark", "mark"}),
    "DSCP": frozenset({"dscp", "tos"}), "TOS": frozenset({"dscp", "tos"}),
    "TTL": frozenset({"ttl"}), "HL": frozenset({"hl"}),
    "CT": frozenset({"conntrack", "state", "connmark"}), "TCPMSS": frozenset({"tcpmss"}),
}
# `ct [original|reply] zone set N` → -j CT's option for that direction
_ZONE_OPTIONS = {None: "zone", "original": "zone-orig", "reply": "zone-reply"}


def log(lift, body: dict[str, Any] | None) -> None:
    body = body or {}
    if "group" in body:
        _nflog(lift, body)
        return
    if body.get("level") == "audit":
        if len(body) > 1:
            unrepresentable("log level audit with a prefix, flags or group")
        # xt_AUDIT's record has no --type since Linux 4.12: any is the same target
        lift.target(TargetExtension("AUDIT", (Option("type", "accept"),)))
        return
    options = []
    if "prefix" in body:
        options.append(Option("log-prefix", body["prefix"]))
    level = body.get("level", "warn")
    if level not in mappings.nft_log_levels():
        unrepresentable(f"log level {level}")
    options.append(Option("log-level", mappings.nft_log_levels().index(level)))
    flags = body.get("flags", [])
    flags = ["tcp sequence", "tcp options", "ip options", "skuid", "ether"] \
        if flags == "all" else ([flags] if isinstance(flags, str) else flags)
    for nft_flag, option in (("tcp sequence", "log-tcp-sequence"),
                             ("tcp options", "log-tcp-options"),
                             ("ip options", "log-ip-options"), ("skuid", "log-uid"),
                             ("ether", "log-macdecode")):
        if nft_flag in flags:
            options.append(Option(option))
    if "snaplen" in body or "queue-threshold" in body:
        unrepresentable("log snaplen / queue-threshold without a group")
    lift.target(TargetExtension("LOG", tuple(options)))


def _nflog(lift, body: dict[str, Any]) -> None:
    if body.get("level") or body.get("flags"):
        unrepresentable("log group with a level or flags")
    options = []
    if "prefix" in body:
        options.append(Option("nflog-prefix", body["prefix"]))
    options.append(Option("nflog-group", number(body["group"], "log group")))
    if "snaplen" in body:
        options.append(Option("nflog-size", number(body["snaplen"], "log snaplen")))
    # nft lists no queue-threshold when it is 0 (the log instance's own threshold applies),
    # which is also what xt_NFLOG does with --nflog-threshold 0
    options.append(Option("nflog-threshold", number(body.get("queue-threshold", 0),
                                                    "log queue-threshold")))
    lift.target(TargetExtension("NFLOG", tuple(options)))


def reject(lift, body: dict[str, Any] | None) -> None:
    kind = (body or {}).get("type")
    code = (body or {}).get("expr")
    if kind in ("icmp", "icmpv6") and lift.ctx.table_family == "inet" and \
            lift.ctx.family != ("ip" if kind == "icmp" else "ip6"):
        lift.other_family()     # in inet, nft restricts it to its family
        return
    if kind is None or (kind in ("icmp", "icmpv6", "icmpx") and code == "port-unreachable"):
        statement = "reject"
    elif kind == "tcp reset":
        statement = "reject with tcp reset"
        # nft lists `meta l4proto tcp reject with tcp reset` without the protocol test,
        # which the reject statement implies
        lift.implied_protocol = lift.implied_protocol or 6
    elif kind == "icmpx":
        # family-neutral: the family's own name for what the kernel sends (inet tables)
        names = {n for n, _a, _nft in mappings.reject_names(lift.ctx.family)}
        for name, icmpx in mappings.reject_icmpx().items():
            if icmpx == code and name in names:
                lift.target(TargetExtension("REJECT", (Option("reject-with", name),)))
                return
        unrepresentable(f"reject with icmpx {code}")
    else:
        statement = f"reject with {kind} type {code}"
    for name, _alias, nft in mappings.reject_names(lift.ctx.family):
        if nft == statement:
            lift.target(TargetExtension("REJECT", (Option("reject-with", name),)))
            return
    unrepresentable(f"reject {kind} {code}")


def nat(lift, kind: str, body: dict[str, Any] | None) -> None:
    body = body or {}
    if body.get("family") in ("ip", "ip6") and body["family"] != lift.ctx.family:
        lift.other_family()     # `snat ip to …` does nothing to IPv6 packets in inet
        return
    flags = body.get("flags", [])
    flags = [flags] if isinstance(flags, str) else flags
    options = []
    port = body.get("port")
    ports = None
    if port is not None:
        low, high = (port["range"] if isinstance(port, dict) else (port, port))
        ports = PortRange(low, high)
    if kind in ("snat", "dnat"):
        addr = body.get("addr")
        if addr is None:
            unrepresentable(f"{kind} without an address")
        if isinstance(addr, dict) and "prefix" in addr:
            _netmap(lift, kind, addr["prefix"], flags, ports)
            return
        first, last = addr["range"] if isinstance(addr, dict) else (addr, addr)
        value = (ipaddress.ip_address(first), ipaddress.ip_address(last), ports)
        options.append(Option("to-source" if kind == "snat" else "to-destination", value))
    elif ports is not None:
        options.append(Option("to-ports", ports))
    for nft_flag, option in (("random", "random"), ("fully-random", "random-fully"),
                             ("persistent", "persistent")):
        if nft_flag in flags:
            options.append(Option(option))
    name = {"snat": "SNAT", "dnat": "DNAT", "masquerade": "MASQUERADE",
            "redirect": "REDIRECT"}[kind]
    spec = mappings.target_specs()[name]
    options.sort(key=lambda o: spec.order[o.name])
    lift.target(TargetExtension(name, tuple(options)))


def _netmap(lift, kind: str, prefix: dict[str, Any], flags: list[str], ports) -> None:
    """`snat/dnat prefix to A/LEN` (flag netmap) is -j NETMAP --to A/LEN: the kernel decides
    the direction by the hook, as it does for NETMAP."""
    if flags != ["netmap"] or ports is not None:
        unrepresentable(f"{kind} prefix to with {', '.join(flags) or 'no netmap flag'}"
                        + (" and ports" if ports is not None else ""))
    text = f"{prefix['addr']}/{prefix['len']}"
    lift.target(TargetExtension("NETMAP", (Option("to", address(text, lift.ctx.family)),)))


def queue(lift, body: dict[str, Any] | None) -> None:
    body = body or {}
    num = body.get("num", 0)
    flags = body.get("flags", [])
    flags = [flags] if isinstance(flags, str) else list(flags)
    if set(flags) - {"bypass", "fanout"}:
        unrepresentable(f"queue flags {', '.join(flags)}")
    if isinstance(num, dict) and "range" in num:
        first, last = (number(n, "queue num") for n in num["range"])
        options = [Option("queue-balance", IntRange(first, last))]
    elif isinstance(num, int) and num == 0 and not flags:
        lift.target(Verdict("QUEUE"))          # NF_QUEUE itself is queue 0
        return
    elif isinstance(num, int):
        options = [Option("queue-num", num)]
    else:
        unrepresentable("queue to a number computed per packet")
    options += [Option(name) for flag, name in (("bypass", "queue-bypass"),
                                                ("fanout", "queue-cpu-fanout")) if flag in flags]
    lift.target(TargetExtension("NFQUEUE", tuple(options)))


def dup(lift, body: dict[str, Any]) -> None:
    """`dup to ADDR` (no device: see the backend) is -j TEE --gateway ADDR."""
    if not isinstance(body, dict) or set(body) != {"addr"}:
        unrepresentable("dup with a device (xt_TEE follows --oif; nft looked it up once)")
    gateway = ipaddress.ip_address(body["addr"])
    if (gateway.version == 4) != (lift.ctx.family == "ip"):
        unrepresentable(f"dup to {gateway} in an IPv{6 if lift.ctx.family == 'ip6' else 4} rule")
    lift.target(TargetExtension("TEE", (Option("gateway", gateway),)))


def notrack(lift, body: Any) -> None:
    # iptables-save prints -j NOTRACK as the CT target it stands for
    lift.target(TargetExtension("CT", (Option("notrack"),)))


# --- mangle: `… set …` --------------------------------------------------------------------------

def mangle(lift, body: dict[str, Any]) -> None:
    key, value = body["key"], body["value"]
    if not isinstance(key, dict) or len(key) != 1:
        unrepresentable(f"setting {key!r}")
    (kind, what), = key.items()
    if kind == "meta" and what["key"] == "mark":
        _set_mark(lift, "meta mark", value)
    elif kind == "ct" and what["key"] == "mark" and "dir" not in what:
        _set_mark(lift, "ct mark", value)
    elif kind == "ct" and what["key"] == "zone" and what.get("dir") in _ZONE_OPTIONS:
        # zone 0 (of one direction or both): -j CT alone, as iptables stores it (the other
        # direction's zone is 0 as well)
        zone = number(value, "ct zone")
        option = _ZONE_OPTIONS[what.get("dir")]
        lift.target(TargetExtension("CT", (Option(option, zone),) if zone else ()))
    elif kind == "meta" and what["key"] == "nftrace":
        if value != 1:
            unrepresentable(f"meta nftrace set {value} (-j TRACE sets it to 1)")
        lift.target(TargetExtension("TRACE"))
    elif kind == "ct" and what["key"] == "label" and "dir" not in what:
        label_set(lift, value)
    elif kind == "meta" and what["key"] == "priority":
        lift.target(TargetExtension("CLASSIFY", (Option("set-class", tc_class(value)),)))
    elif kind == "payload" and what.get("protocol") in ("ip", "ip6"):
        if what["protocol"] != lift.ctx.family:
            lift.other_family()     # an inet rule for the other family
        else:
            _set_header(lift, what["field"], value)
    elif kind == "tcp option" and what == {"name": "maxseg", "field": "size"}:
        _set_mss(lift, value)
    elif kind == "tcp option":
        unrepresentable(f"setting tcp option {what.get('name')}")
    else:
        unrepresentable(f"setting {kind} {what.get('key') or what.get('field') or ''}".strip())


def _set_mss(lift, value: Any) -> None:
    """`tcp option maxseg size set …` is TCPMSS only where the rule already tests the MSS
    option's value (-m tcpmss --mss): xt_TCPMSS also adds the option to a SYN without one."""
    if not any(m.module == "tcpmss" and not m.options[0].negated for m in lift.matches):
        unrepresentable("tcp option maxseg size set without a test of the MSS value first: "
                        "xt_TCPMSS also adds an MSS option to a SYN without one, which nft "
                        "cannot")
    if value == {"rt": {"key": "mtu"}}:
        if lift.ctx.family != "ip":
            unrepresentable("tcp option maxseg size set rt mtu in IPv6: nft gives 536 where "
                            "the route MTU exceeds 65535 (loopback), xt_TCPMSS the MTU less 60")
        lift.target(TargetExtension("TCPMSS", (Option("clamp-mss-to-pmtu"),)))
    else:
        lift.target(TargetExtension("TCPMSS", (Option("set-mss", number(value, "MSS")),)))


def _set_mark(lift, key: str, value: Any) -> None:
    """`meta mark set …` / `ct mark set …` → MARK or CONNMARK. Any chain of &, |, ^ with
    constants is (source & keep) ^ flip, which is --set-xmark flip/~keep on the same mark;
    the other mark, masked, is --save-mark / --restore-mark. A shift of the whole (`(…) >> 5`)
    is CONNMARK's --left/right-shift-mark, which shifts last."""
    shift: tuple[Option, ...] = ()
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _SHIFTS:
        (op_, (value, bits)), = value.items()
        bits = number(bits, "shift")
        shift = (Option(_SHIFTS[op_], bits),) if bits else ()
    source, keep, flip = xmark_parts(value)
    name = "MARK" if key == "meta mark" else "CONNMARK"
    if shift and name == "MARK" and source in (None, key):
        unrepresentable("meta mark set from itself shifted (xt_MARK does not shift; "
                        "CONNMARK shifts only what it sets or copies to the other mark)")
    if source in (None, key):
        lift.target(TargetExtension(name, (Option("xmark", Masked(flip, ~keep & ALL_ONES)),
                                           *shift)))
    elif flip == 0 and key == "ct mark":
        lift.target(TargetExtension("CONNMARK", (Option("mode", "save-mark"),
                                                 Option("nfmask", keep),
                                                 Option("ctmask", ALL_ONES), *shift)))
    elif flip == 0:
        lift.target(TargetExtension("CONNMARK", (Option("mode", "restore-mark"),
                                                 Option("nfmask", ALL_ONES),
                                                 Option("ctmask", keep), *shift)))
    else:
        unrepresentable(f"{key} set from the other mark with bits set or flipped (CONNMARK "
                        "copies a masked mark, nothing more)")


_SHIFTS = {"<<": "left-shift-mark", ">>": "right-shift-mark"}


def xmark_parts(expr: Any) -> tuple[str | None, int, int]:
    """(the mark read, AND mask, XOR value) of an expression: source & mask ^ value."""
    if isinstance(expr, dict) and len(expr) == 1:
        (kind, body), = expr.items()
        if kind == "meta" and body.get("key") == "mark":
            return "meta mark", ALL_ONES, 0
        if kind == "ct" and body.get("key") == "mark" and "dir" not in body:
            return "ct mark", ALL_ONES, 0
        if kind in ("&", "|", "^"):
            source, keep, flip = xmark_parts(body[0])
            c = number(body[1], "mark")
            if kind == "&":
                return source, keep & c, flip & c
            if kind == "|":
                return source, keep & ~c & ALL_ONES, (flip & ~c) | c
            return source, keep, flip ^ c
        unrepresentable(f"a mark set from {kind}")
    return None, 0, number(expr, "mark")


def _set_header(lift, field: str, value: Any) -> None:
    """ip/ip6 dscp, ecn, ttl, hoplimit set. DSCP and ECN are the TOS byte's parts: one alone is
    -j DSCP / -j TOS on the ECN bits, both (as the backend writes -j TOS) one TOS target."""
    if field == "ttl":
        lift.target(TargetExtension("TTL", (Option("ttl-set", number(value, "ttl")),)))
    elif field == "hoplimit":
        lift.target(TargetExtension("HL", (Option("hl-set", number(value, "hoplimit")),)))
    elif field in ("dscp", "ecn"):
        bits, mask = (dscp(value) << 2, 0xFC) if field == "dscp" else (ecn(value), 0x03)
        last = lift.targets[-1] if lift.targets else None
        other = _tos_part(last)
        if other is not None and other[1] == 0xFF ^ mask:
            lift.targets.pop()
            lift.target(TargetExtension("TOS", (Option("tos", Masked(bits | other[0], 0xFF)),)))
        elif field == "dscp":
            lift.target(TargetExtension("DSCP", (Option("set-dscp", bits >> 2),)))
        else:
            lift.target(TargetExtension("TOS", (Option("tos", Masked(bits, mask)),)))
    else:
        unrepresentable(f"setting {lift.ctx.family} {field}")


def _tos_part(target: Any) -> tuple[int, int] | None:
    if not isinstance(target, TargetExtension):
        return None
    if target.name == "DSCP":
        return target.options[0].value << 2, 0xFC
    if target.name == "TOS" and target.options[0].value.mask in (0xFC, 0x03):
        return target.options[0].value.value, target.options[0].value.mask
    return None


# --- SYNPROXY ----------------------------------------------------------------------------------

_SYNPROXY_MASK = frozenset({"fin", "syn", "rst", "ack"})


def _flag_names(expr: Any) -> frozenset[str]:
    """`fin | syn | rst` as nft lists a flag mask: nested `|`, a list, or one name."""
    if isinstance(expr, dict) and set(expr) == {"|"}:
        return frozenset().union(*(_flag_names(e) for e in expr["|"]))
    if isinstance(expr, list):
        return frozenset().union(*(_flag_names(e) for e in expr))
    if isinstance(expr, str):
        return frozenset({expr})
    unrepresentable(f"tcp flags {expr!r}")


def synproxy_guard(lift, mask: Any, right: Any, op: str) -> None:
    """`tcp flags & (fin|syn|rst|ack) == { syn, ack }`: the test the backend writes before
    synproxy (the packets xt_SYNPROXY acts on); it must be followed by synproxy."""
    if op != "==" or _flag_names(mask) != _SYNPROXY_MASK or \
            _flag_names(right["set"]) != {"syn", "ack"}:
        unrepresentable("a test of TCP flags against a set (iptables tests one combination)")
    lift.synproxy_guard = True
    lift.implied_protocol = lift.implied_protocol or 6    # nft lists the tcp test implied


def synproxy(lift, body: Any) -> None:
    """nft's synproxy takes any SYN as a SYN and any ACK as an ACK: it is -j SYNPROXY only
    after the test that leaves it a lone SYN or ACK, as xt_SYNPROXY acts on."""
    if not lift.synproxy_guard:
        unrepresentable("synproxy without the test `tcp flags & (fin|syn|rst|ack) == { syn, ack "
                        "}` before it (nft's synproxy also takes a SYN-ACK as a SYN and a "
                        "FIN-ACK as an ACK, which xt_SYNPROXY passes on)")
    lift.synproxy_guard = False
    body = body or {}
    given = set(_flag_names(body["flags"])) if body.get("flags") else set()
    options = [Option(name) for name in ("sack-perm", "timestamp") if name in given]
    options += [Option(name, body[name]) for name in ("wscale", "mss") if body.get(name)]
    spec = mappings.target_specs()["SYNPROXY"]
    lift.target(TargetExtension("SYNPROXY", tuple(sorted(options,
                                                         key=lambda o: spec.order[o.name]))))
