"""-m policy and -m connlabel → nft: tests of a packet's IPsec path and its connection's
labels, where nft has one exact expression (mappings/matches.toml says when each is exact)."""

from __future__ import annotations

from ..frontends.policy_elements import has_elements
from .nft_ast import Compare, Ct, Mangle, Meta, Rt, Statement, Symbol
from .nft_recent import Untranslatable

# why -m policy's elements are not translated (README, "refused")
POLICY_ELEMENTS_WHY = (
    "-m policy's policy elements: xt_policy compares an element with every state of the "
    "IPsec path (any one of them without --strict; with --strict each in turn, and the "
    "path's length), and can test a state's protocol and mode; nft's `ipsec in|out "
    "[spnum N]` reads one state at a fixed position and has no protocol or mode key")


def h_policy(tr, rule, index, match, opt, ctx) -> list[Statement]:
    """--pol ipsec|none without elements: is there a sec_path (in) / a route transform (out)?"""
    if has_elements(match):
        raise Untranslatable(POLICY_ELEMENTS_WHY, "keep the rule in iptables (iptables-nft "
                             "runs it as an xt match), or match the IPsec path's properties "
                             "with nft's `ipsec in|out` where one fixed state is enough")
    left = Meta("ipsec") if match.option("dir").value == "in" else Rt("ipsec")
    present = match.option("pol").value == "ipsec"
    return [Compare(left, "==", Symbol("exists" if present else "missing"))]


def h_connlabel(tr, rule, index, match, opt, ctx) -> list[Statement]:
    label = match.option("label")
    if label.negated:
        raise Untranslatable("! --label: xt_connlabel lets a packet without a conntrack entry "
                             "(or one made before labels were in use) pass an inverted test, "
                             "where nft's `ct label` stops the rule",
                             "write the rule without the inversion, e.g. a RETURN for the "
                             "labelled connections before the rule for the others")
    bit = Symbol(str(label.value))
    test = Compare(Ct("label"), "==", bit)
    if match.option("set") is None:
        return [test]
    # xt sets the bit and matches, or fails without a labelled entry: the test after the set
    # statement stops the rule exactly there (`ct label set` alone would go on)
    return [Mangle(Ct("label"), bit), test]
