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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.compliance import DeviceHealth, HealthRules
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Platform, version_sort_key
from mdm_desktop.domain.errors import AuthenticationError, ConflictError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.demo_fleet import assess, rules_from_settings
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.repositories import commands as command_repo
from mdm_desktop.store.repositories import devices as device_repo
from mdm_desktop.store.repositories import gateway as repo
from mdm_desktop.store.schema import (
    Device,
    DeviceCertificate,
    InstalledApp,
    Policy,
    PolicyAssignment,
    PolicyVersion,
)
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory
from mdm_desktop.wire.v1 import Ack, CheckinRequest, CheckinResponse, CommandResult, Inventory, PendingCommand

CHECKIN_INTERVAL_SECONDS = 900
PENDING_LIMIT = 20
"""Most commands handed out in one check-in; the rest follow on the next."""
INACTIVE_STATUSES = frozenset({LifecycleStatus.RETIRED.value, LifecycleStatus.WIPED.value})


class DeviceAuthError(AuthenticationError):
    """The client certificate is unknown, revoked or expired, or its device is retired: no data."""


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
    device.last_checkin_at = now
    device.updated_at = now
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


def replace_apps(session: Session, device_id: int, inventory: Inventory) -> None:
    """Replace the device's installed-app list with the reported one (a repeated identifier counts once)."""
    apps: dict[str, dict[str, Any]] = {}
    for app in inventory.apps:
        apps[app.identifier] = {
            "device_id": device_id,
            "identifier": app.identifier,
            "name": app.name,
            "version": app.version,
            "managed": app.managed,
        }
    session.execute(delete(InstalledApp).where(InstalledApp.device_id == device_id))
    if apps:
        session.execute(insert(InstalledApp), list(apps.values()))


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

    Sets ``compliance_state`` and ``compliance_reasons`` and returns the assigned policy version label.
    Issue 7 replaces this with the full engine (escalation, grace actions).
    """
    settings, version = _assigned_settings(session, device)
    rules, grace = rules_from_settings(settings) if settings is not None else (HealthRules(), 0)
    health = DeviceHealth(
        platform=Platform(device.platform),
        os_version=device.os_version,
        security_patch=device.security_patch,
        compromised=device.compromised,
        storage_encrypted=device.storage_encrypted,
        passcode_set=device.passcode_set,
        last_checkin=device.last_checkin_at,
    )
    state, reasons = assess(health, rules, grace, now)
    device.compliance_state = ComplianceState(state).value
    device.compliance_reasons = list(reasons)
    return version


# -- the service -----------------------------------------------------------------------------------------------


class CheckinService:
    """Device-side use cases behind mutual TLS: authenticate, check in, report a command result."""

    def __init__(self, uow: UnitOfWorkFactory, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._audit = audit
        self._clock = clock

    def authenticate(self, fingerprint: str) -> DeviceIdentity:
        """The device a certificate fingerprint belongs to.

        Raises:
            DeviceAuthError: Unknown, revoked or expired certificate, or a retired or wiped device.
        """
        with self._uow() as uow:
            identity, _device, _cert = self._identify(uow.session, fingerprint)
            return identity

    def _identify(self, session: Session, fingerprint: str) -> tuple[DeviceIdentity, Device, DeviceCertificate]:
        found = repo.certificate_with_device(session, fingerprint.lower())
        now = self._clock()
        if found is None:
            raise DeviceAuthError("This client certificate is not known to the gateway.", hint="Enrol the device.")
        cert, device = found
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
        with self._uow(write=True) as uow:
            identity, device, cert = self._identify(uow.session, fingerprint)
            if not repo.advance_sequence(uow.session, cert.id, request.sequence):
                raise ReplayError(request.sequence, cert.last_sequence)
            before = device.compliance_state
            apply_inventory(uow.cipher, device, request.inventory, now)
            replace_apps(uow.session, device.id, request.inventory)
            version = evaluate_compliance(uow.session, device, now)
            for result in request.results:
                self._take_result(uow, identity, result, now)
            commands = self._pending(uow, identity, now)
            if device.compliance_state != before:
                self._audit.record(
                    uow,
                    identity.principal(peer),
                    "device.compliance_changed",
                    target_kind="device",
                    target=device.uid,
                    details={"from": before, "to": device.compliance_state},
                )
            uow.commit()
        return CheckinResponse(
            commands=commands,
            policy_version=version,
            checkin_interval_seconds=CHECKIN_INTERVAL_SECONDS,
            quarantined=False,  # quarantine actions arrive with the compliance engine (issue 7)
        )

    def record_result(self, fingerprint: str, command_id: str, result: CommandResult, peer: str = "") -> Ack:
        """Take one command result sent on its own; sending it again changes nothing.

        Raises:
            DeviceAuthError: The certificate is not (or no longer) valid.
            NotFoundError: No such command for this device (another device's command included).
        """
        now = self._clock()
        with self._uow(write=True) as uow:
            identity, _device, _cert = self._identify(uow.session, fingerprint)
            self._take_result(uow, identity, result.model_copy(update={"command_id": command_id}), now, strict=True)
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
    ) -> None:
        """Hand a command result to the command lifecycle; another device's or an unknown command is refused.

        In a check-in (``strict`` false) such a result is skipped and the rest of the check-in goes on;
        sent on its own it is a 404. A result for a command already final changes nothing.
        """
        try:
            command_repo.record_result(
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

    def _pending(self, uow: UnitOfWork, identity: DeviceIdentity, now: dt.datetime) -> list[PendingCommand]:
        """Commands queued for the device, claimed for delivery (marked delivered in this transaction)."""
        return [
            PendingCommand(command_id=cmd.uid, type=cmd.type, payload=dict(cmd.payload or {}))
            for cmd in command_repo.claim_pending(uow, identity.device_id, now, PENDING_LIMIT)
        ]
