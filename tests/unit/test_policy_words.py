"""Policy settings in words: values and differences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mdm_desktop.domain.policy_settings import SETTING_SPECS, MergeRule, PolicySettings, spec
from mdm_desktop.domain.policy_words import (
    MERGE_RULE_WORDS,
    describe_changes,
    format_value,
    group_label,
    setting_json_values,
)
from mdm_desktop.services.policies import clinic_baseline_settings


def test_values_in_words() -> None:
    assert format_value(spec("passcode.min_length"), 8) == "8 characters"
    assert format_value(spec("passcode.max_failed_attempts"), None) == "No limit"
    assert format_value(spec("apps.allowed"), None) == "No list"
    assert format_value(spec("apps.blocked"), []) == "None"
    assert format_value(spec("passcode.complexity"), "alphanumeric") == "Letters and digits"
    assert format_value(spec("device_health.min_os_version"), {"ios": "18.6", "android": "14"}) == (
        "Android 14, iOS 18.6"
    )
    wifi = [{"ssid": "CLINIC", "security": "wpa3_enterprise", "eap": "tls"}]
    assert format_value(spec("connections.allowed_wifi"), wifi) == "CLINIC (WPA3 Enterprise, EAP-TLS)"
    assert format_value(spec("passcode.required"), "yes") == '"yes"'  # a wrong value is shown as written
    assert group_label("escalation") == "Escalation"
    assert group_label("lost_mode") == "Lost mode"
    assert set(MERGE_RULE_WORDS) == set(MergeRule)


def test_changes_between_versions() -> None:
    old = PolicySettings().to_dict()
    new = PolicySettings().to_dict()
    new["passcode"]["min_length"] = 10
    new["apps"]["blocked"] = ["com.example.game"]
    new["scope"] = {"ownership": "byod"}
    assert [str(c) for c in describe_changes(old, new)] == [
        "Passcode › Minimum length: 6 characters → 10 characters",
        "Apps › Blocked apps: None → com.example.game",
        "Scope › Ownership: Not set → byod",
    ]
    assert describe_changes(old, old) == ()


def test_legacy_keys_compare_equal_to_their_migrated_form() -> None:
    legacy = clinic_baseline_settings()
    migrated = PolicySettings().to_dict()
    values, _ = setting_json_values(legacy)
    for key, value in values.items():
        group, name = key.split(".")
        migrated[group][name] = value
    assert describe_changes(legacy, migrated) == ()


def test_invalid_drafts_are_described_as_written() -> None:
    bad = PolicySettings().to_dict()
    bad["passcode"]["min_length"] = 99
    (change,) = describe_changes(PolicySettings().to_dict(), bad)
    assert change.new == "99 characters"


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from([s.key for s in SETTING_SPECS]), st.none() | st.booleans() | st.integers()))
def test_describe_never_fails(changes: dict) -> None:  # type: ignore[type-arg]
    data = PolicySettings().to_dict()
    for key, value in changes.items():
        group, name = key.split(".")
        data[group][name] = value
    for change in describe_changes(PolicySettings().to_dict(), data):
        assert change.label
