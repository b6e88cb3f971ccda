"""Sign-in security on SQLite and PostgreSQL: first-run MFA enrolment, TOTP replay (also across
concurrent processes), throttling and lockout, one answer for every failure, recovery codes, break-glass."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from mdm_desktop.app import open_app
from mdm_desktop.domain.accounts import Role, SessionEndedError, SessionKind, StepUpRequiredError
from mdm_desktop.domain.errors import AuthenticationError, ConflictError, ValidationError
from mdm_desktop.security import recovery, totp
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services.auth import SIGN_IN_FAILED, AuthService, delay_for
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.services.security_settings import SecuritySettings
from mdm_desktop.store.schema import RecoveryCode, User
from tests.conftest import fast_passwords, make_config
from tests.integration.security_helpers import (
    ADMIN,
    ADMIN_PW,
    START,
    USER_PW,
    FakeClock,
    Stack,
    build_stack,
    open_stack,
    role_user,
    set_up_admin,
)


@pytest.fixture
def stack(store_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from open_stack(store_url, tmp_path)


@pytest.fixture
def admin(stack: Stack) -> SessionInfo:
    return set_up_admin(stack)


def fails_the_same(stack: Stack, username: str, password: str, code: str | None = None) -> None:
    with pytest.raises(AuthenticationError) as err:
        stack.auth.sign_in(username, password, code)
    assert err.value.message == SIGN_IN_FAILED
    assert err.value.hint == "Check the user name, password and authenticator code and try again."


# --- first run and enrolment ---------------------------------------------------------------------------------


def test_first_admin_wizard_enrols_totp_and_returns_recovery_codes_once(stack: Stack) -> None:
    assert stack.auth.needs_first_admin()
    stack.auth.create_first_admin(ADMIN, ADMIN_PW, "Clinic Administrator")
    first = stack.auth.sign_in(ADMIN, ADMIN_PW)  # two-argument call, as the current login dialog makes
    assert first.role is Role.ADMINISTRATOR
    assert not first.mfa_enrolled
    assert first.token
    assert first.kind == "gui"

    shown = stack.auth.begin_totp_enrolment(first.principal)
    assert shown.qr_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert shown.qr_svg.lstrip().startswith("<svg")
    assert shown.uri.startswith("otpauth://totp/MDM%20Desktop:admin?")
    assert len(shown.secret) == 32
    assert shown.secret_grouped.count(" ") == 7
    assert "secret" not in repr(shown).lower().replace("secret_grouped", "")

    with pytest.raises(AuthenticationError):
        stack.auth.confirm_totp_enrolment(first.principal, stack.wrong_code(shown.secret))
    issued = stack.auth.confirm_totp_enrolment(first.principal, stack.code_for(shown.secret))
    stack.secrets[ADMIN] = shown.secret
    assert len(issued.codes) == 10
    assert len(set(issued.codes)) == 10
    assert all(recovery.normalize(c) is not None for c in issued.codes)
    assert issued.codes[0] not in repr(issued)
    # Only keyed hashes are stored.
    with stack.ctx.uow() as uow:
        stored = uow.session.scalars(select(RecoveryCode.code_hash)).all()
        secret_col = uow.session.scalar(select(User.totp_secret_sealed))
    assert len(stored) == 10
    assert all(len(h) == 16 for h in stored)
    assert not any(c.replace("-", "").encode() in h for c in issued.codes for h in stored)
    assert secret_col is not None
    assert shown.secret.encode() not in secret_col

    # Now the password alone is not enough.
    stack.clock.next_step()
    fails_the_same(stack, ADMIN, ADMIN_PW)
    session = stack.sign_in(ADMIN, ADMIN_PW)
    assert session.mfa_enrolled
    assert stack.auth.recovery_codes_left(session.principal) == 10
    actions = [a for a, _, _ in stack.audit_actions()]
    assert "auth.totp_enrolled" in actions
    assert "users.create_first_admin" in actions


def test_confirm_without_begin_and_weak_first_password(stack: Stack) -> None:
    with pytest.raises(ValidationError, match=r"common|guess"):
        stack.auth.create_first_admin(ADMIN, "password1234")
    with pytest.raises(ValidationError, match="user name"):
        stack.auth.create_first_admin("margaret", "margaret-rules-the-ward")
    stack.auth.create_first_admin(ADMIN, ADMIN_PW)
    session = stack.auth.sign_in(ADMIN, ADMIN_PW)
    with pytest.raises(ValidationError, match="Start"):
        stack.auth.confirm_totp_enrolment(session.principal, "123456")
    with pytest.raises(ConflictError):
        stack.auth.create_first_admin("second", ADMIN_PW)


def test_replacing_an_authenticator_needs_step_up_and_ends_other_sessions(stack: Stack, admin: SessionInfo) -> None:
    other = stack.sign_in(ADMIN, ADMIN_PW, workstation="ws-2")
    stack.clock.advance(minutes=10)  # the enrolment step-up has gone stale
    stack.sessions.touch(admin.principal)
    with pytest.raises(StepUpRequiredError):
        stack.auth.begin_totp_enrolment(admin.principal)
    stack.step_up(admin)
    codes = stack.enrol(admin)
    assert len(codes) == 10
    with pytest.raises(SessionEndedError) as ended:
        stack.sessions.validate(other.principal)
    assert ended.value.reason == "mfa_changed"
    stack.sessions.validate(admin.principal)  # the session that made the change stays


# --- replay -----------------------------------------------------------------------------------------------------


def test_same_code_twice_and_older_step_after_newer(stack: Stack, admin: SessionInfo) -> None:
    stack.clock.next_step()
    code = stack.code(ADMIN)
    stack.auth.sign_in(ADMIN, ADMIN_PW, code)
    fails_the_same(stack, ADMIN, ADMIN_PW, code)  # same code, same step
    stack.clock.advance(seconds=30)
    fails_the_same(stack, ADMIN, ADMIN_PW, code)  # now t-1: inside the window, but already used

    # A newer step used first makes the older (still valid) step useless.
    stack.clock.next_step()
    older = stack.code(ADMIN)
    newer = totp.code_at(stack.secrets[ADMIN], stack.clock() + dt.timedelta(seconds=30))
    stack.auth.sign_in(ADMIN, ADMIN_PW, newer)  # t+1 is within tolerance
    fails_the_same(stack, ADMIN, ADMIN_PW, older)
    # A step-up cannot reuse the sign-in code either.
    stack.clock.next_step()  # past the step used by 'newer'
    session = stack.sign_in(ADMIN, ADMIN_PW)
    with pytest.raises(AuthenticationError):
        stack.sessions.step_up(session.principal, stack.code(ADMIN))
    replays = [o for a, _, o in stack.audit_actions("auth.sign_in") if o == "failed"]
    assert len(replays) == 3


def _racer(url: str, tmp: str, secret_code: str, when: float, barrier: Any, results: Any) -> None:
    """Child process: open the store, wait for the others, submit the same code at the same instant."""
    import datetime as _dt
    from pathlib import Path as _Path

    from mdm_desktop.app import open_app as _open
    from tests.conftest import make_config as _config
    from tests.integration.security_helpers import ADMIN as _ADMIN
    from tests.integration.security_helpers import ADMIN_PW as _PW
    from tests.integration.security_helpers import FakeClock as _Clock
    from tests.integration.security_helpers import build_stack as _build

    clock = _Clock(_dt.datetime.fromtimestamp(when, _dt.UTC))
    ctx = _open(_config(url, _Path(tmp)), clock=clock, passwords=fast_passwords())
    try:
        racer = _build(ctx, clock, workstation=f"ws-{multiprocessing.current_process().name}")
        barrier.wait(timeout=60)
        try:
            racer.auth.sign_in(_ADMIN, _PW, secret_code)
            results.put("ok")
        except AuthenticationError:
            results.put("refused")
    except BaseException as exc:  # report, do not hang the parent
        results.put(f"error: {exc!r}")
    finally:
        ctx.close()


@pytest.mark.slow
def test_concurrent_processes_same_code_exactly_one_success(
    store_url: str, tmp_path: Path, stack: Stack, admin: SessionInfo
) -> None:
    stack.clock.next_step()
    code = stack.code(ADMIN)
    spawn = multiprocessing.get_context("spawn")
    n = 4
    barrier = spawn.Barrier(n)
    results = spawn.Queue()
    procs = [
        spawn.Process(
            target=_racer,
            args=(store_url, str(tmp_path), code, stack.clock().timestamp(), barrier, results),
            name=str(i),
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"], outcomes
    with stack.ctx.uow() as uow:
        last = uow.session.scalar(select(User.totp_last_step).where(User.username == ADMIN))
    assert last == totp.time_step(stack.clock())


# --- throttling, lockout, enumeration ---------------------------------------------------------------------------


def test_lockout_after_threshold_with_increasing_delay(stack: Stack, admin: SessionInfo) -> None:
    second = role_user(stack, admin, "b.admin2", Role.ADMINISTRATOR)
    role_user(stack, admin, "s.kim", Role.HELPDESK)
    stack.sleeps.clear()
    for _ in range(10):
        fails_the_same(stack, ADMIN, "wrong password entirely")
        stack.clock.advance(seconds=11)  # wait out the delay, as the sleeping client does
    assert stack.sleeps == [delay_for(n) for n in range(3, 11)]
    assert stack.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert [t for _, t, _ in stack.audit_actions("auth.lockout")] == [ADMIN]

    # Locked: even the right password and code get the same answer.
    stack.clock.next_step()
    fails_the_same(stack, ADMIN, ADMIN_PW, stack.code(ADMIN))
    # Other accounts are unaffected.
    stack.sign_in("s.kim")
    assert stack.users.get_user(second.principal, admin.principal.id or 0).locked_until is not None

    # An administrator unlocks; then the right credentials work at once.
    stack.step_up(second)
    unlocked = stack.users.unlock_user(second.principal, admin.principal.id or 0)
    assert unlocked.locked_until is None
    assert unlocked.failed_attempts == 0
    stack.sign_in(ADMIN, ADMIN_PW)
    assert stack.audit_actions("users.unlock")


def test_lock_period_ends_by_itself_and_threshold_setting(stack: Stack, admin: SessionInfo) -> None:
    stack.step_up(admin)
    stack.users.update_security_settings(admin.principal, SecuritySettings(lockout_threshold=3, lockout_minutes=20))
    for _ in range(3):
        fails_the_same(stack, ADMIN, "not the password at all")
        stack.clock.advance(seconds=11)
    stack.clock.next_step()
    fails_the_same(stack, ADMIN, ADMIN_PW, stack.code(ADMIN))  # locked
    stack.clock.advance(minutes=20)
    again = stack.sign_in(ADMIN, ADMIN_PW)
    stack.step_up(again)
    with pytest.raises(ValidationError, match="from 1 to 100"):
        stack.users.update_security_settings(again.principal, SecuritySettings(lockout_threshold=101))


def test_attempt_before_the_delay_is_refused_without_counting(stack: Stack, admin: SessionInfo) -> None:
    for _ in range(3):
        fails_the_same(stack, ADMIN, "bad guess number one")
    # Three failures: the next attempt must wait 0.5 s. One that does not wait (a parallel attacker)
    # is refused without looking at the password, and is not counted.
    next_code = stack.code_for(stack.secrets[ADMIN], later_steps=1)  # this step is used; t+1 is in the window
    stack.clock.advance(seconds=0.2)
    fails_the_same(stack, ADMIN, ADMIN_PW, next_code)
    with stack.ctx.uow() as uow:
        assert uow.session.scalar(select(User.failed_attempts).where(User.username == ADMIN)) == 3
    assert stack.sleeps[-1] == pytest.approx(0.3)
    stack.clock.advance(seconds=0.4)
    stack.auth.sign_in(ADMIN, ADMIN_PW, next_code)
    assert "throttled" in str(stack.audit_details("auth.sign_in"))


class CountingHasher(PasswordHashing):
    """Counts Argon2 verifications (real or dummy)."""

    def __init__(self) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        self.calls = 0

    def verify(self, stored: str, password: str) -> bool:
        self.calls += 1
        return super().verify(stored, password)


def test_every_failure_kind_gives_the_same_answer_and_one_hash_check(stack: Stack, admin: SessionInfo) -> None:
    gone_id = stack.make_user(admin, "gone.user", Role.HELPDESK)
    stack.step_up(admin)
    stack.users.disable_user(admin.principal, gone_id)
    stack.make_user(admin, "locked.user", Role.HELPDESK)
    with stack.ctx.uow(write=True) as uow:
        user = uow.session.scalar(select(User).where(User.username == "locked.user"))
        assert user is not None
        user.locked_until = stack.clock() + dt.timedelta(days=1)
        uow.commit()

    counting = CountingHasher()  # same parameters as the accounts' hashes: no rehash on success
    auth = AuthService(
        stack.ctx.uow, stack.audit, counting, stack.clock, "ws-1", sessions=stack.sessions, sleeper=stack.sleeps.append
    )
    admin_secret = stack.secrets[ADMIN]
    cases: dict[str, Any] = {
        "unknown user": lambda: ("nobody.here", ADMIN_PW, stack.code(ADMIN)),
        "wrong password": lambda: (ADMIN, "wrong horse battery staple", stack.code(ADMIN)),
        "wrong code": lambda: (ADMIN, ADMIN_PW, stack.wrong_code(admin_secret)),
        "missing code": lambda: (ADMIN, ADMIN_PW, None),
        "bad recovery code": lambda: (ADMIN, ADMIN_PW, "aaaa-bbbb-cccc"),
        # Four failures in a row: a right attempt within the next second is refused unseen.
        "throttled": lambda: (ADMIN, ADMIN_PW, stack.code(ADMIN)),
        "locked": lambda: ("locked.user", USER_PW, stack.code("locked.user")),
        "disabled": lambda: ("gone.user", USER_PW, stack.code("gone.user")),
    }
    answers = set()
    for name, case in cases.items():
        if name != "throttled":
            stack.clock.next_step()  # a fresh step, and past any delay
        user, pw, code = case()
        before = counting.calls
        with pytest.raises(AuthenticationError) as err:
            auth.sign_in(user, pw, code)
        answers.add((type(err.value), err.value.message, err.value.hint, err.value.details))
        assert counting.calls - before == 1, name
    assert len(answers) == 1
    reasons = [d["reason"] for d in stack.audit_details("auth.sign_in", "failed")]
    assert reasons[-len(cases) :] == [
        "unknown_user",
        "bad_password",
        "bad_code",
        "code_missing",
        "bad_code",
        "throttled",
        "locked",
        "disabled",
    ]


def test_unknown_names_are_throttled_like_real_accounts(stack: Stack, admin: SessionInfo) -> None:
    schedules = {}
    for name in (ADMIN, "no.such.user"):
        stack.sleeps.clear()
        for _ in range(6):
            fails_the_same(stack, name, "guess guess guess")
            stack.clock.advance(seconds=11)
        schedules[name] = list(stack.sleeps)
    assert schedules[ADMIN] == schedules["no.such.user"] == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.slow
def test_failure_timing_is_similar_for_every_kind(sqlite_url: str, tmp_path: Path) -> None:
    """Work check with the production Argon2 parameters (the hash dominates, as in production).

    Measured as this thread's CPU time, best of 5: on an idle server that is the wall-clock time an attacker
    sees, and unlike wall-clock time it does not swing with other jobs on a shared test machine.
    """
    clock = FakeClock()
    owasp = PasswordHashing()  # the production parameters (the dummy check for unknown names uses them too)
    ctx = open_app(make_config(sqlite_url, tmp_path), clock=clock, passwords=owasp, workstation="ws-1")
    try:
        s = build_stack(ctx, clock)
        s.passwords = owasp
        s.auth = AuthService(ctx.uow, s.audit, owasp, clock, "ws-1", sessions=s.sessions, sleeper=s.sleeps.append)
        admin = set_up_admin(s)
        assert admin.mfa_enrolled
        timings: dict[str, list[float]] = {}
        kinds = {
            "unknown": ("nobody", ADMIN_PW, "123456"),
            "password": (ADMIN, "wrong horse battery staple", "123456"),
            "code": (ADMIN, ADMIN_PW, "999999"),
        }
        for _ in range(5):
            for kind, (user, pw, code) in kinds.items():
                clock.advance(minutes=5)
                with s.ctx.uow(write=True) as uow:  # keep the account below the throttle and lock limits
                    uow.session.execute(User.__table__.update().values(failed_attempts=0, last_failed_at=None))
                    uow.commit()
                t0 = time.thread_time()
                with pytest.raises(AuthenticationError):
                    s.auth.sign_in(user, pw, code)
                timings.setdefault(kind, []).append(time.thread_time() - t0)
        best = {k: min(v) for k, v in timings.items()}
        assert max(best.values()) < 2.0 * min(best.values()), best
    finally:
        ctx.close()


# --- recovery codes --------------------------------------------------------------------------------------------


def test_recovery_codes_work_once_each(stack: Stack) -> None:
    stack.auth.create_first_admin(ADMIN, ADMIN_PW)
    first = stack.auth.sign_in(ADMIN, ADMIN_PW)
    codes = stack.enrol(first)
    a, b = codes[0], codes[1]
    # A wrong password never uses up a recovery code.
    fails_the_same(stack, ADMIN, "wrong horse battery staple", a)
    session = stack.auth.sign_in(ADMIN, ADMIN_PW, a)
    assert session.mfa_enrolled
    stack.clock.advance(seconds=1)
    fails_the_same(stack, ADMIN, ADMIN_PW, a)
    # Forgiving input: upper case, spaces instead of dashes, look-alike letters.
    typed = b.upper().replace("-", " ").replace("1", "I").replace("0", "O")
    stack.auth.sign_in(ADMIN, ADMIN_PW, typed)
    fails_the_same(stack, ADMIN, ADMIN_PW, b)
    assert stack.auth.recovery_codes_left(session.principal) == 8
    entries = stack.audit_actions("auth.sign_in", "success")
    assert len(entries) >= 2
    # New codes replace the old ones (step-up first).
    stack.step_up(session)
    fresh = stack.auth.regenerate_recovery_codes(session.principal)
    stack.clock.advance(seconds=1)
    fails_the_same(stack, ADMIN, ADMIN_PW, codes[2])
    stack.auth.sign_in(ADMIN, ADMIN_PW, fresh.codes[0])


# --- break-glass -----------------------------------------------------------------------------------------------


def test_break_glass_once_time_boxed_audited_and_reviewed(stack: Stack, admin: SessionInfo) -> None:
    officer = role_user(stack, admin, "r.haddad", Role.SECURITY_OFFICER)
    tech = role_user(stack, admin, "m.okafor", Role.IT_TECHNICIAN)
    stack.step_up(admin)
    issued = stack.auth.create_emergency_code(admin.principal)
    (code,) = issued.codes
    assert len(code) == 24
    assert code.count("-") == 4
    status = stack.auth.emergency_status(admin.principal)
    assert status.active
    assert status.created_by == ADMIN
    assert status.unreviewed_uses == 0

    # The admin lost the phone: password + emergency code, no TOTP.
    stack.clock.next_step()
    with pytest.raises(AuthenticationError):
        stack.auth.sign_in_break_glass("m.okafor", USER_PW, code)  # not an administrator; code not used up
    with pytest.raises(AuthenticationError):
        stack.auth.sign_in_break_glass(ADMIN, "wrong horse battery staple", code)
    glass = stack.auth.sign_in_break_glass(ADMIN, ADMIN_PW, code)
    assert glass.break_glass
    assert glass.kind == SessionKind.BREAK_GLASS.value
    assert glass.expires_at == stack.clock() + dt.timedelta(hours=1)
    with pytest.raises(AuthenticationError):
        stack.auth.sign_in_break_glass(ADMIN, ADMIN_PW, code)  # once only
    assert [o for _, _, o in stack.audit_actions("auth.break_glass")][-2:] == ["success", "failed"]

    # The break-glass session may reset its own MFA at once (the emergency code counts as step-up).
    stack.users.reset_mfa(glass.principal, admin.principal.id or 0)
    with pytest.raises(SessionEndedError):
        stack.sessions.validate(glass.principal)  # MFA reset ends the user's sessions, this one too

    uses = stack.auth.list_break_glass(officer.principal)
    assert len(uses) == 1
    assert not uses[0].reviewed
    assert uses[0].used_by == ADMIN
    assert stack.auth.emergency_status(officer.principal).unreviewed_uses == 1
    with pytest.raises(ValidationError):
        stack.auth.review_break_glass(officer.principal, uses[0].id, "   ")
    reviewed = stack.auth.review_break_glass(officer.principal, uses[0].id, "Phone lost on ward 3; MFA re-enrolled.")
    assert reviewed.reviewed
    assert reviewed.reviewed_by == "r.haddad"
    assert stack.auth.list_break_glass(officer.principal) == ()
    assert tech.username == "m.okafor"


def test_break_glass_session_ends_after_its_hour(stack: Stack, admin: SessionInfo) -> None:
    stack.step_up(admin)
    (code,) = stack.auth.create_emergency_code(admin.principal).codes
    stack.step_up(admin)
    (newer,) = stack.auth.create_emergency_code(admin.principal).codes  # voids the first
    with pytest.raises(AuthenticationError):
        stack.auth.sign_in_break_glass(ADMIN, ADMIN_PW, code)
    stack.clock.advance(seconds=1)
    glass = stack.auth.sign_in_break_glass(ADMIN, ADMIN_PW, newer.upper())
    for _ in range(5):
        stack.clock.advance(minutes=10)
        stack.sessions.touch(glass.principal)
    stack.clock.advance(minutes=10)
    with pytest.raises(SessionEndedError) as ended:
        stack.sessions.validate(glass.principal)
    assert ended.value.reason == "expired"


def test_admin_cannot_review_own_break_glass(stack: Stack, admin: SessionInfo) -> None:
    stack.step_up(admin)
    (code,) = stack.auth.create_emergency_code(admin.principal).codes
    glass = stack.auth.sign_in_break_glass(ADMIN, ADMIN_PW, code)
    (use,) = stack.auth.list_break_glass(glass.principal)
    with pytest.raises(ConflictError, match="own"):
        stack.auth.review_break_glass(glass.principal, use.id, "Reviewing myself")
    assert stack.audit_actions("auth.break_glass_review", "denied")


# --- password changes ---------------------------------------------------------------------------------------


def test_own_password_change_ends_other_sessions_and_applies_policy(stack: Stack, admin: SessionInfo) -> None:
    other = stack.sign_in(ADMIN, ADMIN_PW, workstation="ws-2")
    with pytest.raises(AuthenticationError):
        stack.auth.change_password(admin.principal, "not my password", "new purple staple ferry")
    with pytest.raises(ValidationError):
        stack.auth.change_password(admin.principal, ADMIN_PW, "password1234")
    stack.auth.change_password(admin.principal, ADMIN_PW, "new purple staple ferry")
    with pytest.raises(SessionEndedError):
        stack.sessions.validate(other.principal)
    stack.sessions.validate(admin.principal)
    stack.clock.next_step()
    fails_the_same(stack, ADMIN, ADMIN_PW, stack.code(ADMIN))
    stack.sign_in(ADMIN, "new purple staple ferry")


def test_start_time_constant_is_utc() -> None:
    assert START.tzinfo is dt.UTC
    assert fast_passwords().verify(fast_passwords().hash("x" * 100), "x" * 100)
