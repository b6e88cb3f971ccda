# ruff: noqa: F811 - pytest fixtures imported from test_cli_session are parameters here
"""``mdm-desktop command ...`` and ``approval ...``: same permissions, step-up and audit as the console."""

from __future__ import annotations

import json

import pytest

from mdm_desktop.app import open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.devices import Platform
from tests.cli.test_cli_session import (  # noqa: F401 - fixtures
    Store,
    _isolated_environment,
    assert_one_line_error,
    clock,
    run,
    store,
)
from tests.conftest import fast_passwords
from tests.integration.fixtures_data import DeviceSpec, add_devices


def _devices(store: Store, n: int = 2) -> list[int]:
    ctx = open_app(Config.resolve(db=store.db, key_file=store.key_file), passwords=fast_passwords())
    try:
        return add_devices(ctx, [DeviceSpec(f"Reception iPad {i}", Platform.IPADOS) for i in range(n)])
    finally:
        ctx.close()


def test_send_list_and_cancel(store: Store) -> None:
    a, b = _devices(store)
    code, out, err = run(["command", "send", *store.args(), "--device", str(a), "--type", "message", "--text", "Hi"])
    assert code == 0, err
    assert out.startswith("Message queued for Reception iPad 0 (command id ")
    code, out, err = run(
        ["command", "send", *store.args(), "--device", str(a), "--device", str(b), "--type", "refresh"]
    )
    assert code == 0, err
    assert "queued for 2 devices" in out
    code, out, err = run(["command", "list", *store.args(), "--json"])
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["type"], r["status"]) for r in rows] == [("refresh_inventory", "queued")] * 2 + [("message", "queued")]
    code, out, err = run(["command", "cancel", *store.args(), str(rows[0]["id"])])
    assert code == 0, err
    assert out.startswith(f"Cancelled command {rows[0]['id']}")
    code, out, err = run(["command", "cancel", *store.args(), str(rows[0]["id"])])
    assert_one_line_error(code, err, "can no longer be cancelled")
    code, out, err = run(["command", "list", *store.args(), "--device", str(b)])
    assert code == 0, err
    assert "Cancelled" in out
    assert "1 command." in out


def test_bad_arguments_are_one_line_errors(store: Store) -> None:
    (a, _b) = _devices(store)
    code, _out, err = run(["command", "send", *store.args(), "--device", str(a), "--type", "explode"])
    assert code == 2
    assert "unknown command type 'explode'" in err
    code, _out, err = run(["command", "send", *store.args(), "--device", str(a), "--type", "lock", "--text", "x"])
    assert_one_line_error(code, err, "--text does not apply to lock")
    code, _out, err = run(["command", "send", *store.args(), "--device", str(a), "--type", "selective-wipe"])
    assert_one_line_error(code, err, "type the reason")
    code, _out, err = run(["command", "send", *store.args(), "--device", "9999", "--type", "lock"])
    assert_one_line_error(code, err, "does not exist")


def test_destructive_send_needs_a_fresh_code(store: Store) -> None:
    (a, _b) = _devices(store)
    store.clock.advance(minutes=6)  # the sign-in's step-up is stale now
    argv = ["command", "send", *store.args(), "--device", str(a), "--type", "selective-wipe", "--reason", "Stolen"]
    code, _out, err = run(argv)
    assert_one_line_error(code, err, "fresh code")
    code, out, err = run([*argv, "--code", store.fresh_code()])
    assert code == 0, err
    assert out.startswith("Selective wipe queued for Reception iPad 0")


def test_wipe_creates_an_approval_the_requester_cannot_approve(store: Store) -> None:
    (a, _b) = _devices(store)
    code, out, err = run(
        ["command", "send", *store.args(), "--device", str(a), "--type", "wipe", "--reason", "Lost", "--json"]
    )
    assert code == 0, err
    sent = json.loads(out)
    assert sent["commands"] == []
    assert sent["approval"]["status"] == "pending"
    approval_id = str(sent["approval"]["id"])
    code, out, err = run(["approval", "list", *store.args()])
    assert code == 0, err
    assert "Reception iPad 0" in out
    assert "1 request." in out
    code, _out, err = run(["approval", "approve", *store.args(), approval_id])
    assert_one_line_error(code, err, "cannot approve your own request")
    code, out, err = run(["approval", "reject", *store.args(), approval_id, "--note", "Found it"])
    assert code == 0, err
    assert out.startswith(f"Rejected request {approval_id}")
    code, out, err = run(["approval", "list", *store.args(), "--all", "--json"])
    assert code == 0, err
    assert [r["status"] for r in json.loads(out)] == ["rejected"]


def test_resume_when_not_paused_is_a_clear_error(store: Store) -> None:
    code, _out, err = run(["command", "resume", *store.args()])
    assert_one_line_error(code, err, "not paused")


@pytest.mark.parametrize("argv", [["command", "--help"], ["approval", "--help"], ["command", "send", "--help"]])
def test_help(argv: list[str]) -> None:
    code, out, _err = run(argv)
    assert code == 0
    assert out.startswith("usage: mdm-desktop")
