"""Policies pane and PolicyListModel: list, detail, and the create / publish / assign actions."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from PySide6.QtCore import Qt

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.gui.models.policy_list_model import COLUMN_INDEX, POLICY_ROLE, SORT_ROLE, PolicyListModel
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.policies_pane import (
    AssignDialog,
    NewPolicyDialog,
    PoliciesPane,
    PublishDialog,
    setting_label,
    setting_value,
)
from mdm_desktop.services.dto import PolicySummary
from mdm_desktop.services.policies import clinic_baseline_settings
from mdm_desktop.store.schema import Policy, PolicyAssignment, PolicyVersion
from tests.conftest import user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_groups, add_policy, audit_count, table_count

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def policies(sqlite_ctx: AppContext) -> dict[str, int]:
    groups = add_groups(sqlite_ctx, ["Emergency", "Front desk"])
    base = clinic_baseline_settings()
    stricter = {**base, "passcode": {"required": True, "min_length": 8}}
    return {
        "phones": add_policy(
            sqlite_ctx, "Clinical phones", base, versions=[base], assign_to=[groups["Emergency"]], description="Wards"
        ),
        "tablets": add_policy(sqlite_ctx, "Front desk tablets", stricter, versions=[base]),
        "byod": add_policy(sqlite_ctx, "<b>BYOD</b> minimum", base),
        **{f"group:{k}": v for k, v in groups.items()},
    }


def summary(i: int, name: str, version: int | None, changed: bool, groups: int = 0) -> PolicySummary:
    return PolicySummary(i, f"uid{i}", name, "", version, NOW if version else None, groups, changed, NOW)


def test_model_passes_qtmodeltester(qtmodeltester) -> None:
    model = PolicyListModel()
    qtmodeltester.check(model)
    model.set_rows([summary(1, "A", 2, False, 3), summary(2, "B", None, True), summary(3, "C", 1, True)])
    qtmodeltester.check(model)
    assert model.data(model.index(0, COLUMN_INDEX["draft"])) == "Same as v2"
    assert model.data(model.index(1, COLUMN_INDEX["draft"])) == "Not published yet"
    assert model.data(model.index(2, COLUMN_INDEX["draft"])) == "Unpublished changes"
    assert model.data(model.index(1, COLUMN_INDEX["version"])) == "—"
    assert model.data(model.index(0, COLUMN_INDEX["groups"]), SORT_ROLE) == 3
    assert model.data(model.index(2, 0), POLICY_ROLE).id == 3
    model.set_rows([])
    qtmodeltester.check(model)


def test_setting_words() -> None:
    assert setting_label("min_length") == "Minimum length"
    assert setting_label("some_new_key") == "Some new key"
    assert setting_value(True) == "Yes"
    assert setting_value(False) == "No"
    assert setting_value(None) == "—"
    assert setting_value(["a", 1]) == "a, 1"


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext) -> PoliciesPane:
    widget = PoliciesPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    return widget


def activate(qtbot, pane: PoliciesPane) -> None:
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
        pane.activate()


def tree_rows(tree) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        out.append(tuple(item.text(c) for c in range(tree.columnCount())))
    return out


def test_pane_lists_and_shows_detail(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    activate(qtbot, pane)
    assert pane.count_label.text() == "3 policies"
    shown = pane.detail_shown
    assert shown is not None
    assert shown.summary.name == "<b>BYOD</b> minimum"
    assert pane.detail_title.text() == "<b>BYOD</b> minimum"
    assert pane.detail_title.textFormat() == Qt.TextFormat.PlainText
    assert "Not published yet" in pane.detail_status.text()
    assert pane.versions_tree.topLevelItem(0).text(0) == "No published versions yet."

    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
        pane.select_policy(policies["phones"])
    sections = [row[0] for row in tree_rows(pane.settings_tree)]
    assert sections == ["Passcode", "Storage encryption", "Device integrity", "OS updates", "Check-in"]
    passcode = pane.settings_tree.topLevelItem(0)
    assert (passcode.child(0).text(0), passcode.child(0).text(1)) == ("Minimum length", "6")
    assert tree_rows(pane.versions_tree)[0][:3] == ("v1", tree_rows(pane.versions_tree)[0][1], "admin")
    assert tree_rows(pane.assignments_tree)[0][:3] == ("Emergency", "All devices", "v1")
    assert not pane.publish_action.isEnabled()  # draft equals v1
    assert pane.assign_action.isEnabled()


def test_changed_draft_values_are_marked(qtbot, pane: PoliciesPane, policies: dict[str, int]) -> None:
    activate(qtbot, pane)
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
        pane.select_policy(policies["tablets"])
    passcode = pane.settings_tree.topLevelItem(0)
    min_length = next(
        passcode.child(i) for i in range(passcode.childCount()) if passcode.child(i).text(0) == "Minimum length"
    )
    assert min_length.text(1) == "8"
    assert min_length.font(1).bold()
    assert "was: 6" in min_length.toolTip(1)
    required = next(passcode.child(i) for i in range(passcode.childCount()) if passcode.child(i).text(0) == "Required")
    assert not required.font(1).bold()
    # Showing version 1 shows what was published.
    pane.settings_combo.setCurrentIndex(1)
    passcode = pane.settings_tree.topLevelItem(0)
    assert any(passcode.child(i).text(1) == "6" for i in range(passcode.childCount()))
    assert pane.publish_action.isEnabled()


def test_new_policy_dialog_creates_and_selects(
    qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext
) -> None:
    activate(qtbot, pane)
    dialog = pane.new_policy()
    assert isinstance(dialog, NewPolicyDialog)
    assert not dialog.ok_button.isEnabled()  # no name yet
    assert dialog.settings_tree.topLevelItemCount() == 5
    dialog.name_edit.setText("Ward phones")
    dialog.description_edit.setPlainText("Shared phones")
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000) as blocker:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    detail = blocker.args[0]
    assert detail.summary.name == "Ward phones"
    assert detail.draft_settings == clinic_baseline_settings()
    assert pane.selected_policy() is not None
    assert pane.selected_policy().name == "Ward phones"
    assert pane.count_label.text() == "4 policies"
    assert audit_count(sqlite_ctx, action="policies.create", outcome="success") == 1


@pytest.mark.parametrize(("name", "words"), [("clinical PHONES", "already exists"), ("   ", "Enter a name")])
def test_new_policy_errors_stay_in_the_dialog(
    qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext, name: str, words: str
) -> None:
    activate(qtbot, pane)
    dialog = pane.new_policy()
    assert dialog is not None
    dialog.name_edit.setText(name)
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=10_000)
    assert words in dialog.error_label.text()
    assert dialog.isVisible()
    assert table_count(sqlite_ctx, Policy) == 3
    assert pane.ctx.errors.errors == []  # type: ignore[attr-defined]


def test_publish_from_the_pane(qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext) -> None:
    activate(qtbot, pane)
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
        pane.select_policy(policies["tablets"])
    dialog = pane.publish_selected()
    assert isinstance(dialog, PublishDialog)
    assert dialog.ok_button.text() == "Publish version 2"
    dialog.notes_edit.setPlainText("Longer passcodes at the front desk")
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000) as blocker:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    detail = blocker.args[0]
    assert [v.version for v in detail.versions] == [2, 1]
    assert detail.versions[0].notes == "Longer passcodes at the front desk"
    assert not detail.summary.draft_changed
    assert not pane.publish_action.isEnabled()
    assert audit_count(sqlite_ctx, action="policies.publish", outcome="success") == 1


def test_assign_from_the_pane(qtbot, pane: PoliciesPane, policies: dict[str, int], sqlite_ctx: AppContext) -> None:
    activate(qtbot, pane)
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000):
        pane.select_policy(policies["phones"])
    dialog = pane.assign_selected()
    assert isinstance(dialog, AssignDialog)
    qtbot.waitUntil(lambda: dialog.group_combo.isEnabled(), timeout=10_000)
    dialog.group_combo.setCurrentIndex(dialog.group_combo.findData(policies["group:Front desk"]))
    dialog.ownership_combo.setCurrentIndex(dialog.ownership_combo.findData(Ownership.BYOD.value))
    with qtbot.waitSignal(pane.detail_loaded, timeout=10_000) as blocker:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    detail = blocker.args[0]
    assert {(a.group_name, a.ownership) for a in detail.assignments} == {
        ("Emergency", None),
        ("Front desk", Ownership.BYOD),
    }
    assert tree_rows(pane.assignments_tree)[1][:3] == ("Front desk", "BYOD devices only", "v1")
    assert table_count(sqlite_ctx, PolicyAssignment) == 2

    # The same assignment again is refused inline; nothing is written.
    dialog = pane.assign_selected()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.group_combo.isEnabled(), timeout=10_000)
    dialog.group_combo.setCurrentIndex(dialog.group_combo.findData(policies["group:Emergency"]))
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=10_000)
    assert "already assigned" in dialog.error_label.text()
    assert table_count(sqlite_ctx, PolicyAssignment) == 2
    dialog.reject()


def test_helpdesk_sees_but_cannot_change(
    qtbot, pane_ctx: PaneContext, policies: dict[str, int], sqlite_ctx: AppContext
) -> None:
    session = user_session(sqlite_ctx, "helpdesk1", Role.HELPDESK)
    widget = PoliciesPane(dataclasses.replace(pane_ctx, session=session))
    qtbot.addWidget(widget)
    show_top_level(widget)
    with qtbot.waitSignal(widget.detail_loaded, timeout=10_000):
        widget.activate()
    with qtbot.waitSignal(widget.detail_loaded, timeout=10_000):
        widget.select_policy(policies["tablets"])
    for action, button in (
        (widget.new_action, widget.new_button),
        (widget.publish_action, widget.publish_button),
        (widget.assign_action, widget.assign_button),
    ):
        assert not action.isEnabled()
        assert not button.isEnabled()
        assert "cannot change policies" in button.toolTip()
    assert widget.refresh_action.isEnabled()
    assert widget.new_policy() is None
    assert widget.publish_selected() is None
    assert table_count(sqlite_ctx, PolicyVersion) == 2
    assert audit_count(sqlite_ctx, outcome="denied") == 0


def test_splitter_and_header_state_are_remembered(qtbot, pane_ctx: PaneContext) -> None:
    first = PoliciesPane(pane_ctx)
    qtbot.addWidget(first)
    first.table.horizontalHeader().resizeSection(COLUMN_INDEX["published"], 177)
    first.save_state()
    second = PoliciesPane(pane_ctx)
    qtbot.addWidget(second)
    assert second.table.horizontalHeader().sectionSize(COLUMN_INDEX["published"]) == 177
