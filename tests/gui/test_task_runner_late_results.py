"""A result that arrives after the widget that asked for it was deleted is dropped, not raised in Qt's loop."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from mdm_desktop.gui.tasks import TaskRunner


class _Asker(QLabel):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[object] = []

    def arrived(self, value: object) -> None:
        self.setText(str(value))  # would raise if the C++ label were gone
        self.got.append(value)

    def failed(self, exc: BaseException) -> None:
        self.setText(str(exc))


def test_results_for_deleted_widgets_are_dropped(qtbot: QtBot) -> None:
    runner = TaskRunner()
    alive, gone = _Asker(), _Asker()
    qtbot.addWidget(alive)
    done: list[int] = []
    runner.submit(lambda: 1, on_done=alive.arrived)
    runner.submit(lambda: 2, on_done=gone.arrived)
    runner.submit(lambda: 1 / 0, on_error=gone.failed)
    runner.submit(lambda: 3, on_done=lambda _v: done.append(3))
    shiboken6.delete(gone)  # before the event loop delivers any result
    qtbot.waitUntil(lambda: alive.got == [1] and done == [3], timeout=5000)
    qtbot.wait(50)
    runner.shutdown()
