"""The typed policy settings model: every setting a clinic policy can state, validated and merged.

A policy's settings are stored as a JSON object of groups (``{"passcode": {"min_length": 6}, ...}``).
This module turns that object into :class:`PolicySettings` (typed, frozen), back again
(:meth:`PolicySettings.to_dict`), and merges the settings of several policies that apply to one
device with the rule "most restrictive wins" (:func:`merge_settings`).

Every setting is described once, in :data:`SETTING_SPECS`: its key, label, kind, allowed range or
choices, default, the platforms that can express it, how it merges, and the rules it implements
(DISA STIG or CIS benchmark rule ids, HIPAA Security Rule sections). The facts come from the
reference lists kept beside the project (STIG rule lists for iOS/iPadOS 18 and Android 15, NIST mSCP
iOS rules with their CIS numbers, 45 CFR 164).

Older drafts used other group names (``os_updates``, ``integrity``, ``check_in``, ``restrictions``,
``wifi``, ``data_separation``); :func:`check_settings` migrates them, so every stored draft still
opens. Groups this model does not know (``scope``, ``lost_mode``, ...) are kept unchanged in
:attr:`PolicySettings.extra` so later features can own them.

Pure Python: no I/O, no Qt, no SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mdm_desktop.domain.devices import Platform, version_sort_key
from mdm_desktop.domain.errors import ValidationError

# -- vocabulary ---------------------------------------------------------------------------------------------------


class SettingKind(enum.StrEnum):
    """How a setting's value is written and checked."""

    BOOL = "bool"
    INT = "int"
    CHOICE = "choice"
    TEXT_LIST = "text_list"
    VERSION_MAP = "version_map"
    WIFI_LIST = "wifi_list"
    TIME_WINDOW = "time_window"
    DATE = "date"


class MergeRule(enum.StrEnum):
    """How the values of several policies combine; each rule keeps the most restrictive value."""

    TRUE_WINS = "true_wins"
    """A requirement: required if any policy requires it."""
    FALSE_WINS = "false_wins"
    """A permission: allowed only if every policy allows it."""
    HIGHER_WINS = "higher_wins"
    """A minimum (length, history): the highest; "not set" loses."""
    LOWER_WINS = "lower_wins"
    """A maximum (attempts, minutes, days): the lowest; "not set" (no limit) loses."""
    STRICTER_CHOICE = "stricter_choice"
    """Choices listed from least to most restrictive: the later one."""
    UNION = "union"
    """A list of things blocked or required: all of them."""
    INTERSECTION = "intersection"
    """A list of things allowed: only those every policy allows; "not set" (no list) loses."""
    HIGHER_VERSION = "higher_version"
    """A minimum version per platform: the highest for each platform."""
    WIFI_INTERSECTION = "wifi_intersection"
    """Allowed Wi-Fi networks: those every policy allows, each with the stronger security."""
    EARLIER_DATE = "earlier_date"
    """A deadline: the earliest; "not set" loses."""
    NARROWER_WINDOW = "narrower_window"
    """A time window: the shortest (ties: the earliest start); "not set" loses."""


class CitationSource(enum.StrEnum):
    """Where a setting's rule comes from."""

    STIG = "DISA STIG"
    CIS = "CIS"
    HIPAA = "HIPAA"
    NIST = "NIST"


@dataclass(frozen=True, slots=True)
class Citation:
    """One rule a setting implements, e.g. DISA STIG ``AIOS-18-006500`` or HIPAA ``164.312(a)(2)(iv)``."""

    source: CitationSource
    ref: str

    def __str__(self) -> str:
        if self.source is CitationSource.HIPAA:
            return f"HIPAA 45 CFR {self.ref}"
        return f"{self.source.value} {self.ref}"


def stig(*refs: str) -> tuple[Citation, ...]:
    """DISA STIG rule ids."""
    return tuple(Citation(CitationSource.STIG, r) for r in refs)


def cis(*refs: str) -> tuple[Citation, ...]:
    """CIS benchmark recommendation numbers (Apple iOS/iPadOS, via NIST mSCP)."""
    return tuple(Citation(CitationSource.CIS, f"iOS {r}") for r in refs)


def hipaa(*refs: str) -> tuple[Citation, ...]:
    """HIPAA Security Rule sections of 45 CFR."""
    return tuple(Citation(CitationSource.HIPAA, r) for r in refs)


def nist(*refs: str) -> tuple[Citation, ...]:
    """NIST publications."""
    return tuple(Citation(CitationSource.NIST, r) for r in refs)


class WifiSecurity(enum.StrEnum):
    """A Wi-Fi network's security type, from least to most protective."""

    OPEN = "open"
    WPA2_PERSONAL = "wpa2_personal"
    WPA3_PERSONAL = "wpa3_personal"
    WPA2_ENTERPRISE = "wpa2_enterprise"
    WPA3_ENTERPRISE = "wpa3_enterprise"

    @property
    def rank(self) -> int:
        """Position from least (0) to most protective."""
        return list(WifiSecurity).index(self)

    @property
    def enterprise(self) -> bool:
        """Whether the network authenticates each person (802.1X / EAP)."""
        return self in (WifiSecurity.WPA2_ENTERPRISE, WifiSecurity.WPA3_ENTERPRISE)


class EapMethod(enum.StrEnum):
    """How an enterprise Wi-Fi network checks the person or device, from least to most protective."""

    TTLS = "ttls"
    PEAP = "peap"
    TLS = "tls"


@dataclass(frozen=True, slots=True, order=True)
class WifiNetwork:
    """One network devices may join.

    Attributes:
        ssid: The network name (1 to 32 bytes in UTF-8).
        security: Its security type.
        eap: For enterprise networks, the EAP method (``None`` for personal and open networks).
    """

    ssid: str
    security: WifiSecurity
    eap: EapMethod | None = None

    @property
    def strength(self) -> tuple[int, int]:
        """Sort key from weakest to strongest protection."""
        return (self.security.rank, list(EapMethod).index(self.eap) if self.eap is not None else -1)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"ssid": self.ssid, "security": self.security.value}
        if self.eap is not None:
            out["eap"] = self.eap.value
        return out


@dataclass(frozen=True, slots=True, order=True)
class TimeWindow:
    """A daily window in local device time, ``start`` to ``end`` minutes after midnight (may wrap midnight)."""

    start: int
    end: int

    @property
    def minutes(self) -> int:
        """Length of the window in minutes."""
        return (self.end - self.start) % (24 * 60)

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


