"""Small tables of temporary access requests and emergency (break-glass) sign-ins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.domain.accounts import AccessRequestStatus
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import RowListModel
from mdm_desktop.services.dto import AccessRequestInfo, BreakGlassUseInfo

__all__ = [
    "BREAK_GLASS_COLUMNS",
    "REQUEST_COLUMNS",
    "AccessRequestTableModel",
    "BreakGlassTableModel",
    "duration_text",
    "request_state_text",
]

REQUEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("requested_at", "Asked"),
    ("requester", "Who"),
    ("permission", "Permission"),
    ("group", "Device group"),
    ("duration", "For"),
    ("state", "State"),
    ("ends", "Ends / ended"),
    ("decided_by", "Decided by"),
)
BREAK_GLASS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("used_at", "Used"),
    ("used_by", "By"),
    ("workstation", "Workstation"),
    ("reviewed", "Review"),
)

_STATE_COLORS = {
    AccessRequestStatus.PENDING.value: "#9a5b00",
    AccessRequestStatus.APPROVED.value: "#1b7a3d",
    AccessRequestStatus.DENIED.value: "#b3261e",
}
_MUTED = "#5b6878"


def duration_text(minutes: int) -> str:
    """``90`` -> ``"1 h 30 min"``, ``2880`` -> ``"2 days"``."""
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "1 day" if days == 1 else f"{days} days"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def request_state_text(request: AccessRequestInfo, now: dt.datetime | None = None) -> str:
    """The state in words; an approved request whose time is up reads "Expired" even before the clock job runs."""
    now = now or dt.datetime.now(dt.UTC)
    if request.status == AccessRequestStatus.APPROVED.value:
        if request.expires_at is not None and request.expires_at <= now:
            return "Expired"
        return "Active"
    try:
        return AccessRequestStatus(request.status).label
    except ValueError:
        return request.status.capitalize()


class AccessRequestTableModel(RowListModel[AccessRequestInfo]):
    """Access requests, newest first as the service lists them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(REQUEST_COLUMNS, parent)
        self._muted = QColor(_MUTED)
        self._colors = {state: QColor(color) for state, color in _STATE_COLORS.items()}

    def _display(self, row: AccessRequestInfo, key: str) -> str:
        match key:
            case "requested_at":
                return format_local_time(row.requested_at)
            case "requester":
                return row.requester
            case "permission":
                return row.permission.label
            case "group":
                return row.group_name or ("All groups" if row.group_id is None else f"Group {row.group_id}")
            case "duration":
                return duration_text(row.duration_minutes)
            case "state":
                return request_state_text(row)
            case "ends":
                return format_local_time(row.expires_at, "—")
            case "decided_by":
                return row.decided_by or "—"
        return ""

    def _cell_data(self, row: AccessRequestInfo, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "state":
                return self._colors.get(row.status, self._muted)
            if key in {"ends", "decided_by"} and not (row.expires_at if key == "ends" else row.decided_by):
                return self._muted
        if role == Qt.ItemDataRole.ToolTipRole and key in {"permission", "requester"}:
            return row.reason
        return None

    def _sort_value(self, row: AccessRequestInfo, key: str) -> Any:
        match key:
            case "requested_at":
                return row.requested_at.timestamp()
            case "duration":
                return row.duration_minutes
            case "ends":
                return row.expires_at.timestamp() if row.expires_at is not None else 0.0
        return self._display(row, key).casefold()


class BreakGlassTableModel(RowListModel[BreakGlassUseInfo]):
    """Uses of the emergency code, newest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(BREAK_GLASS_COLUMNS, parent)
        self._warning = QColor(_STATE_COLORS[AccessRequestStatus.PENDING.value])

    def _display(self, row: BreakGlassUseInfo, key: str) -> str:
        match key:
            case "used_at":
                return format_local_time(row.used_at)
            case "used_by":
                return row.used_by
            case "workstation":
                return row.workstation or "—"
            case "reviewed":
                if row.reviewed_at is None:
                    return "Waiting for review"
                return f"Reviewed by {row.reviewed_by}, {format_local_time(row.reviewed_at)}"
        return ""

    def _cell_data(self, row: BreakGlassUseInfo, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and key == "reviewed" and row.reviewed_at is None:
            return self._warning
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "reviewed" and row.review_note:
                return row.review_note
            if key in {"used_at", "used_by", "workstation"}:
                return f"Code created {format_local_time(row.code_created_at)} by {row.code_created_by}"
        return None
