"""The agent's check-in loop against a scripted gateway (httpx mock transport; real files and executors)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from mdm_desktop.agent.client import CertificateRefusedError, DeviceClient, Retrying
from mdm_desktop.agent.commands import CommandExecutor
from mdm_desktop.agent.inventory import InventoryProbe
from mdm_desktop.agent.runner import AgentRunner
from mdm_desktop.agent.state import AgentState, AgentStore
from mdm_desktop.security.ca import LocalCA
from mdm_desktop.wire.v1 import InstalledAppReport, Inventory, WirePlatform

NOW = dt.datetime.now(dt.UTC)
PACKAGE = b"viewer build 2.1"
SHA = hashlib.sha256(PACKAGE).hexdigest()


class FixedProbe(InventoryProbe):
    def collect(self) -> Inventory:
        return Inventory(name="ward-laptop", platform=WirePlatform.LINUX, apps=self.managed_apps)


class ScriptedGateway:
    """Answers check-ins with queued command lists; records every request."""

    def __init__(self, batches: list[list[dict[str, Any]]], *, package: bytes = PACKAGE) -> None:
        self.batches = batches
        self.package = package
        self.checkins: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.result_status = 200
        self.checkin_status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/checkin":
            if self.checkin_status != 200:
                return httpx.Response(self.checkin_status, json={"title": "Certificate revoked"})
            self.checkins.append(json.loads(request.content))
            commands = self.batches.pop(0) if self.batches else []
            return httpx.Response(200, json={"commands": commands, "checkin_interval_seconds": 60})
        if path.startswith("/v1/commands/"):
            if self.result_status != 200:
                return httpx.Response(self.result_status, json={"title": "Store unavailable"})
            self.results.append(json.loads(request.content))
            return httpx.Response(200, json={"accepted": True})
        if path == f"/v1/apps/{SHA}":
            return httpx.Response(200, content=self.package)
        return httpx.Response(404, json={"title": "Not found"})


def _no_tools(args: Sequence[str]) -> tuple[int, str] | None:
    return None


@pytest.fixture
def store(tmp_path: Path) -> AgentStore:
    ca = LocalCA.create("Test clinic", NOW)
    credentials = ca.issue_server_certificate(["ward-laptop"], NOW)  # a certificate + key pair for the client
    agent = AgentStore(tmp_path / "agent")
    agent.save_identity(credentials.key_pem, credentials.certificate.pem, ca.certificate_pem)
    agent.save_state(
        AgentState(server_url="https://gw.test:8443", device_id="d1", ca_fingerprint=ca.fingerprint, enrolled_at=NOW)
    )
    return agent


def runner(store: AgentStore, gateway: ScriptedGateway) -> AgentRunner:
    def client(state: AgentState) -> DeviceClient:
        return DeviceClient(
            state.server_url,
            store.ca_path,
            store.certificate_path,
            store.key_path,
            transport=httpx.MockTransport(gateway),
            retrying=Retrying(attempts=1),
        )

    executor: Callable[[DeviceClient], CommandExecutor] = lambda c: CommandExecutor(store, c.download, run=_no_tools)  # noqa: E731
    return AgentRunner(
        store,
        probe_factory=lambda apps: FixedProbe(apps),
        client_factory=client,
        executor_factory=executor,
    )


def _cmd(n: int, kind: str, **payload: Any) -> dict[str, Any]:
    return {"command_id": f"{n:032x}", "type": kind, "payload": payload}


def test_install_downloads_verifies_and_reports_the_app(store: AgentStore) -> None:
    gateway = ScriptedGateway([[_cmd(1, "install_app", identifier="org.clinic.viewer", version="2.1", sha256=SHA)]])
    summary = runner(store, gateway).run_once()
    assert summary.commands == 1
    assert [r["outcome"] for r in gateway.results] == ["acknowledged"]
    assert (store.managed_dir / "apps/org.clinic.viewer/package").read_bytes() == PACKAGE
    runner(store, gateway).run_once()
    apps = gateway.checkins[-1]["inventory"]["apps"]
    assert apps == [
        InstalledAppReport(
            identifier="org.clinic.viewer", name="org.clinic.viewer", version="2.1", managed=True
        ).model_dump()
    ]
    assert [c["sequence"] for c in gateway.checkins] == [1, 2]


def test_a_tampered_package_is_not_installed(store: AgentStore) -> None:
    gateway = ScriptedGateway([[_cmd(1, "install_app", identifier="org.clinic.viewer", sha256=SHA)]], package=b"evil")
    runner(store, gateway).run_once()
    assert gateway.results[0]["outcome"] == "failed"
    assert "SHA-256" in gateway.results[0]["detail"]
    assert list((store.managed_dir / "apps").iterdir()) == []


def test_results_not_accepted_go_with_the_next_check_in_once(store: AgentStore) -> None:
    gateway = ScriptedGateway([[_cmd(1, "message", text="Hello")]])
    gateway.result_status = 500
    runner(store, gateway).run_once()
    assert store.load_state().unsent_results == [f"{1:032x}"]
    gateway.result_status = 200
    runner(store, gateway).run_once()
    assert [r["command_id"] for r in gateway.checkins[1]["results"]] == [f"{1:032x}"]
    runner(store, gateway).run_once()
    assert gateway.checkins[2]["results"] == []


def test_a_repeated_command_is_answered_not_run_again(store: AgentStore) -> None:
    message = _cmd(1, "message", text="Hello")
    gateway = ScriptedGateway([[message], [message]])
    runner(store, gateway).run_once()
    runner(store, gateway).run_once()
    assert store.messages_path.read_text().count("Hello") == 1
    assert [r["command_id"] for r in gateway.results] == [f"{1:032x}", f"{1:032x}"]


def test_refresh_checks_in_again_at_once(store: AgentStore) -> None:
    gateway = ScriptedGateway([[_cmd(1, "refresh_inventory")]])
    runner(store, gateway).run_once()
    assert len(gateway.checkins) == 2


def test_retire_deletes_the_identity_after_reporting(store: AgentStore) -> None:
    (store.managed_dir / "data/chart.pdf").write_bytes(b"%PDF")
    gateway = ScriptedGateway([[_cmd(1, "retire")]])
    summary = runner(store, gateway).run_once()
    assert summary.retired
    assert gateway.results[0]["outcome"] == "acknowledged"
    assert not store.is_enrolled()
    assert not (store.managed_dir / "data/chart.pdf").exists()


def test_a_refused_certificate_stops_with_advice(store: AgentStore) -> None:
    gateway = ScriptedGateway([])
    gateway.checkin_status = 403
    with pytest.raises(CertificateRefusedError, match="enrol it again"):
        runner(store, gateway).run_once()
