"""Match and target options inside one iptables command: loading `-m`/`-j` extensions,
giving each option to the extension that owns it, defaults, canonical order and the checks
iptables (or the kernel) applies. Driven by mappings/matches.toml and mappings/targets.toml.

ExtensionOptions is mixed into the command-line parser (command_line._Parser).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import mappings
from ..errors import OptionError, did_you_mean
from ..ir import Family, Match, Negatable, Option, TargetExtension
from .command_flags import VERDICTS
from .extension_checks import AFTER_OPTION, NORMAL_TARGETS, NORMALISED
from .extension_checks import TARGET_CHECKS as _TARGET_CHECKS
from .extension_checks import VALUE_CHECKS as _VALUE_CHECKS
from .kernel_checks import (
    check_option_order,
    check_target_values,
    match_problem,
    protocol_numbers,
    target_problem,
)
from .policy_elements import ACCUMULATED
from .values import parse_value
from .values_numbers import protocol_number


@dataclass(slots=True)
class _Loaded:
    """An extension being filled in while the command is parsed."""
    spec: mappings.ExtensionSpec
    options: dict[str, Option]
    index: int                      # the word that loaded it
    implicit: bool = False
    # options given with a value that tests nothing (`--sport 0:65535`): not kept, but a
    # second one is still refused, as iptables refuses it
    dropped: set[str] = field(default_factory=set)


def _match_spec(name: str) -> mappings.ExtensionSpec | None:
    specs = mappings.match_specs()
    spec = specs.get(name)
    if spec is None:
        alias = mappings.load("extensions")["match_aliases"].get(name)
        spec = specs.get(alias) if alias else None
    return spec


def _implicit_spec(proto: int, family: Family) -> mappings.ExtensionSpec | None:
    return _implicit_specs(family).get(proto)


_IMPLICIT_CACHE: dict[str, dict[int, mappings.ExtensionSpec]] = {}


def _implicit_specs(family: Family) -> dict[int, mappings.ExtensionSpec]:
    table = _IMPLICIT_CACHE.get(family)
    if table is None:
        table = {}
        for spec in mappings.match_specs().values():
            if spec.implicit and family in spec.families:
                for proto_name in spec.protocols:
                    table.setdefault(protocol_number(proto_name), spec)
        _IMPLICIT_CACHE[family] = table
    return table



def _why_not(name: str, kind: str) -> str:
    return mappings.load("extensions")["not_translated"].get(
        name, f"see the README for the supported {kind}")


class ExtensionOptions:
    """The extension half of the parser (the parser supplies words, proto, loaded, cmd …)."""

    base_flags: frozenset[str] = frozenset()     # the parser's own options, for hints

    def _jump(self, name: str, i: int, goto: bool) -> None:
        self.target_name = name
        self.goto = goto
        self.cmd.target_index = i
        spec = mappings.target_specs().get(name)
        if spec is None and name in mappings.load("extensions")["targets"]:
            raise OptionError(f"-j {name} is not supported by fwmigrate yet", i,
                              hint=_why_not(name, "targets"), unsupported=True)
        if spec is not None and self.family not in spec.families:
            raise OptionError(f"Couldn't load target `{name}':No such file or directory", i,
                              hint=f"-j {name} is for ip6tables")
        if spec is not None and spec.options:
            if goto:
                raise OptionError(f"goto '{name}' is not a chain", i)
            self.target = _Loaded(spec, {}, i)
            self.loaded.append(self.target)

    def _load_match(self, name: str, i: int) -> None:
        if self.negate_next is not None:
            raise OptionError("unexpected ! flag before --match", self.negate_next)
        spec = _match_spec(name)
        if spec is None:
            known = mappings.load("extensions")["matches"]
            if name in known:
                raise OptionError(f"-m {name} is not supported by fwmigrate yet", i,
                                  hint=_why_not(name, "matches"), unsupported=True)
            raise OptionError(f"Couldn't load match `{name}':No such file or directory", i,
                              hint=did_you_mean(name, list(mappings.match_specs()) + known))
        if self.family not in spec.families:
            raise OptionError(f"Couldn't load match `{name}':No such file or directory", i,
                              hint=f"-m {name} is for "
                                   f"{'iptables' if 'ip' in spec.families else 'ip6tables'}")
        self.loaded.append(_Loaded(spec, {}, i))

    def _chain_jump_hint(self) -> str | None:
        """-j NAME that is no target iptables knows jumps to a chain, which takes no options:
        so an xtables-addons target's options (-j ACCOUNT --addr) are unknown to iptables."""
        name = self.target_name
        if name is None or self.target is not None or name in mappings.target_specs() \
                or name in VERDICTS:
            return None
        return (f"-j {name} is no target iptables knows, so it jumps to a chain of that name, "
                "which takes no options; a target of xtables-addons (ACCOUNT, TARPIT, …) has "
                "no nft translation")

    def _find_owner(self, flag: str) -> tuple[_Loaded, mappings.OptionSpec] | None:
        for ext in reversed(self.loaded):
            opt = ext.spec.flag_index.get(flag)
            if opt is not None:
                return ext, opt
        return None

    def _extension_option(self, flag: str, i: int) -> int:
        found = self._find_owner(flag)
        if found is None and self.proto is not None:
            spec = _implicit_spec(self.proto.value, self.family)
            if spec is not None and not any(e.spec is spec for e in self.loaded):
                self.loaded.append(_Loaded(spec, {}, i, implicit=True))
                found = self._find_owner(flag)
        if found is None:
            flags = set(self.base_flags)
            for ext in self.loaded:
                flags |= set(ext.spec.flag_index)
            if self.proto is not None:
                spec = _implicit_spec(self.proto.value, self.family)
                if spec is not None:
                    flags |= set(spec.flag_index)
            implicit_owners = [s.protocols[0] for s in mappings.match_specs().values()
                               if s.implicit and flag in s.flag_index]
            if self.proto is None and implicit_owners:
                hint = f"{flag} needs a protocol first, e.g. -p {implicit_owners[0]} {flag} …"
            else:
                hint = did_you_mean(flag, flags) or self._chain_jump_hint()
            raise OptionError(f'unknown option "{flag}"', i, hint=hint)
        ext, opt = found
        if opt.families is not None and self.family not in opt.families:
            raise OptionError(f'unknown option "{flag}"', i, hint=f"{flag} is for " + (
                "ip6tables" if "ip6" in opt.families else "iptables"))
        negated = self._negation(i, flag, True)
        if negated and not opt.negatable:
            raise OptionError(f'option "{flag}" cannot be inverted', i)
        accumulate = ACCUMULATED.get(opt.value)
        if accumulate is not None:      # -m policy's elements: many flags build one value
            return accumulate(self, ext, flag, i, negated)
        if opt.name in ext.dropped:
            raise OptionError(f"Only one `{opt.flags[0]}' allowed"
                              if ext.spec.name in ("tcp", "udp", "udplite")
                              else f'{ext.spec.name}: option "{flag}" can only be used once', i)
        for other in ext.options.values():
            other_spec = ext.spec.by_name[other.name]
            if opt.group is not None and other_spec.group == opt.group and (
                    other.name != opt.name or opt.value == "flag"):
                first, second = sorted([flag, "--" + _given_flag(ext.spec, other)],
                                       key=lambda f: _flag_position(ext.spec, f))
                raise OptionError(f'{ext.spec.name}: option "{first}" cannot be used together '
                                  f'with "{second}".', i)
            if other.name == opt.name:
                raise OptionError(f"Only one `{opt.flags[0]}' allowed"
                                  if ext.spec.name in ("tcp", "udp", "udplite")
                                  else f'{ext.spec.name}: option "{flag}" can only be used once',
                                  i)
        if opt.const is not None:
            args = opt.const
            nxt = i + 1
        elif opt.optional_arg and self._optional(i + 1) is None:
            args, nxt = ("0",), i + 1                # rateest's --rateest-bps alone
        else:
            args = tuple(self._take(i + 1 + k, flag) for k in range(opt.nargs))
            if opt.nargs and args[0] == "!":
                raise OptionError(_intrapositioned(flag), i + 1,
                                  hint=f"write the negation before the option: ! {flag} …")
            for k in range(1, opt.nargs):
                if args[k].startswith("-") or args[k] == "!":
                    raise OptionError(f"{flag} requires {opt.nargs} args", i + 1 + k)
            nxt = i + 1 + opt.nargs
        proto_name = _proto_name(self.proto)
        try:
            value = parse_value(opt.value, args, self.family, proto_name)
        except OptionError as exc:
            raise OptionError(exc.message, i + 1 if opt.nargs else i, exc.hint,
                              exc.offset, exc.unsupported) from None
        if negated and opt.value in _FOLDED:      # libxt_time keeps `!` as the other days
            value, negated = _FOLDED[opt.value] - value, False
        elif negated and opt.value == "connbytes_range" and value.first == value.last:
            negated = False     # `!` swaps the bounds: equal ones stay the range itself
        if opt.value == "flag" and len(opt.flags) > 1:
            value = flag.lstrip("-")
        elif opt.value in ("comment", "log_prefix", "idletimer_label") and value != args[0]:
            self.cmd.warnings.append((i + 1, f"{flag} is longer than iptables keeps; "
                                             f"cut to `{value}' as iptables does"))
        if opt.neutral is not None and not negated and value == parse_value(
                opt.value, tuple(opt.neutral.split()), self.family, proto_name):
            ext.options.pop(opt.name, None)      # e.g. --dport 0:65535 tests nothing
            ext.dropped.add(opt.name)
            return nxt
        if opt.nargs == 1 and opt.const is None and nxt == i + 2:
            self.slots[i + 1] = (ext, opt.name)
        key = (opt.name, value, negated)
        option = _OPTIONS.get(key)
        if option is None:
            if len(_OPTIONS) > _CACHE_LIMIT:
                _OPTIONS.clear()
            option = _OPTIONS[key] = Option(opt.name, value, negated)
        check_option_order(ext.spec.name, opt.name, ext.options, i)
        ext.options[opt.name] = option
        after = AFTER_OPTION.get(ext.spec.name)
        if after is not None:
            after(self, ext, opt.name)
        return nxt

    # --- assembling the rule ----------------------------------------------------------------

    def _build(self, ext: _Loaded) -> Match | TargetExtension:
        spec = ext.spec
        key = (spec, self.family, tuple(ext.options.values()))
        built = _BUILT.get(key)
        if built is None:
            built = _assemble(spec, ext.options, self.family, ext.index)
            if len(_BUILT) > _CACHE_LIMIT:
                _BUILT.clear()
            _BUILT[key] = built
        if spec.kind == "match":
            self._check_match(spec, ext, built.options)
        return built

    def _check_match(self, spec, ext: _Loaded, options: tuple[Option, ...]) -> None:
        if spec.name == "multiport" and (self.proto is None or self.proto.negated or
                                         self.proto.value not in protocol_numbers("multiport")):
            # libxt_multiport checks -p as it parses (iptables-restore: at the rule's line)
            raise OptionError("multiport needs " + ", ".join(
                f"`-p {p}'" for p in spec.protocols[:-1])
                + f" or `-p {spec.protocols[-1]}'", ext.index)
        if self.restore:        # the kernel's checks: at COMMIT (checkentry_problems)
            return
        problem = match_problem(Match(spec.name, options), self.proto, self.cmd.table,
                                self.family)
        if problem is not None:
            raise OptionError(problem[0], ext.index, hint=problem[1])

    def _check_target(self, target) -> None:
        check_target(target, self.proto, self.cmd.table, self.cmd.target_index,
                     kernel=not self.restore)


