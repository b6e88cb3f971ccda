"""The table of compliance exceptions (a small list, replaced as a whole on refresh)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.domain.compliance_exceptions import ExceptionStatus
from mdm_desktop.gui.models.commands_model import one_line
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import RowListModel
from mdm_desktop.services.exception_dto import ExceptionInfo

EXCEPTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("status", "Status"),
    ("subject", "Applies to"),
    ("rule", "Rule"),
    ("until", "Until"),
    ("requested_by", "Requested by"),
    ("approved_by", "Approved by"),
    ("reason", "Reason"),
)

STATUS_COLORS = {
    ExceptionStatus.PENDING: "#9a6700",
    ExceptionStatus.ACTIVE: "#1a7f37",
    ExceptionStatus.EXPIRED: "#6e7781",
    ExceptionStatus.REVOKED: "#6e7781",
    ExceptionStatus.REJECTED: "#6e7781",
}


class ExceptionTableModel(RowListModel[ExceptionInfo]):
    """Exceptions from compliance rules, newest first."""

    cell_roles = frozenset({int(Qt.ItemDataRole.ForegroundRole), int(Qt.ItemDataRole.ToolTipRole)})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(EXCEPTION_COLUMNS, parent)
        self._colors = {s: QColor(c) for s, c in STATUS_COLORS.items()}

    def _display(self, row: ExceptionInfo, key: str) -> str:
        match key:
            case "status":
                return row.status.label
            case "subject":
                return one_line(row.subject[:1].upper() + row.subject[1:])
            case "rule":
                return row.rule_id
            case "until":
                return row.last_day.isoformat()
            case "requested_by":
                return row.requested_by
            case "approved_by":
                return row.approved_by or "—"
            case "reason":
                return one_line(row.reason)
        return ""

    def _cell_data(self, row: ExceptionInfo, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and key == "status":
            return self._colors[row.status]
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "reason":
                return row.reason
            if key == "until":
                return f"Ends {format_local_time(row.valid_until)} (midnight UTC after its last day)"
            if key == "status" and row.decided_by:
                return f"{row.status.label} by {row.decided_by}"
        return None
