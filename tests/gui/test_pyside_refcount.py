"""Regression guard: PySide6 6.12.0 on CPython 3.11 drops a reference to None on every void call.

After a few thousand such calls the interpreter aborts with "none_dealloc". pyproject pins
PySide6 below 6.12 on Python < 3.12; this test fails (instead of crashing later) if a broken
combination is ever installed.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QWidget

CALLS = 10_000


class _EmptyModel(QAbstractListModel):
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return None


def test_void_calls_keep_the_refcount_of_none(qtbot) -> None:
    widget = QWidget()
    qtbot.addWidget(widget)
    model = _EmptyModel()
    before = sys.getrefcount(None)
    for i in range(CALLS):
        widget.resize(100 + i % 7, 80)  # void call
        model.beginResetModel()  # void call
        model.endResetModel()  # void call
    after = sys.getrefcount(None)
    # Python 3.12+ makes None immortal (the count stays huge); on 3.11 a healthy build moves it by
    # a handful. The broken build loses one reference per call: 30,000 here.
    assert after > before - 1_000, f"refcount of None fell from {before} to {after}"
