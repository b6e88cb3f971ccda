"""Base table models over rows of frozen DTOs, one DTO a row, one column a key.

:class:`RowTableModel` holds the rows and answers the parts of the Qt model
interface every table here shares: row and column counts, flags, header titles,
and the roles every row answers (``ROW_ROLE`` for the DTO itself, ``SORT_ROLE``
for a proxy's sort value). Subclasses say how a cell looks (:meth:`_display`,
:meth:`_cell_data`). :class:`RowListModel` is the in-memory variant for small
lists replaced as a whole; :class:`~mdm_desktop.gui.models.keyset_table_model.KeysetTableModel`
is the paged one for large tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex

ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""``data(index, ROW_ROLE)`` returns the row's DTO."""
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""A value that sorts naturally (numbers as numbers), for a sorting proxy; ``None`` where the model sorts in SQL."""

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
"""``TextAlignmentRole`` value of numeric columns."""


class Identified(Protocol):
    """A row DTO with a database id."""

    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=Identified)


class RowTableModel(QAbstractTableModel, Generic[RowT]):
    """A flat table of ``RowT`` DTOs, read-only and selectable by row.

    Args:
        columns: ``(key, title)`` of each column, in order; the key names the column in
            :meth:`_display`, :meth:`_cell_data`, :meth:`_sort_value` and :meth:`_header_tip`.
        parent: The owning QObject.
    """

    def __init__(self, columns: Sequence[tuple[str, str]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._keys = tuple(key for key, _ in columns)
        self._titles = tuple(title for _, title in columns)
        self._rows: list[RowT] = []

    # ---- rows ----------------------------------------------------------------------------------

    def row_at(self, row: int) -> RowT | None:
        """The DTO shown in ``row``, or ``None`` outside the rows held."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, row_id: int) -> int:
        """The row showing the DTO whose id is ``row_id`` among the rows held, or -1."""
        return next((i for i, r in enumerate(self._rows) if r.id == row_id), -1)

    # ---- Qt model interface ------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._keys)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._keys):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._titles[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._header_tip(self._keys[section])
        return None

    cell_roles: frozenset[int] | None = None
    """The roles :meth:`_cell_data` answers; ``None``: ask it for every role.

    A view asks each visible cell for a dozen roles on every paint; a model that names its roles here
    answers the others at once, which keeps painting a page of a large table cheap.
    """

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        role = int(role)
        if (
            role != _DISPLAY
            and role != ROW_ROLE
            and role != SORT_ROLE
            and self.cell_roles is not None
            and role not in self.cell_roles
        ):
            return None
        # An index of this flat model has no parent; an invalid index has row and column -1.
        number, column = index.row(), index.column()
        if not (0 <= number < len(self._rows) and 0 <= column < len(self._keys)):
            return None
        row = self._rows[number]
        key = self._keys[column]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, key)
        if role == ROW_ROLE:
            return row
        if role == SORT_ROLE:
            return self._sort_value(row, key)
        return self._cell_data(row, key, role)

    # ---- for subclasses --------------------------------------------------------------------------

    def _display(self, row: RowT, key: str) -> str:
        """The text of column ``key`` for ``row``."""
        raise NotImplementedError

    def _cell_data(self, row: RowT, key: str, role: int) -> Any:
        """Any other role of column ``key`` for ``row`` (colours, tooltips...); ``None`` by default."""
        return None

    def _sort_value(self, row: RowT, key: str) -> Any:
        """``SORT_ROLE`` of column ``key`` for ``row``; ``None`` by default (no proxy sorting)."""
        return None

    def _header_tip(self, key: str) -> str | None:
        """The tooltip of column ``key``'s header; ``None`` by default."""
        return None


class RowListModel(RowTableModel[RowT]):
    """A small table whose rows all fit in memory; :meth:`set_rows` replaces the content."""

    def set_rows(self, rows: Sequence[RowT]) -> None:
        """Show ``rows`` (replacing what was shown)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()
