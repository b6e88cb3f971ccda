"""Android Management API ``Policy`` JSON from a published policy version.

Uses the current fields of the API (``passwordPolicies``, not the deprecated ``passwordRequirements``;
``policyEnforcementRules``, not ``complianceRules``; ``cameraAccess``, not ``cameraDisabled``;
``deviceConnectivityManagement.usbDataAccess``, not ``usbFileTransferDisabled``). Settings the API
cannot state are listed in the :class:`~mdm_desktop.exports.report.ExportReport`, and
:func:`cross_field_problems` checks the rules the published JSON Schema cannot express.

Escalation (block, then wipe) comes from the policy's ``escalation`` group when it states both steps;
its day counts become ``policyEnforcementRules`` for the passcode rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_settings import PolicySettings, WifiSecurity
from mdm_desktop.exports.report import ExportFormat, ExportResult, PolicySource, ReportBuilder

ANDROID_API_LEVELS: dict[str, int] = {
    "10": 29,
    "11": 30,
    "12": 31,
    "12.1": 32,
    "13": 33,
    "14": 34,
    "15": 35,
    "16": 36,
}
"""Android release to API level (the API states minimum versions as API levels)."""

DEPRECATED_FIELDS = frozenset(
    {
        "passwordRequirements",
        "complianceRules",
        "cameraDisabled",
        "usbFileTransferDisabled",
        "installUnknownSourcesAllowed",
        "usbMassStorageEnabled",
    }
)
"""Top-level fields this exporter must never write (deprecated in the API)."""

_QUALITY = {"any": "SOMETHING", "no_simple": "NUMERIC_COMPLEX", "alphanumeric": "ALPHANUMERIC", "complex": "COMPLEX"}
_WIFI_LEVEL = {
    WifiSecurity.OPEN: "OPEN_NETWORK_SECURITY",
    WifiSecurity.WPA2_PERSONAL: "PERSONAL_NETWORK_SECURITY",
    WifiSecurity.WPA3_PERSONAL: "PERSONAL_NETWORK_SECURITY",
    WifiSecurity.WPA2_ENTERPRISE: "ENTERPRISE_NETWORK_SECURITY",
    WifiSecurity.WPA3_ENTERPRISE: "ENTERPRISE_NETWORK_SECURITY",
}
_LEVEL_ORDER = ("OPEN_NETWORK_SECURITY", "PERSONAL_NETWORK_SECURITY", "ENTERPRISE_NETWORK_SECURITY")
_CONSOLE_CHECKS = "checked by the console at each check-in; the Android policy has no such field."


def api_level(version: str) -> int | None:
    """The API level of an Android release such as ``"14"`` or ``"12.1"`` (``None`` if unknown)."""
    if version in ANDROID_API_LEVELS:
        return ANDROID_API_LEVELS[version]
    major = version.split(".", 1)[0]
    return ANDROID_API_LEVELS.get(major)


def _passwords(settings: PolicySettings, policy: dict[str, Any], report: ReportBuilder) -> None:
    code = settings.passcode
    if not code.required:
        return
    rules: dict[str, Any] = {
        "passwordScope": "SCOPE_PROFILE" if settings.containerisation.work_profile_required else "SCOPE_DEVICE",
        "passwordQuality": _QUALITY[code.complexity],
        "passwordMinimumLength": code.min_length,
    }
    report.wrote("passcode.required", "passcode.complexity", "passcode.min_length")
    if code.complexity == "complex":
        rules.update(passwordMinimumLetters=1, passwordMinimumNumeric=1, passwordMinimumSymbols=1)
    if code.max_failed_attempts is not None:
        rules["maximumFailedPasswordsForWipe"] = code.max_failed_attempts
        report.wrote("passcode.max_failed_attempts")
    if code.history > 0:
        rules["passwordHistoryLength"] = code.history
        report.wrote("passcode.history")
    if code.max_age_days is not None:
        rules["passwordExpirationTimeout"] = f"{code.max_age_days * 86400}s"
        report.wrote("passcode.max_age_days")
    policy["passwordPolicies"] = [rules]
    policy["maximumTimeToLock"] = str(code.auto_lock_minutes * 60_000)
    report.wrote("passcode.auto_lock_minutes")


def _health(settings: PolicySettings, policy: dict[str, Any], report: ReportBuilder) -> None:
    if settings.encryption.required:
        policy["encryptionPolicy"] = (
            "ENABLED_WITH_PASSWORD" if settings.passcode.required else "ENABLED_WITHOUT_PASSWORD"
        )
        report.wrote("encryption.required")
    minimum = settings.device_health.min_os_for(Platform.ANDROID)
    if minimum is not None:
        level = api_level(minimum)
        if level is None:
            report.cannot("device_health.min_os_version", f"Android {minimum} has no known API level.")
        else:
            policy["minimumApiLevel"] = level
            report.wrote("device_health.min_os_version")
    elif settings.device_health.min_os_version:
        report.note("The minimum OS versions name no Android version, so the policy sets no minimum API level.")
        report.wrote("device_health.min_os_version")
    for key in (
        "device_health.max_patch_age_days",
        "device_health.patch_grace_days",
        "device_health.block_compromised",
        "device_health.max_checkin_age_days",
    ):
        report.cannot(key, _CONSOLE_CHECKS)


def _connections(settings: PolicySettings, policy: dict[str, Any], report: ReportBuilder) -> None:
    conn = settings.connections
    connectivity: dict[str, Any] = {}
    radio: dict[str, Any] = {}
    if not conn.bluetooth_allowed:
        policy["bluetoothDisabled"] = True
        report.wrote("connections.bluetooth_allowed")
    if not conn.nfc_allowed:
        radio["nfc"] = "NFC_DISABLED"
        report.wrote("connections.nfc_allowed")
    if not conn.camera_allowed:
        policy["cameraAccess"] = "CAMERA_ACCESS_DISABLED"
        report.wrote("connections.camera_allowed")
    if not conn.microphone_allowed:
        policy["microphoneAccess"] = "MICROPHONE_ACCESS_DISABLED"
        report.wrote("connections.microphone_allowed")
        report.note("Microphone access can be turned off only on fully managed (company-owned) devices.")
    if not conn.location_services_allowed:
        policy["locationMode"] = "LOCATION_DISABLED"
        report.wrote("connections.location_services_allowed")
    if not conn.usb_data_allowed:
        connectivity["usbDataAccess"] = "DISALLOW_USB_DATA_TRANSFER"
        report.wrote("connections.usb_data_allowed")
    networks = conn.allowed_wifi or ()
    if not conn.untrusted_wifi_allowed and networks:
        connectivity["wifiSsidPolicy"] = {
            "wifiSsidPolicyType": "WIFI_SSID_ALLOWLIST",
            "wifiSsids": [{"wifiSsid": n.ssid} for n in networks],
        }
        weakest = min((_WIFI_LEVEL[n.security] for n in networks), key=_LEVEL_ORDER.index)
        radio["minimumWifiSecurityLevel"] = weakest
        report.wrote("connections.untrusted_wifi_allowed", "connections.allowed_wifi")
        report.note("The Wi-Fi allow list is enforced on company-owned devices running Android 13 or later.")
    elif networks:
        report.cannot(
            "connections.allowed_wifi",
            "the networks are not set up by the policy (that needs their credentials); other networks stay allowed.",
        )
    if connectivity:
        policy["deviceConnectivityManagement"] = connectivity
    if radio:
        policy["deviceRadioState"] = radio


def _data_transfer(settings: PolicySettings, policy: dict[str, Any], report: ReportBuilder) -> None:
    data = settings.data_transfer
    cross: dict[str, Any] = {}
    if not data.managed_to_unmanaged_paste:
        cross["crossProfileCopyPaste"] = "COPY_FROM_WORK_TO_PERSONAL_DISALLOWED"
        report.wrote("data_transfer.managed_to_unmanaged_paste")
    if not data.unmanaged_open_in_managed:
        cross["crossProfileDataSharing"] = "CROSS_PROFILE_DATA_SHARING_DISALLOWED"
        report.wrote("data_transfer.unmanaged_open_in_managed", "data_transfer.managed_open_in_unmanaged")
        if data.managed_open_in_unmanaged:
            report.note("Android blocks sharing in both directions: personal files cannot open in work apps either.")
    elif not data.managed_open_in_unmanaged:
        cross["crossProfileDataSharing"] = "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED"
        report.wrote("data_transfer.managed_open_in_unmanaged")
    if cross:
        policy["crossProfilePolicies"] = cross
        report.note("Copy-paste and sharing rules between work and personal apps apply to devices with a work profile.")
    if not data.screen_capture_allowed:
        policy["screenCaptureDisabled"] = True
        report.wrote("data_transfer.screen_capture_allowed")
    if not data.untrusted_sources_allowed:
        policy["advancedSecurityOverrides"] = {"untrustedAppsPolicy": "DISALLOW_INSTALL"}
        report.wrote("data_transfer.untrusted_sources_allowed")
    report.cannot(
        "data_transfer.cloud_backup_allowed",
        "the Android policy has no field for cloud backup of work data; keep backup apps off the allowed list.",
    )


def _apps(settings: PolicySettings, policy: dict[str, Any], report: ReportBuilder) -> None:
    apps = settings.apps
    allowed = settings.allowed_apps()
    entries: dict[str, str] = {}
    for package in sorted(allowed or ()):
        entries[package] = "AVAILABLE"
    for package in apps.required:
        entries[package] = "FORCE_INSTALLED"
    for package in apps.blocked:
        entries[package] = "BLOCKED"
    if apps.required:
        report.wrote("apps.required")
    if apps.blocked:
        report.wrote("apps.blocked")
    if allowed is not None:
        policy["playStoreMode"] = "WHITELIST"
        report.wrote_allow_lists()
    elif apps.blocked:
        policy["playStoreMode"] = "BLACKLIST"
    if entries:
        policy["applications"] = [{"packageName": p, "installType": t} for p, t in sorted(entries.items())]
    report.cannot(
        "containerisation.work_profile_required",
        "a work profile is chosen when the device enrols (the enrolment token), not by the policy.",
    )


def _updates(settings: PolicySettings, policy: dict[str, Any], report: ReportBuilder) -> None:
    updates = settings.software_updates
    if updates.auto_install:
        if updates.install_window is not None:
            window = updates.install_window
            policy["systemUpdate"] = {"type": "WINDOWED", "startMinutes": window.start, "endMinutes": window.end}
            report.wrote("software_updates.install_window")
        else:
            policy["systemUpdate"] = {"type": "AUTOMATIC"}
        report.wrote("software_updates.auto_install")
    report.cannot("software_updates.max_deferral_days", "Android can only postpone updates by a fixed 30 days.")
    report.cannot("software_updates.required_version", _CONSOLE_CHECKS)
    report.cannot("software_updates.required_by", _CONSOLE_CHECKS)
    for key in ("backup.required", "backup.interval_hours", "backup.target"):
        report.cannot(key, "the Android policy has no field for scheduled backups.")


def escalation_days(settings: PolicySettings) -> tuple[int, int] | None:
    """``(block after, wipe after)`` days from the policy's ``escalation`` group, when it states both.

    The block step is the first of quarantine and lock; the wipe step is ``wipe_after_days``.
    """
    ladder = settings.escalation
    block = ladder.quarantine_after_days if ladder.quarantine_after_days is not None else ladder.lock_after_days
    if block is None or ladder.wipe_after_days is None:
        return None
    return block, ladder.wipe_after_days


def cross_field_problems(policy: Mapping[str, Any]) -> list[str]:
    """Rules of the Android Management API that its JSON Schema cannot express, broken by ``policy``."""
    problems: list[str] = []
    for name in sorted(DEPRECATED_FIELDS & set(policy)):
        problems.append(f"'{name}' is deprecated; use its replacement.")
    for i, rule in enumerate(policy.get("policyEnforcementRules", [])):
        block, wipe = rule.get("blockAction"), rule.get("wipeAction")
        if (block is None) != (wipe is None):
            problems.append(f"policyEnforcementRules[{i}]: blockAction and wipeAction must be given together.")
            continue
        if block is not None and wipe is not None:
            b, w = block.get("blockAfterDays", 0), wipe.get("wipeAfterDays", 0)
            if b < 0:
                problems.append(f"policyEnforcementRules[{i}]: blockAfterDays must be 0 or more.")
            if not b < w:
                problems.append(
                    f"policyEnforcementRules[{i}]: blockAfterDays ({b}) must be less than wipeAfterDays ({w})."
                )
        if not rule.get("settingName"):
            problems.append(f"policyEnforcementRules[{i}]: settingName is required.")
    packages = [a.get("packageName") for a in policy.get("applications", [])]
    if len(packages) != len(set(packages)):
        problems.append("applications: a package is listed more than once.")
    update = policy.get("systemUpdate")
    if update is not None and update.get("type") == "WINDOWED":
        for field in ("startMinutes", "endMinutes"):
            if not 0 <= update.get(field, -1) <= 1439:
                problems.append(f"systemUpdate.{field} must be 0 to 1439 minutes after midnight.")
    for i, rules in enumerate(policy.get("passwordPolicies", [])):
        if rules.get("passwordMinimumLength", 0) < 0:
            problems.append(f"passwordPolicies[{i}].passwordMinimumLength must be 0 or more.")
    if "maximumTimeToLock" in policy and int(policy["maximumTimeToLock"]) < 0:
        problems.append("maximumTimeToLock must be 0 or more.")
    return problems


def build_android_policy(settings: PolicySettings, policy_source: PolicySource) -> ExportResult:
    """The Android Management API ``Policy`` (JSON, UTF-8) for one published version, and its report.

    Raises:
        ValidationError: The policy's escalation blocks no earlier than it wipes.
    """
    report = ReportBuilder(settings)
    policy: dict[str, Any] = {}
    _passwords(settings, policy, report)
    _health(settings, policy, report)
    _connections(settings, policy, report)
    _data_transfer(settings, policy, report)
    _apps(settings, policy, report)
    _updates(settings, policy, report)
    days = escalation_days(settings)
    if days is not None and "passwordPolicies" in policy:
        block, wipe = days
        if not 0 <= block < wipe:
            raise ValidationError(
                f"The policy's escalation blocks after {block} days and wipes after {wipe}; Android needs the block "
                "first (0 or more days) and the wipe later.",
                hint="Correct the escalation days.",
            )
        policy["policyEnforcementRules"] = [
            {
                "settingName": "passwordPolicies",
                "blockAction": {"blockAfterDays": block, "blockScope": "BLOCK_SCOPE_WORK_PROFILE"},
                "wipeAction": {"wipeAfterDays": wipe, "preserveFrp": True},
            }
        ]
        report.note(f"A device without the required passcode is blocked after {block} days and wiped after {wipe}.")
    problems = cross_field_problems(policy)
    if problems:  # pragma: no cover - the builders above never produce these
        raise ValidationError("The Android policy breaks the API's rules.", details="\n".join(problems))
    ordered = dict(sorted(policy.items()))
    text = json.dumps(ordered, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return ExportResult(text.encode("utf-8"), report.build(ExportFormat.ANDROID, policy_source))
