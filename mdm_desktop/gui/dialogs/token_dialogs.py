"""Enrolment token dialogs: make a token, then show it once as a QR code and as text.

:class:`CreateTokenDialog` collects the choices and stays open while the page makes the token
(off the GUI thread); a refusal is shown inside it. :class:`IssuedTokenDialog` shows the new token
once: the QR code (the same payload as ``mdm-desktop token create --qr``: gateway address, token
and CA fingerprint), the token as text, Copy buttons and "Save QR as PNG…".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.devices import Ownership
from mdm_desktop.exports.enrolment_qr import qr_png, save_qr_png
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.panes.catalog_pane import plain_label
from mdm_desktop.services.dto import GroupInfo
from mdm_desktop.services.enrollment import BYOD_NOTICE, MAX_TOKEN_USES, IssuedToken

LIFETIMES: tuple[tuple[str, dt.timedelta], ...] = (
    ("30 minutes", dt.timedelta(minutes=30)),
    ("1 hour", dt.timedelta(hours=1)),
    ("8 hours (a shift)", dt.timedelta(hours=8)),
    ("24 hours", dt.timedelta(hours=24)),
    ("7 days", dt.timedelta(days=7)),
    ("30 days", dt.timedelta(days=30)),
    ("90 days", dt.timedelta(days=90)),
)
DEFAULT_LIFETIME = 1
"""Index of "1 hour": a token should live no longer than the enrolment session it is made for."""

SHOWN_ONCE_TEXT = (
    "This token is shown only now. Scan or save the QR code, or copy the token, before closing: "
    "the clinic keeps only a hash of it and cannot show it again."
)


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """What the Create dialog asks for."""

    group_id: int | None
    uses: int
    lifetime: dt.timedelta
    ownership: Ownership
    server_url: str


class CreateTokenDialog(QDialog):
    """Group, number of uses, lifetime, corporate or BYOD, and the gateway address devices use.

    Signals:
        create_requested(TokenRequest): Create was clicked with valid choices.
    """

    create_requested = Signal(object)

    def __init__(self, groups: tuple[GroupInfo, ...], server_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("createTokenDialog")
        self.setWindowTitle("Create enrolment token")
        self.setMinimumWidth(680)

        self.group_combo = QComboBox()
        self.group_combo.addItem("(no group)", None)
        for group in groups:
            self.group_combo.addItem(group.name, group.id)
        self.uses_spin = QSpinBox()
        self.uses_spin.setRange(1, MAX_TOKEN_USES)
        self.uses_spin.setValue(1)
        self.uses_spin.setToolTip("How many devices may enrol with this token (1 to 10,000).")
        self.lifetime_combo = QComboBox()
        for label, span in LIFETIMES:
            self.lifetime_combo.addItem(label, span)
        self.lifetime_combo.setCurrentIndex(DEFAULT_LIFETIME)
        self.corporate_radio = QRadioButton("Corporate (owned by the clinic)")
        self.byod_radio = QRadioButton("BYOD (owned by the person)")
        self.corporate_radio.setChecked(True)
        ownership = QButtonGroup(self)
        ownership.addButton(self.corporate_radio)
        ownership.addButton(self.byod_radio)
        ownership_row = QHBoxLayout()
        ownership_row.addWidget(self.corporate_radio)
        ownership_row.addWidget(self.byod_radio)
        ownership_row.addStretch(1)
        self.server_edit = QLineEdit(server_url)
        self.server_edit.setPlaceholderText("https://gateway.clinic.lan:8443")
        self.server_edit.setToolTip("The address devices use to reach the gateway; it goes into the QR code.")

        form = QFormLayout()
        form.addRow("Device group:", self.group_combo)
        form.addRow("Devices that may enrol:", self.uses_spin)
        form.addRow("Valid for:", self.lifetime_combo)
        form.addRow("Ownership:", ownership_row)
        form.addRow("Gateway address:", self.server_edit)

        self.notice_label = plain_label(
            "Devices enrolled with a BYOD token show their user this notice, which they must accept:\n\n" + BYOD_NOTICE,
            "byodNotice",
        )
        self.notice_label.setWordWrap(True)
        self.notice_label.setVisible(False)
        self.byod_radio.toggled.connect(self._ownership_changed)
        self.error_label = plain_label("", "inlineError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #a12a2a;")
        self.error_label.setVisible(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create token", QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setDefault(True)
        self.buttons.accepted.connect(self._create)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def _ownership_changed(self, byod: bool) -> None:
        self.notice_label.setVisible(byod)
        self.adjustSize()

    def request(self) -> TokenRequest:
        """The choices as they stand."""
        group = self.group_combo.currentData()
        span = self.lifetime_combo.currentData()
        assert isinstance(span, dt.timedelta)
        return TokenRequest(
            group_id=group if isinstance(group, int) else None,
            uses=self.uses_spin.value(),
            lifetime=span,
            ownership=Ownership.BYOD if self.byod_radio.isChecked() else Ownership.CORPORATE,
            server_url=self.server_edit.text().strip(),
        )

    def _create(self) -> None:
        request = self.request()
        if not request.server_url:
            self.show_error(
                "Give the gateway address devices use (https://HOST:PORT), or start the gateway on this page first."
            )
            return
        self.set_busy(True)
        self.create_requested.emit(request)

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while the token is being made."""
        self.create_button.setEnabled(not busy)
        self.create_button.setText("Creating…" if busy else "Create token")
        if busy:
            self.error_label.setVisible(False)

    def show_error(self, text: str) -> None:
        """Say what was wrong inside the dialog; the choices stay as they were."""
        self.set_busy(False)
        self.error_label.setText(text)
        self.error_label.setVisible(True)


