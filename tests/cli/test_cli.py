"""The ``mdm-desktop`` command line: help, db upgrade, demo, devices list, and clear errors.

Sessions, init and user administration are in ``test_cli_session.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mdm_desktop import __version__
from mdm_desktop.cli import csv_safe, main, parse_filters
from mdm_desktop.cli_session import SessionFile, session_path
from mdm_desktop.config import Config
from mdm_desktop.domain.devices import ComplianceState, Platform
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.security import totp

REPO = Path(__file__).resolve().parents[2]
DEMO_DEVICES = 150


def run(argv: list[str]) -> tuple[int, str, str]:
    """Run ``main`` in-process and capture its output."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mdm-desktop: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@dataclass(frozen=True)
class DemoStore:
    db: str
    key_file: str
    admin: str
    password: str
    secret: str
    token: str = ""

    def args(self) -> list[str]:
        return ["--db", self.db, "--key-file", self.key_file]

    def plant_session(self) -> None:
        """Give the current data folder this store's CLI session (one sign-in serves the whole module)."""
        SessionFile(session_path(Config.resolve(db=self.db, key_file=self.key_file))).write(self.token)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No store, key file or credentials leak in from the environment; defaults land in tmp_path."""
    for name in ("MDM_DATABASE_URL", "MDM_KEY_FILE", "MDM_USER", "MDM_PASSWORD", "MDM_TOTP", "MDM_NEW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MDM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: never prompt


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    """One demo clinic shared by the read-only tests of this module, and one CLI session on it."""
    folder = tmp_path_factory.mktemp("demo")
    db, key = str(folder / "demo.sqlite3"), str(folder / "kek.json")
    code, out, err = run(["demo", "--db", db, "--key-file", key, "--devices", str(DEMO_DEVICES), "--seed", "11"])
    assert code == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines() if line.startswith("Administrator "))
    store = DemoStore(
        db,
        key,
        fields["Administrator user name"].strip(),
        fields["Administrator password"].strip(),
        fields["Administrator TOTP secret"].strip(),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MDM_DATA_DIR", str(folder / "data"))
        mp.setenv("MDM_PASSWORD", store.password)
        mp.setenv("MDM_TOTP", totp.code_at(store.secret, dt.datetime.now(dt.UTC)))
        mp.setattr(sys, "stdin", io.StringIO(""))
        code, _out, err = run(["login", *store.args(), "--user", store.admin])
        assert code == 0, err
        token = SessionFile(session_path(Config.resolve(db=db, key_file=key))).read()
    assert token
    return DemoStore(store.db, store.key_file, store.admin, store.password, store.secret, token)


@pytest.fixture
def signed_in(demo_store: DemoStore) -> DemoStore:
    demo_store.plant_session()
    return demo_store


def list_json(store: DemoStore, *extra: str) -> list[dict[str, Any]]:
    code, out, err = run(["devices", "list", *store.args(), "--json", *extra])
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list)
    return data


# -- help and version -----------------------------------------------------------------------------------------


def test_help_lists_the_subcommands() -> None:
    code, out, _err = run(["--help"])
    assert code == 0
    for word in ("db", "demo", "devices", "init", "login", "logout", "whoami", "user", "--db", "--key-file"):
        assert word in out


@pytest.mark.parametrize(
    "argv",
    [["db", "--help"], ["db", "upgrade", "--help"], ["demo", "--help"], ["devices", "--help"],
     ["devices", "list", "--help"], ["init", "--help"], ["login", "--help"], ["logout", "--help"],
     ["whoami", "--help"], ["user", "--help"], ["user", "add", "--help"], ["user", "list", "--help"],
     ["user", "disable", "--help"], ["user", "enable", "--help"], ["user", "unlock", "--help"],
     ["user", "reset-mfa", "--help"], ["user", "reset-password", "--help"]],
)  # fmt: skip
def test_every_subcommand_has_help(argv: list[str]) -> None:
    code, out, _err = run(argv)
    assert code == 0
    assert out.startswith("usage: mdm-desktop")
    if argv[-2:] not in (["db", "--help"], ["devices", "--help"], ["user", "--help"]):
        assert "--db" in out


def test_version() -> None:
    code, out, _err = run(["--version"])
    assert code == 0
    assert out.strip() == f"mdm-desktop {__version__}"


def test_usage_error_is_exit_2() -> None:
    code, _out, err = run(["devices", "list", "--sort", "colour"])
    assert code == 2
    assert "cannot sort by 'colour'" in err
    code, _out, err = run(["demo"])
    assert code == 2
    assert "--devices" in err


def test_python_m_help_works_without_a_display_and_without_qt() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(REPO)
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['mdm-desktop', '--help']\n"
        "try:\n"
        "    runpy.run_module('mdm_desktop', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "assert 'PySide6' not in sys.modules, 'help imported Qt'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "devices" in done.stdout
    plain = subprocess.run(
        [sys.executable, "-m", "mdm_desktop", "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert plain.returncode == 0, plain.stderr
    assert "demo" in plain.stdout


# -- db upgrade --------------------------------------------------------------------------------------------------


def test_db_upgrade_creates_then_reports_current(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    code, out, err = run(["db", "upgrade", "--db", str(db)])
    assert code == 0, err
    assert out.startswith(f"Store SQLite {db} upgraded from an empty database to schema ")
    code, out, err = run(["--db", str(db), "db", "upgrade"])  # --db before the command works too
    assert code == 0, err
    assert "is already at schema" in out
    assert not (tmp_path / "data" / "keys").exists(), "db upgrade needs no key file"


def test_db_upgrade_refuses_a_newer_store_and_leaves_it_untouched(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    assert run(["db", "upgrade", "--db", str(db)])[0] == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    before = db.read_bytes()
    code, _out, err = run(["db", "upgrade", "--db", str(db)])
    assert_one_line_error(code, err, "newer version of MDM Desktop")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999_future",)
    assert db.read_bytes() == before


# -- stores that cannot be used ---------------------------------------------------------------------------------


def _unwritable_target(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes anywhere on a normal file system; /proc refuses even root
        return Path("/proc") / f"mdm-test-{uuid.uuid4().hex}.sqlite3"
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    return folder / "store.sqlite3"


COMMANDS = {
    "db upgrade": ["db", "upgrade"],
    "demo": ["demo", "--devices", "5"],
    "devices list": ["devices", "list"],
    "user list": ["user", "list"],
    "init": ["init", "--user", "admin"],
    "login": ["login", "--user", "admin"],
    "whoami": ["whoami"],
    "gui": [],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("problem", ["text file", "unwritable folder", "refused server"])
def test_unusable_store_is_one_line_error_and_nothing_is_written(
    command: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.setenv("MDM_PASSWORD", "whatever-it-is")
    monkeypatch.setenv("MDM_DATA_DIR", str(tmp_path_factory.mktemp("data")))  # outside tmp_path, checked below
    key = tmp_path / "keys" / "kek.json"
    if problem == "text file":
        target = tmp_path / "notes.txt"
        target.write_text("shopping list\n" * 200)
        db, expected = str(target), "not an MDM Desktop database"
    elif problem == "unwritable folder":
        target = _unwritable_target(tmp_path)
        db, expected = str(target), "Cannot"
    else:
        db, expected = "postgresql://mdm@127.0.0.1:9/mdm", "Cannot reach PostgreSQL 127.0.0.1:9/mdm"
    # Commands that need a session find one, so the store itself is what fails.
    SessionFile(session_path(Config.resolve(db=db, key_file=str(key)))).write("t" * 43)
    code, out, err = run(["--db", db, "--key-file", str(key), *COMMANDS[command]])
    assert_one_line_error(code, err, expected)
    assert out == ""
    assert not key.exists()
    assert not key.parent.exists()
    if problem == "text file":
        assert (tmp_path / "notes.txt").read_text() == "shopping list\n" * 200
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    if problem == "unwritable folder":
        assert not Path(db).exists()


# -- demo ------------------------------------------------------------------------------------------------------------


def test_demo_prints_the_administrator_and_how_to_open_it(demo_store: DemoStore) -> None:
    assert demo_store.admin == "admin"
    assert len(demo_store.password) >= 16


def test_demo_refuses_a_store_with_devices_unless_forced(tmp_path: Path) -> None:
    db, key = str(tmp_path / "s.sqlite3"), str(tmp_path / "k.json")
    code, out, err = run(["demo", "--db", db, "--key-file", key, "--devices", "12", "--seed", "1"])
    assert code == 0, err
    assert f"mdm-desktop --db {db} --key-file {key}" in out
    assert "Administrator password:" in out
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*), (SELECT count(*) FROM audit_entries) FROM devices").fetchone()
    code, out, err = run(["demo", "--db", db, "--key-file", key, "--devices", "12"])
    assert_one_line_error(code, err, "already holds 12 devices", "--force")
    assert out == ""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), (SELECT count(*) FROM audit_entries) FROM devices").fetchone() == before
    code, out, err = run(["demo", "--db", db, "--key-file", key, "--devices", "8", "--force"])
    assert code == 0, err
    assert "Administrator user name: demo-admin-2" in out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM devices").fetchone() == (20,)
        names = [r[0] for r in conn.execute("SELECT name FROM devices")]
    assert len(set(names)) == 20


def test_demo_hides_the_password_of_a_postgres_url_in_its_hint() -> None:
    from mdm_desktop.cli_session import without_password as _without_password

    assert _without_password("postgresql://mdm:s3cret@db.clinic:5433/mdm") == "postgresql://mdm@db.clinic:5433/mdm"
    assert _without_password("/data/mdm.sqlite3") == "/data/mdm.sqlite3"


# -- devices list ------------------------------------------------------------------------------------------------


def test_devices_list_json_has_every_device_with_identifiers(signed_in: DemoStore) -> None:
    devices = list_json(signed_in)
    assert len(devices) == DEMO_DEVICES
    assert len({d["uid"] for d in devices}) == DEMO_DEVICES
    first = devices[0]
    assert set(first) >= {"name", "platform", "os_version", "compliance", "serial", "assigned_to", "last_checkin_at"}
    assert all(d["serial"] for d in devices)
    names = [d["name"] for d in devices]
    assert names == sorted(names)


def test_devices_list_csv_has_a_header_and_every_device(signed_in: DemoStore) -> None:
    code, out, err = run(["devices", "list", *signed_in.args(), "--csv"])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == DEMO_DEVICES
    assert {r["platform"] for r in rows} == {p.value for p in Platform}


def test_devices_list_filters_by_platform(signed_in: DemoStore) -> None:
    everything = list_json(signed_in)
    android = list_json(signed_in, "--filter", "platform=android")
    assert android
    assert len(android) == sum(1 for d in everything if d["platform"] == "android")
    assert {d["platform"] for d in android} == {"android"}
    apple = list_json(signed_in, "--filter", "platform=iOS,ipados")
    assert len(apple) == sum(1 for d in everything if d["platform"] in ("ios", "ipados"))


def test_devices_list_combines_filters_sort_and_limit(signed_in: DemoStore) -> None:
    everything = list_json(signed_in)
    wanted = [d for d in everything if d["compliance"] == "non_compliant" and d["ownership"] == "corporate"]
    found = list_json(signed_in, "--filter", "compliance=non-compliant", "--filter", "ownership=corporate")
    assert sorted(d["uid"] for d in found) == sorted(d["uid"] for d in wanted)
    group = everything[0]["group"]
    in_group = list_json(signed_in, "--filter", f"group={group.upper()}")
    assert len(in_group) == sum(1 for d in everything if d["group"] == group)
    stale = list_json(signed_in, "--filter", "stale-days=14")
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=14)
    assert 0 < len(stale) < DEMO_DEVICES
    assert all(d["last_checkin_at"] is None or dt.datetime.fromisoformat(d["last_checkin_at"]) < cutoff for d in stale)
    assert len(stale) == sum(
        1
        for d in everything
        if d["last_checkin_at"] is None or dt.datetime.fromisoformat(d["last_checkin_at"]) < cutoff
    )
    newest = list_json(signed_in, "--sort", "last-checkin", "--desc", "--limit", "7")
    assert len(newest) == 7
    stamps = [d["last_checkin_at"] for d in newest]
    assert stamps == sorted(stamps, reverse=True)
    serial = everything[5]["serial"]
    assert [d["uid"] for d in list_json(signed_in, "--filter", f"search={serial}")] == [everything[5]["uid"]]


def test_devices_list_pages_through_more_than_one_page(signed_in: DemoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mdm_desktop.cli.PAGE_SIZE", 17)
    devices = list_json(signed_in, "--sort", "platform")
    assert len(devices) == DEMO_DEVICES
    assert len({d["uid"] for d in devices}) == DEMO_DEVICES
    keys = [(d["platform"], d["id"]) for d in devices]
    assert keys == sorted(keys)


def test_devices_list_table_is_aligned(signed_in: DemoStore) -> None:
    code, out, err = run(["devices", "list", *signed_in.args(), "--limit", "20"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Name")
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[-1] == "20 devices (limit reached; more match)."
    column = lines[0].index("Platform")
    assert all(line[column - 2 : column] == "  " for line in lines[2:22])


def test_devices_list_empty_result(signed_in: DemoStore) -> None:
    assert list_json(signed_in, "--filter", "search=no such device anywhere") == []
    code, out, _err = run(["devices", "list", *signed_in.args(), "--filter", "search=nothing-like-this"])
    assert code == 0
    assert "No devices match." in out


def test_csv_cells_cannot_become_formulas(signed_in: DemoStore, tmp_path: Path) -> None:
    assert csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert [csv_safe(v) for v in ("+1", "-1", "@x", "\tx", "ok", None)] == ["'+1", "'-1", "'@x", "'\tx", "ok", ""]
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(signed_in.db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
        dst.execute("UPDATE devices SET name = '=cmd|'' /C calc''!A0' WHERE id = (SELECT min(id) FROM devices)")
    SessionFile(session_path(Config.resolve(db=str(copy), key_file=signed_in.key_file))).write(signed_in.token)
    code, out, err = run(["devices", "list", "--db", str(copy), "--key-file", signed_in.key_file, "--csv"])
    assert code == 0, err
    names = [r["name"] for r in csv.DictReader(io.StringIO(out))]
    assert "'=cmd|' /C calc'!A0" in names
    assert not any(n.startswith("=") for n in names)


def test_wrong_password_is_refused(demo_store: DemoStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MDM_PASSWORD", demo_store.password + "x")
    monkeypatch.setenv("MDM_TOTP", totp.code_at(demo_store.secret, dt.datetime.now(dt.UTC)))
    code, out, err = run(["login", *demo_store.args(), "--user", demo_store.admin])
    assert_one_line_error(code, err, "user name or password is not right")
    assert out == ""
    assert not (tmp_path / "data").exists(), "a refused sign-in writes no session file"


def test_devices_list_needs_a_session(demo_store: DemoStore, tmp_path: Path) -> None:
    code, out, err = run(["devices", "list", *demo_store.args()])
    assert_one_line_error(code, err, f"You are not signed in; run mdm-desktop login --db {demo_store.db}")
    assert out == ""
    assert not (tmp_path / "data").exists()


def test_missing_credentials_are_clear_errors(demo_store: DemoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _out, err = run(["login", *demo_store.args()])
    assert_one_line_error(code, err, "--user", "MDM_USER")
    code, _out, err = run(["login", *demo_store.args(), "--user", "admin"])
    assert_one_line_error(code, err, "MDM_PASSWORD")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("colour=red", "Unknown filter 'colour'"),
        ("platform", "is not KEY=VALUE"),
        ("platform=blackberry", "Unknown platform 'blackberry'"),
        ("stale-days=-3", "stale-days needs a number"),
        ("stale-days=soon", "stale-days needs a number"),
        ("ownership=", "needs a value"),
    ],
)
def test_bad_filters_are_one_line_errors(signed_in: DemoStore, item: str, message: str) -> None:
    code, out, err = run(["devices", "list", *signed_in.args(), "--filter", item])
    assert_one_line_error(code, err, message)
    assert out == ""


def test_unknown_group_names_the_groups(signed_in: DemoStore) -> None:
    code, _out, err = run(["devices", "list", *signed_in.args(), "--filter", "group=Cardiology"])
    assert_one_line_error(code, err, "no device group 'Cardiology'", "Emergency")


def test_parse_filters_accepts_labels_and_lists() -> None:
    query, group = parse_filters(["platform=iPadOS,android", "compliance=In grace period", "group=ICU"])
    assert query.platforms == {Platform.IPADOS, Platform.ANDROID}
    assert query.compliance == {ComplianceState.IN_GRACE}
    assert group == "ICU"
    with pytest.raises(ValidationError, match="given twice"):
        parse_filters(["search=a", "search=b"])


# -- errors ----------------------------------------------------------------------------------------------------------


def test_unexpected_error_is_exit_1_and_short(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def boom(_url: str) -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr("mdm_desktop.cli.upgrade_store", boom)
    code, _out, err = run(["db", "upgrade", "--db", str(tmp_path / "x.sqlite3")])
    assert code == 1
    assert err.strip() == (
        "mdm-desktop: unexpected error (RuntimeError: disk on fire). Run again with --debug to see the details."
    )
    code, _out, err = run(["db", "upgrade", "--debug", "--db", str(tmp_path / "x.sqlite3")])
    assert code == 1
    assert "Traceback" in err


def test_bare_command_opens_the_console_on_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mdm_desktop.gui.launch")
    seen: dict[str, Any] = {}

    def fake_run_gui(ctx: Any, argv: list[str]) -> int:
        seen["where"] = ctx.location.description
        seen["argv"] = argv
        return 0

    monkeypatch.setattr("mdm_desktop.gui.launch.run_gui", fake_run_gui)
    db = tmp_path / "gui.sqlite3"
    code, _out, err = run(["--db", str(db), "--key-file", str(tmp_path / "k.json")])
    assert code == 0, err
    assert seen == {"where": f"SQLite {db}", "argv": ["mdm-desktop"]}
