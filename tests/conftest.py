"""Shared fixtures: real stores (SQLite file and PostgreSQL), a fast password hasher, an admin session.

Integration tests take the ``store_url`` fixture, parametrized over ``sqlite``
and ``postgres``. The PostgreSQL flavour needs ``MDM_TEST_POSTGRES_URL`` (a
server URL whose user may create databases); each test gets a fresh database.
Without the variable those cases are skipped, and CI fails on any such skip.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from argon2 import PasswordHasher

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import Permission, Role, SessionEndedError
from mdm_desktop.security import totp
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services.dto import SessionInfo

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"


def fast_passwords() -> PasswordHashing:
    """Cheap Argon2 parameters so tests do not spend seconds hashing."""
    return PasswordHashing(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def _postgres_admin_url() -> str | None:
    return os.environ.get("MDM_TEST_POSTGRES_URL") or None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, empty store of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    base = _postgres_admin_url()
    if base is None:
        if os.environ.get("MDM_REQUIRE_POSTGRES"):
            pytest.fail("MDM_REQUIRE_POSTGRES is set but MDM_TEST_POSTGRES_URL is not")
        pytest.skip("MDM_TEST_POSTGRES_URL is not set")
    yield from _fresh_postgres_database(base)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store URL (for tests that need only the embedded store)."""
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


def _fresh_postgres_database(base: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"mdm_test_{uuid.uuid4().hex[:12]}"
    url = make_url(
        base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base
    )
    conninfo = url.set(drivername="postgresql", database=url.database or "postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_config(url: str, tmp_path: Path) -> Config:
    """A config for ``url`` with its key file in ``tmp_path``."""
    return Config.resolve(db=url, key_file=str(tmp_path / "keys" / "kek.json"), env={"MDM_DATA_DIR": str(tmp_path)})


@pytest.fixture
def app_ctx(store_url: str, tmp_path: Path) -> Iterator[AppContext]:
    """An opened store of each kind with fast password hashing."""
    ctx = open_test_app(make_config(store_url, tmp_path))
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def sqlite_ctx(sqlite_url: str, tmp_path: Path) -> Iterator[AppContext]:
    """An opened SQLite store with fast password hashing."""
    ctx = open_test_app(make_config(sqlite_url, tmp_path))
    try:
        yield ctx
    finally:
        ctx.close()


class StepClock:
    """The real UTC time plus an offset that tests move forward one TOTP step at a time.

    Each TOTP time step (30 s) is accepted once per account, so a test that needs several codes in a
    row (sign-in, then step-up) moves this clock to the next step instead of waiting.
    """

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def next_step(self) -> dt.datetime:
        """Jump to one second into the next 30-second step."""
        now = self()
        step = totp.time_step(now) + 1
        target = dt.datetime.fromtimestamp(step * totp.STEP_SECONDS + 1, dt.UTC)
        self.offset += target - now
        return self()


@dataclass
class _Authenticators:
    """The TOTP secrets of the accounts tests created on one store, and that store's clock."""

    clock: StepClock
    secrets: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, SessionInfo] = field(default_factory=dict)


_AUTHENTICATORS: dict[int, tuple[AppContext, _Authenticators]] = {}


def _authenticators(ctx: AppContext) -> _Authenticators:
    entry = _AUTHENTICATORS.get(id(ctx))
    if entry is None or entry[0] is not ctx:
        raise RuntimeError("open the store with open_test_app() (or the app_ctx / sqlite_ctx fixtures)")
    return entry[1]


def open_test_app(config: Config, *, workstation: str = "test-station") -> AppContext:
    """Open a store with fast hashing and a :class:`StepClock`, so tests can produce fresh TOTP codes."""
    clock = StepClock()
    ctx = open_app(config, clock=clock, passwords=fast_passwords(), workstation=workstation)
    _AUTHENTICATORS[id(ctx)] = (ctx, _Authenticators(clock))
    return ctx


def totp_code(ctx: AppContext, username: str = ADMIN_USER) -> str:
    """A code from ``username``'s authenticator in a fresh time step (moves the store's clock on)."""
    auth = _authenticators(ctx)
    auth.clock.next_step()
    return totp.code_at(auth.secrets[username], auth.clock())


def totp_secret(ctx: AppContext, username: str = ADMIN_USER) -> str:
    """The TOTP secret a test enrolled for ``username``."""
    return _authenticators(ctx).secrets[username]


def enrol_authenticator(ctx: AppContext, session: SessionInfo) -> SessionInfo:
    """Enrol an authenticator for a password-only session; return the session as it now stands."""
    auth = _authenticators(ctx)
    shown = ctx.services.auth.begin_totp_enrolment(session.principal)
    auth.clock.next_step()
    ctx.services.auth.confirm_totp_enrolment(session.principal, totp.code_at(shown.secret, auth.clock()))
    auth.secrets[session.username] = shown.secret
    return ctx.services.sessions.resume(session.principal.session_token, session.principal.workstation)


def sign_in_admin(ctx: AppContext) -> SessionInfo:
    """Create the first administrator (with an enrolled authenticator) if needed; return a live session.

    Repeated calls on one store return the same session while it lasts.
    """
    auth = _authenticators(ctx)
    cached = auth.sessions.get(ADMIN_USER)
    if cached is not None:
        try:
            ctx.services.sessions.status(cached.principal)
        except SessionEndedError:
            pass
        else:
            return cached
    if ctx.services.auth.needs_first_admin():
        ctx.services.auth.create_first_admin(ADMIN_USER, ADMIN_PASSWORD)
    if ADMIN_USER not in auth.secrets:
        session = enrol_authenticator(ctx, ctx.services.auth.sign_in(ADMIN_USER, ADMIN_PASSWORD))
    else:
        session = ctx.services.auth.sign_in(ADMIN_USER, ADMIN_PASSWORD, totp_code(ctx))
    auth.sessions[ADMIN_USER] = session
    return session


def step_up_admin(ctx: AppContext, session: SessionInfo | None = None) -> SessionInfo:
    """Give the administrator's session a fresh step-up (for user, role and other sensitive changes)."""
    session = session or sign_in_admin(ctx)
    ctx.services.sessions.step_up(session.principal, totp_code(ctx))
    return session


@pytest.fixture
def admin(app_ctx: AppContext) -> SessionInfo:
    """A signed-in administrator on ``app_ctx``."""
    return sign_in_admin(app_ctx)


USER_PASSWORD = "amber falcon drifts softly 27"


def user_session(ctx: AppContext, username: str, role: Role | None) -> SessionInfo:
    """Create ``username`` with ``role`` and sign it in.

    ``None`` gives a custom role that may only request access: it reads nothing.

    The services refuse user principals that carry no live session, so tests that act as another role
    use a real account and a real session rather than a hand-made principal.
    """
    admin = step_up_admin(ctx)
    users = ctx.services.users
    role_ref: Role | int
    if role is None:
        existing = [r for r in users.list_roles(admin.principal) if r.name == "No access"]
        role_ref = (
            existing[0].id
            if existing
            else users.create_role(admin.principal, "No access", [Permission.ACCESS_REQUEST]).id
        )
    else:
        role_ref = role
    users.create_user(admin.principal, username, USER_PASSWORD, role_ref)
    return enrol_authenticator(ctx, ctx.services.auth.sign_in(username, USER_PASSWORD))
