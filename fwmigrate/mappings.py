"""Loads the data tables in mappings/ once and indexes them for the frontends and backends."""

from __future__ import annotations

import marshal
import os
import sys
import tomllib
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


def _read(name: str) -> bytes:
    # A source checkout (or editable install) has mappings/ beside the package; an installed
    # wheel carries the same files as the package data fwmigrate.mapping_data.
    here = Path(__file__).resolve().parent.parent / "mappings" / f"{name}.toml"
    if here.is_file():
        return here.read_bytes()
    # imported here: importlib.resources brings tempfile, shutil and the compressors along
    from importlib import resources
    return resources.files("fwmigrate.mapping_data").joinpath(f"{name}.toml").read_bytes()


# Parsed tables kept as marshal data beside the package's bytecode: tomllib, pure Python, took
# a twentieth of a 20,000-rule conversion to parse them on every start.
_PARSED = Path(__file__).resolve().parent / "__pycache__"


@cache
def load(name: str) -> dict[str, Any]:
    """A mappings file's tables; the parsed copy is used only when it was made from exactly
    the same text (it holds that text), so an edited file is parsed again. Like Python's
    bytecode, the copy is not written when writing bytecode is turned off."""
    text = _read(name)
    parsed = _PARSED / f"mapping-{name}.marshal"
    try:
        source, data = marshal.loads(parsed.read_bytes())
        if source == text:
            return data
    except (OSError, EOFError, ValueError, TypeError):
        pass                    # none yet, unreadable, or from another Python
    data = tomllib.loads(text.decode())
    if sys.dont_write_bytecode:
        return data             # asked not to write beside the code (PYTHONDONTWRITEBYTECODE, -B)
    # written aside and renamed: a process reading it at the same time sees all or none
    partial = parsed.with_name(f"{parsed.name}.{os.getpid()}")
    try:
        parsed.parent.mkdir(exist_ok=True)
        partial.write_bytes(marshal.dumps((text, data)))
        os.replace(partial, parsed)
    except (OSError, ValueError):       # e.g. a read-only install: parsed on every start
        with suppress(OSError):             # a half-written copy (no place: nothing to do)
            partial.unlink(missing_ok=True)
    return data


# --- match and target option specs ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    flags: tuple[str, ...]
    value: str
    nargs: int
    negatable: bool
    const: tuple[str, ...] | None
    default: str | None
    omit: str | None
    neutral: str | None
    group: str | None
    required: bool
    nft: str | None
    nft_op: str | None = None
    default_with: str | None = None
    optional_arg: bool = False      # the value may be left out (then its grammar reads "0")
    families: tuple[str, ...] | None = None    # where it exists, when not wherever its module is


@dataclass(frozen=True, slots=True, eq=False)
class ExtensionSpec:
    """A match module or target: its options in canonical (iptables-save) order."""
    name: str
    kind: str                        # "match" or "target"
    options: tuple[OptionSpec, ...]
    protocols: tuple[str, ...]
    families: tuple[str, ...]
    implicit: bool                   # loaded on demand by -p <name>
    tables: tuple[str, ...] | None
    chains: tuple[str, ...] | None
    terminal: bool
    nft: str | None
    flag_index: dict[str, OptionSpec]    # every spelling → its option
    order: dict[str, int]                # option name → canonical position
    by_name: dict[str, OptionSpec]       # option name → its (first, non-alias) spec
    need_option: str | None = None       # iptables' message when no option is given
    protocol_families: tuple[str, ...] = ("ip", "ip6")   # where the kernel needs `protocols`


def _option_spec(raw: dict[str, Any]) -> OptionSpec:
    value = raw["value"]
    return OptionSpec(
        name=raw["name"],
        flags=tuple(raw["flags"]),
        value=value,
        nargs=raw.get("nargs", 0 if value == "flag" else 1),
        negatable=raw.get("negatable", False),
        const=tuple(raw["const"]) if "const" in raw else None,
        default=raw.get("default"),
        omit=raw.get("omit"),
        neutral=raw.get("neutral"),
        group=raw.get("group"),
        required=raw.get("required", False),
        nft=raw.get("nft"),
        nft_op=raw.get("nft_op"),
        default_with=raw.get("default_with"),
        optional_arg=raw.get("optional_arg", False),
        families=tuple(raw["families"]) if "families" in raw else None,
    )


