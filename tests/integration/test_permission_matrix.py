"""Every service operation as every role, against the one declarative permission table.

For each role (the four built-in ones and a custom role) a real, signed-in, stepped-up user
calls each operation. The operation must succeed exactly when the role's row in
``ROLE_PERMISSIONS`` (or the custom role's permissions) holds the operation's permission;
otherwise it must raise ``PermissionDeniedError`` and leave a ``denied`` audit entry.
Extend ``OPERATIONS`` as services grow.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mdm_desktop.domain.accounts import (
    ROLE_PERMISSIONS,
    AccessRequestStatus,
    Permission,
    Principal,
    Role,
    SessionKind,
)
from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import ConflictError, PermissionDeniedError, ValidationError
from mdm_desktop.services import security_settings
from mdm_desktop.services.catalog import CatalogService
from mdm_desktop.services.dto import AuditQuery, DeviceQuery, SessionInfo
from mdm_desktop.services.policies import PolicyService
from mdm_desktop.services.security_settings import SecuritySettings
from mdm_desktop.services.sessions import open_session
from mdm_desktop.store.schema import AccessRequest, AuditEntry, CustomRole, EmergencyCode, User, new_uid
from tests.integration.fixtures_data import DeviceSpec, add_devices, add_groups
from tests.integration.security_helpers import ADMIN, Stack, open_stack, role_user, set_up_admin

CUSTOM_PERMISSIONS = frozenset({Permission.DEVICES_READ, Permission.AUDIT_READ, Permission.POLICIES_READ})
_names = itertools.count(1)


@dataclass
class World:
    """A populated store: the set-up administrator, device groups, a device, a requester."""

    stack: Stack
    admin: SessionInfo
    groups: dict[str, int]
    device_id: int
    requester_id: int
    policies: PolicyService
    catalog: CatalogService
    sessions: dict[str, SessionInfo] = field(default_factory=dict)

    def name(self, prefix: str) -> str:
        return f"{prefix}.{next(_names)}"

    def target(self, role: Role = Role.HELPDESK) -> int:
        """A fresh account to act on (created straight in the store: fast, no audit noise)."""
        with self.stack.ctx.uow(write=True) as uow:
            uid = new_uid()
            user = User(
                uid=uid,
                username=self.name("target"),
                password_hash=self.stack.passwords.hash("amber falcon drifts softly 27"),
                role=role.value,
                disabled=False,
                failed_attempts=0,
                totp_last_step=0,
                created_at=self.stack.clock(),
            )
            uow.session.add(user)
            uow.session.flush()
            uow.commit()
            return user.id

    def custom_role(self) -> int:
        with self.stack.ctx.uow(write=True) as uow:
            row = CustomRole(
                name=self.name("Role"),
                description="",
                permissions=[Permission.DEVICES_READ.value],
                created_by=ADMIN,
                created_at=self.stack.clock(),
                updated_at=self.stack.clock(),
            )
            uow.session.add(row)
            uow.session.flush()
            uow.commit()
            return row.id

    def request(self, requester_id: int | None = None, status: str = "pending") -> int:
        """A request by the requester for identifiers (held by administrators and security officers)."""
        now = self.stack.clock()
        with self.stack.ctx.uow(write=True) as uow:
            row = AccessRequest(
                requester_id=requester_id or self.requester_id,
                permission=Permission.DEVICES_READ_IDENTIFIERS.value,
                group_id=None,
                reason="Ticket 1234: find a serial number",
                duration_minutes=30,
                status=status,
                requested_at=now,
                decision_note="",
                expires_at=now + dt.timedelta(minutes=30) if status == "approved" else None,
            )
            uow.session.add(row)
            uow.session.flush()
            uow.commit()
            return row.id

    def break_glass_use(self) -> int:
        now = self.stack.clock()
        with self.stack.ctx.uow(write=True) as uow:
            digest = uow.cipher.blind_index(self.name("code"), purpose="emergency_codes")
            assert digest is not None
            row = EmergencyCode(
                code_hash=digest,
                created_by=ADMIN,
                created_at=now,
                used_at=now,
                used_by_id=self.admin.principal.id,
                used_by=ADMIN,
            )
            uow.session.add(row)
            uow.session.flush()
            uow.commit()
            return row.id

    def session_of(self, user_id: int) -> str:
        with self.stack.ctx.uow(write=True) as uow:
            user = uow.session.get(User, user_id)
            assert user is not None
            _, row = open_session(
                uow,
                user,
                kind=SessionKind.GUI,
                workstation="ws-x",
                now=self.stack.clock(),
                settings=security_settings.load(uow),
            )
            uow.commit()
            return row.id


Call = Callable[[World, Principal], Any]


def _exception(w: World, *, approved: bool = False, by: str = "it_technician") -> int:
    """An exception of the world's device, requested by ``by`` (approved by the security officer)."""
    svc = w.stack.ctx.services.exceptions
    until = w.stack.clock().date() + dt.timedelta(days=30)
    tech = w.sessions[by]
    info = svc.request(
        tech.principal, rule_id=w.name("health"), reason="Vendor patch", until=until, device_id=w.device_id
    )
    if approved:
        w.stack.step_up(w.sessions["security_officer"])
        svc.approve(w.sessions["security_officer"].principal, info.id)
    return info.id


