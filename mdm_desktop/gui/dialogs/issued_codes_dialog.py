"""Codes shown exactly once outside the set-up wizard (a new emergency code).

The dialog can be closed only after the person ticks "I have stored it": the code is never shown again and
the store keeps only its hash.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from mdm_desktop.gui.dialogs.setup_wizard import STORED_EMERGENCY, CodesPanel, emergency_code_file_text
from mdm_desktop.services.dto import IssuedCodes


class EmergencyCodeDialog(QDialog):
    """Shows a newly created emergency (break-glass) code once, with Copy / Save and a required check box."""

    def __init__(self, issued: IssuedCodes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emergencyCodeDialog")
        self.setWindowTitle("New emergency access code")
        explanation = QLabel(
            "This is the new emergency access code. The previous unused code no longer works. Print it or write "
            "it down, seal it in an envelope and keep it in the clinic safe. It is shown only now."
        )
        explanation.setWordWrap(True)
        self.panel = CodesPanel(STORED_EMERGENCY, columns=1, big=True)
        self.panel.suggested_name = "mdm-desktop-emergency-code.txt"
        self.panel.set_codes(issued.codes, emergency_code_file_text(issued))
        self.buttons = QDialogButtonBox()
        self.done_button: QPushButton = self.buttons.addButton("Done", QDialogButtonBox.ButtonRole.AcceptRole)
        self.done_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.panel.stored_changed.connect(self.done_button.setEnabled)
        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addWidget(self.panel)
        layout.addWidget(self.buttons)
        self.resize(560, 320)

    def reject(self) -> None:
        """Escape and the close button work only once the code is stored."""
        if self.panel.stored.isChecked():
            super().reject()
