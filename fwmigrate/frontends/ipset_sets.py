"""A set as an ipset file builds it: the dimensions of its type, its options, IpsetError."""

from __future__ import annotations

import ipaddress

from ..ir import IpSet, Option

# the dimensions of each type, as ipset names them in the type
DIMENSIONS = {
    "hash:ip": ("ip",), "hash:net": ("net",), "hash:mac": ("mac",),
    "hash:ip,port": ("ip", "port"), "hash:net,port": ("net", "port"),
    "hash:ip,port,ip": ("ip", "port", "ip"), "hash:ip,port,net": ("ip", "port", "net"),
    "hash:net,port,net": ("net", "port", "net"), "hash:net,net": ("net", "net"),
    "hash:ip,mark": ("ip", "mark"), "hash:net,iface": ("net", "iface"),
    "hash:ip,mac": ("ip", "mac"), "bitmap:ip": ("ip",), "bitmap:ip,mac": ("ip", "mac"),
    "bitmap:port": ("port",), "list:set": ("set",),
}
# members read into typed values; the rest are kept as written
_READ = {"ip", "net", "port", "mac"}
TYPED = {t for t, dims in DIMENSIONS.items() if set(dims) <= _READ}
# types ipset creates without a family: they match IPv4 and IPv6 packets alike
NO_FAMILY = {"hash:mac", "bitmap:port", "list:set"}


class IpsetError(Exception):
    """A command ipset would refuse; `col` is where (a column, or a script's offset)."""

    def __init__(self, message: str, col: int, hint: str | None = None):
        super().__init__(message)
        self.message, self.col, self.hint = message, col, hint


class ReplayedSet:
    """A set while the file is replayed: members keyed by their values, in insertion order."""

    def __init__(self, name, type_, family, options, loc):
        self.name, self.type, self.family, self.options, self.loc = \
            name, type_, family, options, loc
        self.members: dict[tuple, tuple[Option, ...]] = {}

    @classmethod
    def from_ir(cls, s: IpSet) -> ReplayedSet:
        options: dict[str, object] = {o.name: o.value for o in s.options}
        options.update(maxelem=s.maxelem, family="inet6" if s.family == "ip6" else "inet")
        if s.timeout is not None:
            options["timeout"] = s.timeout
        for flag in ("counters", "comment"):
            if getattr(s, flag):
                options[flag] = None
        made = cls(s.name, s.type, s.family, options, s.loc)
        made.members = dict(s.entries)
        return made

    def ir(self) -> IpSet:
        opts = dict(self.options)
        timeout = opts.pop("timeout", None)
        maxelem = opts.pop("maxelem", _bitmap_size(opts.get("range")) or 65536)
        counters = "counters" in opts
        comment = "comment" in opts
        for name in ("counters", "comment", "family", "hashsize", "bucketsize", "initval",
                     "probes", "resize"):
            opts.pop(name, None)      # hash-table tuning: no meaning for which packets match
        return IpSet(self.name, self.type, self.family, tuple(self.members.items()),
                     timeout, counters, comment, maxelem,
                     tuple(Option(k, v) for k, v in opts.items()), self.loc)


def _bitmap_size(range_text: str | None) -> int | None:
    """How many members a bitmap's range holds (its capacity; bitmaps have no maxelem)."""
    if range_text is None:
        return None
    first, dash, last = range_text.partition("-")
    try:
        if dash and first.isdigit():
            return int(last) - int(first) + 1
        if dash:
            return int(ipaddress.ip_address(last)) - int(ipaddress.ip_address(first)) + 1
        return ipaddress.ip_network(range_text, strict=False).num_addresses
    except ValueError:
        return None
