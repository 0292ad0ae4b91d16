"""The `fwmigrate apply / rollback / confirm / save / status` commands (click wrappers)."""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time

import click

from .apply import confirm as confirmation
from .apply import interrupts, persist
from .apply.backup import DEFAULT_STATE_DIR, StateDir
from .apply.kernel import Kernel, KernelError, NoNftables, enter_netns
from .apply.status import render as render_status
from .apply.status import status as read_status
from .apply.transaction import ApplyOptions, ApplyRefused, BackupError, apply, rollback
from .cli import _bulk_work, _fail, _read, _report, main, options_from, translation_options
from .convert import nft_file, translate_input
from .errors import FwmigrateError

# exit codes beyond 0 (done) and 1 (the input has errors)
EXIT_REFUSED = 3        # the lockout guard refused, or no confirmation came and it rolled back
EXIT_KERNEL = 4         # nftables refused the transaction; nothing changed


def netns_option(f):
    return click.option("--netns", metavar="NAME",
                        help="Act inside this network namespace (see `ip netns`).")(f)


def state_option(f):
    return click.option("--state-dir", default=DEFAULT_STATE_DIR, show_default=True,
                        metavar="DIR", help="Where backups and pending confirmations are kept.")(f)


def _enter(netns: str | None) -> None:
    if netns:
        try:
            enter_netns(netns)
        except KernelError as exc:
            raise click.ClickException(str(exc)) from None


def _kernel_failed(exc: KernelError, what: str) -> None:
    if isinstance(exc, NoNftables):
        click.echo(f"fwmigrate: cannot reach nftables; nothing was changed:\n{exc}", err=True)
        sys.exit(EXIT_KERNEL)
    click.echo(f"fwmigrate: nftables refused the {what}; nothing was changed:\n{exc}", err=True)
    sys.exit(EXIT_KERNEL)


def _keep_session(ctx, param, value: str | None) -> str | None:
    """--keep is read before anything else: a value that cannot be read is the command line's
    error (exit 2), not the guard refusing the ruleset (exit 3)."""
    if value is not None:
        from .apply.lockout import GuardError, session_from_keep
        try:
            session_from_keep(value)
        except GuardError as exc:
            raise click.BadParameter(str(exc).removeprefix(f"--keep {value!r}: ")) from None
    return value


def _translate(input: str, kw: dict):
    text, name = _read(input)
    try:
        with _bulk_work():
            ruleset, translation, diags = translate_input(text, name, options_from(kw))
    except FwmigrateError as exc:
        _fail(exc)
    _report(diags.warnings, kw["verbose"])
    for a in translation.approximations:
        click.echo(a.render(), err=True)
    return ruleset, translation, name


@main.command("apply")
@click.argument("input", metavar="INPUT")
@click.option("--check", is_flag=True,
              help="Let the kernel validate the whole transaction; commit nothing.")
