"""The Dashboard pane: fleet totals as tiles and three charts drawn from one ComplianceSummary.

Clicking a bar, a slice or a tile that stands for a set of devices emits
:attr:`DashboardPane.devices_requested` with the matching :class:`DeviceQuery`;
the main window opens the Devices pane filtered by it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.devices import ComplianceState
from mdm_desktop.gui.charts.base import ChartCanvas
from mdm_desktop.gui.charts.compliance_chart import ComplianceChart
from mdm_desktop.gui.charts.os_versions_chart import OsVersionsChart
from mdm_desktop.gui.charts.palette import COMPLIANCE_COLORS
from mdm_desktop.gui.charts.platform_chart import PlatformChart
from mdm_desktop.gui.panes.audit_chain_widgets import ChainWarningBanner
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.compliance_report_button import ComplianceReportButton
from mdm_desktop.gui.panes.compliance_trend_panel import TrendCharts
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.dto import BreakGlassUseInfo, CheckpointStatus, ComplianceSummary, DeviceQuery

_TILE_STYLE = """
QFrame#summaryTile { background: #ffffff; border: 1px solid #d3d9e1; border-radius: 6px; }
QFrame#summaryTile[clickable="true"]:hover { border-color: #4a8bc0; background: #f5f9fc; }
QLabel#tileValue { font-size: 20pt; font-weight: bold; border: none; background: transparent; }
QLabel#tileCaption { color: #5b6878; border: none; background: transparent; }
"""

_BANNER_STYLE = """
QFrame#breakGlassBanner { background: #fff4e0; border: 1px solid #e0a040; border-radius: 6px; }
QFrame#breakGlassBanner QLabel { background: transparent; border: none; color: #5a3a00; }
"""


class BreakGlassBanner(QFrame):
    """A warning that emergency sign-ins wait for review, with a Review link; hidden when none wait.

    Signals:
        review_requested: the Review link was clicked.
    """

    review_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("breakGlassBanner")
        self.setStyleSheet(_BANNER_STYLE)
        picture = QLabel()
        picture.setPixmap(icon("warning").pixmap(20, 20))
        self.text_label = QLabel("")
        self.text_label.setObjectName("breakGlassText")
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.text_label.setWordWrap(True)
        self.link = QLabel('<a href="review">Review…</a>')
        self.link.setObjectName("breakGlassReviewLink")
        self.link.setTextFormat(Qt.TextFormat.RichText)
        self.link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.link.setToolTip("Open the emergency sign-in review on the Security page")
        self.link.linkActivated.connect(lambda _href: self.review_requested.emit())
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 8, 12, 8)
        row.setSpacing(10)
        row.addWidget(picture)
        row.addWidget(self.text_label, 1)
        row.addWidget(self.link)
        self.setVisible(False)

    def show_uses(self, uses: tuple[BreakGlassUseInfo, ...]) -> None:
        """Show the banner for ``uses`` not yet reviewed (hide it when there are none)."""
        waiting = [u for u in uses if not u.reviewed]
        if not waiting:
            self.text_label.setText("")
            self.setVisible(False)
            return
        latest = max(waiting, key=lambda u: u.used_at)
        when = latest.used_at.astimezone().strftime("%Y-%m-%d %H:%M")
        count = "1 emergency (break-glass) sign-in" if len(waiting) == 1 else f"{len(waiting)} emergency sign-ins"
        self.text_label.setText(
            f"{count} not reviewed yet; the latest by {latest.used_by} on {when}. "
            "A security officer should check who used the emergency code and why."
        )
        self.setVisible(True)


class SummaryTile(QFrame):
    """A number with a caption; clickable when it stands for a device list.

    Signals:
        clicked(object): carries the tile's :class:`DeviceQuery`.
    """

    clicked = Signal(object)

    def __init__(self, caption: str, query: DeviceQuery | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summaryTile")
        self.setStyleSheet(_TILE_STYLE)
        self.query = query
        self.setProperty("clickable", query is not None)
        self.value_label = QLabel("–")
        self.value_label.setObjectName("tileValue")
        self.value_label.setTextFormat(Qt.TextFormat.PlainText)
        self.caption_label = QLabel(caption)
        self.caption_label.setObjectName("tileCaption")
        self.caption_label.setTextFormat(Qt.TextFormat.PlainText)
        self.caption_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.value_label)
        layout.addWidget(self.caption_label)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        if query is not None:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
            self.setToolTip(f"Show these devices: {caption.lower()}")

    def set_value(self, text: str, color: str | None = None) -> None:
        """Show ``text`` as the tile's number."""
        self.value_label.setText(text)
        self.value_label.setStyleSheet(f"color: {color};" if color else "")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.query is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.query)
            event.accept()
            return
        super().mouseReleaseEvent(event)


