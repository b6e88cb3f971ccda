"""What every pane receives and provides."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from mdm_desktop.app import Services
from mdm_desktop.gui.errors import ErrorReporter
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import SessionInfo


@dataclass(frozen=True)
class PaneContext:
    """Dependencies handed to each pane by the main window."""

    services: Services
    session: SessionInfo
    runner: TaskRunner
    errors: ErrorReporter
    settings: QSettings


class Pane(QWidget):
    """A page of the main window. Loads its data lazily on first activation."""

    title: str = ""
    object_key: str = ""

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._activated = False

    def activate(self) -> None:
        """Called when the pane is shown; the first call loads data."""
        if not self._activated:
            self._activated = True
            self.refresh()

    def refresh(self) -> None:
        """Reload data from the services (off the GUI thread)."""

    def save_state(self) -> None:
        """Persist column layout and similar view state to ``ctx.settings``."""
