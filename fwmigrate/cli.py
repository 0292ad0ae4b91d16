"""The `fwmigrate` command: thin click wrappers around fwmigrate.convert and fwmigrate.dropin."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from contextlib import contextmanager, suppress

import click

from . import __version__
from .convert import TARGETS, ConvertOptions, convert
from .dropin import restore_translate, translate_command
from .errors import Diagnostic, FwmigrateError


def _read(path: str) -> tuple[str, str]:
    """The text as it is: no newline translation (only LF ends a line for the shell and for
    iptables-restore, and diagnostics count lines as they do); bytes that are not UTF-8 are
    kept (surrogateescape) for the readers to report where they are."""
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            return sys.stdin.read(), "<stdin>"
        return stream.read().decode("utf-8", "surrogateescape"), "<stdin>"
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            return fh.read(), path
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    # a temporary file renamed into place: an earlier output is never left half-written, and
    # no temporary file is left behind whatever stops the write (a full disk, ^C)
    data = text.encode("utf-8")
    tmp = f"{path}.fwmigrate-tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
        raise


@contextmanager
def _bulk_work():
    """The IR holds no reference cycles, so the cyclic collector only costs time: on a
    100,000-rule dump it rescans the growing heap again and again (measured: 3x slower)."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()     # what was built stays; a collection now would only rescan it
        gc.enable()


def _report(diagnostics, verbose: bool) -> None:
    notes = 0
    for d in diagnostics:
        if d.severity == "note" and not verbose:
            notes += 1
            continue
        click.echo(d.render(), err=True)
    if notes:
        click.echo(f"({notes} note{'s' if notes > 1 else ''}, e.g. skipped non-firewall "
                   "commands; -v shows them)", err=True)


def _fail(exc: FwmigrateError) -> None:
    errors = [d for d in exc.diagnostics if d.severity == "error"]
    for d in exc.diagnostics:
        click.echo(d.render(), err=True)
    count = len(errors) or len(exc.diagnostics)
    click.echo(f"fwmigrate: {count} error{'s' if count != 1 else ''}; nothing was written",
               err=True)
    sys.exit(1)


def _variables(defines: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in defines:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--define")
        if not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")
                and name.replace("_", "a").isalnum() and name.isascii()):
            raise click.BadParameter(f"{name!r} is not a shell variable name (letters, digits "
                                     "and _, not starting with a digit)", param_hint="--define")
        out.append((name, value))
    return tuple(out)


class _Commands(click.Group):
    """Commands whose modules are imported only when one of them is run or listed: apply,
    verify and explain bring machinery that convert and restore-translate do not need, and
    importing it would lengthen every run."""

    lazy = {"apply": "cli_apply", "rollback": "cli_apply", "confirm": "cli_apply",
            "save": "cli_apply", "status": "cli_apply", "diff": "cli_verify",
            "verify": "cli_verify", "explain": "cli_equiv"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            importlib.import_module(f"{__package__}.{self.lazy[name]}")   # registers it
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fwmigrate")
def main() -> None:
    """Move Linux firewalls from iptables to nftables without changing what they do.

    \b
    Examples:
      fwmigrate convert firewall.sh --to nft -o firewall.nft
      fwmigrate convert /etc/iptables/rules.v4 --to nft
      fwmigrate translate -A INPUT -p tcp --dport 22 -j ACCEPT
      fwmigrate restore-translate -f rules.v4
    """


def translation_options(f):
    """Options shared by every command that reads and translates an input."""
    for option in reversed([
        click.option("--from", "source_kind", type=click.Choice(["auto", "script", "save"]),
                     default="auto", show_default=True,
                     help="Input kind: a shell script of iptables commands, or iptables-save "
                          "output."),
        click.option("--family", type=click.Choice(["ip", "ip6", "inet"]), default=None,
                     help="Only this family (ip, ip6), or one inet table for all of them "
                          "(rules both families share written once). Default: one table per "
                          "family in the input."),
        click.option("--table", default="fwmigrate", show_default=True,
                     help="Name of the nft table(s) to create and replace."),
        click.option("--counters", is_flag=True, help="Add a counter to every rule."),
        click.option("--approximate", is_flag=True,
                     help="Where nft cannot say the same thing exactly, use the closest form "
                          "and report each one (stderr and a comment in the output)."),
        click.option("--recent-list-size", type=int, default=None, metavar="N",
                     help="How many addresses each -m recent list's nft set holds (default "
                          "65535). xt_recent keeps 100 and forgets the oldest; a full nft set "
                          "takes no new address and the rule adding it does not match."),
        click.option("--flush-ruleset", is_flag=True,
                     help="Replace the whole ruleset, removing every other table too (e.g. "
                          "Docker's). Default: replace only fwmigrate's own tables."),
        click.option("--skip-unknown", is_flag=True,
                     help="Skip script lines that cannot be evaluated statically (if, case, "
                          "$(...), functions) with a warning, instead of failing."),
        click.option("--ipsets", "ipsets", default=None, metavar="FILE",
                     help="The sets the rules name in -m set / -j SET: `ipset save` output "
                          "(or an `ipset restore` file). They become named nft sets with "
                          "their members."),
        click.option("-D", "--define", "defines", multiple=True, metavar="NAME=VALUE",
                     help="Set a shell variable the script uses but does not assign."),
        click.option("-v", "--verbose", is_flag=True,
                     help="Also show notes (skipped commands, renames)."),
    ]):
        f = option(f)
    return f


def options_from(kw: dict, **extra) -> ConvertOptions:
    return ConvertOptions(source_kind=kw["source_kind"], family=kw["family"], table=kw["table"],
                          counters=kw["counters"], approximate=kw["approximate"],
                          flush_ruleset=kw["flush_ruleset"], skip_unknown=kw["skip_unknown"],
                          variables=_variables(kw["defines"]),
                          recent_list_size=kw["recent_list_size"],
                          ipsets=_read(kw["ipsets"]) if kw.get("ipsets") else None, **extra)


@main.command("convert")
@click.argument("input", metavar="INPUT")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE",
              help="Where to write the result; - is standard output.")
