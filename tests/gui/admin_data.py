"""Test data for the administration panes: accounts of every role, custom roles, access requests in each state.

Everything is written through the services (as an administrator who stepped up), so the data is what
a real clinic would have.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Permission, Role
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.schema import User
from tests.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    USER_PASSWORD,
    enrol_authenticator,
    sign_in_admin,
    step_up_admin,
)
from tests.gui.fleet import Fleet, populate

PEOPLE: tuple[tuple[str, str, Role | str], ...] = (
    ("a.okafor", "Dr. Amara Okafor", Role.ADMINISTRATOR),
    ("b.lindqvist", "Ben Lindqvist", Role.IT_TECHNICIAN),
    ("c.mendes", "Carla Mendes", Role.IT_TECHNICIAN),
    ("d.demir", "Yusuf Demir", Role.HELPDESK),
    ("e.natarajan", "Priya Natarajan", Role.HELPDESK),
    ("f.moreau", "Félix Moreau", Role.HELPDESK),
    ("g.santos", "Gabriela Santos", Role.SECURITY_OFFICER),
    ("h.kowalski", "Hanna Kowalski", Role.SECURITY_OFFICER),
    ("i.tanaka", "Ichiro Tanaka", "Ward tablets helper"),
    ("j.owusu", "Jacob Owusu", "Compliance reader"),
    ("k.ivanova", "Katya Ivanova", Role.HELPDESK),
)
CUSTOM_ROLES: dict[str, tuple[str, frozenset[Permission]]] = {
    "Ward tablets helper": (
        "Front-line help for ward tablets: see devices, send everyday commands.",
        frozenset({Permission.DEVICES_READ, Permission.COMMANDS_SEND, Permission.ACCESS_REQUEST}),
    ),
    "Compliance reader": (
        "Reads devices, policies, reports and the audit log for the quarterly review.",
        frozenset(
            {
                Permission.DEVICES_READ,
                Permission.POLICIES_READ,
                Permission.REPORTS_READ,
                Permission.AUDIT_READ,
                Permission.ACCESS_REQUEST,
            }
        ),
    ),
    "Unused draft role": ("", frozenset({Permission.CATALOG_READ})),
}


@dataclass
class AdminData:
    """What :func:`seed` wrote."""

    fleet: Fleet
    user_ids: dict[str, int]
    role_ids: dict[str, int]
    sessions: dict[str, SessionInfo]
    request_ids: dict[str, int]


def sign_in(ctx: AppContext, username: str) -> SessionInfo:
    """Sign ``username`` in with the test password and enrol an authenticator."""
    return enrol_authenticator(ctx, ctx.services.auth.sign_in(username, USER_PASSWORD))


def seed(ctx: AppContext, *, devices: int = 30, requests: bool = True) -> AdminData:
    """A clinic's accounts: a dozen users of all roles, custom roles, sessions and access requests."""
    fleet = populate(ctx, devices)
    admin = step_up_admin(ctx, sign_in_admin(ctx))
    users = ctx.services.users
    role_ids: dict[str, int] = {}
    for name, (description, perms) in CUSTOM_ROLES.items():
        role = users.create_role(admin.principal, name, perms, description)
        assert role.id is not None
        role_ids[name] = role.id
    user_ids: dict[str, int] = {}
    groups = fleet.group_ids
    for username, display, role in PEOPLE:
        ref: Role | int = role if isinstance(role, Role) else role_ids[role]
        scope = [groups["Emergency"], groups["Cardiology"]] if username in {"e.natarajan", "i.tanaka"} else None
        info = users.create_user(admin.principal, username, USER_PASSWORD, ref, display_name=display, group_ids=scope)
        user_ids[username] = info.id
    sessions = {name: sign_in(ctx, name) for name in ("b.lindqvist", "d.demir", "g.santos", "i.tanaka", "e.natarajan")}
    users.disable_user(admin.principal, user_ids["k.ivanova"], "left the clinic")
    lock_out(ctx, user_ids["f.moreau"])
    request_ids: dict[str, int] = {}
    if requests:
        request_ids = seed_requests(ctx, admin, sessions, groups)
    return AdminData(fleet, user_ids, role_ids, sessions, request_ids)


def lock_out(ctx: AppContext, user_id: int, failures: int = 10) -> None:
    """Lock an account as ten failed sign-ins would (written straight to the store: the service's
    throttling would make a test wait for seconds)."""
    with ctx.uow(write=True) as uow:
        row = uow.session.get(User, user_id)
        assert row is not None
        row.failed_attempts = failures
        row.last_failed_at = dt.datetime.now(dt.UTC)
        row.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
        uow.commit()


def seed_requests(
    ctx: AppContext, admin: SessionInfo, sessions: dict[str, SessionInfo], groups: dict[str, int]
) -> dict[str, int]:
    """One access request in each state (pending, active, denied, cancelled, ended early)."""
    users = ctx.services.users
    helpdesk = sessions["d.demir"].principal
    tech = sessions["b.lindqvist"].principal
    scoped = sessions["e.natarajan"].principal
    ids: dict[str, int] = {}
    ids["pending"] = users.request_access(
        helpdesk, Permission.DEVICES_WRITE, "Ticket 4411: re-enrol the ward 3 tablets after repair", 240
    ).id
    ids["pending_group"] = users.request_access(
        scoped,
        Permission.COMMANDS_SEND_DESTRUCTIVE,
        "Lost phone reported by night nurse, ticket 4420; wipe if not found",
        60,
        group_id=groups["Emergency"],
    ).id
    ids["active"] = users.request_access(
        tech, Permission.AUDIT_READ, "Investigating the failed policy push of Monday (ticket 4398)", 8 * 60
    ).id
    ids["denied"] = users.request_access(
        helpdesk, Permission.POLICIES_WRITE, "Want to relax the passcode rule for the lobby kiosk", 24 * 60
    ).id
    ids["cancelled"] = users.request_access(
        helpdesk, Permission.CATALOG_WRITE, "Upload the new Haiku build for the pilot group", 120
    ).id
    ids["ended"] = users.request_access(
        tech, Permission.USERS_READ, "Check who still has access after the March staff changes", 3 * 24 * 60
    ).id
    step_up_admin(ctx, admin)
    users.approve_request(admin.principal, ids["active"], "OK for the investigation")
    users.deny_request(admin.principal, ids["denied"], "Needs a change request signed by the privacy officer")
    users.cancel_request(helpdesk, ids["cancelled"])
    users.approve_request(admin.principal, ids["ended"], "")
    users.revoke_grant(admin.principal, ids["ended"], "report delivered")
    return ids


def break_glass_use(ctx: AppContext) -> SessionInfo:
    """Create the emergency code and sign the administrator in with it (one unreviewed use)."""
    admin = step_up_admin(ctx, sign_in_admin(ctx))
    code = ctx.services.auth.create_emergency_code(admin.principal).codes[0]
    return ctx.services.auth.sign_in_break_glass(ADMIN_USER, ADMIN_PASSWORD, code)
