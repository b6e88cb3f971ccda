"""SQLAlchemy 2 typed schema for every entity of the console.

Conventions:
- Timestamps are timezone-aware UTC (:class:`UtcDateTime`).
- Sensitive values (serials, hardware identifiers, staff names, secrets) live in
  ``*_sealed`` columns of type :class:`~mdm_desktop.store.encryption.SealedBytes`;
  where equality search is needed a ``*_bidx`` blind-index column sits beside them.
  AES-GCM associated data binds each value to table, column and the row's ``uid``.
- Sortable device columns have a composite ``(column, id)`` index for keyset paging.
- Schema changes go through Alembic migrations in ``store/migrations``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from mdm_desktop.store.encryption import SealedBytes

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise TypeError("UtcDateTime columns accept only timezone-aware datetimes.")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def new_uid() -> str:
    """Random row identity used in AES-GCM associated data and in exports."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING)


class KeyMaterial(Base):
    """Data keys wrapped by the key-encryption key kept outside the database."""

    __tablename__ = "key_material"

    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Setting(Base):
    """Site settings as JSON values (session timeouts, password policy, ...)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class DeviceGroup(Base):
    """A department, ward or site; policies are assigned to groups."""

    __tablename__ = "device_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Device(Base):
    """A managed phone, tablet or computer and its last reported inventory."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    name: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(16))
    vendor: Mapped[str] = mapped_column(String(128), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    serial_sealed: Mapped[bytes | None] = mapped_column(SealedBytes)
    serial_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(16), index=True)
    hardware_id_sealed: Mapped[bytes | None] = mapped_column(SealedBytes)
    hardware_id_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(16), index=True)
    os_version: Mapped[str] = mapped_column(String(64), default="")
    os_version_key: Mapped[str] = mapped_column(String(32), default="")
    os_build: Mapped[str] = mapped_column(String(64), default="")
    security_patch: Mapped[dt.date | None] = mapped_column(Date)
    firmware: Mapped[str] = mapped_column(String(128), default="")
    ownership: Mapped[str] = mapped_column(String(16))
    assigned_to_sealed: Mapped[bytes | None] = mapped_column(SealedBytes)
    assigned_to_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(16), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("device_groups.id", ondelete="SET NULL"))
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_checkin_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))
    compromised: Mapped[bool | None] = mapped_column(Boolean)
    storage_encrypted: Mapped[bool | None] = mapped_column(Boolean)
    passcode_set: Mapped[bool | None] = mapped_column(Boolean)
    managed_container: Mapped[bool | None] = mapped_column(Boolean)
    kernel: Mapped[str] = mapped_column(String(128), default="", server_default="")
    last_os_update: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    screen_lock_enabled: Mapped[bool | None] = mapped_column(Boolean)
    firewall_enabled: Mapped[bool | None] = mapped_column(Boolean)
    battery_percent: Mapped[int | None] = mapped_column(SmallInteger)
    compliance_state: Mapped[str] = mapped_column(String(16))
    compliance_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    quarantined_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_devices_name_id", "name", "id"),
        Index("ix_devices_platform_id", "platform", "id"),
        Index("ix_devices_model_id", "model", "id"),
        Index("ix_devices_os_version_key_id", "os_version_key", "id"),
        Index("ix_devices_last_checkin_at_id", "last_checkin_at", "id"),
        Index("ix_devices_compliance_state_id", "compliance_state", "id"),
        Index("ix_devices_ownership_id", "ownership", "id"),
        Index("ix_devices_group_id_id", "group_id", "id"),
        Index("ix_devices_status_id", "status", "id"),
        Index("ix_devices_enrolled_at_id", "enrolled_at", "id"),
    )


class InstalledApp(Base):
    """An app reported installed on a device."""

    __tablename__ = "installed_apps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    identifier: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(64), default="")
    managed: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("device_id", "identifier", name="uq_installed_apps_device_identifier"),)


class Policy(Base):
    """A named policy; its draft is editable, its versions are not."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    draft_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PolicyVersion(Base):
    """An immutable, numbered, published version of a policy."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    published_by: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("policy_id", "version", name="uq_policy_versions_policy_version"),)


