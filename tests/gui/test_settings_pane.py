"""Security pane: settings with inline validation; emergency sign-in review; the dashboard's banner."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from PySide6.QtCore import QSettings

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.gui.dialogs.admin_dialogs import NoteDialog
from mdm_desktop.gui.main_window import MainWindow
from mdm_desktop.gui.models.access_model import BreakGlassTableModel
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.dashboard_pane import DashboardPane
from mdm_desktop.gui.panes.settings_pane import SettingsPane, field_problem
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.services.security_settings import SecuritySettings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, sign_in_admin, step_up_admin, user_session
from tests.gui.admin_data import break_glass_use
from tests.gui.fleet import populate
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_audit_entries

WAIT = 10_000


def stored(ctx: AppContext) -> SecuritySettings:
    return ctx.services.users.security_settings(sign_in_admin(ctx).principal)


def with_session(ctx: PaneContext, session: SessionInfo, settings: QSettings) -> PaneContext:
    return PaneContext(ctx.services, session, ctx.runner, ctx.errors, settings)


def open_pane(qtbot, ctx: PaneContext) -> SettingsPane:
    pane = SettingsPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: qtbot.waitUntil(lambda: ctx.runner.pending == 0))
    show_top_level(pane)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.activate()
    return pane


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> SettingsPane:
    step_up_admin(sqlite_ctx, pane_ctx.session)
    return open_pane(qtbot, pane_ctx)


@pytest.fixture
def officer(sqlite_ctx: AppContext) -> SessionInfo:
    return user_session(sqlite_ctx, "g.santos", Role.SECURITY_OFFICER)


def test_form_shows_the_stored_settings(pane: SettingsPane) -> None:
    defaults = SecuritySettings()
    assert pane.spins["lockout_threshold"].value() == defaults.lockout_threshold
    assert pane.spins["password_min_length"].value() == defaults.password_min_length
    assert not pane.composition_check.isChecked()
    assert not pane.save_button.isEnabled()  # nothing changed yet


def test_out_of_range_values_are_shown_inline_and_nothing_is_saved(
    qtbot, pane: SettingsPane, sqlite_ctx: AppContext
) -> None:
    pane.spins["lockout_threshold"].setValue(500)
    pane.spins["password_min_length"].setValue(6)
    assert pane.problem_labels["lockout_threshold"].isVisibleTo(pane)
    assert "from 1 to 100" in pane.problem_labels["lockout_threshold"].text()
    assert "from 8 to 64" in pane.problem_labels["password_min_length"].text()
    pane.spins["idle_timeout_minutes"].setValue(10)  # a good change alongside the bad ones
    assert pane.save_button.isEnabled()
    pane.save_button.click()
    assert pane.form_error.isVisibleTo(pane)
    assert "Nothing was saved" in pane.form_error.text()
    assert pane.ctx.runner.pending == 0  # the service was not even asked
    assert stored(sqlite_ctx) == SecuritySettings()


def test_save_changes(qtbot, pane: SettingsPane, sqlite_ctx: AppContext) -> None:
    pane.spins["idle_timeout_minutes"].setValue(10)
    pane.spins["lockout_threshold"].setValue(5)
    pane.spins["password_min_length"].setValue(14)
    pane.spins["break_glass_minutes"].setValue(30)
    pane.composition_check.setChecked(True)
    with qtbot.waitSignal(pane.saved, timeout=WAIT):
        pane.save_button.click()
    assert stored(sqlite_ctx) == dataclasses.replace(
        SecuritySettings(),
        idle_timeout_minutes=10,
        lockout_threshold=5,
        password_min_length=14,
        break_glass_minutes=30,
        password_composition=True,
    )
    assert pane.status_label.text().startswith("Saved.")
    assert not pane.save_button.isEnabled()


def test_undo_restores_the_stored_values(pane: SettingsPane) -> None:
    pane.spins["lockout_minutes"].setValue(45)
    pane.revert_button.click()
    assert pane.spins["lockout_minutes"].value() == SecuritySettings().lockout_minutes
    assert not pane.revert_button.isEnabled()


def test_field_problem_checks_one_setting() -> None:
    bad = dataclasses.replace(SecuritySettings(), lockout_threshold=101, idle_timeout_minutes=0)
    assert "100" in field_problem(bad, "lockout_threshold")
    assert field_problem(bad, "password_min_length") == ""


def test_security_officer_reads_settings_and_reviews_break_glass(
    qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext, officer: SessionInfo, settings: QSettings
) -> None:
    break_glass_use(sqlite_ctx)
    pane = open_pane(qtbot, with_session(pane_ctx, officer, settings))
    assert not pane.can_edit
    assert pane.can_review
    assert not pane.spins["lockout_threshold"].isEnabled()
    assert not pane.save_button.isVisibleTo(pane)
    assert "An emergency code" not in pane.code_status.text()  # the code was used up
    assert "1 emergency sign-in(s) waiting for review" in pane.code_status.text()
    assert pane.uses_model.rowCount() == 1
    assert pane.uses_model.index(0, 3).data() == "Waiting for review"
    assert pane.review_button.isEnabled()
    pane.review_button.click()
    dialog = pane.dialog
    assert isinstance(dialog, NoteDialog)
    assert not dialog.ok_button.isEnabled()  # a note is required
    dialog.note_edit.setPlainText("Phone lost; called admin back, checked the audit log")
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        dialog.ok_button.click()
    assert pane.uses_model.rowCount() == 0
    assert pane.uses_empty.isVisibleTo(pane)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.show_reviewed.setChecked(True)
    assert pane.uses_model.index(0, 3).data().startswith("Reviewed by g.santos")


def test_break_glass_model_passes_qtmodeltester(qtmodeltester, sqlite_ctx: AppContext) -> None:
    model = BreakGlassTableModel()
    qtmodeltester.check(model)
    break_glass_use(sqlite_ctx)
    model.set_rows(sqlite_ctx.services.auth.list_break_glass(sign_in_admin(sqlite_ctx).principal))
    qtmodeltester.check(model)


def test_dashboard_banner_until_reviewed(
    qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext, officer: SessionInfo
) -> None:
    dashboard = DashboardPane(pane_ctx)
    qtbot.addWidget(dashboard, before_close_func=lambda p: qtbot.waitUntil(lambda: pane_ctx.runner.pending == 0))
    show_top_level(dashboard)
    with qtbot.waitSignal(dashboard.break_glass_loaded, timeout=WAIT) as first:
        dashboard.activate()
    assert first.args == [0]
    assert not dashboard.banner.isVisibleTo(dashboard)

    break_glass_use(sqlite_ctx)
    with qtbot.waitSignal(dashboard.break_glass_loaded, timeout=WAIT) as second:
        dashboard.refresh()
    assert second.args == [1]
    assert dashboard.banner.isVisibleTo(dashboard)
    assert "1 emergency (break-glass) sign-in not reviewed yet" in dashboard.banner.text_label.text()
    with qtbot.waitSignal(dashboard.review_requested, timeout=WAIT):
        dashboard.banner.link.linkActivated.emit("review")

    use = sqlite_ctx.services.auth.list_break_glass(officer.principal)[0]
    sqlite_ctx.services.auth.review_break_glass(officer.principal, use.id, "Checked with the administrator")
    with qtbot.waitSignal(dashboard.break_glass_loaded, timeout=WAIT) as third:
        dashboard.refresh()
    assert third.args == [0]
    assert not dashboard.banner.isVisibleTo(dashboard)


def test_banner_review_link_opens_the_security_page(
    qtbot, sqlite_ctx: AppContext, admin_session: SessionInfo, settings: QSettings
) -> None:
    populate(sqlite_ctx, 5)
    break_glass_use(sqlite_ctx)
    window = MainWindow(sqlite_ctx, sign_in_admin(sqlite_ctx), settings=settings, watch_input=False)
    qtbot.addWidget(window, before_close_func=lambda w: qtbot.waitUntil(lambda: w.runner.pending == 0))
    window.show()
    with qtbot.waitSignal(window.dashboard.break_glass_loaded, timeout=WAIT):
        window.show_pane(window.panes.index(window.dashboard))
    assert window.dashboard.banner.isVisibleTo(window)
    assert window.security is not None
    with qtbot.waitSignal(window.security.loaded, timeout=WAIT):
        window.dashboard.banner.review_requested.emit()
    assert window.current_pane is window.security
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)


def test_new_emergency_code_is_confirmed_shown_once_and_works(
    qtbot, pane: SettingsPane, sqlite_ctx: AppContext
) -> None:
    assert pane.new_code_button.isVisibleTo(pane)
    pane.new_code_button.click()
    box = pane.pending_confirm
    assert box is not None
    assert "stops working" in box.informativeText()
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):  # the pane reloads once the dialog is closed
        box.yes_button.click()
        qtbot.waitUntil(lambda: pane.code_dialog is not None and pane.code_dialog.isVisible(), timeout=WAIT)
        dialog = pane.code_dialog
        assert dialog is not None
        (code,) = dialog.panel.codes
        assert not dialog.done_button.isEnabled()  # only after "I have stored it"
        dialog.reject()
        assert dialog.isVisible()
        dialog.panel.stored.setChecked(True)
        dialog.done_button.click()
    assert "An emergency code is ready" in pane.code_status.text()
    emergency = sqlite_ctx.services.auth.sign_in_break_glass(ADMIN_USER, ADMIN_PASSWORD, code)
    assert emergency.break_glass


def test_officer_cannot_create_an_emergency_code(
    qtbot, pane_ctx: PaneContext, officer: SessionInfo, settings: QSettings
) -> None:
    pane = open_pane(qtbot, with_session(pane_ctx, officer, settings))
    assert not pane.new_code_button.isVisibleTo(pane)


# -- the Audit retention group ----------------------------------------------------------------------------------


@pytest.fixture
def old_entries(sqlite_ctx: AppContext) -> int:
    """Forty audit entries from eight years ago, one a month, at the start of the chain (before any sign-in)."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=8 * 365)
    add_audit_entries(sqlite_ctx, 40, start=start, step=dt.timedelta(days=30))
    return 40


