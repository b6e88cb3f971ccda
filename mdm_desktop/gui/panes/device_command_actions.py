"""Remote commands on the devices selected in a table: menu, context menu, confirmation, progress.

:class:`DeviceCommandActions` owns one :class:`QAction` per command type (disabled for roles
that may not send it and while nothing is selected), a menu shared by the toolbar button and
the table's context menu, and the flow of a send:

1. Prepare in the runner (catalog apps for install / remove; the guard-rail settings for
   destructive commands, to say whether a second administrator must approve).
2. :class:`~mdm_desktop.gui.dialogs.command_dialogs.SendCommandDialog` names the devices and
   collects the options and the reason (typed, for destructive commands).
3. Send in the runner. The window's step-up handler asks for a fresh code when the service
   wants one. Everyday commands to many devices go in batches of :data:`BATCH` with a
   progress dialog that can stop between batches; destructive commands always go in one call
   (so the approval threshold sees every device).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMenu, QProgressDialog, QTableView, QToolButton, QWidget

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.commands import CommandType, needs_approval
from mdm_desktop.domain.devices import LifecycleStatus
from mdm_desktop.gui.dialogs.command_dialogs import SendCommandDialog, send_title
from mdm_desktop.gui.errors import StepUpCancelledError
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import ROW_ROLE
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.resources import icon
from mdm_desktop.services.command_dto import DeviceLocation, SendResult
from mdm_desktop.services.dto import CatalogAppSummary, CommandInfo, DeviceDetail, DeviceRow

BATCH = 100
"""Devices per service call for everyday commands sent to a large selection."""

MENU_ORDER: tuple[CommandType | None, ...] = (
    CommandType.LOCK,
    CommandType.MESSAGE,
    CommandType.REFRESH_INVENTORY,
    CommandType.RESTART,
    None,
    CommandType.LOST_MODE,
    CommandType.OS_UPDATE,
    CommandType.INSTALL_APP,
    CommandType.REMOVE_APP,
    None,
    CommandType.SELECTIVE_WIPE,
    CommandType.WIPE,
    CommandType.RETIRE,
)
SHORTCUTS = {CommandType.LOCK: "Ctrl+Shift+K", CommandType.MESSAGE: "Ctrl+Shift+M"}


def action_text(ctype: CommandType) -> str:
    """Menu text: ``Lock…``; an ellipsis because every command asks for confirmation first."""
    return f"{ctype.label}…"


class DeviceCommandActions(QObject):
    """Sends commands to the devices selected in ``table`` (rows carry :class:`DeviceRow` in ``ROW_ROLE``).

    Signals:
        dialog_opened(object): a :class:`SendCommandDialog` opened (tests answer it).
        progress_opened(object): the batch :class:`QProgressDialog` opened.
        sent(object): a :class:`SendResult` (for batches: all commands queued) arrived.
        message(str): a one-line outcome for the status area.
    """

    dialog_opened = Signal(object)
    progress_opened = Signal(object)
    sent = Signal(object)
    message = Signal(str)

    def __init__(self, ctx: PaneContext, table: QTableView, parent: QWidget) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.table = table
        self._owner = parent
        self.dialog: SendCommandDialog | None = None
        self.progress: QProgressDialog | None = None
        self.actions: dict[CommandType, QAction] = {}
        self.menu = QMenu("Commands", parent)
        self.menu.setObjectName("deviceCommandsMenu")
        for ctype in MENU_ORDER:
            if ctype is None:
                self.menu.addSeparator()
                continue
            action = QAction(action_text(ctype), parent)
            action.setObjectName(f"command_{ctype.value}")
            if ctype in SHORTCUTS:
                action.setShortcut(SHORTCUTS[ctype])
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                parent.addAction(action)
            action.setStatusTip(f"Send '{ctype.label.lower()}' to the selected devices")
            action.triggered.connect(lambda _checked=False, t=ctype: self.start(t))
            self.menu.addAction(action)
            self.actions[ctype] = action
        self.button = QToolButton()
        self.button.setObjectName("deviceCommandsButton")
        self.button.setText("Commands")
        self.button.setIcon(icon("commands"))
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setMenu(self.menu)
        self.button.setToolTip("Send a command to the selected devices (also on the right-click menu)")
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        selection = table.selectionModel()
        if selection is not None:
            selection.selectionChanged.connect(lambda *_a: self.update_enabled())
        self.update_enabled()

    # ---- state -------------------------------------------------------------------------------------

    def allowed(self, ctype: CommandType) -> bool:
        """Whether the signed-in role may send ``ctype`` (the service decides in the end)."""
        permission = Permission.COMMANDS_SEND_DESTRUCTIVE if ctype.destructive else Permission.COMMANDS_SEND
        return self.ctx.session.principal.can(permission)

    def selected_devices(self) -> list[DeviceRow]:
        """The selected devices, in table order."""
        selection = self.table.selectionModel()
        if selection is None:
            return []
        rows = sorted(selection.selectedRows(), key=lambda i: i.row())
        found: list[DeviceRow] = []
        for index in rows:
            value: Any = index.data(ROW_ROLE)
            if isinstance(value, DeviceRow):
                found.append(value)
        return found

    def update_enabled(self) -> None:
        """Enable the actions the role allows while some device is selected."""
        any_selected = bool(self.selected_devices())
        for ctype, action in self.actions.items():
            action.setEnabled(any_selected and self.allowed(ctype))
        self.button.setEnabled(any_selected)

    def _context_menu(self, pos: QPoint) -> None:
        self.update_enabled()
        if self.selected_devices():
            self.menu.popup(self.table.viewport().mapToGlobal(pos))

    # ---- the send flow -----------------------------------------------------------------------------

    def start(self, ctype: CommandType, devices: Sequence[DeviceRow] | None = None) -> None:
        """Ask for confirmation (after loading what the dialog needs), then send."""
        targets = list(devices) if devices is not None else self.selected_devices()
        if not targets or not self.allowed(ctype):
            return
        services, principal = self.ctx.services, self.ctx.session.principal
        platforms = {d.platform for d in targets}

        def prepare() -> tuple[tuple[CatalogAppSummary, ...], int | None]:
            apps: tuple[CatalogAppSummary, ...] = ()
            if ctype in (CommandType.INSTALL_APP, CommandType.REMOVE_APP):
                apps = tuple(a for a in services.catalog.list_apps(principal) if a.platform in platforms)
            threshold = services.commands.guardrails(principal).approval_threshold if ctype.destructive else None
            return apps, threshold

        self.ctx.runner.submit(
            prepare, on_done=lambda r: self._confirm(ctype, targets, *r), on_error=self.ctx.errors.report
        )

    def _confirm(
        self, ctype: CommandType, targets: list[DeviceRow], apps: tuple[CatalogAppSummary, ...], threshold: int | None
    ) -> None:
        guarded = threshold is not None and needs_approval(ctype, len(targets), threshold)
        dialog = SendCommandDialog(ctype, [d.name for d in targets], apps, needs_approval=guarded, parent=self._owner)
        dialog.accepted.connect(lambda: self._send(ctype, targets, dialog.payload(), dialog.reason()))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        self.dialog = dialog
        dialog.open()
        self.dialog_opened.emit(dialog)

    def _send(self, ctype: CommandType, targets: list[DeviceRow], payload: dict[str, Any], reason: str) -> None:
        self.dialog = None
        ids = [d.id for d in targets]
        if ctype.destructive or len(ids) <= BATCH:
            commands, principal = self.ctx.services.commands, self.ctx.session.principal
            self.ctx.runner.submit(
                lambda: commands.send(principal, ids, ctype, payload, reason),
                on_done=self._done,
                on_error=self._failed,
            )
            return
        self._send_batches(ctype, ids, payload, reason)

    def _send_batches(self, ctype: CommandType, ids: list[int], payload: dict[str, Any], reason: str) -> None:
        progress = QProgressDialog(f"Sending '{ctype.label.lower()}' to {len(ids)} devices…", "Stop", 0, len(ids))
        progress.setObjectName("commandProgress")
        progress.setWindowTitle(f"{send_title(ctype, len(ids))} · MDM Desktop")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        progress.setValue(0)
        self.progress = progress
        queued: list[CommandInfo] = []
        batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

        def finish(stopped: bool) -> None:
            progress.close()
            progress.deleteLater()
            self.progress = None
            result = SendResult(commands=tuple(queued))
            self.sent.emit(result)
            left = len(ids) - len(queued)
            note = f"; stopped, {left} not sent" if stopped and left else ""
            self.message.emit(f"{ctype.label} queued for {len(queued)} of {len(ids)} devices{note}.")

        def next_batch() -> None:
            if progress.wasCanceled() or not batches:
                finish(progress.wasCanceled())
                return
            batch = batches.pop(0)
            commands, principal = self.ctx.services.commands, self.ctx.session.principal
            self.ctx.runner.submit(
                lambda: commands.send(principal, batch, ctype, payload, reason), on_done=arrived, on_error=failed
            )

        def arrived(result: SendResult) -> None:
            queued.extend(result.commands)
            progress.setValue(len(queued))
            next_batch()

        def failed(exc: BaseException) -> None:
            finish(True)
            self._failed(exc)

        progress.show()
        self.progress_opened.emit(progress)
        next_batch()

    def _done(self, result: SendResult) -> None:
        self.sent.emit(result)
        if result.approval is not None and not result.commands:
            a = result.approval
            self.message.emit(f"{a.type.label} waits for a second administrator's approval (request {a.id}).")
            return
        n = len(result.commands)
        if n == 1:
            self.message.emit(f"{result.commands[0].type.label} queued for {result.commands[0].device_name}.")
        elif n:
            self.message.emit(f"{result.commands[0].type.label} queued for {n} devices.")

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, StepUpCancelledError):
            self.message.emit("Not sent: the authenticator code was not given.")
            return
        self.ctx.errors.report(exc)


def location_text(location: DeviceLocation) -> str:
    """``Lost mode: last seen at 52.52000, 13.40500 (±12 m), 2026-12-04 20:55``."""
    accuracy = f" (±{location.accuracy_m:.0f} m)" if location.accuracy_m is not None else ""
    return (
        f"Lost mode: last seen at {location.latitude:.5f}, {location.longitude:.5f}{accuracy}, "
        f"{format_local_time(location.reported_at)}"
    )


class LostLocationNote(QObject):
    """A line under the device detail with the lost-mode location of the shown device (if any).

    Only for roles that may see device identifiers and location; each look is audited by the service.

    Signals:
        shown(str): the text now shown (empty: hidden).
    """

    shown = Signal(str)

    def __init__(self, ctx: PaneContext, parent: QWidget) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.label = QLabel()
        self.label.setObjectName("lostLocation")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setVisible(False)
        self._device_id: int | None = None

    def show_for(self, detail: DeviceDetail) -> None:
        """Fetch and show the location when ``detail`` is a lost device; hide it otherwise."""
        self._device_id = detail.row.id
        self._set("")
        if detail.row.status is not LifecycleStatus.LOST:
            return
        principal = self.ctx.session.principal
        if not principal.can(Permission.DEVICES_READ_IDENTIFIERS):
            return
        commands, device_id = self.ctx.services.commands, detail.row.id
        self.ctx.runner.submit(
            lambda: commands.lost_location(principal, device_id),
            on_done=lambda found: self._arrived(device_id, found),
            on_error=self.ctx.errors.report,
        )

    def _arrived(self, device_id: int, found: DeviceLocation | None) -> None:
        if device_id != self._device_id:
            return
        self._set(location_text(found) if found is not None else "Lost mode: no location reported yet.")

    def _set(self, text: str) -> None:
        self.label.setText(text)
        self.label.setVisible(bool(text))
        self.shown.emit(text)
