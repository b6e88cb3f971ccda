# ruff: noqa: F811 - pytest fixtures imported from test_cli_session are parameters here
"""``mdm-desktop exception ...``: request, list, decide, revoke, with the console's permissions and audit."""

from __future__ import annotations

import datetime as dt
import json

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
from tests.integration.fixtures_data import DeviceSpec, add_devices, add_groups


def _device(store: Store) -> int:
    ctx = open_app(Config.resolve(db=store.db, key_file=store.key_file), passwords=fast_passwords())
    try:
        add_groups(ctx, ["Ward 3"])
        return add_devices(ctx, [DeviceSpec("Infusion tablet", Platform.ANDROID)])[0]
    finally:
        ctx.close()


def _until(days: int = 30) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


def test_request_list_and_withdraw(store: Store) -> None:
    device = _device(store)
    code, out, err = run(
        ["exception", "request", *store.args(), "--device", str(device), "--rule", "health.max_patch_age",
         "--reason", "Vendor patch due in March", "--until", _until()]
    )  # fmt: skip
    assert code == 0, err
    assert "Requested exception 1: device Infusion tablet from health.max_patch_age until " in out
    code, out, err = run(
        ["exception", "request", *store.args(), "--group", "Ward 3", "--rule", "apps.required",
         "--reason", "App not yet packaged", "--until", _until(5), "--json"]
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["group"] == "Ward 3"
    code, out, err = run(["exception", "list", *store.args(), "--json"])
    assert code == 0, err
    assert [(r["id"], r["status"]) for r in json.loads(out)] == [(2, "pending"), (1, "pending")]
    code, out, err = run(["exception", "approve", *store.args(), "1"])
    assert_one_line_error(code, err, "your own request")
    code, out, err = run(["exception", "revoke", *store.args(), "1", "--note", "asked by mistake"])
    assert code == 0, err
    assert out.startswith("Withdrew exception 1")
    code, out, err = run(["exception", "list", *store.args(), "--status", "rejected"])
    assert code == 0, err
    assert "1 exception." in out


def test_bad_arguments_are_one_line_errors(store: Store) -> None:
    device = _device(store)
    base = ["exception", "request", *store.args(), "--device", str(device), "--rule", "health.os"]
    code, _out, err = run([*base, "--reason", "x", "--until", "next week"])
    assert code != 0
    assert "not a date" in err
    code, _out, err = run([*base, "--reason", "x", "--until", _until(500)])
    assert_one_line_error(code, err, "at most 365 days")
    code, _out, err = run([*base, "--reason", "  ", "--until", _until()])
    assert_one_line_error(code, err, "reason")
    code, _out, err = run(["exception", "list", *store.args(), "--status", "sleepy"])
    assert code != 0
    assert "unknown status" in err
    code, _out, err = run(["exception", "approve", *store.args(), "77"])
    assert_one_line_error(code, err, "does not exist")
