"""Conntrack tests one nft rule cannot say, written as two rules (the second a companion, see
nft_companions.py), and the reader folds them back (frontends/nft_ct_fold.py):

- `! --ctstate S` with SNAT/DNAT in S: xt_conntrack passes a packet without a conntrack entry
  (INVALID, UNTRACKED) when its state is not in S; nft's `ct status` stops the rule at such a
  packet (nft_ct_get_eval: NFT_BREAK without an entry for every key but the state). So:
  `ct state <no-entry states not in S>`, then `ct state <entry states not in S> ct status !=
  <NAT bits of S>`.
- `--ctstate P,N` (N SNAT/DNAT): in P, or a NAT bit of N on a connection in another state
  (xt_conntrack ORs the bits). So: `ct state P`, then `ct state <entry states not in P> ct
  status N`.

Why the two rules are the one: their `ct state` tests are disjoint, so a packet meets the
target at most once, and meets it exactly when the iptables test holds. A packet the first
rule does not take meets the second rule's tests as it met the first's, when
- every statement before the state test answers the same a second time (repeatable: no side
  effect, no random draw); the statements after it run in only the rule the packet is in,
  except that a limit, quota or nth counter would be one per nft rule where iptables has one;
- the first rule's target cannot give the packet a state of the second: conntrack gave the
  packet its entry before every table but raw, and in raw only -j CT attaches one (a
  template, which `ct state` reads as NEW), directly or from a chain jumped to (a goto never
  comes back); NOTRACK is refused alike. A template an earlier -j CT attached is, to
  xt_conntrack, a NEW entry without NAT bits, which `ct status` does not read at all: such a
  rule is refused before it gets here (frontends/ct_templates.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..frontends.conntrack_entry import ENTRY_STATES, NO_ENTRY, moves_state
from .nft_ast import Compare, Counter, Ct, FlagList, Limit, NftRule, Numgen, Quota, Statement
from .nft_common import nodes, repeatable
from .nft_recent import Untranslatable


@dataclass(frozen=True, slots=True)
class Split:
    """A state test of the first rule (the object in its statements), what stands in its
    place in the second rule, and the refusal where the two would not be exact."""
    first: Compare
    second: tuple[Statement, ...]
    message: str
    hint: str


def none_of(plain: frozenset[str], nat: FlagList, states, message: str, hint: str) -> Split:
    """`! --ctstate` plain states and the NAT bits `nat`; `states(names)` is their flags."""
    return Split(Compare(Ct("state"), "==", states(NO_ENTRY - plain)),
                 (Compare(Ct("state"), "==", states(ENTRY_STATES - plain)),
                  Compare(Ct("status"), "!=", nat)), message, hint)


def either(plain: frozenset[str], nat: FlagList, states, message: str, hint: str) -> Split:
    """`--ctstate` with the plain states and the NAT bits `nat`."""
    return Split(Compare(Ct("state"), "==", states(plain)),
                 (Compare(Ct("state"), "==", states(ENTRY_STATES - plain)),
                  Compare(Ct("status"), "==", nat)), message, hint)


def _per_rule_state(statement) -> bool:
    return any(isinstance(n, (Limit, Quota)) or (isinstance(n, Numgen) and n.mode == "inc")
               for n in nodes(statement))


def companion(rule: NftRule, splits: dict[int, Split], table: str, ipt_rule) -> NftRule | None:
    """The second rule of `rule` when one of its statements is a split state test; raises
    Untranslatable (the state test's own refusal, and why) where the two would not be exact."""
    at = [i for i, s in enumerate(rule.statements) if id(s) in splits]
    if not at:
        return None
    split = splits[id(rule.statements[at[0]])]

    def refuse(why: str, hint: str = "") -> Untranslatable:
        return Untranslatable(f"{split.message}; as two nft rules {why}", split.hint + hint)

    if len(at) > 1:
        raise refuse("with a second such test it would take four")
    if getattr(ipt_rule.target, "name", None) == "TPROXY" or \
            any(m.module == "hashlimit" for m in ipt_rule.matches):
        raise refuse("it would have a second rule of another kind already (the drop "
                     "written after a TPROXY or hashlimit rule)")
    head, tail = rule.statements[:at[0]], rule.statements[at[0] + 1:]
    if not all(map(repeatable, head)):
        raise refuse("the test before it with a side effect or a random answer would run "
                     "twice", "; put that test in a rule of its own that jumps to a chain "
                     "with the two rules")
    if any(map(_per_rule_state, tail)):
        raise refuse("the limit, quota or nth counter after it would be one per nft rule, "
                     "where iptables' rule has one", "; let both rules jump to a chain with "
                     "that test and the target")
    if moves_state(table, ipt_rule.target):
        raise refuse("this target in the raw table may give the packet a conntrack template "
                     "(-j CT, or a chain jumped to), which the second rule's `ct state` reads "
                     "as NEW", "; in the raw table only with a target that cannot do that")
    # the iptables rule's counters stay on the first rule; the second counts from zero, so
    # the sum of the two is iptables' count
    second = tuple(Counter(0, 0) if type(s) is Counter and s.packets is not None else s
                   for s in (*head, *split.second, *tail))
    return replace(rule, statements=second, companion=True)
