"""Frozen data transfer objects returned by services (never ORM objects)."""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from mdm_desktop.domain.accounts import Permission, Principal, Role
from mdm_desktop.domain.audit import AuditDamage, ExportDamage, Outcome
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform
from mdm_desktop.services.compliance_dto import RuleOutcomeInfo


class DeviceSort(enum.StrEnum):
    """Columns the device list can be sorted by (each has a ``(column, id)`` index)."""

    NAME = "name"
    PLATFORM = "platform"
    MODEL = "model"
    OS_VERSION = "os_version"
    OWNERSHIP = "ownership"
    STATUS = "status"
    COMPLIANCE = "compliance"
    LAST_CHECKIN = "last_checkin"
    ENROLLED = "enrolled"


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """Filters and order for the device list; all evaluated in SQL.

    ``search`` matches name, model and vendor as text, and serial number,
    hardware identifier or assigned staff member exactly (blind index).
    ``stale_days`` keeps devices whose last check-in is older than N days, or never.
    """

    search: str = ""
    platforms: frozenset[Platform] = frozenset()
    compliance: frozenset[ComplianceState] = frozenset()
    ownership: Ownership | None = None
    group_id: int | None = None
    stale_days: int | None = None
    statuses: frozenset[LifecycleStatus] = frozenset()
    sort: DeviceSort = DeviceSort.NAME
    descending: bool = False


@dataclass(frozen=True, slots=True)
class DeviceCursor:
    """Keyset position: the sort value and id of the last row of a page."""

    value: str | int | float | None
    id: int


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One row of the device table. Identifiers are ``None`` when the caller may not see them."""

    id: int
    uid: str
    name: str
    platform: Platform
    vendor: str
    model: str
    os_version: str
    ownership: Ownership
    group_id: int | None
    group_name: str
    status: LifecycleStatus
    compliance_state: ComplianceState
    last_checkin_at: dt.datetime | None
    enrolled_at: dt.datetime | None
    serial: str | None
    assigned_to: str | None


@dataclass(frozen=True, slots=True)
class DevicePage:
    """A page of devices and the cursor for the next page (``None`` at the end)."""

    rows: tuple[DeviceRow, ...]
    next_cursor: DeviceCursor | None


@dataclass(frozen=True, slots=True)
class InstalledAppInfo:
    """An app installed on a device."""

    identifier: str
    name: str
    version: str
    managed: bool


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """A remote command and where it is in its lifecycle."""

    id: int
    uid: str
    device_id: int
    device_name: str
    type: CommandType
    status: CommandStatus
    reason: str
    created_by: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    completed_at: dt.datetime | None
    expires_at: dt.datetime | None
    result: str


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    """Everything the detail panel shows about one device."""

    row: DeviceRow
    os_build: str
    security_patch: dt.date | None
    firmware: str
    hardware_id: str | None
    compromised: bool | None
    storage_encrypted: bool | None
    passcode_set: bool | None
    managed_container: bool | None
    compliance_reasons: tuple[str, ...]
    installed_apps: tuple[InstalledAppInfo, ...]
    commands: tuple[CommandInfo, ...]
    compliance_rules: tuple[RuleOutcomeInfo, ...] = ()
    """Every rule that applies to the device with its outcome now, in words (the compliance engine)."""
    kernel: str = ""
    last_os_update: dt.datetime | None = None
    screen_lock_enabled: bool | None = None
    firewall_enabled: bool | None = None
    battery_percent: int | None = None
    """Last reported inventory details (issue 6); ``None`` (or "") means not reported."""


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A device group with its device count."""

    id: int
    name: str
    description: str
    device_count: int


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A signed-in user as the GUI and CLI see it."""

    principal: Principal
    username: str
    role: Role
    permissions: frozenset[Permission]
    signed_in_at: dt.datetime
    # Issue 4 (console sessions); defaults keep older positional constructions working.
    kind: str = "gui"
    expires_at: dt.datetime | None = None
    idle_timeout: dt.timedelta | None = None
    mfa_enrolled: bool = True
    break_glass: bool = False
    role_label: str = ""

    @property
    def token(self) -> str:
        """The session's bearer token (the CLI keeps it in an owner-only file); empty without a session."""
        return self.principal.session_token


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A console account (no secrets)."""

    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    # Issue 4 (users page); defaults keep older constructions working.
    role_label: str = ""
    custom_role_id: int | None = None
    mfa_enrolled: bool = False
    locked_until: dt.datetime | None = None
    failed_attempts: int = 0
    group_ids: tuple[int, ...] = ()
    password_changed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntryInfo:
    """One audit entry as shown in the audit pane and exports."""

    id: int
    occurred_at: dt.datetime
    actor_kind: str
    actor: str
    workstation: str
    action: str
    target_kind: str
    target: str
    outcome: str
    details: str
    entry_hash: str
    seq: int = 0
    """The entry's position in the tamper-evident chain (1, 2, 3, ...)."""


