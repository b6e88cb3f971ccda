"""Command-line sessions, ``init`` and ``user ...``: sign-in like the console, owner-only token file, step-up.

The commands run in-process through ``main``. The store is opened with an injected clock (real
time plus whatever a test adds), so a test can take a fresh TOTP time step for each code and
let a session go idle without waiting.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import sqlite3
import stat
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mdm_desktop import cli_session
from mdm_desktop.app import AppContext, open_app
from mdm_desktop.cli import main
from mdm_desktop.cli_session import SessionFile, session_path
from mdm_desktop.config import Config
from mdm_desktop.security import totp
from tests.conftest import fast_passwords

ADMIN = "alice"
ADMIN_PW = "violet harbor lantern 93"
TECH = "tom.tech"
TECH_PW = "amber falcon drifts softly 27"
FAST = fast_passwords()


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
        assert fragment in lines[0], lines[0]


class ShiftedClock:
    """Real time plus an offset that tests move forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)

    def next_step(self) -> dt.datetime:
        """Move into the next 30-second TOTP step (each step's code works once per account)."""
        self.advance(seconds=totp.STEP_SECONDS)
        return self()


@dataclass
class Store:
    db: str
    key_file: str
    clock: ShiftedClock
    secret: str = ""

    def args(self) -> list[str]:
        return ["--db", self.db, "--key-file", self.key_file]

    def fresh_code(self, secret: str | None = None) -> str:
        """A code from the next time step."""
        return totp.code_at(secret or self.secret, self.clock.next_step())

    def session_file(self) -> SessionFile:
        return SessionFile(session_path(Config.resolve(db=self.db, key_file=self.key_file)))

    def users(self) -> dict[str, dict[str, Any]]:
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT username, disabled, totp_secret_sealed IS NOT NULL FROM users").fetchall()
        return {name: {"disabled": bool(d), "mfa": bool(m)} for name, d, m in rows}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "MDM_DATABASE_URL",
        "MDM_KEY_FILE",
        "MDM_USER",
        "MDM_PASSWORD",
        "MDM_TOTP",
        "MDM_NEW_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MDM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: never prompt


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ShiftedClock:
    """Every command opens its store with this clock and cheap Argon2 parameters."""
    shifted = ShiftedClock()

    def opened(config: Config, **_kw: Any) -> AppContext:
        return open_app(config, clock=shifted, passwords=FAST)

    monkeypatch.setattr(cli_session, "open_app", opened)
    return shifted


def _init(store: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``init`` in two scripted steps; returns the second step's JSON. Leaves the admin signed in."""
    monkeypatch.setenv("MDM_PASSWORD", ADMIN_PW)
    code, out, err = run(["init", *store.args(), "--user", ADMIN, "--json"])
    assert code == 0, err
    first = json.loads(out)
    assert first["user"] == ADMIN
    assert first["uri"].startswith("otpauth://totp/MDM%20Desktop:alice?secret=")
    store.secret = first["secret"]
    monkeypatch.delenv("MDM_PASSWORD")
    code, out, err = run(["init", *store.args(), "--confirm", store.fresh_code(), "--json"])
    assert code == 0, err
    second: dict[str, Any] = json.loads(out)
    return second


@pytest.fixture
def store(tmp_path: Path, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch) -> Store:
    """An SQLite store whose first administrator is set up and signed in on the command line."""
    made = Store(str(tmp_path / "store.sqlite3"), str(tmp_path / "kek.json"), clock)
    _init(made, monkeypatch)
    return made


def login(store: Store, monkeypatch: pytest.MonkeyPatch, user: str = ADMIN, password: str = ADMIN_PW) -> None:
    monkeypatch.setenv("MDM_PASSWORD", password)
    monkeypatch.setenv("MDM_TOTP", store.fresh_code())
    try:
        code, out, err = run(["login", *store.args(), "--user", user])
    finally:
        monkeypatch.delenv("MDM_PASSWORD")
        monkeypatch.delenv("MDM_TOTP")
    assert code == 0, err
    assert out.startswith(f"Signed in as {user} (")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[str], str]], None]:
    """Pretend to be a terminal; ``answer(prompt)`` gives what the person types (it sees stdout so far)."""

    def install(answer: Callable[[str], str]) -> None:
        monkeypatch.setattr(cli_session, "is_interactive", lambda: True)
        monkeypatch.setattr(cli_session, "ask", answer)
        monkeypatch.setattr(cli_session, "ask_secret", answer)

    return install


