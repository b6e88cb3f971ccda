"""Policies pane: the Export… action and its dialog (format, version, file, signing, the export report)."""

from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from mdm_desktop.app import AppContext
from mdm_desktop.domain.policy_baselines import CORPORATE, SHARED_TABLET
from mdm_desktop.exports.report import ExportFormat
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.policies_pane import ExportDialog, PoliciesPane
from mdm_desktop.services.policy_exports import PolicyExportResult
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_policy, audit_count


@pytest.fixture
def policies(sqlite_ctx: AppContext) -> dict[str, int]:
    return {
        "tablets": add_policy(
            sqlite_ctx,
            "Ward tablets",
            SHARED_TABLET.to_dict(),
            versions=[CORPORATE.to_dict(), SHARED_TABLET.to_dict()],
            description="Shared tablets on the wards",
        ),
        "draft": add_policy(sqlite_ctx, "Draft only", CORPORATE.to_dict()),
    }


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext, policies: dict[str, int]) -> PoliciesPane:
    widget = PoliciesPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    with qtbot.waitSignal(widget.detail_loaded, timeout=10_000):
        widget.activate()
    return widget


def select(qtbot, pane: PoliciesPane, policy_id: int) -> None:
    if pane.detail_shown is not None and pane.detail_shown.summary.id == policy_id:
        return
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
        pane.select_policy(policy_id)


def test_export_needs_a_published_version(qtbot, pane: PoliciesPane, policies: dict[str, int], tmp_path: Path) -> None:
    select(qtbot, pane, policies["draft"])
    assert not pane.export_action.isEnabled()
    assert pane.export_selected() is None
    select(qtbot, pane, policies["tablets"])
    assert pane.export_action.isEnabled()
    assert pane.export_action in pane.menu_actions
    assert pane.export_action in pane.more_menu.actions()  # in the "More" menu, with its shortcut
    pane.grab().save(str(tmp_path / "policies-pane.png"))


def test_export_android_shows_the_report(
    qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext, tmp_path: Path
) -> None:
    select(qtbot, pane, policies["tablets"])
    dialog = pane.export_selected()
    assert isinstance(dialog, ExportDialog)
    assert dialog.version_combo.count() == 2
    assert dialog.version_combo.currentData() == 2  # newest first
    assert dialog.path_edit.text().endswith("Ward-tablets-v2.mobileconfig")
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(ExportFormat.ANDROID.value))
    assert dialog.path_edit.text().endswith("Ward-tablets-v2.json")
    assert not dialog.sign_box.isEnabled()  # only Apple profiles are signed
    target = tmp_path / "out" / "ward.json"
    dialog.path_edit.setText(str(target))
    with qtbot.waitSignal(dialog.report_shown, timeout=10_000) as blocker:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert isinstance(result, PolicyExportResult)
    assert json.loads(target.read_text(encoding="utf-8"))["cameraAccess"] == "CAMERA_ACCESS_DISABLED"
    text = dialog.report_view.toPlainText()
    assert f"Wrote {target}" in text
    assert "Cloud backup of managed data allowed (data_transfer.cloud_backup_allowed)" in text
    assert dialog.isVisible()
    assert not dialog.ok_button.isEnabled()
    assert audit_count(sqlite_ctx, action="policies.export", outcome="success") == 1
    dialog.grab().save(str(tmp_path / "export-dialog.png"))


def test_apple_export_of_an_older_version_and_refusals_stay_inline(
    qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext, tmp_path: Path
) -> None:
    select(qtbot, pane, policies["tablets"])
    dialog = pane.export_selected()
    assert dialog is not None
    assert dialog.sign_box.isEnabled()
    target = tmp_path / "ward.mobileconfig"
    target.write_text("keep", encoding="utf-8")
    dialog.version_combo.setCurrentIndex(1)  # version 1
    dialog.path_edit.setText(str(target))
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=10_000)
    assert "already exists" in dialog.error_label.text()
    assert target.read_text(encoding="utf-8") == "keep"
    dialog.sign_box.setChecked(True)
    dialog.replace_box.setChecked(True)
    dialog.submit()
    qtbot.waitUntil(lambda: "certificate authority has not been made" in dialog.error_label.text(), timeout=10_000)
    assert target.read_text(encoding="utf-8") == "keep"
    dialog.sign_box.setChecked(False)
    with qtbot.waitSignal(dialog.report_shown, timeout=10_000):
        dialog.submit()
    profile = plistlib.loads(target.read_bytes())
    assert profile["PayloadDisplayName"] == "Ward tablets (v1)"
    assert not dialog.error_label.isVisible()
    assert audit_count(sqlite_ctx, action="policies.export", outcome="success") == 1
