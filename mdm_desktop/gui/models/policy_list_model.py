"""The policy list: a small table (every policy fits in memory), sorted by a proxy in the view."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import RIGHT_ALIGNED, ROW_ROLE, SORT_ROLE, RowListModel
from mdm_desktop.services.dto import PolicySummary

__all__ = ["COLUMNS", "COLUMN_INDEX", "POLICY_ROLE", "SORT_ROLE", "PolicyListModel", "draft_text"]

POLICY_ROLE = ROW_ROLE
"""``data(index, POLICY_ROLE)`` returns the row's :class:`PolicySummary`."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("version", "Version"),
    ("published", "Published"),
    ("groups", "Groups"),
    ("draft", "Draft"),
)
COLUMN_INDEX = {key: i for i, (key, _) in enumerate(COLUMNS)}
_HEADER_TIPS = {
    "version": "Latest published version",
    "groups": "Device groups a version of this policy is assigned to",
    "draft": "Whether the draft holds changes not yet published",
}

_MUTED = "#5b6878"
_CHANGED = "#8f5b00"


def draft_text(p: PolicySummary) -> str:
    """Whether the draft holds unpublished changes, in words."""
    if p.latest_version is None:
        return "Not published yet"
    return "Unpublished changes" if p.draft_changed else f"Same as v{p.latest_version}"


class PolicyListModel(RowListModel[PolicySummary]):
    """Every policy, one per row; :meth:`set_rows` replaces the content.

    ``SORT_ROLE`` sorts numbers as numbers and never-published policies first.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)
        self._muted = QColor(_MUTED)
        self._changed = QColor(_CHANGED)

    def _header_tip(self, key: str) -> str | None:
        return _HEADER_TIPS.get(key)

    def _cell_data(self, p: PolicySummary, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "name" and p.description:
                return p.description
            if key == "published" and p.published_at is not None:
                return p.published_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "draft" and (p.draft_changed or p.latest_version is None):
                return self._changed
            if key == "version" and p.latest_version is None:
                return self._muted
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and key == "groups":
            return RIGHT_ALIGNED
        return None

    @staticmethod
    def _display(p: PolicySummary, key: str) -> str:
        match key:
            case "name":
                return p.name
            case "version":
                return f"v{p.latest_version}" if p.latest_version is not None else "—"
            case "published":
                return format_local_time(p.published_at, never="—")
            case "groups":
                return str(p.assigned_groups)
            case "draft":
                return draft_text(p)
        return ""

    @staticmethod
    def _sort_value(p: PolicySummary, key: str) -> Any:
        match key:
            case "name":
                return p.name.casefold()
            case "version":
                return p.latest_version or 0
            case "published":
                return p.published_at.timestamp() if p.published_at is not None else 0.0
            case "groups":
                return p.assigned_groups
            case "draft":
                return draft_text(p)
        return None
