"""nft model (nft_ast) → libnftables JSON (`man libnftables-json`), the form `apply` sends.

Rendered from the same model as the text backend (never by converting text), so both say the
same thing by construction; tests load both and compare what the kernel lists. Shapes follow
what nft 1.0.6 itself lists with `nft -j`; where 1.0.6's JSON parser differs from the text
one, the difference is noted at the spot (e.g. the "dynamic" set flag is refused in JSON and
nft infers it from the set statements).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .nft_ast import (
    AnonSet,
    BinOp,
    BitAnd,
    Compare,
    Concat,
    Counter,
    Ct,
    CtCount,
    Dup,
    Exthdr,
    Fib,
    FlagList,
    Limit,
    Log,
    Mangle,
    Meta,
    Nat,
    NftChain,
    NftRule,
    NftRuleset,
    NftSet,
    NftTable,
    Notrack,
    Numgen,
    Payload,
    Prefix,
    Queue,
    Quota,
    Range,
    RawPayload,
    Reject,
    Rt,
    SctpChunk,
    SetElem,
    SetRef,
    SetUpdate,
    Symbol,
    Synproxy,
    TcpOption,
    Text,
    Tproxy,
    Verdict,
)

Json = Any


def _symbol(text: str) -> Json:
    """nft's constants: numbers as JSON numbers, everything else (names, addresses) as strings."""
    if text.isdigit():
        return int(text)
    if text.lower().startswith("0x"):
        return int(text, 16)
    return text


class Unrepresentable(Exception):
    """Something nft's JSON cannot say (its text form can). From commands(): every rule that
    says such a thing, as (where the rule comes from, what), so a refusal names them all."""

    def __init__(self, what: str, rules: tuple[tuple[Any, str], ...] = ()):
        super().__init__(what)
        self.what = what
        self.rules = rules

    def __str__(self) -> str:
        if not self.rules:
            return self.what
        loc, what = self.rules[0]
        more = len(self.rules) - 1
        return (f"{what} (the rule at {loc or 'an unknown place'}"
                + (f", and {more} more rule{'s' if more > 1 else ''}" if more else "") + ")")


def _no_json(what: str):
    raise Unrepresentable(what)


def _ct(e: Ct) -> Json:
    key = f"{e.family} {e.key}" if e.family else e.key   # 1.0.6 spells `ct original ip saddr` so
    out: dict[str, Any] = {"key": key}
    if e.direction:
        out["dir"] = e.direction
    return {"ct": out}


def expr(e) -> Json:
    return _EXPRS[type(e)](e)


_EXPRS: dict[type, Callable[[Any], Json]] = {
    Payload: lambda e: {"payload": {"protocol": e.protocol, "field": e.field}},
    Meta: lambda e: {"meta": {"key": e.key}},
    Ct: _ct,
    TcpOption: lambda e: {"tcp option": {"name": e.name or _no_json(
        f"TCP option kind {e.number} (nft 1.0.6's JSON knows TCP options only by name)"),
        **({"field": e.field} if e.field else {})}},
    Exthdr: lambda e: {"exthdr": {"name": e.name, **({"field": e.field} if e.field else {})}},
    Rt: lambda e: {"rt": {"key": e.key}},
    SctpChunk: lambda e: {"sctp chunk": {"name": e.name}},
    RawPayload: lambda e: {"payload": {"base": e.base, "offset": e.offset, "len": e.length}},
    Fib: lambda e: {"fib": {"result": e.result, "flags": list(e.flags)}},
    Numgen: lambda e: {"numgen": {"mode": e.mode, "mod": e.mod, "offset": e.offset}},
    BinOp: lambda e: {e.op: [expr(e.left), expr(e.right)]},
    Symbol: lambda e: _symbol(e.text),
    Text: lambda e: e.value,
    Prefix: lambda e: {"prefix": {"addr": e.addr, "len": e.length}},
    Range: lambda e: {"range": [expr(e.low), expr(e.high)]},
    AnonSet: lambda e: {"set": [expr(i) for i in e.items]},
    FlagList: lambda e: list(e.names) if len(e.names) != 1 else e.names[0],
    BitAnd: lambda e: {"&": [expr(e.left), expr(e.mask) if not isinstance(e.mask, FlagList)
                             else list(e.mask.names)]},
    Concat: lambda e: {"concat": [expr(i) for i in e.items]},
    SetRef: lambda e: f"@{e.name}",
    SetElem: lambda e: {"elem": {"val": expr(e.value),
                                 **({"timeout": e.timeout} if e.timeout else {}),
                                 **({"comment": e.comment} if e.comment is not None else {})}},
}


