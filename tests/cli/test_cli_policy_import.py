# ruff: noqa: F811 - pytest fixtures imported from test_cli_session are parameters here
"""``mdm-desktop policy import FILE --format mobileconfig|android|json``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mdm_desktop.domain.policy_baselines import SHARED_TABLET
from mdm_desktop.exports.android_policy import build_android_policy
from mdm_desktop.exports.mobileconfig import build_mobileconfig
from mdm_desktop.exports.report import PolicySource
from tests.cli.test_cli_session import (  # noqa: F401 - fixtures
    Store,
    _isolated_environment,
    assert_one_line_error,
    clock,
    run,
    store,
)

SOURCE = PolicySource("c0ffee", "Ward tablets", 2)


def _policies(store: Store) -> list[tuple[str, str]]:
    with sqlite3.connect(store.db) as conn:
        return list(conn.execute("SELECT name, draft_settings FROM policies ORDER BY id"))


def test_import_apple_and_android(store: Store, tmp_path: Path) -> None:
    profile = tmp_path / "ward.mobileconfig"
    profile.write_bytes(build_mobileconfig(SHARED_TABLET.policy_settings(), SOURCE).content)
    code, out, err = run(["policy", "import", *store.args(), str(profile), "--format", "mobileconfig"])
    assert code == 0, err
    assert "Created policy 'Ward tablets (v2)' from ward.mobileconfig" in out
    assert "An Apple configuration profile has no field for these" in out

    policy = {**json.loads(build_android_policy(SHARED_TABLET.policy_settings(), SOURCE).content), "kioskX": 1}
    android = tmp_path / "ward-android.json"
    android.write_text(json.dumps(policy))
    code, out, err = run(["policy", "import", *store.args(), str(android), "--format", "android", "--json"])
    assert code == 0, err
    created = json.loads(out)
    assert created["name"] == "ward-android"
    assert created["not_imported"] == ["field kioskX: no setting."]
    names = [name for name, _ in _policies(store)]
    assert names == ["Ward tablets (v2)", "ward-android"]
    draft = json.loads(_policies(store)[1][1])
    assert draft["passcode"]["min_length"] == SHARED_TABLET.policy_settings().passcode.min_length


def test_hostile_profile_writes_nothing(store: Store, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.mobileconfig"
    bomb.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<plist><dict><key>PayloadType</key><string>&b;</string></dict></plist>"
    )
    code, _out, err = run(["policy", "import", *store.args(), str(bomb), "--format", "mobileconfig"])
    assert_one_line_error(code, err, "entity declarations are not supported")
    assert _policies(store) == []
