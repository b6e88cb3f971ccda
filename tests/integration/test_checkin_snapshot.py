"""Check-ins take the day's compliance snapshot: the first one of each UTC day, without probing on every one."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import delete, select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.security.ca import der_fingerprint
from mdm_desktop.services.checkin import ReplayError
from mdm_desktop.store.schema import ComplianceSnapshot
from mdm_desktop.wire.v1 import CheckinRequest, EnrollRequest
from tests.conftest import _authenticators, sign_in_admin
from tests.e2e.gateway_helpers import csr_pem, inventory, new_key


def _enrol(ctx: AppContext) -> str:
    services = ctx.services
    issued = services.enrollment.create_token(
        sign_in_admin(ctx).principal,
        group_id=None,
        uses=1,
        lifetime=dt.timedelta(hours=1),
        ownership=Ownership.CORPORATE,
        server_url="https://127.0.0.1:8443",
    )
    enrolled = services.enrollment.enrol(
        EnrollRequest.model_validate(
            {"token": issued.token, "csr_pem": csr_pem(new_key()), "inventory": inventory("ward-2-tablet")}
        )
    )
    der = x509.load_pem_x509_certificate(enrolled.certificate_pem.encode()).public_bytes(Encoding.DER)
    return der_fingerprint(der)


def _check_in(ctx: AppContext, fingerprint: str, sequence: int) -> None:
    request = CheckinRequest.model_validate(
        {"sequence": sequence, "sent_at": dt.datetime.now(dt.UTC), "inventory": inventory("ward-2-tablet")}
    )
    ctx.services.checkin.check_in(fingerprint, request)


def _snapshot_days(ctx: AppContext) -> set[dt.date]:
    with ctx.uow() as uow:
        return set(uow.session.scalars(select(ComplianceSnapshot.day)))


def _drop_snapshots(ctx: AppContext) -> None:
    with ctx.uow(write=True) as uow:
        uow.session.execute(delete(ComplianceSnapshot))
        uow.commit()


def test_the_first_check_in_of_each_day_takes_the_days_snapshot(app_ctx: AppContext) -> None:
    clock = _authenticators(app_ctx).clock
    fingerprint = _enrol(app_ctx)
    _drop_snapshots(app_ctx)
    today = clock().date()

    _check_in(app_ctx, fingerprint, 1)
    assert _snapshot_days(app_ctx) == {today}

    # Later the same day the gateway knows the snapshot is stored and does not look again.
    _drop_snapshots(app_ctx)
    _check_in(app_ctx, fingerprint, 2)
    assert _snapshot_days(app_ctx) == set()

    clock.offset += dt.timedelta(days=1)
    _check_in(app_ctx, fingerprint, 3)
    assert _snapshot_days(app_ctx) == {clock().date()}


def test_a_refused_check_in_does_not_count_as_the_days_snapshot(app_ctx: AppContext) -> None:
    clock = _authenticators(app_ctx).clock
    fingerprint = _enrol(app_ctx)
    _check_in(app_ctx, fingerprint, 5)
    clock.offset += dt.timedelta(days=1)
    _drop_snapshots(app_ctx)

    with pytest.raises(ReplayError):
        _check_in(app_ctx, fingerprint, 5)  # refused: its transaction (snapshot included) is rolled back
    assert _snapshot_days(app_ctx) == set()

    _check_in(app_ctx, fingerprint, 6)
    assert _snapshot_days(app_ctx) == {clock().date()}
