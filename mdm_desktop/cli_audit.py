"""``mdm-desktop audit verify|checkpoint|export|verify-export|retention|prune``: the audit trail from the command line.

``verify`` reads every entry and checks the chain, its head record, the last checkpoint this
workstation saw and, with ``--checkpoint FILE``, a checkpoint kept off the box. Exit codes:
0 intact, 1 damaged (one line naming the first bad entry and the kind of damage), 2 usage or
store errors as for every command. ``checkpoint --out FILE`` signs the chain's current state and
writes it to a file for off-box keeping. ``export`` writes a time range as CSV or JSON Lines with a
detached signature (``FILE.sig.json``). These need a CLI session whose user may read the audit log.
``verify-export FILE`` checks an export offline, with no session and no store: exit 0 intact, 1 damaged,
2 unreadable. ``retention [--years N]`` shows (or, for an administrator with a fresh authenticator code,
sets) how long entries are kept; ``prune --before DATE --out DIR`` exports, signs and removes the entries
recorded before DATE (which must be older than the retention period), after showing them and asking.
``find --value TEXT`` lists the entries that recorded an identifier as a keyed hash (:mod:`.cli_audit_find`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from mdm_desktop import cli_audit_find, cli_session
from mdm_desktop.cli_session import EXIT_ERROR, EXIT_OK, signed_in, with_step_up
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.audit_chain import checkpoint_to_json, read_checkpoint_file, write_file_atomically
from mdm_desktop.services.audit_export import ExportFormat, signature_path, verify_export
from mdm_desktop.services.audit_retention import PrunePlan, PruneResult, RetentionStatus
from mdm_desktop.services.dto import AuditCheckpoint, AuditExportResult, AuditVerifyReport, ExportVerifyReport

EXIT_DAMAGED = 1


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``audit`` and its subcommands to the top-level subparsers ``commands``."""
    audit = commands.add_parser(
        "audit",
        parents=[store],
        help="verify the audit trail, sign checkpoints, export it",
        description="The tamper-evident audit trail. Every command but verify-export needs a CLI session "
        "(mdm-desktop login) whose user may read the audit log.",
    )
    sub = audit.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)
    verify = sub.add_parser(
        "verify",
        parents=[store],
        help="check that no audit entry was changed, removed, reordered or added",
        description="Check every audit entry's keyed hash and its link to the one before, that the chain reaches "
        "its head record, and that it still extends the last checkpoint this workstation saw and the one given "
        "with --checkpoint. Exit code 0: intact; 1: damaged (the first bad entry and the kind of damage: "
        "modified, missing, reordered, inserted, truncated or rolled_back); 2: the check could not run.",
    )
    verify.add_argument(
        "--checkpoint", metavar="FILE", type=Path, help="a checkpoint file (from 'audit checkpoint --out')"
    )
    verify.add_argument("--json", action="store_true", help="print a JSON object")
    verify.set_defaults(handler=cmd_audit_verify)

    checkpoint = sub.add_parser(
        "checkpoint",
        parents=[store],
        help="sign the audit trail's current state and write it to a file",
        description="Sign (Ed25519, with the store's checkpoint key) the number of audit entries, the last "
        "entry's position and hash, and the time, and write it to FILE. Keep the file off this computer "
        "(removable media); 'audit verify --checkpoint FILE' later shows whether the trail still extends it. "
        "This workstation also remembers it.",
    )
    checkpoint.add_argument("--out", metavar="FILE", type=Path, required=True, help="where to write the checkpoint")
    checkpoint.add_argument("--force", action="store_true", help="replace FILE if it exists")
    checkpoint.add_argument("--json", action="store_true", help="print a JSON object")
    checkpoint.set_defaults(handler=cmd_audit_checkpoint)

    export = sub.add_parser(
        "export",
        parents=[store],
        help="write audit entries to a signed CSV or JSON Lines file",
        description="Write the audit entries of a time range, every column included (seq, prev_hash, "
        "entry_hash, hash_version), to FILE, and a detached signature to FILE.sig.json: the file's SHA-256, the "
        "selection and a checkpoint of the whole trail, signed with the store's checkpoint key. Check it anywhere "
        "with 'mdm-desktop audit verify-export FILE'. Dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]; "
        "without a time zone they are UTC. --since is inclusive; --until is exclusive, and a date alone means the "
        "end of that day. In CSV, cells starting with = + - @ (or a tab, carriage return or quote) get a leading "
        "single quote so spreadsheets do not run them as formulas.",
    )
    export.add_argument("--since", metavar="DATE", help="first day or moment (default: the start)")
    export.add_argument("--until", metavar="DATE", help="last day, or moment excluded (default: the last entry)")
    export.add_argument(
        "--format", dest="fmt", choices=[f.value for f in ExportFormat], default="csv", help="file format (csv)"
    )
    export.add_argument("--out", metavar="FILE", type=Path, required=True, help="where to write the export")
    export.add_argument("--force", action="store_true", help="replace FILE (and FILE.sig.json) if they exist")
    export.add_argument("--json", action="store_true", help="print a JSON object")
    export.set_defaults(handler=cmd_audit_export)

    verify_export_cmd = sub.add_parser(
        "verify-export",
        help="check an exported audit file offline",
        description="Check an export and its signature file (FILE.sig.json) without a store or a session: the "
        "signature, the file's SHA-256, that entries are consecutive and each links to the one before, and that "
        "the export does not go beyond the checkpoint signed with it. Compare the key fingerprint shown with the "
        "store's. Exit code 0: intact; 1: damaged (the first problem: signature, mismatch, modified, missing, "
        "reordered, inserted, truncated or beyond_checkpoint); 2: the files cannot be read.",
    )
    verify_export_cmd.add_argument("file", metavar="FILE", type=Path, help="the exported file")
    verify_export_cmd.add_argument(
        "--signature", metavar="SIGFILE", type=Path, help="its signature file (default: FILE.sig.json)"
    )
    verify_export_cmd.add_argument("--json", action="store_true", help="print a JSON object")
    verify_export_cmd.add_argument("--debug", action="store_true", help="show the full traceback of unexpected errors")
    verify_export_cmd.set_defaults(handler=cmd_audit_verify_export)
    _add_retention_parsers(sub, store)
    cli_audit_find.add_parser(sub, store)


