"""``mdm-desktop audit find --value TEXT``: the audit entries that recorded a sensitive value.

Identifiers, names and places are recorded in entries only as keyed hashes
(:mod:`mdm_desktop.services.audit_values`); this command hashes the value given, with the store's
key, and lists the entries holding that hash, newest first. Needs a CLI session whose user may read
the audit log. Exit code 0 whether or not anything was found (``--json`` prints ``[]`` then).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mdm_desktop.cli_session import EXIT_OK, signed_in
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.audit import MAX_PAGE
from mdm_desktop.services.dto import AuditEntryInfo, AuditQuery

DEFAULT_LIMIT = 50


def add_parser(sub: Any, store: argparse.ArgumentParser) -> None:
    """Add ``find`` to the ``audit`` subcommands ``sub``."""
    find = sub.add_parser(
        "find",
        parents=[store],
        help="list the entries that recorded an identifier (serial, hardware id, staff name)",
        description="Serial numbers, hardware ids and staff names are kept in audit entries only as keyed "
        "hashes. This command hashes TEXT with the store's key (case and surrounding spaces do not matter) and "
        "lists the entries that hold it, newest first.",
    )
    find.add_argument("--value", metavar="TEXT", required=True, help="the identifier to look for, in clear")
    find.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, metavar="N", help=f"at most N entries (default {DEFAULT_LIMIT})"
    )
    find.add_argument("--json", action="store_true", help="print a JSON array")
    find.set_defaults(handler=cmd_audit_find)


def entry_record(e: AuditEntryInfo) -> dict[str, Any]:
    """An entry as a JSON-ready mapping (details parsed)."""
    try:
        details: Any = json.loads(e.details) if e.details else {}
    except ValueError:
        details = e.details
    return {
        "id": e.id,
        "seq": e.seq,
        "occurred_at": e.occurred_at.isoformat(),
        "actor_kind": e.actor_kind,
        "actor": e.actor,
        "workstation": e.workstation,
        "action": e.action,
        "target_kind": e.target_kind,
        "target": e.target,
        "outcome": e.outcome,
        "details": details,
    }


def _printable(text: str) -> str:
    """Text safe to print on a terminal: control characters (escape sequences) become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def entry_line(e: AuditEntryInfo) -> str:
    """One line per entry: position, UTC time, actor, action, target, outcome."""
    target = f"{e.target_kind}:{e.target}" if e.target_kind else e.target
    when = e.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    return _printable(f"#{e.seq}  {when}  {e.actor}  {e.action}  {target}  {e.outcome}")


def cmd_audit_find(args: argparse.Namespace) -> int:
    """Print the entries whose details hold the keyed hash of ``--value``."""
    value = " ".join(str(args.value).split())
    if not value:
        raise ValidationError("--value is empty.", hint="Give the serial, hardware id or name to look for.")
    if not 1 <= args.limit <= MAX_PAGE:
        raise ValidationError(f"--limit must be between 1 and {MAX_PAGE}.")
    with signed_in(args) as (ctx, session):
        page = ctx.services.audit.list_page(session.principal, AuditQuery(value=value), limit=args.limit)
    if args.json:
        print(json.dumps([entry_record(e) for e in page.rows], ensure_ascii=False))
        return EXIT_OK
    if not page.rows:
        print("No audit entry recorded that value.")
        return EXIT_OK
    for e in page.rows:
        print(entry_line(e))
    more = " (more exist: raise --limit)" if page.next_cursor is not None else ""
    print(f"{len(page.rows)} entr{'y' if len(page.rows) == 1 else 'ies'}{more}.")
    return EXIT_OK
