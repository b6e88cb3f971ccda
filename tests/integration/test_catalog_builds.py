"""Catalog builds: package bytes stored in chunks by SHA-256, all or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import ConflictError, NotFoundError, ValidationError
from mdm_desktop.services import catalog as catalog_module
from mdm_desktop.store.repositories import app_packages
from mdm_desktop.store.schema import AppPackage, AppPackageChunk, CatalogAppVersion
from tests.conftest import sign_in_admin
from tests.integration.fixtures_data import add_catalog_app, audit_count

BIG = b"0123456789abcdef" * (300 * 1024)  # 4.7 MiB: five chunks


def _chunks(ctx: AppContext, sha256: str) -> bytes:
    with ctx.uow() as uow:
        size = app_packages.package_size(uow, sha256)
    assert size is not None
    return b"".join(app_packages.iter_chunks(ctx.uow, sha256, size[1]))


def _counts(ctx: AppContext) -> tuple[int, int, int]:
    with ctx.uow() as uow:
        return tuple(  # type: ignore[return-value]
            int(uow.session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (AppPackage, AppPackageChunk, CatalogAppVersion)
        )


def test_a_build_is_stored_in_chunks_and_read_back_whole(app_ctx: AppContext, tmp_path: Path) -> None:
    admin = sign_in_admin(app_ctx).principal
    app_id = add_catalog_app(app_ctx, "PACS Viewer", "com.clinic.pacs", Platform.WINDOWS, ["1.0"])
    file = tmp_path / "pacs-2.0.msix"
    file.write_bytes(BIG)
    seen: list[tuple[int, int]] = []

    info = app_ctx.services.catalog.add_build(admin, app_id, file, " 2.0 ", progress=lambda d, t: seen.append((d, t)))

    assert (info.version, info.size_bytes, info.file_name) == ("2.0", len(BIG), "pacs-2.0.msix")
    assert info.sha256 == hashlib.sha256(BIG).hexdigest()
    assert _chunks(app_ctx, info.sha256) == BIG
    assert seen[-1] == (len(BIG), len(BIG))
    assert len(seen) == 5
    detail = app_ctx.services.catalog.app_detail(admin, app_id)
    assert detail.versions[0].version == "2.0"  # the newest: what an install command sends
    assert audit_count(app_ctx, action="catalog.build_added") == 1
    with app_ctx.uow() as uow:  # no provisional upload rows left behind
        assert list(uow.session.scalars(select(AppPackage.sha256))) == [info.sha256]


def test_identical_bytes_are_stored_once(app_ctx: AppContext, tmp_path: Path) -> None:
    admin = sign_in_admin(app_ctx).principal
    first = add_catalog_app(app_ctx, "Dictation", "com.clinic.dictation", Platform.MACOS, [])
    second = add_catalog_app(app_ctx, "Dictation (ward)", "com.clinic.dictation.ward", Platform.MACOS, [])
    file = tmp_path / "dictation.pkg"
    file.write_bytes(b"pkg" * 1000)
    a = app_ctx.services.catalog.add_build(admin, first, file, "5.1")
    b = app_ctx.services.catalog.add_build(admin, second, file, "5.1")
    assert a.sha256 == b.sha256
    assert _counts(app_ctx) == (1, 1, 2)


def test_refusals_store_nothing(app_ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = sign_in_admin(app_ctx).principal
    app_id = add_catalog_app(app_ctx, "Vitals", "com.clinic.vitals", Platform.ANDROID, [])
    file = tmp_path / "vitals.apk"
    file.write_bytes(b"apk" * 5000)
    app_ctx.services.catalog.add_build(admin, app_id, file, "3.0")
    before = _counts(app_ctx)

    with pytest.raises(ConflictError, match=r"already has a version 3\.0"):
        app_ctx.services.catalog.add_build(admin, app_id, file, "3.0")
    with pytest.raises(NotFoundError):
        app_ctx.services.catalog.add_build(admin, 999_999, file, "3.1")
    with pytest.raises(ValidationError, match="Cannot read"):
        app_ctx.services.catalog.add_build(admin, app_id, tmp_path / "missing.apk", "3.1")
    with pytest.raises(ValidationError, match="1 to 64"):
        app_ctx.services.catalog.add_build(admin, app_id, file, "   ")
    empty = tmp_path / "empty.apk"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError, match="is empty"):
        app_ctx.services.catalog.add_build(admin, app_id, empty, "3.1")
    monkeypatch.setattr(catalog_module, "MAX_BUILD_BYTES", 1000)
    with pytest.raises(ValidationError, match="at most 1,000"):
        app_ctx.services.catalog.add_build(admin, app_id, file, "3.1")

    assert _counts(app_ctx) == before
    assert audit_count(app_ctx, action="catalog.build_added") == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), version=st.text(min_size=1, max_size=80))
def test_any_bytes_and_version_text_are_kept_exactly_or_refused(
    sqlite_ctx: AppContext, tmp_path: Path, data: bytes, version: str
) -> None:
    admin = sign_in_admin(sqlite_ctx).principal
    app_id = add_catalog_app(
        sqlite_ctx, "Fuzz", f"org.fuzz.{hashlib.sha1(data + version.encode()).hexdigest()}", Platform.LINUX, []
    )
    file = tmp_path / "fuzz.bin"
    file.write_bytes(data)
    try:
        info = sqlite_ctx.services.catalog.add_build(admin, app_id, file, version)
    except ValidationError:
        assert not data or not version.strip() or len(version.strip()) > 64
        return
    assert info.version == version.strip()
    assert _chunks(sqlite_ctx, info.sha256) == data
