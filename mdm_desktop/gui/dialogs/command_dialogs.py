"""Dialogs of remote commands: confirm a send (naming the devices), decide an approval request.

Both are opened with ``open()`` (never blocking) and report through ``accepted``; the caller
reads :meth:`SendCommandDialog.payload` / :meth:`SendCommandDialog.reason` or
:meth:`ApprovalDecisionDialog.note`. Device names and reasons are shown as plain text.
Destructive commands need a typed reason (the confirming button stays disabled without one);
the fresh authenticator code is asked for afterwards by the window's step-up handler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.commands import MAX_MESSAGE, MAX_REASON, CommandType
from mdm_desktop.gui.dialogs.login_dialog import dialog_header, plain_label
from mdm_desktop.gui.models.commands_model import devices_text
from mdm_desktop.gui.resources import app_icon
from mdm_desktop.services.command_dto import ApprovalInfo
from mdm_desktop.services.dto import CatalogAppSummary

NAMES_SHOWN = 8

WHAT_IT_DOES: dict[CommandType, str] = {
    CommandType.LOCK: "The device locks its screen at once; the user unlocks it with their passcode.",
    CommandType.WIPE: "The device is erased to factory settings. Everything on it is lost, personal data too. "
    "A second administrator must approve this before anything is sent.",
    CommandType.SELECTIVE_WIPE: "Clinic apps, data and the managed container are removed; personal data stays.",
    CommandType.LOST_MODE: "The device locks and shows your message and phone number; it reports its location "
    "while in lost mode (and only then).",
    CommandType.OS_UPDATE: "The device installs the newest operating system update it is offered.",
    CommandType.INSTALL_APP: "The device downloads the newest build of the catalog app and installs it.",
    CommandType.REMOVE_APP: "The device removes the app and its managed data.",
    CommandType.REFRESH_INVENTORY: "The device reports its inventory at its next check-in.",
    CommandType.MESSAGE: "The device shows your message to its user.",
    CommandType.RESTART: "The device restarts; unsaved work on it may be lost.",
    CommandType.RETIRE: "The device leaves management: clinic data and profiles are removed and its certificate "
    "is revoked. A second administrator must approve this before anything is sent.",
}


def names_list(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """One device name a line, the first ``shown`` of them, then ``... and N more``."""
    lines = [" ".join(n.split()) for n in names[:shown]]
    if len(names) > shown:
        lines.append(f"… and {len(names) - shown} more")
    return "\n".join(lines)


VERBS: dict[CommandType, str] = {
    CommandType.LOST_MODE: "Lost mode on {}",
    CommandType.OS_UPDATE: "Update {}",
    CommandType.INSTALL_APP: "Install app on {}",
    CommandType.REMOVE_APP: "Remove app from {}",
    CommandType.REFRESH_INVENTORY: "Refresh {}",
    CommandType.MESSAGE: "Message {}",
}


def send_title(ctype: CommandType, count: int) -> str:
    """``"Lock 1 device"`` / ``"Wipe 12 devices"`` / ``"Install app on 3 devices"``."""
    devices = f"{count} device{'s' if count != 1 else ''}"
    return VERBS.get(ctype, ctype.label + " {}").format(devices)


class SendCommandDialog(QDialog):
    """Confirms a command for the named devices and collects its options and reason.

    Args:
        ctype: The command.
        device_names: Names of the target devices (all are counted, the first few listed).
        apps: Catalog apps for install / remove (ignored for other commands).
        needs_approval: Say that a second administrator must approve before anything is sent.
        parent: Owner window.
    """

    def __init__(
        self,
        ctype: CommandType,
        device_names: Sequence[str],
        apps: Sequence[CatalogAppSummary] = (),
        *,
        needs_approval: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctype = ctype
        self.setObjectName("sendCommandDialog")
        count = len(device_names)
        self.setWindowTitle(f"{send_title(ctype, count)} · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setMinimumWidth(520)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(12)
        layout.addWidget(dialog_header(send_title(ctype, count), WHAT_IT_DOES[ctype], ""))
        layout.addWidget(plain_label("Devices:" if count != 1 else "Device:", "fieldLabel"))
        self.devices_label = plain_label(names_list(device_names), "deviceNames", wrap=True)
        self.devices_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.devices_label)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setObjectName("commandText")
        self.text_edit.setFixedHeight(70)
        self.phone_edit = QLineEdit()
        self.phone_edit.setObjectName("commandPhone")
        self.phone_edit.setMaxLength(64)
        self.app_combo = QComboBox()
        self.app_combo.setObjectName("commandApp")
        for app in apps:
            version = f" {app.latest_version}" if app.latest_version else ""
            self.app_combo.addItem(f"{app.name}{version} ({app.platform.label})", app.id)
        self.later = QCheckBox("Schedule for")
        self.later.setObjectName("commandScheduled")
        self.at_edit = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600))
        self.at_edit.setCalendarPopup(True)
        self.at_edit.setEnabled(False)
        self.later.toggled.connect(self.at_edit.setEnabled)
        self.end_lost_mode = QCheckBox("End lost mode (and forget the location)")
        self.end_lost_mode.setObjectName("endLostMode")
        if ctype is CommandType.MESSAGE:
            self.text_edit.setPlaceholderText("What the device shows its user")
            form.addRow("&Message:", self.text_edit)
        elif ctype is CommandType.LOST_MODE:
            self.text_edit.setPlaceholderText("e.g. This tablet belongs to St Mary's Clinic. Please call us.")
            form.addRow("&Message:", self.text_edit)
            self.phone_edit.setPlaceholderText("+44 20 7946 0000")
            form.addRow("&Phone:", self.phone_edit)
            form.addRow("", self.end_lost_mode)
        elif ctype in (CommandType.INSTALL_APP, CommandType.REMOVE_APP):
            form.addRow("&App:", self.app_combo)
        elif ctype is CommandType.OS_UPDATE:
            form.addRow(self.later, self.at_edit)
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("commandReason")
        self.reason_edit.setMaxLength(MAX_REASON)
        self.reason_edit.setPlaceholderText(
            "Required: why (kept in the audit log)" if ctype.destructive else "Optional: why (kept in the audit log)"
        )
        form.addRow("&Reason:", self.reason_edit)
        layout.addLayout(form)

        self.warning = plain_label("", "warningText", wrap=True)
        if ctype.destructive:
            self.warning.setText(
                "This cannot be undone. You will be asked for a fresh code from your authenticator app."
                + (" A second administrator must then approve it." if needs_approval else "")
            )
        elif needs_approval:
            self.warning.setText("A second administrator must approve this before anything is sent.")
        self.warning.setVisible(bool(self.warning.text()))
        layout.addWidget(self.warning)
        self.problem = plain_label("", "errorText", wrap=True)
        self.problem.setVisible(False)
        layout.addWidget(self.problem)

        self.buttons = QDialogButtonBox()
        verb = "Request approval" if needs_approval else send_title(ctype, count)
        self.send_button = QPushButton(verb)
        self.send_button.setObjectName("dangerButton" if ctype.destructive else "primaryButton")
        self.buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(ctype.destructive)
        self.send_button.setDefault(not ctype.destructive)
        self.buttons.accepted.connect(self._accept_if_complete)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        for signal in (self.reason_edit.textChanged, self.text_edit.textChanged, self.end_lost_mode.toggled):
            signal.connect(self._update)
        self._update()

    # ---- values ----------------------------------------------------------------------------------

    def reason(self) -> str:
        """The reason as typed (spaces tidied)."""
        return " ".join(self.reason_edit.text().split())

    def payload(self) -> dict[str, Any]:
        """The command's options (``app_id`` for a catalog app)."""
        text = self.text_edit.toPlainText().strip()
        if self.ctype is CommandType.MESSAGE:
            return {"text": text}
        if self.ctype is CommandType.LOST_MODE:
            if self.end_lost_mode.isChecked():
                return {"enable": False}
            out: dict[str, Any] = {"message": text} if text else {}
            if self.phone_edit.text().strip():
                out["phone"] = self.phone_edit.text().strip()
            return out
        if self.ctype in (CommandType.INSTALL_APP, CommandType.REMOVE_APP):
            app_id = self.app_combo.currentData()
            return {"app_id": int(app_id)} if app_id is not None else {}
        if self.ctype is CommandType.OS_UPDATE and self.later.isChecked():
            when = self.at_edit.dateTime().toSecsSinceEpoch()
            return {"at": dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="minutes")}
        return {}

    def missing(self) -> str:
        """What must still be filled in before sending (empty when complete)."""
        if self.ctype.destructive and not self.reason():
            return "Type the reason for this command."
        if self.ctype is CommandType.MESSAGE and not self.text_edit.toPlainText().strip():
            return "Type the message."
        if len(self.text_edit.toPlainText()) > MAX_MESSAGE:
            return f"The message is longer than {MAX_MESSAGE} characters."
        if self.ctype in (CommandType.INSTALL_APP, CommandType.REMOVE_APP) and self.app_combo.count() == 0:
            return "The app catalog has no app for these devices yet."
        return ""

    def _update(self) -> None:
        self.send_button.setEnabled(not self.missing())
        self.text_edit.setEnabled(not self.end_lost_mode.isChecked())
        self.phone_edit.setEnabled(not self.end_lost_mode.isChecked())

    def _accept_if_complete(self) -> None:
        problem = self.missing()
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        if not problem:
            self.accept()


