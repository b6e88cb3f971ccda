"""Frozen data transfer objects returned by services (never ORM objects)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from mdm_desktop.domain.accounts import Permission, Principal, Role
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform


class DeviceSort(enum.StrEnum):
    """Columns the device list can be sorted by (each has a ``(column, id)`` index)."""

    NAME = "name"
    PLATFORM = "platform"
    MODEL = "model"
    OS_VERSION = "os_version"
    OWNERSHIP = "ownership"
    STATUS = "status"
    COMPLIANCE = "compliance"
    LAST_CHECKIN = "last_checkin"
    ENROLLED = "enrolled"


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """Filters and order for the device list; all evaluated in SQL.

    ``search`` matches name, model and vendor as text, and serial number,
    hardware identifier or assigned staff member exactly (blind index).
    ``stale_days`` keeps devices whose last check-in is older than N days, or never.
    """

    search: str = ""
    platforms: frozenset[Platform] = frozenset()
    compliance: frozenset[ComplianceState] = frozenset()
    ownership: Ownership | None = None
    group_id: int | None = None
    stale_days: int | None = None
    statuses: frozenset[LifecycleStatus] = frozenset()
    sort: DeviceSort = DeviceSort.NAME
    descending: bool = False


@dataclass(frozen=True, slots=True)
class DeviceCursor:
    """Keyset position: the sort value and id of the last row of a page."""

    value: str | int | float | None
    id: int


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One row of the device table. Identifiers are ``None`` when the caller may not see them."""

    id: int
    uid: str
    name: str
    platform: Platform
    vendor: str
    model: str
    os_version: str
    ownership: Ownership
    group_id: int | None
    group_name: str
    status: LifecycleStatus
    compliance_state: ComplianceState
    last_checkin_at: dt.datetime | None
    enrolled_at: dt.datetime | None
    serial: str | None
    assigned_to: str | None


@dataclass(frozen=True, slots=True)
class DevicePage:
    """A page of devices and the cursor for the next page (``None`` at the end)."""

    rows: tuple[DeviceRow, ...]
    next_cursor: DeviceCursor | None


@dataclass(frozen=True, slots=True)
class InstalledAppInfo:
    """An app installed on a device."""

    identifier: str
    name: str
    version: str
    managed: bool


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """A remote command and where it is in its lifecycle."""

    id: int
    uid: str
    device_id: int
    device_name: str
    type: CommandType
    status: CommandStatus
    reason: str
    created_by: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    completed_at: dt.datetime | None
    expires_at: dt.datetime | None
    result: str


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    """Everything the detail panel shows about one device."""

    row: DeviceRow
    os_build: str
    security_patch: dt.date | None
    firmware: str
    hardware_id: str | None
    compromised: bool | None
    storage_encrypted: bool | None
    passcode_set: bool | None
    managed_container: bool | None
    compliance_reasons: tuple[str, ...]
    installed_apps: tuple[InstalledAppInfo, ...]
    commands: tuple[CommandInfo, ...]


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A device group with its device count."""

    id: int
    name: str
    description: str
    device_count: int


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A signed-in user as the GUI and CLI see it."""

    principal: Principal
    username: str
    role: Role
    permissions: frozenset[Permission]
    signed_in_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A console account (no secrets)."""

    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntryInfo:
    """One audit entry as shown in the audit pane and exports."""

    id: int
    occurred_at: dt.datetime
    actor_kind: str
    actor: str
    workstation: str
    action: str
    target_kind: str
    target: str
    outcome: str
    details: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class CountBy:
    """Counts keyed by a label, in display order."""

    items: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        """Sum of all counts."""
        return sum(n for _, n in self.items)
