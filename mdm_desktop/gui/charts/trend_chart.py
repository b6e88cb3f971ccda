"""Compliance over time (daily snapshots, stacked by state) and devices failing each rule now."""

from __future__ import annotations

import datetime as dt

from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.ticker import MaxNLocator

from mdm_desktop.domain.devices import ComplianceState
from mdm_desktop.gui.charts.base import FONT_SIZE, TEXT, ChartCanvas
from mdm_desktop.gui.charts.palette import COMPLIANCE_COLORS
from mdm_desktop.services.compliance_dto import ComplianceTrend
from mdm_desktop.services.dto import ComplianceSummary, DeviceQuery

RULE_BARS = 10
"""Rules shown in the failing-by-rule chart (the most failing ones)."""


class _TrendCanvas(ChartCanvas):
    """A chart drawn from a :class:`ComplianceTrend` rather than the summary."""

    def __init__(self) -> None:
        super().__init__()
        self.trend: ComplianceTrend | None = None

    def draw_chart(self, summary: ComplianceSummary) -> None:
        """Not drawn from the summary (see :meth:`set_trend`)."""

    def set_trend(self, trend: ComplianceTrend) -> None:
        """Redraw from ``trend``."""
        self.trend = trend
        self._reset_axes()
        self.draw_trend(trend)
        self.draw_idle()  # type: ignore[no-untyped-call]

    def draw_trend(self, trend: ComplianceTrend) -> None:
        """Draw ``trend`` on :attr:`axes`."""
        raise NotImplementedError


class ComplianceTrendChart(_TrendCanvas):
    """Devices per compliance state per day, stacked areas, compliant at the bottom."""

    title = "Compliance trend"

    def __init__(self) -> None:
        super().__init__()
        self.days_shown = 30

    def draw_trend(self, trend: ComplianceTrend) -> None:
        self.set_title(self.title)  # the period shows in the choice at the chart's top right
        if not trend.days:
            # On two lines: the dashboard's trend panel is narrow, one line was cut on both sides.
            self.draw_no_data("No daily snapshots yet.\nThe gateway takes one each day.")
            return
        ax = self.axes
        days = [float(date2num(dt.datetime.combine(p.day, dt.time()))) for p in trend.days]  # type: ignore[no-untyped-call]
        states = list(ComplianceState)
        series = [[dict(p.counts).get(s, 0) for p in trend.days] for s in states]
        if len(days) == 1:  # one day: a stacked bar reads better than a zero-width area
            bottom = 0
            for state, values in zip(states, series, strict=True):
                ax.bar(days, values, bottom=bottom, color=COMPLIANCE_COLORS[state], width=0.6, label=state.label)
                bottom += values[0]
        else:
            ax.stackplot(
                days,
                series,
                colors=[COMPLIANCE_COLORS[s] for s in states],
                labels=[s.label for s in states],
                alpha=0.9,
                linewidth=0,
            )
            ax.set_xlim(days[0], days[-1])
        self.style_axes(grid_axis="y")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=2, maxticks=4))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
        top = max((sum(col) for col in zip(*series, strict=True)), default=0)
        ax.set_ylim(0, max(1, top) * 1.32)  # room for the legend above the areas
        ax.legend(loc="upper left", fontsize=FONT_SIZE - 1.5, frameon=False, ncols=2, handlelength=1.0)


class RuleFailuresChart(_TrendCanvas):
    """Devices failing each rule now (the most failing first); click a bar to list non-compliant devices."""

    title = "Failing by rule"

    def draw_trend(self, trend: ComplianceTrend) -> None:
        self.set_title(self.title)
        rules = [r for r in trend.failing_by_rule if r.failing][:RULE_BARS]
        if not rules:
            self.draw_no_data("No rule is failing")
            return
        ax = self.axes
        positions = list(range(len(rules)))
        color = COMPLIANCE_COLORS[ComplianceState.NON_COMPLIANT]
        bars = ax.barh(positions, [r.failing for r in rules], color=color, height=0.62)
        ax.set_yticks(positions, [_short(r.label) for r in rules], fontsize=FONT_SIZE - 0.5)
        ax.invert_yaxis()
        self.style_axes(grid_axis="x")
        top = max(r.failing for r in rules)
        # Each bar carries its count, so the x axis needs no ticks (they overlapped in the narrow panel);
        # the right margin leaves room for the counts and "+N exempt".
        ax.set_xlim(0, max(1, top) * (1.9 if any(r.exempt for r in rules) else 1.3))
        ax.set_xticks([])
        query = DeviceQuery(compliance=frozenset({ComplianceState.NON_COMPLIANT, ComplianceState.IN_GRACE}))
        for bar, rule in zip(bars, rules, strict=True):
            self.register(bar, query, rule.label)
            extra = f" +{rule.exempt:,} exempt" if rule.exempt else ""
            ax.annotate(
                f"{rule.failing:,}{extra}",
                xy=(bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=FONT_SIZE,
                color=TEXT,
            )
        ax.set_xlabel("Devices failing", fontsize=FONT_SIZE, color=TEXT)


def _short(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
