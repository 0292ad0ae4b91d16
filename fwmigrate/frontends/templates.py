"""Parse once, reuse for every line of the same shape: the hot path of large dumps.

Big rulesets repeat a few rule shapes thousands of times with different values:
`-A ACL-17 -s 10.1.2.0/24 -d 10.20.3.4/32 -p tcp -m tcp --dport 443 … -j ACCEPT`. A line's
shape is its words with the chain name and every one-word value blanked out. The first line
of a shape is parsed in full (command_line); later ones re-read only their values and rebuild
the matches those values belong to. This is exact because in iptables' language a value never
changes how the words around it are read; a cached shape is only reused when the blanked words
were, in the full parse, exactly the chain and values (a comment that happens to say `-s` makes
the shape uncacheable). Checks that depend on a value are run again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from .. import mappings
from ..errors import OptionError
from ..ir import (
    Counters,
    Family,
    Jump,
    Match,
    Negatable,
    Option,
    Rule,
    SourceLocation,
    TargetExtension,
)
from .command_flags import NO_IN, NO_OUT
from .command_line import Command, parse_uncached
from .extensions import (
    _CACHE_LIMIT,
    NEGATION_FOLDED,
    _proto_name,
    check_target,
    check_values,
)
from .values import parse_value
from .values_addresses import address, address_list, fast_ipv4

_RULE_COMMANDS = frozenset({"-A", "-I", "-D", "-R", "-C"})


def _value_flags() -> frozenset[str]:
    flags = {"-s", "-d"}
    for specs in (mappings.match_specs(), mappings.target_specs()):
        for spec in specs.values():
            flags.update(f for o in spec.options if o.nargs == 1 and o.const is None
                         for f in o.flags)
    return frozenset(flags)


_VALUE_FLAGS = _value_flags()
_BLANK_AFTER = dict.fromkeys(_VALUE_FLAGS)


class _Reparse(Exception):
    """This line's values change more than the values (e.g. a neutral port): parse in full."""


@dataclass(frozen=True, slots=True)
class _Slot:
    index: int              # word position
    text: str               # the word in the line the template was made from
    position: int | None    # index into rule.matches; None: the target
    option: str             # option name
    kind: str               # value grammar
    neutral: str | None
    owner: int              # word position of the match or target the value belongs to


@dataclass(frozen=True, slots=True)
class _Template:
    command: Command
    source: tuple[int, bool] | None         # (word, negated) of -s
    destination: tuple[int, bool] | None
    chain_blanked: bool
    slots: tuple[_Slot, ...]
    # this shape's rule for each combination of values seen so far (values repeat a lot)
    variants: dict[tuple[str, ...], Rule]
    # the line's words at the slots, as a key of `variants` (None: the shape has no slots)
    values_of: Callable[[list[str]], object] | None = None
    # (slot number, word, id of a match or target) → (that object, it with the word's value);
    # keyed by identity, so each entry keeps the object it was made from
    rebuilt: dict[tuple[int, str, int], tuple] = field(default_factory=dict)
    # ids of a line's matches → those matches, as the tuple rules share
    match_tuples: dict[tuple[int, ...], tuple] = field(default_factory=dict)
    # for append_rules: the user chain an -A rule jumps to, None for any other target,
    # _NOT_APPEND for other commands
    jump: object = None
    # the _SELECTORS entries of this template's -s and -d
    known_sources: dict[str, tuple] = field(default_factory=dict)
    known_destinations: dict[str, tuple] = field(default_factory=dict)
    # see append_rules
    structure_of: Callable[[list[str]], object] = tuple
    structure: object = None
    free_of: Callable[[list[str]], tuple] = tuple
    restore: bool = False       # read for iptables-restore: the kernel's checks wait for COMMIT


_NOT_APPEND = object()     # _Template.jump of a command other than `-A CHAIN …`
_TEMPLATES: dict[tuple, _Template] = {}


