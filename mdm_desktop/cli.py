"""The ``mdm-desktop`` command: the console, and subcommands for set-up and scripts.

``mdm-desktop`` alone opens the console (Qt is imported only then). Subcommands:

- ``init``: create the first administrator on an empty store (no session needed).
- ``login`` / ``logout`` / ``whoami``: the CLI session (:mod:`mdm_desktop.cli_session`).
- ``user add|list|disable|enable|unlock|reset-mfa|reset-password`` (:mod:`mdm_desktop.cli_users`).
- ``audit verify|checkpoint|export|verify-export``: check the tamper-evident audit trail, sign checkpoints,
  export signed extracts and check them offline (:mod:`mdm_desktop.cli_audit`).
- ``command send|list|cancel|resume`` and ``approval list|approve|reject``: remote commands and
  their two-administrator approvals (:mod:`mdm_desktop.cli_commands`).
- ``db upgrade``: create or upgrade a store's schema.
- ``demo``: fill a store with a realistic demo clinic and print its administrator's password and
  authenticator secret (no session needed).
- ``devices list``: print the device inventory as a table, JSON or CSV.
- ``policy baselines|create|export``: built-in baselines, policies from them, exports to Apple and
  Android formats (:mod:`mdm_desktop.cli_policies`).

Commands that read or change data need a CLI session and obey the signed-in user's
permissions. Every error meant for a person (:class:`MdmError`) is one line on stderr
and exit code 2 (an ended session says to run ``mdm-desktop login``); anything
unexpected is exit code 1 with a short message (the traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO

from mdm_desktop import (
    __version__,
    cli_audit,
    cli_catalog,
    cli_commands,
    cli_compliance,
    cli_exceptions,
    cli_gateway,
    cli_policies,
    cli_session,
    cli_users,
)
from mdm_desktop.agent import cli as agent_cli
from mdm_desktop.cli_session import command_hint, open_store, resolve_group, session_ended_message, signed_in
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import SessionEndedError
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform
from mdm_desktop.domain.errors import MdmError, ValidationError
from mdm_desktop.services.dto import DeviceCursor, DeviceQuery, DeviceRow, DeviceSort
from mdm_desktop.services.maintenance import upgrade_store

PROG = "mdm-desktop"
EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
PAGE_SIZE = 500
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors end in a hint to ``--help``."""

    def error(self, message: str) -> Any:  # argparse declares NoReturn
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}. See '{self.prog} --help'.\n")


# -- arguments -------------------------------------------------------------------------------------------------


def _store_options(*, in_subcommand: bool) -> _Parser:
    """``--db``, ``--key-file`` and ``--debug``; in subcommands they must not reset values given before them."""
    parent = _Parser(add_help=False)
    default: Any = argparse.SUPPRESS if in_subcommand else None
    group = parent.add_argument_group("store")
    group.add_argument(
        "--db",
        metavar="URL",
        default=default,
        help="the store: a SQLite file path or postgresql://user@host/db "
        "(default: $MDM_DATABASE_URL, else a SQLite file in the user data folder)",
    )
    group.add_argument(
        "--key-file",
        metavar="FILE",
        default=default,
        help="the key file that protects the store's encrypted columns "
        "(default: $MDM_KEY_FILE, else keys/kek.json in the user data folder)",
    )
    parent.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if in_subcommand else False,
        help="show the full traceback of unexpected errors",
    )
    return parent


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be 1 or more")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be 0 or more")
    return value


