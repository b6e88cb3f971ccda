"""Built-in policy baselines a clinic starts from, each setting with the rule it implements.

Three baselines: "Clinic baseline (corporate)" for clinic-owned phones, tablets and Macs,
"Clinician BYOD" for personal phones with a work container, and "Shared nurse-station tablet"
for tablets shared by a ward. Each states only the settings it changes from the defaults (the
rest keep :mod:`mdm_desktop.domain.policy_settings` defaults) and cites, per setting, the DISA STIG
or CIS rule or HIPAA section behind the value. Values follow the STIG where it sets a number (six
characters, ten attempts) and the CIS benchmark where it is stricter (two-minute auto-lock on shared
tablets).

Pure Python: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mdm_desktop.domain.devices import Ownership, Platform
from mdm_desktop.domain.errors import NotFoundError
from mdm_desktop.domain.policy_settings import (
    Citation,
    PolicySettings,
    cis,
    hipaa,
    parse_settings,
    spec,
    stig,
)

CLINIC_NETWORK = {"ssid": "CLINIC-STAFF", "security": "wpa3_enterprise", "eap": "tls"}
EHR_APP = "com.medchart.ehr.mobile"
MESSAGING_APP = "com.carelink.securemessaging"
CHECKIN_APP = "org.clinic.checkin"


@dataclass(frozen=True, slots=True)
class BaselineSetting:
    """One value a baseline sets, and why.

    Attributes:
        key: The setting (``group.name``).
        value: Its value in the JSON form.
        citations: The rules behind the value (the setting's own citations when the baseline adds none).
    """

    key: str
    value: Any
    citations: tuple[Citation, ...] = ()

    @property
    def sources(self) -> tuple[Citation, ...]:
        """The baseline's citations, else the setting's."""
        return self.citations or spec(self.key).citations


@dataclass(frozen=True, slots=True)
class Baseline:
    """A named starting point for a policy.

    Attributes:
        name: As shown and as typed on the command line.
        description: One or two sentences for the clinic's IT person.
        ownership: The devices it is meant for (``None``: any).
        platforms: The platforms it targets.
        settings: The values it sets (the rest keep their defaults).
    """

    name: str
    description: str
    ownership: Ownership | None
    platforms: frozenset[Platform]
    settings: tuple[BaselineSetting, ...]

    def values(self) -> dict[str, Any]:
        """The values it sets, by key (JSON form)."""
        return {s.key: s.value for s in self.settings}

    def to_dict(self) -> dict[str, Any]:
        """Complete settings (defaults plus the baseline's values) in the stored JSON form."""
        return self.policy_settings().to_dict()

    def policy_settings(self) -> PolicySettings:
        """The typed settings."""
        data: dict[str, dict[str, Any]] = {}
        for key, value in self.values().items():
            group, name = key.split(".", 1)
            data.setdefault(group, {})[name] = value
        return parse_settings(data)

    def citations(self) -> Mapping[str, tuple[Citation, ...]]:
        """The citations of every setting the baseline sets, by key."""
        return {s.key: s.sources for s in self.settings}


def _s(key: str, value: Any, *citations: tuple[Citation, ...]) -> BaselineSetting:
    return BaselineSetting(key, value, tuple(c for group in citations for c in group))


CORPORATE = Baseline(
    name="Clinic baseline (corporate)",
    description="Clinic-owned phones, tablets and Macs: STIG passcode rules, no clinic data in personal "
    "clouds or apps, no USB data, updates installed overnight.",
    ownership=Ownership.CORPORATE,
    platforms=frozenset({Platform.IOS, Platform.IPADOS, Platform.ANDROID, Platform.MACOS}),
    settings=(
        _s("passcode.required", True, stig("AIOS-18-010400"), hipaa("164.312(d)")),
        _s("passcode.min_length", 6, stig("AIOS-18-006500", "GOOG-15-006000"), cis("3.4.3")),
        _s("passcode.complexity", "no_simple", stig("AIOS-18-006600", "GOOG-15-006100"), cis("3.4.1")),
        _s("passcode.max_failed_attempts", 10, stig("AIOS-18-006900", "GOOG-15-006400")),
        _s("passcode.auto_lock_minutes", 5, stig("AIOS-18-006800", "GOOG-15-006300"), hipaa("164.312(a)(2)(iii)")),
        _s("passcode.history", 2, stig("AIOS-18-006950")),
        _s("encryption.required", True, hipaa("164.312(a)(2)(iv)")),
        _s("device_health.min_os_version", {"ios": "18.0", "ipados": "18.0", "android": "14", "macos": "14.0"},
           stig("AIOS-18-011200", "GOOG-15-010800")),
        _s("device_health.max_patch_age_days", 90, hipaa("164.308(a)(1)(ii)(B)")),
        _s("device_health.patch_grace_days", 14, hipaa("164.308(a)(1)(ii)(B)")),
        _s("device_health.block_compromised", True, hipaa("164.312(c)(1)")),
        _s("device_health.max_checkin_age_days", 14, hipaa("164.310(d)(2)(iii)")),
        _s("connections.usb_data_allowed", False, stig("AIOS-18-016500", "GOOG-15-012200"), hipaa("164.310(d)(1)")),
        _s("connections.allowed_wifi", [CLINIC_NETWORK], hipaa("164.312(e)(1)")),
        _s("data_transfer.managed_to_unmanaged_paste", False, stig("AIOS-18-014600")),
        _s("data_transfer.managed_open_in_unmanaged", False, stig("AIOS-18-009700"), cis("3.2.1.21")),
        _s("data_transfer.untrusted_sources_allowed", False, stig("AIOS-18-014900", "AIOS-18-015000",
                                                                  "GOOG-15-006500")),
        _s("data_transfer.cloud_backup_allowed", False, stig("AIOS-18-003000", "AIOS-18-003600", "GOOG-15-008600"),
           cis("3.2.1.4", "3.2.1.7")),
        _s("backup.required", True, hipaa("164.308(a)(7)(ii)(A)")),
        _s("backup.interval_hours", 24, hipaa("164.308(a)(7)(ii)(A)")),
        _s("backup.target", "encrypted_local", stig("AIOS-18-010700"), cis("3.2.1.10")),
        _s("software_updates.auto_install", True, hipaa("164.308(a)(5)(ii)(B)")),
        _s("software_updates.install_window", "02:00-04:00", hipaa("164.308(a)(5)(ii)(B)")),
        _s("software_updates.max_deferral_days", 14, stig("AIOS-18-011200", "GOOG-15-010800")),
        _s("apps.required", [EHR_APP, MESSAGING_APP], hipaa("164.308(a)(4)(i)")),
    ),
)  # fmt: skip

BYOD = Baseline(
    name="Clinician BYOD",
    description="Clinicians' own phones: clinic data stays in a work profile or managed apps, which cannot "
    "paste or open it in personal apps or back it up to a personal cloud; the personal side is left alone.",
    ownership=Ownership.BYOD,
    platforms=frozenset({Platform.IOS, Platform.ANDROID}),
    settings=(
        _s("passcode.required", True, stig("AIOS-18-010400"), hipaa("164.312(d)")),
        _s("passcode.min_length", 6, stig("AIOS-18-006500", "GOOG-15-006000"), cis("2.4.3")),
        _s("passcode.complexity", "no_simple", stig("AIOS-18-006600", "GOOG-15-006100"), cis("2.4.1")),
        _s("passcode.max_failed_attempts", 10, stig("AIOS-18-006900", "GOOG-15-006400")),
        _s("passcode.auto_lock_minutes", 5, stig("AIOS-18-006800", "GOOG-15-006300"), cis("2.4.4")),
        _s("encryption.required", True, hipaa("164.312(a)(2)(iv)")),
        _s("device_health.min_os_version", {"ios": "18.0", "android": "14"}, stig("AIOS-18-011200",
                                                                                  "GOOG-15-010800")),
        _s("device_health.max_patch_age_days", 120, hipaa("164.308(a)(1)(ii)(B)")),
        _s("device_health.patch_grace_days", 30, hipaa("164.308(a)(1)(ii)(B)")),
        _s("device_health.block_compromised", True, hipaa("164.312(c)(1)")),
        _s("device_health.max_checkin_age_days", 30, hipaa("164.310(d)(2)(iii)")),
        _s("containerisation.work_profile_required", True, hipaa("164.308(a)(4)(i)")),
        _s("containerisation.allowed_apps", [EHR_APP, MESSAGING_APP], hipaa("164.308(a)(4)(i)")),
        _s("data_transfer.managed_to_unmanaged_paste", False, stig("AIOS-18-014600")),
        _s("data_transfer.managed_open_in_unmanaged", False, stig("AIOS-18-009700"), cis("2.2.1.8")),
        _s("data_transfer.unmanaged_open_in_managed", False, cis("2.2.1.9")),
        _s("data_transfer.cloud_backup_allowed", False, stig("AIOS-18-003600"), cis("2.2.1.3")),
        _s("apps.required", [EHR_APP, MESSAGING_APP], hipaa("164.308(a)(4)(i)")),
    ),
)  # fmt: skip

SHARED_TABLET = Baseline(
    name="Shared nurse-station tablet",
    description="Ward tablets shared by a shift: quick auto-lock, no camera or screenshots, only the clinic "
    "network, only the clinic's apps, nothing copied off the device.",
    ownership=Ownership.CORPORATE,
    platforms=frozenset({Platform.IPADOS, Platform.ANDROID}),
    settings=(
        _s("passcode.required", True, stig("AIOS-18-010400"), hipaa("164.312(d)")),
        _s("passcode.min_length", 6, stig("AIOS-18-006500", "GOOG-15-006000"), cis("3.4.3")),
        _s("passcode.complexity", "no_simple", stig("AIOS-18-006600", "GOOG-15-006100"), cis("3.4.1")),
        _s("passcode.max_failed_attempts", 10, stig("AIOS-18-006900", "GOOG-15-006400")),
        _s("passcode.auto_lock_minutes", 2, cis("3.4.4"), hipaa("164.312(a)(2)(iii)")),
        _s("passcode.history", 2, stig("AIOS-18-006950")),
        _s("encryption.required", True, hipaa("164.312(a)(2)(iv)")),
        _s("device_health.min_os_version", {"ipados": "18.0", "android": "14"}, stig("AIOS-18-011200",
                                                                                     "GOOG-15-010800")),
        _s("device_health.max_patch_age_days", 90, hipaa("164.308(a)(1)(ii)(B)")),
        _s("device_health.block_compromised", True, hipaa("164.312(c)(1)")),
        _s("device_health.max_checkin_age_days", 7, hipaa("164.310(d)(2)(iii)")),
        _s("connections.bluetooth_allowed", False, stig("GOOG-15-009400")),
        _s("connections.camera_allowed", False, stig("AIOS-18-018100", "WIR-SPP-001")),
        _s("connections.usb_data_allowed", False, stig("AIOS-18-016500", "AIOS-18-013300", "GOOG-15-008400"),
           cis("3.2.1.8"), hipaa("164.310(d)(1)")),
        _s("connections.untrusted_wifi_allowed", False, hipaa("164.312(e)(1)")),
        _s("connections.allowed_wifi", [CLINIC_NETWORK], hipaa("164.312(e)(1)", "164.312(e)(2)(ii)")),
        _s("data_transfer.managed_to_unmanaged_paste", False, stig("AIOS-18-014600")),
        _s("data_transfer.managed_open_in_unmanaged", False, stig("AIOS-18-009700"), cis("3.2.1.21")),
        _s("data_transfer.screen_capture_allowed", False, stig("AIOS-18-018000"), cis("3.2.1.1")),
        _s("data_transfer.untrusted_sources_allowed", False, stig("AIOS-18-014900", "AIOS-18-015000",
                                                                  "GOOG-15-006500")),
        _s("data_transfer.cloud_backup_allowed", False, stig("AIOS-18-003000", "GOOG-15-008600"), cis("3.2.1.4")),
        _s("software_updates.auto_install", True, hipaa("164.308(a)(5)(ii)(B)")),
        _s("software_updates.install_window", "02:00-04:00", hipaa("164.308(a)(5)(ii)(B)")),
        _s("apps.required", [EHR_APP, CHECKIN_APP], hipaa("164.308(a)(4)(i)")),
        _s("apps.allowed", [EHR_APP, CHECKIN_APP, MESSAGING_APP], stig("AIOS-18-007000", "GOOG-15-006600")),
    ),
)  # fmt: skip

BASELINES: tuple[Baseline, ...] = (CORPORATE, BYOD, SHARED_TABLET)


def baseline_names() -> tuple[str, ...]:
    """The names of the built-in baselines."""
    return tuple(b.name for b in BASELINES)


def find_baseline(name: str) -> Baseline:
    """The baseline called ``name`` (case and spacing ignored).

    Raises:
        NotFoundError: No baseline has that name; the message lists them.
    """
    wanted = " ".join(str(name).split()).casefold()
    for baseline in BASELINES:
        if baseline.name.casefold() == wanted:
            return baseline
    names = "; ".join(f"'{n}'" for n in baseline_names())
    raise NotFoundError(f"There is no built-in baseline called '{name}'.", hint=f"Choose one of {names}.")
