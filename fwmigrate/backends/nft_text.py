"""nft model (nft_ast) → a file for `nft -f`.

The file replaces only its own tables (`table X` + `delete table X` + the new `table X { … }`,
all in one transaction), unless flush_ruleset is asked for. Strings are written so that no
comment, log prefix or interface name can change the syntax around it: nft 1.0.6 has no escape
inside "…", so a string with `"` or a newline cannot be written and is reported instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import __version__, mappings
from ..errors import Diagnostic
from ..ir import SourceLocation
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
    Verdict,
)

_SHORT_META = frozenset({"iifname", "oifname", "iif", "oif", "mark"})
# nft accepts these standard priority names only on some hooks
_NAMED_PRIORITY_HOOKS = {"dstnat": {"prerouting"}, "srcnat": {"postrouting"}}


class _Unwritable(Exception):
    pass


@dataclass(slots=True)
class TextOutput:
    text: str
    problems: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _string(value: str) -> str:
    if '"' in value or "\n" in value:
        raise _Unwritable(f"the text {value!r} contains a double quote or a newline, which nft's "
                          "text format cannot hold")
    return f'"{value}"'


def _expr(e, in_mask: bool = False) -> str:
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
    Text: lambda e, m: _string(e.value),
    Prefix: lambda e, m: f"{e.addr}/{e.length}",
    Range: lambda e, m: f"{_expr(e.low)}-{_expr(e.high)}",
    AnonSet: lambda e, m: "{ " + ", ".join(_expr(i) for i in e.items) + " }",
    FlagList: lambda e, m: ("(" + "|".join(e.names) + ")") if m else ",".join(e.names),
    BitAnd: lambda e, m: f"{_expr(e.left)} & {_expr(e.mask, True)}",
    Concat: lambda e, m: " . ".join(_expr(i) for i in e.items),
    SetRef: lambda e, m: f"@{e.name}",
    SetElem: lambda e, m: _expr(e.value) + (f" timeout {e.timeout}s" if e.timeout else "")
    + (f" comment {_string(e.comment)}" if e.comment is not None else ""),
}


def _binop(e: BinOp) -> str:
    left = _expr(e.left)
    if e.op in ("<<", ">>") and isinstance(e.left, BinOp):
        left = f"({left})"      # nft binds a shift tighter than & | ^
    return f"{left} {e.op} {_expr(e.right)}"


def _compare(s: Compare) -> str:
    if type(s.left) is Payload and type(s.right) in _PLAIN_RIGHT and s.op in ("==", "!="):
        # an address or a port against a header field, the most common compare by far
        left = f"{s.left.protocol} {s.left.field}"
        right = _EXPRS[type(s.right)](s.right, False)
        return f"{left} {right}" if s.op == "==" else f"{left} != {right}"
    left = _expr(s.left)
    if isinstance(s.left, (TcpOption, Exthdr)) and s.left.field is None:
        return f"{left} {_expr(s.right)}"
    if s.op not in ("==", "!="):
        return f"{left} {s.op} {_expr(s.right)}"
    if isinstance(s.left, BitAnd) and not isinstance(s.right, SetRef):
        right = "|".join(s.right.names) if isinstance(s.right, FlagList) else _expr(s.right)
        return f"{left} {s.op} {right}"
    if isinstance(s.right, FlagList):
        # a flag list tests "any of these bits"; `!=` would compare the whole value instead
        return f"{left} {'! ' if s.op == '!=' else ''}{_expr(s.right)}"
    return f"{left} {_expr(s.right)}" if s.op == "==" else f"{left} != {_expr(s.right)}"


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
        words += ["prefix", _string(s.prefix)]
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
    SetUpdate: lambda s: f"{s.op} @{s.set} {{ {_expr(s.key)}"
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
    Mangle: lambda s: f"{_expr(s.left)} set {_expr(s.value)}",
    Notrack: lambda s: "notrack",
    Dup: lambda s: f"dup to {s.addr}",
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
    """One rule's statements as nft text (raises _Unwritable for strings nft cannot hold).

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
        text += f" comment {_string(comment_text(rule.comment))}"
    return text


def _priority(base) -> str:
    name = mappings.priority_names().get(base.priority)
    only_on = _NAMED_PRIORITY_HOOKS.get(name or "")
    if only_on is not None and (base.type != "nat" or base.hook not in only_on):
        name = None
    return name or str(base.priority)


