"""Fit and safety fixes found rendering the demo: policies' "More" menu, plain-text rule outcomes, trend panel."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel, QToolButton

from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.compliance_trend_panel import TrendCharts
from mdm_desktop.gui.panes.policies_pane import PoliciesPane
from mdm_desktop.gui.widgets.rule_outcomes import RuleOutcomeList
from mdm_desktop.services.compliance_dto import RuleOutcomeInfo
from tests.gui.helpers import show_top_level

HOSTILE = "<b>bold</b><img src='x'><a href='http://evil.example'>click</a>"


def test_policies_pane_keeps_its_actions_in_a_more_menu(qtbot, pane_ctx: PaneContext) -> None:
    pane = PoliciesPane(pane_ctx)
    qtbot.addWidget(pane)
    show_top_level(pane, 1200, 800)
    menu = pane.more_menu.actions()
    assert menu == [pane.compare_action, pane.effective_action, pane.import_action, pane.export_action]
    assert pane.more_button.menu() is pane.more_menu
    assert pane.more_button.popupMode() is QToolButton.ToolButtonPopupMode.InstantPopup
    shortcuts = {a.text(): a.shortcut().toString() for a in menu}
    assert shortcuts == {
        "Compare…": "Ctrl+Shift+D",
        "Effective settings…": "Ctrl+Shift+F",
        "Import…": "Ctrl+Shift+I",
        "Export…": "Ctrl+Shift+E",
    }
    for action in menu:  # shortcuts still work without opening the menu
        assert action in pane.actions()
        assert action.shortcutContext() is Qt.ShortcutContext.WidgetWithChildrenShortcut
    assert pane.new_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert pane.minimumSizeHint().width() < 1400 - 160  # room for the navigation list


def test_rule_outcomes_never_render_device_text_as_html(qtbot) -> None:
    rule = RuleOutcomeInfo(
        rule_id="apps.blocked:com.x<b>",
        label=f"Blocked app {HOSTILE}",
        status="failing",
        detail=f"Device reports {HOSTILE}.",
        failing_since=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        in_grace=False,
        citations=(HOSTILE,),
    )
    widget = RuleOutcomeList([rule])
    qtbot.addWidget(widget)
    labels = widget.findChildren(QLabel)
    assert len(labels) == 4  # title, status, label, reason
    for label in labels:
        assert label.textFormat() is Qt.TextFormat.PlainText
    texts = [label.text() for label in labels]
    assert any(HOSTILE in t for t in texts if t.startswith("Device reports"))
    tip = next(label.toolTip() for label in labels if label.objectName() == "ruleLabel")
    assert "<b>bold</b>" not in tip
    assert "&lt;b&gt;bold&lt;/b&gt;" in tip


def test_trend_period_sits_in_the_charts_corner(qtbot, pane_ctx: PaneContext) -> None:
    charts = TrendCharts(pane_ctx)
    frame = charts.trend_panel()
    qtbot.addWidget(frame)
    show_top_level(frame, 420, 300)
    assert charts.period.parent() is charts.trend_chart
    chart = charts.trend_chart
    geometry = charts.period.geometry()
    assert geometry.top() < 12
    assert chart.width() - 12 < geometry.right() < chart.width()
    frame.resize(600, 300)
    qtbot.waitUntil(lambda: chart.width() - 12 < charts.period.geometry().right() < chart.width(), timeout=2000)
