"""Compliance exceptions in the store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select

from mdm_desktop.domain.compliance_exceptions import exception_status
from mdm_desktop.services.exception_dto import ExceptionInfo
from mdm_desktop.store.schema import ComplianceException, Device, DeviceGroup, DeviceRuleState
from mdm_desktop.store.unit_of_work import UnitOfWork

LIST_LIMIT = 5000


def _query() -> Any:
    return (
        select(ComplianceException, Device.name, DeviceGroup.name)
        .outerjoin(Device, Device.id == ComplianceException.device_id)
        .outerjoin(DeviceGroup, DeviceGroup.id == ComplianceException.group_id)
    )


def _info(row: ComplianceException, device: str | None, group: str | None, now: dt.datetime) -> ExceptionInfo:
    return ExceptionInfo(
        id=row.id,
        uid=row.uid,
        device_id=row.device_id,
        device_name=device or "",
        group_id=row.group_id,
        group_name=group or "",
        rule_id=row.rule_id,
        reason=row.reason,
        valid_until=row.valid_until,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        decided_by=row.revoked_by,
        decided_at=row.revoked_at,
        status=exception_status(
            approved_at=row.approved_at, revoked_at=row.revoked_at, valid_until=row.valid_until, now=now
        ),
    )


def get(
    uow: UnitOfWork, exception_id: int, now: dt.datetime, *, lock: bool = False
) -> tuple[ComplianceException, ExceptionInfo] | None:
    """The row and its DTO."""
    stmt = _query().where(ComplianceException.id == exception_id)
    if lock and uow.dialect == "postgresql":
        stmt = stmt.with_for_update(of=ComplianceException)
    found = uow.session.execute(stmt).first()
    if found is None:
        return None
    return found[0], _info(found[0], found[1], found[2], now)


def to_info(uow: UnitOfWork, row: ComplianceException, now: dt.datetime) -> ExceptionInfo:
    """The DTO of a row (names read from the store)."""
    uow.session.flush()
    found = get(uow, row.id, now)
    assert found is not None
    return found[1]


def listing(uow: UnitOfWork, now: dt.datetime, device_id: int | None = None) -> list[ExceptionInfo]:
    """Exceptions, newest first (of one device and its group when ``device_id`` is given)."""
    stmt = _query().order_by(ComplianceException.id.desc()).limit(LIST_LIMIT)
    if device_id is not None:
        group = select(Device.group_id).where(Device.id == device_id).scalar_subquery()
        stmt = stmt.where(or_(ComplianceException.device_id == device_id, ComplianceException.group_id == group))
    return [_info(r, d, g, now) for r, d, g in uow.session.execute(stmt)]


def open_for(
    uow: UnitOfWork, device_id: int | None, group_id: int | None, rule_id: str, now: dt.datetime
) -> ComplianceException | None:
    """A pending or active exception of the same subject and rule."""
    stmt = select(ComplianceException).where(
        ComplianceException.rule_id == rule_id,
        ComplianceException.revoked_at.is_(None),
        ComplianceException.valid_until > now,
    )
    if device_id is not None:
        stmt = stmt.where(ComplianceException.device_id == device_id)
    else:
        stmt = stmt.where(ComplianceException.group_id == group_id)
    return uow.session.scalars(stmt.limit(1)).first()


def device_group(uow: UnitOfWork, device_id: int) -> tuple[str, int | None] | None:
    """A device's ``(uid, group_id)``."""
    row = uow.session.execute(select(Device.uid, Device.group_id).where(Device.id == device_id)).first()
    return None if row is None else (str(row[0]), row[1])


def group_exists(uow: UnitOfWork, group_id: int) -> bool:
    """Whether the group exists."""
    return uow.session.scalar(select(DeviceGroup.id).where(DeviceGroup.id == group_id)) is not None


def failing_rules(uow: UnitOfWork, device_id: int) -> tuple[tuple[str, str], ...]:
    """A device's failing rules as ``(rule_id, detail)``."""
    rows = uow.session.execute(
        select(DeviceRuleState.rule_id, DeviceRuleState.detail)
        .where(DeviceRuleState.device_id == device_id, DeviceRuleState.status == "failing")
        .order_by(DeviceRuleState.rule_id)
    )
    return tuple((str(r), str(d)) for r, d in rows)
