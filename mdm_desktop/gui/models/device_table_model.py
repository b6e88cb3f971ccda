"""The device table: pages fetched by keyset from the device service, never the whole table.

The model holds only the pages fetched so far. ``canFetchMore`` / ``fetchMore``
ask the service for the next page (through the :class:`TaskRunner`, off the GUI
thread) and append it. Filters and order live in a :class:`DeviceQuery` and are
evaluated in SQL: :meth:`set_query` and :meth:`sort` reset the model and fetch
again from the first page. Results of pages requested before a reset are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.devices import ComplianceState
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.devices import DeviceService
from mdm_desktop.services.dto import DeviceCursor, DevicePage, DeviceQuery, DeviceRow, DeviceSort, SessionInfo

_Index = QModelIndex | QPersistentModelIndex

PAGE_SIZE = 200
HIDDEN_TEXT = "hidden"
NEVER_TEXT = "never"
EMPTY_TEXT = "—"

DEVICE_ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""``data(index, DEVICE_ROW_ROLE)`` returns the row's :class:`DeviceRow`."""

COMPLIANCE_COLORS: dict[ComplianceState, str] = {
    ComplianceState.COMPLIANT: "#1d7a3a",
    ComplianceState.IN_GRACE: "#8f5b00",
    ComplianceState.NON_COMPLIANT: "#b3261e",
    ComplianceState.UNKNOWN: "#5b6878",
}
"""Text colours of the compliance column; each keeps a contrast ratio above 4.5:1 on white."""

_MUTED = "#7a8592"


def format_local_time(value: dt.datetime | None, never: str = NEVER_TEXT) -> str:
    """A UTC timestamp as local wall-clock time (``2026-11-03 14:05``), or ``never``."""
    if value is None:
        return never
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class DeviceColumn:
    """One column of the table: its title, how to show a row, and the SQL sort it maps to."""

    key: str
    title: str
    sort: DeviceSort | None
    width: int
    identifier: bool = False


COLUMNS: tuple[DeviceColumn, ...] = (
    DeviceColumn("name", "Name", DeviceSort.NAME, 175),
    DeviceColumn("platform", "Platform", DeviceSort.PLATFORM, 75),
    DeviceColumn("model", "Model", DeviceSort.MODEL, 115),
    DeviceColumn("os_version", "OS version", DeviceSort.OS_VERSION, 90),
    DeviceColumn("ownership", "Ownership", DeviceSort.OWNERSHIP, 95),
    DeviceColumn("group", "Group", None, 100),
    DeviceColumn("assigned_to", "Assigned to", None, 130, identifier=True),
    DeviceColumn("status", "Status", DeviceSort.STATUS, 75),
    DeviceColumn("compliance", "Compliance", DeviceSort.COMPLIANCE, 150),
    DeviceColumn("last_checkin", "Last check-in", DeviceSort.LAST_CHECKIN, 125),
)

COLUMN_INDEX: dict[str, int] = {c.key: i for i, c in enumerate(COLUMNS)}


