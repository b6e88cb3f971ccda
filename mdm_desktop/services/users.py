"""Console accounts, roles, group scopes and temporary access (the Users and Access requests pages).

Every operation checks the caller's permission through a session-validating guard,
is audited in the same transaction as its change, and audits its refusals.
User and role changes need a fresh TOTP code (step-up) on the caller's session.

Least privilege rules enforced here:
- Nobody grants more than they hold: a role (built-in or custom) can be given, or a
  custom role composed, only from permissions the caller holds in every group the
  target will act on; a caller limited to some device groups can only create users
  limited to (a subset of) those groups.
- Nobody changes their own role or group scope, and nobody approves their own access
  request; the last enabled administrator cannot be disabled or demoted.
- Temporary access: a user asks for one permission (optionally in one device group)
  for a reason and a duration; someone with ``access.approve`` who holds that
  permission in that scope approves or denies; the grant ends by itself (clock).
  Administration of the console itself (users, keys, settings, approvals) is never
  granted temporarily.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, func, select

from mdm_desktop.domain.accounts import (
    BUILT_IN_ROLES,
    ROLE_PERMISSIONS,
    TEMPORARILY_GRANTABLE,
    AccessRequestStatus,
    Permission,
    Principal,
    Role,
    parse_permissions,
    username_problems,
)
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services import security_settings
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.audit_values import keyed_values
from mdm_desktop.services.auth import check_password, user_info
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import AccessRequestInfo, RoleInfo, UserInfo
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.security_settings import SecuritySettings
from mdm_desktop.services.sessions import (
    SessionGuard,
    SessionService,
    expire_due_grants,
    has_due_grants,
    revoke_user_sessions,
)
from mdm_desktop.store.schema import (
    AccessRequest,
    CustomRole,
    DeviceGroup,
    RecoveryCode,
    User,
    UserGroupScope,
    new_uid,
)
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

RoleRef = Role | int
"""A built-in role, or the id of a custom role."""

ROLE_NAME_MAX = 64
REASON_MIN = 10
REASON_MAX = 2000
MIN_ACCESS_MINUTES = 15


class UserService:
    """Users, roles, scopes, temporary access and security settings.

    Args:
        uow: Unit-of-work factory.
        guard: The shared guard; a :class:`SessionGuard` is used as it is, any other guard is
            replaced by a session-requiring one (user management always needs a session).
        audit: Audit log writer.
        clock: Source of UTC time.
        passwords: Argon2id hasher for new and reset passwords.
        sessions: Session service (taken from a :class:`SessionGuard` when omitted).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        guard: Guard,
        audit: AuditLog,
        clock: Clock,
        passwords: PasswordHashing | None = None,
        sessions: SessionService | None = None,
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._clock = clock
        self._passwords = passwords or PasswordHashing()
        if sessions is None:
            sessions = (
                guard.sessions if isinstance(guard, SessionGuard) else SessionService(uow, audit, clock, passwords)
            )
        self._sessions = sessions
        self._guard = SessionGuard(uow, audit, sessions, require_session=True)

    # -- users -------------------------------------------------------------------------------------------

    def list_users(self, actor: Principal) -> tuple[UserInfo, ...]:
        """Every account, by user name."""
        self._guard.authorize(actor, Permission.USERS_READ, "users.list")
        with self._uow() as uow:
            users = uow.session.scalars(select(User).order_by(User.username)).all()
            return tuple(user_info(uow, u) for u in users)

    def get_user(self, actor: Principal, user_id: int) -> UserInfo:
        """One account."""
        self._guard.authorize(actor, Permission.USERS_READ, "users.view", str(user_id))
        with self._uow() as uow:
            return user_info(uow, self._user(uow, user_id))

    @mutating("users.create")
    def create_user(
        self,
        actor: Principal,
        username: str,
        password: str,
        role: RoleRef,
        *,
        display_name: str = "",
        group_ids: Iterable[int] | None = None,
    ) -> UserInfo:
        """Create an account (it enrols an authenticator at its first sign-in).

        Raises:
            ValidationError: Bad user name, password, role or groups.
            ConflictError: The user name is taken.
            PermissionDeniedError: The role or scope gives more than the caller holds.
        """
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.create", username[:64])
        problems = username_problems(username)
        if problems:
            raise ValidationError(" ".join(problems))
        scope = None if group_ids is None else frozenset(group_ids)
        now = self._clock()
        with self._uow(write=True) as uow:
            perms, role_value, custom_id, label = self._resolve_role(uow, role)
            self._check_groups(uow, scope)
            self._check_within(uow, fresh, "users.create", username, perms, scope)
            if uow.session.scalar(select(User.id).where(User.username == username)) is not None:
                raise ConflictError(f"The user name '{username}' is taken.", hint="Choose another user name.")
            check_password(uow, security_settings.load(uow), password, username=username, display_name=display_name)
            uid = new_uid()
            user = User(
                uid=uid,
                username=username,
                display_name_sealed=uow.cipher.seal(
                    display_name or username, table="users", column="display_name", row=uid
                ),
                password_hash=self._passwords.hash(password),
                role=role_value,
                custom_role_id=custom_id,
                disabled=False,
                failed_attempts=0,
                totp_last_step=0,
                created_at=now,
                password_changed_at=now,
            )
            uow.session.add(user)
            uow.session.flush()
            for gid in sorted(scope or ()):
                uow.session.add(UserGroupScope(user_id=user.id, group_id=gid))
            self._audit.record(
                uow,
                fresh,
                "users.create",
                target_kind="user",
                target=username,
                details={
                    "role": label,
                    "groups": sorted(scope) if scope is not None else "all",
                    **keyed_values(uow.cipher, display_name=display_name),
                },
            )
            uow.session.flush()
            info = user_info(uow, user, display_name or username)
            uow.commit()
            return info

    @mutating("users.disable")
    def disable_user(self, actor: Principal, user_id: int, reason: str = "") -> UserInfo:
        """Disable an account and end its sessions everywhere."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.disable", str(user_id))
        now = self._clock()
        with self._uow(write=True) as uow:
            user = self._user(uow, user_id)
            if user.id == fresh.id:
                self._refuse(uow, fresh, "users.disable", user.username, "own_account")
                raise ConflictError("You cannot disable your own account.", hint="Ask another administrator.")
            if not user.disabled:
                self._keep_an_administrator(uow, fresh, user, "users.disable")
                user.disabled = True
            ended = revoke_user_sessions(uow, user.id, now, "disabled")
            self._audit.record(
                uow,
                fresh,
                "users.disable",
                target_kind="user",
                target=user.username,
                details={"reason": reason.strip()[:500], "sessions_ended": ended},
            )
            info = user_info(uow, user)
            uow.commit()
            return info

    @mutating("users.enable")
    def enable_user(self, actor: Principal, user_id: int) -> UserInfo:
        """Enable a disabled account."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.enable", str(user_id))
        with self._uow(write=True) as uow:
            user = self._user(uow, user_id)
            user.disabled = False
            self._audit.record(uow, fresh, "users.enable", target_kind="user", target=user.username)
            info = user_info(uow, user)
            uow.commit()
            return info

    @mutating("users.unlock")
    def unlock_user(self, actor: Principal, user_id: int) -> UserInfo:
        """Lift a lockout and reset the failure count."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.unlock", str(user_id))
        with self._uow(write=True) as uow:
            user = self._user(uow, user_id)
            was_locked_until = user.locked_until
            failures = user.failed_attempts
            user.locked_until = None
            user.failed_attempts = 0
            user.last_failed_at = None
            self._audit.record(
                uow,
                fresh,
                "users.unlock",
                target_kind="user",
                target=user.username,
                details={"locked_until": was_locked_until, "failures": failures},
            )
            info = user_info(uow, user)
            uow.commit()
            return info

    @mutating("users.reset_password")
    def reset_password(self, actor: Principal, user_id: int, new_password: str) -> UserInfo:
        """Set a new password for someone (tell them in person); ends their sessions everywhere."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.reset_password", str(user_id))
        now = self._clock()
        with self._uow(write=True) as uow:
            user = self._user(uow, user_id)
            display = uow.cipher.open(user.display_name_sealed, table="users", column="display_name", row=user.uid)
            check_password(
                uow, security_settings.load(uow), new_password, username=user.username, display_name=display or ""
            )
            user.password_hash = self._passwords.hash(new_password)
            user.password_changed_at = now
            ended = revoke_user_sessions(uow, user.id, now, "password_reset")
            self._audit.record(
                uow,
                fresh,
                "users.reset_password",
                target_kind="user",
                target=user.username,
                details={"sessions_ended": ended},
            )
            info = user_info(uow, user)
            uow.commit()
            return info

    @mutating("users.reset_mfa")
    def reset_mfa(self, actor: Principal, user_id: int) -> UserInfo:
        """Remove someone's authenticator and recovery codes; they enrol again at the next sign-in.

        Ends their sessions everywhere (the caller's own too, when resetting their own MFA).
        """
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.reset_mfa", str(user_id))
        now = self._clock()
        with self._uow(write=True) as uow:
            user = self._user(uow, user_id)
            had = user.totp_secret_sealed is not None
            user.totp_secret_sealed = None
            user.totp_pending_sealed = None
            user.totp_enrolled_at = None
            uow.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
            ended = revoke_user_sessions(uow, user.id, now, "mfa_reset")
            self._audit.record(
                uow,
                fresh,
                "users.reset_mfa",
                target_kind="user",
                target=user.username,
                details={"had_authenticator": had, "sessions_ended": ended},
            )
            info = user_info(uow, user)
            uow.commit()
            return info

    @mutating("users.assign_role")
    def assign_role(self, actor: Principal, user_id: int, role: RoleRef) -> UserInfo:
        """Give a user a built-in or custom role; ends their sessions (they sign in with the new role)."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.assign_role", str(user_id))
        now = self._clock()
        with self._uow(write=True) as uow:
            user = self._user(uow, user_id)
            if user.id == fresh.id:
                self._refuse(uow, fresh, "users.assign_role", user.username, "own_account")
                raise PermissionDeniedError(
                    "You cannot change your own role.", hint="Ask another administrator to do it."
                )
            perms, role_value, custom_id, label = self._resolve_role(uow, role)
            scope = self._scope_of(uow, user.id)
            self._check_within(uow, fresh, "users.assign_role", user.username, perms, scope)
            before = user_info(uow, user).role_label
            if role_value != Role.ADMINISTRATOR.value:
                self._keep_an_administrator(uow, fresh, user, "users.assign_role")
            user.role = role_value
            user.custom_role_id = custom_id
            ended = revoke_user_sessions(uow, user.id, now, "role_changed")
            self._audit.record(
                uow,
                fresh,
                "users.assign_role",
                target_kind="user",
                target=user.username,
                details={"from": before, "to": label, "sessions_ended": ended},
            )
            uow.session.flush()
            info = user_info(uow, user)
            uow.commit()
            return info

    @mutating("users.set_scope")
    def set_group_scope(self, actor: Principal, user_id: int, group_ids: Iterable[int] | None) -> UserInfo:
        """Limit a user's role to device groups (``None``: every group). Applies on their next call."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "users.set_scope", str(user_id))
        scope = None if group_ids is None else frozenset(group_ids)
        if scope is not None and not scope:
            raise ValidationError("Choose at least one device group, or 'all groups'.")
        with self._uow(write=True) as uow:
            user = self._user(uow, user_id)
            if user.id == fresh.id:
                self._refuse(uow, fresh, "users.set_scope", user.username, "own_account")
                raise PermissionDeniedError("You cannot change your own device groups.")
            self._check_groups(uow, scope)
            perms = self._permissions_of(uow, user)
            self._check_within(uow, fresh, "users.set_scope", user.username, perms, scope)
            before = self._scope_of(uow, user.id)
            uow.session.execute(delete(UserGroupScope).where(UserGroupScope.user_id == user.id))
            for gid in sorted(scope or ()):
                uow.session.add(UserGroupScope(user_id=user.id, group_id=gid))
            self._audit.record(
                uow,
                fresh,
                "users.set_scope",
                target_kind="user",
                target=user.username,
                details={
                    "from": sorted(before) if before is not None else "all",
                    "to": sorted(scope) if scope is not None else "all",
                },
            )
            uow.session.flush()
            info = user_info(uow, user)
            uow.commit()
            return info

    # -- roles -------------------------------------------------------------------------------------------

    def list_roles(self, actor: Principal) -> tuple[RoleInfo, ...]:
        """Built-in roles (in table order), then custom roles by name, with how many users hold each."""
        self._guard.authorize(actor, Permission.USERS_READ, "roles.list")
        with self._uow() as uow:
            built_in_counts = dict(
                uow.session.execute(
                    select(User.role, func.count(User.id)).where(User.custom_role_id.is_(None)).group_by(User.role)
                ).all()
            )
            custom_counts = dict(
                uow.session.execute(
                    select(User.custom_role_id, func.count(User.id))
                    .where(User.custom_role_id.is_not(None))
                    .group_by(User.custom_role_id)
                ).all()
            )
            out = [
                RoleInfo(
                    id=None,
                    role=r,
                    name=r.label,
                    description="",
                    permissions=ROLE_PERMISSIONS[r],
                    built_in=True,
                    user_count=int(built_in_counts.get(r.value, 0)),
                )
                for r in BUILT_IN_ROLES
            ]
            for row in uow.session.scalars(select(CustomRole).order_by(CustomRole.name)).all():
                out.append(_role_info(row, int(custom_counts.get(row.id, 0))))
            return tuple(out)

    @mutating("roles.create")
    def create_role(
        self, actor: Principal, name: str, permissions: Iterable[Permission], description: str = ""
    ) -> RoleInfo:
        """Compose a custom role from the permission table (only from permissions the caller holds)."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "roles.create", name[:64])
        name = " ".join(name.split())
        perms = frozenset(permissions)
        self._check_role_input(name, perms)
        now = self._clock()
        with self._uow(write=True) as uow:
            self._check_within(uow, fresh, "roles.create", name, perms, None)
            if uow.session.scalar(select(CustomRole.id).where(func.lower(CustomRole.name) == name.lower())):
                raise ConflictError(f"A role named '{name}' exists.", hint="Choose another name.")
            row = CustomRole(
                name=name,
                description=description.strip()[:2000],
                permissions=sorted(p.value for p in perms),
                created_by=fresh.name,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(row)
            uow.session.flush()
            self._audit.record(
                uow,
                fresh,
                "roles.create",
                target_kind="role",
                target=name,
                details={"permissions": sorted(p.value for p in perms)},
            )
            info = _role_info(row, 0)
            uow.commit()
            return info

    @mutating("roles.update")
    def update_role(
        self,
        actor: Principal,
        role_id: int,
        permissions: Iterable[Permission],
        description: str | None = None,
    ) -> RoleInfo:
        """Change a custom role's permissions; holders who lose a permission have their sessions ended."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "roles.update", str(role_id))
        perms = frozenset(permissions)
        now = self._clock()
        with self._uow(write=True) as uow:
            row = uow.session.get(CustomRole, role_id)
            if row is None:
                raise NotFoundError("That role does not exist.", hint="Refresh the list.")
            self._check_role_input(row.name, perms)
            if fresh.id is not None and uow.session.scalar(
                select(User.id).where(User.id == fresh.id, User.custom_role_id == role_id)
            ):
                self._refuse(uow, fresh, "roles.update", row.name, "own_role")
                raise PermissionDeniedError("You cannot change the role you hold yourself.")
            holders = uow.session.scalars(select(User.id).where(User.custom_role_id == role_id)).all()
            for holder in holders:
                self._check_within(uow, fresh, "roles.update", row.name, perms, self._scope_of(uow, holder))
            before = parse_permissions(row.permissions)
            row.permissions = sorted(p.value for p in perms)
            if description is not None:
                row.description = description.strip()[:2000]
            row.updated_at = now
            ended = 0
            if before - perms:
                for holder in holders:
                    ended += revoke_user_sessions(uow, holder, now, "role_changed")
            self._audit.record(
                uow,
                fresh,
                "roles.update",
                target_kind="role",
                target=row.name,
                details={
                    "added": sorted(p.value for p in perms - before),
                    "removed": sorted(p.value for p in before - perms),
                    "sessions_ended": ended,
                },
            )
            info = _role_info(row, len(holders))
            uow.commit()
            return info

    @mutating("roles.delete")
    def delete_role(self, actor: Principal, role_id: int) -> None:
        """Delete a custom role nobody holds."""
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "roles.delete", str(role_id))
        with self._uow(write=True) as uow:
            row = uow.session.get(CustomRole, role_id)
            if row is None:
                raise NotFoundError("That role does not exist.", hint="Refresh the list.")
            holders = int(uow.session.scalar(select(func.count(User.id)).where(User.custom_role_id == role_id)) or 0)
            if holders:
                raise ConflictError(
                    f"{holders} user(s) hold the role '{row.name}'.", hint="Give them another role first."
                )
            name = row.name
            uow.session.delete(row)
            self._audit.record(uow, fresh, "roles.delete", target_kind="role", target=name)
            uow.commit()

    # -- temporary access --------------------------------------------------------------------------------

    @mutating("access.request")
    def request_access(
        self,
        actor: Principal,
        permission: Permission,
        reason: str,
        duration_minutes: int,
        group_id: int | None = None,
    ) -> AccessRequestInfo:
        """Ask for ``permission`` (in ``group_id``, or every group) for ``duration_minutes``."""
        fresh = self._guard.authorize(actor, Permission.ACCESS_REQUEST, "access.request", permission.value)
        reason = " ".join(reason.split())
        now = self._clock()
        with self._uow(write=True) as uow:
            settings = security_settings.load(uow)
            self._check_request_input(permission, reason, duration_minutes, settings)
            if group_id is not None:
                self._check_groups(uow, frozenset({group_id}))
            if fresh.can_in_group(permission, group_id):
                raise ValidationError("You already have this access.")
            dup = uow.session.scalar(
                select(AccessRequest.id).where(
                    AccessRequest.requester_id == fresh.id,
                    AccessRequest.permission == permission.value,
                    AccessRequest.status == AccessRequestStatus.PENDING.value,
                    AccessRequest.group_id.is_(None) if group_id is None else AccessRequest.group_id == group_id,
                )
            )
            if dup is not None:
                raise ConflictError("You already asked for this; it is waiting for a decision.")
            assert fresh.id is not None
            row = AccessRequest(
                requester_id=fresh.id,
                permission=permission.value,
                group_id=group_id,
                reason=reason,
                duration_minutes=duration_minutes,
                status=AccessRequestStatus.PENDING.value,
                requested_at=now,
                decision_note="",
            )
            uow.session.add(row)
            uow.session.flush()
            self._audit.record(
                uow,
                fresh,
                "access.request",
                target_kind="access_request",
                target=str(row.id),
                details={
                    "permission": permission.value,
                    "group_id": group_id,
                    "minutes": duration_minutes,
                    "reason": reason[:500],
                },
            )
            info = self._request_info(uow, row)
            uow.commit()
            return info

    @mutating("access.cancel")
    def cancel_request(self, actor: Principal, request_id: int) -> AccessRequestInfo:
        """Withdraw one's own pending request."""
        fresh = self._guard.authorize(actor, Permission.ACCESS_REQUEST, "access.cancel", str(request_id))
        now = self._clock()
        with self._uow(write=True) as uow:
            row = self._request(uow, request_id)
            if row.requester_id != fresh.id:
                self._refuse(uow, fresh, "access.cancel", str(request_id), "not_own_request")
                raise PermissionDeniedError("Only the person who asked can withdraw a request.")
            if row.status != AccessRequestStatus.PENDING.value:
                raise ConflictError(f"This request is already {row.status}.")
            row.status = AccessRequestStatus.CANCELLED.value
            row.decided_at = now
            self._audit.record(uow, fresh, "access.cancel", target_kind="access_request", target=str(row.id))
            info = self._request_info(uow, row)
            uow.commit()
            return info

    @mutating("access.approve")
    def approve_request(self, actor: Principal, request_id: int, note: str = "") -> AccessRequestInfo:
        """Approve a pending request; the grant runs from now for the requested duration (step-up)."""
        fresh = self._guard.authorize(actor, Permission.ACCESS_APPROVE, "access.approve", str(request_id))
        self._sessions.require_step_up(fresh, "access.approve")
        return self._decide(fresh, request_id, note, approve=True)

    @mutating("access.deny")
    def deny_request(self, actor: Principal, request_id: int, note: str = "") -> AccessRequestInfo:
        """Deny a pending request."""
        fresh = self._guard.authorize(actor, Permission.ACCESS_APPROVE, "access.deny", str(request_id))
        return self._decide(fresh, request_id, note, approve=False)

    @mutating("access.revoke")
    def revoke_grant(self, actor: Principal, request_id: int, note: str = "") -> AccessRequestInfo:
        """End an approved grant before its time (access.approve)."""
        fresh = self._guard.authorize(actor, Permission.ACCESS_APPROVE, "access.revoke", str(request_id))
        now = self._clock()
        with self._uow(write=True) as uow:
            row = self._request(uow, request_id)
            if row.status != AccessRequestStatus.APPROVED.value:
                raise ConflictError(f"This request is {row.status}, not an active grant.")
            row.status = AccessRequestStatus.EXPIRED.value
            row.expires_at = now
            row.decision_note = (row.decision_note + " / ended early: " + note.strip()).strip(" /")[:2000]
            self._audit.record(
                uow,
                fresh,
                "access.revoke",
                target_kind="access_request",
                target=str(row.id),
                details={"note": note.strip()[:500]},
            )
            info = self._request_info(uow, row)
            uow.commit()
            return info

    def list_access_requests(
        self, actor: Principal, *, status: AccessRequestStatus | None = None, mine: bool = False
    ) -> tuple[AccessRequestInfo, ...]:
        """Requests, newest first: one's own (``mine``), or everyone's (access.approve or users.read)."""
        if mine:
            needed = Permission.ACCESS_REQUEST
        else:
            needed = Permission.ACCESS_APPROVE if actor.can(Permission.ACCESS_APPROVE) else Permission.USERS_READ
        fresh = self._guard.authorize(actor, needed, "access.list_mine" if mine else "access.list")
        self.expire_due()
        with self._uow() as uow:
            stmt = select(AccessRequest).order_by(AccessRequest.id.desc())
            if mine:
                stmt = stmt.where(AccessRequest.requester_id == fresh.id)
            if status is not None:
                stmt = stmt.where(AccessRequest.status == status.value)
            rows = uow.session.scalars(stmt).all()
            # A permission this program does not know (written by a newer one) is not listed.
            return tuple(self._request_info(uow, row) for row in rows if parse_permissions([row.permission]))

    @mutating("access.expired", entries=0)
    def expire_due(self) -> int:
        """End every grant whose time is up (audited as ``access.expired``); return how many."""
        now = self._clock()
        with self._uow() as uow:
            if not has_due_grants(uow, now):
                return 0
        with self._uow(write=True) as uow:
            count = expire_due_grants(uow, self._audit, now)
            uow.commit()
            return count

    # -- settings ----------------------------------------------------------------------------------------

    def security_settings(self, actor: Principal) -> SecuritySettings:
        """The site's security settings (anyone signed in may read them)."""
        self._sessions.validate(actor)
        with self._uow() as uow:
            return security_settings.load(uow)

    @mutating("settings.security")
    def update_security_settings(self, actor: Principal, settings: SecuritySettings) -> SecuritySettings:
        """Change the site's security settings (settings.manage, step-up); audited with old and new values."""
        fresh = self._guard.authorize(actor, Permission.SETTINGS_MANAGE, "settings.security")
        now = self._clock()
        with self._uow(write=True) as uow:
            changed = security_settings.save(uow, settings, now)
            if changed:
                self._audit.record(
                    uow,
                    fresh,
                    "settings.security",
                    target_kind="settings",
                    target="security",
                    details={k: {"from": old, "to": new} for k, (old, new) in changed.items()},
                )
            uow.commit()
            return security_settings.load(uow)

    # -- internals ---------------------------------------------------------------------------------------

    def _decide(self, fresh: Principal, request_id: int, note: str, *, approve: bool) -> AccessRequestInfo:
        action = "access.approve" if approve else "access.deny"
        now = self._clock()
        with self._uow(write=True) as uow:
            row = self._request(uow, request_id)
            if row.requester_id == fresh.id:
                self._refuse(uow, fresh, action, str(request_id), "own_request")
                raise PermissionDeniedError(
                    "You cannot decide on your own request.", hint="Another approver must decide."
                )
            if row.status != AccessRequestStatus.PENDING.value:
                raise ConflictError(f"This request is already {row.status}.")
            perms = parse_permissions([row.permission])
            if approve:
                scope = None if row.group_id is None else frozenset({row.group_id})
                self._check_within(uow, fresh, action, str(request_id), perms, scope)
                settings = security_settings.load(uow)
                minutes = min(row.duration_minutes, settings.access_max_hours * 60)
                row.status = AccessRequestStatus.APPROVED.value
                row.expires_at = now + dt.timedelta(minutes=minutes)
            else:
                row.status = AccessRequestStatus.DENIED.value
            row.decided_by_id = fresh.id
            row.decided_at = now
            row.decision_note = note.strip()[:2000]
            self._audit.record(
                uow,
                fresh,
                action,
                target_kind="access_request",
                target=str(row.id),
                details={
                    "permission": row.permission,
                    "group_id": row.group_id,
                    "expires_at": row.expires_at,
                    "note": note.strip()[:500],
                },
            )
            info = self._request_info(uow, row)
            uow.commit()
            return info

    @staticmethod
    def _user(uow: UnitOfWork, user_id: int) -> User:
        user = uow.session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"User {user_id} does not exist.", hint="Refresh the list of users.")
        return user

    @staticmethod
    def _request(uow: UnitOfWork, request_id: int) -> AccessRequest:
        row = uow.session.get(AccessRequest, request_id)
        if row is None:
            raise NotFoundError(f"Access request {request_id} does not exist.", hint="Refresh the list.")
        return row

    @staticmethod
    def _resolve_role(uow: UnitOfWork, role: RoleRef) -> tuple[frozenset[Permission], str, int | None, str]:
        """(permissions, users.role value, custom role id, label) for ``role``."""
        if isinstance(role, Role):
            if role is Role.CUSTOM:
                raise ValidationError("Choose a built-in role or one of the custom roles.")
            return ROLE_PERMISSIONS[role], role.value, None, role.label
        row = uow.session.get(CustomRole, int(role))
        if row is None:
            raise ValidationError("That custom role does not exist.", hint="Refresh the list of roles.")
        return parse_permissions(row.permissions), Role.CUSTOM.value, row.id, row.name

    @staticmethod
    def _permissions_of(uow: UnitOfWork, user: User) -> frozenset[Permission]:
        if user.custom_role_id is not None:
            row = uow.session.get(CustomRole, user.custom_role_id)
            return parse_permissions(row.permissions) if row is not None else frozenset()
        try:
            return ROLE_PERMISSIONS[Role(user.role)]
        except ValueError:
            return frozenset()

    @staticmethod
    def _scope_of(uow: UnitOfWork, user_id: int) -> frozenset[int] | None:
        rows = uow.session.scalars(select(UserGroupScope.group_id).where(UserGroupScope.user_id == user_id)).all()
        return frozenset(int(g) for g in rows) if rows else None

    @staticmethod
    def _check_groups(uow: UnitOfWork, scope: frozenset[int] | None) -> None:
        if not scope:
            return
        found = set(uow.session.scalars(select(DeviceGroup.id).where(DeviceGroup.id.in_(sorted(scope)))).all())
        missing = sorted(scope - found)
        if missing:
            raise ValidationError(
                f"Device group(s) {', '.join(map(str, missing))} do not exist.", hint="Refresh the list of groups."
            )

    def _check_within(
        self,
        uow: UnitOfWork,
        actor: Principal,
        action: str,
        target: str,
        permissions: frozenset[Permission],
        scope: frozenset[int] | None,
    ) -> None:
        """Refuse (audited) when ``permissions`` in ``scope`` exceed what ``actor`` holds."""
        exceeding: list[str] = []
        for perm in sorted(permissions, key=lambda p: p.value):
            held = actor.groups_for(perm)
            if held is None:
                continue
            if scope is None or not scope <= held:
                exceeding.append(perm.value)
        if exceeding:
            self._refuse(uow, actor, action, target, "exceeds_own_permissions", {"permissions": exceeding})
            raise PermissionDeniedError(
                "You cannot give more access than you hold yourself.",
                hint=f"Not held by you (in those groups): {', '.join(exceeding)}.",
            )

    def _keep_an_administrator(self, uow: UnitOfWork, actor: Principal, user: User, action: str) -> None:
        if user.role != Role.ADMINISTRATOR.value or user.custom_role_id is not None or user.disabled:
            return
        others = int(
            uow.session.scalar(
                select(func.count(User.id)).where(
                    User.id != user.id,
                    User.role == Role.ADMINISTRATOR.value,
                    User.custom_role_id.is_(None),
                    User.disabled.is_(False),
                )
            )
            or 0
        )
        if others == 0:
            self._refuse(uow, actor, action, user.username, "last_administrator")
            raise ConflictError(
                f"{user.username} is the last administrator.", hint="Make someone else an administrator first."
            )

    def _refuse(
        self,
        uow: UnitOfWork,
        actor: Principal,
        action: str,
        target: str,
        reason: str,
        extra: dict[str, object] | None = None,
    ) -> None:
        """Audit a refusal and commit it in ``uow``, whose work so far holds no change.

        Every refusal is decided before anything is modified, so committing here writes the
        audit entry only. (A second write transaction would wait on SQLite's write lock.)
        """
        self._audit.record(
            uow,
            actor,
            action,
            target_kind="user",
            target=target[:255],
            outcome=Outcome.DENIED,
            details={"reason": reason, **(extra or {})},
        )
        uow.commit()

    @staticmethod
    def _check_role_input(name: str, perms: frozenset[Permission]) -> None:
        if not name:
            raise ValidationError("Give the role a name.")
        if len(name) > ROLE_NAME_MAX:
            raise ValidationError(f"Use at most {ROLE_NAME_MAX} characters for the role name.")
        if name.casefold() in {r.label.casefold() for r in Role} | {r.value for r in Role}:
            raise ValidationError(f"'{name}' is a built-in role's name.", hint="Choose another name.")
        if not perms:
            raise ValidationError("Choose at least one permission.")

    @staticmethod
    def _check_request_input(
        permission: Permission, reason: str, duration_minutes: int, settings: SecuritySettings
    ) -> None:
        if permission not in TEMPORARILY_GRANTABLE:
            raise ValidationError(
                f"'{permission.label}' is given by a role, not by a temporary request.",
                hint="Ask an administrator to change your role.",
            )
        if len(reason) < REASON_MIN:
            raise ValidationError("Say why you need it (a ticket number, a device, a patient-safety reason).")
        if len(reason) > REASON_MAX:
            raise ValidationError(f"Keep the reason under {REASON_MAX} characters.")
        longest = settings.access_max_hours * 60
        if isinstance(duration_minutes, bool) or not MIN_ACCESS_MINUTES <= duration_minutes <= longest:
            raise ValidationError(
                f"Ask for between {MIN_ACCESS_MINUTES} minutes and {settings.access_max_hours} hours."
            )

    @staticmethod
    def _request_info(uow: UnitOfWork, row: AccessRequest) -> AccessRequestInfo:
        requester = uow.session.get(User, row.requester_id)
        decider = uow.session.get(User, row.decided_by_id) if row.decided_by_id is not None else None
        group = uow.session.get(DeviceGroup, row.group_id) if row.group_id is not None else None
        return AccessRequestInfo(
            id=row.id,
            requester_id=row.requester_id,
            requester=requester.username if requester is not None else "",
            permission=Permission(row.permission),
            group_id=row.group_id,
            group_name=group.name if group is not None else "",
            reason=row.reason,
            duration_minutes=row.duration_minutes,
            status=row.status,
            requested_at=row.requested_at,
            decided_by=decider.username if decider is not None else "",
            decided_at=row.decided_at,
            decision_note=row.decision_note,
            expires_at=row.expires_at,
        )


def _role_info(row: CustomRole, user_count: int) -> RoleInfo:
    return RoleInfo(
        id=row.id,
        role=Role.CUSTOM,
        name=row.name,
        description=row.description,
        permissions=parse_permissions(row.permissions),
        built_in=False,
        user_count=user_count,
    )
