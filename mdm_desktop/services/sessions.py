"""Console sessions: idle and absolute limits, revocation, step-up, and the session-aware guard.

A session is opened by a successful sign-in (:mod:`mdm_desktop.services.auth`). Its
bearer token lives only in the caller's memory (GUI) or in an owner-only file (CLI);
the store keeps the token's SHA-256 as the row id, so a copy of the database
cannot be used to resume anyone's session.

Every service call made with a session-bearing principal goes through
:meth:`SessionService.validate` (via :class:`SessionGuard`), which refuses the call when
the session was revoked (password or MFA change, account disabled, role removed, sign
out), has been idle longer than the idle timeout, or has passed its absolute
lifetime; and which rebuilds the principal from the store, so a role change or an
expired temporary grant takes effect on the very next call on every workstation.

All times come from the injected clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select, update

from mdm_desktop.domain.accounts import (
    ROLE_PERMISSIONS,
    STEP_UP_PERMISSIONS,
    AccessRequestStatus,
    Permission,
    Principal,
    Role,
    ScopedGrant,
    SessionEndedError,
    SessionKind,
    StepUpRequiredError,
    parse_permissions,
)
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import AuthenticationError, NotFoundError
from mdm_desktop.security import totp
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services import security_settings
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import ConsoleSessionInfo, SessionInfo, SessionStatus
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.security_settings import SecuritySettings
from mdm_desktop.store.schema import AccessRequest, ConsoleSession, CustomRole, User, UserGroupScope
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

TOUCH_GRANULARITY = dt.timedelta(seconds=15)
"""``last_seen_at`` is written at most this often (each write is a write transaction)."""

CLOCK_ACTOR = Principal.system("clock")

STEP_UP_FAILED = "The code is not right or was already used."
STEP_UP_FAILED_HINT = "Wait for the next code in your authenticator app and enter it."

_END_MESSAGES = {
    "idle": "The console was idle too long and has been locked.",
    "expired": "Your session has reached its time limit.",
    "revoked": "Your session was ended.",
    "revoked_by_admin": "An administrator ended your session.",
    "signed_out": "You signed out.",
    "disabled": "Your account has been disabled.",
    "password_changed": "Your password was changed, so your other sessions were ended.",
    "password_reset": "An administrator reset your password.",
    "mfa_changed": "Your authenticator was changed, so your other sessions were ended.",
    "mfa_reset": "An administrator reset your authenticator.",
    "role_changed": "Your role was changed.",
    "locked": "Your account was locked after too many failed attempts.",
    "unknown": "You are not signed in.",
}


def new_token() -> str:
    """A fresh bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """The stored id of a session: SHA-256 of its token (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def role_of(user: User) -> Role:
    """The user's role; an unknown stored value (newer program) grants nothing."""
    try:
        return Role(user.role)
    except ValueError:
        return Role.CUSTOM


def build_principal(
    uow: UnitOfWork, user: User, *, workstation: str, token: str, now: dt.datetime, break_glass: bool = False
) -> Principal:
    """The principal for ``user`` as the store says now: role or custom role, group scope, active grants.

    An account without an enrolled authenticator (new, or after an MFA reset) signed in with its password
    alone, so it holds **no permission** until it enrols one (``AuthService.begin_totp_enrolment`` /
    ``confirm_totp_enrolment`` need none): a password by itself never opens the console's data. Only a
    break-glass session (password + the sealed emergency code) is exempt.
    """
    role = role_of(user)
    if user.totp_secret_sealed is None and not break_glass:
        return Principal(
            kind="user",
            id=user.id,
            name=user.username,
            role=role,
            workstation=workstation,
            permissions=frozenset(),
            session_token=token,
        )
    permissions: frozenset[Permission] | None = None
    role_name = ""
    if user.custom_role_id is not None:
        custom = uow.session.get(CustomRole, user.custom_role_id)
        role = Role.CUSTOM
        if custom is not None:
            permissions = parse_permissions(custom.permissions)
            role_name = custom.name
        else:
            permissions = frozenset()
    elif role is Role.CUSTOM:
        permissions = frozenset()
    scope_rows = uow.session.scalars(select(UserGroupScope.group_id).where(UserGroupScope.user_id == user.id)).all()
    group_scope = frozenset(int(g) for g in scope_rows) if scope_rows else None
    grants: list[ScopedGrant] = []
    unscoped: set[Permission] = set()
    for perm_value, group_id in uow.session.execute(
        select(AccessRequest.permission, AccessRequest.group_id).where(
            AccessRequest.requester_id == user.id,
            AccessRequest.status == AccessRequestStatus.APPROVED.value,
            AccessRequest.expires_at > now,
        )
    ):
        for perm in parse_permissions([perm_value]):
            if group_id is None:
                unscoped.add(perm)
            else:
                grants.append(ScopedGrant(perm, int(group_id)))
    if unscoped:
        base = permissions if permissions is not None else ROLE_PERMISSIONS[role]
        permissions = base | unscoped
    return Principal(
        kind="user",
        id=user.id,
        name=user.username,
        role=role,
        workstation=workstation,
        permissions=permissions,
        group_scope=group_scope,
        grants=tuple(sorted(grants, key=lambda g: (g.permission.value, g.group_id))),
        session_token=token,
        role_name=role_name,
    )


