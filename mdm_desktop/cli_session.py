"""Command-line sessions: ``login``, ``logout``, ``whoami``, ``init``, and what every data command needs.

The CLI signs in like the console (password, then a TOTP or recovery code) and keeps a
*CLI session*: the store holds the session (as the SHA-256 of its token, with the same
idle and absolute limits as a console session, revocable like any session), and this
workstation keeps only the token, in an owner-only file (mode 0600, folder 0700) in the
user data folder. There is one file per store, named after a hash of the store's URL, so
sessions on two stores never mix.

Commands that read or change data call :func:`signed_in`, which resumes the session (each
command counts as activity) and ends in a one-line error when it is over. Sensitive user
administration asks for a fresh code (step-up) through :func:`with_step_up`.

Scripts give the password in ``MDM_PASSWORD`` and the code in ``MDM_TOTP``; a person at a
terminal is asked. Nothing here touches the store directly: everything goes through services.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import hashlib
import json
import os
import secrets
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import segno

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import Principal, SessionEndedError, SessionKind, StepUpRequiredError
from mdm_desktop.domain.errors import AuthenticationError, ConflictError, MdmError, NotFoundError, ValidationError
from mdm_desktop.services.dto import IssuedCodes, SessionInfo, TotpEnrolmentInfo

PROG = "mdm-desktop"
EXIT_OK = 0
EXIT_ERROR = 2
SESSION_FOLDER = "sessions"
CODE_ATTEMPTS = 3
"""Tries a person gets at a terminal for a new password or the first authenticator code."""

T = TypeVar("T")

_REASONS = {
    "idle": "idle",
    "expired": "time limit reached",
    "signed_out": "signed out",
    "disabled": "account disabled",
    "password_changed": "password changed",
    "password_reset": "password reset by an administrator",
    "mfa_changed": "authenticator changed",
    "mfa_reset": "authenticator reset by an administrator",
    "role_changed": "role changed",
    "locked": "account locked",
    "revoked_by_admin": "ended by an administrator",
}


# -- store and configuration ---------------------------------------------------------------------------------


def config_of(args: argparse.Namespace) -> Config:
    """The store and key file named by ``--db`` / ``--key-file`` (or the environment and defaults)."""
    return Config.resolve(db=getattr(args, "db", None), key_file=getattr(args, "key_file", None))


def open_store(args: argparse.Namespace) -> AppContext:
    """Open the store the arguments name (creating or upgrading it as needed)."""
    return open_app(config_of(args))


def without_password(url: str) -> str:
    """``url`` without the password of a ``postgresql://user:password@host/db`` URL."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def store_options(args: argparse.Namespace) -> list[str]:
    """``--db`` and ``--key-file`` as given (without a URL's password), to repeat them in a hint."""
    parts: list[str] = []
    db = getattr(args, "db", None)
    if db:
        parts += ["--db", shlex.quote(without_password(db))]
    key_file = getattr(args, "key_file", None)
    if key_file:
        parts += ["--key-file", shlex.quote(key_file)]
    return parts


def command_hint(args: argparse.Namespace, *words: str) -> str:
    """A command to suggest, on the same store: ``mdm-desktop WORDS [--db ...] [--key-file ...]``."""
    return " ".join([PROG, *words, *store_options(args)])


# -- the session file ----------------------------------------------------------------------------------------


def session_path(config: Config) -> Path:
    """Where this user keeps the CLI session token for ``config``'s store (one file per store)."""
    key = hashlib.sha256(without_password(config.db_url).encode("utf-8")).hexdigest()[:32]
    return config.data_dir / SESSION_FOLDER / f"cli-{key}.token"


class SessionFile:
    """The owner-only file that holds a CLI session's bearer token (and nothing else).

    Args:
        path: The file (see :func:`session_path`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        """The token, or ``None`` when there is no session file.

        Raises:
            ValidationError: The file can be read by other users (it is deleted: sign in again)
                or is not a session file.
        """
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        if os.name == "posix" and (info.st_mode & 0o077 or info.st_uid != os.getuid()):
            self.delete()
            raise ValidationError(
                f"The session file {self.path} could be read by other users, so it was deleted.",
                hint="Run mdm-desktop login again.",
            )
        token = self.path.read_text(encoding="ascii", errors="replace").strip()
        if not token or len(token) > 256 or not all(c.isalnum() or c in "-_" for c in token):
            self.delete()
            raise ValidationError(f"{self.path} is not a session file; it was deleted.", hint="Run mdm-desktop login.")
        return token

    def write(self, token: str) -> None:
        """Replace the file with ``token`` (written to a new owner-only file, then renamed over the old one)."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.name == "posix":
            folder.chmod(0o700)
        temp = folder / f".{self.path.name}.{secrets.token_hex(6)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(token + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def delete(self) -> None:
        """Remove the file (no error if it is gone)."""
        self.path.unlink(missing_ok=True)