def _add_retention_parsers(sub: Any, store: argparse.ArgumentParser) -> None:
    code_help = "a fresh code from your authenticator app (default: $MDM_TOTP, else asked)"
    retention = sub.add_parser(
        "retention",
        parents=[store],
        help="show or set how many years audit entries are kept",
        description="Show the retention period, the oldest audit entry and how many entries are old enough to "
        "prune. With --years N, set the period (an administrator, with a fresh authenticator code). HIPAA asks "
        "that documentation be kept six years (45 CFR 164.316(b)(2)(i)), so the period is never below 6.",
    )
    retention.add_argument("--years", type=int, metavar="N", help="set the retention period (6 to 100 years)")
    retention.add_argument("--code", metavar="CODE", help=code_help)
    retention.add_argument("--json", action="store_true", help="print a JSON object")
    retention.set_defaults(handler=cmd_audit_retention)

    prune = sub.add_parser(
        "prune",
        parents=[store],
        help="export, sign and remove audit entries older than the retention period",
        description="Remove the audit entries recorded before DATE, which must be older than the retention period. "
        "They are first exported to DIR as signed JSON Lines (audit-pruned-FIRST-LAST.jsonl and its .sig.json; "
        "check them with 'audit verify-export'), and the store keeps a signed record of the prune so "
        "'audit verify' still passes. Shows what will be removed and asks to confirm unless --yes. If anything "
        "fails, nothing is removed. Needs an administrator and a fresh authenticator code. DATE is YYYY-MM-DD "
        "(midnight UTC) or YYYY-MM-DDTHH:MM[:SS][+HH:MM].",
    )
    prune.add_argument("--before", metavar="DATE", required=True, help="remove entries recorded before this moment")
    prune.add_argument("--out", metavar="DIR", type=Path, required=True, help="the folder the export is written to")
    prune.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    prune.add_argument("--code", metavar="CODE", help=code_help)
    prune.add_argument("--json", action="store_true", help="print a JSON object")
    prune.set_defaults(handler=cmd_audit_prune)


