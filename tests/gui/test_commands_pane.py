"""Commands view and device commands: models pass qtmodeltester, confirmation names the devices,
destructive commands need a typed reason, bulk sends show progress, approvals need a second admin."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from PySide6.QtCore import QItemSelectionModel

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.commands import ApprovalStatus, CommandStatus, CommandType
from mdm_desktop.domain.devices import Platform
from mdm_desktop.gui.dialogs.command_dialogs import ApprovalDecisionDialog, SendCommandDialog
from mdm_desktop.gui.models.commands_model import ApprovalTableModel, CommandTableModel
from mdm_desktop.gui.panes import device_command_actions
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.commands_pane import CommandsPane
from mdm_desktop.gui.panes.devices_pane import DevicesPane
from mdm_desktop.services.command_dto import CommandQuery, SendResult
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.repositories import commands as command_repo
from tests.conftest import step_up_admin, totp_code, user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import DeviceSpec, add_devices

WAIT = 10_000
REASON = "Tablet stolen from ward 4"


@pytest.fixture
def devices(sqlite_ctx: AppContext) -> list[int]:
    return add_devices(sqlite_ctx, [DeviceSpec(f"Ward {i} tablet", Platform.ANDROID) for i in range(6)])


def settle(qtbot, pane: CommandsPane | DevicesPane) -> None:
    pane.model.shutdown()
    qtbot.waitUntil(lambda: pane.ctx.runner.pending == 0, timeout=WAIT)


def open_commands(qtbot, ctx: PaneContext) -> CommandsPane:
    pane = CommandsPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: settle(qtbot, p))
    show_top_level(pane)
    with qtbot.waitSignals([pane.model.page_loaded, pane.approvals_loaded], timeout=WAIT):
        pane.activate()
    return pane


def open_devices(qtbot, ctx: PaneContext) -> DevicesPane:
    pane = DevicesPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: settle(qtbot, p))
    show_top_level(pane)
    with qtbot.waitSignals([pane.model.page_loaded, pane.count_changed], timeout=WAIT):
        pane.activate()
    return pane


def select_rows(pane: DevicesPane, rows: range) -> None:
    selection = pane.table.selectionModel()
    selection.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for r in rows:
        selection.select(pane.model.index(r, 0), flags)


def test_models_pass_qtmodeltester(
    qtbot, qtmodeltester, sqlite_ctx: AppContext, pane_ctx: PaneContext, devices: list[int]
) -> None:
    admin = step_up_admin(sqlite_ctx)
    cmds = sqlite_ctx.services.commands
    cmds.send(admin.principal, devices[:3], CommandType.MESSAGE, {"text": "Charge\nme <b>now</b>"})
    cmds.send(admin.principal, devices[:1], CommandType.WIPE, reason=REASON)
    model = CommandTableModel(cmds, pane_ctx.holder, pane_ctx.runner, CommandQuery(), page_size=2)
    with qtbot.waitSignal(model.page_loaded, timeout=WAIT):
        model.reload()
    qtmodeltester.check(model)
    approvals = ApprovalTableModel()
    approvals.set_rows(cmds.approvals(admin.principal))
    qtmodeltester.check(approvals)
    assert approvals.rowCount() == 1
    model.shutdown()
    qtbot.waitUntil(lambda: pane_ctx.runner.pending == 0, timeout=WAIT)


def test_context_menu_lock_names_the_selected_devices(qtbot, pane_ctx: PaneContext, devices: list[int]) -> None:
    pane = open_devices(qtbot, pane_ctx)
    actions = pane.command_actions
    assert not actions.actions[CommandType.LOCK].isEnabled()
    select_rows(pane, range(2))
    assert actions.actions[CommandType.LOCK].isEnabled()
    with qtbot.waitSignal(actions.dialog_opened, timeout=WAIT) as opened:
        actions.actions[CommandType.LOCK].trigger()
    dialog = opened.args[0]
    assert isinstance(dialog, SendCommandDialog)
    assert dialog.devices_label.text().splitlines() == ["Ward 0 tablet", "Ward 1 tablet"]
    assert dialog.send_button.text() == "Lock 2 devices"
    with qtbot.waitSignal(actions.sent, timeout=WAIT) as sent:
        dialog.send_button.click()
    assert [c.status for c in sent.args[0].commands] == [CommandStatus.QUEUED] * 2
    assert pane.command_note.text() == "Lock queued for 2 devices."
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]


def test_destructive_command_needs_a_typed_reason(qtbot, pane_ctx: PaneContext, devices: list[int]) -> None:
    pane = open_devices(qtbot, pane_ctx)
    select_rows(pane, range(1))
    actions = pane.command_actions
    with qtbot.waitSignal(actions.dialog_opened, timeout=WAIT) as opened:
        actions.actions[CommandType.SELECTIVE_WIPE].trigger()
    dialog: SendCommandDialog = opened.args[0]
    assert "cannot be undone" in dialog.warning.text()
    assert not dialog.send_button.isEnabled()
    dialog.reason_edit.setText(REASON)
    assert dialog.send_button.isEnabled()
    with qtbot.waitSignal(actions.sent, timeout=WAIT) as sent:
        dialog.send_button.click()
    assert [c.reason for c in sent.args[0].commands] == [REASON]


def test_full_wipe_says_it_needs_approval(qtbot, pane_ctx: PaneContext, devices: list[int]) -> None:
    pane = open_devices(qtbot, pane_ctx)
    select_rows(pane, range(1))
    with qtbot.waitSignal(pane.command_actions.dialog_opened, timeout=WAIT) as opened:
        pane.command_actions.actions[CommandType.WIPE].trigger()
    dialog: SendCommandDialog = opened.args[0]
    assert dialog.send_button.text() == "Request approval"
    assert "second administrator" in dialog.warning.text()
    dialog.reason_edit.setText(REASON)
    with qtbot.waitSignal(pane.command_actions.sent, timeout=WAIT) as sent:
        dialog.send_button.click()
    assert sent.args[0].needs_approval
    assert "waits for a second administrator" in pane.command_note.text()


def test_bulk_send_shows_progress(
    qtbot, monkeypatch: pytest.MonkeyPatch, pane_ctx: PaneContext, devices: list[int]
) -> None:
    monkeypatch.setattr(device_command_actions, "BATCH", 2)
    pane = open_devices(qtbot, pane_ctx)
    select_rows(pane, range(5))
    actions = pane.command_actions
    with qtbot.waitSignal(actions.dialog_opened, timeout=WAIT) as opened:
        actions.actions[CommandType.REFRESH_INVENTORY].trigger()
    results: list[SendResult] = []
    actions.sent.connect(results.append)
    with qtbot.waitSignals([actions.progress_opened, actions.sent], timeout=WAIT):
        opened.args[0].send_button.click()
    assert len(results[0].commands) == 5
    assert pane.command_note.text() == "Refresh inventory queued for 5 of 5 devices."


def test_commands_pane_cancels_a_queued_command(
    qtbot, sqlite_ctx: AppContext, pane_ctx: PaneContext, devices: list[int]
) -> None:
    admin = step_up_admin(sqlite_ctx)
    sqlite_ctx.services.commands.send(admin.principal, devices[:2], CommandType.RESTART)
    pane = open_commands(qtbot, pane_ctx)
    assert pane.model.rowCount() == 2
    assert not pane.cancel_button.isEnabled()
    pane.table.selectRow(0)
    assert pane.cancel_button.isEnabled()
    with qtbot.waitSignal(pane.changed, timeout=WAIT):
        pane.cancel_button.click()
    qtbot.waitUntil(lambda: pane.model.rowCount() == 1 and pane.ctx.runner.pending == 0, timeout=WAIT)
    assert pane.note.text().startswith("Cancelled restart for Ward ")


def test_second_administrator_approves_from_the_pane(
    qtbot, sqlite_ctx: AppContext, pane_ctx: PaneContext, devices: list[int]
) -> None:
    admin = step_up_admin(sqlite_ctx)
    sqlite_ctx.services.commands.send(admin.principal, devices[:1], CommandType.RETIRE, reason=REASON)
    own = open_commands(qtbot, pane_ctx)
    own.approvals_table.selectRow(0)
    assert not own.approve_button.isEnabled()
    assert own.reject_button.text() == "Withdraw…"

    bob: SessionInfo = user_session(sqlite_ctx, "bob", Role.ADMINISTRATOR)
    sqlite_ctx.services.sessions.step_up(bob.principal, totp_code(sqlite_ctx, "bob"))
    pane = open_commands(qtbot, dataclasses.replace(pane_ctx, session=bob))
    assert pane.approvals_model.rowCount() == 1
    pane.approvals_table.selectRow(0)
    assert pane.approve_button.isEnabled()
    with qtbot.waitSignal(pane.decision_opened, timeout=WAIT) as opened:
        pane.approve_button.click()
    dialog = opened.args[0]
    assert isinstance(dialog, ApprovalDecisionDialog)
    assert dialog.devices_label.text() == "Ward 0 tablet"
    dialog.note_edit.setText("Checked with the ward manager")
    with qtbot.waitSignal(pane.changed, timeout=WAIT) as changed:
        dialog.confirm_button.click()
    assert changed.args[0] == "Approved: 1 command(s) queued."
    qtbot.waitUntil(lambda: pane.approvals_model.rowCount() == 0 and pane.ctx.runner.pending == 0, timeout=WAIT)
    decided = sqlite_ctx.services.commands.approvals(bob.principal, pending_only=False)
    assert decided[0].status is ApprovalStatus.APPROVED
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]


def test_empty_view_says_nothing_is_pending(qtbot, pane_ctx: PaneContext) -> None:
    pane = open_commands(qtbot, pane_ctx)
    assert pane.empty_hint.isVisible()
    assert not pane.banner.isVisible()


def test_lost_device_shows_its_location(
    qtbot, sqlite_ctx: AppContext, pane_ctx: PaneContext, devices: list[int]
) -> None:
    admin = step_up_admin(sqlite_ctx)
    sent = sqlite_ctx.services.commands.send(
        admin.principal, devices[:1], CommandType.LOST_MODE, {"message": "Call us"}
    )
    now = dt.datetime.now(dt.UTC)
    with sqlite_ctx.uow(write=True) as uow:
        command_repo.claim_pending(uow, devices[0], now)
        command_repo.record_result(
            uow, devices[0], sent.commands[0].uid, "acknowledged", "", now, {"lat": 51.5, "lon": -0.12, "accuracy_m": 8}
        )
        uow.commit()
    pane = open_devices(qtbot, pane_ctx)
    with qtbot.waitSignal(pane.lost_location.shown, timeout=WAIT, check_params_cb=bool) as shown:
        pane.show_device(devices[0], immediately=True)
    assert shown.args[0].startswith("Lost mode: last seen at 51.50000, -0.12000 (±8 m), ")
    assert pane.lost_location.label.isVisible()
    with qtbot.waitSignal(pane.detail_loaded, timeout=WAIT):
        pane.show_device(devices[1], immediately=True)
    assert not pane.lost_location.label.isVisible()