def _sort_column(text: str) -> DeviceSort:
    try:
        return DeviceSort(text.strip().lower().replace("-", "_"))
    except ValueError:
        choices = ", ".join(s.value.replace("_", "-") for s in DeviceSort)
        raise argparse.ArgumentTypeError(f"cannot sort by '{text}'; choose one of {choices}") from None


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (exposed for tests and documentation)."""
    top_store = _store_options(in_subcommand=False)
    sub_store = _store_options(in_subcommand=True)
    parser = _Parser(
        prog=PROG,
        parents=[top_store],
        description="MDM Desktop: device management console for small healthcare clinics. "
        "Without a command, opens the console window. Commands that read or change data need a "
        "command-line session: run 'mdm-desktop login' first.",
        epilog="Examples:\n"
        "  mdm-desktop init                              first administrator on an empty store\n"
        "  mdm-desktop                                   open the console on the default store\n"
        "  mdm-desktop demo --db demo.sqlite3 --devices 500\n"
        "  mdm-desktop --db demo.sqlite3                 open the console on that store\n"
        "  mdm-desktop login --db demo.sqlite3 --user admin\n"
        "  mdm-desktop devices list --db demo.sqlite3 --json --filter platform=android\n"
        "  mdm-desktop logout --db demo.sqlite3\n"
        "\nEnvironment: MDM_DATABASE_URL, MDM_KEY_FILE, MDM_DATA_DIR, MDM_USER, MDM_PASSWORD, MDM_TOTP,\n"
        "MDM_NEW_PASSWORD.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(handler=_cmd_gui)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    _add_session_parsers(commands, sub_store)
    cli_users.add_parsers(commands, sub_store, _Parser)
    cli_audit.add_parsers(commands, sub_store, _Parser)
    cli_commands.add_parsers(commands, sub_store, _Parser)
    cli_exceptions.add_parsers(commands, sub_store, _Parser)
    cli_gateway.add_parsers(commands, sub_store, _Parser)
    cli_policies.add_parsers(commands, sub_store, _Parser)
    cli_catalog.add_parsers(commands, sub_store, _Parser)
    cli_compliance.add_parsers(commands, sub_store, _Parser)
    # Device side (agent, virtual fleet): its module imports only the standard library until a command runs.
    agent_cli.add_parsers(commands, _Parser)

    db = commands.add_parser(
        "db", help="store maintenance (schema upgrade)", description="Store maintenance.", parents=[sub_store]
    )
    db_commands = db.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=_Parser)
    upgrade = db_commands.add_parser(
        "upgrade",
        parents=[sub_store],
        help="create or upgrade the store's schema",
        description="Create the store if it is empty, or upgrade its schema to this program's version. "
        "A store made by a newer program is refused and left untouched.",
    )
    upgrade.set_defaults(handler=_cmd_db_upgrade)

    demo = commands.add_parser(
        "demo",
        parents=[sub_store],
        help="fill a store with a realistic demo clinic",
        description="Fill a store with a realistic clinic: departments, phones, tablets and computers with their "
        "inventory and compliance, policies, catalog apps, command and audit history, and console accounts. "
        "Prints the administrator's user name, password and authenticator (TOTP) secret, to add to an "
        "authenticator app. Refuses a store that already holds devices unless --force is given. "
        "Needs no session.",
    )
    demo.add_argument("--devices", type=_positive_int, required=True, metavar="N", help="number of devices")
    demo.add_argument("--seed", type=_seed, metavar="S", help="seed for a reproducible fleet (default: random)")
    demo.add_argument("--force", action="store_true", help="add the demo fleet even if the store holds devices")
    demo.set_defaults(handler=_cmd_demo)

    devices = commands.add_parser(
        "devices", help="device inventory", description="Device inventory.", parents=[sub_store]
    )
    device_commands = devices.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=_Parser)
    listing = device_commands.add_parser(
        "list",
        parents=[sub_store],
        help="print the device inventory",
        description="Print the device inventory as an aligned table (default), a JSON array or CSV, as the "
        "signed-in user sees it (run 'mdm-desktop login' first).",
        epilog="Filters (repeat --filter to combine them):\n"
        "  platform=ios,ipados,android,windows,macos,linux   one or more, comma-separated\n"
        "  compliance=compliant,in-grace,non-compliant,unknown\n"
        "  ownership=corporate|byod\n"
        "  status=pending,enrolled,lost,retired,wiped\n"
        "  group=NAME or ID\n"
        "  stale-days=N        not checked in for more than N days (or never)\n"
        "  search=TEXT         name, model or vendor contains TEXT, or serial, hardware id or staff name is TEXT",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fmt = listing.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="output", action="store_const", const="json", help="print a JSON array")
    fmt.add_argument("--csv", dest="output", action="store_const", const="csv", help="print CSV with a header row")
    listing.add_argument(
        "--filter",
        dest="filters",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep only matching devices (see below)",
    )
    listing.add_argument(
        "--sort",
        type=_sort_column,
        default=DeviceSort.NAME,
        metavar="COLUMN",
        help="sort by " + ", ".join(s.value.replace("_", "-") for s in DeviceSort) + " (default: name)",
    )
    listing.add_argument("--desc", action="store_true", help="sort in descending order")
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="print at most N devices")
    listing.set_defaults(handler=_cmd_devices_list, output="table")
    return parser


def _add_session_parsers(commands: Any, sub_store: argparse.ArgumentParser) -> None:
    """``init``, ``login``, ``logout`` and ``whoami``."""
    init = commands.add_parser(
        "init",
        parents=[sub_store],
        help="create the first administrator on an empty store",
        description="Create the first administrator on an empty store and set up its authenticator app. "
        "Asks for the user name (or --user / $MDM_USER) and a password twice (or $MDM_PASSWORD), shows the "
        "authenticator secret as a QR code, text and otpauth:// URI, and asks for a code from the app to "
        "confirm it. Then prints ten recovery codes and the emergency (break-glass) code, once. "
        "Refused on a store that already has accounts. Leaves you signed in on the command line.",
        epilog="For scripts (no terminal, or --json) init stops after showing the secret and keeps a "
        "session for the new administrator; nothing is confirmed automatically. Add the secret to the "
        "authenticator app, then confirm with a code it shows:\n"
        "  MDM_PASSWORD=... mdm-desktop init --user admin --json      prints {user, secret, uri, confirm_with}\n"
        "  mdm-desktop init --confirm 123456 --json                   prints {recovery_codes, emergency_code}\n"
        "Until then the administrator can do nothing else on the command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("--user", metavar="NAME", help="the administrator's user name (default: $MDM_USER, or asked)")
    init.add_argument("--display-name", metavar="TEXT", help="the administrator's name (default: the user name)")
    init.add_argument(
        "--confirm",
        metavar="CODE",
        help="second step for scripts: confirm the authenticator set up by the first step with its current code",
    )
    init.add_argument("--json", action="store_true", help="print JSON for scripts instead of text (never prompts)")
    init.set_defaults(handler=cli_session.cmd_init)

    login = commands.add_parser(
        "login",
        parents=[sub_store],
        help="sign in and keep a command-line session",
        description="Sign in with password and authenticator code and keep a command-line session for this "
        "store, in an owner-only file in the user data folder (replacing an earlier one). The session has the "
        "console's idle and absolute limits (each command counts as activity) and ends like any session "
        "(sign-out, password or authenticator change, account disabled, administrator). The password comes "
        "from $MDM_PASSWORD and the code from $MDM_TOTP, else they are asked for. An account without an "
        "authenticator app sets one up now (in a terminal).",
    )
    login.add_argument("--user", metavar="NAME", help="user name (default: $MDM_USER, or asked)")
    login.set_defaults(handler=cli_session.cmd_login)

    logout = commands.add_parser(
        "logout",
        parents=[sub_store],
        help="end the command-line session",
        description="End this workstation's command-line session on the store and delete its file.",
    )
    logout.set_defaults(handler=cli_session.cmd_logout)

    whoami = commands.add_parser(
        "whoami",
        parents=[sub_store],
        help="show the signed-in user, role and session expiry",
        description="Show who is signed in on the command line for this store, their role, and when the "
        "session ends (idle limit and absolute limit).",
    )
    whoami.add_argument("--json", action="store_true", help="print a JSON object")
    whoami.set_defaults(handler=cli_session.cmd_whoami)


# -- entry point -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(args_list)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_ERROR)
    debug = bool(getattr(args, "debug", False))
    handler: Handler = args.handler
    try:
        return handler(args)
    except SessionEndedError as exc:
        if debug:
            traceback.print_exc()
        _say(f"error: {session_ended_message(exc, args)}")
        return EXIT_ERROR
    except MdmError as exc:
        if debug:
            traceback.print_exc()
        _say(f"error: {exc.one_line()}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("interrupted.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        if debug:
            traceback.print_exc()
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        _say(f"unexpected error ({what}). Run again with --debug to see the details.")
        return EXIT_UNEXPECTED


def _say(message: str) -> None:
    """One line on stderr, prefixed with the program name."""
    print(f"{PROG}: {' '.join(message.split())}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _config(args: argparse.Namespace) -> Config:
    return cli_session.config_of(args)


# -- commands --------------------------------------------------------------------------------------------------


def _cmd_gui(args: argparse.Namespace) -> int:
    """Open the console window."""
    _config(args)  # settle the store before Qt is imported
    from mdm_desktop.gui.launch import run_gui  # Qt only when the window is wanted

    ctx = open_store(args)
    try:
        return run_gui(ctx, [PROG])
    finally:
        ctx.close()


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    info = upgrade_store(_config(args).db_url)
    if info.before is None:
        print(f"Store {info.location} upgraded from an empty database to schema {info.after}.")
    elif info.changed:
        print(f"Store {info.location} upgraded from schema {info.before} to {info.after}.")
    else:
        print(f"Store {info.location} is already at schema {info.after}.")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    ctx = open_store(args)
    try:
        progress = _Progress(sys.stderr, "Filling the demo clinic") if sys.stderr.isatty() else None
        started = time.perf_counter()
        try:
            result = ctx.services.demo.generate(args.devices, args.seed, force=args.force, progress=progress)
        finally:
            if progress is not None:
                progress.done()
        elapsed = time.perf_counter() - started
        where = ctx.location.description
    finally:
        ctx.close()
    print(
        f"Demo clinic written to {where} in {elapsed:.1f} s: {result.device_count:,} devices in "
        f"{result.group_count} groups, {result.policy_count} policies, {result.catalog_app_count} catalog apps, "
        f"{result.command_count:,} commands, {result.audit_entry_count:,} audit entries (seed {result.seed})."
    )
    print()
    print(f"Administrator user name: {result.admin_username}")
    print(f"Administrator password:  {result.admin_password}")
    print(f"Administrator TOTP secret: {result.admin_totp_secret}")
    print(f"Authenticator URI: {result.admin_totp_uri}")
    others = [a for a in result.accounts if a.username != result.admin_username]
    if others:
        print("Other accounts:")
        width = max(len(a.username) for a in others)
        for account in others:
            secret = "(disabled account)".ljust(len(account.password)) if account.disabled else account.password
            print(f"  {account.username:<{width}}  {secret}  {account.role.label}")
    print()
    print(
        "Add the TOTP secret to an authenticator app (type it, or scan a QR code of the URI): signing in "
        "asks for the app's code. Keep these passwords somewhere safe; they are not shown again."
    )
    print("Open the console with:")
    print(f"  {command_hint(args)}")
    print("or sign in on the command line with:")
    print(f"  {command_hint(args, 'login', '--user', result.admin_username)}")
    return EXIT_OK


class _Progress:
    """A one-line progress counter on a terminal."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        self._stream.write(f"\r{self._label}: {done:,} / {total:,} devices")
        self._stream.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()


