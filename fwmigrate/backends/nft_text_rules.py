"""One nft rule as text: its expressions and statements, in the syntax `nft -f` reads.

Strings are written so that no comment, log prefix or interface name can change the syntax
around them: nft 1.0.6 has no escape inside "…", so a string with `"` or a newline cannot be
written and raises Unwritable, which the writers report.
"""

from __future__ import annotations

from collections.abc import Callable

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
    NftRule,
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

_SHORT_META = frozenset({"iifname", "oifname", "iif", "oif", "mark"})


class Unwritable(Exception):
    pass


def quoted(value: str) -> str:
    if '"' in value or "\n" in value:
        raise Unwritable(f"the text {value!r} contains a double quote or a newline, which nft's "
                          "text format cannot hold")
    return f'"{value}"'


def expr_text(e, in_mask: bool = False) -> str:
    return _EXPRS[type(e)](e, in_mask)


_EXPRS: dict[type, Callable] = {
    Payload: lambda e, m: f"{e.protocol} {e.field}",
    Meta: lambda e, m: e.key if e.key in _SHORT_META else f"meta {e.key}",
    Ct: lambda e, m: " ".join(w for w in ("ct", e.direction, e.family, e.key) if w),
    TcpOption: lambda e, m: f"tcp option {e.name or e.number}" + (f" {e.field}" if e.field else ""),
    Exthdr: lambda e, m: f"{e.name} {e.field}" if e.field else f"exthdr {e.name}",
    Rt: lambda e, m: f"rt {e.key}",
    SctpChunk: lambda e, m: f"sctp chunk {e.name}",
    RawPayload: lambda e, m: f"@{e.base},{e.offset},{e.length}",
    Fib: lambda e, m: f"fib {' . '.join(e.flags)} {e.result}",
    Numgen: lambda e, m: f"numgen {e.mode} mod {e.mod}"
    + (f" offset {e.offset}" if e.offset else ""),
    BinOp: lambda e, m: _binop(e),
    Symbol: lambda e, m: e.text,
    Text: lambda e, m: quoted(e.value),
    Prefix: lambda e, m: f"{e.addr}/{e.length}",
    Range: lambda e, m: f"{expr_text(e.low)}-{expr_text(e.high)}",
    AnonSet: lambda e, m: "{ " + ", ".join(expr_text(i) for i in e.items) + " }",
    FlagList: lambda e, m: ("(" + "|".join(e.names) + ")") if m else ",".join(e.names),
    BitAnd: lambda e, m: f"{expr_text(e.left)} & {expr_text(e.mask, True)}",
    Concat: lambda e, m: " . ".join(expr_text(i) for i in e.items),
    SetRef: lambda e, m: f"@{e.name}",
    SetElem: lambda e, m: expr_text(e.value) + (f" timeout {e.timeout}s" if e.timeout else "")
    + (f" comment {quoted(e.comment)}" if e.comment is not None else ""),
}


def _binop(e: BinOp) -> str:
    left = expr_text(e.left)
    if e.op in ("<<", ">>") and isinstance(e.left, BinOp):
        left = f"({left})"      # nft binds a shift tighter than & | ^
    return f"{left} {e.op} {expr_text(e.right)}"


def _compare(s: Compare) -> str:
    if type(s.left) is Payload and type(s.right) in _PLAIN_RIGHT and s.op in ("==", "!="):
        # an address or a port against a header field, the most common compare by far
        left = f"{s.left.protocol} {s.left.field}"
        right = _EXPRS[type(s.right)](s.right, False)
        return f"{left} {right}" if s.op == "==" else f"{left} != {right}"
    left = expr_text(s.left)
    if isinstance(s.left, (TcpOption, Exthdr)) and s.left.field is None:
        return f"{left} {expr_text(s.right)}"
    if s.op not in ("==", "!="):
        return f"{left} {s.op} {expr_text(s.right)}"
    if isinstance(s.left, BitAnd) and not isinstance(s.right, SetRef):
        right = "|".join(s.right.names) if isinstance(s.right, FlagList) else expr_text(s.right)
        return f"{left} {s.op} {right}"
    if isinstance(s.right, FlagList):
        # a flag list tests "any of these bits"; `!=` would compare the whole value instead
        return f"{left} {'! ' if s.op == '!=' else ''}{expr_text(s.right)}"
    return f"{left} {expr_text(s.right)}" if s.op == "==" else f"{left} != {expr_text(s.right)}"


_PLAIN_RIGHT = frozenset({Symbol, Prefix})


