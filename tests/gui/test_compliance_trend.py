"""Dashboard trend and failing-by-rule charts, and the per-rule outcomes in the device detail."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import ComplianceState as CS
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.dashboard_pane import DashboardPane
from mdm_desktop.gui.panes.devices_pane import DeviceDetailPanel
from mdm_desktop.gui.widgets.rule_outcomes import RuleOutcomeList
from mdm_desktop.services.dto import DeviceQuery, SessionInfo
from mdm_desktop.store.schema import ComplianceSnapshot
from tests.gui.fleet import Fleet
from tests.gui.helpers import show_top_level

SHOTS = Path(os.environ.get("MDM_SHOTS", "/tmp/shots"))
POLICY = {
    "passcode": {"required": True},
    "encryption": {"required": True},
    "device_health": {"min_os_version": {"ios": "18.0", "android": "15"}, "max_patch_age_days": 90},
    "apps": {"required": ["com.medchart.ehr.mobile"], "blocked": ["com.whatsapp"]},
}


def _policy_everywhere(ctx: AppContext, admin: SessionInfo) -> None:
    policies = ctx.services.policies
    created = policies.create_policy(admin.principal, "Clinic phones", settings=POLICY)
    version = policies.publish(admin.principal, created.id)
    for group in ctx.services.devices.groups(admin.principal):
        policies.assign(admin.principal, version.id, group.id)


def _history(ctx: AppContext, days: int = 90) -> None:
    """Daily snapshots drifting towards today's counts (tests may write the store directly)."""
    rng = random.Random(5)
    today = dt.datetime.now(dt.UTC).date()
    rows = []
    compliant, non, grace, unknown = 260.0, 150.0, 20.0, 20.0
    for back in range(days, 0, -1):
        compliant += rng.uniform(-1, 2.2)
        non -= rng.uniform(-0.6, 1.6)
        grace = max(0.0, grace + rng.uniform(-2, 2))
        for state, n in (
            (CS.COMPLIANT, compliant),
            (CS.NON_COMPLIANT, non),
            (CS.IN_GRACE, grace),
            (CS.UNKNOWN, unknown),
        ):
            rows.append(
                ComplianceSnapshot(
                    day=today - dt.timedelta(days=back), state=state.value, platform="ios", devices=int(n)
                )
            )
    with ctx.uow(write=True) as uow:
        uow.session.add_all(rows)
        uow.commit()


@pytest.fixture
def evaluated(sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo) -> AppContext:
    _policy_everywhere(sqlite_ctx, admin_session)
    _history(sqlite_ctx)
    sqlite_ctx.services.compliance_engine.snapshot()
    return sqlite_ctx


def test_dashboard_shows_trend_and_failing_rules(qtbot, evaluated: AppContext, pane_ctx: PaneContext) -> None:
    pane = DashboardPane(pane_ctx)
    qtbot.addWidget(pane)
    show_top_level(pane)
    with qtbot.waitSignal(pane.trends.loaded, timeout=15_000):
        pane.activate()
    qtbot.waitUntil(lambda: pane.summary is not None, timeout=15_000)
    trend = pane.trends.trend
    assert trend is not None
    assert len(trend.days) == 30  # today and the 29 days before
    assert trend.failing_by_rule
    rules = pane.trends.rules_chart.clickable()
    assert len(rules) == min(10, sum(1 for r in trend.failing_by_rule if r.failing))
    with qtbot.waitSignal(pane.devices_requested) as seen:
        pane.trends.rules_chart.query_picked.emit(next(iter(rules.values())))
    assert isinstance(seen.args[0], DeviceQuery)
    assert CS.NON_COMPLIANT in seen.args[0].compliance
    with qtbot.waitSignal(pane.trends.loaded, timeout=15_000):
        pane.trends.period.setCurrentIndex(1)
    assert pane.trends.days() == 90
    assert pane.trends.trend is not None
    assert len(pane.trends.trend.days) == 90
    for chart in (*pane.charts, pane.trends.trend_chart, pane.trends.rules_chart):
        chart.draw()
    SHOTS.mkdir(parents=True, exist_ok=True)
    pane.grab().save(str(SHOTS / "h-engine-dashboard.png"))
    assert not pane_ctx.errors.errors  # type: ignore[attr-defined]


def test_empty_trend_says_so(qtbot, sqlite_ctx: AppContext, pane_ctx: PaneContext) -> None:
    pane = DashboardPane(pane_ctx)
    qtbot.addWidget(pane)
    show_top_level(pane)
    with qtbot.waitSignal(pane.trends.loaded, timeout=15_000):
        pane.activate()
    texts = [t.get_text() for t in pane.trends.trend_chart.axes.texts]
    assert any("No daily snapshots yet" in t for t in texts)
    assert any("No rule is failing" in t.get_text() for t in pane.trends.rules_chart.axes.texts)


def test_device_detail_lists_each_rule(qtbot, evaluated: AppContext, admin_session: SessionInfo) -> None:
    devices = evaluated.services.devices
    page = devices.list_page(admin_session.principal, DeviceQuery(compliance=frozenset({CS.NON_COMPLIANT})))
    detail = devices.detail(admin_session.principal, page.rows[0].id)
    assert detail.compliance_rules
    assert {r.status for r in detail.compliance_rules} & {"failing"}
    panel = DeviceDetailPanel(True)
    qtbot.addWidget(panel)
    show_top_level(panel, 700, 900)
    panel.show_detail(detail)
    panel.tabs.setCurrentIndex(2)
    found = panel.findChildren(RuleOutcomeList)
    assert len(found) == 1
    rows = found[0].rows
    assert len(rows) == len(detail.compliance_rules)
    assert rows[0][0].startswith("Failing")  # failing rules first
    reasons = [w.text() for w in found[0].findChildren(QLabel) if w.objectName() == "ruleReason"]
    assert any("policy" in r or "installed" in r for r in reasons)
    panel.grab().save(str(SHOTS / "h-engine-device-rules.png"))


def test_assign_dialog_shows_reevaluation_progress(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, pane_ctx: PaneContext
) -> None:
    from mdm_desktop.gui.panes.policies_pane import AssignDialog

    policies = sqlite_ctx.services.policies
    created = policies.create_policy(admin_session.principal, "Ward phones", settings=POLICY)
    policies.publish(admin_session.principal, created.id)
    detail = policies.policy_detail(admin_session.principal, created.id)
    dialog = AssignDialog(pane_ctx, detail)
    qtbot.addWidget(dialog)
    assert dialog.progress.bar.isHidden()
    with qtbot.waitSignal(dialog.groups_loaded, timeout=10_000):
        pass
    with qtbot.waitSignal(dialog.succeeded, timeout=20_000):
        dialog.ok_button.click()
    bar = dialog.progress.bar
    assert not bar.isHidden()
    assert bar.value() == bar.maximum() > 0  # every device of the group was evaluated
    dialog.show()
    dialog.grab().save(str(SHOTS / "h-engine-assign-progress.png"))
    engine = sqlite_ctx.services.compliance_engine
    trend = engine.trend(admin_session.principal)
    assert trend.failing_by_rule  # the assignment stored the group's failing rules
