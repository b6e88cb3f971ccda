"""Engine construction for SQLite (embedded) and PostgreSQL (networked).

SQLite gets WAL, ``synchronous=FULL``, foreign keys, a busy timeout, and
``BEGIN IMMEDIATE`` for write transactions (deferred read-then-write
transactions fail with "database is locked" under concurrency). PostgreSQL goes
through psycopg 3. Connection problems become :class:`StoreError` with plain words.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from mdm_desktop.domain.errors import StoreError

BUSY_TIMEOUT_MS = 15_000
WRITE_OPTION = "mdm_write"


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A human description of where the store is (status bar, errors)."""

    kind: str
    description: str


def describe(url: str) -> StoreLocation:
    """Describe a store URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return StoreLocation("sqlite", f"SQLite {parsed.database or ':memory:'}")
    host = parsed.host or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return StoreLocation("postgresql", f"PostgreSQL {host}{port}/{parsed.database or ''}")


def create_store_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` and check that it can be used.

    Raises:
        StoreError: The URL is malformed, the SQLite folder cannot be written,
            the file is not a database, or the server cannot be reached.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"'{url}' is not a database URL or path.", hint="Use a file path or postgresql://...") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url, parsed.database, echo=echo)
    elif backend == "postgresql":
        engine = _postgres_engine(url, echo=echo)
    else:
        raise StoreError(f"Unsupported database '{backend}'.", hint="Use SQLite (a file path) or PostgreSQL.")
    check_connection(engine)
    return engine


def _sqlite_engine(url: str, database: str | None, *, echo: bool) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        if path.is_dir():
            raise StoreError(f"{path} is a folder, not a database file.", hint="Give a file path for --db.")
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder {folder}: {exc.strerror}.") from exc
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise StoreError(
                f"Cannot write to {path if path.exists() else folder}.",
                hint="Choose a location you can write to, or fix its permissions.",
            )
    try:
        engine = create_engine(url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    except NoSuchModuleError as exc:
        raise StoreError(f"Unsupported SQLite URL '{url}'.") from exc

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
            # REPLACE conflict resolution deletes rows without firing DELETE triggers unless this is on;
            # the audit log's append-only triggers must see those deletes too.
            cur.execute("PRAGMA recursive_triggers = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: str, *, echo: bool) -> Engine:
    try:
        return create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            connect_args={"connect_timeout": 10, "application_name": "mdm-desktop"},
        )
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreError(f"Unsupported PostgreSQL URL: {exc}.", hint="Use postgresql://user@host:port/db") from exc


def check_connection(engine: Engine) -> None:
    """Open one connection and read from it, translating failures into :class:`StoreError`."""
    where = describe(str(engine.url.render_as_string(hide_password=True))).description
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()
            else:
                conn.execute(text("SELECT 1")).scalar_one()
    except DBAPIError as exc:
        engine.dispose()
        raise translate_db_error(exc, where) from exc


def translate_db_error(exc: DBAPIError, where: str) -> StoreError:
    """Turn a driver error into a :class:`StoreError` a person can act on."""
    raw = str(exc.orig) if exc.orig is not None else str(exc)
    first = raw.strip().splitlines()[0] if raw.strip() else type(exc).__name__
    low = raw.lower()
    if "file is not a database" in low or "not a database" in low:
        return StoreError(
            f"{where} is not an MDM Desktop database (or it is damaged).", hint="Check the --db path.", details=raw
        )
    if "unable to open database" in low or "readonly" in low:
        return StoreError(
            f"Cannot open {where}.", hint="Check that the folder exists and you can write to it.", details=raw
        )
    if "connection refused" in low or "could not connect" in low or "timeout" in low or "no route" in low:
        return StoreError(
            f"Cannot reach {where}.", hint="Check that the server is running and the address is right.", details=raw
        )
    if (
        "password authentication failed" in low
        or "no pg_hba.conf entry" in low
        or ("role" in low and "does not exist" in low)
    ):
        return StoreError(
            f"{where} refused the connection: {first}.",
            hint="Check the user name and password in the URL.",
            details=raw,
        )
    if "database" in low and "does not exist" in low:
        return StoreError(
            f"{where}: the database does not exist.", hint="Create it first (createdb) or fix the URL.", details=raw
        )
    return StoreError(f"Database error on {where}: {first}.", details=raw)
