"""Access requests pane: ask, approve or deny with a note, see the grant and its end, end it early, history."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import AccessRequestStatus, Permission
from mdm_desktop.gui.dialogs.admin_dialogs import NoteDialog, RequestAccessDialog
from mdm_desktop.gui.models.access_model import AccessRequestTableModel, duration_text
from mdm_desktop.gui.panes.access_requests_pane import AccessRequestsPane, requestable
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.services.dto import SessionInfo
from tests.conftest import sign_in_admin, step_up_admin
from tests.gui.admin_data import AdminData, seed
from tests.gui.helpers import show_top_level

WAIT = 10_000


@pytest.fixture
def data(sqlite_ctx: AppContext) -> AdminData:
    return seed(sqlite_ctx)


def open_pane(qtbot, ctx: PaneContext, session: SessionInfo | None = None, settings: QSettings | None = None):
    if session is not None:
        ctx = PaneContext(ctx.services, session, ctx.runner, ctx.errors, settings or ctx.settings)
    pane = AccessRequestsPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: qtbot.waitUntil(lambda: ctx.runner.pending == 0))
    show_top_level(pane)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.activate()
    return pane


@pytest.fixture
def approver(qtbot, data: AdminData, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> AccessRequestsPane:
    step_up_admin(sqlite_ctx, pane_ctx.session)
    return open_pane(qtbot, pane_ctx)


def cells(pane: AccessRequestsPane) -> list[list[str]]:
    return [
        [pane.proxy.index(r, c).data() for c in range(pane.proxy.columnCount())] for r in range(pane.proxy.rowCount())
    ]


def decide(qtbot, pane: AccessRequestsPane, button, note: str) -> None:
    button.click()
    dialog = pane.dialog
    assert isinstance(dialog, NoteDialog)
    assert dialog.isVisible()
    dialog.note_edit.setPlainText(note)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        dialog.ok_button.click()


def test_model_passes_qtmodeltester(qtmodeltester, data: AdminData, sqlite_ctx: AppContext) -> None:
    model = AccessRequestTableModel()
    qtmodeltester.check(model)
    rows = sqlite_ctx.services.users.list_access_requests(sign_in_admin(sqlite_ctx).principal)
    model.set_rows(rows)
    qtmodeltester.check(model)
    assert model.rowCount() == 6


def test_approver_sees_every_request_with_state_and_end(approver: AccessRequestsPane, data: AdminData) -> None:
    assert approver.can_approve
    assert approver.summary_label.text() == "2 waiting for a decision  ·  1 active grant"
    by_id = {r.id: r for r in (approver.model.row_at(i) for i in range(approver.model.rowCount())) if r}
    assert set(by_id) == set(data.request_ids.values())
    states = {
        name: approver.model.index(approver.model.row_of(rid), 5).data() for name, rid in data.request_ids.items()
    }
    assert states == {
        "pending": "Pending",
        "pending_group": "Pending",
        "active": "Active",
        "denied": "Denied",
        "cancelled": "Cancelled",
        "ended": "Expired",
    }
    row = approver.model.row_of(data.request_ids["pending_group"])
    assert approver.model.index(row, 3).data() == "Emergency"
    assert approver.model.index(row, 4).data() == "1 h"
    active = approver.model.row_of(data.request_ids["active"])
    assert approver.model.index(active, 6).data() != "—"  # the grant's end time


def test_history_filter_by_state(qtbot, approver: AccessRequestsPane, data: AdminData) -> None:
    with qtbot.waitSignal(approver.loaded, timeout=WAIT):
        approver.set_state_filter(AccessRequestStatus.DENIED)
    assert approver.proxy.rowCount() == 1
    approver.select_request(data.request_ids["denied"])
    assert "privacy officer" in approver.detail_decision.text()
    assert not approver.approve_button.isEnabled()
    with qtbot.waitSignal(approver.loaded, timeout=WAIT):
        approver.set_state_filter(AccessRequestStatus.PENDING)
    assert approver.proxy.rowCount() == 2
    with qtbot.waitSignal(approver.loaded, timeout=WAIT):
        approver.set_state_filter(None)
    assert approver.proxy.rowCount() == 6


def test_request_approve_grant_visible_then_revoke(
    qtbot, data: AdminData, approver: AccessRequestsPane, pane_ctx: PaneContext, sqlite_ctx: AppContext, settings
) -> None:
    helpdesk = data.sessions["d.demir"]
    mine = open_pane(qtbot, pane_ctx, helpdesk, settings)
    assert not mine.can_approve
    assert not any(b.isVisibleTo(mine) for b in (mine.approve_button, mine.deny_button, mine.revoke_button))
    assert mine.model.rowCount() == 3  # only d.demir's own requests

    mine.request_button.click()
    dialog = mine.dialog
    assert isinstance(dialog, RequestAccessDialog)
    offered = [Permission(dialog.permission_combo.itemData(i)) for i in range(dialog.permission_combo.count())]
    assert Permission.AUDIT_READ in offered
    assert Permission.DEVICES_READ not in offered  # already held
    assert Permission.USERS_MANAGE not in offered  # given by a role only
    dialog.permission_combo.setCurrentIndex(offered.index(Permission.AUDIT_READ))
    dialog.duration_combo.setCurrentIndex(dialog.duration_combo.findData(120))
    dialog.reason_edit.setPlainText("Ticket 4450: check who wiped the lobby tablet")
    with qtbot.waitSignals([mine.loaded, dialog.accepted], timeout=WAIT):
        dialog.ok_button.click()
    request = mine.selected_request()
    assert request is not None
    assert request.permission is Permission.AUDIT_READ
    assert request.status == "pending"
    assert mine.withdraw_button.isEnabled()

    with qtbot.waitSignal(approver.loaded, timeout=WAIT):
        approver.refresh()
    approver.select_request(request.id)
    assert approver.detail_title.text() == "d.demir asks to: Read the audit log"
    assert "for 2 h" in approver.detail_subtitle.text()
    assert approver.approve_button.isEnabled()
    decide(qtbot, approver, approver.approve_button, "For ticket 4450 only")
    granted = approver.selected_request()
    assert granted is not None
    assert granted.id == request.id
    assert approver.model.index(approver.model.row_of(request.id), 5).data() == "Active"
    assert "Ends " in approver.detail_decision.text()
    assert "For ticket 4450 only" in approver.detail_decision.text()
    assert sqlite_ctx.services.sessions.validate(helpdesk.principal).can(Permission.AUDIT_READ)

    with qtbot.waitSignal(mine.loaded, timeout=WAIT):
        mine.refresh()
    mine.select_request(request.id)
    assert mine.model.index(mine.model.row_of(request.id), 5).data() == "Active"

    assert approver.revoke_button.isEnabled()
    decide(qtbot, approver, approver.revoke_button, "done")
    assert approver.model.index(approver.model.row_of(request.id), 5).data() == "Expired"
    assert not approver.revoke_button.isEnabled()
    assert not sqlite_ctx.services.sessions.validate(helpdesk.principal).can(Permission.AUDIT_READ)


def test_deny_with_a_note(qtbot, approver: AccessRequestsPane, data: AdminData, sqlite_ctx: AppContext) -> None:
    approver.select_request(data.request_ids["pending"])
    decide(qtbot, approver, approver.deny_button, "Use the ward 3 technician instead")
    row = approver.model.row_of(data.request_ids["pending"])
    assert approver.model.index(row, 5).data() == "Denied"
    assert "Use the ward 3 technician" in approver.detail_decision.text()


def test_approver_cannot_decide_own_request(qtbot, data: AdminData, pane_ctx: PaneContext, settings) -> None:
    officer = data.sessions["g.santos"]
    own = pane_ctx.services.users.request_access(
        officer.principal, Permission.DEVICES_WRITE, "Rename the lobby kiosks for the new signage", 60
    )
    pane = open_pane(qtbot, pane_ctx, officer, settings)
    assert pane.can_approve
    pane.select_request(own.id)
    assert not pane.approve_button.isEnabled()
    assert not pane.deny_button.isEnabled()
    assert pane.withdraw_button.isEnabled()
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.withdraw_button.click()
        assert pane.pending_confirm is not None
        pane.pending_confirm.yes_button.click()
    assert pane.model.index(pane.model.row_of(own.id), 5).data() == "Cancelled"


def test_request_refusal_is_shown_in_the_dialog(qtbot, data: AdminData, pane_ctx: PaneContext, settings) -> None:
    pane = open_pane(qtbot, pane_ctx, data.sessions["d.demir"], settings)
    pane.request_access()
    dialog = pane.dialog
    assert isinstance(dialog, RequestAccessDialog)
    dialog.reason_edit.setPlainText("because")  # too short to say why
    dialog.ok_button.click()
    qtbot.waitUntil(dialog.error_label.isVisible, timeout=WAIT)
    assert "Say why" in dialog.error_label.text()
    assert dialog.isVisible()
    dialog.reject()


def test_requestable_permissions_and_durations(data: AdminData) -> None:
    helpdesk = data.sessions["d.demir"].principal
    offered = requestable(helpdesk.groups_for)
    assert Permission.COMMANDS_SEND not in offered
    assert Permission.ACCESS_APPROVE not in offered
    assert Permission.COMMANDS_SEND_DESTRUCTIVE in offered
    assert duration_text(30) == "30 min"
    assert duration_text(90) == "1 h 30 min"
    assert duration_text(3 * 24 * 60) == "3 days"
