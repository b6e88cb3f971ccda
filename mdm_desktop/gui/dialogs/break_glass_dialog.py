"""Emergency (break-glass) sign-in: an administrator's password plus the sealed emergency code.

For the day no administrator can use an authenticator. The code works once, the session is
short (one hour by default), and every use is audited as ``auth.break_glass`` and stays on the
security officer's review list; the dialog says so before anyone types anything.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.gui.dialogs.login_dialog import busy_bar, dialog_header, error_text, fit_height, plain_label
from mdm_desktop.gui.resources import app_icon
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.auth import AuthService
from mdm_desktop.services.dto import SessionInfo

WARNING = (
    "Use this only when no administrator can sign in with an authenticator app. The emergency code "
    "works once. The session ends after a short time, every use is recorded prominently in the audit "
    "log, and your security officer must review it. Create a new emergency code afterwards."
)
CODE_PLACEHOLDER = "xxxx-xxxx-xxxx-xxxx-xxxx"


class BreakGlassDialog(QDialog):
    """User name, password and emergency code; signs in with ``AuthService.sign_in_break_glass``.

    After it is accepted, :attr:`session` holds the (break-glass) session.

    Signals:
        failed(str): the sign-in failed; the argument is the inline message (the same for every cause).
    """

    failed = Signal(str)

    def __init__(
        self,
        auth: AuthService,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        username: str = "",
    ) -> None:
        super().__init__(parent)
        self._auth = auth
        self._runner = runner
        self._task: Task | None = None
        self.session: SessionInfo | None = None

        self.setWindowTitle("Emergency access · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setFixedWidth(520)

        self.warning = plain_label(WARNING, "warningText", wrap=True)
        self.username = QLineEdit(username)
        self.username.setObjectName("username")
        self.username.setMaxLength(64)
        self.username.setPlaceholderText("An administrator's user name")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaxLength(256)
        self.password.setPlaceholderText("That administrator's password")
        self.code = QLineEdit()
        self.code.setObjectName("emergencyCode")
        self.code.setMaxLength(40)
        self.code.setPlaceholderText(CODE_PLACEHOLDER)
        self.code.setToolTip("The code from the sealed envelope in the clinic safe")
        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.busy = busy_bar()

        self.buttons = QDialogButtonBox()
        self.sign_in_button = QPushButton("Use emergency access")
        self.sign_in_button.setDefault(True)
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
        form.addRow("&Emergency code:", self.code)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(14)
        layout.addWidget(
            dialog_header("Emergency access", "Sign in with the sealed emergency code from the clinic safe.", "")
        )
        layout.addWidget(self.warning)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)

        for field in (self.username, self.password, self.code):
            field.textChanged.connect(self._update_enabled)
        self._update_enabled()
        (self.password if username else self.username).setFocus()

    @property
    def working(self) -> bool:
        """True while the check runs."""
        return self._task is not None

    def _inputs_complete(self) -> bool:
        return all(f.text().strip() for f in (self.username, self.password, self.code))

    def _update_enabled(self) -> None:
        self.sign_in_button.setEnabled(self._task is None and self._inputs_complete())

    def submit(self) -> None:
        """Check user name, password and emergency code off the GUI thread."""
        if self._task is not None or not self._inputs_complete():
            return
        auth = self._auth
        username, password, code = self.username.text().strip(), self.password.text(), self.code.text().strip()
        self._set_working(True)
        self._task = self._runner.submit(
            lambda: auth.sign_in_break_glass(username, password, code), on_done=self._signed_in, on_error=self._failed
        )

    def _signed_in(self, session: SessionInfo) -> None:
        self._task = None
        self._set_working(False)
        self.session = session
        self.accept()

    def _failed(self, exc: BaseException) -> None:
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

    def _set_working(self, working: bool) -> None:
        self.busy.setVisible(working)
        for field in (self.username, self.password, self.code):
            field.setEnabled(not working)
        if working:
            self.error.setVisible(False)
        self._update_enabled()
        fit_height(self)

    def done(self, result: int) -> None:
        """Close; a check still running is abandoned."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        super().done(result)
