"""The gateway end to end on loopback with real TLS: enrol, check in, commands, the mutual-TLS matrix,
tokens used again and at once, bad bodies. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.gateway.app import openapi_document
from mdm_desktop.gateway.runner import GatewayStatus
from mdm_desktop.security.ca import LocalCA
from mdm_desktop.store.repositories import commands as command_repo
from mdm_desktop.store.schema import AuditEntry, Device, DeviceCommand, EnrollmentToken
from mdm_desktop.wire.v1 import MAX_BODY_BYTES
from tests.conftest import sign_in_admin
from tests.e2e.gateway_helpers import (
    EnrolledDevice,
    checkin_body,
    client,
    csr_pem,
    enrol,
    inventory,
    key_pem,
    make_token,
    new_key,
    running_gateway,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway(app_ctx: AppContext):  # type: ignore[no-untyped-def]
    with running_gateway(app_ctx) as status:
        yield app_ctx, status, app_ctx.services.enrollment.authority().certificate_pem


def _device_count(ctx: AppContext) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalar(select(func.count(Device.id))) or 0)


def _device_id(ctx: AppContext, uid: str) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalars(select(Device.id).where(Device.uid == uid)).one())


def _queue(ctx: AppContext, device_id: int, ctype: CommandType = CommandType.LOCK) -> str:
    now = dt.datetime.now(dt.UTC)
    with ctx.uow(write=True) as uow:
        rows = command_repo.queue(uow, [device_id], ctype, {}, "test", "admin", now, now + dt.timedelta(days=1))
        uid = rows[0].uid
        uow.commit()
    return uid


def _command_status(ctx: AppContext, uid: str) -> str:
    with ctx.uow() as uow:
        return str(uow.session.scalars(select(DeviceCommand.status).where(DeviceCommand.uid == uid)).one())


def test_enrol_check_in_and_acknowledge_a_command(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, ownership=Ownership.BYOD)
    response, device = enrol(status, ca_pem, token, tmp_path)
    assert response.status_code == 200, response.text
    assert device is not None
    body = response.json()
    assert body["ca_certificate_pem"] == ca_pem
    assert "cannot see" in body["byod_notice"]

    device_id = _device_id(ctx, device.uid)
    detail = ctx.services.devices.detail(admin.principal, device_id)
    assert detail.row.name == "Ward laptop 1"
    assert detail.row.serial == "PF3ABC12"
    assert detail.row.ownership is Ownership.BYOD
    assert [a.identifier for a in detail.installed_apps] == ["org.mozilla.firefox"]

    command_uid = _queue(ctx, device_id)
    with client(status, ca_pem, device) as http:
        first = http.post("/v1/checkin", json=checkin_body(1, inventory=inventory("Ward laptop 1b")))
        assert first.status_code == 200, first.text
        commands = first.json()["commands"]
        assert [(c["command_id"], c["type"]) for c in commands] == [(command_uid, "lock")]
        assert _command_status(ctx, command_uid) == CommandStatus.DELIVERED.value

        result = {"command_id": command_uid, "outcome": "acknowledged", "detail": "Locked."}
        ack = http.post(f"/v1/commands/{command_uid}/result", json=result)
        assert ack.status_code == 200, ack.text
        assert ack.json() == {"accepted": True}
        again = http.post(f"/v1/commands/{command_uid}/result", json={**result, "outcome": "failed"})
        assert again.status_code == 200
    assert _command_status(ctx, command_uid) == CommandStatus.ACKNOWLEDGED.value
    detail = ctx.services.devices.detail(admin.principal, device_id)
    assert detail.row.name == "Ward laptop 1b"
    assert detail.row.last_checkin_at is not None


def test_replayed_check_in_changes_nothing(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    _, device = enrol(status, ca_pem, make_token(ctx, admin, status), tmp_path)
    assert device is not None
    with client(status, ca_pem, device) as http:
        assert http.post("/v1/checkin", json=checkin_body(5)).status_code == 200
        replay = http.post("/v1/checkin", json=checkin_body(5, inventory=inventory("Renamed")))
        assert replay.status_code == 409
        assert "already received" in replay.json()["title"]
        older = http.post("/v1/checkin", json=checkin_body(4, inventory=inventory("Renamed")))
        assert older.status_code == 409
    detail = ctx.services.devices.detail(admin.principal, _device_id(ctx, device.uid))
    assert detail.row.name == "Ward laptop 1"


def _other_ca_device(tmp_path: Path) -> EnrolledDevice:
    other = LocalCA.create("Another clinic", dt.datetime.now(dt.UTC))
    key = new_key()
    issued = other.sign_device_request(csr_pem(key), "f" * 32, dt.datetime.now(dt.UTC))
    (tmp_path / "other.crt").write_text(issued.pem)
    (tmp_path / "other.key").write_bytes(key_pem(key))
    return EnrolledDevice("f" * 32, tmp_path / "other.crt", tmp_path / "other.key", issued.pem)


def _expired_device(ctx: AppContext, tmp_path: Path) -> EnrolledDevice:
    with ctx.uow() as uow:
        ca = ctx.services.enrollment._local_ca(uow)
    key = new_key()
    issued = ca.sign_device_request(csr_pem(key), "e" * 32, dt.datetime.now(dt.UTC) - dt.timedelta(days=800))
    (tmp_path / "expired.crt").write_text(issued.pem)
    (tmp_path / "expired.key").write_bytes(key_pem(key))
    return EnrolledDevice("e" * 32, tmp_path / "expired.crt", tmp_path / "expired.key", issued.pem)


def _refused(status: GatewayStatus, ca_pem: str, device: EnrolledDevice | None) -> int | str:
    """The status code of a check-in, or "tls" when the handshake or connection was refused."""
    try:
        with client(status, ca_pem, device) as http:
            return http.post("/v1/checkin", json=checkin_body(100)).status_code
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError):
        return "tls"


def test_mutual_tls_matrix(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, uses=2)
    _, device_a = enrol(status, ca_pem, token, tmp_path / "a", "Device A")
    _, device_b = enrol(status, ca_pem, token, tmp_path / "b", "Device B")
    assert device_a is not None
    assert device_b is not None
    before = _device_count(ctx)

    no_cert = _refused(status, ca_pem, None)
    assert no_cert == 401
    with client(status, ca_pem) as http:
        response = http.post("/v1/checkin", json=checkin_body(1))
        assert response.json()["title"] == "A client certificate is required."
        assert "commands" not in response.text
    assert _refused(status, ca_pem, _other_ca_device(tmp_path)) in ("tls", 401, 403)
    assert _refused(status, ca_pem, _expired_device(ctx, tmp_path)) in ("tls", 401, 403)

    # Device A cannot answer device B's command, nor see it.
    b_command = _queue(ctx, _device_id(ctx, device_b.uid))
    with client(status, ca_pem, device_a) as http:
        listed = http.post("/v1/checkin", json=checkin_body(1))
        assert listed.status_code == 200
        assert listed.json()["commands"] == []
        result = {"command_id": b_command, "outcome": "acknowledged", "detail": ""}
        assert http.post(f"/v1/commands/{b_command}/result", json=result).status_code == 404
        in_checkin = http.post("/v1/checkin", json=checkin_body(2, results=[result]))
        assert in_checkin.status_code == 200
    assert _command_status(ctx, b_command) == CommandStatus.QUEUED.value

    # A revoked certificate gets nothing, on every path.
    assert ctx.services.enrollment.revoke_device_certificates(admin.principal, _device_id(ctx, device_a.uid)) == 1
    assert _refused(status, ca_pem, device_a) == 403
    with client(status, ca_pem, device_a) as http:
        result = {"command_id": b_command, "outcome": "acknowledged", "detail": ""}
        assert http.post(f"/v1/commands/{b_command}/result", json=result).status_code == 403
    assert _device_count(ctx) == before


def test_token_is_refused_when_used_up_expired_or_revoked(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status)
    assert enrol(status, ca_pem, token, tmp_path)[0].status_code == 200
    again, _ = enrol(status, ca_pem, token, tmp_path)
    assert again.status_code == 403
    assert "not valid" in again.json()["title"]
    assert enrol(status, ca_pem, "x" * 26, tmp_path)[0].status_code == 403

    revoked = make_token(ctx, admin, status)
    listed = ctx.services.enrollment.list_tokens(admin.principal)
    uid = next(t.uid for t in listed if t.uses_left == 1)
    ctx.services.enrollment.revoke_token(admin.principal, uid)
    assert enrol(status, ca_pem, revoked, tmp_path)[0].status_code == 403
    with ctx.uow() as uow:
        refusals = uow.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "device.enrol_refused")
        )
    assert refusals == 3
    assert _device_count(ctx) == 1


def test_concurrent_enrolments_honour_the_token_uses(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, uses=3)
    codes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def one(i: int) -> None:
        start.wait()
        response, _ = enrol(status, ca_pem, token, tmp_path / str(i), f"Tablet {i}")
        with lock:
            codes.append(response.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 3 + [403] * 5
    assert _device_count(ctx) == 3
    with ctx.uow() as uow:
        assert uow.session.scalars(select(EnrollmentToken.uses_left)).one() == 0


def test_bad_bodies_are_refused_and_write_nothing(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, uses=5)
    good = {"token": token, "csr_pem": csr_pem(new_key()), "inventory": inventory()}
    with client(status, ca_pem) as http:
        malformed = http.post("/v1/enroll", content=b'{"token": ', headers={"content-type": "application/json"})
        assert malformed.status_code == 422
        assert malformed.headers["content-type"] == "application/problem+json"
        wrong_type = http.post("/v1/enroll", json={**good, "inventory": {**inventory(), "apps": "many"}})
        assert wrong_type.status_code == 422
        assert "apps" in wrong_type.json()["detail"]
        extra = http.post("/v1/enroll", json={**good, "admin": True})
        assert extra.status_code == 422
        bad_csr = http.post("/v1/enroll", json={**good, "csr_pem": "not a request"})
        assert bad_csr.status_code == 422
        assert "PEM" in bad_csr.json()["title"]
        padding = "x" * (MAX_BODY_BYTES + 10)
        big = http.post("/v1/enroll", content=json.dumps({**good, "pad": padding}))
        assert big.status_code == 413
    assert _device_count(ctx) == 0
    with ctx.uow() as uow:
        assert uow.session.scalars(select(EnrollmentToken.uses_left)).one() == 5

    _, device = enrol(status, ca_pem, token, tmp_path)
    assert device is not None
    with client(status, ca_pem, device) as http:
        assert http.post("/v1/checkin", json=checkin_body(-1)).status_code == 422
        assert http.post("/v1/checkin", json=checkin_body(1, surprise=1)).status_code == 422
        command = "a" * 32
        mismatch = http.post(f"/v1/commands/{command}/result", json={"command_id": "b" * 32, "outcome": "failed"})
        assert mismatch.status_code == 422
        assert (
            http.post("/v1/commands/NOT-AN-ID/result", json={"command_id": command, "outcome": "x"}).status_code == 422
        )


def test_served_openapi_matches_the_repository_copy(gateway) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    with client(status, ca_pem) as http:
        served = http.get("/v1/openapi.json")
    assert served.status_code == 200
    kept = json.loads((ROOT / "docs" / "openapi-v1.json").read_text(encoding="utf-8"))
    assert served.json() == kept
    assert kept == openapi_document(ctx.services.enrollment, ctx.services.checkin)
