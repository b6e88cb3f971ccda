"""Importing Apple profiles and Android policies: round trips through the exporters, and hostile files."""

from __future__ import annotations

import datetime as dt
import json
import plistlib
import shutil

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_baselines import BASELINES
from mdm_desktop.domain.policy_settings import PolicySettings, check_settings
from mdm_desktop.domain.policy_words import setting_json_values
from mdm_desktop.exports import mobileconfig
from mdm_desktop.exports.android_policy import build_android_policy
from mdm_desktop.exports.mobileconfig import build_mobileconfig, sign_profile
from mdm_desktop.exports.report import PolicySource
from mdm_desktop.exports.settings_json import build_settings_json
from mdm_desktop.services import policy_imports
from mdm_desktop.services.policy_imports import ImportFormat, PolicyFileImport, read_policy_file

SOURCE = PolicySource("0a1b2c3d", "Ward phones", 3, "Phones on the wards")


def _values(settings: dict) -> dict:  # type: ignore[type-arg]
    return setting_json_values(settings)[0]


def test_restriction_table_covers_the_exporter_keys() -> None:
    read = set(policy_imports._RESTRICTION_SETTINGS) | {
        "forceEncryptedBackup",
        "blockedAppBundleIDs",
        "allowListedAppBundleIDs",
    }
    assert read == set(mobileconfig.RESTRICTION_KEYS)


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
def test_apple_round_trip_keeps_every_written_setting(baseline) -> None:  # type: ignore[no-untyped-def]
    settings = baseline.policy_settings()
    exported = build_mobileconfig(settings, SOURCE)
    imported = read_policy_file(exported.content, ImportFormat.MOBILECONFIG, "ward.mobileconfig")
    assert imported.name == "Ward phones (v3)"
    assert set(exported.report.written) - {"containerisation.allowed_apps"} <= policy_imports.APPLE_READABLE
    assert check_settings(imported.settings).ok
    before, after = _values(settings.to_dict()), _values(imported.settings)
    for key in exported.report.written:
        if key in ("apps.allowed", "containerisation.allowed_apps"):
            continue  # both lists become one allow list in a profile
        assert after[key] == before[key], key


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
def test_android_round_trip_keeps_every_written_setting(baseline) -> None:  # type: ignore[no-untyped-def]
    settings = baseline.policy_settings()
    exported = build_android_policy(settings, SOURCE)
    imported = read_policy_file(exported.content, ImportFormat.ANDROID, "ward.json")
    assert imported.name == "ward"
    assert set(exported.report.written) - {"containerisation.allowed_apps"} <= policy_imports.ANDROID_READABLE
    before, after = _values(settings.to_dict()), _values(imported.settings)
    skip = {"apps.allowed", "containerisation.allowed_apps", "connections.allowed_wifi"}
    skip |= {"device_health.min_os_version"}  # only the Android entry travels
    for key in exported.report.written:
        if key not in skip:
            assert after[key] == before[key], key
    android = dict(before["device_health.min_os_version"]).get("android")
    if android is not None:
        assert after["device_health.min_os_version"] == {"android": android}


def test_settings_file_import() -> None:
    data = build_settings_json(BASELINES[0].policy_settings(), SOURCE).content
    imported = read_policy_file(data, "json")
    assert imported.name == "Ward phones"
    assert imported.unmapped == ()


def test_unmapped_keys_are_listed() -> None:
    profile = {
        "PayloadType": "Configuration",
        "PayloadDisplayName": "Front desk",
        "PayloadContent": [
            {"PayloadType": mobileconfig.PASSCODE, "forcePIN": True, "minLength": 8, "maxGracePeriod": 5},
            {"PayloadType": mobileconfig.RESTRICTIONS, "allowCamera": False, "allowSafari": False},
            {"PayloadType": "com.apple.vpn.managed", "PayloadDisplayName": "Clinic VPN"},
            {
                "PayloadType": mobileconfig.WIFI,
                "SSID_STR": "CLINIC-STAFF",
                "EncryptionType": "WPA3",
                "EAPClientConfiguration": {"AcceptEAPTypes": [13]},
            },
        ],
    }
    imported = read_policy_file(plistlib.dumps(profile), "mobileconfig")
    values = _values(imported.settings)
    assert values["passcode.min_length"] == 8
    assert values["passcode.max_failed_attempts"] is None
    assert values["connections.camera_allowed"] is False
    assert values["connections.allowed_wifi"] == [{"ssid": "CLINIC-STAFF", "security": "wpa3_enterprise", "eap": "tls"}]
    assert any("maxGracePeriod" in u for u in imported.unmapped)
    assert any("allowSafari" in u for u in imported.unmapped)
    assert any("Clinic VPN (com.apple.vpn.managed)" in u for u in imported.unmapped)


def test_out_of_range_values_keep_the_default_and_are_listed() -> None:
    policy = {"passwordPolicies": [{"passwordQuality": "NUMERIC_COMPLEX", "passwordMinimumLength": 40}]}
    imported = read_policy_file(json.dumps(policy).encode(), "android")
    assert _values(imported.settings)["passcode.min_length"] == PolicySettings().passcode.min_length
    assert any("passcode.min_length" in u and "out of range" in u for u in imported.unmapped)


