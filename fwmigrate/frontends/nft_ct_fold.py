"""Two nft rules that are one iptables conntrack test (the pair backends/nft_ct_split.py
writes) → that one rule:

    <tests> ct state X <rest>                          X: states without an entry
    <tests> ct state Y ct status != N <rest>           Y: states with one
        = <tests> -m conntrack ! --ctstate S <rest>    S: the other states, and N

    <tests> ct state P <rest>
    <tests> ct state <entry states not in P> ct status N <rest>
        = <tests> -m conntrack --ctstate P,N <rest>

Only that shape is folded, and only where the two say exactly what the one says: the tests
before the state test give the same answer twice (no effect, no random draw), nothing after
it keeps a count of its own per rule (limit, quota, numgen inc), and in the raw table the
target cannot give the packet the second rule's state (conntrack_entry.moves_state, checked
by the caller on the folded rule). Any other pair is read as the two rules it is."""

from __future__ import annotations

from typing import Any

from .conntrack_entry import ENTRY_STATES, NAT_STATES, NO_ENTRY

_STATE = {"ct": {"key": "state"}}
_STATUS = {"ct": {"key": "status"}}
# statements that keep a count of their own in each rule
_PER_RULE = frozenset({"limit", "quota"})


def _flags_test(stmt: Any, left: dict) -> tuple[bool, frozenset[str]] | None:
    """(negated, names) of a `ct state`/`ct status` flag test, else None."""
    body = stmt.get("match") if isinstance(stmt, dict) else None
    if not isinstance(body, dict) or body.get("left") != left or \
            body.get("op") not in ("==", "in", "!=", "!"):
        return None
    right = body.get("right")
    if body["op"] in ("==", "!=") and (left == _STATUS or not isinstance(right, str)):
        return None         # a compare of the whole value (nft_lift_conntrack._flag_names)
    names = [right] if isinstance(right, str) else right
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return None
    return body["op"] in ("!=", "!"), frozenset(n.upper() for n in names)


def _mentions(value: Any, key: str, test=lambda body: True) -> bool:
    if isinstance(value, dict):
        return any((k == key and test(v)) or _mentions(v, key, test) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, key, test) for v in value)
    return False


def _repeatable(stmt: Any) -> bool:
    """A test with no effect that a second look answers alike (no numgen, no meta random)."""
    return isinstance(stmt, dict) and set(stmt) == {"match"} and \
        not _mentions(stmt, "numgen") and \
        not _mentions(stmt, "meta", lambda body: isinstance(body, dict)
                      and body.get("key") == "random")


def _per_rule(stmt: Any) -> bool:
    return isinstance(stmt, dict) and bool(_PER_RULE & set(stmt)) or _mentions(
        stmt, "numgen", lambda body: isinstance(body, dict) and body.get("mode") == "inc")


def _same(a: list, b: list) -> bool:
    """Equal but for the counters' values (the second rule's counts its own packets)."""
    def shape(e):
        return "counter" if isinstance(e, dict) and "counter" in e else e
    return len(a) == len(b) and all(shape(x) == shape(y) for x, y in zip(a, b, strict=True))


def fold(first: dict[str, Any], second: dict[str, Any], strip) -> dict[str, Any] | None:
    """The one rule `first` and `second` say (the first with its state test replaced by a
    --ctstate with SNAT/DNAT, which the lifter reads as it reads any state test), or None.
    `strip` takes out the `meta nfproto` tests, which the kernel lists in an inet table only
    where the rest does not imply them."""
    if first.get("comment") != second.get("comment"):
        return None
    a, b = strip(first["expr"]), strip(second["expr"])
    if len(b) != len(a) + 1:
        return None
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
             len(a))
    if i == len(a):
        return None
    x, y, nat = _flags_test(a[i], _STATE), _flags_test(b[i], _STATE), \
        _flags_test(b[i + 1], _STATUS)
    if x is None or y is None or nat is None or x[0] or y[0] or not nat[1] <= NAT_STATES:
        return None
    negated, bits = nat
    if negated and x[1] <= NO_ENTRY and y[1] <= ENTRY_STATES:
        states = (NO_ENTRY - x[1]) | (ENTRY_STATES - y[1]) | bits
    elif not negated and y[1] == ENTRY_STATES - x[1]:
        states = x[1] | bits
    else:
        return None
    if not (_same(a[i + 1:], b[i + 2:]) and all(map(_repeatable, a[:i]))
            and not any(map(_per_rule, a[i + 1:]))):
        return None
    test = {"match": {"op": "!" if negated else "in", "left": _STATE,
                      "right": sorted(s.lower() for s in states)}}
    return {**first, "expr": [test if e is a[i] else e for e in first["expr"]]}
