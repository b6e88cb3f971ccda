"""Re-enrolment over real TLS: a device whose record is retired or whose certificates are revoked gets its
old record back with a new certificate (history kept, audited as ``device.re_enrolled``); a second device
claiming the hardware id of an active, certified one is refused with 409 (possible clone), audited, and the
token use is given back. The inventory details (kernel, last OS update, screen lock, firewall, battery) are
stored and reach the device detail."""

from __future__ import annotations

import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from mdm_desktop.app import AppContext
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import LifecycleStatus
from mdm_desktop.gateway.runner import GatewayStatus
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.schema import AuditEntry, Device, DeviceCertificate, EnrollmentToken
from tests.conftest import sign_in_admin
from tests.e2e.gateway_helpers import (
    EnrolledDevice,
    checkin_body,
    client,
    csr_pem,
    inventory,
    key_pem,
    make_token,
    new_key,
    running_gateway,
)

HARDWARE_ID = "4c4c4544-0042-3510-8052-b4c04f4e3332"


@pytest.fixture
def gateway(app_ctx: AppContext):  # type: ignore[no-untyped-def]
    with running_gateway(app_ctx) as status:
        yield app_ctx, status, app_ctx.services.enrollment.authority().certificate_pem


def _enrol(
    status: GatewayStatus, ca_pem: str, token: str, folder: Path, **changes: Any
) -> tuple[httpx.Response, EnrolledDevice | None]:
    key = new_key()
    body = {"token": token, "csr_pem": csr_pem(key), "inventory": inventory(hardware_id=HARDWARE_ID, **changes)}
    with client(status, ca_pem) as http:
        response = http.post("/v1/enroll", json=body)
    if response.status_code != 200:
        return response, None
    data = response.json()
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "device.crt", folder / "device.key"
    cert_file.write_text(data["certificate_pem"], encoding="ascii")
    key_file.write_bytes(key_pem(key))
    return response, EnrolledDevice(data["device_id"], cert_file, key_file, data["certificate_pem"])


def _audits(ctx: AppContext, action: str) -> list[dict[str, Any]]:
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(AuditEntry.target, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        ).all()
    return [{"target": t, "outcome": o, **json.loads(d)} for t, o, d in rows]


def _device_count(ctx: AppContext) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalar(select(func.count(Device.id))) or 0)


def _device_id(ctx: AppContext, uid: str) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalars(select(Device.id).where(Device.uid == uid)).one())


def _uses_left(ctx: AppContext) -> list[int]:
    with ctx.uow() as uow:
        return list(uow.session.scalars(select(EnrollmentToken.uses_left).order_by(EnrollmentToken.id)))


def _first(ctx: AppContext, admin: SessionInfo, status: GatewayStatus, ca_pem: str, tmp: Path) -> EnrolledDevice:
    response, device = _enrol(status, ca_pem, make_token(ctx, admin, status), tmp / "first")
    assert response.status_code == 200, response.text
    assert device is not None
    return device


