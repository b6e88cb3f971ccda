"""Read policy files from other tools into a new draft: Apple profiles, Android policies, the console's own file.

The reverse of :mod:`mdm_desktop.exports.mobileconfig` and :mod:`mdm_desktop.exports.android_policy`:
the same payload types, restriction keys, Wi-Fi and password-quality tables are read back. Every
key of the file that has no setting is listed in :attr:`PolicyFileImport.unmapped`, never dropped
silently; settings the file cannot state keep the console's defaults (listed in ``notes``).

Every file is treated as hostile: a size limit, XML without entity declarations (``plistlib``
refuses them, so "billion laughs" and external entities fail), JSON without duplicate keys or
``NaN``, nesting limits, type checks on every value, and the final settings validated by the
settings model. A signed profile (CMS, DER) has its signature checked with ``openssl cms -verify``
(the Python ``cryptography`` package can sign but not verify CMS); a profile whose signature does
not match is refused. Errors are :class:`ValidationError` in plain words; nothing is written here.
"""

from __future__ import annotations

import enum
import json
import plistlib
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.serialization import pkcs7

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_settings import (
    SPECS_BY_KEY,
    PolicySettings,
    SettingsError,
    WifiSecurity,
    check_settings,
)
from mdm_desktop.exports import android_policy as android
from mdm_desktop.exports import mobileconfig as apple
from mdm_desktop.exports.settings_json import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    _depth,
    _no_duplicates,
    _reject_constant,
    read_settings_json,
)

NAME_LIMIT = 128
OPENSSL_TIMEOUT_SECONDS = 20


class ImportFormat(enum.StrEnum):
    """The kinds of policy file a draft can be made from."""

    MOBILECONFIG = "mobileconfig"
    ANDROID = "android"
    JSON = "json"

    @property
    def label(self) -> str:
        """As shown to people."""
        return {
            "mobileconfig": "Apple configuration profile (.mobileconfig)",
            "android": "Android Management API policy (JSON)",
            "json": "MDM Desktop policy file (.policy.json)",
        }[self]


@dataclass(frozen=True, slots=True)
class PolicyFileImport:
    """What a policy file holds, as console settings.

    Attributes:
        name: A name for the new policy, from the file.
        description: A description, from the file.
        settings: The settings object (valid for the settings model).
        unmapped: Keys of the file that have no console setting, each with the reason.
        notes: Other things worth knowing (defaults kept, signature checked).
    """

    name: str
    description: str
    settings: dict[str, Any]
    unmapped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def read_policy_file(data: bytes, fmt: ImportFormat | str, source: str = "") -> PolicyFileImport:
    """Read ``data`` as a policy file of format ``fmt`` (``source``, the file name, names the policy if needed).

    Raises:
        ValidationError: The file is too large, malformed, hostile, or its settings are unusable
            (:class:`SettingsError` lists each); nothing was written.
    """
    try:
        kind = ImportFormat(fmt)
    except ValueError:
        raise ValidationError(
            f"'{fmt}' is not a policy file format.", hint=f"Use one of {', '.join(f.value for f in ImportFormat)}."
        ) from None
    if not isinstance(data, bytes | bytearray):
        raise ValidationError("The policy file must be read as bytes.")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            f"The file is {len(data):,} bytes; a policy file is at most {MAX_FILE_BYTES:,}.",
            hint="Choose the policy file itself, not an archive or a backup.",
        )
    if not data.strip():
        raise ValidationError("The file is empty.", hint="Choose a policy file.")
    fallback = _name_from_source(source)
    if kind is ImportFormat.JSON:
        imported = read_settings_json(bytes(data))
        return PolicyFileImport(imported.name, imported.description, imported.settings)
    if kind is ImportFormat.MOBILECONFIG:
        return _read_mobileconfig(bytes(data), fallback)
    return _read_android(bytes(data), fallback)


