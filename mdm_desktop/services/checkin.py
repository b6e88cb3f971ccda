"""Device check-in (gateway side): authenticate the client certificate, take the report, answer with work.

A device is known only by its client certificate's SHA-256 fingerprint; the gateway has already
checked in the TLS handshake that the site CA signed it. Here, on every request and inside the
request's own transaction, the certificate must exist in the store, be unrevoked and unexpired, and
its device must not be retired or wiped; otherwise nothing is read or written.

A check-in carries a sequence number that must be higher than any seen for that certificate: the
number moves on with one conditional ``UPDATE``, so a replayed (or concurrently doubled) check-in
changes nothing. Routine check-ins are not audited one by one (a 2,000-device clinic makes 190,000
a day); a change of compliance state is.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, or_, select
from sqlalchemy.orm import Session

from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.commands import CommandType
from mdm_desktop.domain.devices import LifecycleStatus, Platform, version_sort_key
from mdm_desktop.domain.errors import AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError
from mdm_desktop.services import compliance_engine
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.group_commit import GroupCommit
from mdm_desktop.services.inventory_details import apply_details
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.repositories import app_packages as package_repo
from mdm_desktop.store.repositories import commands as command_repo
from mdm_desktop.store.repositories import devices as device_repo
from mdm_desktop.store.repositories import gateway as repo
from mdm_desktop.store.schema import (
    Device,
    InstalledApp,
    Policy,
    PolicyAssignment,
    PolicyVersion,
)
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory
from mdm_desktop.wire.v1 import Ack, CheckinRequest, CheckinResponse, CommandResult, Inventory, PendingCommand

_T = TypeVar("_T")
CHECKIN_INTERVAL_SECONDS = 900
PENDING_LIMIT = 20
"""Most commands handed out in one check-in; the rest follow on the next."""
RESULT_ACTION = "device.command_result"
"""Audit action of a command result a device reported (in a check-in or on its own)."""
INACTIVE_STATUSES = frozenset({LifecycleStatus.RETIRED.value, LifecycleStatus.WIPED.value})
QUARANTINE_WITHHELD = frozenset({CommandType.INSTALL_APP.value})
"""Command types a quarantined device does not get (they stay queued until the quarantine lifts)."""


class DeviceAuthError(AuthenticationError):
    """The client certificate is unknown, revoked or expired, or its device is retired: no data."""


class QuarantinedError(PermissionDeniedError):
    """The device is quarantined: managed apps and their packages are withheld."""


@dataclass(frozen=True, slots=True)
class PackageDownload:
    """An app package on its way to a device: its size and its bytes, chunk by chunk."""

    sha256: str
    size_bytes: int
    chunks: Iterator[bytes]


class ReplayError(ConflictError):
    """A check-in whose sequence number was already seen: nothing was changed."""

    def __init__(self, sequence: int, last: int) -> None:
        super().__init__(
            f"Check-in number {sequence} was already received (the last one accepted was {last}).",
            hint="Send the next check-in with a higher sequence number.",
        )
        self.sequence = sequence
        self.last = last


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The device a client certificate belongs to."""

    device_id: int
    device_uid: str
    certificate_id: int
    fingerprint: str

    def principal(self, peer: str = "") -> Principal:
        """The device as an audit actor."""
        return Principal(kind="device", id=self.device_id, name=self.device_uid, role=None, workstation=peer)


# -- inventory and compliance (shared with enrolment) ----------------------------------------------------------


