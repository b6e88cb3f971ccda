"""Catalog queries: apps with version and install counts (GROUP BY in SQL), versions of one app."""

from __future__ import annotations

from sqlalchemy import func, select

from mdm_desktop.domain.devices import Platform
from mdm_desktop.services.dto import CatalogAppDetail, CatalogAppSummary, CatalogAppVersionInfo
from mdm_desktop.store.schema import CatalogApp, CatalogAppVersion, Device, InstalledApp
from mdm_desktop.store.unit_of_work import UnitOfWork

# A catalog app built for a platform also runs on these device platforms (iPhone apps run on iPads).
RUNS_ON: dict[Platform, frozenset[Platform]] = {
    Platform.IOS: frozenset({Platform.IOS, Platform.IPADOS}),
}


def _install_counts(uow: UnitOfWork, identifiers: list[str]) -> dict[tuple[str, str], int]:
    """Devices with each identifier installed, per device platform."""
    if not identifiers:
        return {}
    rows = uow.session.execute(
        select(InstalledApp.identifier, Device.platform, func.count(func.distinct(InstalledApp.device_id)))
        .join(Device, Device.id == InstalledApp.device_id)
        .where(InstalledApp.identifier.in_(sorted(set(identifiers))))
        .group_by(InstalledApp.identifier, Device.platform)
    ).all()
    return {(ident, plat): int(n) for ident, plat, n in rows}


def _summaries(uow: UnitOfWork, app_id: int | None = None) -> list[CatalogAppSummary]:
    counts = (
        select(
            CatalogAppVersion.app_id,
            func.count(CatalogAppVersion.id).label("n"),
            func.max(CatalogAppVersion.added_at).label("newest"),
        )
        .group_by(CatalogAppVersion.app_id)
        .subquery()
    )
    stmt = (
        select(CatalogApp, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.app_id == CatalogApp.id)
        .order_by(func.lower(CatalogApp.name), CatalogApp.platform, CatalogApp.id)
    )
    if app_id is not None:
        stmt = stmt.where(CatalogApp.id == app_id)
    apps = uow.session.execute(stmt).all()
    ids = [app.id for app, _ in apps]
    latest: dict[int, str] = {}
    if ids:
        # Newest build per app: highest added_at, then highest id (ties broken in SQL, one row per app).
        ranked = (
            select(
                CatalogAppVersion.app_id,
                CatalogAppVersion.version,
                func.row_number()
                .over(
                    partition_by=CatalogAppVersion.app_id,
                    order_by=(CatalogAppVersion.added_at.desc(), CatalogAppVersion.id.desc()),
                )
                .label("rn"),
            )
            .where(CatalogAppVersion.app_id.in_(ids))
            .subquery()
        )
        latest = dict(uow.session.execute(select(ranked.c.app_id, ranked.c.version).where(ranked.c.rn == 1)).all())
    installs = _install_counts(uow, [app.identifier for app, _ in apps])
    out: list[CatalogAppSummary] = []
    for app, n_versions in apps:
        platform = Platform(app.platform)
        targets = RUNS_ON.get(platform, frozenset({platform}))
        installed = sum(installs.get((app.identifier, p.value), 0) for p in targets)
        out.append(
            CatalogAppSummary(
                id=app.id,
                name=app.name,
                identifier=app.identifier,
                platform=platform,
                publisher=app.publisher,
                latest_version=latest.get(app.id),
                version_count=int(n_versions),
                installed_count=installed,
            )
        )
    return out


def list_summaries(uow: UnitOfWork) -> tuple[CatalogAppSummary, ...]:
    """Every catalog app, by name."""
    return tuple(_summaries(uow))


def detail(uow: UnitOfWork, app_id: int) -> CatalogAppDetail | None:
    """One app with its versions (newest first), or ``None``."""
    found = _summaries(uow, app_id)
    if not found:
        return None
    app = uow.session.get(CatalogApp, app_id)
    assert app is not None
    versions = uow.session.scalars(
        select(CatalogAppVersion)
        .where(CatalogAppVersion.app_id == app_id)
        .order_by(CatalogAppVersion.added_at.desc(), CatalogAppVersion.id.desc())
    ).all()
    return CatalogAppDetail(
        summary=found[0],
        description=app.description,
        created_at=app.created_at,
        versions=tuple(
            CatalogAppVersionInfo(v.id, v.version, v.sha256, v.size_bytes, v.file_name, v.added_at) for v in versions
        ),
    )