def session_file(args: argparse.Namespace) -> SessionFile:
    """The session file of the store the arguments name."""
    return SessionFile(session_path(config_of(args)))


def session_ended_message(exc: SessionEndedError, args: argparse.Namespace) -> str:
    """The one line for an ended (or missing) session, with the command that starts a new one."""
    login = command_hint(args, "login")
    if exc.reason == "unknown":
        return f"You are not signed in; run {login}."
    return f"Your session has ended ({_REASONS.get(exc.reason, 'ended')}); run {login}."


@contextlib.contextmanager
def signed_in(args: argparse.Namespace, *, require_mfa: bool = True) -> Iterator[tuple[AppContext, SessionInfo]]:
    """Open the store and resume this workstation's CLI session on it.

    The session file is read before the store is opened, so a command without a session
    creates nothing. A session found to be over (now or during the command) has its file deleted.

    Args:
        args: The parsed command line (for ``--db`` and ``--key-file``).
        require_mfa: Refuse a session whose account has no authenticator yet (only ``init --confirm``
            and ``whoami`` accept one).

    Raises:
        SessionEndedError: No session file, or the session is over.
        ValidationError: The account's authenticator set-up is not finished.
    """
    config = config_of(args)
    file = SessionFile(session_path(config))
    token = file.read()
    if token is None:
        raise SessionEndedError("You are not signed in.", reason="unknown")
    ctx = open_app(config)
    try:
        try:
            session = ctx.services.sessions.resume(token)
            if require_mfa and not session.mfa_enrolled and not session.break_glass:
                raise ValidationError(
                    "Your authenticator app is not set up yet.",
                    hint=f"Finish with '{command_hint(args, 'init', '--confirm', 'CODE')}'.",
                )
            yield ctx, session
        except SessionEndedError:
            file.delete()
            raise
    finally:
        ctx.close()


# -- asking a person -----------------------------------------------------------------------------------------


def is_interactive() -> bool:
    """True when a person can be asked (standard input is a terminal)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def ask(prompt: str) -> str:
    """Ask for a line of text; the prompt goes to stderr so stdout stays clean for scripts."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise KeyboardInterrupt
    return line.strip()


def ask_secret(prompt: str) -> str:
    """Ask for a password without echoing it."""
    return getpass.getpass(prompt)


def username_from(args: argparse.Namespace) -> str:
    """``--user``, else ``MDM_USER``, else asked for at a terminal.

    Raises:
        ValidationError: No user name and nobody to ask.
    """
    username = (getattr(args, "user", None) or os.environ.get("MDM_USER", "")).strip()
    if not username and is_interactive():
        username = ask("User name: ")
    if not username:
        raise ValidationError("No user name given.", hint="Give --user NAME or set MDM_USER.")
    return username


def password_from_env_or_prompt(username: str) -> str:
    """``MDM_PASSWORD``, else asked for at a terminal.

    Raises:
        ValidationError: No password and nobody to ask.
    """
    password = os.environ.get("MDM_PASSWORD") or ""
    if not password and is_interactive():
        password = ask_secret(f"Password for {username}: ")
    if not password:
        raise ValidationError(
            "No password to sign in with.", hint="Set MDM_PASSWORD, or run the command in a terminal to be asked."
        )
    return password


def new_password(env_name: str, whose: str) -> str:
    """A new password from ``env_name``, else typed twice at a terminal.

    Raises:
        ValidationError: The two entries differ, or no password and nobody to ask.
    """
    password = os.environ.get(env_name) or ""
    if password:
        return password
    if not is_interactive():
        raise ValidationError(
            f"No password given for {whose}.", hint=f"Set {env_name}, or run the command in a terminal to be asked."
        )
    first = ask_secret(f"New password for {whose}: ")
    if not first:
        raise ValidationError("The password is empty.", hint="Type a password of at least 12 characters.")
    if ask_secret("Type it again: ") != first:
        raise ValidationError("The two passwords do not match; nothing was changed.", hint="Run the command again.")
    return first