def check_target(target, proto: Negatable | None, table: str, index: int | None,
                 kernel: bool = True) -> None:
    """What iptables would refuse about a target given the rule's protocol and table; with
    `kernel`, also what the kernel's checkentry refuses (iptables-restore's kernel sees it
    only at COMMIT, so a save file checks it there: kernel_checks.checkentry_problems)."""
    if not isinstance(target, TargetExtension):
        return
    check_target_values(target, index)
    value_check = _TARGET_CHECKS.get(target.name)
    if value_check is not None:         # again here: a template re-reads only the values
        value_check({o.name: o for o in target.options}, index)
    problem = target_problem(target, proto, table) if kernel else None
    if problem is not None:
        raise OptionError(problem[0], index, hint=problem[1])
    ports = None
    if target.name in ("MASQUERADE", "REDIRECT"):
        ports = target.option("to-ports")
    elif target.name in ("SNAT", "DNAT"):
        ports = target.options[0].value[2]
    # NAT maps an ICMP id like a port: iptables 1.8.9 takes protocol 1 (in ip6tables too),
    # not 58 (icmpv6)
    if ports is not None and (proto is None or proto.value not in (6, 17, 132, 33, 1)):
        raise OptionError("Need TCP, UDP, SCTP or DCCP with port specification", index)


