"""The device table: pages fetched by keyset from the device service, never the whole table.

Paging is :class:`KeysetTableModel`'s: the model holds only the pages fetched so
far and asks the service for the next one off the GUI thread. Filters and order
live in a :class:`DeviceQuery` and are evaluated in SQL: :meth:`set_query` and
:meth:`sort` reset the model and fetch again from the first page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform
from mdm_desktop.gui.models.keyset_table_model import PAGE_SIZE, KeysetTableModel, PageLoader
from mdm_desktop.gui.models.row_table_model import ROW_ROLE, Cells
from mdm_desktop.gui.session import SessionSource, current_session
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.devices import DeviceService
from mdm_desktop.services.dto import DeviceCursor, DeviceQuery, DeviceRow, DeviceSort

FIRST_PAGE_SIZE = 64
"""Rows of the first page: more than a tall screen shows, so the table paints after one small query."""

HIDDEN_TEXT = "hidden"
NEVER_TEXT = "never"
EMPTY_TEXT = "—"

DEVICE_ROW_ROLE = ROW_ROLE
"""``data(index, DEVICE_ROW_ROLE)`` returns the row's :class:`DeviceRow`."""

COMPLIANCE_COLORS: dict[ComplianceState, str] = {
    ComplianceState.COMPLIANT: "#1d7a3a",
    ComplianceState.IN_GRACE: "#8f5b00",
    ComplianceState.NON_COMPLIANT: "#b3261e",
    ComplianceState.UNKNOWN: "#5b6878",
}
"""Text colours of the compliance column; each keeps a contrast ratio above 4.5:1 on white."""

_MUTED = "#7a8592"
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_FONT = int(Qt.ItemDataRole.FontRole)


def format_local_time(value: dt.datetime | None, never: str = NEVER_TEXT) -> str:
    """A UTC timestamp as local wall-clock time (``2026-11-03 14:05``), or ``never``."""
    if value is None:
        return never
    # Not strftime(): it imports the time module on every call, which under PySide's import hook
    # costs several times the formatting itself (it showed up in a table's paint).
    return value.astimezone().replace(tzinfo=None).isoformat(" ", "minutes")


@dataclass(frozen=True, slots=True)
class DeviceColumn:
    """One column of the table: its title, the SQL sort it maps to, and a wide but usual value.

    ``sample`` sizes the column (with the view's font), so usual values show whole at a clinic
    workstation's 1440 x 900; longer ones are elided and shown whole in the detail panel.
    """

    key: str
    title: str
    sort: DeviceSort | None
    sample: str
    identifier: bool = False


def _longest(labels: Iterable[str]) -> str:
    return max(labels, key=len)


COLUMNS: tuple[DeviceColumn, ...] = (
    DeviceColumn("name", "Name", DeviceSort.NAME, "ADM-AND-000000"),
    DeviceColumn("platform", "Platform", DeviceSort.PLATFORM, _longest(p.label for p in Platform)),
    DeviceColumn("model", "Model", DeviceSort.MODEL, "Galaxy A35 5G"),
    DeviceColumn("os_version", "OS version", DeviceSort.OS_VERSION, "26.1.1"),
    DeviceColumn("ownership", "Ownership", DeviceSort.OWNERSHIP, _longest(o.label for o in Ownership)),
    DeviceColumn("group", "Group", None, "Administration"),
    DeviceColumn("assigned_to", "Assigned to", None, "Naomi R. Martínez", identifier=True),
    DeviceColumn("status", "Status", DeviceSort.STATUS, _longest(s.label for s in LifecycleStatus)),
    DeviceColumn("compliance", "Compliance", DeviceSort.COMPLIANCE, _longest(c.label for c in ComplianceState)),
    DeviceColumn("last_checkin", "Last check-in", DeviceSort.LAST_CHECKIN, "2026-12-31 23:59"),
)

COLUMN_INDEX: dict[str, int] = {c.key: i for i, c in enumerate(COLUMNS)}


