"""Demo fleet: fill a store with a realistic clinic to try the console on.

One call, one transaction, one audited system action (``demo.generate``): device
groups, console accounts, policies with published versions and assignments,
catalog apps with versions, devices with their inventory, installed apps and
command history, and a few thousand audit entries of plausible past activity.
The compliance engine then evaluates the fleet, and ``demo_compliance`` adds
exceptions, escalation steps and 90 days of compliance trend.

Devices are written with bulk Core inserts in batches, so 100,000 devices fill
in well under a minute on SQLite. Identifiers and staff names are sealed like
any other device's. The data is deterministic for a given seed and clock,
except what must be random: row uids, AES-GCM nonces, passwords and the
administrator's authenticator secret (enrolled so the console's TOTP sign-in can
be tried at once; sealed like any TOTP secret).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
import string
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, func, insert, select, text

from mdm_desktop.domain.accounts import Principal, Role, password_problems
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform, version_sort_key
from mdm_desktop.domain.errors import ConflictError, ValidationError
from mdm_desktop.security import totp
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services import demo_compliance
from mdm_desktop.services import demo_data as data
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.auth import enrol_totp_secret
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import DemoAccount, DemoResult
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.repositories.devices import seal_identifiers
from mdm_desktop.store.schema import (
    AuditEntry,
    Base,
    CatalogApp,
    CatalogAppVersion,
    Device,
    DeviceCommand,
    DeviceGroup,
    EnrollmentToken,
    InstalledApp,
    Policy,
    PolicyAssignment,
    PolicyVersion,
    User,
    new_uid,
)
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_DEVICES = 1_000_000
BATCH_SIZE = 5_000
SQLITE_FILL_CACHE_KIB = 131_072
HISTORY_DAYS = 90
MAX_HISTORY_ENTRIES = 3_000
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.!"

T = TypeVar("T")
Progress = Callable[[int, int], None]
AuditLogFactory = Callable[[Clock], AuditLog]


# -- policies ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PolicyPlan:
    key: str
    name: str
    description: str
    versions: tuple[Mapping[str, Any], ...]
    groups: str  # "all", "shared" (nurse stations and front desk) or "" (not assigned)
    ownership: Ownership | None
    notes: tuple[str, ...] = ()  # one per version


def _mobile_baseline(version: int) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "scope": {"platforms": ["ios", "ipados", "android"], "ownership": "corporate"},
        "passcode": {"required": True, "min_length": 4 if version < 2 else 6, "max_inactivity_minutes": 5},
        "encryption": {"required": True},
        "os_updates": {"max_patch_age_days": 120 if version < 3 else 90, "patch_grace_days": 30},
        "integrity": {"allow_compromised": False},
        "check_in": {"max_age_days": 14},
        "restrictions": {"camera": True, "screen_capture": version < 2, "usb_file_transfer": False},
        "apps": {"required": ["com.medchart.ehr.mobile", "com.carelink.securemessaging"]},
        "wifi": {"ssid": "CLINIC-STAFF", "security": "WPA3-Enterprise", "eap": "EAP-TLS"},
    }
    if version >= 3:
        settings["os_updates"]["min_os_version"] = {"ios": "18.6", "ipados": "18.6", "android": "14"}
    if version >= 4:
        settings["escalation"] = {"notify_after_days": 0, "quarantine_after_days": 7}
    return settings


def _shared_tablets(version: int) -> dict[str, Any]:
    return {
        "scope": {"platforms": ["ipados", "android"], "ownership": "corporate"},
        "shared_device": {"mode": "shift", "sign_out_after_minutes": 15 if version < 2 else 10},
        "passcode": {"required": True, "min_length": 6, "max_inactivity_minutes": 2},
        "encryption": {"required": True},
        "os_updates": {
            "max_patch_age_days": 90,
            "patch_grace_days": 30,
            "min_os_version": {"ipados": "18.6", "android": "14"},
            "install_window": "02:00-04:00",
        },
        "integrity": {"allow_compromised": False},
        "check_in": {"max_age_days": 7},
        "restrictions": {"camera": False, "app_store": "none", "single_app": version >= 2},
        "apps": {"required": ["com.medchart.ehr.mobile", "org.clinic.checkin"]},
    }


def _byod(version: int) -> dict[str, Any]:
    return {
        "scope": {"platforms": ["ios", "android"], "ownership": "byod"},
        "passcode": {"required": True, "min_length": 6},
        "encryption": {"required": True},
        "os_updates": {
            "max_patch_age_days": 120,
            "patch_grace_days": 30,
            "min_os_version": {"ios": "18.0", "android": "13" if version < 3 else "14"},
        },
        "integrity": {"allow_compromised": False},
        "check_in": {"max_age_days": 30},
        "data_separation": {"work_profile": True, "copy_paste_to_personal": version < 2, "managed_open_in": True},
        "privacy": {"collect_personal_apps": False, "location": "lost_mode_only"},
        "wipe": {"allowed": "selective_only"},
    }


def _workstations(version: int) -> dict[str, Any]:
    return {
        "scope": {"platforms": ["windows", "macos", "linux"]},
        "passcode": {"required": True, "min_length": 12, "max_inactivity_minutes": 10 if version < 4 else 5},
        "encryption": {"required": True, "windows": "BitLocker XTS-AES 256", "macos": "FileVault", "linux": "LUKS2"},
        "os_updates": {
            "max_patch_age_days": 60,
            "patch_grace_days": 30,
            "min_os_version": {"windows": "10.0.22631", "macos": "14.8"} if version >= 3 else {"windows": "10.0.19045"},
        },
        "integrity": {"allow_compromised": False},
        "check_in": {"max_age_days": 14},
        "firewall": {"required": True},
        "usb_storage": "blocked" if version >= 2 else "read_only",
        "local_admin": {"allowed": False, "laps": version >= 5},
    }


def _escalation_draft() -> dict[str, Any]:
    return {
        "escalation": {
            "notify_after_days": 0,
            "quarantine_after_days": 3,
            "lock_after_days": 10,
            "wipe_after_days": None,
        },
        "lost_mode": {"message": "This device belongs to the clinic. Please call +1 555 0100.", "location": True},
    }


POLICY_PLANS: tuple[_PolicyPlan, ...] = (
    _PolicyPlan(
        "mobile",
        "Clinical mobile baseline",
        "Clinic-owned phones, tablets and rugged handhelds: passcode, encryption, patch age, integrity.",
        tuple(_mobile_baseline(v) for v in range(1, 5)),
        "all",
        Ownership.CORPORATE,
        (
            "Initial baseline for clinic phones and tablets.",
            "Passcode of 6 or more; screen capture blocked after the HIPAA risk review.",
            "Security patch at most 90 days old; minimum iOS/iPadOS 18.6 and Android 14.",
            "Escalation: quarantine after 7 days of non-compliance.",
        ),
    ),
    _PolicyPlan(
        "shared",
        "Shared nurse tablets",
        "Tablets shared across shifts at nurse stations and check-in kiosks: short lock, single app, night updates.",
        tuple(_shared_tablets(v) for v in range(1, 3)),
        "shared",
        Ownership.CORPORATE,
        ("Shift sign-out after 15 minutes; camera off.", "Single-app mode for kiosks; sign-out after 10 minutes."),
    ),
    _PolicyPlan(
        "byod",
        "BYOD work profile",
        "Staff-owned phones: work profile only, no personal data collected, selective wipe only.",
        tuple(_byod(v) for v in range(1, 4)),
        "all",
        Ownership.BYOD,
        (
            "Work profile only; no inventory of personal apps.",
            "Copy and paste from work to personal apps blocked.",
            "Minimum Android 14.",
        ),
    ),
    _PolicyPlan(
        "workstation",
        "Workstation security",
        "Windows, macOS and Linux computers: disk encryption, screen lock, firewall, monthly patches.",
        tuple(_workstations(v) for v in range(1, 6)),
        "all",
        None,
        (
            "Disk encryption (BitLocker, FileVault, LUKS) and screen lock.",
            "USB storage blocked.",
            "Minimum Windows 11 23H2 and macOS 14.8.",
            "Screen lock after 5 minutes.",
            "Local administrator passwords rotated (LAPS).",
        ),
    ),
    _PolicyPlan(
        "escalation",
        "Lost-device escalation",
        "Draft: escalate non-compliance from notification to quarantine and lock (under review).",
        (),
        "",
        None,
    ),
)
SHARED_POLICY_GROUPS = frozenset({"NS", "FD"})


# -- generation helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Operator:
    id: int
    username: str
    role: Role
    workstation: str

    def principal(self) -> Principal:
        return Principal("user", self.id, self.username, self.role, self.workstation)


@dataclass(slots=True)
class _CommandNote:
    """A command worth an audit entry in the history."""

    at: dt.datetime
    uid: str
    type: str
    status: str
    device_uid: str
    created_by: str
    reason: str


@dataclass(slots=True)
class _Samples:
    """Small samples of what was generated, for the audit history (never the whole fleet)."""

    rng: random.Random
    limit: int
    seen_devices: int = 0
    seen_commands: int = 0
    devices: list[tuple[str, str]] = field(default_factory=list)
    commands: list[_CommandNote] = field(default_factory=list)
    notable: list[_CommandNote] = field(default_factory=list)

    def device(self, uid: str, name: str) -> None:
        self.seen_devices += 1
        if len(self.devices) < self.limit:
            self.devices.append((uid, name))
        else:
            j = self.rng.randrange(self.seen_devices)
            if j < self.limit:
                self.devices[j] = (uid, name)

    def command(self, note: _CommandNote, *, notable: bool) -> None:
        if notable:
            if len(self.notable) < self.limit:
                self.notable.append(note)
            return
        self.seen_commands += 1
        if len(self.commands) < self.limit:
            self.commands.append(note)
        else:
            j = self.rng.randrange(self.seen_commands)
            if j < self.limit:
                self.commands[j] = note


class _ReplayClock:
    """A clock the history writer moves to each past event's time."""

    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _tac(model: str) -> str:
    """A stable, plausible type allocation code (first 8 IMEI digits) per model."""
    digest = hashlib.sha256(model.encode()).hexdigest()
    return "35" + str(int(digest[:12], 16))[-6:].zfill(6)