@dataclass(frozen=True, slots=True)
class CountBy:
    """Counts keyed by a label, in display order."""

    items: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        """Sum of all counts."""
        return sum(n for _, n in self.items)


# --- Policies, catalog, audit log and compliance summary -------------------------------------------------


def _parse_settings(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """One row of the policy list.

    ``latest_version`` and ``published_at`` are ``None`` for a policy never published.
    ``draft_changed`` is true when the draft differs from the latest version (or nothing is published yet).
    """

    id: int
    uid: str
    name: str
    description: str
    latest_version: int | None
    published_at: dt.datetime | None
    assigned_groups: int
    draft_changed: bool
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PolicyVersionInfo:
    """An immutable published version; settings as canonical JSON text."""

    id: int
    policy_id: int
    version: int
    published_at: dt.datetime
    published_by: str
    notes: str
    settings_json: str

    @property
    def settings(self) -> dict[str, Any]:
        """A fresh copy of the settings."""
        return _parse_settings(self.settings_json)


@dataclass(frozen=True, slots=True)
class PolicyAssignmentInfo:
    """A published version assigned to a device group, optionally to one ownership type only."""

    id: int
    policy_id: int
    version_id: int
    version: int
    group_id: int
    group_name: str
    ownership: Ownership | None
    assigned_at: dt.datetime
    assigned_by: str


@dataclass(frozen=True, slots=True)
class PolicyDetail:
    """A policy with its draft, versions (newest first) and assignments."""

    summary: PolicySummary
    draft_settings_json: str
    versions: tuple[PolicyVersionInfo, ...]
    assignments: tuple[PolicyAssignmentInfo, ...]

    @property
    def draft_settings(self) -> dict[str, Any]:
        """A fresh copy of the draft settings."""
        return _parse_settings(self.draft_settings_json)


@dataclass(frozen=True, slots=True)
class CatalogAppSummary:
    """One row of the app catalog."""

    id: int
    name: str
    identifier: str
    platform: Platform
    publisher: str
    latest_version: str | None
    version_count: int
    installed_count: int


@dataclass(frozen=True, slots=True)
class CatalogAppVersionInfo:
    """One uploaded build of a catalog app."""

    id: int
    version: str
    sha256: str
    size_bytes: int
    file_name: str
    added_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CatalogAppDetail:
    """A catalog app with its versions, newest first."""

    summary: CatalogAppSummary
    description: str
    created_at: dt.datetime
    versions: tuple[CatalogAppVersionInfo, ...]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters for the audit log, all evaluated in SQL.

    ``since`` is inclusive and ``until`` exclusive (UTC). ``actor`` matches exactly,
    ``action`` as a prefix (``"policies."``), ``text`` as a case-insensitive substring of the action, actor,
    target, workstation or details (through the search index of migration 0004; at least 3 characters).
    ``value`` is a sensitive identifier (a serial, a hardware id, a staff name) in clear: it matches the
    entries that recorded it as a keyed hash (:mod:`mdm_desktop.services.audit_values`); not with ``text``.
    """

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str = ""
    action: str = ""
    outcome: Outcome | None = None
    text: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class AuditCursor:
    """Keyset position in the audit log (newest first): the id of the last row shown."""

    id: int


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of audit entries, newest first, and the cursor for the next page (``None`` at the end)."""

    rows: tuple[AuditEntryInfo, ...]
    next_cursor: AuditCursor | None


@dataclass(frozen=True, slots=True)
class AuditFilterChoices:
    """Distinct actors and actions present in the log, for the filter bar."""

    actors: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OsVersionCount:
    """Devices on one major OS version of one platform (``major`` is ``None`` when unknown)."""

    platform: Platform
    major: int | None
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class ComplianceSummary:
    """Fleet totals and the counts the dashboard charts draw.

    ``by_state`` and ``by_platform`` list every state / platform in enum order, zeros included.
    ``by_os_version`` is ordered by platform, then version (newest first).
    """

    generated_at: dt.datetime
    total_devices: int
    stale_devices: int
    stale_days: int
    compromised: int
    unencrypted: int
    by_state: tuple[tuple[ComplianceState, int], ...]
    by_platform: tuple[tuple[Platform, int], ...]
    by_os_version: tuple[OsVersionCount, ...]

    def count_for_state(self, state: ComplianceState) -> int:
        """Devices in ``state``."""
        return next((n for s, n in self.by_state if s is state), 0)


# --- Demo fleet and store maintenance (CLI) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A console account created by the demo fleet, with its generated password."""

    username: str
    role: Role
    password: str = field(repr=False)
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What ``DemoFleetService.generate`` created; ``accounts[0]`` is the administrator (with an authenticator)."""

    admin_username: str
    admin_password: str = field(repr=False)
    device_count: int = 0
    seed: int = 0
    group_count: int = 0
    policy_count: int = 0
    catalog_app_count: int = 0
    command_count: int = 0
    audit_entry_count: int = 0
    accounts: tuple[DemoAccount, ...] = ()
    admin_totp_secret: str = field(default="", repr=False)
    """The administrator's authenticator secret (base32), to add to an authenticator app."""
    admin_totp_uri: str = field(default="", repr=False)
    """The same secret as an ``otpauth://`` provisioning URI (what a QR code holds)."""


@dataclass(frozen=True, slots=True)
class StoreUpgradeInfo:
    """Outcome of ``db upgrade``: the store's schema revision before (``None`` if empty) and after."""

    location: str
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """True when the schema was created or upgraded."""
        return self.before != self.after


# --- Console security: sessions, accounts, roles, temporary access, break-glass (issue 4) -------------------


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """Where a console session stands; the GUI arms its lock timer from these times."""

    kind: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    idle_expires_at: dt.datetime
    absolute_expires_at: dt.datetime
    step_up_valid_until: dt.datetime | None
    break_glass: bool

    @property
    def expires_at(self) -> dt.datetime:
        """The earlier of the idle and the absolute limit."""
        return min(self.idle_expires_at, self.absolute_expires_at)


@dataclass(frozen=True, slots=True)
class ConsoleSessionInfo:
    """A console or CLI session as an administrator sees it (``id`` is the token's hash, never the token)."""

    id: str
    user_id: int
    username: str
    kind: str
    workstation: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    absolute_expiry: dt.datetime
    revoked_at: dt.datetime | None
    revoke_reason: str


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """A built-in role (``id`` is ``None``) or a custom role composed from the permission table."""

    id: int | None
    role: Role
    name: str
    description: str
    permissions: frozenset[Permission]
    built_in: bool
    user_count: int = 0


@dataclass(frozen=True, slots=True)
class AccessRequestInfo:
    """A temporary access request and its decision (``group_id`` ``None``: every group the user may see)."""

    id: int
    requester_id: int
    requester: str
    permission: Permission
    group_id: int | None
    group_name: str
    reason: str
    duration_minutes: int
    status: str
    requested_at: dt.datetime
    decided_by: str
    decided_at: dt.datetime | None
    decision_note: str
    expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class BreakGlassUseInfo:
    """One use of an emergency code; listed on the dashboard until a security officer reviews it."""

    id: int
    used_at: dt.datetime
    used_by: str
    workstation: str
    code_created_by: str
    code_created_at: dt.datetime
    reviewed_by: str
    reviewed_at: dt.datetime | None
    review_note: str

    @property
    def reviewed(self) -> bool:
        """True once a security officer has reviewed this use."""
        return self.reviewed_at is not None


@dataclass(frozen=True, slots=True)
class EmergencyCodeStatus:
    """Whether an unused emergency code exists (the code itself is shown only once, at creation)."""

    active: bool
    created_at: dt.datetime | None
    created_by: str
    unreviewed_uses: int


@dataclass(frozen=True, slots=True)
class TotpEnrolmentInfo:
    """What the enrolment page shows: a QR code (PNG bytes and SVG text) and the secret for manual entry."""

    account: str
    issuer: str
    secret: str = field(repr=False)
    uri: str = field(repr=False)
    qr_png: bytes = field(repr=False)
    qr_svg: str = field(repr=False)

    @property
    def secret_grouped(self) -> str:
        """The secret in groups of four characters."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True, slots=True)
class IssuedCodes:
    """Codes shown exactly once (recovery codes, an emergency code); only their hashes are stored."""

    codes: tuple[str, ...] = field(repr=False)
    issued_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PasswordFeedback:
    """What a password strength meter shows for a candidate password (nothing is stored).

    Attributes:
        score: 0 (very weak) to 4 (very strong); never above 2 while the password is refused.
        label: The score in words ("Very weak" ... "Very strong").
        problems: Plain-words reasons the site's policy refuses it; empty when acceptable.
        acceptable: True when the password may be set.
        suggestions: How to make it stronger (may be empty).
    """

    score: int
    label: str
    problems: tuple[str, ...] = ()
    acceptable: bool = False
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """A signed statement of the audit chain's length and head at a moment (issue 5).

    The Ed25519 signature covers (entries, head_seq, head_hash, made_at); ``public_key`` and
    ``key_fingerprint`` name the store's checkpoint key, so a file kept off the box can be checked later.
    """

    entries: int
    head_seq: int
    head_hash: str
    made_at: dt.datetime
    key_fingerprint: str
    public_key: str
    signature: str


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """The first bad entry the verification found.

    Attributes:
        kind: What kind of damage.
        description: One line in plain words (names the entry and the damage).
        entry_id: The row id of the entry where the problem shows, when there is one.
        seq: The chain position concerned (the missing or expected number for gaps and truncation).
    """

    kind: AuditDamage
    description: str
    entry_id: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class AuditVerifyReport:
    """The result of verifying the audit chain.

    Attributes:
        intact: True when every entry checked out, the chain reaches its head record and extends every
            checkpoint given.
        entries_checked: Entries read (up to and including the first bad one).
        head_seq: The last good entry's position in the chain (0 for an empty log).
        head_hash: The last good entry's hash ("" for an empty log).
        problem: The first problem, or ``None``.
        checkpoints_checked: How many signed checkpoints the chain was checked against.
        warnings: Things worth knowing that are not damage (an unreadable remembered checkpoint).
    """

    intact: bool
    entries_checked: int
    head_seq: int
    head_hash: str
    problem: AuditProblem | None = None
    checkpoints_checked: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckpointStatus:
    """Whether the chain still extends the last checkpoint this workstation saw.

    Attributes:
        remembered: That checkpoint, or ``None`` when the workstation has seen none for this store.
        extends: True when there is none or the chain still holds its head entry unchanged.
        problem: Why not (truncated or rolled back), when ``extends`` is False.
    """

    remembered: AuditCheckpoint | None
    extends: bool
    problem: AuditProblem | None = None


@dataclass(frozen=True, slots=True)
class AuditExportResult:
    """What :meth:`~mdm_desktop.services.audit_export.AuditExportService.export` wrote.

    Attributes:
        path: The exported file.
        signature_path: Its detached signature (``FILE.sig.json``).
        file_format: ``csv`` or ``jsonl``.
        count: Entries exported.
        first_seq: The first exported entry's position (0 when none).
        last_seq: The last exported entry's position (0 when none).
        file_sha256: SHA-256 of the file (hex).
        checkpoint: The checkpoint signed with the export.
    """

    path: str
    signature_path: str
    file_format: str
    count: int
    first_seq: int
    last_seq: int
    file_sha256: str
    checkpoint: AuditCheckpoint


@dataclass(frozen=True, slots=True)
class ExportProblem:
    """The first problem ``verify_export`` found in an exported file.

    Attributes:
        kind: What kind of problem.
        description: One line in plain words.
        line: The file's line (or CSV record) number where it shows, when there is one.
        seq: The chain position concerned, when there is one.
    """

    kind: ExportDamage
    description: str
    line: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ExportVerifyReport:
    """The result of checking an exported audit file offline.

    Attributes:
        ok: True when the signature, the file's hash, the entries' order and links all check out.
        path: The file checked.
        file_format: ``csv`` or ``jsonl``.
        entries: Entries checked (0 when a problem was found).
        first_seq: The first entry's position named by the signature (0 when the export is empty).
        last_seq: The last entry's position named by the signature (0 when the export is empty).
        since: The start of the exported time range ("" when open).
        until: The end of the exported time range ("" when open).
        exported_at: When the export was made.
        exported_by: Who made it.
        key_fingerprint: The fingerprint of the key that signed it (compare with the store's).
        checkpoint_head_seq: The head of the chain at export time, per the signed checkpoint.
        problem: The first problem, or ``None``.
    """

    ok: bool
    path: str
    file_format: str
    entries: int
    first_seq: int
    last_seq: int
    since: str
    until: str
    exported_at: str
    exported_by: str
    key_fingerprint: str
    checkpoint_head_seq: int
    problem: ExportProblem | None = None
