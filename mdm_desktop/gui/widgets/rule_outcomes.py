"""Every compliance rule that applies to a device, with its status and reason in words (device detail)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from mdm_desktop.gui.models.audit_table_model import plain_tooltip
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.services.compliance_dto import RuleOutcomeInfo

STATUS_WORDS = {"passing": "Passing", "failing": "Failing", "unknown": "Unknown", "exempt": "Exempt"}
STATUS_COLORS = {"passing": "#2e7d4f", "failing": "#b3261e", "unknown": "#6b7280", "exempt": "#8a6d1f"}
ORDER = {"failing": 0, "unknown": 1, "exempt": 2, "passing": 3}


def status_text(rule: RuleOutcomeInfo) -> str:
    """The status in words, with the grace period or the start of the failure."""
    word = STATUS_WORDS.get(rule.status, rule.status)
    if rule.status == "failing" and rule.in_grace:
        word = "Failing (in grace)"
    return word


def _plain(text: str, object_name: str = "") -> QLabel:
    """A label that never renders rich text (device-reported values pass through the details)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if object_name:
        label.setObjectName(object_name)
    return label


class RuleOutcomeList(QWidget):
    """A table-like grid: status, rule, reason (failing rules first); citations in each rule's tooltip."""

    def __init__(self, rules: Sequence[RuleOutcomeInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ruleOutcomes")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 4, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(6)
        title = _plain(f"Rules checked ({len(rules)})", "sectionTitle")
        grid.addWidget(title, 0, 0, 1, 3)
        self.rows: list[tuple[str, str, str]] = []
        ordered = sorted(rules, key=lambda r: (ORDER.get(r.status, 9), r.label))
        for i, rule in enumerate(ordered, start=1):
            status = _plain(f"● {status_text(rule)}", "ruleStatus")
            status.setStyleSheet(f"color: {STATUS_COLORS.get(rule.status, '#6b7280')}; font-weight: 600;")
            status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            label = _plain(rule.label, "ruleLabel")
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            tip = f"Rule {rule.rule_id}" + ("\n" + "\n".join(rule.citations) if rule.citations else "")
            label.setToolTip(plain_tooltip(tip))  # rule ids carry app identifiers: never rendered as HTML
            detail = rule.detail
            if rule.failing_since is not None:
                detail += f" Failing since {format_local_time(rule.failing_since)}."
            reason = _plain(detail, "ruleReason")
            reason.setWordWrap(True)
            reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(status, i, 0)
            grid.addWidget(label, i, 1)
            grid.addWidget(reason, i, 2)
            self.rows.append((status_text(rule), rule.label, detail))
        grid.setColumnStretch(2, 1)