def _compare(s: Compare) -> Json:
    left = expr(s.left)
    if isinstance(s.left, (TcpOption, Exthdr)) and s.left.field is None or \
            isinstance(s.left, (Meta, Rt)) and s.left.key == "ipsec" or \
            isinstance(s.left, SctpChunk):
        # presence tests: JSON writes `exists`/`missing` as true/false
        return {"match": {"op": "==", "left": left, "right": s.right.text == "exists"}}
    if isinstance(s.left, Ct) and s.left.key == "label":
        # a label is one bit of 128: `in` tests the bit, `==` would compare all of them
        return {"match": {"op": "in" if s.op == "==" else "!", "left": left,
                          "right": expr(s.right)}}
    if isinstance(s.right, FlagList) and not isinstance(s.left, BitAnd):
        # "any of these bits": `in`, and `!` for none of them; `==`/`!=` with a list would
        # compare the whole value instead (and never match)
        return {"match": {"op": "!" if s.op == "!=" else "in", "left": left,
                          "right": expr(s.right)}}
    return {"match": {"op": s.op, "left": left, "right": expr(s.right)}}


def _limit(s: Limit) -> Json:
    return {"limit": {"rate": s.rate, "per": s.per, "burst": s.burst, "burst_unit": "packets",
                      "inv": s.inverted}}


def _set_update(s: SetUpdate) -> Json:
    elem = expr(s.key)
    if s.timeout is not None:
        elem = {"elem": {"val": elem, "timeout": s.timeout}}
    out: dict[str, Any] = {"op": s.op, "elem": elem, "set": f"@{s.set}"}
    if isinstance(s.limit, CtCount):
        out["stmt"] = [{"ct count": {"val": s.limit.count, "inv": s.limit.inverted}}]
    elif s.limit is not None:
        out["stmt"] = [_limit(s.limit)]
    return {"set": out}


def _log(s: Log) -> Json:
    out: dict[str, Any] = {}
    if s.prefix is not None:
        out["prefix"] = s.prefix
    if s.level is not None:
        out["level"] = s.level
    flags = []
    for flag in s.flags:
        flags += ["tcp sequence", "tcp options"] if flag == "tcp sequence,options" else [flag]
    if flags:
        out["flags"] = flags
    for key, value in (("group", s.group), ("snaplen", s.snaplen),
                       ("queue-threshold", s.queue_threshold)):
        if value is not None:
            out[key] = value
    return {"log": out or None}


def _queue(s: Queue) -> Json:
    out: dict[str, Any] = {"num": s.num if s.num_high is None else {"range": [s.num, s.num_high]}}
    if s.flags:
        out["flags"] = list(s.flags) if len(s.flags) > 1 else s.flags[0]
    return {"queue": out}


def _reject(s: Reject) -> Json:
    if s.kind is None:
        return {"reject": None}
    if s.kind == "tcp reset":
        return {"reject": {"type": "tcp reset"}}
    return {"reject": {"type": s.kind, "expr": s.code}}


def _nat(s: Nat) -> Json:
    out: dict[str, Any] = {}
    if s.family:
        out["family"] = s.family
    if s.prefix_len is not None:
        # as nft 1.0.6 lists it (`flags: netmap` is what makes the kernel map host bits)
        out["addr"] = {"prefix": {"addr": s.addr, "len": s.prefix_len}}
        out["flags"] = "netmap"
        out["type_flags"] = "prefix"
        return {s.kind: out}
    if s.addr is not None:
        out["addr"] = {"range": [s.addr, s.addr_high]} if s.addr_high else s.addr
    if s.port is not None:
        out["port"] = {"range": [s.port, s.port_high]} if s.port_high is not None else s.port
    if s.flags:
        out["flags"] = list(s.flags)
    return {s.kind: out or None}


def _counter(s: Counter) -> Json:
    if s.packets is None:
        return {"counter": None}
    if max(s.packets, s.bytes) > _JSON_INT_MAX:     # jansson's integers are signed 64-bit
        _no_json(f"a counter of 2^63 or more ({s.packets} packets, {s.bytes} bytes): libnftables "
                 "reads JSON numbers as signed 64-bit")
    return {"counter": {"packets": s.packets, "bytes": s.bytes}}


