"""The reference agent and the virtual fleet against the real gateway on loopback with real TLS."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from mdm_desktop.agent.cli import main as agent_main
from mdm_desktop.agent.commands import CommandExecutor
from mdm_desktop.agent.runner import AgentRunner, enroll_device
from mdm_desktop.agent.simulator import FleetSummary, SimulationConfig, VirtualFleet
from mdm_desktop.agent.state import AgentStore
from mdm_desktop.agent.tls import PinningError, pin_ca
from mdm_desktop.app import AppContext
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.services.enrollment import qr_payload
from mdm_desktop.store.schema import Device
from mdm_desktop.wire.v1 import WirePlatform
from tests.conftest import sign_in_admin
from tests.e2e.gateway_helpers import make_token, running_gateway


@pytest.fixture
def gateway(app_ctx: AppContext):  # type: ignore[no-untyped-def]
    with running_gateway(app_ctx) as status:
        yield app_ctx, status, app_ctx.services.enrollment.authority().certificate_pem


def _device_id(ctx: AppContext, uid: str) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalars(select(Device.id).where(Device.uid == uid)).one())


def _no_tools(args: Sequence[str]) -> tuple[int, str] | None:
    """Tool runner for commands: nothing installed (no desktop notifications or screen locking in tests)."""
    return None


def _ca_file(tmp_path: Path, ca_pem: str) -> Path:
    path = tmp_path / "site-ca.crt"
    path.write_text(ca_pem)
    return path


def test_agent_enrols_checks_in_and_acknowledges_commands(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, _ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status)
    store = AgentStore(tmp_path / "agent")

    # The CA is pinned from the chain the gateway presents (no CA file given).
    state = enroll_device(store, status.url, token, status.ca_fingerprint)

    device_id = _device_id(ctx, state.device_id)
    detail = ctx.services.devices.detail(admin.principal, device_id)
    assert detail.row.platform.value == "linux"  # the real inventory of this machine
    assert store.is_enrolled()

    sent = ctx.services.commands.send(admin.principal, [device_id], CommandType.MESSAGE, {"text": "Update tonight"})
    ctx.services.commands.send(admin.principal, [device_id], CommandType.REFRESH_INVENTORY, {})
    assert len(sent.commands) == 1
    runner = AgentRunner(store, executor_factory=lambda c: CommandExecutor(store, c.download, run=_no_tools))

    summary = runner.run_once()

    assert summary.commands == 2
    history = {c.type: c for c in ctx.services.commands.history(admin.principal, device_id)}
    assert history[CommandType.MESSAGE].status is CommandStatus.ACKNOWLEDGED
    assert "messages.log" in history[CommandType.MESSAGE].result
    assert history[CommandType.REFRESH_INVENTORY].status is CommandStatus.ACKNOWLEDGED
    assert "Update tonight" in store.messages_path.read_text()
    sequence = store.load_state().sequence
    assert sequence >= 2  # a refresh checks in again at once

    again = runner.run_once()
    assert again.commands == 0
    assert store.load_state().sequence == sequence + 1
    assert store.load_state().unsent_results == []


def test_agent_command_line_with_the_qr_text(gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    ctx, status, _ca_pem = gateway
    admin = sign_in_admin(ctx)
    qr = qr_payload(status.url, make_token(ctx, admin, status), status.ca_fingerprint)
    data = str(tmp_path / "agent")

    assert agent_main(["enroll", "--token", qr, "--data-dir", data]) == 0
    assert "Enrolled as device" in capsys.readouterr().out
    assert agent_main(["enroll", "--token", qr, "--data-dir", data]) == 2
    assert "already enrolled" in capsys.readouterr().err
    assert agent_main(["run", "--once", "--data-dir", data]) == 0
    assert "Checked in" in capsys.readouterr().out
    assert agent_main(["status", "--json", "--data-dir", data]) == 0
    assert '"sequence": 1' in capsys.readouterr().out


def test_a_used_token_is_refused_with_advice(gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    qr = qr_payload(status.url, make_token(ctx, admin, status), status.ca_fingerprint)
    ca_file = str(_ca_file(tmp_path, ca_pem))
    assert agent_main(["enroll", "--token", qr, "--ca-file", ca_file, "--data-dir", str(tmp_path / "a")]) == 0
    assert agent_main(["enroll", "--token", qr, "--ca-file", ca_file, "--data-dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "Enrolment refused" in err
    assert "new one" in err
    assert not AgentStore(tmp_path / "b").is_enrolled()


def test_wrong_fingerprint_sends_no_token(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status)
    store = AgentStore(tmp_path / "agent")
    with pytest.raises(PinningError, match="token was not sent"):
        enroll_device(store, status.url, token, "0" * 64)
    # the token is still unused: the real fingerprint enrols with it
    enroll_device(store, status.url, token, status.ca_fingerprint, ca_file=_ca_file(tmp_path, ca_pem))


def test_gateway_presents_the_site_ca_for_pinning(gateway) -> None:  # type: ignore[no-untyped-def]
    _ctx, status, ca_pem = gateway
    assert pin_ca(status.url, status.ca_fingerprint) == ca_pem


def test_virtual_fleet_enrols_checks_in_and_carries_out_a_command(gateway) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, uses=20)
    config = SimulationConfig(
        server_url=status.url,
        token=token,
        ca_pem=ca_pem,
        devices=20,
        mix={WirePlatform.IOS: 40, WirePlatform.ANDROID: 40, WirePlatform.WINDOWS: 15, WirePlatform.MACOS: 5},
        interval=0.5,
        seed=7,
        command_delay=(0.0, 0.05),
        failure_rate=0.0,
    )
    fleet = VirtualFleet(config)
    enrolled = threading.Event()
    loop_ready = threading.Event()
    holder: dict[str, object] = {}

    def on_tick(summary: FleetSummary) -> None:
        if summary.enrolled + summary.enrol_failures >= 20 and summary.checkins >= 20:
            enrolled.set()

    def run() -> None:
        async def go() -> FleetSummary:
            holder["loop"] = asyncio.get_running_loop()
            loop_ready.set()
            return await fleet.run(on_tick=on_tick, tick_seconds=0.2)

        holder["summary"] = asyncio.run(go())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert enrolled.wait(60), fleet.summary().line()
        first = fleet.devices[0]
        device_id = _device_id(ctx, first.device_id)
        ctx.services.commands.send(admin.principal, [device_id], CommandType.MESSAGE, {"text": "Shift change"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            history = ctx.services.commands.history(admin.principal, device_id)
            if history and history[0].status is CommandStatus.ACKNOWLEDGED:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the command was not acknowledged: {history}")
    finally:
        loop = holder.get("loop")
        if isinstance(loop, asyncio.AbstractEventLoop):
            loop.call_soon_threadsafe(fleet.stop)
        thread.join(30)
    summary = holder["summary"]
    assert isinstance(summary, FleetSummary)
    assert summary.enrolled == 20, fleet.stats.last_errors
    assert summary.checkin_errors == 0, fleet.stats.last_errors
    assert summary.commands_acknowledged == 1
    assert summary.p50_ms is not None
    assert summary.p99_ms is not None
    platforms = {d.profile.platform for d in fleet.devices}
    assert WirePlatform.IOS in platforms
    assert WirePlatform.ANDROID in platforms
    with ctx.uow() as uow:
        stored = uow.session.scalars(select(Device).where(Device.uid == first.device_id)).one()
        assert stored.last_checkin_at is not None


def test_simulate_command_line(gateway, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    ctx, status, _ca_pem = gateway
    admin = sign_in_admin(ctx)
    qr = qr_payload(status.url, make_token(ctx, admin, status, uses=3), status.ca_fingerprint)
    code = agent_main(["simulate", "--token", qr, "--devices", "3", "--interval", "1", "--duration", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "enrolled 3/3" in out
    assert agent_main(["simulate", "--token", qr, "--devices", "1", "--mix", "symbian=1", "--duration", "1"]) == 2
    assert "unknown platform" in capsys.readouterr().err
