"""free-text search index over audit entries (issue 5)

SQLite: ``audit_search``, an FTS5 table with the trigram tokenizer (substring matching, case
folded, SQLite 3.34 or newer) over the action, actor, target, workstation and details of each
entry. It is an external-content table (``content='audit_entries'``): it holds only the index,
not a second copy of the text. An AFTER INSERT trigger indexes each new entry and an AFTER
DELETE trigger removes a deleted one (audit entries are append-only; only a controlled prune
deletes them). Existing entries are indexed by the migration.

PostgreSQL: a GIN index with ``gin_trgm_ops`` (extension pg_trgm) over the same five columns,
which serves ``ILIKE '%text%'`` on any of them. When the server does not offer pg_trgm, or the
role may not create it, the index is left out: search still works, by scanning.

Neither object is part of ``schema.py``'s tables; autogenerate comparison leaves them out
(:func:`mdm_desktop.store.schema.include_name`).

Note for later migrations: on SQLite, a batch ("move and copy") change of ``audit_entries``
drops these triggers too; such a migration must create them again
(``create_search_triggers``). Entry ids are kept by such a copy, so the index stays valid.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COLUMNS = 'action, actor, target, workstation, details'

SQLITE_SEARCH_TABLE = (
    f"CREATE VIRTUAL TABLE audit_search USING fts5({COLUMNS}, "
    "content='audit_entries', content_rowid='id', tokenize='trigram')"
)

SQLITE_SEARCH_TRIGGERS = (
    f"""CREATE TRIGGER audit_search_index AFTER INSERT ON audit_entries
    BEGIN INSERT INTO audit_search (rowid, {COLUMNS})
        VALUES (new.id, new.action, new.actor, new.target, new.workstation, new.details); END""",
    f"""CREATE TRIGGER audit_search_unindex AFTER DELETE ON audit_entries
    BEGIN INSERT INTO audit_search (audit_search, rowid, {COLUMNS})
        VALUES ('delete', old.id, old.action, old.actor, old.target, old.workstation, old.details); END""",
)

POSTGRES_SEARCH_INDEX = (
    'CREATE INDEX ix_audit_entries_search_trgm ON audit_entries USING gin '
    '(action gin_trgm_ops, actor gin_trgm_ops, target gin_trgm_ops, workstation gin_trgm_ops, details gin_trgm_ops)'
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
            bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute(SQLITE_SEARCH_TABLE)
        op.execute("INSERT INTO audit_search (audit_search) VALUES ('rebuild')")
        create_search_triggers()
    elif _postgres_trgm_ready(bind):
        op.execute(POSTGRES_SEARCH_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS audit_search_index')
        op.execute('DROP TRIGGER IF EXISTS audit_search_unindex')
        op.execute('DROP TABLE IF EXISTS audit_search')
    else:
        op.execute('DROP INDEX IF EXISTS ix_audit_entries_search_trgm')
