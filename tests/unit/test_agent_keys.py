"""Device key, CSR, fingerprints and the agent's data folder."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from mdm_desktop.agent import keys
from mdm_desktop.agent.state import MAX_REMEMBERED_COMMANDS, AgentState, AgentStateError, AgentStore
from mdm_desktop.wire.v1 import CommandOutcome, CommandResult

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_and_csr() -> None:
    key = keys.generate_key()
    assert isinstance(key.curve, ec.SECP256R1)
    csr = x509.load_pem_x509_csr(keys.build_csr(key, "ward-laptop-7").encode())
    assert csr.is_signature_valid
    assert keys.public_key_der(key) == keys.public_key_der(keys.load_private_key(keys.private_key_pem(key)))
    assert csr.subject.rfc4514_string() == "CN=ward-laptop-7"


def test_identity_files_are_owner_only(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agent")
    key = keys.generate_key()
    store.save_identity(keys.private_key_pem(key), "CERT", "CA")
    assert _mode(store.data_dir) == 0o700
    assert _mode(store.key_path) == 0o600
    assert keys.load_private_key(store.key_path.read_bytes())
    assert (store.managed_dir / "apps").is_dir()
    assert not list(store.data_dir.glob(".*.tmp"))


@pytest.mark.parametrize(
    "text",
    [
        "AB:CD:" * 15 + "AB:CD",
        "sha256:" + "abcd" * 16,
        "SHA256=" + "ABCD" * 16,
        " " + "ab cd " * 16,
    ],
)
def test_fingerprint_forms(text: str) -> None:
    assert keys.normalise_fingerprint(text) == "abcd" * 16


@pytest.mark.parametrize("text", ["", "abc", "zz" * 32, "ab" * 33])
def test_bad_fingerprints(text: str) -> None:
    with pytest.raises(keys.FingerprintError, match="64 hexadecimal"):
        keys.normalise_fingerprint(text)


def _state() -> AgentState:
    return AgentState(
        server_url="https://gw:8443", device_id="d1", ca_fingerprint="ab" * 32, enrolled_at=dt.datetime.now(dt.UTC)
    )


def _result(n: int) -> CommandResult:
    return CommandResult(command_id=f"{n:032x}", outcome=CommandOutcome.ACKNOWLEDGED)


def test_state_round_trip_and_not_enrolled(tmp_path: Path) -> None:
    store = AgentStore(tmp_path)
    with pytest.raises(AgentStateError, match="not enrolled"):
        store.load_state()
    store.save_identity(b"key", "cert", "ca")
    state = _state()
    state.sequence = 7
    state.remember(_result(1))
    store.save_state(state)
    assert _mode(store.state_path) == 0o600
    loaded = store.load_state()
    assert loaded.sequence == 7
    assert loaded.pending_results() == [_result(1)]
    store.state_path.write_text("{broken")
    with pytest.raises(AgentStateError, match="cannot be read"):
        store.load_state()


def test_remembered_results_are_capped_but_unsent_kept() -> None:
    state = _state()
    for n in range(MAX_REMEMBERED_COMMANDS + 50):
        state.remember(_result(n))
        state.confirm_sent([f"{n:032x}"])
    assert len(state.executed) == MAX_REMEMBERED_COMMANDS
    assert f"{0:032x}" not in state.executed
    state.remember(_result(10_000))
    assert state.pending_results() == [_result(10_000)]


def test_wipe_managed_deletes_only_the_managed_folder(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agent")
    store.prepare()
    (store.managed_dir / "data" / "notes.txt").write_text("clinic data")
    outside = tmp_path / "personal.txt"
    outside.write_text("mine")
    (store.managed_dir / "data" / "link").symlink_to(outside)
    store.save_identity(b"key", "cert", "ca")
    assert store.wipe_managed() == 2
    assert outside.read_text() == "mine"
    assert store.key_path.exists()
    assert list((store.managed_dir / "data").iterdir()) == []


def test_wipe_does_not_follow_a_linked_managed_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    store = AgentStore(tmp_path / "agent")
    store.data_dir.mkdir()
    store.managed_dir.symlink_to(elsewhere)
    store.wipe_managed()
    assert (elsewhere / "keep.txt").read_text() == "keep"
    assert store.managed_dir.is_dir()
    assert not store.managed_dir.is_symlink()
