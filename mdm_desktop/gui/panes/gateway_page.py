"""The Gateway page: run the device gateway inside the console, and make and revoke enrolment tokens.

Top: the in-process gateway (a single-workstation site needs no ``mdm-desktop serve``): its state
(stopped, starting, running on ``https://HOST:PORT``, failed and why), where it listens, the names its
server certificate carries (changing them while it runs restarts it with a new certificate), the site
CA's SHA-256 fingerprint with a Copy button, and Start / Stop. Starting and stopping need
``settings.manage`` (with a fresh authenticator code, like every site setting) and are audited; the
gateway stops when the window closes (:meth:`GatewayPane.shutdown`).

Below: the enrolment tokens (label, group, ownership, uses, expiry, state) with Create… (the new token
is shown once, as a QR code and as text) and Revoke… (after a confirmation).

Every service call and every start or stop runs on the task runner, never on the GUI thread.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission, StepUpRequiredError
from mdm_desktop.gateway.controller import GatewayController
from mdm_desktop.gateway.runner import GatewayStatus, default_names
from mdm_desktop.gui.dialogs.admin_dialogs import ConfirmBox
from mdm_desktop.gui.dialogs.token_dialogs import CreateTokenDialog, IssuedTokenDialog, TokenRequest
from mdm_desktop.gui.errors import describe_error
from mdm_desktop.gui.models.token_model import COLUMN_INDEX, TokenRow, TokenTableModel, token_rows
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.catalog_pane import plain_label
from mdm_desktop.gui.resources import icon
from mdm_desktop.services.dto import GroupInfo
from mdm_desktop.services.enrollment import AuthorityInfo, GatewayAddress, IssuedToken, TokenInfo

SETTINGS_GROUP = "gateway"
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 (devices on the clinic network must reach it)
DEFAULT_PORT = 8443
_STATE_COLOURS = {"stopped": "#5b6878", "starting": "#8a5a00", "stopping": "#8a5a00", "running": "#1b7a3d"}
_FAILED_COLOUR = "#a12a2a"


class GatewayState(enum.StrEnum):
    """What the page shows about the in-process gateway."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


def parse_names(text: str) -> tuple[str, ...]:
    """Host names and addresses typed with commas, spaces or new lines between them (no repeats)."""
    names: list[str] = []
    for part in re.split(r"[,\s;]+", text):
        if part and part not in names:
            names.append(part)
    return tuple(names)


def bind_text(host: str, port: int) -> str:
    """``HOST:PORT`` (``[v6]:PORT`` for an IPv6 address)."""
    host = host.strip().strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class GatewayPageData:
    """What one refresh loads."""

    authority: AuthorityInfo | None
    last_address: GatewayAddress | None
    tokens: tuple[TokenInfo, ...]
    loaded_at: dt.datetime


