"""Indexed free-text search of the audit log (migration 0004) on SQLite and PostgreSQL.

Substrings of the action, actor, target, workstation and details are found case-insensitively,
together with the other filters and with stable newest-first keyset pages; search syntax and LIKE
wildcards in the text are taken literally; the query plans use the index (FTS5 on SQLite, the
pg_trgm GIN index on PostgreSQL); the index is filled for older entries and follows deletions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, Select, text

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.dto import AuditCursor, AuditEntryInfo, AuditQuery, SessionInfo
from mdm_desktop.store.engine import create_store_engine
from mdm_desktop.store.repositories import audit as repo
from mdm_desktop.store.schema import AUDIT_SEARCH_INDEX
from mdm_desktop.store.versioning import _alembic_config, upgrade
from tests.integration.fixtures_data import NOW, add_audit_entries, store_keys

START = NOW - dt.timedelta(days=30)
STEP = dt.timedelta(minutes=7)

SPECIAL = (
    'he said "stop" twice',
    "50% off_road",
    "50x offxroad",
    "wild*card",
    "NEAR(alpha beta)",
    "column:value here",
    "^anchored - minus",
    "AND OR NOT words",
    "back\\slash path",
)


def write(ctx: AppContext, *events: tuple[str, str, str, str, dict[str, Any]]) -> list[int]:
    """Append (actor, workstation, action, target, details) entries; return their ids in order."""
    times = iter([NOW + dt.timedelta(seconds=i) for i in range(len(events))])
    log = AuditLog(store_keys(ctx).audit, lambda: next(times))
    with ctx.uow(write=True) as uow:
        for actor, workstation, action, target, details in events:
            who = Principal(kind="user", id=None, name=actor, role=None, workstation=workstation)
            log.record(uow, who, action, target_kind="device", target=target, details=details)
        uow.commit()
    found = all_pages(ctx, None, AuditQuery(), 1000)
    return sorted(e.id for e in found)[-len(events) :]


def all_pages(ctx: AppContext, session: SessionInfo | None, query: AuditQuery, limit: int) -> list[AuditEntryInfo]:
    """Every page of ``query`` (through the service when ``session`` is given, else the repository)."""
    out: list[AuditEntryInfo] = []
    cursor: AuditCursor | None = None
    for _ in range(10_000):
        if session is None:
            with ctx.uow() as uow:
                page = repo.list_page(uow, query, cursor, limit)
        else:
            page = ctx.services.audit.list_page(session.principal, query, after=cursor, limit=limit)
        out.extend(page.rows)
        if page.next_cursor is None:
            return out
        assert len(page.rows) == limit
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def matches(e: AuditEntryInfo, q: AuditQuery) -> bool:
    """What the store should answer for ``q``, in plain Python."""
    searched = (e.action, e.actor, e.target, e.workstation, e.details)
    return (
        (q.since is None or e.occurred_at >= q.since)
        and (q.until is None or e.occurred_at < q.until)
        and q.actor in ("", e.actor)
        and e.action.startswith(q.action)
        and (q.outcome is None or e.outcome == q.outcome.value)
        and any(q.text.lower() in f.lower() for f in searched)
    )


def ids(ctx: AppContext, session: SessionInfo, query: AuditQuery) -> list[int]:
    return [e.id for e in all_pages(ctx, session, query, 50)]


def test_substrings_of_every_searched_column(app_ctx: AppContext, admin: SessionInfo) -> None:
    a, b = write(
        app_ctx,
        (
            "marta.kowalska",
            "nurse-station-3",
            "devices.rename",
            "tablet-ward-7",
            {"reason": "Screen cracked in transit"},
        ),
        ("olaf.berg", "frontdesk-01", "policies.publish", "policy-0042", {"note": "ward rounds"}),
    )
    cases = {
        "owalsk": [a],  # inside the actor
        "STATION-3": [a],  # workstation, any case
        "s.rena": [a],  # action
        "ward-7": [a],  # target
        "cracked in trans": [a],  # details, across words
        "ward": [b, a],  # target of one, details of the other: newest first
        "Cracked   IN": [a],  # runs of spaces count as one
        "no such thing": [],
    }
    for needle, expected in cases.items():
        assert ids(app_ctx, admin, AuditQuery(text=needle)) == expected, needle
        assert app_ctx.services.audit.count(admin.principal, AuditQuery(text=needle)) == len(expected), needle


def test_search_syntax_and_wildcards_are_literal(app_ctx: AppContext, admin: SessionInfo) -> None:
    # In the target, a plain text column (details are JSON, where quotes and backslashes are escaped).
    written = write(app_ctx, *[("jdoe", "ws-1", "devices.note", s, {"n": i}) for i, s in enumerate(SPECIAL)])
    by_text = dict(zip(SPECIAL, written, strict=True))
    cases = {
        '"stop"': ['he said "stop" twice'],
        'said "st': ['he said "stop" twice'],
        "50%": ["50% off_road"],
        "off_road": ["50% off_road"],
        "% off": ["50% off_road"],
        "d*c": ["wild*card"],
        "wild*": ["wild*card"],
        "NEAR(alpha": ["NEAR(alpha beta)"],
        "column:val": ["column:value here"],
        "^anchored": ["^anchored - minus"],
        "- minus": ["^anchored - minus"],
        "AND OR NOT": ["AND OR NOT words"],
        "OR NOT": ["AND OR NOT words"],
        "k\\sl": ["back\\slash path"],
        "alpha AND beta": [],
        "alpha beta": ["NEAR(alpha beta)"],
        "'; DROP TABLE audit_entries; --": [],
    }
    for needle, expected in cases.items():
        got = ids(app_ctx, admin, AuditQuery(text=needle))
        assert got == sorted((by_text[s] for s in expected), reverse=True), needle
    page = app_ctx.services.audit.list_page(admin.principal, AuditQuery(text="zzz-not-there"))
    assert page.rows == ()
    assert page.next_cursor is None


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(text="lost phone"),
        AuditQuery(text="DEVICE-01"),
        AuditQuery(text="frontdesk"),
        AuditQuery(text="lost phone", actor="jdoe"),
        AuditQuery(text="policies.", outcome=Outcome.DENIED),
        AuditQuery(text="routine", action="commands."),
        AuditQuery(text="routine", since=START + STEP * 100, until=START + STEP * 300),
    ],
)
def test_search_with_filters_pages_like_python(app_ctx: AppContext, admin: SessionInfo, query: AuditQuery) -> None:
    add_audit_entries(app_ctx, 420, start=START, step=STEP)
    everything = all_pages(app_ctx, admin, AuditQuery(), limit=1000)

    expected = [e.id for e in everything if matches(e, query)]
    assert expected, "the case should match something"
    for limit in (1, 37, 1000):
        assert [e.id for e in all_pages(app_ctx, admin, query, limit)] == expected
    assert app_ctx.services.audit.count(admin.principal, query) == len(expected)


def test_pages_stay_stable_while_entries_are_appended(app_ctx: AppContext, admin: SessionInfo) -> None:
    add_audit_entries(app_ctx, 200, start=START, step=STEP)
    query = AuditQuery(text="routine")
    first = app_ctx.services.audit.list_page(admin.principal, query, limit=30)
    assert first.next_cursor is not None
    add_audit_entries(app_ctx, 50, start=NOW, step=STEP)  # newer matches arrive between two pages
    second = app_ctx.services.audit.list_page(admin.principal, query, after=first.next_cursor, limit=30)
    assert second.rows[0].id < first.rows[-1].id
    before = [e.id for e in all_pages(app_ctx, admin, query, 1000) if e.id < first.rows[-1].id]
    assert [e.id for e in second.rows] == before[:30]


@pytest.mark.parametrize("needle", ["a", "ab", " ab ", "é\u0301"])
def test_search_needs_three_characters(app_ctx: AppContext, admin: SessionInfo, needle: str) -> None:
    with pytest.raises(ValidationError, match="at least 3 characters"):
        app_ctx.services.audit.list_page(admin.principal, AuditQuery(text=needle))
    with pytest.raises(ValidationError, match="at least 3 characters"):
        app_ctx.services.audit.count(admin.principal, AuditQuery(text=needle))


def test_blank_search_is_no_filter(app_ctx: AppContext, admin: SessionInfo) -> None:
    add_audit_entries(app_ctx, 10)
    everything = ids(app_ctx, admin, AuditQuery())
    assert ids(app_ctx, admin, AuditQuery(text="   ")) == everything
    assert app_ctx.services.audit.count(admin.principal, AuditQuery(text=" \t ")) == len(everything)
    assert app_ctx.services.audit.count(admin.principal, AuditQuery()) == len(everything)


def _plan(engine: Engine, stmt: Select[Any]) -> str:
    compiled = stmt.compile(dialect=engine.dialect)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
            return "\n".join(str(r[-1]) for r in rows)
        # A small table would be read whole whatever the index: leave the planner only bitmap scans.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_indexscan = off")
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
        return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(text="lost phone"),
        AuditQuery(text="lost phone", actor="jdoe", outcome=Outcome.SUCCESS),
        AuditQuery(text="device-01", action="commands.", since=START),
    ],
)
def test_search_uses_the_index(app_ctx: AppContext, admin: SessionInfo, query: AuditQuery) -> None:
    add_audit_entries(app_ctx, 300, start=START, step=STEP)
    engine = app_ctx.engine
    for after in (None, AuditCursor(150)):
        plan = _plan(engine, repo.page_statement(query, after, 201, engine.dialect.name))
        if engine.dialect.name == "sqlite":
            assert "SCAN audit_search VIRTUAL TABLE INDEX" in plan, plan
            assert "SCAN audit_entries" not in plan, plan
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
        elif after is None and query == AuditQuery(text=query.text):
            assert AUDIT_SEARCH_INDEX in plan, plan
        else:  # with another narrowing condition the planner may start from its index; never a full scan
            assert "Seq Scan" not in plan, plan


def test_index_covers_older_entries_and_follows_deletes(store_url: str) -> None:
    """Entries written before revision 0004 are indexed by it; a deleted entry leaves the index."""
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
            conn.execute(
                text(
                    "INSERT INTO audit_entries (seq, hash_version, occurred_at, actor_kind, actor, workstation,"
                    " action, target_kind, target, outcome, details, prev_hash, entry_hash) VALUES"
                    " (1, 2, '2026-01-01 00:00:00', 'user', 'old.admin', 'ws', 'devices.wipe', 'device',"
                    " 'phone-legacy-9', 'success', '{}', '', 'x')"
                )
            )
        upgrade(engine)
        query = AuditQuery(text="legacy-9")
        stmt, _key = repo.matching((text("1"),), query, engine.dialect.name)
        with engine.connect() as conn:
            assert len(conn.execute(stmt).all()) == 1
        if engine.dialect.name != "sqlite":
            with engine.connect() as conn:
                assert conn.execute(text(f"SELECT 1 FROM pg_indexes WHERE indexname = '{AUDIT_SEARCH_INDEX}'")).all()
            return
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")  # stands in for a controlled prune
            conn.exec_driver_sql("DELETE FROM audit_entries")
            conn.exec_driver_sql("INSERT INTO audit_search (audit_search) VALUES ('integrity-check')")
        with engine.connect() as conn:
            assert conn.execute(stmt).all() == []
            assert conn.exec_driver_sql("SELECT count(*) FROM audit_search_docsize").scalar_one() == 0
    finally:
        engine.dispose()


def test_index_stays_consistent_with_the_log(sqlite_ctx: AppContext) -> None:
    add_audit_entries(sqlite_ctx, 120)
    with sqlite_ctx.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO audit_search (audit_search) VALUES ('integrity-check')")
        indexed = conn.exec_driver_sql("SELECT count(*) FROM audit_search_docsize").scalar_one()
        entries = conn.exec_driver_sql("SELECT count(*) FROM audit_entries").scalar_one()
    assert indexed == entries


def test_downgrade_removes_the_index(store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                left = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name LIKE 'audit_search%'").all()
            else:
                left = conn.execute(text(f"SELECT 1 FROM pg_indexes WHERE indexname = '{AUDIT_SEARCH_INDEX}'")).all()
        assert left == []
    finally:
        engine.dispose()