# day sets whose `!` iptables stores as the complement (and iptables-save prints so)
_FOLDED = {"weekdays": frozenset(range(1, 8)), "monthdays": frozenset(range(1, 32))}
# value grammars whose `!` the parse may fold into the value (above): a template re-reading
# only the value would keep the first line's folding
NEGATION_FOLDED = frozenset(_FOLDED) | {"connbytes_range"}

# Built matches and targets by (spec, family, options): big dumps repeat the same ones, and
# sharing one object per distinct match also keeps the IR small.
_BUILT: dict[tuple, Match | TargetExtension] = {}
_OPTIONS: dict[tuple, Option] = {}
_CACHE_LIMIT = 1 << 17


def _assemble(spec: mappings.ExtensionSpec, given: dict[str, Option], family: Family,
              index: int) -> Match | TargetExtension:
    """Fill in defaults, check required options, put options in canonical order."""
    opts = dict(given)
    for opt in spec.options:
        if opt.name in opts:
            continue
        if opt.required:
            raise OptionError(_missing(spec, opt), index)
        if opt.default is not None and not _group_given(spec, opt, opts) and (
                opt.default_with is None or opt.default_with in given):
            value = (opt.default if opt.value == "flag" else
                     parse_value(opt.value, (opt.default,), family, None))
            opts[opt.name] = Option(opt.name, value, False)
    if spec.need_option and not given:
        raise OptionError(spec.need_option, index)
    normal = NORMAL_TARGETS.get(spec.name)
    if normal is not None:          # in the order given, before the canonical one
        opts = normal(opts, index)
    ordered = tuple(sorted(opts.values(), key=lambda o: spec.order[o.name]))
    if spec.kind == "target":
        check = _TARGET_CHECKS.get(spec.name)
        if check is not None:
            check(opts, index)
        return TargetExtension(spec.name, ordered)
    built = Match(spec.name, ordered)
    check_values(built, index)
    normal = NORMALISED.get(spec.name)
    return built if normal is None else normal(built)


