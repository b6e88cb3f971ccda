"""The dashboard's "Active exceptions" tile: how many devices and groups are exempted from a rule now."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QWidget

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.dashboard_pane import SummaryTile


class ExceptionsTile(SummaryTile):
    """A summary tile counting active compliance exceptions (loaded in the runner on :meth:`load`)."""

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__("Active rule exceptions", None, parent)
        self.setToolTip("Devices and groups exempted from a compliance rule now (the Exceptions view lists them)")
        self._ctx = ctx
        self.count: int | None = None

    def load(self) -> None:
        """Count the active exceptions (skipped for those who may not read policies)."""
        principal = self._ctx.session.principal
        if not principal.can(Permission.POLICIES_READ):
            self.setVisible(False)
            return
        service = self._ctx.services.exceptions
        self._ctx.runner.submit(
            lambda: service.active_count(principal), on_done=self._arrived, on_error=self._ctx.errors.report
        )

    def _arrived(self, count: int) -> None:
        if not shiboken6.isValid(self) or not shiboken6.isValid(self.value_label):
            return  # the dashboard closed while the count was on its way
        self.count = count
        self.set_value(str(count), "#9a6700" if count else None)
