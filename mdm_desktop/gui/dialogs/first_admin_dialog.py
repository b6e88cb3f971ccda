"""First run on an empty store: create the first administrator, then sign in as them."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import MIN_PASSWORD_LENGTH, password_problems, username_problems
from mdm_desktop.gui.dialogs.login_dialog import busy_bar, dialog_header, error_text, fit_height, plain_label
from mdm_desktop.gui.resources import app_icon
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.auth import AuthService
from mdm_desktop.services.dto import SessionInfo

MISMATCH = "The two passwords are not the same."


def _with_problems(field: QWidget, problems: QLabel) -> QWidget:
    """A field with its (usually hidden) problem text right under it."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(3)
    column.addWidget(field)
    column.addWidget(problems)
    return box


class FirstAdminDialog(QDialog):
    """Asks for the first administrator's user name and password (twice) and validates inline.

    On "Create administrator" the account is created and signed in through the task
    runner. After ``exec()`` returns ``Accepted``, :attr:`session` holds the session.

    Signals:
        failed(str): creating the account or signing in failed; the argument is the message shown.
    """

    failed = Signal(str)

    def __init__(
        self,
        auth: AuthService,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        store_description: str = "",
    ) -> None:
        super().__init__(parent)
        self._auth = auth
        self._runner = runner
        self._task: Task | None = None
        self.session: SessionInfo | None = None

        self.setWindowTitle("Set up MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setFixedWidth(540)

        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.username.setPlaceholderText("for example: it.admin")
        self.username.setMaxLength(64)
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(f"at least {MIN_PASSWORD_LENGTH} characters")
        self.password.setMaxLength(256)
        self.repeat = QLineEdit()
        self.repeat.setObjectName("repeat")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setPlaceholderText("type the password again")
        self.repeat.setMaxLength(256)

        self.username_problems = plain_label("", "problemText", wrap=True)
        self.password_problems = plain_label("", "problemText", wrap=True)
        self.repeat_problems = plain_label("", "problemText", wrap=True)
        for label in (self.username_problems, self.password_problems, self.repeat_problems):
            label.setVisible(False)

        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.busy = busy_bar()

        self.buttons = QDialogButtonBox()
        self.create_button = QPushButton("Create administrator")
        self.create_button.setDefault(True)
        self.create_button.setAutoDefault(True)
        self.buttons.addButton(self.create_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)
        form.addRow("&User name:", _with_problems(self.username, self.username_problems))
        form.addRow("&Password:", _with_problems(self.password, self.password_problems))
        form.addRow("&Repeat password:", _with_problems(self.repeat, self.repeat_problems))
        for field in (self.username, self.password, self.repeat):
            container = field.parentWidget()
            caption = form.labelForField(container) if container is not None else None
            if isinstance(caption, QLabel):
                caption.setBuddy(field)  # Alt+U / Alt+P / Alt+R focus the field itself

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(14)
        layout.addWidget(
            dialog_header(
                "Create the first administrator",
                "This store has no accounts yet. The administrator you create now can add the other "
                "staff accounts later. Choose a long password you do not use anywhere else.",
                store_description,
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)

        self.username.textChanged.connect(self._validate)
        self.password.textChanged.connect(self._validate)
        self.repeat.textChanged.connect(self._validate)
        self._validate()
        self.username.setFocus()

    # ---- validation --------------------------------------------------------------------------

    def problems(self) -> dict[str, list[str]]:
        """Current problems per field (``username``, ``password``, ``repeat``); empty lists when fine."""
        username, password, repeat = self.username.text(), self.password.text(), self.repeat.text()
        return {
            "username": username_problems(username),
            "password": password_problems(password, username),
            "repeat": [MISMATCH] if password != repeat else [],
        }

    def is_valid(self) -> bool:
        """True when every field is acceptable."""
        return not any(self.problems().values())

    def _validate(self) -> None:
        problems = self.problems()
        # Only speak about a field once the person has typed into it.
        self._show(self.username_problems, problems["username"] if self.username.text() else [])
        self._show(self.password_problems, problems["password"] if self.password.text() else [])
        self._show(self.repeat_problems, problems["repeat"] if self.repeat.text() else [])
        self.create_button.setEnabled(self._task is None and not any(problems.values()))
        fit_height(self)

    @staticmethod
    def _show(label: QLabel, problems: list[str]) -> None:
        label.setText("\n".join(problems))
        label.setVisible(bool(problems))

    # ---- work --------------------------------------------------------------------------------

    @property
    def working(self) -> bool:
        """True while the account is being created."""
        return self._task is not None

    def submit(self) -> None:
        """Create the administrator and sign in, off the GUI thread."""
        if self._task is not None or not self.is_valid():
            return
        username, password = self.username.text(), self.password.text()
        auth = self._auth

        def create_and_sign_in() -> SessionInfo:
            auth.create_first_admin(username, password)
            return auth.sign_in(username, password)

        self._set_working(True)
        self._task = self._runner.submit(create_and_sign_in, on_done=self._created, on_error=self._create_failed)

    def _created(self, session: SessionInfo) -> None:
        self._task = None
        self._set_working(False)
        self.session = session
        self.accept()

    def _create_failed(self, exc: BaseException) -> None:
        self._task = None
        self._set_working(False)
        message = error_text(exc)
        self.error.setText(message)
        self.error.setVisible(True)
        fit_height(self)
        self.failed.emit(message)

    def _set_working(self, working: bool) -> None:
        self.busy.setVisible(working)
        for field in (self.username, self.password, self.repeat):
            field.setEnabled(not working)
        if working:
            self.error.setVisible(False)
        self._validate()

    def done(self, result: int) -> None:
        """Close the dialog; work still running is abandoned (its result is dropped)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        super().done(result)
