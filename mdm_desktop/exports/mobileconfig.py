"""Apple configuration profiles (.mobileconfig) from a published policy version.

The profile holds up to three kinds of payload, written with the keys of Apple's device-management
schema (``apple/device-management``, iOS 18.1 / macOS 15.1):

- ``com.apple.mobiledevice.passwordpolicy``: the passcode rules (iOS/iPadOS and macOS);
- ``com.apple.applicationaccess``: restrictions; only keys that restrict are written, so a device
  keeps Apple's defaults for the rest;
- ``com.apple.wifi.managed``: one per allowed Wi-Fi network (no password: the device asks).

Identifiers and UUIDs are derived from the policy's uid, the version and the payload type
(UUID version 5), so exporting the same version twice gives byte-identical files and a newer
version replaces the older profile on the device. Settings a profile cannot state are listed in the
:class:`~mdm_desktop.exports.report.ExportReport`.

:func:`sign_profile` wraps the profile in a CMS signature (DER) as Apple Configurator and devices
expect.
"""

from __future__ import annotations

import hashlib
import plistlib
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_settings import EapMethod, PolicySettings, WifiNetwork, WifiSecurity
from mdm_desktop.exports.report import ExportFormat, ExportResult, PolicySource, ReportBuilder

PROFILE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "policy-export.mdm-desktop.invalid")
"""Namespace of the profile and payload UUIDs (fixed: changing it would change every UUID)."""
IDENTIFIER_PREFIX = "org.mdm-desktop.policy"

PASSCODE = "com.apple.mobiledevice.passwordpolicy"
RESTRICTIONS = "com.apple.applicationaccess"
WIFI = "com.apple.wifi.managed"


@dataclass(frozen=True, slots=True)
class AppleKey:
    """Where a restrictions key works, from Apple's schema.

    Attributes:
        macos: The key exists on macOS.
        supervised: On iOS/iPadOS the key works only on supervised devices.
        ios: The key exists on iOS/iPadOS.
    """

    macos: bool
    supervised: bool
    ios: bool = True


RESTRICTION_KEYS: dict[str, AppleKey] = {
    "allowCamera": AppleKey(macos=True, supervised=False),
    "allowNFC": AppleKey(macos=False, supervised=True),
    "allowHostPairing": AppleKey(macos=False, supervised=True),
    "allowFilesUSBDriveAccess": AppleKey(macos=False, supervised=True),
    "forceWiFiToAllowedNetworksOnly": AppleKey(macos=False, supervised=True),
    "requireManagedPasteboard": AppleKey(macos=False, supervised=False),
    "allowOpenFromManagedToUnmanaged": AppleKey(macos=False, supervised=False),
    "allowOpenFromUnmanagedToManaged": AppleKey(macos=False, supervised=False),
    "allowScreenShot": AppleKey(macos=True, supervised=False),
    "allowEnterpriseAppTrust": AppleKey(macos=False, supervised=False),
    "allowMarketplaceAppInstallation": AppleKey(macos=False, supervised=True),
    "allowWebDistributionAppInstallation": AppleKey(macos=False, supervised=True),
    "allowCloudBackup": AppleKey(macos=False, supervised=False),
    "allowManagedAppsCloudSync": AppleKey(macos=False, supervised=False),
    "forceEncryptedBackup": AppleKey(macos=False, supervised=False),
    "blockedAppBundleIDs": AppleKey(macos=False, supervised=True),
    "allowListedAppBundleIDs": AppleKey(macos=False, supervised=True),
}
"""Every restrictions key this exporter writes (checked against the schema by the tests)."""

_EAP_TYPES = {EapMethod.TLS: 13, EapMethod.TTLS: 21, EapMethod.PEAP: 25}
_ENCRYPTION = {
    WifiSecurity.OPEN: "None",
    WifiSecurity.WPA2_PERSONAL: "WPA2",
    WifiSecurity.WPA3_PERSONAL: "WPA3",
    WifiSecurity.WPA2_ENTERPRISE: "WPA2",
    WifiSecurity.WPA3_ENTERPRISE: "WPA3",
}

_CONSOLE_CHECKS = "checked by the console at each check-in; a configuration profile cannot state it."


def payload_uuid(policy: PolicySource, payload_type: str, item: str = "") -> str:
    """The stable UUID of one payload (or, for ``"Configuration"``, of the profile) of a policy version."""
    name = f"{policy.uid}:{policy.version}:{payload_type}" + (f":{item}" if item else "")
    return str(uuid.uuid5(PROFILE_NAMESPACE, name)).upper()


def _payload(policy: PolicySource, payload_type: str, suffix: str, title: str, item: str = "") -> dict[str, Any]:
    return {
        "PayloadType": payload_type,
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{IDENTIFIER_PREFIX}.{policy.uid}.{suffix}",
        "PayloadUUID": payload_uuid(policy, payload_type, item),
        "PayloadDisplayName": title,
        "PayloadOrganization": policy.organization,
    }


