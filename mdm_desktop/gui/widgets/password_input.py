"""A new-password field with a live strength meter and the site's policy problems, inline.

Reuse it wherever a password is chosen (first administrator, create user, reset or change
password)::

    self.password = PasswordInput(ctx.services.auth, ctx.runner, self)
    self.password.acceptable_changed.connect(self.ok_button.setEnabled)
    self.username.textChanged.connect(lambda name: self.password.set_context(username=name))
    ...
    new_password = self.password.password()  # only once is_acceptable() is True

The check runs in the task runner (never on the GUI thread), at most once per pause in
typing (debounced by :data:`DEBOUNCE_MS`); a reply for an older text is dropped.
"""

from __future__ import annotations

import logging
from typing import Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.dto import PasswordFeedback

log = logging.getLogger(__name__)

DEBOUNCE_MS = 250
MAX_SCORE = 4
MISMATCH = "The two passwords are not the same."
CHECK_FAILED = "The password could not be checked just now. Keep typing or try again."
LEVELS = ("weak", "weak", "fair", "strong", "strong")
"""The meter's colour level per score (a dynamic property the style sheet keys on)."""


class PasswordAssessor(Protocol):
    """Anything that rates a candidate password (:class:`mdm_desktop.services.auth.AuthService`)."""

    def assess_password(self, password: str, username: str = "", display_name: str = "") -> PasswordFeedback:
        """Rate ``password`` against the site's policy."""
        ...


def _plain(text: str = "", object_name: str = "") -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    label.setWordWrap(True)
    if object_name:
        label.setObjectName(object_name)
    return label


