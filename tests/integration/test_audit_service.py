"""AuditService on SQLite and PostgreSQL: newest-first keyset pages, filters in SQL, refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.services.dto import AuditCursor, AuditEntryInfo, AuditQuery, SessionInfo
from mdm_desktop.store.schema import AuditEntry
from tests.conftest import user_session
from tests.integration.fixtures_data import NOW, add_audit_entries, audit_count, table_count

START = NOW - dt.timedelta(days=30)
STEP = dt.timedelta(minutes=7)


def all_pages(ctx: AppContext, session: SessionInfo, query: AuditQuery, limit: int) -> list[AuditEntryInfo]:
    out: list[AuditEntryInfo] = []
    cursor: AuditCursor | None = None
    for _ in range(10_000):
        page = ctx.services.audit.list_page(session.principal, query, after=cursor, limit=limit)
        out.extend(page.rows)
        if page.next_cursor is None:
            return out
        assert len(page.rows) == limit
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def test_pages_are_newest_first_and_complete(app_ctx: AppContext, admin: SessionInfo) -> None:
    ids = add_audit_entries(app_ctx, 523, start=START, step=STEP)
    rows = all_pages(app_ctx, admin, AuditQuery(), limit=50)
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
    # The entries written by the admin fixture (signing in) are in the log as well.
    assert len(rows) == len({r.id for r in rows}) == table_count(app_ctx, AuditEntry)
    assert [r.id for r in rows if r.id in set(ids)] == sorted(ids, reverse=True)
    times = [r.occurred_at for r in rows if r.id in set(ids)]
    assert times == sorted(times, reverse=True)
    assert all(t.tzinfo is not None for t in times)
    # Paging is not audited.
    assert audit_count(app_ctx, action="audit.list") == 0


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(actor="jdoe"),
        AuditQuery(actor="JDOE"),
        AuditQuery(action="policies."),
        AuditQuery(action="commands.wipe"),
        AuditQuery(action="policies.%"),
        AuditQuery(outcome=Outcome.DENIED),
        AuditQuery(outcome=Outcome.DENIED, actor="admin", action="commands."),
        AuditQuery(text="lost phone"),
        AuditQuery(text="DEVICE-01"),
        AuditQuery(text="100%"),
        AuditQuery(since=START + STEP * 100, until=START + STEP * 200),
        AuditQuery(since=START + STEP * 400),
        AuditQuery(until=START + STEP * 3),
    ],
)
def test_filters_match_python(app_ctx: AppContext, admin: SessionInfo, query: AuditQuery) -> None:
    add_audit_entries(app_ctx, 420, start=START, step=STEP)
    everything = all_pages(app_ctx, admin, AuditQuery(), limit=1000)

    def keep(e: AuditEntryInfo) -> bool:
        if query.since and e.occurred_at < query.since:
            return False
        if query.until and e.occurred_at >= query.until:
            return False
        if query.actor and e.actor != query.actor:
            return False
        if query.action and not e.action.startswith(query.action):
            return False
        if query.outcome and e.outcome != query.outcome.value:
            return False
        text = query.text.lower()
        return not text or any(text in f.lower() for f in (e.target, e.details, e.action, e.actor))

    expected = [e.id for e in everything if keep(e)]
    got = [e.id for e in all_pages(app_ctx, admin, query, limit=37)]
    assert got == expected
    assert app_ctx.services.audit.count(admin.principal, query) == len(expected)


def test_entry_and_choices(app_ctx: AppContext, admin: SessionInfo) -> None:
    ids = add_audit_entries(app_ctx, 20)
    entry = app_ctx.services.audit.entry(admin.principal, ids[3])
    assert entry.id == ids[3]
    assert entry.details.startswith("{")
    with pytest.raises(NotFoundError):
        app_ctx.services.audit.entry(admin.principal, 10**9)
    choices = app_ctx.services.audit.filter_choices(admin.principal)
    assert {"admin", "jdoe", "asmith", "security1"} <= set(choices.actors)
    assert "policies.publish" in choices.actions
    assert list(choices.actions) == sorted(choices.actions)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (AuditQuery(since=NOW, until=NOW - dt.timedelta(days=1)), "before its end"),
        (AuditQuery(since=NOW, until=NOW), "before its end"),
        (AuditQuery(since=dt.datetime(2026, 1, 1)), "time zone"),
        (AuditQuery(text="x" * 300), "longer than"),
        (AuditQuery(outcome="success"), "outcome"),  # type: ignore[arg-type]
    ],
)
def test_malformed_queries(app_ctx: AppContext, admin: SessionInfo, query: AuditQuery, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        app_ctx.services.audit.list_page(admin.principal, query)


def test_bad_page_size(app_ctx: AppContext, admin: SessionInfo) -> None:
    for limit in (0, -1, 1001):
        with pytest.raises(ValidationError, match="Page size"):
            app_ctx.services.audit.list_page(admin.principal, AuditQuery(), limit=limit)


def test_helpdesk_may_not_read_the_log(app_ctx: AppContext, admin: SessionInfo) -> None:
    helpdesk = user_session(app_ctx, "helpdesk1", Role.HELPDESK).principal
    ids = add_audit_entries(app_ctx, 5)
    with pytest.raises(PermissionDeniedError, match=r"audit\.read"):
        app_ctx.services.audit.list_page(helpdesk, AuditQuery())
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.audit.entry(helpdesk, ids[0])
    assert audit_count(app_ctx, action="audit.list", outcome="denied", actor="helpdesk1") == 1
    assert audit_count(app_ctx, action="audit.view", outcome="denied", actor="helpdesk1") == 1