def _passcode(settings: PolicySettings, policy: PolicySource, report: ReportBuilder) -> dict[str, Any] | None:
    code = settings.passcode
    if not code.required:
        report.note("The policy does not require a passcode, so the profile has no passcode payload.")
        return None
    body = _payload(policy, PASSCODE, "passcode", "Passcode")
    body["forcePIN"] = True
    body["allowSimple"] = code.complexity == "any"
    if code.complexity in ("alphanumeric", "complex"):
        body["requireAlphanumeric"] = True
    if code.complexity == "complex":
        body["minComplexChars"] = 1
    body["minLength"] = code.min_length
    body["maxInactivity"] = code.auto_lock_minutes
    report.wrote("passcode.required", "passcode.complexity", "passcode.min_length", "passcode.auto_lock_minutes")
    if code.max_failed_attempts is not None:
        body["maxFailedAttempts"] = code.max_failed_attempts
        report.wrote("passcode.max_failed_attempts")
    if code.history > 0:
        body["pinHistory"] = code.history
        report.wrote("passcode.history")
    if code.max_age_days is not None:
        body["maxPINAgeInDays"] = code.max_age_days
        report.wrote("passcode.max_age_days")
    if settings.encryption.required:
        report.wrote("encryption.required")
        report.note(
            "iPhone and iPad encrypt their storage whenever a passcode is set (the passcode payload requires one). "
            "On a Mac, FileVault needs its own payload, which this profile does not contain; the console checks "
            "the encryption each Mac reports."
        )
    return body


def _restrictions(settings: PolicySettings, policy: PolicySource, report: ReportBuilder) -> dict[str, Any] | None:
    keys: dict[str, Any] = {}

    def put(setting: str, **values: Any) -> None:
        keys.update(values)
        report.wrote(setting)

    conn, data, apps = settings.connections, settings.data_transfer, settings.apps
    if not conn.camera_allowed:
        put("connections.camera_allowed", allowCamera=False)
    if not conn.nfc_allowed:
        put("connections.nfc_allowed", allowNFC=False)
    if not conn.usb_data_allowed:
        put("connections.usb_data_allowed", allowHostPairing=False, allowFilesUSBDriveAccess=False)
    if not conn.untrusted_wifi_allowed:
        put("connections.untrusted_wifi_allowed", forceWiFiToAllowedNetworksOnly=True)
    if not data.managed_to_unmanaged_paste:
        put("data_transfer.managed_to_unmanaged_paste", requireManagedPasteboard=True)
    if not data.managed_open_in_unmanaged:
        put("data_transfer.managed_open_in_unmanaged", allowOpenFromManagedToUnmanaged=False)
    if not data.unmanaged_open_in_managed:
        put("data_transfer.unmanaged_open_in_managed", allowOpenFromUnmanagedToManaged=False)
    if not data.screen_capture_allowed:
        put("data_transfer.screen_capture_allowed", allowScreenShot=False)
    if not data.untrusted_sources_allowed:
        put(
            "data_transfer.untrusted_sources_allowed",
            allowEnterpriseAppTrust=False,
            allowMarketplaceAppInstallation=False,
            allowWebDistributionAppInstallation=False,
        )
    if not data.cloud_backup_allowed:
        put("data_transfer.cloud_backup_allowed", allowCloudBackup=False, allowManagedAppsCloudSync=False)
    backup = settings.backup
    if backup.required and backup.target == "encrypted_local":
        put("backup.target", forceEncryptedBackup=True)
    if apps.blocked:
        put("apps.blocked", blockedAppBundleIDs=list(apps.blocked))
    allowed = settings.allowed_apps()
    if allowed is not None:
        keys["allowListedAppBundleIDs"] = list(allowed)
        report.wrote_allow_lists()
    if not keys:
        return None
    supervised = sorted(k for k in keys if RESTRICTION_KEYS[k].supervised)
    if supervised:
        report.note(
            "These restrictions take effect only on supervised iPhones and iPads (enrolled through Apple "
            f"Business Manager or Apple Configurator): {', '.join(supervised)}."
        )
    ios_only = sorted(k for k in keys if not RESTRICTION_KEYS[k].macos)
    if ios_only:
        report.note(f"These restrictions have no macOS key and do nothing on a Mac: {', '.join(ios_only)}.")
    body = _payload(policy, RESTRICTIONS, "restrictions", "Restrictions")
    body.update(keys)
    return body


def _wifi(network: WifiNetwork, policy: PolicySource) -> dict[str, Any]:
    tag = hashlib.sha256(network.ssid.encode()).hexdigest()[:12]
    body = _payload(policy, WIFI, f"wifi.{tag}", f"Wi-Fi {network.ssid}", item=network.ssid)
    body.update(
        {
            "SSID_STR": network.ssid,
            "AutoJoin": True,
            "HIDDEN_NETWORK": False,
            "EncryptionType": _ENCRYPTION[network.security],
            "ProxyType": "None",
        }
    )
    if network.security.enterprise:
        assert network.eap is not None
        eap: dict[str, Any] = {"AcceptEAPTypes": [_EAP_TYPES[network.eap]], "TLSMinimumVersion": "1.2"}
        if network.eap is EapMethod.TTLS:
            eap["TTLSInnerAuthentication"] = "MSCHAPv2"
        body["EAPClientConfiguration"] = eap
    return body