def open_session(
    uow: UnitOfWork,
    user: User,
    *,
    kind: SessionKind,
    workstation: str,
    now: dt.datetime,
    settings: SecuritySettings,
    step_up: bool = False,
) -> tuple[str, ConsoleSession]:
    """Insert a session row for ``user`` in ``uow``'s transaction; return its token and row."""
    token = new_token()
    lifetime = settings.break_glass_lifetime if kind is SessionKind.BREAK_GLASS else settings.absolute_lifetime
    row = ConsoleSession(
        id=token_id(token),
        user_id=user.id,
        kind=kind.value,
        workstation=workstation[:255],
        created_at=now,
        last_seen_at=now,
        absolute_expiry=now + lifetime,
        step_up_at=now if step_up else None,
        revoked_at=None,
        revoke_reason="",
    )
    uow.session.add(row)
    uow.session.flush()
    return token, row


def session_info(
    principal: Principal, user: User, row: ConsoleSession, settings: SecuritySettings, now: dt.datetime
) -> SessionInfo:
    """The :class:`SessionInfo` the front ends keep for a session."""
    return SessionInfo(
        principal=principal,
        username=user.username,
        role=principal.role or Role.CUSTOM,
        permissions=principal.effective_permissions,
        signed_in_at=now,
        kind=row.kind,
        expires_at=row.absolute_expiry,
        idle_timeout=settings.idle_timeout,
        mfa_enrolled=user.totp_secret_sealed is not None,
        break_glass=row.kind == SessionKind.BREAK_GLASS.value,
        role_label=principal.display_role,
    )


