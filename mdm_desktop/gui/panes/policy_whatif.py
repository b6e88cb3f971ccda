"""What publishing the draft would do: per changed rule, how many assigned devices would fail, and escalations.

Asks :meth:`ComplianceEngine.what_if <mdm_desktop.services.compliance_engine.ComplianceEngine.what_if>`
on the task runner when the person clicks "Show impact" (it evaluates every assigned device, which can
take a few seconds on a large fleet). After an edit the result is marked as out of date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTreeWidgetItem, QVBoxLayout, QWidget

from mdm_desktop.domain.errors import NotFoundError, ValidationError
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.policy_dialog_base import fit_columns, make_tree, plain_label
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.compliance_dto import WhatIfReport

STEP_WORDS = {"notify": "Notify", "quarantine": "Quarantine", "lock": "Lock", "wipe": "Wipe"}


def whatif_service(ctx: PaneContext) -> Any:
    """The compliance engine's what-if, or ``None`` when this build has no compliance engine."""
    engine = getattr(ctx.services, "compliance_engine", None)
    return getattr(engine, "what_if", None)


class WhatIfPanel(QWidget):
    """The impact of the draft on the devices the policy is assigned to.

    Signals:
        shown(object): a :class:`WhatIfReport` is on screen.
    """

    shown = Signal(object)

    def __init__(
        self,
        ctx: PaneContext,
        policy_id: int,
        draft: Callable[[], dict[str, Any] | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.policy_id = policy_id
        self._draft = draft
        self._task: Task | None = None
        self.report: WhatIfReport | None = None
        self.button = QPushButton("Show impact")
        self.button.setObjectName("whatIfButton")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.run)
        self.status = plain_label("", "mutedText")
        self.status.setWordWrap(True)
        self.rules = make_tree(["Rule", "Now", "After", "New"], "whatIfRules")
        header = self.rules.headerItem()
        for column, tip in ((1, "Failing now"), (2, "Failing with the draft"), (3, "Newly failing")):
            header.setToolTip(column, tip)
        self.rules.setRootIsDecorated(False)
        fit_columns(self.rules, stretch=0)
        self.escalations = plain_label("", "mutedText")
        self.escalations.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(plain_label("Impact before publishing", "sectionTitle"))
        head.addStretch(1)
        head.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(self.rules, 1)
        layout.addWidget(self.escalations)
        layout.addStretch(0)  # takes the room while the rules table is hidden: the text stays under the title
        self.rules.hide()
        self.available = whatif_service(ctx) is not None
        if not self.available:
            self.button.setEnabled(False)
            self.status.setText("This build has no compliance engine, so the impact cannot be estimated.")
        else:
            self.status.setText("How many assigned devices would fail each changed rule, and which escalations fire.")

    def draft_changed(self) -> None:
        """The draft was edited: an impact on screen is out of date; without problems it can be asked for."""
        if not self.available:
            return
        ready = self._draft() is not None
        self.button.setEnabled(ready and self._task is None)
        self.button.setToolTip("" if ready else "Correct the problems first")
        if self.report is not None:
            self.status.setText("The draft changed since this estimate; click Show impact again.")

    def run(self) -> Task | None:
        """Ask the compliance engine for the impact of the draft as edited."""
        what_if = whatif_service(self.ctx)
        settings = self._draft()
        if what_if is None or settings is None or self._task is not None:
            return None
        principal, pid = self.ctx.session.principal, self.policy_id
        self.button.setEnabled(False)
        self.status.setText("Evaluating the assigned devices…")
        self._task = self.ctx.runner.submit(
            lambda: what_if(principal, pid, settings), on_done=self._show, on_error=self._failed
        )
        return self._task

    def cancel(self) -> None:
        """Stop waiting for a running estimate."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.button.setEnabled(True)
        if isinstance(exc, ValidationError | NotFoundError):
            self.status.setText(f"No estimate: {exc.message}")
        else:
            self.status.setText("No estimate.")
            self.ctx.errors.report(exc)

    def _show(self, report: WhatIfReport) -> None:
        self._task = None
        self.report = report
        self.button.setEnabled(True)
        against = f"version {report.compared_with}" if report.compared_with is not None else "nothing published yet"
        lines = [f"{report.devices_assigned:,} assigned devices; compared with {against}."]
        now = dict(report.by_state_now)
        after = dict(report.by_state_after)
        states = sorted(set(now) | set(after), key=lambda s: s.value)
        if states:
            lines.append(
                "; ".join(f"{state.label}: {now.get(state, 0):,} → {after.get(state, 0):,}" for state in states)
            )
        lines.extend(report.notes)
        self.status.setText("\n".join(lines))
        self.rules.clear()
        for rule in report.rules:
            item = QTreeWidgetItem(
                [rule.label, f"{rule.failing_now:,}", f"{rule.failing_after:,}", f"{rule.newly_failing:,}"]
            )
            detail = f"{rule.change}: {rule.before or '—'} → {rule.after or '—'}"
            if rule.unknown_after or rule.exempt_after:
                detail += f"\nUnknown: {rule.unknown_after:,}; exempt: {rule.exempt_after:,}"
            item.setToolTip(0, f"{rule.label}\n{detail}")
            for column in (1, 2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.rules.addTopLevelItem(item)
        if not report.rules:
            empty = QTreeWidgetItem(["No compliance rule changes."])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.rules.addTopLevelItem(empty)
            empty.setFirstColumnSpanned(True)
        self.rules.show()
        if report.escalations:
            steps = [
                f"{STEP_WORDS.get(e.step, e.step)} {e.devices:,} device{'s' if e.devices != 1 else ''} "
                f"({e.rule_id}, {e.after})"
                for e in report.escalations
            ]
            self.escalations.setText("Escalations due at once after publishing: " + "; ".join(steps) + ".")
        else:
            self.escalations.setText("No escalation step would be due at once.")
        self.shown.emit(report)
