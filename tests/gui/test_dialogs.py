"""Sign-in dialog basics (failure, success, cancel) and which dialog the console starts with."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from mdm_desktop.app import AppContext
from mdm_desktop.gui.dialogs.login_dialog import LoginDialog
from mdm_desktop.gui.dialogs.setup_wizard import SetupWizard
from mdm_desktop.gui.launch import APPLICATION, ORGANIZATION, configure_application, sign_in_dialog
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.auth import SIGN_IN_FAILED
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, sign_in_admin, totp_code


def login_dialog(qtbot, ctx: AppContext, runner: TaskRunner) -> LoginDialog:
    dialog = LoginDialog(ctx.services.auth, runner, store_description=ctx.location.description)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_login_failure_shows_plain_inline_message(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    sign_in_admin(sqlite_ctx)
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    assert not dialog.sign_in_button.isEnabled()
    qtbot.keyClicks(dialog.username, ADMIN_USER)
    qtbot.keyClicks(dialog.password, "not the password")
    assert dialog.sign_in_button.isEnabled()
    with qtbot.waitSignal(dialog.failed, timeout=10_000):
        dialog.submit()
        assert dialog.working
    assert dialog.error.isVisible()
    assert SIGN_IN_FAILED in dialog.error.text()
    assert "Traceback" not in dialog.error.text()
    assert dialog.password.text() == ""
    assert dialog.isVisible()
    assert dialog.session is None


def test_login_unexpected_error_is_plain_words(qtbot, runner: TaskRunner) -> None:
    class BrokenAuth:
        def sign_in(self, username: str, password: str) -> None:
            raise RuntimeError("connection reset by peer at line 42")

    dialog = LoginDialog(BrokenAuth(), runner)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.username.setText("someone")
    dialog.password.setText("whatever password")
    with qtbot.waitSignal(dialog.failed, timeout=10_000):
        dialog.submit()
    assert "unexpected problem" in dialog.error.text()
    assert "line 42" not in dialog.error.text()


def test_login_success(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    sign_in_admin(sqlite_ctx)
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    dialog.username.setText(ADMIN_USER)
    dialog.password.setText(ADMIN_PASSWORD)
    dialog.code.setText(totp_code(sqlite_ctx))
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.sign_in_button.click()
    assert dialog.session is not None
    assert dialog.session.username == ADMIN_USER
    assert not dialog.error.isVisible()


def test_cancel_while_signing_in_drops_the_result(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    sign_in_admin(sqlite_ctx)
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    dialog.username.setText(ADMIN_USER)
    dialog.password.setText(ADMIN_PASSWORD)
    dialog.submit()
    dialog.reject()
    qtbot.waitUntil(lambda: runner.pending == 0, timeout=10_000)
    assert dialog.session is None


def test_start_asks_for_the_first_admin_only_on_an_empty_store(qtbot, sqlite_ctx: AppContext, runner) -> None:
    first = sign_in_dialog(sqlite_ctx, runner)
    qtbot.addWidget(first)
    assert isinstance(first, SetupWizard)
    sign_in_admin(sqlite_ctx)
    second = sign_in_dialog(sqlite_ctx, runner)
    qtbot.addWidget(second)
    assert isinstance(second, LoginDialog)


def test_configure_application(qapp: QApplication) -> None:
    configure_application(qapp)
    assert QCoreApplication.organizationName() == ORGANIZATION
    assert QCoreApplication.applicationName() == APPLICATION
    assert "QTableView" in qapp.styleSheet()
    assert "@ICONS@" not in qapp.styleSheet()
    assert not qapp.windowIcon().isNull()
