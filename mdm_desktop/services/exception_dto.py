"""What the compliance exception service returns (frozen, no ORM objects)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mdm_desktop.domain.compliance_exceptions import ExceptionStatus


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    """One exception from a compliance rule.

    Attributes:
        id: Its number (what the CLI and the GUI name it by).
        uid: Its stable unique id (the audit target).
        device_id: The exempted device, or ``None`` for a group.
        device_name: The device's name (``""`` for a group).
        group_id: The exempted group, or ``None`` for a device.
        group_name: The group's name (``""`` for a device).
        rule_id: The rule it exempts from.
        reason: Why.
        valid_until: When it ends by itself.
        requested_by: Who asked.
        requested_at: When.
        approved_by: Who approved it (``""``: not approved).
        approved_at: When (``None``: not approved).
        decided_by: Who rejected or revoked it (``""``: nobody).
        decided_at: When (``None``: not rejected or revoked).
        status: Its status when it was read.
    """

    id: int
    uid: str
    device_id: int | None
    device_name: str
    group_id: int | None
    group_name: str
    rule_id: str
    reason: str
    valid_until: dt.datetime
    requested_by: str
    requested_at: dt.datetime
    approved_by: str
    approved_at: dt.datetime | None
    decided_by: str
    decided_at: dt.datetime | None
    status: ExceptionStatus

    @property
    def last_day(self) -> dt.date:
        """The last day (UTC) it applies: it ends at midnight after it."""
        return (self.valid_until - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()

    @property
    def subject(self) -> str:
        """The device or group in words."""
        return f"device {self.device_name}" if self.device_id is not None else f"group {self.group_name}"