def _unexpressible(settings: PolicySettings, report: ReportBuilder) -> None:
    """Explain every setting a profile cannot state."""
    for key in (
        "device_health.min_os_version",
        "device_health.max_patch_age_days",
        "device_health.patch_grace_days",
        "device_health.block_compromised",
        "device_health.max_checkin_age_days",
    ):
        report.cannot(key, _CONSOLE_CHECKS)
    report.cannot("connections.bluetooth_allowed", "Apple devices have no restriction that turns Bluetooth off.")
    report.cannot("connections.microphone_allowed", "Apple devices have no restriction for the microphone.")
    report.cannot(
        "connections.location_services_allowed", "Apple devices have no restriction that turns location services off."
    )
    report.cannot(
        "containerisation.work_profile_required",
        "on Apple devices the managed container comes from User Enrollment, chosen when the device enrols.",
    )
    report.cannot("apps.required", "Apple installs apps by an MDM command (InstallApplication), not by a profile.")
    report.cannot("backup.required", "a profile cannot schedule backups; only encrypted local backups can be forced.")
    report.cannot("backup.interval_hours", "a profile cannot schedule backups.")
    report.cannot("backup.target", "only 'encrypted_local' has a profile key (forceEncryptedBackup).")
    for key in (
        "software_updates.auto_install",
        "software_updates.install_window",
        "software_updates.max_deferral_days",
        "software_updates.required_version",
        "software_updates.required_by",
    ):
        report.cannot(key, "Apple schedules updates by MDM command or declaration, not by a configuration profile.")
    if settings.connections.allowed_wifi and settings.connections.untrusted_wifi_allowed:
        report.note("Networks outside the list stay allowed: the Wi-Fi payloads only set the clinic networks up.")


def build_mobileconfig(settings: PolicySettings, policy: PolicySource) -> ExportResult:
    """The configuration profile (XML property list) for one published policy version, and its report."""
    report = ReportBuilder(settings)
    payloads: list[dict[str, Any]] = []
    passcode = _passcode(settings, policy, report)
    if passcode is not None:
        payloads.append(passcode)
    restrictions = _restrictions(settings, policy, report)
    if restrictions is not None:
        payloads.append(restrictions)
    networks = settings.connections.allowed_wifi or ()
    for network in networks:
        payloads.append(_wifi(network, policy))
    if networks:
        report.wrote("connections.allowed_wifi")
        if any(n.security in (WifiSecurity.WPA2_PERSONAL, WifiSecurity.WPA3_PERSONAL) for n in networks):
            report.note("Wi-Fi passwords are not put in the file: each device asks for the password once.")
        if any(n.eap is EapMethod.TLS for n in networks):
            report.note("EAP-TLS networks also need each device's identity certificate, installed at enrolment.")
    _unexpressible(settings, report)
    profile: dict[str, Any] = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{IDENTIFIER_PREFIX}.{policy.uid}",
        "PayloadUUID": payload_uuid(policy, "Configuration"),
        "PayloadDisplayName": f"{policy.name} (v{policy.version})",
        "PayloadDescription": policy.description or f"Clinic policy '{policy.name}', version {policy.version}.",
        "PayloadOrganization": policy.organization,
        "PayloadContent": payloads,
    }
    data = plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)
    return ExportResult(data, report.build(ExportFormat.MOBILECONFIG, policy))


SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def sign_profile(
    data: bytes, certificate: x509.Certificate, key: SigningKey, chain: tuple[x509.Certificate, ...] = ()
) -> bytes:
    """Wrap ``data`` in a CMS (PKCS #7) SignedData structure, DER-encoded, with the content attached.

    Raises:
        ValidationError: The key does not belong to the certificate.
    """
    if certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise ValidationError(
            "The signing key does not belong to the signing certificate.", hint="Choose the matching key file."
        )
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(certificate, key, hashes.SHA256())
    for extra in chain:
        builder = builder.add_certificate(extra)
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def load_signer(
    certificate_pem: bytes, key_pem: bytes, password: bytes | None = None
) -> tuple[x509.Certificate, SigningKey]:
    """A signing certificate and its private key from PEM files (RSA or ECDSA).

    Raises:
        ValidationError: Either file is not a PEM certificate or key, or the key type cannot sign profiles.
    """
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as exc:
        raise ValidationError(
            "The signing certificate is not a PEM certificate.", hint="Export it as PEM (BEGIN CERTIFICATE)."
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=password)
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            "The signing key cannot be read.", hint="Give an unencrypted PEM private key (BEGIN PRIVATE KEY)."
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValidationError("Profiles can be signed only with an RSA or ECDSA key.")
    return certificate, key
