"""Audit pane and AuditTableModel: keyset pages through the runner, SQL filters, plain-text detail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QModelIndex, Qt
from sqlalchemy import func, select, text, update

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal, Role
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.gui.models.audit_table_model import (
    COLUMN_INDEX,
    COLUMNS,
    ENTRY_ROLE,
    TEXT_CELL_LIMIT,
    AuditTableModel,
)
from mdm_desktop.gui.panes.audit_pane import AuditPane
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.audit_chain import VerifyCancelledError
from mdm_desktop.services.audit_log import AuditEvent, AuditLog
from mdm_desktop.services.dto import AuditQuery, AuditVerifyReport, SessionInfo
from mdm_desktop.store.schema import AuditEntry
from tests.conftest import user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_audit_entries, audit_count, store_keys, table_count

RICH = "<b>bold</b> <a href='x'>link</a>"


def append_entry(
    ctx: AppContext, *, action: str, target_kind: str, target: str, details: dict[str, object], actor: str = "admin"
) -> int:
    """Append one entry, stamped now, to the chain through :class:`AuditLog` (so the chain stays valid)."""
    log = AuditLog(store_keys(ctx).audit, lambda: dt.datetime.now(dt.UTC))
    who = Principal(kind="user", id=None, name=actor, role=None, workstation="ws-1")
    event = AuditEvent(who, action, target_kind=target_kind, target=target, details=details)
    with ctx.uow(write=True) as uow:
        log.record_many(uow, [event])
        entry_id = uow.session.scalar(select(func.max(AuditEntry.id)))
        uow.commit()
    assert entry_id is not None
    return int(entry_id)


def tamper(ctx: AppContext, entry_id: int, **values: object) -> None:
    """Change a stored entry behind the application's back (drops the store's protection triggers first)."""
    with ctx.engine.begin() as conn:
        for trigger in ("audit_entries_no_update", "audit_entries_no_delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        conn.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(**values))


@pytest.fixture
def entries(sqlite_ctx: AppContext, admin_session: SessionInfo) -> list[int]:
    """450 entries after the admin's sign-in (ids grow with time), the newest with markup in its details."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    ids = add_audit_entries(sqlite_ctx, 449, start=start, step=dt.timedelta(minutes=9))
    ids.append(
        append_entry(
            sqlite_ctx,
            action="policies.publish",
            target_kind="policy",
            target="<i>Ward</i>",
            details={"name": RICH, "version": 3, "settings": {"passcode": {"min_length": 8}}},
        )
    )
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


def test_detail_reveals_line_breaks_in_one_line_fields(qtbot, pane: AuditPane, sqlite_ctx: AppContext) -> None:
    append_entry(
        sqlite_ctx, action="devices.rename", target_kind="device", target="tab-1\nOutcome     denied", details={}
    )
    activate(qtbot, pane)
    pane.select_row(0)
    text = pane.detail.toPlainText()
    assert "Target      device: tab-1⟨U+000A⟩Outcome     denied" in text
    assert "\nOutcome     denied" not in text  # no fake line


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


# ---- the tamper-evident chain: Verify now, badge, checkpoints (issue 5) ------------------------------------


def verify(qtbot, pane: AuditPane) -> object:
    with qtbot.waitSignal(pane.verification_ended, timeout=30_000) as ended:
        qtbot.mouseClick(pane.verify_button, Qt.MouseButton.LeftButton)
    return ended.args[0]


def test_verify_now_shows_progress_and_an_intact_badge(
    qtbot, pane: AuditPane, pane_ctx: PaneContext, sqlite_ctx: AppContext
) -> None:
    add_audit_entries(sqlite_ctx, 4500)
    activate(qtbot, pane)
    assert pane.chain_badge.state == "unknown"
    assert pane.chain_badge.text() == "Not verified since this console started"
    values: list[tuple[bool, int]] = []
    set_value = pane.verify_progress.setValue
    pane.verify_progress.setValue = lambda v: (
        values.append((threading.current_thread() is threading.main_thread(), v)),
        set_value(v),
    )  # type: ignore[method-assign]
    report = verify(qtbot, pane)
    assert isinstance(report, AuditVerifyReport)
    assert report.intact, report.problem
    n = report.entries_checked
    assert n >= 4500
    # Progress arrived per batch of 2000 and at the end, always on the GUI thread.
    assert values == [(True, 2000), (True, 4000), (True, n)]
    assert not pane.verify_progress.isVisible()
    assert not pane.cancel_verify_button.isVisible()
    assert pane.verify_button.isEnabled()
    assert pane.chain_badge.state == "intact"
    assert pane.chain_badge.text().startswith("Chain intact · verified ")
    assert pane.chain_badge.text().endswith(f"({n:,} entries)")
    assert "#1d7a3a" in pane.chain_badge.styleSheet()
    assert audit_count(sqlite_ctx, action="audit.verify", outcome="success") == 1
    # The outcome is remembered for this store: a console started later says when it was last checked.
    later = AuditPane(pane_ctx)
    qtbot.addWidget(later)
    assert later.chain_badge.state == "unknown"
    assert later.chain_badge.text().startswith("Not verified since ")
    assert f"intact then: {n:,} entries" in later.chain_badge.text()
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]