def test_a_clone_of_an_active_device_is_refused_with_409_and_audited(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    first = _first(ctx, admin, status, ca_pem, tmp_path)
    token = make_token(ctx, admin, status)

    response, device = _enrol(status, ca_pem, token, tmp_path / "clone", name="Copied laptop")

    assert response.status_code == 409
    assert device is None
    assert "clone" in response.json()["title"]
    assert _device_count(ctx) == 1
    assert _uses_left(ctx)[-1] == 1  # the refused enrolment used nothing up
    refused = _audits(ctx, "device.enrol_refused")
    assert [(r["reason"], r["device"], r["outcome"]) for r in refused] == [("possible_clone", first.uid, "denied")]
    with client(status, ca_pem, first) as http:  # the real device is unaffected
        assert http.post("/v1/checkin", json=checkin_body(1)).status_code == 200


def test_same_hardware_on_another_platform_is_another_device(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    first = _first(ctx, admin, status, ca_pem, tmp_path)
    response, other = _enrol(status, ca_pem, make_token(ctx, admin, status), tmp_path / "win", platform="windows")
    assert response.status_code == 200, response.text
    assert other is not None
    assert other.uid != first.uid
    assert _device_count(ctx) == 2


def test_revoked_device_re_enrols_into_its_old_record(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    first = _first(ctx, admin, status, ca_pem, tmp_path)
    device_id = _device_id(ctx, first.uid)
    [lock] = ctx.services.commands.send(admin.principal, [device_id], CommandType.LOCK, {}).commands
    assert ctx.services.enrollment.revoke_device_certificates(admin.principal, device_id, reason="reset") == 1

    response, again = _enrol(status, ca_pem, make_token(ctx, admin, status), tmp_path / "again", name="Ward laptop 1b")

    assert response.status_code == 200, response.text
    assert again is not None
    assert again.uid == first.uid
    assert _device_count(ctx) == 1
    with ctx.uow() as uow:
        certificates = uow.session.execute(
            select(DeviceCertificate.revoked_at.is_(None)).where(DeviceCertificate.device_id == device_id)
        ).all()
        name = uow.session.scalars(select(Device.name).where(Device.id == device_id)).one()
    assert sorted(live for (live,) in certificates) == [False, True]
    assert name == "Ward laptop 1b"
    [entry] = _audits(ctx, "device.re_enrolled")
    assert (entry["target"], entry["previous_status"]) == (first.uid, LifecycleStatus.ENROLLED.value)
    assert entry["cancelled_commands"] == [lock.uid]  # the earlier enrolment's command is not carried over
    assert [e["target"] for e in _audits(ctx, "device.enrolled")] == [first.uid]  # history kept
    [history] = ctx.services.commands.history(admin.principal, device_id)
    assert history.status is CommandStatus.CANCELLED
    with client(status, ca_pem, again) as http:
        answer = http.post("/v1/checkin", json=checkin_body(1))
        assert answer.status_code == 200
        assert answer.json()["commands"] == []
    with client(status, ca_pem, first) as http:  # the old certificate stays refused
        refused = http.post("/v1/checkin", json=checkin_body(2))
    assert refused.status_code in (401, 403)


def test_retired_device_re_enrols_as_enrolled(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    first = _first(ctx, admin, status, ca_pem, tmp_path)
    device_id = _device_id(ctx, first.uid)
    ctx.services.enrollment.revoke_device_certificates(admin.principal, device_id)
    with ctx.uow(write=True) as uow:  # as the retire command leaves it
        uow.session.execute(update(Device).where(Device.id == device_id).values(status=LifecycleStatus.RETIRED.value))
        uow.commit()

    response, again = _enrol(status, ca_pem, make_token(ctx, admin, status), tmp_path / "again")

    assert response.status_code == 200, response.text
    assert again is not None
    assert again.uid == first.uid
    detail = ctx.services.devices.detail(admin.principal, device_id)
    assert detail.row.status is LifecycleStatus.ENROLLED
    assert _audits(ctx, "device.re_enrolled")[0]["previous_status"] == LifecycleStatus.RETIRED.value


def test_inventory_details_are_stored_and_shown_in_the_detail(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    first = _first(ctx, admin, status, ca_pem, tmp_path)
    device_id = _device_id(ctx, first.uid)
    detail = ctx.services.devices.detail(admin.principal, device_id)
    assert (detail.kernel, detail.screen_lock_enabled, detail.firewall_enabled) == ("6.8.0-45-generic", True, True)
    assert detail.battery_percent is None
    assert detail.last_os_update is None

    changed = inventory(
        hardware_id=HARDWARE_ID,
        kernel="6.8.0-49-generic",
        last_os_update="2026-11-30T22:15:00",  # no offset: taken as UTC
        screen_lock_enabled=False,
        firewall_enabled=None,
        battery_percent=81,
    )
    with client(status, ca_pem, first) as http:
        assert http.post("/v1/checkin", json=checkin_body(1, inventory=changed)).status_code == 200

    detail = ctx.services.devices.detail(admin.principal, device_id)
    assert detail.kernel == "6.8.0-49-generic"
    assert detail.last_os_update == dt.datetime(2026, 11, 30, 22, 15, tzinfo=dt.UTC)
    assert (detail.screen_lock_enabled, detail.firewall_enabled, detail.battery_percent) == (False, None, 81)


def test_screen_lock_off_fails_the_screen_lock_rule(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status)
    response, device = _enrol(status, ca_pem, token, tmp_path / "win", platform="windows", screen_lock_enabled=False)
    assert response.status_code == 200, response.text
    assert device is not None
    detail = ctx.services.devices.detail(admin.principal, _device_id(ctx, device.uid))
    rules = {rule.rule_id: rule for rule in detail.compliance_rules}
    assert rules["passcode.screen_lock"].status == "failing"
    assert "Screen lock is off" in rules["passcode.screen_lock"].detail


def test_simultaneous_first_enrolments_of_one_machine_make_one_record(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Six enrolments of the same new hardware at once: one record, the other five refused as clones."""
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    tokens = [make_token(ctx, admin, status) for _ in range(6)]  # one each: no shared token row to queue on
    start = threading.Barrier(6)

    def attempt(n: int) -> int:
        start.wait()
        response, _ = _enrol(status, ca_pem, tokens[n], tmp_path / f"try{n}")
        return response.status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(pool.map(attempt, range(6)))

    assert codes == [200, 409, 409, 409, 409, 409]
    assert _device_count(ctx) == 1
    assert sorted(_uses_left(ctx)) == [0, 1, 1, 1, 1, 1]  # only the enrolment that succeeded spent a use
