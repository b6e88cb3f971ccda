"""Device queries: filters and keyset pagination in SQL, sealed columns opened per row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, and_, column, false, func, literal_column, or_, select, table
from sqlalchemy.orm import InstrumentedAttribute

from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform
from mdm_desktop.services.dto import (
    CommandInfo,
    DeviceCursor,
    DeviceDetail,
    DevicePage,
    DeviceQuery,
    DeviceRow,
    DeviceSort,
    InstalledAppInfo,
)
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.repositories.audit_search import fts_phrase
from mdm_desktop.store.schema import DEVICE_SEARCH_TABLE, Device, DeviceCommand, DeviceGroup, InstalledApp
from mdm_desktop.store.unit_of_work import UnitOfWork

SORT_COLUMNS: dict[DeviceSort, InstrumentedAttribute[Any]] = {
    DeviceSort.NAME: Device.name,
    DeviceSort.PLATFORM: Device.platform,
    DeviceSort.MODEL: Device.model,
    DeviceSort.OS_VERSION: Device.os_version_key,
    DeviceSort.OWNERSHIP: Device.ownership,
    DeviceSort.STATUS: Device.status,
    DeviceSort.COMPLIANCE: Device.compliance_state,
    DeviceSort.LAST_CHECKIN: Device.last_checkin_at,
    DeviceSort.ENROLLED: Device.enrolled_at,
}

_Sel = TypeVar("_Sel", bound=Select[*tuple[Any, ...]])

NULLABLE_SORTS = frozenset({DeviceSort.LAST_CHECKIN, DeviceSort.ENROLLED})

SEARCH_PURPOSES = {
    "serial": "devices.serial",
    "hardware_id": "devices.hardware_id",
    "assigned_to": "devices.assigned_to",
}


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(col: InstrumentedAttribute[str], pattern: str, dialect: str) -> ColumnElement[bool]:
    # SQLite's LIKE is already case-insensitive for ASCII; lower() on every row costs a quarter more.
    if dialect == "sqlite":
        return col.like(pattern, escape="\\")
    return col.ilike(pattern, escape="\\")


MIN_INDEXED_SEARCH = 3
"""Search text this long or longer is looked up in the trigram index (SQLite, migration 0011)."""

_DEVICE_SEARCH = table(DEVICE_SEARCH_TABLE, column("rowid", Integer))


def _search_candidates(text: str) -> Select[Any]:
    """SQLite: ids of devices whose name, model or vendor contains ``text`` (case folded), from the index."""
    match = literal_column(DEVICE_SEARCH_TABLE).op("MATCH")(fts_phrase(text))
    return select(_DEVICE_SEARCH.c.rowid).where(match)


def filter_clauses(
    query: DeviceQuery, cipher: FieldCipher, now: dt.datetime, dialect: str = "sqlite"
) -> list[ColumnElement[bool]]:
    """SQL conditions for ``query``'s filters (not its order)."""
    clauses: list[ColumnElement[bool]] = []
    text = " ".join(query.search.split())
    if text:
        pattern = _like_pattern(text)
        substring = or_(
            _contains(Device.name, pattern, dialect),
            _contains(Device.model, pattern, dialect),
            _contains(Device.vendor, pattern, dialect),
        )
        if dialect == "sqlite" and len(text) >= MIN_INDEXED_SEARCH:
            # The trigram index names the candidates (a superset: it also folds non-ASCII case);
            # LIKE then decides, so the answer is exactly the scan's.
            substring = and_(Device.id.in_(_search_candidates(text)), substring)
        alternatives: list[ColumnElement[bool]] = [
            substring,
            Device.serial_bidx == cipher.blind_index(text, purpose=SEARCH_PURPOSES["serial"]),
            Device.hardware_id_bidx == cipher.blind_index(text, purpose=SEARCH_PURPOSES["hardware_id"]),
            Device.assigned_to_bidx == cipher.blind_index(text, purpose=SEARCH_PURPOSES["assigned_to"]),
        ]
        clauses.append(or_(*alternatives))
    if query.platforms:
        clauses.append(Device.platform.in_(sorted(p.value for p in query.platforms)))
    if query.compliance:
        clauses.append(Device.compliance_state.in_(sorted(c.value for c in query.compliance)))
    if query.ownership is not None:
        clauses.append(Device.ownership == query.ownership.value)
    if query.group_id is not None:
        clauses.append(Device.group_id == query.group_id)
    if query.statuses:
        clauses.append(Device.status.in_(sorted(s.value for s in query.statuses)))
    if query.stale_days is not None:
        cutoff = now - dt.timedelta(days=query.stale_days)
        clauses.append(or_(Device.last_checkin_at.is_(None), Device.last_checkin_at < cutoff))
    return clauses


