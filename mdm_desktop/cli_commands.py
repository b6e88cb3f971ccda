"""``mdm-desktop command ...`` and ``mdm-desktop approval ...``: remote commands for scripts.

``command send``, ``list``, ``cancel``, ``resume`` and ``approval list|approve|reject`` call
:class:`~mdm_desktop.services.commands.CommandService` in the caller's CLI session, with the
same permissions, step-up and audit as the console. Destructive commands (wipe, selective
wipe, retire) need ``--reason`` and a fresh authenticator code (``--code`` or ``MDM_TOTP``, or
asked at a terminal). Full wipe, retire and destructive commands on many devices create an
approval request that another administrator approves with ``approval approve ID``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from mdm_desktop.cli_session import EXIT_OK, signed_in, utc, with_step_up
from mdm_desktop.domain.commands import CLI_NAMES, CommandStatus, CommandType, parse_command_type
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.command_dto import ATTENTION_STATUSES, ApprovalInfo, CommandQuery, SendResult
from mdm_desktop.services.dto import CommandInfo

TYPE_NAMES = ", ".join(sorted(CLI_NAMES))
CODE_HELP = "a fresh code from your authenticator app (default: $MDM_TOTP, else asked)"


def _command_type(text: str) -> CommandType:
    found = parse_command_type(text)
    if found is None:
        raise argparse.ArgumentTypeError(f"unknown command type '{text}'; choose one of {TYPE_NAMES}")
    return found


def _status(text: str) -> CommandStatus:
    try:
        return CommandStatus(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in CommandStatus)
        raise argparse.ArgumentTypeError(f"unknown status '{text}'; choose one of {names}") from None


def _id(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not an id (a whole number)")
    return int(text)


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``command`` and ``approval`` with their subcommands to the top-level subparsers."""
    command = commands.add_parser(
        "command",
        parents=[store],
        help="remote commands (send, list, cancel, resume)",
        description="Remote commands to devices. Needs a CLI session (mdm-desktop login).",
    )
    sub = command.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)

    send = sub.add_parser(
        "send",
        parents=[store],
        help="send a command to one or more devices",
        description="Queue a command for devices. Destructive types (wipe, selective-wipe, retire) need --reason "
        "and a fresh authenticator code; wipe, retire and destructive commands on many devices wait for a "
        "second administrator (see 'approval').",
        epilog=f"Types: {TYPE_NAMES}.",
    )
    send.add_argument(
        "--device", dest="devices", type=_id, action="append", required=True, metavar="ID", help="device id (repeat)"
    )
    send.add_argument("--type", dest="ctype", type=_command_type, required=True, metavar="TYPE", help="the command")
    send.add_argument("--reason", default="", metavar="TEXT", help="why (required for destructive commands)")
    send.add_argument("--text", default=None, metavar="MSG", help="message text (message, lost-mode)")
    send.add_argument("--app", default=None, type=_id, metavar="ID", help="catalog app id (install-app, remove-app)")
    send.add_argument("--phone", default=None, metavar="NUMBER", help="number shown on the lost device (lost-mode)")
    send.add_argument("--off", action="store_true", help="end lost mode (lost-mode) and forget the location")
    send.add_argument("--at", default=None, metavar="ISO-TIME", help="when to install (os-update; default: now)")
    send.add_argument("--json", action="store_true", help="print the result as JSON")
    send.add_argument("--code", metavar="CODE", help=CODE_HELP)
    send.set_defaults(handler=cmd_command_send)

    listing = sub.add_parser(
        "list",
        parents=[store],
        help="list commands (default: pending, failed or expired)",
        description="List commands, newest first.",
    )
    listing.add_argument("--device", type=_id, default=None, metavar="ID", help="only this device")
    listing.add_argument(
        "--status", dest="statuses", type=_status, action="append", default=[], metavar="S", help="status (repeat)"
    )
    listing.add_argument("--type", dest="types", type=_command_type, action="append", default=[], metavar="TYPE")
    listing.add_argument("--all", action="store_true", help="every status (default with --device)")
    listing.add_argument("--limit", type=_id, default=200, metavar="N", help="at most N commands (default 200)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_command_list)

    cancel = sub.add_parser(
        "cancel",
        parents=[store],
        help="cancel a queued command",
        description="Cancel a command the device has not received yet.",
    )
    cancel.add_argument("command_id", type=_id, metavar="ID")
    cancel.set_defaults(handler=cmd_command_cancel)

    resume = sub.add_parser(
        "resume",
        parents=[store],
        help="resume destructive commands after a rate-limit pause",
        description="Let destructive commands be sent again after the rate limit paused them "
        "(administrators; needs a fresh code).",
    )
    resume.add_argument("--note", default="", metavar="TEXT", help="what you checked (kept in the audit log)")
    resume.add_argument("--code", metavar="CODE", help=CODE_HELP)
    resume.set_defaults(handler=cmd_command_resume)

    approval = commands.add_parser(
        "approval",
        parents=[store],
        help="approve or reject guarded commands (wipe, retire, large sends)",
        description="Guarded command requests waiting for a second administrator.",
    )
    asub = approval.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)
    alist = asub.add_parser("list", parents=[store], help="list pending requests", description="List requests.")
    alist.add_argument("--all", action="store_true", help="decided and expired ones too")
    alist.add_argument("--json", action="store_true", help="print a JSON array")
    alist.set_defaults(handler=cmd_approval_list)
    for name, handler, text in (
        ("approve", cmd_approval_approve, "approve a request: its commands are sent"),
        ("reject", cmd_approval_reject, "reject a request (or withdraw your own)"),
    ):
        p = asub.add_parser(name, parents=[store], help=text, description=text.capitalize() + ".")
        p.add_argument("approval_id", type=_id, metavar="ID")
        p.add_argument("--note", default="", metavar="TEXT", help="kept in the audit log")
        p.add_argument("--code", metavar="CODE", help=CODE_HELP)
        p.set_defaults(handler=handler)