@pytest.fixture
def retention_pane(qtbot, old_entries: int, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> SettingsPane:
    step_up_admin(sqlite_ctx, pane_ctx.session)
    return open_pane(qtbot, pane_ctx)


def oldest_seq(ctx: AppContext) -> int:
    return ctx.services.audit_retention.retention_status(sign_in_admin(ctx).principal).oldest_seq


def test_retention_group_shows_the_period_oldest_entry_and_what_is_prunable(retention_pane: SettingsPane) -> None:
    group = retention_pane.retention
    assert group.years_spin.value() == 6
    assert group.years_spin.minimum() == 6
    assert group.oldest_label.text().startswith("Oldest entry: #1, recorded ")
    assert group.prunable_label.text().startswith("Older than 6 years (before ")
    assert "entries (#1 to #" in group.prunable_label.text()
    assert group.prune_button.isEnabled()
    assert not group.save_years_button.isEnabled()
    assert not group.last_prune_label.isVisibleTo(retention_pane)


def test_prune_now_asks_for_a_folder_and_confirmation_then_prunes(
    qtbot, retention_pane: SettingsPane, sqlite_ctx: AppContext, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = retention_pane.retention
    folder = tmp_path / "usb"
    folder.mkdir()
    monkeypatch.setattr(group, "choose_folder", lambda: str(folder))
    status = group.status
    assert status is not None
    group.prune_button.click()
    box = group.pending_confirm
    assert box is not None
    assert f"Remove {status.prunable.count:,} entries (#1 to #{status.prunable.last_seq}" in box.text()
    assert str(folder) in box.informativeText()
    with qtbot.waitSignal(group.pruned, timeout=WAIT) as pruned, qtbot.waitSignal(retention_pane.loaded, timeout=WAIT):
        box.yes_button.click()
    assert pruned.args is not None
    assert (folder / f"audit-pruned-1-{status.prunable.last_seq}.jsonl").exists()
    assert group.result_label.text().startswith("Pruned ")
    assert not group.progress.isVisible()
    assert oldest_seq(sqlite_ctx) == status.prunable.last_seq + 1
    assert group.oldest_label.text().startswith(f"Oldest entry: #{status.prunable.last_seq + 1}, ")
    assert "nothing to prune" in group.prunable_label.text()
    assert not group.prune_button.isEnabled()
    assert group.last_prune_label.text().startswith("Last prune: entries #1 to #")
    assert sqlite_ctx.services.audit_chain.verify(sign_in_admin(sqlite_ctx).principal).intact
    assert retention_pane.ctx.errors.errors == []  # type: ignore[attr-defined]


def test_cancelled_confirmation_or_folder_prunes_nothing(
    retention_pane: SettingsPane, sqlite_ctx: AppContext, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    group = retention_pane.retention
    monkeypatch.setattr(group, "choose_folder", lambda: "")
    group.prune_button.click()
    assert group.pending_confirm is None
    monkeypatch.setattr(group, "choose_folder", lambda: str(tmp_path))
    group.prune_button.click()
    assert group.pending_confirm is not None
    group.pending_confirm.cancel_button.click()
    assert retention_pane.ctx.runner.pending == 0
    assert oldest_seq(sqlite_ctx) == 1


def test_a_failed_prune_reports_the_error_and_deletes_nothing(
    qtbot, retention_pane: SettingsPane, sqlite_ctx: AppContext, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    group = retention_pane.retention
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setattr(group, "choose_folder", lambda: str(blocker))
    group.prune_button.click()
    assert group.pending_confirm is not None
    with qtbot.waitSignal(group.prune_failed, timeout=WAIT):
        group.pending_confirm.yes_button.click()
    errors = retention_pane.ctx.errors.errors  # type: ignore[attr-defined]
    assert len(errors) == 1
    assert "not a folder" in str(errors[0])
    assert group.result_label.text() == "Nothing was pruned."
    assert group.prune_button.isEnabled()
    assert oldest_seq(sqlite_ctx) == 1


def test_retention_period_is_saved_on_its_own(qtbot, retention_pane: SettingsPane, sqlite_ctx: AppContext) -> None:
    group = retention_pane.retention
    group.years_spin.setValue(7)
    assert group.save_years_button.isEnabled()
    assert not retention_pane.save_button.isEnabled()  # the main form is not changed by it
    with qtbot.waitSignal(group.years_saved, timeout=WAIT), qtbot.waitSignal(retention_pane.loaded, timeout=WAIT):
        group.save_years_button.click()
    assert stored(sqlite_ctx).audit_retention_years == 7
    assert group.prunable_label.text().startswith("Older than 7 years")
    # Saving the other settings afterwards keeps the new period.
    retention_pane.spins["lockout_minutes"].setValue(45)
    with qtbot.waitSignal(retention_pane.saved, timeout=WAIT):
        retention_pane.save_button.click()
    assert stored(sqlite_ctx).audit_retention_years == 7
    assert stored(sqlite_ctx).lockout_minutes == 45


def test_security_officer_sees_retention_but_cannot_prune(
    qtbot, old_entries: int, pane_ctx: PaneContext, officer: SessionInfo, settings: QSettings
) -> None:
    pane = open_pane(qtbot, with_session(pane_ctx, officer, settings))
    group = pane.retention
    assert group.oldest_label.text().startswith("Oldest entry: #1")
    assert not group.years_spin.isEnabled()
    assert not group.prune_button.isVisibleTo(pane)
    assert not group.save_years_button.isVisibleTo(pane)