class IssuedTokenDialog(QDialog):
    """A new token, shown once: QR code, text, Copy and Save QR as PNG."""

    def __init__(self, issued: IssuedToken, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("issuedTokenDialog")
        self.setWindowTitle("Enrolment token")
        self.issued = issued
        self.saved_to: Path | None = None
        info = issued.info

        self.qr_label = QLabel()
        self.qr_label.setObjectName("qrCode")
        pixmap = QPixmap()
        pixmap.loadFromData(qr_png(issued.qr_payload, scale=5, border=3), "PNG")
        self.qr_label.setPixmap(pixmap)
        self.qr_label.setToolTip("Scan with the device, or save it as a PNG to print.")

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.token_edit = QLineEdit(issued.token)
        self.token_edit.setReadOnly(True)
        self.token_edit.setFont(mono)
        self.token_edit.setObjectName("tokenText")
        self.payload_edit = QLineEdit(issued.qr_payload)
        self.payload_edit.setReadOnly(True)
        self.payload_edit.setFont(mono)
        self.payload_edit.setToolTip("The QR code's text: mdm-desktop agent enroll --token '<this text>'")
        self.payload_edit.setCursorPosition(0)
        self.fingerprint_edit = QLineEdit(issued.ca_fingerprint)
        self.fingerprint_edit.setReadOnly(True)
        self.fingerprint_edit.setFont(mono)
        self.fingerprint_edit.setToolTip("The site CA's SHA-256: the device checks the gateway against it")
        self.fingerprint_edit.setCursorPosition(0)

        facts = QGridLayout()
        facts.setColumnStretch(1, 1)
        rows = (
            ("Gateway", issued.server_url),
            ("Group", info.group_name or "(no group)"),
            ("Ownership", info.ownership.label),
            ("Devices", f"{info.uses_allowed:,} may enrol"),
            ("Valid until", format_local_time(info.expires_at)),
        )
        for number, (name, value) in enumerate(rows):
            facts.addWidget(plain_label(f"{name}:"), number, 0)
            shown = plain_label(value)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            facts.addWidget(shown, number, 1)

        self.warning_label = plain_label(SHOWN_ONCE_TEXT, "shownOnceWarning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(
            "background: #fff4d6; border: 1px solid #e0b341; border-radius: 4px; padding: 8px; color: #5a3d00;"
        )
        self.copy_token_button = QPushButton("Copy token")
        self.copy_token_button.clicked.connect(lambda: self._copy(issued.token, "Token copied."))
        self.copy_payload_button = QPushButton("Copy enrolment text")
        self.copy_payload_button.setToolTip("Gateway address, token and CA fingerprint in one line (the QR's text)")
        self.copy_payload_button.clicked.connect(lambda: self._copy(issued.qr_payload, "Enrolment text copied."))
        self.save_button = QPushButton("Save QR as PNG…")
        self.save_button.clicked.connect(self.save_qr)
        self.status_label = plain_label("", "tokenDialogStatus")
        self.status_label.setWordWrap(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        text_column = QVBoxLayout()
        text_column.addWidget(plain_label("Token:"))
        text_column.addWidget(self.token_edit)
        text_column.addWidget(plain_label("Enrolment text (for the desktop agent):"))
        text_column.addWidget(self.payload_edit)
        text_column.addWidget(plain_label("Site CA fingerprint (SHA-256):"))
        text_column.addWidget(self.fingerprint_edit)
        text_column.addLayout(facts)
        text_column.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.qr_label, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(text_column, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_token_button)
        buttons.addWidget(self.copy_payload_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning_label)
        layout.addLayout(top)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.setMinimumWidth(860)

    def _copy(self, text: str, done: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.status_label.setText(done)

    def choose_png_path(self) -> str:
        """Ask where to save the QR code; ``""`` when the person declines."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
        suggested = str(Path(folder) / f"enrolment-{self.issued.info.uid[:8]}.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save QR code", suggested, "PNG image (*.png)")
        return path

    def save_qr(self) -> None:
        """Save the QR code as a PNG file the person chooses (``.png`` is added when missing)."""
        chosen = self.choose_png_path()
        if not chosen:
            return
        path = Path(chosen)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        try:
            save_qr_png(self.issued.qr_payload, path)
        except OSError as exc:
            self.status_label.setText(f"Could not save {path}: {exc.strerror or exc}. Choose another folder.")
            return
        self.saved_to = path
        self.status_label.setText(f"QR code saved to {path}.")
