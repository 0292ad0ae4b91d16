"""Concrete packets from the equivalence checker's packet classes (cubes of atoms): what
`verify --equiv` shows for a difference, and what the differential tests send."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right

from .packet import Packet
from .space import ABSENT, Space


def example(space: Space, cube: tuple, prefer: dict[str, list] | None = None) -> Packet:
    """One concrete packet of a cube: for each field the first `prefer` value the cube allows
    (e.g. addresses that exist on a test network), else the lowest atom's. Rate limits are
    preferred under their rate."""
    prefer = prefer or {}

    def pick(name):
        if name not in space.index:
            return None
        mask = cube[space.index[name]]
        atom = (mask & -mask).bit_length() - 1
        return space.fields[name], atom

    def preferred(name):
        f, mask = space.fields[name], cube[space.index[name]]
        for candidate in prefer.get(name, ()):
            if _atom(f, candidate) is not None and mask >> _atom(f, candidate) & 1:
                return True, candidate
        return False, None

    def value(name, other=None, highest=False):
        if name in space.index:
            found, v = preferred(name)
            if found:
                return v
        elif prefer.get(name):
            return prefer[name][0]            # no rule tests the field: any value will do
        got = pick(name)
        if got is not None and highest:
            f, _ = got
            mask = cube[space.index[name]]
            got = f, mask.bit_length() - 1
        if got is None:
            return other
        f, atom = got
        if hasattr(f, "starts"):
            return f.example(atom)
        if hasattr(f, "combo"):
            return f.combo(atom)
        v = f.example(atom)
        return other if v is None else v

    width = 32 if space.family == "ip" else 128
    ip = ipaddress.IPv4Address if width == 32 else ipaddress.IPv6Address
    saddr, daddr = ip(value("saddr", 0)), ip(value("daddr", 0))
    recent: dict[str, frozenset] = {}
    for name in space.order:
        if name.startswith("recent:") and value(name, ABSENT, highest=True) != ABSENT:
            _tag, lst, side, _mask = name.split(":", 3)
            recent[lst] = recent.get(lst, frozenset()) | {saddr if side == "rsource" else daddr}
    state = value("ct_state", "NEW")
    proto = value("proto", 253)
    return Packet(family=space.family, iif=value("iif", "other0"), oif=value("oif", "other0"),
                  saddr=saddr, daddr=daddr, proto=proto,
                  sport=value("sport") if proto in _PORTED else None,
                  dport=value("dport") if proto in _PORTED else None,
                  icmp_type=value("icmp_type", 254) if proto in (1, 58) else None,
                  icmp_code=value("icmp_code", 0) if proto in (1, 58) else None,
                  tcp_flags=value("tcp_flags", frozenset()) if proto == 6 else None,
                  ct_state=state.lower(), ct_status=value("ct_status", frozenset()),
                  ct_direction=value("ct_dir", "ORIGINAL"), fragment=value("fragment", False),
                  ct_orig_saddr=saddr, ct_orig_daddr=daddr, recent=recent)


_PORTED = {6, 17, 33, 132, 136}        # tcp, udp, dccp, sctp, udplite: packets with ports


def _atom(f, value) -> int | None:
    """The atom of field f that holds a concrete value."""
    if hasattr(f, "starts"):
        try:
            return bisect_right(f.starts, int(value)) - 1
        except (TypeError, ValueError):
            return None
    if hasattr(f, "combo"):
        if not set(value) <= set(f.names):
            return None
        return sum(1 << k for k, b in enumerate(f.used) if b in value)
    return f.atom_of(value)


def under_limits(space: Space, cube: tuple) -> bool:
    """Whether the cube holds packets that find every rate limit under its rate."""
    return all(cube[space.index[name]] & 1 for name in space.order if name.startswith("limit:"))
