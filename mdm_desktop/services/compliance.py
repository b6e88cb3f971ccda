"""ComplianceService (to be filled in)."""

from __future__ import annotations

from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.guard import Guard
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory


class ComplianceService:
    """Placeholder with the constructor every service shares."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock
