"""The Dashboard's **Export report…** button: the compliance report (CSV) written in the background.

It asks where to save the file (the system dialog asks before replacing one), runs
:meth:`ComplianceReportService.export` on the task runner and says what was written next to the
button. Shown only to users who may read reports; the export itself is audited by the service.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.compliance_report import ComplianceReportResult


class ComplianceReportButton(QPushButton):
    """Export the compliance report.

    Signals:
        status(str): a line to show next to the button (working, written, failed).
        written(object): the :class:`ComplianceReportResult` of a finished export.
    """

    status = Signal(str)
    written = Signal(object)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(icon("export"), "Export report…", parent)
        self.ctx = ctx
        self._task: Task | None = None
        self.setObjectName("complianceReportButton")
        self.setToolTip(
            "Save a CSV of every device rule that is failing, unknown or exempt, with the reasons "
            "and the exceptions behind exemptions (the export is audited)"
        )
        self.clicked.connect(self.ask)
        self.setVisible(ctx.session.principal.can(Permission.REPORTS_READ))

    def suggested_path(self) -> str:
        """Documents folder, ``compliance-report-YYYY-MM-DD.csv``."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
        return str(Path(folder) / f"compliance-report-{dt.date.today().isoformat()}.csv")

    def choose_file(self) -> str:
        """The save dialog; ``""`` when the person declines (tests replace this)."""
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Save the compliance report", self.suggested_path(), "CSV (*.csv);;All files (*)"
        )
        return chosen

    def ask(self) -> None:
        """Ask for the file, then export to it."""
        chosen = self.choose_file()
        if chosen:
            self.export_to(Path(chosen))

    def export_to(self, path: Path) -> None:
        """Write the report to ``path`` (replacing it: the save dialog has asked) off the GUI thread."""
        if self._task is not None:
            return
        service, principal = self.ctx.services.compliance_report, self.ctx.session.principal
        self.setEnabled(False)
        self.status.emit("Writing the compliance report…")
        self._task = self.ctx.runner.submit(
            lambda: service.export(principal, path, overwrite=True), on_done=self._done, on_error=self._failed
        )

    def _done(self, result: ComplianceReportResult) -> None:
        self._task = None
        self.setEnabled(True)
        self.status.emit(f"Report saved to {result.path}: {result.describe()}.")
        self.written.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.setEnabled(True)
        self.status.emit("The compliance report was not written.")
        self.ctx.errors.report(exc)