def _keyset_clause(query: DeviceQuery, cursor: DeviceCursor) -> ColumnElement[bool]:
    """Rows strictly after ``cursor`` in the order of ``query`` (NULL sorts lowest)."""
    col = SORT_COLUMNS[query.sort]
    value: Any = cursor.value
    if query.sort in NULLABLE_SORTS and isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not query.descending:
        if value is None:
            return or_(and_(col.is_(None), Device.id > cursor.id), col.is_not(None))
        return or_(col > value, and_(col == value, Device.id > cursor.id))
    if value is None:
        return and_(col.is_(None), Device.id < cursor.id)
    return or_(col < value, and_(col == value, Device.id < cursor.id), col.is_(None))


def _ordered(stmt: _Sel, query: DeviceQuery, dialect: str) -> _Sel:
    col: Any = SORT_COLUMNS[query.sort]
    if query.search.strip() and dialect == "sqlite":
        # A substring search cannot use an index; walking the sort index and fetching rows at random
        # is several times slower than one sequential scan plus a top-N sort. (x || "") sorts as x, but
        # keeps SQLite's planner from ordering through the index.
        col = col.op("||")("")
    if query.descending:
        if query.sort in NULLABLE_SORTS:
            return stmt.order_by(col.desc().nulls_last(), Device.id.desc())
        return stmt.order_by(col.desc(), Device.id.desc())
    if query.sort in NULLABLE_SORTS:
        return stmt.order_by(col.asc().nulls_first(), Device.id.asc())
    return stmt.order_by(col.asc(), Device.id.asc())


def _cursor_value(device: Any, sort: DeviceSort) -> str | int | float | None:
    raw = getattr(device, SORT_COLUMNS[sort].key)
    if isinstance(raw, dt.datetime):
        return raw.isoformat()
    if raw is None or isinstance(raw, str | int | float):
        return raw
    return str(raw)


# What the device table needs: plain columns, not whole ORM entities (several times faster to load).
LIST_COLUMNS = (
    Device.id,
    Device.uid,
    Device.name,
    Device.platform,
    Device.vendor,
    Device.model,
    Device.os_version,
    Device.os_version_key,
    Device.ownership,
    Device.group_id,
    Device.status,
    Device.compliance_state,
    Device.last_checkin_at,
    Device.enrolled_at,
    Device.serial_sealed,
    Device.assigned_to_sealed,
)


def to_row(device: Any, group_name: str, cipher: FieldCipher, *, identifiers: bool) -> DeviceRow:
    """Map a device (ORM entity or a row of ``LIST_COLUMNS``) to its DTO, opening sealed columns only when allowed."""
    uid = device.uid
    return DeviceRow(
        id=device.id,
        uid=uid,
        name=device.name,
        platform=Platform(device.platform),
        vendor=device.vendor,
        model=device.model,
        os_version=device.os_version,
        ownership=Ownership(device.ownership),
        group_id=device.group_id,
        group_name=group_name,
        status=LifecycleStatus(device.status),
        compliance_state=ComplianceState(device.compliance_state),
        last_checkin_at=device.last_checkin_at,
        enrolled_at=device.enrolled_at,
        serial=cipher.open(device.serial_sealed, table="devices", column="serial", row=uid) if identifiers else None,
        assigned_to=(
            cipher.open(device.assigned_to_sealed, table="devices", column="assigned_to", row=uid)
            if identifiers
            else None
        ),
    )


def list_page(
    uow: UnitOfWork,
    query: DeviceQuery,
    after: DeviceCursor | None,
    limit: int,
    now: dt.datetime,
    *,
    identifiers: bool,
    visible_groups: frozenset[int] | None = None,
) -> DevicePage:
    """Fetch one page of devices after ``after`` (keyset pagination, never OFFSET)."""
    stmt = select(*LIST_COLUMNS, func.coalesce(DeviceGroup.name, "").label("group_name")).outerjoin(
        DeviceGroup, DeviceGroup.id == Device.group_id
    )
    clauses = filter_clauses(query, uow.cipher, now, uow.dialect)
    if visible_groups is not None:
        clauses.append(Device.group_id.in_(sorted(visible_groups)) if visible_groups else false())
    if after is not None:
        clauses.append(_keyset_clause(query, after))
    if clauses:
        stmt = stmt.where(*clauses)
    stmt = _ordered(stmt, query, uow.dialect).limit(limit + 1)
    result = uow.session.execute(stmt).all()
    more = len(result) > limit
    result = result[:limit]
    rows = tuple(to_row(r, r.group_name, uow.cipher, identifiers=identifiers) for r in result)
    next_cursor = None
    if more and result:
        last = result[-1]
        next_cursor = DeviceCursor(_cursor_value(last, query.sort), last.id)
    return DevicePage(rows=rows, next_cursor=next_cursor)