# -- devices list ----------------------------------------------------------------------------------------------

_MULTI_KEYS = frozenset({"platform", "compliance", "status"})
_FILTER_KEYS = ("platform", "compliance", "ownership", "status", "group", "stale-days", "search")


def _parse_choice(key: str, text: str, options: Iterable[Any]) -> Any:
    wanted = text.strip().casefold().replace("-", "_").replace(" ", "_")
    for option in options:
        names = {option.value, option.label.casefold().replace("-", "_").replace(" ", "_")}
        if wanted in names:
            return option
    valid = ", ".join(o.value.replace("_", "-") for o in options)
    raise ValidationError(f"Unknown {key} '{text}' in --filter.", hint=f"Use one of: {valid}.")


def parse_filters(items: Sequence[str]) -> tuple[DeviceQuery, str | None]:
    """Turn ``--filter KEY=VALUE`` items into a device query and the group asked for (name or id).

    Raises:
        ValidationError: An item is malformed, unknown or out of range.
    """
    platforms: set[Platform] = set()
    compliance: set[ComplianceState] = set()
    statuses: set[LifecycleStatus] = set()
    single: dict[str, str] = {}
    for item in items:
        raw_key, sep, value = item.partition("=")
        key = raw_key.strip().casefold().replace("_", "-")
        if not sep or not key:
            raise ValidationError(
                f"--filter '{item}' is not KEY=VALUE.", hint="For example: --filter platform=android."
            )
        if key not in _FILTER_KEYS:
            raise ValidationError(
                f"Unknown filter '{raw_key.strip()}'.", hint=f"Use one of: {', '.join(_FILTER_KEYS)}."
            )
        if key in _MULTI_KEYS:
            parts = [part for part in value.split(",") if part.strip()]
            if not parts:
                raise ValidationError(f"--filter {key}= needs a value.", hint=f"For example: {_EXAMPLES[key]}.")
            for part in parts:
                if key == "platform":
                    platforms.add(_parse_choice(key, part, Platform))
                elif key == "compliance":
                    compliance.add(_parse_choice(key, part, ComplianceState))
                else:
                    statuses.add(_parse_choice(key, part, LifecycleStatus))
            continue
        if key in single:
            raise ValidationError(
                f"--filter {key} is given twice.", hint="Give ownership, group, stale-days and search once each."
            )
        if not value.strip():
            raise ValidationError(f"--filter {key}= needs a value.", hint=f"For example: {_EXAMPLES[key]}.")
        single[key] = value.strip()
    ownership = _parse_choice("ownership", single["ownership"], Ownership) if "ownership" in single else None
    stale_days = None
    if "stale-days" in single:
        try:
            stale_days = int(single["stale-days"])
        except ValueError:
            stale_days = -1
        if stale_days < 0:
            raise ValidationError(
                f"--filter stale-days needs a number of days (0 or more), not '{single['stale-days']}'."
            )
    query = DeviceQuery(
        search=single.get("search", ""),
        platforms=frozenset(platforms),
        compliance=frozenset(compliance),
        ownership=ownership,
        stale_days=stale_days,
        statuses=frozenset(statuses),
    )
    return query, single.get("group")


