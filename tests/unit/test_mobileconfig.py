"""Apple configuration profiles: schema-valid, stable UUIDs, honest reports, CMS signatures openssl accepts."""

from __future__ import annotations

import datetime as dt
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_baselines import BASELINES, CORPORATE, SHARED_TABLET
from mdm_desktop.domain.policy_settings import SETTING_SPECS, PolicySettings, parse_settings
from mdm_desktop.exports.mobileconfig import (
    PASSCODE,
    RESTRICTION_KEYS,
    RESTRICTIONS,
    WIFI,
    build_mobileconfig,
    load_signer,
    payload_uuid,
    sign_profile,
)
from mdm_desktop.exports.report import PolicySource, is_active
from mdm_desktop.security.ca import LocalCA
from tests.unit import apple_schema

SOURCE = PolicySource("0f3c2a9e5b7d4c1a8e6f0b2d4a6c8e01", "Ward tablets", 3, "Shared tablets on the wards")
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

needs_schema = pytest.mark.skipif(
    apple_schema.reference_missing_reason() is not None, reason=apple_schema.reference_missing_reason() or ""
)


def profile_of(settings: PolicySettings, source: PolicySource = SOURCE) -> dict:
    return plistlib.loads(build_mobileconfig(settings, source).content)


def strictest() -> PolicySettings:
    """Every setting at a restrictive value, so every mapped key is written."""
    return parse_settings(
        {
            "passcode": {"complexity": "complex", "history": 5, "max_age_days": 365, "min_length": 16},
            "connections": {
                "camera_allowed": False,
                "nfc_allowed": False,
                "usb_data_allowed": False,
                "untrusted_wifi_allowed": False,
                "allowed_wifi": [
                    {"ssid": "CLINIC-STAFF", "security": "wpa3_enterprise", "eap": "tls"},
                    {"ssid": "CLINIC-GUEST", "security": "open"},
                    {"ssid": "LAB", "security": "wpa2_personal"},
                    {"ssid": "RADIOLOGY", "security": "wpa2_enterprise", "eap": "ttls"},
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
            "backup": {"required": True, "target": "encrypted_local"},
            "apps": {"allowed": ["com.example.ehr"], "blocked": ["com.example.game"], "required": ["com.example.ehr"]},
            "containerisation": {"allowed_apps": ["com.example.ehr", "com.example.chat"]},
        }
    )


@needs_schema
@pytest.mark.parametrize("settings", [b.policy_settings() for b in BASELINES] + [strictest(), PolicySettings()])
def test_profiles_validate_against_apple_schema(settings: PolicySettings) -> None:
    profile = profile_of(settings)
    assert apple_schema.check_profile(profile).problems == []


@needs_schema
def test_validator_catches_unknown_keys_types_and_ranges() -> None:
    profile = profile_of(strictest())
    passcode = next(p for p in profile["PayloadContent"] if p["PayloadType"] == PASSCODE)
    passcode["minLength"] = 17
    passcode["maxInactivity"] = "5"
    passcode["notAKey"] = True
    profile["PayloadVersion"] = 2
    problems = apple_schema.check_profile(profile).problems
    assert any("minLength: 17 above 16" in p for p in problems)
    assert any("maxInactivity: str given" in p for p in problems)
    assert any("notAKey: unknown key" in p for p in problems)
    assert any("PayloadVersion: 2 not in [1]" in p for p in problems)


@needs_schema
def test_restriction_key_table_matches_the_schema() -> None:
    schema = apple_schema.load(RESTRICTIONS)
    keys = apple_schema.key_table(RESTRICTIONS)
    for name, claim in RESTRICTION_KEYS.items():
        assert name in keys, name
        assert apple_schema.supported(keys[name], schema, "macOS") == claim.macos, name
        ios = keys[name].get("supportedOS", {}).get("iOS") or {}
        assert bool(ios.get("supervised")) == claim.supervised, name
    written = next(p for p in profile_of(strictest())["PayloadContent"] if p["PayloadType"] == RESTRICTIONS)
    assert {k for k in written if not k.startswith("Payload")} == set(RESTRICTION_KEYS)


def test_passcode_payload_values() -> None:
    payload = next(p for p in profile_of(strictest())["PayloadContent"] if p["PayloadType"] == PASSCODE)
    assert payload["forcePIN"] is True
    assert payload["allowSimple"] is False
    assert payload["requireAlphanumeric"] is True
    assert payload["minComplexChars"] == 1
    assert (payload["minLength"], payload["pinHistory"], payload["maxPINAgeInDays"]) == (16, 5, 365)
    assert payload["maxInactivity"] == 5
    assert payload["maxFailedAttempts"] == 10


def test_wifi_payloads_carry_security_but_no_password() -> None:
    wifi = {p["SSID_STR"]: p for p in profile_of(strictest())["PayloadContent"] if p["PayloadType"] == WIFI}
    assert set(wifi) == {"CLINIC-STAFF", "CLINIC-GUEST", "LAB", "RADIOLOGY"}
    assert wifi["CLINIC-STAFF"]["EncryptionType"] == "WPA3"
    assert wifi["CLINIC-STAFF"]["EAPClientConfiguration"]["AcceptEAPTypes"] == [13]
    assert wifi["RADIOLOGY"]["EAPClientConfiguration"]["AcceptEAPTypes"] == [21]
    assert wifi["CLINIC-GUEST"]["EncryptionType"] == "None"
    assert all("Password" not in p for p in wifi.values())
    assert len({p["PayloadUUID"] for p in wifi.values()}) == 4


def test_uuids_are_stable_per_version_and_differ_between_versions() -> None:
    settings = SHARED_TABLET.policy_settings()
    first = build_mobileconfig(settings, SOURCE).content
    assert build_mobileconfig(settings, SOURCE).content == first
    profile = plistlib.loads(first)
    assert profile["PayloadUUID"] == payload_uuid(SOURCE, "Configuration")
    later = profile_of(settings, PolicySource(SOURCE.uid, SOURCE.name, 4))
    assert later["PayloadIdentifier"] == profile["PayloadIdentifier"]  # replaces the older profile
    before = {p["PayloadUUID"] for p in profile["PayloadContent"]} | {profile["PayloadUUID"]}
    after = {p["PayloadUUID"] for p in later["PayloadContent"]} | {later["PayloadUUID"]}
    assert not before & after
    ids = [p["PayloadIdentifier"] for p in profile["PayloadContent"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("settings", [b.policy_settings() for b in BASELINES] + [strictest()])
def test_every_active_setting_is_written_or_reported(settings: PolicySettings) -> None:
    report = build_mobileconfig(settings, SOURCE).report
    accounted = set(report.written) | {u.key for u in report.unexpressed}
    active = {s.key for s in SETTING_SPECS if is_active(s, settings.value(s.key))}
    assert active <= accounted
    assert not set(report.written) & {u.key for u in report.unexpressed}


def test_report_names_what_apple_cannot_express() -> None:
    report = build_mobileconfig(SHARED_TABLET.policy_settings(), SOURCE).report
    missing = {u.key: u.reason for u in report.unexpressed}
    assert "connections.bluetooth_allowed" in missing
    assert "apps.required" in missing
    assert "device_health.max_patch_age_days" in missing
    assert any("supervised" in n for n in report.notes)
    text = "\n".join(report.lines())
    assert "Bluetooth allowed (connections.bluetooth_allowed)" in text


def test_no_passcode_means_no_passcode_payload() -> None:
    settings = parse_settings({"passcode": {"required": False}, "encryption": {"required": False}})
    profile = profile_of(settings)
    assert all(p["PayloadType"] != PASSCODE for p in profile["PayloadContent"])


# -- signing -----------------------------------------------------------------------------------------------------


def _signing_pair(tmp_path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> tuple[Path, Path]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Clinic profile signing")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "sign.pem", tmp_path / "sign.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _openssl_verify(signed: Path, ca: Path, out: Path) -> subprocess.CompletedProcess[bytes]:
    openssl = shutil.which("openssl")
    assert openssl is not None
    command = [openssl, "cms", "-verify", "-inform", "DER", "-in", str(signed), "-CAfile", str(ca)]
    return subprocess.run([*command, "-purpose", "any", "-out", str(out)], capture_output=True, check=False)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_signed_profile_verifies_with_openssl(tmp_path: Path, kind: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)
    cert_path, key_path = _signing_pair(tmp_path, key)
    unsigned = build_mobileconfig(CORPORATE.policy_settings(), SOURCE).content
    certificate, private_key = load_signer(cert_path.read_bytes(), key_path.read_bytes())
    signed = tmp_path / "profile.mobileconfig"
    signed.write_bytes(sign_profile(unsigned, certificate, private_key))
    result = _openssl_verify(signed, cert_path, tmp_path / "content.plist")
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "content.plist").read_bytes() == unsigned
    # A changed byte breaks the signature.
    data = bytearray(signed.read_bytes())
    index = data.find(b"CLINIC-STAFF")
    data[index] ^= 0x01
    signed.write_bytes(bytes(data))
    assert _openssl_verify(signed, cert_path, tmp_path / "x.plist").returncode != 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_site_ca_signature_verifies_with_openssl(tmp_path: Path) -> None:
    ca = LocalCA.create("Riverside Clinic", NOW)
    certificate, key = load_signer(ca.certificate_pem.encode(), ca.private_key_pem())
    signed = tmp_path / "p.mobileconfig"
    signed.write_bytes(sign_profile(build_mobileconfig(CORPORATE.policy_settings(), SOURCE).content, certificate, key))
    (tmp_path / "ca.pem").write_text(ca.certificate_pem)
    assert _openssl_verify(signed, tmp_path / "ca.pem", tmp_path / "out").returncode == 0


def test_signing_refuses_a_key_of_another_certificate(tmp_path: Path) -> None:
    cert_path, _ = _signing_pair(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    with pytest.raises(ValidationError, match="does not belong"):
        sign_profile(b"<plist/>", certificate, ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        (b"not a certificate", b"", "not a PEM certificate"),
        (None, b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", "cannot be read"),
    ],
)
def test_load_signer_rejects_garbage(tmp_path: Path, cert: bytes | None, key: bytes, message: str) -> None:
    cert_path, _ = _signing_pair(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValidationError, match=message):
        load_signer(cert if cert is not None else cert_path.read_bytes(), key)
