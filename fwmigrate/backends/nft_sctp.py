"""-m sctp --chunk-types → nft's `sctp chunk T exists|missing`, where that is exact.

xt_sctp walks every chunk of the first fragment: `all` holds when each listed type is among
them, `any` when one is, `only` when no other type is; a type's flags (DATA:iUbE) count when
some chunk of the type has them. nft's `sctp chunk T` finds the first chunk of type T. So:
`all`, or one type with `any`, is a conjunction of `exists` tests; `!` with one type is
`missing`. Flags (nft reads the first chunk of the type only), `only` (nft names 22 of the 256
types), several types with `any` or `!` (a disjunction) are refused, and so is a rule that
does not skip later fragments with `! -f` (nft would read their payload as chunks; IPv6 has no
such test). A malformed chunk (zero length) makes xt_sctp drop the packet, where nft's walk
just stops.
"""

from __future__ import annotations

from .. import mappings
from .nft_ast import Compare, SctpChunk, Statement, Symbol
from .nft_recent import Untranslatable


def h_sctp_chunks(tr, rule, index, match, opt, ctx) -> list[Statement]:
    mode, listed = opt.value
    mode = mode.lower()
    names = mappings.load("nft_values")["sctp_chunks"]
    types: list[str] = []
    for item in listed.split(","):
        name, _, flags = item.partition(":")
        if flags:
            raise Untranslatable(f"--chunk-types {name}:{flags}: xt_sctp matches when any "
                                 f"{name} chunk has the flags, nft's `sctp chunk … flags` "
                                 "reads the first one only")
        nft = names.get(name.upper())
        if nft is None:
            raise Untranslatable(f"--chunk-types {name}: nft 1.0.6 names 22 SCTP chunk types "
                                 f"({', '.join(names)}) and no others")
        if nft not in types:
            types.append(nft)
    if mode == "only":
        raise Untranslatable("--chunk-types only: every other chunk type must be missing, and "
                             "nft 1.0.6 can name only 22 of the 256")
    if len(types) > 1 and (mode == "any" or opt.negated):
        what = "any of several chunk types" if mode == "any" else "! --chunk-types all with " \
                                                                  "several types"
        raise Untranslatable(f"{what} is a disjunction; nft tests chunks one at a time",
                             "write one rule per chunk type")
    if ctx.family != "ip" or rule.fragment is None or not rule.fragment.negated:
        # xt_sctp never matches a later fragment; nft's chunk walk (and even its port tests,
        # tests/test_sctp_kernel.py) reads such a fragment's payload as the SCTP header
        raise Untranslatable("--chunk-types without `! -f`: nft would read a later fragment's "
                             "payload as SCTP chunks, where xt_sctp never matches a later "
                             "fragment", "add `! -f` (IPv4) so that the rule skips later "
                             "fragments; ip6tables has no such test")
    word = "missing" if opt.negated else "exists"
    return [Compare(SctpChunk(t), "==", Symbol(word)) for t in types]