class PasswordInput(QWidget):
    """Password (and, by default, the same password again) with a strength meter and inline problems.

    Args:
        assessor: Rates passwords (the auth service); called in ``runner``.
        runner: Where the checks run.
        parent: Parent widget.
        confirm: Ask for the password twice.
        labels: Put "Password:" / "Again:" labels in front of the fields (off when the caller's form
            supplies its own labels for :attr:`password_edit` and :attr:`repeat_edit`).
        debounce_ms: Pause in typing before a check starts.

    Signals:
        acceptable_changed(bool): :meth:`is_acceptable` changed.
        checked(object): a :class:`PasswordFeedback` for the current text arrived.
    """

    acceptable_changed = Signal(bool)
    checked = Signal(object)

    def __init__(
        self,
        assessor: PasswordAssessor,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        confirm: bool = True,
        labels: bool = True,
        debounce_ms: int = DEBOUNCE_MS,
    ) -> None:
        super().__init__(parent)
        self._assessor = assessor
        self._runner = runner
        self._username = ""
        self._display_name = ""
        self._generation = 0
        self._task: Task | None = None
        self._acceptable = False
        self.feedback: PasswordFeedback | None = None
        """The reading for the current text (``None`` while a check is pending)."""

        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("newPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setMaxLength(256)
        self.password_edit.setPlaceholderText("At least 12 characters; a few unrelated words work well")
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setObjectName("repeatPassword")
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit.setMaxLength(256)
        self.repeat_edit.setPlaceholderText("The same password again")
        self.repeat_edit.setVisible(confirm)
        self._confirm = confirm

        self.meter = QProgressBar()
        self.meter.setObjectName("strengthMeter")
        self.meter.setRange(0, MAX_SCORE)
        self.meter.setValue(0)
        self.meter.setTextVisible(False)
        self.meter.setFixedHeight(8)
        self.meter.setAccessibleName("Password strength")
        self.meter.setProperty("level", "none")
        self.strength_label = _plain("", "strengthLabel")
        self.strength_label.setWordWrap(False)
        self.strength_label.setMinimumWidth(90)
        self.problems_label = _plain("", "problemText")
        self.problems_label.setVisible(False)
        self.mismatch_label = _plain(MISMATCH, "problemText")
        self.mismatch_label.setVisible(False)
        self.show_check = QCheckBox("Show passwords" if confirm else "Show password")
        self.show_check.setObjectName("showPassword")
        self.show_check.toggled.connect(self._show_toggled)

        meter_row = QHBoxLayout()
        meter_row.setContentsMargins(0, 0, 0, 0)
        meter_row.setSpacing(8)
        meter_row.addWidget(self.meter, 1)
        meter_row.addWidget(self.strength_label)

        first = QVBoxLayout()
        first.setContentsMargins(0, 0, 0, 0)
        first.setSpacing(4)
        first.addWidget(self.password_edit)
        first.addLayout(meter_row)
        first.addWidget(self.problems_label)
        second = QVBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        second.setSpacing(4)
        second.addWidget(self.repeat_edit)
        second.addWidget(self.mismatch_label)
        second.addWidget(self.show_check)

        if labels:
            form = QFormLayout(self)
            form.setContentsMargins(0, 0, 0, 0)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setVerticalSpacing(10)
            form.addRow("&Password:", first)
            if confirm:
                form.addRow("&Again:", second)
            else:
                form.addRow("", second)
        else:
            column = QVBoxLayout(self)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(8)
            column.addLayout(first)
            column.addLayout(second)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self._check)
        self.password_edit.textChanged.connect(self._password_edited)
        self.repeat_edit.textChanged.connect(self._update_acceptable)

    # ---- public ----------------------------------------------------------------------------------

    def password(self) -> str:
        """The password as typed (never stripped)."""
        return self.password_edit.text()

    def is_acceptable(self) -> bool:
        """True when the site's policy accepts the password and (if asked twice) both copies match."""
        return self._acceptable

    def set_context(self, *, username: str | None = None, display_name: str | None = None) -> None:
        """Tell the check who the password is for (a password built on these is refused); re-checks."""
        changed = False
        if username is not None and username != self._username:
            self._username = username
            changed = True
        if display_name is not None and display_name != self._display_name:
            self._display_name = display_name
            changed = True
        if changed and self.password_edit.text():
            self._password_edited()

    def clear(self) -> None:
        """Empty both fields and the meter."""
        self.password_edit.clear()
        self.repeat_edit.clear()

    def check_now(self) -> None:
        """Start the check at once instead of after the typing pause."""
        self._debounce.stop()
        self._check()

    # ---- internals -------------------------------------------------------------------------------

    def _show_toggled(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.password_edit.setEchoMode(mode)
        self.repeat_edit.setEchoMode(mode)

    def _password_edited(self) -> None:
        self._generation += 1
        self.feedback = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._update_acceptable()
        if not self.password_edit.text():
            self._debounce.stop()
            self._show(None)
            return
        self._debounce.start()

    def _check(self) -> None:
        text = self.password_edit.text()
        if not text:
            return
        generation = self._generation
        assessor, username, display = self._assessor, self._username, self._display_name
        self._task = self._runner.submit(
            lambda: assessor.assess_password(text, username, display),
            on_done=lambda feedback: self._arrived(generation, feedback),
            on_error=lambda exc: self._failed(generation, exc),
        )

    def _arrived(self, generation: int, feedback: PasswordFeedback) -> None:
        if generation != self._generation:
            return
        self._task = None
        self.feedback = feedback
        self._show(feedback)
        self._update_acceptable()
        self.checked.emit(feedback)

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._task = None
        log.info("Password check failed: %s", exc)
        self.feedback = None
        self._show(None)
        self.problems_label.setText(CHECK_FAILED)
        self.problems_label.setVisible(True)
        self._update_acceptable()

    def _show(self, feedback: PasswordFeedback | None) -> None:
        if feedback is None:
            self.meter.setValue(0)
            self._set_level("none")
            self.strength_label.setText("")
            self.problems_label.setVisible(False)
            return
        self.meter.setValue(max(feedback.score, 1))
        self._set_level(LEVELS[max(0, min(feedback.score, MAX_SCORE))])
        self.strength_label.setText(feedback.label)
        lines = list(feedback.problems)
        if not lines and feedback.suggestions and feedback.score < MAX_SCORE:
            lines = [f"Tip: {feedback.suggestions[0]}"]
        self.problems_label.setObjectName("problemText" if feedback.problems else "hintText")
        self._repolish(self.problems_label)
        self.problems_label.setText("\n".join(lines))
        self.problems_label.setVisible(bool(lines))

    def _set_level(self, level: str) -> None:
        if self.meter.property("level") != level:
            self.meter.setProperty("level", level)
            self._repolish(self.meter)

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        style = widget.style()
        style.unpolish(widget)
        style.polish(widget)

    def _update_acceptable(self) -> None:
        password, repeat = self.password_edit.text(), self.repeat_edit.text()
        mismatch = self._confirm and bool(repeat) and repeat != password
        self.mismatch_label.setVisible(mismatch)
        acceptable = (
            self.feedback is not None
            and self.feedback.acceptable
            and bool(password)
            and (not self._confirm or repeat == password)
        )
        if acceptable != self._acceptable:
            self._acceptable = acceptable
            self.acceptable_changed.emit(acceptable)
