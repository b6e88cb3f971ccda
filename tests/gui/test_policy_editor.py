"""The policy editor, diff view, assignments and effective settings (pytest-qt, offscreen)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.policy_settings import GROUP_LABELS, SETTING_SPECS, PolicySettings
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.policies_pane import AssignDialog, PoliciesPane
from mdm_desktop.gui.panes.policy_assignments import EffectiveSettingsDialog
from mdm_desktop.gui.panes.policy_diff import DRAFT, PolicyDiffDialog
from mdm_desktop.gui.panes.policy_editor import PolicyEditorDialog
from mdm_desktop.gui.panes.policy_import_dialog import ImportPolicyDialog
from mdm_desktop.gui.widgets.setting_editors import IntEditor, ListEditor, make_editor
from mdm_desktop.services.policies import clinic_baseline_settings
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_groups, add_policy, audit_count


def shot(widget, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save a screenshot into the folder named by MDM_SHOTS, when set (for looking at the layout by eye)."""
    folder = os.environ.get("MDM_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(folder) / f"policy-editor-{name}.png"))


@pytest.fixture
def policies(sqlite_ctx: AppContext) -> dict[str, int]:
    groups = add_groups(sqlite_ctx, ["Emergency", "Front desk"])
    base = PolicySettings().to_dict()
    strict = json.loads(json.dumps(base))
    strict["passcode"]["min_length"] = 10
    strict["connections"]["camera_allowed"] = False
    strict["apps"]["blocked"] = ["com.example.game"]
    return {
        "ward": add_policy(
            sqlite_ctx, "Ward phones", base, versions=[base], assign_to=[groups["Emergency"]], description="Wards"
        ),
        "strict": add_policy(sqlite_ctx, "Strict phones", strict, versions=[strict], assign_to=[groups["Emergency"]]),
        "legacy": add_policy(sqlite_ctx, "Legacy draft", clinic_baseline_settings()),
        **{f"group:{k}": v for k, v in groups.items()},
    }


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext) -> PoliciesPane:
    widget = PoliciesPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    return widget


def select(qtbot, pane: PoliciesPane, policy_id: int) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
        pane.activate()
    if pane.detail_shown is None or pane.detail_shown.summary.id != policy_id:
        with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
            pane.select_policy(policy_id)


def open_editor(qtbot, pane: PoliciesPane, policy_id: int) -> PolicyEditorDialog:  # type: ignore[no-untyped-def]
    select(qtbot, pane, policy_id)
    editor = pane.edit_selected()
    assert editor is not None
    editor.resize(1400, 900)
    qtbot.waitExposed(editor)
    return editor


# ---- editors per kind -------------------------------------------------------------------------


def test_every_setting_has_an_editor_that_round_trips(qtbot) -> None:
    values = PolicySettings().to_dict()
    for spec in SETTING_SPECS:
        editor = make_editor(spec)
        qtbot.addWidget(editor)
        assert editor.value() == values[spec.group][spec.name], spec.key


def test_int_editor_shows_out_of_range_values_and_no_limit(qtbot) -> None:
    spec = next(s for s in SETTING_SPECS if s.key == "passcode.max_failed_attempts")
    editor = make_editor(spec)
    qtbot.addWidget(editor)
    assert isinstance(editor, IntEditor)
    editor.set_value(40)
    assert editor.value() == 40  # not clamped: the editor explains instead
    with qtbot.waitSignal(editor.changed):
        assert editor.unset is not None
        editor.unset.setChecked(True)
    assert editor.value() is None
    assert not editor.spin.isEnabled()


# ---- the editor ---------------------------------------------------------------------------------