def _months_back(day: dt.date, months: int) -> tuple[int, int]:
    index = day.year * 12 + (day.month - 1) - months
    return index // 12, index % 12 + 1


def _patch_tuesday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    first_tuesday = first + dt.timedelta(days=(1 - first.weekday()) % 7)
    return first_tuesday + dt.timedelta(days=7)


def _weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


class _Pick(Generic[T]):
    """A weighted choice with its cumulative weights computed once."""

    def __init__(self, options: Iterable[tuple[T, float]]) -> None:
        self.items: list[T] = []
        self.cum: list[float] = []
        total = 0.0
        for item, weight in options:
            total += weight
            self.items.append(item)
            self.cum.append(total)

    def __call__(self, rng: random.Random) -> T:
        return rng.choices(self.items, cum_weights=self.cum)[0]


class _Fleet:
    """Draws devices, their apps and commands from the catalogue with one seeded generator."""

    def __init__(
        self,
        rng: random.Random,
        now: dt.datetime,
        groups: Mapping[str, int],
        catalog: Mapping[tuple[Platform, str], tuple[str, tuple[str, ...]]],
        operators: Sequence[_Operator],
    ) -> None:
        self.rng = rng
        self.now = now
        self.groups = groups
        self.catalog = catalog
        self.destructive_ops = [o for o in operators if o.role in (Role.ADMINISTRATOR, Role.IT_TECHNICIAN)]
        self.any_ops = [o for o in operators if o.role is not Role.SECURITY_OFFICER]
        self.used_serials: set[str] = set()
        self.used_hardware: set[str] = set()
        self.pick_dept = _Pick((d, d.weight) for d in data.DEPARTMENTS)
        self.pick_kind = {d.code: _Pick(d.kinds) for d in data.DEPARTMENTS}
        kinds = sorted({hw.kind for hw in data.HARDWARE})
        self.pick_model = {k: _Pick((hw, hw.weight) for hw in data.HARDWARE if hw.kind == k) for k in kinds}
        self.pick_release = {
            (p, major): _Pick((r, r.weight) for r in data.OS_RELEASES if r.platform is p and r.major == major)
            for p, major in sorted({(r.platform, r.major) for r in data.OS_RELEASES})
        }
        self.pick_lag = {key: _Pick(lags) for key, lags in data.PATCH_LAGS.items()}
        self.catalog_keys: dict[Platform, list[str]] = {}
        for platform, key in catalog:
            self.catalog_keys.setdefault(platform, []).append(key)
        self.latest_os = {
            p: max((r.version for r in data.OS_RELEASES if r.platform is p), key=version_sort_key) for p in Platform
        }

    # identifiers ----------------------------------------------------------------------------------------

    def _unique(self, used: set[str], make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in used:
                used.add(value)
                return value

    def _chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def serial(self, style: str) -> str:
        up, dig = string.ascii_uppercase, string.digits
        apple = "CDFGHJKLMNPQRTVWXY" + dig
        makers: dict[str, Callable[[], str]] = {
            "apple": lambda: self._chars(apple, 10),
            "samsung": lambda: "R" + self.rng.choice("5FZ") + self.rng.choice("CGKNTW") + self._chars(up + dig, 8),
            "pixel": lambda: (
                self._chars(dig, 2) + self._chars(up + dig, 3) + "FDH" + self._chars(dig, 4) + self._chars(up, 2)
            ),
            "motorola": lambda: "ZY" + self._chars(up + dig, 8),
            "zebra": lambda: f"{self.rng.randint(22, 25)}{self.rng.randint(1, 365):03d}" + self._chars(dig, 9),
            "dell": lambda: self._chars(up + dig, 7),
            "lenovo": lambda: self.rng.choice(("PF", "PW", "MJ")) + self._chars(up + dig, 6),
            "hp": lambda: self.rng.choice(("5CG", "CZC", "2UA")) + self._chars(dig, 3) + self._chars(up + dig, 4),
            "surface": lambda: self._chars(dig, 12),
        }
        return self._unique(self.used_serials, makers[style])

    def hardware_id(self, style: str, model: str, vendor: str) -> str:
        hexu = "0123456789ABCDEF"

        def imei() -> str:
            body = _tac(model) + self._chars(string.digits, 6)
            return body + _luhn_digit(body)

        def mac() -> str:
            oui = {"Zebra": "94:FB:29", "Samsung": "8C:F5:A3"}.get(vendor, "3C:5A:B4")
            return oui + "".join(f":{self.rng.randrange(256):02X}" for _ in range(3))

        makers: dict[str, Callable[[], str]] = {
            "imei": imei,
            "mac": mac,
            "udid": lambda: f"0000{self.rng.choice(('8030', '8101', '8110', '8120'))}-" + self._chars(hexu, 16),
            "uuid": lambda: str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper(),
            "smbios": lambda: str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper(),
            "machine_id": lambda: f"{self.rng.getrandbits(128):032x}",
        }
        return self._unique(self.used_hardware, makers[style])

    def staff_name(self) -> str:
        first = self.rng.choice(data.FIRST_NAMES)
        last = self.rng.choice(data.LAST_NAMES)
        if self.rng.random() < 0.35:
            return f"{first} {self.rng.choice(string.ascii_uppercase)}. {last}"
        return f"{first} {last}"

    # inventory ------------------------------------------------------------------------------------------

    def security_patch(self, hw: data.HardwareModel, major: int, reference: dt.datetime) -> dt.date | None:
        platform = hw.platform
        if platform in (Platform.IOS, Platform.IPADOS, Platform.MACOS):
            return None
        day = reference.date()
        if platform is Platform.ANDROID:
            lag = self.pick_lag[hw.patch_lag or "samsung"](self.rng)
            if major <= 13:
                lag += self.rng.choice((0, 1, 2, 4))
            year, month = _months_back(day, lag)
            patch = dt.date(year, month, 5 if self.rng.random() < 0.6 else 1)
            if patch > day:
                year, month = _months_back(day, lag + 1)
                patch = dt.date(year, month, patch.day)
            return patch
        if platform is Platform.WINDOWS:
            lag = self.pick_lag["windows"](self.rng)
            patch = _patch_tuesday(*_months_back(day, lag))
            if patch > day:
                patch = _patch_tuesday(*_months_back(day, lag + 1))
            return patch
        lag = self.pick_lag["linux"](self.rng)
        return day - dt.timedelta(days=lag * 30 + self.rng.randrange(0, 21))

    def build_and_firmware(self, hw: data.HardwareModel, rel: data.OsRelease, patch: dt.date | None) -> tuple[str, str]:
        rng = self.rng
        if hw.platform in (Platform.IOS, Platform.IPADOS, Platform.MACOS):
            iboot = {14: "10151", 15: "11881", 18: "11881", 26: "13822"}.get(rel.major, "13822")
            firmware = f"iBoot-{iboot}.{rng.randint(1, 140)}.{rng.randint(1, 9)}"
            if hw.platform is Platform.IOS:
                firmware += f"; modem {rng.randint(1, 5)}.{rng.randint(0, 9)}{rng.randint(0, 9)}.0{rng.randint(1, 9)}"
            return rel.build, firmware
        if hw.platform is Platform.ANDROID:
            stamp = (patch or self.now.date()).strftime("%y%m%d")
            if hw.vendor == "Zebra":
                level = f"{rel.major}-{rng.randint(10, 32)}-{rng.randint(1, 20):02d}.00"
                suffix = "TG" if rel.major == 13 else "UG"
                return f"{level}-{suffix}-U{rng.randint(0, 60):02d}-STD-HEL-04", f"LifeGuard {level}"
            build = f"{rel.build}.{stamp}.{rng.randint(1, 40):03d}"
            if hw.vendor == "Samsung":
                code = hw.model.replace("Galaxy ", "").replace(" ", "")[:5].upper()
                return build, f"Baseband {code}XXS{rng.randint(2, 9)}{rng.choice('ABC')}Y{rng.choice('GHIJK')}1"
            return build, f"Baseband g5300{rng.choice('gq')}-{stamp}-B-{rng.randint(10**7, 10**8 - 1)}"
        bios = {
            "Dell": lambda: f"Dell BIOS 1.{rng.randint(8, 22)}.{rng.randint(0, 3)}",
            "Lenovo": lambda: f"Lenovo N3{rng.choice('VXY')}ET{rng.randint(40, 90)}W (1.{rng.randint(20, 60)})",
            "HP": lambda: f"HP U{rng.randint(21, 80)} Ver. 01.{rng.randint(2, 9):02d}.{rng.randint(0, 20):02d}",
            "Microsoft": lambda: (
                f"Surface UEFI {rng.randint(150, 170)}.{rng.randint(100, 300)}.{rng.randint(100, 200)}"
            ),
        }
        firmware = bios.get(hw.vendor, lambda: "UEFI")()
        if hw.platform is Platform.WINDOWS:
            return f"{rel.build} (OS build {rel.version.split('.', 2)[2]})", firmware
        return rel.build, firmware

    def checkin(self, status: LifecycleStatus, mobile: bool) -> dt.datetime | None:
        rng, now = self.rng, self.now
        if status is LifecycleStatus.PENDING:
            return None
        if status in (LifecycleStatus.RETIRED, LifecycleStatus.WIPED):
            return now - dt.timedelta(days=rng.uniform(30, 400))
        if status is LifecycleStatus.LOST:
            return now - dt.timedelta(days=rng.uniform(4, 45))
        r = rng.random()
        if r < 0.86:
            minutes = min(rng.expovariate(1 / (240 if mobile else 90)), 2 * 24 * 60)
            return now - dt.timedelta(minutes=minutes + rng.random())
        if r < 0.93:
            return now - dt.timedelta(days=rng.uniform(2, 14))
        return now - dt.timedelta(days=rng.uniform(15, 75))

    def device(self, seq: int) -> _Drawn:
        """One device's column values (identifiers not yet sealed) and what apps and commands need."""
        rng, now = self.rng, self.now
        dept = self.pick_dept(rng)
        kind = self.pick_kind[dept.code](rng)
        hw = self.pick_model[kind](rng)
        platform = hw.platform
        mobile = kind in data.MOBILE_KINDS
        byod = kind in data.PERSONAL_KINDS and rng.random() < dept.byod_share
        ownership = Ownership.BYOD if byod else Ownership.CORPORATE
        r = rng.random()
        if r < 0.015:
            status = LifecycleStatus.PENDING
        elif r < 0.025:
            status = LifecycleStatus.LOST
        elif r < 0.035:
            status = LifecycleStatus.RETIRED
        elif r < 0.039 and not byod:
            status = LifecycleStatus.WIPED
        else:
            status = LifecycleStatus.ENROLLED
        last = self.checkin(status, mobile)
        if last is None:  # waiting for its first check-in since enrolment
            enrolled = now - dt.timedelta(days=rng.uniform(0.1, 9))
        else:
            enrolled = min(
                now - dt.timedelta(days=rng.uniform(20, 1000)), last - dt.timedelta(hours=rng.uniform(1, 48))
            )
        shared = kind in data.SHARED_KINDS or (kind in ("ipad", "android_tablet") and dept.code in ("NS", "FD"))
        if kind == "ipad" and not shared:
            shared = rng.random() < 0.5
        assigned_to = None if shared and not byod else self.staff_name()

        serial = self.serial(hw.serial_style)
        hardware_id = self.hardware_id(hw.id_style, hw.model, hw.vendor)
        name = f"{dept.code}-{'BYOD' if byod else data.KIND_CODES[kind]}-{seq:05d}"

        if status is LifecycleStatus.PENDING:
            os_version = build = firmware = ""
            patch = None
            compromised = encrypted = passcode = container = None
        else:
            older = hw.os_majors[:-1]
            # Windows 10 lingers only on a few extended-support PCs; other platforms lag a major more often.
            lag_p = 0.06 if platform is Platform.WINDOWS else 0.3
            major = rng.choice(older) if older and rng.random() < lag_p else hw.os_majors[-1]
            pick = self.pick_release.get((platform, major)) or self.pick_release[(platform, hw.os_majors[-1])]
            rel = pick(rng)
            os_version = rel.version
            assert last is not None
            patch = self.security_patch(hw, rel.major, last)
            build, firmware = self.build_and_firmware(hw, rel, patch)
            compromised, encrypted, passcode, container = self.flags(kind, platform, byod, shared)

        # The compliance engine evaluates active devices once the fleet is written (demo_compliance).
        state, reasons = ComplianceState.UNKNOWN.value, []
        if status in (LifecycleStatus.RETIRED, LifecycleStatus.WIPED):
            state = ComplianceState.UNKNOWN.value
            reasons = [f"Device is {status.value}; it is no longer evaluated."]

        row = {
            "name": name,
            "platform": platform.value,
            "vendor": hw.vendor,
            "model": hw.model,
            "os_version": os_version,
            "os_version_key": version_sort_key(os_version) if os_version else "",
            "os_build": build,
            "security_patch": patch,
            "firmware": firmware,
            "ownership": ownership.value,
            "group_id": self.groups[dept.name],
            "enrolled_at": enrolled,
            "last_checkin_at": last,
            "status": status.value,
            "compromised": compromised,
            "storage_encrypted": encrypted,
            "passcode_set": passcode,
            "managed_container": container,
            "compliance_state": state,
            "compliance_reasons": reasons,
            "created_at": enrolled,
            "updated_at": last or enrolled,
        }
        info = _DeviceInfo(kind, platform, dept.code, byod, status, enrolled, last, name)
        return _Drawn(row, info, serial, hardware_id, assigned_to)

    def flags(
        self, kind: str, platform: Platform, byod: bool, shared: bool
    ) -> tuple[bool | None, bool | None, bool | None, bool | None]:
        """(compromised, storage encrypted, passcode set, managed container)."""
        rng = self.rng
        if kind in data.MOBILE_KINDS:
            comp_p = {Platform.IOS: 0.004, Platform.IPADOS: 0.003}.get(platform, 0.01) * (3 if byod else 1)
            no_pass_p = {"iphone": 0.012, "ipad": 0.05 if shared else 0.03, "android_phone": 0.015}.get(kind, 0.04)
            passcode = rng.random() >= no_pass_p
            # Apple data protection is tied to the passcode; Android 10+ always encrypts, bar the odd legacy setup.
            encrypted = passcode if platform in (Platform.IOS, Platform.IPADOS) else rng.random() >= 0.004
            return rng.random() < comp_p, encrypted, passcode, byod
        off_p = {Platform.WINDOWS: 0.04, Platform.MACOS: 0.03}.get(platform, 0.12)
        compromised = None if platform is Platform.LINUX else False
        return compromised, rng.random() >= off_p, rng.random() >= 0.005, None

    # apps and commands ----------------------------------------------------------------------------------

    def apps(self, device_id: int, info: _DeviceInfo) -> list[dict[str, Any]]:
        if info.status is LifecycleStatus.PENDING:
            return []
        rng = self.rng
        rows: dict[str, dict[str, Any]] = {}
        stale = info.last is None or (self.now - info.last).days > 30
        for key in data.KIND_APPS[info.kind] + data.DEPARTMENT_APPS.get(info.dept_code, ()):
            found = self.catalog.get((info.platform, key))
            if found is None:
                continue
            identifier, versions = found
            r = rng.random()
            pick = -1 if r < (0.45 if stale else 0.72) else (-2 if r < 0.93 else 0)
            rows[identifier] = {
                "device_id": device_id,
                "identifier": identifier,
                "name": _APP_NAMES[key],
                "version": versions[pick],
                "managed": True,
            }
        if not info.byod:
            for identifier, name, version in data.UNMANAGED_APPS.get(info.platform, ()):
                if identifier not in rows and rng.random() < 0.3:
                    rows[identifier] = {
                        "device_id": device_id,
                        "identifier": identifier,
                        "name": name,
                        "version": version,
                        "managed": False,
                    }
        return list(rows.values())

    def _ticket(self, template: str) -> str:
        return template.format(n=self.rng.randint(10_000, 99_999))

    def commands(self, device_id: int, device_uid: str, info: _DeviceInfo, samples: _Samples) -> list[dict[str, Any]]:
        rng, now = self.rng, self.now
        out: list[dict[str, Any]] = []
        floor = info.enrolled + dt.timedelta(minutes=5)

        def add(
            ctype: CommandType,
            status: CommandStatus,
            created: dt.datetime,
            *,
            payload: dict[str, Any] | None = None,
            reason: str = "",
            result: str = "",
            notable: bool = False,
        ) -> None:
            created = max(created, floor)
            ops = self.destructive_ops if ctype.destructive or notable else self.any_ops
            op = rng.choice(ops)
            delivered = completed = None
            expires = created + dt.timedelta(days=7)
            if status in (CommandStatus.DELIVERED, CommandStatus.ACKNOWLEDGED, CommandStatus.FAILED):
                delivered = created + dt.timedelta(seconds=rng.uniform(5, 3600))
            if status in (CommandStatus.ACKNOWLEDGED, CommandStatus.FAILED):
                assert delivered is not None
                completed = delivered + dt.timedelta(seconds=rng.uniform(2, 900))
            elif status is CommandStatus.EXPIRED:
                completed = expires
            elif status is CommandStatus.CANCELLED:
                completed = created + dt.timedelta(minutes=rng.uniform(5, 600))
                result = result or f"Cancelled by {op.username}."
            if status is CommandStatus.ACKNOWLEDGED and not result:
                result = "Done."
            uid = new_uid()
            out.append(
                {
                    "uid": uid,
                    "device_id": device_id,
                    "type": ctype.value,
                    "status": status.value,
                    "payload": payload or {},
                    "reason": reason,
                    "created_by": op.username,
                    "created_at": created,
                    "delivered_at": delivered,
                    "completed_at": completed,
                    "expires_at": expires,
                    "result": result,
                }
            )
            note = _CommandNote(created, uid, ctype.value, status.value, device_uid, op.username, reason)
            samples.command(note, notable=notable or ctype.destructive)

        def before_last(max_days: float) -> dt.datetime:
            ref = info.last or now
            return ref - dt.timedelta(days=rng.uniform(0.01, max_days))

        def failed(ctype: CommandType) -> str:
            return rng.choice(data.FAILED_RESULTS[ctype.value])

        if info.status is LifecycleStatus.PENDING:
            if rng.random() < 0.3:
                add(CommandType.REFRESH_INVENTORY, CommandStatus.QUEUED, now - dt.timedelta(hours=rng.uniform(1, 40)))
            return out
        if info.status is LifecycleStatus.WIPED:
            ctype = CommandType.WIPE
            add(ctype, CommandStatus.ACKNOWLEDGED, before_last(0.5), reason=self._ticket(rng.choice(data.WIPE_REASONS)))
            return out
        if info.status is LifecycleStatus.RETIRED:
            reason = self._ticket(rng.choice(data.RETIRE_REASONS))
            add(CommandType.RETIRE, CommandStatus.ACKNOWLEDGED, before_last(0.5), reason=reason)
            return out
        if info.status is LifecycleStatus.LOST:
            assert info.last is not None
            reason = self._ticket(rng.choice(data.LOST_REASONS))
            add(CommandType.LOCK, CommandStatus.ACKNOWLEDGED, before_last(0.2), reason=reason, notable=True)
            after = info.last + dt.timedelta(hours=rng.uniform(1, 24))
            status = CommandStatus.DELIVERED if rng.random() < 0.3 else CommandStatus.QUEUED
            add(
                CommandType.LOST_MODE,
                status,
                min(after, now),
                payload={"message": "Please call +1 555 0100."},
                reason=reason,
                notable=True,
            )
            return out

        if rng.random() < 0.3:
            add(CommandType.REFRESH_INVENTORY, CommandStatus.ACKNOWLEDGED, before_last(10))
        if rng.random() < 0.12:
            status = _weighted(
                rng,
                (
                    (CommandStatus.ACKNOWLEDGED, 60),
                    (CommandStatus.FAILED, 15),
                    (CommandStatus.DELIVERED, 10),
                    (CommandStatus.QUEUED, 10),
                    (CommandStatus.CANCELLED, 5),
                ),
            )
            pending = status in (CommandStatus.DELIVERED, CommandStatus.QUEUED)
            created = now - dt.timedelta(hours=rng.uniform(1, 100)) if pending else before_last(40)
            add(
                CommandType.OS_UPDATE,
                status,
                created,
                payload={"version": self.latest_os[info.platform]},
                result=failed(CommandType.OS_UPDATE) if status is CommandStatus.FAILED else "",
            )
        if rng.random() < 0.08:
            choices = self.catalog_keys.get(info.platform)
            if choices:
                identifier, versions = self.catalog[(info.platform, rng.choice(choices))]
                status = _weighted(
                    rng, ((CommandStatus.ACKNOWLEDGED, 85), (CommandStatus.FAILED, 10), (CommandStatus.QUEUED, 5))
                )
                queued = status is CommandStatus.QUEUED
                add(
                    CommandType.INSTALL_APP,
                    status,
                    now - dt.timedelta(hours=rng.uniform(1, 60)) if queued else before_last(60),
                    payload={"identifier": identifier, "version": versions[-1]},
                    result=failed(CommandType.INSTALL_APP) if status is CommandStatus.FAILED else "",
                )
        if rng.random() < 0.02:
            add(
                CommandType.MESSAGE,
                CommandStatus.ACKNOWLEDGED,
                before_last(30),
                payload={"text": rng.choice(data.MESSAGES)},
            )
        if rng.random() < 0.02:
            ok = rng.random() < 0.8
            add(
                CommandType.RESTART,
                CommandStatus.ACKNOWLEDGED if ok else CommandStatus.FAILED,
                before_last(20),
                result="" if ok else failed(CommandType.RESTART),
            )
        if rng.random() < 0.006:
            add(
                CommandType.LOCK,
                CommandStatus.ACKNOWLEDGED,
                before_last(60),
                reason="Left unlocked in a patient room.",
                notable=True,
            )
        if info.last is not None and (now - info.last).days > 14:
            if rng.random() < 0.5:
                created = info.last + (now - info.last) * rng.uniform(0.5, 0.95)
                status = CommandStatus.QUEUED if now - created < dt.timedelta(days=7) else CommandStatus.EXPIRED
                add(CommandType.REFRESH_INVENTORY, status, created)
            else:
                add(
                    CommandType.MESSAGE,
                    CommandStatus.QUEUED,
                    now - dt.timedelta(days=rng.uniform(0.2, 6)),
                    payload={"text": data.MESSAGES[2]},
                )
        return out


@dataclass(frozen=True, slots=True)
class _DeviceInfo:
    kind: str
    platform: Platform
    dept_code: str
    byod: bool
    status: LifecycleStatus
    enrolled: dt.datetime
    last: dt.datetime | None
    name: str


@dataclass(frozen=True, slots=True)
class _Drawn:
    row: dict[str, Any]
    info: _DeviceInfo
    serial: str
    hardware_id: str
    assigned_to: str | None


_APP_NAMES: Mapping[str, str] = {app.key: app.name for app in data.CLINIC_APPS}


def _table(model: type[Base]) -> Table:
    """The Core table of a mapped class (bulk inserts skip the ORM's per-row work)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _chunks(total: int, size: int) -> Iterator[int]:
    done = 0
    while done < total:
        n = min(size, total - done)
        yield n
        done += n


# -- the service -----------------------------------------------------------------------------------------------


class DemoFleetService:
    """Fills a store with a realistic clinic for demonstrations, screenshots and benchmarks.

    There is no permission check: only the command line calls it, as the system
    principal, on a store whose key file the caller already holds.

    Args:
        uow: Unit-of-work factory of the store.
        audit: The audit log; the fill is recorded as one ``demo.generate`` entry.
        passwords: Hashes the demo accounts' passwords.
        clock: Source of "now"; every generated date is relative to it.
        history_log: Makes an audit log on another clock, used to write the past activity
            at its own (past) times. Without it, history entries carry the time of the fill.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audit: AuditLog,
        passwords: PasswordHashing,
        clock: Clock,
        history_log: AuditLogFactory | None = None,
    ) -> None:
        self._uow = uow
        self._audit = audit
        self._passwords = passwords
        self._clock = clock
        self._history_log = history_log

    @mutating("demo.generate", entries=0)
    def generate(
        self,
        devices: int,
        seed: int | None = None,
        *,
        force: bool = False,
        progress: Progress | None = None,
    ) -> DemoResult:
        """Fill the store with ``devices`` devices of a realistic clinic, in one transaction.

        Args:
            devices: Number of devices (1 to 1,000,000).
            seed: Seed of the generator; ``None`` picks one (reported in the result).
            force: Add the fleet even if the store already holds devices.
            progress: Called with (devices written, devices asked) after each batch.

        Returns:
            The administrator's user name, password and authenticator secret, and what was created.

        Raises:
            ValidationError: ``devices`` or ``seed`` is out of range; nothing is written.
            ConflictError: The store already holds devices and ``force`` is false.
        """
        if isinstance(devices, bool) or not isinstance(devices, int) or not 1 <= devices <= MAX_DEVICES:
            raise ValidationError(f"The number of devices must be between 1 and {MAX_DEVICES:,}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValidationError("The seed must be a whole number of zero or more.")
        if seed is None:
            seed = secrets.randbelow(2**31)
        now = self._clock().astimezone(dt.UTC).replace(microsecond=0)
        with self._uow(write=True) as uow:
            existing = int(uow.session.scalar(select(func.count(Device.id))) or 0)
            if existing and not force:
                raise ConflictError(
                    f"The store already holds {existing:,} devices; the demo fleet needs an empty store.",
                    hint="Use another --db, or add --force to add the demo devices anyway.",
                )
            rng = random.Random(f"mdm-demo|{seed}|{existing}")  # noqa: S311 - reproducible demo data, not secrets
            groups = self._groups(uow, now)
            accounts, operators, admin_secret = self._accounts(uow, rng, now)
            policy_events, policies_created = self._policies(uow, groups, operators, now)
            catalog, catalog_events, apps_created = self._catalog(uow, operators, now)
            fleet = _Fleet(rng, now, groups, catalog, operators)
            samples = _Samples(random.Random(f"mdm-demo-samples|{seed}"), limit=1_500)  # noqa: S311
            commands = self._devices(uow, fleet, devices, existing, samples, progress)
            entries = self._history(uow, rng, operators, samples, policy_events + catalog_events, devices, now)
            admin = accounts[0]
            staff = demo_compliance.staff_of([(o.username, o.role.value) for o in operators], admin.username)
            compliance = demo_compliance.settle(uow.session, now, seed, staff)
            self._enrolment_tokens(uow, groups, staff, now)
            self._audit.record(
                uow,
                Principal.system("demo"),
                "demo.generate",
                target_kind="store",
                target=self._uow.where[:255],
                details={
                    "devices": devices,
                    "seed": seed,
                    "groups": len(groups),
                    "accounts": [{"username": a.username, "role": a.role.value} for a in accounts],
                    "commands": commands,
                    "history_entries": entries,
                    "compliance": compliance.details(),
                },
            )
            uow.commit()
        return DemoResult(
            admin_username=admin.username,
            admin_password=admin.password,
            device_count=devices,
            seed=seed,
            group_count=len(groups),
            policy_count=policies_created,
            catalog_app_count=apps_created,
            command_count=commands,
            audit_entry_count=entries + 1,
            accounts=tuple(accounts),
            admin_totp_secret=admin_secret,
            admin_totp_uri=totp.provisioning_uri(admin_secret, admin.username),
        )

    # -- pieces -------------------------------------------------------------------------------------------

    def _enrolment_tokens(
        self, uow: UnitOfWork, groups: Mapping[str, int], staff: demo_compliance.Staff, now: dt.datetime
    ) -> None:
        """Enrolment tokens as the Gateway pane lists them: two usable, one used up, one expired.

        Only a keyed hash of a token is stored and the demo never had the tokens, so none can enrol a device.
        """
        ids = list(groups.values())
        day = dt.timedelta(days=1)
        plans = (  # (group, ownership, allowed, left, created, expires, last used)
            (ids[0], "corporate", 25, 12, now - 2 * day, now + 5 * day, now - dt.timedelta(hours=3)),
            (ids[-1], "byod", 50, 50, now - dt.timedelta(hours=6), now + 7 * day, None),
            (ids[1], "corporate", 10, 0, now - 20 * day, now - 13 * day, now - 15 * day),
            (ids[2], "corporate", 5, 3, now - 40 * day, now - 33 * day, now - 38 * day),
        )
        for group_id, ownership, allowed, left, created, expires, used in plans:
            uow.session.add(
                EnrollmentToken(
                    token_hash=secrets.token_bytes(16),
                    group_id=group_id,
                    ownership=ownership,
                    uses_allowed=allowed,
                    uses_left=left,
                    expires_at=expires,
                    created_by=staff.requester,
                    created_at=created,
                    last_used_at=used,
                )
            )
        uow.session.flush()

    def _groups(self, uow: UnitOfWork, now: dt.datetime) -> dict[str, int]:
        wanted = [(d.name, d.description) for d in data.DEPARTMENTS] + list(data.EMPTY_GROUPS)
        have: dict[str, int] = dict(uow.session.execute(select(DeviceGroup.name, DeviceGroup.id)).all())
        created = now - dt.timedelta(days=1100)
        for name, description in wanted:
            if name not in have:
                group = DeviceGroup(name=name, description=description, created_at=created)
                uow.session.add(group)
                uow.session.flush()
                have[name] = group.id
        return {name: have[name] for name, _ in wanted}

    def _password(self, username: str) -> str:
        while True:
            candidate = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(20))
            if not password_problems(candidate, username) and candidate[0] not in "-.":
                return candidate

    def _accounts(
        self, uow: UnitOfWork, rng: random.Random, now: dt.datetime
    ) -> tuple[list[DemoAccount], list[_Operator], str]:
        """Create the console accounts; the first is the administrator, with an authenticator (its secret)."""
        taken = set(uow.session.scalars(select(User.username)).all())
        admin_name = next(n for n in ("admin", *(f"demo-admin-{i}" for i in range(2, 10_000))) if n not in taken)
        plan: list[tuple[str, str, Role, bool]] = [(admin_name, "Clinic Administrator", Role.ADMINISTRATOR, False)]
        for username, display, role, disabled in (
            ("m.okafor", "Michael Okafor", Role.IT_TECHNICIAN, False),
            ("a.lindqvist", "Anna Lindqvist", Role.IT_TECHNICIAN, False),
            ("s.kim", "Sun-min Kim", Role.HELPDESK, False),
            ("r.haddad", "Rania Haddad", Role.SECURITY_OFFICER, False),
            ("j.brennan", "James Brennan", Role.IT_TECHNICIAN, True),
        ):
            if username not in taken:
                plan.append((username, display, role, disabled))
        accounts: list[DemoAccount] = []
        operators: list[_Operator] = []
        admin_secret = ""
        for username, display, role, disabled in plan:
            password = self._password(username)
            uid = new_uid()
            user = User(
                uid=uid,
                username=username,
                display_name_sealed=uow.cipher.seal(display, table="users", column="display_name", row=uid),
                password_hash=self._passwords.hash(password),
                role=role.value,
                disabled=disabled,
                failed_attempts=0,
                totp_last_step=0,
                created_at=now - dt.timedelta(days=rng.uniform(200, 700)),
                password_changed_at=now,  # the password printed for the demo is set now
            )
            if not accounts:
                admin_secret = totp.new_secret()
                enrol_totp_secret(uow, user, admin_secret, now)
            uow.session.add(user)
            uow.session.flush()
            accounts.append(DemoAccount(username=username, role=role, password=password, disabled=disabled))
            if not disabled:
                station = data.WORKSTATIONS[role][sum(1 for o in operators if o.role is role) % 2]
                operators.append(_Operator(user.id, username, role, station))
        return accounts, operators, admin_secret

    def _policies(
        self, uow: UnitOfWork, groups: Mapping[str, int], operators: Sequence[_Operator], now: dt.datetime
    ) -> tuple[list[_Event], int]:
        existing = set(uow.session.scalars(select(Policy.name)).all())
        writers = [o for o in operators if o.role in (Role.ADMINISTRATOR, Role.IT_TECHNICIAN)]
        code_of = {d.name: d.code for d in data.DEPARTMENTS}
        events: list[_Event] = []
        created = 0
        for index, plan in enumerate(POLICY_PLANS):
            if plan.name in existing:
                continue
            created += 1
            start = now - dt.timedelta(days=420 - 20 * index)
            latest = plan.versions[-1] if plan.versions else _escalation_draft()
            policy = Policy(
                name=plan.name,
                description=plan.description,
                draft_settings=dict(latest),
                created_at=start,
                updated_at=now - dt.timedelta(days=3) if not plan.versions else start,
            )
            uow.session.add(policy)
            uow.session.flush()
            n = len(plan.versions)
            version_rows: list[PolicyVersion] = []
            for number, settings in enumerate(plan.versions, start=1):
                # Versions spread from the policy's creation to a few weeks ago.
                when = start + (now - dt.timedelta(days=12 + 9 * index) - start) * ((number - 1) / max(n - 1, 1))
                author = writers[(index + number) % len(writers)]
                row = PolicyVersion(
                    policy_id=policy.id,
                    version=number,
                    settings=dict(settings),
                    published_at=when,
                    published_by=author.username,
                    notes=plan.notes[number - 1] if number <= len(plan.notes) else "",
                )
                uow.session.add(row)
                version_rows.append(row)
                events.append(
                    _Event(
                        when, author, "policies.publish", "policy", policy.uid, {"name": plan.name, "version": number}
                    )
                )
            policy.updated_at = version_rows[-1].published_at if version_rows else policy.updated_at
            uow.session.flush()
            if not version_rows or not plan.groups:
                continue
            last = version_rows[-1]
            targets = [
                name
                for name in groups
                if name in code_of and (plan.groups == "all" or code_of[name] in SHARED_POLICY_GROUPS)
            ]
            assigned_at = last.published_at + dt.timedelta(minutes=20)
            for name in targets:
                uow.session.add(
                    PolicyAssignment(
                        policy_version_id=last.id,
                        group_id=groups[name],
                        ownership=plan.ownership.value if plan.ownership else None,
                        assigned_at=assigned_at,
                        assigned_by=last.published_by,
                    )
                )
            author = next(o for o in writers if o.username == last.published_by)
            events.append(
                _Event(
                    assigned_at,
                    author,
                    "policies.assign",
                    "policy",
                    policy.uid,
                    {"name": plan.name, "version": last.version, "groups": targets},
                )
            )
        uow.session.flush()
        return events, created

    def _catalog(
        self, uow: UnitOfWork, operators: Sequence[_Operator], now: dt.datetime
    ) -> tuple[dict[tuple[Platform, str], tuple[str, tuple[str, ...]]], list[_Event], int]:
        have = {
            (Platform(p), ident): app_id
            for p, ident, app_id in uow.session.execute(
                select(CatalogApp.platform, CatalogApp.identifier, CatalogApp.id)
            )
        }
        writers = [o for o in operators if o.role in (Role.ADMINISTRATOR, Role.IT_TECHNICIAN)]
        extensions = {
            Platform.IOS: ".ipa",
            Platform.IPADOS: ".ipa",
            Platform.ANDROID: ".apk",
            Platform.WINDOWS: ".msix",
            Platform.MACOS: ".pkg",
            Platform.LINUX: ".deb",
        }
        catalog: dict[tuple[Platform, str], tuple[str, tuple[str, ...]]] = {}
        events: list[_Event] = []
        created = 0
        for a_index, app in enumerate(data.CLINIC_APPS):
            for platform, identifier in app.identifiers:
                catalog[(platform, app.key)] = (identifier, app.versions)
                if (platform, identifier) in have:
                    continue
                created += 1
                row = CatalogApp(
                    name=app.name,
                    identifier=identifier,
                    platform=platform.value,
                    publisher=app.publisher,
                    description=app.description,
                    created_at=now - dt.timedelta(days=500 - 7 * a_index),
                )
                uow.session.add(row)
                uow.session.flush()
                slug = "".join(c if c.isalnum() else "-" for c in app.name).strip("-")
                for v_index, version in enumerate(app.versions):
                    added = now - dt.timedelta(days=300 - 130 * v_index - a_index, hours=3 * a_index)
                    content = f"{identifier}|{platform.value}|{version}".encode()
                    uow.session.add(
                        CatalogAppVersion(
                            app_id=row.id,
                            version=version,
                            sha256=hashlib.sha256(content).hexdigest(),
                            size_bytes=app.size_mb * 1_048_576 + int(hashlib.sha256(content).hexdigest()[:5], 16),
                            file_name=f"{slug}-{version}{extensions[platform]}",
                            added_at=added,
                        )
                    )
                    author = writers[(a_index + v_index) % len(writers)]
                    events.append(
                        _Event(
                            added,
                            author,
                            "catalog.add_version",
                            "catalog_app",
                            f"{platform.value}:{identifier}",
                            {"name": app.name, "version": version},
                        )
                    )
        uow.session.flush()
        return catalog, events, created

    def _devices(
        self,
        uow: UnitOfWork,
        fleet: _Fleet,
        total: int,
        existing: int,
        samples: _Samples,
        progress: Progress | None,
    ) -> int:
        """Insert devices batch by batch, each batch followed by its installed apps and commands."""
        session = uow.session
        if uow.dialect != "sqlite":
            return self._device_batches(uow, fleet, total, existing, samples, progress)
        # Random keys (uids, blind indexes) touch index pages all over the file: give the fill a larger page
        # cache than SQLite's default 2 MiB, and restore it before the connection goes back to the pool.
        default_cache = int(session.execute(text("PRAGMA cache_size")).scalar_one())
        session.execute(text(f"PRAGMA cache_size = -{SQLITE_FILL_CACHE_KIB}"))
        try:
            return self._device_batches(uow, fleet, total, existing, samples, progress)
        finally:
            session.execute(text(f"PRAGMA cache_size = {default_cache}"))

    def _device_batches(
        self,
        uow: UnitOfWork,
        fleet: _Fleet,
        total: int,
        existing: int,
        samples: _Samples,
        progress: Progress | None,
    ) -> int:
        cipher = uow.cipher
        session = uow.session
        written = commands = 0
        seq = existing
        devices_t, apps_t, commands_t = (_table(m) for m in (Device, InstalledApp, DeviceCommand))
        for size in _chunks(total, BATCH_SIZE):
            rows: list[dict[str, Any]] = []
            infos: list[tuple[str, _DeviceInfo]] = []
            for _ in range(size):
                seq += 1
                drawn = fleet.device(seq)
                uid = new_uid()
                row = drawn.row
                row["uid"] = uid
                row.update(
                    seal_identifiers(
                        cipher, uid, serial=drawn.serial, hardware_id=drawn.hardware_id, assigned_to=drawn.assigned_to
                    )
                )
                rows.append(row)
                infos.append((uid, drawn.info))
            # Plain executemany: RETURNING with ordered ids costs more than the insert, so ids are read back by uid.
            session.execute(insert(devices_t), rows)
            uids = [uid for uid, _info in infos]
            found = session.execute(select(Device.uid, Device.id).where(Device.uid.in_(uids)))
            id_of: dict[str, int] = dict(found.all())
            app_rows: list[dict[str, Any]] = []
            command_rows: list[dict[str, Any]] = []
            for uid, info in infos:
                device_id = id_of[uid]
                samples.device(uid, info.name)
                app_rows.extend(fleet.apps(device_id, info))
                command_rows.extend(fleet.commands(device_id, uid, info, samples))
            if app_rows:
                session.execute(insert(apps_t), app_rows)
            if command_rows:
                session.execute(insert(commands_t), command_rows)
            commands += len(command_rows)
            written += size
            if progress is not None:
                progress(written, total)
        return commands

    def _history(
        self,
        uow: UnitOfWork,
        rng: random.Random,
        operators: Sequence[_Operator],
        samples: _Samples,
        known: Sequence[_Event],
        devices: int,
        now: dt.datetime,
    ) -> int:
        """Write past activity as audit entries, oldest first, each at its own time."""
        last = uow.session.scalar(select(func.max(AuditEntry.occurred_at)))
        start = now - dt.timedelta(days=HISTORY_DAYS)
        if last is not None:
            start = max(start, last + dt.timedelta(seconds=1))
        if start >= now:
            return 0
        target = min(MAX_HISTORY_ENTRIES, 150 + 2 * devices)
        events: list[_Event] = [e for e in known if start <= e.at < now]
        by_name = {o.username: o for o in operators}
        for note in samples.notable + samples.commands[: target // 3]:
            op = by_name.get(note.created_by)
            if op is None or not start <= note.at < now:
                continue
            details: dict[str, Any] = {"command": note.uid, "type": note.type}
            if note.reason:
                details["reason"] = note.reason
            events.append(_Event(note.at, op, "commands.send", "device", note.device_uid, details))

        def when() -> dt.datetime:
            # Mostly weekday working hours.
            while True:
                t = start + (now - start) * rng.random()
                if (t.weekday() < 5 and 7 <= t.hour < 19) or rng.random() < 0.15:
                    return t

        helpdesk = [o for o in operators if o.role is Role.HELPDESK]
        officers = [o for o in operators if o.role is Role.SECURITY_OFFICER]
        readers = [o for o in operators if o.role is not Role.HELPDESK]
        while len(events) < target:
            r = rng.random()
            op = rng.choice(operators)
            if r < 0.40:
                ok = rng.random() > 0.06
                events.append(
                    _Event(
                        when(), op, "auth.sign_in", "user", op.username, {}, Outcome.SUCCESS if ok else Outcome.FAILED
                    )
                )
            elif r < 0.70 and samples.devices:
                uid, _name = rng.choice(samples.devices)
                events.append(_Event(when(), rng.choice(readers), "devices.view_identifiers", "device", uid, {}))
            elif r < 0.80 and officers:
                fmt = rng.choice(("csv", "pdf"))
                events.append(
                    _Event(when(), rng.choice(officers), "reports.export", "report", "compliance", {"format": fmt})
                )
            elif r < 0.83 and helpdesk and samples.devices:
                uid, _name = rng.choice(samples.devices)
                events.append(
                    _Event(
                        when(),
                        rng.choice(helpdesk),
                        "commands.send",
                        "permission",
                        "commands.send_destructive",
                        {"permission": "commands.send_destructive", "type": "wipe", "device": uid},
                        Outcome.DENIED,
                    )
                )
            else:
                events.append(_Event(when(), op, "auth.sign_in", "user", op.username, {}))
        events.sort(key=lambda e: (e.at, e.action, e.target))
        clock = _ReplayClock(start)
        log = self._history_log(clock) if self._history_log is not None else self._audit
        last_login: dict[int, dt.datetime] = {}
        for event in events:
            clock.at = event.at
            actor = event.actor.principal()
            log.record(
                uow,
                actor,
                event.action,
                target_kind=event.target_kind,
                target=event.target,
                outcome=event.outcome,
                details=event.details,
            )
            if event.action == "auth.sign_in" and event.outcome is Outcome.SUCCESS:
                last_login[event.actor.id] = event.at
        for user_id, at in last_login.items():
            user = uow.session.get(User, user_id)
            if user is not None:
                user.last_login_at = at
        uow.session.flush()
        return len(events)


@dataclass(frozen=True, slots=True)
class _Event:
    at: dt.datetime
    actor: _Operator
    action: str
    target_kind: str
    target: str
    details: Mapping[str, Any]
    outcome: Outcome = Outcome.SUCCESS
