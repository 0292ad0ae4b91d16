"""IR → canonical iptables-save text, as the kernel would give it back.

Canonical means what iptables-save prints: -s -d -i -o -p -f first, then matches in order
with their options in the module's order, defaults spelled out where iptables prints them
(recent's --name/--mask/--rsource) and left out where it does not (limit's burst 5), values
normalised (10.0.0.1/32, --dport 1024:65535, icmp types as numbers), user chains sorted.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime

from .. import __version__, mappings
from ..frontends.connlabel_names import connlabel_text
from ..frontends.limit_values import normal_connlimit
from ..frontends.limit_values import save_words as hashlimit_save_words
from ..frontends.policy_elements import element_save_words
from ..frontends.rateest_values import estimator_words, rateest_words
from ..frontends.values_flags import CT_STATES, CT_STATUS, TCP_FLAGS
from ..frontends.values_readonly import SAVE_TEXT as READ_ONLY_TEXT
from ..frontends.values_readonly import string_save_words
from ..frontends.values_time import WEEKDAYS
from ..ir import (
    Address,
    AddressRange,
    IcmpType,
    IntRange,
    Jump,
    Masked,
    Match,
    Option,
    PortRange,
    Rate,
    Rule,
    Ruleset,
    Table,
    TargetExtension,
    TcpFlags,
    Verdict,
)

_NO_QUOTE = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# the order iptables-nft-save prints tables in (iptables-legacy-save's depends on load order)
SAVE_TABLE_ORDER = ("mangle", "security", "raw", "filter", "nat")


def quote(value: str) -> str:
    """iptables' xtables_save_string: bare when safe, else double quotes with \\ escapes."""
    if value and all(ch in _NO_QUOTE for ch in value):
        return value
    escaped = "".join("\\" + ch if ch in "\"\\'" else ch for ch in value)
    return f'"{escaped}"'


def address(addr: Address) -> str:
    plen = addr.prefixlen
    return f"{addr.addr}/{plen if plen is not None else addr.mask}"


def _ports(value: PortRange) -> str:
    return str(value.first) if value.single else f"{value.first}:{value.last}"


def _rate(value: Rate) -> str:
    short = {"second": "sec", "minute": "min", "hour": "hour", "day": "day"}[value.unit]
    return f"{value.count}/{short}"


def _icmp(value: IcmpType) -> str:
    if value.type is None:
        return "any"
    if value.code_min == 0 and value.code_max == 0xFF:
        return str(value.type)
    return f"{value.type}/{value.code_min}"


def _ordered(names: frozenset, order: tuple[str, ...]) -> str:
    return ",".join(n for n in order if n in names)


def value_text(opt: Option, kind: str) -> str | None:
    """The option's value as iptables-save prints it (None: a flag without a value)."""
    v = opt.value
    if kind == "flag":
        return None
    text = _KIND_TEXT.get(kind)
    if text is not None:
        return text(v)
    if kind == "nat_ports":
        return str(v.first) if v.single else f"{v.first}-{v.last}"
    if isinstance(v, PortRange):
        return _ports(v)
    if kind == "port_list":
        return ",".join(_ports(p) for p in v)
    if isinstance(v, Address):
        # conntrack prints a host address bare; -s/-d and others always with a prefix
        return str(v.addr) if kind == "ct_address" and v.is_host else address(v)
    if isinstance(v, AddressRange):
        return f"{v.first}-{v.last}"
    if isinstance(v, Rate):
        return _rate(v)
    if isinstance(v, IcmpType):
        return _icmp(v)
    if isinstance(v, TcpFlags):
        return f"{_ordered(v.mask, TCP_FLAGS) or 'NONE'} {_ordered(v.compare, TCP_FLAGS) or 'NONE'}"
    if kind in ("ct_states", "states"):
        return _ordered(v, CT_STATES)
    if kind == "ct_status":
        return _ordered(v, CT_STATUS) or "NONE"
    if isinstance(v, Masked):
        return f"{v.value:#x}" if v.mask == 0xFFFFFFFF else f"{v.value:#x}/{v.mask:#x}"
    if isinstance(v, IntRange):
        return str(v.first) if v.first == v.last else f"{v.first}:{v.last}"
    if kind in ("comment", "log_prefix"):
        return quote(v)
    if kind in ("nat_range", "dnat_range"):
        first, last, ports = v
        base = None
        if isinstance(ports, tuple):            # a DNAT port shift
            ports, base = ports
        text = "" if first is None else str(first) if last == first else f"{first}-{last}"
        if isinstance(first, ipaddress.IPv6Address) and ports is not None:
            text = f"[{text}]"
        if ports is not None:
            text += f":{ports.first}" + ("" if ports.single else f"-{ports.last}")
        return text if base is None else f"{text}/{base}"
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(v)
    return str(v)


