"""ComplianceService on SQLite and PostgreSQL: counts by state, platform and OS version."""

from __future__ import annotations

import datetime as dt

import pytest

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import ComplianceState as CS
from mdm_desktop.domain.devices import Platform as P
from mdm_desktop.domain.errors import PermissionDeniedError, ValidationError
from mdm_desktop.services.dto import SessionInfo
from tests.conftest import user_session
from tests.integration.fixtures_data import DeviceSpec, add_devices, audit_count


def test_summary_counts(app_ctx: AppContext, admin: SessionInfo) -> None:
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(days=20)
    add_devices(
        app_ctx,
        [
            DeviceSpec("a", P.IOS, "18.6.2", CS.COMPLIANT, last_checkin_at=now),
            DeviceSpec("b", P.IOS, "18.1", CS.NON_COMPLIANT, compromised=True, last_checkin_at=now),
            DeviceSpec("c", P.IOS, "26.1", CS.COMPLIANT, last_checkin_at=old),
            DeviceSpec("d", P.ANDROID, "15", CS.NON_COMPLIANT, storage_encrypted=False, last_checkin_at=now),
            DeviceSpec("e", P.ANDROID, "16", CS.IN_GRACE, last_checkin_at=now),
            DeviceSpec("f", P.WINDOWS, "10.0.22631.4460", CS.UNKNOWN, last_checkin_at=None),
            DeviceSpec("g", P.WINDOWS, "10.0.19045.5131", CS.COMPLIANT, last_checkin_at=now),
            DeviceSpec("h", P.MACOS, "", CS.COMPLIANT, storage_encrypted=None, compromised=None),
        ],
        now=now,
    )
    s = app_ctx.services.compliance.summary(admin.principal)
    assert s.total_devices == 8
    assert s.stale_devices == 2  # one old check-in, one never
    assert s.stale_days == 14
    assert s.compromised == 1
    assert s.unencrypted == 1
    assert dict(s.by_state) == {CS.COMPLIANT: 4, CS.IN_GRACE: 1, CS.NON_COMPLIANT: 2, CS.UNKNOWN: 1}
    assert [st for st, _ in s.by_state] == list(CS)
    assert s.count_for_state(CS.NON_COMPLIANT) == 2
    assert dict(s.by_platform) == {P.IOS: 3, P.IPADOS: 0, P.ANDROID: 2, P.WINDOWS: 2, P.MACOS: 1, P.LINUX: 0}
    assert [(o.platform, o.major, o.label, o.count) for o in s.by_os_version] == [
        (P.IOS, 26, "iOS 26", 1),
        (P.IOS, 18, "iOS 18", 2),
        (P.ANDROID, 16, "Android 16", 1),
        (P.ANDROID, 15, "Android 15", 1),
        (P.WINDOWS, 11, "Windows 11", 1),
        (P.WINDOWS, 10, "Windows 10", 1),
        (P.MACOS, None, "macOS (unknown)", 1),
    ]
    assert app_ctx.services.compliance.summary(admin.principal, stale_days=30).stale_devices == 1


def test_empty_store(app_ctx: AppContext, admin: SessionInfo) -> None:
    s = app_ctx.services.compliance.summary(admin.principal)
    assert s.total_devices == s.stale_devices == s.compromised == s.unencrypted == 0
    assert all(n == 0 for _, n in s.by_state)
    assert s.by_os_version == ()


def test_bad_stale_days(app_ctx: AppContext, admin: SessionInfo) -> None:
    with pytest.raises(ValidationError):
        app_ctx.services.compliance.summary(admin.principal, stale_days=-1)


def test_refused_without_permission(app_ctx: AppContext, admin: SessionInfo) -> None:
    nobody = user_session(app_ctx, "norole", None).principal
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.compliance.summary(nobody)
    assert audit_count(app_ctx, action="compliance.summary", outcome="denied", actor="norole") == 1
