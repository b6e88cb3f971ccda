"""Guarded command requests waiting for a second administrator (``command_approvals``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update

from mdm_desktop.domain.commands import ApprovalStatus, CommandType
from mdm_desktop.services.command_dto import ApprovalInfo
from mdm_desktop.store.schema import CommandApproval, Device, new_uid
from mdm_desktop.store.unit_of_work import UnitOfWork


def create(
    uow: UnitOfWork,
    ctype: CommandType,
    payload: dict[str, Any],
    device_ids: Sequence[int],
    reason: str,
    requested_by: str,
    requested_session: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> CommandApproval:
    """Add a pending approval request (flushed)."""
    row = CommandApproval(
        uid=new_uid(),
        type=ctype.value,
        payload=dict(payload),
        device_ids=list(device_ids),
        reason=reason,
        status=ApprovalStatus.PENDING.value,
        requested_by=requested_by,
        requested_session=requested_session,
        requested_at=now,
        expires_at=expires_at,
        decided_by="",
        decision_note="",
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def due(uow: UnitOfWork, now: dt.datetime) -> list[CommandApproval]:
    """Pending approvals whose time is up."""
    return list(
        uow.session.scalars(
            select(CommandApproval)
            .where(CommandApproval.status == ApprovalStatus.PENDING.value, CommandApproval.expires_at <= now)
            .order_by(CommandApproval.id)
        ).all()
    )


def mark_expired(uow: UnitOfWork, ids: Sequence[int], now: dt.datetime) -> None:
    """Close the given pending approvals as expired."""
    if not ids:
        return
    uow.session.execute(
        update(CommandApproval)
        .where(CommandApproval.id.in_(list(ids)), CommandApproval.status == ApprovalStatus.PENDING.value)
        .values(status=ApprovalStatus.EXPIRED.value, decided_at=now)
        .execution_options(synchronize_session=False)
    )


def get(uow: UnitOfWork, approval_id: int, *, lock: bool = False) -> CommandApproval | None:
    """One approval by id (locked for update on PostgreSQL when ``lock``)."""
    stmt = select(CommandApproval).where(CommandApproval.id == approval_id)
    if lock and uow.dialect == "postgresql":
        stmt = stmt.with_for_update()
    return uow.session.scalars(stmt).first()


def listing(uow: UnitOfWork, statuses: Sequence[ApprovalStatus], limit: int = 200) -> list[CommandApproval]:
    """Approvals with the given statuses (any when empty), newest first."""
    stmt = select(CommandApproval)
    if statuses:
        stmt = stmt.where(CommandApproval.status.in_([s.value for s in statuses]))
    return list(uow.session.scalars(stmt.order_by(CommandApproval.id.desc()).limit(limit)).all())


def pending_count(uow: UnitOfWork) -> int:
    """Number of open approval requests."""
    stmt = select(func.count(CommandApproval.id)).where(CommandApproval.status == ApprovalStatus.PENDING.value)
    return int(uow.session.scalar(stmt) or 0)


def to_info(uow: UnitOfWork, rows: Sequence[CommandApproval]) -> tuple[ApprovalInfo, ...]:
    """DTOs of approval rows, with the names of their devices."""
    wanted = sorted({int(i) for r in rows for i in r.device_ids})
    names = (
        {int(i): str(n) for i, n in uow.session.execute(select(Device.id, Device.name).where(Device.id.in_(wanted)))}
        if wanted
        else {}
    )
    return tuple(
        ApprovalInfo(
            id=r.id,
            uid=r.uid,
            type=CommandType(r.type),
            payload=dict(r.payload or {}),
            device_ids=tuple(int(i) for i in r.device_ids),
            device_names=tuple(names.get(int(i), f"#{i}") for i in r.device_ids),
            reason=r.reason,
            status=ApprovalStatus(r.status),
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            expires_at=r.expires_at,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            decision_note=r.decision_note,
        )
        for r in rows
    )
