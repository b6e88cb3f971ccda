"""Set-based reads and writes for the compliance engine: devices as column tuples, rule states in bulk.

Nothing here builds an ORM object per device: devices, installed apps and rule states are read as
tuples in chunks of consecutive ids, and changes are written with one ``executemany`` statement per
kind of change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, Text, and_, bindparam, case, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mdm_desktop.domain.devices import LifecycleStatus
from mdm_desktop.store.schema import (
    ComplianceException,
    ComplianceRuleSnapshot,
    ComplianceSnapshot,
    Device,
    DeviceRuleState,
    InstalledApp,
    Policy,
    PolicyAssignment,
    PolicyVersion,
)

INACTIVE = (LifecycleStatus.RETIRED.value, LifecycleStatus.WIPED.value)
"""Retired and wiped devices are no longer evaluated."""

_devices = cast(Table, Device.__table__)
_states = cast(Table, DeviceRuleState.__table__)
_apps = cast(Table, InstalledApp.__table__)

DEVICE_COLUMNS = (
    _devices.c.id,
    _devices.c.platform,
    _devices.c.ownership,
    _devices.c.group_id,
    _devices.c.os_version,
    type_coerce(_devices.c.security_patch, Text).label("patch_raw"),
    _devices.c.compromised,
    _devices.c.storage_encrypted,
    _devices.c.passcode_set,
    _devices.c.managed_container,
    type_coerce(_devices.c.last_checkin_at, Text).label("checkin_raw"),
    _devices.c.compliance_state,
    type_coerce(_devices.c.compliance_reasons, Text).label("reasons_json"),
    _devices.c.screen_lock_enabled,
)
"""The columns :func:`device_chunk` returns, in this order.

