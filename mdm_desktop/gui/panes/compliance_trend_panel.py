"""Dashboard additions of the compliance engine: the trend chart (30 or 90 days) and failures by rule."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QComboBox, QFrame, QVBoxLayout, QWidget

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.gui.charts.trend_chart import ComplianceTrendChart, RuleFailuresChart
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.compliance_dto import ComplianceTrend

PERIODS = ((30, "Last 30 days"), (90, "Last 90 days"))
CORNER_MARGIN = 4


class TrendCharts(QObject):
    """Loads the trend off the GUI thread and draws both charts; each sits in its own framed panel.

    Signals:
        loaded(object): the :class:`ComplianceTrend` arrived and the charts show it.
    """

    loaded = Signal(object)

    def __init__(self, ctx: PaneContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.trend_chart = ComplianceTrendChart()
        self.rules_chart = RuleFailuresChart()
        self.period = QComboBox()
        self.period.setAccessibleName("Trend period")
        for days, text in PERIODS:
            self.period.addItem(text, days)
        self.period.currentIndexChanged.connect(lambda _i: self.load())
        self._task: Task | None = None
        self.trend: ComplianceTrend | None = None

    def trend_panel(self) -> QFrame:
        """The trend chart with its period choice in its top right corner, level with the chart's title."""
        frame = QFrame()
        frame.setObjectName("detailPanel")
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(6, 6, 6, 6)
        inner.addWidget(self.trend_chart, 1)
        self.period.setParent(self.trend_chart)
        self._corner = _TopRightCorner(self.period, self.trend_chart)
        return frame

    def rules_panel(self) -> QFrame:
        """The failing-by-rule chart, framed."""
        frame = QFrame()
        frame.setObjectName("detailPanel")
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(6, 6, 6, 6)
        inner.addWidget(self.rules_chart)
        return frame

    def days(self) -> int:
        """The period chosen, in days."""
        return int(self.period.currentData() or 30)

    def load(self) -> None:
        """Fetch the trend for the chosen period (needs reports or devices read access)."""
        principal = self.ctx.session.principal
        if not (principal.can(Permission.REPORTS_READ) or principal.can(Permission.DEVICES_READ)):
            return
        if self._task is not None:
            self._task.cancel()
        engine, days = self.ctx.services.compliance_engine, self.days()
        self._task = self.ctx.runner.submit(
            lambda: engine.trend(principal, days), on_done=self._show, on_error=self._failed
        )

    def _show(self, trend: ComplianceTrend) -> None:
        self._task = None
        self.trend = trend
        self.trend_chart.days_shown = self.days()
        self.trend_chart.set_trend(trend)
        self.rules_chart.set_trend(trend)
        self.loaded.emit(trend)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.ctx.errors.report(exc)


class _TopRightCorner(QObject):
    """Keeps ``widget`` (a child of ``host``) in the host's top right corner as the host resizes."""

    def __init__(self, widget: QWidget, host: QWidget) -> None:
        super().__init__(host)
        self.widget = widget
        self.host = host
        host.installEventFilter(self)
        self.place()

    def place(self) -> None:
        """Move the widget to the corner, at its preferred size, above the host's drawing."""
        hint = self.widget.sizeHint()
        self.widget.resize(hint)
        self.widget.move(max(0, self.host.width() - hint.width() - CORNER_MARGIN), CORNER_MARGIN)
        self.widget.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.host and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.place()
        return False