def _name_from_source(source: str) -> str:
    stem = source.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    for suffix in (".mobileconfig", ".policy.json", ".json"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in stem).split())
    return cleaned[:NAME_LIMIT] or "Imported policy"


def _clean_text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())[:limit]


# -- building the settings ------------------------------------------------------------------------------------------


@dataclass
class _Builder:
    """Collects the settings a file states, what it cannot map, and notes."""

    values: dict[str, Any] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def put(self, key: str, value: Any) -> None:
        self.values[key] = value

    def skip(self, what: str, why: str) -> None:
        self.unmapped.append(f"{what}: {why}")

    def build(self, name: str, description: str, readable: frozenset[str], kind: str) -> PolicyFileImport:
        """Settings from the defaults with the file's values; values the model rejects are listed and dropped.

        ``readable`` are the settings a file of this ``kind`` can state; the others keep their defaults.
        """
        base = PolicySettings().to_dict()
        for key in list(self.values):
            group, name_ = key.split(".", 1)
            base[group][name_] = self.values[key]
        checked = check_settings(base)
        dropped = {p.key for p in checked.problems if p.key in self.values}
        for problem in checked.problems:
            if problem.key in dropped:
                self.skip(problem.key, f"{problem.message} The console's default is kept.")
        if dropped:
            default = PolicySettings().to_dict()
            for key in dropped:
                group, name_ = key.split(".", 1)
                base[group][name_] = default[group][name_]
            checked = check_settings(base)
        if not checked.ok:
            raise SettingsError(checked.problems)
        kept = [s.label for key, s in SPECS_BY_KEY.items() if key not in readable]
        if kept:
            self.notes.append(f"{kind} has no field for these, so they keep the console's defaults: {', '.join(kept)}.")
        return PolicyFileImport(name, description, base, tuple(self.unmapped), tuple(self.notes))


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


# -- Apple ----------------------------------------------------------------------------------------------------------

_PROFILE_HEADER_KEYS = frozenset(
    {
        "PayloadType",
        "PayloadVersion",
        "PayloadIdentifier",
        "PayloadUUID",
        "PayloadDisplayName",
        "PayloadDescription",
        "PayloadOrganization",
        "PayloadContent",
        "PayloadRemovalDisallowed",
        "PayloadScope",
    }
)
_APPLE_SECURITY = {v: k for k, v in apple._ENCRYPTION.items() if not k.enterprise}
_APPLE_ENTERPRISE = {"WPA2": WifiSecurity.WPA2_ENTERPRISE, "WPA3": WifiSecurity.WPA3_ENTERPRISE}
_APPLE_EAP = {number: method for method, number in apple._EAP_TYPES.items()}

_RESTRICTION_SETTINGS: dict[str, tuple[str, bool]] = {
    "allowCamera": ("connections.camera_allowed", False),
    "allowNFC": ("connections.nfc_allowed", False),
    "allowHostPairing": ("connections.usb_data_allowed", False),
    "allowFilesUSBDriveAccess": ("connections.usb_data_allowed", False),
    "forceWiFiToAllowedNetworksOnly": ("connections.untrusted_wifi_allowed", True),
    "requireManagedPasteboard": ("data_transfer.managed_to_unmanaged_paste", True),
    "allowOpenFromManagedToUnmanaged": ("data_transfer.managed_open_in_unmanaged", False),
    "allowOpenFromUnmanagedToManaged": ("data_transfer.unmanaged_open_in_managed", False),
    "allowScreenShot": ("data_transfer.screen_capture_allowed", False),
    "allowEnterpriseAppTrust": ("data_transfer.untrusted_sources_allowed", False),
    "allowMarketplaceAppInstallation": ("data_transfer.untrusted_sources_allowed", False),
    "allowWebDistributionAppInstallation": ("data_transfer.untrusted_sources_allowed", False),
    "allowCloudBackup": ("data_transfer.cloud_backup_allowed", False),
    "allowManagedAppsCloudSync": ("data_transfer.cloud_backup_allowed", False),
}
"""Boolean restriction key -> (setting, the key's value that restricts); the setting becomes ``False`` then.

The keys are those the exporter writes (:data:`mdm_desktop.exports.mobileconfig.RESTRICTION_KEYS`)."""


