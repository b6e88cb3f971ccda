"""run_gui end to end (sign-in dialog -> main window -> exit code) and the resources loader."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from mdm_desktop.app import AppContext
from mdm_desktop.domain.errors import AuthenticationError
from mdm_desktop.gui import resources
from mdm_desktop.gui.dialogs.login_dialog import LoginDialog
from mdm_desktop.gui.dialogs.setup_wizard import SetupWizard
from mdm_desktop.gui.launch import run_gui
from mdm_desktop.gui.main_window import MainWindow
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, sign_in_admin, totp_code
from tests.gui.security_gui import GOOD_PASSWORD, admin_without_authenticator, code_now, store_clock


@pytest.fixture
def user_settings_in(tmp_path: Path) -> Iterator[Path]:
    """Point the default QSettings at an INI file under tmp_path (never the real user settings)."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    yield tmp_path / "config"
    QSettings.setDefaultFormat(QSettings.Format.NativeFormat)


def drive(app: QApplication, steps: list[Callable[[], bool]]) -> QTimer:
    """Run ``steps`` in order from a timer; each returns True when done (False: try again later)."""
    timer = QTimer()
    timer.setInterval(20)

    def tick() -> None:
        if steps and steps[0]():
            steps.pop(0)
        if not steps:
            timer.stop()

    timer.timeout.connect(tick)
    timer.start()
    return timer


def find(kind: type) -> object | None:
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()), None)


def close_main_window() -> bool:
    window = find(MainWindow)
    if not isinstance(window, MainWindow) or window.device_count is None or window.runner.pending:
        return False
    window.close()  # the last window closing ends app.exec() (no explicit quit: it would outlive this loop)
    return True


def test_run_gui_signs_in_and_opens_the_main_window(
    qapp: QApplication, sqlite_ctx: AppContext, user_settings_in: Path
) -> None:
    sign_in_admin(sqlite_ctx)

    def sign_in() -> bool:
        dialog = find(LoginDialog)
        if not isinstance(dialog, LoginDialog):
            return False
        dialog.username.setText(ADMIN_USER)
        dialog.password.setText(ADMIN_PASSWORD)
        dialog.code.setText(totp_code(sqlite_ctx))
        dialog.submit()
        return True

    timer = drive(qapp, [sign_in, close_main_window])
    assert run_gui(sqlite_ctx, ["mdm-desktop"]) == 0
    timer.stop()
    assert list(user_settings_in.rglob("*.ini"))  # geometry was saved, in the redirected place


def wizard_steps(ctx: AppContext, *, first_run: bool) -> list[Callable[[], bool]]:
    """Answer the set-up wizard page by page (each step waits for its page to be ready)."""

    def wizard() -> SetupWizard | None:
        found = find(SetupWizard)
        return found if isinstance(found, SetupWizard) else None

    def account() -> bool:
        w = wizard()
        if w is None or w.account_page is None or w.currentPage() is not w.account_page:
            return False
        page = w.account_page
        if not page.username.text():
            page.username.setText("first.admin")
            page.password.password_edit.setText(GOOD_PASSWORD)
            page.password.repeat_edit.setText(GOOD_PASSWORD)
        if not page.isComplete():
            return False
        w.next()
        return True

    def authenticator() -> bool:
        w = wizard()
        if w is None or w.currentPage() is not w.totp_page or w.totp_page.info is None:
            return False
        store_clock(ctx).next_step()
        w.totp_page.code.setText(code_now(ctx, w.totp_page.info.secret))
        w.next()
        return True

    def recovery() -> bool:
        w = wizard()
        if w is None or w.currentPage() is not w.recovery_page:
            return False
        w.recovery_page.panel.stored.setChecked(True)
        if first_run:
            w.next()
        else:
            w.accept()
        return True

    def emergency() -> bool:
        w = wizard()
        page = w.emergency_page if w is not None else None
        if w is None or page is None or w.currentPage() is not page or page.issued is None:
            return False
        page.panel.stored.setChecked(True)
        w.accept()
        return True

    if first_run:
        return [account, authenticator, recovery, emergency]
    return [authenticator, recovery]


def test_run_gui_first_run_creates_the_administrator(
    qapp: QApplication, sqlite_ctx: AppContext, user_settings_in: Path
) -> None:
    timer = drive(qapp, [*wizard_steps(sqlite_ctx, first_run=True), close_main_window])
    assert run_gui(sqlite_ctx, ["mdm-desktop"]) == 0
    timer.stop()
    assert not sqlite_ctx.services.auth.needs_first_admin()


def test_account_without_authenticator_enrols_before_the_window_opens(
    qapp: QApplication, sqlite_ctx: AppContext, user_settings_in: Path
) -> None:
    admin_without_authenticator(sqlite_ctx)

    def sign_in() -> bool:
        dialog = find(LoginDialog)
        if not isinstance(dialog, LoginDialog):
            return False
        dialog.username.setText(ADMIN_USER)
        dialog.password.setText(ADMIN_PASSWORD)
        dialog.submit()
        return True

    def no_window_yet() -> bool:
        assert find(MainWindow) is None
        return find(SetupWizard) is not None

    timer = drive(qapp, [sign_in, no_window_yet, *wizard_steps(sqlite_ctx, first_run=False), close_main_window])
    assert run_gui(sqlite_ctx, ["mdm-desktop"]) == 0
    timer.stop()
    users = sqlite_ctx.services.auth
    store_clock(sqlite_ctx).next_step()
    # The password alone no longer signs in: an authenticator is enrolled now.
    with pytest.raises(AuthenticationError):
        users.sign_in(ADMIN_USER, ADMIN_PASSWORD)


def test_cancelled_sign_in_exits_cleanly(qapp: QApplication, sqlite_ctx: AppContext, user_settings_in: Path) -> None:
    sign_in_admin(sqlite_ctx)

    def cancel() -> bool:
        dialog = find(LoginDialog)
        if not isinstance(dialog, LoginDialog):
            return False
        dialog.reject()
        return True

    timer = drive(qapp, [cancel])
    assert run_gui(sqlite_ctx, ["mdm-desktop"]) == 0
    timer.stop()
    assert find(MainWindow) is None


def test_resources_load_from_a_zip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Inside a zip (frozen or zipped installs) icons are rendered from bytes and image URLs are dropped."""
    root = resources._root()
    archive = tmp_path / "res.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for folder in ("icons", "styles"):
            for entry in root.joinpath(folder).iterdir():
                zf.writestr(f"res/{folder}/{entry.name}", entry.read_bytes())
    zipped = zipfile.Path(archive, "res/")
    monkeypatch.setattr(resources, "_root", lambda: zipped)
    assert "devices" in resources.icon_names()
    icon = resources.icon("devices")
    assert not icon.isNull()
    assert not icon.pixmap(32, 32).isNull()
    css = resources.stylesheet()
    assert "@ICONS@" not in css
    assert "QTableView" in css