@click.option("--confirm", "confirm_seconds", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Roll back automatically unless confirmed within SECONDS (at the prompt, "
                   "or with `fwmigrate confirm`); survives the SSH connection dropping.")
@click.option("--keep", metavar="CLIENT:PORT", callback=_keep_session,
              help="The session to protect (client address, server port) when not run from "
                   "SSH, or instead of $SSH_CONNECTION.")
@click.option("--force", is_flag=True,
              help="Apply even if the lockout guard finds the session would be cut.")
@click.option("--use-nft-cli", is_flag=True, help="Use `nft -j -f -` instead of the bindings.")
@click.option("--syntax", type=click.Choice(["auto", "json", "text"]), default="auto",
              show_default=True,
              help="How the transaction is written for libnftables: JSON, nft text, or JSON "
                   "up to 20,000 rules and text beyond (libnftables parses large JSON slowly).")
@click.option("--keep-backups", type=click.IntRange(min=1), default=10, show_default=True,
              metavar="N", help="How many backups of this namespace to keep (each is the "
                                "whole ruleset); older ones are removed after the apply.")
@netns_option
@state_option
@translation_options
def apply_cmd(input, check, confirm_seconds, keep, force, use_nft_cli, syntax, keep_backups,
              netns, state_dir, **kw):
    """Translate and apply, as one transaction, replacing only fwmigrate's tables.

    The current ruleset is saved first (JSON, mode 0600, in STATE_DIR/backups); `fwmigrate
    rollback` restores it. The lockout guard walks your SSH session (from $SSH_CONNECTION or
    --keep) through the new rules and refuses a ruleset that would cut it.

    \b
    Examples:
      fwmigrate apply samples/tutorial.sh --check
      fwmigrate apply /etc/iptables/rules.v4 --confirm 60
      fwmigrate apply fw.sh --netns test --keep 10.0.0.2:22
    Exit status: 0 applied (or checked), 1 input errors (or an unusable state directory),
    3 refused by the lockout guard, by a pending confirmation, by the --syntax chosen, or
    rolled back for want of confirmation, 4 refused by the kernel or nftables cannot be reached
    (nothing changed), 128+N interrupted by signal N (130: Ctrl-C; before the commit nothing
    is applied, under --confirm an applied ruleset is rolled back).
    """
    ruleset, translation, _name = _translate(input, kw)
    options = ApplyOptions(check=check, flush_ruleset=kw["flush_ruleset"], netns=netns,
                           state_dir=state_dir, keep=keep, force=force, use_nft_cli=use_nft_cli,
                           syntax=syntax, keep_backups=keep_backups)
    _enter(netns)
    pending: list[confirmation.Pending] = []

    def watch(backup) -> None:
        # the watchdog runs before the commit: a session that dies right after it is covered
        pending.append(confirmation.start(StateDir(state_dir), backup, confirm_seconds, netns))

    try:
        report = apply(translation.ruleset, ruleset, options, os.environ.get("SSH_CONNECTION"),
                       watch if confirm_seconds else None)
    except (interrupts.Interrupted, KeyboardInterrupt) as exc:
        for p in pending:
            confirmation.cancel(p)
        signum = exc.signum if isinstance(exc, interrupts.Interrupted) else signal.SIGINT
        _say(f"fwmigrate: interrupted ({signal.Signals(signum).name}) before the commit: "
             "nothing was applied")
        sys.exit(128 + signum)
    except ApplyRefused as exc:
        click.echo(f"fwmigrate: {exc.message}", err=True)
        for detail in exc.details:
            click.echo(f"  - {detail}", err=True)
        sys.exit(EXIT_REFUSED)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    except KernelError as exc:
        for p in pending:
            confirmation.cancel(p)
        _kernel_failed(exc, "transaction")
    for p in pending:
        confirmation.committed(p)
    if report.interrupted == signal.SIGHUP:
        # the session is gone: no one reads the prompt; under --confirm the watchdog waits
        # for `fwmigrate confirm` from another login, or rolls back at the deadline
        sys.exit(128 + signal.SIGHUP)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    where = f" in namespace {netns}" if netns else ""
    if report.session:
        click.echo(f"lockout guard: your session {report.session} stays open", err=True)
    if check:
        click.echo(f"check passed{where}: the kernel accepts the transaction (nothing applied; "
                   f"via {report.via})")
        return
    click.echo(f"applied{where} via {report.via}; previous ruleset saved in {report.backup}")
    if report.interrupted is not None:
        name = signal.Signals(report.interrupted).name
        if pending:                 # as at the prompt: an interruption is a no
            _roll_back_now(pending[0], f"interrupted ({name}) once the commit had begun")
        else:
            _say(f"fwmigrate: interrupted ({name}) once the commit had begun, which a signal "
                 "does not stop: "
                 "the new ruleset is in place; `fwmigrate rollback"
                 f"{' --netns ' + netns if netns else ''}` restores the previous one")
        sys.exit(128 + report.interrupted)
    if pending:
        _await_confirmation(pending[0], confirm_seconds, netns)


def _say(message: str) -> None:
    """To stderr, unless it is gone (a terminal hung up)."""
    try:
        click.echo(message, err=True)
    except OSError:
        pass


def _roll_back_now(pending: confirmation.Pending, why: str) -> None:
    """Have the watchdog roll back at once, and say what it did."""
    pending.rejected_marker.touch(mode=0o600)
    with interrupts.deferred():         # a second Ctrl-C does not stop the wait for it
        result = confirmation.wait_for_result(pending)
    _say(f"{why}: {result or 'the watchdog did not answer'}")


def _await_confirmation(pending: confirmation.Pending, seconds: float, netns: str | None) -> None:
    click.echo(f"Keep the new ruleset? Type `yes` within {seconds:g} s, or run `fwmigrate confirm"
               f"{' --netns ' + netns if netns else ''}` from another shell; `no`, or no "
               "answer in time, rolls it back.", err=True)
    try:
        # Ctrl-C or SIGTERM at the prompt is a no (SIGHUP is left alone: the session died,
        # and `fwmigrate confirm` from another login may still keep the ruleset)
        with interrupts.raised():
            _prompt(pending)
    except interrupts.Interrupted as exc:
        _roll_back_now(pending, f"interrupted ({exc.name})")
        sys.exit(128 + exc.signum)
    result = confirmation.wait_for_result(pending)
    if result == "confirmed":
        click.echo("confirmed: the new ruleset stays")
        return
    why = "answered no" if pending.rejected_marker.exists() else "not confirmed in time"
    click.echo(f"{why}: {result or 'the watchdog did not answer'}", err=True)
    sys.exit(EXIT_REFUSED)


def _prompt(pending: confirmation.Pending) -> None:
    while (time.time() < pending.deadline and not pending.confirmed_marker.exists()
           and not pending.rejected_marker.exists()):
        timeout = max(0.0, min(0.5, pending.deadline - time.time()))
        ready = select.select([sys.stdin], [], [], timeout)[0] if _interactive() else \
            time.sleep(timeout)
        if ready:
            answer = sys.stdin.readline().strip().lower()
            if answer in ("y", "yes"):
                pending.confirmed_marker.touch(mode=0o600)
            elif answer in ("n", "no"):
                pending.rejected_marker.touch(mode=0o600)
            else:
                click.echo("type yes or no", err=True)


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@main.command("rollback")
@click.option("--use-nft-cli", is_flag=True, help="Use `nft -j -f -` instead of the bindings.")
@netns_option
@state_option
def rollback_cmd(use_nft_cli, netns, state_dir):
    """Restore the ruleset saved before the latest apply.

    Only what that apply replaced is restored (fwmigrate's tables, or everything after
    --flush-ruleset). The backup used is then set aside (STATE_DIR/backups/rolled-back), so
    running rollback again steps back one apply further.

    \b
    Examples:
      fwmigrate rollback
      fwmigrate rollback --netns test
    """
    _enter(netns)
    try:
        path, stuck = rollback(ApplyOptions(netns=netns, state_dir=state_dir,
                                            use_nft_cli=use_nft_cli))
    except ApplyRefused as exc:
        raise click.ClickException(exc.message) from None
    except BackupError as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from None
    except KernelError as exc:
        _kernel_failed(exc, "rollback")
    click.echo(f"rolled back to {path}")
    if stuck:
        click.echo(f"warning: {stuck}", err=True)


@main.command("confirm")
@netns_option
@state_option
def confirm_cmd(netns, state_dir):
    """Keep the ruleset of a pending `apply --confirm`.

    \b
    Examples:
      fwmigrate confirm
      fwmigrate confirm --netns test
    """
    pending = confirmation.confirm(StateDir(state_dir), netns)
    if pending is None:
        raise click.ClickException("no apply is waiting for confirmation"
                                   f"{' in namespace ' + netns if netns else ''}")
    click.echo("confirmed: the new ruleset stays")


@main.command("save")
@click.argument("input", metavar="INPUT")
@click.option("-o", "--output", default="/etc/nftables.conf", show_default=True,
              metavar="FILE", help="The file to write (atomically, root-owned, mode 0600).")
@click.option("--enable", is_flag=True,
              help="Also enable and start nftables.service (where systemd runs).")
@click.option("--use-nft-cli", is_flag=True, help="Use `nft -c` instead of the bindings.")
@netns_option
@translation_options
def save_cmd(input, output, enable, use_nft_cli, netns, **kw):
    """Validate with the kernel, then write the nft file that makes the ruleset permanent.

    \b
    Examples:
      fwmigrate save /etc/iptables/rules.v4
      fwmigrate save firewall.sh -o /etc/nftables.conf --enable
      fwmigrate save firewall.sh -o /tmp/fw.nft --netns test
    """
    if output == "-":
        raise click.ClickException(
            "save writes a file (-o FILE, atomically, mode 0600), not standard output; "
            "`fwmigrate convert INPUT --to nft` prints the ruleset; nothing was written")
    if enable and os.path.abspath(output) != persist.SERVICE_FILE:
        raise click.ClickException(
            f"--enable: nftables.service loads {persist.SERVICE_FILE}, not {output}; it would "
            "start with whatever that file holds (write it with `-o "
            f"{persist.SERVICE_FILE}`, or drop --enable); nothing was written")
    _ruleset, translation, name = _translate(input, kw)
    text, _notes = nft_file(translation, name, options_from(kw))
    _enter(netns)      # validate against that namespace's kernel state
    try:
        persist.save(text, output, use_nft_cli=use_nft_cli)
    except KernelError as exc:
        _kernel_failed(exc, "file (dry run)")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output} (mode 0600)")
    if enable:
        click.echo(persist.enable_service())


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@netns_option
@state_option
def status_cmd(as_json, netns, state_dir):
    """Show what fwmigrate has applied: tables, chains, rules, and dynamic set members.

    \b
    Examples:
      fwmigrate status
      fwmigrate status --netns test --json
    """
    try:
        latest = StateDir(state_dir).latest_backup(netns)
    except BackupError as exc:      # status only takes the table names from it
        click.echo(f"warning: {exc}; showing the tables named fwmigrate", err=True)
        latest = None
    _enter(netns)
    try:
        data = read_status(Kernel(), set(latest.tables) if latest else None)
    except KernelError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(data, indent=2) if as_json else render_status(data), nl=as_json)
