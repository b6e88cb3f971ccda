"""Escalation queries: failing rule states to act on, steps taken, steps to forget, quarantines to lift.

Set-based: one query per question for the whole fleet, never one ORM object per device.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mdm_desktop.domain.devices import LifecycleStatus
from mdm_desktop.store.schema import Device, DeviceRuleState, EscalationStep, PolicyVersion
from mdm_desktop.store.unit_of_work import UnitOfWork

INACTIVE = (LifecycleStatus.RETIRED.value, LifecycleStatus.WIPED.value)
HELD_STATUSES = ("failing", "unknown")
"""Rule states that keep the steps already taken (unknown: no fresh data, so nothing is forgotten yet)."""


@dataclass(frozen=True, slots=True)
class FailingRule:
    """A failing rule on an active device, with what escalation needs to know."""

    device_id: int
    device_uid: str
    device_name: str
    group_id: int | None
    rule_id: str
    failing_since: dt.datetime
    detail: str
    policy_version_id: int | None


def failing_rules(uow: UnitOfWork, since_before: dt.datetime) -> list[FailingRule]:
    """Failing rules (failing since ``since_before`` or earlier) on devices that are not retired or wiped."""
    rows = uow.session.execute(
        select(
            DeviceRuleState.device_id,
            Device.uid,
            Device.name,
            Device.group_id,
            DeviceRuleState.rule_id,
            DeviceRuleState.failing_since,
            DeviceRuleState.detail,
            DeviceRuleState.policy_version_id,
        )
        .join(Device, Device.id == DeviceRuleState.device_id)
        .where(
            DeviceRuleState.status == "failing",
            DeviceRuleState.failing_since.is_not(None),
            DeviceRuleState.failing_since <= since_before,
            Device.status.not_in(INACTIVE),
        )
        .order_by(DeviceRuleState.device_id, DeviceRuleState.rule_id)
    ).all()
    return [
        FailingRule(int(d), str(u), str(n), g, str(r), since, str(detail), v)
        for d, u, n, g, r, since, detail, v in rows
        if since is not None
    ]


def taken_steps(uow: UnitOfWork) -> dict[tuple[int, str], set[str]]:
    """Every step taken, by ``(device_id, rule_id)``."""
    out: dict[tuple[int, str], set[str]] = {}
    for device_id, rule_id, step in uow.session.execute(
        select(EscalationStep.device_id, EscalationStep.rule_id, EscalationStep.step)
    ):
        out.setdefault((int(device_id), str(rule_id)), set()).add(str(step))
    return out


def version_settings(uow: UnitOfWork, version_ids: Iterable[int]) -> dict[int, Any]:
    """The stored settings of each policy version."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    rows = uow.session.execute(select(PolicyVersion.id, PolicyVersion.settings).where(PolicyVersion.id.in_(ids)))
    return {int(i): s for i, s in rows}


def claim_step(uow: UnitOfWork, device_id: int, rule_id: str, step: str, now: dt.datetime) -> bool:
    """Record a step as taken; ``False`` when it already was (by this run or a concurrent one)."""
    values = {"device_id": device_id, "rule_id": rule_id, "step": step, "taken_at": now}
    if uow.dialect == "postgresql":
        stmt: Any = postgresql.insert(EscalationStep).values(**values).on_conflict_do_nothing()
    elif uow.dialect == "sqlite":
        stmt = sqlite.insert(EscalationStep).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        stmt = insert(EscalationStep).values(**values)
    return uow.session.execute(stmt.returning(EscalationStep.step)).first() is not None


def link_step(
    uow: UnitOfWork,
    keys: Sequence[tuple[int, str]],
    step: str,
    *,
    command_id: int | None = None,
    approval_id: int | None = None,
) -> None:
    """Note the command or approval request a step made."""
    for device_id, rule_id in keys:
        uow.session.execute(
            update(EscalationStep)
            .where(
                EscalationStep.device_id == device_id,
                EscalationStep.rule_id == rule_id,
                EscalationStep.step == step,
            )
            .values(command_id=command_id, approval_id=approval_id)
        )


def _held() -> Any:
    return exists().where(
        DeviceRuleState.device_id == EscalationStep.device_id,
        DeviceRuleState.rule_id == EscalationStep.rule_id,
        DeviceRuleState.status.in_(HELD_STATUSES),
    )


def forget_passed(uow: UnitOfWork) -> list[tuple[int, str, str, tuple[str, ...]]]:
    """Delete the steps of rules that pass again (or are exempt, or gone); return ``(device_id, uid, rule, steps)``."""
    rows = uow.session.execute(
        select(EscalationStep.device_id, Device.uid, EscalationStep.rule_id, EscalationStep.step)
        .join(Device, Device.id == EscalationStep.device_id)
        .where(~_held())
        .order_by(EscalationStep.device_id, EscalationStep.rule_id)
    ).all()
    if not rows:
        return []
    grouped: dict[tuple[int, str, str], list[str]] = {}
    for device_id, uid, rule_id, step in rows:
        grouped.setdefault((int(device_id), str(uid), str(rule_id)), []).append(str(step))
    uow.session.execute(delete(EscalationStep).where(~_held()).execution_options(synchronize_session=False))
    return [(d, u, r, tuple(sorted(s))) for (d, u, r), s in grouped.items()]


def set_quarantined(uow: UnitOfWork, device_ids: Sequence[int], now: dt.datetime) -> None:
    """Mark devices quarantined (those already quarantined keep their first time)."""
    if device_ids:
        uow.session.execute(
            update(Device)
            .where(Device.id.in_(list(device_ids)), Device.quarantined_at.is_(None))
            .values(quarantined_at=now, updated_at=now)
        )


def release_quarantines(uow: UnitOfWork, now: dt.datetime) -> list[tuple[int, str, dt.datetime]]:
    """Lift the quarantine of devices no failing rule holds in quarantine any more; return ``(id, uid, since)``."""
    still = exists().where(and_(EscalationStep.device_id == Device.id, EscalationStep.step == "quarantine"))
    rows = uow.session.execute(
        select(Device.id, Device.uid, Device.quarantined_at).where(Device.quarantined_at.is_not(None), ~still)
    ).all()
    if rows:
        uow.session.execute(
            update(Device)
            .where(Device.id.in_([r[0] for r in rows]))
            .values(quarantined_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return [(int(i), str(u), q) for i, u, q in rows if q is not None]


def is_quarantined(uow: UnitOfWork, device_id: int) -> bool:
    """Whether the device is quarantined now."""
    return uow.session.scalar(select(Device.quarantined_at).where(Device.id == device_id)) is not None