def parse_moment(text: str, option: str, *, end: bool) -> dt.datetime:
    """A ``--since``/``--until`` value: a date (midnight UTC; the next midnight for an end) or an ISO moment.

    Raises:
        ValidationError: Not a date.
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return moment + dt.timedelta(days=1) if end else moment
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            f"{option} '{text}' is not a date.", hint="Use YYYY-MM-DD or YYYY-MM-DDTHH:MM, for example 2026-06-30."
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


class _Progress:
    """Entries checked so far, on one terminal line."""

    def __init__(self, stream: TextIO, label: str = "Verifying the audit trail") -> None:
        self._stream = stream
        self._label = label
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        self._stream.write(f"\r{self._label}: {done:,} / {total:,} entries")
        self._stream.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()


def report_record(report: AuditVerifyReport) -> dict[str, Any]:
    """The report as a JSON-ready mapping."""
    problem = report.problem
    return {
        "intact": report.intact,
        "entries_checked": report.entries_checked,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "checkpoints_checked": report.checkpoints_checked,
        "problem": None
        if problem is None
        else {
            "kind": problem.kind.value,
            "entry_id": problem.entry_id,
            "seq": problem.seq,
            "description": problem.description,
        },
        "warnings": list(report.warnings),
    }


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Verify the chain; exit 0 when intact, 1 when damaged."""
    if args.checkpoint is not None:
        read_checkpoint_file(args.checkpoint)  # a bad file fails before the store is opened
    with signed_in(args) as (ctx, session):
        chain = ctx.services.audit_chain
        checkpoint = chain.read_checkpoint(args.checkpoint) if args.checkpoint is not None else None
        progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
        try:
            report = chain.verify(session.principal, checkpoint, progress)
        finally:
            if progress is not None:
                progress.done()
    for warning in report.warnings:
        print(f"mdm-desktop: warning: {' '.join(warning.split())}", file=sys.stderr)
    if args.json:
        print(json.dumps(report_record(report), ensure_ascii=False))
    elif report.problem is None:
        against = f", checked against {report.checkpoints_checked} checkpoint(s)" if report.checkpoints_checked else ""
        print(
            f"Audit trail intact: {report.entries_checked:,} entries, head #{report.head_seq} "
            f"({report.head_hash[:16] or '-'}){against}."
        )
    else:
        print(f"Audit trail damaged ({report.problem.kind.value}): {report.problem.description}")
    return EXIT_OK if report.intact else EXIT_DAMAGED


def checkpoint_record(checkpoint: AuditCheckpoint, path: Path) -> dict[str, Any]:
    """A made checkpoint as a JSON-ready mapping (with where it was written)."""
    return {
        "file": str(path),
        "entries": checkpoint.entries,
        "head_seq": checkpoint.head_seq,
        "head_hash": checkpoint.head_hash,
        "made_at": checkpoint.made_at.isoformat(),
        "key_fingerprint": checkpoint.key_fingerprint,
    }


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    """Sign a checkpoint and write it to ``--out``."""
    path: Path = args.out
    if path.is_dir():
        raise ValidationError(f"{path} is a folder.", hint="Give a file name for --out.")
    if path.exists() and not args.force:
        raise ValidationError(f"{path} already exists.", hint="Choose another file, or add --force to replace it.")
    with signed_in(args) as (ctx, session):
        checkpoint = ctx.services.audit_chain.make_checkpoint(session.principal)
    write_file_atomically(path, checkpoint_to_json(checkpoint))
    if args.json:
        print(json.dumps(checkpoint_record(checkpoint, path)))
        return EXIT_OK
    print(
        f"Checkpoint of {checkpoint.entries:,} audit entries (head #{checkpoint.head_seq}, "
        f"{checkpoint.head_hash[:16]}) signed with key {checkpoint.key_fingerprint}, written to {path}."
    )
    print("Keep the file off this computer; check the trail against it with 'mdm-desktop audit verify --checkpoint'.")
    return EXIT_OK