def _pkttype_name(number: int) -> str:
    names = mappings.load("nft_values")["pkttype"]["iptables"]
    return next((n for n, k in names if k == number), str(number))


# value grammars whose text is not decided by the value's type alone
_KIND_TEXT = {
    "id_range": lambda v: str(v.first) if v.first == v.last else f"{v.first}-{v.last}",
    "tos": lambda v: f"0x{v.value:02x}/0x{v.mask:02x}",
    "dscp": lambda v: f"0x{v:02x}",
    "dscp_class": lambda v: f"0x{v:02x}",
    "pkttype": _pkttype_name,
    "addrtypes": lambda v: ",".join(t for t in mappings.load("nft_values")["addrtypes"]["order"]
                                    if t in v),
    "probability": lambda v: "%.11f" % (v / 0x80000000),
    "sctp_chunks": lambda v: " ".join(v),
    "time_of_day": lambda v: f"{v // 3600:02d}:{v // 60 % 60:02d}:{v % 60:02d}",
    "time_date": lambda v: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(v)),
    "weekdays": lambda v: ",".join(d for i, d in enumerate(WEEKDAYS, 1) if i in v),
    "monthdays": lambda v: ",".join(str(d) for d in sorted(v)),
    "dccp_types": lambda v: _ordered(v, tuple(mappings.load("nft_values")["dccp_types"]
                                              ["iptables"])),
    "xmark": lambda v: f"{v.value:#x}/{v.mask:#x}",
    "set_tos": lambda v: f"0x{v.value:02x}/0x{v.mask:02x}",
    "hex32": lambda v: f"{v:#x}",
    "tc_class": lambda v: f"{v >> 16:04x}:{v & 0xFFFF:04x}",
    "nflog_prefix": quote,
    "queue_range": lambda v: f"{v.first}:{v.last}",
    "set_ref": lambda v: f"{v[0]} {','.join(v[1])}",
    # iptables-save leaves out an upper bound of 2^64 - 1 (`--connbytes 200`), keeps 5:5
    "connbytes_range": lambda v: str(v.first) if v.last == 0xFFFFFFFFFFFFFFFF
    else f"{v.first}:{v.last}",
    "connlabel": connlabel_text,            # quoted, by name where connlabel.conf has one
    # libxt_nfacct prints `--nfacct-name ` and then xtables_save_string's own space
    "nfacct_name": lambda v: " " + quote(v),
    # libxt_ipvs prints a host address bare, others with their mask as given (1.2.3.4/16)
    "ipvs_address": lambda v: str(v.addr) if v.is_host else address(v),
    **READ_ONLY_TEXT,
}


def _options(spec: mappings.ExtensionSpec, options: tuple[Option, ...]) -> list[str]:
    out: list[str] = []
    for opt in options:
        ospec = spec.by_name[opt.name]
        kind = "ct_address" if spec.name == "conntrack" and ospec.value == "address" \
            else ospec.value
        if ospec.omit is not None and value_text(opt, ospec.value) == ospec.omit:
            continue
        if opt.negated:
            out.append("!")
        if ospec.value == "flag" and len(ospec.flags) > 1:
            out.append(f"--{opt.value}")
            continue
        words = _SAVE_WORDS.get(ospec.value)
        if words is not None:       # the value decides the flag too
            out.extend(words(opt.value))
            continue
        out.append(_save_flag(ospec))
        text = value_text(opt, kind)
        if text is not None:
            out.append(text)
    return out


# value grammars whose value decides the flag iptables-save prints: value → (flag, text)
_SAVE_WORDS = {"string_pattern": string_save_words,
               "policy_element": lambda v: element_save_words(v, _host_or_prefix)}


