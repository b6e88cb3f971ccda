"""The catalog pane's "Add build…" dialog: choose a file and a version, store it with a progress bar.

The file is read, hashed and stored on a worker thread (``CatalogService.add_build``); its progress
crosses to the GUI thread through :class:`UploadProgressRelay`. While it runs the dialog cannot be
closed (the store either gets the whole build or nothing, so there is nothing to clean up after an
error); an error is shown in the dialog with what to do, and the fields stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
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
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.dto import CatalogAppSummary, CatalogAppVersionInfo

PACKAGE_FILTER = "App packages (*.msi *.msix *.exe *.pkg *.dmg *.apk *.ipa *.deb *.rpm *.tar.gz *.zip);;All files (*)"


class UploadProgressRelay(QObject):
    """Lives on the GUI thread; the worker emits :attr:`progressed` (bytes stored, file size) across threads."""

    progressed = Signal(int, int)


class AddBuildDialog(QDialog):
    """Store a new build of one catalog app.

    Args:
        ctx: The pane context (services, session, task runner).
        app: The catalog app the build belongs to.
        on_added: Called with the new version once it is stored.
        parent: The parent widget.
    """

    def __init__(
        self,
        ctx: PaneContext,
        app: CatalogAppSummary,
        on_added: Callable[[CatalogAppVersionInfo], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Add build of {app.name}")
        self.setObjectName("addBuildDialog")
        self.setMinimumWidth(560)
        self._ctx = ctx
        self._app = app
        self._on_added = on_added
        self._task: Task | None = None
        self.relay = UploadProgressRelay(self)
        self.relay.progressed.connect(self._progressed)

        intro = QLabel(
            f"The file is stored in the clinic's database with its SHA-256, so every gateway can send it to "
            f"devices. An install command for {app.name} sends the newest build."
        )
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("Installer or package file (at most 1 GiB)")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.browse_button)
        self.version_edit = QLineEdit()
        self.version_edit.setPlaceholderText("For example 4.2.1")
        self.version_edit.setMaxLength(64)
        form = QFormLayout()
        form.addRow("File", file_row)
        form.addRow("Version", self.version_edit)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setVisible(False)
        self.message = QLabel("")
        self.message.setObjectName("errorText")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.add_button = self.buttons.addButton("Add build", QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setDefault(True)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    @property
    def busy(self) -> bool:
        """Whether the build is being stored."""
        return self._task is not None

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose the build's file", "", PACKAGE_FILTER)
        if chosen:
            self.file_edit.setText(chosen)

    def _show_error(self, title: str, hint: str = "") -> None:
        self.message.setText(f"{title} {hint}".strip())
        self.message.setVisible(True)

    def start(self) -> None:
        """Check the fields, then store the build on a worker thread."""
        if self.busy:
            return
        path_text, version = self.file_edit.text().strip(), self.version_edit.text().strip()
        if not path_text:
            self._show_error("Choose the build's file.")
            return
        if not version:
            self._show_error("Enter the build's version.", "It must differ from the versions already added.")
            return
        path = Path(path_text).expanduser()
        if not path.is_file():
            self._show_error(f"{path} is not a file.", "Choose the installer or package file.")
            return
        self.message.setVisible(False)
        self._set_busy(True)
        catalog, principal, app_id, relay = (
            self._ctx.services.catalog,
            self._ctx.session.principal,
            self._app.id,
            self.relay,
        )

        def work() -> CatalogAppVersionInfo:
            return catalog.add_build(principal, app_id, path, version, progress=relay.progressed.emit)

        self._task = self._ctx.runner.submit(work, on_done=self._done, on_error=self._failed)

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.file_edit, self.browse_button, self.version_edit, self.add_button):
            widget.setEnabled(not busy)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setEnabled(not busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            self.progress.setFormat("Reading and storing… %p%")

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setValue(int(done * 100 / total) if total > 0 else 100)

    def _done(self, info: CatalogAppVersionInfo) -> None:
        self._task = None
        self._set_busy(False)
        self._on_added(info)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self._set_busy(False)
        if isinstance(exc, MdmError):
            self._show_error(exc.message, exc.hint)
        else:
            self._show_error("The build could not be stored.", f"{exc}. Nothing was added; try again.")

    def reject(self) -> None:
        if not self.busy:  # nothing to interrupt: the store gets the whole build or nothing
            super().reject()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.busy and event.key() == Qt.Key.Key_Escape:
            event.ignore()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.busy:
            event.ignore()
            return
        super().closeEvent(event)
