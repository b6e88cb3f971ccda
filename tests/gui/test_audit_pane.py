"""Audit pane and AuditTableModel: keyset pages through the runner, SQL filters, plain-text detail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QDate, QModelIndex, Qt

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.audit import Outcome, canonical_json
from mdm_desktop.gui.models.audit_table_model import COLUMN_INDEX, COLUMNS, ENTRY_ROLE, AuditTableModel
from mdm_desktop.gui.panes.audit_pane import AuditPane
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import AuditQuery, SessionInfo
from mdm_desktop.store.schema import AuditEntry
from tests.conftest import user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_audit_entries, audit_count, table_count

RICH = "<b>bold</b> <a href='x'>link</a>"


@pytest.fixture
def entries(sqlite_ctx: AppContext, admin_session: SessionInfo) -> list[int]:
    """450 entries after the admin's sign-in (ids grow with time), the newest with markup in its details."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    ids = add_audit_entries(sqlite_ctx, 449, start=start, step=dt.timedelta(minutes=9))
    with sqlite_ctx.uow(write=True) as uow:
        entry = AuditEntry(
            occurred_at=dt.datetime.now(dt.UTC),
            actor_kind="user",
            actor="admin",
            workstation="ws-1",
            action="policies.publish",
            target_kind="policy",
            target="<i>Ward</i>",
            outcome="success",
            details=canonical_json({"name": RICH, "version": 3, "settings": {"passcode": {"min_length": 8}}}),
            prev_hash="",
            entry_hash="f" * 64,
        )
        uow.session.add(entry)
        uow.session.flush()
        ids.append(entry.id)
        uow.commit()
    return ids


@pytest.fixture
def model(qtbot, sqlite_ctx: AppContext, admin_session: SessionInfo, runner: TaskRunner) -> Iterator[AuditTableModel]:
    m = AuditTableModel(sqlite_ctx.services.audit, admin_session, runner)
    yield m
    m.shutdown()


def load_first(qtbot, model: AuditTableModel, query: AuditQuery | None = None) -> None:
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_query(query or AuditQuery())


def load_all(qtbot, model: AuditTableModel) -> None:
    while model.canFetchMore(QModelIndex()):
        with qtbot.waitSignal(model.page_loaded, timeout=10_000):
            model.fetchMore(QModelIndex())


def test_model_passes_qtmodeltester(qtbot, qtmodeltester, model: AuditTableModel, entries: list[int]) -> None:
    qtmodeltester.check(model)
    load_first(qtbot, model)
    qtmodeltester.check(model)
    load_all(qtbot, model)
    qtmodeltester.check(model)


def test_model_pages_newest_first(qtbot, model: AuditTableModel, entries: list[int], sqlite_ctx: AppContext) -> None:
    assert not model.canFetchMore(QModelIndex())  # nothing before the first query
    load_first(qtbot, model)
    assert model.rowCount() == 200
    assert model.columnCount() == len(COLUMNS)
    first = model.data(model.index(0, 0), ENTRY_ROLE)
    assert first.id == entries[-1]
    assert model.data(model.index(0, COLUMN_INDEX["target"])) == "<i>Ward</i>"
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.fetchMore(QModelIndex())
        assert model.loading
        assert not model.canFetchMore(QModelIndex())
    load_all(qtbot, model)
    assert model.exhausted
    ids = [model.row_at(r).id for r in range(model.rowCount())]  # type: ignore[union-attr]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == table_count(sqlite_ctx, AuditEntry)


def test_model_drops_pages_of_an_older_query(qtbot, model: AuditTableModel, entries: list[int]) -> None:
    model.set_query(AuditQuery(outcome=Outcome.SUCCESS))
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_query(AuditQuery(outcome=Outcome.DENIED))
    qtbot.wait(50)
    assert model.rowCount() > 0
    assert {model.row_at(r).outcome for r in range(model.rowCount())} == {"denied"}  # type: ignore[union-attr]


def test_model_reports_failures(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    session = user_session(sqlite_ctx, "helpdesk1", Role.HELPDESK)
    errors: list[BaseException] = []
    m = AuditTableModel(sqlite_ctx.services.audit, session, runner, on_error=errors.append)
    with qtbot.waitSignal(m.load_failed, timeout=10_000):
        m.reload()
    assert m.rowCount() == 0
    assert not m.canFetchMore(QModelIndex())
    assert type(errors[0]).__name__ == "PermissionDeniedError"


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext) -> AuditPane:
    widget = AuditPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    return widget


def activate(qtbot, pane: AuditPane) -> None:
    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.activate()
    qtbot.waitUntil(lambda: pane.count_label.text().endswith("entries"), timeout=10_000)


def test_pane_shows_newest_first_and_scrolls(
    qtbot, pane: AuditPane, entries: list[int], sqlite_ctx: AppContext
) -> None:
    activate(qtbot, pane)
    total = table_count(sqlite_ctx, AuditEntry)
    assert pane.count_label.text() == f"{total:,} entries"
    assert pane.model.rowCount() == 200
    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.table.scrollToBottom()
    assert pane.model.rowCount() == 400
    # Paging is not audited.
    assert audit_count(sqlite_ctx, action="audit.list") == 0