class DeviceTableModel(KeysetTableModel[DeviceRow, DeviceCursor, DeviceQuery]):
    """Paged, SQL-sorted, SQL-filtered device list.

    Signals:
        page_loaded(int): a page arrived and was appended (argument: rows in it).
        loading_changed(bool): a page request started (True) or ended (False).
        load_failed(object): a page request failed (argument: the exception).
    """

    def __init__(
        self,
        devices: DeviceService,
        session: SessionSource,
        runner: TaskRunner,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        columns = [(c.key, c.title) for c in COLUMNS]
        super().__init__(
            columns,
            runner,
            DeviceQuery(),
            parent,
            page_size=page_size,
            first_page_size=FIRST_PAGE_SIZE,
            on_error=on_error,
        )
        self._devices = devices
        self._session = session
        self._may_see_identifiers = current_session(session).principal.can(Permission.DEVICES_READ_IDENTIFIERS)
        self._muted = QColor(_MUTED)
        self._compliance_colors = {state: QColor(color) for state, color in COMPLIANCE_COLORS.items()}
        self._italic = QFont()
        self._italic.setItalic(True)
        self._dots: dict[ComplianceState, QIcon] = {}

    # ---- order -------------------------------------------------------------------------------

    def sort_column(self) -> int:
        """The column the current order corresponds to."""
        return next((i for i, c in enumerate(COLUMNS) if c.sort is self._query.sort), -1)

    def sort_order(self) -> Qt.SortOrder:
        """The current order's direction."""
        return Qt.SortOrder.DescendingOrder if self._query.descending else Qt.SortOrder.AscendingOrder

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

    def _page_loader(
        self, query: DeviceQuery, after: DeviceCursor | None, limit: int
    ) -> PageLoader[DeviceRow, DeviceCursor]:
        devices, principal = self._devices, current_session(self._session).principal
        return lambda: devices.list_page(principal, query, after=after, limit=limit)

    # ---- cells -------------------------------------------------------------------------------

    def _header_tip(self, key: str) -> str | None:
        column = COLUMNS[COLUMN_INDEX[key]]
        if column.sort is None:
            return f"{column.title} (this column cannot be sorted)"
        return f"Sort by {column.title.lower()}"

    cell_roles = frozenset(
        int(r)
        for r in (
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.DecorationRole,
            Qt.ItemDataRole.FontRole,
        )
    )
    cache_cells = True  # a cell depends only on its row (and the role, fixed for the model's life)

    def _row_cells(self, row: DeviceRow) -> Cells:
        # A row's cells in one go, the same answers as _display / _cell_data (a test holds them equal): the
        # generic way asks ~40 questions a row. Placeholders (no group, no staff name, never checked in) are
        # muted italics; the compliance column has its colour and dot.
        keys = self._keys
        text = {
            "name": row.name,
            "platform": row.platform.label,
            "model": row.model,
            "os_version": row.os_version,
            "ownership": row.ownership.label,
            "group": row.group_name or EMPTY_TEXT,
            "assigned_to": self._identifier_text(row.assigned_to),
            "status": row.status.label,
            "compliance": row.compliance_state.label,
            "last_checkin": format_local_time(row.last_checkin_at),
        }
        placeholders = [k for k in ("group", "assigned_to", "last_checkin") if self._is_placeholder(row, k)]
        foreground: dict[str, QColor] = dict.fromkeys(placeholders, self._muted)
        foreground["compliance"] = self._compliance_colors[row.compliance_state]
        italic = dict.fromkeys(placeholders, self._italic)
        dot = self._dot(row.compliance_state)
        return {
            _DISPLAY: tuple(text[k] for k in keys),
            _FOREGROUND: tuple(foreground.get(k) for k in keys),
            _DECORATION: tuple(dot if k == "compliance" else None for k in keys),
            _FONT: tuple(italic.get(k) for k in keys) if italic else None,
        }

    def _cell_data(self, row: DeviceRow, key: str, role: int) -> Any:
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
