"""PolicyService on SQLite and PostgreSQL: reads, audited writes, malformed input, refusals."""

from __future__ import annotations

import json

import pytest

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.services.policies import clinic_baseline_settings
from mdm_desktop.store.schema import Policy, PolicyAssignment, PolicyVersion
from tests.conftest import user_session
from tests.integration.fixtures_data import add_groups, add_policy, audit_count, table_count


def test_list_and_detail(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups = add_groups(app_ctx, ["ICU", "Pharmacy"])
    base = clinic_baseline_settings()
    stricter = {**base, "passcode": {"required": True, "min_length": 8}}
    add_policy(app_ctx, "Unpublished", base)
    pid = add_policy(app_ctx, "Phones", stricter, versions=[base, stricter], assign_to=groups.values())
    add_policy(app_ctx, "Laptops", stricter, versions=[base])

    rows = app_ctx.services.policies.list_policies(admin.principal)
    assert [r.name for r in rows] == ["Laptops", "Phones", "Unpublished"]
    by_name = {r.name: r for r in rows}
    assert by_name["Phones"].latest_version == 2
    assert by_name["Phones"].assigned_groups == 2
    assert by_name["Phones"].draft_changed is False
    assert by_name["Laptops"].draft_changed is True
    assert by_name["Unpublished"].latest_version is None
    assert by_name["Unpublished"].published_at is None
    assert by_name["Unpublished"].draft_changed is True

    detail = app_ctx.services.policies.policy_detail(admin.principal, pid)
    assert detail.draft_settings == stricter
    assert [v.version for v in detail.versions] == [2, 1]
    assert detail.versions[1].settings == base
    assert sorted(a.group_name for a in detail.assignments) == ["ICU", "Pharmacy"]
    assert {a.version for a in detail.assignments} == {2}
    with pytest.raises(NotFoundError):
        app_ctx.services.policies.policy_detail(admin.principal, 123456)


def test_create_publish_assign_flow(app_ctx: AppContext, admin: SessionInfo) -> None:
    groups = add_groups(app_ctx, ["Emergency", "Front desk"])
    svc = app_ctx.services.policies
    me = admin.principal

    created = svc.create_policy(me, "  Clinic   phones ", "Every phone on the wards", None)
    assert created.name == "Clinic phones"
    assert created.latest_version is None
    assert created.draft_changed
    assert svc.policy_detail(me, created.id).draft_settings == clinic_baseline_settings()
    assert audit_count(app_ctx, action="policies.create", outcome="success") == 1

    v1 = svc.publish(me, created.id, "First release")
    assert v1.version == 1
    assert v1.notes == "First release"
    assert v1.published_by == admin.username
    assert v1.settings == clinic_baseline_settings()
    with pytest.raises(ConflictError, match="nothing new"):
        svc.publish(me, created.id, "again")
    assert table_count(app_ctx, PolicyVersion) == 1

    changed = {**clinic_baseline_settings(), "check_in": {"max_age_days": 7}}
    summary = svc.update_draft(me, created.id, settings=changed)
    assert summary.draft_changed
    v2 = svc.publish(me, created.id, "")
    assert v2.version == 2
    # Version 1 stays exactly as published.
    versions = {v.version: v for v in svc.policy_detail(me, created.id).versions}
    assert versions[1].settings == clinic_baseline_settings()
    assert versions[2].settings == changed

    a1 = svc.assign(me, v1.id, groups["Emergency"], None)
    assert a1.group_name == "Emergency"
    assert a1.ownership is None
    assert a1.version == 1
    with pytest.raises(ConflictError, match="already assigned"):
        svc.assign(me, v1.id, groups["Emergency"], None)
    svc.assign(me, v1.id, groups["Emergency"], Ownership.BYOD)
    a2 = svc.assign(me, v2.id, groups["Emergency"], None)  # replaces v1 for all devices
    detail = svc.policy_detail(me, created.id)
    assert {(a.version, a.ownership) for a in detail.assignments} == {(2, None), (1, Ownership.BYOD)}
    assert a2.id in {a.id for a in detail.assignments}
    assert detail.summary.assigned_groups == 1
    assert audit_count(app_ctx, action="policies.publish", outcome="success") == 2
    assert audit_count(app_ctx, action="policies.assign", outcome="success") == 3

    with pytest.raises(NotFoundError):
        svc.assign(me, v2.id, 9999, None)
    with pytest.raises(NotFoundError):
        svc.assign(me, 9999, groups["Emergency"], None)


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("", ValidationError, "Enter a name"),
        ("   ", ValidationError, "Enter a name"),
        ("x" * 129, ValidationError, "at most 128"),
        ("bad\x07name", ValidationError, "control characters"),
        ("phones", ConflictError, "already exists"),
        ("Phones", ConflictError, "already exists"),
    ],
)
def test_create_rejects_bad_names(
    app_ctx: AppContext, admin: SessionInfo, name: str, error: type[Exception], words: str
) -> None:
    add_policy(app_ctx, "Phones", {})
    before = audit_count(app_ctx)
    with pytest.raises(error, match=words):
        app_ctx.services.policies.create_policy(admin.principal, name, "", None)
    assert table_count(app_ctx, Policy) == 1
    assert audit_count(app_ctx) == before


