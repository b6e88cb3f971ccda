"""Schema versions: create, upgrade, and refuse stores newer than this program."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError

from mdm_desktop.domain.errors import StoreError
from mdm_desktop.store.engine import describe, translate_db_error

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest schema revision this program knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision, or ``None`` for an empty store."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the store to the newest schema; return (before, after) revisions.

    Raises:
        StoreError: The store is newer than this program, or holds tables that
            are not an MDM Desktop schema. The store is left untouched.
    """
    where = describe(engine.url.render_as_string(hide_password=True)).description
    try:
        before = current_revision(engine)
        script = ScriptDirectory.from_config(_alembic_config())
        known = {rev.revision for rev in script.walk_revisions()}
        if before is not None and before not in known:
            raise StoreError(
                f"{where} was created by a newer version of MDM Desktop (schema {before}).",
                hint="Install the newer program to open it; the store was not changed.",
            )
        if before is None:
            tables = set(inspect(engine).get_table_names())
            if tables:
                raise StoreError(
                    f"{where} already holds tables that are not an MDM Desktop store "
                    f"({', '.join(sorted(tables)[:3])}...).",
                    hint="Use an empty database for MDM Desktop; nothing was changed.",
                )
        head = head_revision()
        if before != head:
            with engine.begin() as conn:
                cfg = _alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        return before, head
    except DBAPIError as exc:
        raise translate_db_error(exc, where) from exc


def ensure_current(engine: Engine) -> None:
    """Create or upgrade the store on first use; refuse one that is newer."""
    upgrade(engine)