def _extension(name: str, raw: dict[str, Any], kind: str) -> ExtensionSpec:
    options = tuple(_option_spec(o) for o in raw.get("options", ()))
    order: dict[str, int] = {}
    by_name: dict[str, OptionSpec] = {}
    for opt in options:
        order.setdefault(opt.name, len(order))
        if opt.const is None:
            by_name.setdefault(opt.name, opt)
    return ExtensionSpec(
        name=name,
        kind=kind,
        options=options,
        protocols=tuple(raw.get("protocols", ())),
        families=tuple(raw.get("families", ("ip", "ip6"))),
        implicit=raw.get("implicit", bool(raw.get("protocols"))),
        tables=tuple(raw["tables"]) if "tables" in raw else None,
        chains=tuple(raw["chains"]) if "chains" in raw else None,
        terminal=raw.get("terminal", False),
        nft=raw.get("nft"),
        flag_index={flag: opt for opt in options for flag in opt.flags},
        order=order,
        by_name=by_name,
        need_option=raw.get("need_option_text") if raw.get("need_option") else None,
        protocol_families=tuple(raw.get("protocol_families", ("ip", "ip6"))),
    )


@cache
def match_specs() -> dict[str, ExtensionSpec]:
    return {name: _extension(name, raw, "match") for name, raw in load("matches").items()}


@cache
def target_specs() -> dict[str, ExtensionSpec]:
    return {name: _extension(name, raw, "target") for name, raw in load("targets").items()
            if name.isupper()}


# --- tables and chains -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BaseChainSpec:
    type: str
    hook: str
    priority: int


@cache
def iptables_tables() -> dict[str, tuple[str, ...]]:
    """Table name → its built-in chains in iptables-save order, tables in iptables-save order."""
    data = {k: v for k, v in load("chains").items() if "chains" in v}
    ordered = sorted(data.items(), key=lambda kv: kv[1]["order"])
    return {name: tuple(raw["chains"]) for name, raw in ordered}


@cache
def base_chain(table: str, chain: str) -> BaseChainSpec:
    raw = load("chains")[table][chain]
    return BaseChainSpec(raw["type"], raw["hook"], raw["priority"])


@cache
def priority_names() -> dict[int, str]:
    return {v: k for k, v in load("chains")["priority_names"].items()}


# --- protocols, services, ICMP ------------------------------------------------------------------

@cache
def protocol_numbers() -> dict[str, int]:
    data = load("protocols")
    numbers = dict(data["system"])
    numbers.update(data["builtin"])
    return numbers


@cache
def protocol_save_names() -> dict[int, str]:
    """The name iptables-save prints for a protocol number: its own table first, then the
    system's."""
    data = load("protocols")
    names: dict[int, str] = {}
    for name, num in data["system"].items():
        names.setdefault(num, name)
    builtin: dict[int, str] = {}
    for name, num in data["builtin"].items():
        builtin.setdefault(num, name)
    names.update(builtin)
    names.pop(0, None)
    return names


@cache
def protocol_nft_names() -> dict[int, str]:
    return {int(k): v for k, v in load("protocols")["nft_names"].items()}


@cache
def services(proto: str) -> dict[str, int]:
    data = load("services")
    return data.get(proto, data["tcp"])


@cache
def ipv6_headers() -> tuple[tuple[int, tuple[str, ...]], ...]:
    """-m ipv6header's headers: (number, names) in iptables-save's order, printed name first."""
    return tuple((number, tuple(names))
                 for number, names in load("protocols")["ipv6header"]["headers"])


@cache
def ipv6_header_numbers() -> dict[str, int]:
    return {name: number for number, names in ipv6_headers() for name in names}