def _shape_key(words: list[str], family: Family, table: str | None,
               restore: bool) -> tuple[tuple, bool]:
    """The line's shape (the key of _TEMPLATES) and whether its chain word is blanked."""
    # word k is blanked when word k-1 is a value flag (this runs for every line;
    # _BLANK_AFTER.get(flag, word) is None after a value flag, else the word)
    shape = list(map(_BLANK_AFTER.get, words, words[1:]))
    chain_blanked = (len(words) > 1 and words[0] in _RULE_COMMANDS
                     and words[1] not in NO_OUT and words[1] not in NO_IN)
    if chain_blanked:
        shape[0] = None
    return (family, table, restore, words[0] if words else None, *shape), chain_blanked


def parse_command(words: Sequence[str], family: Family, *, table: str | None = None,
                  loc: SourceLocation | None = None, restore: bool = False) -> Command:
    """Parse the arguments of one iptables invocation (without the program name).

    `table` is the table a save file's section selects (then -t is refused, as in
    iptables-restore). Raises OptionError whose `index` is the offending word.
    """
    if type(words) is not list:
        words = list(words)
    key, chain_blanked = _shape_key(words, family, table, restore)
    template = _TEMPLATES.get(key)
    if template is not None:
        try:
            return _expand(template, words, family, loc)
        except _Reparse:
            pass
    parser = parse_uncached(words, family, table=table, loc=loc, restore=restore)
    template = _template(parser, chain_blanked and parser.result.chain_index == 1)
    recorded = sorted([a[0] for a in (template.source, template.destination) if a]
                      + [s.index for s in template.slots])
    blanked = [k for k in range(1, len(words)) if words[k - 1] in _VALUE_FLAGS]
    if (not parser.rewritten and not parser.result.warnings and recorded == blanked
            and template.chain_blanked == chain_blanked):
        if len(_TEMPLATES) > _CACHE_LIMIT:
            _TEMPLATES.clear()
            _QUICK.clear()
        _TEMPLATES[key] = template
    try:
        return _expand(template, parser.words, family, loc, reparse=False)
    except OptionError as exc:
        raise parser.located(exc) from None


# Save files: a first look at a line by its length and the words at even positions, where
# iptables-save writes options (`-A C -s X -p tcp -m tcp --dport N -j ACCEPT`), which is
# cheaper than its shape. What it finds is checked (in append_rules), so a line gets a template only
# if it has that template's shape (a line whose even words are values merely adds entries).
_QUICK: dict[tuple, list[_Template]] = {}
_CANDIDATES = 16      # templates per first look (e.g. one per -i interface or -p protocol)
_HOOK_CHAINS = NO_OUT | NO_IN


def _NO_WORDS(words: list[str]) -> tuple:
    return ()


def append_rules(words: list[str], family: Family, table: str, loc: SourceLocation,
                 counters: Counters | None) -> tuple[str, tuple[Rule, ...], str | None] | None:
    """A save file's `-A` line of a shape seen before: (chain, rules, chain its target jumps
    to), without building a Command; None when the line needs parse_command.

    A cached shape parsed without warnings, so the only checks left are the model's (does the
    chain exist, does the jump lead to a user chain); the caller makes them, and on failure
    runs the line through parse_command and the model, which report the error."""
    quick = (family, table, len(words), *words[::2])
    candidates = _QUICK.get(quick)
    if candidates is None:
        if len(_QUICK) > _CACHE_LIMIT:
            _QUICK.clear()
        candidates = _QUICK[quick] = []
    for template in candidates:
        # does the line have the template's shape? Same words where the template's words
        # are not blanked, no value flag among the blanked ones (it would blank the next word
        # too), and a blanked chain is not one that decides which interfaces are allowed
        if (template.structure_of(words) == template.structure
                and _VALUE_FLAGS.isdisjoint(template.free_of(words))
                and not (template.chain_blanked and words[1] in _HOOK_CHAINS)):
            break
    else:
        template = _TEMPLATES.get(_shape_key(words, family, table, True)[0])
        if template is None or template.jump is _NOT_APPEND:
            return None
        if len(candidates) < _CANDIDATES:
            candidates.append(template)
    try:
        rules = _rules(template, words, family, loc, counters)
    except _Reparse:
        return None
    return (words[1] if template.chain_blanked else template.command.chain), rules, template.jump


