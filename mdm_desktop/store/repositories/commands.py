"""Remote command rows: the device side (claim, result) and the console's queries.

Device side (called by the gateway's check-in service inside its write unit of work):

* :func:`claim_pending` expires commands whose time is up, then hands out the device's
  queued commands (and delivered ones that were never answered after
  :data:`REDELIVER_AFTER`), marking them delivered. On PostgreSQL the rows are locked with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent gateways deliver each command once;
  on SQLite the ``BEGIN IMMEDIATE`` write transaction serialises check-ins.
* :func:`record_result` stores a device's answer. It is idempotent (the same answer twice
  changes nothing and returns ``False``), refuses commands of another device with
  :class:`UnknownCommandError`, applies the lifecycle effect of an acknowledged retire,
  wipe or lost-mode command to the device row (an acknowledged retire or wipe also revokes the
  device's certificates, in the same transaction), and keeps a lost-mode location sealed.

Both take the caller's :class:`~mdm_desktop.store.unit_of_work.UnitOfWork` (its session and
field cipher); they flush but never commit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, update

from mdm_desktop.domain.commands import DESTRUCTIVE_COMMANDS, CommandStatus, CommandType
from mdm_desktop.domain.devices import LifecycleStatus
from mdm_desktop.domain.errors import NotFoundError
from mdm_desktop.services.command_dto import CommandPage, CommandQuery
from mdm_desktop.services.dto import CommandInfo
from mdm_desktop.store.repositories import gateway as gateway_repo
from mdm_desktop.store.repositories.devices import command_info
from mdm_desktop.store.schema import Device, DeviceCommand, new_uid
from mdm_desktop.store.unit_of_work import UnitOfWork

REDELIVER_AFTER = dt.timedelta(minutes=30)
"""A delivered command without an answer is handed out again after this long (devices
recognise a repeated command id and do not run it twice)."""

OUTCOMES = frozenset({"acknowledged", "failed", "unsupported"})
"""Outcomes a device may report (the wire's ``CommandOutcome`` values)."""

ENDS_MANAGEMENT: dict[CommandType, LifecycleStatus] = {
    CommandType.RETIRE: LifecycleStatus.RETIRED,
    CommandType.WIPE: LifecycleStatus.WIPED,
}
"""Acknowledged commands that end management, and the device status they leave."""

OPEN_STATUSES = (CommandStatus.QUEUED.value, CommandStatus.DELIVERED.value)

LOCATION_KEYS = frozenset({"lat", "lon", "accuracy_m"})


class UnknownCommandError(NotFoundError):
    """A device reported a result for a command that is not one of its own (or does not exist)."""

    def __init__(self, command_uid: str) -> None:
        super().__init__(
            "That command is not one of this device's commands.",
            details=f"command {command_uid[:32]!r}",
        )


def _due_clause(now: dt.datetime) -> ColumnElement[bool]:
    return and_(
        DeviceCommand.status.in_(OPEN_STATUSES),
        DeviceCommand.expires_at.is_not(None),
        DeviceCommand.expires_at <= now,
    )


def expire_due(uow: UnitOfWork, now: dt.datetime, device_id: int | None = None) -> int:
    """Mark open commands whose expiry has passed as expired; returns how many changed.

    Args:
        uow: The caller's write unit of work.
        now: The current UTC time.
        device_id: Only this device's commands, or every device's when ``None``.
    """
    clause = _due_clause(now)
    if device_id is not None:
        clause = and_(DeviceCommand.device_id == device_id, clause)
    result = uow.session.execute(
        update(DeviceCommand)
        .where(clause)
        .values(status=CommandStatus.EXPIRED.value, completed_at=now, result="Expired before the device answered.")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


_commands = DeviceCommand.__table__
_OPEN_ONE = (
    select(_commands.c.id)
    .where(_commands.c.device_id == bindparam("device_id"), _commands.c.status.in_(OPEN_STATUSES))
    .limit(1)
)
"""Prepared once (Core, on the connection): every check-in asks it, and most get no row (gateway benchmark)."""


def claim_pending(
    uow: UnitOfWork,
    device_id: int,
    now: dt.datetime,
    limit: int = 20,
    withhold: frozenset[str] = frozenset(),
) -> list[DeviceCommand]:
    """Hand out the device's pending commands and mark them delivered.

    Args:
        uow: The check-in's write unit of work (not committed here).
        device_id: The device checking in (``devices.id``, already authenticated).
        now: The current UTC time.
        limit: Most commands handed out at once; the rest follow on the next check-in.
        withhold: Command types not handed out now (they stay queued), e.g. app installs
            while the device is quarantined.

    Returns:
        The commands to send, oldest first, with ``status`` delivered and ``delivered_at``
        set. Each has ``uid`` (the wire's ``command_id``), ``type`` and ``payload``.
    """
    if uow.session.connection().execute(_OPEN_ONE, {"device_id": device_id}).first() is None:
        return []  # the usual check-in: nothing open, so nothing to expire or claim (no write)
    expire_due(uow, now, device_id)
    stmt = (
        select(DeviceCommand)
        .where(
            DeviceCommand.device_id == device_id,
            or_(
                DeviceCommand.status == CommandStatus.QUEUED.value,
                and_(
                    DeviceCommand.status == CommandStatus.DELIVERED.value,
                    DeviceCommand.delivered_at <= now - REDELIVER_AFTER,
                ),
            ),
        )
        .order_by(DeviceCommand.id)
        .limit(max(1, limit))
    )
    if withhold:
        stmt = stmt.where(DeviceCommand.type.not_in(sorted(withhold)))
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    commands = list(uow.session.scalars(stmt).all())
    for cmd in commands:
        cmd.status = CommandStatus.DELIVERED.value
        cmd.delivered_at = now
    uow.session.flush()
    return commands


def _result_text(outcome: str, detail: str) -> str:
    detail = detail.strip()
    if outcome == "unsupported":
        return f"Not supported by the device. {detail}".strip()
    return detail


def _location_json(location: dict[str, Any]) -> str:
    clean = {k: float(v) for k, v in location.items() if k in LOCATION_KEYS and isinstance(v, int | float)}
    if "lat" not in clean or "lon" not in clean:
        return ""
    if not (-90.0 <= clean["lat"] <= 90.0 and -180.0 <= clean["lon"] <= 180.0):
        return ""
    return json.dumps(clean, sort_keys=True)


def record_result(
    uow: UnitOfWork,
    device_id: int,
    command_uid: str,
    outcome: str,
    detail: str,
    now: dt.datetime,
    location: dict[str, Any] | None = None,
) -> bool:
    """Store a device's answer to one of its commands.

    Args:
        uow: The gateway's write unit of work (not committed here).
        device_id: The authenticated device (``devices.id``).
        command_uid: The wire's ``command_id``.
        outcome: ``acknowledged``, ``failed`` or ``unsupported`` (counted as failed).
        detail: The device's text (kept, cut to 4,096 characters).
        now: The current UTC time.
        location: Only for lost mode: ``{"lat", "lon", "accuracy_m"}``; ignored otherwise.

    Returns:
        ``True`` if the command changed state, ``False`` if it was already final (a replayed
        or late answer changes nothing).

    Raises:
        UnknownCommandError: The command does not exist or belongs to another device.
        ValueError: ``outcome`` is not one of :data:`OUTCOMES`.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown command outcome {outcome!r}")
    stmt = select(DeviceCommand).where(DeviceCommand.uid == command_uid)
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update()
    cmd = uow.session.scalars(stmt).first()
    if cmd is None or cmd.device_id != device_id:
        raise UnknownCommandError(command_uid)
    status = CommandStatus(cmd.status)
    late = status is CommandStatus.EXPIRED and cmd.delivered_at is not None
    if status.final and not late:
        return False
    ok = outcome == "acknowledged"
    cmd.status = (CommandStatus.ACKNOWLEDGED if ok else CommandStatus.FAILED).value
    cmd.completed_at = now
    cmd.delivered_at = cmd.delivered_at or now
    cmd.result = _result_text(outcome, detail)[:4096]
    ctype = CommandType(cmd.type)
    if ok:
        _apply_effect(uow, cmd, ctype, now, location)
    uow.session.flush()
    return True


def _apply_effect(
    uow: UnitOfWork, cmd: DeviceCommand, ctype: CommandType, now: dt.datetime, location: dict[str, Any] | None
) -> None:
    device = uow.session.get(Device, cmd.device_id)
    if device is None:
        return
    if ctype in ENDS_MANAGEMENT:
        device.status = ENDS_MANAGEMENT[ctype].value
        device.updated_at = now
        forget_locations(uow, device.id)
        # A retired or wiped device is no longer trusted: its certificates end in the same transaction.
        gateway_repo.revoke_device_certificates(uow.session, device.id, now, ENDS_MANAGEMENT[ctype].value)
    elif ctype is CommandType.LOST_MODE:
        if lost_mode_enabled(cmd.payload):
            device.status = LifecycleStatus.LOST.value
            text = _location_json(location or {})
            if text:
                cmd.location_sealed = uow.cipher.seal(text, table="device_commands", column="location", row=cmd.uid)
        else:
            if device.status == LifecycleStatus.LOST.value:
                device.status = LifecycleStatus.ENROLLED.value
            forget_locations(uow, device.id)
        device.updated_at = now


def lost_mode_enabled(payload: dict[str, Any] | None) -> bool:
    """Whether a lost-mode command turns lost mode on (the default) or off (``{"enable": false}``)."""
    return bool((payload or {}).get("enable", True))


def forget_locations(uow: UnitOfWork, device_id: int) -> None:
    """Drop every stored location of a device (lost mode ended or management ended)."""
    uow.session.execute(
        update(DeviceCommand)
        .where(DeviceCommand.device_id == device_id, DeviceCommand.location_sealed.is_not(None))
        .values(location_sealed=None)
        .execution_options(synchronize_session=False)
    )


def last_location(uow: UnitOfWork, device_id: int) -> tuple[dict[str, float], dt.datetime] | None:
    """The newest lost-mode location of a device and when it was reported, if any."""
    cmd = uow.session.scalars(
        select(DeviceCommand)
        .where(DeviceCommand.device_id == device_id, DeviceCommand.location_sealed.is_not(None))
        .order_by(DeviceCommand.id.desc())
        .limit(1)
    ).first()
    if cmd is None or cmd.completed_at is None:
        return None
    text = uow.cipher.open(cmd.location_sealed, table="device_commands", column="location", row=cmd.uid)
    if not text:
        return None
    return {k: float(v) for k, v in json.loads(text).items()}, cmd.completed_at


def devices_exist(uow: UnitOfWork, device_ids: Sequence[int]) -> dict[int, str]:
    """Names of those of ``device_ids`` that exist."""
    rows = uow.session.execute(select(Device.id, Device.name).where(Device.id.in_(list(device_ids)))).all()
    return {int(i): str(n) for i, n in rows}


# ---- console side -------------------------------------------------------------------------


def queue(
    uow: UnitOfWork,
    device_ids: Sequence[int],
    ctype: CommandType,
    payload: dict[str, Any],
    reason: str,
    created_by: str,
    now: dt.datetime,
    expires_at: dt.datetime,
    approval_id: int | None = None,
) -> list[DeviceCommand]:
    """Add one queued command per device (flushed, so ids and uids are set)."""
    rows = [
        DeviceCommand(
            uid=new_uid(),
            device_id=device_id,
            type=ctype.value,
            status=CommandStatus.QUEUED.value,
            payload=dict(payload),
            reason=reason,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
            result="",
            approval_id=approval_id,
        )
        for device_id in device_ids
    ]
    uow.session.add_all(rows)
    uow.session.flush()
    return rows


def to_info(uow: UnitOfWork, rows: Sequence[DeviceCommand]) -> tuple[CommandInfo, ...]:
    """DTOs of command rows (with their devices' names)."""
    names = devices_exist(uow, sorted({r.device_id for r in rows}))
    return tuple(command_info(r, names.get(r.device_id, "")) for r in rows)


def list_page(uow: UnitOfWork, query: CommandQuery, after: int | None, limit: int) -> CommandPage:
    """Commands matching ``query``, newest first, after command id ``after`` (keyset)."""
    stmt = select(DeviceCommand, Device.name).join(Device, Device.id == DeviceCommand.device_id)
    if query.device_id is not None:
        stmt = stmt.where(DeviceCommand.device_id == query.device_id)
    if query.statuses:
        stmt = stmt.where(DeviceCommand.status.in_(sorted(s.value for s in query.statuses)))
    if query.types:
        stmt = stmt.where(DeviceCommand.type.in_(sorted(t.value for t in query.types)))
    if after is not None:
        stmt = stmt.where(DeviceCommand.id < after)
    found = uow.session.execute(stmt.order_by(DeviceCommand.id.desc()).limit(limit + 1)).all()
    rows = tuple(command_info(cmd, name) for cmd, name in found[:limit])
    return CommandPage(rows, rows[-1].id if len(found) > limit and rows else None)


def get(uow: UnitOfWork, command_id: int, *, lock: bool = False) -> DeviceCommand | None:
    """One command by id (locked for update on PostgreSQL when ``lock``)."""
    stmt = select(DeviceCommand).where(DeviceCommand.id == command_id)
    if lock and uow.dialect == "postgresql":
        stmt = stmt.with_for_update()
    return uow.session.scalars(stmt).first()


def destructive_since(uow: UnitOfWork, since: dt.datetime) -> int:
    """Destructive commands queued at or after ``since`` (for the rate limit)."""
    stmt = select(func.count(DeviceCommand.id)).where(
        DeviceCommand.type.in_(sorted(t.value for t in DESTRUCTIVE_COMMANDS)), DeviceCommand.created_at >= since
    )
    return int(uow.session.scalar(stmt) or 0)


def device_groups(uow: UnitOfWork, device_ids: Sequence[int]) -> dict[int, tuple[str, str, int | None]]:
    """``{id: (name, uid, group_id)}`` of those of ``device_ids`` that exist."""
    rows = uow.session.execute(
        select(Device.id, Device.name, Device.uid, Device.group_id).where(Device.id.in_(list(device_ids)))
    ).all()
    return {int(i): (str(n), str(u), g) for i, n, u, g in rows}