def _host_or_prefix(value: Address) -> str:
    """xtables_ipaddr_to_numeric + ipmask_to_numeric: a host bare, else with its mask."""
    return str(value.addr) if value.is_host else address(value)


def _save_flag(ospec: mappings.OptionSpec) -> str:
    return ospec.flags[0]


def _match(match: Match) -> list[str]:
    if match.module == "hashlimit":      # its burst and expiry print relative to the rate
        return ["-m", "hashlimit", *hashlimit_save_words({o.name: o for o in match.options})]
    spec = mappings.match_specs()[match.module]
    if match.module == "connlimit":
        match = normal_connlimit(match)
    if match.module == "rateest":        # its word order depends on the mode
        return ["-m", "rateest", *rateest_words({o.name: o for o in match.options})]
    return ["-m", match.module, *_options(spec, match.options)]


def _neg(sel, flag: str, text: str) -> list[str]:
    return (["!"] if sel.negated else []) + [flag, text]


def rule_words(rule: Rule) -> list[str]:
    words: list[str] = []
    if rule.source:
        words += _neg(rule.source, "-s", address(rule.source.value))
    if rule.destination:
        words += _neg(rule.destination, "-d", address(rule.destination.value))
    if rule.in_interface:
        words += _neg(rule.in_interface, "-i", rule.in_interface.value)
    if rule.out_interface:
        words += _neg(rule.out_interface, "-o", rule.out_interface.value)
    if rule.protocol:
        number = rule.protocol.value
        words += _neg(rule.protocol, "-p",
                      mappings.protocol_save_names().get(number, str(number)))
    if rule.fragment:
        words += (["!"] if rule.fragment.negated else []) + ["-f"]
    for match in rule.matches:
        words += _match(match)
    target = rule.target
    if isinstance(target, Verdict):
        words += ["-j", target.name]
    elif isinstance(target, Jump):
        words += ["-g" if target.goto else "-j", target.chain]
    elif isinstance(target, TargetExtension):
        spec = mappings.target_specs()[target.name]
        if target.name == "RATEEST":     # the times the kernel keeps, not the ones given
            words += ["-j", "RATEEST", *estimator_words({o.name: o for o in target.options})]
        else:
            words += ["-j", target.name, *_options(spec, target.options)]
    return words


def rule_line(chain: str, rule: Rule, with_counters: bool = True) -> str:
    prefix = ""
    if with_counters and rule.counters is not None:
        prefix = f"[{rule.counters.packets}:{rule.counters.bytes}] "
    return prefix + " ".join(["-A", chain, *rule_words(rule)])


def table_text(table: Table) -> list[str]:
    lines = [f"*{table.name}"]
    builtin = [c for c in table.chains if c.builtin]
    users = sorted((c for c in table.chains if not c.builtin), key=lambda c: c.name.encode())
    for chain in builtin:
        counters = chain.counters
        lines.append(f":{chain.name} {chain.policy} "
                     f"[{counters.packets if counters else 0}:{counters.bytes if counters else 0}]")
    for chain in users:
        counters = chain.counters
        lines.append(f":{chain.name} - "
                     f"[{counters.packets if counters else 0}:{counters.bytes if counters else 0}]")
    for chain in builtin + users:
        lines.extend(rule_line(chain.name, r) for r in chain.rules)
    lines.append("COMMIT")
    return lines


def render(ruleset: Ruleset, family: str | None = None, keep_order: bool = True) -> str:
    """The iptables-save text of one family (default: the first one in the ruleset).

    keep_order: tables in the order the input had them (a save file read back unchanged);
    otherwise in iptables-nft-save's fixed order.
    """
    family = family or (ruleset.families[0] if ruleset.families else "ip")
    tables = [t for t in ruleset.tables if t.family == family]
    if not keep_order:
        tables.sort(key=lambda t: SAVE_TABLE_ORDER.index(t.name))
    tool = "iptables-save" if family == "ip" else "ip6tables-save"
    stamp = datetime.now(UTC).strftime("%a %b %d %H:%M:%S %Y")
    out = []
    for table in tables:
        out.append(f"# Generated by fwmigrate {__version__} ({tool} format) on {stamp}")
        out.extend(table_text(table))
        out.append(f"# Completed on {stamp}")
    return "\n".join(out) + "\n"
