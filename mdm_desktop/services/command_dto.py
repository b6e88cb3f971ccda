"""Frozen data the command and approval use cases return (no ORM objects)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mdm_desktop.domain.commands import ApprovalStatus, CommandStatus, CommandType
from mdm_desktop.services.dto import CommandInfo

OPEN_STATUSES: frozenset[CommandStatus] = frozenset({CommandStatus.QUEUED, CommandStatus.DELIVERED})
ATTENTION_STATUSES: frozenset[CommandStatus] = OPEN_STATUSES | {CommandStatus.FAILED, CommandStatus.EXPIRED}
"""What the Commands view shows by default: pending, failed or expired commands."""


@dataclass(frozen=True, slots=True)
class CommandQuery:
    """Filters of the command list (empty sets: any)."""

    device_id: int | None = None
    statuses: frozenset[CommandStatus] = frozenset()
    types: frozenset[CommandType] = frozenset()


@dataclass(frozen=True, slots=True)
class CommandPage:
    """A page of commands, newest first, and the id to continue after (``None`` at the end)."""

    rows: tuple[CommandInfo, ...]
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class ApprovalInfo:
    """A guarded command request and its decision."""

    id: int
    uid: str
    type: CommandType
    payload: dict[str, Any]
    device_ids: tuple[int, ...]
    device_names: tuple[str, ...]
    reason: str
    status: ApprovalStatus
    requested_by: str
    requested_at: dt.datetime
    expires_at: dt.datetime
    decided_by: str
    decided_at: dt.datetime | None
    decision_note: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a send did: the commands queued, or the approval request created instead."""

    commands: tuple[CommandInfo, ...] = ()
    approval: ApprovalInfo | None = None

    @property
    def needs_approval(self) -> bool:
        """True when nothing was queued yet because a second administrator must approve."""
        return self.approval is not None


@dataclass(frozen=True, slots=True)
class GuardrailStatus:
    """The guard-rail settings and whether destructive commands are paused."""

    expiry_hours: int
    approval_threshold: int
    approval_hours: int
    destructive_per_hour: int
    destructive_last_hour: int
    paused_at: dt.datetime | None = None
    paused_by: str = ""
    pending_approvals: int = 0

    @property
    def paused(self) -> bool:
        """True while destructive commands are refused until an administrator resumes."""
        return self.paused_at is not None


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    """What an expiry sweep closed: commands (one summary audit entry) and approvals (one entry each)."""

    commands: int
    approvals: int

    @property
    def audit_entries(self) -> int:
        """Audit entries the sweep wrote."""
        return self.approvals + (1 if self.commands else 0)


@dataclass(frozen=True, slots=True)
class DeviceLocation:
    """Where a device in lost mode last said it was (decrypted for one authorised viewer)."""

    device_id: int
    latitude: float
    longitude: float
    accuracy_m: float | None
    reported_at: dt.datetime
