"""The rows of the compliance report: each device's rules that do not pass, with the exceptions in force.

Read set-based: one query over ``device_rule_states`` joined to the devices and their groups (streamed
in batches, never one ORM object per device), and one query for the active exceptions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from mdm_desktop.domain.compliance_rules import RuleStatus
from mdm_desktop.store.schema import ComplianceException, Device, DeviceGroup, DeviceRuleState
from mdm_desktop.store.unit_of_work import UnitOfWork

BATCH = 2000


@dataclass(frozen=True, slots=True)
class ActiveException:
    """An approved, unrevoked, unexpired exception from one rule."""

    uid: str
    valid_until: dt.datetime
    reason: str
    approved_by: str
    for_group: bool


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One rule of one device that does not pass."""

    device_id: int
    device_uid: str
    device_name: str
    platform: str
    ownership: str
    group_id: int | None
    group_name: str
    device_state: str
    rule_id: str
    rule_state: str
    failing_since: dt.datetime | None
    reason: str


def active_exceptions(
    uow: UnitOfWork, now: dt.datetime
) -> tuple[dict[tuple[int, str], ActiveException], dict[tuple[int, str], ActiveException]]:
    """Active exceptions by ``(device id, rule)`` and by ``(group id, rule)`` (the later expiry wins)."""
    by_device: dict[tuple[int, str], ActiveException] = {}
    by_group: dict[tuple[int, str], ActiveException] = {}
    rows = uow.session.execute(
        select(
            ComplianceException.uid,
            ComplianceException.device_id,
            ComplianceException.group_id,
            ComplianceException.rule_id,
            ComplianceException.valid_until,
            ComplianceException.reason,
            ComplianceException.approved_by,
        ).where(
            ComplianceException.approved_at.isnot(None),
            ComplianceException.revoked_at.is_(None),
            ComplianceException.valid_until > now,
        )
    )
    for uid, device_id, group_id, rule_id, until, reason, approved_by in rows:
        found = ActiveException(str(uid), until, str(reason), str(approved_by), device_id is None)
        subject = device_id if device_id is not None else group_id
        assert subject is not None  # the one_subject check constraint
        target = by_device if device_id is not None else by_group
        key = (int(subject), str(rule_id))
        known = target.get(key)
        if known is None or known.valid_until < until:
            target[key] = found
    return by_device, by_group


def rule_rows(uow: UnitOfWork) -> Iterator[RuleRow]:
    """Every stored rule outcome other than passing, by device name, device and rule."""
    stmt = (
        select(
            Device.id,
            Device.uid,
            Device.name,
            Device.platform,
            Device.ownership,
            Device.group_id,
            DeviceGroup.name,
            Device.compliance_state,
            DeviceRuleState.rule_id,
            DeviceRuleState.status,
            DeviceRuleState.failing_since,
            DeviceRuleState.detail,
        )
        .join(Device, Device.id == DeviceRuleState.device_id)
        .outerjoin(DeviceGroup, DeviceGroup.id == Device.group_id)
        .where(DeviceRuleState.status != RuleStatus.PASSING.value)
        .order_by(Device.name, Device.id, DeviceRuleState.rule_id)
        .execution_options(yield_per=BATCH)
    )
    for row in uow.session.execute(stmt):
        yield RuleRow(
            device_id=row[0],
            device_uid=row[1],
            device_name=row[2],
            platform=row[3],
            ownership=row[4],
            group_id=row[5],
            group_name=row[6] or "",
            device_state=row[7],
            rule_id=row[8],
            rule_state=row[9],
            failing_since=row[10],
            reason=row[11] or "",
        )
