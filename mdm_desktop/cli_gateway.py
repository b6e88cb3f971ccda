"""``mdm-desktop serve`` and ``mdm-desktop token create|list|revoke``: the device gateway from the command line.

``serve`` runs the device-facing HTTPS API in the foreground until Ctrl+C. It needs the store and
its key file (which unseal the site CA's key), not a console session: it acts for the site, and
its start and stop are audited as the ``gateway`` system actor. On first run it makes the site CA.

``token`` commands need a CLI session whose user may enrol devices (``devices.write``); the token
text is printed once and never stored (only a keyed hash is kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdm_desktop.cli_session import EXIT_OK, open_store, resolve_group, signed_in, utc
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.exports.enrolment_qr import save_qr_png
from mdm_desktop.services.enrollment import IssuedToken, TokenInfo

if TYPE_CHECKING:
    from mdm_desktop.gateway.runner import GatewayStatus

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    """``30m``, ``1h``, ``7d`` or ``2w`` as a time span.

    Raises:
        ValidationError: Not a number followed by m, h, d or w.
    """
    found = _DURATION.match(text)
    if found is None:
        raise ValidationError(f"'{text}' is not a duration.", hint="Use for example 30m, 1h, 7d or 2w.")
    return dt.timedelta(**{_UNITS[found.group(2).lower()]: int(found.group(1))})


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``token`` to the top-level subparsers ``commands``."""
    serve = commands.add_parser(
        "serve",
        parents=[store],
        help="run the device gateway (HTTPS, mutual TLS)",
        description="Run the device-facing HTTPS API until Ctrl+C. Devices enrol at /v1/enroll with a token and "
        "then authenticate with the client certificate the site CA gives them. The site CA is made on first "
        "run; the server certificate names the --hostname values (default: this computer's name, localhost and "
        "127.0.0.1, plus the --bind address when it is not 0.0.0.0). Start and stop are audited.",
    )
    serve.add_argument("--bind", metavar="HOST:PORT", default="0.0.0.0:8443", help="where to listen (0.0.0.0:8443)")
    serve.add_argument(
        "--hostname",
        metavar="NAME",
        action="append",
        default=[],
        help="a host name or IP address devices use to reach this gateway (repeat for several; the first one "
        "goes into enrolment tokens)",
    )
    serve.set_defaults(handler=cmd_serve)

    token = commands.add_parser(
        "token",
        parents=[store],
        help="create, list and revoke enrolment tokens",
        description="Enrolment tokens let devices enrol into this site. Needs a CLI session (mdm-desktop login) "
        "whose user may enrol devices.",
    )
    sub = token.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)
    create = sub.add_parser(
        "create",
        parents=[store],
        help="make a token (printed once) and optionally its QR code",
        description="Make an enrolment token. The token text is printed once and only a keyed hash of it is "
        "kept. The QR code holds the gateway address, the token and the site CA's fingerprint for pinning.",
    )
    create.add_argument("--group", metavar="GROUP", help="device group new devices join (name or id)")
    create.add_argument("--uses", metavar="N", type=int, default=1, help="how many devices may enrol with it (1)")
    create.add_argument("--expires", metavar="DURATION", default="24h", help="lifetime: 30m, 1h, 7d, 2w (24h)")
    create.add_argument("--byod", action="store_true", help="devices enrolled with it are personally owned")
    create.add_argument("--qr", metavar="FILE.png", type=Path, help="also write the QR code as a PNG image")
    create.add_argument(
        "--server", metavar="URL", help="gateway address devices use (default: where 'serve' last started)"
    )
    create.add_argument("--json", action="store_true", help="print a JSON object")
    create.set_defaults(handler=cmd_token_create)

    listing = sub.add_parser("list", parents=[store], help="list tokens", description="List enrolment tokens.")
    listing.add_argument("--all", action="store_true", help="include used-up, expired and revoked tokens")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(handler=cmd_token_list)

    revoke = sub.add_parser(
        "revoke", parents=[store], help="revoke a token", description="Revoke a token so no more devices enrol with it."
    )
    revoke.add_argument("id", metavar="ID", help="the token's id (or its first 6+ characters) from 'token list'")
    revoke.set_defaults(handler=cmd_token_revoke)


# -- serve -----------------------------------------------------------------------------------------------------