@dataclass(frozen=True)
class Operation:
    action: str
    permission: Permission
    call: Call
    # Business refusals that still prove the permission check passed (e.g. an administrator cannot
    # ask for access it already holds).
    tolerated: tuple[type[Exception], ...] = ()


OPERATIONS: tuple[Operation, ...] = (
    # users and roles
    Operation("users.list", Permission.USERS_READ, lambda w, p: w.stack.users.list_users(p)),
    Operation("users.view", Permission.USERS_READ, lambda w, p: w.stack.users.get_user(p, w.target())),
    Operation(
        "users.create",
        Permission.USERS_MANAGE,
        lambda w, p: w.stack.users.create_user(p, w.name("new"), "amber falcon drifts softly 27", Role.HELPDESK),
    ),
    Operation("users.disable", Permission.USERS_MANAGE, lambda w, p: w.stack.users.disable_user(p, w.target())),
    Operation("users.enable", Permission.USERS_MANAGE, lambda w, p: w.stack.users.enable_user(p, w.target())),
    Operation("users.unlock", Permission.USERS_MANAGE, lambda w, p: w.stack.users.unlock_user(p, w.target())),
    Operation(
        "users.reset_password",
        Permission.USERS_MANAGE,
        lambda w, p: w.stack.users.reset_password(p, w.target(), "violet harbour crane 42"),
    ),
    Operation("users.reset_mfa", Permission.USERS_MANAGE, lambda w, p: w.stack.users.reset_mfa(p, w.target())),
    Operation(
        "users.assign_role",
        Permission.USERS_MANAGE,
        lambda w, p: w.stack.users.assign_role(p, w.target(), Role.IT_TECHNICIAN),
    ),
    Operation(
        "users.set_scope",
        Permission.USERS_MANAGE,
        lambda w, p: w.stack.users.set_group_scope(p, w.target(), [w.groups["Ward 3"]]),
    ),
    Operation("roles.list", Permission.USERS_READ, lambda w, p: w.stack.users.list_roles(p)),
    Operation(
        "roles.create",
        Permission.USERS_MANAGE,
        lambda w, p: w.stack.users.create_role(p, w.name("Ward viewer"), {Permission.DEVICES_READ}),
    ),
    Operation(
        "roles.update",
        Permission.USERS_MANAGE,
        lambda w, p: w.stack.users.update_role(p, w.custom_role(), {Permission.DEVICES_READ, Permission.CATALOG_READ}),
    ),
    Operation("roles.delete", Permission.USERS_MANAGE, lambda w, p: w.stack.users.delete_role(p, w.custom_role())),
    # temporary access
    Operation(
        "access.request",
        Permission.ACCESS_REQUEST,
        lambda w, p: w.stack.users.request_access(
            p, Permission.DEVICES_READ_IDENTIFIERS, "Ticket 99: a serial number", 30, w.groups["Ward 3"]
        ),
        tolerated=(ValidationError,),  # "you already have this access"
    ),
    Operation(
        "access.cancel",
        Permission.ACCESS_REQUEST,
        lambda w, p: w.stack.users.cancel_request(p, w.request(requester_id=p.id)),
    ),
    Operation(
        "access.list",
        Permission.USERS_READ,
        lambda w, p: w.stack.users.list_access_requests(p, status=AccessRequestStatus.PENDING),
    ),
    Operation(
        "access.list_mine", Permission.ACCESS_REQUEST, lambda w, p: w.stack.users.list_access_requests(p, mine=True)
    ),
    Operation("access.approve", Permission.ACCESS_APPROVE, lambda w, p: w.stack.users.approve_request(p, w.request())),
    Operation("access.deny", Permission.ACCESS_APPROVE, lambda w, p: w.stack.users.deny_request(p, w.request(), "no")),
    Operation(
        "access.revoke",
        Permission.ACCESS_APPROVE,
        lambda w, p: w.stack.users.revoke_grant(p, w.request(status="approved"), "done"),
    ),
    # settings, emergency access, sessions
    Operation(
        "settings.security",
        Permission.SETTINGS_MANAGE,
        lambda w, p: w.stack.users.update_security_settings(p, SecuritySettings(step_up_minutes=5)),
    ),
    Operation("auth.emergency_code", Permission.USERS_MANAGE, lambda w, p: w.stack.auth.create_emergency_code(p)),
    Operation("auth.emergency_status", Permission.USERS_READ, lambda w, p: w.stack.auth.emergency_status(p)),
    Operation("auth.break_glass_list", Permission.AUDIT_READ, lambda w, p: w.stack.auth.list_break_glass(p)),
    Operation(
        "auth.break_glass_review",
        Permission.EMERGENCY_REVIEW,
        lambda w, p: w.stack.auth.review_break_glass(p, w.break_glass_use(), "Checked with the administrator."),
    ),
    Operation("sessions.list", Permission.USERS_READ, lambda w, p: w.stack.sessions.list_sessions(p)),
    Operation(
        "sessions.revoke",
        Permission.USERS_MANAGE,
        lambda w, p: w.stack.sessions.revoke_session(p, w.session_of(w.target())),
    ),
    # devices, audit, policies, catalog (other services, through the same session guard)
    Operation("devices.list", Permission.DEVICES_READ, lambda w, p: w.stack.devices.list_page(p, DeviceQuery())),
    Operation("devices.count", Permission.DEVICES_READ, lambda w, p: w.stack.devices.count(p, DeviceQuery())),
    Operation("devices.view", Permission.DEVICES_READ, lambda w, p: w.stack.devices.detail(p, w.device_id)),
    Operation("groups.list", Permission.DEVICES_READ, lambda w, p: w.stack.devices.groups(p)),
    Operation("audit.list", Permission.AUDIT_READ, lambda w, p: w.stack.audit_reader.list_page(p, AuditQuery())),
    Operation("audit.count", Permission.AUDIT_READ, lambda w, p: w.stack.audit_reader.count(p, AuditQuery())),
    Operation("policies.list", Permission.POLICIES_READ, lambda w, p: w.policies.list_policies(p)),
    Operation("policies.create", Permission.POLICIES_WRITE, lambda w, p: w.policies.create_policy(p, w.name("Policy"))),
    Operation("catalog.list", Permission.CATALOG_READ, lambda w, p: w.catalog.list_apps(p)),
    # compliance exceptions
    Operation(
        "compliance.exception_requested",
        Permission.POLICIES_WRITE,
        lambda w, p: w.stack.ctx.services.exceptions.request(
            p, rule_id=w.name("health"), reason="Vendor patch", until=w.stack.clock().date(), device_id=w.device_id
        ),
    ),
    Operation(
        "compliance.exception_approved",
        Permission.COMPLIANCE_EXCEPTIONS_APPROVE,
        lambda w, p: w.stack.ctx.services.exceptions.approve(p, _exception(w)),
    ),
    Operation(
        "compliance.exception_rejected",
        Permission.COMPLIANCE_EXCEPTIONS_APPROVE,
        lambda w, p: w.stack.ctx.services.exceptions.reject(p, _exception(w), "no"),
    ),
    Operation(
        "compliance.exception_revoked",
        Permission.COMPLIANCE_EXCEPTIONS_APPROVE,
        lambda w, p: w.stack.ctx.services.exceptions.revoke(
            p, _exception(w, approved=True, by="administrator"), "done"
        ),
    ),
    Operation(
        "compliance.exceptions_list",
        Permission.POLICIES_READ,
        lambda w, p: w.stack.ctx.services.exceptions.list_exceptions(p),
    ),
)

