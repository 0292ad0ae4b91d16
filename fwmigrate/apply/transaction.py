"""Apply a translated ruleset: guard, back up, send one transaction, warn about leftovers.

Everything goes to the kernel as one libnftables batch: the whole new ruleset is in place, or
(if any command of it fails) the old one is untouched. The batch is libnftables JSON, except
for very large rulesets: libnftables 1.0.6 parses JSON about 2.5 times slower than the same
ruleset in nft syntax (100,000 rules: 5.2 s against 2.0 s, bench/apply.py), so past
JSON_RULE_LIMIT rules the same model is sent rendered as nft text, still one transaction
(tests/test_json.py shows both forms load to the same kernel ruleset).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..backends import nft_json, nft_text
from ..backends.nft_ast import NftRuleset, Quota
from ..ir import Ruleset
from . import confirm, interrupts, lockout
from .backup import BackupError, StateDir, check_trusted, in_scope, needs_text, restore
from .kernel import Kernel, KernelError


class ApplyRefused(Exception):
    """The apply was not done (guard, or nothing to roll back to); the message says why."""

    def __init__(self, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


@dataclass(frozen=True)
class ApplyOptions:
    check: bool = False
    flush_ruleset: bool = False
    netns: str | None = None
    state_dir: str = "/var/lib/fwmigrate"
    keep: str | None = None              # CLIENT:PORT to protect, instead of SSH_CONNECTION
    force: bool = False                  # apply even if the guard says the session dies
    use_nft_cli: bool = False
    syntax: str = "auto"                 # json, text, or auto (json up to JSON_RULE_LIMIT)
    keep_backups: int = 10               # per namespace, and as many rolled-back ones


JSON_RULE_LIMIT = 20_000


@dataclass
class ApplyReport:
    via: str
    checked_only: bool
    backup: Path | None = None
    session: str | None = None
    warnings: list[str] = field(default_factory=list)
    # a signal (SIGINT, SIGTERM, SIGHUP) that came during the commit, which it did not stop
    interrupted: int | None = None


def apply(model: NftRuleset, ruleset: Ruleset, options: ApplyOptions,
          ssh_connection: str | None,
          before_commit: Callable[[Path], None] | None = None) -> ApplyReport:
    """Guard, back up and commit. `before_commit(backup)` runs once the backup is saved, just
    before the commit (the --confirm watchdog must be running before anything changes).
    Raises interrupts.Interrupted for a signal that came before the commit (its backup
    removed); one that came during it is report.interrupted (the ruleset is in place)."""
    kernel = Kernel(force_cli=options.use_nft_cli)
    report = ApplyReport(kernel.via, options.check)
    if kernel.fallback_reason and not options.use_nft_cli:
        report.warnings.append(kernel.fallback_reason)
    _guard(ruleset, options, ssh_connection, report)
    report.warnings += quota_warning(model, os.uname().release)
    send = _transaction(model, options, report)
    if options.check:
        send(kernel, check=True)
        return report
    state = StateDir(options.state_dir)
    pending = confirm.waiting(state, options.netns)
    if pending is not None:
        ns = f" --netns {options.netns}" if options.netns else ""
        until = time.strftime("%H:%M:%S", time.localtime(pending.deadline))
        raise ApplyRefused(f"an apply is waiting for confirmation until {until}: its rollback "
                           "would undo this one too; nothing was applied",
                           [f"confirm it (`fwmigrate confirm{ns}`) or let it roll back, "
                            "then apply again"])
    current = kernel.ruleset()
    tables = [(t.family, t.name) for t in model.tables]
    scope = "ruleset" if options.flush_ruleset else "tables"
    text = None
    if needs_text(current, scope, set(tables)):
        text = (kernel.text(["ruleset"]) if scope == "ruleset" else
                "".join(kernel.text(["table", f, n]) for f, n in in_scope(current, scope,
                                                                             set(tables))))
    # from the backup to the end of the commit, a signal is only noted: a backup must not
    # outlive an apply that did not happen (`rollback` would restore it, changing nothing)
    with interrupts.deferred() as caught:
        backup = state.save_backup(current, scope, tables, options.netns, text)
        report.backup = backup.path
        try:
            if before_commit is not None:
                before_commit(report.backup)
            if caught:
                raise interrupts.Interrupted(caught[0])
        except BaseException:
            state.discard(backup)   # nothing was sent
            raise
        try:
            send(kernel, check=False)
        except KernelError:
            state.discard(backup)   # nothing changed: the last apply stays the one to undo
            raise
        report.warnings += leftovers(current, set(tables), options.flush_ruleset)
        report.warnings += state.prune(options.netns, options.keep_backups)
        report.interrupted = caught[0] if caught else None
    return report


def quota_warning(model: NftRuleset, release: str) -> list[str]:
    """nft_quota counts the packet that uses a quota up exactly as xt_quota does only since
    Linux 6.16: say so when the ruleset has a quota and the running kernel is older."""
    found = re.match(r"(\d+)\.(\d+)", release)
    if found is None or (int(found[1]), int(found[2])) >= (6, 16):
        return []
    if not any(isinstance(s, Quota) for t in model.tables for c in t.chains for r in c.rules
               for s in r.statements):
        return []
    return [f"this kernel ({release}) is older than 6.16: unless it carries the fix \"nft_quota: "
            "match correctly when the quota just depleted\", each nft quota stops matching one "
            "packet earlier than xt_quota (the packet that uses the quota up exactly)"]


def _transaction(model: NftRuleset, options: ApplyOptions, report: ApplyReport):
    """The one batch to send, as JSON or as nft text (see the module's docstring); `auto`
    falls back to the other syntax when the first cannot say the ruleset."""
    rules = sum(len(c.rules) for t in model.tables for c in t.chains)
    # nft 1.0.6 keeps a set's comment from text, not from JSON; an ipset's set needs it to be
    # read back as the ipset (`diff --live`, status)
    ipsets = any(s.ipset for t in model.tables for s in t.sets)
    if options.syntax != "auto":
        order = [options.syntax]
    elif rules <= JSON_RULE_LIMIT and not ipsets:
        order = ["json", "text"]
    else:
        order = ["text", "json"]
    unsaid: list[str] = []
    for syntax in order:
        if syntax == "json":
            try:
                batch = nft_json.commands(model, flush_ruleset=options.flush_ruleset)
            except nft_json.Unrepresentable as exc:
                unsaid.append(f"nft's JSON cannot express {exc}")
                continue
            report.via += ", JSON" + (f" ({unsaid[0]})" if unsaid else "")
            return lambda kernel, check: kernel.run(batch, check=check)
        out = nft_text.render(model, flush_ruleset=options.flush_ruleset)
        if out.problems:
            unsaid += [p.message for p in out.problems]
            continue
        why = (f" ({unsaid[0]})" if unsaid else "" if options.syntax != "auto" else
               f" ({rules:,} rules: libnftables parses that much JSON about 2.5x slower)"
               if rules > JSON_RULE_LIMIT else
               " (the sets keep their `ipset NAME TYPE` comments, which JSON loses)")
        report.via += ", nft syntax" + why
        return lambda kernel, check: kernel.run_text(out.text, check=check)
    hint = {"json": ["use --syntax text (or auto)"], "text": ["use --syntax json (or auto)"]}
    said = {"json": "as nft's JSON", "text": "in nft syntax"}
    raise ApplyRefused("the ruleset cannot be written " + " nor ".join(said[s] for s in order)
                       + "; nothing was applied", unsaid + hint.get(options.syntax, []))


def _guard(ruleset: Ruleset, options: ApplyOptions, ssh_connection: str | None,
           report: ApplyReport) -> None:
    try:
        session = (lockout.session_from_keep(options.keep) if options.keep
                   else lockout.session_from_env(ssh_connection))
    except lockout.GuardError as exc:
        raise ApplyRefused(str(exc)) from None
    if session is None:
        return
    if options.netns and not options.keep and lockout.is_local(session.server) is False:
        # run over SSH with --netns, the session is the host's, not the namespace's
        report.warnings.append(
            f"lockout guard: your SSH session ({session}) does not reach namespace "
            f"{options.netns} (it has no address {session.server}), so it was not checked; "
            "--keep CLIENT:PORT checks a session of that namespace")
        return
    session = lockout.locate(session)
    report.session = str(session)
    # a session conntrack does not know yet is taken as a new connection by its next packet
    untracked = lockout.tracked(session) is False
    pickup = lockout.pickup_state()
    if options.keep:
        # --keep may name a session that is not open (yet): walk it as tracked, and warn if
        # it would die were it open now and untracked
        result = lockout.check(ruleset, session, pickup=pickup)
        if untracked:
            report.warnings += [
                f"no connection from {session.client} to port {session.server_port} is "
                f"tracked here; if one is open now, {c}"
                for c in lockout.check(ruleset, session, pickup, pickup).cut
                if c not in result.cut]
    else:
        result = lockout.check(ruleset, session, pickup if untracked else None, pickup)
    report.warnings += result.reconnect
    if result.cut and not options.force:
        hint = (["let it in as a new connection first (apply a ruleset that also accepts new "
                 f"connections to port {session.server_port}), or load any rule that uses "
                 "conntrack and send some traffic through the session, then apply this one"]
                if untracked and not options.keep else [])
        raise ApplyRefused(f"the new ruleset would cut your session {session}",
                           result.cut + hint + ["nothing was applied; fix the rules, or pass "
                                                "--force if you are sure (and use --confirm "
                                                "SECONDS)"])
    if result.cut:
        report.warnings += [f"--force: {c}" for c in result.cut]


def leftovers(before: dict, ours: set[tuple[str, str]], flushed: bool) -> list[str]:
    """Other rules that still filter next to ours: legacy iptables, other nft tables. Other
    tables are read from the listing taken before the apply (the transaction does not touch
    them, and listing again costs seconds with a large ruleset loaded)."""
    warnings = []
    for tool in ("iptables-legacy-save", "ip6tables-legacy-save"):
        if shutil.which(tool) is None:
            continue
        try:
            out = subprocess.run([tool], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        rules = sum(1 for line in out.splitlines() if line.startswith("-A "))
        if rules:
            held = f"{rules} rules; they keep" if rules != 1 else "1 rule; it keeps"
            warnings.append(f"{tool.split('-')[0]} (legacy) still holds {held} "
                            "filtering alongside nftables (flush them with "
                            f"`{tool.split('-')[0]}-legacy -F` once the new ruleset works)")
    if not flushed:
        warned = set()
        names = {name for _family, name in ours}
        for item in before.get("nftables", []):
            rule = item.get("rule")
            where = (rule["family"], rule["table"]) if rule else None
            if where and where not in ours and where not in warned:
                warned.add(where)
                if where[1] in names:       # ours, of a family this apply does not write
                    written = ", ".join(f"{f} {n}" for f, n in sorted(ours))
                    warnings.append(
                        f"table {where[0]} {where[1]} from an earlier apply still filters: "
                        f"this apply replaces only the tables it writes ({written}), as "
                        "iptables-restore leaves ip6tables alone; `nft delete table "
                        f"{where[0]} {where[1]}` if it should go")
                    continue
                warnings.append(f"table {where[0]} {where[1]} also has rules; they keep "
                                "filtering alongside fwmigrate's table (nothing of theirs was "
                                "changed)")
    return warnings


def rollback(options: ApplyOptions) -> tuple[Path, str | None]:
    """Restore the newest backup's scope; returns the backup used, and a warning if it could
    not be set aside. The backup is then set
    aside (backups/rolled-back/), so rolling back again steps back one apply further."""
    state = StateDir(options.state_dir)
    backup = state.latest_backup(options.netns)
    if backup is None:
        used = state.used_count(options.netns)
        raise ApplyRefused(f"no backup to roll back to in {state.backups} "
                           f"(namespace {options.netns or 'host'})"
                           + (f"; {used} used by earlier rollbacks are kept in {state.used}"
                              if used else ""))
    check_trusted(backup)
    restore(Kernel(force_cli=options.use_nft_cli), backup)
    return backup.path, state.retire(backup)


__all__ = ["ApplyOptions", "ApplyRefused", "ApplyReport", "BackupError", "KernelError", "apply",
           "rollback"]
