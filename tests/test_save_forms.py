"""fwmigrate prints every vector's rule exactly as iptables-legacy-save prints it after the
real iptables-legacy loaded it (in a scratch namespace): the canonical save form is checked
against the tool, not against our reading of its source."""

import shlex
import shutil

import pytest

from fwmigrate.backends import iptables_save
from fwmigrate.convert import ConvertOptions, read

from vectors import load

pytestmark = pytest.mark.kernel

# modules whose xt kernel module this CI kernel may lack, or that iptables-legacy prints
# differently from iptables-nft (the form fwmigrate keeps)
SKIP_FILES = set()


def _table(args: list[str]) -> str:
    return args[args.index("-t") + 1] if "-t" in args else "filter"


def _ours(vector) -> list[str]:
    ruleset, _ = read(vector.script, vector.file, ConvertOptions(ipsets=vector.ipsets_input))
    args = shlex.split(vector.args)
    table = ruleset.table("ip6" if vector.program == "ip6tables" else "ip", _table(args))
    return [iptables_save.rule_line(c.name, r) for c in table.chains for r in c.rules]


def test_save_forms_match_iptables_legacy_save(netns):
    if shutil.which("iptables-legacy") is None:
        pytest.skip("iptables-legacy is not installed")
    mismatches = []
    checked = 0
    for vector in load():
        if vector.is_error or vector.file in SKIP_FILES:
            continue
        program = f"{vector.program}-legacy"
        args = shlex.split(vector.args)
        table = _table(args)
        netns.run(program, "-t", table, "-F")
        netns.run(program, "-t", table, "-X")
        if vector.ipsets:
            # iptables-legacy refuses a rule naming a set the kernel does not have
            netns.run("ipset", "destroy", check=False)
            lacking = set()
            for line in vector.ipsets:
                words = shlex.split(line)
                made = netns.run(*words, check=False)
                if made.returncode and "set type not supported" in made.stderr:
                    lacking.add(words[2])       # this kernel has no such set type (hash:mac)
            if lacking & set(shlex.split(vector.args)):
                continue
        for setup in vector.setup:
            netns.run(program, *shlex.split(setup))
        loaded = netns.run(program, *args, check=False)
        if loaded.returncode != 0:
            mismatches.append(f"{vector}: iptables-legacy refuses it: {loaded.stderr.strip()}")
            continue
        saved = netns.run(f"{vector.program}-legacy-save", "-t", table).stdout
        theirs = [line for line in saved.splitlines() if line.startswith("-A ")]
        if _ours(vector) != theirs:
            mismatches.append(f"{vector}:\n  ours:   {_ours(vector)}\n  theirs: {theirs}")
        checked += 1
    assert not mismatches, "\n".join(mismatches)
    assert checked > 100
