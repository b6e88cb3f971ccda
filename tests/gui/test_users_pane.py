"""Users pane: accounts, their sessions and roles; every action end to end on a real SQLite store."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Permission, Role, StepUpRequiredError
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.gui.dialogs.admin_dialogs import (
    PERMISSION_GROUPS,
    ChangeRoleDialog,
    GroupScopeDialog,
    NewUserDialog,
    ResetPasswordDialog,
    RoleComposerDialog,
)
from mdm_desktop.gui.errors import StepUpCancelledError
from mdm_desktop.gui.main_window import MainWindow
from mdm_desktop.gui.models.users_model import RoleTableModel, UserTableModel, user_status
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.users_pane import UsersPane, inline_message
from mdm_desktop.services.dto import SessionInfo, UserInfo
from tests.conftest import USER_PASSWORD, sign_in_admin, step_up_admin, totp_code, user_session
from tests.gui.admin_data import AdminData, seed, sign_in
from tests.gui.helpers import show_top_level
from tests.gui.security_gui import advance, store_clock

WAIT = 10_000
NEW_PASSWORD = "lantern orchard velvet quarry 58"


@pytest.fixture
def data(sqlite_ctx: AppContext) -> AdminData:
    return seed(sqlite_ctx, requests=False)


def open_pane(qtbot, ctx: PaneContext) -> UsersPane:
    pane = UsersPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: qtbot.waitUntil(lambda: ctx.runner.pending == 0))
    show_top_level(pane)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.activate()
    return pane


@pytest.fixture
def pane(qtbot, data: AdminData, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> UsersPane:
    step_up_admin(sqlite_ctx, pane_ctx.session)
    return open_pane(qtbot, pane_ctx)


def user(ctx: AppContext, user_id: int) -> UserInfo:
    return ctx.services.users.get_user(sign_in_admin(ctx).principal, user_id)


def select(qtbot, pane: UsersPane, user_id: int) -> None:
    pane.select_user(user_id)
    assert pane.selected_user() is not None
    assert pane.selected_user().id == user_id
    qtbot.waitUntil(
        lambda: (bool(pane.sessions) and pane.sessions[0].user_id == user_id) or pane.ctx.runner.pending == 0
    )


def confirm(qtbot, pane: UsersPane, expected_name: str) -> None:
    box = pane.pending_confirm
    assert box is not None
    assert box.isVisible()
    assert expected_name in box.text()  # the confirmation names the user
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        box.yes_button.click()


# ---- models ------------------------------------------------------------------------------------


def test_models_pass_qtmodeltester(qtmodeltester, data: AdminData, sqlite_ctx: AppContext) -> None:
    admin = sign_in_admin(sqlite_ctx).principal
    users = UserTableModel()
    qtmodeltester.check(users)
    users.set_rows(sqlite_ctx.services.users.list_users(admin))
    users.set_group_names(data.fleet.group_ids and {v: k for k, v in data.fleet.group_ids.items()})
    qtmodeltester.check(users)
    roles = RoleTableModel()
    qtmodeltester.check(roles)
    roles.set_roles(sqlite_ctx.services.users.list_roles(admin))
    qtmodeltester.check(roles)
    assert roles.rowCount() == 7


def test_permission_groups_name_every_permission_once() -> None:
    listed = [p for _, perms in PERMISSION_GROUPS for p in perms]
    assert sorted(listed) == sorted(Permission)
    assert len(listed) == len(set(listed))


# ---- listing -----------------------------------------------------------------------------------


def test_lists_accounts_with_role_scope_mfa_and_status(pane: UsersPane, data: AdminData) -> None:
    assert pane.model.rowCount() == len(data.user_ids) + 1  # and the first administrator
    assert pane.count_label.text() == "12 users"
    texts = {
        pane.model.index(r, 0).data(): [pane.model.index(r, c).data() for c in range(pane.model.columnCount())]
        for r in range(pane.model.rowCount())
    }
    assert texts["e.natarajan"][1:5] == ["Priya Natarajan", "Helpdesk", "Cardiology, Emergency", "Enrolled"]
    assert texts["i.tanaka"][2] == "Ward tablets helper"
    assert texts["k.ivanova"][5] == "Disabled"
    assert texts["f.moreau"][5].startswith("Locked until ")
    assert texts["j.owusu"][4] == "Not enrolled"
    assert texts["h.kowalski"][6] == "never"
    pane.filter_edit.setText("security officer")
    assert pane.proxy.rowCount() == 2
    assert pane.count_label.text() == "2 of 12 users"


def test_detail_shows_the_selected_user_and_open_sessions(qtbot, pane: UsersPane, data: AdminData) -> None:
    with qtbot.waitSignal(pane.sessions_loaded, timeout=WAIT):
        pane.select_user(data.user_ids["b.lindqvist"])
    assert pane.user_title.text() == "Ben Lindqvist"
    assert "IT technician" in pane.user_subtitle.text()
    assert "Authenticator app: enrolled" in pane.user_facts.text()
    assert pane.session_list.topLevelItemCount() == 1
    assert pane.session_list.topLevelItem(0).text(0) == "test-station"


# ---- actions -----------------------------------------------------------------------------------


def test_new_user_with_custom_role_scope_and_strength_meter(
    qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext
) -> None:
    pane.new_user_button.click()
    dialog = pane.dialog
    assert isinstance(dialog, NewUserDialog)
    assert dialog.isVisible()
    dialog.username_edit.setText("l.haddad")
    dialog.display_edit.setText("Leila Haddad")
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData(data.role_ids["Compliance reader"]))
    dialog.scope.set_groups([data.fleet.group_ids["Radiology"]])
    dialog.password.password_edit.setText("short")
    qtbot.waitUntil(lambda: dialog.password.feedback is not None, timeout=WAIT)
    assert not dialog.ok_button.isEnabled()
    assert dialog.password.problems_label.isVisibleTo(dialog)
    dialog.password.password_edit.setText(NEW_PASSWORD)
    dialog.password.repeat_edit.setText(NEW_PASSWORD)
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=WAIT)
    with qtbot.waitSignals([pane.loaded, dialog.accepted], timeout=WAIT):
        dialog.ok_button.click()
    created = pane.user_named("l.haddad")
    assert created is not None
    assert created.role_label == "Compliance reader"
    assert created.group_ids == (data.fleet.group_ids["Radiology"],)
    assert pane.selected_user() == created
    assert sqlite_ctx.services.auth.sign_in("l.haddad", NEW_PASSWORD).username == "l.haddad"


def test_new_user_refusal_is_shown_in_the_dialog(qtbot, pane: UsersPane) -> None:
    pane.new_user()
    dialog = pane.dialog
    assert isinstance(dialog, NewUserDialog)
    dialog.username_edit.setText("d.demir")  # taken
    dialog.password.password_edit.setText(NEW_PASSWORD)
    dialog.password.repeat_edit.setText(NEW_PASSWORD)
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=WAIT)
    dialog.ok_button.click()
    qtbot.waitUntil(dialog.error_label.isVisible, timeout=WAIT)
    assert "taken" in dialog.error_label.text()
    assert dialog.isVisible()
    assert pane.ctx.errors.errors == []  # type: ignore[attr-defined]
    dialog.reject()


def test_disable_asks_naming_the_user_then_enable(
    qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext
) -> None:
    uid = data.user_ids["d.demir"]
    select(qtbot, pane, uid)
    assert pane.disable_button.text() == "Disable…"
    pane.disable_button.click()
    confirm(qtbot, pane, "d.demir")
    assert user(sqlite_ctx, uid).disabled
    assert user_status(pane.selected_user()) == "Disabled"
    assert pane.disable_button.text() == "Enable"
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.disable_button.click()
    assert not user(sqlite_ctx, uid).disabled


def test_cancelled_confirmation_changes_nothing(
    qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext
) -> None:
    uid = data.user_ids["d.demir"]
    select(qtbot, pane, uid)
    qtbot.waitUntil(lambda: pane.ctx.runner.pending == 0)  # the selected user's sessions have loaded
    pane.reset_mfa_button.click()
    box = pane.pending_confirm
    assert box is not None
    box.cancel_button.click()
    assert pane.ctx.runner.pending == 0  # nothing was sent
    assert user(sqlite_ctx, uid).mfa_enrolled


def test_own_account_cannot_be_disabled_or_demoted(qtbot, pane: UsersPane, pane_ctx: PaneContext) -> None:
    own_id = pane_ctx.session.principal.id
    assert own_id is not None
    select(qtbot, pane, own_id)
    assert not pane.disable_button.isEnabled()
    assert not pane.change_role_button.isEnabled()
    assert not pane.scope_button.isEnabled()


def test_unlock(qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext) -> None:
    uid = data.user_ids["f.moreau"]
    select(qtbot, pane, uid)
    assert pane.unlock_button.isEnabled()
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.unlock_button.click()
    after = user(sqlite_ctx, uid)
    assert after.locked_until is None
    assert after.failed_attempts == 0
    assert user_status(pane.selected_user()) == "Active"
    assert not pane.unlock_button.isEnabled()


def test_reset_password(qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext) -> None:
    select(qtbot, pane, data.user_ids["c.mendes"])
    pane.reset_password_button.click()
    dialog = pane.dialog
    assert isinstance(dialog, ResetPasswordDialog)
    assert "c.mendes" in dialog.windowTitle()
    dialog.password.password_edit.setText(NEW_PASSWORD)
    dialog.password.repeat_edit.setText(NEW_PASSWORD)
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=WAIT)
    with qtbot.waitSignal(pane.action_done, timeout=WAIT) as done:
        dialog.ok_button.click()
    assert done.args == ["users.reset_password"]
    assert sqlite_ctx.services.auth.sign_in("c.mendes", NEW_PASSWORD).username == "c.mendes"


def test_reset_mfa_ends_sessions(qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext) -> None:
    uid = data.user_ids["d.demir"]
    select(qtbot, pane, uid)
    pane.reset_mfa_button.click()
    confirm(qtbot, pane, "d.demir")
    assert not user(sqlite_ctx, uid).mfa_enrolled
    admin = sign_in_admin(sqlite_ctx).principal
    assert sqlite_ctx.services.sessions.list_sessions(admin, uid) == ()


def test_change_role_to_a_custom_role(qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext) -> None:
    uid = data.user_ids["c.mendes"]
    select(qtbot, pane, uid)
    pane.change_role_button.click()
    dialog = pane.dialog
    assert isinstance(dialog, ChangeRoleDialog)
    assert dialog.role() == Role.IT_TECHNICIAN
    labels = [dialog.role_combo.itemText(i) for i in range(dialog.role_combo.count())]
    assert "Ward tablets helper (custom)" in labels
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData(data.role_ids["Ward tablets helper"]))
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        dialog.accept()
    assert user(sqlite_ctx, uid).custom_role_id == data.role_ids["Ward tablets helper"]
    assert "Ward tablets helper" in pane.user_subtitle.text()


def test_set_group_scope(qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext) -> None:
    uid = data.user_ids["d.demir"]
    groups = data.fleet.group_ids
    select(qtbot, pane, uid)
    pane.scope_button.click()
    dialog = pane.dialog
    assert isinstance(dialog, GroupScopeDialog)
    dialog.scope.set_groups([])
    assert not dialog.ok_button.isEnabled()  # no group ticked, not "all"
    dialog.scope.set_groups([groups["Paediatrics"], groups["Front desk"]])
    assert dialog.ok_button.isEnabled()
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        dialog.accept()
    assert set(user(sqlite_ctx, uid).group_ids) == {groups["Paediatrics"], groups["Front desk"]}
    assert "Device groups: Front desk, Paediatrics" in pane.user_facts.text()


def test_revoke_a_session(qtbot, pane: UsersPane, data: AdminData, sqlite_ctx: AppContext) -> None:
    uid = data.user_ids["g.santos"]
    with qtbot.waitSignal(pane.sessions_loaded, timeout=WAIT):
        pane.select_user(uid)
    assert not pane.revoke_session_button.isEnabled()
    pane.session_list.setCurrentItem(pane.session_list.topLevelItem(0))
    assert pane.revoke_session_button.isEnabled()
    pane.revoke_session_button.click()
    confirm(qtbot, pane, "g.santos")
    admin = sign_in_admin(sqlite_ctx).principal
    assert sqlite_ctx.services.sessions.list_sessions(admin, uid) == ()
    qtbot.waitUntil(
        lambda: (
            pane.session_list.topLevelItemCount() == 1
            and pane.session_list.topLevelItem(0).text(0) == "No open sessions."
        ),
        timeout=WAIT,
    )


def test_step_up_request_reaches_the_error_handler(
    qtbot, data: AdminData, sqlite_ctx: AppContext, pane_ctx: PaneContext, settings: QSettings
) -> None:
    """Without a fresh code the service refuses; the refusal goes to the central handler (no own prompt)."""
    other_admin = sign_in(sqlite_ctx, "a.okafor")
    advance(sqlite_ctx, minutes=6)  # the sign-in's fresh code no longer counts for user changes
    ctx = PaneContext(sqlite_ctx.services, other_admin, pane_ctx.runner, pane_ctx.errors, settings)
    pane = open_pane(qtbot, ctx)
    select(qtbot, pane, data.user_ids["f.moreau"])
    pane.unlock_button.click()
    errors = pane_ctx.errors.errors  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT)
    assert isinstance(errors[0], StepUpRequiredError)
    assert user(sqlite_ctx, data.user_ids["f.moreau"]).locked_until is not None


# ---- roles -------------------------------------------------------------------------------------


def test_roles_tab_lists_built_in_and_custom_roles_with_user_counts(pane: UsersPane) -> None:
    rows = [
        [pane.role_model.index(r, c).data() for c in range(pane.role_model.columnCount())]
        for r in range(pane.role_model.rowCount())
    ]
    assert rows[:4] == [
        ["Administrator", "Built-in", "20", "2"],
        ["IT technician", "Built-in", "11", "2"],
        ["Helpdesk", "Built-in", "5", "4"],
        ["Security officer", "Built-in", "11", "2"],
    ]
    assert ["Compliance reader", "Custom", "5", "1"] in rows
    pane.select_role_named("Compliance reader")
    assert pane.role_title.text() == "Compliance reader"
    assert "1 user" in pane.role_subtitle.text()
    shown = [pane.permission_tree.topLevelItem(i).text(0) for i in range(pane.permission_tree.topLevelItemCount())]
    assert "    ✓  Read the audit log" in shown
    assert "    —  Send destructive commands (wipe, retire)" in shown
    assert pane.edit_role_button.isEnabled()
    assert not pane.delete_role_button.isEnabled()  # someone holds it
    pane.select_role_named("Helpdesk")
    assert not pane.edit_role_button.isEnabled()


def test_role_composer_create_edit_delete(qtbot, pane: UsersPane, sqlite_ctx: AppContext) -> None:
    pane.tabs.setCurrentIndex(1)
    pane.new_role_button.click()
    dialog = pane.dialog
    assert isinstance(dialog, RoleComposerDialog)
    assert not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("Night shift lead")
    dialog.description_edit.setText("Locks lost phones at night")
    assert not dialog.ok_button.isEnabled()  # no permission yet
    dialog.checks[Permission.DEVICES_READ].setChecked(True)
    dialog.checks[Permission.COMMANDS_SEND].setChecked(True)
    assert dialog.summary_label.text() == "2 permissions ticked"
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        dialog.ok_button.click()
    created = pane.selected_role()
    assert created is not None
    assert created.name == "Night shift lead"
    assert created.permissions == {Permission.DEVICES_READ, Permission.COMMANDS_SEND}
    assert created.user_count == 0

    pane.edit_role_button.click()
    editor = pane.dialog
    assert isinstance(editor, RoleComposerDialog)
    assert editor.name_edit.isReadOnly()
    assert editor.checks[Permission.COMMANDS_SEND].isChecked()
    editor.checks[Permission.POLICIES_READ].setChecked(True)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        editor.ok_button.click()
    edited = pane.selected_role()
    assert edited is not None
    assert Permission.POLICIES_READ in edited.permissions

    assert pane.delete_role_button.isEnabled()
    pane.delete_role_button.click()
    confirm(qtbot, pane, "Night shift lead")
    admin = sign_in_admin(sqlite_ctx).principal
    assert "Night shift lead" not in [r.name for r in sqlite_ctx.services.users.list_roles(admin)]


def test_role_composer_offers_only_what_the_author_holds(qtbot) -> None:
    held = frozenset({Permission.DEVICES_READ, Permission.USERS_MANAGE})
    dialog = RoleComposerDialog(held)
    qtbot.addWidget(dialog)
    assert dialog.checks[Permission.DEVICES_READ].isEnabled()
    assert not dialog.checks[Permission.AUDIT_READ].isEnabled()
    dialog.set_permissions(Permission)
    assert dialog.permissions() == held


# ---- who sees what -----------------------------------------------------------------------------


def test_security_officer_sees_accounts_but_no_actions(qtbot, data: AdminData, pane_ctx: PaneContext, settings) -> None:
    officer = data.sessions["g.santos"]
    ctx = PaneContext(pane_ctx.services, officer, pane_ctx.runner, pane_ctx.errors, settings)
    pane = open_pane(qtbot, ctx)
    assert pane.model.rowCount() == 12
    assert not pane.can_manage
    hidden = (
        pane.new_user_button,
        *pane.user_actions,
        pane.revoke_session_button,
        pane.new_role_button,
        pane.edit_role_button,
        pane.delete_role_button,
    )
    assert all(not w.isVisibleTo(pane) for w in hidden)
    assert pane.read_only_note.isVisibleTo(pane)


def test_helpdesk_gets_no_users_or_security_page(
    qtbot, sqlite_ctx: AppContext, data: AdminData, settings: QSettings
) -> None:
    helpdesk: SessionInfo = user_session(sqlite_ctx, "m.front", Role.HELPDESK)
    window = MainWindow(sqlite_ctx, helpdesk, settings=settings, watch_input=False)
    qtbot.addWidget(window, before_close_func=lambda w: qtbot.waitUntil(lambda: w.runner.pending == 0))
    titles = [window.navigation.item(i).text() for i in range(window.navigation.count())]
    assert "Users" not in titles
    assert "Security" not in titles
    assert titles[-1] == "Access requests"
    assert window.users is None
    assert window.security is None
    assert window.access_requests is not None
    assert not window.access_requests.can_approve
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)


def test_selection_survives_refresh(qtbot, pane: UsersPane, data: AdminData) -> None:
    uid = data.user_ids["j.owusu"]
    select(qtbot, pane, uid)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.refresh()
    assert pane.selected_user() is not None
    assert pane.selected_user().id == uid
    assert pane.table.selectionModel().selectedRows()[0].data(Qt.ItemDataRole.DisplayRole) == "j.owusu"
    assert USER_PASSWORD  # the seeded accounts' password


def test_inline_message_for_fixable_refusals_only() -> None:
    assert inline_message(ValidationError("Bad name.", hint="Use letters.")) == "Bad name. Use letters."
    assert inline_message(StepUpRequiredError("users.create")) is None  # the central handler asks for a code
    assert "not done" in (inline_message(StepUpCancelledError("users.create")) or "")
    assert inline_message(RuntimeError("boom")) is None


def test_step_up_prompt_then_the_action_runs(
    qtbot, sqlite_ctx: AppContext, data: AdminData, settings: QSettings
) -> None:
    """In the main window a stale step-up opens the central code prompt; the action then goes through."""
    advance(sqlite_ctx, minutes=6)
    window = MainWindow(
        sqlite_ctx, sign_in_admin(sqlite_ctx), settings=settings, clock=store_clock(sqlite_ctx), watch_input=False
    )
    qtbot.addWidget(window, before_close_func=lambda w: qtbot.waitUntil(lambda: w.runner.pending == 0))
    window.show()
    assert window.users is not None
    with qtbot.waitSignal(window.users.loaded, timeout=WAIT):
        window.show_pane(window.panes.index(window.users))
    uid = data.user_ids["f.moreau"]
    select(qtbot, window.users, uid)
    with qtbot.waitSignal(window.step_up.dialog_opened, timeout=WAIT) as opened:
        window.users.unlock_button.click()
    prompt = opened.args[0]
    prompt.code.setText(totp_code(sqlite_ctx))
    with qtbot.waitSignal(window.users.loaded, timeout=WAIT):
        prompt.confirm_button.click()
    assert user(sqlite_ctx, uid).locked_until is None
    assert window.errors.last is None