VersionMap = tuple[tuple[Platform, str], ...]
"""Minimum versions per platform as sorted ``(platform, version)`` pairs (hashable and immutable)."""


# -- the settings ---------------------------------------------------------------------------------------------------

ALL_MANAGED = frozenset({Platform.IOS, Platform.IPADOS, Platform.ANDROID, Platform.MACOS, Platform.WINDOWS})
MOBILE = frozenset({Platform.IOS, Platform.IPADOS, Platform.ANDROID})
APPLE_MOBILE = frozenset({Platform.IOS, Platform.IPADOS})
EVERY_PLATFORM = frozenset(Platform)


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """What one setting is: its key, meaning, allowed values, platforms, merge rule and sources.

    Attributes:
        key: ``group.name``, as stored (``passcode.min_length``).
        label: What a clinic's IT person calls it.
        kind: How the value is written.
        merge: How values of several policies combine.
        default: The value when a policy does not state it.
        minimum: Lowest allowed number (``INT``).
        maximum: Highest allowed number (``INT``).
        choices: Allowed values (``CHOICE``), from least to most restrictive.
        nullable: Whether "not set" (``null``: no limit, no list) is allowed.
        unit: Unit of a number, for display ("minutes").
        platforms: The platforms whose devices can enforce or report it.
        citations: The rules it implements.
        help: One sentence for the editor.
    """

    key: str
    label: str
    kind: SettingKind
    merge: MergeRule
    default: Any
    platforms: frozenset[Platform]
    citations: tuple[Citation, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    unit: str = ""
    help: str = ""

    @property
    def group(self) -> str:
        """The group part of the key."""
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The setting's name inside its group."""
        return self.key.split(".", 1)[1]


GROUP_LABELS: dict[str, str] = {
    "passcode": "Passcode",
    "encryption": "Encryption",
    "device_health": "Device health",
    "connections": "Connections and peripherals",
    "data_transfer": "Data transfer",
    "containerisation": "Containerisation",
    "backup": "Backup",
    "software_updates": "Software updates",
    "apps": "Apps",
    "escalation": "Escalation",
}
"""The groups, in the order the editor shows them."""

PASSCODE_COMPLEXITY = ("any", "no_simple", "alphanumeric", "complex")
"""Passcode complexity from least to most restrictive: any; no repeating or sequential characters;
letters and digits; letters, digits and a symbol."""

BACKUP_TARGETS = ("any", "encrypted_local", "site_server")
"""Backup targets from least to most restrictive: anywhere; an encrypted local backup; the clinic's server."""

S = SettingSpec
K = SettingKind
M = MergeRule

SETTING_SPECS: tuple[SettingSpec, ...] = (
    # passcode
    S("passcode.required", "Passcode required", K.BOOL, M.TRUE_WINS, True, ALL_MANAGED,
      stig("AIOS-18-010400") + hipaa("164.312(d)", "164.308(a)(5)(ii)(D)"),
      help="Devices must have a passcode before they hold clinic data."),
    S("passcode.min_length", "Minimum length", K.INT, M.HIGHER_WINS, 6, ALL_MANAGED,
      stig("AIOS-18-006500", "GOOG-15-006000") + cis("2.4.3", "3.4.3") + hipaa("164.308(a)(5)(ii)(D)"),
      minimum=4, maximum=16, unit="characters"),
    S("passcode.complexity", "Complexity", K.CHOICE, M.STRICTER_CHOICE, "no_simple", ALL_MANAGED,
      stig("AIOS-18-006600", "GOOG-15-006100") + cis("2.4.1", "3.4.1"), choices=PASSCODE_COMPLEXITY,
      help="'No simple passcodes' forbids repeating and sequential characters such as 1111 or 1234."),
    S("passcode.max_failed_attempts", "Failed attempts before wipe", K.INT, M.LOWER_WINS, 10, MOBILE,
      stig("AIOS-18-006900", "GOOG-15-006400") + cis("2.4.6", "3.4.6") + hipaa("164.308(a)(5)(ii)(C)"),
      minimum=2, maximum=11, nullable=True, unit="attempts"),
    S("passcode.auto_lock_minutes", "Auto-lock after", K.INT, M.LOWER_WINS, 5, ALL_MANAGED,
      stig("AIOS-18-006800", "GOOG-15-006300") + cis("2.4.4", "3.4.4") + hipaa("164.312(a)(2)(iii)"),
      minimum=1, maximum=15, unit="minutes"),
    S("passcode.history", "Passcode history", K.INT, M.HIGHER_WINS, 0, ALL_MANAGED,
      stig("AIOS-18-006950") + hipaa("164.308(a)(5)(ii)(D)"), minimum=0, maximum=50, unit="previous passcodes",
      help="How many previous passcodes cannot be reused (0: no rule)."),
    S("passcode.max_age_days", "Maximum passcode age", K.INT, M.LOWER_WINS, None, ALL_MANAGED,
      nist("SP 800-63B rev. 4 (no forced periodic change)"), minimum=1, maximum=730, nullable=True, unit="days",
      help="Leave unset: forced periodic change is no longer recommended."),
    # encryption
    S("encryption.required", "Storage encryption required", K.BOOL, M.TRUE_WINS, True, EVERY_PLATFORM,
      stig("AIOS-18-010400") + hipaa("164.312(a)(2)(iv)", "164.310(d)(1)")),
    # device health
    S("device_health.min_os_version", "Minimum OS version", K.VERSION_MAP, M.HIGHER_VERSION, (), EVERY_PLATFORM,
      stig("AIOS-18-011200", "GOOG-15-010800") + hipaa("164.308(a)(5)(ii)(B)"),
      help="Per platform, e.g. iOS 18.6, Android 14."),
    S("device_health.max_patch_age_days", "Maximum security patch age", K.INT, M.LOWER_WINS, 90, EVERY_PLATFORM,
      stig("AIOS-18-011200", "GOOG-15-010800") + hipaa("164.308(a)(1)(ii)(B)"),
      minimum=1, maximum=365, nullable=True, unit="days"),
    S("device_health.patch_grace_days", "Grace period for a late patch", K.INT, M.LOWER_WINS, 0, EVERY_PLATFORM,
      hipaa("164.308(a)(1)(ii)(B)"), minimum=0, maximum=90, unit="days"),
    S("device_health.block_compromised", "Block jailbroken or rooted devices", K.BOOL, M.TRUE_WINS, True, MOBILE,
      stig("GOOG-15-007400") + hipaa("164.312(c)(1)", "164.308(a)(5)(ii)(B)")),
    S("device_health.max_checkin_age_days", "Maximum days without check-in", K.INT, M.LOWER_WINS, 14,
      EVERY_PLATFORM, hipaa("164.310(d)(2)(iii)"), minimum=1, maximum=365, nullable=True, unit="days"),
    # connections and peripherals
    S("connections.bluetooth_allowed", "Bluetooth allowed", K.BOOL, M.FALSE_WINS, True,
      frozenset({Platform.ANDROID}), stig("GOOG-15-009400")),
    S("connections.nfc_allowed", "NFC allowed", K.BOOL, M.FALSE_WINS, True, MOBILE),
    S("connections.camera_allowed", "Camera allowed", K.BOOL, M.FALSE_WINS, True,
      MOBILE | {Platform.MACOS}, stig("AIOS-18-018100", "WIR-SPP-001")),
    S("connections.microphone_allowed", "Microphone allowed", K.BOOL, M.FALSE_WINS, True,
      frozenset({Platform.ANDROID})),
    S("connections.location_services_allowed", "Location services allowed", K.BOOL, M.FALSE_WINS, True,
      frozenset({Platform.ANDROID}), stig("AIOS-18-011700")),
    S("connections.usb_data_allowed", "USB data transfer allowed", K.BOOL, M.FALSE_WINS, True, MOBILE,
      stig("AIOS-18-016500", "AIOS-18-013300", "AIOS-18-009200", "GOOG-15-008400", "GOOG-15-012200")
      + cis("3.2.1.8", "3.2.1.20") + hipaa("164.310(d)(1)")),
    S("connections.untrusted_wifi_allowed", "Networks outside the list allowed", K.BOOL, M.FALSE_WINS, True,
      MOBILE, hipaa("164.312(e)(1)"),
      help="When off, devices join only the allowed networks below."),
    S("connections.allowed_wifi", "Allowed Wi-Fi networks", K.WIFI_LIST, M.WIFI_INTERSECTION, None,
      MOBILE | {Platform.MACOS}, hipaa("164.312(e)(1)", "164.312(e)(2)(ii)"), nullable=True,
      help="Networks with their security type; unset means no list."),
    # data transfer
    S("data_transfer.managed_to_unmanaged_paste", "Paste from managed to unmanaged apps", K.BOOL,
      M.FALSE_WINS, True, MOBILE, stig("AIOS-18-014600") + hipaa("164.308(a)(4)(i)")),
    S("data_transfer.managed_open_in_unmanaged", "Open managed documents in unmanaged apps", K.BOOL,
      M.FALSE_WINS, True, MOBILE, stig("AIOS-18-009700") + cis("2.2.1.8", "3.2.1.21") + hipaa("164.308(a)(4)(i)")),
    S("data_transfer.unmanaged_open_in_managed", "Open unmanaged documents in managed apps", K.BOOL,
      M.FALSE_WINS, True, MOBILE, cis("2.2.1.9", "3.2.1.22")),
    S("data_transfer.screen_capture_allowed", "Screen capture allowed", K.BOOL, M.FALSE_WINS, True,
      MOBILE | {Platform.MACOS}, stig("AIOS-18-018000") + cis("3.2.1.1")),
    S("data_transfer.untrusted_sources_allowed", "Apps from untrusted sources allowed", K.BOOL, M.FALSE_WINS,
      True, MOBILE, stig("AIOS-18-007000", "AIOS-18-014900", "AIOS-18-015000", "GOOG-15-006500")
      + hipaa("164.308(a)(5)(ii)(B)")),
    S("data_transfer.cloud_backup_allowed", "Cloud backup of managed data allowed", K.BOOL, M.FALSE_WINS, True,
      MOBILE, stig("AIOS-18-003000", "AIOS-18-003600", "GOOG-15-008600") + cis("3.2.1.4", "2.2.1.3", "3.2.1.7")),
    # containerisation
    S("containerisation.work_profile_required", "Work profile / managed container required", K.BOOL,
      M.TRUE_WINS, False, MOBILE, stig("GOOG-15-010300") + hipaa("164.308(a)(4)(i)"),
      help="Clinic data lives in a separate managed container on personal devices."),
    S("containerisation.allowed_apps", "Apps allowed in the container", K.TEXT_LIST, M.INTERSECTION, None, MOBILE,
      stig("GOOG-15-006600"), nullable=True, help="Unset: every managed app may run in the container."),
    # backup
    S("backup.required", "Scheduled encrypted backup of managed data", K.BOOL, M.TRUE_WINS, False, EVERY_PLATFORM,
      hipaa("164.308(a)(7)(ii)(A)", "164.310(d)(2)(iv)")),
    S("backup.interval_hours", "Backup interval", K.INT, M.LOWER_WINS, None, EVERY_PLATFORM,
      hipaa("164.308(a)(7)(ii)(A)"), minimum=1, maximum=168, nullable=True, unit="hours"),
    S("backup.target", "Backup target", K.CHOICE, M.STRICTER_CHOICE, "any", EVERY_PLATFORM,
      stig("AIOS-18-010700") + cis("2.2.1.4", "3.2.1.10") + hipaa("164.312(a)(2)(iv)"), choices=BACKUP_TARGETS),
    # software updates
    S("software_updates.auto_install", "Install updates automatically", K.BOOL, M.TRUE_WINS, False,
      ALL_MANAGED, stig("WIR-SPP-008-02") + hipaa("164.308(a)(5)(ii)(B)")),
    S("software_updates.install_window", "Install window", K.TIME_WINDOW, M.NARROWER_WINDOW, None, ALL_MANAGED,
      nullable=True, help="Local time, e.g. 02:00-04:00."),
    S("software_updates.max_deferral_days", "Maximum deferral", K.INT, M.LOWER_WINS, None, ALL_MANAGED,
      hipaa("164.308(a)(5)(ii)(B)"), minimum=0, maximum=90, nullable=True, unit="days"),
    S("software_updates.required_version", "Required OS version", K.VERSION_MAP, M.HIGHER_VERSION, (),
      ALL_MANAGED, stig("AIOS-18-011200", "GOOG-15-010800")),
    S("software_updates.required_by", "Required version by", K.DATE, M.EARLIER_DATE, None, ALL_MANAGED,
      nullable=True),
    # apps
    S("apps.required", "Required apps", K.TEXT_LIST, M.UNION, (), ALL_MANAGED),
    S("apps.allowed", "Allowed apps", K.TEXT_LIST, M.INTERSECTION, None, ALL_MANAGED,
      stig("AIOS-18-007000", "GOOG-15-006600") + hipaa("164.308(a)(5)(ii)(B)"), nullable=True,
      help="Unset: no allow list."),
    S("apps.blocked", "Blocked apps", K.TEXT_LIST, M.UNION, (), ALL_MANAGED,
      stig("AIOS-18-007400", "GOOG-15-006700")),
    # escalation (console-side: the console and gateway act; no device format states it)
    S("escalation.notify_after_hours", "Notify after", K.INT, M.LOWER_WINS, 0, EVERY_PLATFORM,
      hipaa("164.308(a)(6)(ii)"), minimum=0, maximum=720, nullable=True, unit="hours",
      help="The device's user gets a message and the console records it; unset: never."),
    S("escalation.quarantine_after_days", "Quarantine after", K.INT, M.LOWER_WINS, None, EVERY_PLATFORM,
      hipaa("164.308(a)(6)(ii)", "164.312(a)(1)"), minimum=0, maximum=365, nullable=True, unit="days",
      help="The gateway withholds managed apps and data until the device complies again; unset: never."),
    S("escalation.lock_after_days", "Lock after", K.INT, M.LOWER_WINS, None, EVERY_PLATFORM,
      hipaa("164.312(a)(1)"), minimum=0, maximum=365, nullable=True, unit="days",
      help="A lock command is sent to the device; unset: never."),
    S("escalation.wipe_after_days", "Wipe after", K.INT, M.LOWER_WINS, None, EVERY_PLATFORM,
      hipaa("164.310(d)(1)"), minimum=0, maximum=365, nullable=True, unit="days",
      help="A wipe command is sent (or waits for approval, below); unset: never."),
    S("escalation.destructive_steps_need_approval", "Wipe needs a second administrator's approval", K.BOOL,
      M.TRUE_WINS, True, EVERY_PLATFORM, hipaa("164.308(a)(3)(ii)(A)")),
    S("escalation.notify_only_rules", "Rules that only notify", K.TEXT_LIST, M.INTERSECTION, (), EVERY_PLATFORM,
      hipaa("164.308(a)(1)(ii)(B)"),
      help="Compliance rule ids that never go beyond a notification (apps.required covers every required app)."),
)  # fmt: skip
del S, K, M

SPECS_BY_KEY: dict[str, SettingSpec] = {s.key: s for s in SETTING_SPECS}


def spec(key: str) -> SettingSpec:
    """The spec of ``key`` (``group.name``).

    Raises:
        KeyError: No such setting.
    """
    return SPECS_BY_KEY[key]


# -- typed settings -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PasscodeSettings:
    """Passcode rules."""

    required: bool = True
    min_length: int = 6
    complexity: str = "no_simple"
    max_failed_attempts: int | None = 10
    auto_lock_minutes: int = 5
    history: int = 0
    max_age_days: int | None = None


@dataclass(frozen=True, slots=True)
class EncryptionSettings:
    """Storage encryption."""

    required: bool = True


@dataclass(frozen=True, slots=True)
class DeviceHealthSettings:
    """Health a device must report."""

    min_os_version: VersionMap = ()
    max_patch_age_days: int | None = 90
    patch_grace_days: int = 0
    block_compromised: bool = True
    max_checkin_age_days: int | None = 14

    def min_os_for(self, platform: Platform) -> str | None:
        """The minimum version for ``platform``, if any."""
        return dict(self.min_os_version).get(platform)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Radios, sensors, ports and Wi-Fi."""

    bluetooth_allowed: bool = True
    nfc_allowed: bool = True
    camera_allowed: bool = True
    microphone_allowed: bool = True
    location_services_allowed: bool = True
    usb_data_allowed: bool = True
    untrusted_wifi_allowed: bool = True
    allowed_wifi: tuple[WifiNetwork, ...] | None = None


@dataclass(frozen=True, slots=True)
class DataTransferSettings:
    """How clinic data may leave managed apps."""

    managed_to_unmanaged_paste: bool = True
    managed_open_in_unmanaged: bool = True
    unmanaged_open_in_managed: bool = True
    screen_capture_allowed: bool = True
    untrusted_sources_allowed: bool = True
    cloud_backup_allowed: bool = True


@dataclass(frozen=True, slots=True)
class ContainerSettings:
    """Work profile / managed container."""

    work_profile_required: bool = False
    allowed_apps: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class BackupSettings:
    """Scheduled backup of managed data."""

    required: bool = False
    interval_hours: int | None = None
    target: str = "any"


@dataclass(frozen=True, slots=True)
class SoftwareUpdateSettings:
    """OS updates."""

    auto_install: bool = False
    install_window: TimeWindow | None = None
    max_deferral_days: int | None = None
    required_version: VersionMap = ()
    required_by: dt.date | None = None


@dataclass(frozen=True, slots=True)
class AppSettings:
    """App lists (bundle ids / package names from the catalog)."""

    required: tuple[str, ...] = ()
    allowed: tuple[str, ...] | None = None
    blocked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    """What the console does while a compliance rule keeps failing (see :mod:`mdm_desktop.domain.escalation`)."""

    notify_after_hours: int | None = 0
    quarantine_after_days: int | None = None
    lock_after_days: int | None = None
    wipe_after_days: int | None = None
    destructive_steps_need_approval: bool = True
    notify_only_rules: tuple[str, ...] = ()


GROUP_TYPES: dict[str, type[Any]] = {
    "passcode": PasscodeSettings,
    "encryption": EncryptionSettings,
    "device_health": DeviceHealthSettings,
    "connections": ConnectionSettings,
    "data_transfer": DataTransferSettings,
    "containerisation": ContainerSettings,
    "backup": BackupSettings,
    "software_updates": SoftwareUpdateSettings,
    "apps": AppSettings,
    "escalation": EscalationSettings,
}


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Every setting of one policy, typed.

    Attributes:
        extra: Groups (or keys inside groups) this model does not know, kept unchanged as
            ``(path, canonical JSON)`` pairs sorted by path; ``path`` is ``group`` or ``group.key``.
    """

    passcode: PasscodeSettings = field(default_factory=PasscodeSettings)
    encryption: EncryptionSettings = field(default_factory=EncryptionSettings)
    device_health: DeviceHealthSettings = field(default_factory=DeviceHealthSettings)
    connections: ConnectionSettings = field(default_factory=ConnectionSettings)
    data_transfer: DataTransferSettings = field(default_factory=DataTransferSettings)
    containerisation: ContainerSettings = field(default_factory=ContainerSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    software_updates: SoftwareUpdateSettings = field(default_factory=SoftwareUpdateSettings)
    apps: AppSettings = field(default_factory=AppSettings)
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    extra: tuple[tuple[str, str], ...] = ()

    def value(self, key: str) -> Any:
        """The value of setting ``key`` (``group.name``)."""
        group, name = key.split(".", 1)
        return getattr(getattr(self, group), name)

    def values(self) -> dict[str, Any]:
        """Every known setting's value by key, in :data:`SETTING_SPECS` order."""
        return {s.key: self.value(s.key) for s in SETTING_SPECS}

    def with_values(self, values: Mapping[str, Any]) -> PolicySettings:
        """A copy with the given settings (by key) replaced; values must already be typed."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            group, name = key.split(".", 1)
            changes.setdefault(group, {})[name] = value
        groups = {group: dataclasses.replace(getattr(self, group), **names) for group, names in changes.items()}
        return dataclasses.replace(self, **groups)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every group with every setting (``null`` for "not set"), then the extras."""
        out: dict[str, Any] = {}
        for s in SETTING_SPECS:
            out.setdefault(s.group, {})[s.name] = _to_json(s, self.value(s.key))
        for path, text in self.extra:
            value = json.loads(text)
            if "." in path:
                group, name = path.split(".", 1)
                out.setdefault(group, {})[name] = value
            else:
                out[path] = value
        return out

    def allowed_apps(self) -> tuple[str, ...] | None:
        """The apps both the app allow list and the container's allow list permit (``None``: no list at all)."""
        lists = [x for x in (self.apps.allowed, self.containerisation.allowed_apps) if x is not None]
        if not lists:
            return None
        return tuple(sorted(set(lists[0]).intersection(*lists[1:])))

    def differences(self, other: PolicySettings) -> tuple[str, ...]:
        """Keys of the known settings whose values differ from ``other``'s."""
        return tuple(s.key for s in SETTING_SPECS if self.value(s.key) != other.value(s.key))


def _to_json(s: SettingSpec, value: Any) -> Any:
    if value is None:
        return None
    if s.kind is SettingKind.VERSION_MAP:
        return {p.value: v for p, v in value}
    if s.kind is SettingKind.WIFI_LIST:
        return [n.to_dict() for n in value]
    if s.kind is SettingKind.TEXT_LIST:
        return list(value)
    if s.kind is SettingKind.TIME_WINDOW:
        return str(value)
    if s.kind is SettingKind.DATE:
        return value.isoformat()
    return value


# -- problems -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettingProblem:
    """One reason a policy's settings cannot be used.

    Attributes:
        key: The setting (``group.name``), the group, or ``""`` for the whole object.
        message: What is wrong, in plain words, naming the setting.
    """

    key: str
    message: str

    def __str__(self) -> str:
        return self.message


class SettingsError(ValidationError):
    """The settings have one or more problems (all of them are listed); nothing was written."""

    def __init__(self, problems: Sequence[SettingProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        first = self.problems[0].message if self.problems else "The settings are not valid."
        message = first if count == 1 else f"{count} policy settings need attention: {first} (and {count - 1} more)"
        super().__init__(
            message,
            hint="Correct the settings named and try again.",
            details="\n".join(p.message for p in self.problems),
        )


@dataclass(frozen=True, slots=True)
class SettingsCheck:
    """The outcome of :func:`check_settings`.

    Attributes:
        settings: The typed settings, or ``None`` when there are problems.
        problems: Every problem found (empty when ``settings`` is set).
        notes: Things worth knowing that are not errors (old keys migrated, unknown groups kept).
    """

    settings: PolicySettings | None
    problems: tuple[SettingProblem, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether the settings are valid."""
        return self.settings is not None


# -- legacy keys ----------------------------------------------------------------------------------------------------


def _days_to_hours(value: Any) -> Any:
    """Old drafts counted the notification delay in days; anything but a whole number is left for the checks."""
    return value * 24 if isinstance(value, int) and not isinstance(value, bool) else value


def _negate(value: Any) -> Any:
    """An old "allow" flag turned into the new "block" flag (anything else is left for the checks)."""
    return not value if isinstance(value, bool) else value


_LEGACY_MOVES: dict[tuple[str, str], tuple[str, Callable[[Any], Any]]] = {
    ("os_updates", "max_patch_age_days"): ("device_health.max_patch_age_days", lambda v: v),
    ("os_updates", "patch_grace_days"): ("device_health.patch_grace_days", lambda v: v),
    ("os_updates", "min_os_version"): ("device_health.min_os_version", lambda v: v),
    ("os_updates", "install_window"): ("software_updates.install_window", lambda v: v),
    ("integrity", "allow_compromised"): ("device_health.block_compromised", lambda v: _negate(v)),
    ("check_in", "max_age_days"): ("device_health.max_checkin_age_days", lambda v: v),
    ("passcode", "max_inactivity_minutes"): ("passcode.auto_lock_minutes", lambda v: v),
    ("restrictions", "camera"): ("connections.camera_allowed", lambda v: v),
    ("restrictions", "screen_capture"): ("data_transfer.screen_capture_allowed", lambda v: v),
    ("restrictions", "usb_file_transfer"): ("connections.usb_data_allowed", lambda v: v),
    ("data_separation", "work_profile"): ("containerisation.work_profile_required", lambda v: v),
    ("data_separation", "copy_paste_to_personal"): ("data_transfer.managed_to_unmanaged_paste", lambda v: v),
    ("data_separation", "managed_open_in"): (
        "data_transfer.managed_open_in_unmanaged",
        lambda v: _negate(v),
    ),
    ("escalation", "notify_after_days"): ("escalation.notify_after_hours", lambda v: _days_to_hours(v)),
}  # fmt: skip
_LEGACY_GROUPS = frozenset(g for g, _ in _LEGACY_MOVES) | {"wifi"}
_LEGACY_PLATFORM_KEYS = frozenset(p.value for p in Platform)
"""Old drafts named per-platform encryption methods inside ``encryption``; they are kept as extras."""

_LEGACY_WIFI_SECURITY = {
    "open": "open",
    "none": "open",
    "wpa2": "wpa2_personal",
    "wpa2-personal": "wpa2_personal",
    "wpa3": "wpa3_personal",
    "wpa3-personal": "wpa3_personal",
    "wpa2-enterprise": "wpa2_enterprise",
    "wpa3-enterprise": "wpa3_enterprise",
}
_LEGACY_EAP = {"eap-tls": "tls", "peap": "peap", "eap-ttls": "ttls", "ttls": "ttls", "tls": "tls"}


def _migrate(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Split ``data`` into known groups (old keys moved to their new place), extras, and notes."""
    known: dict[str, dict[str, Any]] = {}
    extras: dict[str, Any] = {}
    notes: list[str] = []
    for group, body in data.items():
        if group in GROUP_TYPES and isinstance(body, Mapping):
            target = known.setdefault(group, {})
            for name, value in body.items():
                move = _LEGACY_MOVES.get((group, name))
                if move is not None:
                    new_group, new_name = move[0].split(".", 1)
                    known.setdefault(new_group, {}).setdefault(new_name, move[1](value))
                    notes.append(f"'{group}.{name}' is now '{move[0]}'.")
                elif group == "encryption" and name in _LEGACY_PLATFORM_KEYS:
                    extras[f"{group}.{name}"] = value
                else:
                    target[name] = value
        elif group in _LEGACY_GROUPS and isinstance(body, Mapping):
            left: dict[str, Any] = {}
            if group == "wifi":
                known.setdefault("connections", {}).setdefault("allowed_wifi", [_legacy_network(body)])
                notes.append("'wifi' is now 'connections.allowed_wifi'.")
                continue
            for name, value in body.items():
                move = _LEGACY_MOVES.get((group, name))
                if move is None:
                    left[name] = value
                    continue
                new_group, new_name = move[0].split(".", 1)
                known.setdefault(new_group, {}).setdefault(new_name, move[1](value))
                notes.append(f"'{group}.{name}' is now '{move[0]}'.")
                if new_name == "install_window":  # an old install window meant automatic installs in it
                    known[new_group].setdefault("auto_install", True)
            if left:
                extras[group] = left
        elif group in GROUP_TYPES:
            known[group] = body  # not an object: reported by the checks
        else:
            extras[group] = body
    for path in sorted(extras):
        notes.append(f"'{path}' is not a setting this version knows; it is kept unchanged.")
    return known, extras, notes


def split_settings(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw values of the known groups (old keys moved to their new place) and the extras, unchecked.

    For an editor that must show a draft even while some of its values are wrong.
    """
    known, extras, _ = _migrate(data)
    return known, extras


def _legacy_network(body: Mapping[str, Any]) -> Any:
    security = body.get("security")
    eap = body.get("eap")
    out: dict[str, Any] = {"ssid": body.get("ssid")}
    out["security"] = _LEGACY_WIFI_SECURITY.get(security.lower(), security) if isinstance(security, str) else security
    if eap is not None:
        out["eap"] = _LEGACY_EAP.get(eap.lower(), eap) if isinstance(eap, str) else eap
    return out


# -- parsing --------------------------------------------------------------------------------------------------------

LIST_MAX = 500
APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$")
VERSION = re.compile(r"^\d{1,5}(\.\d{1,5}){0,3}$")
WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _describe(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_value(s: SettingSpec, value: Any, problems: list[SettingProblem]) -> Any:
    """The typed value of ``s``, or the default after adding a problem."""

    def bad(why: str) -> Any:
        problems.append(SettingProblem(s.key, f"{s.label} ({s.key}): {why}"))
        return s.default

    if value is None:
        return None if s.nullable else bad("a value is required.")
    if s.kind is SettingKind.BOOL:
        return value if isinstance(value, bool) else bad(f"must be true or false, not {_describe(value)}.")
    if s.kind is SettingKind.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            return bad(f"must be a whole number, not {_describe(value)}.")
        assert s.minimum is not None
        assert s.maximum is not None
        if not s.minimum <= value <= s.maximum:
            unit = f" {s.unit}" if s.unit else ""
            return bad(f"{value} is out of range; use {s.minimum} to {s.maximum}{unit}.")
        return value
    if s.kind is SettingKind.CHOICE:
        if value not in s.choices:
            return bad(f"{_describe(value)} is not one of {', '.join(s.choices)}.")
        return value
    if s.kind is SettingKind.TEXT_LIST and s.key == "escalation.notify_only_rules":
        return _parse_rule_list(value, bad)
    if s.kind is SettingKind.TEXT_LIST:
        return _parse_app_list(s, value, bad)
    if s.kind is SettingKind.VERSION_MAP:
        return _parse_version_map(value, bad)
    if s.kind is SettingKind.WIFI_LIST:
        return _parse_wifi(value, bad)
    if s.kind is SettingKind.TIME_WINDOW:
        match = WINDOW.match(value) if isinstance(value, str) else None
        if match is None:
            return bad(f"{_describe(value)} is not a window such as 02:00-04:00.")
        hours = [int(x) for x in match.groups()]
        window = TimeWindow(hours[0] * 60 + hours[1], hours[2] * 60 + hours[3])
        return window if window.minutes >= 30 else bad("the window must be at least 30 minutes long.")
    if s.kind is SettingKind.DATE:
        if isinstance(value, str) and len(value) == 10:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        return bad(f"{_describe(value)} is not a date such as 2027-03-31.")
    raise AssertionError(s.kind)  # pragma: no cover


def _parse_app_list(s: SettingSpec, value: Any, bad: Callable[[str], Any]) -> Any:
    if not isinstance(value, list | tuple):
        return bad(f"must be a list of app identifiers, not {_describe(value)}.")
    if len(value) > LIST_MAX:
        return bad(f"has {len(value)} entries; use at most {LIST_MAX}.")
    wrong = [item for item in value if not isinstance(item, str) or len(item) > 255 or not APP_ID.match(item)]
    if wrong:
        return bad(f"{_describe(wrong[0])} is not an app identifier such as com.example.app.")
    return tuple(sorted(set(value)))


RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
"""A compliance rule id (``health.max_patch_age``), or a family of them (``apps.required`` covers
``apps.required:com.example.app``)."""


def _parse_rule_list(value: Any, bad: Callable[[str], Any]) -> Any:
    if not isinstance(value, list | tuple):
        return bad(f"must be a list of compliance rule ids, not {_describe(value)}.")
    if len(value) > LIST_MAX:
        return bad(f"has {len(value)} entries; use at most {LIST_MAX}.")
    wrong = [item for item in value if not isinstance(item, str) or not RULE_ID.match(item)]
    if wrong:
        return bad(f"{_describe(wrong[0])} is not a compliance rule id such as passcode.required.")
    return tuple(sorted(set(value)))


def _parse_version_map(value: Any, bad: Callable[[str], Any]) -> Any:
    if not isinstance(value, Mapping):
        return bad(f'must name a version per platform (e.g. {{"ios": "18.6"}}), not {_describe(value)}.')
    pairs: list[tuple[Platform, str]] = []
    for name, version in value.items():
        try:
            platform = Platform(name)
        except ValueError:
            return bad(f"{_describe(name)} is not a platform; use {', '.join(p.value for p in Platform)}.")
        if not isinstance(version, str) or not VERSION.match(version):
            return bad(f"the {platform.label} version {_describe(version)} is not a version such as 18.6.")
        pairs.append((platform, version))
    return tuple(sorted(pairs))


def _parse_wifi(value: Any, bad: Callable[[str], Any]) -> Any:
    if not isinstance(value, list | tuple):
        return bad(f"must be a list of networks, not {_describe(value)}.")
    if len(value) > 64:
        return bad(f"has {len(value)} networks; use at most 64.")
    networks: dict[str, WifiNetwork] = {}
    for item in value:
        if not isinstance(item, Mapping) or set(item) - {"ssid", "security", "eap"}:
            return bad(f"{_describe(item)} is not a network (ssid, security and, for enterprise networks, eap).")
        ssid = item.get("ssid")
        if not isinstance(ssid, str) or not 1 <= len(ssid.encode()) <= 32 or any(ord(c) < 32 for c in ssid):
            return bad(f"the network name {_describe(ssid)} must be 1 to 32 bytes of text.")
        try:
            security = WifiSecurity(str(item.get("security")))
        except ValueError:
            choices = ", ".join(w.value for w in WifiSecurity)
            return bad(f"network '{ssid}': security {_describe(item.get('security'))} is not one of {choices}.")
        eap_value = item.get("eap")
        if security.enterprise:
            try:
                eap: EapMethod | None = EapMethod(eap_value if eap_value is not None else "tls")
            except ValueError:
                choices = ", ".join(e.value for e in EapMethod)
                return bad(f"network '{ssid}': EAP method {_describe(eap_value)} is not one of {choices}.")
        elif eap_value is not None:
            return bad(f"network '{ssid}': an EAP method applies only to enterprise networks.")
        else:
            eap = None
        if ssid in networks:
            return bad(f"network '{ssid}' is listed twice.")
        networks[ssid] = WifiNetwork(ssid, security, eap)
    return tuple(sorted(networks.values()))


def _cross_checks(settings: PolicySettings) -> list[SettingProblem]:
    """Rules between settings that no single value can break."""
    problems: list[SettingProblem] = []
    if settings.encryption.required and not settings.passcode.required:
        problems.append(
            SettingProblem(
                "passcode.required",
                "Passcode required (passcode.required): storage encryption is required, and phones and tablets "
                "protect their data with a key made from the passcode; require a passcode too.",
            )
        )
    apps = settings.apps
    both = sorted(set(apps.required) & set(apps.blocked))
    if both:
        problems.append(
            SettingProblem("apps.blocked", f"Blocked apps (apps.blocked): {', '.join(both)} is also required.")
        )
    if apps.allowed is not None:
        outside = sorted(set(apps.required) - set(apps.allowed))
        if outside:
            problems.append(
                SettingProblem(
                    "apps.allowed", f"Allowed apps (apps.allowed): required app {', '.join(outside)} is not allowed."
                )
            )
        clash = sorted(set(apps.allowed) & set(apps.blocked))
        if clash:
            problems.append(
                SettingProblem(
                    "apps.allowed", f"Allowed apps (apps.allowed): {', '.join(clash)} is both allowed and blocked."
                )
            )
    conn = settings.connections
    if not conn.untrusted_wifi_allowed and not conn.allowed_wifi:
        problems.append(
            SettingProblem(
                "connections.allowed_wifi",
                "Allowed Wi-Fi networks (connections.allowed_wifi): devices may join only listed networks, but "
                "none is listed; add the clinic's networks.",
            )
        )
    health = settings.device_health
    if health.patch_grace_days and health.max_patch_age_days is None:
        problems.append(
            SettingProblem(
                "device_health.patch_grace_days",
                "Grace period for a late patch (device_health.patch_grace_days): set a maximum security patch age "
                "first.",
            )
        )
    updates = settings.software_updates
    if updates.required_by is not None and not updates.required_version:
        problems.append(
            SettingProblem(
                "software_updates.required_by",
                "Required version by (software_updates.required_by): name the required OS version too.",
            )
        )
    problems.extend(ladder_problems(settings.escalation))
    if updates.install_window is not None and not updates.auto_install:
        problems.append(
            SettingProblem(
                "software_updates.install_window",
                "Install window (software_updates.install_window): applies only when updates install "
                "automatically; turn that on or clear the window.",
            )
        )
    return problems


def ladder_problems(ladder: EscalationSettings) -> list[SettingProblem]:
    """Each escalation step the policy takes must come no earlier than the steps below it."""
    steps = [
        ("escalation.notify_after_hours", "notify", ladder.notify_after_hours),
        ("escalation.quarantine_after_days", "quarantine", None if ladder.quarantine_after_days is None
         else ladder.quarantine_after_days * 24),
        ("escalation.lock_after_days", "lock", None if ladder.lock_after_days is None else ladder.lock_after_days * 24),
        ("escalation.wipe_after_days", "wipe", None if ladder.wipe_after_days is None else ladder.wipe_after_days * 24),
    ]  # fmt: skip
    problems: list[SettingProblem] = []
    below: tuple[str, int] | None = None
    for key, name, hours in steps:
        if hours is None:
            continue
        if below is not None and hours < below[1]:
            problems.append(
                SettingProblem(key, f"{SPECS_BY_KEY[key].label} ({key}): the {name} step comes before the "
                               f"{below[0]} step; give it a longer delay or clear it.")
            )  # fmt: skip
        below = (name, hours)
    return problems


def check_settings(data: Any) -> SettingsCheck:
    """Validate a stored or submitted settings object and build :class:`PolicySettings`.

    Missing settings take their defaults; old group names are migrated; unknown groups are kept in
    :attr:`PolicySettings.extra`; unknown keys inside known groups are errors (they are usually
    typing mistakes). Every problem is collected, not only the first.
    """
    if not isinstance(data, Mapping):
        problem = SettingProblem("", f"Policy settings must be a JSON object, not {_describe(data)}.")
        return SettingsCheck(None, (problem,), ())
    known, extras, notes = _migrate(data)
    problems: list[SettingProblem] = []
    groups: dict[str, Any] = {}
    for group, cls in GROUP_TYPES.items():
        body = known.get(group, {})
        if not isinstance(body, Mapping):
            problems.append(SettingProblem(group, f"{GROUP_LABELS[group]} ({group}) must be a set of named values."))
            body = {}
        values: dict[str, Any] = {}
        for name, value in body.items():
            s = SPECS_BY_KEY.get(f"{group}.{name}")
            if s is None:
                problems.append(
                    SettingProblem(f"{group}.{name}", f"'{group}.{name}' is not a setting of {GROUP_LABELS[group]}.")
                )
                continue
            values[name] = _parse_value(s, value, problems)
        groups[group] = cls(**values)
    kept: list[tuple[str, str]] = []
    for path, value in extras.items():
        try:
            kept.append((path, json.dumps(value, sort_keys=True, allow_nan=False)))
        except (TypeError, ValueError):
            problems.append(SettingProblem(path, f"'{path}' holds a value that cannot be stored as JSON."))
    extra = tuple(sorted(kept))
    settings = PolicySettings(**groups, extra=extra)
    if not problems:
        problems.extend(_cross_checks(settings))
    if problems:
        return SettingsCheck(None, tuple(problems), tuple(notes))
    return SettingsCheck(settings, (), tuple(notes))


def parse_settings(data: Any) -> PolicySettings:
    """Typed settings from a settings object.

    Raises:
        SettingsError: One or more settings are wrong; ``problems`` lists each, naming the setting and why.
    """
    result = check_settings(data)
    if result.settings is None:
        raise SettingsError(result.problems)
    return result.settings


# -- merging --------------------------------------------------------------------------------------------------------


def _merge_values(s: SettingSpec, a: Any, b: Any) -> Any:
    rule = s.merge
    if rule is MergeRule.TRUE_WINS:
        return a or b
    if rule is MergeRule.FALSE_WINS:
        return a and b
    if rule is MergeRule.STRICTER_CHOICE:
        return max(a, b, key=s.choices.index)
    if rule is MergeRule.UNION:
        return tuple(sorted(set(a) | set(b)))
    if a is None or (rule is MergeRule.HIGHER_VERSION and not a):
        return b
    if b is None or (rule is MergeRule.HIGHER_VERSION and not b):
        return a
    if rule in (MergeRule.HIGHER_WINS,):
        return max(a, b)
    if rule in (MergeRule.LOWER_WINS, MergeRule.EARLIER_DATE):
        return min(a, b)
    if rule is MergeRule.INTERSECTION:
        return tuple(sorted(set(a) & set(b)))
    if rule is MergeRule.HIGHER_VERSION:
        merged = dict(a)
        for platform, version in b:
            current = merged.get(platform)
            if current is None or _version_key(version) > _version_key(current):
                merged[platform] = version
        return tuple(sorted(merged.items()))
    if rule is MergeRule.WIFI_INTERSECTION:
        theirs = {n.ssid: n for n in b}
        both = [max(n, theirs[n.ssid], key=lambda x: (x.strength, x)) for n in a if n.ssid in theirs]
        return tuple(sorted(both))
    if rule is MergeRule.NARROWER_WINDOW:
        return min(a, b, key=lambda w: (w.minutes, w.start))
    raise AssertionError(rule)  # pragma: no cover


def _version_key(version: str) -> tuple[Any, ...]:
    """Numeric order first, then the text (so "14" and "14.0" still order the same way every time)."""
    return (version_sort_key(version), version)


def at_least_as_restrictive(s: SettingSpec, a: Any, b: Any) -> bool:
    """Whether value ``a`` of setting ``s`` is at least as restrictive as ``b``."""
    return bool(_merge_values(s, a, b) == a)


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The settings a device gets from several policies, and where each value came from.

    Attributes:
        settings: The merged settings (most restrictive value of each setting; no extras).
        sources: Per setting key, the labels of the policies whose own value is the merged one; for
            values built from several policies (unions, intersections), every policy that contributed.
        conflicts: Clashes between merged settings, in plain words (an app both required and blocked).
    """

    settings: PolicySettings
    sources: Mapping[str, tuple[str, ...]]
    conflicts: tuple[str, ...]


def merge_settings(policies: Iterable[tuple[str, PolicySettings]]) -> MergeResult:
    """Merge the settings of every policy that applies to one device: the most restrictive value wins.

    Each setting merges on its own by its :class:`MergeRule` (minimum length: the highest; permission
    flags: allowed only if all allow; maximum ages: the lowest; blocked and required lists: all of them;
    allowed lists: only what all allow; minimum versions: the highest per platform). The merge is
    commutative, associative and idempotent. Extras (groups this model does not know) are not merged.

    Args:
        policies: ``(label, settings)`` per policy; the label names it in :attr:`MergeResult.sources`.

    Raises:
        ValueError: No policy was given.
    """
    items = list(policies)
    if not items:
        raise ValueError("merge_settings needs at least one policy")
    merged: dict[str, Any] = {}
    sources: dict[str, tuple[str, ...]] = {}
    for s in SETTING_SPECS:
        values = [(label, settings.value(s.key)) for label, settings in items]
        result = values[0][1]
        for _, value in values[1:]:
            result = _merge_values(s, result, value)
        merged[s.key] = result
        exact = sorted({label for label, value in values if value == result})
        if not exact:
            exact = sorted({label for label, value in values if value != s.default})
        sources[s.key] = tuple(exact)
    settings = PolicySettings().with_values(merged)
    return MergeResult(settings, sources, _merge_conflicts(settings))


def _merge_conflicts(settings: PolicySettings) -> tuple[str, ...]:
    conflicts: list[str] = []
    apps = settings.apps
    for app in sorted(set(apps.required) & set(apps.blocked)):
        conflicts.append(f"{app} is required by one policy and blocked by another; blocked wins.")
    if apps.allowed is not None:
        for app in sorted(set(apps.required) - set(apps.allowed)):
            conflicts.append(f"{app} is required by one policy but not on another's allowed list; it is not allowed.")
    conn = settings.connections
    if not conn.untrusted_wifi_allowed and not conn.allowed_wifi:
        conflicts.append("No Wi-Fi network is allowed by every policy, and networks outside the lists are blocked.")
    return tuple(conflicts)


def default_settings() -> PolicySettings:
    """Every setting at its default."""
    return PolicySettings()