ROLES: tuple[str, ...] = (*(r.value for r in Role if r is not Role.CUSTOM), "custom")


def expected_permissions(role: str) -> frozenset[Permission]:
    return CUSTOM_PERMISSIONS if role == "custom" else ROLE_PERMISSIONS[Role(role)]


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    for stack in open_stack(store_url, tmp_path):
        admin = set_up_admin(stack)
        groups = add_groups(stack.ctx, ["Ward 3", "Pharmacy"])
        (device_id,) = add_devices(
            stack.ctx, [DeviceSpec("Ward 3 tablet", Platform.ANDROID, group_id=groups["Ward 3"])]
        )
        stack.step_up(admin)
        custom = stack.users.create_role(admin.principal, "Ward reader", CUSTOM_PERMISSIONS)
        requester = stack.make_user(admin, "req.user", Role.HELPDESK)
        w = World(
            stack,
            admin,
            groups,
            device_id,
            requester,
            PolicyService(stack.ctx.uow, stack.guard, stack.audit, stack.clock),
            CatalogService(stack.ctx.uow, stack.guard, stack.audit, stack.clock),
        )
        for role in ROLES:
            w.sessions[role] = role_user(stack, admin, f"role.{role}", custom.id if role == "custom" else Role(role))
        yield w


def denied_entries(w: World, action: str, actor: str) -> int:
    with w.stack.ctx.uow() as uow:
        return int(
            uow.session.scalar(
                select(func.count(AuditEntry.id)).where(
                    AuditEntry.action == action, AuditEntry.actor == actor, AuditEntry.outcome == "denied"
                )
            )
            or 0
        )


