"""The Audit pane's **Export…** dialog: a signed export of the filtered time range, in the background.

It runs the same service as ``mdm-desktop audit export`` (:meth:`AuditExportService.export`): every
entry of the time range, as CSV or JSON Lines, with a detached signature (``FILE.sig.json``) that
``mdm-desktop audit verify-export`` checks offline. A signed export is a contiguous run of the chain,
so the pane's other filters (actor, action, outcome, search text) are not applied; the dialog says so.
The export runs on the task runner with a progress bar and Cancel (nothing is left on disk, signed or
audited when cancelled), and ends with a plain message: what was written where, or what went wrong.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.gui.errors import describe_error
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.audit_export import ExportCancelledError, ExportFormat, signature_path
from mdm_desktop.services.dto import AuditExportResult, AuditQuery

EXPORT_SHORTCUT = "Ctrl+Shift+X"
FORMATS = ((ExportFormat.CSV, "CSV (spreadsheets)", "CSV files (*.csv)"),
           (ExportFormat.JSONL, "JSON Lines (scripts, SIEM)", "JSON Lines files (*.jsonl)"))  # fmt: skip


def range_text(query: AuditQuery) -> str:
    """The query's time range in words (local dates as the filter bar shows them)."""

    def day(moment: dt.datetime) -> str:
        return moment.astimezone().strftime("%Y-%m-%d")

    if query.since is None and query.until is None:
        return "Every entry of the audit trail"
    if query.since is None:
        assert query.until is not None
        return f"Every entry before {day(query.until)}"
    if query.until is None:
        return f"Every entry from {day(query.since)} on"
    last = query.until - dt.timedelta(microseconds=1)
    return f"Every entry from {day(query.since)} to {day(last)} (both included)"


def unapplied_filters(query: AuditQuery) -> list[str]:
    """The filter bar's filters a signed export does not apply (it covers the whole time range)."""
    named = (("actor", query.actor), ("action", query.action), ("search text", query.text), ("identifier", query.value))
    out = [name for name, value in named if value]
    if query.outcome is not None:
        out.insert(2, "outcome")
    return out


class _ProgressRelay(QObject):
    """Carries progress from the worker thread to the GUI thread (a queued signal)."""

    progressed = Signal(int, int, int)


