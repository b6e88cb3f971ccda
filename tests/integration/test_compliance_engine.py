"""The compliance engine on SQLite and PostgreSQL: batch re-evaluation, rule states, exceptions, what-if, trends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import ComplianceState as CS
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.devices import Platform as P
from mdm_desktop.domain.errors import NotFoundError, PermissionDeniedError
from mdm_desktop.domain.policy_settings import SettingsError
from mdm_desktop.services.compliance_engine import Scope, reevaluate_scope
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.schema import ComplianceException, Device, DeviceRuleState
from tests.conftest import user_session
from tests.integration.fixtures_data import DeviceSpec, add_devices, add_groups, add_installed, audit_count

EHR = "com.medchart.ehr.mobile"
SETTINGS: dict[str, Any] = {
    "passcode": {"required": True},
    "encryption": {"required": True},
    "device_health": {"min_os_version": {"android": "15", "ios": "18.0"}, "max_checkin_age_days": 14},
    "apps": {"required": [EHR]},
}


def _states(ctx: AppContext) -> dict[tuple[int, str], tuple[str, dt.datetime | None, str]]:
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(
                DeviceRuleState.device_id,
                DeviceRuleState.rule_id,
                DeviceRuleState.status,
                DeviceRuleState.failing_since,
                DeviceRuleState.detail,
            )
        ).all()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def _device_states(ctx: AppContext) -> dict[int, tuple[str, list[str]]]:
    with ctx.uow() as uow:
        rows = uow.session.execute(select(Device.id, Device.compliance_state, Device.compliance_reasons)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _fleet(ctx: AppContext) -> tuple[dict[str, int], list[int]]:
    now = dt.datetime.now(dt.UTC)
    groups = add_groups(ctx, ["Ward A", "Ward B"])
    a, b = groups["Ward A"], groups["Ward B"]
    ids = add_devices(
        ctx,
        [
            DeviceSpec("good", P.ANDROID, "16", group_id=a),
            DeviceSpec("unencrypted", P.ANDROID, "16", storage_encrypted=False, group_id=a),
            DeviceSpec("old-os", P.ANDROID, "14", group_id=a),
            DeviceSpec("stale", P.IOS, "18.6", group_id=a, last_checkin_at=now - dt.timedelta(days=40)),
            DeviceSpec("byod", P.IOS, "18.6", ownership=Ownership.BYOD, group_id=a),
            DeviceSpec("elsewhere", P.ANDROID, "12", storage_encrypted=False, group_id=b),
        ],
        now=now,
    )
    add_installed(ctx, ids[:5], EHR, "MedChart")
    with ctx.uow(write=True) as uow:
        patch = now.date() - dt.timedelta(days=10)
        uow.session.execute(update(Device).where(Device.platform == "android").values(security_patch=patch))
        uow.commit()
    return groups, ids


def _publish_and_assign(ctx: AppContext, admin: SessionInfo, group_id: int, settings: dict[str, Any]) -> int:
    policies = ctx.services.policies
    created = policies.create_policy(admin.principal, "Ward policy", settings=settings)
    version = policies.publish(admin.principal, created.id)
    policies.assign(admin.principal, version.id, group_id)
    return created.id


def test_assign_evaluates_the_groups_devices_in_one_audited_call(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups, ids = _fleet(app_ctx)
    good, unencrypted, old_os, stale, byod, elsewhere = ids
    before = audit_count(app_ctx)
    _publish_and_assign(app_ctx, admin, groups["Ward A"], SETTINGS)
    assert audit_count(app_ctx) == before + 3  # create, publish, assign: the evaluation adds none
    devices = _device_states(app_ctx)
    assert devices[good] == (CS.COMPLIANT.value, [])
    assert devices[unencrypted][0] == CS.NON_COMPLIANT.value
    assert devices[unencrypted][1] == ["Storage encryption is off; policy requires it."]
    assert devices[old_os] == (CS.NON_COMPLIANT.value, ["Android 14 is older than the minimum 15."])
    assert devices[stale][0] == CS.UNKNOWN.value
    assert "Last check-in was 40 days ago; policy allows 14." in devices[stale][1][0]
    assert devices[byod][0] == CS.COMPLIANT.value
    assert devices[elsewhere] == (CS.COMPLIANT.value, [])  # Ward B was not re-evaluated
    states = _states(app_ctx)
    assert states[(unencrypted, "encryption.required")][0] == "failing"
    assert states[(unencrypted, "encryption.required")][1] is not None
    assert (good, "encryption.required") not in states  # passing rules have no row
    # Rules that passed on the last (stale) data are unknown but not stored: the check-in rule says why.
    assert {k[1]: v[0] for k, v in states.items() if k[0] == stale} == {"health.max_checkin_age": "unknown"}
    assert not any(k[0] == elsewhere for k in states)


def test_failing_since_is_kept_and_rows_go_when_a_rule_passes(sqlite_ctx: AppContext) -> None:
    _groups, ids = _fleet(sqlite_ctx)
    unencrypted = ids[1]
    t1 = dt.datetime.now(dt.UTC)
    t2 = t1 + dt.timedelta(hours=5)
    with sqlite_ctx.uow(write=True) as uow:
        first = reevaluate_scope(uow.session, t1, Scope())
        uow.commit()
    with sqlite_ctx.uow(write=True) as uow:
        second = reevaluate_scope(uow.session, t2, Scope())
        uow.commit()
    assert first.devices == second.devices == 6
    assert second.changed == 0
    since = _states(sqlite_ctx)[(unencrypted, "encryption.required")][1]
    assert since is not None
    assert abs((since - t1).total_seconds()) < 1
    with sqlite_ctx.uow(write=True) as uow:
        uow.session.execute(update(Device).where(Device.id == unencrypted).values(storage_encrypted=True))
        result = reevaluate_scope(uow.session, t2, Scope(device_ids=frozenset({unencrypted})))
        uow.commit()
    assert result.devices == 1
    assert result.transitions == ((("non_compliant", "compliant"), 1),)
    assert (unencrypted, "encryption.required") not in _states(sqlite_ctx)
    assert _device_states(sqlite_ctx)[unencrypted] == ("compliant", [])


def _exception(
    ctx: AppContext, rule_id: str, *, device: int | None = None, group: int | None = None, **kw: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {
        "device_id": device,
        "group_id": group,
        "rule_id": rule_id,
        "reason": "Waiting for a replacement device",
        "valid_until": now + dt.timedelta(days=30),
        "requested_by": "admin",
        "requested_at": now,
        "approved_by": "officer",
        "approved_at": now,
    }
    values.update(kw)
    with ctx.uow(write=True) as uow:
        uow.session.add(ComplianceException(**values))
        uow.commit()


def test_active_exceptions_exempt_rules(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups, ids = _fleet(app_ctx)
    good, unencrypted, old_os, *_ = ids
    now = dt.datetime.now(dt.UTC)
    _exception(app_ctx, "encryption.required", device=unencrypted)
    _exception(app_ctx, "health.min_os_version", group=groups["Ward A"])
    _exception(app_ctx, "apps.required:" + EHR, device=good, approved_at=None)  # pending: no effect
    _exception(app_ctx, "passcode.required", device=good, valid_until=now - dt.timedelta(days=1))  # expired
    _publish_and_assign(app_ctx, admin, groups["Ward A"], SETTINGS)
    devices = _device_states(app_ctx)
    assert devices[unencrypted][0] == CS.COMPLIANT.value
    assert devices[unencrypted][1][0].startswith("Exempt until")
    assert "Waiting for a replacement device" in devices[unencrypted][1][0]
    assert devices[old_os][0] == CS.COMPLIANT.value
    states = _states(app_ctx)
    assert states[(unencrypted, "encryption.required")][:2] == ("exempt", None)
    assert states[(old_os, "health.min_os_version")][0] == "exempt"
    detail = app_ctx.services.compliance_engine.device_compliance(admin.principal, unencrypted)
    assert {r.rule_id: r.status for r in detail.rules}["encryption.required"] == "exempt"


def test_device_compliance_lists_every_rule_in_words(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups, ids = _fleet(app_ctx)
    _publish_and_assign(app_ctx, admin, groups["Ward A"], SETTINGS)
    found = app_ctx.services.compliance_engine.device_compliance(admin.principal, ids[1])
    assert found.state is CS.NON_COMPLIANT
    by_id = {r.rule_id: r for r in found.rules}
    assert set(by_id) == {
        "passcode.required",
        "encryption.required",
        "health.no_compromised",
        "health.min_os_version",
        "health.max_patch_age",
        "health.max_checkin_age",
        "apps.required:" + EHR,
    }
    assert by_id["encryption.required"].status == "failing"
    assert by_id["encryption.required"].failing_since is not None
    assert any("HIPAA" in c for c in by_id["encryption.required"].citations)
    assert by_id["passcode.required"].status == "passing"
    assert by_id["passcode.required"].detail == "A passcode is set."
    with pytest.raises(NotFoundError):
        app_ctx.services.compliance_engine.device_compliance(admin.principal, 999_999)


def test_what_if_counts_devices_per_changed_rule_and_writes_nothing(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups, _ids = _fleet(app_ctx)
    policy_id = _publish_and_assign(app_ctx, admin, groups["Ward A"], SETTINGS)
    states_before, devices_before = _states(app_ctx), _device_states(app_ctx)
    draft = {
        **SETTINGS,
        "device_health": {"min_os_version": {"android": "16", "ios": "26.0"}, "max_checkin_age_days": 14},
    }
    report = app_ctx.services.compliance_engine.what_if(admin.principal, policy_id, draft)
    assert report.compared_with == 1
    assert report.devices_assigned == 5
    assert report.changed_settings == ("device_health.min_os_version",)
    impact = {r.rule_id: r for r in report.rules}
    assert set(impact) == {"health.min_os_version"}
    os_rule = impact["health.min_os_version"]
    assert os_rule.change == "changed"
    assert "Android 15 or later" in os_rule.before
    assert "Android 16 or later" in os_rule.after
    assert os_rule.failing_now == 1  # the Android 14 device
    assert os_rule.failing_after == 3  # and both iOS 18.6 devices (the stale one keeps failing)
    assert os_rule.newly_failing == 2
    assert dict(report.by_state_after)[CS.NON_COMPLIANT] == 4
    steps = {(e.rule_id, e.step): (e.devices, e.after) for e in report.escalations}
    assert steps[("health.min_os_version", "notify")] == (2, "at once")  # the default ladder notifies at once
    laddered = app_ctx.services.compliance_engine.what_if(
        admin.principal, policy_id, {**draft, "escalation": {"quarantine_after_days": 7}}
    )
    steps = {(e.rule_id, e.step): (e.devices, e.after) for e in laddered.escalations}
    assert steps[("health.min_os_version", "quarantine")] == (2, "after 7 days")
    assert _states(app_ctx) == states_before
    assert _device_states(app_ctx) == devices_before


def test_what_if_on_an_unassigned_policy_and_bad_drafts(app_ctx: AppContext, admin: SessionInfo) -> None:
    engine = app_ctx.services.compliance_engine
    created = app_ctx.services.policies.create_policy(admin.principal, "Draft only", settings=SETTINGS)
    report = engine.what_if(admin.principal, created.id, {**SETTINGS, "encryption": {"required": True}})
    assert report.devices_assigned == 0
    assert report.compared_with is None
    assert any("not assigned" in n for n in report.notes)
    assert "apps.required:" + EHR in {r.rule_id for r in report.rules}  # compared with the defaults
    with pytest.raises(SettingsError) as bad:
        engine.what_if(admin.principal, created.id, {"passcode": {"min_length": 99}})
    assert "passcode.min_length" in str(bad.value.problems[0])
    with pytest.raises(NotFoundError):
        engine.what_if(admin.principal, 999_999, SETTINGS)


def test_reevaluate_is_audited_and_needs_policy_write(app_ctx: AppContext, admin: SessionInfo) -> None:
    _groups, _ids = _fleet(app_ctx)
    before = audit_count(app_ctx)
    result = app_ctx.services.compliance_engine.reevaluate(admin.principal)
    assert result.devices == 6
    assert audit_count(app_ctx) == before + 1
    assert audit_count(app_ctx, action="compliance.reevaluate") == 1
    helpdesk = user_session(app_ctx, "helpdesk1", Role.HELPDESK)
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.compliance_engine.reevaluate(helpdesk.principal)


def test_snapshots_are_idempotent_and_feed_the_trend(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups, _ids = _fleet(app_ctx)
    engine = app_ctx.services.compliance_engine
    _publish_and_assign(app_ctx, admin, groups["Ward A"], SETTINGS)
    today = dt.datetime.now(dt.UTC).date()
    assert engine.snapshot(today - dt.timedelta(days=1)) == 6
    assert engine.snapshot(today) == 6
    assert engine.snapshot(today) == 6  # again: replaced, not doubled
    trend = engine.trend(admin.principal, days=30)
    assert [p.day for p in trend.days] == [today - dt.timedelta(days=1), today]
    assert sum(n for _, n in trend.days[-1].counts) == 6
    assert dict(trend.days[-1].counts)[CS.NON_COMPLIANT] == 2  # Ward B's device was not evaluated
    failing = {c.rule_id: c.failing for c in trend.failing_by_rule}
    assert failing == {"encryption.required": 1, "health.min_os_version": 1}
    android = engine.trend(admin.principal, days=30, platform=P.ANDROID)
    assert sum(n for _, n in android.days[-1].counts) == 4


def test_approving_and_revoking_an_exception_re_evaluates_the_device(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups, ids = _fleet(app_ctx)
    unencrypted = ids[1]
    _publish_and_assign(app_ctx, admin, groups["Ward A"], SETTINGS)
    assert _device_states(app_ctx)[unencrypted][0] == CS.NON_COMPLIANT.value
    officer = user_session(app_ctx, "sec.officer", Role.SECURITY_OFFICER)
    exceptions = app_ctx.services.exceptions
    until = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    asked = exceptions.request(
        admin.principal, rule_id="encryption.required", reason="Replacement ordered", until=until, device_id=unencrypted
    )
    assert _device_states(app_ctx)[unencrypted][0] == CS.NON_COMPLIANT.value  # pending: no effect yet
    exceptions.approve(officer.principal, asked.id)
    assert _device_states(app_ctx)[unencrypted][0] == CS.COMPLIANT.value
    assert _states(app_ctx)[(unencrypted, "encryption.required")][0] == "exempt"
    exceptions.revoke(officer.principal, asked.id, "Device replaced late")
    assert _device_states(app_ctx)[unencrypted][0] == CS.NON_COMPLIANT.value
    assert _states(app_ctx)[(unencrypted, "encryption.required")][0] == "failing"
