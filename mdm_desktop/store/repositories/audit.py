"""Audit log queries: newest-first keyset pages with filters in SQL."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select

from mdm_desktop.services.dto import AuditCursor, AuditEntryInfo, AuditFilterChoices, AuditPage, AuditQuery
from mdm_desktop.store.schema import AuditEntry
from mdm_desktop.store.unit_of_work import UnitOfWork


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_clauses(query: AuditQuery) -> list[ColumnElement[bool]]:
    """SQL conditions for ``query``."""
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
    text = " ".join(query.text.split())
    if text:
        pattern = f"%{_escape_like(text)}%"
        clauses.append(
            or_(
                AuditEntry.target.ilike(pattern, escape="\\"),
                AuditEntry.details.ilike(pattern, escape="\\"),
                AuditEntry.action.ilike(pattern, escape="\\"),
                AuditEntry.actor.ilike(pattern, escape="\\"),
            )
        )
    return clauses


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


def list_page(uow: UnitOfWork, query: AuditQuery, after: AuditCursor | None, limit: int) -> AuditPage:
    """One page, newest first (ids grow with time), strictly after ``after``."""
    clauses = filter_clauses(query)
    if after is not None:
        clauses.append(AuditEntry.id < after.id)
    stmt = select(AuditEntry)
    if clauses:
        stmt = stmt.where(*clauses)
    found = uow.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)).all()
    more = len(found) > limit
    rows = tuple(to_info(e) for e in found[:limit])
    return AuditPage(rows=rows, next_cursor=AuditCursor(rows[-1].id) if more and rows else None)


def count(uow: UnitOfWork, query: AuditQuery) -> int:
    """Number of entries matching ``query``."""
    stmt = select(func.count(AuditEntry.id))
    clauses = filter_clauses(query)
    if clauses:
        stmt = stmt.where(*clauses)
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
