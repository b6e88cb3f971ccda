"""``mdm-desktop audit find --value``: entries that recorded a person's name or an identifier as a keyed hash."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli import test_cli_session as cli_tests
from tests.cli.test_cli_session import ADMIN, ADMIN_PW, ShiftedClock, Store, assert_one_line_error, run

_isolated_environment = cli_tests._isolated_environment
clock = cli_tests.clock

NAME = "Dr. Ingrid Haugen-Okafor"


@pytest.fixture
def named_store(tmp_path: Path, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store whose first administrator was set up with a display name, signed in on the command line."""
    made = Store(str(tmp_path / "store.sqlite3"), str(tmp_path / "kek.json"), clock)
    monkeypatch.setenv("MDM_PASSWORD", ADMIN_PW)
    code, out, err = run(["init", *made.args(), "--user", ADMIN, "--display-name", NAME, "--json"])
    assert code == 0, err
    made.secret = json.loads(out)["secret"]
    monkeypatch.delenv("MDM_PASSWORD")
    code, out, err = run(["init", *made.args(), "--confirm", made.fresh_code(), "--json"])
    assert code == 0, err
    return made


def test_find_by_name_lists_the_entry_and_the_name_is_not_in_the_store_in_clear(named_store: Store) -> None:
    code, out, err = run(["audit", "find", *named_store.args(), "--value", f"  {NAME.upper()} "])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[-1] == "1 entry."
    assert "users.create_first_admin" in lines[0]
    assert NAME not in out

    code, out, err = run(["audit", "find", *named_store.args(), "--value", NAME, "--json"])
    assert code == 0, err
    (entry,) = json.loads(out)
    assert entry["action"] == "users.create_first_admin"
    assert entry["details"]["display_name"].startswith("kh:")
    with sqlite3.connect(named_store.db) as conn:
        texts = conn.execute("SELECT actor, target, details FROM audit_entries").fetchall()
    assert not any(NAME.casefold() in str(cell).casefold() for row in texts for cell in row)


def test_an_unknown_value_finds_nothing(named_store: Store) -> None:
    code, out, err = run(["audit", "find", *named_store.args(), "--value", "C02XK1ABJG5H"])
    assert code == 0, err
    assert out.strip() == "No audit entry recorded that value."
    code, out, _err = run(["audit", "find", *named_store.args(), "--value", "C02XK1ABJG5H", "--json"])
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(["--value", "   "], "--value is empty"), (["--value", "x", "--limit", "0"], "--limit must be between")],
)
def test_bad_arguments_are_one_line_errors(named_store: Store, argv: list[str], fragment: str) -> None:
    code, _out, err = run(["audit", "find", *named_store.args(), *argv])
    assert_one_line_error(code, err, fragment)


def test_an_overlong_value_is_refused(named_store: Store) -> None:
    code, _out, err = run(["audit", "find", *named_store.args(), "--value", "x" * 300])
    assert_one_line_error(code, err, "identifier")