def test_name_of_128_characters_is_accepted(app_ctx: AppContext, admin: SessionInfo) -> None:
    created = app_ctx.services.policies.create_policy(admin.principal, "y" * 128, "", {})
    assert created.name == "y" * 128


@pytest.mark.parametrize(
    "settings",
    [
        ["not", "a", "mapping"],
        {"when": object()},
        {"": 1},
        {"x": float("nan")},
        {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}},
        {"big": "x" * 70_000},
    ],
)
def test_create_rejects_bad_settings(app_ctx: AppContext, admin: SessionInfo, settings: object) -> None:
    with pytest.raises(ValidationError):
        app_ctx.services.policies.create_policy(admin.principal, "Ok name", "", settings)  # type: ignore[arg-type]
    assert table_count(app_ctx, Policy) == 0


def test_overlong_notes_write_nothing(app_ctx: AppContext, admin: SessionInfo) -> None:
    pid = add_policy(app_ctx, "Phones", clinic_baseline_settings())
    with pytest.raises(ValidationError, match="at most 2000"):
        app_ctx.services.policies.publish(admin.principal, pid, "n" * 2001)
    assert table_count(app_ctx, PolicyVersion) == 0


def test_rename_to_taken_name_is_refused(app_ctx: AppContext, admin: SessionInfo) -> None:
    add_policy(app_ctx, "Phones", {})
    other = add_policy(app_ctx, "Laptops", {})
    with pytest.raises(ConflictError):
        app_ctx.services.policies.update_draft(admin.principal, other, name="PHONES")
    renamed = app_ctx.services.policies.update_draft(admin.principal, other, name="Laptops (Windows)")
    assert renamed.name == "Laptops (Windows)"
    entry = json.loads(_last_details(app_ctx, "policies.update_draft"))
    assert entry["name"] == {"from": "Laptops", "to": "Laptops (Windows)"}


def _last_details(ctx: AppContext, action: str) -> str:
    from sqlalchemy import select

    from mdm_desktop.store.schema import AuditEntry

    with ctx.uow() as uow:
        found = uow.session.scalar(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.id.desc()).limit(1)
        )
    assert found is not None
    return found


def test_helpdesk_may_read_but_not_write(app_ctx: AppContext, admin: SessionInfo) -> None:
    helpdesk = user_session(app_ctx, "helpdesk1", Role.HELPDESK).principal
    groups = add_groups(app_ctx, ["ICU"])
    pid = add_policy(app_ctx, "Phones", clinic_baseline_settings(), versions=[clinic_baseline_settings()])
    svc = app_ctx.services.policies
    assert [p.name for p in svc.list_policies(helpdesk)] == ["Phones"]
    version_id = svc.policy_detail(helpdesk, pid).versions[0].id

    calls = [
        ("policies.create", lambda: svc.create_policy(helpdesk, "New", "", None)),
        ("policies.publish", lambda: svc.publish(helpdesk, pid, "")),
        ("policies.assign", lambda: svc.assign(helpdesk, version_id, groups["ICU"], None)),
        ("policies.update_draft", lambda: svc.update_draft(helpdesk, pid, name="X")),
    ]
    for action, call in calls:
        with pytest.raises(PermissionDeniedError, match=r"policies\.write"):
            call()
        assert audit_count(app_ctx, action=action, outcome="denied", actor="helpdesk1") == 1
        assert audit_count(app_ctx, action=action, outcome="success") == 0
    assert table_count(app_ctx, Policy) == 1
    assert table_count(app_ctx, PolicyVersion) == 1
    assert table_count(app_ctx, PolicyAssignment) == 0


def test_security_officer_may_not_create(app_ctx: AppContext, admin: SessionInfo) -> None:
    officer = user_session(app_ctx, "officer1", Role.SECURITY_OFFICER).principal
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.policies.create_policy(officer, "", "", None)  # refused before validation
    assert audit_count(app_ctx, action="policies.create", outcome="denied") == 1
