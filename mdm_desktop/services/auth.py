"""Console sign-in and the first administrator.

Issue 4 adds TOTP, throttling, lockout, roles management and sessions; this is
the foundation: accounts with Argon2id passwords and one message for every
failure, so an attacker cannot tell a wrong user name from a wrong password.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from mdm_desktop.domain.accounts import (
    ROLE_PERMISSIONS,
    Principal,
    Role,
    password_problems,
    username_problems,
)
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import AuthenticationError, ConflictError, ValidationError
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import SessionInfo, UserInfo
from mdm_desktop.store.schema import User, new_uid
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

SIGN_IN_FAILED = "The user name or password is not right, or the account cannot sign in."


class AuthService:
    """Sign-in and first-run set-up."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        passwords: PasswordHashing,
        clock: Clock,
        workstation: str = "",
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._passwords = passwords
        self._clock = clock
        self._workstation = workstation

    def needs_first_admin(self) -> bool:
        """True on an empty store: the first run must create an administrator."""
        with self._uow() as uow:
            return int(uow.session.scalar(select(func.count(User.id))) or 0) == 0

    def create_first_admin(self, username: str, password: str, display_name: str = "") -> UserInfo:
        """Create the first administrator; refused once any account exists.

        Raises:
            ValidationError: The user name or password is not acceptable.
            ConflictError: The store already has accounts.
        """
        problems = username_problems(username) + password_problems(password, username)
        if problems:
            raise ValidationError(" ".join(problems))
        with self._uow(write=True) as uow:
            if int(uow.session.scalar(select(func.count(User.id))) or 0) > 0:
                raise ConflictError(
                    "This store already has an administrator.", hint="Sign in, or ask an administrator for an account."
                )
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
            )
            uow.session.add(user)
            uow.session.flush()
            actor = Principal.system("setup")
            self._audit.record(
                uow,
                actor,
                "users.create_first_admin",
                target_kind="user",
                target=username,
                details={"role": Role.ADMINISTRATOR.value},
            )
            uow.commit()
            return _user_info(user, display_name or username)

    def sign_in(self, username: str, password: str) -> SessionInfo:
        """Check a user name and password; audit success and failure alike.

        Raises:
            AuthenticationError: Always the same message, whatever failed.
        """
        with self._uow(write=True) as uow:
            user = uow.session.scalar(select(User).where(User.username == username))
            ok = False
            if user is None:
                self._passwords.dummy_verify()
            else:
                ok = self._passwords.verify(user.password_hash, password) and not user.disabled
            now = self._clock()
            if not ok or user is None:
                self._audit.record(
                    uow,
                    Principal("user", None, username[:128], None, self._workstation),
                    "auth.sign_in",
                    target_kind="user",
                    target=username[:255],
                    outcome=Outcome.FAILED,
                )
                if user is not None:
                    user.failed_attempts += 1
                uow.commit()
                raise AuthenticationError(SIGN_IN_FAILED, hint="Check the user name and password and try again.")
            if self._passwords.needs_rehash(user.password_hash):
                user.password_hash = self._passwords.hash(password)
            user.failed_attempts = 0
            user.last_login_at = now
            role = Role(user.role)
            principal = Principal("user", user.id, user.username, role, self._workstation)
            self._audit.record(uow, principal, "auth.sign_in", target_kind="user", target=user.username)
            uow.commit()
            return SessionInfo(
                principal=principal,
                username=user.username,
                role=role,
                permissions=ROLE_PERMISSIONS[role],
                signed_in_at=now,
            )


def _user_info(user: User, display_name: str) -> UserInfo:
    created = user.created_at
    assert isinstance(created, dt.datetime)
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=display_name,
        role=Role(user.role),
        disabled=user.disabled,
        created_at=created,
        last_login_at=user.last_login_at,
    )
