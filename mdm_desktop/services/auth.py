"""Console sign-in: passwords, TOTP, recovery codes, throttling, lockout, break-glass, first administrator.

Sign-in (:meth:`AuthService.sign_in`):

1. One Argon2id verification is spent on every attempt (a dummy one for an unknown
   name, a locked account or a throttled attempt), so timing does not tell them apart.
2. An account with an authenticator must also give a valid TOTP code or an unused
   recovery code. Each TOTP time step is accepted once per account, enforced by one
   conditional UPDATE (``... WHERE totp_last_step < :step``): of two workstations
   submitting the same code at the same instant, exactly one succeeds. Codes are
   checked only after the password matched, so a wrong password never uses up a
   recovery code or a time step.
3. Failures are counted with SQL increments. After :func:`delay_for` failures in a
   row the caller waits (the delay is computed in the transaction and slept *after*
   it, through the injected ``sleeper``), and an attempt that arrives before the wait
   is over is refused without looking at the password. At the site's threshold
   (default 10, never above 100) the account locks for the lock period or until an
   administrator unlocks it. Unknown user names are throttled the same way (keyed by
   a keyed hash of the name), so the delays do not reveal which names exist.
4. Every failure, whatever its kind, raises the same :class:`AuthenticationError`
   message; the audit log records the kind for reviewers.

A successful sign-in opens a console session (:mod:`mdm_desktop.services.sessions`).
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from mdm_desktop.domain.accounts import (
    Permission,
    Principal,
    Role,
    SessionKind,
    username_problems,
)
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from mdm_desktop.security import password_policy, recovery, totp
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services import security_settings
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.audit_values import keyed_values
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import (
    BreakGlassUseInfo,
    EmergencyCodeStatus,
    IssuedCodes,
    PasswordFeedback,
    SessionInfo,
    TotpEnrolmentInfo,
    UserInfo,
)
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.security_settings import SecuritySettings
from mdm_desktop.services.sessions import (
    CLOCK_ACTOR,
    SessionGuard,
    SessionService,
    build_principal,
    consume_totp_step,
    count_failure,
    open_session,
    revoke_user_sessions,
    role_of,
    session_info,
    token_id,
)
from mdm_desktop.store.schema import (
    ConsoleSession,
    CustomRole,
    EmergencyCode,
    RecoveryCode,
    SignInThrottle,
    User,
    UserGroupScope,
    new_uid,
)
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

SIGN_IN_FAILED = "The user name or password is not right, or the account cannot sign in."
SIGN_IN_HINT = "Check the user name, password and authenticator code and try again."

THROTTLE_FREE_FAILURES = 2
"""Failures in a row before the first delay."""
BASE_DELAY_S = 0.5
MAX_DELAY_S = 10.0
THROTTLE_MEMORY = dt.timedelta(days=1)
"""Throttle rows for unknown names older than this are pruned."""


def delay_for(failures: int) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row: 0, 0, 0.5, 1, 2, 4, 8, 10, 10, ..."""
    if failures <= THROTTLE_FREE_FAILURES:
        return 0.0
    return min(BASE_DELAY_S * 2.0 ** (failures - THROTTLE_FREE_FAILURES - 1), MAX_DELAY_S)


class FailureKind(enum.StrEnum):
    """Why a sign-in failed (audit only; the person always sees the same message)."""

    UNKNOWN_USER = "unknown_user"
    BAD_PASSWORD = "bad_password"  # noqa: S105 - a failure kind, not a password
    BAD_CODE = "bad_code"
    CODE_MISSING = "code_missing"
    LOCKED = "locked"
    DISABLED = "disabled"
    THROTTLED = "throttled"
    NOT_ALLOWED = "not_allowed"


@dataclass(slots=True)
class _Counter:
    """Failure count and time of the last failure, for a user row or an unknown name."""

    failures: int
    last_failed_at: dt.datetime | None

    def retry_at(self) -> dt.datetime | None:
        if self.last_failed_at is None:
            return None
        return self.last_failed_at + dt.timedelta(seconds=delay_for(self.failures))