def export_record(result: AuditExportResult) -> dict[str, Any]:
    """An export's result as a JSON-ready mapping."""
    return {
        "file": result.path,
        "signature": result.signature_path,
        "format": result.file_format,
        "count": result.count,
        "first_seq": result.first_seq,
        "last_seq": result.last_seq,
        "sha256": result.file_sha256,
        "checkpoint_head_seq": result.checkpoint.head_seq,
        "key_fingerprint": result.checkpoint.key_fingerprint,
    }


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Export a time range of the trail with a detached signature."""
    path: Path = args.out
    if path.is_dir():
        raise ValidationError(f"{path} is a folder.", hint="Give a file name for --out.")
    since = parse_moment(args.since, "--since", end=False) if args.since is not None else None
    until = parse_moment(args.until, "--until", end=True) if args.until is not None else None
    if since is not None and until is not None and since >= until:
        raise ValidationError("--since must be before --until.", hint="Swap the two dates.")
    existing = [p for p in (path, signature_path(path)) if p.exists()]
    if existing and not args.force:
        raise ValidationError(
            f"{existing[0]} already exists.", hint="Choose another file, or add --force to replace it."
        )
    with signed_in(args) as (ctx, session):
        progress = _Progress(sys.stderr, "Exporting the audit trail") if sys.stderr.isatty() else None
        try:
            result = ctx.services.audit_export.export(session.principal, since, until, args.fmt, path, progress)
        finally:
            if progress is not None:
                progress.done()
    if args.json:
        print(json.dumps(export_record(result)))
        return EXIT_OK
    span = f"entries #{result.first_seq} to #{result.last_seq}" if result.count else "no entries in that range"
    print(
        f"Exported {result.count:,} audit entries ({span}) to {result.path}, signed with key "
        f"{result.checkpoint.key_fingerprint} in {result.signature_path}."
    )
    print("Keep the two files together; check them with 'mdm-desktop audit verify-export'.")
    return EXIT_OK


def verify_export_record(report: ExportVerifyReport) -> dict[str, Any]:
    """An offline verification's report as a JSON-ready mapping."""
    problem = report.problem
    return {
        "ok": report.ok,
        "file": report.path,
        "format": report.file_format,
        "entries": report.entries,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "since": report.since or None,
        "until": report.until or None,
        "exported_at": report.exported_at,
        "exported_by": report.exported_by,
        "key_fingerprint": report.key_fingerprint,
        "checkpoint_head_seq": report.checkpoint_head_seq,
        "problem": None
        if problem is None
        else {"kind": problem.kind.value, "line": problem.line, "seq": problem.seq, "description": problem.description},
    }


def cmd_audit_verify_export(args: argparse.Namespace) -> int:
    """Check an export offline; exit 0 when intact, 1 when damaged (2, unreadable, via the error handler)."""
    report = verify_export(args.file, args.signature)
    if args.json:
        print(json.dumps(verify_export_record(report), ensure_ascii=False))
    elif report.problem is None:
        span = f"entries #{report.first_seq} to #{report.last_seq}" if report.entries else "no entries"
        print(
            f"Export intact: {report.entries:,} entries ({span}), exported {report.exported_at[:19]}Z by "
            f"{report.exported_by}, signed with key {report.key_fingerprint} (checkpoint head "
            f"#{report.checkpoint_head_seq})."
        )
    else:
        print(f"Export damaged ({report.problem.kind.value}): {report.problem.description}")
    return EXIT_OK if report.ok else EXIT_DAMAGED


# -- retention and pruning -------------------------------------------------------------------------------------