# -- helpers ---------------------------------------------------------------------------------------------------


def payload_from(args: argparse.Namespace) -> dict[str, Any]:
    """The command's payload from ``--text``, ``--app``, ``--phone``, ``--off`` and ``--at``.

    Raises:
        ValidationError: An option that does not belong to the command type.
    """
    ctype: CommandType = args.ctype
    given = {k: getattr(args, k) for k in ("text", "app", "phone", "at") if getattr(args, k) is not None}
    if args.off:
        given["off"] = True
    allowed = {
        CommandType.MESSAGE: {"text"},
        CommandType.LOST_MODE: {"text", "phone", "off"},
        CommandType.INSTALL_APP: {"app"},
        CommandType.REMOVE_APP: {"app"},
        CommandType.OS_UPDATE: {"at"},
    }.get(ctype, set())
    extra = sorted(set(given) - allowed)
    if extra:
        raise ValidationError(f"--{extra[0]} does not apply to {ctype.value.replace('_', '-')}.")
    payload: dict[str, Any] = {}
    if ctype is CommandType.MESSAGE and "text" in given:
        payload["text"] = given["text"]
    if ctype is CommandType.LOST_MODE:
        payload.update({k: given[s] for k, s in (("message", "text"), ("phone", "phone")) if s in given})
        if args.off:
            payload["enable"] = False
    if "app" in given:
        payload["app_id"] = given["app"]
    if "at" in given:
        payload["at"] = given["at"]
    return payload


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def command_record(c: CommandInfo) -> dict[str, Any]:
    """A command as JSON."""
    return {
        "id": c.id,
        "uid": c.uid,
        "device_id": c.device_id,
        "device": c.device_name,
        "type": c.type.value,
        "status": c.status.value,
        "reason": c.reason,
        "created_by": c.created_by,
        "created_at": c.created_at.isoformat(),
        "delivered_at": c.delivered_at.isoformat() if c.delivered_at else None,
        "completed_at": c.completed_at.isoformat() if c.completed_at else None,
        "expires_at": c.expires_at.isoformat() if c.expires_at else None,
        "result": c.result,
    }


def approval_record(a: ApprovalInfo) -> dict[str, Any]:
    """An approval request as JSON."""
    return {
        "id": a.id,
        "type": a.type.value,
        "devices": [{"id": i, "name": n} for i, n in zip(a.device_ids, a.device_names, strict=True)],
        "reason": a.reason,
        "status": a.status.value,
        "requested_by": a.requested_by,
        "requested_at": a.requested_at.isoformat(),
        "expires_at": a.expires_at.isoformat(),
        "decided_by": a.decided_by or None,
        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
        "note": a.decision_note,
    }


def _table(titles: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(t), *(len(r[i]) for r in rows)]) for i, t in enumerate(titles)]
    for cells in (titles, tuple("-" * w for w in widths), *rows):
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")


def _devices_text(a: ApprovalInfo) -> str:
    names = ", ".join(_printable(n) for n in a.device_names[:3])
    more = len(a.device_names) - 3
    return names + (f" and {more} more" if more > 0 else "")