class DeviceTableModel(QAbstractTableModel):
    """Paged, SQL-sorted, SQL-filtered device list.

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
        devices: DeviceService,
        session: SessionInfo,
        runner: TaskRunner,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._devices = devices
        self._session = session
        self._runner = runner
        self._page_size = page_size
        self._on_error = on_error
        self._query = DeviceQuery()
        self._rows: list[DeviceRow] = []
        self._cursor: DeviceCursor | None = None
        self._exhausted = False
        self._started = False
        self._generation = 0
        self._task: Task | None = None
        self._may_see_identifiers = session.principal.can(Permission.DEVICES_READ_IDENTIFIERS)
        self._muted = QColor(_MUTED)
        self._compliance_colors = {state: QColor(color) for state, color in COMPLIANCE_COLORS.items()}
        self._italic = QFont()
        self._italic.setItalic(True)
        self._dots: dict[ComplianceState, QIcon] = {}

    # ---- state -----------------------------------------------------------------------------

    @property
    def query(self) -> DeviceQuery:
        """The filters and order currently shown."""
        return self._query

    @property
    def loading(self) -> bool:
        """True while a page request is on its way."""
        return self._task is not None

    @property
    def exhausted(self) -> bool:
        """True once the last page has arrived."""
        return self._exhausted

    def row_at(self, row: int) -> DeviceRow | None:
        """The device shown in ``row``, or ``None`` outside the loaded rows."""
        if 0 <= row < len(self._rows):
            return self._rows[row]
        return None

    def row_of(self, device_id: int) -> int:
        """The row showing ``device_id`` among the loaded rows, or -1."""
        return next((i for i, r in enumerate(self._rows) if r.id == device_id), -1)

    def sort_column(self) -> int:
        """The column the current order corresponds to."""
        return next((i for i, c in enumerate(COLUMNS) if c.sort is self._query.sort), -1)

    def sort_order(self) -> Qt.SortOrder:
        """The current order's direction."""
        return Qt.SortOrder.DescendingOrder if self._query.descending else Qt.SortOrder.AscendingOrder

    # ---- actions ---------------------------------------------------------------------------

    def set_query(self, query: DeviceQuery) -> None:
        """Show the devices matching ``query`` (resets and fetches the first page)."""
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

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order by ``column`` in SQL; columns without an index-backed order are ignored."""
        if not 0 <= column < len(COLUMNS):
            return
        sort = COLUMNS[column].sort
        if sort is None:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if sort is self._query.sort and descending == self._query.descending and self._started:
            return
        self._query = replace(self._query, sort=sort, descending=descending)
        if self._started:
            self.reload()

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
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.sort is None:
                return f"{column.title} (this column cannot be sorted)"
            return f"Sort by {column.title.lower()}"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        row = self.row_at(index.row())
        if row is None or not 0 <= index.column() < len(COLUMNS):
            return None
        key = COLUMNS[index.column()].key
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, key)
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "compliance":
                return self._compliance_colors[row.compliance_state]
            if self._is_placeholder(row, key):
                return self._muted
            return None
        if role == Qt.ItemDataRole.DecorationRole and key == "compliance":
            return self._dot(row.compliance_state)
        if role == Qt.ItemDataRole.FontRole and self._is_placeholder(row, key):
            return self._italic
        if role == DEVICE_ROW_ROLE:
            return row
        return None

    # ---- display helpers -----------------------------------------------------------------------

    def _dot(self, state: ComplianceState) -> QIcon:
        """A small filled circle in the state's colour (a cue beside the words, never instead of them)."""
        dot = self._dots.get(state)
        if dot is None:
            pixmap = QPixmap(12, 12)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._compliance_colors[state])
            painter.drawEllipse(1, 1, 10, 10)
            painter.end()
            dot = self._dots[state] = QIcon(pixmap)
        return dot

    def _identifier_text(self, value: str | None) -> str:
        if value is not None and value != "":
            return value
        return EMPTY_TEXT if self._may_see_identifiers else HIDDEN_TEXT

    def _is_placeholder(self, row: DeviceRow, key: str) -> bool:
        if key == "assigned_to":
            return not row.assigned_to
        if key == "last_checkin":
            return row.last_checkin_at is None
        if key == "group":
            return not row.group_name
        return False

    def _display(self, row: DeviceRow, key: str) -> str:
        match key:
            case "name":
                return row.name
            case "platform":
                return row.platform.label
            case "model":
                return row.model
            case "os_version":
                return row.os_version
            case "ownership":
                return row.ownership.label
            case "group":
                return row.group_name or EMPTY_TEXT
            case "assigned_to":
                return self._identifier_text(row.assigned_to)
            case "status":
                return row.status.label
            case "compliance":
                return row.compliance_state.label
            case "last_checkin":
                return format_local_time(row.last_checkin_at)
        return ""

    def _tooltip(self, row: DeviceRow, key: str) -> str | None:
        if key == "assigned_to" and row.assigned_to is None and not self._may_see_identifiers:
            return "Your role may not see staff names and hardware identifiers."
        if key == "last_checkin" and row.last_checkin_at is not None:
            return row.last_checkin_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        if key == "name":
            return row.name
        if key == "model" and row.vendor:
            return f"{row.vendor} {row.model}"
        return None

    # ---- paging ------------------------------------------------------------------------------

    def _request_page(self) -> None:
        if self._task is not None or self._exhausted:
            return
        generation = self._generation
        devices, principal, query, cursor, limit = (
            self._devices,
            self._session.principal,
            self._query,
            self._cursor,
            self._page_size,
        )
        self._task = self._runner.submit(
            lambda: devices.list_page(principal, query, after=cursor, limit=limit),
            on_done=lambda page: self._page_arrived(generation, page),
            on_error=lambda exc: self._page_failed(generation, exc),
        )
        self.loading_changed.emit(True)

    def _cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self.loading_changed.emit(False)

    def _page_arrived(self, generation: int, page: DevicePage) -> None:
        if generation != self._generation:
            return  # a page of a query that is no longer shown
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

    def shutdown(self) -> None:
        """Drop any page still on its way (the owner is closing)."""
        self._generation += 1
        self._cancel_task()
