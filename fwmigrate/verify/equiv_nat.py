"""What a NAT rule leaves for the tables after nat on its hook, as equivalence-walk steps.

nat is followed by other tables on the output hook only (filter and security OUTPUT); each
hook is checked from "any packet", so elsewhere nothing after nat sees what it did. There a
NAT rule binds the connection of the (first) packet it matches: BindStatus gives it the DNAT
status bit where the rewrite changes the tuple (nat_status.decisions, as the evaluator), and
Rewrite gives the rewritten fields their new value — one atom, or each atom of what the
kernel may choose (an address range, a port outside the range given, --random), walked apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import TargetExtension
from .evaluate import HOOK_TABLES
from .nat_status import DESTINATION_HOOKS, LOOPBACK, NAT_TARGETS, RANDOM_OPTIONS, decisions

# the targets that bind the other side than a hook's nat chains do (by destination)
_OTHER_SIDE = {True: ("SNAT", "MASQUERADE"), False: ("DNAT", "REDIRECT")}


@dataclass(frozen=True)
class BindStatus:
    """The status bit: branches (test cube, answer), the first that holds deciding: True the
    bit is set, False the status stays, None either (both are walked)."""
    field: int
    bit: int                 # the bit's place in the status field's atoms
    branches: tuple[tuple[tuple[tuple[int, int], ...], bool | None], ...]


@dataclass(frozen=True)
class Rewrite:
    """A field the rule rewrites: the atoms in `keep` stay (a port already in the range), the
    others become each of `alternatives` (one atom each)."""
    field: int
    keep: int
    alternatives: tuple[int, ...]


def seen_later(hook: str | None) -> bool:
    """Whether a table after nat on this hook sees what a NAT rule did."""
    tables = HOOK_TABLES.get(hook or "", ())
    return "nat" in tables and tables.index("nat") < len(tables) - 1


def nat_steps(compiler, target: TargetExtension) -> list:
    """The steps after a NAT rule's tests (compiler: verify.compile.Compiler)."""
    destination = compiler.hook in DESTINATION_HOOKS
    if not seen_later(compiler.hook) or target.name in _OTHER_SIDE[destination]:
        return []        # a rule of another hook's nat chain (chains compile all at once)
    space = compiler.space
    side = "d" if destination else "s"
    steps: list = []
    status = space.fields.get("ct_status")
    bit = "DNAT" if destination else "SNAT"
    if status is not None and bit in status.used:
        branches = []
        for tests, answer in decisions(target, destination):
            cube = {}
            for kind, first, last, inside in tests:
                name = side + kind
                cube[name] = compiler.neg(name, space.fields[name].mask(first, last), not inside)
            branches.append((compiler.cube(**cube), answer))
        steps.append(BindStatus(compiler.ix["ct_status"], status.used.index(bit),
                                tuple(branches)))
    addr, port = side + "addr", side + "port"

    def atoms(name: str, first: int, last: int) -> tuple[int, ...]:
        mask = space.fields[name].mask(first, last)
        return tuple(1 << k for k in range(mask.bit_length()) if mask >> k & 1)

    def every(name: str) -> tuple[int, ...]:
        return atoms(name, 0, (1 << (space.width if name == addr else 16)) - 1)

    options = {o.name: o.value for o in target.options}
    random = any(name in options for name in RANDOM_OPTIONS)
    ports = options.get("to-ports")
    if target.name == "NETMAP":
        first, last = _span(options["to"])
        steps.append(Rewrite(compiler.ix[addr], 0, atoms(addr, first, last)))
    elif target.name in ("DNAT", "SNAT"):
        low, high, ports = options["to-destination" if destination else "to-source"]
        if low is not None:
            steps.append(Rewrite(compiler.ix[addr], 0, atoms(addr, int(low), int(high))))
    elif target.name == "REDIRECT" and compiler.hook == "output":
        here = int(LOOPBACK[space.family])
        steps.append(Rewrite(compiler.ix[addr], 0, atoms(addr, here, here)))
    else:
        # REDIRECT elsewhere and MASQUERADE: an interface's address, not known here
        steps.append(Rewrite(compiler.ix[addr], 0, every(addr)))
    if ports is not None:
        keep = 0 if random or ports.first == ports.last else \
            space.fields[port].mask(ports.first, ports.last)
        steps.append(Rewrite(compiler.ix[port], keep, atoms(port, ports.first, ports.last)))
    elif random and not destination:
        steps.append(Rewrite(compiler.ix[port], 0, every(port)))
    return steps


def nat_cuts(target: TargetExtension, family: str) -> list[tuple[str, int, int]]:
    """(field, first, last): the values a NAT target's rewrite and status decision need as
    atoms of their own."""
    if getattr(target, "name", None) not in NAT_TARGETS:
        return []
    cuts = []
    for destination, side in ((True, "d"), (False, "s")):
        for tests, _answer in decisions(target, destination):
            cuts += [(side + kind, first, last) for kind, first, last, _ in tests]
    options = {o.name: o.value for o in target.options}
    for key, side in (("to-destination", "d"), ("to-source", "s")):
        if options.get(key) is not None:
            low, high, ports = options[key]
            if low is not None:
                cuts.append((side + "addr", int(low), int(high)))
            if ports is not None:
                cuts.append((side + "port", ports.first, ports.last))
    if options.get("to-ports") is not None:
        cuts += [(side + "port", options["to-ports"].first, options["to-ports"].last)
                 for side in "ds"]
    if target.name == "NETMAP":
        cuts += [(side + "addr", *_span(options["to"])) for side in "ds"]
    if target.name == "REDIRECT":
        here = int(LOOPBACK[family])
        cuts.append(("daddr", here, here))
    return cuts


def _span(net) -> tuple[int, int]:
    full = (1 << net.addr.max_prefixlen) - 1
    first = int(net.addr) & int(net.mask)
    return first, first | (full ^ int(net.mask))