def _report_send(result: SendResult, as_json: bool) -> int:
    if as_json:
        out = {
            "commands": [command_record(c) for c in result.commands],
            "approval": approval_record(result.approval) if result.approval else None,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    if result.needs_approval and result.approval is not None and not result.commands:
        a = result.approval
        print(
            f"Approval request {a.id} created: {a.type.label} on {_devices_text(a)} waits for a second "
            f"administrator (until {utc(a.expires_at)}). Nothing has been sent yet."
        )
        return EXIT_OK
    n = len(result.commands)
    first = result.commands[0]
    what = (
        f"{first.type.label} queued for {_printable(first.device_name)}"
        if n == 1
        else f"{first.type.label} queued for {n} devices"
    )
    print(
        f"{what} (command id{'s' if n != 1 else ''} {', '.join(str(c.id) for c in result.commands[:10])}"
        f"{' ...' if n > 10 else ''})."
    )
    return EXIT_OK


# -- commands --------------------------------------------------------------------------------------------------


def cmd_command_send(args: argparse.Namespace) -> int:
    """Queue a command (or create an approval request)."""
    payload = payload_from(args)
    with signed_in(args) as (ctx, session):
        result = with_step_up(
            ctx,
            session,
            args,
            lambda who: ctx.services.commands.send(who, args.devices, args.ctype, payload, args.reason),
        )
    return _report_send(result, args.json)


def cmd_command_list(args: argparse.Namespace) -> int:
    """List commands as a table or JSON."""
    statuses = frozenset(args.statuses)
    if not statuses and not args.all and args.device is None:
        statuses = ATTENTION_STATUSES
    query = CommandQuery(device_id=args.device, statuses=statuses, types=frozenset(args.types))
    with signed_in(args) as (ctx, session):
        rows = ctx.services.commands.list_page(session.principal, query, limit=min(args.limit, 1000)).rows
    if args.json:
        print(json.dumps([command_record(c) for c in rows], ensure_ascii=False, indent=2))
        return EXIT_OK
    _table(
        ("Id", "Device", "Command", "Status", "Queued", "By", "Result"),
        [
            (
                str(c.id),
                _printable(c.device_name),
                c.type.label,
                c.status.label,
                utc(c.created_at),
                _printable(c.created_by),
                _printable(c.result)[:60],
            )
            for c in rows
        ],
    )
    print(f"\n{len(rows)} command{'s' if len(rows) != 1 else ''}.")
    return EXIT_OK


def cmd_command_cancel(args: argparse.Namespace) -> int:
    """Cancel a queued command."""
    with signed_in(args) as (ctx, session):
        info = ctx.services.commands.cancel(session.principal, args.command_id)
    print(f"Cancelled command {info.id} ({info.type.label} for {_printable(info.device_name)}).")
    return EXIT_OK


def cmd_command_resume(args: argparse.Namespace) -> int:
    """Resume destructive commands after a pause."""
    with signed_in(args) as (ctx, session):
        with_step_up(ctx, session, args, lambda who: ctx.services.commands.resume(who, args.note))
    print("Destructive commands can be sent again.")
    return EXIT_OK


def cmd_approval_list(args: argparse.Namespace) -> int:
    """List approval requests."""
    with signed_in(args) as (ctx, session):
        rows = ctx.services.commands.approvals(session.principal, pending_only=not args.all)
    if args.json:
        print(json.dumps([approval_record(a) for a in rows], ensure_ascii=False, indent=2))
        return EXIT_OK
    _table(
        ("Id", "Command", "Devices", "Requested by", "Status", "Expires", "Reason"),
        [
            (
                str(a.id),
                a.type.label,
                _devices_text(a),
                _printable(a.requested_by),
                a.status.label,
                utc(a.expires_at),
                _printable(a.reason)[:60],
            )
            for a in rows
        ],
    )
    print(f"\n{len(rows)} request{'s' if len(rows) != 1 else ''}.")
    return EXIT_OK


def cmd_approval_approve(args: argparse.Namespace) -> int:
    """Approve a request; its commands are queued."""
    with signed_in(args) as (ctx, session):
        result = with_step_up(
            ctx, session, args, lambda who: ctx.services.commands.approve(who, args.approval_id, args.note)
        )
    print(f"Approved request {args.approval_id}: {len(result.commands)} command(s) queued.")
    return EXIT_OK


def cmd_approval_reject(args: argparse.Namespace) -> int:
    """Reject a request."""
    with signed_in(args) as (ctx, session):
        info = with_step_up(
            ctx, session, args, lambda who: ctx.services.commands.reject(who, args.approval_id, args.note)
        )
    print(f"Rejected request {info.id} ({info.type.label}); nothing was sent.")
    return EXIT_OK
