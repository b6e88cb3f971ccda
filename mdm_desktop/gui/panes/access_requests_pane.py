"""The Access requests pane: ask for a temporary extra permission; approvers decide and end grants.

Everyone with ``access.request`` can ask for one permission (optionally in one device group) for a
while, with a reason, and withdraw a request still waiting. Approvers (``access.approve``: the
administrator and the security officer) see everyone's requests, approve or deny them with a note,
and end an active grant early. The list can be narrowed to one state (the history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import TEMPORARILY_GRANTABLE, AccessRequestStatus, Permission
from mdm_desktop.gui.dialogs.admin_dialogs import PERMISSION_GROUPS, ConfirmBox, NoteDialog, RequestAccessDialog
from mdm_desktop.gui.models.access_model import AccessRequestTableModel, duration_text, request_state_text
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import SORT_ROLE
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.catalog_pane import plain_label
from mdm_desktop.gui.panes.users_pane import inline_message, make_table
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.dto import AccessRequestInfo, GroupInfo

STATE_FILTERS: tuple[tuple[str, AccessRequestStatus | None], ...] = (
    ("All requests", None),
    ("Waiting for a decision", AccessRequestStatus.PENDING),
    ("Active grants", AccessRequestStatus.APPROVED),
    ("Denied", AccessRequestStatus.DENIED),
    ("Expired or ended early", AccessRequestStatus.EXPIRED),
    ("Cancelled (withdrawn)", AccessRequestStatus.CANCELLED),
)


@dataclass(frozen=True, slots=True)
class AccessData:
    """What one refresh of the pane loads."""

    requests: tuple[AccessRequestInfo, ...]
    pending: int
    active: int
    groups: tuple[GroupInfo, ...]
    max_hours: int


def requestable(groups_for: Callable[[Permission], frozenset[int] | None]) -> list[Permission]:
    """Permissions one may ask for: temporarily grantable and not already held in every group (in page order)."""
    order = [p for _, perms in PERMISSION_GROUPS for p in perms]
    return [p for p in order if p in TEMPORARILY_GRANTABLE and groups_for(p) is not None]


class AccessRequestsPane(Pane):
    """Temporary access requests and grants.

    Signals:
        loaded: the list was (re)loaded and shown.
        action_done(str): a request, decision or withdrawal went through (carries the action).
    """

    title = "Access requests"
    object_key = "access"

    loaded = Signal()
    action_done = Signal(str)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        principal = ctx.session.principal
        self.can_approve = principal.can(Permission.ACCESS_APPROVE)
        # Someone who already holds every grantable permission everywhere has nothing to ask for.
        self.can_request = principal.can(Permission.ACCESS_REQUEST) and bool(requestable(principal.groups_for))
        self._task: Task | None = None
        self._selected_id: int | None = None
        self.groups: tuple[GroupInfo, ...] = ()
        self.max_hours = 72
        self.dialog: RequestAccessDialog | NoteDialog | None = None
        self.pending_confirm: ConfirmBox | None = None

        heading = plain_label(self.title, "paneTitle")
        self.summary_label = plain_label("", "resultCount")
        self.state_combo = QComboBox()
        self.state_combo.setObjectName("stateFilter")
        for label, state in STATE_FILTERS:
            self.state_combo.addItem(label, state.value if state is not None else "")
        self.state_combo.setToolTip("Show requests in one state only")
        self.state_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.request_button = QPushButton(icon("access"), "Request access…")
        self.request_button.setObjectName("requestAccessButton")
        self.request_button.setToolTip("Ask for an extra permission for a limited time")
        self.request_button.clicked.connect(self.request_access)
        self.request_button.setVisible(self.can_request)
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.summary_label)
        top.addStretch(1)
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.state_combo)
        top.addWidget(self.request_button)
        top.addWidget(self.refresh_button)

        scope_text = (
            "Everyone's requests. Approve or deny those waiting; an active grant ends by itself when its time "
            "is up, or when you end it."
            if self.can_approve
            else "Your requests. An approver (an administrator or a security officer) decides; access ends by "
            "itself when the time is up."
        )
        self.scope_note = plain_label(scope_text, "mutedText")

        self.model = AccessRequestTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = make_table("accessTable")
        self.table.setModel(self.proxy)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        header = self.table.horizontalHeader()
        for i, width in enumerate((145, 110, 300, 130, 80, 90, 145, 110)):
            header.resizeSection(i, width)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._build_detail())
        self.splitter.setSizes([560, 220])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.scope_note)
        layout.addWidget(self.splitter, 1)
        self._show_detail(None)
        self._restore_state()

    def _build_detail(self) -> QFrame:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        self.detail_title = plain_label("", "detailTitle")
        self.detail_subtitle = plain_label("", "mutedText")
        self.detail_reason = plain_label("")
        self.detail_reason.setWordWrap(True)
        self.detail_reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_decision = plain_label("", "mutedText")
        self.detail_decision.setWordWrap(True)
        self.detail_decision.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.approve_button = QPushButton("Approve…")
        self.approve_button.setObjectName("approveButton")
        self.approve_button.clicked.connect(self.approve)
        self.deny_button = QPushButton("Deny…")
        self.deny_button.setObjectName("denyButton")
        self.deny_button.clicked.connect(self.deny)
        self.revoke_button = QPushButton("End access now…")
        self.revoke_button.setObjectName("revokeGrantButton")
        self.revoke_button.clicked.connect(self.revoke)
        self.withdraw_button = QPushButton("Withdraw request…")
        self.withdraw_button.setObjectName("withdrawButton")
        self.withdraw_button.clicked.connect(self.withdraw)
        for button in (self.approve_button, self.deny_button, self.revoke_button):
            button.setVisible(self.can_approve)
        self.withdraw_button.setVisible(self.can_request)
        buttons = QHBoxLayout()
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.deny_button)
        buttons.addWidget(self.revoke_button)
        buttons.addWidget(self.withdraw_button)
        buttons.addStretch(1)
        self.empty_label = plain_label("Select a request to see its reason and decision.", "mutedText")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.detail_title)
        layout.addWidget(self.detail_subtitle)
        layout.addWidget(self.detail_reason)
        layout.addWidget(self.detail_decision)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self._detail_widgets: tuple[QWidget, ...] = (
            self.detail_title,
            self.detail_subtitle,
            self.detail_reason,
            self.detail_decision,
        )
        return panel

    # ---- loading -------------------------------------------------------------------------------

    def state_filter(self) -> AccessRequestStatus | None:
        """The state the list is narrowed to (``None``: every state)."""
        value = self.state_combo.currentData()  # Qt hands str enums back as plain str
        return AccessRequestStatus(value) if value else None

    def set_state_filter(self, state: AccessRequestStatus | None) -> None:
        """Narrow the list to ``state`` (reloads)."""
        index = next(i for i, (_, s) in enumerate(STATE_FILTERS) if s == state)
        self.state_combo.setCurrentIndex(index)

    def refresh(self) -> None:
        """Reload the requests (off the GUI thread)."""
        if self._task is not None:
            self._task.cancel()
        services, principal = self.ctx.services, self.ctx.session.principal
        mine = not self.can_approve and not principal.can(Permission.USERS_READ)
        state = self.state_filter()
        read_groups = principal.can(Permission.DEVICES_READ)

        def load() -> AccessData:
            users = services.users
            everything = users.list_access_requests(principal, mine=mine)
            shown = everything if state is None else tuple(r for r in everything if r.status == state.value)
            pending = sum(1 for r in everything if r.status == AccessRequestStatus.PENDING.value)
            active = sum(1 for r in everything if r.status == AccessRequestStatus.APPROVED.value)
            groups = tuple(services.devices.groups(principal)) if read_groups else ()
            max_hours = users.security_settings(principal).access_max_hours
            return AccessData(shown, pending, active, groups, max_hours)

        self.refresh_button.setEnabled(False)
        self._task = self.ctx.runner.submit(load, on_done=self._loaded, on_error=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.refresh_button.setEnabled(True)
        self.ctx.errors.report(exc)

    def _loaded(self, data: AccessData) -> None:
        self._task = None
        self.refresh_button.setEnabled(True)
        self.groups, self.max_hours = data.groups, data.max_hours
        keep = self._selected_id
        self.model.set_rows(data.requests)
        waiting = f"{data.pending} waiting for a decision" if data.pending else "none waiting"
        grants = "1 active grant" if data.active == 1 else f"{data.active} active grants"
        self.summary_label.setText(f"{waiting}  ·  {grants}")
        if keep is not None and self.model.row_of(keep) >= 0:
            self.select_request(keep)
        elif self.proxy.rowCount() > 0:
            self.table.selectRow(0)
        else:
            self._show_detail(None)
        self.loaded.emit()

    # ---- selection -----------------------------------------------------------------------------

    def selected_request(self) -> AccessRequestInfo | None:
        """The request selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(self.proxy.mapToSource(rows[0]).row()) if rows else None

    def select_request(self, request_id: int) -> None:
        """Select the request with ``request_id`` if it is listed."""
        source_row = self.model.row_of(request_id)
        if source_row >= 0:
            index = self.proxy.mapFromSource(self.model.index(source_row, 0))
            if index.isValid():
                self.table.selectRow(index.row())
                self.table.scrollTo(index)
                self._show_detail(self.selected_request())

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_detail(self.selected_request())

    def _show_detail(self, request: AccessRequestInfo | None) -> None:
        self._selected_id = request.id if request is not None else None
        self.empty_label.setVisible(request is None)
        for widget in self._detail_widgets:
            widget.setVisible(request is not None)
        me = self.ctx.session.principal.id
        pending = request is not None and request.status == AccessRequestStatus.PENDING.value
        own = request is not None and request.requester_id == me
        self.approve_button.setEnabled(pending and not own)
        self.deny_button.setEnabled(pending and not own)
        tip = "Another approver must decide on your own request" if pending and own else ""
        self.approve_button.setToolTip(tip)
        self.deny_button.setToolTip(tip)
        self.revoke_button.setEnabled(
            request is not None and request_state_text(request) == "Active" and self.can_approve
        )
        self.withdraw_button.setEnabled(pending and own)
        if request is None:
            return
        where = request.group_name or (
            "every device group" if request.group_id is None else f"group {request.group_id}"
        )
        self.detail_title.setText(f"{request.requester} asks to: {request.permission.label}")
        self.detail_subtitle.setText(
            f"In {where}  ·  for {duration_text(request.duration_minutes)}  ·  asked "
            f"{format_local_time(request.requested_at)}  ·  {request_state_text(request)}"
        )
        self.detail_reason.setText(f"Reason: {request.reason}")
        decision = ""
        state = request_state_text(request)
        if request.decided_by:
            verb = {"Denied": "Denied"}.get(state, "Approved")
            decision = f"{verb} by {request.decided_by} on {format_local_time(request.decided_at)}"
            if request.decision_note:
                decision += f": {request.decision_note}"
        elif request.status == AccessRequestStatus.CANCELLED.value:
            decision = f"Withdrawn on {format_local_time(request.decided_at)}"
        if request.expires_at is not None:
            ends = "Ends" if state == "Active" else "Ended"
            decision += f"\n{ends} {format_local_time(request.expires_at)}"
        self.detail_decision.setText(decision.strip())

    # ---- actions -------------------------------------------------------------------------------

    def _run(self, action: str, fn: Callable[[], Any], dialog: RequestAccessDialog | None = None) -> None:
        def done(result: Any) -> None:
            if dialog is not None:
                dialog.set_busy(False)
                dialog.accept()
            if isinstance(result, AccessRequestInfo):
                self._selected_id = result.id
            self.action_done.emit(action)
            self.refresh()

        def failed(exc: BaseException) -> None:
            message = inline_message(exc) if dialog is not None and dialog.isVisible() else None
            if dialog is not None and message is not None:
                dialog.show_error(message)
                return
            if dialog is not None:
                dialog.set_busy(False)
            self.ctx.errors.report(exc)

        self.ctx.runner.submit(fn, on_done=done, on_error=failed)

    def _open(self, dialog: RequestAccessDialog | NoteDialog) -> None:
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    def request_access(self) -> None:
        """Open the request dialog."""
        principal = self.ctx.session.principal
        dialog = RequestAccessDialog(requestable(principal.groups_for), self.groups, self.max_hours, self)
        users = self.ctx.services.users

        def submit() -> None:
            perm, reason, minutes, group = dialog.permission(), dialog.reason(), dialog.minutes(), dialog.group_id()
            self._run("access.request", lambda: users.request_access(principal, perm, reason, minutes, group), dialog)

        dialog.submitted.connect(submit)
        self._open(dialog)

    def _decide(self, action: str, title: str, text: str, ok_text: str, call: Callable[[str], Any]) -> None:
        dialog = NoteDialog(
            title, text, ok_text, placeholder="A note for the requester and the audit log (optional)", parent=self
        )

        def decided() -> None:
            note = dialog.note()
            self._run(action, lambda: call(note))

        dialog.accepted.connect(decided)
        self._open(dialog)

    def approve(self) -> None:
        """Approve the selected pending request (with an optional note)."""
        request = self.selected_request()
        if request is None:
            return
        users, principal, rid = self.ctx.services.users, self.ctx.session.principal, request.id
        self._decide(
            "access.approve",
            "Approve access",
            f"Give {request.requester} '{request.permission.label}' for {duration_text(request.duration_minutes)}, "
            "starting now?",
            "Approve",
            lambda note: users.approve_request(principal, rid, note),
        )

    def deny(self) -> None:
        """Deny the selected pending request (with an optional note)."""
        request = self.selected_request()
        if request is None:
            return
        users, principal, rid = self.ctx.services.users, self.ctx.session.principal, request.id
        self._decide(
            "access.deny",
            "Deny access",
            f"Deny {request.requester}'s request for '{request.permission.label}'?",
            "Deny",
            lambda note: users.deny_request(principal, rid, note),
        )

    def revoke(self) -> None:
        """End the selected active grant now (with an optional note)."""
        request = self.selected_request()
        if request is None:
            return
        users, principal, rid = self.ctx.services.users, self.ctx.session.principal, request.id
        self._decide(
            "access.revoke",
            "End access now",
            f"End {request.requester}'s access to '{request.permission.label}' now, before "
            f"{format_local_time(request.expires_at)}?",
            "End access",
            lambda note: users.revoke_grant(principal, rid, note),
        )

    def withdraw(self) -> None:
        """Withdraw one's own pending request (after confirming)."""
        request = self.selected_request()
        if request is None:
            return
        users, principal, rid = self.ctx.services.users, self.ctx.session.principal, request.id
        box = ConfirmBox(
            "Withdraw request",
            f"Withdraw your request for '{request.permission.label}'?",
            "You can ask again later.",
            "Withdraw",
            lambda: self._run("access.cancel", lambda: users.cancel_request(principal, rid)),
            self,
        )
        box.finished.connect(box.deleteLater)
        self.pending_confirm = box
        box.open()

    # ---- state ---------------------------------------------------------------------------------

    def _restore_state(self) -> None:
        header = self.ctx.settings.value(f"{self.object_key}/header")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)

    def save_state(self) -> None:
        self.ctx.settings.setValue(f"{self.object_key}/header", self.table.horizontalHeader().saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._task is not None:
            self._task.cancel()
        super().closeEvent(event)
