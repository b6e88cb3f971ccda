"""The Audit menu (the Audit pane's actions from any pane) and the console's periodic checkpoints."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.gui.checkpoint_scheduler import CHECKPOINT_INTERVAL, CheckpointScheduler
from mdm_desktop.gui.panes.audit_pane import CHECKPOINT_SHORTCUT, VERIFY_SHORTCUT
from mdm_desktop.gui.session import SessionHolder
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import AuditCheckpoint, AuditVerifyReport, SessionInfo
from tests.conftest import user_session
from tests.gui.fleet import Fleet
from tests.gui.test_main_window import WAIT, open_window
from tests.integration.fixtures_data import audit_count


def test_audit_menu_verifies_from_another_pane(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, settings: QSettings
) -> None:
    window = open_window(qtbot, sqlite_ctx, admin_session, settings)
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    audit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Audit")
    titles = [a.text() for a in audit_menu.actions()]
    assert titles[:2] == ["&Verify now", "Make &checkpoint…"]
    assert [a.shortcut() for a in window.audit_actions[:2]] == [
        QKeySequence(VERIFY_SHORTCUT),
        QKeySequence(CHECKPOINT_SHORTCUT),
    ]
    window.show_pane(0)  # Devices
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    window.devices.setFocus()
    with qtbot.waitSignal(window.audit.verification_ended, timeout=WAIT) as ended:
        QTest.keySequence(window, QKeySequence(VERIFY_SHORTCUT))
    assert window.current_pane is window.audit
    assert isinstance(ended.args[0], AuditVerifyReport)
    assert ended.args[0].intact
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)


def test_a_checkpoint_is_made_after_sign_in_and_then_only_when_due(
    qtbot, sqlite_ctx: AppContext, admin_session: SessionInfo
) -> None:
    runner = TaskRunner()
    holder = SessionHolder(admin_session)
    scheduler = CheckpointScheduler(sqlite_ctx.services.audit_chain, holder, runner)
    assert scheduler.timer.interval() == CHECKPOINT_INTERVAL.total_seconds() * 1000
    with qtbot.waitSignal(scheduler.finished, timeout=WAIT) as first:
        scheduler.start()
    assert isinstance(first.args[0], AuditCheckpoint)
    assert scheduler.running
    with qtbot.waitSignal(scheduler.finished, timeout=WAIT) as second:
        scheduler.timer.timeout.emit()  # the hour is not over: nothing is due
    assert second.args[0] is None
    assert audit_count(sqlite_ctx, action="audit.checkpoint") == 1
    scheduler.stop()
    assert not scheduler.running
    due = CheckpointScheduler(sqlite_ctx.services.audit_chain, holder, runner, interval=dt.timedelta(milliseconds=1))
    with qtbot.waitSignal(due.finished, timeout=WAIT) as third:
        due.check_now()
    assert isinstance(third.args[0], AuditCheckpoint)
    assert audit_count(sqlite_ctx, action="audit.checkpoint") == 2
    runner.shutdown()


def test_users_who_may_not_read_the_audit_log_are_skipped_silently(qtbot, sqlite_ctx: AppContext) -> None:
    helpdesk = user_session(sqlite_ctx, "s.kim", Role.HELPDESK)
    runner = TaskRunner()
    scheduler = CheckpointScheduler(sqlite_ctx.services.audit_chain, SessionHolder(helpdesk), runner)
    before = audit_count(sqlite_ctx)
    with qtbot.waitSignal(scheduler.finished, timeout=WAIT) as skipped:
        scheduler.start()
    assert skipped.args[0] is None
    assert audit_count(sqlite_ctx) == before  # not even a refusal: nothing was asked
    scheduler.stop()
    runner.shutdown()