_PASSCODE_KEYS = frozenset(k for k in SPECS_BY_KEY if k.startswith("passcode."))

APPLE_READABLE = (
    _PASSCODE_KEYS
    | {setting for setting, _ in _RESTRICTION_SETTINGS.values()}
    | {"encryption.required", "backup.required", "backup.target", "apps.blocked", "apps.allowed"}
    | {"connections.allowed_wifi"}
)
"""The settings an Apple configuration profile can state (as the exporter writes them)."""


def _unwrap_signed(data: bytes) -> tuple[bytes, str]:
    """The profile inside a CMS signature, after checking the signature; and who signed it."""
    try:
        certificates = pkcs7.load_der_pkcs7_certificates(data)
    except ValueError:
        raise ValidationError(
            "The file is neither a property list nor a signed profile (CMS).",
            hint="Choose a .mobileconfig file exported by Apple Configurator or an MDM.",
        ) from None
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ValidationError(
            "The profile is signed, and checking its signature needs the 'openssl' program, which is not installed.",
            hint="Install OpenSSL, or import an unsigned copy of the profile.",
        )
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments; the file only goes to stdin
            [openssl, "cms", "-verify", "-inform", "DER", "-noverify", "-binary"],
            input=data,
            capture_output=True,
            timeout=OPENSSL_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValidationError(f"The profile's signature could not be checked ({exc}).") from None
    if done.returncode != 0 or not done.stdout:
        raise ValidationError(
            "The profile's signature does not match its content: it may have been altered after signing.",
            hint="Ask for a fresh copy of the profile from whoever made it.",
            details=done.stderr.decode("utf-8", "replace")[:2000],
        )
    signer = certificates[0].subject.rfc4514_string() if certificates else "an unnamed certificate"
    return done.stdout, signer


def _load_plist(data: bytes) -> Any:
    try:
        return plistlib.loads(data)
    except plistlib.InvalidFileException as exc:
        reason = str(exc) or "it is not a property list"
        raise ValidationError(
            f"The profile cannot be read: {reason}.",
            hint="Choose a .mobileconfig file exported by Apple Configurator or an MDM.",
        ) from None
    except RecursionError:
        raise ValidationError("The profile is nested too deeply.") from None
    except Exception as exc:
        raise ValidationError(
            f"The profile cannot be read ({type(exc).__name__}: {str(exc)[:200]}).",
            hint="Choose a .mobileconfig file exported by Apple Configurator or an MDM.",
        ) from None


