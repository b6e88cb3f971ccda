"""The app catalog list: a small table (every app fits in memory), sorted by a proxy in the view."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.domain.devices import version_sort_key
from mdm_desktop.gui.models.row_table_model import RIGHT_ALIGNED, ROW_ROLE, SORT_ROLE, RowListModel
from mdm_desktop.services.dto import CatalogAppSummary

__all__ = ["APP_ROLE", "COLUMNS", "COLUMN_INDEX", "SORT_ROLE", "CatalogModel", "plural"]

APP_ROLE = ROW_ROLE
"""``data(index, APP_ROLE)`` returns the row's :class:`CatalogAppSummary`."""

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


class CatalogModel(RowListModel[CatalogAppSummary]):
    """Every catalog app, one per row; :meth:`set_rows` replaces the content."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)
        self._muted = QColor(_MUTED)

    def _cell_data(self, app: CatalogAppSummary, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and key in _NUMERIC:
            return RIGHT_ALIGNED
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
