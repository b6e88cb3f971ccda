"""Import a policy file (Apple profile, Android policy, the console's own file) as a new policy's draft.

Choosing a file reads and checks it (off the GUI thread) and previews the settings it states, the
keys that have no setting here, and notes; "Create policy" then creates the policy (the service
checks the file again: nothing is written for a malformed or hostile file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_settings import PolicySettings
from mdm_desktop.domain.policy_words import describe_changes
from mdm_desktop.exports.settings_json import MAX_FILE_BYTES
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.policy_dialog_base import TaskDialog, plain_label
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.policies import NAME_MAX
from mdm_desktop.services.policy_imports import ImportFormat, PolicyFileImport, read_policy_file


def guess_format(path: str) -> ImportFormat:
    """The likely format of a file, from its name."""
    lower = path.lower()
    if lower.endswith(".mobileconfig"):
        return ImportFormat.MOBILECONFIG
    if lower.endswith(".policy.json"):
        return ImportFormat.JSON
    return ImportFormat.ANDROID if lower.endswith(".json") else ImportFormat.MOBILECONFIG


def read_file(path: Path) -> bytes:
    """The file's bytes (one byte more than the limit at most, so the size check can say it is too large).

    Raises:
        ValidationError: The file cannot be read.
    """
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"Cannot read {path.name}: {exc.strerror}.", hint="Choose another file.") from None


def preview_lines(imported: PolicyFileImport) -> list[str]:
    """What the preview shows: settings that differ from the defaults, unmapped keys, notes."""
    changes = describe_changes(PolicySettings().to_dict(), imported.settings)
    lines = [f"Name in the file: {imported.name}", ""]
    lines.append(f"Settings stated by the file ({len(changes)} differ from the defaults):")
    lines.extend(f"  {c.group} › {c.label}: {c.new}" for c in changes)
    lines.append("")
    if imported.unmapped:
        lines.append(f"Not imported ({len(imported.unmapped)}; no matching setting):")
        lines.extend(f"  {u}" for u in imported.unmapped)
    else:
        lines.append("Every key of the file was imported.")
    if imported.notes:
        lines.append("")
        lines.extend(imported.notes)
    return lines


class ImportPolicyDialog(TaskDialog):
    """Choose a file and its format, preview, then create a policy from it.

    Signals:
        previewed(object): the :class:`PolicyFileImport` read from the chosen file (or the error).
    """

    previewed = Signal(object)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Import policy", "Create policy", parent)
        intro = plain_label(
            "Create a policy whose draft holds the settings of an Apple configuration profile, an Android "
            "Management API policy, or an MDM Desktop policy file. What has no matching setting is listed."
        )
        intro.setWordWrap(True)
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("importPath")
        self.path_edit.editingFinished.connect(self.preview)
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.format_combo = QComboBox()
        for fmt in ImportFormat:
            self.format_combo.addItem(fmt.label, fmt.value)
        self.format_combo.currentIndexChanged.connect(self.preview)
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(NAME_MAX)
        self.name_edit.setPlaceholderText("Default: the name in the file")
        form = QFormLayout()
        form.addRow("File", path_row)
        form.addRow("Format", self.format_combo)
        form.addRow("Policy name", self.name_edit)
        self.preview_view = QPlainTextEdit()
        self.preview_view.setObjectName("importPreview")
        self.preview_view.setReadOnly(True)
        self.preview_view.setPlaceholderText("Choose a file to see what it holds.")
        self.body.addWidget(intro)
        self.body.addLayout(form)
        self.body.addWidget(plain_label("Preview", "sectionTitle"))
        self.body.addWidget(self.preview_view, 1)
        self.imported: PolicyFileImport | None = None
        self._data: bytes | None = None
        self._preview_task: Task | None = None
        self.ok_button.setEnabled(False)
        self.resize(720, 600)

    def chosen_format(self) -> ImportFormat:
        """The format picked."""
        return ImportFormat(self.format_combo.currentData())

    def browse(self) -> None:
        """Choose the file with the system's open dialog."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Import policy", folder, "Policy files (*.mobileconfig *.json);;All files (*)"
        )
        if path:
            self.set_path(path)

    def set_path(self, path: str) -> None:
        """Use the file at ``path`` (its format guessed from its name) and preview it."""
        self.path_edit.setText(path)
        self.format_combo.blockSignals(True)
        self.format_combo.setCurrentIndex(self.format_combo.findData(guess_format(path).value))
        self.format_combo.blockSignals(False)
        self.preview()

    def preview(self) -> None:
        """Read and check the chosen file off the GUI thread, then show what it holds."""
        text = self.path_edit.text().strip()
        self.imported = None
        self._data = None
        self.ok_button.setEnabled(False)
        if not text:
            return
        if self._preview_task is not None:
            self._preview_task.cancel()
        path, fmt = Path(text), self.chosen_format()

        def work() -> tuple[bytes, PolicyFileImport]:
            data = read_file(path)
            return data, read_policy_file(data, fmt, path.name)

        self.preview_view.setPlainText("Reading the file…")
        self._preview_task = self.ctx.runner.submit(work, on_done=self._preview_done, on_error=self._preview_failed)

    def _preview_done(self, result: tuple[bytes, PolicyFileImport]) -> None:
        self._preview_task = None
        self._data, self.imported = result
        self.preview_view.setPlainText("\n".join(preview_lines(self.imported)))
        self.show_error("")
        self.ok_button.setEnabled(True)
        self.previewed.emit(self.imported)

    def _preview_failed(self, exc: BaseException) -> None:
        self._preview_task = None
        if not isinstance(exc, ValidationError):
            self.ctx.errors.report(exc)
            return
        details = f"\n\n{exc.details}" if exc.details else ""
        self.preview_view.setPlainText(f"This file cannot be imported.{details}")
        self.show_error(f"{exc.message} {exc.hint}".strip())
        self.previewed.emit(exc)

    def work(self) -> Callable[[], Any] | None:
        if self._data is None or self.imported is None:
            self.show_error("Choose a policy file first.")
            return None
        data, fmt, source = self._data, self.chosen_format(), Path(self.path_edit.text()).name
        name = self.name_edit.text().strip() or None
        service, principal = self.ctx.services.policies, self.ctx.session.principal
        return lambda: service.import_policy(principal, data, name, source, fmt)

    def reject(self) -> None:
        if self._preview_task is not None:
            self._preview_task.cancel()
            self._preview_task = None
        super().reject()
