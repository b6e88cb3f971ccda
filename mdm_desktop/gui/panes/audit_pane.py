"""The Audit log pane: a paged table, newest first, a filter bar, and the selected entry in plain text."""

from __future__ import annotations

import datetime as dt
import json

from PySide6.QtCore import QDate, QItemSelection, QModelIndex, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
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
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.dto import AuditEntryInfo, AuditFilterChoices, AuditQuery

DEBOUNCE_MS = 300
NO_SELECTION_TEXT = "Select an entry to see everything it records."


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


def entry_text(entry: AuditEntryInfo) -> str:
    """Everything one entry records, as plain text."""
    utc = entry.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    lines = [
        f"Entry       {entry.id}",
        f"Time        {format_time_seconds(entry.occurred_at)} (local)   {utc}",
        f"Actor       {entry.actor} ({entry.actor_kind})",
        f"Workstation {entry.workstation or '—'}",
        f"Action      {entry.action}",
        f"Target      {entry.target_kind + ': ' if entry.target_kind else ''}{entry.target or '—'}",
        f"Outcome     {entry.outcome}",
        f"Entry hash  {entry.entry_hash or '—'}",
        "",
        "Details",
        pretty_details(entry.details),
    ]
    return "\n".join(lines)


class AuditPane(Pane):
    """Audit log: filter bar, newest-first paged table, detail of the selected entry."""

    title = "Audit log"
    object_key = "audit"

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.allowed = Permission.AUDIT_READ in ctx.session.permissions
        self._count_task: Task | None = None
        self._choices_loaded = False

        heading = QLabel(self.title)
        heading.setObjectName("paneTitle")
        self.count_label = QLabel("")
        self.count_label.setObjectName("resultCount")
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.setToolTip("Load the newest entries")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.count_label)
        top.addStretch(1)
        top.addWidget(self.refresh_button)

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
        for i, (_, _, width) in enumerate(COLUMNS):
            header.resizeSection(i, width)
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

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_filters)
        self._restore_state()

    # ---- filter bar ---------------------------------------------------------------------------

    def _build_filter_bar(self) -> QFrame:
        bar = QFrame()
        bar.setObjectName("filterBar")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search the log")
        self.search_edit.setToolTip("Text found in the target, details, action or actor of an entry")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(255)
        self.search_edit.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search_edit.textChanged.connect(self._schedule)
        self.search_edit.returnPressed.connect(self.apply_filters)

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
            text=self.search_edit.text().strip(),
        )

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
        self.apply_filters()

    # ---- loading ------------------------------------------------------------------------------

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
        self.model.shutdown()
        super().closeEvent(event)