def test_verify_can_be_cancelled_and_the_pane_stays_usable(
    qtbot, pane: AuditPane, pane_ctx: PaneContext, sqlite_ctx: AppContext, entries: list[int], monkeypatch
) -> None:
    chain = sqlite_ctx.services.audit_chain
    original = chain.verify
    gate = threading.Event()

    def gated_verify(actor, checkpoint=None, progress=None, should_stop=None):  # type: ignore[no-untyped-def]
        assert should_stop is not None

        def stop() -> bool:
            gate.wait(10)  # the test opens the gate after pressing Cancel
            return should_stop()

        return original(actor, checkpoint, progress, stop)

    monkeypatch.setattr(chain, "verify", gated_verify)
    activate(qtbot, pane)
    qtbot.mouseClick(pane.verify_button, Qt.MouseButton.LeftButton)
    assert pane.verifying
    assert pane.verify_progress.isVisible()
    assert pane.cancel_verify_button.isVisible()
    assert not pane.verify_button.isEnabled()
    assert not pane.verify_action.isEnabled()
    # While it runs, the table still filters.
    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.outcome_combo.setCurrentIndex(pane.outcome_combo.findData(Outcome.DENIED.value))
    assert pane.verifying
    with qtbot.waitSignal(pane.verification_ended, timeout=30_000) as ended:
        qtbot.mouseClick(pane.cancel_verify_button, Qt.MouseButton.LeftButton)
        assert pane.cancel_verify_button.text() == "Cancelling…"
        gate.set()
    assert isinstance(ended.args[0], VerifyCancelledError)
    assert not pane.verifying
    assert pane.chain_note.text().startswith("Verification cancelled after 0 of ")
    assert pane.chain_badge.state == "unknown"
    assert pane.verify_button.isEnabled()
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]
    assert audit_count(sqlite_ctx, action="audit.verify") == 0


