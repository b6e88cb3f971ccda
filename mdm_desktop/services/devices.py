"""Device inventory use cases: list, count, detail, groups."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.errors import NotFoundError, ValidationError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.audit_values import keyed_values
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.compliance_engine import device_compliance_in
from mdm_desktop.services.dto import DeviceCursor, DeviceDetail, DevicePage, DeviceQuery, GroupInfo
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.repositories import devices as repo
from mdm_desktop.store.schema import Device, DeviceGroup
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

MAX_PAGE = 1000


class DeviceService:
    """Reads the device inventory for the console, the CLI and reports."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    def list_page(
        self, actor: Principal, query: DeviceQuery, after: DeviceCursor | None = None, limit: int = 200
    ) -> DevicePage:
        """One page of devices matching ``query``, after ``after`` (keyset)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"Page size must be between 1 and {MAX_PAGE}.")
        if query.stale_days is not None and query.stale_days < 0:
            raise ValidationError("'Not checked in for' needs zero or more days.")
        self._guard.require(actor, Permission.DEVICES_READ, "devices.list")
        with self._uow() as uow:
            return repo.list_page(
                uow,
                query,
                after,
                limit,
                self._clock(),
                identifiers=actor.can(Permission.DEVICES_READ_IDENTIFIERS),
            )

    def count(self, actor: Principal, query: DeviceQuery) -> int:
        """Number of devices matching ``query``."""
        self._guard.require(actor, Permission.DEVICES_READ, "devices.count")
        with self._uow() as uow:
            return repo.count(uow, query, self._clock())

    @mutating("devices.view_identifiers")
    def detail(self, actor: Principal, device_id: int) -> DeviceDetail:
        """Everything about one device (identifiers only for roles that may see them)."""
        self._guard.require(actor, Permission.DEVICES_READ, "devices.view", target=str(device_id))
        identifiers = actor.can(Permission.DEVICES_READ_IDENTIFIERS)
        with self._uow(write=identifiers) as uow:
            found = repo.detail(uow, device_id, identifiers=identifiers)
            if found is None:
                raise NotFoundError(f"Device {device_id} does not exist.", hint="Refresh the device list.")
            rules = device_compliance_in(uow.session, device_id, self._clock())
            if rules is not None:
                found = dataclasses.replace(found, compliance_rules=rules.rules)
            if identifiers:
                # Viewing identifiers of a device is an access to protected data: audit it.
                seen = keyed_values(
                    uow.cipher,
                    serial=found.row.serial,
                    hardware_id=found.hardware_id,
                    assigned_to=found.row.assigned_to,
                )
                self._audit.record(
                    uow, actor, "devices.view_identifiers", target_kind="device", target=found.row.uid, details=seen
                )
                uow.commit()
            return found

    def groups(self, actor: Principal) -> tuple[GroupInfo, ...]:
        """Device groups with their device counts, by name."""
        self._guard.require(actor, Permission.DEVICES_READ, "groups.list")
        with self._uow() as uow:
            counts = select(Device.group_id, func.count(Device.id).label("n")).group_by(Device.group_id).subquery()
            rows = uow.session.execute(
                select(DeviceGroup, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.group_id == DeviceGroup.id)
                .order_by(DeviceGroup.name)
            ).all()
            return tuple(GroupInfo(g.id, g.name, g.description, int(n)) for g, n in rows)
