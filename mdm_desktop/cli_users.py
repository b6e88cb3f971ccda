"""``mdm-desktop user ...``: console accounts from the command line, for scripted set-up.

``add``, ``list``, ``disable``, ``enable``, ``unlock``, ``reset-mfa`` and ``reset-password`` call
:class:`~mdm_desktop.services.users.UserService` in the caller's CLI session, so they obey the
same permissions and audit as the console. Changes need a fresh authenticator code (step-up):
``--code CODE`` or ``MDM_TOTP``, or the command asks for one at a terminal. New passwords come
from ``MDM_NEW_PASSWORD`` or are typed twice at a terminal, never from the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from mdm_desktop.app import AppContext
from mdm_desktop.cli_session import (
    EXIT_OK,
    new_password,
    resolve_group,
    signed_in,
    utc,
    with_step_up,
)
from mdm_desktop.domain.accounts import BUILT_IN_ROLES, Principal
from mdm_desktop.domain.errors import NotFoundError, ValidationError
from mdm_desktop.services.dto import SessionInfo, UserInfo
from mdm_desktop.services.users import RoleRef

NEW_PASSWORD_ENV = "MDM_NEW_PASSWORD"  # noqa: S105 - the name of an environment variable


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``user`` and its subcommands to the top-level subparsers ``commands``."""
    user = commands.add_parser(
        "user",
        parents=[store],
        help="console accounts (add, list, disable, unlock, reset-mfa, ...)",
        description="Console accounts. Needs a CLI session (mdm-desktop login) with the right to manage users; "
        "changes ask for a fresh authenticator code.",
    )
    sub = user.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)
    code_help = "a fresh code from your authenticator app for this change (default: $MDM_TOTP, else asked)"

    add = sub.add_parser(
        "add",
        parents=[store],
        help="create an account",
        description="Create a console account. The password comes from $MDM_NEW_PASSWORD or is typed twice; "
        "the new user sets up an authenticator app at the first sign-in.",
        epilog="Roles: administrator, it-technician, helpdesk, security-officer, or a custom role's name.",
    )
    add.add_argument("name", metavar="NAME", help="user name (letters, digits and . _ - @)")
    add.add_argument("--role", required=True, metavar="ROLE", help="the role (see below)")
    add.add_argument("--display-name", default="", metavar="TEXT", help="the person's name (default: NAME)")
    add.add_argument(
        "--group",
        dest="groups",
        action="append",
        default=[],
        metavar="GROUP",
        help="limit the account to this device group (name or id; repeat for several; default: every group)",
    )
    add.add_argument("--code", metavar="CODE", help=code_help)
    add.set_defaults(handler=cmd_user_add)

    listing = sub.add_parser("list", parents=[store], help="list accounts", description="List console accounts.")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_user_list)

    def simple(name: str, help_text: str, description: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        parser = sub.add_parser(name, parents=[store], help=help_text, description=description)
        parser.add_argument("name", metavar="NAME", help="the user name")
        parser.add_argument("--code", metavar="CODE", help=code_help)
        parser.set_defaults(handler=handler)
        return parser

    disable = simple(
        "disable",
        "disable an account and end its sessions",
        "Disable an account; its sessions end everywhere at once. The last administrator cannot be disabled.",
        cmd_user_disable,
    )
    disable.add_argument("--reason", default="", metavar="TEXT", help="why (kept in the audit log)")
    simple("enable", "enable a disabled account", "Enable a disabled account.", cmd_user_enable)
    simple("unlock", "lift a lockout", "Lift a lockout after too many failed sign-ins.", cmd_user_unlock)
    simple(
        "reset-mfa",
        "remove an account's authenticator app",
        "Remove an account's authenticator app and recovery codes and end its sessions; "
        "the person sets up a new app at the next sign-in.",
        cmd_user_reset_mfa,
    )
    simple(
        "reset-password",
        "set a new password for an account",
        "Set a new password for someone (from $MDM_NEW_PASSWORD, or typed twice) and end their sessions. "
        "Tell them the password in person.",
        cmd_user_reset_password,
    )


# -- look-ups --------------------------------------------------------------------------------------------------


def find_user(ctx: AppContext, actor: Principal, name: str) -> UserInfo:
    """The account called ``name`` (exact user name, else the only case-insensitive match).

    Raises:
        NotFoundError: No such account.
    """
    users = ctx.services.users.list_users(actor)
    for user in users:
        if user.username == name:
            return user
    folded = [u for u in users if u.username.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise NotFoundError(f"There is no user '{name}'.", hint="See mdm-desktop user list.")


def _role_key(text: str) -> str:
    return "_".join(text.strip().casefold().replace("-", " ").replace("_", " ").split())


def parse_role(ctx: AppContext, actor: Principal, text: str) -> RoleRef:
    """A built-in role (value, label, dashes or spaces, any case) or a custom role's name.

    Raises:
        ValidationError: No role of that name (the message lists them).
    """
    wanted = _role_key(text)
    for role in BUILT_IN_ROLES:
        if wanted in (role.value, _role_key(role.label)):
            return role
    roles = ctx.services.users.list_roles(actor)
    for info in roles:
        if not info.built_in and info.id is not None and _role_key(info.name) == wanted:
            return info.id
    names = [r.value.replace("_", "-") for r in BUILT_IN_ROLES] + [r.name for r in roles if not r.built_in]
    raise ValidationError(f"There is no role '{text}'.", hint=f"Use one of: {', '.join(names)}.")


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _done(message: str) -> int:
    print(message)
    return EXIT_OK


# -- commands --------------------------------------------------------------------------------------------------


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create an account."""
    with signed_in(args) as (ctx, session):
        actor = session.principal
        role = parse_role(ctx, actor, args.role)
        groups = sorted({resolve_group(ctx, actor, g) for g in args.groups}) if args.groups else None
        password = new_password(NEW_PASSWORD_ENV, args.name)
        info = with_step_up(
            ctx,
            session,
            args,
            lambda who: ctx.services.users.create_user(
                who, args.name, password, role, display_name=args.display_name, group_ids=groups
            ),
        )
    count = len(info.group_ids)
    scope = "every device group" if not count else f"{count} device group{'s' if count != 1 else ''} only"
    return _done(
        f"Created {info.username} ({info.role_label or info.role.label}, {scope}). "
        "They set up an authenticator app at their first sign-in."
    )


def cmd_user_list(args: argparse.Namespace) -> int:
    """List accounts as a table or JSON."""
    with signed_in(args) as (ctx, session):
        users = ctx.services.users.list_users(session.principal)
    if args.json:
        print(json.dumps([_record(u) for u in users], ensure_ascii=False, indent=2))
        return EXIT_OK
    rows = [
        (
            _printable(u.username),
            _printable(u.display_name),
            _printable(u.role_label or u.role.label),
            _status(u),
            "yes" if u.mfa_enrolled else "no",
            utc(u.last_login_at) if u.last_login_at else "never",
        )
        for u in users
    ]
    titles = ("User", "Name", "Role", "Status", "Authenticator", "Last sign-in")
    widths = [max([len(t), *(len(r[i]) for r in rows)]) for i, t in enumerate(titles)]
    out = sys.stdout
    for cells in (titles, tuple("-" * w for w in widths), *rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")
    out.write(f"\n{len(users)} account{'s' if len(users) != 1 else ''}.\n")
    return EXIT_OK


def _status(user: UserInfo) -> str:
    if user.disabled:
        return "disabled"
    if user.locked_until is not None:
        return f"locked until {utc(user.locked_until)}"
    return "active"


def _record(user: UserInfo) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "role_label": user.role_label or user.role.label,
        "disabled": user.disabled,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
        "authenticator": user.mfa_enrolled,
        "groups": list(user.group_ids) or None,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def _change(
    args: argparse.Namespace,
    action: Callable[[AppContext, Principal, UserInfo], UserInfo],
    before: Callable[[AppContext, SessionInfo, UserInfo], None] | None = None,
) -> UserInfo:
    """Find the account, then run ``action`` on it with step-up."""
    with signed_in(args) as (ctx, session):
        target = find_user(ctx, session.principal, args.name)
        if before is not None:
            before(ctx, session, target)
        return with_step_up(ctx, session, args, lambda who: action(ctx, who, target))


def cmd_user_disable(args: argparse.Namespace) -> int:
    """Disable an account."""
    info = _change(args, lambda ctx, who, u: ctx.services.users.disable_user(who, u.id, args.reason))
    return _done(f"Disabled {info.username}; their sessions have ended.")


def cmd_user_enable(args: argparse.Namespace) -> int:
    """Enable an account."""
    info = _change(args, lambda ctx, who, u: ctx.services.users.enable_user(who, u.id))
    return _done(f"Enabled {info.username}.")


def cmd_user_unlock(args: argparse.Namespace) -> int:
    """Lift a lockout."""
    info = _change(args, lambda ctx, who, u: ctx.services.users.unlock_user(who, u.id))
    return _done(f"Unlocked {info.username}; they can sign in again.")


def cmd_user_reset_mfa(args: argparse.Namespace) -> int:
    """Remove an account's authenticator."""
    info = _change(args, lambda ctx, who, u: ctx.services.users.reset_mfa(who, u.id))
    return _done(
        f"Removed the authenticator app of {info.username} and ended their sessions; "
        "they set up a new one at the next sign-in."
    )


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    """Set a new password for an account."""
    passwords: list[str] = []

    def ask(_ctx: AppContext, _session: SessionInfo, target: UserInfo) -> None:
        passwords.append(new_password(NEW_PASSWORD_ENV, target.username))

    info = _change(args, lambda ctx, who, u: ctx.services.users.reset_password(who, u.id, passwords[0]), before=ask)
    return _done(f"Set a new password for {info.username} and ended their sessions. Tell them in person.")