class AuthService:
    """Sign-in, MFA enrolment, recovery and emergency codes, first-run set-up.

    Args:
        uow: Unit-of-work factory.
        audit: Audit log writer.
        passwords: Argon2id hasher.
        clock: Source of UTC time (tests inject one).
        workstation: This console's host name, for the audit log and sessions.
        sessions: The session service (one is built over the same store if omitted).
        sleeper: Waits out the throttling delay, outside any transaction (tests inject a recorder).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        passwords: PasswordHashing,
        clock: Clock,
        workstation: str = "",
        *,
        sessions: SessionService | None = None,
        sleeper: Callable[[float], None] = time.sleep,
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._passwords = passwords
        self._clock = clock
        self._workstation = workstation
        self._sessions = sessions or SessionService(uow, audit, clock, passwords)
        self._sleeper = sleeper
        self._guard = SessionGuard(uow, audit, self._sessions, require_session=True)

    @property
    def sessions(self) -> SessionService:
        """The session service sign-ins open sessions for."""
        return self._sessions

    # -- first run ---------------------------------------------------------------------------------------

    def needs_first_admin(self) -> bool:
        """True on an empty store: the first run must create an administrator."""
        with self._uow() as uow:
            return int(uow.session.scalar(select(func.count(User.id))) or 0) == 0

    @mutating("users.create_first_admin")
    def create_first_admin(self, username: str, password: str, display_name: str = "") -> UserInfo:
        """Create the first administrator; refused once any account exists.

        The wizard then signs in (password only, as no authenticator is enrolled yet), enrols TOTP
        with :meth:`begin_totp_enrolment` / :meth:`confirm_totp_enrolment`, and creates the
        emergency code with :meth:`create_emergency_code`.

        Raises:
            ValidationError: The user name or password is not acceptable.
            ConflictError: The store already has accounts.
        """
        problems = username_problems(username)
        if problems:
            raise ValidationError(" ".join(problems))
        with self._uow(write=True) as uow:
            if int(uow.session.scalar(select(func.count(User.id))) or 0) > 0:
                raise ConflictError(
                    "This store already has an administrator.", hint="Sign in, or ask an administrator for an account."
                )
            settings = security_settings.load(uow)
            check_password(uow, settings, password, username=username, display_name=display_name)
            now = self._clock()
            uid = new_uid()
            user = User(
                uid=uid,
                username=username,
                display_name_sealed=uow.cipher.seal(
                    display_name or username, table="users", column="display_name", row=uid
                ),
                password_hash=self._passwords.hash(password),
                role=Role.ADMINISTRATOR.value,
                disabled=False,
                failed_attempts=0,
                totp_last_step=0,
                created_at=now,
                password_changed_at=now,
            )
            uow.session.add(user)
            uow.session.flush()
            self._audit.record(
                uow,
                Principal.system("setup"),
                "users.create_first_admin",
                target_kind="user",
                target=username,
                details={"role": Role.ADMINISTRATOR.value, **keyed_values(uow.cipher, display_name=display_name)},
            )
            uow.commit()
            return user_info(uow, user, display_name or username)

    def assess_password(self, password: str, username: str = "", display_name: str = "") -> PasswordFeedback:
        """Rate a candidate password against the site's policy, for a strength meter (nothing is stored).

        Uses the site's password settings and the clinic's name as context, exactly as
        :meth:`create_first_admin` and password changes do, so the meter and the final check agree.
        Cheap enough (a few milliseconds) to call from a worker on every pause in typing.

        Args:
            password: As typed.
            username: The account's user name (a password built on it is refused).
            display_name: The person's name (a password built on it is refused).
        """
        with self._uow() as uow:
            settings = security_settings.load(uow)
            clinic = security_settings.clinic_name(uow)
        verdict = password_policy.assess(
            password, settings.password_policy, username=username, clinic_name=clinic, display_name=display_name
        )
        return PasswordFeedback(
            score=verdict.strength.score,
            label=verdict.strength.label,
            problems=verdict.problems,
            acceptable=verdict.acceptable,
            suggestions=verdict.strength.suggestions,
        )

    # -- sign-in -----------------------------------------------------------------------------------------

    @mutating("auth.sign_in")
    def sign_in(
        self, username: str, password: str, code: str | None = None, *, kind: SessionKind = SessionKind.GUI
    ) -> SessionInfo:
        """Check user name, password and (for accounts with an authenticator) a TOTP or recovery code.

        An account without an authenticator (created before MFA, or after an MFA reset) signs in with
        its password; ``SessionInfo.mfa_enrolled`` is then False and the front end must enrol one.

        Raises:
            AuthenticationError: Always the same message, whatever failed.
            ValueError: ``kind`` is break-glass (use :meth:`sign_in_break_glass`).
        """
        if kind is SessionKind.BREAK_GLASS:
            raise ValueError("Break-glass sessions are opened only by sign_in_break_glass().")
        return self._attempt(username, password, code, emergency_code=None, kind=kind)

    @mutating("auth.break_glass")
    def sign_in_break_glass(self, username: str, password: str, emergency_code: str) -> SessionInfo:
        """Emergency access for an administrator who lost the authenticator: password + the sealed code.

        The code works once. The session lasts the break-glass period (one hour by default), is
        audited as ``auth.break_glass`` and stays listed for review until a security officer
        reviews it (:meth:`review_break_glass`).

        Raises:
            AuthenticationError: Always the same message, whatever failed.
        """
        return self._attempt(username, password, None, emergency_code=emergency_code, kind=SessionKind.BREAK_GLASS)

    def _attempt(
        self,
        username: str,
        password: str,
        code: str | None,
        *,
        emergency_code: str | None,
        kind: SessionKind,
    ) -> SessionInfo:
        now = self._clock()
        wait = 0.0
        with self._uow(write=True) as uow:
            settings = security_settings.load(uow)
            user = uow.session.scalar(select(User).where(User.username == username))
            counter = self._counter(uow, user, username)
            retry_at = counter.retry_at()
            failure: FailureKind | None = None
            method = "password"
            emergency_id: int | None = None
            if retry_at is not None and now < retry_at:
                self._passwords.dummy_verify()
                failure = FailureKind.THROTTLED
            elif user is None:
                self._passwords.dummy_verify()
                failure = FailureKind.UNKNOWN_USER
            elif user.locked_until is not None and user.locked_until > now:
                self._passwords.dummy_verify()
                failure = FailureKind.LOCKED
            elif not self._passwords.verify(user.password_hash, password):
                failure = FailureKind.BAD_PASSWORD
            elif user.disabled:
                failure = FailureKind.DISABLED
            elif emergency_code is not None:
                failure, method, emergency_id = self._check_emergency(uow, user, emergency_code, now)
            else:
                failure, method = self._check_second_factor(uow, user, code, now)

            if failure is None:
                assert user is not None
                info = self._succeed(uow, user, password, kind, method, settings, now, emergency_id)
                uow.commit()
                return info

            if failure is FailureKind.THROTTLED:
                assert retry_at is not None
                wait = (retry_at - now).total_seconds()
            else:
                failures = self._count(uow, user, username, now, settings)
                wait = delay_for(failures)
            self._audit.record(
                uow,
                Principal("user", user.id if user else None, username[:128], None, self._workstation),
                "auth.break_glass" if emergency_code is not None else "auth.sign_in",
                target_kind="user",
                target=username[:255],
                outcome=Outcome.FAILED,
                details={"reason": failure.value, "method": method},
            )
            uow.commit()
        # Sleep outside the transaction: the delay must not hold a database lock.
        if wait > 0:
            self._sleeper(wait)
        raise AuthenticationError(SIGN_IN_FAILED, hint=SIGN_IN_HINT)

    def _counter(self, uow: UnitOfWork, user: User | None, username: str) -> _Counter:
        if user is not None:
            return _Counter(user.failed_attempts, user.last_failed_at)
        row = uow.session.get(SignInThrottle, self._name_hash(uow, username))
        return _Counter(row.failures, row.last_failed_at) if row is not None else _Counter(0, None)

    @staticmethod
    def _name_hash(uow: UnitOfWork, username: str) -> bytes:
        digest = uow.cipher.blind_index(username, purpose="sign_in_throttle")
        assert digest is not None
        return digest

    def _count(
        self, uow: UnitOfWork, user: User | None, username: str, now: dt.datetime, settings: SecuritySettings
    ) -> int:
        """Count a failure; lock the account at the threshold; return the failures in a row."""
        if user is not None:
            if count_failure(uow, user, now, settings):
                self._audit.record(
                    uow,
                    CLOCK_ACTOR,
                    "auth.lockout",
                    target_kind="user",
                    target=user.username,
                    details={"failures": user.failed_attempts, "until": user.locked_until},
                )
            return user.failed_attempts
        name_hash = self._name_hash(uow, username)
        uow.session.execute(delete(SignInThrottle).where(SignInThrottle.last_failed_at < now - THROTTLE_MEMORY))
        updated = uow.session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.name_hash == name_hash)
            .values(failures=SignInThrottle.failures + 1, last_failed_at=now)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(updated, "rowcount", 0) or 0) == 0:
            uow.session.add(SignInThrottle(name_hash=name_hash, failures=1, last_failed_at=now))
            uow.session.flush()
            return 1
        return int(
            uow.session.scalar(select(SignInThrottle.failures).where(SignInThrottle.name_hash == name_hash)) or 1
        )

    def _check_second_factor(
        self, uow: UnitOfWork, user: User, code: str | None, now: dt.datetime
    ) -> tuple[FailureKind | None, str]:
        if user.totp_secret_sealed is None:
            return None, "password_only"
        if not code or not code.strip():
            return FailureKind.CODE_MISSING, "totp"
        if totp.normalize_code(code) is not None:
            secret = uow.cipher.open(user.totp_secret_sealed, table="users", column="totp_secret", row=user.uid)
            assert secret is not None
            step = totp.verify(secret, code, now, user.totp_last_step)
            if step is not None and consume_totp_step(uow, user.id, step):
                return None, "totp"
            return FailureKind.BAD_CODE, "totp"
        digest = recovery.digest(code, _recovery_hash(uow, user))
        if digest is not None:
            used = uow.session.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.user_id == user.id, RecoveryCode.code_hash == digest, RecoveryCode.used_at.is_(None)
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(used, "rowcount", 0) or 0) == 1:
                return None, "recovery_code"
        return FailureKind.BAD_CODE, "recovery_code"

    def _check_emergency(
        self, uow: UnitOfWork, user: User, emergency_code: str, now: dt.datetime
    ) -> tuple[FailureKind | None, str, int | None]:
        principal = build_principal(uow, user, workstation=self._workstation, token="", now=now, break_glass=True)
        if not principal.can(Permission.USERS_MANAGE):
            return FailureKind.NOT_ALLOWED, "emergency_code", None
        digest = recovery.digest(emergency_code, _emergency_hash(uow), recovery.EMERGENCY_GROUPS)
        if digest is None:
            return FailureKind.BAD_CODE, "emergency_code", None
        used = uow.session.execute(
            update(EmergencyCode)
            .where(
                EmergencyCode.code_hash == digest, EmergencyCode.used_at.is_(None), EmergencyCode.revoked_at.is_(None)
            )
            .values(used_at=now, used_by_id=user.id, used_by=user.username, used_workstation=self._workstation[:255])
            .execution_options(synchronize_session=False)
        )
        if int(getattr(used, "rowcount", 0) or 0) != 1:
            return FailureKind.BAD_CODE, "emergency_code", None
        return (
            None,
            "emergency_code",
            uow.session.scalar(select(EmergencyCode.id).where(EmergencyCode.code_hash == digest)),
        )

    def _succeed(
        self,
        uow: UnitOfWork,
        user: User,
        password: str,
        kind: SessionKind,
        method: str,
        settings: SecuritySettings,
        now: dt.datetime,
        emergency_id: int | None = None,
    ) -> SessionInfo:
        values: dict[str, object] = {
            "failed_attempts": 0,
            "locked_until": None,
            "last_failed_at": None,
            "last_login_at": now,
        }
        if self._passwords.needs_rehash(user.password_hash):
            values["password_hash"] = self._passwords.hash(password)
        uow.session.execute(
            update(User).where(User.id == user.id).values(**values).execution_options(synchronize_session=False)
        )
        uow.session.refresh(user)
        token, row = open_session(
            uow,
            user,
            kind=kind,
            workstation=self._workstation,
            now=now,
            settings=settings,
            step_up=kind is SessionKind.BREAK_GLASS,
        )
        principal = build_principal(
            uow, user, workstation=self._workstation, token=token, now=now, break_glass=kind is SessionKind.BREAK_GLASS
        )
        details: dict[str, object] = {"kind": kind.value, "method": method}
        if method == "recovery_code":
            details["recovery_codes_left"] = _recovery_codes_left(uow, user.id)
        if kind is SessionKind.BREAK_GLASS:
            assert emergency_id is not None
            uow.session.execute(
                update(EmergencyCode)
                .where(EmergencyCode.id == emergency_id)
                .values(session_id=row.id)
                .execution_options(synchronize_session=False)
            )
            details["emergency_code"] = emergency_id
            details["review_required"] = True
            details["expires_at"] = row.absolute_expiry
            self._audit.record(
                uow, principal, "auth.break_glass", target_kind="user", target=user.username, details=details
            )
        else:
            self._audit.record(
                uow, principal, "auth.sign_in", target_kind="user", target=user.username, details=details
            )
        return session_info(principal, user, row, settings, now)

    # -- MFA enrolment and recovery codes ----------------------------------------------------------------

    @mutating("auth.totp_enrolment_started")
    def begin_totp_enrolment(self, actor: Principal) -> TotpEnrolmentInfo:
        """Start (or restart) enrolling an authenticator for the signed-in user.

        Replacing an authenticator that is already enrolled needs a fresh code from it (step-up).
        The new secret is kept sealed as *pending* until :meth:`confirm_totp_enrolment`.

        Raises:
            SessionEndedError: No valid session.
            StepUpRequiredError: An authenticator is enrolled and no fresh code was given.
        """
        fresh = self._sessions.validate(actor)
        self._require_session(fresh)
        with self._uow() as uow:
            user = self._own_user(uow, fresh)
            enrolled = user.totp_secret_sealed is not None
        if enrolled:
            self._sessions.require_step_up(fresh, "auth.totp_enrol")
        secret = totp.new_secret()
        with self._uow(write=True) as uow:
            user = self._own_user(uow, fresh)
            user.totp_pending_sealed = uow.cipher.seal(secret, table="users", column="totp_pending", row=user.uid)
            self._audit.record(uow, fresh, "auth.totp_enrolment_started", target_kind="user", target=user.username)
            uow.commit()
            username = user.username
        shown = totp.enrolment(secret, username)
        return TotpEnrolmentInfo(
            account=username,
            issuer=totp.ISSUER,
            secret=secret,
            uri=shown.uri,
            qr_png=shown.qr_png,
            qr_svg=shown.qr_svg,
        )

    @mutating("auth.totp_enrolled", "auth.totp_enrolled", "auth.totp_enrol")
    def confirm_totp_enrolment(self, actor: Principal, code: str) -> IssuedCodes:
        """Finish enrolment with a code from the new authenticator; return ten recovery codes, shown once.

        Ends the user's other sessions (an MFA change) and counts as a fresh step-up for this one.

        Raises:
            ValidationError: No enrolment was started.
            AuthenticationError: The code does not match the new secret.
        """
        fresh = self._sessions.validate(actor)
        self._require_session(fresh)
        now = self._clock()
        with self._uow(write=True) as uow:
            user = self._own_user(uow, fresh)
            if user.totp_pending_sealed is None:
                raise ValidationError("Start the authenticator set-up first.", hint="Scan the new QR code.")
            secret = uow.cipher.open(user.totp_pending_sealed, table="users", column="totp_pending", row=user.uid)
            assert secret is not None
            # A new secret: steps used with the old one say nothing about its codes.
            step = totp.verify(secret, code, now, 0)
            if step is None:
                self._audit.record(
                    uow, fresh, "auth.totp_enrol", target_kind="user", target=user.username, outcome=Outcome.FAILED
                )
                uow.commit()
                raise AuthenticationError(
                    "That code does not match.",
                    hint="Check that the app shows 'MDM Desktop' with your user name, and enter its current code.",
                )
            replaced = user.totp_secret_sealed is not None
            enrol_totp_secret(uow, user, secret, now)
            user.totp_last_step = max(user.totp_last_step, step)
            codes = _replace_recovery_codes(uow, user, now)
            ended = revoke_user_sessions(uow, user.id, now, "mfa_changed", keep_token=fresh.session_token)
            uow.session.execute(
                update(ConsoleSession)
                .where(ConsoleSession.id == token_id(fresh.session_token))
                .values(step_up_at=now)
                .execution_options(synchronize_session=False)
            )
            self._audit.record(
                uow,
                fresh,
                "auth.totp_enrolled",
                target_kind="user",
                target=user.username,
                details={"replaced": replaced, "recovery_codes": len(codes), "sessions_ended": ended},
            )
            uow.commit()
            return IssuedCodes(codes=codes, issued_at=now)

    @mutating("auth.recovery_codes_issued")
    def regenerate_recovery_codes(self, actor: Principal) -> IssuedCodes:
        """Replace the signed-in user's recovery codes (step-up required); the old ones stop working."""
        fresh = self._sessions.validate(actor)
        self._require_session(fresh)
        self._sessions.require_step_up(fresh, "auth.recovery_codes")
        now = self._clock()
        with self._uow(write=True) as uow:
            user = self._own_user(uow, fresh)
            if user.totp_secret_sealed is None:
                raise ValidationError("Set up an authenticator app first.")
            codes = _replace_recovery_codes(uow, user, now)
            self._audit.record(uow, fresh, "auth.recovery_codes_issued", target_kind="user", target=user.username)
            uow.commit()
            return IssuedCodes(codes=codes, issued_at=now)

    def recovery_codes_left(self, actor: Principal) -> int:
        """How many unused recovery codes the signed-in user has."""
        fresh = self._sessions.validate(actor)
        self._require_session(fresh)
        with self._uow() as uow:
            return _recovery_codes_left(uow, self._own_user(uow, fresh).id)

    @mutating("auth.password_changed", "auth.password_changed", "auth.password_change")
    def change_password(self, actor: Principal, current_password: str, new_password: str) -> None:
        """Change the signed-in user's own password; ends the user's other sessions.

        Raises:
            AuthenticationError: The current password is wrong (counts as a failed attempt).
            ValidationError: The new password breaks the policy.
        """
        fresh = self._sessions.validate(actor)
        self._require_session(fresh)
        now = self._clock()
        with self._uow(write=True) as uow:
            settings = security_settings.load(uow)
            user = self._own_user(uow, fresh)
            if not self._passwords.verify(user.password_hash, current_password):
                count_failure(uow, user, now, settings)
                self._audit.record(
                    uow, fresh, "auth.password_change", target_kind="user", target=user.username, outcome=Outcome.FAILED
                )
                uow.commit()
                raise AuthenticationError("The current password is not right.")
            display = uow.cipher.open(user.display_name_sealed, table="users", column="display_name", row=user.uid)
            check_password(uow, settings, new_password, username=user.username, display_name=display or "")
            user.password_hash = self._passwords.hash(new_password)
            user.password_changed_at = now
            ended = revoke_user_sessions(uow, user.id, now, "password_changed", keep_token=fresh.session_token)
            self._audit.record(
                uow,
                fresh,
                "auth.password_changed",
                target_kind="user",
                target=user.username,
                details={"sessions_ended": ended},
            )
            uow.commit()

    # -- emergency (break-glass) access --------------------------------------------------------------------

    @mutating("auth.emergency_code_created")
    def create_emergency_code(self, actor: Principal) -> IssuedCodes:
        """Create the break-glass code (shown once: print it or save it for the safe).

        A new code voids any earlier unused one. Needs users.manage and a fresh step-up.
        """
        fresh = self._guard.authorize(actor, Permission.USERS_MANAGE, "auth.emergency_code")
        now = self._clock()
        code = recovery.new_emergency_code()
        with self._uow(write=True) as uow:
            digest = recovery.digest(code, _emergency_hash(uow), recovery.EMERGENCY_GROUPS)
            assert digest is not None
            voided = uow.session.execute(
                update(EmergencyCode)
                .where(EmergencyCode.used_at.is_(None), EmergencyCode.revoked_at.is_(None))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
            uow.session.add(EmergencyCode(code_hash=digest, created_by=fresh.name, created_at=now))
            self._audit.record(
                uow,
                fresh,
                "auth.emergency_code_created",
                target_kind="emergency_code",
                details={"voided_previous": int(getattr(voided, "rowcount", 0) or 0)},
            )
            uow.commit()
        return IssuedCodes(codes=(code,), issued_at=now)

    def emergency_status(self, actor: Principal) -> EmergencyCodeStatus:
        """Whether an emergency code is ready and how many uses await review (users.read)."""
        self._guard.authorize(actor, Permission.USERS_READ, "auth.emergency_status")
        with self._uow() as uow:
            active = uow.session.execute(
                select(EmergencyCode.created_at, EmergencyCode.created_by)
                .where(EmergencyCode.used_at.is_(None), EmergencyCode.revoked_at.is_(None))
                .order_by(EmergencyCode.id.desc())
                .limit(1)
            ).first()
            pending = int(
                uow.session.scalar(
                    select(func.count(EmergencyCode.id)).where(
                        EmergencyCode.used_at.is_not(None), EmergencyCode.reviewed_at.is_(None)
                    )
                )
                or 0
            )
        return EmergencyCodeStatus(
            active=active is not None,
            created_at=active[0] if active is not None else None,
            created_by=active[1] if active is not None else "",
            unreviewed_uses=pending,
        )

    def list_break_glass(self, actor: Principal, *, unreviewed_only: bool = True) -> tuple[BreakGlassUseInfo, ...]:
        """Uses of emergency codes, newest first (the dashboard shows the unreviewed ones)."""
        self._guard.authorize(actor, Permission.AUDIT_READ, "auth.break_glass_list")
        with self._uow() as uow:
            stmt = select(EmergencyCode).where(EmergencyCode.used_at.is_not(None)).order_by(EmergencyCode.id.desc())
            if unreviewed_only:
                stmt = stmt.where(EmergencyCode.reviewed_at.is_(None))
            return tuple(_break_glass_info(row) for row in uow.session.scalars(stmt).all())

    @mutating("auth.break_glass_review")
    def review_break_glass(self, actor: Principal, use_id: int, note: str) -> BreakGlassUseInfo:
        """Record a security officer's review of an emergency sign-in (not by the person who used it)."""
        fresh = self._guard.authorize(actor, Permission.EMERGENCY_REVIEW, "auth.break_glass_review", str(use_id))
        note = note.strip()
        if not note:
            raise ValidationError("Write what you checked (who, why, what was done).")
        now = self._clock()
        with self._uow(write=True) as uow:
            row = uow.session.get(EmergencyCode, use_id)
            if row is None or row.used_at is None:
                raise NotFoundError("That emergency sign-in does not exist.", hint="Refresh the list.")
            if row.reviewed_at is not None:
                raise ConflictError(f"{row.reviewed_by} already reviewed this emergency sign-in.")
            if row.used_by_id is not None and row.used_by_id == fresh.id:
                self._audit.record(
                    uow,
                    fresh,
                    "auth.break_glass_review",
                    target_kind="emergency_code",
                    target=str(use_id),
                    outcome=Outcome.DENIED,
                    details={"reason": "own_use"},
                )
                uow.commit()
                raise ConflictError(
                    "You cannot review your own emergency sign-in.", hint="Ask the security officer to review it."
                )
            row.reviewed_at = now
            row.reviewed_by = fresh.name
            row.review_note = note[:4000]
            self._audit.record(
                uow,
                fresh,
                "auth.break_glass_review",
                target_kind="emergency_code",
                target=str(use_id),
                details={"used_by": row.used_by, "note": note[:500]},
            )
            uow.commit()
            return _break_glass_info(row)

    # -- helpers -------------------------------------------------------------------------------------------

    def _require_session(self, actor: Principal) -> None:
        if actor.kind != "user" or not actor.session_token or actor.id is None:
            raise AuthenticationError("Sign in first.")

    @staticmethod
    def _own_user(uow: UnitOfWork, actor: Principal) -> User:
        user = uow.session.get(User, actor.id)
        if user is None:
            raise AuthenticationError("Sign in first.")
        return user


def check_password(
    uow: UnitOfWork, settings: SecuritySettings, password: str, *, username: str, display_name: str = ""
) -> None:
    """Apply the site's password policy (with the clinic's name as context).

    Raises:
        ValidationError: With every problem in plain words.
    """
    verdict = password_policy.assess(
        password,
        settings.password_policy,
        username=username,
        clinic_name=security_settings.clinic_name(uow),
        display_name=display_name,
    )
    if not verdict.acceptable:
        raise ValidationError(" ".join(verdict.problems))


def enrol_totp_secret(uow: UnitOfWork, user: User, secret: str, now: dt.datetime) -> None:
    """Make ``secret`` the user's authenticator: sealed (AES-GCM bound to the row), pending one cleared.

    The one place a TOTP secret becomes active (enrolment, and the demo administrator's authenticator).
    """
    user.totp_secret_sealed = uow.cipher.seal(secret, table="users", column="totp_secret", row=user.uid)
    user.totp_pending_sealed = None
    user.totp_enrolled_at = now


def _recovery_hash(uow: UnitOfWork, user: User) -> recovery.KeyedHash:
    def keyed(canonical: str) -> bytes:
        digest = uow.cipher.blind_index(canonical, purpose=f"recovery_codes|{user.uid}")
        assert digest is not None
        return digest

    return keyed


def _emergency_hash(uow: UnitOfWork) -> recovery.KeyedHash:
    def keyed(canonical: str) -> bytes:
        digest = uow.cipher.blind_index(canonical, purpose="emergency_codes")
        assert digest is not None
        return digest

    return keyed


def _replace_recovery_codes(uow: UnitOfWork, user: User, now: dt.datetime) -> tuple[str, ...]:
    uow.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = recovery.new_recovery_codes()
    keyed = _recovery_hash(uow, user)
    for code in codes:
        digest = recovery.digest(code, keyed)
        assert digest is not None
        uow.session.add(RecoveryCode(user_id=user.id, code_hash=digest, created_at=now))
    uow.session.flush()
    return codes


def _recovery_codes_left(uow: UnitOfWork, user_id: int) -> int:
    return int(
        uow.session.scalar(
            select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def _break_glass_info(row: EmergencyCode) -> BreakGlassUseInfo:
    assert row.used_at is not None
    return BreakGlassUseInfo(
        id=row.id,
        used_at=row.used_at,
        used_by=row.used_by,
        workstation=row.used_workstation,
        code_created_by=row.created_by,
        code_created_at=row.created_at,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        review_note=row.review_note,
    )


def user_info(uow: UnitOfWork, user: User, display_name: str | None = None) -> UserInfo:
    """The :class:`UserInfo` for ``user`` (opens the sealed display name unless given)."""
    if display_name is None:
        display_name = (
            uow.cipher.open(user.display_name_sealed, table="users", column="display_name", row=user.uid) or ""
        )
    role = role_of(user)
    label = role.label
    if user.custom_role_id is not None:
        custom = uow.session.get(CustomRole, user.custom_role_id)
        role = Role.CUSTOM
        label = custom.name if custom is not None else Role.CUSTOM.label
    groups = tuple(
        sorted(
            int(g)
            for g in uow.session.scalars(select(UserGroupScope.group_id).where(UserGroupScope.user_id == user.id))
        )
    )
    created = user.created_at
    assert isinstance(created, dt.datetime)
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=display_name,
        role=role,
        disabled=user.disabled,
        created_at=created,
        last_login_at=user.last_login_at,
        role_label=label,
        custom_role_id=user.custom_role_id,
        mfa_enrolled=user.totp_secret_sealed is not None,
        locked_until=user.locked_until,
        failed_attempts=user.failed_attempts,
        group_ids=groups,
        password_changed_at=user.password_changed_at,
    )