def _limit(s: Limit) -> str:
    over = "over " if s.inverted else ""
    return f"limit rate {over}{s.rate}/{s.per} burst {s.burst} packets"


def _element_statement(s) -> str:
    if isinstance(s, CtCount):
        return f"ct count {'over ' if s.inverted else ''}{s.count}"
    return _limit(s)


def _log(s: Log) -> str:
    words = ["log"]
    if s.prefix is not None:
        words += ["prefix", quoted(s.prefix)]
    if s.level is not None:
        words += ["level", s.level]
    for flag in s.flags:
        words += ["flags", flag]
    for word, value in (("group", s.group), ("snaplen", s.snaplen),
                        ("queue-threshold", s.queue_threshold)):
        if value is not None:
            words += [word, str(value)]
    return " ".join(words)


def _queue(s: Queue) -> str:
    num = str(s.num) if s.num_high is None else f"{s.num}-{s.num_high}"
    return f"queue num {num}" + (f" {','.join(s.flags)}" if s.flags else "")


def _nat(s: Nat) -> str:
    words = [s.kind]
    if s.family:
        words.append(s.family)
    target = ""
    if s.prefix_len is not None:
        words.append("prefix")
        target = f"{s.addr}/{s.prefix_len}"
    elif s.addr is not None:
        if ":" in s.addr and s.port is not None:      # IPv6 with a port: [a]-[b]:port
            target = f"[{s.addr}]" + (f"-[{s.addr_high}]" if s.addr_high else "")
        else:
            target = s.addr + (f"-{s.addr_high}" if s.addr_high else "")
    if s.port is not None:
        target += f":{s.port}" + (f"-{s.port_high}" if s.port_high is not None else "")
    if target:
        words += ["to", target]
    if s.flags:
        words.append(",".join(s.flags))
    return " ".join(words)


def _reject(s: Reject) -> str:
    if s.kind is None:
        return "reject"
    if s.kind == "tcp reset":
        return "reject with tcp reset"
    return f"reject with {s.kind} type {s.code}"


_STATEMENTS: dict[type, Callable] = {
    Compare: _compare,
    SetUpdate: lambda s: f"{s.op} @{s.set} {{ {expr_text(s.key)}"
                         + (f" timeout {s.timeout}s" if s.timeout is not None else "")
                         + (f" {_element_statement(s.limit)}" if s.limit else "") + " }",
    Limit: _limit,
    Quota: lambda s: f"quota {'over ' if s.inverted else ''}{s.bytes} bytes",
    Log: _log,
    Counter: lambda s: "counter" if s.packets is None else
                       f"counter packets {s.packets} bytes {s.bytes}",
    Verdict: lambda s: s.kind if s.target is None else f"{s.kind} {s.target}",
    Reject: _reject,
    Nat: _nat,
    Queue: _queue,
    Mangle: lambda s: f"{expr_text(s.left)} set {expr_text(s.value)}",
    Notrack: lambda s: "notrack",
    Dup: lambda s: f"dup to {s.addr}",
    Tproxy: lambda s: "tproxy " + (f"{s.family} " if s.family else "") + "to " + (
        (f"[{s.addr}]" if s.addr and ":" in s.addr and s.port is not None else s.addr or "")
        + (f":{s.port}" if s.port is not None else "")),
    Synproxy: lambda s: " ".join(["synproxy"]
                                 + ([f"mss {s.mss}"] if s.mss is not None else [])
                                 + ([f"wscale {s.wscale}"] if s.wscale is not None else [])
                                 + (["timestamp"] if s.timestamp else [])
                                 + (["sack-perm"] if s.sack_perm else [])),
}


def comment_text(comment: str) -> str:
    """A comment nft can hold: its double quotes become single ones, newlines spaces."""
    return comment.replace('"', "'").replace("\n", " ")


def rule_text(rule: NftRule, cache: dict | None = None) -> str:
    """One rule's statements as nft text (raises Unwritable for strings nft cannot hold).

    `cache` (id → (statement, text)) lets a writer render statements shared by many rules
    once; an entry keeps its statement alive, so no other statement can have that id.
    """
    if cache is None:
        text = " ".join(_STATEMENTS[type(s)](s) for s in rule.statements)
    else:
        words = []
        for s in rule.statements:
            hit = cache.get(key := id(s))
            if hit is None:
                hit = cache[key] = (s, _STATEMENTS[type(s)](s))
            words.append(hit[1])
        text = " ".join(words)
    if rule.comment:
        text += f" comment {quoted(comment_text(rule.comment))}"
    return text
