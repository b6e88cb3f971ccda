"""Dialogs for compliance exceptions: ask for one, and decide on (approve, reject, revoke) one."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.compliance_exceptions import MAX_DAYS, MAX_REASON, request_problems
from mdm_desktop.gui.dialogs.login_dialog import dialog_header, plain_label
from mdm_desktop.gui.resources import app_icon
from mdm_desktop.services.exception_dto import ExceptionInfo

DEFAULT_DAYS = 30


def _buttons(dialog: QDialog, text: str, object_name: str) -> tuple[QDialogButtonBox, QPushButton]:
    box = QDialogButtonBox()
    confirm = QPushButton(text)
    confirm.setObjectName(object_name)
    box.addButton(confirm, QDialogButtonBox.ButtonRole.AcceptRole)
    box.addButton(QDialogButtonBox.StandardButton.Cancel)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box, confirm


class RequestExceptionDialog(QDialog):
    """Ask for a device (or group) to be exempted from one rule, with a reason, until a date.

    Args:
        subject: What is exempted, in words ("device Ward 3 phone").
        rules: Rules to offer, as ``(rule id, reason in words)`` (the device's failing rules); the rule
            box also takes a typed rule id.
        today: Today (UTC), for the date range.
        parent: Owner window.
        groups: When given, the subject is a device group chosen here (``(id, name)`` pairs).
    """

    def __init__(
        self,
        subject: str,
        rules: tuple[tuple[str, str], ...],
        today: dt.date,
        parent: QWidget | None = None,
        groups: tuple[tuple[int, str], ...] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("requestExceptionDialog")
        self.setWindowTitle("Request an exception · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setMinimumWidth(560)
        self._today = today
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(12)
        layout.addWidget(
            dialog_header(
                f"Exempt {subject} from a rule",
                "A security officer must approve the request before it applies. It ends by itself on the date.",
                "",
            )
        )
        form = QFormLayout()
        self.group_box = QComboBox()
        self.group_box.setObjectName("exceptionGroup")
        for group_id, name in groups or ():
            self.group_box.addItem(name, group_id)
        if groups is not None:
            form.addRow("&Group:", self.group_box)
        self.rule_box = QComboBox()
        self.rule_box.setObjectName("exceptionRule")
        self.rule_box.setEditable(True)
        for rule_id, detail in rules:
            self.rule_box.addItem(rule_id, detail)
        self.rule_box.setToolTip("A failing rule of this device, or type a rule id")
        self.rule_detail = plain_label(rules[0][1] if rules else "", "mutedText", wrap=True)
        self.rule_box.currentIndexChanged.connect(lambda i: self.rule_detail.setText(self.rule_box.itemData(i) or ""))
        form.addRow("&Rule:", self.rule_box)
        form.addRow("", self.rule_detail)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setObjectName("exceptionReason")
        self.reason_edit.setPlaceholderText("Why the device cannot meet the rule now, and what is done instead")
        self.reason_edit.setFixedHeight(90)
        form.addRow("R&eason:", self.reason_edit)
        self.until_edit = QDateEdit()
        self.until_edit.setObjectName("exceptionUntil")
        self.until_edit.setCalendarPopup(True)
        self.until_edit.setDisplayFormat("yyyy-MM-dd")
        start = QDate(today.year, today.month, today.day)
        self.until_edit.setDateRange(start, start.addDays(MAX_DAYS))
        self.until_edit.setDate(start.addDays(DEFAULT_DAYS))
        form.addRow("&Until (end of day, UTC):", self.until_edit)
        layout.addLayout(form)
        self.problem = plain_label("", "errorText", wrap=True)
        self.problem.setVisible(False)
        layout.addWidget(self.problem)
        self.reason_edit.textChanged.connect(lambda: self.problem.setVisible(False))
        self.rule_box.editTextChanged.connect(lambda _t: self.problem.setVisible(False))
        self.buttons, self.confirm_button = _buttons(self, "Request", "primaryButton")
        layout.addWidget(self.buttons)

    def group_id(self) -> int | None:
        """The chosen group (``None`` when the dialog is for a device)."""
        data = self.group_box.currentData()
        return data if isinstance(data, int) else None

    def rule_id(self) -> str:
        """The rule as chosen or typed."""
        return self.rule_box.currentText().strip()

    def reason(self) -> str:
        """The reason, spaces tidied."""
        return " ".join(self.reason_edit.toPlainText().split())

    def until(self) -> dt.date:
        """The last day the exception applies."""
        d = self.until_edit.date()
        return dt.date(d.year(), d.month(), d.day())

    def accept(self) -> None:
        """Close only when the request is complete; otherwise say what is missing."""
        now = dt.datetime.combine(self._today, dt.time(12), tzinfo=dt.UTC)
        problems = request_problems(self.rule_id(), self.reason(), self.until(), now)
        if self.group_box.count() and self.group_id() is None:
            problems.insert(0, "Choose the group.")
        if problems:
            self.problem.setText(" ".join(problems))
            self.problem.setVisible(True)
            return
        super().accept()


class ExceptionDecisionDialog(QDialog):
    """Approve, reject or revoke an exception, naming what it exempts and why.

    Args:
        info: The exception.
        verb: ``"Approve"``, ``"Reject"``, ``"Revoke"`` or ``"Withdraw"``.
        parent: Owner window.
    """

    def __init__(self, info: ExceptionInfo, verb: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exceptionDecisionDialog")
        title = f"{verb}: {info.subject} from {info.rule_id}"
        self.setWindowTitle(f"{title} · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setModal(True)
        self.setMinimumWidth(520)
        effect = {
            "Approve": "The rule stops counting against the device until the end date; escalation stops.",
            "Reject": "Nothing is exempted.",
            "Revoke": "The rule counts again at the next evaluation; escalation starts from the beginning.",
            "Withdraw": "Your request is withdrawn.",
        }.get(verb, "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 18)
        layout.setSpacing(12)
        layout.addWidget(dialog_header(title, f"Requested by {info.requested_by}. {effect}", ""))
        form = QFormLayout()
        form.addRow("Reason:", plain_label(info.reason, "", wrap=True))
        form.addRow("Until:", plain_label(f"{info.last_day.isoformat()} (end of day, UTC)", ""))
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("exceptionNote")
        self.note_edit.setMaxLength(MAX_REASON)
        self.note_edit.setPlaceholderText("What you checked (kept in the audit log)")
        form.addRow("&Note:", self.note_edit)
        layout.addLayout(form)
        danger = verb in ("Approve", "Revoke")
        self.buttons, self.confirm_button = _buttons(self, verb, "dangerButton" if danger else "primaryButton")
        layout.addWidget(self.buttons)

    def note(self) -> str:
        """The note, spaces tidied."""
        return " ".join(self.note_edit.text().split())
