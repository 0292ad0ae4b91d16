"""IPv4 and IPv6 chains → one inet table (`--family inet` with rules of both families).

Each family is translated on its own, as for `ip` and `ip6` tables; then the chains with the
same nft name are merged. Why the merged chain is exact:
- An inet chain sees the packets of both families. A rule that stands for one family's rule
  only gets `meta nfproto ipv4|ipv6` in front, so the other family's packets skip it, and skip
  it before anything in it has an effect (written `meta nfproto != ipv6|ipv4` where nft would
  list the test away as a dependency of a later statement: see tagged()). Where the rule
  already tests an IPv4 or IPv6 header field (`ip saddr`, `icmpv6 type`, `reject with icmp
  …`) before anything with an effect, nft itself puts that `meta nfproto` test before the
  field (checked with `nft --debug=netlink`), so the explicit one is left out.
- A rule is written once for both families only when the two translations are the same nft
  statements, none of them tied to one family (no IPv4/IPv6 header field, no family's ICMP
  reject, no per-family set) and none keeping state of its own: a merged `limit` would be one
  token bucket for both families where iptables had two, so such rules stay one per family.
- The two rule lists are aligned on a common subsequence (the longest, where the lists are
  small enough to compute it; a shorter one is just as exact): the common rules in their
  order, and between two of them the rules only one family has. Taking out the rules tagged
  for the other family gives back exactly each family's own list, in its own order, so each
  family's packets meet the same rules in the same order as before.
- Different policies: the chain takes one, and a last rule `meta nfproto <other> <verdict>`
  gives the other family its own. Only the end of the chain reaches that rule; a RETURN or a
  goto in a base chain reaches the policy directly, so the family that has them keeps the
  chain's policy, and when both have them the merge is refused.
- A base chain only one family has (an idle one, empty with policy accept, counts as absent)
  lets the other family's packets pass first, as they did with no iptables chain. A user chain
  only one family has keeps its rules as they are: only that family's rules jump to it. Its
  first rule returns the other family's packets, which never come: it is there so that the
  chain reads back as that family's only (nft's JSON listing drops chain comments, and which
  family reaches a chain does not tell whether the other one also had it).
The pass, absent and policy rules carry fixed comments (mappings/chains.toml [inet]) so that
the nft reader can give them back their meaning.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import replace

from .. import mappings
from .nft_ast import (
    BitAnd,
    Compare,
    Counter,
    Ct,
    Exthdr,
    Fib,
    Limit,
    Mangle,
    Meta,
    Nat,
    NftChain,
    NftRule,
    Numgen,
    Payload,
    Quota,
    RawPayload,
    Reject,
    SetRef,
    SetUpdate,
    Symbol,
    Tproxy,
    Verdict,
)
from .nft_common import nodes
from .nft_recent import Untranslatable

NFPROTO = {"ip": "ipv4", "ip6": "ipv6"}
_OTHER = {"ip": "ip6", "ip6": "ip"}
_PROGRAM = {"ip": "iptables", "ip6": "ip6tables"}
# header fields whose test nft guards with `meta nfproto` in an inet table
_FAMILY_OF_PAYLOAD = {"ip": "ip", "icmp": "ip", "ip6": "ip6", "icmpv6": "ip6"}
# past this many rule pairs a stretch of a chain is not searched for the longest alignment
_LCS_CELLS = 1_000_000


def nfproto(family: str) -> Compare:
    return Compare(Meta("nfproto"), "==", Symbol(NFPROTO[family]))


def pass_rule(family: str) -> NftRule:
    """First rule of a base chain that only the other family has: `family` passes it."""
    return NftRule((nfproto(family), Verdict("accept")), mappings.inet_comment("pass", family))


def absent_rule(family: str) -> NftRule:
    """First rule of a user chain that only the other family has: says so to the reader
    (`family` never jumps there; if it did, it would come back)."""
    return NftRule((nfproto(family), Verdict("return")), mappings.inet_comment("absent", family))


def policy_rule(family: str, policy: str) -> NftRule:
    return NftRule((nfproto(family), Verdict(policy)), mappings.inet_comment("policy", family))


# --- what a rule says about families ------------------------------------------------------------

def _payload_family(expr) -> str | None:
    while isinstance(expr, BitAnd):
        expr = expr.left
    return _FAMILY_OF_PAYLOAD.get(expr.protocol) if isinstance(expr, Payload) else None


def implied_family(statement) -> str | None:
    """The family nft restricts this statement to in an inet table (its own nfproto test)."""
    if isinstance(statement, (Compare, Mangle)):
        return _payload_family(statement.left)
    if isinstance(statement, Reject) and statement.kind in ("icmp", "icmpv6"):
        return "ip" if statement.kind == "icmp" else "ip6"
    return None


def _draws(expr) -> bool:
    """`numgen inc` counts the packets that evaluate it: evaluating it is an effect."""
    return any(isinstance(n, Numgen) and n.mode == "inc" for n in nodes(expr))


def _pure(statement) -> bool:
    return isinstance(statement, Compare) and not _draws(statement)


def needs_tag(rule: NftRule, family: str) -> bool:
    """Must the rule start with `meta nfproto`? Not when a test nft restricts to `family`
    comes before anything with an effect."""
    for s in rule.statements:
        implied = implied_family(s)
        if implied is not None:
            return implied != family
        if not _pure(s):
            return True
    return True


def _family_bound(node) -> bool:
    if isinstance(node, Payload):
        return node.protocol in _FAMILY_OF_PAYLOAD
    if isinstance(node, RawPayload):
        return node.base == "nh"            # offsets into IPv4 and IPv6 headers differ
    if isinstance(node, (Ct, Nat, Tproxy)):
        return node.family is not None
    if isinstance(node, Reject):
        return node.kind in ("icmp", "icmpv6")
    return isinstance(node, (SetRef, SetUpdate, Fib))


def _stateful(node) -> bool:
    return isinstance(node, (SetUpdate, Counter, Limit, Quota)) or (
        isinstance(node, Numgen) and node.mode == "inc")


def merge_key(rule: NftRule) -> tuple | None:
    """What must be equal for one rule to serve both families; None: it cannot."""
    if rule.untranslated is not None:
        return None
    key = []
    for s in rule.statements:
        if isinstance(s, Counter):          # counts only: the merged rule counts both
            key.append("counter")
            continue
        if any(_family_bound(n) or _stateful(n) for n in nodes(s)):
            return None
        key.append(s)
    return (tuple(key), rule.comment)


# --- alignment ------------------------------------------------------------------------------

def common(a: list, b: list) -> list[tuple[int, int]]:
    """Index pairs of a common subsequence of a and b (None never equals anything): the
    longest one where the lists (after their common start and end) are small enough to
    search; past that, anchored on the rules each list has once (patience diff), searching
    fully again in the gaps that are small enough. Any common subsequence is exact."""
    n, m = len(a), len(b)
    lo = 0
    while lo < n and lo < m and a[lo] is not None and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < n - lo and hi < m - lo and a[n - 1 - hi] is not None and \
            a[n - 1 - hi] == b[m - 1 - hi]:
        hi += 1
    pairs = [(k, k) for k in range(lo)]
    todo = [(lo, n - hi, lo, m - hi)]
    middle: list[tuple[int, int]] = []
    while todo:
        a0, a1, b0, b1 = todo.pop()
        if (a1 - a0) * (b1 - b0) <= _LCS_CELLS:
            middle += [(i + a0, j + b0) for i, j in _lcs(a[a0:a1], b[b0:b1])]
            continue
        anchors = _anchors(a, b, a0, a1, b0, b1)
        if not anchors:
            continue            # nothing shared here that is cheap to find: kept apart
        middle += anchors
        edges = [(a0 - 1, b0 - 1), *anchors, (a1, b1)]
        todo += [(i + 1, i2, j + 1, j2) for (i, j), (i2, j2) in zip(edges, edges[1:], strict=False)
                 if i + 1 < i2 and j + 1 < j2]
    pairs += sorted(middle)
    pairs += [(n - hi + k, m - hi + k) for k in range(hi)]
    return pairs


def _anchors(a: list, b: list, a0: int, a1: int, b0: int, b1: int) -> list[tuple[int, int]]:
    """The longest increasing run of pairs of keys found once in a[a0:a1] and once in
    b[b0:b1] (patience sorting)."""
    seen_a = collections.Counter(k for k in a[a0:a1] if k is not None)
    seen_b = collections.Counter(k for k in b[b0:b1] if k is not None)
    where_b = {b[j]: j for j in range(b0, b1) if seen_b.get(b[j]) == 1 and seen_a[b[j]] == 1}
    pairs = [(i, where_b[a[i]]) for i in range(a0, a1) if a[i] in where_b]
    tops: list[int] = []            # smallest last j of an increasing run of each length
    top_at: list[int] = []          # which pair that is
    before: list[int] = []          # the pair before each pair in its run
    for index, (_i, j) in enumerate(pairs):
        k = bisect.bisect_left(tops, j)
        tops[k:k + 1] = [j]
        top_at[k:k + 1] = [index]
        before.append(top_at[k - 1] if k else -1)
    run, at = [], top_at[-1] if top_at else -1
    while at >= 0:
        run.append(pairs[at])
        at = before[at]
    return run[::-1]


def _lcs(a: list, b: list) -> list[tuple[int, int]]:
    n, m = len(a), len(b)
    # length[i][j]: LCS of a[i:] and b[j:]
    length = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = length[i], length[i + 1]
        for j in range(m - 1, -1, -1):
            if a[i] is not None and a[i] == b[j]:
                row[j] = below[j + 1] + 1
            else:
                row[j] = max(below[j], row[j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] is not None and a[i] == b[j] and length[i][j] == length[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif length[i + 1][j] >= length[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


# --- merging ----------------------------------------------------------------------------------

def tagged(rule: NftRule, family: str) -> NftRule:
    if rule.untranslated is not None:       # a comment (--allow-partial): say whose it was
        return replace(rule, untranslated=f"{_PROGRAM[family]} {rule.untranslated}")
    if not needs_tag(rule, family):
        return rule
    tag = nfproto(family)
    if any(_needs_nfproto(s) for s in rule.statements):
        # nft 1.0.6 lists `meta nfproto ipv6 meta l4proto ipv6-icmp limit … icmpv6 type …`
        # and `meta nfproto ipv6 … reject with tcp reset` without the nfproto test (it takes
        # it for the dependency of what comes later): the kernel has it, but the rule would
        # read back as one for both families. An inet chain sees only IPv4 and IPv6, so
        # `!= ipv4` says the same, and is no dependency: it is listed as written.
        tag = Compare(Meta("nfproto"), "!=", Symbol(NFPROTO[_OTHER[family]]))
    return replace(rule, statements=(tag, *rule.statements))


def _needs_nfproto(statement) -> bool:
    """Does nft give this statement a `meta nfproto` dependency in an inet table?"""
    if isinstance(statement, Reject):
        return statement.kind != "icmpx"
    if isinstance(statement, SetUpdate):
        return _payload_family(statement.key) is not None
    if isinstance(statement, Compare) and statement.left == Meta("l4proto") and \
            statement.op == "==" and getattr(statement.right, "text", None) in _ICMP_PROTOCOLS:
        # `meta nfproto ipv4 meta l4proto icmp` (ipv6 … ipv6-icmp) lists without the nfproto
        return True
    if isinstance(statement, Compare) and any(isinstance(n, Exthdr) for n in nodes(statement)):
        # so does `meta nfproto ipv6` before an extension header test (`mh type`, `frag id`)
        return True
    return implied_family(statement) is not None


_ICMP_PROTOCOLS = frozenset({"icmp", "1", "ipv6-icmp", "58"})


def _both(a: NftRule, b: NftRule) -> NftRule:
    statements = []
    for x, y in zip(a.statements, b.statements, strict=True):
        if isinstance(x, Counter) and x.packets is not None and y.packets is not None:
            x = Counter(x.packets + y.packets, x.bytes + y.bytes)
        statements.append(x)
    return replace(a, statements=tuple(statements))


def merge_rules(v4: tuple[NftRule, ...], v6: tuple[NftRule, ...]) -> tuple[NftRule, ...]:
    keys4, keys6 = [merge_key(r) for r in v4], [merge_key(r) for r in v6]
    out: list[NftRule] = []
    i = j = 0
    for pi, pj in common(keys4, keys6) + [(len(v4), len(v6))]:
        out += [tagged(r, "ip") for r in v4[i:pi]]
        out += [tagged(r, "ip6") for r in v6[j:pj]]
        if pi < len(v4):
            out.append(_both(v4[pi], v6[pj]))
        i, j = pi + 1, pj + 1
    return tuple(out)


def alone(chain: NftChain, family: str) -> NftChain:
    """A chain only `family` has, in an inet table."""
    first = pass_rule(_OTHER[family]) if chain.base else absent_rule(_OTHER[family])
    return replace(chain, rules=(first, *chain.rules))


def _idle(chain: NftChain) -> bool:
    return chain.base is not None and not chain.rules and chain.base.policy == "accept"


def _reaches_policy(rules) -> NftRule | None:
    """A rule that ends the base chain without reaching its last rule (RETURN, -g)."""
    return next((r for r in rules for s in r.statements
                 if isinstance(s, Verdict) and s.kind in ("return", "goto")), None)


def merge_chain(c4: NftChain | None, c6: NftChain | None) -> NftChain:
    if c6 is None or (c4 is not None and _idle(c6) and not _idle(c4)):
        return alone(c4, "ip")
    if c4 is None or (_idle(c4) and not _idle(c6)):
        return alone(c6, "ip6")
    rules = merge_rules(c4.rules, c6.rules)
    base = c4.base
    if base is not None and base.policy != c6.base.policy:
        policies = {"ip": base.policy, "ip6": c6.base.policy}
        early = {"ip": _reaches_policy(c4.rules), "ip6": _reaches_policy(c6.rules)}
        first, second = ("ip6", "ip") if early["ip6"] and not early["ip"] else ("ip", "ip6")
        if early[second] is not None:
            raise Untranslatable(
                f"chain {c4.name} has policy {policies['ip'].upper()} for IPv4 and "
                f"{policies['ip6'].upper()} for IPv6, and both families reach the policy by "
                f"RETURN or -g (e.g. {early['ip'].loc} and {early['ip6'].loc}); one inet chain "
                "has one policy", "use --family ip and --family ip6, or leave out --family")
        base = replace(base, policy=policies[first])
        rules += (policy_rule(second, policies[second]),)
    return replace(c4, rules=rules, base=base)


def merge_chains(v4: list[NftChain], v6: list[NftChain]) -> list[NftChain]:
    """IPv4's chains in their order (merged with IPv6's of the same name), then IPv6's own."""
    by_name = {c.name: c for c in v6}
    out = [merge_chain(c, by_name.pop(c.name, None)) for c in v4]
    return out + [merge_chain(None, c) for c in by_name.values()]
