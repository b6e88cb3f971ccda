"""The sign-in dialog with a code field, the same message for every failure, and emergency access."""

from __future__ import annotations

from mdm_desktop.app import AppContext
from mdm_desktop.gui.dialogs.break_glass_dialog import BreakGlassDialog
from mdm_desktop.gui.dialogs.login_dialog import LoginDialog
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.auth import SIGN_IN_FAILED
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, sign_in_admin, step_up_admin, totp_code
from tests.gui.security_gui import admin_without_authenticator, enrol_with_codes


def login_dialog(qtbot, ctx: AppContext, runner: TaskRunner) -> LoginDialog:
    dialog = LoginDialog(ctx.services.auth, runner, store_description=ctx.location.description)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def attempt(qtbot, dialog: LoginDialog, password: str, code: str) -> str:
    dialog.username.setText(ADMIN_USER)
    dialog.password.setText(password)
    dialog.code.setText(code)
    with qtbot.waitSignal(dialog.failed, timeout=10_000) as failed:
        dialog.submit()
    return str(failed.args[0])


def test_code_field_says_what_it_takes(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    assert "6-digit" in dialog.code.placeholderText()
    assert "recovery code" in dialog.code.placeholderText()
    assert dialog.emergency_button.isVisible()


def test_every_failure_reads_the_same(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    sign_in_admin(sqlite_ctx)
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    wrong_password = attempt(qtbot, dialog, "not the password", totp_code(sqlite_ctx))
    missing_code = attempt(qtbot, dialog, ADMIN_PASSWORD, "")
    wrong_code = attempt(qtbot, dialog, ADMIN_PASSWORD, "000000")
    unknown_recovery = attempt(qtbot, dialog, ADMIN_PASSWORD, "aaaa-bbbb-cccc")
    assert wrong_password == missing_code == wrong_code == unknown_recovery
    assert SIGN_IN_FAILED in wrong_password
    assert dialog.error.isVisible()
    assert dialog.password.text() == ""
    assert dialog.code.text() == ""
    assert dialog.session is None


def test_totp_code_signs_in(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    sign_in_admin(sqlite_ctx)
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    dialog.username.setText(ADMIN_USER)
    dialog.password.setText(ADMIN_PASSWORD)
    dialog.code.setText(totp_code(sqlite_ctx))
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.sign_in_button.click()
        assert dialog.working
        assert not dialog.code.isEnabled()
    assert dialog.session is not None
    assert dialog.session.mfa_enrolled
    assert not dialog.session.break_glass


def test_recovery_code_signs_in_once(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    issued = enrol_with_codes(sqlite_ctx, admin_without_authenticator(sqlite_ctx))
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    dialog.username.setText(ADMIN_USER)
    dialog.password.setText(ADMIN_PASSWORD)
    dialog.code.setText(issued.codes[3])
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.submit()
    assert dialog.session is not None

    again = login_dialog(qtbot, sqlite_ctx, runner)
    message = attempt(qtbot, again, ADMIN_PASSWORD, issued.codes[3])
    assert SIGN_IN_FAILED in message


def test_account_without_authenticator_signs_in_with_the_password(
    qtbot, sqlite_ctx: AppContext, runner: TaskRunner
) -> None:
    admin_without_authenticator(sqlite_ctx)
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    dialog.username.setText(ADMIN_USER)
    dialog.password.setText(ADMIN_PASSWORD)
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.submit()
    assert dialog.session is not None
    assert not dialog.session.mfa_enrolled  # launch then shows the enrolment pages


def test_emergency_access(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    admin = step_up_admin(sqlite_ctx)
    code = sqlite_ctx.services.auth.create_emergency_code(admin.principal).codes[0]
    dialog = login_dialog(qtbot, sqlite_ctx, runner)
    dialog.username.setText(ADMIN_USER)
    with qtbot.waitSignal(dialog.emergency_opened, timeout=2_000) as opened:
        dialog.emergency_button.click()
    emergency = opened.args[0]
    assert isinstance(emergency, BreakGlassDialog)
    assert emergency.username.text() == ADMIN_USER
    assert "audit log" in emergency.warning.text()
    assert "review" in emergency.warning.text()
    assert not emergency.sign_in_button.isEnabled()

    emergency.password.setText(ADMIN_PASSWORD)
    emergency.code.setText("aaaa-bbbb-cccc-dddd-eeee")
    with qtbot.waitSignal(emergency.failed, timeout=10_000) as failed:
        emergency.submit()
    assert SIGN_IN_FAILED in failed.args[0]

    emergency.password.setText(ADMIN_PASSWORD)
    emergency.code.setText(code)
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        emergency.submit()
    assert dialog.session is not None
    assert dialog.session.break_glass