class AuditExportDialog(QDialog):
    """Choose a format and a file, export the filtered time range with its signature, report the outcome."""

    finished_export = Signal(object)
    """The export ended: the :class:`AuditExportResult`, or the exception (cancelled or failed)."""

    def __init__(self, ctx: PaneContext, query: AuditQuery, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.query = query
        self.export_result: AuditExportResult | None = None
        self._task: Task | None = None
        self._stop: threading.Event | None = None
        self._generation = 0
        self._relay = _ProgressRelay(self)
        self._relay.progressed.connect(self._progressed)
        self.setWindowTitle("Export the audit trail")
        self.setMinimumSize(660, 360)

        intro = QLabel(
            "Writes the entries with a detached signature (FILE.sig.json) that anyone can check offline with "
            "'mdm-desktop audit verify-export FILE'. The export itself is recorded in the audit trail."
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.range_label = QLabel(range_text(query))
        self.range_label.setObjectName("exportRange")
        self.range_label.setTextFormat(Qt.TextFormat.PlainText)
        skipped = unapplied_filters(query)
        self.filters_note = QLabel(
            f"Not applied: the {', '.join(skipped)} filter{'s' if len(skipped) > 1 else ''}. A signed export holds "
            "every entry of its time range, so that it can be checked as an unbroken part of the chain."
            if skipped
            else ""
        )
        self.filters_note.setObjectName("mutedText")
        self.filters_note.setWordWrap(True)
        self.filters_note.setTextFormat(Qt.TextFormat.PlainText)
        self.filters_note.setVisible(bool(skipped))

        self.format_combo = QComboBox()
        for fmt, label, _pattern in FORMATS:
            self.format_combo.addItem(label, fmt.value)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.path_edit = QLineEdit(str(Path.home() / self._default_name()))
        self.path_edit.setObjectName("exportPath")
        self.path_edit.textChanged.connect(self._path_changed)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        entries_box = QVBoxLayout()
        entries_box.setContentsMargins(0, 0, 0, 0)
        entries_box.addWidget(self.range_label)
        entries_box.addWidget(self.filters_note)
        form = QFormLayout()
        form.addRow("Entries", entries_box)
        form.addRow("Format", self.format_combo)
        form.addRow("Save to", path_row)

        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.hide()
        self.message = QLabel("")
        self.message.setObjectName("exportMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("exportButton")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelExportButton")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        self.cancel_button.hide()
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addLayout(buttons)

    # ---- choosing ----------------------------------------------------------------------------------

    @property
    def file_format(self) -> ExportFormat:
        """The chosen format."""
        return ExportFormat(self.format_combo.currentData())

    def _default_name(self) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        fmt = ExportFormat(self.format_combo.currentData()) if hasattr(self, "format_combo") else ExportFormat.CSV
        return f"audit-export-{stamp}.{fmt.value}"

    def _format_changed(self) -> None:
        path = Path(self.path_edit.text().strip())
        if path.suffix.lower() in {f".{fmt.value}" for fmt, *_ in FORMATS}:
            self.path_edit.setText(str(path.with_suffix(f".{self.file_format.value}")))

    def _path_changed(self) -> None:
        self.export_button.setEnabled(bool(self.path_edit.text().strip()) and not self.running)

    def browse(self) -> None:
        """Ask where to save the export (the signature goes next to it)."""
        chosen = self.choose_file(self.path_edit.text().strip())
        if chosen:
            self.path_edit.setText(chosen)

    def choose_file(self, suggested: str) -> str:
        """The file dialog; ``""`` when the person declines (tests replace this)."""
        pattern = next(p for fmt, _label, p in FORMATS if fmt is self.file_format)
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Save the audit export", suggested, f"{pattern};;All files (*)"
        )
        return chosen

    def confirm_replace(self, existing: Path) -> bool:
        """Ask before replacing an existing file (tests replace this)."""
        answer = QMessageBox.question(
            self,
            "Replace the file?",
            f"{existing} already exists. Replace it (and its signature file)?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # ---- running -----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while an export runs."""
        return self._task is not None

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setObjectName("errorText" if error else "exportMessage")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def start(self) -> None:
        """Export in the background (after asking before replacing a file)."""
        if self.running:
            return
        typed = self.path_edit.text().strip()
        if not typed:
            self._show_message("Choose the file to save the export to.", error=True)
            return
        path = Path(typed).expanduser()
        if path.is_dir():
            self._show_message(f"{path} is a folder. Give a file name.", error=True)
            return
        existing = next((p for p in (path, signature_path(path)) if p.exists()), None)
        if existing is not None and not self.confirm_replace(existing):
            return
        service, principal = self.ctx.services.audit_export, self.ctx.session.principal
        since, until, fmt = self.query.since, self.query.until, self.file_format
        self._generation += 1
        generation, stop = self._generation, threading.Event()
        emit = self._relay.progressed.emit  # safe from any thread: Qt queues it to the GUI thread

        def run() -> AuditExportResult:
            return service.export(
                principal,
                since,
                until,
                fmt,
                path,
                progress=lambda done, total: emit(generation, done, total),
                should_stop=stop.is_set,
            )

        self._stop = stop
        self.export_result = None
        self._show_message("Exporting…")
        self.progress.setRange(0, 0)  # busy until the first figures arrive
        self.progress.show()
        for widget in (self.export_button, self.close_button, self.format_combo, self.path_edit, self.browse_button):
            widget.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.cancel_button.show()
        self._task = self.ctx.runner.submit(run, on_done=self._done, on_error=self._failed)

    def cancel(self) -> None:
        """Stop the running export after its current batch (nothing is kept)."""
        if self._stop is None:
            return
        self._stop.set()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")

    @Slot(int, int, int)
    def _progressed(self, generation: int, done: int, total: int) -> None:
        if generation != self._generation or not self.running:
            return
        total = max(total, done, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self._show_message(f"Exported {done:,} of {total:,} entries…")

    def _ended(self) -> None:
        self._task = None
        self._stop = None
        self.progress.hide()
        self.cancel_button.hide()
        for widget in (self.close_button, self.format_combo, self.path_edit, self.browse_button):
            widget.setEnabled(True)
        self._path_changed()

    def _done(self, result: AuditExportResult) -> None:
        self._ended()
        self.export_result = result
        span = f"entries #{result.first_seq} to #{result.last_seq}" if result.count else "no entries in that range"
        self._show_message(
            f"Exported {result.count:,} {'entry' if result.count == 1 else 'entries'} ({span}) to {result.path}, "
            f"signed with key {result.checkpoint.key_fingerprint} in {result.signature_path}.\n"
            "Keep the two files together; anyone can check them with 'mdm-desktop audit verify-export'."
        )
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        self.finished_export.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._ended()
        if isinstance(exc, ExportCancelledError):
            self._show_message(exc.message + " " + exc.hint)
        else:
            text = describe_error(exc)
            self._show_message(f"{text.message} {text.hint}".strip(), error=True)
        self.finished_export.emit(exc)

    def reject(self) -> None:
        """Close, unless an export runs (Cancel it first)."""
        if self.running:
            return
        super().reject()
