"""The Commands view: everything pending or failed, with cancel; pending approvals with approve / reject.

Commands come page by page (:class:`CommandTableModel`); approvals and the guard-rail state
(is sending destructive commands paused?) load in the runner on refresh. Approving or
resuming needs ``commands.approve`` and a fresh code (asked for by the window's step-up
handler); the service refuses an administrator's own request.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.gui.dialogs.command_dialogs import ApprovalDecisionDialog
from mdm_desktop.gui.dialogs.login_dialog import plain_label
from mdm_desktop.gui.errors import StepUpCancelledError
from mdm_desktop.gui.models.commands_model import ApprovalTableModel, CommandTableModel
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.widgets.column_fit import TIMESTAMP_SAMPLE, fit_columns
from mdm_desktop.services.command_dto import (
    ATTENTION_STATUSES,
    OPEN_STATUSES,
    ApprovalInfo,
    CommandQuery,
    GuardrailStatus,
)
from mdm_desktop.services.dto import CommandInfo

FILTERS: tuple[tuple[str, frozenset[CommandStatus]], ...] = (
    ("Needs attention (pending, failed, expired)", ATTENTION_STATUSES),
    ("Pending", OPEN_STATUSES),
    ("Failed", frozenset({CommandStatus.FAILED})),
    ("Expired", frozenset({CommandStatus.EXPIRED})),
    ("Done", frozenset({CommandStatus.ACKNOWLEDGED})),
    ("All commands", frozenset()),
)


def _table(name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setShowGrid(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(28)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


def _longest(labels: Iterable[str]) -> str:
    return max(labels, key=len)


class CommandsPane(Pane):
    """Pending and failed commands, cancel; approvals waiting for a second administrator.

    Signals:
        approvals_loaded(object): the approvals and guard-rail state arrived (a ``GuardrailStatus``).
        decision_opened(object): an :class:`ApprovalDecisionDialog` opened (tests answer it).
        changed(str): a cancel, approval, rejection or resume went through (argument: what happened).
    """

    title = "Commands"
    object_key = "commands"

    approvals_loaded = Signal(object)
    decision_opened = Signal(object)
    changed = Signal(str)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        principal = ctx.session.principal
        self.may_send = principal.can(Permission.COMMANDS_SEND)
        self.may_approve = principal.can(Permission.COMMANDS_APPROVE)
        self.guardrails: GuardrailStatus | None = None
        self.decision: ApprovalDecisionDialog | None = None

        self.model = CommandTableModel(
            ctx.services.commands,
            ctx.holder,
            ctx.runner,
            CommandQuery(statuses=ATTENTION_STATUSES),
            self,
            on_error=ctx.errors.report,
        )
        self.approvals_model = ApprovalTableModel(self)

        # ---- header
        self.heading = plain_label("Commands", "paneTitle")
        self.filter = QComboBox()
        self.filter.setObjectName("commandFilter")
        for text, statuses in FILTERS:
            self.filter.addItem(text, statuses)
        self.filter.currentIndexChanged.connect(lambda _i: self._apply_filter())
        self.note = plain_label("", "commandNote")
        self.cancel_button = QPushButton("Cancel command")
        self.cancel_button.setObjectName("cancelCommand")
        self.cancel_button.setToolTip("Cancel the selected command (only before the device has received it)")
        self.cancel_button.setVisible(self.may_send)
        self.cancel_button.clicked.connect(lambda: self.cancel_selected())
        self.refresh_button = QToolButton()
        self.refresh_button.setIcon(icon("refresh"))
        self.refresh_button.setToolTip("Refresh (F5)")
        self.refresh_button.clicked.connect(lambda: self.refresh())
        header_row = QHBoxLayout()
        header_row.setSpacing(10)
        header_row.addWidget(self.heading)
        header_row.addSpacing(16)
        header_row.addWidget(self.filter)
        header_row.addStretch(1)
        header_row.addWidget(self.note)
        header_row.addWidget(self.cancel_button)
        header_row.addWidget(self.refresh_button)

        # ---- pause banner
        self.banner = QFrame()
        self.banner.setObjectName("warningBanner")
        banner_row = QHBoxLayout(self.banner)
        banner_row.setContentsMargins(12, 8, 12, 8)
        self.banner_text = plain_label("", "warningText", wrap=True)
        self.resume_button = QPushButton("Resume destructive commands…")
        self.resume_button.setObjectName("resumeCommands")
        self.resume_button.setVisible(self.may_approve)
        self.resume_button.clicked.connect(lambda: self.resume())
        banner_row.addWidget(self.banner_text, 1)
        banner_row.addWidget(self.resume_button)
        self.banner.setVisible(False)

        # ---- tables
        self.table = _table("commandTable")
        self.table.setModel(self.model)
        # Device, command, status, queued, by, delivered, completed, reason (the device's answer stretches).
        command, status = _longest(t.label for t in CommandType), _longest(s.label for s in CommandStatus)
        stamp = TIMESTAMP_SAMPLE
        fit_columns(
            self.table,
            ("ADM-BYOD-00000", command, status, stamp, "a.lindqvist", stamp, stamp, ""),
            minimum=(0, 0, 0, 0, 0, 0, 0, 130),
        )
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.empty_hint = plain_label("Nothing pending or failed.", "mutedText")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setVisible(False)
        overlay = QVBoxLayout(self.table.viewport())
        overlay.addWidget(self.empty_hint, 0, Qt.AlignmentFlag.AlignCenter)
        self.model.page_loaded.connect(lambda _n: self._update_empty_hint())
        self.model.modelReset.connect(self._update_empty_hint)

        self.approvals_title = plain_label("Waiting for a second administrator", "sectionTitle")
        self.approvals_hint = plain_label("", "mutedText", wrap=True)
        self.approvals_table = _table("approvalTable")
        self.approvals_table.setModel(self.approvals_model)
        # Command, devices, requested by, requested, expires, status (the reason stretches).
        fit_columns(self.approvals_table, (command, "", "a.lindqvist", stamp, stamp, status), minimum=(0, 260))
        self.approvals_table.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.approve_button = QPushButton("Approve…")
        self.approve_button.setObjectName("approveRequest")
        self.approve_button.clicked.connect(lambda: self.decide(True))
        self.reject_button = QPushButton("Reject…")
        self.reject_button.setObjectName("rejectRequest")
        self.reject_button.clicked.connect(lambda: self.decide(False))
        approvals_box = QWidget()
        box = QVBoxLayout(approvals_box)
        box.setContentsMargins(0, 8, 0, 0)
        box.setSpacing(6)
        title_row = QHBoxLayout()
        title_row.addWidget(self.approvals_title)
        title_row.addStretch(1)
        title_row.addWidget(self.approve_button)
        title_row.addWidget(self.reject_button)
        box.addLayout(title_row)
        box.addWidget(self.approvals_hint)
        box.addWidget(self.approvals_table, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("commandsSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(approvals_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(header_row)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self._update_buttons()

    # ---- loading -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the commands, the approvals and the guard-rail state."""
        self.model.reload()
        commands, principal = self.ctx.services.commands, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: (commands.approvals(principal), commands.guardrails(principal)),
            on_done=lambda pair: self._approvals_arrived(*pair),
            on_error=self.ctx.errors.report,
        )

    def _apply_filter(self) -> None:
        statuses = self.filter.currentData()
        self.model.set_query(CommandQuery(statuses=statuses if isinstance(statuses, frozenset) else frozenset()))

    def _approvals_arrived(self, approvals: tuple[ApprovalInfo, ...], status: GuardrailStatus) -> None:
        self.guardrails = status
        self.approvals_model.set_rows(approvals)
        self.approvals_title.setText(f"Waiting for a second administrator ({len(approvals)})")
        self.approvals_hint.setText(
            f"Full wipe, retire and destructive commands on more than {status.approval_threshold} devices are "
            "sent only after another administrator approves them from their own session. Requests expire after "
            f"{status.approval_hours} hours."
        )
        if status.paused and status.paused_at is not None:
            self.banner_text.setText(
                f"Destructive commands are paused since {format_local_time(status.paused_at)}: more than "
                f"{status.destructive_per_hour} were sent within an hour ({status.paused_by or 'unknown'} tried "
                "to send more). Check the audit log, then resume."
            )
        self.banner.setVisible(status.paused)
        self._update_buttons()
        self.approvals_loaded.emit(status)

    def _update_empty_hint(self) -> None:
        self.empty_hint.setVisible(self.model.rowCount() == 0 and self.model.exhausted)

    # ---- selection -----------------------------------------------------------------------------------

    def selected_command(self) -> CommandInfo | None:
        """The selected command row."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def selected_approval(self) -> ApprovalInfo | None:
        """The selected approval request."""
        rows = self.approvals_table.selectionModel().selectedRows()
        return self.approvals_model.row_at(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        command = self.selected_command()
        self.cancel_button.setEnabled(command is not None and command.status is CommandStatus.QUEUED)
        approval = self.selected_approval()
        mine = approval is not None and approval.requested_by == self.ctx.session.username
        self.approve_button.setEnabled(approval is not None and self.may_approve and not mine)
        self.approve_button.setToolTip(
            "You cannot approve your own request." if mine else "Approve: the commands are sent now"
        )
        self.reject_button.setEnabled(approval is not None and (self.may_approve or mine))
        self.reject_button.setText("Withdraw…" if mine else "Reject…")

    # ---- actions -------------------------------------------------------------------------------------

    def cancel_selected(self) -> None:
        """Cancel the selected queued command."""
        command = self.selected_command()
        if command is None:
            return
        commands, principal = self.ctx.services.commands, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: commands.cancel(principal, command.id),
            on_done=lambda info: self._changed(f"Cancelled {info.type.label.lower()} for {info.device_name}."),
            on_error=self._failed,
        )

    def decide(self, approve: bool) -> None:
        """Open the decision dialog for the selected request; on confirm, approve or reject it."""
        approval = self.selected_approval()
        if approval is None:
            return
        dialog = ApprovalDecisionDialog(approval, approve, self)
        dialog.accepted.connect(lambda: self._decided(approval, approve, dialog.note()))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        self.decision = dialog
        dialog.open()
        self.decision_opened.emit(dialog)

    def _decided(self, approval: ApprovalInfo, approve: bool, note: str) -> None:
        self.decision = None
        commands, principal = self.ctx.services.commands, self.ctx.session.principal
        if approve:
            self.ctx.runner.submit(
                lambda: commands.approve(principal, approval.id, note),
                on_done=lambda r: self._changed(f"Approved: {len(r.commands)} command(s) queued."),
                on_error=self._failed,
            )
        else:
            self.ctx.runner.submit(
                lambda: commands.reject(principal, approval.id, note),
                on_done=lambda _r: self._changed(f"Request {approval.id} rejected; nothing was sent."),
                on_error=self._failed,
            )

    def resume(self) -> None:
        """Let destructive commands be sent again (asks for a fresh code)."""
        commands, principal = self.ctx.services.commands, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: commands.resume(principal, "Resumed from the Commands view"),
            on_done=lambda _s: self._changed("Destructive commands can be sent again."),
            on_error=self._failed,
        )

    def _changed(self, text: str) -> None:
        self.note.setText(text)
        self.changed.emit(text)
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, StepUpCancelledError):
            self.note.setText("Not done: the authenticator code was not given.")
            return
        self.ctx.errors.report(exc)
        self.refresh()

    def save_state(self) -> None:
        """Remember the splitter position."""
        self.ctx.settings.setValue(f"{self.object_key}/splitter", self.splitter.saveState())
