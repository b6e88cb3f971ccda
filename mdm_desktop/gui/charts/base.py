"""Shared canvas for dashboard charts: a matplotlib Figure on FigureCanvasQTAgg (never pyplot).

Each chart draws itself from a :class:`ComplianceSummary`. Every bar or slice it
draws can be registered with a :class:`DeviceQuery`; clicking it (a matplotlib
pick event) emits :attr:`ChartCanvas.query_picked` with that query.
"""

from __future__ import annotations

from typing import Literal

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import Event, MouseEvent, PickEvent
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSizePolicy, QWidget

from mdm_desktop.services.dto import ComplianceSummary, DeviceQuery

TEXT = "#1f2a37"
MUTED = "#5b6878"
GRID = "#e3e8ee"
FONT_SIZE = 9.5


class ChartCanvas(FigureCanvasQTAgg):
    """A figure with one axes whose elements can be clicked.

    Signals:
        query_picked(object): a clickable element was clicked; carries its :class:`DeviceQuery`.
    """

    query_picked = Signal(object)

    title: str = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        figure = Figure(figsize=(5.0, 3.2), dpi=100, layout="constrained", facecolor="white")
        super().__init__(figure)  # type: ignore[no-untyped-call]
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(260, 200)
        self.axes: Axes = figure.add_subplot()
        self._queries: dict[Artist, DeviceQuery] = {}
        self._hover = False
        self.mpl_connect("pick_event", self._on_pick)
        self.mpl_connect("motion_notify_event", self._on_motion)
        self.summary: ComplianceSummary | None = None
        self._draw_empty("Loading…")

    # ---- public ------------------------------------------------------------------------------

    def set_summary(self, summary: ComplianceSummary) -> None:
        """Redraw the chart from ``summary``."""
        self.summary = summary
        self._reset_axes()
        self.draw_chart(summary)
        self.draw_idle()  # type: ignore[no-untyped-call]

    def clickable(self) -> dict[Artist, DeviceQuery]:
        """The clickable elements currently drawn and the query each stands for."""
        return dict(self._queries)

    def query_for_label(self, label: str) -> DeviceQuery | None:
        """The query of the element whose label (``Artist.get_label``) is ``label``."""
        return next((q for a, q in self._queries.items() if a.get_label() == label), None)

    # ---- for subclasses --------------------------------------------------------------------------

    def draw_chart(self, summary: ComplianceSummary) -> None:
        """Draw ``summary`` on :attr:`axes` (the axes is cleared beforehand)."""
        raise NotImplementedError

    def register(self, artist: Artist, query: DeviceQuery, label: str) -> None:
        """Make ``artist`` clickable: a click emits ``query``."""
        artist.set_picker(True)
        artist.set_label(label)
        self._queries[artist] = query

    def style_axes(self, *, grid_axis: Literal["x", "y", "both"] = "x") -> None:
        """Quiet axes: light grid, no top/right spines, readable tick labels."""
        ax = self.axes
        ax.set_axisbelow(True)
        ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#c3cbd6")
        ax.tick_params(colors=TEXT, labelsize=FONT_SIZE, length=0)

    def set_title(self, text: str) -> None:
        """Chart title, at the figure's top left (the same place for every chart shape)."""
        self.figure.suptitle(text, x=0.015, ha="left", fontsize=11, fontweight="bold", color=TEXT)

    def draw_no_data(self, text: str) -> None:
        """Show ``text`` instead of a chart (nothing to count)."""
        self._draw_empty(text)

    # ---- internals -----------------------------------------------------------------------------

    def _reset_axes(self) -> None:
        self._queries.clear()
        self.figure.clear()
        self.axes = self.figure.add_subplot()

    def _draw_empty(self, text: str) -> None:
        self.axes.set_axis_off()
        if self.title:
            self.set_title(self.title)
        self.axes.text(
            0.5, 0.5, text, ha="center", va="center", color=MUTED, fontsize=11, transform=self.axes.transAxes
        )

    def _on_pick(self, event: PickEvent) -> None:
        query = self._queries.get(event.artist)
        mouse = event.mouseevent
        if query is not None and getattr(mouse, "button", None) in (1, None):
            self.query_picked.emit(query)

    def _on_motion(self, event: Event) -> None:
        over = isinstance(event, MouseEvent) and any(a.contains(event)[0] for a in self._queries)
        if over != self._hover:
            self._hover = over
            if over:
                self.setCursor(Qt.CursorShape.PointingHandCursor)
            else:
                self.unsetCursor()