def test_editor_is_generated_from_the_specs(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    editor = open_editor(qtbot, pane, policies["ward"])
    assert set(editor.rows) == {s.key for s in SETTING_SPECS}
    groups = [editor.nav.item(i).text() for i in range(editor.nav.count())]
    assert groups == [GROUP_LABELS[g] for g in GROUP_LABELS if any(s.group == g for s in SETTING_SPECS)]
    row = editor.rows["passcode.min_length"]
    assert "AIOS-18-006500" in row.label.toolTip()
    assert "4 to 16 characters" in row.label.toolTip()
    assert not editor.problems
    assert editor.status_label.text() == "All changes saved"
    shot(editor, "editor")
    editor.reject()


def test_inline_error_blocks_publish_but_saves(
    qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext
) -> None:
    editor = open_editor(qtbot, pane, policies["ward"])
    spin = editor.editor("passcode.min_length")
    assert isinstance(spin, IntEditor)
    with qtbot.waitSignal(editor.validated, timeout=5_000):
        spin.spin.setValue(30)
    error = editor.rows["passcode.min_length"].error
    assert not error.isHidden()
    assert "30 is out of range; use 4 to 16 characters" in error.text()
    assert editor.problem_list.count() == 1
    assert "1 setting needs attention" in editor.problem_summary.text()
    assert "(1 problem)" in editor.nav.item(0).text()
    assert not editor.publish_action.isEnabled()
    assert "correct the 1 problem" in editor.publish_action.toolTip()
    assert editor.status_label.text() == "Unsaved changes"
    shot(editor, "editor-error")

    before = audit_count(sqlite_ctx)
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        editor.save()
    assert audit_count(sqlite_ctx) == before + 1
    detail = sqlite_ctx.services.policies.policy_detail(pane.ctx.session.principal, policies["ward"])
    assert detail.draft_settings["passcode"]["min_length"] == 30
    assert editor.status_label.text() == "All changes saved"
    assert not editor.publish_action.isEnabled()  # still invalid

    # A correction makes the draft publishable once saved.
    with qtbot.waitSignal(editor.validated, timeout=5_000):
        spin.spin.setValue(12)
    assert editor.rows["passcode.min_length"].error.isHidden()
    assert editor.publish_blocker() == "Save the draft before publishing it."
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        editor.save()
    assert editor.publish_action.isEnabled()
    dialog = editor.publish()
    assert dialog is not None
    with qtbot.waitSignal(dialog.succeeded, timeout=10_000):
        dialog.submit()
    detail = sqlite_ctx.services.policies.policy_detail(pane.ctx.session.principal, policies["ward"])
    assert detail.versions[0].version == 2
    assert detail.versions[0].settings["passcode"]["min_length"] == 12
    editor.reject()


def test_cross_setting_error_and_list_editor(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    editor = open_editor(qtbot, pane, policies["ward"])
    blocked = editor.editor("apps.blocked")
    required = editor.editor("apps.required")
    assert isinstance(blocked, ListEditor)
    assert isinstance(required, ListEditor)
    required.entry.setText("com.epic.haiku")
    required.add_entry()
    blocked.entry.setText("com.epic.haiku, not-an-id")
    with qtbot.waitSignal(editor.validated, timeout=5_000):
        blocked.add_entry()
    assert "not an app identifier" in editor.rows["apps.blocked"].error.text()
    blocked.list.item(1).setSelected(True)
    with qtbot.waitSignal(editor.validated, timeout=5_000):
        blocked.remove_selected()
    assert "com.epic.haiku is also required" in editor.rows["apps.blocked"].error.text()
    editor._saved_text = json.dumps(editor.current_settings(), sort_keys=True, ensure_ascii=False, default=str)
    editor.reject()


def test_undo_revert_and_unsaved_prompt(
    qtbot, pane: PoliciesPane, policies: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = open_editor(qtbot, pane, policies["ward"])
    camera = editor.editor("connections.camera_allowed")
    camera.box.setChecked(False)  # type: ignore[attr-defined]
    editor.editor("passcode.history").spin.setValue(5)  # type: ignore[attr-defined]
    assert editor.is_dirty()
    editor.undo()
    assert editor.editor("passcode.history").value() == 0
    assert editor.editor("connections.camera_allowed").value() is False
    editor.undo()
    assert editor.editor("connections.camera_allowed").value() is True
    assert not editor.is_dirty()

    camera.box.setChecked(False)  # type: ignore[attr-defined]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    editor.revert()
    assert editor.editor("connections.camera_allowed").value() is True

    camera.box.setChecked(False)  # type: ignore[attr-defined]
    asked: list[bool] = []

    def cancel() -> QMessageBox.StandardButton:
        asked.append(True)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(editor, "ask_unsaved", cancel)
    editor.reject()
    assert asked
    assert editor.isVisible()

    monkeypatch.setattr(editor, "ask_unsaved", lambda: QMessageBox.StandardButton.Save)
    with qtbot.waitSignal(editor.finished, timeout=10_000):
        editor.reject()
    detail = pane.ctx.services.policies.policy_detail(pane.ctx.session.principal, policies["ward"])
    assert detail.draft_settings["connections"]["camera_allowed"] is False


def test_legacy_draft_opens_and_keeps_unknown_groups(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    editor = open_editor(qtbot, pane, policies["legacy"])
    assert editor.editor("device_health.max_patch_age_days").value() == 90
    assert not editor.problems
    editor.reject()


def test_read_only_role_cannot_save(qtbot, pane_ctx: PaneContext, policies: dict[str, int]) -> None:
    widget = PoliciesPane(pane_ctx)
    widget.can_write = False
    qtbot.addWidget(widget)
    show_top_level(widget)
    select(qtbot, widget, policies["ward"])
    editor = widget.edit_selected()
    assert editor is not None
    editor.editor("passcode.history").spin.setValue(3)  # type: ignore[attr-defined]
    assert not editor.save_action.isEnabled()
    assert editor.save() is None
    assert editor.publish_blocker() == "Your role cannot publish policies."
    editor.reject()
    assert not editor.isVisible()


# ---- diff ---------------------------------------------------------------------------------------


def test_diff_shows_changed_settings_in_words(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    editor = open_editor(qtbot, pane, policies["ward"])
    editor.editor("passcode.min_length").spin.setValue(8)  # type: ignore[attr-defined]
    editor.editor("connections.camera_allowed").box.setChecked(False)  # type: ignore[attr-defined]
    dialog = editor.compare()
    texts = [str(c) for c in dialog.changes]
    assert texts == [
        "Passcode › Minimum length: 6 characters → 8 characters",
        "Connections and peripherals › Camera allowed: Yes → No",
    ]
    shot(dialog, "diff")
    dialog.choose(DRAFT, DRAFT)
    assert dialog.changes == ()
    assert "state the same settings" in dialog.summary.text()
    dialog.close()
    editor._saved_text = json.dumps(editor.current_settings(), sort_keys=True, ensure_ascii=False, default=str)
    editor.reject()


def test_pane_compare_between_versions(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    select(qtbot, pane, policies["strict"])
    dialog = pane.compare_selected()
    assert isinstance(dialog, PolicyDiffDialog)
    assert dialog.changes == ()  # draft == v1
    dialog.close()


# ---- assignments and conflicts ------------------------------------------------------------------


def test_assign_dialog_lists_and_removes_assignments(
    qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    select(qtbot, pane, policies["ward"])
    dialog = pane.assign_selected()
    assert isinstance(dialog, AssignDialog)
    current = dialog.current
    assert current.tree.topLevelItem(0).text(0) == "Emergency"
    assert not current.remove_button.isEnabled()
    current.tree.topLevelItem(0).setSelected(True)
    assert current.remove_button.isEnabled()
    shot(dialog, "assign")
    monkeypatch.setattr(current, "confirm_remove", lambda _a: False)
    assert current.remove_selected() is None
    monkeypatch.setattr(current, "confirm_remove", lambda _a: True)
    before = audit_count(sqlite_ctx)
    with qtbot.waitSignal(current.removed, timeout=10_000):
        current.remove_selected()
    assert audit_count(sqlite_ctx) == before + 1
    assert "Removed version 1 from Emergency" in current.message.text()
    detail = sqlite_ctx.services.policies.policy_detail(pane.ctx.session.principal, policies["ward"])
    assert detail.assignments == ()
    dialog.reject()


def test_effective_settings_show_the_winner(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    select(qtbot, pane, policies["ward"])
    dialog = pane.show_effective()
    assert isinstance(dialog, EffectiveSettingsDialog)
    qtbot.waitUntil(lambda: dialog.effective is not None, timeout=10_000)
    result = dialog.effective
    assert result is not None
    assert result.group_name == "Emergency"
    by_key = {s.key: s for s in result.settings}
    assert by_key["passcode.min_length"].value == "10 characters"
    assert by_key["passcode.min_length"].sources == ("Strict phones v1 (all devices)",)
    assert by_key["passcode.min_length"].contested
    assert by_key["passcode.min_length"].rule == "the highest value wins"
    assert not by_key["passcode.required"].contested
    dialog.resize(1400, 900)
    shot(dialog, "effective")
    dialog.only_contested.setChecked(True)
    shown = sum(dialog.tree.topLevelItem(i).childCount() for i in range(dialog.tree.topLevelItemCount()))
    assert shown == 3
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.choose(policies["group:Front desk"], Ownership.BYOD)
    assert dialog.effective is not None
    assert dialog.effective.settings == ()
    assert "No policy is assigned" in dialog.policies_label.text()
    dialog.close()


# ---- import -------------------------------------------------------------------------------------


def test_import_dialog_previews_and_creates(
    qtbot, pane: PoliciesPane, policies: dict[str, int], tmp_path: Path, sqlite_ctx: AppContext
) -> None:
    android = {
        "passwordPolicies": [{"passwordQuality": "ALPHANUMERIC", "passwordMinimumLength": 8}],
        "cameraAccess": "CAMERA_ACCESS_DISABLED",
        "kioskCustomLauncherEnabled": True,
    }
    path = tmp_path / "Ward tablets.json"
    path.write_text(json.dumps(android))
    select(qtbot, pane, policies["ward"])
    dialog = pane.import_policy()
    assert isinstance(dialog, ImportPolicyDialog)
    with qtbot.waitSignal(dialog.previewed, timeout=10_000):
        dialog.set_path(str(path))
    text = dialog.preview_view.toPlainText()
    assert "Camera allowed: No" in text
    assert "field kioskCustomLauncherEnabled" in text
    assert dialog.ok_button.isEnabled()
    shot(dialog, "import")
    with qtbot.waitSignal(dialog.succeeded, timeout=10_000):
        dialog.submit()
    names = [p.name for p in sqlite_ctx.services.policies.list_policies(pane.ctx.session.principal)]
    assert "Ward tablets" in names


def test_import_dialog_refuses_hostile_file(
    qtbot, pane: PoliciesPane, policies: dict[str, int], tmp_path: Path, sqlite_ctx: AppContext
) -> None:
    path = tmp_path / "bomb.mobileconfig"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<plist><dict><key>PayloadType</key><string>&b;</string></dict></plist>"
    )
    select(qtbot, pane, policies["ward"])
    dialog = pane.import_policy()
    assert dialog is not None
    before = audit_count(sqlite_ctx)
    with qtbot.waitSignal(dialog.previewed, timeout=10_000):
        dialog.set_path(str(path))
    assert not dialog.ok_button.isEnabled()
    assert "cannot be read" in dialog.error_label.text()
    assert audit_count(sqlite_ctx) == before
    dialog.reject()


# ---- what-if ------------------------------------------------------------------------------------


def test_whatif_shows_devices_that_would_fail(qtbot, pane: PoliciesPane, sqlite_ctx: AppContext) -> None:
    from mdm_desktop.domain.devices import Platform
    from tests.integration.fixtures_data import DeviceSpec, add_devices

    groups = add_groups(sqlite_ctx, ["ICU"])
    loose = PolicySettings().to_dict()
    loose["encryption"]["required"] = False
    pid = add_policy(sqlite_ctx, "ICU phones", loose, versions=[loose], assign_to=[groups["ICU"]])
    add_devices(
        sqlite_ctx,
        [
            DeviceSpec(f"icu-{i}", Platform.ANDROID, "15", storage_encrypted=i == 0, group_id=groups["ICU"])
            for i in range(3)
        ],
    )
    editor = open_editor(qtbot, pane, pid)
    assert editor.whatif.available
    with qtbot.waitSignal(editor.validated, timeout=5_000):
        editor.editor("encryption.required").box.setChecked(True)  # type: ignore[attr-defined]
    with qtbot.waitSignal(editor.whatif.shown, timeout=30_000):
        editor.whatif.run()
    report = editor.whatif.report
    assert report is not None
    assert report.devices_assigned == 3
    rule = next(r for r in report.rules if "ncrypt" in r.label)
    assert rule.newly_failing == 2
    assert editor.whatif.rules.topLevelItemCount() == len(report.rules)
    assert "3 assigned devices" in editor.whatif.status.text()
    shot(editor, "whatif")
    # Edits make the estimate stale; problems disable it.
    with qtbot.waitSignal(editor.validated, timeout=5_000):
        editor.editor("passcode.min_length").spin.setValue(50)  # type: ignore[attr-defined]
    assert not editor.whatif.button.isEnabled()
    assert "changed since" in editor.whatif.status.text()
    editor._saved_text = json.dumps(editor.current_settings(), sort_keys=True, ensure_ascii=False, default=str)
    editor.reject()
