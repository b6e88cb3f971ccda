"""The Exceptions view: devices and groups exempted from a compliance rule, and the decisions on them.

Lists exceptions (active and pending first, or by status) with Request… (a group), Approve…,
Reject… and Revoke…. Requests need ``policies.write``; decisions need
``compliance.exceptions.approve`` and never apply to one's own request (the service refuses it, the
buttons say so). :func:`request_for_device` is the same request flow for one device, used by the
devices pane's "Request exception…" action. Every service call goes through the task runner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.compliance_exceptions import ExceptionStatus
from mdm_desktop.gui.dialogs.exception_dialogs import ExceptionDecisionDialog, RequestExceptionDialog
from mdm_desktop.gui.dialogs.login_dialog import plain_label
from mdm_desktop.gui.models.exceptions_model import ExceptionTableModel
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.device_command_actions import DeviceCommandActions
from mdm_desktop.gui.resources import icon
from mdm_desktop.services.exception_dto import ExceptionInfo

OPEN = frozenset({ExceptionStatus.ACTIVE, ExceptionStatus.PENDING})
FILTERS: tuple[tuple[str, frozenset[ExceptionStatus] | None], ...] = (
    ("Active and pending", OPEN),
    ("Pending approval", frozenset({ExceptionStatus.PENDING})),
    ("Active", frozenset({ExceptionStatus.ACTIVE})),
    ("Expired", frozenset({ExceptionStatus.EXPIRED})),
    ("Revoked or rejected", frozenset({ExceptionStatus.REVOKED, ExceptionStatus.REJECTED})),
    ("All exceptions", None),
)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def request_for_device(
    ctx: PaneContext,
    parent: QWidget,
    device_id: int,
    device_name: str,
    on_done: Callable[[ExceptionInfo], None],
    on_opened: Callable[[RequestExceptionDialog], None] | None = None,
) -> None:
    """Ask for an exception for one device: load its failing rules, open the dialog, send the request.

    Args:
        ctx: The pane context (services, runner, errors).
        parent: The dialog's owner.
        device_id: The device.
        device_name: Its name, for the dialog.
        on_done: Called with the new (pending) exception.
        on_opened: Called with the dialog once it is open (tests answer it).
    """
    service, principal = ctx.services.exceptions, ctx.session.principal

    def opened(rules: tuple[tuple[str, str], ...]) -> None:
        dialog = RequestExceptionDialog(f"device {device_name}", rules, _today(), parent)

        def send() -> None:
            rule, reason, until = dialog.rule_id(), dialog.reason(), dialog.until()
            ctx.runner.submit(
                lambda: service.request(principal, rule_id=rule, reason=reason, until=until, device_id=device_id),
                on_done=on_done,
                on_error=ctx.errors.report,
            )

        dialog.accepted.connect(send)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
        if on_opened is not None:
            on_opened(dialog)

    ctx.runner.submit(lambda: service.failing_rules(principal, device_id), on_done=opened, on_error=ctx.errors.report)


class DeviceExceptionAction(QObject):
    """The "Request exception…" action on the devices pane's command menu (and right-click menu), for one device.

    Enabled for one selected device and a user who may request exceptions. The outcome goes to
    ``actions.message`` (the devices pane's one-line status).

    Signals:
        dialog_opened(object): the :class:`RequestExceptionDialog` opened (tests answer it).
    """

    dialog_opened = Signal(object)

    def __init__(self, ctx: PaneContext, actions: DeviceCommandActions, parent: QWidget) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._actions = actions
        self._owner = parent
        self.action = QAction("Request exception from a rule…", parent)
        self.action.setObjectName("requestDeviceException")
        self.action.setStatusTip("Ask a security officer to exempt the selected device from a failing rule")
        self.action.triggered.connect(lambda _checked=False: self.start())
        actions.menu.addSeparator()
        actions.menu.addAction(self.action)
        actions.menu.aboutToShow.connect(self.update_enabled)
        self.update_enabled()

    def update_enabled(self) -> None:
        """Enabled for exactly one selected device, for those who may request exceptions."""
        may = self._ctx.session.principal.can(Permission.POLICIES_WRITE)
        self.action.setVisible(may)
        self.action.setEnabled(may and len(self._actions.selected_devices()) == 1)

    def start(self) -> None:
        """Open the request for the selected device."""
        devices = self._actions.selected_devices()
        if len(devices) != 1:
            return
        device = devices[0]
        request_for_device(
            self._ctx,
            self._owner,
            device.id,
            device.name,
            lambda info: self._actions.message.emit(f"Exception {info.id} requested; it waits for approval."),
            self.dialog_opened.emit,
        )


class ExceptionsPane(Pane):
    """Exceptions from compliance rules: list, request, approve, reject, revoke.

    Signals:
        loaded(int): the list arrived (argument: rows shown).
        dialog_opened(object): a request or decision dialog opened (tests answer it).
        changed(str): a request or decision went through (argument: what happened).
    """

    title = "Exceptions"
    object_key = "exceptions"

    loaded = Signal(int)
    dialog_opened = Signal(object)
    changed = Signal(str)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        principal = ctx.session.principal
        self.may_request = principal.can(Permission.POLICIES_WRITE)
        self.may_decide = principal.can(Permission.COMPLIANCE_EXCEPTIONS_APPROVE)
        self.model = ExceptionTableModel(self)

        self.heading = plain_label("Exceptions", "paneTitle")
        self.filter = QComboBox()
        self.filter.setObjectName("exceptionFilter")
        for text, statuses in FILTERS:
            self.filter.addItem(text, statuses)
        self.filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.note = plain_label("", "commandNote")
        self.request_button = QPushButton("Request…")
        self.request_button.setObjectName("requestException")
        self.request_button.setToolTip("Exempt a device group from a rule (for one device: right-click it in Devices)")
        self.request_button.setVisible(self.may_request)
        self.request_button.clicked.connect(lambda: self.request_for_group())
        self.approve_button = QPushButton("Approve…")
        self.approve_button.setObjectName("approveException")
        self.approve_button.clicked.connect(lambda: self.decide("Approve"))
        self.reject_button = QPushButton("Reject…")
        self.reject_button.setObjectName("rejectException")
        self.reject_button.clicked.connect(lambda: self.decide("Reject"))
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.setObjectName("revokeException")
        self.revoke_button.clicked.connect(lambda: self.decide("Revoke"))
        for button in (self.approve_button, self.reject_button):
            button.setVisible(self.may_decide)
        self.revoke_button.setVisible(self.may_decide or self.may_request)
        self.refresh_button = QToolButton()
        self.refresh_button.setIcon(icon("refresh"))
        self.refresh_button.setToolTip("Refresh (F5)")
        self.refresh_button.clicked.connect(lambda: self.refresh())
        header = QHBoxLayout()
        header.setSpacing(10)
        header.addWidget(self.heading)
        header.addSpacing(16)
        header.addWidget(self.filter)
        header.addStretch(1)
        header.addWidget(self.note)
        for widget in (
            self.request_button,
            self.approve_button,
            self.reject_button,
            self.revoke_button,
            self.refresh_button,
        ):
            header.addWidget(widget)

        self.hint = plain_label(
            "A device or group exempted from one rule, for a stated reason, until a date. Requests apply once a "
            "security officer approves them; they end by themselves on their date.",
            "mutedText",
            wrap=True,
        )
        self.table = QTableView()
        self.table.setObjectName("exceptionTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(28)
        head = self.table.horizontalHeader()
        head.setStretchLastSection(True)
        head.setHighlightSections(False)
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for i, width in enumerate((90, 210, 230, 140, 120, 120)):
            head.resizeSection(i, width)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.empty_hint = plain_label("No exceptions here.", "mutedText")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setVisible(False)
        overlay = QVBoxLayout(self.table.viewport())
        overlay.addWidget(self.empty_hint, 0, Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(header)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        self._update_buttons()

    # ---- loading -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the list for the chosen filter."""
        service, principal = self.ctx.services.exceptions, self.ctx.session.principal
        statuses = self.filter.currentData()
        wanted = statuses if isinstance(statuses, frozenset) else None
        self.ctx.runner.submit(
            lambda: service.list_exceptions(principal, wanted),
            on_done=self._arrived,
            on_error=self.ctx.errors.report,
        )

    def _arrived(self, rows: tuple[ExceptionInfo, ...]) -> None:
        self.model.set_rows(rows)
        self.empty_hint.setVisible(not rows)
        self._update_buttons()
        self.loaded.emit(len(rows))

    # ---- selection -----------------------------------------------------------------------------------

    def selected(self) -> ExceptionInfo | None:
        """The selected exception."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        info = self.selected()
        mine = info is not None and info.requested_by == self.ctx.session.username
        pending = info is not None and info.status is ExceptionStatus.PENDING
        active = info is not None and info.status is ExceptionStatus.ACTIVE
        self.approve_button.setEnabled(pending and self.may_decide and not mine)
        self.reject_button.setEnabled(pending and self.may_decide and not mine)
        self.approve_button.setToolTip("You cannot approve your own request." if mine else "Approve the request")
        withdraw = mine and pending
        self.revoke_button.setText("Withdraw…" if withdraw else "Revoke…")
        self.revoke_button.setEnabled(withdraw or (active and (self.may_decide or mine)))

    # ---- actions -------------------------------------------------------------------------------------

    def request_for_group(self) -> None:
        """Ask for an exception for a device group (groups load first)."""
        devices, principal = self.ctx.services.devices, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: devices.groups(principal), on_done=self._open_group_request, on_error=self.ctx.errors.report
        )

    def _open_group_request(self, groups: tuple[object, ...]) -> None:
        choices = tuple((int(getattr(g, "id", 0)), str(getattr(g, "name", ""))) for g in groups)
        dialog = RequestExceptionDialog("a device group", (), _today(), self, groups=choices)
        service, principal = self.ctx.services.exceptions, self.ctx.session.principal

        def send() -> None:
            group, rule, reason, until = dialog.group_id(), dialog.rule_id(), dialog.reason(), dialog.until()
            self.ctx.runner.submit(
                lambda: service.request(principal, rule_id=rule, reason=reason, until=until, group_id=group),
                on_done=lambda info: self._changed(f"Requested exception {info.id}; it waits for approval."),
                on_error=self._failed,
            )

        dialog.accepted.connect(send)
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
        self.dialog_opened.emit(dialog)

    def decide(self, verb: str) -> None:
        """Open the decision dialog for the selected exception; on confirm, apply it."""
        info = self.selected()
        if info is None:
            return
        if verb == "Revoke" and info.status is ExceptionStatus.PENDING:
            verb = "Withdraw"
        dialog = ExceptionDecisionDialog(info, verb, self)
        dialog.accepted.connect(lambda: self._decided(info, verb, dialog.note()))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
        self.dialog_opened.emit(dialog)

    def _decided(self, info: ExceptionInfo, verb: str, note: str) -> None:
        service, principal = self.ctx.services.exceptions, self.ctx.session.principal
        call = {"Approve": service.approve, "Reject": service.reject}.get(verb, service.revoke)
        past = {"Approve": "Approved", "Reject": "Rejected", "Withdraw": "Withdrew"}.get(verb, "Revoked")
        self.ctx.runner.submit(
            lambda: call(principal, info.id, note),
            on_done=lambda done: self._changed(f"{past} exception {done.id} ({done.rule_id})."),
            on_error=self._failed,
        )

    def _changed(self, text: str) -> None:
        self.note.setText(text)
        self.changed.emit(text)
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self.ctx.errors.report(exc)
        self.refresh()
