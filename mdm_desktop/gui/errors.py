"""The one place errors reach the user: plain words, what to do, details on request."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

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

    def report(self, exc: BaseException) -> None:
        """Log ``exc`` and show it to the user."""
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