@click.option("--to", "to", type=click.Choice(TARGETS), default="nft", show_default=True,
              help="Output: an nftables file for `nft -f`, the same as libnftables JSON "
                   "(`nft -j -f`), or canonical iptables-restore text.")
@click.option("--allow-partial", is_flag=True,
              help="Write the output even if some rules cannot be translated; they become "
                   "comments and are listed on stderr. The firewall then does NOT do the same.")
@translation_options
def convert_cmd(input, output, to, allow_partial, **kw):
    """Translate an iptables script or iptables-save file.

    INPUT is a shell script of iptables/ip6tables commands (read, never run) or an
    iptables-save / ip6tables-save dump; - reads standard input.

    \b
    Examples:
      fwmigrate convert samples/tutorial.sh --to nft
      fwmigrate convert rules.v4 --to nft -o firewall.nft
      fwmigrate convert firewall.sh --to iptables-restore | iptables-restore --test
      fwmigrate convert dual.sh --family ip6 --counters
      fwmigrate convert rules.v4 --ipsets <(ipset save) --to nft
      fwmigrate convert dual.sh --family inet
    """
    text, name = _read(input)
    options = options_from(kw, to=to, allow_partial=allow_partial)
    try:
        with _bulk_work():
            result = convert(text, name, options)
    except FwmigrateError as exc:
        _fail(exc)
        return
    _report(result.warnings, kw["verbose"])
    for a in result.approximations:
        click.echo(Diagnostic(a.loc, "approximated: " + a.message, "warning").render(), err=True)
    for u in result.untranslated:
        click.echo(Diagnostic(u.loc, "NOT translated (--allow-partial): " + u.message,
                              "warning", u.hint).render(), err=True)
    _write(output, result.output)


@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})
@click.option("-6", "ipv6", is_flag=True, help="Translate an ip6tables command.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="IPTABLES-ARGS...")
def translate(ipv6, args):
    """Translate one iptables command, like iptables-translate.

    \b
    Examples:
      fwmigrate translate -A INPUT -p tcp --dport 22 -j ACCEPT
      fwmigrate translate -t nat -A POSTROUTING -o eth0 -j MASQUERADE
      fwmigrate translate -6 -A INPUT -p icmpv6 --icmpv6-type echo-request -j ACCEPT
    """
    if not args:
        raise click.UsageError("give the iptables arguments, e.g. -A INPUT -j ACCEPT")
    warnings: list[str] = []
    try:
        lines = translate_command(list(args), "ip6" if ipv6 else "ip", warnings)
    except FwmigrateError as exc:
        _fail(exc)
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo("\n".join(lines))


@main.command("restore-translate")
@click.option("-f", "--file", "path", required=True, metavar="FILE",
              help="The iptables-save file; - reads standard input.")
@click.option("-6", "ipv6", is_flag=True, help="The file is ip6tables-save output.")
@click.option("--ipsets", "ipsets", default=None, metavar="FILE",
              help="`ipset save` output for the sets the rules name (-m set, -j SET).")
def restore_translate_cmd(path, ipv6, ipsets):
    """Translate an iptables-save file, like iptables-restore-translate.

    The output uses iptables-nft's table and chain names and loads with `nft -f`.

    \b
    Examples:
      fwmigrate restore-translate -f /etc/iptables/rules.v4 > rules.nft
      ip6tables-save | fwmigrate restore-translate -6 -f -
    """
    text, name = _read(path)
    try:
        with _bulk_work():
            out = restore_translate(text, name, "ip6" if ipv6 else None,
                                    _read(ipsets) if ipsets else None, _KEPT)
    except FwmigrateError as exc:
        _fail(exc)
        return
    sys.stdout.write(out)


# Models a command leaves for the process exit to drop (see run); None when not run as the
# console command (tests call main in their own process).
_KEPT: list | None = None


def _exit_at_once(exc: SystemExit) -> None:
    """End the process with exc's status once the output is flushed, without Python's teardown,
    which would free every object left (on a 100,000-rule dump, a twentieth of the run)."""
    if exc.code is not None and not isinstance(exc.code, int):
        return                  # a message: Python's own exit prints it
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return                  # e.g. a closed pipe: Python's own exit reports it
    os._exit(exc.code or 0)


def run() -> None:
    """Console entry point: a bug in fwmigrate is reported in one line, not as a traceback
    (FWMIGRATE_DEBUG=1 shows the traceback)."""
    global _KEPT
    _KEPT = []
    try:
        main()
    except SystemExit as exc:
        _exit_at_once(exc)
        raise
    except Exception as exc:            # noqa: BLE001 - last resort, after click's own handling
        if os.environ.get("FWMIGRATE_DEBUG"):
            raise
        click.echo(f"fwmigrate: internal error: {type(exc).__name__}: {exc}\n"
                   "This is a bug in fwmigrate; please report it with the input that caused it "
                   "(FWMIGRATE_DEBUG=1 shows the traceback). Nothing was written.", err=True)
        sys.exit(70)


if __name__ == "__main__":  # pragma: no cover
    run()
