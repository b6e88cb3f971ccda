"""Exceptions view: the model passes qtmodeltester; request from the devices pane; a security officer approves;
the dashboard counts active exceptions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

from sqlalchemy import select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.compliance_exceptions import ExceptionStatus
from mdm_desktop.domain.devices import Platform
from mdm_desktop.gui.dialogs.exception_dialogs import ExceptionDecisionDialog, RequestExceptionDialog
from mdm_desktop.gui.models.exceptions_model import ExceptionTableModel
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.dashboard_pane import DashboardPane
from mdm_desktop.gui.panes.exceptions_pane import ExceptionsPane
from mdm_desktop.store.schema import DeviceRuleState
from tests.conftest import sign_in_admin, user_session
from tests.gui.helpers import show_top_level
from tests.gui.test_commands_pane import open_devices, select_rows
from tests.integration.fixtures_data import DeviceSpec, add_devices, add_groups

WAIT = 10_000
SHOTS = "/tmp/shots"


def _shot(widget: object, name: str) -> None:
    if os.path.isdir(SHOTS):
        widget.grab().save(f"{SHOTS}/h-escalate-{name}.png")  # type: ignore[attr-defined]


def _failing(ctx: AppContext, device: int, rule: str, detail: str) -> None:
    now = dt.datetime.now(dt.UTC)
    with ctx.uow(write=True) as uow:
        uow.session.add(
            DeviceRuleState(
                device_id=device, rule_id=rule, status="failing", failing_since=now, detail=detail, evaluated_at=now
            )
        )
        uow.commit()


def _some_exceptions(ctx: AppContext) -> list[int]:
    group = add_groups(ctx, ["Ward 3", "Pharmacy"])
    devices = add_devices(
        ctx,
        [
            DeviceSpec("Infusion pump tablet", Platform.ANDROID, group_id=group["Ward 3"]),
            DeviceSpec("Ward 3 nurse phone", Platform.IOS, group_id=group["Ward 3"]),
        ],
    )
    admin = sign_in_admin(ctx)
    svc = ctx.services.exceptions
    today = dt.datetime.now(dt.UTC).date()
    svc.request(
        admin.principal,
        rule_id="health.max_patch_age",
        reason="Vendor firmware for the pump lags; patch promised for March",
        until=today + dt.timedelta(days=90),
        device_id=devices[0],
    )
    svc.request(
        admin.principal,
        rule_id="apps.required:com.carelink.securemessaging",
        reason="App not yet packaged for the pharmacy kiosk",
        until=today + dt.timedelta(days=14),
        group_id=group["Pharmacy"],
    )
    return devices


def open_pane(qtbot, ctx: PaneContext) -> ExceptionsPane:
    pane = ExceptionsPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: qtbot.waitUntil(lambda: p.ctx.runner.pending == 0))
    show_top_level(pane)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.activate()
    return pane


def test_model_passes_qtmodeltester(qtmodeltester, sqlite_ctx: AppContext) -> None:
    _some_exceptions(sqlite_ctx)
    model = ExceptionTableModel()
    model.set_rows(sqlite_ctx.services.exceptions.list_exceptions(sign_in_admin(sqlite_ctx).principal))
    assert model.rowCount() == 2
    qtmodeltester.check(model)


def test_officer_approves_and_the_dashboard_counts_it(qtbot, sqlite_ctx: AppContext, pane_ctx: PaneContext) -> None:
    _some_exceptions(sqlite_ctx)
    own = open_pane(qtbot, pane_ctx)
    assert own.model.rowCount() == 2
    own.table.selectRow(0)
    assert not own.approve_button.isEnabled()  # the administrator asked: someone else decides
    assert own.revoke_button.text() == "Withdraw…"
    _shot(own, "exceptions")

    officer = user_session(sqlite_ctx, "sec.officer", Role.SECURITY_OFFICER)
    pane = open_pane(qtbot, dataclasses.replace(pane_ctx, session=officer))
    assert not pane.request_button.isVisible()
    pane.table.selectRow(1)  # the device exception (newest first)
    assert pane.approve_button.isEnabled()
    with qtbot.waitSignal(pane.dialog_opened, timeout=WAIT) as opened:
        pane.approve_button.click()
    dialog = opened.args[0]
    assert isinstance(dialog, ExceptionDecisionDialog)
    dialog.note_edit.setText("Compensating control: pump on isolated VLAN")
    _shot(dialog, "approve-dialog")
    with qtbot.waitSignal(pane.changed, timeout=WAIT) as changed:
        dialog.confirm_button.click()
    assert changed.args[0] == "Approved exception 1 (health.max_patch_age)."
    qtbot.waitUntil(lambda: pane.ctx.runner.pending == 0, timeout=WAIT)
    statuses = {e.id: e.status for e in sqlite_ctx.services.exceptions.list_exceptions(officer.principal)}
    assert statuses == {1: ExceptionStatus.ACTIVE, 2: ExceptionStatus.PENDING}

    dashboard = DashboardPane(pane_ctx)
    qtbot.addWidget(dashboard, before_close_func=lambda p: qtbot.waitUntil(lambda: p.ctx.runner.pending == 0))
    show_top_level(dashboard)
    dashboard.activate()
    qtbot.waitUntil(lambda: dashboard.exceptions_tile.count == 1, timeout=WAIT)
    assert dashboard.exceptions_tile.value_label.text() == "1"
    qtbot.waitUntil(lambda: dashboard.ctx.runner.pending == 0, timeout=WAIT)
    _shot(dashboard, "dashboard")
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]


def test_request_from_the_devices_pane(qtbot, sqlite_ctx: AppContext, pane_ctx: PaneContext) -> None:
    (device,) = add_devices(sqlite_ctx, [DeviceSpec("Ward 4 tablet", Platform.ANDROID)])
    _failing(sqlite_ctx, device, "health.max_patch_age", "Android security patch 2026-03-01 is 279 days old")
    devices = open_devices(qtbot, pane_ctx)
    action = devices.exception_action
    action.update_enabled()
    assert not action.action.isEnabled()
    select_rows(devices, range(1))
    action.update_enabled()
    assert action.action.isEnabled()
    with qtbot.waitSignal(action.dialog_opened, timeout=WAIT) as opened:
        action.action.trigger()
    dialog = opened.args[0]
    assert isinstance(dialog, RequestExceptionDialog)
    assert dialog.rule_id() == "health.max_patch_age"
    assert "279 days old" in dialog.rule_detail.text()
    dialog.accept()  # no reason yet: the dialog says so and stays open
    assert dialog.isVisible()
    assert "reason" in dialog.problem.text()
    dialog.reason_edit.setPlainText("Manufacturer patch scheduled; device stays on the isolated network")
    _shot(dialog, "request-dialog")
    with qtbot.waitSignal(devices.command_actions.message, timeout=WAIT) as said:
        dialog.confirm_button.click()
    assert said.args[0] == "Exception 1 requested; it waits for approval."
    qtbot.waitUntil(lambda: devices.ctx.runner.pending == 0, timeout=WAIT)
    with sqlite_ctx.uow() as uow:
        assert uow.session.scalar(select(DeviceRuleState.rule_id)) == "health.max_patch_age"
    (made,) = sqlite_ctx.services.exceptions.list_exceptions(sign_in_admin(sqlite_ctx).principal)
    assert (made.device_id, made.status) == (device, ExceptionStatus.PENDING)
    devices.model.shutdown()
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]


def test_dashboard_exports_the_compliance_report(  # type: ignore[no-untyped-def]
    qtbot, sqlite_ctx: AppContext, pane_ctx: PaneContext, tmp_path
) -> None:
    (device,) = add_devices(sqlite_ctx, [DeviceSpec("Ward 4 tablet", Platform.ANDROID)])
    _failing(sqlite_ctx, device, "health.max_patch_age", "Android security patch 2026-03-01 is 279 days old")
    dashboard = DashboardPane(pane_ctx)
    qtbot.addWidget(dashboard, before_close_func=lambda p: qtbot.waitUntil(lambda: p.ctx.runner.pending == 0))
    show_top_level(dashboard)
    button = dashboard.report_button
    assert button.isVisibleTo(dashboard)
    out = tmp_path / "compliance.csv"
    button.choose_file = lambda: str(out)  # type: ignore[method-assign]
    with qtbot.waitSignal(button.written, timeout=WAIT) as written:
        button.click()
    assert written.args[0].rows == 1
    assert "Ward 4 tablet" in out.read_text(encoding="utf-8")
    expected = f"Report saved to {out}: 1 rule not passing on 1 device (0 exempt by an exception)."
    assert dashboard.report_status.text() == expected
    assert button.isEnabled()
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]

    helpdesk = user_session(sqlite_ctx, "help.desk", Role.HELPDESK)
    other = DashboardPane(dataclasses.replace(pane_ctx, session=helpdesk))
    qtbot.addWidget(other, before_close_func=lambda p: qtbot.waitUntil(lambda: p.ctx.runner.pending == 0))
    assert not other.report_button.isVisibleTo(other)