def _when(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _day(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d") if moment is not None else "-"


def plan_record(plan: PrunePlan) -> dict[str, Any]:
    """What a prune removes, as a JSON-ready mapping."""
    return {
        "before": _when(plan.before),
        "count": plan.count,
        "first_seq": plan.first_seq,
        "last_seq": plan.last_seq,
        "first_at": _when(plan.first_at),
        "last_at": _when(plan.last_at),
    }


def retention_record(status: RetentionStatus) -> dict[str, Any]:
    """The retention status as a JSON-ready mapping."""
    last = status.last_prune
    return {
        "years": status.years,
        "cutoff": _when(status.cutoff),
        "entries": status.entries,
        "oldest_seq": status.oldest_seq,
        "oldest_at": _when(status.oldest_at),
        "prunable": plan_record(status.prunable),
        "last_prune": None
        if last is None
        else {
            "first_seq": last.first_seq,
            "last_seq": last.upto_seq,
            "count": last.entries,
            "pruned_at": _when(last.pruned_at),
            "by": last.actor,
            "export": last.export_file,
            "sha256": last.export_sha256,
        },
    }


def _describe_plan(plan: PrunePlan) -> str:
    return (
        f"{plan.count:,} audit entries, #{plan.first_seq} to #{plan.last_seq}, recorded {_day(plan.first_at)} "
        f"to {_day(plan.last_at)}"
    )


def cmd_audit_retention(args: argparse.Namespace) -> int:
    """Show the retention period and what is prunable; with ``--years``, set the period first."""
    if args.years is not None and not 6 <= args.years <= 100:
        raise ValidationError(
            f"--years {args.years} is out of range: audit entries are kept 6 to 100 years.",
            hint="HIPAA asks for six years (45 CFR 164.316(b)(2)(i)); give 6 or more.",
        )
    with signed_in(args) as (ctx, session):
        retention = ctx.services.audit_retention
        if args.years is not None:
            with_step_up(ctx, session, args, lambda who: retention.set_retention_years(who, args.years))
        status = retention.retention_status(session.principal)
    if args.json:
        print(json.dumps(retention_record(status)))
        return EXIT_OK
    if args.years is not None:
        print(f"Retention period set to {status.years} years.")
    print(f"Audit entries are kept {status.years} years: entries recorded before {_day(status.cutoff)} may be pruned.")
    oldest = f"#{status.oldest_seq}, recorded {_day(status.oldest_at)}" if status.entries else "none"
    print(f"Entries in the trail: {status.entries:,}; oldest: {oldest}.")
    if status.prunable.count:
        print(f"Old enough to prune: {_describe_plan(status.prunable)}.")
    else:
        print("Old enough to prune: none.")
    if status.last_prune is not None:
        last = status.last_prune
        print(
            f"Last prune: entries #{last.first_seq} to #{last.upto_seq} on {_day(last.pruned_at)} by {last.actor}, "
            f"kept in {last.export_file}."
        )
    return EXIT_OK


def _confirmed(plan: PrunePlan, out: Path) -> bool:
    """Ask the person at the terminal to type 'yes'."""
    answer = cli_session.ask(
        f"This exports {_describe_plan(plan)} to {out} and then removes them from the store. Type 'yes' to prune: "
    )
    return answer.strip().lower() == "yes"


def cmd_audit_prune(args: argparse.Namespace) -> int:
    """Show what would be pruned, confirm, then export, sign and remove it."""
    before = parse_moment(args.before, "--before", end=False)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} is not a folder.", hint="Give a folder for --out.")
    with signed_in(args) as (ctx, session):
        retention = ctx.services.audit_retention
        plan = retention.plan(session.principal, before)
        if plan.count == 0:
            if args.json:
                print(json.dumps({"pruned": False, "plan": plan_record(plan)}))
            else:
                print(f"No audit entries were recorded before {_day(before)}: nothing to prune.")
            return EXIT_OK
        if not args.yes:
            if not cli_session.is_interactive():
                raise ValidationError(
                    f"Pruning removes {_describe_plan(plan)}; confirm it.",
                    hint="Run the command in a terminal to be asked, or add --yes.",
                )
            if not _confirmed(plan, out):
                print("Nothing was pruned.", file=sys.stderr)
                return EXIT_ERROR
        progress = _Progress(sys.stderr, "Exporting the entries to prune") if sys.stderr.isatty() else None
        try:
            result = with_step_up(ctx, session, args, lambda who: retention.prune(who, before, out, progress))
        finally:
            if progress is not None:
                progress.done()
    return _print_pruned(result, args.json)


def _print_pruned(result: PruneResult, as_json: bool) -> int:
    if as_json:
        print(
            json.dumps(
                {
                    "pruned": True,
                    "plan": plan_record(result.plan),
                    "export": result.export_path,
                    "signature": result.signature_path,
                    "sha256": result.export_sha256,
                    "key_fingerprint": result.anchor.key_fingerprint,
                }
            )
        )
        return EXIT_OK
    print(f"Pruned {_describe_plan(result.plan)}.")
    print(f"They are kept in {result.export_path}, signed in {result.signature_path} (SHA-256 {result.export_sha256}).")
    print("Keep the two files together and off this computer; check them with 'mdm-desktop audit verify-export'.")
    return EXIT_OK
