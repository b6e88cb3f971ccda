"""App catalog use cases: list the apps the clinic distributes, show one app's builds, add a build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.errors import ConflictError, NotFoundError, ValidationError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import CatalogAppDetail, CatalogAppSummary, CatalogAppVersionInfo
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.repositories import app_packages as packages
from mdm_desktop.store.repositories import catalog as repo
from mdm_desktop.store.schema import CatalogApp, CatalogAppVersion
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

MAX_BUILD_BYTES = 1024 * 1024 * 1024
"""Largest build accepted (1 GiB); stored in the database, so every workstation and gateway can serve it."""
MAX_VERSION_LENGTH = 64


class CatalogService:
    """Reads the app catalog and adds builds (package bytes kept in the store, served to devices by hash)."""

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

    @mutating("catalog.build_added")
    def add_build(
        self,
        actor: Principal,
        app_id: int,
        file: Path,
        version: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> CatalogAppVersionInfo:
        """Store ``file`` as version ``version`` of a catalog app; its SHA-256 is computed on the way in.

        All or nothing: the bytes, the version row and the audit entry are committed together.

        Args:
            actor: Who adds it (needs ``catalog.write``).
            app_id: The catalog app.
            file: The package (any format the app's platform installs; at most 1 GiB).
            version: The build's version label (unique within the app).
            progress: Called with ``(bytes stored, file size)`` as the file is read.

        Raises:
            ValidationError: Empty or too long version, unreadable, empty or too large file.
            NotFoundError: No such catalog app.
            ConflictError: The app already has that version.
            PermissionDeniedError: The caller may not change the catalog.
        """
        self._guard.require(actor, Permission.CATALOG_WRITE, "catalog.build_added", target=str(app_id))
        version = version.strip()
        if not version or len(version) > MAX_VERSION_LENGTH:
            raise ValidationError(
                f"A version label has 1 to {MAX_VERSION_LENGTH} characters.", hint="For example 4.2.1."
            )
        try:
            total = file.stat().st_size
            handle = file.open("rb")
        except OSError as exc:
            raise ValidationError(
                f"Cannot read {file}: {exc.strerror or exc}.", hint="Check the path and your permission to read it."
            ) from exc
        if total > MAX_BUILD_BYTES:
            handle.close()
            raise ValidationError(
                f"{file.name} is {total:,} bytes; a build may have at most {MAX_BUILD_BYTES:,}.",
                hint="Distribute larger installers through the operating system's own tools.",
            )
        now = self._clock()
        with handle, self._uow(write=True) as uow:
            app = uow.session.get(CatalogApp, app_id)
            if app is None:
                raise NotFoundError(f"Catalog app {app_id} does not exist.", hint="Refresh the app catalog.")
            taken = uow.session.scalar(
                select(CatalogAppVersion.id).where(
                    CatalogAppVersion.app_id == app_id, CatalogAppVersion.version == version
                )
            )
            if taken is not None:
                raise ConflictError(
                    f"{app.name} already has a version {version}.", hint="Give the new build another version label."
                )
            try:
                stored = packages.store_package(
                    uow,
                    handle,
                    now,
                    limit=MAX_BUILD_BYTES,
                    progress=None if progress is None else (lambda done: progress(done, total)),
                )
            except packages.PackageTooLargeError as exc:
                raise ValidationError(f"{file.name} grew while it was read and is now {exc}.") from exc
            except OSError as exc:
                raise ValidationError(f"Reading {file} failed: {exc.strerror or exc}.") from exc
            if stored.size_bytes == 0:
                raise ValidationError(f"{file.name} is empty.", hint="Choose the installer file of the build.")
            row = CatalogAppVersion(
                app_id=app_id,
                version=version,
                sha256=stored.sha256,
                size_bytes=stored.size_bytes,
                file_name=file.name[:255],
                added_at=now,
            )
            uow.session.add(row)
            uow.session.flush()
            self._audit.record(
                uow,
                actor,
                "catalog.build_added",
                target_kind="catalog_app",
                target=str(app_id),
                details={
                    "app": app.name,
                    "version": version,
                    "sha256": stored.sha256,
                    "size_bytes": stored.size_bytes,
                    "file_name": row.file_name,
                    "already_stored": stored.already_stored,
                },
            )
            uow.commit()
            return CatalogAppVersionInfo(row.id, row.version, row.sha256, row.size_bytes, row.file_name, row.added_at)
