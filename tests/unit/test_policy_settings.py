"""The typed policy settings model: parsing with every problem named, legacy keys, round trip, merging."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_settings import (
    GROUP_LABELS,
    GROUP_TYPES,
    SETTING_SPECS,
    EapMethod,
    PolicySettings,
    SettingKind,
    SettingsError,
    TimeWindow,
    WifiNetwork,
    WifiSecurity,
    at_least_as_restrictive,
    check_settings,
    ladder_problems,
    merge_settings,
    parse_settings,
)

# -- the spec table and the typed groups agree ------------------------------------------------------------------


def test_every_spec_is_a_typed_field_with_the_same_default() -> None:
    fields = {f"{group}.{f.name}": f for group, cls in GROUP_TYPES.items() for f in dataclasses.fields(cls)}
    assert set(fields) == {s.key for s in SETTING_SPECS}
    defaults = PolicySettings()
    for s in SETTING_SPECS:
        assert defaults.value(s.key) == s.default, s.key
        assert s.group in GROUP_LABELS
        assert s.platforms, s.key
        if s.kind is SettingKind.INT:
            assert s.minimum is not None
            assert s.maximum is not None
            assert s.minimum <= s.maximum
        if s.kind is SettingKind.CHOICE:
            assert s.default in s.choices


def test_every_security_setting_cites_a_rule() -> None:
    uncited = {s.key for s in SETTING_SPECS if not s.citations}
    assert uncited <= {
        "connections.nfc_allowed",
        "connections.microphone_allowed",
        "software_updates.install_window",
        "software_updates.required_by",
        "apps.required",
    }


def test_empty_settings_are_the_defaults_and_round_trip() -> None:
    parsed = parse_settings({})
    assert parsed == PolicySettings()
    assert parse_settings(parsed.to_dict()) == parsed
    assert list(parsed.to_dict()) == list(GROUP_LABELS)


# -- problems -------------------------------------------------------------------------------------------------


def test_every_problem_is_collected_and_names_its_setting() -> None:
    result = check_settings(
        {
            "passcode": {"min_length": 3, "required": "yes", "complexity": "strong", "min_lenght": 8},
            "device_health": {"max_patch_age_days": True, "min_os_version": {"symbian": "9"}},
            "connections": {"allowed_wifi": [{"ssid": "", "security": "wpa3_enterprise"}]},
            "apps": {"blocked": ["not an id"]},
            "software_updates": {"install_window": "2am-4am", "required_by": "2027-02-30"},
        }
    )
    assert not result.ok
    keys = [p.key for p in result.problems]
    assert keys == [
        "passcode.min_length",
        "passcode.required",
        "passcode.complexity",
        "passcode.min_lenght",
        "device_health.max_patch_age_days",
        "device_health.min_os_version",
        "connections.allowed_wifi",
        "software_updates.install_window",
        "software_updates.required_by",
        "apps.blocked",
    ]
    text = "\n".join(p.message for p in result.problems)
    assert "Minimum length (passcode.min_length): 3 is out of range; use 4 to 16 characters." in text
    assert "must be true or false" in text
    assert "'passcode.min_lenght' is not a setting of Passcode" in text
    assert "must be a whole number, not true" in text
    assert '"symbian" is not a platform' in text
    with pytest.raises(SettingsError) as caught:
        parse_settings({"passcode": {"min_length": 3, "history": 99}})
    assert isinstance(caught.value, ValidationError)
    assert len(caught.value.problems) == 2
    assert "2 policy settings need attention" in caught.value.message
    assert "passcode.history" in caught.value.details


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"encryption": {"required": True}, "passcode": {"required": False}}, "passcode.required"),
        ({"apps": {"required": ["a.b"], "blocked": ["a.b"]}}, "apps.blocked"),
        ({"apps": {"required": ["a.b"], "allowed": ["c.d"]}}, "apps.allowed"),
        ({"apps": {"allowed": ["a.b"], "blocked": ["a.b"]}}, "apps.allowed"),
        ({"connections": {"untrusted_wifi_allowed": False}}, "connections.allowed_wifi"),
        ({"device_health": {"max_patch_age_days": None, "patch_grace_days": 5}}, "device_health.patch_grace_days"),
        ({"software_updates": {"required_by": "2027-01-31"}}, "software_updates.required_by"),
        ({"software_updates": {"install_window": "02:00-04:00"}}, "software_updates.install_window"),
    ],
)
def test_cross_field_rules(data: dict[str, Any], key: str) -> None:
    result = check_settings(data)
    assert [p.key for p in result.problems] == [key]


@pytest.mark.parametrize(
    "data",
    [
        ["a", "list"],
        {"passcode": "strict"},
        {"connections": {"allowed_wifi": [{"ssid": "A", "security": "wpa2_personal", "eap": "tls"}]}},
        {"connections": {"allowed_wifi": [{"ssid": "A", "security": "wep"}]}},
        {"connections": {"allowed_wifi": [{"ssid": "A", "security": "open"}, {"ssid": "A", "security": "open"}]}},
        {"connections": {"allowed_wifi": [{"ssid": "x" * 33, "security": "open"}]}},
        {"connections": {"allowed_wifi": [{"ssid": "A", "security": "open", "password": "secret"}]}},
        {"apps": {"required": "com.example.app"}},
        {"apps": {"required": ["com.example.app"] * 501}},
        {"device_health": {"min_os_version": {"ios": 18}}},
        {"software_updates": {"install_window": "02:00-02:10", "auto_install": True}},
        {"passcode": {"max_failed_attempts": 12}},
        {"passcode": {"auto_lock_minutes": None}},
        {"hostile": float("nan")},
    ],
)
def test_malformed_input_is_refused(data: Any) -> None:
    assert not check_settings(data).ok


def test_wifi_networks_are_parsed_sorted_and_default_eap_is_tls() -> None:
    parsed = parse_settings(
        {
            "connections": {
                "allowed_wifi": [
                    {"ssid": "Ward-B", "security": "wpa2_personal"},
                    {"ssid": "CLINIC", "security": "wpa3_enterprise"},
                ]
            }
        }
    )
    assert parsed.connections.allowed_wifi == (
        WifiNetwork("CLINIC", WifiSecurity.WPA3_ENTERPRISE, EapMethod.TLS),
        WifiNetwork("Ward-B", WifiSecurity.WPA2_PERSONAL),
    )


# -- old drafts -------------------------------------------------------------------------------------------------


def test_old_keys_are_migrated_and_unknown_groups_kept() -> None:
    old = {
        "scope": {"platforms": ["ios", "android"], "ownership": "corporate"},
        "passcode": {"required": True, "min_length": 6, "max_inactivity_minutes": 2},
        "encryption": {"required": True, "windows": "BitLocker XTS-AES 256"},
        "os_updates": {"max_patch_age_days": 90, "patch_grace_days": 30, "min_os_version": {"ios": "18.6"},
                       "install_window": "02:00-04:00"},
        "integrity": {"allow_compromised": False},
        "check_in": {"max_age_days": 7},
        "restrictions": {"camera": False, "screen_capture": False, "usb_file_transfer": False, "single_app": True},
        "wifi": {"ssid": "CLINIC-STAFF", "security": "WPA3-Enterprise", "eap": "EAP-TLS"},
        "data_separation": {"work_profile": True, "copy_paste_to_personal": False, "managed_open_in": True},
        "escalation": {"notify_after_days": 0, "quarantine_after_days": 7},
    }  # fmt: skip
    result = check_settings(old)
    assert result.ok, result.problems
    s = result.settings
    assert s is not None
    assert s.passcode.auto_lock_minutes == 2
    assert s.device_health.max_patch_age_days == 90
    assert s.device_health.patch_grace_days == 30
    assert s.device_health.min_os_for(Platform.IOS) == "18.6"
    assert s.device_health.block_compromised is True
    assert s.device_health.max_checkin_age_days == 7
    assert s.software_updates.install_window == TimeWindow(120, 240)
    assert s.software_updates.auto_install is True
    assert s.connections.camera_allowed is False
    assert s.connections.usb_data_allowed is False
    assert s.data_transfer.screen_capture_allowed is False
    assert s.connections.allowed_wifi == (WifiNetwork("CLINIC-STAFF", WifiSecurity.WPA3_ENTERPRISE, EapMethod.TLS),)
    assert s.containerisation.work_profile_required is True
    assert s.data_transfer.managed_to_unmanaged_paste is False
    assert s.data_transfer.managed_open_in_unmanaged is False
    assert dict(s.extra).keys() == {"encryption.windows", "restrictions", "scope"}
    assert (s.escalation.notify_after_hours, s.escalation.quarantine_after_days) == (0, 7)
    assert any("'escalation.notify_after_days' is now" in n for n in result.notes)
    assert any("'integrity.allow_compromised' is now" in n for n in result.notes)
    again = s.to_dict()
    assert again["scope"] == old["scope"]
    assert again["encryption"]["windows"] == "BitLocker XTS-AES 256"
    assert again["restrictions"] == {"single_app": True}
    assert parse_settings(again) == s


def test_new_keys_win_over_old_ones() -> None:
    s = parse_settings({"check_in": {"max_age_days": 30}, "device_health": {"max_checkin_age_days": 5}})
    assert s.device_health.max_checkin_age_days == 5


# -- hypothesis strategies --------------------------------------------------------------------------------------

APP_POOL = ["com.example.ehr", "com.example.chat", "org.clinic.checkin", "com.example.game", "net.vendor.tool"]
VERSIONS = ["13", "14", "14.0", "15", "17.6.1", "18.1", "18.6", "10.0.22631"]


def _value(spec_kind: SettingKind, s: Any) -> st.SearchStrategy[Any]:
    if spec_kind is SettingKind.BOOL:
        base: st.SearchStrategy[Any] = st.booleans()
    elif spec_kind is SettingKind.INT:
        base = st.integers(s.minimum, s.maximum)
    elif spec_kind is SettingKind.CHOICE:
        base = st.sampled_from(s.choices)
    elif spec_kind is SettingKind.TEXT_LIST:
        base = st.lists(st.sampled_from(APP_POOL), max_size=4).map(lambda xs: tuple(sorted(set(xs))))
    elif spec_kind is SettingKind.VERSION_MAP:
        base = st.dictionaries(st.sampled_from(list(Platform)), st.sampled_from(VERSIONS), max_size=3).map(
            lambda d: tuple(sorted(d.items()))
        )
    elif spec_kind is SettingKind.WIFI_LIST:
        network = st.builds(
            lambda ssid, sec, eap: WifiNetwork(ssid, sec, eap if sec.enterprise else None),
            st.sampled_from(["CLINIC", "LAB", "WARD-A", "GUEST"]),
            st.sampled_from(list(WifiSecurity)),
            st.sampled_from(list(EapMethod)),
        )
        base = st.lists(network, max_size=4, unique_by=lambda n: n.ssid).map(lambda xs: tuple(sorted(xs)))
    elif spec_kind is SettingKind.TIME_WINDOW:
        base = st.builds(
            lambda start, length: TimeWindow(start, (start + length) % 1440),
            st.integers(0, 1439),
            st.integers(30, 1400),
        )
    else:
        base = st.dates(dt.date(2026, 1, 1), dt.date(2030, 12, 31))
    return st.one_of(st.none(), base) if s.nullable else base


@st.composite
def any_settings(draw: st.DrawFn) -> PolicySettings:
    """Any typed settings (cross-field rules not applied: merging must cope with everything)."""
    values = {s.key: draw(_value(s.kind, s)) for s in SETTING_SPECS}
    return PolicySettings().with_values(values)


@st.composite
def valid_settings(draw: st.DrawFn) -> PolicySettings:
    """Settings that pass every cross-field rule, with some extras."""
    s = draw(any_settings())
    fixes: dict[str, Any] = {}
    if s.encryption.required:
        fixes["passcode.required"] = True
    required = set(s.apps.required) - set(s.apps.blocked)
    allowed = s.apps.allowed
    if allowed is not None:
        allowed = tuple(sorted((set(allowed) | required) - set(s.apps.blocked)))
        fixes["apps.allowed"] = allowed
    fixes["apps.required"] = tuple(sorted(required))
    if not s.connections.allowed_wifi:
        fixes["connections.untrusted_wifi_allowed"] = True
    if s.device_health.max_patch_age_days is None:
        fixes["device_health.patch_grace_days"] = 0
    if not s.software_updates.required_version:
        fixes["software_updates.required_by"] = None
    if not s.software_updates.auto_install:
        fixes["software_updates.install_window"] = None
    if ladder_problems(s.escalation):
        fixes.update({"escalation.notify_after_hours": 0, "escalation.lock_after_days": None})
        fixes["escalation.wipe_after_days"] = None
    extra = draw(st.sampled_from([(), (("lost_mode", '{"location": true}'), ("scope", '["ios"]'))]))
    return dataclasses.replace(s.with_values(fixes), extra=extra)


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# -- properties -------------------------------------------------------------------------------------------------


@given(valid_settings())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip(s: PolicySettings) -> None:
    result = check_settings(s.to_dict())
    assert result.ok, result.problems
    assert result.settings == s


def _merged(*items: PolicySettings) -> PolicySettings:
    return merge_settings([(f"p{i}", x) for i, x in enumerate(items)]).settings


@PROPERTY
@given(any_settings(), any_settings())
def test_merge_is_commutative(a: PolicySettings, b: PolicySettings) -> None:
    assert _merged(a, b) == _merged(b, a)


@PROPERTY
@given(any_settings(), any_settings(), any_settings())
def test_merge_is_associative(a: PolicySettings, b: PolicySettings, c: PolicySettings) -> None:
    assert _merged(_merged(a, b), c) == _merged(a, _merged(b, c)) == _merged(a, b, c)


@PROPERTY
@given(any_settings())
def test_merge_is_idempotent(a: PolicySettings) -> None:
    assert _merged(a, a) == a
    assert _merged(a) == a


@PROPERTY
@given(st.lists(any_settings(), min_size=1, max_size=3))
def test_merge_is_at_least_as_restrictive_as_each_input(inputs: list[PolicySettings]) -> None:
    result = merge_settings([(f"p{i}", x) for i, x in enumerate(inputs)])
    for s in SETTING_SPECS:
        merged = result.settings.value(s.key)
        for item in inputs:
            assert at_least_as_restrictive(s, merged, item.value(s.key)), s.key
        assert set(result.sources[s.key]) <= {f"p{i}" for i in range(len(inputs))}


# -- examples of the rule per setting ------------------------------------------------------------------------


def test_most_restrictive_wins_with_sources() -> None:
    ward = parse_settings(
        {
            "passcode": {"min_length": 8, "auto_lock_minutes": 10, "max_failed_attempts": None},
            "connections": {
                "camera_allowed": False,
                "allowed_wifi": [
                    {"ssid": "CLINIC", "security": "wpa2_enterprise", "eap": "peap"},
                    {"ssid": "LAB", "security": "wpa2_personal"},
                ],
            },
            "device_health": {"min_os_version": {"ios": "18.1", "android": "14"}},
            "apps": {"blocked": ["com.example.game"], "allowed": ["com.example.ehr", "com.example.chat"]},
        }
    )
    clinic = parse_settings(
        {
            "passcode": {"min_length": 6, "auto_lock_minutes": 2},
            "connections": {"allowed_wifi": [{"ssid": "CLINIC", "security": "wpa3_enterprise", "eap": "tls"}]},
            "device_health": {"min_os_version": {"ios": "18.6"}},
            "apps": {"blocked": ["net.vendor.tool"], "allowed": ["com.example.ehr"], "required": ["com.example.ehr"]},
        }
    )
    result = merge_settings([("Ward phones", ward), ("Clinic baseline", clinic)])
    merged = result.settings
    assert merged.passcode.min_length == 8
    assert merged.passcode.auto_lock_minutes == 2
    assert merged.passcode.max_failed_attempts == 10
    assert merged.connections.camera_allowed is False
    assert merged.connections.allowed_wifi == (WifiNetwork("CLINIC", WifiSecurity.WPA3_ENTERPRISE, EapMethod.TLS),)
    assert dict(merged.device_health.min_os_version) == {Platform.IOS: "18.6", Platform.ANDROID: "14"}
    assert merged.apps.blocked == ("com.example.game", "net.vendor.tool")
    assert merged.apps.allowed == ("com.example.ehr",)
    assert result.sources["passcode.min_length"] == ("Ward phones",)
    assert result.sources["passcode.auto_lock_minutes"] == ("Clinic baseline",)
    assert result.sources["passcode.required"] == ("Clinic baseline", "Ward phones")
    assert result.sources["apps.blocked"] == ("Clinic baseline", "Ward phones")
    assert result.conflicts == ()


def test_merge_reports_conflicts() -> None:
    needs = parse_settings({"apps": {"required": ["com.example.chat"]}})
    blocks = parse_settings({"apps": {"blocked": ["com.example.chat"]}})
    only_lab = parse_settings(
        {"connections": {"untrusted_wifi_allowed": False, "allowed_wifi": [{"ssid": "LAB", "security": "open"}]}}
    )
    only_clinic = parse_settings(
        {"connections": {"untrusted_wifi_allowed": False, "allowed_wifi": [{"ssid": "CLINIC", "security": "open"}]}}
    )
    result = merge_settings([("a", needs), ("b", blocks), ("c", only_lab), ("d", only_clinic)])
    assert any("com.example.chat is required by one policy and blocked by another" in c for c in result.conflicts)
    assert any("No Wi-Fi network is allowed by every policy" in c for c in result.conflicts)


def test_merge_needs_a_policy() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merge_settings([])
