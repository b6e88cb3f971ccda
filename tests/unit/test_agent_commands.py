"""The desktop agent's command executors (fake tools and downloads; the managed folder is real)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from mdm_desktop.agent.commands import CommandExecutor, ExecutionEffects, installed_apps
from mdm_desktop.agent.state import AgentState, AgentStore
from mdm_desktop.wire.v1 import CommandOutcome, PendingCommand

PACKAGE = b"#!/bin/sh\necho viewer\n"
PACKAGE_SHA = hashlib.sha256(PACKAGE).hexdigest()


class FakeTools:
    """Records tool calls; answers from a table (missing tools give None)."""

    def __init__(self, answers: dict[str, tuple[int, str]]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> tuple[int, str] | None:
        self.calls.append(list(args))
        return self.answers.get(args[0])


class FakeDownload:
    def __init__(self, content: bytes = PACKAGE) -> None:
        self.content = content
        self.calls: list[tuple[str | None, str]] = []

    def __call__(self, url: str | None, sha256: str, destination: Path) -> int:
        self.calls.append((url, sha256))
        if hashlib.sha256(self.content).hexdigest() != sha256:
            raise RuntimeError("the downloaded package's SHA-256 does not match")
        destination.write_bytes(self.content)
        return len(self.content)


@pytest.fixture
def store(tmp_path: Path) -> AgentStore:
    agent = AgentStore(tmp_path / "agent")
    agent.prepare()
    return agent


@pytest.fixture
def state() -> AgentState:
    return AgentState(
        server_url="https://gw:8443", device_id="d1", ca_fingerprint="ab" * 32, enrolled_at=dt.datetime.now(dt.UTC)
    )


_counter = iter(range(1, 10_000))


def command(kind: str, **payload: object) -> PendingCommand:
    return PendingCommand(command_id=f"{next(_counter):032x}", type=kind, payload=payload)


def executor(
    store: AgentStore, tools: FakeTools | None = None, download: FakeDownload | None = None
) -> CommandExecutor:
    return CommandExecutor(store, download or FakeDownload(), system="linux", run=tools or FakeTools({}))


def test_lock_uses_loginctl(store: AgentStore, state: AgentState) -> None:
    tools = FakeTools({"loginctl": (0, "")})
    result = executor(store, tools).execute(command("lock"), state, ExecutionEffects())
    assert result.outcome == CommandOutcome.ACKNOWLEDGED
    assert tools.calls == [["loginctl", "lock-session"]]


def test_lock_failure_and_missing_tools(store: AgentStore, state: AgentState) -> None:
    failing = FakeTools({"loginctl": (1, "Failed to issue method call: No session")})
    result = executor(store, failing).execute(command("lock"), state, ExecutionEffects())
    assert result.outcome == CommandOutcome.FAILED
    assert "No session" in result.detail
    result = executor(store, FakeTools({})).execute(command("lock"), state, ExecutionEffects())
    assert result.outcome == CommandOutcome.FAILED
    assert "no screen-locking tool" in result.detail


def test_message_is_logged_and_notified(store: AgentStore, state: AgentState) -> None:
    tools = FakeTools({"notify-send": (0, "")})
    effects = ExecutionEffects()
    result = executor(store, tools).execute(command("message", text="Please return the tablet"), state, effects)
    assert result.outcome == CommandOutcome.ACKNOWLEDGED
    assert "Please return the tablet" in store.messages_path.read_text()
    assert tools.calls[0][-1] == "Please return the tablet"
    result = executor(store).execute(command("message", text="  "), state, effects)
    assert result.outcome == CommandOutcome.FAILED


def test_refresh_asks_for_another_check_in(store: AgentStore, state: AgentState) -> None:
    effects = ExecutionEffects()
    result = executor(store).execute(command("refresh_inventory"), state, effects)
    assert result.outcome == CommandOutcome.ACKNOWLEDGED
    assert effects.refresh_inventory


def test_install_verifies_hash_and_reports_the_app(store: AgentStore, state: AgentState) -> None:
    download = FakeDownload()
    run = executor(store, download=download)
    install = command("install_app", identifier="org.clinic.viewer", version="2.1", sha256=PACKAGE_SHA, name="Viewer")
    result = run.execute(install, state, ExecutionEffects())
    assert result.outcome == CommandOutcome.ACKNOWLEDGED, result.detail
    assert (store.managed_dir / "apps/org.clinic.viewer/package").read_bytes() == PACKAGE
    apps = installed_apps(store)
    assert [(a.identifier, a.version, a.managed) for a in apps] == [("org.clinic.viewer", "2.1", True)]
    again = command("install_app", identifier="org.clinic.viewer", version="2.1", sha256=PACKAGE_SHA)
    assert "already installed" in run.execute(again, state, ExecutionEffects()).detail
    assert len(download.calls) == 1


def test_install_with_wrong_hash_installs_nothing(store: AgentStore, state: AgentState) -> None:
    run = executor(store, download=FakeDownload(b"tampered"))
    result = run.execute(
        command("install_app", identifier="org.clinic.viewer", sha256=PACKAGE_SHA), state, ExecutionEffects()
    )
    assert result.outcome == CommandOutcome.FAILED
    assert "SHA-256" in result.detail
    assert list((store.managed_dir / "apps").iterdir()) == []


@pytest.mark.parametrize("identifier", ["../../etc", "a/b", "", ".hidden", "x" * 300, 5])
def test_install_refuses_unsafe_identifiers(store: AgentStore, state: AgentState, identifier: object) -> None:
    result = executor(store).execute(
        command("install_app", identifier=identifier, sha256=PACKAGE_SHA), state, ExecutionEffects()
    )
    assert result.outcome == CommandOutcome.FAILED
    assert "identifier" in result.detail


def test_remove_app(store: AgentStore, state: AgentState) -> None:
    run = executor(store)
    run.execute(command("install_app", identifier="org.clinic.viewer", sha256=PACKAGE_SHA), state, ExecutionEffects())
    assert (
        "removed"
        in run.execute(command("remove_app", identifier="org.clinic.viewer"), state, ExecutionEffects()).detail
    )
    assert installed_apps(store) == []
    result = run.execute(command("remove_app", identifier="org.clinic.viewer"), state, ExecutionEffects())
    assert result.outcome == CommandOutcome.ACKNOWLEDGED
    assert "not installed" in result.detail


def test_selective_wipe_removes_only_the_managed_folder(store: AgentStore, state: AgentState, tmp_path: Path) -> None:
    run = executor(store)
    run.execute(command("install_app", identifier="org.clinic.viewer", sha256=PACKAGE_SHA), state, ExecutionEffects())
    (store.managed_dir / "data/chart.pdf").write_bytes(b"%PDF")
    personal = tmp_path / "Documents"
    personal.mkdir()
    (personal / "holiday.jpg").write_bytes(b"jpg")
    result = run.execute(command("selective_wipe"), state, ExecutionEffects())
    assert result.outcome == CommandOutcome.ACKNOWLEDGED
    assert installed_apps(store) == []
    assert not (store.managed_dir / "data/chart.pdf").exists()
    assert (personal / "holiday.jpg").exists()


@pytest.mark.parametrize("kind", ["wipe", "restart", "os_update", "lost_mode", "format_disk"])
def test_full_wipe_and_unknown_commands_are_unsupported(store: AgentStore, state: AgentState, kind: str) -> None:
    tools = FakeTools({})
    result = executor(store, tools).execute(command(kind), state, ExecutionEffects())
    assert result.outcome == CommandOutcome.UNSUPPORTED
    assert tools.calls == []
    if kind == "wipe":
        assert "not attempted" in result.detail


def test_commands_are_idempotent_by_id(store: AgentStore, state: AgentState) -> None:
    tools = FakeTools({"loginctl": (0, "")})
    run = executor(store, tools)
    lock = command("lock")
    first = run.execute(lock, state, ExecutionEffects())
    state.confirm_sent([lock.command_id])
    second = run.execute(lock, state, ExecutionEffects())
    assert first == second
    assert len(tools.calls) == 1
    assert state.pending_results() == [first]  # asked again: answered again


def test_retire_is_acknowledged_and_flagged(store: AgentStore, state: AgentState) -> None:
    effects = ExecutionEffects()
    result = executor(store).execute(command("retire"), state, effects)
    assert result.outcome == CommandOutcome.ACKNOWLEDGED
    assert effects.retire
