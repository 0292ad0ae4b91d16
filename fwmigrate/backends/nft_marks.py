"""Mark targets → nft statements: MARK and CONNMARK, and xmark, the arithmetic both share."""

from __future__ import annotations

from ..ir import Masked, TargetExtension
from .nft_ast import BinOp, Ct, Expr, Mangle, Meta, Statement, Symbol
from .nft_recent import Untranslatable

_ALL = 0xFFFFFFFF


def xmark(left: Expr, v: Masked) -> Expr:
    """(left & ~mask) ^ value, in the shortest form nft takes."""
    keep = ~v.mask & _ALL
    if v.mask == _ALL:
        return Symbol(f"{v.value:#x}")
    if v.value == 0:
        return BinOp(left, "&", Symbol(f"{keep:#x}"))
    if v.value == v.mask:
        return BinOp(left, "|", Symbol(f"{v.value:#x}"))
    if v.mask == 0:
        return BinOp(left, "^", Symbol(f"{v.value:#x}"))
    return BinOp(BinOp(left, "&", Symbol(f"{keep:#x}")), "^", Symbol(f"{v.value:#x}"))


def mark_target(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    return [Mangle(Meta("mark"), xmark(Meta("mark"), target.option("xmark").value))]


def connmark_target(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    given = target.option("xmark")
    if given is not None:
        return [Mangle(Ct("mark"), _shifted(target, xmark(Ct("mark"), given.value)))]
    mode = target.option("mode").value
    nfmask, ctmask = target.option("nfmask").value, target.option("ctmask").value
    # save: ctmark = (ctmark & ~ctmask) ^ (mark & nfmask); restore: the other way round.
    # Keeping part of the destination while copying part of the source combines two fields,
    # which nft 1.0.6 cannot do.
    dest_mask, src_mask = (ctmask, nfmask) if mode == "save-mark" else (nfmask, ctmask)
    if dest_mask != _ALL:
        raise Untranslatable(f"--{mode} keeping part of the destination mark "
                             f"({'--ctmask' if mode == 'save-mark' else '--nfmask'} "
                             f"{dest_mask:#x}) combines two marks, which nft cannot do")
    source: Expr = Meta("mark") if mode == "save-mark" else Ct("mark")
    if src_mask != _ALL:
        source = BinOp(source, "&", Symbol(f"{src_mask:#x}"))
    return [Mangle(Ct("mark") if mode == "save-mark" else Meta("mark"),
                   _shifted(target, source))]


def _shifted(target: TargetExtension, value: Expr) -> Expr:
    """xt_CONNMARK revision 2 shifts the new mark (or the copied part) last, in 32 bits."""
    for name, op_ in (("left-shift-mark", "<<"), ("right-shift-mark", ">>")):
        bits = target.option(name)
        if bits is None:
            continue
        if isinstance(value, Symbol):           # a constant mark: shifted here
            number = int(value.text, 0)
            number = number << bits.value if op_ == "<<" else number >> bits.value
            return Symbol(f"{number & _ALL:#x}")
        return BinOp(value, op_, Symbol(str(bits.value)))
    return value
