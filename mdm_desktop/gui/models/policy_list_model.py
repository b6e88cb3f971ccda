"""The policy list: a small table (every policy fits in memory), sorted by a proxy in the view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.services.dto import PolicySummary

_Index = QModelIndex | QPersistentModelIndex

POLICY_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""``data(index, POLICY_ROLE)`` returns the row's :class:`PolicySummary`."""
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""A value that sorts naturally (numbers as numbers, never-published first)."""

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


class PolicyListModel(QAbstractTableModel):
    """Every policy, one per row; :meth:`set_rows` replaces the content."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[PolicySummary] = []
        self._muted = QColor(_MUTED)
        self._changed = QColor(_CHANGED)

    def set_rows(self, rows: Sequence[PolicySummary]) -> None:
        """Show ``rows`` (replacing what was shown)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> PolicySummary | None:
        """The policy in ``row``, or ``None``."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, policy_id: int) -> int:
        """The row showing ``policy_id``, or -1."""
        return next((i for i, r in enumerate(self._rows) if r.id == policy_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS.get(COLUMNS[section][0])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid() or not 0 <= index.column() < len(COLUMNS):
            return None
        p = self.row_at(index.row())
        if p is None:
            return None
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(p, key)
        if role == SORT_ROLE:
            return self._sort_value(p, key)
        if role == POLICY_ROLE:
            return p
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
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
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
