"""Base table models over rows of frozen DTOs, one DTO a row, one column a key.

:class:`RowTableModel` holds the rows and answers the parts of the Qt model
interface every table here shares: row and column counts, flags, header titles,
and the roles every row answers (``ROW_ROLE`` for the DTO itself, ``SORT_ROLE``
for a proxy's sort value). Subclasses say how a cell looks (:meth:`_display`,
:meth:`_cell_data`); a subclass that sets :attr:`RowTableModel.cache_cells` has
each row's cells worked out once, so painting a page is a lookup per cell.
:class:`RowListModel` is the in-memory variant for small
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
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_HORIZONTAL = Qt.Orientation.Horizontal

_ON_DEMAND_ROLES = frozenset(
    int(r) for r in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.StatusTipRole, Qt.ItemDataRole.WhatsThisRole)
)
"""Roles asked for one cell at a time (hover), never kept in the cell cache."""
_STANDARD_ROLES = frozenset(range(int(Qt.ItemDataRole.UserRole)))

Cells = dict[int, tuple[Any, ...] | None]
"""One row's cached cells: role -> the value of each column (``None``: no column answers the role)."""

RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
"""``TextAlignmentRole`` value of numeric columns."""


class Identified(Protocol):
    """A row DTO with a database id."""

    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=Identified)

_UNCACHED: Any = object()
"""Marks a role the cell cache does not hold."""


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
        self._cells: dict[int, Cells] | None = {} if self.cache_cells else None
        roles = self.cell_roles
        self._cached_roles = tuple(sorted(roles - _ON_DEMAND_ROLES)) if roles is not None else ()
        # Standard roles no column answers: ``None`` at once, without asking the subclass.
        self._silent_roles = _STANDARD_ROLES - roles - {_DISPLAY} if roles is not None else frozenset()

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

    # flags(): QAbstractTableModel's own answer (enabled, selectable, no children) is the one wanted, and
    # answering it in C++ spares a Python call for every painted cell.

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Asked a few hundred times a paint (every role of every section, for its size and its look): the
        # roles no header answers go first, with plain int comparisons.
        if role != _DISPLAY and role != _TOOLTIP:
            return None
        if orientation is not _HORIZONTAL or not 0 <= section < len(self._keys):
            return None
        if role == _DISPLAY:
            return self._titles[section]
        return self._header_tip(self._keys[section])

    cell_roles: frozenset[int] | None = None
    """The roles :meth:`_cell_data` answers; ``None``: ask it for every role.

    A view asks each visible cell for a dozen roles on every paint; a model that names its roles here
    answers the others at once, which keeps painting a page of a large table cheap.
    """

    cache_cells: bool = False
    """Work out each row's cells (display text and :attr:`cell_roles` other than tooltips) once, on first paint.

    Only for models whose cells depend on nothing but the row's DTO (or that call :meth:`_forget_cells`
    whenever something else they show changes). Needs :attr:`cell_roles`.
    """

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        cache = self._cells
        if cache is not None:
            # The paint path: one dict look-up per cell once the row's cells are known.
            if role in self._silent_roles:
                return None
            number = index.row()
            cells = cache.get(number)
            if cells is None:
                if not 0 <= number < len(self._rows):
                    return None
                cells = cache[number] = self._row_cells(self._rows[number])
            values = cells.get(role, _UNCACHED)
            if values is not _UNCACHED:
                return None if values is None else values[index.column()]
        return self._uncached_data(index, role)

    def _uncached_data(self, index: Index, role: int) -> Any:
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

    def _row_cells(self, row: RowT) -> Cells:
        cells: Cells = {_DISPLAY: tuple(self._display(row, key) for key in self._keys)}
        for role in self._cached_roles:
            values = tuple(self._cell_data(row, key, role) for key in self._keys)
            cells[role] = values if any(v is not None for v in values) else None
        return cells

    def _prepare_cells(self, first: int, rows: Sequence[RowT]) -> None:
        """Work out the cells of ``rows`` (about to be shown from row ``first``) now, not while painting.

        For the page a view paints first: the same work costs about twice as much inside a paint, where
        every row's first ``data()`` call would do it between Qt's drawing (benchmarks/bench_devices.py).
        """
        cache = self._cells
        if cache is None:
            return
        for offset, row in enumerate(rows):
            cache[first + offset] = self._row_cells(row)

    def _forget_cells(self) -> None:
        """Drop the cached cells (the rows were replaced, or something else they show changed)."""
        if self._cells is not None:
            self._cells.clear()

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
        self._forget_cells()
        self.endResetModel()