class PolicyAssignment(Base):
    """Assigns a published policy version to a device group (optionally one ownership type)."""

    __tablename__ = "policy_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("device_groups.id", ondelete="CASCADE"), index=True)
    ownership: Mapped[str | None] = mapped_column(String(16))
    assigned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    assigned_by: Mapped[str] = mapped_column(String(64))


class CatalogApp(Base):
    """An app the clinic distributes."""

    __tablename__ = "catalog_apps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(16))
    publisher: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("platform", "identifier", name="uq_catalog_apps_platform_identifier"),)


class CatalogAppVersion(Base):
    """One uploaded build of a catalog app, addressed by its SHA-256."""

    __tablename__ = "catalog_app_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("catalog_apps.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("app_id", "version", name="uq_catalog_app_versions_app_version"),)


class DeviceCommand(Base):
    """A remote command and its lifecycle: queued -> delivered -> final state."""

    __tablename__ = "device_commands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[str] = mapped_column(Text, default="")
    # Issue 6 (migration 0007): the approval a guarded command came from, and the device's
    # location reported for a lost-mode command (sealed JSON, only ever for lost mode).
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("command_approvals.id", ondelete="SET NULL"), index=True)
    location_sealed: Mapped[bytes | None] = mapped_column(SealedBytes)

    __table_args__ = (
        Index("ix_device_commands_device_id_id", "device_id", "id"),
        Index("ix_device_commands_status_id", "status", "id"),
        Index("ix_device_commands_type_id", "type", "id"),
        Index("ix_device_commands_status_expires_at", "status", "expires_at"),
    )


class CommandApproval(Base):
    """A guarded command request waiting for a second administrator (issue 6, migration 0007).

    Full wipe, retire and destructive commands on many devices are not queued at once: the
    request is kept here until another administrator approves it from their own session
    (then the commands are queued) or rejects it, or it expires.
    """

    __tablename__ = "command_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    device_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_session: Mapped[str] = mapped_column(String(64), default="")
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_command_approvals_status_id", "status", "id"),
        Index("ix_command_approvals_status_expires_at", "status", "expires_at"),
    )


class AuditEntry(Base):
    """An append-only record of who did what, hash-chained under the store's audit key.

    ``seq`` numbers the chain 1, 2, 3, ... without gaps; ``prev_hash`` is the entry_hash of
    the entry numbered ``seq - 1``; ``hash_version`` says what ``entry_hash`` covers
    (:data:`~mdm_desktop.domain.audit.HASH_V1` or :data:`~mdm_desktop.domain.audit.HASH_V2`).
    The store refuses UPDATE and DELETE on this table (triggers, created by migration 0003).
    Entries are written only through :class:`~mdm_desktop.services.audit_log.AuditLog`, which takes
    the next number from :class:`AuditHead`; the column default is only a fallback for rows
    written by hand (tests), which the chain verification then reports.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(
        Integer, unique=True, default=text("(SELECT coalesce(max(seq), 0) + 1 FROM audit_entries)")
    )
    hash_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    workstation: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32), default="")
    target: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    entry_hash: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("ix_audit_entries_occurred_at_id", "occurred_at", "id"),
        Index("ix_audit_entries_actor_id", "actor", "id"),
        Index("ix_audit_entries_action_id", "action", "id"),
        Index("ix_audit_entries_outcome_id", "outcome", "id"),
    )


AUDIT_SEARCH_TABLE = "audit_search"
"""SQLite: the FTS5 trigram index over audit entries' text, kept in step by triggers (migration 0004)."""
AUDIT_SEARCH_INDEX = "ix_audit_entries_search_trgm"
"""PostgreSQL: the pg_trgm GIN index over the same columns (migration 0004; absent without pg_trgm)."""
DEVICE_SEARCH_TABLE = "device_search"
"""SQLite: the FTS5 trigram index over devices' name, model and vendor, kept in step by triggers (0011)."""
DEVICE_SEARCH_INDEX = "ix_devices_search_trgm"
"""PostgreSQL: the pg_trgm GIN index over the same columns (migration 0011; absent without pg_trgm)."""


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: leave the free-text search objects out of autogenerate comparison.

    They are made by migrations 0004 (audit) and 0011 (devices) only, per dialect (an FTS5 virtual table
    and its shadow tables on SQLite, a trigram GIN index on PostgreSQL), and SQLAlchemy cannot describe
    them as models.
    """
    if type_ == "table" and name is not None:
        return not any(name == t or name.startswith(f"{t}_") for t in (AUDIT_SEARCH_TABLE, DEVICE_SEARCH_TABLE))
    return not (type_ == "index" and name in (AUDIT_SEARCH_INDEX, DEVICE_SEARCH_INDEX))


class AuditHead(Base):
    """The single row that names the audit chain's last entry (its seq and hash).

    Just before a transaction that recorded audit entries commits,
    :func:`~mdm_desktop.services.audit_log.write_pending` locks this row (``SELECT ... FOR UPDATE`` on
    PostgreSQL; SQLite write transactions are already serialised by ``BEGIN IMMEDIATE``), appends the
    entries numbered ``seq + 1``, ... and moves the head in the same transaction, so concurrent writers
    form one linear chain. Verification also checks that the chain still reaches the head.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class AuditAnchor(Base):
    """The signed record one prune of the audit chain leaves (issue 5, migration 0005).

    Entries ``first_seq`` to ``upto_seq`` were exported (``export_file``, its SHA-256) and removed;
    ``upto_hash`` is the last removed entry's hash, which entry ``upto_seq + 1`` links to.
    ``signature`` is an Ed25519 signature (the store's checkpoint key) over these values
    (:func:`~mdm_desktop.services.audit_chain.anchor_bytes`). The store refuses UPDATE and DELETE
    of anchors, and allows DELETE of an audit entry only when an anchor covers its position.
    """

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer)
    upto_seq: Mapped[int] = mapped_column(Integer, unique=True)
    upto_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer)
    before: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    pruned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    export_file: Mapped[str] = mapped_column(String(255))
    export_sha256: Mapped[str] = mapped_column(String(64))
    key_fingerprint: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))


