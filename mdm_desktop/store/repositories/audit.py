"""Audit log queries: newest-first keyset pages with filters in SQL.

Free text is a case-insensitive substring of an entry's action, actor, target, workstation or
details, found through an index (migration 0004): on SQLite the FTS5 trigram table
``audit_search``, joined to the keyset query and walked newest first by its rowid (the entry
id); on PostgreSQL ``ILIKE`` on the five columns, which the pg_trgm GIN index serves. A trigram
index needs at least :data:`SEARCH_MIN_CHARS` characters; the service refuses shorter text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, column, func, select, table

from mdm_desktop.services.dto import AuditCursor, AuditEntryInfo, AuditFilterChoices, AuditPage, AuditQuery
from mdm_desktop.store.repositories import audit_search as search
from mdm_desktop.store.schema import AUDIT_SEARCH_TABLE, AuditEntry
from mdm_desktop.store.unit_of_work import UnitOfWork

SEARCH_MIN_CHARS = 3
"""Shortest search text the trigram index answers (one trigram)."""

_search = table(AUDIT_SEARCH_TABLE, column("rowid", Integer))
_escape_like = search.escape_like
fts_phrase = search.fts_phrase


def search_text(query: AuditQuery) -> str:
    """The query's free text with each run of whitespace made one space (``""`` for none)."""
    return " ".join(query.text.split())


def filter_clauses(query: AuditQuery, dialect: str = "postgresql") -> list[ColumnElement[bool]]:
    """SQL conditions on ``audit_entries`` for ``query`` (on SQLite the free text is a join, see :func:`matching`)."""
    clauses: list[ColumnElement[bool]] = []
    if query.since is not None:
        clauses.append(AuditEntry.occurred_at >= query.since)
    if query.until is not None:
        clauses.append(AuditEntry.occurred_at < query.until)
    if query.actor:
        clauses.append(AuditEntry.actor == query.actor)
    if query.action:
        clauses.append(AuditEntry.action.like(_escape_like(query.action) + "%", escape="\\"))
    if query.outcome is not None:
        clauses.append(AuditEntry.outcome == query.outcome.value)
    text = search_text(query)
    if text and dialect != "sqlite":
        clauses.append(search.ilike_clause(text))
    return clauses


def matching(
    columns: tuple[Any, ...],
    query: AuditQuery,
    dialect: str,
    after: AuditCursor | None = None,
    plan: search.SearchPlan = search.NEWEST_FIRST,
) -> tuple[Select[Any], ColumnElement[int]]:
    """``SELECT columns`` of the entries matching ``query`` (older than ``after``), and the keyset column.

    On SQLite with free text the statement starts from the FTS5 index and the keyset column is its
    rowid, so ``ORDER BY key DESC LIMIT n`` walks the index newest first and stops after ``n`` hits;
    with an index-first ``plan`` the index is asked for the AND of the text's rare trigrams and each
    hit is checked for the whole text. On PostgreSQL an index-first ``plan`` collects the matches in a
    materialized CTE (the trigram index) before they are ordered. The entries are the same either way.
    """
    clauses = filter_clauses(query, dialect)
    text = search_text(query)
    key: ColumnElement[int]
    if after is not None:
        clauses.append((_search.c.rowid if text and dialect == "sqlite" else AuditEntry.__table__.c.id) < after.id)
    if text and dialect == "sqlite":
        key = _search.c.rowid
        stmt = select(*columns).select_from(_search).join(AuditEntry, AuditEntry.id == _search.c.rowid)
        if plan.strategy is search.SearchStrategy.INDEX_FIRST and plan.trigrams:
            driving = " AND ".join(fts_phrase(t) for t in plan.trigrams)
            stmt = stmt.where(search.fts_match(driving), search.fts5_substring_clause(text))
        else:
            stmt = stmt.where(search.fts_match(fts_phrase(text)))
    elif text and plan.strategy is search.SearchStrategy.INDEX_FIRST:
        hits = select(AuditEntry.id).where(*clauses).cte("audit_hits").prefix_with("MATERIALIZED")
        key = hits.c.id
        return select(*columns).select_from(hits).join(AuditEntry, AuditEntry.id == hits.c.id), key
    else:
        key = AuditEntry.__table__.c.id
        stmt = select(*columns)
    if clauses:
        stmt = stmt.where(*clauses)
    return stmt, key


def plan_for(uow: UnitOfWork, query: AuditQuery, strategy: search.SearchStrategy | None = None) -> search.SearchPlan:
    """How to answer ``query``'s free text: by estimate (:func:`~.audit_search.choose`), or ``strategy`` when given."""
    text = search_text(query)
    if not text:
        return search.NEWEST_FIRST
    if strategy is not None:
        return search.forced(strategy, text, uow.dialect)
    return search.choose(uow, text)


def to_info(e: AuditEntry) -> AuditEntryInfo:
    """Map an entry row to its DTO."""
    return AuditEntryInfo(
        id=e.id,
        occurred_at=e.occurred_at,
        actor_kind=e.actor_kind,
        actor=e.actor,
        workstation=e.workstation,
        action=e.action,
        target_kind=e.target_kind,
        target=e.target,
        outcome=e.outcome,
        details=e.details,
        entry_hash=e.entry_hash,
        seq=e.seq,
    )


def page_statement(
    query: AuditQuery,
    after: AuditCursor | None,
    limit: int,
    dialect: str,
    plan: search.SearchPlan = search.NEWEST_FIRST,
) -> Select[AuditEntry]:
    """The statement of one page: ``limit`` entries, newest first, strictly after ``after``."""
    stmt, key = matching((AuditEntry,), query, dialect, after, plan)
    return stmt.order_by(key.desc()).limit(limit)


def list_page(
    uow: UnitOfWork,
    query: AuditQuery,
    after: AuditCursor | None,
    limit: int,
    strategy: search.SearchStrategy | None = None,
) -> AuditPage:
    """One page, newest first (ids grow with time), strictly after ``after``.

    ``strategy`` forces how free text is answered (tests); by default :func:`plan_for` estimates it.
    """
    plan = plan_for(uow, query, strategy)
    found = uow.session.scalars(page_statement(query, after, limit + 1, uow.dialect, plan)).all()
    more = len(found) > limit
    rows = tuple(to_info(e) for e in found[:limit])
    return AuditPage(rows=rows, next_cursor=AuditCursor(rows[-1].id) if more and rows else None)


def count(uow: UnitOfWork, query: AuditQuery, strategy: search.SearchStrategy | None = None) -> int:
    """Number of entries matching ``query``."""
    stmt, _key = matching((func.count(AuditEntry.id),), query, uow.dialect, plan=plan_for(uow, query, strategy))
    return int(uow.session.scalar(stmt) or 0)


def entry(uow: UnitOfWork, entry_id: int) -> AuditEntryInfo | None:
    """One entry by id."""
    found = uow.session.get(AuditEntry, entry_id)
    return to_info(found) if found is not None else None


def filter_choices(uow: UnitOfWork, limit: int = 500) -> AuditFilterChoices:
    """Distinct actors and actions (each list capped at ``limit``), sorted."""
    actors = uow.session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor).limit(limit)).all()
    actions = uow.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action).limit(limit)).all()
    return AuditFilterChoices(actors=tuple(actors), actions=tuple(actions))
