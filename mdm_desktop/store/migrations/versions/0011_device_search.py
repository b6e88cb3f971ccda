"""substring search index over device names, models and vendors (issue 3)

SQLite: ``device_search``, an FTS5 table with the trigram tokenizer over each device's name, model
and vendor, as an external-content table (``content='devices'``: only the index, no second copy of
the text), kept in step by triggers: after an insert, after an update *of those three columns* (the
frequent updates of compliance state and check-in time do not touch it) and after a delete. Existing
devices are indexed by the migration. The device search uses it to find candidates for text of three
characters or more and still checks each candidate with ``LIKE`` (so the answer is exactly what the
scan gave, only faster).

PostgreSQL: a GIN index with ``gin_trgm_ops`` (extension pg_trgm, as in 0004) over the same columns,
which serves ``ILIKE '%text%'``. Without pg_trgm the index is left out: search still works, by scanning.

Note for later migrations: on SQLite, a batch ("move and copy") change of ``devices`` drops these
triggers; such a migration must create them again (``create_search_triggers``) and rebuild the index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = "name, model, vendor"

SQLITE_SEARCH_TABLE = (
    f"CREATE VIRTUAL TABLE device_search USING fts5({COLUMNS}, "
    "content='devices', content_rowid='id', tokenize='trigram')"
)

SQLITE_SEARCH_TRIGGERS = (
    f"""CREATE TRIGGER device_search_index AFTER INSERT ON devices
    BEGIN INSERT INTO device_search (rowid, {COLUMNS}) VALUES (new.id, new.name, new.model, new.vendor); END""",
    f"""CREATE TRIGGER device_search_reindex AFTER UPDATE OF {COLUMNS} ON devices
    BEGIN
        INSERT INTO device_search (device_search, rowid, {COLUMNS})
            VALUES ('delete', old.id, old.name, old.model, old.vendor);
        INSERT INTO device_search (rowid, {COLUMNS}) VALUES (new.id, new.name, new.model, new.vendor);
    END""",
    f"""CREATE TRIGGER device_search_unindex AFTER DELETE ON devices
    BEGIN INSERT INTO device_search (device_search, rowid, {COLUMNS})
        VALUES ('delete', old.id, old.name, old.model, old.vendor); END""",
)

POSTGRES_SEARCH_INDEX = (
    "CREATE INDEX ix_devices_search_trgm ON devices USING gin "
    "(name gin_trgm_ops, model gin_trgm_ops, vendor gin_trgm_ops)"
)


def create_search_triggers() -> None:
    for statement in SQLITE_SEARCH_TRIGGERS:
        op.execute(statement)


def _postgres_trgm_ready(bind: sa.engine.Connection) -> bool:
    """Create pg_trgm when the server offers it; False (and nothing changed) when it cannot be had."""
    if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return True
    if not bind.scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")):
        return False
    try:
        with bind.begin_nested():  # a refusal (no privilege) must not abort the migration's transaction
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(SQLITE_SEARCH_TABLE)
        op.execute("INSERT INTO device_search (device_search) VALUES ('rebuild')")
        create_search_triggers()
    elif _postgres_trgm_ready(bind):
        op.execute(POSTGRES_SEARCH_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("device_search_index", "device_search_reindex", "device_search_unindex"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS device_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_devices_search_trgm")