class GatewayPane(Pane):
    """The in-process gateway and the enrolment tokens.

    Signals:
        loaded: the CA and the tokens were (re)loaded.
        state_changed(str): the gateway's state changed (a :class:`GatewayState` value).
        token_issued(object): a token was made (its :class:`IssuedToken`).
        token_revoked(str): a token was revoked (its id).
    """

    title = "Gateway"
    object_key = "gateway"

    loaded = Signal()
    state_changed = Signal(str)
    token_issued = Signal(object)
    token_revoked = Signal(str)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        principal = ctx.session.principal
        self.can_control = principal.can(Permission.SETTINGS_MANAGE)
        self.can_read_tokens = principal.can(Permission.DEVICES_READ)
        self.can_write_tokens = principal.can(Permission.DEVICES_WRITE)
        self.controller = GatewayController(ctx.services.enrollment, ctx.services.checkin, ctx.services.escalation.run)
        self.state = GatewayState.STOPPED
        self.status: GatewayStatus | None = None
        self.failure = ""
        self.data: GatewayPageData | None = None
        self.create_dialog: CreateTokenDialog | None = None
        self.issued_dialog: IssuedTokenDialog | None = None
        self.pending_confirm: ConfirmBox | None = None
        self._generation = 0

        heading = plain_label("Gateway and enrolment", "paneTitle")
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.refresh_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self._build_gateway())
        layout.addWidget(self._build_tokens(), 1)
        self._restore_fields()
        self._show_state()
        self._selection_changed()

    # ---- building ------------------------------------------------------------------------------

    def _build_gateway(self) -> QWidget:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        title = plain_label("Device gateway", "sectionTitle")
        note = plain_label(
            "Devices enrol and check in here over HTTPS on the clinic network. On a single workstation the "
            "console can run it; several workstations or a server run 'mdm-desktop serve' instead."
            if self.can_control
            else "Only an administrator (site settings) can start or stop the gateway here.",
            "mutedText",
        )
        note.setWordWrap(True)

        self.state_dot = QLabel("●")
        self.state_dot.setObjectName("gatewayStateDot")
        self.state_label = plain_label("", "gatewayState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.state_label.font()
        font.setBold(True)
        self.state_label.setFont(font)
        state_row = QHBoxLayout()
        state_row.addWidget(self.state_dot, 0, Qt.AlignmentFlag.AlignTop)
        state_row.addWidget(self.state_label, 1)

        self.host_edit = QLineEdit()
        self.host_edit.setObjectName("gatewayHost")
        self.host_edit.setToolTip("0.0.0.0 listens on every network of this computer; 127.0.0.1 only on itself.")
        self.host_edit.setMaximumWidth(260)
        self.port_spin = QSpinBox()
        self.port_spin.setObjectName("gatewayPort")
        self.port_spin.setRange(1, 65535)
        self.port_spin.setGroupSeparatorShown(False)
        self.port_spin.setToolTip("Ports below 1024 need administrator rights; 8443 is usual.")
        bind_row = QHBoxLayout()
        bind_row.addWidget(self.host_edit)
        bind_row.addWidget(plain_label("Port:"))
        bind_row.addWidget(self.port_spin)
        bind_row.addStretch(1)
        self.names_edit = QLineEdit()
        self.names_edit.setObjectName("gatewayNames")
        self.names_edit.setToolTip(
            "Host names and IP addresses devices use to reach this computer, separated by commas. The server "
            "certificate names exactly these; the first goes into enrolment tokens."
        )
        self.names_default_button = QPushButton("This computer's names")
        self.names_default_button.setToolTip("This computer's name, localhost and 127.0.0.1 (plus the address above)")
        self.names_default_button.clicked.connect(self._default_names)
        names_row = QHBoxLayout()
        names_row.addWidget(self.names_edit, 1)
        names_row.addWidget(self.names_default_button)
        self.names_hint = plain_label(
            "Changing the address or the names while the gateway runs restarts it with a new server certificate.",
            "mutedText",
        )

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.fingerprint_label = plain_label("", "caFingerprint")
        self.fingerprint_label.setFont(mono)
        self.fingerprint_label.setWordWrap(True)
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_fingerprint_button = QPushButton("Copy")
        self.copy_fingerprint_button.setToolTip("Copy the fingerprint (devices compare it when they enrol)")
        self.copy_fingerprint_button.clicked.connect(self.copy_fingerprint)
        fingerprint_row = QHBoxLayout()
        fingerprint_row.addWidget(self.fingerprint_label)
        fingerprint_row.addWidget(self.copy_fingerprint_button, 0, Qt.AlignmentFlag.AlignTop)
        fingerprint_row.addStretch(1)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Status:", state_row)
        form.addRow("Listen on:", bind_row)
        form.addRow("Certificate names:", names_row)
        form.addRow("", self.names_hint)
        form.addRow("Site CA (SHA-256):", fingerprint_row)

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("gatewayStart")
        self.start_button.clicked.connect(self.start_gateway)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("gatewayStop")
        self.stop_button.clicked.connect(self.stop_gateway)
        self.restart_button = QPushButton("Apply and restart")
        self.restart_button.setToolTip("Restart with the address and names above (issues a new server certificate)")
        self.restart_button.clicked.connect(self.restart_gateway)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.restart_button)
        buttons.addStretch(1)

        for edited in (self.host_edit, self.names_edit):
            edited.textChanged.connect(self._show_state)
        self.port_spin.valueChanged.connect(self._show_state)

        box = QVBoxLayout(panel)
        box.setSpacing(8)
        box.addWidget(title)
        box.addWidget(note)
        box.addLayout(form)
        box.addLayout(buttons)
        return panel

    def _build_tokens(self) -> QWidget:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        title = plain_label("Enrolment tokens", "sectionTitle")
        note = plain_label(
            "A device enrols with a token: scan its QR code on the device, or give the enrolment text to "
            "'mdm-desktop agent enroll --token'. A token is shown once, when it is made.",
            "mutedText",
        )
        note.setWordWrap(True)
        self.create_button = QPushButton("Create token…")
        self.create_button.setObjectName("createToken")
        self.create_button.clicked.connect(self.open_create_dialog)
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.setObjectName("revokeToken")
        self.revoke_button.clicked.connect(self.confirm_revoke)
        self.show_all_check = QCheckBox("Show used-up, expired and revoked tokens")
        self.show_all_check.toggled.connect(self._show_tokens)
        self.count_label = plain_label("", "mutedText")
        bar = QHBoxLayout()
        bar.addWidget(self.create_button)
        bar.addWidget(self.revoke_button)
        bar.addSpacing(16)
        bar.addWidget(self.show_all_check)
        bar.addStretch(1)
        bar.addWidget(self.count_label)

        self.model = TokenTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("tokenTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for key, width in (("label", 130), ("group", 170), ("ownership", 100), ("uses", 100), ("used", 60)):
            self.table.setColumnWidth(COLUMN_INDEX[key], width)
        for key in ("expires", "state"):
            self.table.setColumnWidth(COLUMN_INDEX[key], 140 if key == "expires" else 90)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        box = QVBoxLayout(panel)
        box.setSpacing(8)
        box.addWidget(title)
        box.addWidget(note)
        box.addLayout(bar)
        box.addWidget(self.table, 1)
        return panel

    # ---- fields --------------------------------------------------------------------------------

    def _restore_fields(self) -> None:
        settings = self.ctx.settings
        host = str(settings.value(f"{SETTINGS_GROUP}/host", DEFAULT_HOST) or DEFAULT_HOST)
        try:
            port = int(settings.value(f"{SETTINGS_GROUP}/port", DEFAULT_PORT))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            port = DEFAULT_PORT
        names = str(settings.value(f"{SETTINGS_GROUP}/names", "") or "")
        self.host_edit.setText(host)
        self.port_spin.setValue(port if 1 <= port <= 65535 else DEFAULT_PORT)
        self.names_edit.setText(names or ", ".join(default_names(host)))

    def _default_names(self) -> None:
        self.names_edit.setText(", ".join(default_names(self.host_edit.text().strip())))

    def chosen_bind(self) -> str:
        """``HOST:PORT`` from the fields."""
        return bind_text(self.host_edit.text() or DEFAULT_HOST, self.port_spin.value())

    def chosen_names(self) -> tuple[str, ...]:
        """The certificate names from the field."""
        return parse_names(self.names_edit.text())

    def save_state(self) -> None:
        """Remember where the gateway listens and its names (this workstation only)."""
        settings = self.ctx.settings
        settings.setValue(f"{SETTINGS_GROUP}/host", self.host_edit.text().strip() or DEFAULT_HOST)
        settings.setValue(f"{SETTINGS_GROUP}/port", self.port_spin.value())
        settings.setValue(f"{SETTINGS_GROUP}/names", ", ".join(self.chosen_names()))

    def _fields_differ_from_running(self) -> bool:
        status = self.status
        if status is None:
            return False
        host, port = self.host_edit.text().strip().strip("[]"), self.port_spin.value()
        return (host, port, self.chosen_names()) != (status.host, status.port, status.names)

    # ---- gateway state -------------------------------------------------------------------------

    def _set_state(self, state: GatewayState, failure: str = "") -> None:
        self.state = state
        self.failure = failure
        self._show_state()
        self.state_changed.emit(state.value)

    def state_text(self) -> str:
        """The status line: stopped / starting / running on URL / failed: why."""
        match self.state:
            case GatewayState.RUNNING if self.status is not None:
                return f"Running on {self.status.url} (listening on {self.status.host}:{self.status.port})"
            case GatewayState.STARTING:
                return "Starting…"
            case GatewayState.STOPPING:
                return "Stopping…"
            case GatewayState.FAILED:
                return f"Failed: {self.failure}"
        return "Stopped. Devices cannot enrol or check in through this console."

    def _show_state(self) -> None:
        colour = (
            _FAILED_COLOUR if self.state is GatewayState.FAILED else _STATE_COLOURS.get(self.state.value, "#5b6878")
        )
        self.state_dot.setStyleSheet(f"color: {colour}; font-size: 16px;")
        self.state_label.setText(self.state_text())
        self.state_label.setStyleSheet(f"color: {colour};")
        busy = self.state in (GatewayState.STARTING, GatewayState.STOPPING)
        running = self.state is GatewayState.RUNNING
        self.start_button.setEnabled(self.can_control and not busy and not running)
        self.stop_button.setEnabled(self.can_control and running)
        self.restart_button.setEnabled(self.can_control and running and self._fields_differ_from_running())
        for field in (self.host_edit, self.port_spin, self.names_edit, self.names_default_button):
            field.setEnabled(self.can_control and not busy)
        self._show_fingerprint()

    def _show_fingerprint(self) -> None:
        if self.status is not None:
            text = self.status.ca_fingerprint_display
        elif self.data is not None and self.data.authority is not None:
            text = self.data.authority.fingerprint_display
        else:
            text = ""
        self.fingerprint_label.setText(text or "Not made yet: the site CA is made when the gateway first starts.")
        self.copy_fingerprint_button.setEnabled(bool(text))

    def fingerprint(self) -> str:
        """The CA fingerprint shown (``AA:BB:…`` form), or ``""`` before the CA exists."""
        if self.status is not None:
            return self.status.ca_fingerprint_display
        if self.data is not None and self.data.authority is not None:
            return self.data.authority.fingerprint_display
        return ""

    def copy_fingerprint(self) -> None:
        """Put the CA fingerprint on the clipboard."""
        if self.fingerprint():
            QGuiApplication.clipboard().setText(self.fingerprint())

    def _problem(self, exc: BaseException) -> str:
        text = describe_error(exc)
        return f"{text.message} {text.hint}".strip()

    def start_gateway(self) -> None:
        """Start the gateway with the fields' address and names (off the GUI thread)."""
        if self.state in (GatewayState.STARTING, GatewayState.STOPPING, GatewayState.RUNNING):
            return
        names = self.chosen_names()
        if not names:
            self._set_state(GatewayState.FAILED, "Give at least one host name or address for the certificate.")
            return
        bind, principal, controller = self.chosen_bind(), self.ctx.session.principal, self.controller
        self.save_state()
        self._set_state(GatewayState.STARTING)
        self.ctx.runner.submit(
            lambda: controller.start(principal, bind, names), on_done=self._started, on_error=self._start_failed
        )

    def restart_gateway(self) -> None:
        """Restart with the fields' address and names: a new server certificate is issued."""
        if self.state is not GatewayState.RUNNING:
            return
        names = self.chosen_names()
        if not names:
            self._set_state(GatewayState.RUNNING)
            self.ctx.errors.report(ValueError("Give at least one host name or address for the certificate."))
            return
        bind, principal, controller = self.chosen_bind(), self.ctx.session.principal, self.controller
        self.save_state()
        self.status = None
        self._set_state(GatewayState.STARTING)
        self.ctx.runner.submit(
            lambda: controller.restart(principal, bind, names), on_done=self._started, on_error=self._start_failed
        )

    def _started(self, status: object) -> None:
        assert isinstance(status, GatewayStatus)
        self.status = status
        self._set_state(GatewayState.RUNNING)
        self.refresh()  # the CA may just have been made

    def _start_failed(self, exc: BaseException) -> None:
        self.status = self.controller.status
        if isinstance(exc, StepUpRequiredError):  # the code was not given: nothing happened
            self._set_state(GatewayState.RUNNING if self.status is not None else GatewayState.STOPPED)
            return
        if self.status is not None:  # a restart whose stop worked but start did not leaves it stopped
            self._set_state(GatewayState.RUNNING)
            self.ctx.errors.report(exc)
            return
        self._set_state(GatewayState.FAILED, self._problem(exc))

    def stop_gateway(self) -> None:
        """Stop the gateway (off the GUI thread); devices wait until it runs again."""
        if self.state is not GatewayState.RUNNING:
            return
        principal, controller = self.ctx.session.principal, self.controller
        self._set_state(GatewayState.STOPPING)
        self.ctx.runner.submit(lambda: controller.stop(principal), on_done=self._stopped, on_error=self._stop_failed)

    def _stopped(self, _result: object) -> None:
        self.status = None
        self._set_state(GatewayState.STOPPED)

    def _stop_failed(self, exc: BaseException) -> None:
        self.status = self.controller.status
        self._set_state(GatewayState.RUNNING if self.status is not None else GatewayState.STOPPED)
        if not isinstance(exc, StepUpRequiredError):
            self.ctx.errors.report(exc)

    def shutdown(self) -> None:
        """Stop the gateway because the window closes (blocks until it has stopped)."""
        self.controller.shutdown()
        self.status = None
        self.state = GatewayState.STOPPED

    # ---- loading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Load the site CA and the tokens (off the GUI thread)."""
        if not self.can_read_tokens:
            return
        self._generation += 1
        generation = self._generation
        services, principal = self.ctx.services, self.ctx.session.principal

        def load() -> GatewayPageData:
            enrollment = services.enrollment
            return GatewayPageData(
                authority=enrollment.existing_authority(principal),
                last_address=enrollment.gateway_address(),
                tokens=enrollment.list_tokens(principal, include_inactive=True),
                loaded_at=dt.datetime.now(dt.UTC),
            )

        self.ctx.runner.submit(
            load, on_done=lambda d: self._loaded(generation, d), on_error=lambda e: self._load_failed(generation, e)
        )

    def _loaded(self, generation: int, data: object) -> None:
        if generation != self._generation:
            return  # a newer refresh is on its way
        assert isinstance(data, GatewayPageData)
        self.data = data
        self._show_tokens()
        self._show_state()
        self.loaded.emit()

    def _load_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.ctx.errors.report(exc)

    def _show_tokens(self) -> None:
        data = self.data
        if data is None:
            return
        kept = self.selected_token()
        rows = token_rows(data.tokens, data.loaded_at)
        shown = rows if self.show_all_check.isChecked() else [r for r in rows if r.state == "active"]
        self.model.set_rows(shown)
        active = sum(1 for r in rows if r.state == "active")
        self.count_label.setText(f"{active:,} usable of {len(rows):,}")
        if kept is not None:
            for number, row in enumerate(shown):
                if row.info.uid == kept.info.uid:
                    self.table.selectRow(number)
        self._selection_changed()

    def selected_token(self) -> TokenRow | None:
        """The token selected in the table."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.model.row_at(rows[0].row()) if rows else None

    def _selection_changed(self, *_args: QItemSelection) -> None:
        chosen = self.selected_token()
        self.create_button.setEnabled(self.can_write_tokens)
        self.revoke_button.setEnabled(self.can_write_tokens and chosen is not None and chosen.state == "active")

    # ---- tokens --------------------------------------------------------------------------------

    def default_server_url(self) -> str:
        """The address new tokens name: the running gateway's, else where it last ran."""
        if self.status is not None:
            return self.status.url
        if self.data is not None and self.data.last_address is not None:
            return self.data.last_address.url
        return ""

    def open_create_dialog(self) -> None:
        """Load the groups, then open the Create dialog."""
        if not self.can_write_tokens:
            return
        services, principal = self.ctx.services, self.ctx.session.principal
        self.create_button.setEnabled(False)
        self.ctx.runner.submit(
            lambda: services.devices.groups(principal), on_done=self._open_create, on_error=self._create_unavailable
        )

    def _create_unavailable(self, exc: BaseException) -> None:
        self._selection_changed()
        self.ctx.errors.report(exc)

    def _open_create(self, groups: object) -> None:
        self._selection_changed()
        assert isinstance(groups, tuple)
        found: tuple[GroupInfo, ...] = groups
        dialog = CreateTokenDialog(found, self.default_server_url(), self)
        dialog.create_requested.connect(self._create_token)
        self.create_dialog = dialog
        dialog.open()

    def _create_token(self, request: object) -> None:
        assert isinstance(request, TokenRequest)
        enrollment, principal = self.ctx.services.enrollment, self.ctx.session.principal

        def create() -> IssuedToken:
            return enrollment.create_token(
                principal,
                group_id=request.group_id,
                uses=request.uses,
                lifetime=request.lifetime,
                ownership=request.ownership,
                server_url=request.server_url,
            )

        self.ctx.runner.submit(create, on_done=self._token_created, on_error=self._token_refused)

    def _token_refused(self, exc: BaseException) -> None:
        if self.create_dialog is not None:
            self.create_dialog.show_error(self._problem(exc))
        else:
            self.ctx.errors.report(exc)

    def _token_created(self, issued: object) -> None:
        assert isinstance(issued, IssuedToken)
        if self.create_dialog is not None:
            self.create_dialog.accept()
            self.create_dialog = None
        dialog = IssuedTokenDialog(issued, self)
        self.issued_dialog = dialog
        dialog.open()
        self.token_issued.emit(issued)
        self.refresh()

    def confirm_revoke(self) -> None:
        """Ask, naming the token, then revoke it."""
        chosen = self.selected_token()
        if chosen is None or chosen.state != "active" or not self.can_write_tokens:
            return
        info = chosen.info
        box = ConfirmBox(
            "Revoke enrolment token",
            f"Revoke token {chosen.label} ({info.group_name or 'no group'}, {info.ownership.label})?",
            f"No more devices can enrol with it; its {info.uses_left:,} unused enrolment(s) are cancelled. "
            "Devices that already enrolled with it stay enrolled.",
            "Revoke",
            lambda: self.revoke(info.uid),
            self,
        )
        self.pending_confirm = box
        box.open()

    def revoke(self, uid: str) -> None:
        """Revoke the token ``uid`` (off the GUI thread)."""
        enrollment, principal = self.ctx.services.enrollment, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: enrollment.revoke_token(principal, uid), on_done=self._revoked, on_error=self.ctx.errors.report
        )

    def _revoked(self, info: Any) -> None:
        assert isinstance(info, TokenInfo)
        self.token_revoked.emit(info.uid)
        self.refresh()