def _read_mobileconfig(data: bytes, fallback: str) -> PolicyFileImport:
    head = data.lstrip()[:64]
    notes: list[str] = []
    if not (head.startswith((b"<?xml", b"<plist", b"<!DOCTYPE")) or data.startswith(b"bplist")):
        if not data.startswith(b"\x30"):
            raise ValidationError(
                "The file is not an Apple configuration profile.",
                hint="Choose a .mobileconfig file exported by Apple Configurator or an MDM.",
            )
        data, signer = _unwrap_signed(data)
        notes.append(f"The signature is valid, made by {signer}; whether that signer is trusted was not checked.")
    profile = _load_plist(data)
    if not isinstance(profile, dict) or profile.get("PayloadType") != "Configuration":
        raise ValidationError(
            "The file is a property list but not a configuration profile (no PayloadType 'Configuration').",
            hint="Choose a .mobileconfig file.",
        )
    if _depth(profile) > MAX_DEPTH:
        raise ValidationError("The profile is nested too deeply.")
    content = profile.get("PayloadContent", [])
    if not isinstance(content, list):
        raise ValidationError("The profile's PayloadContent is not a list of payloads.")
    builder = _Builder(notes=notes)
    for key in sorted(set(profile) - _PROFILE_HEADER_KEYS):
        builder.skip(f"profile key {key}", "not a setting this console has.")
    passcode_seen = False
    networks: list[dict[str, Any]] = []
    for index, payload in enumerate(content):
        if not isinstance(payload, dict):
            raise ValidationError(f"Payload {index + 1} of the profile is not a dictionary.")
        kind = payload.get("PayloadType")
        if kind == apple.PASSCODE:
            passcode_seen = True
            _apple_passcode(payload, builder)
        elif kind == apple.RESTRICTIONS:
            _apple_restrictions(payload, builder)
        elif kind == apple.WIFI:
            network = _apple_wifi(payload, builder)
            if network is not None:
                networks.append(network)
        else:
            title = _clean_text(payload.get("PayloadDisplayName"), 80) or f"payload {index + 1}"
            builder.skip(f"{title} ({_clean_text(kind, 100) or 'no type'})", "this payload type has no settings here.")
    if not passcode_seen:
        builder.put("passcode.required", False)
        builder.put("encryption.required", False)
        builder.notes.append(
            "The profile has no passcode payload, so the draft requires no passcode and, as on Apple devices "
            "storage encryption comes from the passcode, no encryption either."
        )
    if networks:
        builder.put("connections.allowed_wifi", networks)
    name = _clean_text(profile.get("PayloadDisplayName"), NAME_LIMIT) or fallback
    description = _clean_text(profile.get("PayloadDescription"), 2000)
    return builder.build(name, description, APPLE_READABLE, "An Apple configuration profile")


_PAYLOAD_HEADER = frozenset(k for k in _PROFILE_HEADER_KEYS if k != "PayloadContent") | {"PayloadEnabled"}


def _apple_passcode(payload: Mapping[str, Any], b: _Builder) -> None:
    b.put("passcode.required", payload.get("forcePIN", True) is not False)
    complexity = "no_simple" if payload.get("allowSimple") is False else "any"
    if payload.get("requireAlphanumeric") is True:
        complexity = "alphanumeric"
    if _is_int(payload.get("minComplexChars")) and payload["minComplexChars"] >= 1:
        complexity = "complex"
    b.put("passcode.complexity", complexity)
    numbers = {
        "minLength": "passcode.min_length",
        "maxInactivity": "passcode.auto_lock_minutes",
        "maxFailedAttempts": "passcode.max_failed_attempts",
        "pinHistory": "passcode.history",
        "maxPINAgeInDays": "passcode.max_age_days",
    }
    b.put("passcode.max_failed_attempts", None)
    b.put("passcode.history", 0)
    b.put("passcode.max_age_days", None)
    for key, setting in numbers.items():
        if key not in payload:
            continue
        if _is_int(payload[key]):
            b.put(setting, payload[key])
        else:
            b.skip(f"passcode {key}", f"{payload[key]!r:.40} is not a whole number.")
    known = set(numbers) | {"forcePIN", "allowSimple", "requireAlphanumeric", "minComplexChars"}
    for key in sorted(set(payload) - known - _PAYLOAD_HEADER):
        b.skip(f"passcode {key}", "not a setting this console has.")


def _apple_restrictions(payload: Mapping[str, Any], b: _Builder) -> None:
    for key, value in sorted(payload.items()):
        if key in _PAYLOAD_HEADER:
            continue
        if key in _RESTRICTION_SETTINGS:
            setting, restricting = _RESTRICTION_SETTINGS[key]
            if not _is_bool(value):
                b.skip(f"restriction {key}", "is not true or false.")
            elif value is restricting:
                b.put(setting, False)
        elif key == "forceEncryptedBackup":
            if value is True:
                b.put("backup.required", True)
                b.put("backup.target", "encrypted_local")
            elif not _is_bool(value):
                b.skip(f"restriction {key}", "is not true or false.")
        elif key in ("blockedAppBundleIDs", "allowListedAppBundleIDs"):
            apps = _str_list(value)
            if apps is None:
                b.skip(f"restriction {key}", "is not a list of bundle identifiers.")
            else:
                b.put("apps.blocked" if key == "blockedAppBundleIDs" else "apps.allowed", apps)
        else:
            b.skip(f"restriction {key}", "not a setting this console has.")


