"""Re-enrolment: a device that enrols again keeps its record, a clone of an active one is refused.

A device is recognised by the blind index of the hardware id it reports together with its platform
(not by its serial alone: desktop firmware often reports placeholders such as "To Be Filled By
O.E.M." for many machines). A device that reports no hardware id always gets a new record. When
such a record exists:

* it is retired or wiped, or none of its certificates is live (all revoked or expired): enrolment
  reuses the record (its history, commands and audit trail stay attached) and issues a new
  certificate; commands still open for the old enrolment (queued or delivered, say a wipe queued
  before the device was reset) are cancelled, never carried out by the new one; the entry is audited
  as ``device.re_enrolled`` with the cancelled commands' ids;
* it is active with a live certificate: a second device claiming the same hardware is a possible
  clone (or a copied key store) and is refused with HTTP 409 (:class:`PossibleCloneError`), audited
  as ``device.enrol_refused`` with the reason ``possible_clone``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from mdm_desktop.domain.commands import CommandStatus
from mdm_desktop.domain.devices import LifecycleStatus
from mdm_desktop.domain.errors import ConflictError
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.repositories import devices as device_repo
from mdm_desktop.store.repositories import gateway as gateway_repo
from mdm_desktop.store.repositories.commands import OPEN_STATUSES
from mdm_desktop.store.schema import Device, DeviceCommand
from mdm_desktop.wire.v1 import Inventory

INACTIVE = frozenset({LifecycleStatus.RETIRED.value, LifecycleStatus.WIPED.value})
SUPERSEDED = "superseded"
"""Revocation reason of a reused record's old certificates (expired ones not yet revoked)."""


class PossibleCloneError(ConflictError):
    """An active, certified device already reports this hardware: the enrolment is refused (HTTP 409)."""

    def __init__(self, device_uid: str) -> None:
        super().__init__(
            "A device with this hardware id is already enrolled and holds a valid certificate: "
            "this may be a cloned device, so the enrolment was refused.",
            hint="If the device was reset or replaced, ask the clinic's IT staff to retire its old record first.",
        )
        self.device_uid = device_uid


@dataclass(frozen=True, slots=True)
class PreviousRecord:
    """A device record the enrolling hardware had before."""

    device: Device
    previous_status: str
    live_certificates: int

    @property
    def reusable(self) -> bool:
        """Retired or wiped, or no live certificate: enrolment takes this record over."""
        return self.previous_status in INACTIVE or self.live_certificates == 0


def _identity(cipher: FieldCipher, inventory: Inventory) -> tuple[str, bytes] | None:
    """The blind-index column that identifies the hardware, and the index of the reported hardware id."""
    if not inventory.hardware_id:
        return None
    found = cipher.blind_index(inventory.hardware_id, purpose=device_repo.SEARCH_PURPOSES["hardware_id"])
    return ("hardware_id_bidx", found) if found is not None else None


def previous_record(
    session: Session, cipher: FieldCipher, inventory: Inventory, now: dt.datetime
) -> PreviousRecord | None:
    """The record of this hardware on this platform (the newest one), or ``None`` for new hardware.

    An active record with a live certificate wins over any retired one: the clone check must see it.

    On PostgreSQL the look-up first takes a transaction-scoped advisory lock on the hardware identity,
    so simultaneous first enrolments of one machine (with different tokens) queue: the first creates
    the record, the others then see it and are refused as clones. (SQLite serialises write
    transactions already.)
    """
    identity = _identity(cipher, inventory)
    if identity is None:
        return None
    column, index = identity
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"enrol:" + inventory.platform.value.encode() + index).digest()[:8], "big")
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key - (1 << 63)})
    rows = session.scalars(
        select(Device)
        .where(getattr(Device, column) == index, Device.platform == inventory.platform.value)
        .order_by(Device.id.desc())
        .limit(20)
    ).all()
    found: list[PreviousRecord] = [
        PreviousRecord(row, row.status, gateway_repo.live_certificate_count(session, row.id, now)) for row in rows
    ]
    for record in found:
        if not record.reusable:
            return record
    return found[0] if found else None


def refuse_if_clone(record: PreviousRecord | None) -> None:
    """Raise :class:`PossibleCloneError` when ``record`` is an active, certified device."""
    if record is not None and not record.reusable:
        raise PossibleCloneError(record.device.uid)


def prepare_reuse(session: Session, record: PreviousRecord, now: dt.datetime) -> int:
    """Make a reusable record ready for its new certificate: revoke what is left of the old ones.

    Returns how many old certificates were revoked now (expired but never revoked ones).
    """
    return gateway_repo.revoke_device_certificates(session, record.device.id, now, SUPERSEDED)


def cancel_open_commands(session: Session, device_id: int, now: dt.datetime) -> list[str]:
    """Cancel the reused record's queued and delivered commands; returns their ids (``uid``), oldest first."""
    cancelled = list(
        session.scalars(
            select(DeviceCommand.uid)
            .where(DeviceCommand.device_id == device_id, DeviceCommand.status.in_(OPEN_STATUSES))
            .order_by(DeviceCommand.id)
        )
    )
    if cancelled:
        session.execute(
            update(DeviceCommand)
            .where(DeviceCommand.device_id == device_id, DeviceCommand.status.in_(OPEN_STATUSES))
            .values(
                status=CommandStatus.CANCELLED.value,
                completed_at=now,
                result="Cancelled: the device enrolled again (commands of the earlier enrolment are not carried over).",
            )
            .execution_options(synchronize_session=False)
        )
    return cancelled
