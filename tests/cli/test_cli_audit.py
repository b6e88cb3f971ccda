"""``mdm-desktop audit verify|checkpoint``: exit codes, one-line damage reports, JSON, checkpoint files."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from mdm_desktop.cli import main
from tests.cli import test_cli_session as cli_tests
from tests.cli.test_cli_session import Store, assert_one_line_error, run

# The signed-in SQLite store of the session tests (an administrator set up with ``init``), its clock,
# and the isolated environment (no MDM_* variables, data folder in tmp_path, stdin not a terminal).
_isolated_environment = cli_tests._isolated_environment
clock = cli_tests.clock
store = cli_tests.store


def tamper(store: Store, *statements: str) -> None:
    """Change the store behind the program's back, as someone with file access would (triggers dropped)."""
    conn = sqlite3.connect(store.db)
    try:
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("DROP TRIGGER audit_entries_no_delete")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_verify_an_intact_trail(store: Store) -> None:
    code, out, err = run(["audit", "verify", *store.args()])
    assert code == 0, err
    assert out.startswith("Audit trail intact: ")
    code, out, err = run(["audit", "verify", *store.args(), "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["intact"] is True
    assert report["problem"] is None
    assert report["entries_checked"] == report["head_seq"] > 1  # the first verification is audited too


def test_a_changed_entry_exits_1_with_one_line_naming_it(store: Store) -> None:
    tamper(store, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2")
    code, out, err = run(["audit", "verify", *store.args()])
    assert code == 1, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Audit trail damaged (modified): entry #2 (id ")
    code, out, _err = run(["audit", "verify", *store.args(), "--json"])
    assert code == 1
    problem = json.loads(out)["problem"]
    assert (problem["kind"], problem["seq"]) == ("modified", 2)


def test_a_deleted_entry_is_a_gap(store: Store) -> None:
    tamper(store, "DELETE FROM audit_entries WHERE seq = 2")
    code, out, _err = run(["audit", "verify", *store.args()])
    assert code == 1
    assert out.startswith("Audit trail damaged (missing): Entry #2 is missing")


def test_checkpoint_file_then_a_restored_older_copy_is_rolled_back(store: Store, tmp_path: Path) -> None:
    cp = tmp_path / "usb" / "checkpoint.json"
    cp.parent.mkdir()
    code, out, err = run(["audit", "checkpoint", *store.args(), "--out", str(cp)])
    assert code == 0, err
    assert "signed with key" in out
    doc = json.loads(cp.read_text(encoding="utf-8"))
    assert doc["format"] == "mdm-desktop-audit-checkpoint"
    assert doc["entries"] == doc["head_seq"]
    code, out, err = run(["audit", "verify", *store.args(), "--checkpoint", str(cp)])
    assert code == 0, err
    assert "checked against 2 checkpoint(s)" in out  # the file and the one this workstation remembers

    keep = doc["head_seq"] - 3
    tamper(
        store,
        f"DELETE FROM audit_entries WHERE seq > {keep}",
        f"UPDATE audit_head SET seq = {keep}, entry_hash = (SELECT entry_hash FROM audit_entries WHERE seq = {keep})",
    )
    code, out, _err = run(["audit", "verify", *store.args(), "--checkpoint", str(cp), "--json"])
    assert code == 1
    assert json.loads(out)["problem"]["kind"] == "rolled_back"
    # The workstation remembers the checkpoint: verification without the file still warns.
    code, out, _err = run(["audit", "verify", *store.args()])
    assert code == 1
    assert out.startswith("Audit trail damaged (rolled_back): ")
    code, _out, err = run(["audit", "checkpoint", *store.args(), "--out", str(tmp_path / "new.json")])
    assert_one_line_error(code, err, "No checkpoint made")
    assert not (tmp_path / "new.json").exists()


def test_bad_checkpoint_files_and_outputs_are_usage_errors(store: Store, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    code, _out, err = run(["audit", "verify", *store.args(), "--checkpoint", str(missing)])
    assert_one_line_error(code, err, "Cannot read the checkpoint file")
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "x"}', encoding="utf-8")
    code, _out, err = run(["audit", "verify", *store.args(), "--checkpoint", str(junk)])
    assert_one_line_error(code, err, "not an MDM Desktop audit checkpoint file")

    cp = tmp_path / "cp.json"
    assert run(["audit", "checkpoint", *store.args(), "--out", str(cp)])[0] == 0
    doc = json.loads(cp.read_text(encoding="utf-8"))
    doc["head_seq"] += 5
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc), encoding="utf-8")
    code, _out, err = run(["audit", "verify", *store.args(), "--checkpoint", str(forged)])
    assert_one_line_error(code, err, "signature does not verify")
    code, _out, err = run(["audit", "checkpoint", *store.args(), "--out", str(cp)])
    assert_one_line_error(code, err, "already exists", "--force")
    code, _out, err = run(["audit", "checkpoint", *store.args(), "--out", str(cp), "--force", "--json"])
    assert code == 0, err


def test_audit_commands_need_a_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["--db", str(tmp_path / "s.sqlite3"), "--key-file", str(tmp_path / "kek.json")]
    for command in (["audit", "verify"], ["audit", "checkpoint", "--out", str(tmp_path / "c.json")]):
        code, _out, err = run([*command, *args])
        assert_one_line_error(code, err, "not signed in")
    assert not (tmp_path / "s.sqlite3").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_only(store: Store) -> None:
    out, err = io.StringIO(), _Terminal()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["audit", "verify", *store.args()])
    assert code == 0, err.getvalue()
    assert re.search(r"\rVerifying the audit trail: \d+ / \d+ entries\n$", err.getvalue())
    assert out.getvalue().startswith("Audit trail intact")
    code, _out, err_text = run(["audit", "verify", *store.args()])
    assert code == 0
    assert err_text == ""