def test_pane_detail_is_pretty_plain_text(qtbot, pane: AuditPane, entries: list[int]) -> None:
    activate(qtbot, pane)
    pane.select_row(0)
    text = pane.detail.toPlainText()
    assert "Action      policies.publish" in text
    assert "Target      policy: <i>Ward</i>" in text
    details = text.split("Details\n", 1)[1]
    assert json.loads(details)["name"] == RICH
    assert '  "version": 3' in details  # indented
    assert pane.detail.isReadOnly()
    pane.table.clearSelection()
    assert pane.detail.toPlainText() == ""


def test_pane_filters(qtbot, pane: AuditPane, entries: list[int]) -> None:
    activate(qtbot, pane)

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.outcome_combo.setCurrentIndex(pane.outcome_combo.findData(Outcome.DENIED.value))
    outcomes = {pane.model.row_at(r).outcome for r in range(pane.model.rowCount())}  # type: ignore[union-attr]
    assert outcomes == {"denied"}
    qtbot.waitUntil(lambda: "match the filters" in pane.count_label.text(), timeout=10_000)

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.action_combo.setEditText("commands.")
    rows = [pane.model.row_at(r) for r in range(pane.model.rowCount())]
    assert rows
    assert all(r.action.startswith("commands.") and r.outcome == "denied" for r in rows)

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.clear_filters()
    assert pane.model.query == AuditQuery()

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.search_edit.setText("lost phone")
    rows = [pane.model.row_at(r) for r in range(pane.model.rowCount())]
    assert rows
    assert all("lost phone" in r.details for r in rows)

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.clear_filters()
    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.actor_combo.setEditText("jdoe")
    rows = [pane.model.row_at(r) for r in range(pane.model.rowCount())]
    assert rows
    assert {r.actor for r in rows} == {"jdoe"}


def test_pane_date_range(qtbot, pane: AuditPane, entries: list[int]) -> None:
    activate(qtbot, pane)
    today = QDate.currentDate()
    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.from_date.setDate(today)
        pane.from_check.setChecked(True)
    query = pane.model.query
    assert query.since is not None
    assert query.since.tzinfo is not None
    rows = [pane.model.row_at(r) for r in range(pane.model.rowCount())]
    assert rows
    assert all(r.occurred_at >= query.since for r in rows)

    # An inverted range is an inline message; the table keeps what it showed.
    shown = pane.model.query
    with qtbot.assertNotEmitted(pane.model.page_loaded, wait=500):
        pane.to_date.setDate(today.addDays(-2))
        pane.to_check.setChecked(True)
    assert pane.filter_error.isVisible()
    assert "after" in pane.filter_error.text()
    assert pane.model.query == shown
    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.to_date.setDate(today)
    assert not pane.filter_error.isVisible()


def test_pane_filter_choices(qtbot, pane: AuditPane, entries: list[int]) -> None:
    activate(qtbot, pane)
    qtbot.waitUntil(lambda: pane.actor_combo.count() > 1, timeout=10_000)
    actors = [pane.actor_combo.itemText(i) for i in range(pane.actor_combo.count())]
    assert {"admin", "jdoe"} <= set(actors)
    actions = [pane.action_combo.itemText(i) for i in range(pane.action_combo.count())]
    assert "policies." in actions
    assert "policies.publish" in actions


def test_pane_for_a_role_without_audit_read(qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> None:
    session = user_session(sqlite_ctx, "helpdesk1", Role.HELPDESK)
    widget = AuditPane(dataclasses.replace(pane_ctx, session=session))
    qtbot.addWidget(widget)
    show_top_level(widget)
    widget.activate()
    assert pane_ctx.runner.pending == 0
    assert widget.stack.currentWidget() is widget.refused
    assert "does not include" in widget.refused.text()
    assert not widget.refresh_button.isEnabled()
    assert audit_count(sqlite_ctx, outcome="denied") == 0


def test_header_state_is_remembered(qtbot, pane_ctx: PaneContext) -> None:
    first = AuditPane(pane_ctx)
    qtbot.addWidget(first)
    first.table.horizontalHeader().resizeSection(COLUMN_INDEX["actor"], 222)
    first.save_state()
    second = AuditPane(pane_ctx)
    qtbot.addWidget(second)
    assert second.table.horizontalHeader().sectionSize(COLUMN_INDEX["actor"]) == 222


def test_outcome_colours(qtbot, model: AuditTableModel, entries: list[int]) -> None:
    load_first(qtbot, model, AuditQuery(outcome=Outcome.DENIED))
    color = model.data(model.index(0, COLUMN_INDEX["outcome"]), Qt.ItemDataRole.ForegroundRole)
    assert color.name() == "#b3261e"