def step_up_code(args: argparse.Namespace) -> str:
    """A fresh authenticator code: ``--code``, else ``MDM_TOTP``, else asked for at a terminal.

    Raises:
        ValidationError: No code and nobody to ask.
    """
    code = (getattr(args, "code", None) or os.environ.get("MDM_TOTP", "")).strip()
    if not code and is_interactive():
        code = ask("This needs a fresh code from your authenticator app. Code: ")
    if not code:
        raise ValidationError(
            "This action needs a fresh code from your authenticator app.",
            hint="Give --code CODE or set MDM_TOTP (a code not yet used), or run it in a terminal to be asked.",
        )
    return code


def with_step_up(
    ctx: AppContext, session: SessionInfo, args: argparse.Namespace, action: Callable[[Principal], T]
) -> T:
    """Run ``action``; if the service wants a fresh code (step-up), get one, step up, and retry once.

    Raises:
        AuthenticationError: The code is wrong or was already used (nothing was changed).
    """
    try:
        return action(session.principal)
    except StepUpRequiredError:
        code = step_up_code(args)
    ctx.services.sessions.step_up(session.principal, code)
    return action(session.principal)


def resolve_group(ctx: AppContext, actor: Principal, wanted: str) -> int:
    """The id of the device group named ``wanted`` (a name, any case, or an id).

    Raises:
        NotFoundError: No such group (the message lists the groups).
    """
    groups = ctx.services.devices.groups(actor)
    if wanted.strip().isdigit():
        for group in groups:
            if group.id == int(wanted):
                return group.id
    for group in groups:
        if group.name.casefold() == wanted.strip().casefold():
            return group.id
    names = ", ".join(g.name for g in groups) or "none yet"
    raise NotFoundError(f"There is no device group '{wanted}'.", hint=f"Groups: {names}.")


def utc(moment: dt.datetime | None) -> str:
    """A time as people read it in a terminal: ``2026-12-04 17:50 UTC``."""
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- login, logout, whoami -----------------------------------------------------------------------------------


def cmd_login(args: argparse.Namespace) -> int:
    """Sign in and keep a CLI session for this store (replacing an earlier one)."""
    config = config_of(args)
    file = SessionFile(session_path(config))
    username = username_from(args)
    password = password_from_env_or_prompt(username)
    code = os.environ.get("MDM_TOTP", "").strip()
    if not code and is_interactive():
        code = ask("Code from your authenticator app (or a recovery code; leave empty if you have none yet): ")
    previous: str | None = None
    with contextlib.suppress(ValidationError):
        previous = file.read()
    ctx = open_app(config)
    try:
        try:
            session = ctx.services.auth.sign_in(username, password, code or None, kind=SessionKind.CLI)
        except AuthenticationError as exc:
            if not code and not is_interactive():
                raise AuthenticationError(
                    exc.message, hint="Set MDM_TOTP to the current code from the authenticator app."
                ) from None
            raise
        if not session.mfa_enrolled and not session.break_glass:
            if not is_interactive():
                ctx.services.sessions.sign_out(session.principal)
                raise ValidationError(
                    f"{username} has no authenticator app set up yet.",
                    hint="Run mdm-desktop login in a terminal to set one up.",
                )
            try:
                codes = _enrol_at_terminal(ctx, session, args)
            except BaseException:
                ctx.services.sessions.sign_out(session.principal)
                raise
            print()
            _print_codes(codes, None)
            print()
        if previous and previous != session.token:
            _end_quietly(ctx, previous)
        file.write(session.token)
        where = ctx.location.description
    finally:
        ctx.close()
    idle = _minutes(session.idle_timeout)
    print(
        f"Signed in as {session.username} ({session.role_label or session.role.label}) on {where}. "
        f"The session ends after {idle} without a command, and at {utc(session.expires_at)} at the latest."
    )
    return EXIT_OK


def _end_quietly(ctx: AppContext, token: str) -> None:
    """Sign out an earlier session of this workstation (it may already be over)."""
    with contextlib.suppress(MdmError):
        info = ctx.services.sessions.resume(token)
        ctx.services.sessions.sign_out(info.principal)


