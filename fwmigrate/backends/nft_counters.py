"""Match handlers for counts and clocks the kernel keeps: a connection's packet and byte
counts (-m connbytes: `ct packets`, `ct bytes`, `ct avgpkt`) and remaining time (-m conntrack
--ctexpire: `ct expiration`), and a rule's own byte quota (-m quota: `quota`).

The connection's values exist only once conntrack has seen the packet, which is why the raw
table (priority -300, before conntrack's -200) is refused for connbytes: there a packet has no
entry yet, or, after `-j CT`, a template entry without counters, which xt_connbytes fails and
nft's `ct packets` reads as 0.
"""

from __future__ import annotations

from ..ir import IntRange
from .nft_ast import Compare, Ct, Quota, Range, Statement, Symbol
from .nft_recent import Untranslatable

U64_MAX = 0xFFFFFFFFFFFFFFFF

CONNBYTES_NOTE = (
    "-m connbytes is `ct packets` / `ct bytes` / `ct avgpkt`: loading such a rule turns\n"
    "conntrack accounting on (net.netfilter.nf_conntrack_acct), as xt_connbytes does. A\n"
    "connection that was already tracked before accounting was on has no counters:\n"
    "xt_connbytes never matches it, nft reads its counters as 0.")

CTEXPIRE_NOTE = (
    "--ctexpire a:b is `ct expiration as-bs999ms`: xt_conntrack compares the remaining time in\n"
    "whole seconds, nft in milliseconds. nft lists such a rule back in whole seconds\n"
    "(`ct expiration 3s-3s`); the kernel holds the milliseconds.")


def _note(tr, text: str) -> None:
    if text not in tr.result.notes:
        tr.result.notes.append(text)


def h_connbytes(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if ctx.ipt_table == "raw":
        raise Untranslatable("-m connbytes in the raw table: a packet has no conntrack entry "
                             "there yet, or after -j CT a template without counters, which "
                             "xt_connbytes fails and nft's `ct packets` reads as 0",
                             "move the rule to the mangle or filter table")
    count = match.option("connbytes")
    direction = match.option("connbytes-dir").value
    key = Ct(match.option("connbytes-mode").value,
             None if direction == "both" else direction)
    _note(tr, CONNBYTES_NOTE)
    return [_count_compare(key, count.value, count.negated)]


def _count_compare(key: Ct, span: IntRange, negated: bool) -> Compare:
    """first ≤ count ≤ last (or outside, negated), in the shortest form nft has."""
    first, last = span.first, span.last
    if last == U64_MAX:                # only a lower bound (libxt_connbytes' `--connbytes N`)
        return Compare(key, "<" if negated else ">=", Symbol(str(first)))
    if first == last:                  # never negated (the parse folds `!` there)
        return Compare(key, "==", Symbol(str(first)))
    return Compare(key, "!=" if negated else "==", Range(Symbol(str(first)), Symbol(str(last))))


# nft reads `ct expiration` as 32-bit milliseconds
_MS_MAX = 0xFFFFFFFF


def h_ctexpire(tr, rule, index, match, opt, ctx) -> list[Statement]:
    span: IntRange = opt.value
    if span.first * 1000 > _MS_MAX:
        raise Untranslatable(f"--ctexpire {span.first}:{span.last}: nft reads the remaining "
                             f"time in 32-bit milliseconds, at most {_MS_MAX // 1000} seconds")
    # xt: floor(remaining jiffies / HZ) in [first, last]; nft: the same time in milliseconds
    high = min(span.last * 1000 + 999, _MS_MAX)
    _note(tr, CTEXPIRE_NOTE)
    return [Compare(Ct("expiration"), "!=" if opt.negated else "==",
                    Range(Symbol(_ms(span.first * 1000)), Symbol(_ms(high))))]


def _ms(ms: int) -> str:
    seconds, rest = divmod(ms, 1000)
    return f"{seconds}s" + (f"{rest}ms" if rest else "")


# nft_quota refuses a quota above the largest signed 64-bit number (EOVERFLOW)
_QUOTA_MAX = (1 << 63) - 1

QUOTA_NOTE = (
    "-m quota is nft's `quota [over] N bytes`: the packet that uses the quota up exactly still\n"
    "matches, as in xt_quota, on Linux 6.16 and later; older kernels' nft_quota stops one\n"
    "packet earlier (consumed >= quota counted as over), unless they carry the fix\n"
    "\"netfilter: nft_quota: match correctly when the quota just depleted\".")


def h_quota(tr, rule, index, match, opt, ctx) -> list[Statement]:
    if opt.value > _QUOTA_MAX:
        raise Untranslatable(f"--quota {opt.value}: nft's quota holds at most {_QUOTA_MAX} "
                             "bytes", "a quota that large is never used up: leave the match "
                             "out (or, with !, the rule)")
    _note(tr, QUOTA_NOTE)
    return [Quota(opt.value, opt.negated)]
