"""Tables of the Commands view: remote commands (paged by keyset) and pending approvals.

Device names, reasons and results come from devices and people: they are shown as plain
text (never rich text) and cut in the cell; the tooltip holds the whole text.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.domain.commands import CommandStatus
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.keyset_table_model import KeysetTableModel, PageLoader
from mdm_desktop.gui.models.row_table_model import RowListModel
from mdm_desktop.gui.session import SessionSource, current_session
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.command_dto import ApprovalInfo, CommandQuery
from mdm_desktop.services.commands import CommandService
from mdm_desktop.services.dto import CommandInfo

COMMAND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("device", "Device"),
    ("type", "Command"),
    ("status", "Status"),
    ("created_at", "Queued"),
    ("created_by", "By"),
    ("delivered_at", "Delivered"),
    ("completed_at", "Completed"),
    ("reason", "Reason"),
    ("result", "Device's answer"),
)
APPROVAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("type", "Command"),
    ("devices", "Devices"),
    ("requested_by", "Requested by"),
    ("requested_at", "Requested"),
    ("expires_at", "Expires"),
    ("status", "Status"),
    ("reason", "Reason"),
)
CELL_TEXT = 160
"""Longest text shown in a cell; the tooltip shows all of it."""

STATUS_COLORS = {
    CommandStatus.QUEUED: "#2f5d8a",
    CommandStatus.DELIVERED: "#2f5d8a",
    CommandStatus.ACKNOWLEDGED: "#1b7a3d",
    CommandStatus.FAILED: "#b3261e",
    CommandStatus.EXPIRED: "#9a5b00",
    CommandStatus.CANCELLED: "#5b6878",
}
DESTRUCTIVE_COLOR = "#b3261e"


def one_line(text: str, limit: int = CELL_TEXT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def devices_text(names: tuple[str, ...], shown: int = 3) -> str:
    """``"A, B, C and 4 more"``."""
    head = ", ".join(one_line(n, 40) for n in names[:shown])
    rest = len(names) - shown
    return f"{head} and {rest} more" if rest > 0 else head


class CommandTableModel(KeysetTableModel[CommandInfo, int, CommandQuery]):
    """Commands, newest first, fetched page by page from :class:`CommandService`."""

    cell_roles = frozenset({int(Qt.ItemDataRole.ForegroundRole), int(Qt.ItemDataRole.ToolTipRole)})

    def __init__(
        self,
        commands: CommandService,
        session: SessionSource,
        runner: TaskRunner,
        query: CommandQuery,
        parent: QObject | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(COMMAND_COLUMNS, runner, query, parent, **kw)
        self._commands = commands
        self._session = session
        self._colors = {s: QColor(c) for s, c in STATUS_COLORS.items()}
        self._destructive = QColor(DESTRUCTIVE_COLOR)

    def _page_loader(self, query: CommandQuery, after: int | None, limit: int) -> PageLoader[CommandInfo, int]:
        commands, principal = self._commands, current_session(self._session).principal
        return lambda: commands.list_page(principal, query, after=after, limit=limit)

    def _display(self, row: CommandInfo, key: str) -> str:
        match key:
            case "device":
                return one_line(row.device_name, 80)
            case "type":
                return row.type.label
            case "status":
                return row.status.label
            case "created_at":
                return format_local_time(row.created_at)
            case "created_by":
                return row.created_by
            case "delivered_at":
                return format_local_time(row.delivered_at, "—")
            case "completed_at":
                return format_local_time(row.completed_at, "—")
            case "reason":
                return one_line(row.reason) or "—"
            case "result":
                return one_line(row.result) or "—"
        return ""

    def _cell_data(self, row: CommandInfo, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "status":
                return self._colors.get(row.status)
            if key == "type" and row.type.destructive:
                return self._destructive
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "reason" and row.reason:
                return row.reason
            if key == "result" and row.result:
                return row.result
            if key == "status" and row.expires_at is not None and not row.status.final:
                return f"Expires {format_local_time(row.expires_at)}"
        return None


class ApprovalTableModel(RowListModel[ApprovalInfo]):
    """Guarded command requests waiting for a second administrator, newest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(APPROVAL_COLUMNS, parent)
        self._destructive = QColor(DESTRUCTIVE_COLOR)

    def _display(self, row: ApprovalInfo, key: str) -> str:
        match key:
            case "type":
                return row.type.label
            case "devices":
                return devices_text(row.device_names)
            case "requested_by":
                return row.requested_by
            case "requested_at":
                return format_local_time(row.requested_at)
            case "expires_at":
                return format_local_time(row.expires_at)
            case "status":
                return row.status.label
            case "reason":
                return one_line(row.reason)
        return ""

    def _cell_data(self, row: ApprovalInfo, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and key == "type" and row.type.destructive:
            return self._destructive
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "devices":
                return "\n".join(row.device_names[:50]) + (
                    f"\n… and {len(row.device_names) - 50} more" if len(row.device_names) > 50 else ""
                )
            if key == "reason":
                return row.reason
        return None