def shown_secret() -> str:
    """The secret the command printed so far (``Secret:`` line of the enrolment)."""
    printed = sys.stdout.getvalue()  # type: ignore[attr-defined]  # the StringIO of ``run``
    found = re.findall(r"Secret:\s+([A-Z2-7 ]+)", printed)
    assert found, printed
    return "".join(found[-1].split())


# -- init ----------------------------------------------------------------------------------------------------


def test_init_in_two_scripted_steps_makes_a_signed_in_administrator(
    tmp_path: Path, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = Store(str(tmp_path / "store.sqlite3"), str(tmp_path / "kek.json"), clock)
    issued = _init(made, monkeypatch)
    assert len(issued["recovery_codes"]) == 10
    assert len(set(issued["recovery_codes"])) == 10
    assert re.fullmatch(r"[0-9a-z]{4}(-[0-9a-z]{4}){4}", issued["emergency_code"])
    assert made.users() == {ADMIN: {"disabled": False, "mfa": True}}
    code, out, err = run(["whoami", *made.args()])
    assert code == 0, err
    assert "User:       alice" in out
    assert "Role:       Administrator" in out
    assert "Authenticator" not in out


def test_init_at_a_terminal_shows_the_secret_and_prints_the_codes_once(
    tmp_path: Path, clock: ShiftedClock, terminal: Callable[[Callable[[str], str]], None]
) -> None:
    made = Store(str(tmp_path / "store.sqlite3"), str(tmp_path / "kek.json"), clock)
    asked: list[str] = []

    def person(prompt: str) -> str:
        asked.append(prompt)
        if "User name" in prompt:
            return ADMIN
        if "password" in prompt.casefold() or "again" in prompt:
            return ADMIN_PW
        return totp.code_at(shown_secret(), clock())

    terminal(person)
    code, out, err = run(["init", *made.args()])
    assert code == 0, err
    assert [p.split(":")[0] for p in asked] == [
        "User name",
        "New password for alice",
        "Type it again",
        "Enter the six-digit code the app shows now",
    ]
    assert "otpauth://totp/MDM%20Desktop:alice?secret=" in out
    assert re.search(r"Secret:\s+([A-Z2-7]{4} ){7}[A-Z2-7]{4}\n", out)
    assert len(re.findall(r"(?<![\w-])[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}(?![\w-])", out)) == 10
    assert "Emergency (break-glass) code" in out
    assert "not shown again" in out
    assert made.users() == {ADMIN: {"disabled": False, "mfa": True}}
    assert run(["whoami", *made.args()])[0] == 0


def test_init_is_refused_on_a_store_with_accounts_and_changes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDM_PASSWORD", "another long password 42")
    before = Path(store.db).read_bytes()
    code, out, err = run(["init", *store.args(), "--user", "mallory"])
    assert_one_line_error(code, err, "already has accounts", "mdm-desktop login --user NAME")
    assert out == ""
    assert store.users() == {ADMIN: {"disabled": False, "mfa": True}}
    assert Path(store.db).read_bytes() == before


def test_init_with_a_bad_code_confirms_nothing_and_other_commands_wait(
    tmp_path: Path, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = Store(str(tmp_path / "store.sqlite3"), str(tmp_path / "kek.json"), clock)
    monkeypatch.setenv("MDM_PASSWORD", ADMIN_PW)
    code, out, err = run(["init", *made.args(), "--user", ADMIN])
    assert code == 0, err
    assert "Finish with a code from the app: mdm-desktop init --confirm CODE --db" in out
    secret = shown_secret_in(out)
    valid = {totp.code_at(secret, clock() + dt.timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    code, out, err = run(["init", *made.args(), "--confirm", wrong])
    assert_one_line_error(code, err, "That code does not match")
    assert made.users() == {ADMIN: {"disabled": False, "mfa": False}}
    code, _out, err = run(["devices", "list", *made.args()])
    assert_one_line_error(code, err, "authenticator app is not set up yet", "init --confirm CODE")
    code, _out, err = run(["init", *made.args(), "--confirm", "not a code"])
    assert_one_line_error(code, err, "That code does not match")
    code, out, err = run(["init", *made.args(), "--confirm", totp.code_at(secret, clock.next_step())])
    assert code == 0, err
    assert made.users() == {ADMIN: {"disabled": False, "mfa": True}}
    code, _out, err = run(["init", *made.args(), "--confirm", totp.code_at(secret, clock.next_step())])
    assert_one_line_error(code, err, "already has an authenticator app set up")


def shown_secret_in(text: str) -> str:
    found = re.findall(r"Secret:\s+([A-Z2-7 ]+)", text)
    assert found, text
    return "".join(found[-1].split())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MDM_PASSWORD": "short"}, "at least 12 characters"),
        ({"MDM_PASSWORD": ADMIN_PW, "MDM_USER": "bad name!"}, "Use only letters, digits"),
        ({}, "MDM_PASSWORD"),
    ],
)
def test_init_with_bad_input_writes_no_account(
    tmp_path: Path, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    made = Store(str(tmp_path / "store.sqlite3"), str(tmp_path / "kek.json"), clock)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = ["init", *made.args()] + ([] if "MDM_USER" in env else ["--user", ADMIN])
    code, out, err = run(argv)
    assert_one_line_error(code, err, message)
    assert out == ""
    assert made.users() == {}
    assert not made.session_file().path.exists()


# -- login, whoami, logout ------------------------------------------------------------------------------------


def test_session_file_is_owner_only_and_holds_only_the_token(store: Store) -> None:
    path = store.session_file().path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = path.read_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    with sqlite3.connect(store.db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM console_sessions")]
        kinds = {r[0] for r in conn.execute("SELECT kind FROM console_sessions")}
    assert token not in ids, "the store keeps only the token's hash"
    assert kinds == {"cli"}


def test_session_files_of_two_stores_do_not_mix(store: Store, tmp_path: Path) -> None:
    other = Config.resolve(db=str(tmp_path / "other.sqlite3"), key_file=store.key_file)
    assert session_path(other) != store.session_file().path
    assert session_path(other).parent == store.session_file().path.parent
    code, _out, err = run(["whoami", "--db", str(tmp_path / "other.sqlite3"), "--key-file", store.key_file])
    assert_one_line_error(code, err, "You are not signed in")


def test_login_whoami_logout_with_environment_variables(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["logout", *store.args()])
    assert (code, out) == (0, "Signed out.\n"), err
    assert not store.session_file().path.exists()
    code, _out, err = run(["whoami", *store.args()])
    assert_one_line_error(code, err, f"You are not signed in; run mdm-desktop login --db {store.db}")
    login(store, monkeypatch)
    code, out, err = run(["whoami", *store.args(), "--json"])
    assert code == 0, err
    me = json.loads(out)
    assert (me["user"], me["role"], me["kind"], me["authenticator"]) == (ADMIN, "administrator", "cli", True)
    idle = dt.datetime.fromisoformat(me["idle_expires_at"])
    absolute = dt.datetime.fromisoformat(me["absolute_expires_at"])
    signed = dt.datetime.fromisoformat(me["signed_in_at"])
    assert idle - signed == dt.timedelta(minutes=15)
    assert absolute - signed == dt.timedelta(hours=8)
    assert dt.datetime.fromisoformat(me["expires_at"]) == idle
    code, out, err = run(["whoami", *store.args()])
    assert code == 0, err
    assert re.search(r"Expires: +\d{4}-\d\d-\d\d \d\d:\d\d UTC \(after 15 minutes without a command;", out)
    assert run(["logout", *store.args()])[:2] == (0, "Signed out.\n")
    assert run(["logout", *store.args()])[:2] == (0, "You were not signed in.\n")


def test_logout_ends_the_session_in_the_store(store: Store) -> None:
    token = store.session_file().read()
    assert token
    assert run(["logout", *store.args()])[0] == 0
    store.session_file().write(token)  # a copy kept somewhere is worthless now
    code, _out, err = run(["whoami", *store.args()])
    assert_one_line_error(code, err, "Your session has ended (signed out); run mdm-desktop login")
    assert not store.session_file().path.exists()


def test_login_replaces_and_ends_the_previous_session(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first = store.session_file().read()
    login(store, monkeypatch)
    second = store.session_file().read()
    assert second
    assert first
    assert second != first
    store.session_file().write(first)
    code, _out, err = run(["whoami", *store.args()])
    assert_one_line_error(code, err, "Your session has ended (signed out)")


def test_idle_session_ends_with_one_line_and_its_file_goes(store: Store, clock: ShiftedClock) -> None:
    clock.advance(minutes=14)
    assert run(["whoami", *store.args()])[0] == 0  # each command counts as activity
    clock.advance(minutes=14)
    assert run(["whoami", *store.args()])[0] == 0
    clock.advance(minutes=15, seconds=1)
    code, out, err = run(["devices", "list", *store.args()])
    assert_one_line_error(code, err)
    assert err.strip() == (
        f"mdm-desktop: error: Your session has ended (idle); run mdm-desktop login --db {store.db} "
        f"--key-file {store.key_file}."
    )
    assert out == ""
    assert not store.session_file().path.exists()


def test_session_reaches_its_absolute_limit(store: Store, clock: ShiftedClock) -> None:
    for _ in range(34):  # 34 x 14 min = 7 h 56 min of steady work
        clock.advance(minutes=14)
        assert run(["whoami", *store.args()])[0] == 0
    clock.advance(minutes=5)
    code, _out, err = run(["whoami", *store.args()])
    assert_one_line_error(code, err, "Your session has ended (time limit reached); run mdm-desktop login")


def test_group_readable_session_file_is_refused_and_deleted(store: Store) -> None:
    path = store.session_file().path
    path.chmod(0o644)
    code, _out, err = run(["whoami", *store.args()])
    assert_one_line_error(code, err, "could be read by other users", "mdm-desktop login")
    assert not path.exists()


def test_garbage_session_file_is_a_clear_error(store: Store) -> None:
    path = store.session_file().path
    path.write_text("not a token at all; <script>\n")
    code, _out, err = run(["whoami", *store.args()])
    assert_one_line_error(code, err, "is not a session file")
    assert not path.exists()


def test_bad_sign_ins_are_one_line_and_write_no_session(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(["logout", *store.args()])[0] == 0
    monkeypatch.setenv("MDM_PASSWORD", ADMIN_PW)
    code, out, err = run(["login", *store.args(), "--user", ADMIN])  # no code, no terminal
    assert_one_line_error(code, err, "user name or password is not right", "MDM_TOTP")
    assert out == ""
    monkeypatch.setenv("MDM_TOTP", "000000" if store.fresh_code() != "000000" else "111111")
    code, out, err = run(["login", *store.args(), "--user", "nobody"])
    assert_one_line_error(code, err, "user name or password is not right")
    assert not store.session_file().path.exists()
    login(store, monkeypatch)  # the account still works (two failures, no lockout)


def test_login_at_a_terminal_asks_for_password_and_code(
    store: Store, terminal: Callable[[Callable[[str], str]], None]
) -> None:
    code_now = store.fresh_code()

    def person(prompt: str) -> str:
        return ADMIN if "User name" in prompt else ADMIN_PW if "Password" in prompt else code_now

    terminal(person)
    code, out, err = run(["login", *store.args()])
    assert code == 0, err
    assert out.startswith("Signed in as alice (Administrator)")


# -- user administration, permissions, step-up -----------------------------------------------------------------


@pytest.fixture
def with_tech(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The store with an IT technician account (created with a step-up code from MDM_TOTP)."""
    monkeypatch.setenv("MDM_NEW_PASSWORD", TECH_PW)
    clock_skip_step_up_window(store)
    monkeypatch.setenv("MDM_TOTP", store.fresh_code())
    code, out, err = run(["user", "add", TECH, *store.args(), "--role", "IT technician", "--display-name", "Tom"])
    monkeypatch.delenv("MDM_TOTP")
    monkeypatch.delenv("MDM_NEW_PASSWORD")
    assert code == 0, err
    assert out.startswith("Created tom.tech (IT technician, every device group).")
    return store


def clock_skip_step_up_window(store: Store) -> None:
    """Let the step-up made by ``init`` go stale (the window is a few minutes), staying within the idle limit."""
    store.clock.advance(minutes=10)


def test_user_commands_need_a_fresh_code_and_change_nothing_without_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_skip_step_up_window(store)
    monkeypatch.setenv("MDM_NEW_PASSWORD", TECH_PW)
    code, out, err = run(["user", "add", TECH, *store.args(), "--role", "helpdesk"])
    assert_one_line_error(code, err, "needs a fresh code", "--code CODE", "MDM_TOTP")
    assert out == ""
    assert TECH not in store.users()
    valid = {totp.code_at(store.secret, store.clock() + dt.timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    code, out, err = run(["user", "add", TECH, *store.args(), "--role", "helpdesk", "--code", wrong])
    assert_one_line_error(code, err, "The code is not right or was already used")
    assert TECH not in store.users()
    code, out, err = run(["user", "add", TECH, *store.args(), "--role", "helpdesk", "--code", store.fresh_code()])
    assert code == 0, err
    assert store.users()[TECH] == {"disabled": False, "mfa": False}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["user", "add", "newbie", "--role", "janitor"], "There is no role 'janitor'. Use one of: administrator"),
        (["user", "add", "newbie", "--role", "helpdesk", "--group", "Cardiology"], "no device group 'Cardiology'"),
        (["user", "add", "bad name!", "--role", "helpdesk"], "Use only letters, digits"),
        (["user", "add", ADMIN, "--role", "helpdesk"], "The user name 'alice' is taken"),
        (["user", "disable", "nobody"], "There is no user 'nobody'. See mdm-desktop user list."),
        (["user", "unlock", "nobody"], "There is no user 'nobody'"),
        (["user", "reset-mfa", "nobody"], "There is no user 'nobody'"),
        (["user", "disable", ADMIN], "You cannot disable your own account"),
    ],
)
def test_bad_user_input_is_one_line_and_writes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.setenv("MDM_NEW_PASSWORD", TECH_PW)
    before = store.users()
    code, out, err = run([*argv, *store.args()])
    assert_one_line_error(code, err, message)
    assert out == ""
    assert store.users() == before


def test_user_list_add_disable_enable_unlock_reset(with_tech: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store = with_tech
    code, out, err = run(["user", "list", *store.args(), "--json"])
    assert code == 0, err
    listed = {u["username"]: u for u in json.loads(out)}
    assert listed[TECH]["role"] == "it_technician"
    assert listed[TECH]["display_name"] == "Tom"
    assert listed[ADMIN]["authenticator"] is True
    code, out, err = run(["user", "list", *store.args()])
    assert code == 0, err
    assert out.splitlines()[0].split() == ["User", "Name", "Role", "Status", "Authenticator", "Last", "sign-in"]
    assert out.rstrip().endswith("2 accounts.")
    # Within the step-up window of the code given for `user add`, no new code is needed.
    code, out, err = run(["user", "disable", TECH, *store.args(), "--reason", "on leave"])
    assert (code, out) == (0, "Disabled tom.tech; their sessions have ended.\n"), err
    assert store.users()[TECH]["disabled"] is True
    assert run(["user", "enable", TECH, *store.args()])[:2] == (0, "Enabled tom.tech.\n")
    assert run(["user", "unlock", TECH, *store.args()])[:2] == (0, "Unlocked tom.tech; they can sign in again.\n")
    monkeypatch.setenv("MDM_NEW_PASSWORD", "a different long password 77")
    code, out, err = run(["user", "reset-password", TECH, *store.args()])
    assert code == 0, err
    assert "Set a new password for tom.tech" in out
    code, out, err = run(["user", "reset-mfa", TECH, *store.args()])
    assert code == 0, err
    assert store.users()[TECH]["mfa"] is False


def test_step_up_code_is_asked_for_at_a_terminal(
    with_tech: Store, terminal: Callable[[Callable[[str], str]], None]
) -> None:
    store = with_tech
    clock_skip_step_up_window(store)
    asked: list[str] = []

    def person(prompt: str) -> str:
        asked.append(prompt)
        return store.fresh_code()

    terminal(person)
    code, _out, err = run(["user", "disable", TECH, *store.args()])
    assert code == 0, err
    assert asked == ["This needs a fresh code from your authenticator app. Code: "]
    assert store.users()[TECH]["disabled"] is True


def test_new_account_sets_up_its_authenticator_at_the_first_login_and_obeys_its_role(
    with_tech: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    terminal: Callable[[Callable[[str], str]], None],
) -> None:
    store = with_tech
    admin_data = os.environ["MDM_DATA_DIR"]
    monkeypatch.setenv("MDM_DATA_DIR", str(tmp_path / "tech-workstation"))
    monkeypatch.setenv("MDM_PASSWORD", TECH_PW)
    code, _out, err = run(["login", *store.args(), "--user", TECH])
    assert_one_line_error(code, err, "has no authenticator app set up yet", "in a terminal")
    assert not store.session_file().path.exists()

    def person(prompt: str) -> str:
        if "Code from your authenticator" in prompt:
            return ""
        return totp.code_at(shown_secret(), store.clock())

    terminal(person)
    code, out, err = run(["login", *store.args(), "--user", TECH])
    assert code == 0, err
    assert "tom.tech has no authenticator app yet" in out
    assert "Recovery codes" in out
    assert "Signed in as tom.tech (IT technician)" in out
    assert store.users()[TECH]["mfa"] is True
    code, out, err = run(["devices", "list", *store.args(), "--json"])
    assert (code, out) == (0, "[]\n"), err
    code, out, err = run(["user", "list", *store.args()])
    assert_one_line_error(code, err)
    assert out == ""
    # The administrator, on another workstation, disables the account: the session ends at once.
    monkeypatch.setenv("MDM_DATA_DIR", admin_data)
    code, _out, err = run(["user", "disable", TECH, *store.args(), "--code", store.fresh_code()])
    assert code == 0, err
    monkeypatch.setenv("MDM_DATA_DIR", str(tmp_path / "tech-workstation"))
    code, _out, err = run(["devices", "list", *store.args()])
    assert_one_line_error(code, err, "Your session has ended (account disabled); run mdm-desktop login")


# -- demo --------------------------------------------------------------------------------------------------------


def test_demo_prints_a_totp_secret_that_signs_in(
    tmp_path: Path, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = Store(str(tmp_path / "demo.sqlite3"), str(tmp_path / "kek.json"), clock)
    code, out, err = run(["demo", *made.args(), "--devices", "20", "--seed", "4"])
    assert code == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines() if line.startswith("Administrator "))
    made.secret = fields["Administrator TOTP secret"].strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", made.secret)
    assert f"Authenticator URI: otpauth://totp/MDM%20Desktop:admin?secret={made.secret}" in out
    assert f"mdm-desktop login --user admin --db {made.db}" in out
    assert not made.session_file().path.exists(), "demo needs no session and keeps none"
    login(made, monkeypatch, user="admin", password=fields["Administrator password"].strip())
    code, out, err = run(["devices", "list", *made.args(), "--json"])
    assert code == 0, err
    assert len(json.loads(out)) == 20


# -- PostgreSQL too ------------------------------------------------------------------------------------------------


@pytest.fixture
def any_store(store_url: str, tmp_path: Path, clock: ShiftedClock) -> Store:
    return Store(store_url, str(tmp_path / "kek.json"), clock)


def test_init_login_whoami_logout_on_each_store_kind(any_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _init(any_store, monkeypatch)
    assert run(["logout", *any_store.args()])[0] == 0
    login(any_store, monkeypatch)
    code, out, err = run(["whoami", *any_store.args(), "--json"])
    assert code == 0, err
    assert json.loads(out)["user"] == ADMIN
    assert run(["logout", *any_store.args()])[:2] == (0, "Signed out.\n")
