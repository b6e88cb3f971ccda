"""Sign-in: user name and password, checked off the GUI thread; failures shown inline in plain words."""

from __future__ import annotations

import logging

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


class LoginDialog(QDialog):
    """Asks for a user name and password and signs in through the task runner.

    After ``exec()`` returns ``Accepted``, :attr:`session` holds the signed-in session.

    Signals:
        failed(str): sign-in failed; the argument is the inline message shown.
    """

    failed = Signal(str)

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

        self.setWindowTitle("Sign in · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setFixedWidth(460)

        self.username = QLineEdit(username)
        self.username.setObjectName("username")
        self.username.setPlaceholderText("User name")
        self.username.setMaxLength(64)
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setPlaceholderText("Password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(256)

        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.busy = busy_bar()

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

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(14)
        layout.addWidget(dialog_header("Sign in", "Sign in to manage your clinic's devices.", store_description))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)

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
        auth = self._auth
        self._set_working(True)
        self._task = self._runner.submit(
            lambda: auth.sign_in(username, password), on_done=self._signed_in, on_error=self._sign_in_failed
        )

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
        self.password.setFocus()
        fit_height(self)
        self.failed.emit(message)

    def _inputs_complete(self) -> bool:
        return bool(self.username.text().strip()) and bool(self.password.text())

    def _update_enabled(self) -> None:
        self.sign_in_button.setEnabled(self._task is None and self._inputs_complete())

    def _set_working(self, working: bool) -> None:
        self.busy.setVisible(working)
        self.username.setEnabled(not working)
        self.password.setEnabled(not working)
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
