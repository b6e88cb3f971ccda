"""The audit log table: newest first, pages fetched by keyset from the audit service.

Like the device table, the model holds only the pages fetched so far:
``canFetchMore`` / ``fetchMore`` ask the service for the next page through the
:class:`TaskRunner` (off the GUI thread) and append it. Filters live in an
:class:`AuditQuery` evaluated in SQL; :meth:`set_query` resets the model and
fetches the first page again. Pages of an older query are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from mdm_desktop.domain.audit import Outcome
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.audit import AuditService
from mdm_desktop.services.dto import AuditCursor, AuditEntryInfo, AuditPage, AuditQuery, SessionInfo

_Index = QModelIndex | QPersistentModelIndex

PAGE_SIZE = 200
ENTRY_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""``data(index, ENTRY_ROLE)`` returns the row's :class:`AuditEntryInfo`."""

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("time", "Time", 150),
    ("actor", "Actor", 110),
    ("action", "Action", 190),
    ("target", "Target", 210),
    ("outcome", "Outcome", 80),
    ("workstation", "Workstation", 120),
    ("details", "Details", 400),
)
COLUMN_INDEX = {key: i for i, (key, _, _) in enumerate(COLUMNS)}

OUTCOME_COLORS: dict[str, str] = {
    Outcome.SUCCESS.value: "#1d7a3a",
    Outcome.DENIED.value: "#b3261e",
    Outcome.FAILED.value: "#8f5b00",
}
"""Text colours of the outcome column; each keeps a contrast ratio above 4.5:1 on white."""

DETAILS_PREVIEW = 160


def format_time_seconds(value: dt.datetime) -> str:
    """A UTC timestamp as local wall-clock time to the second."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def details_preview(details: str) -> str:
    """The details JSON on one line, cut to a preview length."""
    text = " ".join(details.split())
    if text in ("{}", ""):
        return ""
    return text if len(text) <= DETAILS_PREVIEW else text[: DETAILS_PREVIEW - 1] + "…"


class AuditTableModel(QAbstractTableModel):
    """Paged, filtered audit log, newest first.

    Signals:
        page_loaded(int): a page arrived and was appended (argument: rows in it).
        loading_changed(bool): a page request started (True) or ended (False).
        load_failed(object): a page request failed (argument: the exception).
    """

    page_loaded = Signal(int)
    loading_changed = Signal(bool)
    load_failed = Signal(object)

    def __init__(
        self,
        audit: AuditService,
        session: SessionInfo,
        runner: TaskRunner,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._audit = audit
        self._session = session
        self._runner = runner
        self._page_size = page_size
        self._on_error = on_error
        self._query = AuditQuery()
        self._rows: list[AuditEntryInfo] = []
        self._cursor: AuditCursor | None = None
        self._exhausted = False
        self._started = False
        self._generation = 0
        self._task: Task | None = None
        self._colors = {key: QColor(c) for key, c in OUTCOME_COLORS.items()}
        self._muted = QColor("#5b6878")

    # ---- state -----------------------------------------------------------------------------

    @property
    def query(self) -> AuditQuery:
        """The filters currently shown."""
        return self._query

    @property
    def loading(self) -> bool:
        """True while a page request is on its way."""
        return self._task is not None

    @property
    def exhausted(self) -> bool:
        """True once the last page has arrived."""
        return self._exhausted

    def row_at(self, row: int) -> AuditEntryInfo | None:
        """The entry shown in ``row``, or ``None`` outside the loaded rows."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, entry_id: int) -> int:
        """The row showing ``entry_id`` among the loaded rows, or -1."""
        return next((i for i, r in enumerate(self._rows) if r.id == entry_id), -1)

    # ---- actions ---------------------------------------------------------------------------

    def set_query(self, query: AuditQuery) -> None:
        """Show the entries matching ``query`` (resets and fetches the first page)."""
        self._query = query
        self.reload()

    def reload(self) -> None:
        """Drop the loaded rows and fetch the first page again."""
        self.beginResetModel()
        self._generation += 1
        self._cancel_task()
        self._rows = []
        self._cursor = None
        self._exhausted = False
        self._started = True
        self.endResetModel()
        self._request_page()

    def shutdown(self) -> None:
        """Drop any page still on its way (the owner is closing)."""
        self._generation += 1
        self._cancel_task()

    # ---- Qt model interface ------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: _Index) -> bool:
        if parent.isValid():
            return False
        return self._started and not self._exhausted and self._task is None

    def fetchMore(self, parent: _Index) -> None:
        if self.canFetchMore(parent):
            self._request_page()

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole and section == COLUMN_INDEX["time"]:
            return "Local time; the log is always shown newest first"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid() or not 0 <= index.column() < len(COLUMNS):
            return None
        entry = self.row_at(index.row())
        if entry is None:
            return None
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(entry, key)
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "outcome":
                return self._colors.get(entry.outcome)
            if key in ("details", "workstation"):
                return self._muted
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "time":
                return entry.occurred_at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", " UTC")
            if key == "target" and entry.target_kind:
                return f"{entry.target_kind}: {entry.target}"
            return None
        return None

    @staticmethod
    def _display(entry: AuditEntryInfo, key: str) -> str:
        match key:
            case "time":
                return format_time_seconds(entry.occurred_at)
            case "actor":
                return entry.actor if entry.actor_kind == "user" else f"{entry.actor} ({entry.actor_kind})"
            case "action":
                return entry.action
            case "target":
                return entry.target
            case "outcome":
                return entry.outcome.capitalize()
            case "workstation":
                return entry.workstation
            case "details":
                return details_preview(entry.details)
        return ""

    # ---- paging ------------------------------------------------------------------------------

    def _request_page(self) -> None:
        if self._task is not None or self._exhausted:
            return
        generation = self._generation
        audit, principal, query, cursor, limit = (
            self._audit,
            self._session.principal,
            self._query,
            self._cursor,
            self._page_size,
        )
        self._task = self._runner.submit(
            lambda: audit.list_page(principal, query, after=cursor, limit=limit),
            on_done=lambda page: self._page_arrived(generation, page),
            on_error=lambda exc: self._page_failed(generation, exc),
        )
        self.loading_changed.emit(True)

    def _cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self.loading_changed.emit(False)

    def _page_arrived(self, generation: int, page: AuditPage) -> None:
        if generation != self._generation:
            return
        self._task = None
        self._cursor = page.next_cursor
        self._exhausted = page.next_cursor is None
        if page.rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
            self._rows.extend(page.rows)
            self.endInsertRows()
        self.loading_changed.emit(False)
        self.page_loaded.emit(len(page.rows))

    def _page_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._task = None
        self._exhausted = True  # do not hammer a failing store; reload() tries again
        self.loading_changed.emit(False)
        self.load_failed.emit(exc)
        handler = self._on_error or self._runner.default_error_handler
        if handler is not None:
            handler(exc)
