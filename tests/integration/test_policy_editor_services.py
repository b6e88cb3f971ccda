"""Services behind the policy editor on SQLite and PostgreSQL: drafts with problems, unassign, effective
settings, and importing vendor files (nothing written for a bad file)."""

from __future__ import annotations

import json
import plistlib

import pytest

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.errors import NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.domain.policy_settings import PolicySettings, SettingsError
from mdm_desktop.exports import mobileconfig
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.schema import Policy, PolicyAssignment
from tests.conftest import user_session
from tests.integration.fixtures_data import add_groups, add_policy, audit_count, table_count


def _settings(**changes: object) -> dict:  # type: ignore[type-arg]
    data = PolicySettings().to_dict()
    for key, value in changes.items():
        group, name = key.split("__")
        data[group][name] = value
    return data


def test_draft_with_problems_saves_but_does_not_publish(app_ctx: AppContext, admin: SessionInfo) -> None:
    svc, me = app_ctx.services.policies, admin.principal
    pid = add_policy(app_ctx, "Phones", _settings())
    bad = _settings(passcode__min_length=40)
    with pytest.raises(SettingsError):
        svc.update_draft(me, pid, settings=bad)
    svc.update_draft(me, pid, settings=bad, allow_problems=True)
    assert svc.policy_detail(me, pid).draft_settings["passcode"]["min_length"] == 40
    with pytest.raises(SettingsError, match="out of range"):
        svc.publish(me, pid, "")
    with pytest.raises(ValidationError, match="not a finite number"):
        svc.update_draft(me, pid, settings={"passcode": {"min_length": float("nan")}}, allow_problems=True)


def test_unassign(app_ctx: AppContext, admin: SessionInfo) -> None:
    svc, me = app_ctx.services.policies, admin.principal
    groups = add_groups(app_ctx, ["ICU"])
    pid = add_policy(app_ctx, "Phones", _settings(), versions=[_settings()], assign_to=[groups["ICU"]])
    (assignment,) = svc.policy_detail(me, pid).assignments
    helpdesk = user_session(app_ctx, "helpdesk1", Role.HELPDESK).principal
    with pytest.raises(PermissionDeniedError):
        svc.unassign(helpdesk, assignment.id)
    assert audit_count(app_ctx, action="policies.unassign", outcome="denied") == 1
    removed = svc.unassign(me, assignment.id)
    assert removed.group_name == "ICU"
    assert table_count(app_ctx, PolicyAssignment) == 0
    assert audit_count(app_ctx, action="policies.unassign", outcome="success") == 1
    with pytest.raises(NotFoundError, match="removed already"):
        svc.unassign(me, assignment.id)


def test_effective_settings_most_restrictive_wins(app_ctx: AppContext, admin: SessionInfo) -> None:
    svc, me = app_ctx.services.policies, admin.principal
    groups = add_groups(app_ctx, ["ICU", "Empty"])
    loose = _settings(passcode__min_length=6, connections__camera_allowed=True, apps__blocked=["com.a.game"])
    strict = _settings(passcode__min_length=10, connections__camera_allowed=False, apps__blocked=["com.b.chat"])
    add_policy(app_ctx, "Loose", loose, versions=[loose], assign_to=[groups["ICU"]])
    pid = add_policy(app_ctx, "BYOD strict", strict, versions=[strict])
    version = svc.policy_detail(me, pid).versions[0]
    svc.assign(me, version.id, groups["ICU"], Ownership.BYOD)

    byod = svc.effective_settings(me, groups["ICU"], Ownership.BYOD)
    assert byod.policies == ("BYOD strict v1", "Loose v1 (all devices)")
    rows = {s.key: s for s in byod.settings}
    assert rows["passcode.min_length"].value == "10 characters"
    assert rows["passcode.min_length"].sources == ("BYOD strict v1",)
    assert rows["connections.camera_allowed"].value == "No"
    assert rows["connections.camera_allowed"].rule == "allowed only if every policy allows it"
    assert rows["apps.blocked"].value == "com.a.game, com.b.chat"
    assert set(rows["apps.blocked"].sources) == {"BYOD strict v1", "Loose v1 (all devices)"}

    corporate = svc.effective_settings(me, groups["ICU"], Ownership.CORPORATE)
    assert corporate.policies == ("Loose v1 (all devices)",)
    assert not any(s.contested for s in corporate.settings)
    assert svc.effective_settings(me, groups["Empty"], Ownership.CORPORATE).settings == ()
    with pytest.raises(NotFoundError):
        svc.effective_settings(me, 987654, Ownership.CORPORATE)
    with pytest.raises(ValidationError):
        svc.effective_settings(me, groups["ICU"], "byod")  # type: ignore[arg-type]


def test_import_vendor_files(app_ctx: AppContext, admin: SessionInfo) -> None:
    svc, me = app_ctx.services.policies, admin.principal
    profile = {
        "PayloadType": "Configuration",
        "PayloadDisplayName": "Reception iPads",
        "PayloadContent": [
            {"PayloadType": mobileconfig.PASSCODE, "forcePIN": True, "minLength": 8, "maxGracePeriod": 5},
            {"PayloadType": mobileconfig.RESTRICTIONS, "allowScreenShot": False},
        ],
    }
    created = svc.import_policy(me, plistlib.dumps(profile), None, "reception.mobileconfig", "mobileconfig")
    assert created.name == "Reception iPads"
    draft = svc.policy_detail(me, created.id).draft_settings
    assert draft["passcode"]["min_length"] == 8
    assert draft["data_transfer"]["screen_capture_allowed"] is False
    assert audit_count(app_ctx, action="policies.create", outcome="success") == 1

    android = {"cameraAccess": "CAMERA_ACCESS_DISABLED", "kioskCustomLauncherEnabled": True}
    created = svc.import_policy(me, json.dumps(android).encode(), "Kiosks", "kiosk.json", "android")
    assert created.name == "Kiosks"
    assert svc.policy_detail(me, created.id).draft_settings["connections"]["camera_allowed"] is False

    before = audit_count(app_ctx)
    for data, fmt in ((b"<plist><dict/></plist>", "mobileconfig"), (b'{"x": 1, "x": 2}', "android")):
        with pytest.raises(ValidationError):
            svc.import_policy(me, data, None, "bad", fmt)
    assert table_count(app_ctx, Policy) == 2
    assert audit_count(app_ctx) == before
