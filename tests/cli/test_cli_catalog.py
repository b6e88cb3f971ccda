# ruff: noqa: F811 - pytest fixtures imported from test_cli_session are parameters here
"""``mdm-desktop catalog add-build``: a build stored from a file, its SHA-256 printed, refusals explained."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

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
from tests.integration.fixtures_data import add_catalog_app


def _app(store: Store) -> int:
    ctx = open_app(Config.resolve(db=store.db, key_file=store.key_file), passwords=fast_passwords())
    try:
        return add_catalog_app(ctx, "PACS Viewer", "com.clinic.pacs", Platform.WINDOWS, ["4.0"])
    finally:
        ctx.close()


def test_add_build_stores_the_file_and_prints_its_hash(store: Store, tmp_path: Path) -> None:
    app_id = _app(store)
    file = tmp_path / "pacs-4.1.msix"
    file.write_bytes(b"MSIX" * 5000)
    code, out, err = run(["catalog", "add-build", *store.args(), str(app_id), str(file), "--version", "4.1", "--json"])
    assert code == 0, err
    added = json.loads(out)
    assert added["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert (added["version"], added["size_bytes"], added["file_name"]) == ("4.1", 20000, "pacs-4.1.msix")
    with sqlite3.connect(store.db) as conn:
        assert conn.execute("SELECT count(*) FROM app_packages").fetchone() == (1,)
        assert conn.execute("SELECT action FROM audit_entries ORDER BY seq DESC LIMIT 1").fetchone() == (
            "catalog.build_added",
        )


def test_add_build_refusals_are_one_line_with_advice(store: Store, tmp_path: Path) -> None:
    app_id = _app(store)
    file = tmp_path / "pacs.msix"
    file.write_bytes(b"x")
    code, _out, err = run(["catalog", "add-build", *store.args(), str(app_id), str(file), "--version", "4.0"])
    assert_one_line_error(code, err, "already has a version 4.0", "another version label")
    code, _out, err = run(
        ["catalog", "add-build", *store.args(), str(app_id), str(tmp_path / "no.msix"), "--version", "5"]
    )
    assert_one_line_error(code, err, "Cannot read")
    code, _out, err = run(["catalog", "add-build", *store.args(), "abc", str(file), "--version", "5"])
    assert code == 2
    assert "not a catalog app id" in err