def check_values(match: Match, index: int) -> None:
    """Checks on a match that depend on its option values (run again when only values change)."""
    check = _VALUE_CHECKS.get(match.module)
    if check is not None:
        check({o.name: o for o in match.options}, index)


def _given_flag(spec, option: Option) -> str:
    """The flag an option was given with, as far as the IR still knows it."""
    if isinstance(option.value, str) and "--" + option.value in spec.flag_index:
        return option.value
    return spec.by_name[option.name].flags[0].lstrip("-")


def _flag_position(spec, flag: str) -> int:
    return list(spec.flag_index).index(flag) if flag in spec.flag_index else 0


def _group_given(spec, opt, opts) -> bool:
    if opt.group is None:
        return False
    return any(o.group == opt.group and o.name in opts for o in spec.options)


def _missing(spec, opt) -> str:
    if spec.name == "recent":
        return "recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'"
    kind = "match" if spec.kind == "match" else "target"
    return f'{spec.name}: option "{opt.flags[0]}" must be specified' + (
        "" if kind == "target" else f" with -m {spec.name}")


def _intrapositioned(flag: str) -> str:
    return (f"`{flag} !' is not accepted by iptables 1.8 (the old intrapositioned "
            "negation)")


def _proto_name(proto: Negatable | None) -> str | None:
    if proto is None:
        return None
    return "udp" if proto.value == 17 else "tcp"


