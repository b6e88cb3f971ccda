"""Permission checks shared by every service; refusals are audited."""

from __future__ import annotations

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import PermissionDeniedError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory


class Guard:
    """Checks a principal's permission and audits a refusal in its own transaction."""

    def __init__(self, uow: UnitOfWorkFactory, audit: AuditLog) -> None:
        self._uow = uow
        self._audit = audit

    def require(self, actor: Principal, permission: Permission, action: str, target: str = "") -> None:
        """Raise :class:`PermissionDeniedError` (after auditing it) unless ``actor`` holds ``permission``."""
        if actor.can(permission):
            return
        self._audit.record_alone(
            self._uow,
            actor,
            action,
            target_kind="permission",
            target=target or permission.value,
            outcome=Outcome.DENIED,
            details={"permission": permission.value},
        )
        raise PermissionDeniedError(
            f"Your role does not allow this ({permission.value}).",
            hint="Ask an administrator for access.",
        )
