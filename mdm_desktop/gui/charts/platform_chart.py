"""Devices by platform: a donut with a legend; click a slice (or its legend entry) to list those devices."""

from __future__ import annotations

from mdm_desktop.gui.charts.base import FONT_SIZE, MUTED, TEXT, ChartCanvas
from mdm_desktop.gui.charts.palette import PLATFORM_COLORS
from mdm_desktop.services.dto import ComplianceSummary, DeviceQuery


class PlatformChart(ChartCanvas):
    """One slice per platform that has devices; counts and shares in the legend (no labels to overlap)."""

    title = "Devices by platform"

    def draw_chart(self, summary: ComplianceSummary) -> None:
        self.set_title(self.title)
        present = [(p, n) for p, n in summary.by_platform if n > 0]
        if not present:
            self.draw_no_data("No devices yet")
            return
        ax = self.axes
        total = sum(n for _, n in present)
        wedges, _ = ax.pie(
            [n for _, n in present],
            colors=[PLATFORM_COLORS[p] for p, _ in present],
            startangle=90,
            counterclock=False,
            wedgeprops={"width": 0.38, "edgecolor": "white", "linewidth": 1.5},
        )
        ax.set_aspect("equal")
        ax.text(0, 0.08, f"{total:,}", ha="center", va="center", fontsize=16, fontweight="bold", color=TEXT)
        ax.text(0, -0.16, "devices", ha="center", va="center", fontsize=FONT_SIZE, color=MUTED)
        texts = [f"{p.label}  {n:,} ({n / total:.0%})" for p, n in present]
        legend = ax.legend(
            wedges,
            texts,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
            fontsize=FONT_SIZE,
            labelcolor=TEXT,
            handlelength=1.0,
            handleheight=1.0,
        )
        for wedge, handle, (platform, _) in zip(wedges, legend.legend_handles, present, strict=True):
            query = DeviceQuery(platforms=frozenset({platform}))
            self.register(wedge, query, platform.label)
            if handle is not None:
                self.register(handle, query, f"legend:{platform.label}")
