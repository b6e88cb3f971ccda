"""No dialog above the lock screen; closing the window signs out; every pane fits a 1400 x 900 screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import SessionEndedError
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.gui.main_window import MainWindow
from mdm_desktop.services.dto import AuditQuery, SessionInfo
from tests.conftest import ADMIN_PASSWORD, sign_in_admin, totp_code
from tests.gui.fleet import populate
from tests.gui.security_gui import store_clock

WAIT = 10_000
SCREEN = (1400, 900)


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


def visible_boxes(window: MainWindow) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox) if box.isVisible()]


def lock(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.monitor.locked, timeout=WAIT):
        window.lock_now()
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)


def unlock(qtbot, ctx: AppContext, window: MainWindow) -> None:
    window.lock_screen.password.setText(ADMIN_PASSWORD)
    window.lock_screen.code.setText(totp_code(ctx))
    with qtbot.waitSignal(window.session_holder.changed, timeout=WAIT):
        window.lock_screen.unlock_button.click()


def ended(ctx: AppContext, session: SessionInfo) -> bool:
    try:
        ctx.services.sessions.status(session.principal)
    except SessionEndedError:
        return True
    return False


def test_a_message_box_open_before_the_lock_hides_until_unlocked(
    qtbot, sqlite_ctx: AppContext, window: MainWindow
) -> None:
    window.errors.report(ValidationError("Device ADM-AND-00042 has no serial number."))
    (box,) = visible_boxes(window)
    lock(qtbot, window)
    assert window.is_locked
    assert not box.isVisible()  # nothing of the data shows above the lock screen
    assert window.curtain.hidden == (box,)
    assert QApplication.activeModalWidget() is None  # no hidden modal box keeps the password field from input
    unlock(qtbot, sqlite_ctx, window)
    assert not window.is_locked
    assert visible_boxes(window) == [box]  # back where the user left it
    assert window.curtain.hidden == ()


def test_a_message_box_opened_while_locked_waits_for_the_unlock(
    qtbot, sqlite_ctx: AppContext, window: MainWindow
) -> None:
    lock(qtbot, window)
    window.errors.report(ValidationError("A task that ended after the lock."))  # e.g. a late task's error
    qtbot.waitUntil(lambda: not visible_boxes(window), timeout=WAIT)
    assert len(window.curtain.hidden) == 1
    unlock(qtbot, sqlite_ctx, window)
    assert len(visible_boxes(window)) == 1


def test_a_dialog_answered_while_hidden_does_not_come_back(qtbot, sqlite_ctx: AppContext, window: MainWindow) -> None:
    box = QMessageBox(window.devices)
    box.setText("Send the lock command?")
    box.open()
    lock(qtbot, window)
    assert not box.isVisible()
    box.reject()  # answered by code (a timeout, the step-up handler...)
    unlock(qtbot, sqlite_ctx, window)
    assert not box.isVisible()


def test_the_lock_screens_own_dialogs_stay(qtbot, window: MainWindow) -> None:
    lock(qtbot, window)
    own = QMessageBox(window.lock_screen)
    own.setText("Emergency sign-in")
    own.open()
    qtbot.wait(50)
    assert own.isVisible()
    own.close()


def test_closing_the_window_signs_out(qtbot, sqlite_ctx: AppContext, window: MainWindow) -> None:
    session = window.session
    assert not ended(sqlite_ctx, session)
    window.close()
    assert ended(sqlite_ctx, session)  # the window waited for the sign-out
    admin = sign_in_admin(sqlite_ctx)
    entries = sqlite_ctx.services.audit.list_page(admin.principal, AuditQuery(action="auth.sign_out"))
    assert [e.actor for e in entries.rows] == [session.username]


def test_signing_out_then_closing_signs_out_once(qtbot, sqlite_ctx: AppContext, window: MainWindow) -> None:
    window.sign_out_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT)
    admin = sign_in_admin(sqlite_ctx)
    entries = sqlite_ctx.services.audit.list_page(admin.principal, AuditQuery(action="auth.sign_out"))
    assert len(entries.rows) == 1


def test_every_pane_fits_a_1400_by_900_screen(qtbot, window: MainWindow) -> None:
    for index in range(len(window.panes)):
        window.show_pane(index)
        qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    too_wide = {
        type(pane).__name__: pane.minimumSizeHint().width()
        for pane in window.panes
        if pane.minimumSizeHint().width() + window.navigation.width() > SCREEN[0]
    }
    assert window.minimumSizeHint().height() <= SCREEN[1]
    assert not too_wide, too_wide
