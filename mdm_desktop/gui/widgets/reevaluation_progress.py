"""Progress of a compliance re-evaluation that runs in a worker (policy assignment), shown in a dialog.

The service calls ``progress(done, total)`` from the worker thread after each chunk of devices; the
signal carries it to the GUI thread, where the bar moves.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QProgressBar, QWidget


class ReevaluationProgress(QObject):
    """A progress bar (hidden until the first report) and a thread-safe :meth:`report` callback.

    Signals:
        advanced(int, int): devices evaluated so far and in all (emitted from any thread).
    """

    advanced = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(parent)
        self.bar.setObjectName("reevaluationProgress")
        self.bar.setFormat("Re-evaluating devices: %v of %m")
        self.bar.setAccessibleName("Compliance re-evaluation progress")
        self.bar.hide()
        self.advanced.connect(self._show)

    def report(self, done: int, total: int) -> None:
        """Progress callback for :meth:`PolicyService.assign` (safe to call from a worker thread)."""
        self.advanced.emit(done, total)

    @Slot(int, int)
    def _show(self, done: int, total: int) -> None:
        self.bar.setMaximum(max(total, 1))
        self.bar.setValue(done)
        self.bar.show()