_EXAMPLES = {
    "platform": "--filter platform=ios,ipados",
    "compliance": "--filter compliance=non-compliant",
    "status": "--filter status=lost",
    "ownership": "--filter ownership=byod",
    "group": "--filter group=ICU",
    "stale-days": "--filter stale-days=14",
    "search": "--filter search=Pixel",
}


def _cmd_devices_list(args: argparse.Namespace) -> int:
    query, group = parse_filters(args.filters)
    query = DeviceQuery(
        search=query.search,
        platforms=query.platforms,
        compliance=query.compliance,
        ownership=query.ownership,
        stale_days=query.stale_days,
        statuses=query.statuses,
        sort=args.sort,
        descending=args.desc,
    )
    with signed_in(args) as (ctx, session):
        actor = session.principal
        if group is not None:
            query = DeviceQuery(
                search=query.search,
                platforms=query.platforms,
                compliance=query.compliance,
                ownership=query.ownership,
                group_id=resolve_group(ctx, actor, group),
                stale_days=query.stale_days,
                statuses=query.statuses,
                sort=query.sort,
                descending=query.descending,
            )
        writer = _WRITERS[args.output](sys.stdout)
        remaining: int | None = args.limit
        cursor: DeviceCursor | None = None
        while remaining is None or remaining > 0:
            size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            page = ctx.services.devices.list_page(actor, query, cursor, size)
            writer.write(page.rows)
            if remaining is not None:
                remaining -= len(page.rows)
            cursor = page.next_cursor
            if cursor is None:
                break
        writer.close(more=cursor is not None)
    return EXIT_OK


