"""The audit log table: newest first, pages fetched by keyset from the audit service.

Like the device table, the model holds only the pages fetched so far:
``canFetchMore`` / ``fetchMore`` ask the service for the next page through the
:class:`TaskRunner` (off the GUI thread) and append it. Filters live in an
:class:`AuditQuery` evaluated in SQL; :meth:`set_query` resets the model and
fetches the first page again. Pages of an older query are dropped.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mdm_desktop.domain.audit import Outcome
from mdm_desktop.gui.models.keyset_table_model import PAGE_SIZE, KeysetTableModel, PageLoader
from mdm_desktop.gui.models.row_table_model import ROW_ROLE
from mdm_desktop.gui.session import SessionSource, current_session
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.audit import AuditService
from mdm_desktop.services.dto import AuditCursor, AuditEntryInfo, AuditQuery

ENTRY_ROLE = ROW_ROLE
"""``data(index, ENTRY_ROLE)`` returns the row's :class:`AuditEntryInfo`."""

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("time", "Time", 150),
    ("actor", "Actor", 110),
    ("action", "Action", 190),
    ("target", "Target", 210),
    ("outcome", "Outcome", 80),
    ("workstation", "Workstation", 120),
    ("details", "Details", 400),
)
COLUMN_INDEX = {key: i for i, (key, _, _) in enumerate(COLUMNS)}

OUTCOME_COLORS: dict[str, str] = {
    Outcome.SUCCESS.value: "#1d7a3a",
    Outcome.DENIED.value: "#b3261e",
    Outcome.FAILED.value: "#8f5b00",
}
"""Text colours of the outcome column; each keeps a contrast ratio above 4.5:1 on white."""

DETAILS_PREVIEW = 160
TEXT_CELL_LIMIT = 300
"""Longest target (or actor, action, workstation) shown in a cell; the detail view shows more."""
TOOLTIP_LIMIT = 1000


def format_time_seconds(value: dt.datetime) -> str:
    """A UTC timestamp as local wall-clock time to the second."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def cell_text(text: str, limit: int = TEXT_CELL_LIMIT) -> str:
    """``text`` as stored, cut to ``limit`` characters for a cell (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain_tooltip(text: str) -> str:
    """A tooltip that shows ``text`` literally (Qt would render a tooltip that looks like HTML as HTML)."""
    escaped = html.escape(cell_text(text, TOOLTIP_LIMIT), quote=False)
    return f"<p style='white-space:pre-wrap'>{escaped}</p>"


def details_preview(details: str) -> str:
    """The details JSON on one line, cut to a preview length."""
    text = " ".join(details.split())
    if text in ("{}", ""):
        return ""
    return text if len(text) <= DETAILS_PREVIEW else text[: DETAILS_PREVIEW - 1] + "…"


class AuditTableModel(KeysetTableModel[AuditEntryInfo, AuditCursor, AuditQuery]):
    """Paged, filtered audit log, newest first.

    Signals:
        page_loaded(int): a page arrived and was appended (argument: rows in it).
        loading_changed(bool): a page request started (True) or ended (False).
        load_failed(object): a page request failed (argument: the exception).
    """

    def __init__(
        self,
        audit: AuditService,
        session: SessionSource,
        runner: TaskRunner,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        columns = [(key, title) for key, title, _ in COLUMNS]
        super().__init__(columns, runner, AuditQuery(), parent, page_size=page_size, on_error=on_error)
        self._audit = audit
        self._session = session
        self._colors = {key: QColor(c) for key, c in OUTCOME_COLORS.items()}
        self._muted = QColor("#5b6878")

    def _page_loader(
        self, query: AuditQuery, after: AuditCursor | None, limit: int
    ) -> PageLoader[AuditEntryInfo, AuditCursor]:
        audit, principal = self._audit, current_session(self._session).principal
        return lambda: audit.list_page(principal, query, after=after, limit=limit)

    # ---- cells -------------------------------------------------------------------------------

    def _header_tip(self, key: str) -> str | None:
        return "Local time; the log is always shown newest first" if key == "time" else None

    def _cell_data(self, entry: AuditEntryInfo, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "outcome":
                return self._colors.get(entry.outcome)
            if key in ("details", "workstation"):
                return self._muted
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "time":
                return entry.occurred_at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", " UTC")
            if key == "target" and entry.target_kind:
                return plain_tooltip(f"{entry.target_kind}: {entry.target}")
            return None
        return None

    def _display(self, entry: AuditEntryInfo, key: str) -> str:
        match key:
            case "time":
                return format_time_seconds(entry.occurred_at)
            case "actor":
                actor = entry.actor if entry.actor_kind == "user" else f"{entry.actor} ({entry.actor_kind})"
                return cell_text(actor)
            case "action":
                return cell_text(entry.action)
            case "target":
                return cell_text(entry.target)
            case "outcome":
                return cell_text(entry.outcome.capitalize())
            case "workstation":
                return cell_text(entry.workstation)
            case "details":
                return details_preview(entry.details)
        return ""
