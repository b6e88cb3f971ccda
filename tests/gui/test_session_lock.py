"""The session lock: idle and absolute limits, revocation, Lock now, Sign out, and the new session after unlock."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QKeySequence

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import SessionEndedError
from mdm_desktop.gui.main_window import MainWindow
from mdm_desktop.gui.session import LOCKED_BY_USER, lock_reason_text
from mdm_desktop.services.auth import SIGN_IN_FAILED
from mdm_desktop.services.dto import SessionInfo
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, sign_in_admin, step_up_admin, totp_code
from tests.gui.fleet import populate
from tests.gui.security_gui import advance, store_clock

WAIT = 10_000


def open_window(qtbot, ctx: AppContext, session: SessionInfo, settings: QSettings) -> MainWindow:
    window = MainWindow(ctx, session, settings=settings, clock=store_clock(ctx))
    qtbot.addWidget(window, before_close_func=lambda w: close_window(qtbot, w))
    with qtbot.waitSignal(window.device_count_changed, timeout=WAIT):
        window.show()
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    return window


def close_window(qtbot, window: MainWindow) -> None:
    if window.isVisible():
        qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
        window.close()


@pytest.fixture
def window(qtbot, sqlite_ctx: AppContext, settings: QSettings) -> MainWindow:
    populate(sqlite_ctx, 20)
    return open_window(qtbot, sqlite_ctx, sign_in_admin(sqlite_ctx), settings)


def assert_locked(window: MainWindow) -> None:
    assert window.is_locked
    assert window.body.currentWidget() is window.lock_screen
    assert not window.stack.isVisible()
    assert not window.navigation.isVisible()
    assert not window.statusBar().isVisible()
    assert not window.menuBar().isEnabled()
    assert not window.refresh_action.isEnabled()
    assert not window.lock_action.isEnabled()
    assert all(not action.isEnabled() for action in window.pane_actions)


def ended(ctx: AppContext, session: SessionInfo) -> bool:
    try:
        ctx.services.sessions.status(session.principal)
    except SessionEndedError:
        return True
    return False


def test_idle_timeout_locks_and_unlocking_switches_every_pane_to_the_new_session(
    qtbot, sqlite_ctx: AppContext, window: MainWindow
) -> None:
    old = window.session
    window.devices.search.setText("work in progress")
    panes = window.panes
    assert window.monitor.status is not None
    assert window.monitor.status.expires_at > store_clock(sqlite_ctx)()

    advance(sqlite_ctx, minutes=16)
    with qtbot.waitSignal(window.monitor.locked, timeout=WAIT) as locked:
        window.monitor.check()
    assert locked.args == ["idle"]
    assert_locked(window)
    assert window.lock_screen.reason.text() == lock_reason_text("idle")
    assert ADMIN_USER in window.lock_screen.user_line.text()
    assert window.errors.last is None  # answered by the lock screen, not a message box

    window.lock_screen.password.setText("not the password")
    with qtbot.waitSignal(window.lock_screen.failed, timeout=WAIT) as failed:
        window.lock_screen.submit()
    assert SIGN_IN_FAILED in failed.args[0]
    assert window.is_locked

    window.lock_screen.password.setText(ADMIN_PASSWORD)
    window.lock_screen.code.setText(totp_code(sqlite_ctx))
    with qtbot.waitSignal(window.session_holder.changed, timeout=WAIT):
        window.lock_screen.unlock_button.click()
    new = window.session
    assert new.token != old.token
    assert not window.is_locked
    assert window.stack.isVisible()
    assert window.statusBar().isVisible()
    assert window.menuBar().isEnabled()
    assert window.refresh_action.isEnabled()
    # Work in progress stayed; the same panes now call with the new session.
    assert window.panes == panes
    assert window.devices.search.text() == "work in progress"
    assert all(pane.ctx.session is new for pane in window.panes)
    assert ended(sqlite_ctx, old)
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    with qtbot.waitSignal(window.device_count_changed, timeout=WAIT):
        window.refresh()
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    assert window.errors.last is None


def test_a_revoked_session_locks_on_the_next_service_call(qtbot, sqlite_ctx: AppContext, window: MainWindow) -> None:
    sqlite_ctx.services.sessions.sign_out(window.session.principal)  # e.g. ended from another console
    with qtbot.waitSignal(window.monitor.locked, timeout=WAIT) as locked:
        window.refresh()
    assert locked.args == ["signed_out"]
    assert_locked(window)
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    assert window.errors.last is None


def test_absolute_lifetime_locks(qtbot, sqlite_ctx: AppContext, window: MainWindow) -> None:
    for _ in range(34):  # busy all day: never idle for 15 minutes, but past the 8-hour lifetime
        advance(sqlite_ctx, minutes=14)
        sqlite_ctx.services.sessions.touch(window.session.principal)
    advance(sqlite_ctx, minutes=14)
    with qtbot.waitSignal(window.monitor.locked, timeout=WAIT) as locked:
        window.monitor.check()
    assert locked.args == ["expired"]
    assert window.lock_screen.reason.text() == lock_reason_text("expired")


def test_lock_now_ends_the_session(qtbot, sqlite_ctx: AppContext, window: MainWindow) -> None:
    assert window.lock_action.shortcut() == QKeySequence("Ctrl+Shift+L")
    old = window.session
    with qtbot.waitSignal(window.monitor.locked, timeout=WAIT) as locked:
        window.lock_action.trigger()
    assert locked.args == [LOCKED_BY_USER]
    assert_locked(window)
    assert window.lock_screen.reason.text() == "You locked the console."
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    assert ended(sqlite_ctx, old)


def test_sign_out_from_the_menu_and_the_lock_screen(qtbot, sqlite_ctx: AppContext, settings: QSettings) -> None:
    populate(sqlite_ctx, 5)
    first = open_window(qtbot, sqlite_ctx, sign_in_admin(sqlite_ctx), settings)
    session = first.session
    first.sign_out_action.trigger()
    qtbot.waitUntil(lambda: not first.isVisible(), timeout=WAIT)
    assert ended(sqlite_ctx, session)

    second = open_window(qtbot, sqlite_ctx, sign_in_admin(sqlite_ctx), settings)
    second.lock_now()
    second.lock_screen.sign_out_button.click()
    qtbot.waitUntil(lambda: not second.isVisible(), timeout=WAIT)


def test_user_input_touches_the_session_at_most_once_a_minute(
    qtbot, sqlite_ctx: AppContext, window: MainWindow
) -> None:
    advance(sqlite_ctx, minutes=5)
    with qtbot.waitSignal(window.monitor.status_changed, timeout=WAIT) as touched:
        qtbot.keyClick(window.navigation, Qt.Key.Key_Down)
    assert store_clock(sqlite_ctx)() - touched.args[0].last_seen_at < dt.timedelta(seconds=5)
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    advance(sqlite_ctx, seconds=20)
    empty = QPoint(10, window.navigation.viewport().height() - 5)  # below the items: no pane to load
    qtbot.mouseClick(window.navigation.viewport(), Qt.MouseButton.LeftButton, pos=empty)
    assert window.runner.pending == 0  # within the minute: no second touch


def test_break_glass_sessions_show_a_badge(qtbot, sqlite_ctx: AppContext, settings: QSettings) -> None:
    admin = step_up_admin(sqlite_ctx)
    code = sqlite_ctx.services.auth.create_emergency_code(admin.principal).codes[0]
    session = sqlite_ctx.services.auth.sign_in_break_glass(ADMIN_USER, ADMIN_PASSWORD, code)
    populate(sqlite_ctx, 5)
    window = open_window(qtbot, sqlite_ctx, session, settings)
    assert window.break_glass_badge.isVisible()
    assert window.break_glass_badge.text().startswith("Emergency access: ends ")
    normal = open_window(qtbot, sqlite_ctx, sign_in_admin(sqlite_ctx), settings)
    assert not normal.break_glass_badge.isVisible()
