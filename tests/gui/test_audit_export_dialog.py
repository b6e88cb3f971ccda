"""The Audit pane's Export… action: the signed export of the filtered time range, in the background."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import QDate
from PySide6.QtGui import QKeySequence

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.audit import Outcome, utc_text
from mdm_desktop.gui.panes.audit_export_dialog import (
    EXPORT_SHORTCUT,
    AuditExportDialog,
    range_text,
    unapplied_filters,
)
from mdm_desktop.gui.panes.audit_pane import AuditPane
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.services import audit_export
from mdm_desktop.services.audit_export import ExportCancelledError, signature_path, verify_export
from mdm_desktop.services.dto import AuditExportResult, AuditQuery, SessionInfo
from tests.conftest import user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_audit_entries, audit_count

WAIT = 20_000


@pytest.fixture
def entries(sqlite_ctx: AppContext, admin_session: SessionInfo) -> list[int]:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    return add_audit_entries(sqlite_ctx, 300, start=start, step=dt.timedelta(minutes=9))


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext) -> AuditPane:
    widget = AuditPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    return widget


def open_dialog(qtbot, pane: AuditPane) -> AuditExportDialog:
    with qtbot.waitSignal(pane.export_dialog_opened, timeout=WAIT) as opened:
        pane.export_button.click()
    dialog = opened.args[0]
    assert isinstance(dialog, AuditExportDialog)
    qtbot.waitExposed(dialog)
    return dialog


def run_export(qtbot, dialog: AuditExportDialog) -> object:
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT) as ended:
        dialog.export_button.click()
    return ended.args[0]


def test_export_writes_a_file_that_verifies(
    qtbot, pane: AuditPane, entries: list[int], sqlite_ctx: AppContext, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, pane)
    assert dialog.range_label.text() == "Every entry of the audit trail"
    assert dialog.filters_note.isHidden()
    dialog.format_combo.setCurrentIndex(1)  # JSON Lines
    target = tmp_path / "out" / "trail.jsonl"
    dialog.choose_file = lambda suggested: str(target)  # type: ignore[method-assign]
    dialog.browse_button.click()
    assert dialog.path_edit.text() == str(target)
    before = audit_count(sqlite_ctx, action="audit.export")
    result = run_export(qtbot, dialog)
    assert isinstance(result, AuditExportResult)
    assert result.count >= len(entries)
    assert "Exported" in dialog.message.text()
    assert str(target) in dialog.message.text()
    assert "verify-export" in dialog.message.text()
    assert dialog.export_result == result
    assert dialog.progress.isHidden()
    assert dialog.cancel_button.isHidden()
    assert dialog.close_button.isEnabled()
    report = verify_export(target)
    assert report.ok, report.problem
    assert report.entries == result.count
    assert audit_count(sqlite_ctx, action="audit.export") == before + 1
    dialog.close_button.click()


def test_export_takes_the_time_range_and_names_the_other_filters(
    qtbot, pane: AuditPane, entries: list[int], tmp_path: Path
) -> None:
    today = QDate.currentDate()
    pane.from_check.setChecked(True)
    pane.from_date.setDate(today.addDays(-1))
    pane.to_check.setChecked(True)
    pane.to_date.setDate(today)
    pane.search_edit.setText("routine")
    pane.outcome_combo.setCurrentIndex(1)
    dialog = open_dialog(qtbot, pane)
    assert dialog.query.since is not None
    assert dialog.query.until is not None
    assert dialog.range_label.text().startswith("Every entry from ")
    assert not dialog.filters_note.isHidden()
    assert "outcome" in dialog.filters_note.text()
    assert "search text" in dialog.filters_note.text()
    dialog.path_edit.setText(str(tmp_path / "range.csv"))
    result = run_export(qtbot, dialog)
    assert isinstance(result, AuditExportResult)
    assert result.count > 0
    report = verify_export(tmp_path / "range.csv")
    assert report.ok, report.problem
    assert (report.since, report.until) == (utc_text(dialog.query.since), utc_text(dialog.query.until))


def test_replacing_a_file_needs_confirmation(qtbot, pane: AuditPane, entries: list[int], tmp_path: Path) -> None:
    target = tmp_path / "trail.csv"
    target.write_text("keep me")
    dialog = open_dialog(qtbot, pane)
    dialog.path_edit.setText(str(target))
    asked: list[Path] = []

    def decline(existing: Path) -> bool:
        asked.append(existing)
        return False

    dialog.confirm_replace = decline  # type: ignore[method-assign]
    dialog.export_button.click()
    assert asked == [target]
    assert not dialog.running
    assert target.read_text() == "keep me"
    dialog.confirm_replace = lambda existing: True  # type: ignore[method-assign]
    assert isinstance(run_export(qtbot, dialog), AuditExportResult)
    assert verify_export(target).ok


def test_cancel_leaves_nothing_behind(
    qtbot, pane: AuditPane, entries: list[int], sqlite_ctx: AppContext, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(audit_export, "BATCH_SIZE", 10)  # progress (and the chance to stop) every ten entries
    dialog = open_dialog(qtbot, pane)
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "cancelled.csv"
    dialog.path_edit.setText(str(target))
    dialog._relay.progressed.connect(lambda *_: dialog.cancel())  # cancel at the first progress report
    before = audit_count(sqlite_ctx, action="audit.export")
    ended = run_export(qtbot, dialog)
    assert isinstance(ended, ExportCancelledError)
    assert "cancelled" in dialog.message.text()
    assert not target.exists()
    assert not signature_path(target).exists()
    assert list(folder.iterdir()) == []  # no temporary file either
    assert audit_count(sqlite_ctx, action="audit.export") == before
    assert dialog.export_button.isEnabled()


def test_errors_are_shown_in_the_dialog(qtbot, pane: AuditPane, entries: list[int], tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, pane)
    dialog.path_edit.setText(str(tmp_path))  # a folder
    dialog.export_button.click()
    assert "is a folder" in dialog.message.text()
    assert dialog.message.objectName() == "errorText"
    blocker = tmp_path / "file"
    blocker.write_text("")
    dialog.path_edit.setText(str(blocker / "inside.csv"))  # a file where a folder should be
    ended = run_export(qtbot, dialog)
    assert isinstance(ended, Exception)
    assert "Cannot write" in dialog.message.text()
    assert dialog.message.objectName() == "errorText"


def test_export_action_shortcut_and_role(qtbot, pane: AuditPane, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> None:
    assert pane.export_action.shortcut() == QKeySequence(EXPORT_SHORTCUT)
    assert pane.export_action.isEnabled()
    assert pane.export_button.isVisible()
    helpdesk = user_session(sqlite_ctx, "helpdesk2", Role.HELPDESK)
    refused = AuditPane(dataclasses.replace(pane_ctx, session=helpdesk))
    qtbot.addWidget(refused)
    assert not refused.export_action.isEnabled()
    assert refused.export_entries() is None


def test_range_and_filter_words() -> None:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert range_text(AuditQuery(since=now)).startswith("Every entry from ")
    assert range_text(AuditQuery(until=now)).startswith("Every entry before ")
    assert unapplied_filters(AuditQuery(actor="a", action="b", outcome=Outcome.DENIED, text="xyz")) == [
        "actor",
        "action",
        "outcome",
        "search text",
    ]
    assert unapplied_filters(AuditQuery(since=now)) == []
