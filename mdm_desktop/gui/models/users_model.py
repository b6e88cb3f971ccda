"""Small tables of the Users pane: console accounts and roles (every row fits in memory)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import RIGHT_ALIGNED, RowListModel
from mdm_desktop.services.dto import RoleInfo, UserInfo

__all__ = [
    "ROLE_COLUMNS",
    "USER_COLUMNS",
    "RoleRow",
    "RoleTableModel",
    "UserTableModel",
    "group_scope_text",
    "is_locked",
    "user_status",
]

USER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("username", "User name"),
    ("display_name", "Name"),
    ("role", "Role"),
    ("scope", "Device groups"),
    ("mfa", "MFA"),
    ("status", "Status"),
    ("last_login", "Last sign-in"),
)
ROLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Role"),
    ("kind", "Kind"),
    ("permissions", "Permissions"),
    ("users", "Users"),
)

_MUTED = "#5b6878"
_WARNING = "#9a5b00"
_DANGER = "#b3261e"


def is_locked(user: UserInfo, now: dt.datetime | None = None) -> bool:
    """Whether ``user`` is locked out after failed sign-ins at ``now`` (default: the current time)."""
    now = now or dt.datetime.now(dt.UTC)
    return user.locked_until is not None and user.locked_until > now


def user_status(user: UserInfo, now: dt.datetime | None = None) -> str:
    """``"Active"``, ``"Disabled"`` or ``"Locked until 2026-11-03 14:05"``."""
    if user.disabled:
        return "Disabled"
    if is_locked(user, now) and user.locked_until is not None:
        until = user.locked_until.astimezone()
        today = (now or dt.datetime.now(dt.UTC)).astimezone().date()
        return f"Locked until {until:%H:%M}" if until.date() == today else f"Locked until {until:%Y-%m-%d %H:%M}"
    return "Active"


def group_scope_text(group_ids: Sequence[int], names: Mapping[int, str]) -> str:
    """``"All groups"`` for an unscoped account, else the group names (ids when the name is unknown)."""
    if not group_ids:
        return "All groups"
    return ", ".join(sorted(names.get(g, f"Group {g}") for g in group_ids))


class UserTableModel(RowListModel[UserInfo]):
    """Every console account, one per row."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(USER_COLUMNS, parent)
        self._group_names: dict[int, str] = {}
        self._muted = QColor(_MUTED)
        self._warning = QColor(_WARNING)
        self._danger = QColor(_DANGER)

    def set_group_names(self, names: Mapping[int, str]) -> None:
        """Name the device groups shown in the scope column."""
        self._group_names = dict(names)
        if self._rows:
            column = USER_COLUMNS.index(("scope", "Device groups"))
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column))

    def _display(self, row: UserInfo, key: str) -> str:
        match key:
            case "username":
                return row.username
            case "display_name":
                return row.display_name
            case "role":
                return row.role_label or row.role.label
            case "scope":
                return group_scope_text(row.group_ids, self._group_names)
            case "mfa":
                return "Enrolled" if row.mfa_enrolled else "Not enrolled"
            case "status":
                return user_status(row)
            case "last_login":  # the day; the exact time is in the tooltip
                return format_local_time(row.last_login_at)[:10]
        return ""

    def _cell_data(self, row: UserInfo, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "status" and row.disabled:
                return self._muted
            if key == "status" and is_locked(row):
                return self._danger
            if key == "mfa" and not row.mfa_enrolled:
                return self._warning
            if key == "scope" and not row.group_ids:
                return self._muted
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "mfa" and not row.mfa_enrolled:
                return "Enrols an authenticator app at the next sign-in; holds no permission until then"
            if key == "status" and row.failed_attempts:
                return f"{user_status(row)}: {row.failed_attempts} failed sign-in(s) since the last success"
            if key == "last_login":
                return format_local_time(row.last_login_at)
            if key in {"role", "scope", "status", "display_name"}:
                return self._display(row, key)  # the full text of a column that may be cut short
        return None

    def _header_tip(self, key: str) -> str | None:
        if key == "mfa":
            return "Whether an authenticator app is enrolled (multi-factor sign-in)"
        if key == "scope":
            return "Device groups the user's role applies to"
        return None

    def _sort_value(self, row: UserInfo, key: str) -> Any:
        if key == "last_login":
            return row.last_login_at.timestamp() if row.last_login_at is not None else 0.0
        return self._display(row, key).casefold()


@dataclass(frozen=True, slots=True)
class RoleRow:
    """A role as the table holds it: built-in roles get a stable negative id (they have none in the store)."""

    id: int
    info: RoleInfo

    @classmethod
    def wrap(cls, roles: Sequence[RoleInfo]) -> list[RoleRow]:
        """Rows for ``roles`` (custom roles keep their id; built-in role ``i`` gets ``-(i + 1)``)."""
        return [cls(r.id if r.id is not None else -(i + 1), r) for i, r in enumerate(roles)]


class RoleTableModel(RowListModel[RoleRow]):
    """Built-in and custom roles with how many permissions and users each has."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(ROLE_COLUMNS, parent)
        self._muted = QColor(_MUTED)

    def set_roles(self, roles: Sequence[RoleInfo]) -> None:
        """Show ``roles`` (built-in first, as the service lists them)."""
        self.set_rows(RoleRow.wrap(roles))

    def role_at(self, row: int) -> RoleInfo | None:
        """The role shown in ``row``."""
        found = self.row_at(row)
        return found.info if found is not None else None

    def _display(self, row: RoleRow, key: str) -> str:
        role = row.info
        match key:
            case "name":
                return role.name
            case "kind":
                return "Built-in" if role.built_in else "Custom"
            case "permissions":
                return f"{len(role.permissions)}"
            case "users":
                return f"{role.user_count:,}"
        return ""

    def _cell_data(self, row: RoleRow, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and key in {"permissions", "users"}:
            return RIGHT_ALIGNED
        if role == Qt.ItemDataRole.ForegroundRole and key == "kind" and row.info.built_in:
            return self._muted
        if role == Qt.ItemDataRole.ToolTipRole and key == "name" and row.info.description:
            return row.info.description
        return None
