"""ComplianceExceptionService: request, approve, reject, revoke, expiry by date, permissions, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.compliance_exceptions import ExceptionStatus, exception_status, request_problems
from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.schema import ComplianceException
from tests.conftest import _authenticators, sign_in_admin, user_session
from tests.integration.fixtures_data import DeviceSpec, add_devices, add_groups, audit_count, table_count

REASON = "Vendor firmware for the infusion pump tablet lags; patch due in March"


def _today(ctx: AppContext) -> dt.date:
    return _authenticators(ctx).clock().date()


@pytest.fixture
def people(app_ctx: AppContext) -> tuple[SessionInfo, SessionInfo, int, int]:
    admin = sign_in_admin(app_ctx)
    officer = user_session(app_ctx, "sec.officer", Role.SECURITY_OFFICER)
    group = add_groups(app_ctx, ["Ward 3"])["Ward 3"]
    (device,) = add_devices(app_ctx, [DeviceSpec("Pump tablet", Platform.ANDROID, group_id=group)])
    return admin, officer, device, group


def test_request_approve_revoke(app_ctx: AppContext, people: tuple[SessionInfo, SessionInfo, int, int]) -> None:
    admin, officer, device, _ = people
    svc = app_ctx.services.exceptions
    until = _today(app_ctx) + dt.timedelta(days=90)
    asked = svc.request(admin.principal, rule_id="health.max_patch_age", reason=REASON, until=until, device_id=device)
    assert asked.status is ExceptionStatus.PENDING
    assert asked.subject == "device Pump tablet"
    assert asked.valid_until == dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    approved = svc.approve(officer.principal, asked.id, "Risk accepted until the vendor ships")
    assert (approved.status, approved.approved_by) == (ExceptionStatus.ACTIVE, "sec.officer")
    assert svc.active_count(admin.principal) == 1
    assert [e.id for e in svc.list_exceptions(admin.principal, device_id=device)] == [asked.id]
    revoked = svc.revoke(officer.principal, asked.id, "Patched early")
    assert revoked.status is ExceptionStatus.REVOKED
    assert svc.active_count(admin.principal) == 0
    for action in ("requested", "approved", "revoked"):
        assert audit_count(app_ctx, action=f"compliance.exception_{action}") == 1


def test_group_exception_and_reject(app_ctx: AppContext, people: tuple[SessionInfo, SessionInfo, int, int]) -> None:
    admin, officer, _, group = people
    svc = app_ctx.services.exceptions
    asked = svc.request(admin.principal, rule_id="apps.required", reason=REASON, until=_today(app_ctx), group_id=group)
    assert asked.subject == "group Ward 3"
    rejected = svc.reject(officer.principal, asked.id, "Install the app instead")
    assert rejected.status is ExceptionStatus.REJECTED
    with pytest.raises(ConflictError):
        svc.approve(officer.principal, asked.id)


def test_exceptions_expire_by_themselves(
    app_ctx: AppContext, people: tuple[SessionInfo, SessionInfo, int, int]
) -> None:
    admin, officer, device, _ = people
    svc = app_ctx.services.exceptions
    asked = svc.request(
        admin.principal, rule_id="health.compromised", reason=REASON, until=_today(app_ctx), device_id=device
    )
    svc.approve(officer.principal, asked.id)
    _authenticators(app_ctx).clock.offset += dt.timedelta(days=2)
    admin = sign_in_admin(app_ctx)
    (listed,) = svc.list_exceptions(admin.principal)
    assert listed.status is ExceptionStatus.EXPIRED
    assert svc.list_exceptions(admin.principal, {ExceptionStatus.ACTIVE}) == ()
    with pytest.raises(ConflictError):
        svc.revoke(sign_in_admin(app_ctx).principal, asked.id)
    # An expired exception no longer blocks a new request for the same rule.
    again = svc.request(
        admin.principal, rule_id="health.compromised", reason=REASON, until=_today(app_ctx), device_id=device
    )
    assert again.status is ExceptionStatus.PENDING


def test_nobody_decides_on_their_own_request(
    app_ctx: AppContext, people: tuple[SessionInfo, SessionInfo, int, int]
) -> None:
    admin, _, device, _ = people
    svc = app_ctx.services.exceptions
    asked = svc.request(admin.principal, rule_id="health.os", reason=REASON, until=_today(app_ctx), device_id=device)
    with pytest.raises(PermissionDeniedError, match="your own request"):
        svc.approve(admin.principal, asked.id)
    assert audit_count(app_ctx, action="compliance.exception_approved", outcome="denied") == 1
    withdrawn = svc.revoke(admin.principal, asked.id, "Asked by mistake")  # the requester may withdraw
    assert withdrawn.status is ExceptionStatus.REJECTED


def test_permissions(app_ctx: AppContext, people: tuple[SessionInfo, SessionInfo, int, int]) -> None:
    admin, officer, device, _ = people
    svc = app_ctx.services.exceptions
    helpdesk = user_session(app_ctx, "help.desk", Role.HELPDESK)
    tech = user_session(app_ctx, "it.tech", Role.IT_TECHNICIAN)
    with pytest.raises(PermissionDeniedError):
        svc.request(helpdesk.principal, rule_id="health.os", reason=REASON, until=_today(app_ctx), device_id=device)
    with pytest.raises(PermissionDeniedError):
        svc.request(officer.principal, rule_id="health.os", reason=REASON, until=_today(app_ctx), device_id=device)
    asked = svc.request(tech.principal, rule_id="health.os", reason=REASON, until=_today(app_ctx), device_id=device)
    with pytest.raises(PermissionDeniedError):
        svc.approve(helpdesk.principal, asked.id)
    with pytest.raises(PermissionDeniedError):
        svc.approve(tech.principal, asked.id)
    assert svc.approve(admin.principal, asked.id).status is ExceptionStatus.ACTIVE
    assert len(svc.list_exceptions(helpdesk.principal)) == 1


def test_bad_requests_write_nothing(app_ctx: AppContext, people: tuple[SessionInfo, SessionInfo, int, int]) -> None:
    admin, _, device, group = people
    svc = app_ctx.services.exceptions
    today = _today(app_ctx)
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"device_id": device, "reason": "  "}, ValidationError, "reason"),
        ({"device_id": device, "until": today - dt.timedelta(days=1)}, ValidationError, "has passed"),
        ({"device_id": device, "until": today + dt.timedelta(days=400)}, ValidationError, "at most 365 days"),
        ({"device_id": device, "rule_id": "rm -rf /"}, ValidationError, "not a compliance rule id"),
        ({}, ValidationError, "either a device or a group"),
        ({"device_id": device, "group_id": group}, ValidationError, "either a device or a group"),
        ({"device_id": 999_999}, NotFoundError, "does not exist"),
        ({"group_id": 999_999}, NotFoundError, "does not exist"),
    ]
    for changes, error, words in cases:
        args: dict[str, object] = {"rule_id": "health.os", "reason": REASON, "until": today, **changes}
        with pytest.raises(error, match=words):
            svc.request(admin.principal, **args)  # type: ignore[arg-type]
    assert table_count(app_ctx, ComplianceException) == 0
    svc.request(admin.principal, rule_id="health.os", reason=REASON, until=today, device_id=device)
    with pytest.raises(ConflictError, match="already covers"):
        svc.request(admin.principal, rule_id="health.os", reason=REASON, until=today, device_id=device)
    with pytest.raises(NotFoundError):
        svc.approve(admin.principal, 424242)


NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


@given(st.text(max_size=80), st.text(max_size=1200), st.integers(-1000, 1000))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_request_checks_take_any_input(rule: str, reason: str, days: int) -> None:
    problems = request_problems(rule, reason, NOW.date() + dt.timedelta(days=days), NOW)
    assert all(isinstance(p, str) and p for p in problems)
    if not problems:
        assert 0 <= days <= 365
        assert reason.strip()
        assert len(reason) <= 1000


@given(st.booleans(), st.booleans(), st.integers(-5, 5))
def test_status_is_a_function_of_the_dates(approved: bool, revoked: bool, days: int) -> None:
    status = exception_status(
        approved_at=NOW if approved else None,
        revoked_at=NOW if revoked else None,
        valid_until=NOW + dt.timedelta(days=days),
        now=NOW,
    )
    active = status is ExceptionStatus.ACTIVE
    assert active == (approved and not revoked and days > 0)