def _template(parser, chain_blanked: bool) -> _Template:
    slots = []
    for index, (ext, name) in parser.slots.items():
        # the flag's own spec: spellings of one option may read their values differently
        # (MARK's --or-mark and --set-xmark)
        spec = ext.spec.flag_index.get(parser.words[index - 1], ext.spec.by_name[name])
        slots.append(_Slot(index, parser.words[index], parser.positions.get(id(ext)), name,
                           spec.value, spec.neutral, ext.index))
    values_of = itemgetter(*(s.index for s in slots)) if slots else None
    cmd = parser.result
    jump = _NOT_APPEND
    if cmd.action == "append" and cmd.chain_index == 1:
        target = cmd.rules[0].target if cmd.rules else None
        jump = target.chain if isinstance(target, Jump) else None
    source = parser.addresses.get("source")
    destination = parser.addresses.get("destination")
    # for append_rules: the words a line of this shape shares with this one, and the others
    free = [a[0] for a in (source, destination) if a] + [s.index for s in slots] \
        + ([1] if chain_blanked else [])
    fixed = [k for k in range(len(parser.words)) if k not in free]
    structure_of = itemgetter(*fixed)
    free_of = itemgetter(*free, *free[:1]) if free else _NO_WORDS       # always a tuple
    structure = structure_of(parser.words)
    if not _VALUE_FLAGS.isdisjoint(free_of(parser.words)):
        structure = object()        # never fits: such a line always gets its shape
    return _Template(cmd, source, destination, chain_blanked, tuple(slots), {}, values_of,
                     jump=jump, known_sources=_known_selectors(source, parser.family),
                     known_destinations=_known_selectors(destination, parser.family),
                     structure_of=structure_of, structure=structure, free_of=free_of,
                     restore=parser.restore)


_ANY = (None,)
# (negated, family) → {word: the selectors it stands for}: addresses repeat across a dump.
# A template holds its inner dicts, so that a line looks its addresses up by the word alone.
_SELECTORS: dict[tuple[bool, str], dict[str, tuple]] = {}


def _known_selectors(spec: tuple[int, bool] | None, family: Family) -> dict[str, tuple]:
    if spec is None:
        return {}
    return _SELECTORS.setdefault((spec[1], family), {})


def _address_selectors(spec: tuple[int, bool], words: list[str], family: Family,
                       known: dict[str, tuple]) -> tuple:
    """The selectors of the -s/-d word at spec (word index, negated); `known` is the template's
    _SELECTORS entry for them, where a new word is remembered."""
    index, negated = spec
    word = words[index]
    found = known.get(word)
    if found is not None:
        return found
    try:
        # address_list, two calls fewer in its usual case (address tries fast_ipv4 first)
        fast = fast_ipv4(word) if family == "ip" else None
        addrs = (fast,) if fast is not None else (address(word, family),) \
            if "," not in word else address_list(word, family)
    except OptionError as exc:
        raise OptionError(exc.message, index, exc.hint, exc.offset) from None
    if len(addrs) == 1:         # most words: one address
        a = addrs[0]
        found = (None if a.is_any and not negated else Negatable(a, negated),)
    else:
        if negated:
            raise OptionError("! not allowed with multiple source or destination IP addresses",
                              index - 2)
        found = tuple(None if a.is_any else Negatable(a, False) for a in addrs)
    if len(known) > _CACHE_LIMIT:
        known.clear()
    known[word] = found
    return found


def _with_value(built, option: str, value):
    if built.option(option) is None:
        raise _Reparse
    options = tuple(Option(o.name, value, o.negated) if o.name == option else o
                    for o in built.options)
    # not interned by value: _rebuilt's memo already shares one object per word, which is
    # what the translator's identity caches need; hashing each new object cost more (a
    # deep hash of its options, for values that are mostly unique, such as DNAT addresses)
    if isinstance(built, Match):
        return Match(built.module, options)
    return TargetExtension(built.name, options)


_MEMO_LIMIT = 4096      # entries per template: values repeat, or are unique and not worth keeping


def _rebuilt(template: _Template, number: int, text: str, built, option: str, value):
    """`built` (a match or the target) with this value of slot `number`, which reads `text`."""
    key = (number, text, id(built))
    hit = template.rebuilt.get(key)
    if hit is None:
        hit = (built, _with_value(built, option, value))
        if len(template.rebuilt) < _MEMO_LIMIT:
            template.rebuilt[key] = hit
    return hit[1]