class _Writer:
    def __init__(self) -> None:
        self.out = TextOutput("")
        self.cache: dict[int, tuple] = {}

    def problem(self, loc: SourceLocation | None, message: str) -> None:
        self.out.problems.append(Diagnostic(loc, message, "error",
                                            "use --to nft-json, which can hold any string"))

    def set_lines(self, s: NftSet) -> list[str]:
        flags = ["dynamic"] if s.dynamic else []
        if s.timeout is not None:
            flags.append("timeout")
        lines = []
        if s.comment:
            lines.append(f"\t# {s.comment}")
        if s.interval:
            flags.append("interval")
        lines.append(f"\tset {s.name} {{")
        lines.append(f"\t\ttype {s.type}")
        if s.size is not None:
            lines.append(f"\t\tsize {s.size}")
        if flags:
            lines.append(f"\t\tflags {','.join(flags)}")
        if s.timeout is not None:
            lines.append(f"\t\ttimeout {s.timeout}s")
        if s.counter:
            lines.append("\t\tcounter")
        if s.ipset and '"' not in ipset_comment(s):
            lines.append(f"\t\tcomment {_string(ipset_comment(s))}")
        if s.elements:
            try:
                items = [_expr(e) for e in s.elements]
            except _Unwritable as exc:
                self.problem(None, f"set {s.name}: {exc}")
                items = []
            # a long list (a blocklist) reads and diffs better one member per line
            sep = ",\n\t\t\t     " if sum(len(i) + 2 for i in items) > 72 else ", "
            lines.append("\t\telements = { " + sep.join(items) + " }")
        lines.append("\t}")
        return lines

    def chain_lines(self, chain: NftChain) -> list[str]:
        lines = []
        if chain.comment:
            lines.append(f"\t# {chain.comment}")
        lines.append(f"\tchain {chain.name} {{")
        if chain.base:
            b = chain.base
            lines.append(f"\t\ttype {b.type} hook {b.hook} priority {_priority(b)}; "
                         f"policy {b.policy};")
        for rule in chain.rules:
            if rule.untranslated is not None:
                lines.append(f"\t\t# NOT TRANSLATED ({rule.comment}): {rule.untranslated}")
                continue
            try:
                lines.append("\t\t" + rule_text(rule, self.cache))
            except _Unwritable as exc:
                self.problem(rule.loc, str(exc))
                continue
            if rule.comment and comment_text(rule.comment) != rule.comment:
                self.out.notes.append(f"{rule.loc}: the comment's double quotes or newlines "
                                      "are written as single quotes and spaces")
        lines.append("\t}")
        return lines

    def table_lines(self, table: NftTable) -> list[str]:
        lines = [f"table {table.family} {table.name} {{"]
        for s in table.sets:
            lines += self.set_lines(s)
        for chain in table.chains:
            lines += self.chain_lines(chain)
        lines.append("}")
        return lines


def render(ruleset: NftRuleset, *, source: str = "-", flush_ruleset: bool = False,
           header_notes: list[str] | None = None) -> TextOutput:
    writer = _Writer()
    lines = ["#!/usr/sbin/nft -f", f"# Translated by fwmigrate {__version__} from {source}"]
    for note in list(ruleset.notes) + list(header_notes or []):
        lines += [f"# {line}" for line in note.split("\n")]
    if flush_ruleset:
        lines.append("# Replaces the whole ruleset (--flush-ruleset).")
        lines += ["", "flush ruleset"]
    else:
        names = ", ".join(f"{t.family} {t.name}" for t in ruleset.tables)
        lines.append(f"# Replaces only table {names}; other tables (e.g. Docker's) stay as "
                     "they are.")
        lines.append("")
        for table in ruleset.tables:
            # create-if-missing, then delete: the new table below replaces it in one transaction
            lines.append(f"table {table.family} {table.name}")
            lines.append(f"delete table {table.family} {table.name}")
    for table in ruleset.tables:
        lines.append("")
        lines += writer.table_lines(table)
    writer.out.text = "\n".join(lines) + "\n"
    return writer.out


def ipset_comment(s: NftSet) -> str:
    return f"ipset {s.ipset[0]} {s.ipset[1]}"


def _set_spec(s: NftSet) -> str:
    parts = [f"type {s.type}"] + ([f"size {s.size}"] if s.size is not None else [])
    flags = (["dynamic"] if s.dynamic else []) + (["timeout"] if s.timeout is not None else []) \
        + (["interval"] if s.interval else [])
    if flags:
        parts.append(f"flags {','.join(flags)}")
    if s.timeout is not None:
        parts.append(f"timeout {s.timeout}s")
    if s.counter:
        parts.append("counter")
    if s.ipset and '"' not in ipset_comment(s):
        parts.append(f"comment {_string(ipset_comment(s))}")
    if s.elements:
        parts.append("elements = { " + ", ".join(_expr(e) for e in s.elements) + " }")
    return "{ " + "; ".join(parts) + "; }"


def table_commands(table: NftTable, declare_chains: bool = True,
                   cache: dict | None = None) -> list[str]:
    """One table as `add …` commands, the form iptables-restore-translate prints."""
    where = f"{table.family} {table.name}"
    lines = [f"add table {where}"]
    if declare_chains:
        for chain in table.chains:
            lines.append(chain_command(where, chain))
    for s in table.sets:
        lines.append(f"add set {where} {s.name} {_set_spec(s)}")
    for chain in table.chains:
        head = f"add rule {where} {chain.name} "       # rule_command's, once per chain
        lines += [head + rule_text(rule, cache) if rule.untranslated is None
                  else rule_command("add", where, chain.name, rule) for rule in chain.rules]
    return lines


def chain_command(where: str, chain: NftChain) -> str:
    if chain.base is None:
        return f"add chain {where} {chain.name}"
    b = chain.base
    return (f"add chain {where} {chain.name} {{ type {b.type} hook {b.hook} priority "
            f"{b.priority}; policy {b.policy}; }}")


def rule_command(verb: str, where: str, chain: str, rule: NftRule, position: str = "",
                 cache: dict | None = None) -> str:
    if rule.untranslated is not None:
        return f"# NOT TRANSLATED ({rule.comment}): {rule.untranslated}"
    return f"{verb} rule {where} {chain}{position} {rule_text(rule, cache)}"


def render_commands(ruleset: NftRuleset, header: str) -> TextOutput:
    writer = _Writer()
    lines = [header] + [f"# {line}" for n in ruleset.notes for line in n.split("\n")]
    for table in ruleset.tables:
        try:
            lines += table_commands(table, cache=writer.cache)
        except _Unwritable as exc:
            writer.problem(None, str(exc))
    lines.append("")        # the final newline, without copying the whole text once more
    writer.out.text = "\n".join(lines)
    return writer.out