_JSON_INT_MAX = 2**63 - 1


def _verdict(s: Verdict) -> Json:
    return {s.kind: None} if s.target is None else {s.kind: {"target": s.target}}


_STATEMENTS: dict[type, Callable[[Any], Json]] = {
    Compare: _compare,
    SetUpdate: _set_update,
    Limit: _limit,
    Quota: lambda s: {"quota": {"val": s.bytes, "val_unit": "bytes", "inv": s.inverted}},
    Log: _log,
    Counter: lambda s: _counter(s),
    Verdict: _verdict,
    Reject: _reject,
    Nat: _nat,
    Queue: _queue,
    Mangle: lambda s: {"mangle": {"key": expr(s.left), "value": expr(s.value)}},
    Notrack: lambda s: {"notrack": None},
    Dup: lambda s: {"dup": {"addr": s.addr}},
    Tproxy: lambda s: {"tproxy": {k: v for k, v in (("family", s.family), ("addr", s.addr),
                                                    ("port", s.port)) if v is not None}},
    Synproxy: lambda s: {"synproxy": {
        **({"mss": s.mss} if s.mss is not None else {}),
        **({"wscale": s.wscale} if s.wscale is not None else {}),
        **({"flags": [f for f, on in (("timestamp", s.timestamp), ("sack-perm", s.sack_perm))
                      if on]} if s.timestamp or s.sack_perm else {})} or None},
}


def rule(table: NftTable, chain: NftChain, r: NftRule) -> Json:
    out: dict[str, Any] = {"family": table.family, "table": table.name, "chain": chain.name,
                           "expr": [_STATEMENTS[type(s)](s) for s in r.statements]}
    if r.comment:
        out["comment"] = r.comment
    return {"rule": out}


def nft_set(table: NftTable, s: NftSet) -> Json:
    # 1.0.6's JSON parser refuses the "dynamic" flag; nft sets it from the set statements
    types = s.type.split(" . ")
    out: dict[str, Any] = {"family": table.family, "table": table.name, "name": s.name,
                           "type": types[0] if len(types) == 1 else types}
    if s.size is not None:
        out["size"] = s.size
    flags = (["timeout"] if s.timeout is not None else []) + (["interval"] if s.interval else [])
    if flags:
        out["flags"] = flags
    if s.timeout is not None:
        out["timeout"] = s.timeout
    if s.counter:
        out["stmt"] = [{"counter": None}]
    if s.ipset:
        # nft 1.0.6 takes the comment but does not keep it from JSON (text keeps it)
        out["comment"] = f"ipset {s.ipset[0]} {s.ipset[1]}"
    if s.elements:
        out["elem"] = [expr(e) for e in s.elements]
    return {"set": out}


def chain(table: NftTable, c: NftChain) -> Json:
    out: dict[str, Any] = {"family": table.family, "table": table.name, "name": c.name}
    if c.base is not None:
        out.update(type=c.base.type, hook=c.base.hook, prio=c.base.priority,
                   policy=c.base.policy)
    return {"chain": out}


def commands(ruleset: NftRuleset, *, flush_ruleset: bool = False) -> Json:
    """One libnftables JSON batch that replaces fwmigrate's tables (or the whole ruleset)."""
    cmds: list[Json] = [{"metainfo": {"json_schema_version": 1}}]
    unsaid: list[tuple[Any, str]] = []
    if flush_ruleset:
        cmds.append({"flush": {"ruleset": None}})
    for table in ruleset.tables:
        ref = {"table": {"family": table.family, "name": table.name}}
        if not flush_ruleset:
            # create-if-missing then delete: the table below replaces it in this transaction
            cmds += [{"add": ref}, {"delete": ref}]
        cmds.append({"add": ref})
        cmds += [{"add": nft_set(table, s)} for s in table.sets]
        cmds += [{"add": chain(table, c)} for c in table.chains]
        for c in table.chains:
            for r in c.rules:
                if r.untranslated is not None:
                    continue
                try:
                    cmds.append({"add": rule(table, c, r)})
                except Unrepresentable as exc:
                    unsaid.append((r.loc, exc.what))
    if unsaid:
        # all of them at once, each with its rule: the user has to find what to change
        raise Unrepresentable(unsaid[0][1], tuple(unsaid))
    return {"nftables": cmds}
