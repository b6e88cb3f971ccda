"""Column widths from the view's fonts: usual values (timestamps, labels) show whole, never cut."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QFont, QStandardItemModel
from PySide6.QtWidgets import QTableView

from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.commands_pane import CommandsPane
from mdm_desktop.gui.widgets.column_fit import CELL_PADDING, TIMESTAMP_SAMPLE, column_widths, fit_columns
from tests.gui.helpers import show_top_level


def test_widths_fit_the_sample_and_the_title_in_the_views_font(qtbot) -> None:
    view = QTableView()
    qtbot.addWidget(view)
    small = column_widths(view, [("Queued", TIMESTAMP_SAMPLE)])
    font = QFont(view.font())
    font.setPointSizeF(font.pointSizeF() * 1.5)
    view.setFont(font)
    large = column_widths(view, [("Queued", TIMESTAMP_SAMPLE)])
    assert large[0] > small[0]  # follows the font, unlike a fixed pixel count
    assert large[0] >= view.fontMetrics().horizontalAdvance(TIMESTAMP_SAMPLE) + CELL_PADDING
    long_title = column_widths(view, [("A rather long column title", "x")])
    assert long_title[0] > view.fontMetrics().horizontalAdvance("x") + CELL_PADDING  # the title fits too


def test_fit_columns_respects_minimums_and_ignores_a_view_without_model(qtbot) -> None:
    view = QTableView()
    qtbot.addWidget(view)
    fit_columns(view, ("x",))  # no model: nothing to size, no error
    model = QStandardItemModel(0, 2)
    model.setHorizontalHeaderLabels(["A", "B"])
    view.setModel(model)
    fit_columns(view, ("x", "y"), minimum=(0, 300))
    assert view.horizontalHeader().sectionSize(1) == 300
    assert view.horizontalHeader().sectionSize(0) < 300


def test_commands_table_shows_whole_timestamps(qtbot, pane_ctx: PaneContext) -> None:
    pane = CommandsPane(pane_ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: qtbot.waitUntil(lambda: p.ctx.runner.pending == 0))
    show_top_level(pane)
    metrics = pane.table.fontMetrics()
    model = pane.table.model()
    header = pane.table.horizontalHeader()
    titles = {model.headerData(i, header.orientation()): i for i in range(model.columnCount(QModelIndex()))}
    stamp = format_local_time(dt.datetime(2026, 11, 20, 2, 13, tzinfo=dt.UTC))
    for title in ("Queued", "Delivered", "Completed"):
        assert header.sectionSize(titles[title]) >= metrics.horizontalAdvance(stamp) + CELL_PADDING, title