# -- export and verify-export ----------------------------------------------------------------------------------


def test_export_then_verify_export_offline(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "usb" / "audit.csv"
    code, text, err = run(["audit", "export", *store.args(), "--since", "2000-01-01", "--out", str(out)])
    assert code == 0, err
    assert text.startswith("Exported ")
    assert "signed with key" in text
    assert out.exists()
    assert (tmp_path / "usb" / "audit.csv.sig.json").exists()
    assert out.read_text(encoding="utf-8").startswith("id,seq,hash_version,occurred_at,")

    # Another machine: no store, no session, no environment.
    monkeypatch.setenv("MDM_DATA_DIR", str(tmp_path / "elsewhere"))
    code, text, err = run(["audit", "verify-export", str(out)])
    assert code == 0, err
    assert text.startswith("Export intact: ")
    assert len(text.strip().splitlines()) == 1
    code, text, err = run(["audit", "verify-export", str(out), "--json"])
    assert code == 0, err
    report = json.loads(text)
    assert report["ok"] is True
    assert report["entries"] == report["last_seq"] >= 1
    assert report["problem"] is None

    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:2] + lines[3:]), encoding="utf-8")
    code, text, err = run(["audit", "verify-export", str(out)])
    assert code == 1, err
    assert text.startswith("Export damaged (missing): Entry #2 is missing")
    assert len(text.strip().splitlines()) == 1
    code, text, _err = run(["audit", "verify-export", str(out), "--json"])
    assert code == 1
    assert json.loads(text)["problem"]["kind"] == "missing"

    code, _text, err = run(["audit", "verify-export", str(tmp_path / "nope.csv")])
    assert_one_line_error(code, err, "Cannot read the signature file")
    assert not (tmp_path / "elsewhere").exists()


def test_export_jsonl_and_a_range_by_day(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    code, text, err = run(
        ["audit", "export", *store.args(), "--format", "jsonl", "--since", "2000-01-01", "--until", "2999-12-31",
         "--out", str(out), "--json"]
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(text)
    assert result["format"] == "jsonl"
    assert result["count"] >= 1
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["seq"] == result["first_seq"]
    assert run(["audit", "verify-export", str(out)])[0] == 0
    empty = tmp_path / "empty.csv"
    code, text, err = run(
        ["audit", "export", *store.args(), "--since", "2000-01-01", "--until", "2000-01-02", "--out", str(empty)]
    )
    assert code == 0, err
    assert "Exported 0 audit entries (no entries in that range)" in text
    assert run(["audit", "verify-export", str(empty)])[0] == 0


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (["--since", "yesterday"], ("--since 'yesterday' is not a date", "YYYY-MM-DD")),
        (["--until", "2026-13-45"], ("--until '2026-13-45' is not a date",)),
        (["--since", "2026-06-02", "--until", "2026-06-01"], ("--since must be before --until",)),
    ],
)
def test_bad_export_ranges_are_one_line_errors_and_write_nothing(
    store: Store, tmp_path: Path, options: list[str], fragments: tuple[str, ...]
) -> None:
    out = tmp_path / "usb" / "x.csv"
    code, _text, err = run(["audit", "export", *store.args(), *options, "--out", str(out)])
    assert_one_line_error(code, err, *fragments)
    assert not out.parent.exists()


