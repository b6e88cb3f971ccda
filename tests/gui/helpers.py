"""Small helpers shared by the pane tests."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

PANE_SIZE = (1400, 900)


def show_top_level(widget: QWidget, width: int = PANE_SIZE[0], height: int = PANE_SIZE[1]) -> None:
    """Show ``widget`` as a window of a fixed size.

    The offscreen platform cannot propagate size hints and warns (a failing Qt warning in tests)
    whenever a layout changes a shown window's minimum size; an explicit minimum size keeps
    layouts from touching it.
    """
    widget.setMinimumSize(width, height)
    widget.resize(width, height)
    widget.show()
