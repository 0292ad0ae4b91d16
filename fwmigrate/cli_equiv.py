"""`fwmigrate verify --equiv A B` and `fwmigrate explain` (click wrappers)."""

from __future__ import annotations

import ipaddress
import sys
import time
from dataclasses import replace

import click

from .backends.iptables_save import rule_line
from .cli import _bulk_work, main
from .cli_verify import EXIT_DIFFERENT, EXIT_ERROR, _error, _load, _read_input
from .errors import Diagnostics, FwmigrateError
from .frontends.ipset_save import read_ipsets
from .verify.equiv import check
from .verify.equiv_example import example
from .verify.explain import PacketError, describe_packet, explain, parse_packet, render_outcome
from .verify.sources import read_any
from .verify.space import NotModelled, Space, collect

# Counterexamples read best with ordinary values: a TCP SYN of a new connection between two
# documentation addresses, to a well-known port; the cube decides where these do not fit.
_READABLE = {"proto": [6, 17, 1, 58], "ct_state": ["NEW"], "tcp_flags": [frozenset({"SYN"})],
             "fragment": [False], "sport": [40000, 1024], "dport": [22, 80, 443, 53, 1],
             "icmp_type": [8, 128], "iif": ["eth0"], "oif": ["eth1"]}
_ADDRESSES = {"ip": ("192.0.2.10", "198.51.100.20"), "ip6": ("2001:db8::10", "2001:db8:1::20")}
# the difference to show first: a different verdict says most
_ASPECT_ORDER = ("verdict", "recent lists", "actions")


def _readable(family: str) -> dict[str, list]:
    saddr, daddr = _ADDRESSES.get(family, _ADDRESSES["ip"])
    return {**_READABLE, "saddr": [ipaddress.ip_address(saddr)],
            "daddr": [ipaddress.ip_address(daddr)]}


def _path(path: tuple) -> list[str]:
    lines = []
    for (table, chain), index, rule in path:
        where = f" ({rule.loc})" if rule.loc else ""
        text = rule_line(chain, rule, False)
        lines.append(f"    {table} {chain} rule {index + 1}{where}: {text}")
    return lines or ["    (no rule matched)"]


def _label(label: tuple) -> str:
    """An outcome's verdict or effect in words."""
    from .backends.iptables_save import rule_words
    from .ir import Rule, TargetExtension
    name = label[0]
    if name.startswith("recent "):
        return f"{name} {label[1]} ({'source' if label[2] == 'rsource' else 'destination'})"
    if len(label) == 2 and isinstance(label[1], tuple):
        return " ".join(rule_words(Rule(target=TargetExtension(name, label[1])))[1:])
    return name


def _outcome(outcome: tuple) -> str:
    verdict, effects = outcome
    text = _label(verdict)
    if effects:
        text += "; on the way: " + ", ".join(_label(e) for e in effects)
    return text


MAX_SHOWN = 1000        # the search stops after this many differing packet classes


