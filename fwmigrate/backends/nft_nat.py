"""NAT targets → nft statements: SNAT, DNAT, MASQUERADE, REDIRECT, NETMAP and TPROXY."""

from __future__ import annotations

from .. import mappings
from ..ir import TargetExtension
from .nft_ast import Mangle, Meta, Nat, Statement, Tproxy
from .nft_ast import Verdict as NftVerdict
from .nft_common import address_text, reaching_hooks
from .nft_marks import xmark
from .nft_recent import Untranslatable


def tproxy_target(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    """xt_TPROXY: with a transparent socket for the packet, set the mark and ACCEPT; without
    one, DROP. nft's tproxy ends the rule when it finds none, so the translator writes a
    companion rule after this one: the same tests, then drop (see nft_translate)."""
    port = target.option("on-port").value       # a PortRange of one port
    on_ip = target.option("on-ip")
    addr = None
    if on_ip is not None and on_ip.value is not None and not on_ip.value.is_unspecified:
        addr = address_text(on_ip.value)
    if port.first == 0 and addr is None:
        raise Untranslatable("TPROXY --on-port 0 without --on-ip: nft's tproxy needs an "
                             "address or a port", "give --on-ip or the port")
    family = ctx.family if tr.options.family == "inet" else None
    statements: list[Statement] = [Tproxy(family, addr, port.first or None)]
    mark = target.option("tproxy-mark").value
    if mark.mask != 0 or mark.value != 0:
        statements.append(Mangle(Meta("mark"), xmark(Meta("mark"), mark)))
    return statements + [NftVerdict("accept")]


def nat_target(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    kind = target.name.lower() if target.name in ("SNAT", "DNAT") else {
        "MASQUERADE": "masquerade", "REDIRECT": "redirect"}[target.name]
    flags = []
    for opt_name, flag in (("random", "random"), ("random-fully", "fully-random"),
                           ("persistent", "persistent")):
        if target.option(opt_name):
            flags.append(flag)
    addr = addr_high = None
    ports = None
    if kind in ("snat", "dnat"):
        first, last, ports = target.options[0].value
        if isinstance(ports, tuple):
            raise Untranslatable("a DNAT port shift (:first-last/base) gives each original "
                                 "port its own new port (first + port - base, within the "
                                 "range); nft 1.0.6's dnat has no port offset",
                                 "write one rule per original port (or per range shifted "
                                 "alike) with its own --to-destination")
        if first is None:
            raise Untranslatable(f"--to-{'source' if kind == 'snat' else 'destination'} "
                                 "without an address")
        addr = address_text(first)
        addr_high = address_text(last) if last != first else None
    else:
        opt = target.option("to-ports")
        ports = opt.value if opt else None
    family = None
    if tr.options.family == "inet" and kind in ("snat", "dnat"):
        family = ctx.family
    return [Nat(kind, family, addr, addr_high,
                ports.first if ports else None,
                ports.last if ports and not ports.single else None, tuple(flags))]


def netmap_target(tr, rule, target: TargetExtension, ctx) -> list[Statement]:
    """NETMAP --to ADDR/LEN: nft's prefix NAT (NF_NAT_RANGE_NETMAP) keeps the host bits and
    replaces the prefix, as xt_NETMAP does (tests/test_netmap_kernel.py)."""
    to = target.option("to").value
    if to.prefixlen is None:
        raise Untranslatable(f"NETMAP --to {address_text(to.addr)}/{address_text(to.mask)}: "
                             "nft's prefix NAT takes a prefix length, not a mask with gaps")
    hooks = sorted(reaching_hooks(ctx))
    manip = mappings.load("chains")["netmap_manip"]       # by hook, as xt_NETMAP does
    kinds = {manip[h] for h in hooks}
    if len(kinds) != 1:
        where = (f"chain {ctx.chain} is reached from {' and '.join(hooks)}" if hooks
                 else f"no built-in chain reaches chain {ctx.chain}")
        raise Untranslatable(f"NETMAP maps the source or the destination by the hook a packet "
                             f"is in, and {where}; nft's snat and dnat are fixed per rule",
                             "put the NETMAP rules for each direction in their own chain")
    return [Nat(kinds.pop(), ctx.family, address_text(to.addr), prefix_len=to.prefixlen)]