def _apple_wifi(payload: Mapping[str, Any], b: _Builder) -> dict[str, Any] | None:
    ssid = payload.get("SSID_STR")
    if not isinstance(ssid, str):
        b.skip("Wi-Fi payload", "it names no network (SSID_STR).")
        return None
    encryption = payload.get("EncryptionType", "Any")
    eap = payload.get("EAPClientConfiguration")
    network: dict[str, Any] = {"ssid": ssid}
    if isinstance(eap, dict):
        security = _APPLE_ENTERPRISE.get(str(encryption))
        types = eap.get("AcceptEAPTypes")
        method = _APPLE_EAP.get(types[0]) if isinstance(types, list) and types and _is_int(types[0]) else None
        if security is None or method is None:
            b.skip(f"Wi-Fi {ssid}", f"enterprise security {encryption!r:.30} with EAP {types!r:.30} has no setting.")
            return None
        network.update(security=security.value, eap=method.value)
    else:
        personal = _APPLE_SECURITY.get(str(encryption))
        if personal is None:
            b.skip(f"Wi-Fi {ssid}", f"security {encryption!r:.30} is not open, WPA2 or WPA3.")
            return None
        network["security"] = personal.value
    for key in sorted(set(payload) - _PAYLOAD_HEADER - {"SSID_STR", "EncryptionType", "EAPClientConfiguration"}):
        if key not in ("AutoJoin", "HIDDEN_NETWORK", "ProxyType"):
            b.skip(f"Wi-Fi {ssid} {key}", "not a setting this console has.")
    return network


# -- Android --------------------------------------------------------------------------------------------------------

_QUALITY = {value: key for key, value in android._QUALITY.items()} | {
    "NUMERIC": "any",
    "ALPHABETIC": "alphanumeric",
    "BIOMETRIC_WEAK": "any",
    "COMPLEXITY_LOW": "any",
    "COMPLEXITY_MEDIUM": "no_simple",
    "COMPLEXITY_HIGH": "alphanumeric",
}
_LEVEL_SECURITY = {
    "OPEN_NETWORK_SECURITY": WifiSecurity.OPEN,
    "PERSONAL_NETWORK_SECURITY": WifiSecurity.WPA2_PERSONAL,
    "ENTERPRISE_NETWORK_SECURITY": WifiSecurity.WPA2_ENTERPRISE,
    "ENTERPRISE_BIT192_NETWORK_SECURITY": WifiSecurity.WPA3_ENTERPRISE,
}
_RELEASES = {level: release for release, level in android.ANDROID_API_LEVELS.items()}


ANDROID_READABLE = _PASSCODE_KEYS | {
    "encryption.required",
    "containerisation.work_profile_required",
    "device_health.min_os_version",
    "connections.bluetooth_allowed",
    "connections.nfc_allowed",
    "connections.camera_allowed",
    "connections.microphone_allowed",
    "connections.location_services_allowed",
    "connections.usb_data_allowed",
    "connections.untrusted_wifi_allowed",
    "connections.allowed_wifi",
    "data_transfer.managed_to_unmanaged_paste",
    "data_transfer.managed_open_in_unmanaged",
    "data_transfer.unmanaged_open_in_managed",
    "data_transfer.screen_capture_allowed",
    "data_transfer.untrusted_sources_allowed",
    "apps.required",
    "apps.allowed",
    "apps.blocked",
    "software_updates.auto_install",
    "software_updates.install_window",
    "software_updates.max_deferral_days",
}
"""The settings an Android Management API policy can state."""