def test_export_does_not_replace_files_without_force(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    assert run(["audit", "export", *store.args(), "--out", str(out)])[0] == 0
    code, _text, err = run(["audit", "export", *store.args(), "--out", str(out)])
    assert_one_line_error(code, err, "already exists", "--force")
    code, _text, err = run(["audit", "export", *store.args(), "--out", str(out), "--force"])
    assert code == 0, err
    assert run(["audit", "verify-export", str(out)])[0] == 0


def test_export_needs_a_session(tmp_path: Path) -> None:
    args = ["--db", str(tmp_path / "s.sqlite3"), "--key-file", str(tmp_path / "kek.json")]
    code, _out, err = run(["audit", "export", *args, "--out", str(tmp_path / "x.csv")])
    assert_one_line_error(code, err, "not signed in")
    assert not (tmp_path / "s.sqlite3").exists()
    assert not (tmp_path / "x.csv").exists()


# -- retention and prune ---------------------------------------------------------------------------------------

terminal = cli_tests.terminal
YEARS_BACK = 8 * 365


@pytest.fixture
def old_store(tmp_path: Path, clock: cli_tests.ShiftedClock, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store set up eight years ago (its first audit entries are that old), signed in again today."""
    clock.advance(days=-YEARS_BACK)
    made = Store(str(tmp_path / "old.sqlite3"), str(tmp_path / "kek.json"), clock)
    cli_tests._init(made, monkeypatch)
    clock.advance(days=YEARS_BACK)
    cli_tests.login(made, monkeypatch)
    return made


def _years_ago(store: Store, years: int) -> str:
    return (store.clock() - dt.timedelta(days=365 * years + 2)).date().isoformat()


def _entries(store: Store) -> list[int]:
    with sqlite3.connect(store.db) as conn:
        return [seq for (seq,) in conn.execute("SELECT seq FROM audit_entries ORDER BY seq")]


def test_retention_shows_the_setting_and_what_is_prunable(old_store: Store) -> None:
    code, out, err = run(["audit", "retention", *old_store.args()])
    assert code == 0, err
    assert out.startswith("Audit entries are kept 6 years: entries recorded before ")
    assert "Old enough to prune: " in out
    code, out, err = run(["audit", "retention", *old_store.args(), "--json"])
    assert code == 0, err
    status = json.loads(out)
    assert status["years"] == 6
    assert status["oldest_seq"] == 1
    assert status["prunable"]["count"] > 0
    assert status["last_prune"] is None


def test_retention_years_needs_six_or_more_and_a_fresh_code(old_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _out, err = run(["audit", "retention", *old_store.args(), "--years", "5"])
    assert_one_line_error(code, err, "--years 5 is out of range", "6 to 100")
    old_store.clock.advance(minutes=10)  # the sign-in's step-up has gone stale
    code, _out, err = run(["audit", "retention", *old_store.args(), "--years", "8"])
    assert_one_line_error(code, err, "needs a fresh code")
    monkeypatch.setenv("MDM_TOTP", old_store.fresh_code())
    code, out, err = run(["audit", "retention", *old_store.args(), "--years", "8", "--json"])
    assert code == 0, err
    assert json.loads(out)["years"] == 8


def test_prune_refuses_entries_younger_than_the_retention_period(old_store: Store, tmp_path: Path) -> None:
    before = _entries(old_store)
    out_dir = tmp_path / "usb"
    code, _out, err = run(
        ["audit", "prune", *old_store.args(), "--before", _years_ago(old_store, 1), "--out", str(out_dir), "--yes"]
    )
    assert_one_line_error(code, err, "younger than the retention period (6 years)", "Choose a date on or before")
    code, _out, err = run(["audit", "prune", *old_store.args(), "--before", "soon", "--out", str(out_dir)])
    assert_one_line_error(code, err, "--before 'soon' is not a date")
    assert _entries(old_store) == before
    assert not out_dir.exists()


def test_prune_without_yes_needs_a_terminal_and_a_yes(
    old_store: Store, tmp_path: Path, terminal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _entries(old_store)
    args = ["audit", "prune", *old_store.args(), "--before", _years_ago(old_store, 7), "--out", str(tmp_path / "u")]
    code, _out, err = run(args)
    assert_one_line_error(code, err, "confirm it", "--yes")
    prompts: list[str] = []
    terminal(lambda prompt: prompts.append(prompt) or "no")
    code, _out, err = run(args)
    assert code == 2
    assert "Nothing was pruned." in err
    assert "removes them from the store" in prompts[-1]
    assert _entries(old_store) == before
    monkeypatch.setenv("MDM_TOTP", old_store.fresh_code())
    terminal(lambda prompt: "yes")
    code, out, err = run(args)
    assert code == 0, err
    assert out.startswith("Pruned ")
    assert min(_entries(old_store)) > 1


def test_prune_with_yes_then_verify_and_verify_export_pass(
    old_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDM_TOTP", old_store.fresh_code())
    out_dir = tmp_path / "usb"
    code, out, err = run(
        [
            "audit",
            "prune",
            *old_store.args(),
            "--before",
            _years_ago(old_store, 7),
            "--out",
            str(out_dir),
            "--yes",
            "--json",
        ]
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["pruned"] is True
    assert result["plan"]["first_seq"] == 1
    assert min(_entries(old_store)) == result["plan"]["last_seq"] + 1
    assert run(["audit", "verify", *old_store.args()])[0] == 0
    code, out, err = run(["audit", "verify-export", result["export"]])
    assert code == 0, err
    assert out.startswith("Export intact: ")
    code, out, err = run(["audit", "retention", *old_store.args(), "--json"])
    assert json.loads(out)["last_prune"]["last_seq"] == result["plan"]["last_seq"]
    # Nothing left before that date: a second run says so and changes nothing.
    code, out, err = run(
        ["audit", "prune", *old_store.args(), "--before", _years_ago(old_store, 7), "--out", str(out_dir), "--yes"]
    )
    assert code == 0, err
    assert "nothing to prune" in out