def apply_inventory(cipher: FieldCipher, device: Device, inventory: Inventory, now: dt.datetime) -> None:
    """Copy a reported inventory onto the device row (identifiers sealed, as the devices repository does)."""
    device.name = inventory.name
    device.platform = Platform(inventory.platform.value).value
    device.vendor = inventory.vendor
    device.model = inventory.model
    device.os_version = inventory.os_version
    device.os_version_key = version_sort_key(inventory.os_version)
    device.os_build = inventory.os_build
    device.security_patch = inventory.security_patch
    device.firmware = inventory.firmware
    device.compromised = inventory.compromised
    device.storage_encrypted = inventory.storage_encrypted
    device.passcode_set = inventory.passcode_set
    device.managed_container = inventory.managed_container
    apply_details(device, inventory)  # kernel, last OS update, screen lock, firewall, battery (when changed)
    device.last_checkin_at = now
    device.updated_at = now
    if _identifiers_unchanged(cipher, device, inventory):
        return  # sealing anew costs three encryptions and a decryption per check-in, for the same values
    assigned = (
        cipher.open(device.assigned_to_sealed, table="devices", column="assigned_to", row=device.uid)
        if device.assigned_to_sealed is not None
        else None
    )
    sealed = device_repo.seal_identifiers(
        cipher, device.uid, serial=inventory.serial, hardware_id=inventory.hardware_id, assigned_to=assigned
    )
    for column, value in sealed.items():
        setattr(device, column, value)


def _identifiers_unchanged(cipher: FieldCipher, device: Device, inventory: Inventory) -> bool:
    """Whether the reported serial and hardware id are the stored ones (compared by their blind indexes).

    The blind index ignores case and repeated spaces, so a serial reported again in other letter case
    keeps its stored spelling.
    """
    for value, stored, purpose in (
        (inventory.serial, device.serial_bidx, device_repo.SEARCH_PURPOSES["serial"]),
        (inventory.hardware_id, device.hardware_id_bidx, device_repo.SEARCH_PURPOSES["hardware_id"]),
    ):
        if cipher.blind_index(value, purpose=purpose) != stored:
            return False
    return True


_apps = InstalledApp.__table__
_APPS_OF = select(_apps.c.identifier, _apps.c.name, _apps.c.version, _apps.c.managed).where(
    _apps.c.device_id == bindparam("device_id")
)
"""Prepared once (Core, on the connection): every check-in reads the device's stored app list."""


def replace_apps(session: Session, device_id: int, inventory: Inventory) -> None:
    """Replace the device's installed-app list with the reported one (a repeated identifier counts once).

    Only the differences are written: most check-ins report the same apps as the last one, and
    reading the list is much cheaper than deleting and inserting every row (gateway benchmark).
    """
    wanted: dict[str, tuple[str, str, bool]] = {}
    for app in inventory.apps:
        wanted[app.identifier] = (app.name, app.version, app.managed)
    stored = {
        identifier: (name, version, bool(managed))
        for identifier, name, version, managed in session.connection().execute(_APPS_OF, {"device_id": device_id})
    }
    changed = [ident for ident, values in wanted.items() if stored.get(ident) != values]
    stale = [ident for ident in stored if ident not in wanted or ident in changed]
    if stale:
        session.execute(
            delete(InstalledApp).where(InstalledApp.device_id == device_id, InstalledApp.identifier.in_(stale))
        )
    if changed:
        rows: list[dict[str, Any]] = [
            {"device_id": device_id, "identifier": ident, "name": name, "version": version, "managed": managed}
            for ident in changed
            for name, version, managed in (wanted[ident],)
        ]
        session.execute(insert(InstalledApp), rows)


