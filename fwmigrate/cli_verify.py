"""The `fwmigrate diff / verify / explain` commands (click wrappers)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import click

from .cli import _bulk_work, _read, main, options_from, translation_options
from .errors import Diagnostics, FwmigrateError
from .frontends.ipset_save import read_ipsets
from .verify.diff import diff
from .verify.roundtrip import round_trip
from .verify.sources import read_any, read_live

EXIT_DIFFERENT = 1
EXIT_ERROR = 2


def _error(exc: FwmigrateError) -> None:
    for d in exc.diagnostics:
        click.echo(d.render(), err=True)
    sys.exit(EXIT_ERROR)


def _read_input(path: str) -> tuple[str, str]:
    """An input, or exit 2: click's own error exit (1) is these commands' "different"."""
    try:
        return _read(path)
    except click.ClickException as exc:
        click.echo(f"fwmigrate: {exc.message}", err=True)
        sys.exit(EXIT_ERROR)


def _options(kw: dict):
    """The conversion options (which read --ipsets), or exit 2, as _read_input."""
    try:
        return options_from(kw)
    except click.ClickException as exc:
        click.echo(f"fwmigrate: {exc.message}", err=True)
        sys.exit(EXIT_ERROR)


def _load(path: str, diags: Diagnostics, kw: dict | None = None):
    text, name = _read_input(path)
    frontend = {}
    options = None
    if kw:
        options = _options(kw)
        frontend = dict(kind=options.source_kind, skip_unknown=options.skip_unknown,
                        variables=dict(options.variables))
    ruleset = read_any(text, name, diags, **frontend)
    if options is not None and options.ipsets is not None and not ruleset.ipsets:
        # the sets an iptables input names (an nft input brings its own members)
        ruleset = replace(ruleset, ipsets=read_ipsets(*options.ipsets, diags))
    return ruleset


@main.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B", required=False)
@click.option("--live", is_flag=True, help="Compare A with the ruleset in the kernel now.")
@click.option("--netns", metavar="NAME",
              help="With --live: the namespace to read (a name from `ip netns`, or a path).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def diff_cmd(a, b, live, netns, fmt):
    """Compare two rulesets by meaning, chain by chain, rule by rule.

    A and B may each be an iptables script, an iptables-save file, nft JSON (`nft -j list
    ruleset`) or an nft file. Counters, handles, the order of set elements and spellings with
    one meaning (`ip protocol tcp tcp dport` and `tcp dport`, -m state and -m conntrack) are
    not differences. Exit status: 0 the same, 1 different, 2 error.

    \b
    Examples:
      fwmigrate diff /etc/iptables/rules.v4 /etc/nftables.conf
      fwmigrate diff firewall.sh --live
      fwmigrate diff old.save new.save --format json
    """
    if (b is None) == (not live):
        raise click.UsageError("give B, or --live to compare with the kernel")
    diags = Diagnostics()
    try:
        with _bulk_work():
            left = _load(a, diags)
            right = read_live(netns, diags) if live else _load(b, diags)
    except FwmigrateError as exc:
        _error(exc)
    if diags.errors:
        _error(FwmigrateError(diags.errors))
    changes = diff(left, right)
    if fmt == "json":
        click.echo(json.dumps({"same": not changes, "changes": [c.as_json() for c in changes]},
                              indent=2))
    elif changes:
        click.echo(f"--- A: {left.source}\n+++ B: {right.source}")
        for change in changes:
            click.echo(change.describe())
    else:
        click.echo("same: no difference in meaning")
    sys.exit(EXIT_DIFFERENT if changes else 0)


@main.command("verify")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT [B]")
@click.option("--equiv", is_flag=True,
              help="Decide whether the two inputs give the same verdict for every packet.")
@translation_options
def verify_cmd(inputs, equiv, **kw):
    """Prove a translation: the kernel round trip, or --equiv between two rulesets.

    Without --equiv: translate INPUT, load it into a throwaway network namespace through
    libnftables, read the kernel's ruleset back and compare it with the input; also write
    canonical iptables-restore text and read it back. Exit status: 0 both agree (with --equiv:
    equivalent), 1 they differ, 2 error (or --equiv cannot decide).

    \b
    Examples:
      fwmigrate verify samples/tutorial.sh
      fwmigrate verify --equiv rules.v4 /etc/nftables.conf
    """
    if equiv:
        from .cli_equiv import run_equiv
        run_equiv(inputs, kw)
        return
    if len(inputs) != 1:
        raise click.UsageError("verify takes one INPUT (or two with --equiv)")
    text, name = _read_input(inputs[0])
    try:
        with _bulk_work():
            report = round_trip(text, name, _options(kw))
    except FwmigrateError as exc:
        _error(exc)
    for label, changes in (("kernel round trip", report.kernel),
                           ("iptables-restore round trip", report.restore)):
        if changes:
            click.echo(f"{label}: {len(changes)} difference(s)")
            for change in changes:
                click.echo(change.describe())
        else:
            click.echo(f"{label}: identical ({report.rules} rules in {report.chains} chains)")
    sys.exit(0 if report.ok else EXIT_DIFFERENT)
