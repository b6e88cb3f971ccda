"""Compliance overview for the dashboard and reports."""

from __future__ import annotations

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import ComplianceSummary
from mdm_desktop.services.guard import Guard
from mdm_desktop.store.repositories import compliance as repo
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

DEFAULT_STALE_DAYS = 14


class ComplianceService:
    """Counts devices by compliance state, platform and OS version."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    def summary(self, actor: Principal, stale_days: int = DEFAULT_STALE_DAYS) -> ComplianceSummary:
        """Fleet totals and counts by state, platform and (platform, major OS version).

        Devices count as stale when their last check-in is older than ``stale_days`` days, or never happened
        (the same rule as :attr:`DeviceQuery.stale_days`). Needs ``DEVICES_READ`` or ``REPORTS_READ``.
        """
        if not actor.can(Permission.REPORTS_READ):
            self._guard.require(actor, Permission.DEVICES_READ, "compliance.summary")
        if not 0 <= stale_days <= 3650:
            raise ValidationError("'Not checked in for' needs between 0 and 3650 days.")
        with self._uow() as uow:
            return repo.summary(uow, self._clock(), stale_days)
