"""App catalog use cases: list the apps the clinic distributes and show one app's builds."""

from __future__ import annotations

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.errors import NotFoundError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import CatalogAppDetail, CatalogAppSummary
from mdm_desktop.services.guard import Guard
from mdm_desktop.store.repositories import catalog as repo
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory


class CatalogService:
    """Reads the app catalog."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    def list_apps(self, actor: Principal) -> tuple[CatalogAppSummary, ...]:
        """Every catalog app with latest version, number of versions and devices that have it installed."""
        self._guard.require(actor, Permission.CATALOG_READ, "catalog.list")
        with self._uow() as uow:
            return repo.list_summaries(uow)

    def app_detail(self, actor: Principal, app_id: int) -> CatalogAppDetail:
        """One app with its versions (SHA-256, size, file name, added at), newest first."""
        self._guard.require(actor, Permission.CATALOG_READ, "catalog.view", target=str(app_id))
        with self._uow() as uow:
            found = repo.detail(uow, app_id)
        if found is None:
            raise NotFoundError(f"Catalog app {app_id} does not exist.", hint="Refresh the app catalog.")
        return found
