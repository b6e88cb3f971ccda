"""Dashboard pane: tiles and charts drawn from the ComplianceSummary; clicks emit the matching DeviceQuery."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from matplotlib.patches import Rectangle, Wedge
from PySide6.QtCore import QPoint, Qt
from sqlalchemy import text, update

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import ComplianceState as CS
from mdm_desktop.domain.devices import Platform as P
from mdm_desktop.gui.charts.base import ChartCanvas
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.dashboard_pane import DashboardPane
from mdm_desktop.services.dto import DeviceQuery
from mdm_desktop.store.schema import AuditEntry
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import DeviceSpec, add_devices

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def devices(sqlite_ctx: AppContext) -> None:
    specs = [
        *(DeviceSpec(f"ios-{i}", P.IOS, "26.1", CS.COMPLIANT, last_checkin_at=NOW) for i in range(12)),
        *(DeviceSpec(f"ios-old-{i}", P.IOS, "18.7", CS.NON_COMPLIANT, last_checkin_at=NOW) for i in range(3)),
        *(
            DeviceSpec(f"and-{i}", P.ANDROID, "15", CS.NON_COMPLIANT, compromised=True, last_checkin_at=NOW)
            for i in range(4)
        ),
        *(DeviceSpec(f"and-new-{i}", P.ANDROID, "16", CS.IN_GRACE, last_checkin_at=NOW) for i in range(2)),
        *(DeviceSpec(f"win-{i}", P.WINDOWS, "10.0.26100.2314", CS.COMPLIANT, last_checkin_at=NOW) for i in range(5)),
        *(DeviceSpec(f"mac-{i}", P.MACOS, "15.1", CS.UNKNOWN, last_checkin_at=None) for i in range(2)),
        DeviceSpec("linux", P.LINUX, "6.8", CS.COMPLIANT, storage_encrypted=False, last_checkin_at=NOW),
    ]
    add_devices(sqlite_ctx, specs, now=NOW)


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext) -> DashboardPane:
    widget = DashboardPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    return widget


def load(qtbot, pane: DashboardPane) -> None:
    with qtbot.waitSignal(pane.summary_loaded, timeout=10_000):
        pane.activate()
    for chart in pane.charts:
        chart.draw()


def click_display_point(qtbot, canvas: ChartCanvas, x: float, y: float) -> None:
    """Click at matplotlib display coordinates (origin bottom left, physical pixels)."""
    ratio = canvas.device_pixel_ratio
    pos = QPoint(round(x / ratio), round((canvas.figure.bbox.height - y) / ratio))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=pos)


def click_bar(qtbot, canvas: ChartCanvas, label: str) -> None:
    bar = next(a for a in canvas.clickable() if a.get_label() == label)
    assert isinstance(bar, Rectangle)
    box = bar.get_window_extent()
    click_display_point(qtbot, canvas, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)


def click_wedge(qtbot, canvas: ChartCanvas, label: str) -> None:
    wedge = next(a for a in canvas.clickable() if a.get_label() == label)
    assert isinstance(wedge, Wedge)
    angle = math.radians((wedge.theta1 + wedge.theta2) / 2)
    radius = wedge.r - (wedge.width or 0) / 2
    x, y = canvas.axes.transData.transform((radius * math.cos(angle), radius * math.sin(angle)))
    click_display_point(qtbot, canvas, x, y)


def test_tiles_show_totals(qtbot, pane: DashboardPane, devices: None) -> None:
    load(qtbot, pane)
    assert pane.total_tile.value_label.text() == "29"
    assert pane.compliant_tile.value_label.text() == "18  (62%)"
    assert pane.noncompliant_tile.value_label.text() == "7  (24%)"
    assert pane.stale_tile.value_label.text().startswith("2 ")
    assert pane.compromised_tile.value_label.text() == "4"
    assert pane.unencrypted_tile.value_label.text() == "1"
    assert pane.updated_label.text().startswith("Updated ")


def test_every_chart_draws_its_elements(qtbot, pane: DashboardPane, devices: None) -> None:
    load(qtbot, pane)
    labels = {chart.title: sorted(a.get_label() for a in chart.clickable()) for chart in pane.charts}
    assert labels["Compliance"] == sorted(s.label for s in CS)
    assert [x for x in labels["Devices by platform"] if not x.startswith("legend:")] == sorted(
        ["iOS", "Android", "Windows", "macOS", "Linux"]
    )
    assert labels["OS versions"] == sorted(
        ["iOS 26", "iOS 18", "Android 16", "Android 15", "Windows 11", "macOS 15", "Linux 6"]
    )
    # Value labels of the compliance bars do not overlap each other.
    renderer = pane.compliance_chart.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in pane.compliance_chart.axes.texts]
    assert len(boxes) == 4
    assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (CS.NON_COMPLIANT, DeviceQuery(compliance=frozenset({CS.NON_COMPLIANT}))),
        (CS.COMPLIANT, DeviceQuery(compliance=frozenset({CS.COMPLIANT}))),
        (CS.UNKNOWN, DeviceQuery(compliance=frozenset({CS.UNKNOWN}))),
    ],
)
def test_click_compliance_bar(qtbot, pane: DashboardPane, devices: None, state: CS, expected: DeviceQuery) -> None:
    load(qtbot, pane)
    with qtbot.waitSignal(pane.devices_requested, timeout=2000) as blocker:
        click_bar(qtbot, pane.compliance_chart, state.label)
    assert blocker.args == [expected]


def test_click_platform_slice_and_legend(qtbot, pane: DashboardPane, devices: None) -> None:
    load(qtbot, pane)
    with qtbot.waitSignal(pane.devices_requested, timeout=2000) as blocker:
        click_wedge(qtbot, pane.platform_chart, "Android")
    assert blocker.args == [DeviceQuery(platforms=frozenset({P.ANDROID}))]
    with qtbot.waitSignal(pane.devices_requested, timeout=2000) as blocker:
        click_wedge(qtbot, pane.platform_chart, "Windows")
    assert blocker.args == [DeviceQuery(platforms=frozenset({P.WINDOWS}))]
    assert pane.platform_chart.query_for_label("legend:macOS") == DeviceQuery(platforms=frozenset({P.MACOS}))


def test_click_os_version_bar(qtbot, pane: DashboardPane, devices: None) -> None:
    load(qtbot, pane)
    with qtbot.waitSignal(pane.devices_requested, timeout=2000) as blocker:
        click_bar(qtbot, pane.os_chart, "Windows 11")
    assert blocker.args == [DeviceQuery(platforms=frozenset({P.WINDOWS}))]


def test_click_on_empty_space_emits_nothing(qtbot, pane: DashboardPane, devices: None) -> None:
    load(qtbot, pane)
    chart = pane.compliance_chart
    with qtbot.assertNotEmitted(pane.devices_requested, wait=100):
        click_display_point(qtbot, chart, chart.figure.bbox.width - 5, chart.figure.bbox.height - 5)


def test_click_tiles(qtbot, pane: DashboardPane, devices: None) -> None:
    load(qtbot, pane)
    with qtbot.waitSignal(pane.devices_requested, timeout=2000) as blocker:
        qtbot.mouseClick(pane.noncompliant_tile, Qt.MouseButton.LeftButton)
    assert blocker.args == [DeviceQuery(compliance=frozenset({CS.NON_COMPLIANT}))]
    with qtbot.waitSignal(pane.devices_requested, timeout=2000) as blocker:
        qtbot.mouseClick(pane.stale_tile, Qt.MouseButton.LeftButton)
    assert blocker.args == [DeviceQuery(stale_days=14)]
    with qtbot.assertNotEmitted(pane.devices_requested, wait=50):
        qtbot.mouseClick(pane.compromised_tile, Qt.MouseButton.LeftButton)


def test_empty_store_draws_placeholders(qtbot, pane: DashboardPane) -> None:
    load(qtbot, pane)
    assert pane.total_tile.value_label.text() == "0"
    for chart in pane.charts:
        assert chart.clickable() == {}
        assert any(t.get_text() == "No devices yet" for t in chart.axes.texts)


def test_refresh_picks_up_new_devices(qtbot, pane: DashboardPane, sqlite_ctx: AppContext) -> None:
    load(qtbot, pane)
    add_devices(sqlite_ctx, [DeviceSpec("new", P.IOS, "26.1")])
    with qtbot.waitSignal(pane.summary_loaded, timeout=10_000):
        qtbot.mouseClick(pane.refresh_button, Qt.MouseButton.LeftButton)
    assert pane.total_tile.value_label.text() == "1"
    assert pane.summary is not None
    assert pane.summary.total_devices == 1


def test_audit_chain_warning_when_the_checkpoint_is_no_longer_extended(
    qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext
) -> None:
    checkpoint = sqlite_ctx.services.audit_chain.make_checkpoint(pane_ctx.session.principal)
    with sqlite_ctx.engine.begin() as conn:  # an older copy restored: the checkpoint's head entry differs
        conn.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_update"))
        conn.execute(update(AuditEntry).where(AuditEntry.seq == checkpoint.head_seq).values(entry_hash="0" * 64))
    widget = DashboardPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    with qtbot.waitSignal(widget.checkpoint_status_loaded, timeout=10_000):
        widget.activate()
    assert widget.chain_banner.isVisible()
    assert widget.chain_banner.text_label.textFormat() == Qt.TextFormat.PlainText
    assert widget.chain_banner.text_label.text().startswith("The audit trail no longer extends the last checkpoint")
    with qtbot.assertNotEmitted(widget.checkpoint_status_loaded, wait=200):  # once per console session
        widget.refresh()
    qtbot.waitUntil(lambda: pane_ctx.runner.pending == 0, timeout=10_000)


def test_no_audit_chain_warning_for_an_intact_chain(qtbot, pane: DashboardPane) -> None:
    with qtbot.waitSignal(pane.checkpoint_status_loaded, timeout=10_000) as loaded:
        pane.activate()
    assert loaded.args[0].extends
    assert not pane.chain_banner.isVisible()