def count(uow: UnitOfWork, query: DeviceQuery, now: dt.datetime, visible_groups: frozenset[int] | None = None) -> int:
    """Number of devices matching ``query``'s filters."""
    stmt = select(func.count(Device.id))
    clauses = filter_clauses(query, uow.cipher, now, uow.dialect)
    if visible_groups is not None:
        clauses.append(Device.group_id.in_(sorted(visible_groups)) if visible_groups else false())
    if clauses:
        stmt = stmt.where(*clauses)
    return int(uow.session.scalar(stmt) or 0)


def commands_for(uow: UnitOfWork, device_ids: Sequence[int], limit: int = 100) -> tuple[CommandInfo, ...]:
    """Newest commands of the given devices."""
    stmt = (
        select(DeviceCommand, Device.name)
        .join(Device, Device.id == DeviceCommand.device_id)
        .where(DeviceCommand.device_id.in_(list(device_ids)))
        .order_by(DeviceCommand.id.desc())
        .limit(limit)
    )
    return tuple(command_info(cmd, name) for cmd, name in uow.session.execute(stmt).all())


def command_info(cmd: DeviceCommand, device_name: str) -> CommandInfo:
    """Map a command row to its DTO."""
    return CommandInfo(
        id=cmd.id,
        uid=cmd.uid,
        device_id=cmd.device_id,
        device_name=device_name,
        type=CommandType(cmd.type),
        status=CommandStatus(cmd.status),
        reason=cmd.reason,
        created_by=cmd.created_by,
        created_at=cmd.created_at,
        delivered_at=cmd.delivered_at,
        completed_at=cmd.completed_at,
        expires_at=cmd.expires_at,
        result=cmd.result,
    )


def detail(uow: UnitOfWork, device_id: int, *, identifiers: bool) -> DeviceDetail | None:
    """Everything about one device, or ``None`` if it does not exist."""
    found = uow.session.execute(
        select(Device, func.coalesce(DeviceGroup.name, ""))
        .outerjoin(DeviceGroup, DeviceGroup.id == Device.group_id)
        .where(Device.id == device_id)
    ).first()
    if found is None:
        return None
    device, gname = found
    apps = uow.session.scalars(
        select(InstalledApp).where(InstalledApp.device_id == device_id).order_by(InstalledApp.name)
    ).all()
    cipher = uow.cipher
    return DeviceDetail(
        row=to_row(device, gname, cipher, identifiers=identifiers),
        os_build=device.os_build,
        security_patch=device.security_patch,
        firmware=device.firmware,
        hardware_id=(
            cipher.open(device.hardware_id_sealed, table="devices", column="hardware_id", row=device.uid)
            if identifiers
            else None
        ),
        compromised=device.compromised,
        storage_encrypted=device.storage_encrypted,
        passcode_set=device.passcode_set,
        managed_container=device.managed_container,
        kernel=device.kernel or "",
        last_os_update=device.last_os_update,
        screen_lock_enabled=device.screen_lock_enabled,
        firewall_enabled=device.firewall_enabled,
        battery_percent=device.battery_percent,
        compliance_reasons=tuple(device.compliance_reasons or ()),
        installed_apps=tuple(InstalledAppInfo(a.identifier, a.name, a.version, a.managed) for a in apps),
        commands=commands_for(uow, [device_id]),
    )


def seal_identifiers(
    cipher: FieldCipher, uid: str, *, serial: str | None, hardware_id: str | None, assigned_to: str | None
) -> dict[str, bytes | None]:
    """Column values for a device's sealed identifiers and their blind indexes."""
    return {
        "serial_sealed": cipher.seal(serial, table="devices", column="serial", row=uid),
        "serial_bidx": cipher.blind_index(serial, purpose=SEARCH_PURPOSES["serial"]),
        "hardware_id_sealed": cipher.seal(hardware_id, table="devices", column="hardware_id", row=uid),
        "hardware_id_bidx": cipher.blind_index(hardware_id, purpose=SEARCH_PURPOSES["hardware_id"]),
        "assigned_to_sealed": cipher.seal(assigned_to, table="devices", column="assigned_to", row=uid),
        "assigned_to_bidx": cipher.blind_index(assigned_to, purpose=SEARCH_PURPOSES["assigned_to"]),
    }
