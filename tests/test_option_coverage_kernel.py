"""The rules of tests/test_option_coverage.py against the tool they imitate: iptables-legacy, in a
scratch namespace, takes each rule (every option with each of its variants, and every two
options of a module together) exactly when fwmigrate takes it, and lists it (`-S`) as
fwmigrate's iptables-save text writes it. A rule fwmigrate takes and iptables refuses would be
translated although the source machine could never have had it."""

from __future__ import annotations

import itertools
import shlex
import shutil

import pytest
from option_coverage import context, outcome, rule_words, two_options, variants
from test_option_coverage import CASES

from fwmigrate import mappings
from fwmigrate.backends import iptables_save

pytestmark = pytest.mark.kernel

# iptables' words for what this machine lacks (a kernel module, a conntrack helper): the rule
# is not compared
_LACKING = ("missing kernel module", "No chain/target/match by that name")
# rules whose loading depends on what the loading machine has, not on the words:
# (module, flag) → why
_MACHINE = {
    ("cgroup", "--path"): "the cgroup path must exist where the rule loads",
    ("CT", "--timeout"): "the timeout policy (nfct timeout) must exist where the rule loads",
    ("SECMARK", "--selctx"): "the SELinux context must exist where the rule loads",
}
def _listed(table: dict, words: list[str]) -> bool:
    for (module, flags) in table:
        flags = (flags,) if isinstance(flags, str) else flags
        if module in words and all(f in words for f in flags):
            return True
    return False


def _rules(family: str):
    """(key, table, chain, words, fwmigrate's -S line or None, the set-up lines)."""
    for pair, fam in CASES:
        if fam != family:
            continue
        for variant in variants(pair, family):
            yield pair.key, *_rule(pair, family, variant)
    for kind, specs in (("match", mappings.match_specs()), ("target", mappings.target_specs())):
        for ext in specs.values():
            if family not in ext.families:
                continue
            options = [o for o in ext.options if o.const is None
                       and (o.families is None or family in o.families)]
            for x, y in itertools.combinations(options, 2):
                if x.name == y.name or (x.group is not None and x.group == y.group):
                    continue
                pair, found = two_options(kind, ext, x, y, family)
                yield pair.key, *_rule(pair, family, found["both"])


def _rule(pair, family, variant):
    table, chain, words = rule_words(pair, family, variant)
    rule = outcome(pair, family, variant).rule
    ours = iptables_save.rule_line(chain, rule) if rule is not None else None
    return table, chain, words, ours, tuple(context(pair, family).get("setup", ()))


def _set_up(netns, setup) -> None:
    for program in ("iptables-legacy", "ip6tables-legacy"):
        for table in mappings.iptables_tables():
            netns.run(program, "-t", table, "-F", check=False)
    netns.run("ipset", "destroy", check=False)
    for line in setup:
        if line.startswith("-"):        # the rule's family's command (RATEEST estimators)
            for program in ("iptables-legacy", "ip6tables-legacy"):
                netns.run(program, *shlex.split(line), check=False)
        else:
            netns.run(*shlex.split(line), check=False)


@pytest.mark.parametrize("family", ["ip", "ip6"])
def test_iptables_legacy_takes_what_fwmigrate_takes(netns, family):
    program = "iptables-legacy" if family == "ip" else "ip6tables-legacy"
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    mismatches, compared, ready = [], 0, None
    for key, table, chain, words, ours, setup in _rules(family):
        if _listed(_MACHINE, words):
            continue
        if setup != ready:
            _set_up(netns, setup)
            ready = setup
        netns.run(program, "-t", table, "-F", chain)
        loaded = netns.run(program, *words, check=False)
        said = loaded.stderr.strip()
        if loaded.returncode and any(text in said for text in _LACKING):
            continue
        if loaded.returncode and ours is not None:
            mismatches.append(f"{key}: fwmigrate takes {shlex.join(words)}; iptables: {said}")
        elif not loaded.returncode and ours is None:
            mismatches.append(f"{key}: iptables takes {shlex.join(words)}; fwmigrate does not")
        elif not loaded.returncode:
            listed = netns.run(program, "-t", table, "-S", chain).stdout.splitlines()
            theirs = [line for line in listed if line.startswith("-A ")]
            if theirs[-1:] != [ours]:
                mismatches.append(f"{key}: {shlex.join(words)}\n  ours:   {ours}\n"
                                  f"  theirs: {theirs[-1:]}")
            compared += 1
    assert not mismatches, "\n".join(mismatches)
    assert compared > 1000