class ApprovalDecisionDialog(QDialog):
    """Approve or reject a guarded request, naming its command, devices, requester and reason.

    Args:
        approval: The request.
        approve: ``True`` to approve (the commands are sent), ``False`` to reject.
        parent: Owner window.
    """

    def __init__(self, approval: ApprovalInfo, approve: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("approvalDecisionDialog")
        verb = "Approve" if approve else "Reject"
        count = len(approval.device_ids)
        title = f"{verb}: {approval.type.label} on {count} device{'s' if count != 1 else ''}"
        self.setWindowTitle(f"{title} · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setMinimumWidth(520)
        subtitle = (
            f"Requested by {approval.requested_by}. Approving sends the command to every device below at once."
            if approve
            else f"Requested by {approval.requested_by}. Rejecting sends nothing."
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(12)
        layout.addWidget(dialog_header(title, subtitle, ""))
        form = QFormLayout()
        self.devices_label = plain_label(names_list(approval.device_names), "deviceNames", wrap=True)
        form.addRow("Devices:", self.devices_label)
        form.addRow("Reason:", plain_label(approval.reason, "", wrap=True))
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("decisionNote")
        self.note_edit.setMaxLength(1000)
        self.note_edit.setPlaceholderText("What you checked (kept in the audit log)")
        form.addRow("&Note:", self.note_edit)
        layout.addLayout(form)
        if approve:
            layout.addWidget(
                plain_label("You will be asked for a fresh code from your authenticator app.", "mutedText", wrap=True)
            )
        self.buttons = QDialogButtonBox()
        self.confirm_button = QPushButton(verb)
        self.confirm_button.setObjectName("dangerButton" if approve and approval.type.destructive else "primaryButton")
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def note(self) -> str:
        """The note as typed (spaces tidied)."""
        return " ".join(self.note_edit.text().split())


def approval_summary(approval: ApprovalInfo) -> str:
    """One line for a status bar: ``Wipe on Ward phone 1 waits for a second administrator``."""
    return f"{approval.type.label} on {devices_text(approval.device_names)} waits for a second administrator."
