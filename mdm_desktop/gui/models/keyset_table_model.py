"""Base of the large tables: pages fetched by keyset from a service, never the whole table.

The model holds only the pages fetched so far. ``canFetchMore`` / ``fetchMore``
ask the service for the next page (through the :class:`TaskRunner`, off the GUI
thread) and append it. Filters (and order) live in a query object evaluated in
SQL: :meth:`KeysetTableModel.set_query` resets the model and fetches again from
the first page. Results of pages requested before a reset are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from PySide6.QtCore import QModelIndex, QObject, Signal

from mdm_desktop.gui.models.row_table_model import Index, RowT, RowTableModel
from mdm_desktop.gui.tasks import Task, TaskRunner

PAGE_SIZE = 200

CursorT = TypeVar("CursorT")
QueryT = TypeVar("QueryT")
_RowT_co = TypeVar("_RowT_co", covariant=True)
_CursorT_co = TypeVar("_CursorT_co", covariant=True)


class KeysetPage(Protocol[_RowT_co, _CursorT_co]):
    """What a service's ``list_page`` returns: some rows and the cursor after them (``None`` at the end)."""

    @property
    def rows(self) -> Sequence[_RowT_co]: ...

    @property
    def next_cursor(self) -> _CursorT_co | None: ...


PageLoader = Callable[[], KeysetPage[RowT, CursorT]]


class KeysetTableModel(RowTableModel[RowT], Generic[RowT, CursorT, QueryT]):
    """A table of ``RowT`` filled page by page after ``CursorT`` positions, for a ``QueryT``.

    Subclasses say how to fetch a page (:meth:`_page_loader`) and how cells look.

    Signals:
        page_loaded(int): a page arrived and was appended (argument: rows in it).
        loading_changed(bool): a page request started (True) or ended (False).
        load_failed(object): a page request failed (argument: the exception).

    Args:
        columns: ``(key, title)`` of each column, in order.
        runner: Runs page requests off the GUI thread.
        query: The query shown until :meth:`set_query`; nothing is fetched before the first
            :meth:`reload` (or :meth:`set_query`).
        parent: The owning QObject.
        page_size: Rows a page.
        first_page_size: Rows of the first page (default: ``page_size``). A first page just taller than a
            screen paints sooner; the view fetches the next pages as the user scrolls.
        on_error: Called with a failed request's exception; defaults to the runner's handler.
    """

    page_loaded = Signal(int)
    loading_changed = Signal(bool)
    load_failed = Signal(object)

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        runner: TaskRunner,
        query: QueryT,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        first_page_size: int | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        super().__init__(columns, parent)
        self._runner = runner
        self._page_size = page_size
        self._first_page_size = min(first_page_size or page_size, page_size)
        self._on_error = on_error
        self._query = query
        self._cursor: CursorT | None = None
        self._exhausted = False
        self._started = False
        self._generation = 0
        self._task: Task | None = None

    # ---- state -----------------------------------------------------------------------------

    @property
    def query(self) -> QueryT:
        """The filters (and order) currently shown."""
        return self._query

    @property
    def loading(self) -> bool:
        """True while a page request is on its way."""
        return self._task is not None

    @property
    def exhausted(self) -> bool:
        """True once the last page has arrived."""
        return self._exhausted

    # ---- actions ---------------------------------------------------------------------------

    def set_query(self, query: QueryT) -> None:
        """Show the rows matching ``query`` (resets and fetches the first page)."""
        self._query = query
        self.reload()

    def reload(self) -> None:
        """Drop the loaded rows and fetch the first page again."""
        # The first load has nothing to drop: no reset for the views to redo their layout over.
        reset = self._started or bool(self._rows)
        if reset:
            self.beginResetModel()
        self._generation += 1
        self._cancel_task()
        self._rows = []
        self._forget_cells()
        self._cursor = None
        self._exhausted = False
        self._started = True
        if reset:
            self.endResetModel()
        self._request_page()

    def shutdown(self) -> None:
        """Drop any page still on its way (the owner is closing)."""
        self._generation += 1
        self._cancel_task()

    # ---- Qt model interface ------------------------------------------------------------------

    def canFetchMore(self, parent: Index) -> bool:
        if parent.isValid():
            return False
        return self._started and not self._exhausted and self._task is None

    def fetchMore(self, parent: Index) -> None:
        if self.canFetchMore(parent):
            self._request_page()

    # ---- paging ------------------------------------------------------------------------------

    def _page_loader(self, query: QueryT, after: CursorT | None, limit: int) -> PageLoader[RowT, CursorT]:
        """On the GUI thread: a function that fetches one page on a worker thread.

        The function must not touch the model: take what it needs (service, principal) into
        the closure here.
        """
        raise NotImplementedError

    def _request_page(self) -> None:
        if self._task is not None or self._exhausted:
            return
        generation = self._generation
        size = self._first_page_size if not self._rows else self._page_size
        self._task = self._runner.submit(
            self._page_loader(self._query, self._cursor, size),
            on_done=lambda page: self._page_arrived(generation, page),
            on_error=lambda exc: self._page_failed(generation, exc),
        )
        self.loading_changed.emit(True)

    def _cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self.loading_changed.emit(False)

    def _page_arrived(self, generation: int, page: KeysetPage[RowT, CursorT]) -> None:
        if generation != self._generation:
            return  # a page of a query that is no longer shown
        self._task = None
        self._cursor = page.next_cursor
        self._exhausted = page.next_cursor is None
        if page.rows:
            first = len(self._rows)
            if first == 0:
                self._prepare_cells(0, page.rows)  # the page the view is about to paint
            self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
            self._rows.extend(page.rows)
            self.endInsertRows()
        self.loading_changed.emit(False)
        self.page_loaded.emit(len(page.rows))

    def _page_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._task = None
        self._exhausted = True  # do not hammer a failing store; reload() tries again
        self.loading_changed.emit(False)
        self.load_failed.emit(exc)
        handler = self._on_error or self._runner.default_error_handler
        if handler is not None:
            handler(exc)