def _assigned_settings(session: Session, device: Device) -> tuple[Mapping[str, Any] | None, str | None]:
    """Settings and version label of the policy assigned to the device's group (newest assignment wins)."""
    if device.group_id is None:
        return None, None
    row = session.execute(
        select(PolicyVersion.settings, PolicyVersion.version, Policy.uid)
        .join(PolicyAssignment, PolicyAssignment.policy_version_id == PolicyVersion.id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(
            PolicyAssignment.group_id == device.group_id,
            or_(PolicyAssignment.ownership.is_(None), PolicyAssignment.ownership == device.ownership),
        )
        .order_by(PolicyAssignment.assigned_at.desc(), PolicyAssignment.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, None
    return row.settings or {}, f"{row.uid}:{row.version}"


def evaluate_compliance(session: Session, device: Device, now: dt.datetime) -> str | None:
    """Re-evaluate the device against its assigned policy (default health rules without one).

    Sets ``compliance_state`` and ``compliance_reasons``, stores the per-rule states (the compliance
    engine, every assigned policy merged) and returns the newest assigned policy version's label.
    """
    _settings, version = _assigned_settings(session, device)
    compliance_engine.evaluate_device(session, device, now)
    return version


# -- the service -----------------------------------------------------------------------------------------------


class CheckinService:
    """Device-side use cases behind mutual TLS: authenticate, check in, report a command result."""

    def __init__(self, uow: UnitOfWorkFactory, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._audit = audit
        self._clock = clock
        # SQLite has one writer at a time. The gateway's request threads queue for it on this lock (in
        # arrival order, woken at once) instead of in SQLite's busy handler, which polls with sleeps of up
        # to 100 ms and let some check-ins wait seconds under load (gateway benchmark, p99).
        # Check-ins also share their commits (services/group_commit.py): one disk flush for all the check-ins
        # that queued while the previous batch was written, instead of one each. On PostgreSQL the batches
        # (this process's own lock; other gateways batch on their own) also save each check-in its own
        # connection checkout, BEGIN and COMMIT, and the thread churn of 30+ request threads waiting on
        # round trips: about 30 % less gateway CPU per check-in (gateway benchmark).
        lock = threading.Lock() if uow.engine.dialect.name == "sqlite" else None
        self._writer: AbstractContextManager[object] = lock if lock is not None else nullcontext()
        self._group = GroupCommit(uow, lock or threading.Lock(), expected=(DeviceAuthError, ReplayError))
        # The UTC day whose compliance snapshot is known to be stored (set once a check-in that made sure of
        # it has committed): only the first check-in of a day probes for it, not every one.
        self._snapshot_day: dt.date | None = None

    def authenticate(self, fingerprint: str) -> DeviceIdentity:
        """The device a certificate fingerprint belongs to.

        Raises:
            DeviceAuthError: Unknown, revoked or expired certificate, or a retired or wiped device.
        """
        with self._uow() as uow:
            identity, _device, _cert = self._identify(uow.session, fingerprint)
            return identity

    def _identify(self, session: Session, fingerprint: str) -> tuple[DeviceIdentity, Device, repo.CertificateState]:
        found = repo.device_by_certificate(session, fingerprint.lower())
        now = self._clock()
        if found is None:
            raise DeviceAuthError("This client certificate is not known to the gateway.", hint="Enrol the device.")
        device, cert = found
        if cert.revoked_at is not None or device.status in INACTIVE_STATUSES:
            raise DeviceAuthError("This device's certificate was revoked.", hint="Enrol the device again.")
        if cert.not_after <= now:
            raise DeviceAuthError("This device's certificate has expired.", hint="Enrol the device again.")
        return DeviceIdentity(device.id, device.uid, cert.id, cert.fingerprint), device, cert

    def check_in(self, fingerprint: str, request: CheckinRequest, peer: str = "") -> CheckinResponse:
        """Take a check-in: inventory, state and command results in; pending commands and policy out.

        Raises:
            DeviceAuthError: The certificate is not (or no longer) valid; nothing changed.
            ReplayError: The sequence number was already seen; nothing changed.
        """
        now = self._clock()
        day = now.date()
        snapshot_known = self._snapshot_day == day

        def work(uow: UnitOfWork) -> tuple[list[PendingCommand], str | None, Device]:
            identity, device, cert = self._identify(uow.session, fingerprint)
            if not repo.advance_sequence(uow.session, cert.id, request.sequence):
                raise ReplayError(request.sequence, cert.last_sequence)
            before = device.compliance_state
            apply_inventory(uow.cipher, device, request.inventory, now)
            replace_apps(uow.session, device.id, request.inventory)
            version = evaluate_compliance(uow.session, device, now)
            if not snapshot_known:
                compliance_engine.ensure_snapshot(uow.session, day)  # the first check-in of a UTC day takes it
            for result in request.results:
                self._take_result(uow, identity, result, now, peer=peer)
            commands = self._pending(uow, identity, now, quarantined=device.quarantined_at is not None)
            if device.compliance_state != before:
                self._audit.record(
                    uow,
                    identity.principal(peer),
                    "device.compliance_changed",
                    target_kind="device",
                    target=device.uid,
                    details={"from": before, "to": device.compliance_state},
                )
            return commands, version, device

        commands, version, device = self._write(work)
        self._snapshot_day = day  # committed: the day's snapshot is stored
        return CheckinResponse(
            commands=commands,
            policy_version=version,
            checkin_interval_seconds=CHECKIN_INTERVAL_SECONDS,
            quarantined=device.quarantined_at is not None,  # set and lifted by services/escalation.py
        )

    def _write(self, work: Callable[[UnitOfWork], _T]) -> _T:
        """Run a check-in's work in a write transaction, shared with the check-ins queued at the same time."""
        return self._group.run(work)

    @mutating(RESULT_ACTION)
    def record_result(self, fingerprint: str, command_id: str, result: CommandResult, peer: str = "") -> Ack:
        """Take one command result sent on its own (audited); sending it again changes nothing.

        Raises:
            DeviceAuthError: The certificate is not (or no longer) valid.
            NotFoundError: No such command for this device (another device's command included).
        """
        now = self._clock()
        with self._writer, self._uow(write=True) as uow:
            identity, _device, _cert = self._identify(uow.session, fingerprint)
            self._take_result(
                uow, identity, result.model_copy(update={"command_id": command_id}), now, strict=True, peer=peer
            )
            uow.commit()
        return Ack(accepted=True)

    def _take_result(
        self,
        uow: UnitOfWork,
        identity: DeviceIdentity,
        result: CommandResult,
        now: dt.datetime,
        *,
        strict: bool = False,
        peer: str = "",
    ) -> None:
        """Hand a command result to the command lifecycle; another device's or an unknown command is refused.

        In a check-in (``strict`` false) such a result is skipped and the rest of the check-in goes on;
        sent on its own it is a 404. A result for a command already final changes nothing; one that
        moves the command on is audited (actor: the device; target: the command).
        """
        try:
            changed = command_repo.record_result(
                uow,
                identity.device_id,
                result.command_id,
                result.outcome.value,
                result.detail,
                now,
                location=dict(result.location) if result.location is not None else None,
            )
        except command_repo.UnknownCommandError:
            if strict:
                raise
            return
        if changed:  # a replayed or late answer changed nothing and is not recorded twice
            self._audit.record(
                uow,
                identity.principal(peer),
                RESULT_ACTION,
                target_kind="command",
                target=result.command_id,
                details={"outcome": result.outcome.value, "detail": result.detail[:500]},
            )

    def app_package(self, fingerprint: str, sha256: str) -> PackageDownload:
        """The package a device was told to install, to stream to it (read-only, not audited).

        Only a device with an open (queued or delivered) install command for exactly this SHA-256 gets
        it; for any other device, and for a hash that is not stored, the answer is the same "not found".

        Raises:
            DeviceAuthError: The certificate is not (or no longer) valid.
            QuarantinedError: The device is quarantined; no managed app is handed out.
            NotFoundError: Not a package this device may download.
        """
        with self._uow() as uow:
            identity, device, _cert = self._identify(uow.session, fingerprint)
            stored = package_repo.package_size(uow, sha256)
            if device.quarantined_at is not None:
                raise QuarantinedError(
                    "This device is quarantined: managed apps are withheld.",
                    hint="Bring the device back into compliance; the next escalation sweep lifts the quarantine.",
                )
            if stored is None or not package_repo.device_may_download(uow, identity.device_id, sha256):
                raise NotFoundError(
                    "There is no app package with that SHA-256 for this device.",
                    hint="Download only the packages of this device's install commands.",
                )
        size, chunks = stored
        return PackageDownload(sha256, size, package_repo.iter_chunks(self._uow, sha256, chunks))

    def _pending(
        self, uow: UnitOfWork, identity: DeviceIdentity, now: dt.datetime, *, quarantined: bool
    ) -> list[PendingCommand]:
        """Commands queued for the device, claimed for delivery (marked delivered in this transaction).

        A quarantined device gets no managed apps: its install commands stay queued until the
        quarantine is lifted (lock, wipe and the other commands still go out).
        """
        withhold = QUARANTINE_WITHHELD if quarantined else frozenset()
        return [
            PendingCommand(command_id=cmd.uid, type=cmd.type, payload=dict(cmd.payload or {}))
            for cmd in command_repo.claim_pending(uow, identity.device_id, now, PENDING_LIMIT, withhold)
        ]