def _minutes(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "the idle limit"
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def cmd_logout(args: argparse.Namespace) -> int:
    """End this workstation's CLI session on the store and delete its file."""
    file = session_file(args)
    try:
        token = file.read()
    except ValidationError:
        token = None
    if token is None:
        print("You were not signed in.")
        return EXIT_OK
    try:
        ctx = open_store(args)
        try:
            with contextlib.suppress(SessionEndedError):
                info = ctx.services.sessions.resume(token)
                ctx.services.sessions.sign_out(info.principal)
        finally:
            ctx.close()
    finally:
        file.delete()
    print("Signed out.")
    return EXIT_OK


def cmd_whoami(args: argparse.Namespace) -> int:
    """Print the signed-in user, role and when the session ends."""
    with signed_in(args, require_mfa=False) as (ctx, session):
        status = ctx.services.sessions.status(session.principal)
        where = ctx.location.description
    role = session.role_label or session.role.label
    if args.json:
        record = {
            "user": session.username,
            "role": session.role.value,
            "role_label": role,
            "store": where,
            "kind": status.kind,
            "signed_in_at": status.created_at.isoformat(),
            "idle_expires_at": status.idle_expires_at.isoformat(),
            "absolute_expires_at": status.absolute_expires_at.isoformat(),
            "expires_at": status.expires_at.isoformat(),
            "authenticator": session.mfa_enrolled,
        }
        print(json.dumps(record, ensure_ascii=False))
        return EXIT_OK
    print(f"User:       {session.username}")
    print(f"Role:       {role}")
    print(f"Store:      {where}")
    print(f"Signed in:  {utc(status.created_at)}")
    print(
        f"Expires:    {utc(status.expires_at)} (after {_minutes(session.idle_timeout)} without a command; "
        f"{utc(status.absolute_expires_at)} at the latest)"
    )
    if not session.mfa_enrolled:
        print(f"Authenticator: not set up; finish with {command_hint(args, 'init', '--confirm', 'CODE')}")
    return EXIT_OK


# -- init: the first administrator ----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Create the first administrator on an empty store and set up its authenticator app."""
    if args.confirm is not None:
        return _init_confirm(args)
    config = config_of(args)
    file = SessionFile(session_path(config))
    interactive = is_interactive() and not args.json
    ctx = open_app(config)
    try:
        auth = ctx.services.auth
        if not auth.needs_first_admin():
            raise ConflictError(
                "This store already has accounts; init only sets up an empty store.",
                hint=f"Sign in with '{command_hint(args, 'login', '--user', 'NAME')}'.",
            )
        username = username_from(args)
        password = _create_first_admin(ctx, username, args.display_name or "", interactive)
        session = auth.sign_in(username, password, kind=SessionKind.CLI)
        enrolment = auth.begin_totp_enrolment(session.principal)
        file.write(session.token)
        confirm = command_hint(args, "init", "--confirm", "CODE")
        if args.json:
            print(
                json.dumps(
                    {
                        "user": username,
                        "secret": enrolment.secret,
                        "uri": enrolment.uri,
                        "confirm_with": confirm,
                    }
                )
            )
            return EXIT_OK
        print(f"Administrator {username} created on {ctx.location.description}.")
        print()
        _show_enrolment(enrolment)
        if not interactive:
            print()
            print(f"Finish with a code from the app: {confirm}")
            return EXIT_OK
        try:
            codes = _confirm_at_terminal(ctx, session, args)
        except KeyboardInterrupt:
            print(file=sys.stderr)
            raise ValidationError(
                "The authenticator set-up is not finished.", hint=f"Finish with '{confirm}'."
            ) from None
        emergency = auth.create_emergency_code(session.principal)
    finally:
        ctx.close()
    print()
    _print_codes(codes, emergency)
    print()
    print(f"You are signed in on the command line. Next: {command_hint(args, 'user', 'add', 'NAME', '--role', 'ROLE')}")
    return EXIT_OK


def _create_first_admin(ctx: AppContext, username: str, display_name: str, interactive: bool) -> str:
    """Create the first administrator; at a terminal, ask again (up to three times) for a refused password."""
    attempts = CODE_ATTEMPTS if interactive and not os.environ.get("MDM_PASSWORD") else 1
    for attempt in range(1, attempts + 1):
        password = os.environ.get("MDM_PASSWORD") or ""
        if not password:
            password = new_password("MDM_PASSWORD", username)
        try:
            ctx.services.auth.create_first_admin(username, password, display_name)
            return password
        except ValidationError as exc:
            if attempt == attempts:
                raise
            print(f"{PROG}: {exc.one_line()}", file=sys.stderr)
    raise AssertionError("unreachable")  # pragma: no cover


def _init_confirm(args: argparse.Namespace) -> int:
    """Second step of a scripted ``init``: confirm the authenticator with a code, then issue the codes."""
    with signed_in(args, require_mfa=False) as (ctx, session):
        if session.mfa_enrolled:
            raise ConflictError(
                f"{session.username} already has an authenticator app set up; nothing to confirm.",
                hint="Sign in with mdm-desktop login.",
            )
        codes = ctx.services.auth.confirm_totp_enrolment(session.principal, args.confirm)
        emergency = ctx.services.auth.create_emergency_code(session.principal)
        username = session.username
    if args.json:
        print(json.dumps({"user": username, "recovery_codes": list(codes.codes), "emergency_code": emergency.codes[0]}))
        return EXIT_OK
    print(f"Authenticator app set up for {username}.")
    print()
    _print_codes(codes, emergency)
    return EXIT_OK


def _show_enrolment(enrolment: TotpEnrolmentInfo) -> None:
    print("Set up an authenticator app (Microsoft Authenticator, Google Authenticator, FreeOTP, ...):")
    print("scan this QR code, or type the secret by hand.")
    if sys.stdout.isatty():
        segno.make(enrolment.uri, error="m", micro=False).terminal(out=sys.stdout, compact=True)
    print(f"  Secret:   {enrolment.secret_grouped}")
    print(f"  Account:  {enrolment.account} ({enrolment.issuer})")
    print(f"  URI:      {enrolment.uri}")


def _confirm_at_terminal(ctx: AppContext, session: SessionInfo, args: argparse.Namespace) -> IssuedCodes:
    """Ask for the app's code until it matches (three tries)."""
    for attempt in range(1, CODE_ATTEMPTS + 1):
        code = ask("Enter the six-digit code the app shows now: ")
        try:
            return ctx.services.auth.confirm_totp_enrolment(session.principal, code)
        except AuthenticationError as exc:
            if attempt == CODE_ATTEMPTS:
                raise AuthenticationError(
                    exc.message,
                    hint=f"Check the app's clock and finish with '{command_hint(args, 'init', '--confirm', 'CODE')}'.",
                ) from None
            print(f"{PROG}: {exc.one_line()}", file=sys.stderr)
    raise AssertionError("unreachable")  # pragma: no cover


def _enrol_at_terminal(ctx: AppContext, session: SessionInfo, args: argparse.Namespace) -> IssuedCodes:
    """Set up an authenticator for an account that has none (first sign-in, or after a reset)."""
    print(f"{session.username} has no authenticator app yet; set one up now.")
    enrolment = ctx.services.auth.begin_totp_enrolment(session.principal)
    _show_enrolment(enrolment)
    for attempt in range(1, CODE_ATTEMPTS + 1):
        code = ask("Enter the six-digit code the app shows now: ")
        try:
            return ctx.services.auth.confirm_totp_enrolment(session.principal, code)
        except AuthenticationError as exc:
            if attempt == CODE_ATTEMPTS:
                raise AuthenticationError(exc.message, hint="Run mdm-desktop login again to restart.") from None
            print(f"{PROG}: {exc.one_line()}", file=sys.stderr)
    raise AssertionError("unreachable")  # pragma: no cover


def _print_codes(recovery: IssuedCodes, emergency: IssuedCodes | None) -> None:
    print("Recovery codes (each works once instead of an authenticator code, if the phone is lost):")
    for i in range(0, len(recovery.codes), 2):
        print("  " + "    ".join(recovery.codes[i : i + 2]))
    if emergency is not None:
        print()
        print("Emergency (break-glass) code, for an administrator who lost the authenticator:")
        print(f"  {emergency.codes[0]}")
    print()
    print(
        "WARNING: store these codes now, on paper or in a password manager, away from this computer. "
        "They are not shown again."
    )
