"""``mdm-desktop audit verify|checkpoint``: check the tamper-evident audit trail from the command line.

``verify`` reads every entry and checks the chain, its head record, the last checkpoint this
workstation saw and, with ``--checkpoint FILE``, a checkpoint kept off the box. Exit codes:
0 intact, 1 damaged (one line naming the first bad entry and the kind of damage), 2 usage or
store errors as for every command. ``checkpoint --out FILE`` signs the chain's current state and
writes it to a file for off-box keeping. Both need a CLI session whose user may read the audit log.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from mdm_desktop.cli_session import EXIT_OK, signed_in
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.audit_chain import checkpoint_to_json, read_checkpoint_file, write_file_atomically
from mdm_desktop.services.dto import AuditCheckpoint, AuditVerifyReport

EXIT_DAMAGED = 1


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``audit`` and its subcommands to the top-level subparsers ``commands``."""
    audit = commands.add_parser(
        "audit",
        parents=[store],
        help="verify the audit trail, sign checkpoints",
        description="The tamper-evident audit trail. Needs a CLI session (mdm-desktop login) whose user may "
        "read the audit log.",
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


class _Progress:
    """Entries checked so far, on one terminal line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        self._stream.write(f"\rVerifying the audit trail: {done:,} / {total:,} entries")
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
