"""Values of the modules fwmigrate reads but does not translate to nft (mappings/matches.toml
and targets.toml, "read, not translated"): kept as iptables stores them, so that
`--to iptables-restore` prints what iptables-save would."""

from __future__ import annotations

from ..errors import OptionError
from ..ir import PortRange
from .values_ports import _port


def _choice(args, names: tuple[str, ...], what: str) -> str:
    upper = args[0].upper()
    if upper not in names:
        raise OptionError(f"Bad value for \"{what}\" option: \"{args[0]}\"",
                          hint=" or ".join(names))
    return upper


def parse_port(args, family, proto) -> PortRange:
    """One port or service name (no range): xt_ipvs --vport, --vportctl."""
    port = _port(args[0], proto)
    return PortRange(port, port)


def parse_ipvs_method(args, family, proto) -> str:
    return _choice(args, ("GATE", "IPIP", "MASQ"), "--vmethod")


PARSERS = {
    "port": parse_port,
    "ipvs_method": parse_ipvs_method,
}
