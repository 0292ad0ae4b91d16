"""CONNMARK's masks as libxt_CONNMARK stores them: in the order they are given.

--ctmask and --nfmask write their field as they are read (XTOPT_PUT), and every set operation
(--set-xmark, --set-mark, --and/--or/--xor-mark) writes ctmask too, so the last one wins: a
--ctmask after the operation becomes its mask, one before it is overwritten. Set mode never
reads nfmask. iptables-save then prints `--set-xmark VALUE/CTMASK` and neither mask, which is
the form kept here (a later line of the same shape is parsed in full: frontends/templates.py
reuses a shape only for words that are still slots).
"""

from __future__ import annotations

from ..errors import OptionError
from ..ir import Masked, Option

_MASKS = ("ctmask", "nfmask")


def connmark_option(parser, ext, name: str) -> None:
    """After CONNMARK's option `name` is stored in ext.options: fold the masks into a set
    operation, as the kernel will see them."""
    opts = ext.options
    if "xmark" not in opts or (name != "xmark" and name not in _MASKS):
        return
    folded = [m for m in _MASKS if m in opts]
    if not folded:
        return
    op = opts["xmark"]
    if name == "ctmask":            # after the operation: its mask
        opts["xmark"] = Option("xmark", Masked(op.value.value, opts["ctmask"].value),
                               op.negated)
    for mask in folded:
        del opts[mask]
        ext.dropped.add(mask)       # given twice is still "can only be used once"
    # the words now build one value together: not slots a template may refill alone
    for index, owner in list(parser.slots.items()):
        if owner[0] is ext and owner[1] in ("xmark", *folded):
            del parser.slots[index]


def check_connmark(opts: dict, index: int) -> None:
    if "xmark" not in opts and "mode" not in opts:
        raise OptionError("CONNMARK target: No operation specified", index)
