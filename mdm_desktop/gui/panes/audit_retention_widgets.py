"""The Audit retention group of the Security pane: how long entries are kept, and "Prune now…".

The group shows the retention period (an administrator changes it; never below six years, as HIPAA
45 CFR 164.316(b)(2)(i) asks), the oldest entry and how many entries are old enough to prune. "Prune
now…" asks for a folder, then for confirmation naming the count and date range, and runs the prune
in a worker with a progress bar: the entries are exported to a signed file in that folder, then
removed, and the store keeps a signed record so verification still passes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.gui.dialogs.admin_dialogs import ConfirmBox
from mdm_desktop.gui.panes.audit_chain_widgets import VerifyProgressRelay
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.catalog_pane import plain_label
from mdm_desktop.services.audit_retention import PrunePlan, PruneResult, RetentionStatus

MIN_YEARS, MAX_YEARS = 6, 100
EXPLANATION = (
    "HIPAA asks clinics to keep documentation six years, so entries are kept at least that long. Older "
    "entries may be pruned: they are first exported to a signed file you keep off this computer, and the "
    "trail keeps a signed record of the prune so 'Verify now' still passes."
)


def _day(moment: dt.datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d") if moment is not None else "-"


def describe_plan(plan: PrunePlan) -> str:
    """``25 entries (#1 to #25, recorded 2018-12-06 to 2020-11-25)``, in plain words."""
    noun = "entry" if plan.count == 1 else "entries"
    return (
        f"{plan.count:,} {noun} (#{plan.first_seq} to #{plan.last_seq}, recorded {_day(plan.first_at)} "
        f"to {_day(plan.last_at)})"
    )


class RetentionGroup(QFrame):
    """Retention period, oldest entry, and pruning.

    Args:
        ctx: The pane's context (services, session, runner, errors).
        can_edit: The user may change settings and prune (``settings.manage``).
        can_read: The user may read the audit log (sees the oldest entry and what is prunable).

    Signals:
        years_saved(int): the retention period was saved.
        pruned(str): a prune finished; the export file's path.
        prune_failed(): a prune failed (nothing was deleted); the error was reported.
    """

    years_saved = Signal(int)
    pruned = Signal(str)
    prune_failed = Signal()

    def __init__(self, ctx: PaneContext, can_edit: bool, can_read: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)  # the table above takes the rest
        self.ctx = ctx
        self.can_edit = can_edit
        self.can_read = can_read
        self.status: RetentionStatus | None = None
        self._stored_years = MIN_YEARS
        self.pending_confirm: ConfirmBox | None = None
        self.progress_relay = VerifyProgressRelay(self)
        self.progress_relay.progressed.connect(self._progressed)

        title = plain_label("Audit retention", "sectionTitle")
        explain = plain_label(EXPLANATION, "mutedText")
        explain.setWordWrap(True)

        self.years_spin = QSpinBox()
        self.years_spin.setObjectName("audit_retention_years")
        self.years_spin.setRange(MIN_YEARS, MAX_YEARS)
        self.years_spin.setSuffix(" years")
        self.years_spin.setFixedWidth(150)
        self.years_spin.setEnabled(can_edit)
        self.years_spin.setToolTip("At least 6 years (HIPAA 45 CFR 164.316(b)(2)(i))")
        self.years_spin.valueChanged.connect(self._years_edited)
        years_label = plain_label("Keep audit entries for")
        font = years_label.font()
        font.setBold(True)
        years_label.setFont(font)
        years_label.setBuddy(self.years_spin)
        self.save_years_button = QPushButton("Save period")
        self.save_years_button.setObjectName("saveRetentionButton")
        self.save_years_button.setVisible(can_edit)
        self.save_years_button.setEnabled(False)
        self.save_years_button.clicked.connect(self.save_years)
        years_row = QHBoxLayout()
        years_row.setSpacing(10)
        years_row.addWidget(years_label)
        years_row.addWidget(self.years_spin)
        years_row.addStretch(1)
        years_row.addWidget(self.save_years_button)

        self.oldest_label = plain_label("", "retentionOldest")
        self.oldest_label.setWordWrap(True)
        self.prunable_label = plain_label("", "retentionPrunable")
        self.prunable_label.setWordWrap(True)
        self.last_prune_label = plain_label("", "mutedText")
        self.last_prune_label.setWordWrap(True)
        for label in (self.oldest_label, self.prunable_label, self.last_prune_label):
            label.setVisible(can_read)

        self.prune_button = QPushButton("Prune now…")
        self.prune_button.setObjectName("pruneButton")
        self.prune_button.setVisible(can_edit and can_read)
        self.prune_button.setEnabled(False)
        self.prune_button.clicked.connect(self.prune)
        self.progress = QProgressBar()
        self.progress.setObjectName("pruneProgress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.result_label = plain_label("", "mutedText")
        self.result_label.setObjectName("pruneResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        prune_row = QHBoxLayout()
        prune_row.addWidget(self.prune_button)
        prune_row.addWidget(self.progress)
        prune_row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(explain)
        layout.addLayout(years_row)
        layout.addWidget(self.oldest_label)
        layout.addWidget(self.prunable_label)
        layout.addWidget(self.last_prune_label)
        layout.addLayout(prune_row)
        layout.addWidget(self.result_label)

    # ---- showing -------------------------------------------------------------------------------

    def show_years(self, years: int) -> None:
        """Show the stored retention period (the form is no longer edited)."""
        self.years_spin.blockSignals(True)
        self.years_spin.setValue(years)
        self.years_spin.blockSignals(False)
        self._stored_years = years
        self.save_years_button.setEnabled(False)

    def show_status(self, status: RetentionStatus | None) -> None:
        """Show the oldest entry, what is prunable and the last prune (``None``: the user may not see them)."""
        self.status = status
        if status is None:
            self.prune_button.setEnabled(False)
            return
        if status.entries:
            self.oldest_label.setText(
                f"Oldest entry: #{status.oldest_seq}, recorded {_day(status.oldest_at)} "
                f"({status.entries:,} entries in the trail)."
            )
        else:
            self.oldest_label.setText("The audit trail is empty.")
        plan = status.prunable
        if plan.count:
            self.prunable_label.setText(
                f"Older than {status.years} years (before {_day(status.cutoff)}): {describe_plan(plan)}."
            )
        else:
            self.prunable_label.setText(
                f"No entry is older than {status.years} years (before {_day(status.cutoff)}): nothing to prune."
            )
        last = status.last_prune
        self.last_prune_label.setText(
            ""
            if last is None
            else f"Last prune: entries #{last.first_seq} to #{last.upto_seq} on {_day(last.pruned_at)} by "
            f"{last.actor}, kept in {last.export_file}."
        )
        self.last_prune_label.setVisible(last is not None)
        self.prune_button.setEnabled(plan.count > 0 and not self.progress.isVisible())
        self.prune_button.setToolTip(
            "Export the entries older than the retention period to a signed file, then remove them"
            if plan.count
            else "No entry is older than the retention period"
        )

    # ---- the retention period ------------------------------------------------------------------

    def _years_edited(self, value: int) -> None:
        self.save_years_button.setEnabled(self.can_edit and value != self._stored_years)

    def save_years(self) -> None:
        """Save the retention period (a fresh authenticator code may be asked for)."""
        retention, principal, years = (
            self.ctx.services.audit_retention,
            self.ctx.session.principal,
            self.years_spin.value(),
        )
        self.save_years_button.setEnabled(False)
        self.ctx.runner.submit(
            lambda: retention.set_retention_years(principal, years),
            on_done=self._years_saved,
            on_error=self._years_failed,
        )

    def _years_saved(self, years: int) -> None:
        self.show_years(years)
        self.result_label.setText(f"Audit entries are now kept {years} years.")
        self.years_saved.emit(years)

    def _years_failed(self, exc: BaseException) -> None:
        self._years_edited(self.years_spin.value())
        self.ctx.errors.report(exc)

    # ---- pruning -------------------------------------------------------------------------------

    def choose_folder(self) -> str:
        """Ask for the folder the export goes to; ``""`` when the person declines."""
        return QFileDialog.getExistingDirectory(
            self, "Folder for the pruned entries (removable media)", str(Path.home())
        )

    def prune(self) -> None:
        """Ask for a folder, confirm (naming count and dates), then prune in the background."""
        status = self.status
        if status is None or not status.prunable.count:
            return
        folder = self.choose_folder()
        if not folder:
            return
        plan = status.prunable
        box = ConfirmBox(
            "Prune audit entries",
            f"Remove {describe_plan(plan)} from the audit trail?",
            f"They are older than {status.years} years. They are first exported to a signed file in {folder}; "
            "keep it off this computer. The trail keeps a signed record of the prune so verification still passes. "
            "This cannot be undone.",
            "Prune entries",
            lambda: self._start_prune(plan, Path(folder)),
            self,
        )
        box.finished.connect(box.deleteLater)
        self.pending_confirm = box
        box.open()

    def _start_prune(self, plan: PrunePlan, folder: Path) -> None:
        retention, principal = self.ctx.services.audit_retention, self.ctx.session.principal
        emit = self.progress_relay.progressed.emit  # safe from the worker: Qt queues it to the GUI thread
        self.prune_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.result_label.setText(f"Exporting and pruning {describe_plan(plan)}…")
        self.ctx.runner.submit(
            lambda: retention.prune(principal, plan.before, folder, progress=lambda done, total: emit(0, done, total)),
            on_done=self._pruned,
            on_error=self._prune_failed,
        )

    def _progressed(self, _generation: int, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _pruned(self, result: PruneResult) -> None:
        self.progress.setVisible(False)
        self.result_label.setText(
            f"Pruned {describe_plan(result.plan)}. They are kept in {result.export_path} with its signature "
            f"file; keep both off this computer."
        )
        self.pruned.emit(result.export_path)

    def _prune_failed(self, exc: BaseException) -> None:
        self.progress.setVisible(False)
        self.result_label.setText("Nothing was pruned.")
        self.prune_button.setEnabled(self.status is not None and self.status.prunable.count > 0)
        self.ctx.errors.report(exc)
        self.prune_failed.emit()
