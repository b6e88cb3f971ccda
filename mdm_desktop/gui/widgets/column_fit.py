"""Column widths worked out from the view's fonts, so usual values show whole (never fixed pixel counts).

A fixed width that fits a timestamp with one font cuts it (``2026-11-20 02…``) with a slightly
larger one: the clinic's style sheet, a platform font, a user's font scaling. The width here is
measured from a sample of a wide but usual value and the column's title, in the view's own fonts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QTableView

CELL_PADDING = 20
"""Room around a cell's text: the style sheet's item padding (2 x 6 px), the delegate's margins (2 x 3 px), 2 spare."""
HEADER_PADDING = 24
"""Room around a header's title (the section's padding and the sort arrow)."""
TIMESTAMP_SAMPLE = "2026-12-31 23:59"
"""A local time as the tables show it (``format_local_time``)."""


def column_widths(view: QTableView, columns: Iterable[tuple[str, str]], extra: Sequence[int] = ()) -> list[int]:
    """Widths that fit each ``(title, sample)`` in ``view``'s fonts; ``extra[i]`` more pixels for column ``i``.

    Header titles are measured in bold (the style sheet draws them so).
    """
    view.ensurePolished()
    cell = view.fontMetrics()
    bold = QFont(view.horizontalHeader().font())
    bold.setBold(True)
    title_metrics = QFontMetrics(bold)
    widths = []
    for i, (title, sample) in enumerate(columns):
        text = cell.horizontalAdvance(sample) + CELL_PADDING + (extra[i] if i < len(extra) else 0)
        widths.append(max(text, title_metrics.horizontalAdvance(title) + HEADER_PADDING))
    return widths


def fit_columns(view: QTableView, samples: Sequence[str], minimum: Sequence[int] = ()) -> None:
    """Size ``view``'s first columns to fit their titles and ``samples`` (never below ``minimum[i]``)."""
    model = view.model()
    if model is None:
        return
    header = view.horizontalHeader()
    titles = [str(model.headerData(i, header.orientation()) or "") for i in range(len(samples))]
    for i, width in enumerate(column_widths(view, zip(titles, samples, strict=True))):
        header.resizeSection(i, max(width, minimum[i] if i < len(minimum) else 0))
