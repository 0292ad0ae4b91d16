"""-m nfacct's accounting objects. xt_nfacct refuses a rule naming an object the kernel does
not have ("No chain/target/match by that name"), so a script's rules may name only objects
the script creates with `nfacct add NAME` (anywhere in it: `nfacct delete` and `flush` leave
an object a rule uses in place, EBUSY). An iptables-save file names objects that existed
where it was saved: they are unknown there, not missing, and are not checked.

The nft backend refuses -m nfacct (mappings/extensions.toml [not_translated]).
"""

from __future__ import annotations

from ..errors import OptionError
from ..ir import Rule, Ruleset

NAME_MAX = 31           # NFACCT_NAME_MAX - 1: nfacct and iptables cut longer names

# nfacct commands that change no object a rule could use
_READ_ONLY = frozenset({"list", "get", "monitor", "delete", "del", "flush", "version", "help"})


def nfacct_command(reader, fields) -> bool:
    """One `nfacct …` line of a script (reader: the shell evaluator)."""
    words = [f.text for f in fields[1:]]
    verb = words[0] if words else ""
    if verb == "add" and len(words) >= 2:
        reader.nfacct_names.add(words[1][:NAME_MAX])
        return True
    if verb in _READ_ONLY:
        reader.diags.note(reader.loc(fields[0].pos), f"`nfacct {verb}' removes or reads "
                          "accounting objects, which no rule in use loses; skipped")
        return True
    reader.unknown(fields[0].pos, f"`nfacct {verb}' changes the accounting objects in a way "
                   "fwmigrate cannot follow without running it",
                   "write `nfacct add NAME` for each object the rules name")
    return True


def missing_nfacct_objects(ruleset: Ruleset, known: set[str]) -> list[tuple[Rule, str]]:
    """Rules naming an accounting object the script did not create."""
    problems = []
    for table in ruleset.tables:
        for chain in table.chains:
            for rule in chain.rules:
                for match in rule.matches:
                    if match.module != "nfacct":
                        continue
                    name = match.option("nfacct-name").value
                    if name not in known:
                        problems.append((rule, f"nfacct object `{name}' does not exist: the "
                                               "kernel refuses a rule naming a missing "
                                               "accounting object"))
    return problems


def parse_nfacct_name(args, family, proto) -> str:
    """--nfacct-name: cut to the length the kernel keeps, as iptables cuts it."""
    if not args[0]:
        raise OptionError("Argument must have a minimum length of 1 characters")
    return args[0][:NAME_MAX]
