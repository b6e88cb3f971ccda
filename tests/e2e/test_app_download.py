"""App download by hash: a build stored in the catalog reaches the one device told to install it.

Upload a build, queue an install command, the reference agent downloads it over mutual TLS, checks its
SHA-256, installs it into its managed folder and the console sees the result acknowledged (and audited).
Any other device, an unknown hash or no certificate gets nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from mdm_desktop.agent.commands import CommandExecutor
from mdm_desktop.agent.runner import AgentRunner, enroll_device
from mdm_desktop.agent.state import AgentStore
from mdm_desktop.app import AppContext
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import Platform
from mdm_desktop.store.schema import AuditEntry, Device
from tests.conftest import sign_in_admin
from tests.e2e.gateway_helpers import checkin_body, client, enrol, make_token, running_gateway
from tests.integration.fixtures_data import add_catalog_app

PACKAGE = bytes(range(256)) * 9000 + b"end"  # 2.2 MiB: three chunks in the store


@pytest.fixture
def gateway(app_ctx: AppContext):  # type: ignore[no-untyped-def]
    with running_gateway(app_ctx) as status:
        yield app_ctx, status, app_ctx.services.enrollment.authority().certificate_pem


def _no_tools(args: Sequence[str]) -> tuple[int, str] | None:
    return None


def _device_id(ctx: AppContext, uid: str) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalars(select(Device.id).where(Device.uid == uid)).one())


def _build(ctx: AppContext, tmp_path: Path, data: bytes = PACKAGE) -> tuple[int, str]:
    """A Linux catalog app with one stored build; returns its id and the build's SHA-256."""
    admin = sign_in_admin(ctx)
    app_id = add_catalog_app(ctx, "Ward Notes", "org.clinic.wardnotes", Platform.LINUX, [])
    file = tmp_path / "wardnotes-2.1.tar.gz"
    file.write_bytes(data)
    info = ctx.services.catalog.add_build(admin.principal, app_id, file, "2.1")
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    return app_id, info.sha256


def test_agent_installs_a_catalog_build_downloaded_by_hash(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, _ca_pem = gateway
    admin = sign_in_admin(ctx)
    app_id, sha256 = _build(ctx, tmp_path)
    store = AgentStore(tmp_path / "agent")
    state = enroll_device(store, status.url, make_token(ctx, admin, status), status.ca_fingerprint)
    device_id = _device_id(ctx, state.device_id)

    ctx.services.commands.send(admin.principal, [device_id], CommandType.INSTALL_APP, {"app_id": app_id})
    runner = AgentRunner(store, executor_factory=lambda c: CommandExecutor(store, c.download, run=_no_tools))
    summary = runner.run_once()

    assert summary.commands == 1
    [command] = ctx.services.commands.history(admin.principal, device_id)
    assert command.status is CommandStatus.ACKNOWLEDGED, command.result
    assert "SHA-256 verified" in command.result
    installed = store.managed_dir / "apps" / "org.clinic.wardnotes"
    packages = [p for p in installed.iterdir() if p.name != "manifest.json" and p.is_file()]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in packages] == [sha256]
    with ctx.uow() as uow:
        actions = list(uow.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
        entry = uow.session.execute(
            select(AuditEntry.actor_kind, AuditEntry.actor, AuditEntry.target).where(
                AuditEntry.action == "device.command_result"
            )
        ).one()
    assert "catalog.build_added" in actions
    assert tuple(entry) == ("device", state.device_id, command.uid)


def test_only_the_device_told_to_install_gets_the_package(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    app_id, sha256 = _build(ctx, tmp_path)
    _, first = enrol(status, ca_pem, make_token(ctx, admin, status), tmp_path / "a", name="Ward laptop 1")
    _, second = enrol(status, ca_pem, make_token(ctx, admin, status), tmp_path / "b", name="Ward laptop 2")
    assert first is not None
    assert second is not None
    path = f"/v1/apps/{sha256}"

    with client(status, ca_pem, first) as http:
        assert http.get(path).status_code == 404  # no install command yet
    ctx.services.commands.send(
        admin.principal, [_device_id(ctx, first.uid)], CommandType.INSTALL_APP, {"app_id": app_id}
    )

    with client(status, ca_pem, first) as http:
        response = http.get(path)
        assert response.status_code == 200
        assert response.content == PACKAGE
        assert response.headers["content-type"] == "application/octet-stream"
        assert http.get(f"/v1/apps/{'0' * 64}").status_code == 404
        assert http.get("/v1/apps/NOT-A-HASH").status_code == 422
    with client(status, ca_pem, second) as http:
        refused = http.get(path)
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
    with client(status, ca_pem) as http:
        assert http.get(path).status_code == 401


def _set_quarantine(ctx: AppContext, uid: str, on: bool) -> None:
    with ctx.uow(write=True) as uow:
        device = uow.session.scalars(select(Device).where(Device.uid == uid)).one()
        device.quarantined_at = dt.datetime.now(dt.UTC) if on else None
        uow.commit()


def test_a_quarantined_device_gets_no_managed_apps_until_the_quarantine_lifts(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    app_id, sha256 = _build(ctx, tmp_path)
    _, device = enrol(status, ca_pem, make_token(ctx, admin, status), tmp_path / "a", name="Ward laptop 1")
    assert device is not None
    device_id = _device_id(ctx, device.uid)
    ctx.services.commands.send(admin.principal, [device_id], CommandType.INSTALL_APP, {"app_id": app_id})
    ctx.services.commands.send(admin.principal, [device_id], CommandType.LOCK, {})
    _set_quarantine(ctx, device.uid, True)

    with client(status, ca_pem, device) as http:
        answer = http.post("/v1/checkin", json=checkin_body(1)).json()
        assert answer["quarantined"] is True
        assert [c["type"] for c in answer["commands"]] == [CommandType.LOCK.value]  # the install stays queued
        refused = http.get(f"/v1/apps/{sha256}")
        assert refused.status_code == 403
        assert "quarantined" in refused.text

    _set_quarantine(ctx, device.uid, False)
    with client(status, ca_pem, device) as http:
        answer = http.post("/v1/checkin", json=checkin_body(2)).json()
        assert [c["type"] for c in answer["commands"]] == [CommandType.INSTALL_APP.value]
        assert http.get(f"/v1/apps/{sha256}").status_code == 200
