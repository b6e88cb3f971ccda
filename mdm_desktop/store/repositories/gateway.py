"""Queries of the device gateway: the site CA row, enrolment tokens, device certificates.

Everything that must hold under concurrency is one conditional ``UPDATE`` whose row count says
whether it happened: taking one use of a token, moving a certificate's check-in sequence on.
Both work the same on SQLite (write transactions are serialised) and PostgreSQL (the second
writer waits on the row lock, then re-checks the condition on the committed row).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from mdm_desktop.store.schema import Device, DeviceCertificate, EnrollmentToken, GatewayAuthority

AUTHORITY_ID = 1


def load_authority(session: Session) -> GatewayAuthority | None:
    """The site CA row, if it was made."""
    return session.get(GatewayAuthority, AUTHORITY_ID)


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def take_token_use(session: Session, token_hash: bytes, now: dt.datetime) -> EnrollmentToken | None:
    """Take one use of a live token (not revoked, not expired, uses left); ``None`` when there is none."""
    result = session.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.token_hash == token_hash,
            EnrollmentToken.uses_left > 0,
            EnrollmentToken.revoked_at.is_(None),
            EnrollmentToken.expires_at > now,
        )
        .values(uses_left=EnrollmentToken.uses_left - 1, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return None
    return session.scalars(select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash)).one()


def token_by_hash(session: Session, token_hash: bytes) -> EnrollmentToken | None:
    """The token with this hash, whatever its state."""
    return session.scalars(select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash)).one_or_none()


def certificate_with_device(session: Session, fingerprint: str) -> tuple[DeviceCertificate, Device] | None:
    """The certificate with this SHA-256 fingerprint and its device."""
    row = session.execute(
        select(DeviceCertificate, Device)
        .join(Device, Device.id == DeviceCertificate.device_id)
        .where(DeviceCertificate.fingerprint == fingerprint)
    ).first()
    return None if row is None else (row[0], row[1])


class CertificateState(NamedTuple):
    """What a check-in reads of a device certificate."""

    id: int
    fingerprint: str
    revoked_at: dt.datetime | None
    not_after: dt.datetime
    last_sequence: int


def device_by_certificate(session: Session, fingerprint: str) -> tuple[Device, CertificateState] | None:
    """The device of the certificate with this SHA-256 fingerprint, and the certificate's state.

    The certificate comes as a :class:`CertificateState`, not an ORM object: a check-in only reads it,
    and loading one entity instead of two is measurably cheaper on the gateway's hot path.
    """
    row = session.execute(_DEVICE_BY_CERTIFICATE, {"fingerprint": fingerprint}).first()
    return None if row is None else (row[0], CertificateState(*row[1:]))


_DEVICE_BY_CERTIFICATE = (
    select(
        Device,
        DeviceCertificate.id,
        DeviceCertificate.fingerprint,
        DeviceCertificate.revoked_at,
        DeviceCertificate.not_after,
        DeviceCertificate.last_sequence,
    )
    .join(DeviceCertificate, DeviceCertificate.device_id == Device.id)
    .where(DeviceCertificate.fingerprint == bindparam("fingerprint"))
)


def advance_sequence(session: Session, certificate_id: int, sequence: int) -> bool:
    """Record ``sequence`` as the certificate's newest check-in; ``False`` when it is not newer (a replay)."""
    result = session.connection().execute(_ADVANCE_SEQUENCE, {"k_id": certificate_id, "k_sequence": sequence})
    return _rowcount(result) == 1


_certificates = cast(Table, DeviceCertificate.__table__)
_ADVANCE_SEQUENCE = (
    update(_certificates)
    .where(_certificates.c.id == bindparam("k_id"), _certificates.c.last_sequence < bindparam("k_sequence"))
    .values(last_sequence=bindparam("k_sequence"))
)
"""Prepared once (Core, on the connection, no ORM bookkeeping): every check-in runs it."""


def revoke_device_certificates(session: Session, device_id: int, now: dt.datetime, reason: str) -> int:
    """Revoke every live certificate of a device in the caller's transaction; return how many."""
    result = session.execute(
        update(DeviceCertificate)
        .where(DeviceCertificate.device_id == device_id, DeviceCertificate.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason[:32])
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def live_certificate_count(session: Session, device_id: int, now: dt.datetime) -> int:
    """Certificates of a device that are neither revoked nor expired."""
    return int(
        session.scalar(
            select(func.count(DeviceCertificate.id)).where(
                DeviceCertificate.device_id == device_id,
                DeviceCertificate.revoked_at.is_(None),
                DeviceCertificate.not_after > now,
            )
        )
        or 0
    )
