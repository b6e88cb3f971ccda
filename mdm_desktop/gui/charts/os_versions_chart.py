"""Devices per major OS version, grouped by platform; click a bar to list that platform's devices."""

from __future__ import annotations

from itertools import groupby

from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from mdm_desktop.gui.charts.base import FONT_SIZE, MUTED, TEXT, ChartCanvas
from mdm_desktop.gui.charts.palette import PLATFORM_COLORS
from mdm_desktop.services.dto import ComplianceSummary, DeviceQuery

GROUP_GAP = 0.8


class OsVersionsChart(ChartCanvas):
    """Vertical bars: one per (platform, major version), newest first within each platform group.

    The device list has no OS-version filter, so a click lists the bar's platform.
    """

    title = "OS versions"

    def draw_chart(self, summary: ComplianceSummary) -> None:
        self.set_title(self.title)
        entries = list(summary.by_os_version)
        if not entries:
            self.draw_no_data("No devices yet")
            return
        ax = self.axes
        positions: list[float] = []
        x = 0.0
        groups: list[tuple[str, float, float]] = []
        for platform, items in groupby(entries, key=lambda e: e.platform):
            start = x
            for _ in list(items):
                positions.append(x)
                x += 1.0
            groups.append((platform.label, start, x - 1.0))
            x += GROUP_GAP
        counts = [e.count for e in entries]
        bars = ax.bar(positions, counts, width=0.72, color=[PLATFORM_COLORS[e.platform] for e in entries])
        ax.set_xticks(positions, [str(e.major) if e.major is not None else "?" for e in entries])
        self.style_axes(grid_axis="y")
        ax.set_ylim(0, max(1, max(counts)) * 1.18)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Devices", fontsize=FONT_SIZE, color=TEXT)
        ax.set_xlim(-0.7, x - GROUP_GAP - 0.3)
        for bar, entry in zip(bars, entries, strict=True):
            self.register(bar, DeviceQuery(platforms=frozenset({entry.platform})), entry.label)
            ax.annotate(
                f"{entry.count:,}",
                xy=(bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=FONT_SIZE - 1,
                color=TEXT,
            )
        under = blended_transform_factory(ax.transData, ax.transAxes)
        for label, first, last in groups:
            ax.annotate(
                label,
                xy=((first + last) / 2, 0),
                xycoords=under,
                xytext=(0, -22),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=FONT_SIZE,
                fontweight="bold",
                color=MUTED,
                annotation_clip=False,
            )
        ax.set_xlabel(" ", fontsize=FONT_SIZE + 4)  # room for the platform names under the version numbers
