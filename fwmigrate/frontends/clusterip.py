"""-j CLUSTERIP (ipt_CLUSTERIP, removed from Linux 6.3): read as libipt_CLUSTERIP reads it,
with the checks it and the kernel's checkentry made, and kept for `--to iptables-restore`
(the nft backend refuses it: mappings/extensions.toml [not_translated]).

A rule with --new sets up the cluster of its destination address; a rule without options
joins the cluster an earlier --new rule set up, which fwmigrate does not follow (refused as
not supported). The kernel took a --new rule only with one destination address (-d A/32) and,
for the rule that sets a cluster up, an input interface (-i).
"""

from __future__ import annotations

from ..errors import OptionError
from ..ir import Rule, Table, TargetExtension
from .values_common import c_uint

_HASHMODES = ("sourceip", "sourceip-sourceport", "sourceip-sourceport-destport")
_MAX_NODES = 16             # CLUSTERIP_MAX_NODES
# what iptables 1.8.9 takes together (or none of them: the rule joins a cluster)
_NEEDED = {"new", "hashmode", "clustermac", "total-nodes", "local-node"}


def parse_hashmode(args, family, proto) -> str:
    if args[0] not in _HASHMODES:
        raise OptionError(f'Unknown hashmode "{args[0]}"', hint=" or ".join(_HASHMODES))
    return args[0]


def parse_cluster_mac(args, family, proto) -> str:
    """XTTYPE_ETHERMAC: six groups of one or two hex digits; a multicast address."""
    parts = args[0].split(":")
    if len(parts) != 6 or not all(
            1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise OptionError("Invalid MAC address specified.")
    octets = [int(p, 16) for p in parts]
    if not octets[0] & 1:
        raise OptionError("MAC has to be a multicast ethernet address")
    return ":".join(f"{o:02X}" for o in octets)


def _nodes(flag: str):
    def parse(args, family, proto) -> int:
        try:
            return c_uint(args[0], 0, _MAX_NODES)
        except OptionError:
            raise OptionError(f'CLUSTERIP: bad value for option "{flag}", or out of range '
                              f"(0-{_MAX_NODES}).") from None
    return parse


PARSERS = {"clusterip_hashmode": parse_hashmode, "clusterip_mac": parse_cluster_mac,
           "clusterip_total_nodes": _nodes("--total-nodes"),
           "clusterip_local_node": _nodes("--local-node")}


def check_clusterip(by_name: dict, index: int) -> None:
    """libipt_CLUSTERIP's final check and the kernel's node range."""
    if not by_name:
        raise OptionError("-j CLUSTERIP without --new (joining the cluster an earlier --new "
                          "rule set up) is not supported by fwmigrate yet", index,
                          hint="give the rule's --new options", unsupported=True)
    if not _NEEDED <= by_name.keys():
        raise OptionError("CLUSTERIP target: Invalid parameter combination", index,
                          hint="--new needs --hashmode, --clustermac, --total-nodes and "
                               "--local-node (--hash-init is 0 when left out)")
    local = by_name["local-node"].value
    if local == 0:
        raise OptionError(f"CLUSTERIP: local node {local} is out of range", index,
                          hint="the kernel refuses the rule (nodes are 1 to 16)")


def clusterip_problems(table: Table) -> list[tuple[Rule, str]]:
    """What the kernel's checkentry refused about a rule's addresses: one destination
    address, and an input interface on the rule that sets its cluster up."""
    problems = []
    clusters: set = set()
    for chain in table.chains:
        for rule in chain.rules:
            if not isinstance(rule.target, TargetExtension) or rule.target.name != "CLUSTERIP":
                continue
            dest = rule.destination
            if dest is None or dest.negated or not dest.value.is_host or \
                    int(dest.value.addr) == 0:
                problems.append((rule, "CLUSTERIP target: the kernel refuses a rule without "
                                       "one destination address (-d ADDR): Please specify "
                                       "destination IP"))
            elif dest.value.addr not in clusters:
                if rule.in_interface is None:
                    problems.append((rule, "CLUSTERIP target: the kernel refuses the rule "
                                           "that sets a cluster up without an input interface "
                                           "(-i): Please specify an interface name"))
                clusters.add(dest.value.addr)
    return problems