def test_every_operation_as_every_role(world: World) -> None:
    mismatches: list[str] = []
    for role in ROLES:
        fresh = world.stack.sessions.validate(world.sessions[role].principal)
        assert fresh.effective_permissions == expected_permissions(role), role
    for op in OPERATIONS:
        for role in ROLES:  # every session stays in use, so none goes idle
            session = world.sessions[role]
            world.stack.step_up(session)  # step-up is not what this test is about
            before = denied_entries(world, op.action, session.username)
            try:
                op.call(world, session.principal)
                outcome = "allowed"
            except PermissionDeniedError:
                outcome = "denied"
            except Exception as exc:
                if not isinstance(exc, op.tolerated):
                    raise
                outcome = "allowed"
            expected = "allowed" if op.permission in expected_permissions(role) else "denied"
            if outcome != expected:
                mismatches.append(f"{role} {op.action}: {outcome}, table says {expected}")
            elif outcome == "denied" and denied_entries(world, op.action, session.username) != before + 1:
                mismatches.append(f"{role} {op.action}: refusal not audited")
    assert mismatches == []


def test_the_matrix_covers_every_permission_used_by_the_security_services() -> None:
    covered = {op.permission for op in OPERATIONS}
    assert {
        Permission.USERS_READ,
        Permission.USERS_MANAGE,
        Permission.ACCESS_REQUEST,
        Permission.ACCESS_APPROVE,
        Permission.SETTINGS_MANAGE,
        Permission.EMERGENCY_REVIEW,
        Permission.AUDIT_READ,
        Permission.DEVICES_READ,
    } <= covered


def test_the_built_in_roles_match_the_issue() -> None:
    tech, helpdesk, officer = (ROLE_PERMISSIONS[r] for r in (Role.IT_TECHNICIAN, Role.HELPDESK, Role.SECURITY_OFFICER))
    assert ROLE_PERMISSIONS[Role.ADMINISTRATOR] == frozenset(Permission)
    assert {Permission.USERS_MANAGE, Permission.KEYS_MANAGE} & tech == set()
    assert {Permission.DEVICES_WRITE, Permission.COMMANDS_SEND_DESTRUCTIVE, Permission.POLICIES_WRITE} <= tech
    assert Permission.DEVICES_READ_IDENTIFIERS not in helpdesk
    assert Permission.COMMANDS_SEND in helpdesk
    assert Permission.COMMANDS_SEND_DESTRUCTIVE not in helpdesk
    assert {Permission.COMMANDS_SEND, Permission.COMMANDS_SEND_DESTRUCTIVE} & officer == set()
    assert {Permission.AUDIT_READ, Permission.REPORTS_READ, Permission.ACCESS_APPROVE} <= officer
    writes = {p for p in Permission if p.value.endswith((".write", ".manage", ".send", ".send_destructive"))}
    assert writes & officer == set()
    assert ROLE_PERMISSIONS[Role.CUSTOM] == frozenset()


# --- nobody grants more than they hold ------------------------------------------------------------------------


