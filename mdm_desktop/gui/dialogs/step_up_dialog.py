"""Step-up: a fresh authenticator code before a sensitive action, asked for centrally.

How a pane uses it: it does nothing special. It submits its service call through
``ctx.runner`` as usual::

    users, principal = self.ctx.services.users, self.ctx.session.principal
    self.ctx.runner.submit(lambda: users.reset_password(principal, user_id, new_password),
                           on_done=self._reset_done, on_error=self.ctx.errors.report)

The main window installs a :class:`StepUpHandler` on its runner. When the call fails with
``StepUpRequiredError`` the handler opens a :class:`StepUpDialog`; once the code is accepted
(``SessionService.step_up`` in the runner) the *same* function runs once more and
``on_done`` gets its result, as if nothing had happened. If the person cancels, ``on_error``
gets a :class:`mdm_desktop.gui.errors.StepUpCancelledError` (the error reporter shows nothing
for it; a pane showing errors inline may say "not done"). Several calls failing together share
one dialog. The function must therefore be safe to run again, which a call refused for want of
a step-up is: the service refused before doing anything.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import SessionEndedError, StepUpRequiredError
from mdm_desktop.gui.dialogs.login_dialog import busy_bar, dialog_header, error_text, fit_height, plain_label
from mdm_desktop.gui.errors import StepUpCancelledError
from mdm_desktop.gui.resources import app_icon
from mdm_desktop.gui.session import SessionHolder
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.sessions import SessionService

log = logging.getLogger(__name__)

CODE_PATTERN = r"^\s*\d{3}\s?\d{3}\s*$"


class StepUpDialog(QDialog):
    """Asks for the current six-digit code (or, for an account without an authenticator, the password).

    The check runs in the runner; a wrong code is shown inline and may be tried again.

    Signals:
        failed(str): the code was refused; the argument is the inline message.
    """

    failed = Signal(str)

    def __init__(
        self,
        sessions: SessionService,
        holder: SessionHolder,
        runner: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self._holder = holder
        self._runner = runner
        self._task: Task | None = None
        self.session_ended: SessionEndedError | None = None
        self._uses_password = not holder.session.mfa_enrolled

        self.setWindowTitle("Confirm it is you · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setFixedWidth(440)

        self.code = QLineEdit()
        self.code.setObjectName("stepUpCode")
        if self._uses_password:
            self.code.setEchoMode(QLineEdit.EchoMode.Password)
            self.code.setPlaceholderText("Your password")
            self.code.setMaxLength(256)
            label, subtitle = (
                "&Password:",
                "This action needs you to confirm it is you. Enter your password.",
            )
        else:
            self.code.setPlaceholderText("123 456")
            self.code.setMaxLength(7)
            self.code.setValidator(QRegularExpressionValidator(CODE_PATTERN, self.code))
            self.code.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)
            label, subtitle = (
                "&Code:",
                "This action needs a fresh code. Open your authenticator app and enter the "
                "six-digit code it shows for MDM Desktop now.",
            )
        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.busy = busy_bar()

        self.buttons = QDialogButtonBox()
        self.confirm_button = QPushButton("Confirm")
        self.confirm_button.setDefault(True)
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(label, self.code)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(14)
        layout.addWidget(dialog_header("Confirm it is you", subtitle, ""))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)

        self.code.textChanged.connect(self._update_enabled)
        self._update_enabled()
        self.code.setFocus()

    def _complete(self) -> bool:
        text = self.code.text()
        if self._uses_password:
            return bool(text)
        return sum(c.isdigit() for c in text) == 6

    def _update_enabled(self) -> None:
        self.confirm_button.setEnabled(self._task is None and self._complete())

    def submit(self) -> None:
        """Check the code with the session service (in the runner)."""
        if self._task is not None or not self._complete():
            return
        sessions, principal, text = self._sessions, self._holder.session.principal, self.code.text()
        if self._uses_password:
            call = lambda: sessions.step_up(principal, password=text)  # noqa: E731
        else:
            call = lambda: sessions.step_up(principal, text.replace(" ", ""))  # noqa: E731
        self._set_working(True)
        self._task = self._runner.submit(call, on_done=self._confirmed, on_error=self._refused)

    def _confirmed(self, _status: object) -> None:
        self._task = None
        self._set_working(False)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self._task = None
        self._set_working(False)
        if isinstance(exc, SessionEndedError):
            self.session_ended = exc
            self.reject()
            return
        message = error_text(exc)
        self.error.setText(message)
        self.error.setVisible(True)
        self.code.clear()
        self.code.setFocus()
        fit_height(self)
        self.failed.emit(message)

    def _set_working(self, working: bool) -> None:
        self.busy.setVisible(working)
        self.code.setEnabled(not working)
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


class StepUpHandler(QObject):
    """Answers ``StepUpRequiredError`` from any task of ``runner``: ask for a code, then retry once.

    Args:
        sessions: The session service.
        holder: The current session.
        runner: The runner to watch (a failure hook is installed at once).
        parent: The window the dialog belongs to.

    Signals:
        dialog_opened(object): the :class:`StepUpDialog` just opened (tests answer it).
    """

    dialog_opened = Signal(object)

    def __init__(self, sessions: SessionService, holder: SessionHolder, runner: TaskRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self._holder = holder
        self._runner = runner
        self._waiting: list[tuple[Task, StepUpRequiredError]] = []
        self.dialog: StepUpDialog | None = None
        runner.add_failure_hook(self._on_task_failed)

    def uninstall(self) -> None:
        """Stop answering failures (the window is closing)."""
        self._runner.remove_failure_hook(self._on_task_failed)

    def _on_task_failed(self, task: Task, exc: BaseException) -> bool:
        if not isinstance(exc, StepUpRequiredError) or isinstance(exc, StepUpCancelledError):
            return False
        if task.retries > 0 or task.fn is None:
            return False  # asked once already: let the task see the error
        self._waiting.append((task, exc))
        if self.dialog is None:
            window = self.parent()
            self.dialog = StepUpDialog(
                self._sessions, self._holder, self._runner, window if isinstance(window, QWidget) else None
            )
            self.dialog.finished.connect(self._finished)
            self.dialog.open()
            self.dialog_opened.emit(self.dialog)
        return True

    def _finished(self, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        waiting, self._waiting = self._waiting, []
        ended = dialog.session_ended if dialog is not None else None
        if dialog is not None:
            dialog.deleteLater()
        for task, exc in waiting:
            if result == QDialog.DialogCode.Accepted:
                self._runner.retry(task)
            elif ended is not None:
                self._runner.fail(task, ended)
            else:
                self._runner.fail(task, StepUpCancelledError(exc.action))
