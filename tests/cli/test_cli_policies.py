# ruff: noqa: F811 - pytest fixtures imported from test_cli_session are parameters here
"""``mdm-desktop policy baselines|create|export``: baselines, policies from them, Apple and Android exports."""

from __future__ import annotations

import json
import plistlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mdm_desktop.app import open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.policy_baselines import BYOD, SHARED_TABLET
from tests.cli.test_cli_session import (  # noqa: F401 - fixtures
    Store,
    _isolated_environment,
    assert_one_line_error,
    clock,
    run,
    store,
)
from tests.conftest import fast_passwords
from tests.integration.fixtures_data import add_policy
from tests.unit.test_mobileconfig import _openssl_verify, _signing_pair


def _published(store: Store, name: str, *versions: dict) -> int:
    ctx = open_app(Config.resolve(db=store.db, key_file=store.key_file), passwords=fast_passwords())
    try:
        return add_policy(ctx, name, versions[-1], versions=list(versions))
    finally:
        ctx.close()


def _audit_actions(store: Store) -> list[str]:
    with sqlite3.connect(store.db) as conn:
        return [row[0] for row in conn.execute("SELECT action FROM audit_entries ORDER BY seq")]


def test_baselines_are_listed_with_citations() -> None:
    code, out, err = run(["policy", "baselines"])
    assert code == 0, err
    assert "Shared nurse-station tablet:" in out
    assert "Auto-lock after (passcode.auto_lock_minutes) = 2  [CIS iOS 3.4.4; HIPAA 45 CFR 164.312(a)(2)(iii)]" in out
    code, out, err = run(["policy", "baselines", "--json"])
    assert code == 0, err
    names = [b["name"] for b in json.loads(out)]
    assert names == ["Clinic baseline (corporate)", "Clinician BYOD", "Shared nurse-station tablet"]


def test_create_from_baseline(store: Store) -> None:
    code, out, err = run(["policy", "create", *store.args(), "--from-baseline", "clinician byod", "--json"])
    assert code == 0, err
    created = json.loads(out)
    assert created["name"] == "Clinician BYOD"
    with sqlite3.connect(store.db) as conn:
        (draft,) = conn.execute("SELECT draft_settings FROM policies WHERE id = ?", (created["id"],)).fetchone()
    assert json.loads(draft) == BYOD.to_dict()
    assert _audit_actions(store)[-1] == "policies.create"
    code, _out, err = run(["policy", "create", *store.args(), "--from-baseline", "Kiosk"])
    assert_one_line_error(code, err, "no built-in baseline called 'Kiosk'", "Clinician BYOD")
    code, out, err = run(["policy", "create", *store.args(), "--from-baseline", "Clinician BYOD", "--name", "Mine"])
    assert code == 0, err
    assert "Created policy 'Mine'" in out