class DashboardPane(Pane):
    """Dashboard: compliance charts and summary tiles.

    Signals:
        devices_requested: carries a :class:`mdm_desktop.services.dto.DeviceQuery` when a chart element is clicked.
    """

    title = "Dashboard"
    object_key = "dashboard"

    devices_requested = Signal(object)
    summary_loaded = Signal(object)
    """Emitted with the :class:`ComplianceSummary` after the pane has drawn it."""
    break_glass_loaded = Signal(int)
    """Emitted with the number of unreviewed emergency sign-ins after the banner was updated."""
    review_requested = Signal()
    """The banner's Review link was clicked (the main window opens the Security page)."""
    checkpoint_status_loaded = Signal(object)
    """The audit chain's :class:`CheckpointStatus` arrived and :attr:`chain_banner` shows it."""

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.summary: ComplianceSummary | None = None
        self._task: Task | None = None
        self._banner_task: Task | None = None
        self.banner = BreakGlassBanner()
        self.banner.review_requested.connect(self.review_requested)
        self.chain_banner = ChainWarningBanner()
        self._chain_checked = False

        heading = QLabel(self.title)
        heading.setObjectName("paneTitle")
        self.updated_label = QLabel("")
        self.updated_label.setObjectName("mutedText")
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.setToolTip("Count the devices again")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.updated_label)
        top.addStretch(1)
        self.report_button = ComplianceReportButton(self.ctx)
        self.report_status = QLabel("")
        self.report_status.setObjectName("mutedText")
        self.report_status.setTextFormat(Qt.TextFormat.PlainText)
        self.report_button.status.connect(self.report_status.setText)
        top.addWidget(self.report_status)
        top.addWidget(self.report_button)
        top.addWidget(self.refresh_button)

        self.total_tile = SummaryTile("Managed devices", DeviceQuery())
        self.compliant_tile = SummaryTile("Compliant", DeviceQuery(compliance=frozenset({ComplianceState.COMPLIANT})))
        self.noncompliant_tile = SummaryTile(
            "Non-compliant", DeviceQuery(compliance=frozenset({ComplianceState.NON_COMPLIANT}))
        )
        self.stale_tile = SummaryTile("No check-in for 14 days", DeviceQuery(stale_days=14))
        self.compromised_tile = SummaryTile("Jailbroken or rooted")
        self.unencrypted_tile = SummaryTile("Storage not encrypted")
        from mdm_desktop.gui.panes.exception_tile import ExceptionsTile  # issue 7 (imports this module)

        self.exceptions_tile = ExceptionsTile(self.ctx)
        self.tiles = (
            self.total_tile,
            self.compliant_tile,
            self.noncompliant_tile,
            self.stale_tile,
            self.compromised_tile,
            self.unencrypted_tile,
            self.exceptions_tile,
        )
        tiles_row = QHBoxLayout()
        tiles_row.setSpacing(10)
        for tile in self.tiles:
            tile.clicked.connect(self.devices_requested)
            tiles_row.addWidget(tile)

        self.compliance_chart = ComplianceChart()
        self.platform_chart = PlatformChart()
        self.os_chart = OsVersionsChart()
        self.charts: tuple[ChartCanvas, ...] = (self.compliance_chart, self.platform_chart, self.os_chart)
        grid = QGridLayout()
        grid.setSpacing(10)
        self.trends = TrendCharts(self.ctx, self)  # issue 7: compliance over time and failures by rule
        self.trends.rules_chart.query_picked.connect(self.devices_requested)
        grid.addWidget(self._framed(self.compliance_chart), 0, 0)
        grid.addWidget(self._framed(self.platform_chart), 0, 1)
        grid.addWidget(self.trends.trend_panel(), 0, 2)
        grid.addWidget(self._framed(self.os_chart), 1, 0, 1, 2)
        grid.addWidget(self.trends.rules_panel(), 1, 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        for chart in self.charts:
            chart.query_picked.connect(self.devices_requested)

        hint = QLabel("Click a bar, a slice or a tile to open the matching devices.")
        hint.setObjectName("mutedText")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.chain_banner)
        layout.addLayout(tiles_row)
        layout.addLayout(grid, 1)
        layout.addWidget(hint)

    @staticmethod
    def _framed(chart: ChartCanvas) -> QFrame:
        frame = QFrame()
        frame.setObjectName("detailPanel")
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(6, 6, 6, 6)
        inner.addWidget(chart)
        return frame

    # ---- loading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Count the fleet again (off the GUI thread)."""
        if self._task is not None:
            self._task.cancel()
        compliance, principal = self.ctx.services.compliance, self.ctx.session.principal
        self.refresh_button.setEnabled(False)
        self.updated_label.setText("Counting devices…")
        self._task = self.ctx.runner.submit(
            lambda: compliance.summary(principal), on_done=self._show, on_error=self._failed
        )
        self.refresh_banner()
        self.check_audit_chain()
        self.exceptions_tile.load()
        self.trends.load()

    def check_audit_chain(self) -> None:
        """Once per console session: warn when the audit chain no longer extends this workstation's checkpoint."""
        principal = self.ctx.session.principal
        if self._chain_checked or not principal.can(Permission.AUDIT_READ):
            return
        self._chain_checked = True
        chain = self.ctx.services.audit_chain
        self.ctx.runner.submit(
            lambda: chain.checkpoint_status(principal),
            on_done=self._chain_status_arrived,
            on_error=self.ctx.errors.report,
        )

    def _chain_status_arrived(self, status: CheckpointStatus) -> None:
        self.chain_banner.show_problem(None if status.extends else status.problem)
        self.checkpoint_status_loaded.emit(status)

    def refresh_banner(self) -> None:
        """Look for unreviewed emergency sign-ins (for users who may read the audit trail)."""
        principal = self.ctx.session.principal
        if not principal.can(Permission.AUDIT_READ):
            return
        if self._banner_task is not None:
            self._banner_task.cancel()
        auth = self.ctx.services.auth
        self._banner_task = self.ctx.runner.submit(
            lambda: auth.list_break_glass(principal, unreviewed_only=True),
            on_done=self._banner_arrived,
            on_error=self._banner_failed,
        )

    def _banner_arrived(self, uses: tuple[BreakGlassUseInfo, ...]) -> None:
        self._banner_task = None
        self.banner.show_uses(uses)
        self.break_glass_loaded.emit(sum(1 for u in uses if not u.reviewed))

    def _banner_failed(self, exc: BaseException) -> None:
        self._banner_task = None
        self.ctx.errors.report(exc)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.refresh_button.setEnabled(True)
        self.updated_label.setText("Could not count the devices.")
        self.ctx.errors.report(exc)

    def _show(self, summary: ComplianceSummary) -> None:
        self._task = None
        self.summary = summary
        self.refresh_button.setEnabled(True)
        self.updated_label.setText(f"Updated {summary.generated_at.astimezone().strftime('%Y-%m-%d %H:%M')}")
        total = summary.total_devices

        def share(n: int) -> str:
            return f"{n:,}  ({n / total:.0%})" if total else f"{n:,}"

        compliant = summary.count_for_state(ComplianceState.COMPLIANT)
        noncompliant = summary.count_for_state(ComplianceState.NON_COMPLIANT)
        self.total_tile.set_value(f"{total:,}")
        self.compliant_tile.set_value(share(compliant), COMPLIANCE_COLORS[ComplianceState.COMPLIANT])
        self.noncompliant_tile.set_value(
            share(noncompliant), COMPLIANCE_COLORS[ComplianceState.NON_COMPLIANT] if noncompliant else None
        )
        self.stale_tile.caption_label.setText(f"No check-in for {summary.stale_days} days")
        self.stale_tile.set_value(share(summary.stale_devices))
        self.compromised_tile.set_value(f"{summary.compromised:,}", "#b3261e" if summary.compromised else None)
        self.unencrypted_tile.set_value(f"{summary.unencrypted:,}", "#b3261e" if summary.unencrypted else None)
        for chart in self.charts:
            chart.set_summary(summary)
        self.summary_loaded.emit(summary)
