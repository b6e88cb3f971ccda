"""CatalogService on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import NotFoundError, PermissionDeniedError
from mdm_desktop.services.dto import SessionInfo
from tests.conftest import user_session
from tests.integration.fixtures_data import DeviceSpec, add_catalog_app, add_devices, add_installed, audit_count


def test_list_counts_versions_and_installs(app_ctx: AppContext, admin: SessionInfo) -> None:
    phones = add_devices(app_ctx, [DeviceSpec(f"iPhone {i}", Platform.IOS) for i in range(3)])
    pads = add_devices(app_ctx, [DeviceSpec(f"iPad {i}", Platform.IPADOS) for i in range(2)])
    droids = add_devices(app_ctx, [DeviceSpec(f"Android {i}", Platform.ANDROID) for i in range(4)])
    ios_app = add_catalog_app(
        app_ctx, "Epic Rover", "com.epic.rover", Platform.IOS, ["9.1", "9.2", "10.0"], publisher="Epic"
    )
    add_catalog_app(app_ctx, "Epic Rover", "com.epic.rover", Platform.ANDROID, ["10.0"], publisher="Epic")
    add_catalog_app(app_ctx, "Authenticator", "com.example.auth", Platform.ANDROID, [])
    add_installed(app_ctx, phones + pads, "com.epic.rover", "Rover")
    add_installed(app_ctx, droids[:1], "com.epic.rover", "Rover")
    add_installed(app_ctx, droids, "com.other", "Other")

    apps = app_ctx.services.catalog.list_apps(admin.principal)
    assert [(a.name, a.platform) for a in apps] == [
        ("Authenticator", Platform.ANDROID),
        ("Epic Rover", Platform.ANDROID),
        ("Epic Rover", Platform.IOS),
    ]
    auth, rover_android, rover_ios = apps
    assert auth.latest_version is None
    assert auth.version_count == 0
    assert auth.installed_count == 0
    assert rover_android.installed_count == 1
    assert rover_android.latest_version == "10.0"
    assert rover_ios.installed_count == 5  # iPhone apps run on iPads too
    assert rover_ios.version_count == 3
    assert rover_ios.latest_version == "10.0"
    assert rover_ios.publisher == "Epic"

    detail = app_ctx.services.catalog.app_detail(admin.principal, ios_app)
    assert [v.version for v in detail.versions] == ["10.0", "9.2", "9.1"]
    newest = detail.versions[0]
    assert len(newest.sha256) == 64
    assert newest.file_name.endswith(".ipa")
    assert newest.size_bytes > 0
    assert newest.added_at.tzinfo is not None
    assert detail.summary == rover_ios


def test_missing_app(app_ctx: AppContext, admin: SessionInfo) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        app_ctx.services.catalog.app_detail(admin.principal, 4242)


def test_every_role_reads_but_no_role_is_refused_and_audited(app_ctx: AppContext, admin: SessionInfo) -> None:
    helpdesk = user_session(app_ctx, "helpdesk1", Role.HELPDESK).principal
    nobody = user_session(app_ctx, "norole", None).principal
    add_catalog_app(app_ctx, "Teams", "com.microsoft.teams", Platform.IOS, ["1.0"])
    assert len(app_ctx.services.catalog.list_apps(helpdesk)) == 1
    with pytest.raises(PermissionDeniedError, match=r"catalog\.read"):
        app_ctx.services.catalog.list_apps(nobody)
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.catalog.app_detail(nobody, 1)
    assert audit_count(app_ctx, action="catalog.list", outcome="denied", actor="norole") == 1
    assert audit_count(app_ctx, action="catalog.view", outcome="denied", actor="norole") == 1
