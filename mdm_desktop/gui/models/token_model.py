"""The enrolment tokens list: a small in-memory table (a site has a handful of tokens)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import RIGHT_ALIGNED, RowListModel
from mdm_desktop.services.enrollment import TokenInfo

COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "Token"),
    ("group", "Group"),
    ("ownership", "Ownership"),
    ("uses", "Uses left"),
    ("used", "Used"),
    ("expires", "Expires"),
    ("state", "State"),
    ("created", "Created by"),
)
COLUMN_INDEX = {key: i for i, (key, _) in enumerate(COLUMNS)}
_MUTED = "#5b6878"
_STATE_COLOURS = {"active": "#1b7a3d", "revoked": "#a12a2a", "expired": "#8a5a00", "used up": _MUTED}


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One token as the table shows it: its state is worked out once, when the list is loaded."""

    id: int
    info: TokenInfo
    state: str

    @property
    def label(self) -> str:
        """The short id people read out and ``token revoke`` accepts (the token text is never kept)."""
        return self.info.uid[:12]


def token_rows(infos: tuple[TokenInfo, ...], now: dt.datetime) -> list[TokenRow]:
    """Rows for ``infos`` with their state at ``now``."""
    return [TokenRow(i, info, info.state(now)) for i, info in enumerate(infos, start=1)]


class TokenTableModel(RowListModel[TokenRow]):
    """Enrolment tokens, newest first; :meth:`set_rows` replaces the content."""

    cell_roles = frozenset(
        {
            int(Qt.ItemDataRole.ForegroundRole),
            int(Qt.ItemDataRole.TextAlignmentRole),
            int(Qt.ItemDataRole.ToolTipRole),
        }
    )

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, parent)
        self._muted = QColor(_MUTED)
        self._state_colours = {state: QColor(colour) for state, colour in _STATE_COLOURS.items()}

    def _cell_data(self, row: TokenRow, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("uses", "used"):
            return RIGHT_ALIGNED
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "state":
                return self._state_colours.get(row.state, self._muted)
            if row.state != "active":
                return self._muted
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "label":
                return f"Token id {row.info.uid} (the token itself was shown once, when it was made)"
            if key == "state" and row.info.revoked_at is not None:
                return f"Revoked {format_local_time(row.info.revoked_at)}"
            if key == "used" and row.info.last_used_at is not None:
                return f"Last used {format_local_time(row.info.last_used_at)}"
        return None

    @staticmethod
    def _display(row: TokenRow, key: str) -> str:
        info = row.info
        match key:
            case "label":
                return row.label
            case "group":
                return info.group_name or "(no group)"
            case "ownership":
                return info.ownership.label
            case "uses":
                return f"{info.uses_left:,} of {info.uses_allowed:,}"
            case "used":
                return f"{info.uses_allowed - info.uses_left:,}"
            case "expires":
                return format_local_time(info.expires_at)
            case "state":
                return row.state.capitalize()
            case "created":
                return f"{info.created_by}, {format_local_time(info.created_at)}"
        return ""