The patch date, the last check-in and the reasons come as the driver returns them (text on SQLite,
``date`` / ``datetime`` on PostgreSQL): :func:`as_date` and :func:`as_utc` read either, much faster
than the general column types do, which matters at 100,000 rows.
"""


def as_date(value: Any) -> dt.date | None:
    """A date column read raw."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def as_utc(value: Any) -> dt.datetime | None:
    """A UTC datetime column read raw (SQLite keeps it as text without an offset)."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _rows(session: Session, query: Any) -> Sequence[Any]:
    """Plain Core rows (no ORM result processing: these reads are the hot path of a batch)."""
    return session.connection().execute(query).all()


def _devices_in(column: Any, device_ids: Sequence[int]) -> Any:
    """``column`` between the first and last id when the ids are dense, else ``IN`` the ids."""
    first, last = device_ids[0], device_ids[-1]
    if last - first + 1 <= 2 * len(device_ids):
        return column.between(first, last)
    return column.in_(list(device_ids))


def assignments(session: Session, group_ids: Collection[int] | None = None) -> list[Any]:
    """Every assignment (group, ownership, version id, policy id, policy name, version number, settings)."""
    query = (
        select(
            PolicyAssignment.group_id,
            PolicyAssignment.ownership,
            PolicyVersion.id,
            PolicyVersion.policy_id,
            Policy.name,
            PolicyVersion.version,
            PolicyVersion.settings,
            PolicyAssignment.assigned_at,
        )
        .join(PolicyVersion, PolicyVersion.id == PolicyAssignment.policy_version_id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .order_by(PolicyAssignment.assigned_at, PolicyAssignment.id)
    )
    if group_ids is not None:
        query = query.where(PolicyAssignment.group_id.in_(list(group_ids)))
    return list(session.execute(query).all())


_ASSIGNMENTS_OF_GROUP = (
    select(
        PolicyAssignment.__table__.c.group_id,
        PolicyAssignment.__table__.c.ownership,
        PolicyVersion.__table__.c.id,
        PolicyVersion.__table__.c.policy_id,
        Policy.__table__.c.name,
        PolicyVersion.__table__.c.version,
        PolicyVersion.__table__.c.settings,
        PolicyAssignment.__table__.c.assigned_at,
    )
    .join(PolicyVersion.__table__, PolicyVersion.__table__.c.id == PolicyAssignment.__table__.c.policy_version_id)
    .join(Policy.__table__, Policy.__table__.c.id == PolicyVersion.__table__.c.policy_id)
    .where(PolicyAssignment.__table__.c.group_id == bindparam("group_id"))
    .order_by(PolicyAssignment.__table__.c.assigned_at, PolicyAssignment.__table__.c.id)
)
_APPS_OF_DEVICE = select(_apps.c.identifier, _apps.c.managed).where(_apps.c.device_id == bindparam("device_id"))
_STATES_OF_DEVICE = select(_states.c.device_id, _states.c.rule_id, _states.c.status, _states.c.detail).where(
    _states.c.device_id == bindparam("device_id")
)
_exceptions = cast(Table, ComplianceException.__table__)
_EXCEPTIONS_OF_DEVICE = select(
    _exceptions.c.device_id,
    _exceptions.c.group_id,
    _exceptions.c.rule_id,
    _exceptions.c.valid_until,
    _exceptions.c.reason,
).where(
    or_(_exceptions.c.device_id == bindparam("device_id"), _exceptions.c.group_id == bindparam("group_id")),
    _exceptions.c.approved_at.isnot(None),
    _exceptions.c.revoked_at.is_(None),
    _exceptions.c.valid_until > bindparam("now", type_=ComplianceException.__table__.c.valid_until.type),
)
"""Prepared once: a check-in evaluates one device, where building statements would cost more than running them."""


def assignments_of_group(session: Session, group_id: int) -> Sequence[Any]:
    """:func:`assignments` of one group."""
    return session.connection().execute(_ASSIGNMENTS_OF_GROUP, {"group_id": group_id}).all()


def apps_of_device(session: Session, device_id: int) -> Sequence[Any]:
    """``(identifier, managed)`` of every app installed on one device."""
    return session.connection().execute(_APPS_OF_DEVICE, {"device_id": device_id}).all()


def states_of_device(session: Session, device_id: int) -> Sequence[Any]:
    """:func:`states_of` for one device."""
    return session.connection().execute(_STATES_OF_DEVICE, {"device_id": device_id}).all()


def exceptions_of_device(session: Session, device_id: int, group_id: int | None, now: dt.datetime) -> Sequence[Any]:
    """:func:`active_exceptions` covering one device (its own and its group's)."""
    return (
        session.connection()
        .execute(_EXCEPTIONS_OF_DEVICE, {"device_id": device_id, "group_id": group_id, "now": now})
        .all()
    )


def device_chunk(
    session: Session,
    after_id: int,
    limit: int,
    *,
    group_ids: Collection[int] | None = None,
    device_ids: Collection[int] | None = None,
    ownership: str | None = None,
) -> Sequence[Any]:
    """The next ``limit`` active devices after ``after_id`` (by id), as tuples of :data:`DEVICE_COLUMNS`."""
    c = _devices.c
    query = select(*DEVICE_COLUMNS).where(c.id > after_id, c.status.not_in(INACTIVE))
    if group_ids is not None:
        query = query.where(c.group_id.in_(sorted(group_ids)))
    if device_ids is not None:
        query = query.where(c.id.in_(sorted(device_ids)))
    if ownership is not None:
        query = query.where(c.ownership == ownership)
    return _rows(session, query.order_by(c.id).limit(limit))


APP_SEPARATOR = "\x1f"
"""Joins identifiers in :func:`apps_of` (a control character no app identifier holds)."""


def apps_of(
    session: Session, device_ids: Sequence[int], named: Collection[str], allowed: Collection[str] | None
) -> Sequence[Any]:
    """``(device_id, identifiers, managed identifiers)`` of the apps rules look at, for ``device_ids`` (ascending).

    An app is looked at when it is ``named`` (required or blocked), or when ``allowed`` is given and the
    app is not in it. One row per device that has any: the identifiers joined by :data:`APP_SEPARATOR`
    (``GROUP BY`` in SQL, so 100,000 devices with five apps each return 100,000 rows, not 500,000).
    """
    c = _apps.c
    conditions = []
    if named:
        conditions.append(c.identifier.in_(sorted(named)))
    if allowed is not None:
        conditions.append(c.identifier.not_in(sorted(allowed)) if allowed else c.id.isnot(None))
    if not conditions or not device_ids:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    join = func.string_agg if postgres else func.group_concat
    managed = case((c.managed.is_(True), c.identifier), else_=None)
    return _rows(
        session,
        select(c.device_id, join(c.identifier, APP_SEPARATOR), join(managed, APP_SEPARATOR))
        .where(_devices_in(c.device_id, device_ids), or_(*conditions))
        .group_by(c.device_id),
    )


def states_of(session: Session, device_ids: Sequence[int]) -> Sequence[Any]:
    """``(device_id, rule_id, status, detail)`` of the stored rule states of ``device_ids`` (ascending)."""
    c = _states.c
    if not device_ids:
        return []
    return _rows(
        session, select(c.device_id, c.rule_id, c.status, c.detail).where(_devices_in(c.device_id, device_ids))
    )


def failing_since_of(session: Session, device_id: int) -> dict[str, dt.datetime | None]:
    """When each stored rule of one device started failing."""
    rows = session.execute(
        select(DeviceRuleState.rule_id, DeviceRuleState.failing_since).where(DeviceRuleState.device_id == device_id)
    ).all()
    return {r[0]: r[1] for r in rows}


def active_exceptions(session: Session, now: dt.datetime) -> Sequence[Any]:
    """``(device_id, group_id, rule_id, valid_until, reason)`` of approved, unrevoked, unexpired exceptions."""
    return session.execute(
        select(
            ComplianceException.device_id,
            ComplianceException.group_id,
            ComplianceException.rule_id,
            ComplianceException.valid_until,
            ComplianceException.reason,
        ).where(
            ComplianceException.approved_at.isnot(None),
            ComplianceException.revoked_at.is_(None),
            ComplianceException.valid_until > now,
        )
    ).all()


def write_states(
    session: Session,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    deletes: list[dict[str, Any]],
) -> None:
    """Apply rule-state changes with one executemany statement per kind.

    ``inserts`` hold the columns of :class:`DeviceRuleState`; ``updates`` and ``deletes`` name the row with
    ``k_device`` and ``k_rule``. Updates carry the new ``status``, ``detail``, ``policy_version_id`` and
    ``evaluated_at``, and ``failing_since`` only when it changes: an update without it (a rule still
    failing, in other words) keeps the stored one.
    """
    key = and_(_states.c.device_id == bindparam("k_device"), _states.c.rule_id == bindparam("k_rule"))
    connection = session.connection()
    if deletes:
        connection.execute(delete(_states).where(key), deletes)
    kept = [u for u in updates if "failing_since" not in u]
    moved = [u for u in updates if "failing_since" in u]
    for batch in (kept, moved):
        if batch:
            connection.execute(update(_states).where(key), batch)
    if inserts:
        connection.execute(insert(_states), inserts)


def write_device_states(session: Session, rows: list[dict[str, Any]]) -> None:
    """Set ``compliance_state`` and ``compliance_reasons`` of devices (rows: ``k_id``, ``state``, ``reasons``)."""
    if rows:
        session.connection().execute(
            update(_devices)
            .where(_devices.c.id == bindparam("k_id"))
            .values(compliance_state=bindparam("state"), compliance_reasons=bindparam("reasons")),
            rows,
        )


# -- snapshots ------------------------------------------------------------------------------------------------------


def snapshot_exists(session: Session, day: dt.date) -> bool:
    """Whether a snapshot of ``day`` was taken."""
    return (
        session.execute(select(ComplianceSnapshot.day).where(ComplianceSnapshot.day == day).limit(1)).first()
        is not None
    )


def take_snapshot(session: Session, day: dt.date, *, replace: bool) -> int:
    """Count devices by state and platform, and failing/exempt devices by rule, under ``day``.

    With ``replace`` an existing snapshot of the day is replaced; otherwise rows already there are kept
    (``ON CONFLICT DO NOTHING``, so two gateways taking the day's snapshot at once do not collide).
    Returns the number of devices counted.
    """
    counts = session.execute(
        select(Device.compliance_state, Device.platform, func.count(Device.id))
        .where(Device.status.not_in(INACTIVE))
        .group_by(Device.compliance_state, Device.platform)
    ).all()
    rules = session.execute(
        select(
            DeviceRuleState.rule_id,
            func.sum(case((DeviceRuleState.status == "failing", 1), else_=0)),
            func.sum(case((DeviceRuleState.status == "exempt", 1), else_=0)),
        )
        .where(DeviceRuleState.status.in_(("failing", "exempt")))
        .group_by(DeviceRuleState.rule_id)
    ).all()
    if replace:
        session.execute(delete(ComplianceSnapshot).where(ComplianceSnapshot.day == day))
        session.execute(delete(ComplianceRuleSnapshot).where(ComplianceRuleSnapshot.day == day))
    state_rows = [{"day": day, "state": s, "platform": p, "devices": int(n)} for s, p, n in counts]
    rule_rows = [{"day": day, "rule_id": r, "failing": int(f or 0), "exempt": int(e or 0)} for r, f, e in rules]
    dialect = session.get_bind().dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    if state_rows:
        session.execute(maker(ComplianceSnapshot).on_conflict_do_nothing(), state_rows)
    if rule_rows:
        session.execute(maker(ComplianceRuleSnapshot).on_conflict_do_nothing(), rule_rows)
    return sum(int(n) for _, _, n in counts)


def state_history(session: Session, since: dt.date, platform: str | None) -> Sequence[Any]:
    """``(day, state, devices)`` from ``since`` on, summed over platforms unless ``platform`` is given."""
    query = (
        select(ComplianceSnapshot.day, ComplianceSnapshot.state, func.sum(ComplianceSnapshot.devices))
        .where(ComplianceSnapshot.day >= since)
        .group_by(ComplianceSnapshot.day, ComplianceSnapshot.state)
        .order_by(ComplianceSnapshot.day)
    )
    if platform is not None:
        query = query.where(ComplianceSnapshot.platform == platform)
    return session.execute(query).all()


def failing_by_rule(session: Session, platform: str | None) -> Sequence[Any]:
    """``(rule_id, failing, exempt)`` over the stored rule states now."""
    failing = func.sum(case((DeviceRuleState.status == "failing", 1), else_=0))
    exempt = func.sum(case((DeviceRuleState.status == "exempt", 1), else_=0))
    query = (
        select(DeviceRuleState.rule_id, failing, exempt)
        .where(DeviceRuleState.status.in_(("failing", "exempt")))
        .group_by(DeviceRuleState.rule_id)
    )
    if platform is not None:
        query = query.join(Device, Device.id == DeviceRuleState.device_id).where(Device.platform == platform)
    return session.execute(query).all()


def ids(rows: Iterable[Any]) -> list[int]:
    """The first column of each row, as ints."""
    return [int(r[0]) for r in rows]
