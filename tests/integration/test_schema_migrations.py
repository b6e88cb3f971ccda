"""Revision 0002 (console security) on SQLite and PostgreSQL: upgrade keeps data, the models and the
migrations agree (no autogenerate diff), and downgrade / upgrade round-trips."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from mdm_desktop.store.engine import create_store_engine
from mdm_desktop.store.schema import Base, include_name
from mdm_desktop.store.versioning import _alembic_config, current_revision, head_revision, upgrade


def _run(engine: Engine, fn: object, revision: str) -> None:
    with engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        fn(cfg, revision)  # type: ignore[operator]


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(
            compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name}),
                Base.metadata,
            )
        )


def test_upgrade_from_0001_keeps_users_and_matches_the_models(store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        _run(engine, command.upgrade, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (uid, username, password_hash, role, disabled, failed_attempts,"
                    " totp_last_step, created_at) VALUES ('u1', 'old.admin', 'x', 'administrator', false, 3, 7,"
                    " '2026-01-01 00:00:00+00:00')"
                )
            )
        assert upgrade(engine) == ("0001", head_revision())
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT username, failed_attempts, totp_last_step, custom_role_id, totp_enrolled_at FROM users")
            ).one()
        assert tuple(row) == ("old.admin", 3, 7, None, None)
        tables = set(inspect(engine).get_table_names())
        assert {
            "roles",
            "user_group_scopes",
            "recovery_codes",
            "console_sessions",
            "access_requests",
            "emergency_codes",
            "sign_in_throttle",
        } <= tables
        assert _diff(engine) == []

        _run(engine, command.downgrade, "0001")
        assert "console_sessions" not in set(inspect(engine).get_table_names())
        _run(engine, command.upgrade, "head")
        assert _diff(engine) == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT username FROM users")).scalar_one() == "old.admin"
    finally:
        engine.dispose()


def test_new_user_columns_are_optional_for_older_inserts(store_url: str) -> None:
    """Code written before revision 0002 inserts users without the new columns."""
    engine = create_store_engine(store_url)
    try:
        upgrade(engine)
        users = Base.metadata.tables["users"]
        for name in (
            "custom_role_id",
            "totp_enrolled_at",
            "totp_pending_sealed",
            "password_changed_at",
            "last_failed_at",
        ):
            column = users.c[name]
            assert column.nullable or column.server_default is not None, name
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (uid, username, password_hash, role, disabled, failed_attempts,"
                    " totp_last_step, created_at) VALUES ('u2', 'plain', 'x', 'helpdesk', false, 0, 0,"
                    " '2026-01-01 00:00:00+00:00')"
                )
            )
    finally:
        engine.dispose()