def test_deprecated_android_fields_are_named() -> None:
    imported = read_policy_file(b'{"cameraDisabled": true, "passwordRequirements": {}}', "android")
    assert "field cameraDisabled: deprecated in the Android Management API." in imported.unmapped


@pytest.mark.parametrize(
    ("data", "fmt", "words"),
    [
        (b"", "android", "empty"),
        (b"x" * (2 * 1024 * 1024), "android", "at most"),
        (b"[1, 2]", "android", "not an Android policy"),
        (b'{"a": 1, "a": 2}', "android", "twice"),
        (b'{"maximumTimeToLock": NaN}', "android", "not a number"),
        (b"[" * 5000 + b"]" * 5000, "android", "nested too deeply"),
        (b"\xff\xfe", "android", "not text"),
        (b"<?xml version='1.0'?><plist><array/></plist>", "mobileconfig", "not a configuration profile"),
        (b"hello", "mobileconfig", "not an Apple configuration profile"),
        (b"0\x82\x00\x10garbage", "mobileconfig", "neither a property list nor a signed profile"),
        (b"{}", "yaml", "not a policy file format"),
    ],
)
def test_malformed_files_fail_clearly(data: bytes, fmt: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        read_policy_file(data, fmt)


def test_xml_entities_are_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<plist><dict><key>PayloadType</key><string>&c;</string></dict></plist>"
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<plist><dict><key>PayloadType</key><string>&x;</string></dict></plist>"
    )
    for data in (laughs, external):
        with pytest.raises(ValidationError, match="cannot be read"):
            read_policy_file(data, "mobileconfig")


def _signer() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Clinic signing")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl program is not installed")
def test_signed_profile_is_verified_and_tampering_refused() -> None:
    cert, key = _signer()
    content = build_mobileconfig(BASELINES[0].policy_settings(), SOURCE).content
    signed = sign_profile(content, cert, key)
    imported = read_policy_file(signed, "mobileconfig")
    assert any("CN=Clinic signing" in n for n in imported.notes)
    at = signed.index(b"<integer>")
    tampered = signed[:at] + b"<integer>" + bytes([signed[at + 9] ^ 1]) + signed[at + 10 :]
    with pytest.raises(ValidationError, match="does not match its content"):
        read_policy_file(tampered, "mobileconfig")


def test_signed_profile_without_openssl(monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _signer()
    signed = sign_profile(b"<plist/>", cert, key)
    monkeypatch.setattr(policy_imports.shutil, "which", lambda _name: None)
    with pytest.raises(ValidationError, match="needs the 'openssl' program"):
        read_policy_file(signed, "mobileconfig")


def _imports_or_fails_clearly(data: bytes, fmt: str) -> None:
    """Either valid settings or a ValidationError with a message; never another exception."""
    outcome: PolicyFileImport | ValidationError
    try:
        outcome = read_policy_file(data, fmt)
    except ValidationError as exc:
        outcome = exc
    if isinstance(outcome, ValidationError):
        assert outcome.message
    else:
        assert check_settings(outcome.settings).ok


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
android_keys = st.sampled_from(
    [
        "passwordPolicies",
        "maximumTimeToLock",
        "encryptionPolicy",
        "minimumApiLevel",
        "cameraAccess",
        "deviceRadioState",
        "deviceConnectivityManagement",
        "crossProfilePolicies",
        "applications",
        "playStoreMode",
        "systemUpdate",
        "bluetoothDisabled",
        "advancedSecurityOverrides",
    ]
)


@FUZZ
@given(st.dictionaries(android_keys, json_values, max_size=8))
def test_fuzzed_android_policies_import_or_fail_clearly(policy: dict) -> None:  # type: ignore[type-arg]
    _imports_or_fails_clearly(json.dumps(policy).encode(), "android")


plist_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
plist_values = st.recursive(
    st.booleans() | st.integers(-(2**31), 2**31) | plist_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plist_text, inner, max_size=4),
    max_leaves=20,
)
payload_keys = st.sampled_from(
    ["forcePIN", "minLength", "allowSimple", "maxFailedAttempts", "allowCamera", "blockedAppBundleIDs", "SSID_STR",
     "EncryptionType", "EAPClientConfiguration", "forceEncryptedBackup", "allowListedAppBundleIDs", "pinHistory"]
)  # fmt: skip


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([mobileconfig.PASSCODE, mobileconfig.RESTRICTIONS, mobileconfig.WIFI, "x.other"]),
            st.dictionaries(payload_keys, plist_values, max_size=6),
        ),
        max_size=4,
    ),
    st.sampled_from([plistlib.FMT_XML, plistlib.FMT_BINARY]),
)
def test_fuzzed_profiles_import_or_fail_clearly(payloads: list, fmt: plistlib.PlistFormat) -> None:  # type: ignore[type-arg]
    profile = {"PayloadType": "Configuration", "PayloadContent": [{"PayloadType": t, **body} for t, body in payloads]}
    _imports_or_fails_clearly(plistlib.dumps(profile, fmt=fmt), "mobileconfig")


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(list(ImportFormat)))
def test_random_bytes_fail_clearly(data: bytes, fmt: ImportFormat) -> None:
    _imports_or_fails_clearly(data, fmt)


@FUZZ
@given(st.binary(min_size=1, max_size=200))
def test_damaged_binary_plists_fail_clearly(tail: bytes) -> None:
    _imports_or_fails_clearly(b"bplist00" + tail, "mobileconfig")
