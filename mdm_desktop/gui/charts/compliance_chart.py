"""Devices by compliance state: horizontal bars; click a bar to list those devices."""

from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from mdm_desktop.gui.charts.base import FONT_SIZE, TEXT, ChartCanvas
from mdm_desktop.gui.charts.palette import COMPLIANCE_COLORS
from mdm_desktop.services.dto import ComplianceSummary, DeviceQuery


class ComplianceChart(ChartCanvas):
    """One bar per compliance state (zeros included, so the picture keeps its shape)."""

    title = "Compliance"

    def draw_chart(self, summary: ComplianceSummary) -> None:
        self.set_title(self.title)
        if summary.total_devices == 0:
            self.draw_no_data("No devices yet")
            return
        ax = self.axes
        states = [s for s, _ in summary.by_state]
        counts = [n for _, n in summary.by_state]
        labels = [s.label for s in states]
        positions = list(range(len(states)))
        bars = ax.barh(positions, counts, color=[COMPLIANCE_COLORS[s] for s in states], height=0.62)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        self.style_axes(grid_axis="x")
        top = max(counts) if counts else 0
        ax.set_xlim(0, max(1, top) * 1.28)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))  # at 1400 px wide more ticks overlap
        total = summary.total_devices
        for bar, state, n in zip(bars, states, counts, strict=True):
            self.register(bar, DeviceQuery(compliance=frozenset({state})), state.label)
            share = f" ({n / total:.0%})" if total else ""
            ax.annotate(
                f"{n:,}{share}",
                xy=(bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=FONT_SIZE,
                color=TEXT,
            )
        ax.set_xlabel("Devices", fontsize=FONT_SIZE, color=TEXT)
