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

FIRST_PAGE_SIZE = 40
"""Rows of the first page: what the table shows at once on a usual screen (27 rows at 1400 x 900), so it
paints after one small query; a taller table fetches the next page at once, scrolling fetches the rest."""

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
_DOTS: dict[ComplianceState, QIcon] = {}
"""The compliance column's dots, one a state, shared by every device table."""
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_FONT = int(Qt.ItemDataRole.FontRole)


def format_local_time(value: dt.datetime | None, never: str = NEVER_TEXT) -> str:
    """A UTC timestamp as local wall-clock time (``2026-11-03 14:05``), or ``never``."""
    if value is None:
        return never
    # Not strftime(): it imports the time module on every call, which under PySide's import hook
    # costs several times the formatting itself (it showed up in a table's paint). Not astimezone()
    # either: building the local time zone object costs five times what fromtimestamp() does for the
    # same local wall-clock time.
    return dt.datetime.fromtimestamp(value.timestamp()).isoformat(" ", "minutes")


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
        self._looks: dict[tuple[ComplianceState, bool, bool, bool], tuple[Any, ...]] = {}

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
        # generic way asks ~40 questions a row. The texts in COLUMNS order; the looks (placeholders in muted
        # italics, the compliance column's colour and dot) depend only on the compliance state and which
        # placeholders the row shows, so they are worked out once per combination and shared.
        group, staff, seen, state = row.group_name, row.assigned_to, row.last_checkin_at, row.compliance_state
        looks_key = (state, not group, not staff, seen is None)
        looks = self._looks.get(looks_key)
        if looks is None:
            looks = self._looks[looks_key] = self._row_looks(*looks_key)
        return {
            _DISPLAY: (
                row.name,
                row.platform.label,
                row.model,
                row.os_version,
                row.ownership.label,
                group or EMPTY_TEXT,
                self._identifier_text(staff),
                row.status.label,
                state.label,
                format_local_time(seen),
            ),
            _FOREGROUND: looks[0],
            _DECORATION: looks[1],
            _FONT: looks[2],
        }

    def _row_looks(self, state: ComplianceState, no_group: bool, no_staff: bool, never: bool) -> tuple[Any, ...]:
        """Foreground, decoration and font of a row's cells (``None`` where no column has one)."""
        placeholders = {
            k for k, shown in (("group", no_group), ("assigned_to", no_staff), ("last_checkin", never)) if shown
        }
        keys = self._keys
        foreground = tuple(
            self._compliance_colors[state] if k == "compliance" else self._muted if k in placeholders else None
            for k in keys
        )
        dot = self._dot(state)
        decoration = tuple(dot if k == "compliance" else None for k in keys)
        font = tuple(self._italic if k in placeholders else None for k in keys) if placeholders else None
        return foreground, decoration, font

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
        dot = _DOTS.get(state)
        if dot is None:  # drawn once for every model (on the GUI thread: QPixmap needs it)
            pixmap = QPixmap(12, 12)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._compliance_colors[state])
            painter.drawEllipse(1, 1, 10, 10)
            painter.end()
            dot = _DOTS[state] = QIcon(pixmap)
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
