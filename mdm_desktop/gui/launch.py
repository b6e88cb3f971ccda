"""Start the console: the QApplication, sign-in (or the first-run set-up wizard), then the main window.

An account without an authenticator (after an MFA reset) goes through the enrolment pages of the
set-up wizard right after signing in, before the main window opens.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from mdm_desktop.app import AppContext
from mdm_desktop.gui.dialogs.login_dialog import LoginDialog
from mdm_desktop.gui.dialogs.setup_wizard import SetupWizard
from mdm_desktop.gui.errors import describe_error
from mdm_desktop.gui.main_window import MainWindow
from mdm_desktop.gui.resources import app_icon, stylesheet
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import SessionInfo

log = logging.getLogger(__name__)

ORGANIZATION = "MDM Desktop"
APPLICATION = "MDM Desktop"
DESKTOP_FILE = "mdm-desktop"
MIN_POINT_SIZE = 10


def light_palette() -> QPalette:
    """A light palette, so the console looks the same under a dark desktop theme."""
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#f4f6f9",
        QPalette.ColorRole.WindowText: "#1f2a37",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f7f9fb",
        QPalette.ColorRole.ToolTipBase: "#ffffff",
        QPalette.ColorRole.ToolTipText: "#1f2a37",
        QPalette.ColorRole.PlaceholderText: "#7a8592",
        QPalette.ColorRole.Text: "#1f2a37",
        QPalette.ColorRole.Button: "#ffffff",
        QPalette.ColorRole.ButtonText: "#1f2a37",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#cfe2f3",
        QPalette.ColorRole.HighlightedText: "#1f2a37",
        QPalette.ColorRole.Link: "#2f6f9f",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#8893a0"))
    return palette


def configure_application(app: QApplication) -> None:
    """Names for QSettings, the Fusion style with a light palette, the style sheet and the icon."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QGuiApplication.setDesktopFileName(DESKTOP_FILE)
    app.setStyle("Fusion")
    app.setPalette(light_palette())
    font = QFont(app.font())
    if 0 < font.pointSizeF() < MIN_POINT_SIZE:
        font.setPointSizeF(MIN_POINT_SIZE)
        app.setFont(font)
    app.setStyleSheet(stylesheet())
    app.setWindowIcon(app_icon())


def sign_in_dialog(ctx: AppContext, runner: TaskRunner, parent: QWidget | None = None) -> LoginDialog | SetupWizard:
    """The set-up wizard on an empty store, the login dialog otherwise.

    ``needs_first_admin`` is one quick query, run before the window exists.

    Raises:
        MdmError: The store cannot be read.
    """
    description = ctx.location.description
    if ctx.services.auth.needs_first_admin():
        return SetupWizard(ctx.services.auth, runner, parent, store_description=description)
    return LoginDialog(ctx.services.auth, runner, parent, store_description=description)


def _show_fatal(exc: BaseException) -> None:
    text = describe_error(exc)
    box = QMessageBox()
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(text.title)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text.message)
    if text.hint:
        box.setInformativeText(text.hint)
    if text.details:
        box.setDetailedText(text.details)
    box.exec()


def run_gui(ctx: AppContext, argv: list[str]) -> int:
    """Run the console until its window closes; return the process exit code.

    Args:
        ctx: The opened application (the caller closes it afterwards).
        argv: Command-line arguments for Qt (``sys.argv`` style, program name first).

    Returns:
        0 after a normal close or a cancelled sign-in; 1 if the store could not be read.
    """
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv[:1])
    configure_application(app)
    session = sign_in(ctx)
    if session is None:
        return 0 if _store_readable(ctx) else 1
    window = MainWindow(ctx, session)
    window.show()
    code = app.exec()
    window.deleteLater()
    return int(code)


def sign_in(ctx: AppContext) -> SessionInfo | None:
    """Ask for sign-in (or first-run set-up); ``None`` when the person cancels or the store fails.

    The check itself runs on a short-lived :class:`TaskRunner`, so the dialog stays responsive.
    """
    runner = TaskRunner()
    try:
        try:
            dialog = sign_in_dialog(ctx, runner)
        except Exception as exc:  # any failure to read the store ends here, in plain words
            log.info("Cannot read the store", exc_info=exc)
            _show_fatal(exc)
            return None
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        session = dialog.session
        dialog.deleteLater()
        if accepted and session is not None and not session.mfa_enrolled:
            enrolment = SetupWizard(ctx.services.auth, runner, session=session)
            accepted = enrolment.exec() == QDialog.DialogCode.Accepted
            session = enrolment.session
            enrolment.deleteLater()
        if not accepted and session is not None:
            # A wizard closed half-way may have signed in: do not leave that session open.
            sessions, principal = ctx.services.sessions, session.principal
            runner.submit(lambda: sessions.sign_out(principal), on_error=lambda exc: log.info("Sign-out: %s", exc))
        return session if accepted else None
    finally:
        runner.shutdown()
        runner.deleteLater()


def _store_readable(ctx: AppContext) -> bool:
    try:
        ctx.services.auth.needs_first_admin()
    except Exception:
        return False
    return True
