"""The first-run set-up wizard: administrator, authenticator (QR + key), recovery codes, emergency code."""

from __future__ import annotations

import stat
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWizard

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.gui.dialogs.setup_wizard import SetupWizard
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import TotpEnrolmentInfo
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, sign_in_admin
from tests.gui.security_gui import GOOD_PASSWORD, admin_without_authenticator, code_now, store_clock

SIZE = (760, 560)


def show(qtbot, wizard: SetupWizard) -> SetupWizard:
    qtbot.addWidget(wizard)
    wizard.setMinimumSize(*SIZE)
    wizard.resize(*SIZE)
    wizard.show()
    return wizard


def next_button(wizard: SetupWizard):
    page = wizard.currentPage()
    if page.isCommitPage():
        return wizard.button(QWizard.WizardButton.CommitButton)
    if page.isFinalPage():
        return wizard.button(QWizard.WizardButton.FinishButton)
    return wizard.button(QWizard.WizardButton.NextButton)


def fill_account(qtbot, wizard: SetupWizard, username: str = "it.admin") -> None:
    page = wizard.account_page
    assert page is not None
    page.username.setText(username)
    page.display_name.setText("Dana Lee")
    with qtbot.waitSignal(page.password.acceptable_changed, timeout=10_000):
        page.password.password_edit.setText(GOOD_PASSWORD)
        page.password.repeat_edit.setText(GOOD_PASSWORD)


def test_first_run_end_to_end(qtbot, sqlite_ctx: AppContext, runner: TaskRunner, tmp_path: Path) -> None:
    wizard = show(qtbot, SetupWizard(sqlite_ctx.services.auth, runner, store_description="test store"))
    page = wizard.account_page
    assert page is not None
    assert wizard.currentPage() is page
    assert not next_button(wizard).isEnabled()

    qtbot.keyClicks(page.username, "it admin")
    assert page.username_problems.isVisible()
    page.username.setText("it.admin")
    assert not page.username_problems.isVisible()
    with qtbot.waitSignal(page.password.checked, timeout=10_000):
        page.password.password_edit.setText("it.admin-password")
    assert "user name" in page.password.problems_label.text()
    assert not next_button(wizard).isEnabled()
    fill_account(qtbot, wizard)
    assert next_button(wizard).isEnabled()
    assert next_button(wizard).text() == "Create administrator"

    with qtbot.waitSignal(wizard.enrolment_shown, timeout=10_000) as shown:
        next_button(wizard).click()
    info = shown.args[0]
    assert isinstance(info, TotpEnrolmentInfo)
    totp_page = wizard.totp_page
    assert wizard.currentPage() is totp_page
    assert wizard.session is not None
    assert wizard.session.role is Role.ADMINISTRATOR
    assert not wizard.session.mfa_enrolled
    assert not sqlite_ctx.services.auth.needs_first_admin()
    qr = totp_page.qr.pixmap()
    assert not qr.isNull()
    assert qr.width() >= 200
    assert totp_page.secret.text().split() == info.secret_grouped.split()
    assert "it.admin" in totp_page.account_label.text()
    assert info.issuer in totp_page.account_label.text()
    assert not wizard.button(QWizard.WizardButton.BackButton).isEnabled()  # the account exists now
    assert not next_button(wizard).isEnabled()

    totp_page.code.setText("000000" if code_now(sqlite_ctx, info.secret) != "000000" else "111111")
    next_button(wizard).click()
    qtbot.waitUntil(lambda: totp_page.error.isVisible(), timeout=10_000)
    assert "does not match" in totp_page.error.text()
    assert wizard.currentPage() is totp_page

    store_clock(sqlite_ctx).next_step()
    totp_page.code.setText(code_now(sqlite_ctx, info.secret))
    next_button(wizard).click()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=10_000)
    assert wizard.session.mfa_enrolled

    panel = wizard.recovery_page.panel
    assert len(panel.codes) == 10
    assert all(code in panel.codes_view.text() for code in panel.codes)
    assert not next_button(wizard).isEnabled()
    panel.copy()
    assert panel.codes[0] in QApplication.clipboard().text()
    saved = tmp_path / "codes.txt"
    assert panel.save_to(saved)
    assert all(code in saved.read_text(encoding="utf-8") for code in panel.codes)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert not panel.save_to(tmp_path / "missing" / "codes.txt")
    assert "Could not save" in panel.saved_label.text()
    panel.stored.setChecked(True)
    assert next_button(wizard).isEnabled()
    recovery_codes = panel.codes
    next_button(wizard).click()

    emergency = wizard.emergency_page
    assert emergency is not None
    assert wizard.currentPage() is emergency
    qtbot.waitUntil(lambda: emergency.issued is not None, timeout=10_000)
    assert "safe" in emergency.explanation.text()
    assert emergency.panel.codes[0] in emergency.panel.codes_view.text()
    assert not next_button(wizard).isEnabled()
    emergency.panel.stored.setChecked(True)
    emergency_code = emergency.panel.codes[0]
    with qtbot.waitSignal(wizard.accepted, timeout=5_000):
        next_button(wizard).click()
    assert wizard.session is not None
    assert wizard.session.mfa_enrolled

    # What the wizard issued really works.
    auth = sqlite_ctx.services.auth
    assert auth.sign_in("it.admin", GOOD_PASSWORD, recovery_codes[0]).username == "it.admin"
    assert auth.sign_in_break_glass("it.admin", GOOD_PASSWORD, emergency_code).break_glass


def test_refused_when_an_account_appeared(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    wizard = show(qtbot, SetupWizard(sqlite_ctx.services.auth, runner))
    fill_account(qtbot, wizard, "second")
    sign_in_admin(sqlite_ctx)  # someone else finished set-up meanwhile
    page = wizard.account_page
    assert page is not None
    next_button(wizard).click()
    qtbot.waitUntil(lambda: page.error.isVisible(), timeout=10_000)
    assert "already has an administrator" in page.error.text()
    assert wizard.currentPage() is page
    assert wizard.session is None
    assert next_button(wizard).isEnabled()


def test_enrolment_only_for_a_signed_in_account(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    session = admin_without_authenticator(sqlite_ctx)
    assert not session.mfa_enrolled
    wizard = show(qtbot, SetupWizard(sqlite_ctx.services.auth, runner, session=session))
    assert wizard.account_page is None
    assert wizard.emergency_page is None
    with qtbot.waitSignal(wizard.enrolment_shown, timeout=10_000) as shown:
        pass
    secret = shown.args[0].secret
    store_clock(sqlite_ctx).next_step()
    wizard.totp_page.code.setText(code_now(sqlite_ctx, secret))
    next_button(wizard).click()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=10_000)
    assert wizard.recovery_page.isFinalPage()
    wizard.recovery_page.panel.stored.setChecked(True)
    with qtbot.waitSignal(wizard.accepted, timeout=5_000):
        next_button(wizard).click()
    assert wizard.session is not None
    assert wizard.session.mfa_enrolled
    # The password alone no longer signs in.
    store_clock(sqlite_ctx).next_step()
    signed = sqlite_ctx.services.auth.sign_in(ADMIN_USER, ADMIN_PASSWORD, code_now(sqlite_ctx, secret))
    assert signed.mfa_enrolled
