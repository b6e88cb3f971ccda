"""Android Management API policies: valid against the published JSON Schema, current fields, cross-field rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_baselines import BASELINES, BYOD, SHARED_TABLET
from mdm_desktop.domain.policy_settings import SETTING_SPECS, PolicySettings, parse_settings
from mdm_desktop.exports.android_policy import (
    DEPRECATED_FIELDS,
    api_level,
    build_android_policy,
    cross_field_problems,
    escalation_days,
)
from mdm_desktop.exports.report import PolicySource, is_active
from tests.unit.apple_schema import ANDROID_SCHEMA

SOURCE = PolicySource("a1b2c3", "Ward tablets", 2)

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed; it validates Android policies")
needs_schema = pytest.mark.skipif(
    not ANDROID_SCHEMA.is_file(), reason=f"Android policy schema not found at {ANDROID_SCHEMA} (../shared/reference)"
)


def policy_of(settings: PolicySettings) -> dict[str, Any]:
    return json.loads(build_android_policy(settings, SOURCE).content)


def strictest() -> PolicySettings:
    return parse_settings(
        {
            "passcode": {"complexity": "complex", "history": 5, "max_age_days": 90, "min_length": 12},
            "device_health": {"min_os_version": {"android": "15", "ios": "18.2"}},
            "connections": {
                "bluetooth_allowed": False,
                "nfc_allowed": False,
                "camera_allowed": False,
                "microphone_allowed": False,
                "location_services_allowed": False,
                "usb_data_allowed": False,
                "untrusted_wifi_allowed": False,
                "allowed_wifi": [
                    {"ssid": "CLINIC-STAFF", "security": "wpa3_enterprise"},
                    {"ssid": "LAB", "security": "wpa2_personal"},
                ],
            },
            "data_transfer": {
                "managed_to_unmanaged_paste": False,
                "managed_open_in_unmanaged": False,
                "unmanaged_open_in_managed": False,
                "screen_capture_allowed": False,
                "untrusted_sources_allowed": False,
                "cloud_backup_allowed": False,
            },
            "software_updates": {"auto_install": True, "install_window": "23:00-01:30"},
            "apps": {"required": ["com.example.ehr"], "blocked": ["com.example.game"], "allowed": ["com.example.ehr"]},
            "escalation": {"quarantine_after_days": 3, "wipe_after_days": 30},
        }
    )


def validator() -> Any:
    schema = json.loads(ANDROID_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


@needs_schema
@pytest.mark.parametrize("settings", [b.policy_settings() for b in BASELINES] + [strictest(), PolicySettings()])
def test_policies_validate_against_the_schema(settings: PolicySettings) -> None:
    policy = policy_of(settings)
    errors = sorted(validator().iter_errors(policy), key=str)
    assert errors == []
    assert cross_field_problems(policy) == []
    assert not DEPRECATED_FIELDS & set(policy)


@needs_schema
def test_schema_marks_the_fields_we_avoid_as_deprecated() -> None:
    schema = json.loads(ANDROID_SCHEMA.read_text(encoding="utf-8"))
    props = schema["$defs"]["Policy"]["properties"]
    for name in DEPRECATED_FIELDS - {"passwordRequirements"}:  # a $ref, so its deprecation is in the readme
        assert props[name].get("deprecated") is True, name
    for name in ("passwordPolicies", "policyEnforcementRules", "cameraAccess"):
        assert not props[name].get("deprecated"), name


@needs_schema
def test_schema_validator_catches_a_bad_policy() -> None:
    policy = policy_of(strictest())
    policy["cameraAccess"] = "CAMERA_OFF"
    policy["notAField"] = True
    assert len(list(validator().iter_errors(policy))) == 2


def test_strict_policy_values() -> None:
    policy = policy_of(strictest())
    (rules,) = policy["passwordPolicies"]
    assert rules["passwordQuality"] == "COMPLEX"
    assert rules["passwordMinimumLength"] == 12
    assert rules["passwordExpirationTimeout"] == f"{90 * 86400}s"
    assert rules["passwordScope"] == "SCOPE_DEVICE"
    assert policy["maximumTimeToLock"] == "300000"
    assert policy["minimumApiLevel"] == 35
    assert policy["cameraAccess"] == "CAMERA_ACCESS_DISABLED"
    assert policy["deviceConnectivityManagement"]["wifiSsidPolicy"]["wifiSsidPolicyType"] == "WIFI_SSID_ALLOWLIST"
    assert policy["deviceRadioState"]["minimumWifiSecurityLevel"] == "PERSONAL_NETWORK_SECURITY"
    assert policy["systemUpdate"] == {"type": "WINDOWED", "startMinutes": 23 * 60, "endMinutes": 90}
    assert policy["crossProfilePolicies"]["crossProfileDataSharing"] == "CROSS_PROFILE_DATA_SHARING_DISALLOWED"
    apps = {a["packageName"]: a["installType"] for a in policy["applications"]}
    assert apps == {"com.example.ehr": "FORCE_INSTALLED", "com.example.game": "BLOCKED"}
    assert policy["playStoreMode"] == "WHITELIST"
    (rule,) = policy["policyEnforcementRules"]
    assert rule["blockAction"]["blockAfterDays"] == 3
    assert rule["wipeAction"]["wipeAfterDays"] == 30


def test_byod_uses_the_work_profile_scope() -> None:
    policy = policy_of(BYOD.policy_settings())
    assert policy["passwordPolicies"][0]["passwordScope"] == "SCOPE_PROFILE"
    report = build_android_policy(BYOD.policy_settings(), SOURCE).report
    assert "containerisation.work_profile_required" in {u.key for u in report.unexpressed}


@pytest.mark.parametrize("settings", [b.policy_settings() for b in BASELINES] + [strictest()])
def test_every_active_setting_is_written_or_reported(settings: PolicySettings) -> None:
    report = build_android_policy(settings, SOURCE).report
    written, missing = set(report.written), {u.key for u in report.unexpressed}
    active = {s.key for s in SETTING_SPECS if is_active(s, settings.value(s.key))}
    assert active <= written | missing
    assert not written & missing


def test_report_lists_cloud_backup_and_health_checks() -> None:
    report = build_android_policy(SHARED_TABLET.policy_settings(), SOURCE).report
    missing = {u.key for u in report.unexpressed}
    assert {"data_transfer.cloud_backup_allowed", "device_health.max_patch_age_days"} <= missing


def test_escalation_that_wipes_before_it_blocks_is_refused() -> None:
    settings = parse_settings({"escalation": {"lock_after_days": 10, "wipe_after_days": 10}})
    assert escalation_days(settings) == (10, 10)
    with pytest.raises(ValidationError, match="blocks after 10 days and wipes after 10"):
        build_android_policy(settings, SOURCE)


def test_escalation_without_a_wipe_step_writes_no_rules() -> None:
    settings = parse_settings({"escalation": {"quarantine_after_days": 3, "wipe_after_days": None}})
    assert escalation_days(settings) is None
    assert "policyEnforcementRules" not in policy_of(settings)


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({"passwordRequirements": {}}, "'passwordRequirements' is deprecated"),
        ({"complianceRules": []}, "'complianceRules' is deprecated"),
        (
            {
                "policyEnforcementRules": [
                    {
                        "settingName": "passwordPolicies",
                        "blockAction": {"blockAfterDays": 5},
                        "wipeAction": {"wipeAfterDays": 5},
                    }
                ]
            },
            "blockAfterDays (5) must be less than wipeAfterDays (5)",
        ),
        (
            {"policyEnforcementRules": [{"settingName": "x", "blockAction": {"blockAfterDays": 1}}]},
            "blockAction and wipeAction must be given together",
        ),
        ({"applications": [{"packageName": "a.b"}, {"packageName": "a.b"}]}, "listed more than once"),
        ({"systemUpdate": {"type": "WINDOWED", "startMinutes": 1440, "endMinutes": 10}}, "startMinutes must be 0"),
    ],
)
def test_cross_field_problems(policy: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in cross_field_problems(policy))


def test_api_levels() -> None:
    assert api_level("14") == 34
    assert api_level("14.1") == 34
    assert api_level("12.1") == 32
    assert api_level("9") is None
