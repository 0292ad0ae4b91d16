"""Option values (addresses, ports, rates, states, ICMP types …) → typed IR values.

`parse_value` applies the grammar an option names in mappings/*.toml; the grammars live in the
values_*.py modules, one per kind of value. Results are cached: real rulesets repeat the same
values thousands of times, and a grammar applied afresh to every one of them would dominate the
run time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from ..ir import Value
from .connlabel_names import parse_connlabel
from .limit_values import PARSERS as LIMIT_PARSERS
from .values_addresses import (
    parse_address,
    parse_address_list,
    parse_address_range,
    parse_address_unmasked,
    parse_dnat_range,
    parse_ip_address,
    parse_mac,
    parse_mask,
    parse_nat_range,
)
from .values_flags import (
    parse_addrtypes,
    parse_ct_dir,
    parse_ct_states,
    parse_ct_status,
    parse_dccp_types,
    parse_icmp_type,
    parse_icmpv6_type,
    parse_mh_types,
    parse_pkttype,
    parse_sctp_chunks,
    parse_states,
    parse_tcp_flags,
)
from .values_marks import (
    parse_and_mark,
    parse_and_tos,
    parse_dscp,
    parse_dscp_class,
    parse_ecn_codepoint,
    parse_or_mark,
    parse_or_tos,
    parse_set_mark,
    parse_set_tos,
    parse_tc_class,
    parse_tos,
    parse_xmark,
    parse_xor_mark,
    parse_xor_tos,
)
from .values_names import (
    parse_audit_type,
    parse_comment,
    parse_connbytes_dir,
    parse_connbytes_mode,
    parse_log_level,
    parse_log_prefix,
    parse_nflog_prefix,
    parse_policy_dir,
    parse_policy_pol,
    parse_recent_name,
    parse_reject_with,
    parse_set_ref,
    parse_statistic_mode,
)
from .values_numbers import (
    parse_burst,
    parse_connbytes_range,
    parse_id_range,
    parse_masked,
    parse_probability,
    parse_protocol,
    parse_queue_range,
    parse_rate,
    parse_shift_bits,
    parse_uint8,
    parse_uint16,
    parse_uint16_range,
    parse_uint16_range_any_order,
    parse_uint32,
    parse_uint32_range,
    parse_uint32_range_any_order,
    parse_uint64,
    parse_uint_range,
)
from .values_ports import (
    parse_nat_ports,
    parse_port_list,
    parse_port_range,
    parse_port_range_any_order,
    parse_sctp_port_range,
)
from .values_readonly import PARSERS as READ_ONLY_PARSERS
from .values_time import (
    parse_monthdays,
    parse_time_date,
    parse_time_of_day,
    parse_weekdays,
)


def parse_word(args, family, proto) -> str:
    return args[0]


def parse_words(args, family, proto) -> tuple:
    return tuple(args)


def parse_flag(args, family, proto) -> None:
    return None


PARSERS: dict[str, Callable[..., Value]] = {
    "port_range": parse_port_range,
    "port_range_any_order": parse_port_range_any_order,
    "sctp_port_range": parse_sctp_port_range,
    "port_list": parse_port_list,
    "nat_ports": parse_nat_ports,
    "address": parse_address,
    "address_unmasked": parse_address_unmasked,
    "ipvs_address": parse_address_unmasked,
    "address_list": parse_address_list,
    "address_range": parse_address_range,
    "mask": parse_mask,
    "rate": parse_rate,
    "burst": parse_burst,
    "uint8": parse_uint8,
    "uint32": parse_uint32,
    "uint_range": parse_uint_range,
    "masked": parse_masked,
    "protocol": parse_protocol,
    "ct_states": parse_ct_states,
    "states": parse_states,
    "ct_status": parse_ct_status,
    "ct_dir": parse_ct_dir,
    "tcp_flags": parse_tcp_flags,
    "icmp_type": parse_icmp_type,
    "icmpv6_type": parse_icmpv6_type,
    "comment": parse_comment,
    "log_prefix": parse_log_prefix,
    "log_level": parse_log_level,
    "recent_name": parse_recent_name,
    "reject_with": parse_reject_with,
    "nat_range": parse_nat_range,
    "dnat_range": parse_dnat_range,
    "mac": parse_mac,
    "uint16": parse_uint16,
    "uint16_range": parse_uint16_range,
    "uint32_range": parse_uint32_range,
    "uint16_range_any_order": parse_uint16_range_any_order,
    "uint32_range_any_order": parse_uint32_range_any_order,
    "word": parse_word,
    "id_range": parse_id_range,
    "tos": parse_tos,
    "dscp": parse_dscp,
    "dscp_class": parse_dscp_class,
    "ecn_codepoint": parse_ecn_codepoint,
    "audit_type": parse_audit_type,
    "dccp_types": parse_dccp_types,
    "ip_address": parse_ip_address,
    "time_date": parse_time_date,
    "time_of_day": parse_time_of_day,
    "weekdays": parse_weekdays,
    "monthdays": parse_monthdays,
    "mh_types": parse_mh_types,
    "pkttype": parse_pkttype,
    "addrtypes": parse_addrtypes,
    "statistic_mode": parse_statistic_mode,
    "policy_dir": parse_policy_dir,
    "connlabel": parse_connlabel,
    "policy_pol": parse_policy_pol,
    "probability": parse_probability,
    "sctp_chunks": parse_sctp_chunks,
    "xmark": parse_xmark,
    "set_mark": parse_set_mark,
    "and_mark": parse_and_mark,
    "or_mark": parse_or_mark,
    "xor_mark": parse_xor_mark,
    "hex32": parse_uint32,
    "set_tos": parse_set_tos,
    "and_tos": parse_and_tos,
    "or_tos": parse_or_tos,
    "xor_tos": parse_xor_tos,
    "tc_class": parse_tc_class,
    "nflog_prefix": parse_nflog_prefix,
    "queue_range": parse_queue_range,
    "set_ref": parse_set_ref,
    "uint64": parse_uint64,
    "connbytes_range": parse_connbytes_range,
    "shift_bits": parse_shift_bits,
    "connbytes_mode": parse_connbytes_mode,
    "connbytes_dir": parse_connbytes_dir,
    "flag": parse_flag,
}


PARSERS.update(LIMIT_PARSERS)       # hashlimit and connlimit, in their own module
PARSERS.update(READ_ONLY_PARSERS)   # modules read but not translated to nft


@lru_cache(maxsize=1 << 16)
def parse_value(kind: str, args: tuple[str, ...], family: str, proto: str | None) -> Value:
    """Parse an option's argument words with the grammar named `kind`; raises OptionError."""
    return PARSERS[kind](args, family, proto)