def revoke_user_sessions(uow: UnitOfWork, user_id: int, now: dt.datetime, reason: str, *, keep_token: str = "") -> int:
    """End every open session of ``user_id`` (except the one of ``keep_token``); return how many."""
    stmt = update(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
    if keep_token:
        stmt = stmt.where(ConsoleSession.id != token_id(keep_token))
    result = uow.session.execute(
        stmt.values(revoked_at=now, revoke_reason=reason[:32]).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def expire_due_grants(uow: UnitOfWork, audit: AuditLog, now: dt.datetime) -> int:
    """Mark approved grants whose time is up as expired, each with an audit entry; return how many."""
    due = uow.session.execute(
        select(AccessRequest, User.username)
        .join(User, User.id == AccessRequest.requester_id)
        .where(AccessRequest.status == AccessRequestStatus.APPROVED.value, AccessRequest.expires_at <= now)
        .order_by(AccessRequest.id)
    ).all()
    for request, username in due:
        request.status = AccessRequestStatus.EXPIRED.value
        audit.record(
            uow,
            CLOCK_ACTOR,
            "access.expired",
            target_kind="access_request",
            target=str(request.id),
            details={"user": username, "permission": request.permission, "group_id": request.group_id},
        )
    if due:
        uow.session.flush()
    return len(due)


def has_due_grants(uow: UnitOfWork, now: dt.datetime) -> bool:
    """True when some approved grant has passed its end (a cheap indexed look-up)."""
    return (
        uow.session.scalar(
            select(AccessRequest.id)
            .where(AccessRequest.status == AccessRequestStatus.APPROVED.value, AccessRequest.expires_at <= now)
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True, slots=True)
class _Inspection:
    principal: Principal | None
    end_reason: str
    already_ended: bool
    needs_touch: bool
    due_grants: bool


class SessionService:
    """Validates, touches, steps up and ends console sessions.

    Args:
        uow: Unit-of-work factory.
        audit: Audit log writer.
        clock: Source of UTC time (tests move it).
        passwords: Hasher, for step-up by password where no authenticator is enrolled.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        clock: Clock,
        passwords: PasswordHashing | None = None,
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._clock = clock
        self._passwords = passwords or PasswordHashing()
        self._plain_guard = Guard(uow, audit)

    # -- validation ----------------------------------------------------------------------------------------

    def validate(self, actor: Principal, *, touch: bool = True) -> Principal:
        """Check ``actor``'s session and return the principal as the store says now.

        Each validation counts as activity (``touch``): the idle timer restarts. Principals without a session
        (the system, devices, test principals) are returned as they are;
        :class:`SessionGuard` decides whether a session is required.

        Raises:
            SessionEndedError: The session is unknown, revoked, idle too long, past its lifetime,
                or its account is disabled. The end is audited once.
        """
        if actor.kind != "user" or not actor.session_token:
            return actor
        now = self._clock()
        with self._uow() as uow:
            seen = self._inspect(uow, actor, now)
        if seen.end_reason and seen.already_ended:
            raise self._ended(seen.end_reason)
        if not touch:
            seen = replace(seen, needs_touch=False)
        if seen.end_reason or seen.needs_touch or seen.due_grants:
            with self._uow(write=True) as uow:
                if seen.due_grants:
                    expire_due_grants(uow, self._audit, now)
                seen = self._inspect(uow, actor, now)
                if not touch:
                    seen = replace(seen, needs_touch=False)
                if seen.end_reason and not seen.already_ended:
                    self._end(uow, actor, now, seen.end_reason)
                elif seen.needs_touch:
                    uow.session.execute(
                        update(ConsoleSession)
                        .where(ConsoleSession.id == token_id(actor.session_token))
                        .values(last_seen_at=now)
                        .execution_options(synchronize_session=False)
                    )
                uow.commit()
            if seen.end_reason:
                raise self._ended(seen.end_reason)
        assert seen.principal is not None
        return seen.principal

    def touch(self, actor: Principal) -> SessionStatus:
        """Validate ``actor``'s session, record activity now, and return its status."""
        fresh = self.validate(actor)
        self._require_token(fresh)
        now = self._clock()
        with self._uow(write=True) as uow:
            row = uow.session.get(ConsoleSession, token_id(fresh.session_token))
            if row is None:
                raise self._ended("unknown")
            row.last_seen_at = now
            settings = security_settings.load(uow)
            status = _status(row, settings)
            uow.commit()
            return status

    def status(self, actor: Principal) -> SessionStatus:
        """The session's limits and step-up state (validates, does not count as activity)."""
        fresh = self.validate(actor, touch=False)
        self._require_token(fresh)
        with self._uow() as uow:
            row = uow.session.get(ConsoleSession, token_id(fresh.session_token))
            if row is None:
                raise self._ended("unknown")
            return _status(row, security_settings.load(uow))

    def resume(self, token: str, workstation: str = "") -> SessionInfo:
        """Continue a session from its token (the CLI's session file) after validating it.

        Raises:
            SessionEndedError: The token is unknown, or the session is over.
        """
        with self._uow() as uow:
            row = uow.session.get(ConsoleSession, token_id(token))
            user = uow.session.get(User, row.user_id) if row is not None else None
            if row is None or user is None:
                raise self._ended("unknown")
            probe = Principal("user", user.id, user.username, role_of(user), workstation or row.workstation)
        fresh = self.validate(replace(probe, session_token=token))
        with self._uow() as uow:
            row = uow.session.get(ConsoleSession, token_id(token))
            user = uow.session.get(User, fresh.id)
            if row is None or user is None:
                raise self._ended("unknown")
            settings = security_settings.load(uow)
            info = session_info(fresh, user, row, settings, row.created_at)
            return info

    @mutating("auth.sign_out")
    def sign_out(self, actor: Principal) -> None:
        """End ``actor``'s session (audited). Signing out of an ended session is not an error."""
        if actor.kind != "user" or not actor.session_token:
            return
        now = self._clock()
        with self._uow(write=True) as uow:
            row = uow.session.get(ConsoleSession, token_id(actor.session_token))
            if row is None or row.revoked_at is not None:
                return
            row.revoked_at = now
            row.revoke_reason = "signed_out"
            self._audit.record(
                uow, actor, "auth.sign_out", target_kind="user", target=actor.name, details={"kind": row.kind}
            )
            uow.commit()

    # -- step-up -------------------------------------------------------------------------------------------

    @mutating("auth.step_up", "auth.step_up", "auth.lockout")
    def step_up(self, actor: Principal, code: str | None = None, *, password: str | None = None) -> SessionStatus:
        """Confirm it is still the user: a fresh TOTP code (or, without an authenticator, the password).

        The TOTP step is consumed (it cannot be used again for sign-in or another step-up). Failures
        count towards the account's lockout; reaching the limit locks the account and ends its sessions.

        Raises:
            AuthenticationError: The code (or password) is wrong or already used.
            SessionEndedError: The session is over.
        """
        fresh = self.validate(actor)
        self._require_token(fresh)
        now = self._clock()
        with self._uow(write=True) as uow:
            settings = security_settings.load(uow)
            row = uow.session.get(ConsoleSession, token_id(fresh.session_token))
            user = uow.session.get(User, fresh.id)
            if row is None or user is None:
                raise self._ended("unknown")
            ok, method = self._check_step_up(uow, user, row, code, password, now)
            if ok:
                row.step_up_at = now
                self._audit.record(
                    uow, fresh, "auth.step_up", target_kind="user", target=user.username, details={"method": method}
                )
                status = _status(row, settings)
                uow.commit()
                return status
            locked = self._count_failure(uow, user, now, settings)
            self._audit.record(
                uow,
                fresh,
                "auth.step_up",
                target_kind="user",
                target=user.username,
                outcome=Outcome.FAILED,
                details={"method": method},
            )
            if locked:
                revoke_user_sessions(uow, user.id, now, "locked")
                self._audit.record(
                    uow,
                    CLOCK_ACTOR,
                    "auth.lockout",
                    target_kind="user",
                    target=user.username,
                    details={"after": "step_up", "until": user.locked_until},
                )
            uow.commit()
        raise AuthenticationError(STEP_UP_FAILED, hint=STEP_UP_FAILED_HINT)

    def require_step_up(self, actor: Principal, action: str) -> None:
        """Refuse (audited) unless ``actor``'s session stepped up within the site's step-up window.

        Sessionless principals pass (the guard decides whether they are allowed at all).

        Raises:
            StepUpRequiredError: No fresh code yet; call :meth:`step_up` and retry.
        """
        if actor.kind != "user" or not actor.session_token:
            return
        now = self._clock()
        with self._uow() as uow:
            row = uow.session.get(ConsoleSession, token_id(actor.session_token))
            window = security_settings.load(uow).step_up_window
            fresh = row is not None and row.step_up_at is not None and now - row.step_up_at <= window
        if fresh:
            return
        self._audit.record_alone(
            self._uow,
            actor,
            action,
            target_kind="step_up",
            target=actor.name,
            outcome=Outcome.DENIED,
            details={"reason": "step_up_required"},
        )
        raise StepUpRequiredError(action)

    # -- administration ------------------------------------------------------------------------------------

    def list_sessions(self, actor: Principal, user_id: int | None = None) -> tuple[ConsoleSessionInfo, ...]:
        """Open sessions (of one user, or all); one's own need no permission, others' need users.read."""
        fresh = self.validate(actor)
        if user_id is None or user_id != fresh.id:
            self._plain_guard.require(fresh, Permission.USERS_READ, "sessions.list")
        now = self._clock()
        with self._uow() as uow:
            stmt = (
                select(ConsoleSession, User.username)
                .join(User, User.id == ConsoleSession.user_id)
                .where(ConsoleSession.revoked_at.is_(None), ConsoleSession.absolute_expiry > now)
                .order_by(ConsoleSession.created_at.desc(), ConsoleSession.id)
            )
            if user_id is not None:
                stmt = stmt.where(ConsoleSession.user_id == user_id)
            return tuple(
                ConsoleSessionInfo(
                    id=row.id,
                    user_id=row.user_id,
                    username=username,
                    kind=row.kind,
                    workstation=row.workstation,
                    created_at=row.created_at,
                    last_seen_at=row.last_seen_at,
                    absolute_expiry=row.absolute_expiry,
                    revoked_at=row.revoked_at,
                    revoke_reason=row.revoke_reason,
                )
                for row, username in uow.session.execute(stmt).all()
            )

    @mutating("sessions.revoke")
    def revoke_session(self, actor: Principal, session_id: str) -> None:
        """End another session by its id (users.manage, step-up)."""
        guard = SessionGuard(self._uow, self._audit, self, require_session=True)
        fresh = guard.authorize(actor, Permission.USERS_MANAGE, "sessions.revoke", target=session_id[:12])
        now = self._clock()
        with self._uow(write=True) as uow:
            row = uow.session.get(ConsoleSession, session_id)
            if row is None:
                raise NotFoundError("That session does not exist.", hint="Refresh the list.")
            if row.revoked_at is None:
                row.revoked_at = now
                row.revoke_reason = "revoked_by_admin"
            user = uow.session.get(User, row.user_id)
            self._audit.record(
                uow,
                fresh,
                "sessions.revoke",
                target_kind="user",
                target=user.username if user is not None else str(row.user_id),
                details={"session": session_id[:12], "kind": row.kind, "workstation": row.workstation},
            )
            uow.commit()

    # -- internals -----------------------------------------------------------------------------------------

    def _inspect(self, uow: UnitOfWork, actor: Principal, now: dt.datetime) -> _Inspection:
        row = uow.session.get(ConsoleSession, token_id(actor.session_token))
        user = uow.session.get(User, row.user_id) if row is not None else None
        if row is None or user is None or (actor.id is not None and actor.id != row.user_id):
            return _Inspection(None, "unknown", True, False, False)
        if row.revoked_at is not None:
            return _Inspection(None, row.revoke_reason or "revoked", True, False, False)
        settings = security_settings.load(uow)
        reason = ""
        if user.disabled:
            reason = "disabled"
        elif now >= row.absolute_expiry:
            reason = "expired"
        elif now - row.last_seen_at >= settings.idle_timeout:
            reason = "idle"
        if reason:
            return _Inspection(None, reason, False, False, False)
        due = has_due_grants(uow, now)
        principal = build_principal(
            uow,
            user,
            workstation=actor.workstation,
            token=actor.session_token,
            now=now,
            break_glass=row.kind == SessionKind.BREAK_GLASS.value,
        )
        return _Inspection(principal, "", False, now - row.last_seen_at >= TOUCH_GRANULARITY, due)

    def _end(self, uow: UnitOfWork, actor: Principal, now: dt.datetime, reason: str) -> None:
        uow.session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.id == token_id(actor.session_token), ConsoleSession.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
            .execution_options(synchronize_session=False)
        )
        self._audit.record(
            uow, actor, "auth.session_ended", target_kind="user", target=actor.name, details={"reason": reason}
        )

    @staticmethod
    def _ended(reason: str) -> SessionEndedError:
        return SessionEndedError(_END_MESSAGES.get(reason, _END_MESSAGES["revoked"]), reason=reason)

    def _require_token(self, actor: Principal) -> None:
        if actor.kind != "user" or not actor.session_token:
            raise self._ended("unknown")

    def _check_step_up(
        self,
        uow: UnitOfWork,
        user: User,
        row: ConsoleSession,
        code: str | None,
        password: str | None,
        now: dt.datetime,
    ) -> tuple[bool, str]:
        enrolled = user.totp_secret_sealed is not None
        if enrolled and code:
            secret = uow.cipher.open(user.totp_secret_sealed, table="users", column="totp_secret", row=user.uid)
            assert secret is not None
            step = totp.verify(secret, code, now, user.totp_last_step)
            return (step is not None and consume_totp_step(uow, user.id, step)), "totp"
        # Without an authenticator (an account from before MFA, or a break-glass session whose holder
        # lost the device) the password confirms the person instead.
        if password is not None and (not enrolled or row.kind == SessionKind.BREAK_GLASS.value):
            return self._passwords.verify(user.password_hash, password), "password"
        self._passwords.dummy_verify()
        return False, "totp" if enrolled else "password"

    def _count_failure(self, uow: UnitOfWork, user: User, now: dt.datetime, settings: SecuritySettings) -> bool:
        return count_failure(uow, user, now, settings)


def consume_totp_step(uow: UnitOfWork, user_id: int, step: int) -> bool:
    """Atomically record ``step`` as the account's last used TOTP step; False if it (or a newer) was used.

    One conditional UPDATE: of two workstations submitting the same code at the same instant, the
    database lets exactly one change the row (the other's WHERE no longer matches after the first
    commits on PostgreSQL; SQLite write transactions are serialised).
    """
    result = uow.session.execute(
        update(User)
        .where(User.id == user_id, User.totp_last_step < step)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def count_failure(uow: UnitOfWork, user: User, now: dt.datetime, settings: SecuritySettings) -> bool:
    """Atomically count one failed attempt for ``user``; lock it at the threshold. Return True if newly locked.

    Uses SQL increments (not read-modify-write), so concurrent failures from several workstations
    are all counted. After a lock period ends, the count is not reset: the next failure locks again,
    until a successful sign-in or an administrator's unlock resets it.
    """
    uow.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_attempts=User.failed_attempts + 1, last_failed_at=now)
        .execution_options(synchronize_session=False)
    )
    until = now + settings.lockout_period
    locked = uow.session.execute(
        update(User)
        .where(
            User.id == user.id,
            User.failed_attempts >= settings.lockout_threshold,
            (User.locked_until.is_(None)) | (User.locked_until <= now),
        )
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    uow.session.refresh(user, ["failed_attempts", "last_failed_at", "locked_until"])
    return int(getattr(locked, "rowcount", 0) or 0) == 1


def _status(row: ConsoleSession, settings: SecuritySettings) -> SessionStatus:
    return SessionStatus(
        kind=row.kind,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        idle_expires_at=row.last_seen_at + settings.idle_timeout,
        absolute_expires_at=row.absolute_expiry,
        step_up_valid_until=row.step_up_at + settings.step_up_window if row.step_up_at is not None else None,
        break_glass=row.kind == SessionKind.BREAK_GLASS.value,
    )


class SessionGuard(Guard):
    """A :class:`Guard` that validates the caller's session first and checks the *current* permissions.

    For a principal that carries a session token, each check re-reads the session, the user's role,
    scope and active grants (so revocations and expiries apply on the next call) and demands a fresh
    step-up for the permissions in :data:`~mdm_desktop.domain.accounts.STEP_UP_PERMISSIONS`.

    Args:
        uow: Unit-of-work factory.
        audit: Audit log writer.
        sessions: The session service.
        require_session: Refuse user principals that carry no session (production front ends should
            set this; tests that build principals by hand leave it off).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        sessions: SessionService,
        *,
        require_session: bool = False,
        step_up: Callable[[Permission], bool] = STEP_UP_PERMISSIONS.__contains__,
    ) -> None:
        super().__init__(uow, audit)
        self._sessions = sessions
        self._require_session = require_session
        self._needs_step_up = step_up

    @property
    def sessions(self) -> SessionService:
        """The session service this guard validates with."""
        return self._sessions

    def authorize(self, actor: Principal, permission: Permission, action: str, target: str = "") -> Principal:
        """Validate the session, check ``permission`` (and step-up), and return the current principal.

        Raises:
            SessionEndedError: No valid session (where one is required).
            PermissionDeniedError: The role does not allow it (audited).
            StepUpRequiredError: The permission needs a fresh TOTP code (audited).
        """
        if actor.kind == "user" and (actor.session_token or self._require_session):
            if not actor.session_token:
                self._audit.record_alone(
                    self._uow,
                    actor,
                    action,
                    target_kind="permission",
                    target=target or permission.value,
                    outcome=Outcome.DENIED,
                    details={"permission": permission.value, "reason": "no_session"},
                )
                raise SessionEndedError(_END_MESSAGES["unknown"], reason="unknown")
            fresh = self._sessions.validate(actor)
            super().require(fresh, permission, action, target)
            if self._needs_step_up(permission):
                self._sessions.require_step_up(fresh, action)
            return fresh
        super().require(actor, permission, action, target)
        return actor

    def require(self, actor: Principal, permission: Permission, action: str, target: str = "") -> None:
        """Same as :meth:`authorize`, for callers that keep their own principal."""
        self.authorize(actor, permission, action, target)
