"""``mdm-desktop exception ...``: exceptions from compliance rules for scripts.

``exception request|approve|reject|revoke|list`` call
:class:`~mdm_desktop.services.compliance_exceptions.ComplianceExceptionService` in the caller's CLI
session, with the same permissions and audit as the console: administrators and IT technicians
request (a device or a group, a rule, a reason, an end date at most a year ahead); a security
officer or another administrator approves or rejects; an active exception can be revoked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any

from mdm_desktop.cli_session import EXIT_OK, resolve_group, signed_in
from mdm_desktop.domain.compliance_exceptions import MAX_DAYS, ExceptionStatus
from mdm_desktop.services.exception_dto import ExceptionInfo

STATUS_NAMES = ", ".join(s.value for s in ExceptionStatus)


def _id(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not an id (a whole number)")
    return int(text)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date such as 2027-03-31") from None


def _status(text: str) -> ExceptionStatus:
    try:
        return ExceptionStatus(text.strip().lower())
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown status '{text}'; choose one of {STATUS_NAMES}") from None


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def exception_record(e: ExceptionInfo) -> dict[str, Any]:
    """An exception as JSON."""
    return {
        "id": e.id,
        "uid": e.uid,
        "status": e.status.value,
        "device_id": e.device_id,
        "device": e.device_name or None,
        "group_id": e.group_id,
        "group": e.group_name or None,
        "rule": e.rule_id,
        "reason": e.reason,
        "valid_until": e.valid_until.isoformat(),
        "requested_by": e.requested_by,
        "requested_at": e.requested_at.isoformat(),
        "approved_by": e.approved_by or None,
        "approved_at": e.approved_at.isoformat() if e.approved_at else None,
        "decided_by": e.decided_by or None,
        "decided_at": e.decided_at.isoformat() if e.decided_at else None,
    }


def _table(titles: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(t), *(len(r[i]) for r in rows)]) for i, t in enumerate(titles)]
    for cells in (titles, tuple("-" * w for w in widths), *rows):
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")


def _show(info: ExceptionInfo, as_json: bool, verb: str) -> int:
    if as_json:
        print(json.dumps(exception_record(info), ensure_ascii=False, indent=2))
    else:
        print(
            f"{verb} exception {info.id}: {_printable(info.subject)} from {info.rule_id} until "
            f"{info.last_day.isoformat()} (end of day, UTC; {info.status.label.lower()})."
        )
    return EXIT_OK


def cmd_request(args: argparse.Namespace) -> int:
    """Request an exception."""
    with signed_in(args) as (ctx, session):
        group_id = resolve_group(ctx, session.principal, args.group) if args.group else None
        info = ctx.services.exceptions.request(
            session.principal,
            rule_id=args.rule,
            reason=args.reason,
            until=args.until,
            device_id=args.device,
            group_id=group_id,
        )
    if not args.json:
        print("A security officer (or another administrator) must approve it before it applies.")
    return _show(info, args.json, "Requested")


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve a pending exception."""
    with signed_in(args) as (ctx, session):
        info = ctx.services.exceptions.approve(session.principal, args.exception_id, args.note)
    return _show(info, args.json, "Approved")


def cmd_reject(args: argparse.Namespace) -> int:
    """Reject a pending exception."""
    with signed_in(args) as (ctx, session):
        info = ctx.services.exceptions.reject(session.principal, args.exception_id, args.note)
    return _show(info, args.json, "Rejected")


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke an active exception (or withdraw one's own request)."""
    with signed_in(args) as (ctx, session):
        info = ctx.services.exceptions.revoke(session.principal, args.exception_id, args.note)
    return _show(info, args.json, "Revoked" if info.status is ExceptionStatus.REVOKED else "Withdrew")


def cmd_list(args: argparse.Namespace) -> int:
    """List exceptions (active and pending by default)."""
    statuses = None if args.all else set(args.statuses) or {ExceptionStatus.ACTIVE, ExceptionStatus.PENDING}
    with signed_in(args) as (ctx, session):
        rows = ctx.services.exceptions.list_exceptions(session.principal, statuses, device_id=args.device)
    if args.json:
        print(json.dumps([exception_record(e) for e in rows], ensure_ascii=False, indent=2))
        return EXIT_OK
    _table(
        ("Id", "Status", "Applies to", "Rule", "Until", "Requested by", "Approved by", "Reason"),
        [
            (
                str(e.id),
                e.status.label,
                _printable(e.subject),
                e.rule_id,
                e.last_day.isoformat(),
                _printable(e.requested_by),
                _printable(e.approved_by) or "-",
                _printable(e.reason)[:50],
            )
            for e in rows
        ],
    )
    print(f"\n{len(rows)} exception{'s' if len(rows) != 1 else ''}.")
    return EXIT_OK


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``exception`` with its subcommands to the top-level subparsers."""
    top = commands.add_parser(
        "exception",
        parents=[store],
        help="exceptions from compliance rules (request, approve, reject, revoke, list)",
        description="Exempt a device or a group from one compliance rule, for a reason, until a date. "
        "Needs a CLI session (mdm-desktop login).",
    )
    sub = top.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)

    request = sub.add_parser(
        "request",
        parents=[store],
        help="ask for an exception",
        description=f"Ask for an exception (at most {MAX_DAYS} days). It applies once a security officer approves it.",
    )
    subject = request.add_mutually_exclusive_group(required=True)
    subject.add_argument("--device", type=_id, metavar="ID", help="the device's id")
    subject.add_argument("--group", metavar="GROUP", help="a device group (name or id)")
    request.add_argument("--rule", required=True, metavar="RULE", help="the rule id, e.g. health.max_patch_age")
    request.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the audit log)")
    request.add_argument("--until", required=True, type=_date, metavar="DATE", help="last day it applies (UTC)")
    request.add_argument("--json", action="store_true", help="print the result as JSON")
    request.set_defaults(handler=cmd_request)

    for name, handler, text in (
        ("approve", cmd_approve, "approve a pending exception (not your own request)"),
        ("reject", cmd_reject, "reject a pending exception"),
        ("revoke", cmd_revoke, "end an active exception now (or withdraw your own request)"),
    ):
        p = sub.add_parser(name, parents=[store], help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("exception_id", type=_id, metavar="ID", help="the exception's id from 'exception list'")
        p.add_argument("--note", default="", metavar="TEXT", help="a note for the audit log")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(handler=handler)

    listing = sub.add_parser(
        "list", parents=[store], help="list exceptions", description="List exceptions (active and pending by default)."
    )
    listing.add_argument(
        "--status", dest="statuses", type=_status, action="append", default=[], metavar="STATUS",
        help=f"only these (repeat): {STATUS_NAMES}",
    )  # fmt: skip
    listing.add_argument("--all", action="store_true", help="every exception, whatever its status")
    listing.add_argument("--device", type=_id, metavar="ID", help="only those of this device (and its group)")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=cmd_list)
