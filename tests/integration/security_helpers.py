"""Shared set-up for the console-security tests: an injected clock, a recording sleeper, and the
security services built over a real store (SQLite file or PostgreSQL database)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.domain.accounts import Principal, Role
from mdm_desktop.security import totp
from mdm_desktop.security.keyring import load_or_create_kek
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services.audit import AuditService
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.auth import AuthService
from mdm_desktop.services.devices import DeviceService
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.services.sessions import SessionGuard, SessionService
from mdm_desktop.services.users import RoleRef, UserService
from mdm_desktop.store.keys import load_or_create_store_keys
from mdm_desktop.store.schema import AuditEntry
from tests.conftest import fast_passwords, make_config

START = dt.datetime(2026, 11, 23, 9, 0, 1, tzinfo=dt.UTC)
ADMIN = "admin"
ADMIN_PW = "correct horse battery staple"
USER_PW = "amber falcon drifts softly 27"


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now

    def next_step(self) -> dt.datetime:
        """Move to one second into the next 30-second TOTP step."""
        step = totp.time_step(self.now) + 1
        self.now = dt.datetime.fromtimestamp(step * totp.STEP_SECONDS + 1, dt.UTC)
        return self.now


@dataclass
class Stack:
    """The security services over one store, sharing one clock and one sleeper record."""

    ctx: AppContext
    clock: FakeClock
    passwords: PasswordHashing
    audit: AuditLog
    sessions: SessionService
    guard: SessionGuard
    auth: AuthService
    users: UserService
    devices: DeviceService
    audit_reader: AuditService
    sleeps: list[float] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)

    def code(self, username: str) -> str:
        """The code ``username``'s authenticator shows now."""
        return totp.code_at(self.secrets[username], self.clock())

    def code_for(self, secret: str, later_steps: int = 0) -> str:
        """The code for ``secret`` now (or ``later_steps`` steps ahead)."""
        return totp.code_at(secret, self.clock() + dt.timedelta(seconds=totp.STEP_SECONDS * later_steps))

    def wrong_code(self, secret: str) -> str:
        """A six-digit code that matches none of the steps in the tolerance window."""
        valid = {self.code_for(secret, k) for k in (-1, 0, 1)}
        return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)

    def sign_in(self, username: str, password: str = USER_PW, *, workstation: str = "") -> SessionInfo:
        """Sign in with a code from a fresh time step (each step works once)."""
        self.clock.next_step()
        auth = self.auth if not workstation else self.auth_at(workstation)
        if username in self.secrets:
            return auth.sign_in(username, password, self.code(username))
        return auth.sign_in(username, password)

    def auth_at(self, workstation: str) -> AuthService:
        """An AuthService for another workstation over the same store."""
        return AuthService(
            self.ctx.uow,
            self.audit,
            self.passwords,
            self.clock,
            workstation,
            sessions=self.sessions,
            sleeper=self.sleeps.append,
        )

    def step_up(self, session: SessionInfo | Principal) -> None:
        """Give a fresh code for ``session`` (moves to the next time step)."""
        principal = session.principal if isinstance(session, SessionInfo) else session
        self.clock.next_step()
        self.sessions.step_up(principal, self.code(principal.name))

    def enrol(self, session: SessionInfo) -> tuple[str, ...]:
        """Enrol an authenticator for the signed-in user; return the recovery codes."""
        shown = self.auth.begin_totp_enrolment(session.principal)
        self.secrets[session.username] = shown.secret
        issued = self.auth.confirm_totp_enrolment(session.principal, totp.code_at(shown.secret, self.clock()))
        return issued.codes

    def make_user(
        self,
        admin: SessionInfo,
        username: str,
        role: RoleRef,
        *,
        enrol: bool = True,
        group_ids: list[int] | None = None,
    ) -> int:
        """Create ``username`` (as ``admin``, stepping up first) and optionally enrol its authenticator."""
        self.step_up(admin)
        info = self.users.create_user(admin.principal, username, USER_PW, role, group_ids=group_ids)
        if enrol:
            session = self.sign_in(username)
            self.enrol(session)
        return info.id

    def audit_actions(self, action: str | None = None, outcome: str | None = None) -> list[tuple[str, str, str]]:
        """(action, target, outcome) of audit entries, oldest first, optionally filtered."""
        with self.ctx.uow() as uow:
            stmt = select(AuditEntry.action, AuditEntry.target, AuditEntry.outcome).order_by(AuditEntry.id)
            if action is not None:
                stmt = stmt.where(AuditEntry.action == action)
            if outcome is not None:
                stmt = stmt.where(AuditEntry.outcome == outcome)
            return [tuple(r) for r in uow.session.execute(stmt).all()]  # type: ignore[misc]

    def audit_details(self, action: str, outcome: str | None = None) -> list[dict[str, Any]]:
        """Decoded details of the audit entries for ``action``, oldest first."""
        with self.ctx.uow() as uow:
            stmt = select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.id)
            if outcome is not None:
                stmt = stmt.where(AuditEntry.outcome == outcome)
            return [json.loads(d) for d in uow.session.scalars(stmt).all()]

    def audit_count(self) -> int:
        with self.ctx.uow() as uow:
            return int(uow.session.scalar(select(func.count(AuditEntry.id))) or 0)


def build_stack(ctx: AppContext, clock: FakeClock, workstation: str = "ws-1") -> Stack:
    """Services over ``ctx``'s store with ``clock`` and a recording sleeper."""
    keys = load_or_create_store_keys(ctx.engine, load_or_create_kek(ctx.config.key_file))
    audit = AuditLog(keys.audit, clock)
    passwords = fast_passwords()
    sessions = SessionService(ctx.uow, audit, clock, passwords)
    guard = SessionGuard(ctx.uow, audit, sessions)
    sleeps: list[float] = []
    auth = AuthService(ctx.uow, audit, passwords, clock, workstation, sessions=sessions, sleeper=sleeps.append)
    users = UserService(ctx.uow, guard, audit, clock, passwords, sessions)
    devices = DeviceService(ctx.uow, guard, audit, clock)
    audit_reader = AuditService(ctx.uow, guard, audit, clock)
    return Stack(ctx, clock, passwords, audit, sessions, guard, auth, users, devices, audit_reader, sleeps)


def open_stack(store_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Open a store and its security stack; close it afterwards (use from a fixture)."""
    clock = FakeClock()
    ctx = open_app(make_config(store_url, tmp_path), clock=clock, passwords=fast_passwords(), workstation="ws-1")
    try:
        yield build_stack(ctx, clock)
    finally:
        ctx.close()


def set_up_admin(stack: Stack) -> SessionInfo:
    """First-run wizard: first administrator, password sign-in, authenticator, then a signed-in session."""
    stack.auth.create_first_admin(ADMIN, ADMIN_PW)
    first = stack.auth.sign_in(ADMIN, ADMIN_PW)
    stack.enrol(first)
    return stack.sign_in(ADMIN, ADMIN_PW)


def role_user(stack: Stack, admin: SessionInfo, username: str, role: Role | int) -> SessionInfo:
    """Create, enrol and sign in a user with ``role``; return a stepped-up session."""
    stack.make_user(admin, username, role)
    session = stack.sign_in(username)
    stack.step_up(session)
    return session