def _listening(status: GatewayStatus) -> None:
    print(f"Gateway listening on {status.host}:{status.port}; devices use {status.url}")
    print(f"Server certificate names: {', '.join(status.names)}")
    print(f"Site CA fingerprint (SHA-256): {status.ca_fingerprint_display}")
    print("Press Ctrl+C to stop.", flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the gateway in the foreground."""
    from mdm_desktop.gateway.escalation_ticker import EscalationTicker
    from mdm_desktop.gateway.runner import GatewayServer  # the web stack only when serving

    ctx = open_store(args)
    try:
        server = GatewayServer(
            ctx.services.enrollment, ctx.services.checkin, args.bind, tuple(n.strip() for n in args.hostname if n)
        )
        escalation = EscalationTicker(ctx.services.escalation.run)  # the compliance escalation sweep (issue 7)
        escalation.start()
        try:
            server.run(_listening)
        finally:
            escalation.stop()
    finally:
        ctx.close()
    print("Gateway stopped.")
    return EXIT_OK


# -- token -----------------------------------------------------------------------------------------------------


def token_record(info: TokenInfo, now: dt.datetime) -> dict[str, Any]:
    """A token (without its text) as a JSON-ready mapping."""
    return {
        "id": info.uid,
        "group": info.group_name or None,
        "ownership": info.ownership.value,
        "uses_allowed": info.uses_allowed,
        "uses_left": info.uses_left,
        "expires_at": info.expires_at.isoformat(),
        "state": info.state(now),
        "created_by": info.created_by,
        "created_at": info.created_at.isoformat(),
    }


def cmd_token_create(args: argparse.Namespace) -> int:
    """Make a token, print it once, optionally write its QR code."""
    lifetime = parse_duration(args.expires)
    qr_path: Path | None = args.qr
    if qr_path is not None and (qr_path.is_dir() or qr_path.suffix.lower() != ".png"):
        raise ValidationError(f"{qr_path} is not a .png file name.", hint="Give --qr a file name ending in .png.")
    with signed_in(args) as (ctx, session):
        group_id = resolve_group(ctx, session.principal, args.group) if args.group else None
        issued: IssuedToken = ctx.services.enrollment.create_token(
            session.principal,
            group_id=group_id,
            uses=args.uses,
            lifetime=lifetime,
            ownership=Ownership.BYOD if args.byod else Ownership.CORPORATE,
            server_url=args.server,
        )
    if qr_path is not None:
        save_qr_png(issued.qr_payload, qr_path)
    now = issued.info.created_at
    if args.json:
        record = token_record(issued.info, now)
        record.update(token=issued.token, server=issued.server_url, ca_sha256=issued.ca_fingerprint)
        record["qr_payload"] = issued.qr_payload
        record["qr_file"] = str(qr_path) if qr_path is not None else None
        print(json.dumps(record))
        return EXIT_OK
    info = issued.info
    print(f"Enrolment token: {issued.token}")
    print(
        f"  id {info.uid[:12]}, {info.uses_allowed} use(s), {info.ownership.label}, "
        f"group {info.group_name or '(none)'}, valid until {utc(info.expires_at)}"
    )
    print(f"  gateway {issued.server_url}, CA SHA-256 {issued.ca_fingerprint}")
    if qr_path is not None:
        print(f"  QR code written to {qr_path}")
    print("The token is shown only now; keep it for the devices that will use it.", file=sys.stderr)
    return EXIT_OK


def cmd_token_list(args: argparse.Namespace) -> int:
    """List tokens (usable ones, or all)."""
    with signed_in(args) as (ctx, session):
        tokens = ctx.services.enrollment.list_tokens(session.principal, include_inactive=args.all)
    now = dt.datetime.now(dt.UTC)
    if args.json:
        for info in tokens:
            print(json.dumps(token_record(info, now)))
        return EXIT_OK
    if not tokens:
        print("No enrolment tokens." if args.all else "No usable enrolment tokens (add --all to see the others).")
        return EXIT_OK
    print(f"{'ID':<12}  {'STATE':<8}  {'USES':>9}  {'OWNERSHIP':<9}  {'GROUP':<20}  EXPIRES (UTC)")
    for info in tokens:
        uses = f"{info.uses_left}/{info.uses_allowed}"
        print(
            f"{info.uid[:12]:<12}  {info.state(now):<8}  {uses:>9}  {info.ownership.label:<9}  "
            f"{(info.group_name or '-')[:20]:<20}  {utc(info.expires_at)}"
        )
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace) -> int:
    """Revoke one token."""
    with signed_in(args) as (ctx, session):
        info = ctx.services.enrollment.revoke_token(session.principal, args.id)
    print(f"Token {info.uid[:12]} revoked ({info.uses_left} unused enrolment(s) cancelled).")
    return EXIT_OK
