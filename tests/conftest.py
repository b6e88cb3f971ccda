"""Shared fixtures: real stores (SQLite file and PostgreSQL), a fast password hasher, an admin session.

Integration tests take the ``store_url`` fixture, parametrized over ``sqlite``
and ``postgres``. The PostgreSQL flavour needs ``MDM_TEST_POSTGRES_URL`` (a
server URL whose user may create databases); each test gets a fresh database.
Without the variable those cases are skipped, and CI fails on any such skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import Permission, Role
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
    ctx = open_app(make_config(store_url, tmp_path), passwords=fast_passwords(), workstation="test-station")
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def sqlite_ctx(sqlite_url: str, tmp_path: Path) -> Iterator[AppContext]:
    """An opened SQLite store with fast password hashing."""
    ctx = open_app(make_config(sqlite_url, tmp_path), passwords=fast_passwords(), workstation="test-station")
    try:
        yield ctx
    finally:
        ctx.close()


def sign_in_admin(ctx: AppContext) -> SessionInfo:
    """Create the first administrator if needed and sign in."""
    if ctx.services.auth.needs_first_admin():
        ctx.services.auth.create_first_admin(ADMIN_USER, ADMIN_PASSWORD)
    return ctx.services.auth.sign_in(ADMIN_USER, ADMIN_PASSWORD)


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
    admin = sign_in_admin(ctx)
    users = ctx.services.users
    ctx.services.sessions.step_up(admin.principal, password=ADMIN_PASSWORD)
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
    return ctx.services.auth.sign_in(username, USER_PASSWORD)
