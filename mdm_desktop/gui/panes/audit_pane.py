"""The Audit log pane: a paged table, newest first, a filter bar, and the selected entry in plain text.

The header also shows the tamper-evident chain (issue 5): a badge with the last verification's outcome,
**Verify now** (progress bar, Cancel; the pane stays usable meanwhile), **Make checkpoint…** (signs a
checkpoint and offers to save it to a file), and a warning banner when the chain no longer extends the
checkpoint this workstation remembers (checked once, when the pane is first opened).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

from PySide6.QtCore import QDate, QItemSelection, QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.gui.models.audit_table_model import COLUMNS, AuditTableModel, format_time_seconds
from mdm_desktop.gui.panes.audit_chain_widgets import (
    ChainBadge,
    ChainWarningBanner,
    LastVerification,
    VerifyProgressRelay,
    load_last_verification,
    problem_text,
    reveal,
    save_last_verification,
)
from mdm_desktop.gui.panes.audit_export_dialog import EXPORT_SHORTCUT, AuditExportDialog
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.audit import SEARCH_MIN_CHARS
from mdm_desktop.services.audit_chain import VerifyCancelledError, checkpoint_to_json, write_file_atomically
from mdm_desktop.services.dto import (
    AuditCheckpoint,
    AuditEntryInfo,
    AuditFilterChoices,
    AuditQuery,
    AuditVerifyReport,
    CheckpointStatus,
)

DEBOUNCE_MS = 300
NO_SELECTION_TEXT = "Select an entry to see everything it records."
FIELD_LIMIT = 2_000
"""Longest single field (actor, target, …) shown in the detail view."""
DETAILS_LIMIT = 20_000
"""Longest details text shown in the detail view (a megabyte on one line would freeze the text layout)."""
VERIFY_SHORTCUT = "Ctrl+Shift+V"
CHECKPOINT_SHORTCUT = "Ctrl+Shift+K"


def local_midnight_utc(day: QDate) -> dt.datetime:
    """The start of ``day`` in local time, as a UTC datetime."""
    return dt.datetime(day.year(), day.month(), day.day()).astimezone().astimezone(dt.UTC)


def pretty_details(details: str) -> str:
    """The canonical details JSON indented for reading (as-is if it is not JSON)."""
    try:
        value = json.loads(details)
    except ValueError:
        return details
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters not shown)"


def entry_text(entry: AuditEntryInfo) -> str:
    """Everything one entry records, as plain text (very long fields cut, invisible characters revealed)."""
    utc = entry.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")

    def field(text: str) -> str:
        return reveal(shorten(text, FIELD_LIMIT))

    target = f"{entry.target_kind + ': ' if entry.target_kind else ''}{entry.target or '—'}"
    details = entry.details if len(entry.details) > DETAILS_LIMIT else pretty_details(entry.details)
    lines = [
        f"Entry       {entry.id}",
        f"Time        {format_time_seconds(entry.occurred_at)} (local)   {utc}",
        f"Actor       {field(entry.actor)} ({field(entry.actor_kind)})",
        f"Workstation {field(entry.workstation) or '—'}",
        f"Action      {field(entry.action)}",
        f"Target      {field(target)}",
        f"Outcome     {field(entry.outcome)}",
        f"Entry hash  {field(entry.entry_hash) or '—'}",
        "",
        "Details",
        reveal(shorten(details, DETAILS_LIMIT), keep_newlines=True),
    ]
    return "\n".join(lines)


class AuditPane(Pane):
    """Audit log: filter bar, newest-first paged table, detail of the selected entry."""

    title = "Audit log"
    object_key = "audit"

    verification_ended = Signal(object)
    """A verification ended: the :class:`AuditVerifyReport`, or the exception (cancelled or failed)."""
    checkpoint_status_loaded = Signal(object)
    """The :class:`CheckpointStatus` arrived and the banner shows it."""
    checkpoint_made = Signal(object)
    """A checkpoint was signed (the :class:`AuditCheckpoint`), before the save dialog."""
    checkpoint_saved = Signal(str)
    """The checkpoint file was written (its path)."""
    export_dialog_opened = Signal(object)
    """The Export dialog (an :class:`AuditExportDialog`) was opened for the current filter."""

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.allowed = Permission.AUDIT_READ in ctx.session.permissions
        self._count_task: Task | None = None
        self._choices_loaded = False
        self._verify_task: Task | None = None
        self._verify_stop: threading.Event | None = None
        self._verify_generation = 0
        self._status_checked = False
        self.last_checkpoint: AuditCheckpoint | None = None
        self.progress_relay = VerifyProgressRelay(self)
        self.progress_relay.progressed.connect(self._verify_progressed)

        heading = QLabel(self.title)
        heading.setObjectName("paneTitle")
        self.count_label = QLabel("")
        self.count_label.setObjectName("resultCount")
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.setToolTip("Load the newest entries")
        self.refresh_button.clicked.connect(self.refresh)
        self._build_chain_actions()
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.count_label)
        top.addStretch(1)
        top.addWidget(self.export_button)
        top.addWidget(self.checkpoint_button)
        top.addWidget(self.verify_button)
        top.addWidget(self.refresh_button)
        chain_row = self._build_chain_row()
        self.chain_banner = ChainWarningBanner()

        self.model = AuditTableModel(ctx.services.audit, ctx.holder, ctx.runner, self, on_error=ctx.errors.report)
        self.filter_bar = self._build_filter_bar()
        self.filter_error = QLabel("")
        self.filter_error.setObjectName("errorText")
        self.filter_error.setTextFormat(Qt.TextFormat.PlainText)
        self.filter_error.hide()

        self.table = QTableView()
        self.table.setObjectName("auditTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        # The time column fits a full timestamp in the table's font (a fixed width truncates it at some sizes).
        self.table.ensurePolished()
        sample_time = format_time_seconds(dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
        time_width = self.table.fontMetrics().horizontalAdvance(sample_time) + 18
        for i, (key, _, width) in enumerate(COLUMNS):
            header.resizeSection(i, max(width, time_width) if key == "time" else width)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.detail = QPlainTextEdit()
        self.detail.setObjectName("auditDetail")
        self.detail.setReadOnly(True)
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail.setPlaceholderText(NO_SELECTION_TEXT)
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        detail_title = QLabel("Selected entry")
        detail_title.setObjectName("sectionTitle")
        detail_box = QWidget()
        detail_layout = QVBoxLayout(detail_box)
        detail_layout.setContentsMargins(0, 6, 0, 0)
        detail_layout.addWidget(detail_title)
        detail_layout.addWidget(self.detail)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(detail_box)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 220])

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(self.filter_bar)
        content_layout.addWidget(self.filter_error)
        content_layout.addWidget(self.search_hint)
        content_layout.addWidget(self.splitter, 1)

        self.refused = QLabel(
            "Your role does not include reading the audit log.\nAsk an administrator or a security officer."
        )
        self.refused.setObjectName("mutedText")
        self.refused.setTextFormat(Qt.TextFormat.PlainText)
        self.refused.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(content)
        self.stack.addWidget(self.refused)
        self.stack.setCurrentWidget(content if self.allowed else self.refused)
        self.refresh_button.setEnabled(self.allowed)
        for action in (self.verify_action, self.checkpoint_action, self.export_action):
            action.setEnabled(self.allowed)
        for button in (self.verify_button, self.checkpoint_button, self.export_button):
            button.setVisible(self.allowed)
        self.chain_row.setVisible(self.allowed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(chain_row)
        layout.addWidget(self.chain_banner)
        layout.addWidget(self.stack, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_filters)
        self._restore_state()

    # ---- chain: badge, verification, checkpoints ---------------------------------------------

    def _build_chain_actions(self) -> None:
        self.verify_action = QAction("&Verify now", self)
        self.verify_action.setShortcut(QKeySequence(VERIFY_SHORTCUT))
        self.verify_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.verify_action.setToolTip("Check every entry of the tamper-evident audit trail")
        self.verify_action.triggered.connect(self.verify_now)
        self.checkpoint_action = QAction("Make &checkpoint…", self)
        self.checkpoint_action.setShortcut(QKeySequence(CHECKPOINT_SHORTCUT))
        self.checkpoint_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.checkpoint_action.setToolTip("Sign the audit trail as it stands and save the checkpoint to a file")
        self.checkpoint_action.triggered.connect(self.make_checkpoint)
        self.export_action = QAction("&Export…", self)
        self.export_action.setShortcut(QKeySequence(EXPORT_SHORTCUT))
        self.export_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.export_action.setToolTip("Export the filtered time range with a signature anyone can check offline")
        self.export_action.triggered.connect(self.export_entries)
        self.addActions([self.verify_action, self.checkpoint_action, self.export_action])
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip(
            f"Export the filtered time range as CSV or JSON Lines, signed ({EXPORT_SHORTCUT})"
        )
        self.export_button.clicked.connect(self.export_action.trigger)
        self.verify_button = QPushButton(icon("audit"), "Verify now")
        self.verify_button.setObjectName("verifyButton")
        self.verify_button.setToolTip(f"Check every entry of the audit trail ({VERIFY_SHORTCUT})")
        self.verify_button.clicked.connect(self.verify_action.trigger)
        self.checkpoint_button = QPushButton("Make checkpoint…")
        self.checkpoint_button.setObjectName("checkpointButton")
        self.checkpoint_button.setToolTip(
            f"Sign the audit trail as it stands and save the checkpoint off this computer ({CHECKPOINT_SHORTCUT})"
        )
        self.checkpoint_button.clicked.connect(self.checkpoint_action.trigger)

    def _build_chain_row(self) -> QWidget:
        self.chain_badge = ChainBadge()
        self.chain_badge.show_not_verified(self._remembered_verification())
        self.verify_progress = QProgressBar()
        self.verify_progress.setObjectName("verifyProgress")
        self.verify_progress.setMinimumWidth(260)
        self.verify_progress.setMaximumWidth(360)
        self.verify_progress.setTextVisible(False)  # the figures go in the note beside it, easier to read
        self.verify_progress.hide()
        self.cancel_verify_button = QPushButton("Cancel")
        self.cancel_verify_button.setObjectName("cancelVerifyButton")
        self.cancel_verify_button.setToolTip("Stop the verification (nothing is concluded)")
        self.cancel_verify_button.clicked.connect(self.cancel_verify)
        self.cancel_verify_button.hide()
        self.chain_note = QLabel("")
        self.chain_note.setObjectName("mutedText")
        self.chain_note.setTextFormat(Qt.TextFormat.PlainText)
        self.chain_note.setWordWrap(True)
        self.chain_note.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.chain_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chain_note.hide()
        self.chain_row = QWidget()
        row = QHBoxLayout(self.chain_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        row.addWidget(self.chain_badge, 1)
        row.addWidget(self.chain_note, 1)
        row.addWidget(self.verify_progress)
        row.addWidget(self.cancel_verify_button)
        # As tall as the Cancel button, so the rows below do not move when the progress bar appears.
        self.chain_row.setMinimumHeight(self.cancel_verify_button.sizeHint().height())
        return self.chain_row

    def _fingerprint(self) -> str:
        return self.ctx.services.audit_chain.key_fingerprint

    def _remembered_verification(self) -> LastVerification | None:
        return load_last_verification(self.ctx.settings, self._fingerprint())

    @property
    def verifying(self) -> bool:
        """True while a verification runs."""
        return self._verify_task is not None

    def _note(self, text: str) -> None:
        self.chain_note.setText(text)
        self.chain_note.setVisible(bool(text))

    def verify_now(self) -> None:
        """Verify the whole chain in the background, with progress; the pane stays usable."""
        if not self.allowed or self.verifying:
            return
        chain, principal = self.ctx.services.audit_chain, self.ctx.session.principal
        self._verify_generation += 1
        generation = self._verify_generation
        stop = threading.Event()
        emit = self.progress_relay.progressed.emit  # safe from any thread: Qt queues it to the GUI thread

        def run() -> AuditVerifyReport:
            return chain.verify(
                principal, progress=lambda done, total: emit(generation, done, total), should_stop=stop.is_set
            )

        self._verify_stop = stop
        self._note("Verifying the audit trail…")
        self.verify_progress.setRange(0, 0)  # busy until the first figures arrive
        self.verify_progress.show()
        self.cancel_verify_button.setEnabled(True)
        self.cancel_verify_button.setText("Cancel")
        self.cancel_verify_button.show()
        self.verify_action.setEnabled(False)
        self.verify_button.setEnabled(False)
        self._verify_task = self.ctx.runner.submit(run, on_done=self._verified, on_error=self._verify_failed)

    def cancel_verify(self) -> None:
        """Ask the running verification to stop after its current batch."""
        if self._verify_stop is None:
            return
        self._verify_stop.set()
        self.cancel_verify_button.setEnabled(False)
        self.cancel_verify_button.setText("Cancelling…")

    @Slot(int, int, int)
    def _verify_progressed(self, generation: int, done: int, total: int) -> None:
        if generation != self._verify_generation or not self.verifying:
            return
        total = max(total, done, 1)
        self.verify_progress.setRange(0, total)
        self.verify_progress.setValue(done)
        self._note(f"Checked {done:,} of {total:,} entries")

    def _verify_ended(self) -> None:
        self._verify_task = None
        self._verify_stop = None
        self._note("")
        self.verify_progress.hide()
        self.cancel_verify_button.hide()
        self.verify_action.setEnabled(self.allowed)
        self.verify_button.setEnabled(self.allowed)

    def _verified(self, report: AuditVerifyReport) -> None:
        self._verify_ended()
        at = dt.datetime.now(dt.UTC)
        self.chain_badge.show_report(report, at)
        problem = problem_text(report.problem) if report.problem is not None else ""
        save_last_verification(
            self.ctx.settings, self._fingerprint(), LastVerification(at, report.intact, report.entries_checked, problem)
        )
        if report.warnings:
            self._note(" ".join(report.warnings))
        self.verification_ended.emit(report)

    def _verify_failed(self, exc: BaseException) -> None:
        self._verify_ended()
        if isinstance(exc, VerifyCancelledError):
            self._note(f"Verification cancelled after {exc.checked:,} of {exc.total:,} entries.")
        else:
            self.ctx.errors.report(exc)
        self.verification_ended.emit(exc)

    def check_checkpoint_status(self) -> None:
        """Ask (in the background) whether the chain still extends this workstation's last checkpoint."""
        if not self.allowed:
            return
        self._status_checked = True
        chain, principal = self.ctx.services.audit_chain, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: chain.checkpoint_status(principal), on_done=self._status_arrived, on_error=self.ctx.errors.report
        )

    def _status_arrived(self, status: CheckpointStatus) -> None:
        self.chain_banner.show_problem(None if status.extends else status.problem)
        self.checkpoint_status_loaded.emit(status)

    def make_checkpoint(self) -> None:
        """Sign a checkpoint over the chain as it stands, then offer to save it to a file."""
        if not self.allowed:
            return
        chain, principal = self.ctx.services.audit_chain, self.ctx.session.principal
        self.checkpoint_action.setEnabled(False)
        self.checkpoint_button.setEnabled(False)
        self.ctx.runner.submit(
            lambda: chain.make_checkpoint(principal), on_done=self._checkpoint_made, on_error=self._checkpoint_failed
        )

    def _checkpoint_done(self) -> None:
        self.checkpoint_action.setEnabled(self.allowed)
        self.checkpoint_button.setEnabled(self.allowed)

    def _checkpoint_failed(self, exc: BaseException) -> None:
        self._checkpoint_done()
        self.ctx.errors.report(exc)

    def _checkpoint_made(self, checkpoint: AuditCheckpoint) -> None:
        self._checkpoint_done()
        self.last_checkpoint = checkpoint
        self.checkpoint_made.emit(checkpoint)
        n = checkpoint.entries
        self._note(
            f"Checkpoint made over {n:,} {'entry' if n == 1 else 'entries'} (up to entry #{checkpoint.head_seq})."
        )
        name = f"audit-checkpoint-{checkpoint.made_at.astimezone(dt.UTC).strftime('%Y%m%d-%H%M%S')}.json"
        chosen = self.choose_checkpoint_file(str(Path.home() / name))
        if not chosen:
            return
        path, text = Path(chosen), checkpoint_to_json(checkpoint)
        self.ctx.runner.submit(
            lambda: write_file_atomically(path, text),
            on_done=lambda _result: self._checkpoint_saved(path),
            on_error=self.ctx.errors.report,
        )

    def _checkpoint_saved(self, path: Path) -> None:
        self._note(f"Checkpoint saved to {path}. Keep a copy off this computer.")
        self.checkpoint_saved.emit(str(path))

    def export_entries(self) -> AuditExportDialog | None:
        """Open the Export dialog for the filter bar's time range (``None`` when the filter is not valid)."""
        if not self.allowed:
            return None
        query = self.current_query()
        if query is None:
            return None
        dialog = AuditExportDialog(self.ctx, query, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.export_dialog_opened.emit(dialog)
        return dialog

    def choose_checkpoint_file(self, suggested: str) -> str:
        """Ask where to save a checkpoint; ``""`` when the person declines."""
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Save the audit checkpoint", suggested, "Audit checkpoints (*.json);;All files (*)"
        )
        return chosen

    # ---- filter bar ---------------------------------------------------------------------------

    def _build_filter_bar(self) -> QFrame:
        bar = QFrame()
        bar.setObjectName("filterBar")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search the log")
        self.search_edit.setToolTip(
            "Text found in the action, actor, target, workstation or details of an entry"
            f" (at least {SEARCH_MIN_CHARS} characters, any case)"
        )
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(255)
        self.search_edit.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search_edit.textChanged.connect(self._schedule)
        self.search_edit.returnPressed.connect(self.apply_filters)
        self.search_hint = QLabel(f"Type at least {SEARCH_MIN_CHARS} characters to search the log.")
        self.search_hint.setObjectName("mutedText")
        self.search_hint.setTextFormat(Qt.TextFormat.PlainText)
        self.search_hint.hide()
        self.by_value_check = QCheckBox("By identifier")
        self.by_value_check.setToolTip(
            "Find the entries that recorded this serial number, hardware id or staff name. The log keeps such"
            " values only as keyed hashes, so type the whole value (any case)."
        )
        self.by_value_check.toggled.connect(self._search_mode_changed)

        self.action_combo = QComboBox()
        self.action_combo.setEditable(True)
        self.action_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.action_combo.setMinimumContentsLength(16)
        self.action_combo.setToolTip("Actions starting with this text, e.g. 'policies.' for every policy change")
        line = self.action_combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("Any action")
        line.setMaxLength(255)
        self.action_combo.currentTextChanged.connect(self._schedule)

        self.outcome_combo = QComboBox()
        self.outcome_combo.addItem("Any outcome", "")
        for outcome in Outcome:  # item data holds the plain value (Qt turns str enums into str)
            self.outcome_combo.addItem(outcome.value.capitalize(), outcome.value)
        self.outcome_combo.currentIndexChanged.connect(self._schedule)

        self.actor_combo = QComboBox()
        self.actor_combo.setEditable(True)
        self.actor_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.actor_combo.setMinimumContentsLength(10)
        self.actor_combo.setToolTip("Exactly this user (or device, or system job)")
        actor_line = self.actor_combo.lineEdit()
        assert actor_line is not None
        actor_line.setPlaceholderText("Any actor")
        actor_line.setMaxLength(128)
        self.actor_combo.currentTextChanged.connect(self._schedule)

        today = QDate.currentDate()
        self.from_check = QCheckBox("From")
        self.from_date = QDateEdit(today.addDays(-7))
        self.to_check = QCheckBox("to")
        self.to_date = QDateEdit(today)
        for check, edit in ((self.from_check, self.from_date), (self.to_check, self.to_date)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(self._schedule)
            edit.dateChanged.connect(self._schedule)
        self.from_date.setToolTip("First day shown (local time)")
        self.to_date.setToolTip("Last day shown, included (local time)")

        self.clear_button = QPushButton("Clear filters")
        self.clear_button.clicked.connect(self.clear_filters)

        layout = QHBoxLayout(bar)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search_edit, 3)
        layout.addWidget(self.by_value_check)
        layout.addWidget(self.action_combo, 2)
        layout.addWidget(self.outcome_combo)
        layout.addWidget(self.actor_combo, 1)
        layout.addWidget(self.from_check)
        layout.addWidget(self.from_date)
        layout.addWidget(self.to_check)
        layout.addWidget(self.to_date)
        layout.addWidget(self.clear_button)
        return bar

    def _schedule(self, *_: object) -> None:
        self._debounce.start()

    def current_query(self) -> AuditQuery | None:
        """The query the filter bar describes, or ``None`` (with an inline message) when it is not valid."""
        since = local_midnight_utc(self.from_date.date()) if self.from_check.isChecked() else None
        until = local_midnight_utc(self.to_date.date().addDays(1)) if self.to_check.isChecked() else None
        if since is not None and until is not None and since >= until:
            self._show_filter_error("The 'From' date is after the 'to' date. Change one of them.")
            return None
        self._show_filter_error("")
        outcome = self.outcome_combo.currentData()
        return AuditQuery(
            since=since,
            until=until,
            actor=self.actor_combo.currentText().strip(),
            action=self.action_combo.currentText().strip(),
            outcome=Outcome(outcome) if outcome else None,
            text=self.search_text(),
            value=self.search_value(),
        )

    def search_value(self) -> str:
        """The search box's text when 'By identifier' is checked (the service hashes it), else ``""``."""
        return " ".join(self.search_edit.text().split()) if self.by_value_check.isChecked() else ""

    def _search_mode_changed(self, by_value: bool) -> None:
        self.search_edit.setPlaceholderText("Serial, hardware id or staff name" if by_value else "Search the log")
        self._schedule()

    def search_text(self) -> str:
        """The search box's text when it is long enough to search (else ``""``, with an inline hint)."""
        typed = "" if self.by_value_check.isChecked() else " ".join(self.search_edit.text().split())
        short = 0 < len(typed) < SEARCH_MIN_CHARS
        self.search_hint.setVisible(short)
        return "" if short else typed

    def _show_filter_error(self, text: str) -> None:
        self.filter_error.setText(text)
        self.filter_error.setVisible(bool(text))

    def apply_filters(self) -> None:
        """Show the entries matching the filter bar (when it changed)."""
        self._debounce.stop()
        if not self.allowed or not self._activated:
            return  # the first activation loads with whatever the bar says then
        query = self.current_query()
        if query is None or query == self.model.query:
            return
        self._load(query)

    def clear_filters(self) -> None:
        """Reset every filter to 'any'."""
        for widget in (self.search_edit, self.action_combo, self.outcome_combo, self.actor_combo):
            widget.blockSignals(True)
        self.search_edit.clear()
        self.action_combo.setEditText("")
        self.outcome_combo.setCurrentIndex(0)
        self.actor_combo.setEditText("")
        for widget in (self.search_edit, self.action_combo, self.outcome_combo, self.actor_combo):
            widget.blockSignals(False)
        self.from_check.setChecked(False)
        self.to_check.setChecked(False)
        self.by_value_check.setChecked(False)
        self.apply_filters()

    # ---- loading ------------------------------------------------------------------------------

    def activate(self) -> None:
        """Load on first activation; then check (once) that the chain extends the remembered checkpoint."""
        super().activate()
        if not self._status_checked:
            self.check_checkpoint_status()

    def refresh(self) -> None:
        """Reload from the newest entry with the current filters."""
        if not self.allowed:
            return
        query = self.current_query()
        if query is None:
            return
        self._load(query)
        if not self._choices_loaded:
            audit, principal = self.ctx.services.audit, self.ctx.session.principal
            self.ctx.runner.submit(
                lambda: audit.filter_choices(principal), on_done=self._fill_choices, on_error=self.ctx.errors.report
            )

    def _load(self, query: AuditQuery) -> None:
        self.detail.clear()
        self.model.set_query(query)
        if self._count_task is not None:
            self._count_task.cancel()
        self.count_label.setText("Counting…")
        audit, principal = self.ctx.services.audit, self.ctx.session.principal
        self._count_task = self.ctx.runner.submit(
            lambda: audit.count(principal, query), on_done=self._show_count, on_error=self._count_failed
        )

    def _show_count(self, n: int) -> None:
        self._count_task = None
        filtered = self.model.query != AuditQuery()
        self.count_label.setText(f"{n:,} {'entry' if n == 1 else 'entries'}{' match the filters' if filtered else ''}")

    def _count_failed(self, exc: BaseException) -> None:
        self._count_task = None
        self.count_label.setText("")
        self.ctx.errors.report(exc)

    def _fill_choices(self, choices: AuditFilterChoices) -> None:
        self._choices_loaded = True
        prefixes = sorted({a.split(".", 1)[0] + "." for a in choices.actions if "." in a})
        for combo, items in ((self.action_combo, [*prefixes, *choices.actions]), (self.actor_combo, choices.actors)):
            text = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("")
            combo.addItems(list(items))
            combo.setEditText(text)
            combo.blockSignals(False)

    # ---- detail --------------------------------------------------------------------------------

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        entry = self.model.row_at(rows[0].row()) if rows else None
        if entry is None:
            self.detail.clear()
            return
        self.detail.setPlainText(entry_text(entry))

    def select_row(self, row: int) -> None:
        """Select ``row`` (shows its detail)."""
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0, QModelIndex()))

    # ---- state ---------------------------------------------------------------------------------

    def _restore_state(self) -> None:
        s = self.ctx.settings
        header = s.value(f"{self.object_key}/header")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)
        split = s.value(f"{self.object_key}/splitter")
        if split is not None:
            self.splitter.restoreState(split)

    def save_state(self) -> None:
        s = self.ctx.settings
        s.setValue(f"{self.object_key}/header", self.table.horizontalHeader().saveState())
        s.setValue(f"{self.object_key}/splitter", self.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._verify_stop is not None:
            self._verify_stop.set()
        self.model.shutdown()
        super().closeEvent(event)