def test_export_both_formats_with_report(store: Store, tmp_path: Path) -> None:
    _published(store, "Ward tablets", SHARED_TABLET.to_dict())
    profile = tmp_path / "ward.mobileconfig"
    code, out, err = run(
        ["policy", "export", *store.args(), "Ward tablets", "--format", "mobileconfig", "--out", str(profile)]
    )
    assert code == 0, err
    assert out.startswith(f"Wrote {profile} (")
    assert "Bluetooth allowed (connections.bluetooth_allowed)" in out  # listed, not dropped
    parsed = plistlib.loads(profile.read_bytes())
    assert parsed["PayloadDisplayName"] == "Ward tablets (v1)"
    android = tmp_path / "ward.json"
    code, out, err = run(
        ["policy", "export", *store.args(), "Ward tablets", "--format", "android", "--out", str(android), "--json"]
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["format"] == "android"
    assert "data_transfer.cloud_backup_allowed" in [u["key"] for u in report["not_expressible"]]
    assert json.loads(android.read_text(encoding="utf-8"))["cameraAccess"] == "CAMERA_ACCESS_DISABLED"
    assert _audit_actions(store)[-2:] == ["policies.export", "policies.export"]


def test_export_refusals_write_nothing(store: Store, tmp_path: Path) -> None:
    _published(store, "Ward tablets", SHARED_TABLET.to_dict())
    ctx = open_app(Config.resolve(db=store.db, key_file=store.key_file), passwords=fast_passwords())
    try:
        add_policy(ctx, "Draft only", SHARED_TABLET.to_dict())
    finally:
        ctx.close()
    out_file = tmp_path / "x.json"
    before = len(_audit_actions(store))
    cases = [
        (["Nope", "--format", "android"], "There is no policy 'Nope'"),
        (["Draft only", "--format", "android"], "has no published version yet"),
        (["Ward tablets", "--format", "android", "--version", "7"], "has no version 7"),
        (["Ward tablets", "--format", "android", "--sign"], "Only Apple profiles can be signed"),
        (["Ward tablets", "--format", "mobileconfig", "--sign", "--sign-cert", "a.pem"], "both --sign-cert"),
        (["Ward tablets", "--format", "mobileconfig", "--sign"], "site certificate authority has not been made"),
    ]
    for args, message in cases:
        code, _out, err = run(["policy", "export", *store.args(), *args, "--out", str(out_file)])
        assert_one_line_error(code, err, message)
        assert not out_file.exists()
    assert len(_audit_actions(store)) == before
    out_file.write_text("keep me", encoding="utf-8")
    code, _out, err = run(
        ["policy", "export", *store.args(), "Ward tablets", "--format", "android", "--out", str(out_file)]
    )
    assert_one_line_error(code, err, "already exists", "replacing")
    assert out_file.read_text(encoding="utf-8") == "keep me"
    code, _out, err = run(
        ["policy", "export", *store.args(), "Ward tablets", "--format", "android", "--out", str(out_file), "--force"]
    )
    assert code == 0, err
    assert json.loads(out_file.read_text(encoding="utf-8"))["screenCaptureDisabled"] is True


def test_export_signed_with_an_imported_certificate(store: Store, tmp_path: Path) -> None:
    _published(store, "Ward tablets", SHARED_TABLET.to_dict())
    cert, key = _signing_pair(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    out_file = tmp_path / "signed.mobileconfig"
    code, out, err = run(
        [
            "policy", "export", *store.args(), "Ward tablets", "--format", "mobileconfig", "--out", str(out_file),
            "--sign", "--sign-cert", str(cert), "--sign-key", str(key),
        ]
    )  # fmt: skip
    assert code == 0, err
    assert "Signed by CN=Clinic profile signing." in out
    if shutil.which("openssl") is not None:
        assert _openssl_verify(out_file, cert, tmp_path / "plain.plist").returncode == 0


def test_export_settings_then_import_elsewhere(store: Store, tmp_path: Path) -> None:
    _published(store, "Ward tablets", SHARED_TABLET.to_dict())
    policy_file = tmp_path / "ward.policy.json"
    code, out, err = run(
        ["policy", "export", *store.args(), "Ward tablets", "--format", "settings", "--out", str(policy_file)]
    )
    assert code == 0, err
    assert "0 not expressible" in out
    code, _out, err = run(["policy", "import", *store.args(), str(policy_file)])
    assert_one_line_error(code, err, "A policy named 'Ward tablets' already exists")
    code, out, err = run(
        ["policy", "import", *store.args(), str(policy_file), "--name", "Ward tablets (site B)", "--json"]
    )
    assert code == 0, err
    created = json.loads(out)
    with sqlite3.connect(store.db) as conn:
        (draft,) = conn.execute("SELECT draft_settings FROM policies WHERE id = ?", (created["id"],)).fetchone()
    assert json.loads(draft) == SHARED_TABLET.to_dict()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01binary", "not valid JSON"),
        (b'{"format": "mdm-desktop-policy", "format_version": 1, "name": "X", "settings": {"passcode": '
         b'{"min_length": 2}}}', "Minimum length (passcode.min_length): 2 is out of range"),
        (b'<?xml version="1.0"?><plist><dict/></plist>', "not valid JSON"),
    ],
)  # fmt: skip
def test_import_of_a_bad_file_writes_nothing(store: Store, tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.policy.json"
    bad.write_bytes(content)
    before = _audit_actions(store)
    code, _out, err = run(["policy", "import", *store.args(), str(bad)])
    assert_one_line_error(code, err, message)
    with sqlite3.connect(store.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM policies").fetchone() == (0,)
    assert _audit_actions(store) == before
    code, _out, err = run(["policy", "import", *store.args(), str(tmp_path / "missing.json")])
    assert_one_line_error(code, err, "Cannot read")
