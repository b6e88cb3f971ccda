"""Sign-in: user name, password and an authenticator or recovery code, checked off the GUI thread.

Every failure shows the same plain message (the service gives it), so the dialog never tells
which part was wrong. "Emergency access..." opens the break-glass sign-in
(:class:`mdm_desktop.gui.dialogs.break_glass_dialog.BreakGlassDialog`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.errors import MdmError
from mdm_desktop.gui.errors import describe_error
from mdm_desktop.gui.resources import app_icon
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.auth import AuthService
from mdm_desktop.services.dto import SessionInfo

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from mdm_desktop.gui.dialogs.break_glass_dialog import BreakGlassDialog as BreakGlassDialogType


def plain_label(text: str = "", object_name: str = "", *, wrap: bool = False) -> QLabel:
    """A label that never interprets its text as markup."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    if object_name:
        label.setObjectName(object_name)
    label.setWordWrap(wrap)
    return label


def dialog_header(title: str, subtitle: str, store_description: str) -> QWidget:
    """The app icon, a title, a line of explanation and (if known) which store this is."""
    header = QWidget()
    row = QHBoxLayout(header)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(14)
    logo = QLabel()
    logo.setPixmap(app_icon().pixmap(48, 48))
    logo.setAlignment(Qt.AlignmentFlag.AlignTop)
    row.addWidget(logo)
    texts = QVBoxLayout()
    texts.setSpacing(4)
    texts.addWidget(plain_label(title, "dialogTitle"))
    texts.addWidget(plain_label(subtitle, "mutedText", wrap=True))
    if store_description:
        store = plain_label(f"Store: {store_description}", "mutedText", wrap=True)
        store.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        texts.addWidget(store)
    row.addLayout(texts, 1)
    return header


def busy_bar() -> QProgressBar:
    """An indeterminate progress bar, hidden until work starts."""
    bar = QProgressBar()
    bar.setRange(0, 0)
    bar.setTextVisible(False)
    bar.setFixedHeight(6)
    bar.setVisible(False)
    return bar


def fit_height(dialog: QDialog) -> None:
    """Grow or shrink a fixed-width dialog to fit wrapped text that appeared or went away."""
    layout = dialog.layout()
    if layout is not None:
        layout.invalidate()
        layout.activate()
    dialog.adjustSize()


def error_text(exc: BaseException) -> str:
    """Plain words for the inline error line (message and hint, never a stack trace)."""
    text = describe_error(exc)
    if not isinstance(exc, MdmError):
        log.error("Unexpected error while signing in", exc_info=exc)
    return f"{text.message} {text.hint}".strip()


CODE_PLACEHOLDER = "6-digit code from your app, or a recovery code"


class LoginDialog(QDialog):
    """Asks for user name, password and code and signs in through the task runner.

    After ``exec()`` returns ``Accepted``, :attr:`session` holds the signed-in session (a
    break-glass session when the emergency sign-in was used).

    Signals:
        failed(str): sign-in failed; the argument is the inline message shown.
        emergency_opened(object): the break-glass dialog just opened (tests answer it).
    """

    failed = Signal(str)
    emergency_opened = Signal(object)

    def __init__(
        self,
        auth: AuthService,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        store_description: str = "",
        username: str = "",
    ) -> None:
        super().__init__(parent)
        self._auth = auth
        self._runner = runner
        self._task: Task | None = None
        self.session: SessionInfo | None = None
        self.emergency: BreakGlassDialogType | None = None

        self.setWindowTitle("Sign in · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setFixedWidth(480)

        self.username = QLineEdit(username)
        self.username.setObjectName("username")
        self.username.setPlaceholderText("User name")
        self.username.setMaxLength(64)
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setPlaceholderText("Password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(256)
        self.code = QLineEdit()
        self.code.setObjectName("code")
        self.code.setPlaceholderText(CODE_PLACEHOLDER)
        self.code.setMaxLength(32)
        self.code.setToolTip(
            "The six-digit code your authenticator app shows for MDM Desktop now. Lost your phone? "
            "Enter one of your recovery codes instead (each works once)."
        )

        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.busy = busy_bar()

        self.emergency_button = QPushButton("Emergency access…")
        self.emergency_button.setObjectName("emergencyButton")
        self.emergency_button.setFlat(True)
        self.emergency_button.setAutoDefault(False)
        self.emergency_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.emergency_button.setToolTip("For an administrator who cannot use an authenticator: uses the sealed code")
        self.emergency_button.clicked.connect(self.open_emergency)

        self.buttons = QDialogButtonBox()
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.setAutoDefault(True)
        self.buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)
        form.addRow("&User name:", self.username)
        form.addRow("&Password:", self.password)
        form.addRow("&Code:", self.code)

        bottom = QHBoxLayout()
        bottom.addWidget(self.emergency_button)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(14)
        layout.addWidget(dialog_header("Sign in", "Sign in to manage your clinic's devices.", store_description))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)
        layout.addLayout(bottom)

        self.username.textChanged.connect(self._update_enabled)
        self.password.textChanged.connect(self._update_enabled)
        self._update_enabled()
        (self.password if username else self.username).setFocus()

    @property
    def working(self) -> bool:
        """True while the sign-in check runs."""
        return self._task is not None

    def submit(self) -> None:
        """Check the credentials off the GUI thread (Argon2 takes a noticeable moment)."""
        if self._task is not None or not self._inputs_complete():
            return
        username, password = self.username.text().strip(), self.password.text()
        code = self.code.text().strip() or None
        auth = self._auth
        self._set_working(True)
        self._task = self._runner.submit(
            lambda: auth.sign_in(username, password, code), on_done=self._signed_in, on_error=self._sign_in_failed
        )

    def open_emergency(self) -> None:
        """Open the break-glass sign-in; when it succeeds this dialog is accepted with its session."""
        from mdm_desktop.gui.dialogs.break_glass_dialog import BreakGlassDialog  # a cycle otherwise

        if self.emergency is not None:
            self.emergency.deleteLater()
        dialog = BreakGlassDialog(self._auth, self._runner, self, username=self.username.text().strip())
        dialog.finished.connect(self._emergency_finished)
        self.emergency = dialog
        dialog.open()
        self.emergency_opened.emit(dialog)

    def _emergency_finished(self, result: int) -> None:
        dialog = self.emergency
        if dialog is None or result != QDialog.DialogCode.Accepted or dialog.session is None:
            return
        self._signed_in(dialog.session)

    def _signed_in(self, session: SessionInfo) -> None:
        self._task = None
        self._set_working(False)
        self.session = session
        self.accept()

    def _sign_in_failed(self, exc: BaseException) -> None:
        self._task = None
        self._set_working(False)
        message = error_text(exc)
        self.error.setText(message)
        self.error.setVisible(True)
        self.password.clear()
        self.code.clear()
        self.password.setFocus()
        fit_height(self)
        self.failed.emit(message)

    def _inputs_complete(self) -> bool:
        return bool(self.username.text().strip()) and bool(self.password.text())

    def _update_enabled(self) -> None:
        self.sign_in_button.setEnabled(self._task is None and self._inputs_complete())

    def _set_working(self, working: bool) -> None:
        self.busy.setVisible(working)
        for widget in (self.username, self.password, self.code, self.emergency_button):
            widget.setEnabled(not working)
        if working:
            self.error.setVisible(False)
        self._update_enabled()
        fit_height(self)

    def done(self, result: int) -> None:
        """Close the dialog; a sign-in still running is abandoned."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        super().done(result)