class User(Base):
    """A console account. Passwords are Argon2id PHC strings; secrets are sealed."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name_sealed: Mapped[bytes | None] = mapped_column(SealedBytes)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(SealedBytes)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Issue 4 (console security); every column nullable so older code can insert rows without them.
    custom_role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"), index=True)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    totp_pending_sealed: Mapped[bytes | None] = mapped_column(SealedBytes)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_failed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class CustomRole(Base):
    """A role an administrator composed from the permission table (built-in roles live in code)."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class UserGroupScope(Base):
    """Limits a user's role to device groups; a user without rows acts on every group."""

    __tablename__ = "user_group_scopes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("device_groups.id", ondelete="CASCADE"), primary_key=True)


class RecoveryCode(Base):
    """A single-use recovery code, stored only as a keyed hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),)


class ConsoleSession(Base):
    """A signed-in console or CLI session; ``id`` is the SHA-256 of the bearer token (never the token)."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    workstation: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    absolute_expiry: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    step_up_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoke_reason: Mapped[str] = mapped_column(String(32), default="")

    __table_args__ = (Index("ix_console_sessions_user_id_revoked_at", "user_id", "revoked_at"),)


class AccessRequest(Base):
    """A request for a temporary permission, optionally limited to one device group, and its decision."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    permission: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("device_groups.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_access_requests_status_id", "status", "id"),
        Index("ix_access_requests_requester_id_status", "requester_id", "status"),
        Index("ix_access_requests_status_expires_at", "status", "expires_at"),
    )


class EmergencyCode(Base):
    """A break-glass code (printed for the safe), stored as a keyed hash; one use, then reviewed."""

    __tablename__ = "emergency_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    used_by: Mapped[str] = mapped_column(String(64), default="")
    used_workstation: Mapped[str] = mapped_column(String(255), default="")
    session_id: Mapped[str] = mapped_column(String(64), default="")
    reviewed_by: Mapped[str] = mapped_column(String(64), default="")
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    review_note: Mapped[str] = mapped_column(Text, default="")


class SignInThrottle(Base):
    """Failed sign-ins for user names that have no account, so throttling looks the same for every name.

    Keyed by a keyed hash of the normalised name (never the name itself); old rows are pruned.
    """

    __tablename__ = "sign_in_throttle"

    name_hash: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


# Issue 6 (migration 0006): the site CA, enrolment tokens and device certificates.


class GatewayAuthority(Base):
    """The site's local certificate authority (a single row); its key is sealed under the data key."""

    __tablename__ = "gateway_authority"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    certificate_pem: Mapped[str] = mapped_column(Text)
    private_key_sealed: Mapped[bytes] = mapped_column(SealedBytes)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class EnrollmentToken(Base):
    """An enrolment token, kept only as a keyed hash; each enrolment takes one use."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("device_groups.id", ondelete="SET NULL"))
    ownership: Mapped[str] = mapped_column(String(16))
    uses_allowed: Mapped[int] = mapped_column(Integer)
    uses_left: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        CheckConstraint("uses_left >= 0 AND uses_left <= uses_allowed", name="uses_in_range"),
        Index("ix_enrollment_tokens_created_at_id", "created_at", "id"),
    )


class DeviceCertificate(Base):
    """A client certificate issued to a device; ``last_sequence`` is its highest check-in number seen."""

    __tablename__ = "device_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    not_before: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoke_reason: Mapped[str] = mapped_column(String(32), default="")
    last_sequence: Mapped[int] = mapped_column(Integer, default=-1)


# Issue 7 (migration 0009): the compliance engine's per-rule state, exceptions, escalation and snapshots.


class DeviceRuleState(Base):
    """One compliance rule's outcome for one device, as last evaluated.

    ``status`` is ``passing``, ``failing``, ``unknown`` (no data or stale check-in) or ``exempt`` (an
    approved, unexpired exception covers it). ``failing_since`` is when the rule started failing and is kept
    while it goes on failing; escalation counts its grace periods from it. ``detail`` is the reason in words.
    """

    __tablename__ = "device_rule_states"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    failing_since: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    detail: Mapped[str] = mapped_column(Text, default="")
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id", ondelete="SET NULL"))
    evaluated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_device_rule_states_rule_id_status", "rule_id", "status"),
        Index("ix_device_rule_states_status_failing_since", "status", "failing_since"),
    )


class ComplianceException(Base):
    """A device or a group exempted from one rule, for a stated reason, until a date.

    Requested by an administrator, in force only once a security officer approves it (``approved_at``) and
    until ``valid_until`` or ``revoked_at``. Exactly one of ``device_id`` and ``group_id`` is set.
    """

    __tablename__ = "compliance_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("device_groups.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    approved_by: Mapped[str] = mapped_column(String(64), default="")
    approved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("(device_id IS NULL) <> (group_id IS NULL)", name="one_subject"),
        Index("ix_compliance_exceptions_valid_until", "valid_until"),
    )


class EscalationStep(Base):
    """An escalation step taken (or waiting for approval) for a failing rule on a device.

    ``step`` is ``notify``, ``quarantine``, ``lock`` or ``wipe``. Rows of a rule are removed when the rule
    passes again, so a later failure starts the ladder from the beginning; the audit log keeps the history.
    """

    __tablename__ = "escalation_steps"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    taken_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    command_id: Mapped[int | None] = mapped_column(ForeignKey("device_commands.id", ondelete="SET NULL"))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("command_approvals.id", ondelete="SET NULL"))


class ComplianceSnapshot(Base):
    """Devices per compliance state and platform on one day (UTC), kept for trend charts."""

    __tablename__ = "compliance_snapshots"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    devices: Mapped[int] = mapped_column(Integer)


class ComplianceRuleSnapshot(Base):
    """Devices failing and exempted per rule on one day (UTC), kept for trend charts and reports."""

    __tablename__ = "compliance_rule_snapshots"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failing: Mapped[int] = mapped_column(Integer)
    exempt: Mapped[int] = mapped_column(Integer)


# Migration 0008: the bytes of catalog builds, in the store (works for SQLite and multi-workstation PostgreSQL).


class AppPackage(Base):
    """An uploaded package, addressed by its SHA-256; stored once however many catalog versions share it."""

    __tablename__ = "app_packages"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AppPackageChunk(Base):
    """One piece (at most 1 MiB) of a package, so it can be written and streamed without holding it whole."""

    __tablename__ = "app_package_chunks"

    sha256: Mapped[str] = mapped_column(ForeignKey("app_packages.sha256", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
