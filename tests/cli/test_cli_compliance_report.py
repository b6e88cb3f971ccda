# ruff: noqa: F811 - pytest fixtures imported from test_cli_session are parameters here
"""``mdm-desktop compliance report``: the CSV written and described, refusals one line with nothing written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.test_cli_session import (  # noqa: F401 - fixtures
    Store,
    _isolated_environment,
    assert_one_line_error,
    clock,
    run,
    store,
)


def test_report_is_written_and_audited(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    code, stdout, err = run(["compliance", "report", *store.args(), "--out", str(out), "--json"])
    assert code == 0, err
    written = json.loads(stdout)
    assert (written["path"], written["rows"], written["devices"]) == (str(out), 0, 0)
    assert out.read_text(encoding="utf-8").startswith("device,device_name,platform,")
    with sqlite3.connect(store.db) as conn:
        assert conn.execute("SELECT action FROM audit_entries ORDER BY seq DESC LIMIT 1").fetchone() == (
            "compliance.report_exported",
        )

    code, _out, err = run(["compliance", "report", *store.args(), "--out", str(out)])
    assert_one_line_error(code, err, "already exists", "allow replacing it")
    code, stdout, err = run(["compliance", "report", *store.args(), "--out", str(out), "--force"])
    assert code == 0, err
    assert "0 rules not passing on 0 devices" in stdout
