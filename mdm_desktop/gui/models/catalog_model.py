"""The app catalog list: a small table (every app fits in memory), sorted by a proxy in the view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from mdm_desktop.domain.devices import version_sort_key
from mdm_desktop.services.dto import CatalogAppSummary

_Index = QModelIndex | QPersistentModelIndex

APP_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""``data(index, APP_ROLE)`` returns the row's :class:`CatalogAppSummary`."""
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""A value that sorts naturally (numbers as numbers)."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("platform", "Platform"),
    ("identifier", "Identifier"),
    ("publisher", "Publisher"),
    ("latest", "Latest version"),
    ("versions", "Versions"),
    ("installed", "Installed on"),
)
COLUMN_INDEX = {key: i for i, (key, _) in enumerate(COLUMNS)}
_NUMERIC = frozenset({"versions", "installed"})
_MUTED = "#5b6878"


def plural(n: int, word: str) -> str:
    """``"1 device"``, ``"3 devices"`` with thousands separators."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


class CatalogModel(QAbstractTableModel):
    """Every catalog app, one per row; :meth:`set_rows` replaces the content."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[CatalogAppSummary] = []
        self._muted = QColor(_MUTED)

    def set_rows(self, rows: Sequence[CatalogAppSummary]) -> None:
        """Show ``rows`` (replacing what was shown)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> CatalogAppSummary | None:
        """The app in ``row``, or ``None``."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, app_id: int) -> int:
        """The row showing ``app_id``, or -1."""
        return next((i for i, r in enumerate(self._rows) if r.id == app_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section][1]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid() or not 0 <= index.column() < len(COLUMNS):
            return None
        app = self.row_at(index.row())
        if app is None:
            return None
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(app, key)
        if role == SORT_ROLE:
            return self._sort_value(app, key)
        if role == APP_ROLE:
            return app
        if role == Qt.ItemDataRole.TextAlignmentRole and key in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and (
            (key == "latest" and app.latest_version is None) or key == "identifier"
        ):
            return self._muted
        if role == Qt.ItemDataRole.ToolTipRole and key == "installed":
            return f"Reported installed on {plural(app.installed_count, 'device')}"
        return None

    @staticmethod
    def _display(app: CatalogAppSummary, key: str) -> str:
        match key:
            case "name":
                return app.name
            case "platform":
                return app.platform.label
            case "identifier":
                return app.identifier
            case "publisher":
                return app.publisher or "—"
            case "latest":
                return app.latest_version or "no build yet"
            case "versions":
                return f"{app.version_count:,}"
            case "installed":
                return f"{app.installed_count:,}"
        return ""

    @staticmethod
    def _sort_value(app: CatalogAppSummary, key: str) -> Any:
        match key:
            case "versions":
                return app.version_count
            case "installed":
                return app.installed_count
            case "platform":
                return app.platform.label.casefold()
            case "latest":
                return version_sort_key(app.latest_version or "")
        return CatalogModel._display(app, key).casefold()
