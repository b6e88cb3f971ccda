"""Opening, creating and upgrading stores on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.domain.errors import AuthenticationError, StoreError
from mdm_desktop.services.dto import DeviceQuery
from mdm_desktop.store.versioning import current_revision, head_revision
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, fast_passwords, make_config, sign_in_admin


def test_new_store_is_created_at_head_and_admin_can_sign_in(app_ctx: AppContext) -> None:
    assert current_revision(app_ctx.engine) == head_revision()
    assert app_ctx.services.auth.needs_first_admin()
    session = sign_in_admin(app_ctx)
    assert session.username == ADMIN_USER
    assert app_ctx.services.devices.list_page(session.principal, DeviceQuery()).rows == ()


def test_wrong_password_and_unknown_user_give_the_same_error(app_ctx: AppContext) -> None:
    sign_in_admin(app_ctx)
    with pytest.raises(AuthenticationError) as wrong:
        app_ctx.services.auth.sign_in(ADMIN_USER, ADMIN_PASSWORD + "x")
    with pytest.raises(AuthenticationError) as unknown:
        app_ctx.services.auth.sign_in("nobody", ADMIN_PASSWORD)
    assert wrong.value.message == unknown.value.message


def test_store_with_newer_schema_is_refused_and_untouched(store_url: str, tmp_path: Path) -> None:
    ctx = open_app(make_config(store_url, tmp_path), passwords=fast_passwords())
    ctx.close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(StoreError, match="newer version"):
        open_app(make_config(store_url, tmp_path), passwords=fast_passwords())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "9999_from_the_future"
    engine.dispose()


def test_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match="not an MDM Desktop database"):
        open_app(make_config(str(bogus), tmp_path), passwords=fast_passwords())
    assert bogus.read_text().startswith("this is not a database")


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Cannot reach"):
        open_app(make_config("postgresql://nobody@127.0.0.1:9/none", tmp_path), passwords=fast_passwords())