def run_equiv(inputs: tuple[str, ...], kw: dict) -> None:
    if len(inputs) != 2:
        raise click.UsageError("verify --equiv takes two rulesets: A B")
    diags = Diagnostics()
    started = time.perf_counter()
    try:
        with _bulk_work():
            a = _load(inputs[0], diags, kw)
            b = _load(inputs[1], diags, kw)
            if diags.errors:
                raise FwmigrateError(diags.errors)
            results = check(a, b, max_differences=MAX_SHOWN)
    except FwmigrateError as exc:
        _error(exc)
    except NotModelled as exc:
        click.echo(f"fwmigrate: cannot decide: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    seconds = time.perf_counter() - started
    differences = [(r, d) for r in results for d in r.differences]
    pieces = sum(r.pieces for r in results)
    if not differences:
        click.echo(f"equivalent: every packet gets the same verdict and the same effects from "
                   f"both ({', '.join(r.family for r in results)}; {pieces} packet classes "
                   f"checked in {seconds:.2f} s)")
        return
    result, first = min(differences, key=lambda rd: min(
        (_ASPECT_ORDER.index(x) for x in rd[1].aspects), default=len(_ASPECT_ORDER)))
    space = Space(result.family)
    collect(space, a)
    collect(space, b)
    space.freeze()
    packet = example(space, first.cube, _readable(result.family))
    capped = any(len(r.differences) >= MAX_SHOWN for r in results)
    count = f"{'at least ' if capped else ''}{len(differences)} packet class(es) differ"
    click.echo(f"NOT equivalent ({count}; they differ in {', '.join(first.aspects)}). "
               "For example:")
    mark = ""
    if "mark" in space.index:         # the packet model has no mark; name the atom's first
        atoms = first.cube[space.index["mark"]]
        mark = f" (mark {space.fields['mark'].example((atoms & -atoms).bit_length() - 1):#x})"
    click.echo(f"  packet: {describe_packet(packet, first.hook)}{mark}")
    click.echo(f"  A ({a.source}): {_outcome(first.outcome_a)}")
    click.echo("\n".join(_path(first.path_a)))
    click.echo(f"  B ({b.source}): {_outcome(first.outcome_b)}")
    click.echo("\n".join(_path(first.path_b)))
    click.echo(f"(`fwmigrate explain FILE --packet \"{describe_packet(packet, first.hook)}\"` "
               "shows one side's walk)")
    sys.exit(EXIT_DIFFERENT)


@main.command("explain")
@click.argument("input", metavar="INPUT")
@click.option("--packet", "spec", required=True, metavar="PACKET",
              help='e.g. "tcp 10.0.0.5:40000 > 10.0.0.1:22 in eth1 ct new"')
@click.option("--ipsets", "ipsets", default=None, metavar="FILE",
              help="`ipset save` output: lookups in sets whose members it lists (and no rule "
                   "changes) are answered; other lookups are followed both ways.")
def explain_cmd(input, spec, ipsets):
    """Show the path one packet takes through a ruleset, rule by rule, and the verdict.

    PACKET: PROTO SRC[:PORT] > DST[:PORT] [in IF] [out IF] [ct new|established|related|invalid]
    [status SNAT,…] [flags SYN,ACK] [type T[/C]] [recent LIST[@dst]] [frag] [answer]
    [hook input|forward|output|prerouting|postrouting]; an IPv6 address with a port goes in
    brackets ([2001:db8::1]:22). `recent LIST` says the source is in that recent list.
    `answer`: this host made the packet as a REJECT's answer (ICMP error or reset), which
    carries the answered packet's conntrack entry (ct related; ct invalid for an untracked
    one) from the start, so raw rules see it and NOTRACK leaves it alone.
    Exit status: 1 when every way the packet can take ends in DROP or REJECT, 2 error, else 0.

    \b
    Examples:
      fwmigrate explain samples/tutorial.sh \\
          --packet "tcp 10.0.0.5:40000 > 10.0.0.1:22 in eth1 ct new"
      fwmigrate explain rules.v4 --packet "udp 192.0.2.1:5353 > 10.0.0.1:53 in eth0"
    """
    try:
        packet, hook = parse_packet(spec)
    except PacketError as exc:
        raise click.UsageError(str(exc)) from None
    diags = Diagnostics()
    text, name = _read_input(input)
    try:
        ruleset = read_any(text, name, diags)
        if ipsets and not ruleset.ipsets:
            ruleset = replace(ruleset, ipsets=read_ipsets(*_read_input(ipsets), diags))
    except FwmigrateError as exc:
        _error(exc)
    if diags.errors:
        _error(FwmigrateError(diags.errors))
    outcomes = explain(ruleset, packet, hook)
    click.echo(f"packet: {describe_packet(packet, hook)}")
    for n, outcome in enumerate(outcomes, 1):
        if len(outcomes) > 1:
            click.echo(f"way {n} of {len(outcomes)}:")
        click.echo("\n".join(render_outcome(outcome)))
    verdicts = {o.verdict for o in outcomes}
    sys.exit(0 if verdicts == {"ACCEPT"} else 1 if verdicts <= {"DROP", "REJECT"} else 0)
