"""The lock screen: covers the main window's data until the same user signs in again.

It shows why the console locked, asks for the password and an authenticator (or recovery)
code of the user who was signed in, and offers "Sign out" (which closes the console). The
sign-in runs in the task runner; the same plain message answers every failure.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.gui.dialogs.break_glass_dialog import BreakGlassDialog
from mdm_desktop.gui.dialogs.login_dialog import CODE_PLACEHOLDER, busy_bar, error_text, plain_label
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.auth import AuthService
from mdm_desktop.services.dto import SessionInfo

CARD_WIDTH = 500


class LockScreen(QWidget):
    """Password + code for ``username`` again, or sign out.

    Signals:
        unlocked(object): the user signed in again; the argument is the new :class:`SessionInfo`.
        sign_out_requested(): the user chose "Sign out".
        failed(str): unlocking failed; the argument is the inline message.
    """

    unlocked = Signal(object)
    sign_out_requested = Signal()
    failed = Signal(str)

    def __init__(self, auth: AuthService, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._auth = auth
        self._runner = runner
        self._task: Task | None = None
        self._username = ""
        self._break_glass = False
        self.emergency: BreakGlassDialog | None = None
        self.setObjectName("lockScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

        card = QFrame()
        card.setObjectName("lockCard")
        card.setFixedWidth(CARD_WIDTH)

        logo = QLabel()
        logo.setPixmap(icon("app").pixmap(48, 48))
        self.title = plain_label("MDM Desktop is locked", "dialogTitle")
        self.reason = plain_label("", "mutedText", wrap=True)
        self.reason.setObjectName("lockReason")
        self.user_line = plain_label("", "", wrap=True)
        self.user_line.setObjectName("lockUser")

        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(256)
        self.password.setPlaceholderText("Password")
        self.code = QLineEdit()
        self.code.setObjectName("code")
        self.code.setMaxLength(32)
        self.code.setPlaceholderText(CODE_PLACEHOLDER)
        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.busy = busy_bar()

        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setObjectName("unlockButton")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.submit)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setObjectName("signOutButton")
        self.sign_out_button.setToolTip("Close MDM Desktop; unsaved work behind the lock is lost")
        self.sign_out_button.clicked.connect(self.sign_out_requested)
        self.emergency_button = QPushButton("Emergency access…")
        self.emergency_button.setFlat(True)
        self.emergency_button.setVisible(False)
        self.emergency_button.clicked.connect(self._open_emergency)

        header = QHBoxLayout()
        header.setSpacing(14)
        header.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setSpacing(4)
        texts.addWidget(self.title)
        texts.addWidget(self.reason)
        header.addLayout(texts, 1)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)
        form.addRow("&Password:", self.password)
        form.addRow("&Code:", self.code)

        buttons = QHBoxLayout()
        buttons.addWidget(self.emergency_button)
        buttons.addStretch(1)
        buttons.addWidget(self.sign_out_button)
        buttons.addWidget(self.unlock_button)

        inner = QVBoxLayout(card)
        inner.setContentsMargins(28, 24, 28, 22)
        inner.setSpacing(14)
        inner.addLayout(header)
        inner.addWidget(self.user_line)
        inner.addLayout(form)
        inner.addWidget(self.error)
        inner.addWidget(self.busy)
        inner.addLayout(buttons)

        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

        self.password.textChanged.connect(self._update_enabled)
        self.password.returnPressed.connect(self.submit)
        self.code.returnPressed.connect(self.submit)
        self._update_enabled()

    @property
    def username(self) -> str:
        """Who must sign in again."""
        return self._username

    @property
    def working(self) -> bool:
        """True while the sign-in runs."""
        return self._task is not None

    def prepare(self, session: SessionInfo, reason: str) -> None:
        """Show the lock for ``session``'s user with ``reason`` (plain words); clear the fields."""
        self.cancel()
        self._username = session.username
        self._break_glass = session.break_glass
        self.reason.setText(reason)
        role = session.role_label or session.role.label
        self.user_line.setText(
            f"Signed in as {session.username} ({role}). Enter your password and a code from your authenticator "
            "app to continue where you left off."
        )
        self.emergency_button.setVisible(session.break_glass)
        self.password.clear()
        self.code.clear()
        self.error.setVisible(False)
        self.password.setFocus()
        self._update_enabled()

    def submit(self) -> None:
        """Sign the same user in again (in the runner)."""
        if self._task is not None or not self._username or not self.password.text():
            return
        auth, username, password = self._auth, self._username, self.password.text()
        code = self.code.text().strip() or None
        self._set_working(True)
        self._task = self._runner.submit(
            lambda: auth.sign_in(username, password, code), on_done=self._signed_in, on_error=self._failed
        )

    def cancel(self) -> None:
        """Drop a sign-in still running."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self._set_working(False)

    def _signed_in(self, session: SessionInfo) -> None:
        self._task = None
        self._set_working(False)
        self.password.clear()
        self.code.clear()
        self.unlocked.emit(session)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self._set_working(False)
        message = error_text(exc)
        self.error.setText(message)
        self.error.setVisible(True)
        self.password.clear()
        self.code.clear()
        self.password.setFocus()
        self.failed.emit(message)

    def _open_emergency(self) -> None:
        if self.emergency is not None:
            self.emergency.deleteLater()
        dialog = BreakGlassDialog(self._auth, self._runner, self, username=self._username)
        dialog.username.setReadOnly(True)
        dialog.finished.connect(self._emergency_finished)
        self.emergency = dialog
        dialog.open()

    def _emergency_finished(self, result: int) -> None:
        dialog = self.emergency
        if dialog is not None and result == QDialog.DialogCode.Accepted and dialog.session is not None:
            self.unlocked.emit(dialog.session)

    def _update_enabled(self) -> None:
        self.unlock_button.setEnabled(self._task is None and bool(self.password.text()))

    def _set_working(self, working: bool) -> None:
        self.busy.setVisible(working)
        for widget in (self.password, self.code, self.sign_out_button, self.emergency_button):
            widget.setEnabled(not working)
        if working:
            self.error.setVisible(False)
        self._update_enabled()
