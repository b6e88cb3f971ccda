"""Building blocks shared by the policy pane and its dialogs: plain labels, flat trees, and task dialogs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.errors import ConflictError, NotFoundError, ValidationError
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.tasks import Task


def make_tree(columns: list[str], object_name: str) -> QTreeWidget:
    """A read-only, flat-looking tree widget with ``columns``."""
    tree = QTreeWidget()
    tree.setObjectName(object_name)
    tree.setColumnCount(len(columns))
    tree.setHeaderLabels(columns)
    tree.setAlternatingRowColors(True)
    tree.setUniformRowHeights(True)
    tree.setStyleSheet("QTreeWidget::item { padding: 3px 2px; }")
    return tree


def fit_columns(tree: QTreeWidget, stretch: int) -> None:
    """Columns as wide as their content, except ``stretch``, which takes the remaining width."""
    header = tree.header()
    header.setStretchLastSection(False)
    for column in range(tree.columnCount()):
        mode = QHeaderView.ResizeMode.Stretch if column == stretch else QHeaderView.ResizeMode.ResizeToContents
        header.setSectionResizeMode(column, mode)


def plain_label(text: str = "", object_name: str = "") -> QLabel:
    """A label that never interprets its text as markup."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if object_name:
        label.setObjectName(object_name)
    return label


# ---- dialogs --------------------------------------------------------------------------------------


class TaskDialog(QDialog):
    """A dialog whose OK button runs a service call; expected errors stay inline so the user can fix them.

    Signals:
        succeeded(object): the call's result, after the dialog accepted.
    """

    succeeded = Signal(object)

    def __init__(self, ctx: PaneContext, title: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(title)
        self.setModal(True)
        self.heading = plain_label(title, "dialogTitle")
        self.error_label = plain_label("", "errorText")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.addButton(ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setDefault(True)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        if cancel is not None:
            cancel.setAutoDefault(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.body = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addLayout(self.body, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self._task: Task | None = None

    def work(self) -> Callable[[], Any] | None:
        """The service call to run (on a worker thread), or ``None`` when the input is not ready."""
        raise NotImplementedError

    def submit(self) -> None:
        """Run :meth:`work` through the task runner; close on success."""
        if self._task is not None:
            return
        fn = self.work()
        if fn is None:
            return
        self.show_error("")
        self.ok_button.setEnabled(False)
        self._task = self.ctx.runner.submit(fn, on_done=self._done, on_error=self._failed)

    def show_error(self, text: str) -> None:
        """Show ``text`` inline (hide the message when empty)."""
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _done(self, result: object) -> None:
        self._task = None
        self.ok_button.setEnabled(True)
        self.accept()
        self.succeeded.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.ok_button.setEnabled(True)
        if isinstance(exc, ValidationError | ConflictError | NotFoundError):
            self.show_error(f"{exc.message} {exc.hint}".strip())
        else:
            self.ctx.errors.report(exc)

    def reject(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        super().reject()