def _read_json(data: bytes) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not text (UTF-8); it is not an Android policy.") from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError:
        raise ValidationError("The Android policy is nested too deeply.") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            hint="Choose an Android Management API policy (JSON).",
        ) from None
    if _depth(document) > MAX_DEPTH:
        raise ValidationError("The Android policy is nested too deeply.")
    return document


def _read_android(data: bytes, fallback: str) -> PolicyFileImport:
    policy = _read_json(data)
    if not isinstance(policy, dict):
        raise ValidationError("The file is JSON but not an Android policy (a JSON object).")
    b = _Builder()
    handlers: dict[str, Callable[[Any, _Builder, dict[str, Any]], None]] = {
        "passwordPolicies": _android_passwords,
        "maximumTimeToLock": _android_lock,
        "encryptionPolicy": _android_encryption,
        "minimumApiLevel": _android_api_level,
        "bluetoothDisabled": _android_flag("connections.bluetooth_allowed"),
        "screenCaptureDisabled": _android_flag("data_transfer.screen_capture_allowed"),
        "cameraAccess": _android_enum("connections.camera_allowed", "CAMERA_ACCESS_DISABLED"),
        "microphoneAccess": _android_enum("connections.microphone_allowed", "MICROPHONE_ACCESS_DISABLED"),
        "locationMode": _android_enum("connections.location_services_allowed", "LOCATION_DISABLED"),
        "deviceRadioState": _android_radio,
        "deviceConnectivityManagement": _android_connectivity,
        "crossProfilePolicies": _android_cross_profile,
        "advancedSecurityOverrides": _android_security_overrides,
        "applications": _android_applications,
        "playStoreMode": lambda _v, _b, _p: None,  # read with the applications
        "systemUpdate": _android_system_update,
    }
    if "passwordPolicies" not in policy:
        b.put("passcode.required", False)
        b.notes.append("The policy has no passwordPolicies, so the draft requires no passcode.")
    if "encryptionPolicy" not in policy:
        b.put("encryption.required", False)
    for key in sorted(policy):
        handler = handlers.get(key)
        if handler is None:
            why = "deprecated in the Android Management API" if key in android.DEPRECATED_FIELDS else "no setting"
            b.skip(f"field {key}", f"{why}.")
            continue
        handler(policy[key], b, policy)
    name = _clean_text(policy.get("name"), NAME_LIMIT).rsplit("/", 1)[-1] or fallback
    return b.build(name, "Imported from an Android Management API policy.", ANDROID_READABLE, "An Android policy")