def _revalue(template: _Template, words: list[str], family: Family, rule: Rule) -> Rule:
    """The template's rule with this line's option values."""
    matches = list(rule.matches)
    target = rule.target
    proto_name = _proto_name(rule.protocol)
    changed: dict[int, int] = {}       # match position → word that loaded it
    target_changed = False
    for number, slot in enumerate(template.slots):
        text = words[slot.index]
        if text == slot.text:
            continue
        try:
            value = parse_value(slot.kind, (text,), family, proto_name)
        except OptionError as exc:
            raise OptionError(exc.message, slot.index, exc.hint, exc.offset) from None
        if slot.kind in ("comment", "log_prefix") and value != text:
            raise _Reparse      # cut to iptables' length: the full parse warns about it
        if slot.kind in NEGATION_FOLDED:
            raise _Reparse      # the full parse folds a `!` into the value
        if slot.neutral is not None and value == parse_value(slot.kind, (slot.neutral,),
                                                             family, proto_name):
            raise _Reparse      # e.g. --dport 0:65535 drops the option altogether
        if slot.position is None:
            target = _rebuilt(template, number, text, target, slot.option, value)
            target_changed = True
        else:
            matches[slot.position] = _rebuilt(template, number, text, matches[slot.position],
                                              slot.option, value)
            changed[slot.position] = slot.owner
    # checks across a match's options run once all of this line's values are in, in the
    # full parse's order: matches, then the target
    for position, owner in changed.items():
        check_values(matches[position], owner)
    if target_changed:
        check_target(target, rule.protocol, template.command.table,
                     template.command.target_index, kernel=not template.restore)
    shared = rule.matches
    if changed:
        # one tuple per combination of match objects (the entry keeps them alive)
        key = tuple(map(id, matches))
        shared = template.match_tuples.get(key)
        if shared is None:
            shared = tuple(matches)
            if len(template.match_tuples) < _MEMO_LIMIT:
                template.match_tuples[key] = shared
    return Rule(None, None, rule.in_interface, rule.out_interface, rule.protocol, rule.fragment,
                shared, target, rule.counters, None)


def _rules(template: _Template, words: list[str], family: Family, loc: SourceLocation | None,
           counters: Counters | None = None, reparse: bool = True) -> tuple[Rule, ...]:
    """The template's rules with this line's values, addresses, location (and counters)."""
    rules = template.command.rules
    if not rules:
        return rules
    b = rules[0]
    if reparse and template.values_of is not None:
        values = template.values_of(words)
        variant = template.variants.get(values)
        if variant is None:
            variant = _revalue(template, words, family, b)
            if len(template.variants) < 4096:
                template.variants[values] = variant
        b = variant
    if counters is None:
        counters = b.counters
    # the usual case inline: an address seen before, looked up by its word
    spec = template.source
    known = template.known_sources
    sources = _ANY if spec is None else (known.get(words[spec[0]])
                                         or _address_selectors(spec, words, family, known))
    spec = template.destination
    known = template.known_destinations
    destinations = _ANY if spec is None else (known.get(words[spec[0]])
                                              or _address_selectors(spec, words, family, known))
    if len(sources) == 1 and len(destinations) == 1:
        return (Rule(sources[0], destinations[0], b.in_interface, b.out_interface, b.protocol,
                     b.fragment, b.matches, b.target, counters, loc),)
    if template.command.action == "replace":
        index = (template.source or template.destination)[0]
        raise OptionError("Replacement rule does not specify a unique address", index - 1)
    return tuple(Rule(s, d, b.in_interface, b.out_interface, b.protocol, b.fragment,
                      b.matches, b.target, counters, loc)
                 for s in sources for d in destinations)


def _expand(template: _Template, words: list[str], family: Family, loc: SourceLocation | None,
            reparse: bool = True) -> Command:
    """The command with this line's chain, values, addresses and location."""
    base = template.command
    rules = _rules(template, words, family, loc, reparse=reparse)
    return Command(base.action, family, base.table,
                   words[1] if template.chain_blanked else base.chain, base.rulenum,
                   rules, base.policy, base.new_name, base.chain_index, base.rulenum_index,
                   base.target_index, base.policy_index,
                   list(base.warnings) if base.warnings else [])