def test_verify_shortcut_and_damaged_badge(qtbot, pane: AuditPane, sqlite_ctx: AppContext, entries: list[int]) -> None:
    hostile = "<b>x</b>\x1b[31m\u202e"
    tamper(sqlite_ctx, entries[100], target=hostile)
    activate(qtbot, pane)
    pane.table.setFocus()
    assert pane.verify_action.shortcut().toString() == "Ctrl+Shift+V"
    with qtbot.waitSignal(pane.verification_ended, timeout=30_000) as ended:
        qtbot.keyClick(
            pane.table, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
    report = ended.args[0]
    assert isinstance(report, AuditVerifyReport)
    assert not report.intact
    assert report.problem is not None
    assert report.problem.entry_id == entries[100]
    assert pane.chain_badge.state == "damaged"
    assert pane.chain_badge.textFormat() == Qt.TextFormat.PlainText
    assert (
        pane.chain_badge.text() == f"Chain damaged: entry #{report.problem.seq} modified — {report.problem.description}"
    )
    assert "#b3261e" in pane.chain_badge.styleSheet()
    assert audit_count(sqlite_ctx, action="audit.verify", outcome="failed") == 1


def test_make_checkpoint_saves_the_signed_file(
    qtbot, pane: AuditPane, sqlite_ctx: AppContext, entries: list[int], tmp_path: Path, monkeypatch
) -> None:
    target = tmp_path / "off-box" / "checkpoint.json"
    offered: list[str] = []
    monkeypatch.setattr(pane, "choose_checkpoint_file", lambda suggested: offered.append(suggested) or str(target))
    activate(qtbot, pane)
    with qtbot.waitSignal(pane.checkpoint_saved, timeout=10_000) as saved:
        qtbot.mouseClick(pane.checkpoint_button, Qt.MouseButton.LeftButton)
    assert saved.args[0] == str(target)
    assert offered[0].endswith(".json")
    checkpoint = sqlite_ctx.services.audit_chain.read_checkpoint(target)  # this store signed it
    assert checkpoint == pane.last_checkpoint
    assert checkpoint.entries == table_count(sqlite_ctx, AuditEntry)
    assert pane.chain_note.text().startswith("Checkpoint saved to ")
    assert pane.checkpoint_button.isEnabled()
    assert audit_count(sqlite_ctx, action="audit.checkpoint") == 1


def test_declining_to_save_a_checkpoint_writes_no_file(
    qtbot, pane: AuditPane, sqlite_ctx: AppContext, entries: list[int], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(pane, "choose_checkpoint_file", lambda suggested: "")
    activate(qtbot, pane)
    with qtbot.waitSignal(pane.checkpoint_made, timeout=10_000):
        pane.checkpoint_action.trigger()
    with qtbot.assertNotEmitted(pane.checkpoint_saved, wait=200):
        pass
    assert pane.chain_note.text().startswith("Checkpoint made over ")
    assert audit_count(sqlite_ctx, action="audit.checkpoint") == 1


def test_a_chain_that_no_longer_extends_the_checkpoint_shows_a_banner_once(
    qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext, admin_session: SessionInfo, entries: list[int]
) -> None:
    checkpoint = sqlite_ctx.services.audit_chain.make_checkpoint(admin_session.principal)
    first = AuditPane(pane_ctx)
    qtbot.addWidget(first)
    show_top_level(first)
    with qtbot.waitSignal(first.checkpoint_status_loaded, timeout=10_000) as loaded:
        first.activate()
    assert loaded.args[0].extends
    assert not first.chain_banner.isVisible()
    # An older copy restored: the checkpoint's head entry is no longer the one it vouched for.
    with sqlite_ctx.uow() as uow:
        head_id = uow.session.scalar(select(AuditEntry.id).where(AuditEntry.seq == checkpoint.head_seq))
    tamper(sqlite_ctx, head_id, entry_hash="0" * 64)
    second = AuditPane(pane_ctx)
    qtbot.addWidget(second)
    show_top_level(second)
    with qtbot.waitSignal(second.checkpoint_status_loaded, timeout=10_000) as loaded:
        second.activate()
    assert not loaded.args[0].extends
    assert second.chain_banner.isVisible()
    banner = second.chain_banner.text_label
    assert banner.textFormat() == Qt.TextFormat.PlainText
    assert banner.text().startswith("The audit trail no longer extends the last checkpoint this workstation saw (")
    assert f"#{checkpoint.head_seq}" in banner.text()
    assert banner.text().endswith("Run Verify now and tell your security officer.")
    # Checked once per console session, not on every visit.
    with qtbot.assertNotEmitted(second.checkpoint_status_loaded, wait=200):
        second.activate()
        second.refresh()


def test_chain_actions_are_absent_without_audit_read(qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> None:
    session = user_session(sqlite_ctx, "helpdesk2", Role.HELPDESK)
    widget = AuditPane(dataclasses.replace(pane_ctx, session=session))
    qtbot.addWidget(widget)
    show_top_level(widget)
    widget.activate()
    widget.verify_now()
    widget.make_checkpoint()
    assert pane_ctx.runner.pending == 0
    assert not widget.verify_button.isVisible()
    assert not widget.checkpoint_button.isVisible()
    assert not widget.verify_action.isEnabled()
    assert not widget.chain_row.isVisible()


# ---- hostile device-supplied text ----------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)> \x1b[31mred\x1b[0m \u202eevil.exe"


def test_hostile_text_is_shown_literally_and_does_not_hang(
    qtbot, pane: AuditPane, sqlite_ctx: AppContext, admin_session: SessionInfo
) -> None:
    huge = "A" * 1_000_000
    target = HOSTILE + huge
    append_entry(
        sqlite_ctx,
        action="devices.checkin",
        target_kind="device",
        target=target,
        details={"name": HOSTILE, "note": huge},
    )
    activate(qtbot, pane)
    entry = pane.model.row_at(0)
    assert entry is not None
    assert entry.target == target[:254] + "…"  # cut to its column by the audit log's rule
    cell = pane.model.data(pane.model.index(0, COLUMN_INDEX["target"]))
    assert cell == entry.target[:TEXT_CELL_LIMIT]  # the stored text
    assert cell.startswith(HOSTILE)
    tip = pane.model.data(pane.model.index(0, COLUMN_INDEX["target"]), Qt.ItemDataRole.ToolTipRole)
    assert "<img" not in tip
    assert "&lt;img src=x onerror=alert(1)&gt;" in tip
    details_cell = pane.model.data(pane.model.index(0, COLUMN_INDEX["details"]))
    assert len(details_cell) <= 160
    pane.select_row(0)
    text = pane.detail.toPlainText()
    # Escapes and the right-to-left override are revealed, so nothing after them is hidden or reordered.
    revealed = "<img src=x onerror=alert(1)> ⟨U+001B⟩[31mred⟨U+001B⟩[0m ⟨U+202E⟩evil.exe"
    assert f"Target      device: {revealed}AAA" in text
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "audit_truncated" in text  # the audit log cut the megabyte when it was written, saying so
    assert len(text) < 30_000
    details = text.split("Details\n", 1)[1]
    # Indented JSON (which escapes the ESC); the note the audit log cut comes first.
    assert details.startswith('{\n  "audit_truncated": {')
    assert '"name": "<img src=x onerror=alert(1)> \\u001b[31mred' in details
    for label in (pane.chain_badge, pane.chain_banner.text_label, pane.chain_note, pane.count_label, pane.refused):
        assert label.textFormat() == Qt.TextFormat.PlainText
    image = pane.grab()  # renders the table and the detail with the hostile entry shown
    assert not image.isNull()
