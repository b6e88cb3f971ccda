"""``mdm-desktop token create|list|revoke``: a token printed once, its QR code, listing, revoking."""

from __future__ import annotations

import json
from pathlib import Path

from mdm_desktop.cli_gateway import parse_duration
from tests.cli import test_cli_session as cli_tests
from tests.cli.test_cli_session import Store, run

_isolated_environment = cli_tests._isolated_environment
clock = cli_tests.clock
store = cli_tests.store


def test_create_list_and_revoke_a_token(store: Store, tmp_path: Path) -> None:
    qr = tmp_path / "token.png"
    args = ["token", "create", *store.args(), "--uses", "3", "--expires", "2h", "--byod"]
    code, out, err = run([*args, "--server", "https://10.0.0.5:8443", "--qr", str(qr), "--json"])
    assert code == 0, err
    made = json.loads(out)
    assert made["uses_left"] == 3
    assert made["ownership"] == "byod"
    assert made["server"] == "https://10.0.0.5:8443"
    assert made["token"] in made["qr_payload"]
    assert len(made["ca_sha256"]) == 64
    assert qr.read_bytes().startswith(b"\x89PNG")

    code, out, err = run(["token", "list", *store.args()])
    assert code == 0, err
    assert made["id"][:12] in out
    assert made["token"] not in out

    code, out, err = run(["token", "revoke", *store.args(), made["id"][:8]])
    assert code == 0, err
    assert "revoked" in out
    code, out, _ = run(["token", "list", *store.args(), "--all", "--json"])
    assert json.loads(out.splitlines()[0])["state"] == "revoked"


def test_bad_options_are_one_line_errors(store: Store) -> None:
    code, _out, err = run(["token", "create", *store.args(), "--expires", "soon", "--server", "https://h:1"])
    assert code == 2
    assert "not a duration" in err
    code, _out, err = run(["token", "create", *store.args(), "--uses", "0", "--server", "https://h:1"])
    assert code == 2
    assert "between 1 and" in err
    code, _out, err = run(["token", "create", *store.args()])
    assert code == 2
    assert "No gateway address" in err
    code, _out, err = run(["token", "revoke", *store.args(), "abcdef"])
    assert code == 2
    assert "No enrolment token" in err


def test_durations() -> None:
    assert parse_duration("30m").total_seconds() == 1800
    assert parse_duration("7d").days == 7
    assert parse_duration("2W").days == 14