@dataclass(frozen=True, slots=True)
class IcmpName:
    name: str
    type: int
    code_min: int
    code_max: int


@cache
def icmp_names(family: str) -> tuple[IcmpName, ...]:
    key = "ipv4" if family == "ip" else "ipv6"
    return tuple(IcmpName(*row) for row in load("icmp")[key]["iptables"])


@cache
def icmp_nft_types(family: str) -> dict[int, str]:
    key = "ipv4" if family == "ip" else "ipv6"
    return {int(k): v for k, v in load("icmp")[key]["nft_types"].items()}


@cache
def icmp_nft_codes(family: str) -> dict[int, dict[int, str]]:
    key = "ipv4" if family == "ip" else "ipv6"
    return {int(t): {int(c): n for c, n in codes.items()}
            for t, codes in load("icmp")[key].get("nft_codes", {}).items()}


# --- targets' value tables ---------------------------------------------------------------------

@cache
def reject_names(family: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(tuple(row) for row in load("targets")["reject_with"][family]["names"])


@cache
def reject_default(family: str) -> str:
    return load("targets")["reject_with"][family]["default"]


@cache
def reject_icmpx() -> dict[str, str]:
    """--reject-with name → nft's family-neutral icmpx type (inet tables)."""
    return dict(load("targets")["reject_with"]["icmpx"])


@cache
def inet() -> dict[str, str]:
    """How fwmigrate marks what it adds to an inet table holding both families."""
    return dict(load("chains")["inet"])


def inet_comment(kind: str, family: str) -> str:
    """The comment of the pass ("pass") or policy ("policy") rule for a family (ip / ip6)."""
    return inet()[f"{kind}_comment"].format(
        family="IPv4" if family == "ip" else "IPv6",
        program="iptables" if family == "ip" else "ip6tables")


@cache
def log_levels() -> dict[str, int]:
    return dict(load("targets")["log_levels"]["accepted"])


@cache
def nft_log_levels() -> tuple[str, ...]:
    return tuple(load("targets")["log_levels"]["nft"])


@cache
def shell() -> dict[str, Any]:
    return load("shell")


@cache
def tcp_option_names() -> dict[int, str]:
    return {int(k): v for k, v in load("nft_values")["tcp_options"].items()}


# --- names nft lists instead of numbers (read back by frontends/nft_lift_values.py) ----------

@cache
def nft_dscp_values() -> dict[str, int]:
    """nft's DSCP names → value: iptables' class names in lower case, and nft's own."""
    data = load("nft_values")
    names = {name.lower(): value for name, value in data["dscp_classes"].items()}
    names.update(data["dscp_nft_only"])
    return names


@cache
def nft_ecn_values() -> dict[str, int]:
    return dict(load("nft_values")["ecn"])


@cache
def nft_pkttypes() -> dict[str, int]:
    """nft's packet type names → number (the inverse of what the backend writes)."""
    return {name: int(number) for number, name in load("nft_values")["pkttype"]["nft"].items()}


@cache
def addrtype_order() -> tuple[str, ...]:
    """Route types in the kernel's bit order; nft's fib names are these in lower case."""
    return tuple(load("nft_values")["addrtypes"]["order"])


@cache
def nft_tc_handles() -> dict[str, int]:
    return dict(load("nft_values")["tc_handles"])


# nft reads the names of device groups and realms from iproute2's tables, as `ip` does; the
# directory moved to /usr/share in newer iproute2
_IPROUTE2_DIRS = (Path("/etc/iproute2"), Path("/usr/share/iproute2"))


@cache
def iproute2_names(table: str) -> dict[str, int]:
    """`group` or `rt_realms`: name → number, as nft lists them (the first file found)."""
    for directory in _IPROUTE2_DIRS:
        path = directory / table
        if path.is_file():
            names: dict[str, int] = {}
            for line in path.read_text(errors="replace").splitlines():
                words = line.split("#", 1)[0].split()
                if len(words) >= 2:
                    try:
                        names.setdefault(words[1], int(words[0], 0))
                    except ValueError:
                        continue
            return names
    return {}