# -- output formats -------------------------------------------------------------------------------------------


def device_record(row: DeviceRow) -> dict[str, Any]:
    """A device as plain JSON-ready values (enum values, ISO 8601 UTC times, ``None`` for unknown or hidden)."""
    return {
        "id": row.id,
        "uid": row.uid,
        "name": row.name,
        "platform": row.platform.value,
        "vendor": row.vendor,
        "model": row.model,
        "os_version": row.os_version,
        "ownership": row.ownership.value,
        "group": row.group_name or None,
        "status": row.status.value,
        "compliance": row.compliance_state.value,
        "last_checkin_at": row.last_checkin_at.isoformat() if row.last_checkin_at else None,
        "enrolled_at": row.enrolled_at.isoformat() if row.enrolled_at else None,
        "serial": row.serial,
        "assigned_to": row.assigned_to,
    }


RECORD_FIELDS = (
    "id",
    "uid",
    "name",
    "platform",
    "vendor",
    "model",
    "os_version",
    "ownership",
    "group",
    "status",
    "compliance",
    "last_checkin_at",
    "enrolled_at",
    "serial",
    "assigned_to",
)


def csv_safe(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (cells starting with = + - @ get a quote)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_PREFIXES) else text


def _printable(text: str) -> str:
    """Text safe to print on a terminal: control characters (escape sequences) become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


class _JsonWriter:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._count = 0

    def write(self, rows: Sequence[DeviceRow]) -> None:
        for row in rows:
            self._out.write("[\n" if self._count == 0 else ",\n")
            self._out.write("  " + json.dumps(device_record(row), ensure_ascii=False))
            self._count += 1

    def close(self, *, more: bool) -> None:
        self._out.write("[]\n" if self._count == 0 else "\n]\n")
        self._out.flush()


class _CsvWriter:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n")
        self._csv.writerow(RECORD_FIELDS)

    def write(self, rows: Sequence[DeviceRow]) -> None:
        for row in rows:
            record = device_record(row)
            self._csv.writerow([csv_safe(record[name]) for name in RECORD_FIELDS])

    def close(self, *, more: bool) -> None:
        self._out.flush()


_TABLE_COLUMNS: tuple[tuple[str, Callable[[DeviceRow], str]], ...] = (
    ("Name", lambda r: r.name),
    ("Platform", lambda r: r.platform.label),
    ("OS", lambda r: r.os_version or "-"),
    ("Model", lambda r: r.model or "-"),
    ("Group", lambda r: r.group_name or "-"),
    ("Owner", lambda r: r.ownership.label),
    ("Status", lambda r: r.status.label),
    ("Compliance", lambda r: r.compliance_state.label),
    ("Last check-in (UTC)", lambda r: r.last_checkin_at.strftime("%Y-%m-%d %H:%M") if r.last_checkin_at else "never"),
    ("Serial", lambda r: r.serial if r.serial is not None else "(hidden)"),
    ("Assigned to", lambda r: r.assigned_to if r.assigned_to is not None else "-"),
)


class _TableWriter:
    """An aligned table; column widths come from the first page so the output streams."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._widths: list[int] | None = None
        self._count = 0

    def _line(self, cells: Sequence[str]) -> None:
        assert self._widths is not None
        padded = [cell.ljust(width) for cell, width in zip(cells, self._widths, strict=True)]
        self._out.write("  ".join(padded).rstrip() + "\n")

    def write(self, rows: Sequence[DeviceRow]) -> None:
        cells = [[_printable(get(row)) for _title, get in _TABLE_COLUMNS] for row in rows]
        if self._widths is None:
            titles = [title for title, _get in _TABLE_COLUMNS]
            self._widths = [max([len(t), *(len(c[i]) for c in cells)]) for i, t in enumerate(titles)]
            self._line(titles)
            self._line(["-" * w for w in self._widths])
        for line in cells:
            self._line(line)
        self._count += len(rows)

    def close(self, *, more: bool) -> None:
        if self._count == 0:
            self._out.write("No devices match.\n")
        else:
            noun = "device" if self._count == 1 else "devices"
            self._out.write(f"\n{self._count:,} {noun}{' (limit reached; more match)' if more else ''}.\n")
        self._out.flush()


_WRITERS: Mapping[str, Callable[[TextIO], _JsonWriter | _CsvWriter | _TableWriter]] = {
    "json": _JsonWriter,
    "csv": _CsvWriter,
    "table": _TableWriter,
}