def test_limited_user_manager_cannot_grant_more_than_held(world: World) -> None:
    s = world.stack
    s.step_up(world.admin)
    manager_role = s.users.create_role(
        world.admin.principal,
        "Ward user manager",
        {Permission.USERS_MANAGE, Permission.USERS_READ, Permission.DEVICES_READ, Permission.ACCESS_REQUEST},
    )
    manager = role_user(s, world.admin, "ward.manager", manager_role.id)
    s.step_up(world.admin)
    s.users.set_group_scope(world.admin.principal, manager.principal.id or 0, [world.groups["Ward 3"]])
    s.step_up(manager)
    me = manager.principal
    # A built-in role with permissions the manager lacks.
    with pytest.raises(PermissionDeniedError, match="more access than you hold"):
        s.users.create_user(me, "x.helpdesk", "amber falcon drifts softly 27", Role.HELPDESK)
    # A custom role within its own permissions, but for every group: refused (the manager is scoped).
    reader = s.users.create_role(world.admin.principal, "Reader", {Permission.DEVICES_READ})
    with pytest.raises(PermissionDeniedError):
        s.users.create_user(me, "x.reader", "amber falcon drifts softly 27", reader.id)
    # Within permissions and within its groups: fine.
    made = s.users.create_user(
        me, "x.reader", "amber falcon drifts softly 27", reader.id, group_ids=[world.groups["Ward 3"]]
    )
    assert made.role is Role.CUSTOM
    assert made.role_label == "Reader"
    with pytest.raises(PermissionDeniedError):
        s.users.create_user(
            me, "x.reader2", "amber falcon drifts softly 27", reader.id, group_ids=[world.groups["Pharmacy"]]
        )
    # Composing a role with more than held.
    with pytest.raises(PermissionDeniedError):
        s.users.create_role(me, "Wipers", {Permission.COMMANDS_SEND_DESTRUCTIVE})
    # Not even for themselves: no own role or scope changes, no editing the role they hold.
    with pytest.raises(PermissionDeniedError):
        s.users.assign_role(me, me.id or 0, Role.ADMINISTRATOR)
    with pytest.raises(PermissionDeniedError):
        s.users.set_group_scope(me, me.id or 0, None)
    with pytest.raises(PermissionDeniedError):
        s.users.update_role(me, manager_role.id or 0, {Permission.USERS_MANAGE, Permission.KEYS_MANAGE})
    refusals = s.audit_details("users.create", "denied")
    assert any(d.get("reason") == "exceeds_own_permissions" for d in refusals)


def test_approver_must_hold_the_permission_and_not_be_the_requester(world: World) -> None:
    s = world.stack
    officer = world.sessions["security_officer"]
    helpdesk = world.sessions["helpdesk"]
    wipe = s.users.request_access(
        helpdesk.principal, Permission.COMMANDS_SEND_DESTRUCTIVE, "Lost phone on ward 3 must be wiped", 30
    )
    s.step_up(officer)
    with pytest.raises(PermissionDeniedError, match="more access"):
        s.users.approve_request(officer.principal, wipe.id)  # the officer issues no device commands
    s.step_up(world.admin)
    assert s.users.approve_request(world.admin.principal, wipe.id).status == "approved"
    own = s.users.request_access(officer.principal, Permission.DEVICES_WRITE, "Fix a device record myself", 30)
    s.step_up(officer)
    with pytest.raises(PermissionDeniedError, match="own request"):
        s.users.deny_request(officer.principal, own.id)
    with pytest.raises(ValidationError, match="role"):
        s.users.request_access(helpdesk.principal, Permission.USERS_MANAGE, "I would like to manage users", 30)


def test_last_administrator_is_kept(world: World) -> None:
    s = world.stack
    other_admin = world.sessions["administrator"]
    s.step_up(world.admin)
    with pytest.raises(ConflictError, match="own account"):
        s.users.disable_user(world.admin.principal, world.admin.principal.id or 0)
    s.step_up(other_admin)
    s.users.assign_role(other_admin.principal, world.admin.principal.id or 0, Role.HELPDESK)
    # One administrator is left: nobody (not even set-up code) can disable or demote it.
    setup = Principal.system("setup")
    with pytest.raises(ConflictError, match="last administrator"):
        s.users.assign_role(setup, other_admin.principal.id or 0, Role.SECURITY_OFFICER)
    with pytest.raises(ConflictError, match="last administrator"):
        s.users.disable_user(setup, other_admin.principal.id or 0)
    assert s.audit_details("users.disable", "denied")[-1]["reason"] == "last_administrator"