def _android_flag(setting: str) -> Callable[[Any, _Builder, dict[str, Any]], None]:
    def read(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
        if not _is_bool(value):
            b.skip(setting, f"{value!r:.40} is not true or false.")
        elif value:
            b.put(setting, False)

    return read


def _android_enum(setting: str, disabled: str) -> Callable[[Any, _Builder, dict[str, Any]], None]:
    def read(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
        if not isinstance(value, str):
            b.skip(setting, f"{value!r:.40} is not a value of the API.")
        elif value == disabled:
            b.put(setting, False)

    return read


def _android_passwords(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        b.skip("field passwordPolicies", "is not a list of password rules.")
        return
    rules = value[0]
    if len(value) > 1:
        b.skip("field passwordPolicies", f"only the first of {len(value)} rule sets is read.")
    quality = rules.get("passwordQuality", "PASSWORD_QUALITY_UNSPECIFIED")
    if quality == "PASSWORD_QUALITY_UNSPECIFIED":
        b.put("passcode.required", False)
        b.put("encryption.required", False)
        return
    b.put("passcode.required", True)
    if quality in _QUALITY:
        b.put("passcode.complexity", _QUALITY[quality])
    else:
        b.skip("passwordQuality", f"{quality!r:.40} has no setting.")
    if rules.get("passwordScope") == "SCOPE_PROFILE":
        b.put("containerisation.work_profile_required", True)
    numbers = {
        "passwordMinimumLength": "passcode.min_length",
        "maximumFailedPasswordsForWipe": "passcode.max_failed_attempts",
        "passwordHistoryLength": "passcode.history",
    }
    b.put("passcode.max_failed_attempts", None)
    b.put("passcode.history", 0)
    for key, setting in numbers.items():
        if key in rules:
            if _is_int(rules[key]):
                b.put(setting, rules[key])
            else:
                b.skip(key, f"{rules[key]!r:.40} is not a whole number.")
    expiry = rules.get("passwordExpirationTimeout")
    if expiry is not None:
        seconds = _duration_seconds(expiry)
        if seconds is None:
            b.skip("passwordExpirationTimeout", f"{expiry!r:.40} is not a duration such as '7776000s'.")
        else:
            b.put("passcode.max_age_days", max(1, -(-seconds // 86400)))
    known = set(numbers) | {
        "passwordQuality",
        "passwordScope",
        "passwordExpirationTimeout",
        "passwordMinimumLetters",
        "passwordMinimumNumeric",
        "passwordMinimumSymbols",
    }
    for key in sorted(set(rules) - known):
        b.skip(f"passwordPolicies {key}", "no setting.")


def _duration_seconds(value: Any) -> int | None:
    if not isinstance(value, str) or not value.endswith("s") or len(value) > 20:
        return None
    try:
        seconds = float(value[:-1])
    except ValueError:
        return None
    return int(seconds) if 0 <= seconds < 10**12 else None


def _android_lock(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    try:
        millis = int(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    except ValueError:
        millis = None
    if millis is None or millis < 0 or millis > 10**12:
        b.skip("field maximumTimeToLock", f"{value!r:.40} is not a number of milliseconds.")
    elif millis > 0:
        b.put("passcode.auto_lock_minutes", max(1, -(-millis // 60_000)))


def _android_encryption(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    b.put("encryption.required", value in ("ENABLED_WITH_PASSWORD", "ENABLED_WITHOUT_PASSWORD"))
    if value not in ("ENABLED_WITH_PASSWORD", "ENABLED_WITHOUT_PASSWORD", "ENCRYPTION_POLICY_UNSPECIFIED"):
        b.skip("field encryptionPolicy", f"{value!r:.40} is not a value of the API.")


def _android_api_level(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    release = _RELEASES.get(value) if _is_int(value) else None
    if release is None:
        b.skip("field minimumApiLevel", f"API level {value!r:.20} has no known Android release.")
    else:
        b.put("device_health.min_os_version", {"android": release})


def _android_radio(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        b.skip("field deviceRadioState", "is not an object.")
        return
    for key in sorted(value):
        if key == "nfc":
            if value[key] == "NFC_DISABLED":
                b.put("connections.nfc_allowed", False)
        elif key != "minimumWifiSecurityLevel":  # read with the Wi-Fi allow list
            b.skip(f"deviceRadioState {key}", "no setting.")


def _android_connectivity(value: Any, b: _Builder, policy: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        b.skip("field deviceConnectivityManagement", "is not an object.")
        return
    for key in sorted(value):
        item = value[key]
        if key == "usbDataAccess":
            if item in ("DISALLOW_USB_DATA_TRANSFER", "DISALLOW_USB_FILE_TRANSFER"):
                b.put("connections.usb_data_allowed", False)
        elif key == "wifiSsidPolicy":
            _android_wifi(item, b, policy)
        else:
            b.skip(f"deviceConnectivityManagement {key}", "no setting.")


def _android_wifi(value: Any, b: _Builder, policy: dict[str, Any]) -> None:
    ssids = value.get("wifiSsids") if isinstance(value, dict) else None
    if not isinstance(value, dict) or value.get("wifiSsidPolicyType") != "WIFI_SSID_ALLOWLIST":
        b.skip("wifiSsidPolicy", "only an allow list of networks has a setting.")
        return
    if not isinstance(ssids, list) or not all(
        isinstance(s, dict) and isinstance(s.get("wifiSsid"), str) for s in ssids
    ):
        b.skip("wifiSsidPolicy", "wifiSsids is not a list of networks.")
        return
    radio = policy.get("deviceRadioState")
    level = radio.get("minimumWifiSecurityLevel") if isinstance(radio, dict) else None
    security = _LEVEL_SECURITY.get(str(level), WifiSecurity.WPA2_PERSONAL)
    networks: list[dict[str, Any]] = []
    for s in ssids:
        network: dict[str, Any] = {"ssid": s["wifiSsid"], "security": security.value}
        if security.enterprise:
            network["eap"] = "tls"
        networks.append(network)
    b.put("connections.untrusted_wifi_allowed", False)
    b.put("connections.allowed_wifi", networks)
    b.notes.append(
        "Android states only the weakest allowed Wi-Fi security; every listed network gets that security type "
        "(check them in the editor)."
    )


def _android_cross_profile(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        b.skip("field crossProfilePolicies", "is not an object.")
        return
    for key in sorted(value):
        item = value[key]
        if key == "crossProfileCopyPaste":
            if item == "COPY_FROM_WORK_TO_PERSONAL_DISALLOWED":
                b.put("data_transfer.managed_to_unmanaged_paste", False)
        elif key == "crossProfileDataSharing":
            if item == "CROSS_PROFILE_DATA_SHARING_DISALLOWED":
                b.put("data_transfer.unmanaged_open_in_managed", False)
                b.put("data_transfer.managed_open_in_unmanaged", False)
            elif item == "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED":
                b.put("data_transfer.managed_open_in_unmanaged", False)
        else:
            b.skip(f"crossProfilePolicies {key}", "no setting.")


def _android_security_overrides(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        b.skip("field advancedSecurityOverrides", "is not an object.")
        return
    for key in sorted(value):
        if key == "untrustedAppsPolicy":
            if value[key] == "DISALLOW_INSTALL":
                b.put("data_transfer.untrusted_sources_allowed", False)
        else:
            b.skip(f"advancedSecurityOverrides {key}", "no setting.")


def _android_applications(value: Any, b: _Builder, policy: dict[str, Any]) -> None:
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        b.skip("field applications", "is not a list of apps.")
        return
    required, blocked, available = [], [], []
    for app in value:
        package, install = app.get("packageName"), app.get("installType", "AVAILABLE")
        if not isinstance(package, str):
            b.skip("applications", "an entry has no packageName.")
            continue
        if install in ("FORCE_INSTALLED", "REQUIRED_FOR_SETUP"):
            required.append(package)
        elif install == "BLOCKED":
            blocked.append(package)
        elif install in ("AVAILABLE", "PREINSTALLED", "INSTALL_TYPE_UNSPECIFIED"):
            available.append(package)
        else:
            b.skip(f"applications {package}", f"install type {install!r:.30} has no setting.")
        for key in sorted(set(app) - {"packageName", "installType"}):
            b.skip(f"applications {package} {key}", "no setting.")
    b.put("apps.required", required)
    b.put("apps.blocked", blocked)
    if policy.get("playStoreMode") == "WHITELIST":
        b.put("apps.allowed", sorted(set(available) | set(required)))


def _android_system_update(value: Any, b: _Builder, _policy: dict[str, Any]) -> None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "AUTOMATIC":
        b.put("software_updates.auto_install", True)
    elif kind == "WINDOWED":
        start, end = value.get("startMinutes"), value.get("endMinutes")
        b.put("software_updates.auto_install", True)
        if _is_int(start) and _is_int(end) and 0 <= start < 1440 and 0 <= end < 1440:
            b.put(
                "software_updates.install_window", f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
            )
        else:
            b.skip("systemUpdate", "the window's startMinutes and endMinutes must be 0 to 1439.")
    elif kind == "POSTPONE":
        b.put("software_updates.max_deferral_days", 30)
    else:
        b.skip("field systemUpdate", f"type {kind!r:.30} has no setting.")
