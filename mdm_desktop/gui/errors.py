"""The one place errors reach the user: plain words, what to do, details on request.

Two console-security errors are answered elsewhere and do not open a message box here:

- ``SessionEndedError`` when the window shows the lock screen for it
  (:attr:`ErrorReporter.session_end_shown_elsewhere`);
- :class:`StepUpCancelledError`: the person closed the step-up dialog, they know.

A ``StepUpRequiredError`` normally never gets here: the main window's runner asks for a
fresh code and retries the call (see :mod:`mdm_desktop.gui.dialogs.step_up_dialog`).
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from mdm_desktop.domain.accounts import SessionEndedError, StepUpRequiredError
from mdm_desktop.domain.errors import (
    AuthenticationError,
    ConflictError,
    KeyMaterialError,
    MdmError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    ValidationError,
)

log = logging.getLogger(__name__)

_TITLES: dict[type[MdmError], str] = {
    ValidationError: "Please check your input",
    NotFoundError: "Not found",
    PermissionDeniedError: "Not allowed",
    AuthenticationError: "Sign-in failed",
    ConflictError: "Cannot do that now",
    StoreError: "Database problem",
    KeyMaterialError: "Encryption key problem",
}


class StepUpCancelledError(StepUpRequiredError):
    """The action needed a fresh authenticator code and the person cancelled the step-up dialog."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.message = "The action was not done: it needs a fresh code from your authenticator app."
        self.hint = "Try again when you have the app at hand."


@dataclass(frozen=True, slots=True)
class ErrorText:
    """What the error dialog shows."""

    title: str
    message: str
    hint: str
    details: str


def describe_error(exc: BaseException) -> ErrorText:
    """Turn any exception into text for a person; never a stack trace in the message."""
    if isinstance(exc, MdmError):
        title = next((t for cls, t in _TITLES.items() if isinstance(exc, cls)), "Something went wrong")
        return ErrorText(title, exc.message, exc.hint, exc.details)
    details = "".join(traceback.format_exception(exc)).strip()
    return ErrorText(
        "Something went wrong",
        "MDM Desktop ran into an unexpected problem and did not finish the action.",
        "Try again. If it happens again, send the details to your IT support.",
        details,
    )


class ErrorReporter:
    """Shows errors in a message box parented to ``parent``."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self.last: ErrorText | None = None
        self.session_end_shown_elsewhere = False
        """True when the window answers ``SessionEndedError`` with its lock screen."""

    def is_shown_elsewhere(self, exc: BaseException) -> bool:
        """True for errors another part of the window already answers (see the module docstring)."""
        if isinstance(exc, StepUpCancelledError):
            return True
        return self.session_end_shown_elsewhere and isinstance(exc, SessionEndedError)

    def report(self, exc: BaseException) -> None:
        """Log ``exc`` and show it to the user."""
        if self.is_shown_elsewhere(exc):
            log.info("%s: %s (answered elsewhere)", type(exc).__name__, exc)
            return
        text = describe_error(exc)
        self.last = text
        if isinstance(exc, MdmError):
            log.info("%s: %s", type(exc).__name__, exc.message)
        else:
            log.error("Unexpected error", exc_info=exc)
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(text.title)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(text.message)
        if text.hint:
            box.setInformativeText(text.hint)
        if text.details:
            box.setDetailedText(text.details)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.open()
