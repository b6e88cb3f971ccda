"""The main window: a shell of navigation, a stack of panes, menus and a status bar.

Each pane owns its model, view and actions; the window only switches between
them, forwards Refresh, and shows where the store is, who is signed in and how
many devices there are.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QWidget,
)

from mdm_desktop import __version__
from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Permission
from mdm_desktop.gui.checkpoint_scheduler import CheckpointScheduler
from mdm_desktop.gui.dialogs.step_up_dialog import StepUpHandler
from mdm_desktop.gui.errors import ErrorReporter
from mdm_desktop.gui.lock_curtain import DialogCurtain
from mdm_desktop.gui.panes.access_requests_pane import AccessRequestsPane
from mdm_desktop.gui.panes.audit_pane import AuditPane
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.catalog_pane import CatalogPane
from mdm_desktop.gui.panes.commands_pane import CommandsPane
from mdm_desktop.gui.panes.dashboard_pane import DashboardPane
from mdm_desktop.gui.panes.devices_pane import DevicesPane, count_text
from mdm_desktop.gui.panes.exceptions_pane import ExceptionsPane
from mdm_desktop.gui.panes.gateway_page import GatewayPane
from mdm_desktop.gui.panes.policies_pane import PoliciesPane
from mdm_desktop.gui.panes.settings_pane import SettingsPane
from mdm_desktop.gui.panes.users_pane import UsersPane
from mdm_desktop.gui.resources import app_icon, icon
from mdm_desktop.gui.session import LOCKED_BY_USER, SessionHolder, SessionMonitor, lock_reason_text
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.gui.widgets.lock_screen import LockScreen
from mdm_desktop.services.clock import Clock, utc_now
from mdm_desktop.services.dto import DeviceQuery, SessionInfo

SETTINGS_GROUP = "main_window"
DEFAULT_SIZE = QSize(1400, 900)


def _status_label(icon_name: str, object_name: str) -> tuple[QWidget, QLabel]:
    """A status-bar item: a small icon and a plain-text label."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(6, 0, 6, 0)
    row.setSpacing(4)
    picture = QLabel()
    picture.setPixmap(icon(icon_name).pixmap(14, 14))
    text = QLabel()
    text.setObjectName(object_name)
    text.setTextFormat(Qt.TextFormat.PlainText)
    row.addWidget(picture)
    row.addWidget(text)
    return box, text


class MainWindow(QMainWindow):
    """Navigation on the left, the panes in a stack, menus and a status bar.

    Args:
        ctx: The opened application (services and where the store is).
        session: The signed-in user.
        settings: Where geometry and view state are remembered (default: the user's settings).
        clock: UTC time for the session lock (tests pass the services' clock).
        watch_input: Count key presses and clicks anywhere in the application as activity.

    The session lock (:mod:`mdm_desktop.gui.session`): when the session ends (idle, lifetime,
    revoked) or the user locks it (Ctrl+Shift+L), :attr:`body` switches from the panes to the
    :class:`LockScreen`, the status bar hides and the menus are disabled; the panes keep their
    state. Signing in again replaces the session in :attr:`session_holder`, which every pane reads.

    Signals:
        device_count_changed(int): the status bar's device count was refreshed.
    """

    device_count_changed = Signal(int)

    def __init__(
        self,
        ctx: AppContext,
        session: SessionInfo,
        parent: QWidget | None = None,
        *,
        settings: QSettings | None = None,
        clock: Clock = utc_now,
        watch_input: bool = True,
    ) -> None:
        super().__init__(parent)
        self.app_ctx = ctx
        self.session_holder = SessionHolder(session, self)
        self.settings = settings if settings is not None else QSettings()
        self.runner = TaskRunner(self)
        self.errors = ErrorReporter(self)
        self.errors.session_end_shown_elsewhere = True
        self.runner.default_error_handler = self.errors.report
        self.step_up = StepUpHandler(ctx.services.sessions, self.session_holder, self.runner, self)
        self.monitor = SessionMonitor(
            ctx.services.sessions, self.session_holder, self.runner, self, clock=clock, watch_input=watch_input
        )
        self.monitor.locked.connect(self._session_locked)
        self._disabled_while_locked: list[QAction] = []
        self.device_count: int | None = None
        self._count_generation = 0
        self._closed = False
        self._signed_out = False

        self.setWindowTitle("MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setObjectName("mainWindow")

        pane_ctx = PaneContext(
            services=ctx.services,
            session=session,
            runner=self.runner,
            errors=self.errors,
            settings=self.settings,
            holder=self.session_holder,
        )
        self.devices = DevicesPane(pane_ctx)
        if self._start_pane() == 0:
            self.devices.prefetch()  # the first page comes while the other panes are built
        self.policies = PoliciesPane(pane_ctx)
        self.catalog = CatalogPane(pane_ctx)
        self.audit = AuditPane(pane_ctx)
        self.dashboard = DashboardPane(pane_ctx)
        # Remote commands (issue 6): pending and failed commands, approvals; after the dashboard (Ctrl+6).
        self.commands = CommandsPane(pane_ctx)
        self.panes: tuple[Pane, ...] = (
            self.devices,
            self.policies,
            self.catalog,
            self.audit,
            self.dashboard,
            self.commands,
        )
        # Compliance exceptions (issue 7): after Commands, for those who may read policies.
        self.exceptions = ExceptionsPane(pane_ctx) if session.principal.can(Permission.POLICIES_READ) else None
        self.panes += (self.exceptions,) if self.exceptions is not None else ()
        self.dashboard.devices_requested.connect(self.show_devices)
        # Administration panes: only for those who may read them (the services refuse the rest anyway).
        can = session.principal.can
        self.users = UsersPane(pane_ctx) if can(Permission.USERS_READ) else None
        self.access_requests = (
            AccessRequestsPane(pane_ctx) if can(Permission.ACCESS_REQUEST) or can(Permission.ACCESS_APPROVE) else None
        )
        self.security = (
            SettingsPane(pane_ctx) if can(Permission.SETTINGS_MANAGE) or can(Permission.EMERGENCY_REVIEW) else None
        )
        # The device gateway and enrolment tokens (issue 6): for those who enrol devices or run the site.
        self.gateway = (
            GatewayPane(pane_ctx) if can(Permission.SETTINGS_MANAGE) or can(Permission.DEVICES_WRITE) else None
        )
        self.panes += tuple(p for p in (self.users, self.access_requests, self.security, self.gateway) if p is not None)
        self.dashboard.review_requested.connect(self.show_break_glass_review)

        # ---- navigation + stack
        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setIconSize(QSize(20, 20))
        self.navigation.setFixedWidth(196)
        self.navigation.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.navigation.setSpacing(1)
        self.stack = QStackedWidget()
        self.stack.setObjectName("paneStack")
        for number, pane in enumerate(self.panes, start=1):
            item = QListWidgetItem(icon(pane.object_key), pane.title)
            item.setToolTip(f"{pane.title} (Ctrl+{number})")
            item.setSizeHint(QSize(0, 40))
            self.navigation.addItem(item)
            self.stack.addWidget(pane)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.navigation)
        row.addWidget(self.stack, 1)
        self.lock_screen = LockScreen(ctx.services.auth, self.runner)
        self.lock_screen.unlocked.connect(self._unlocked)
        self.lock_screen.sign_out_requested.connect(self.sign_out)
        self.curtain = DialogCurtain(self, self.lock_screen)  # no dialog above the lock screen
        self.body = QStackedWidget()
        self.body.setObjectName("windowBody")
        self.body.addWidget(central)
        self.body.addWidget(self.lock_screen)
        self.setCentralWidget(self.body)

        self._build_menus()
        self._build_status_bar()

        self.navigation.currentRowChanged.connect(self._pane_chosen)
        self._restore_window()
        start_index = self._start_pane()
        self.show_pane(start_index if 0 <= start_index < len(self.panes) else 0)
        self.refresh_device_count()
        self.checkpoints = CheckpointScheduler(
            ctx.services.audit_chain, self.session_holder, self.runner, self, report=self.errors.report
        )
        self.monitor.start()
        self.checkpoints.start()

    # ---- building ------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        self.refresh_action = QAction(icon("refresh"), "&Refresh", self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.setStatusTip("Load the current view again from the store")
        self.refresh_action.triggered.connect(self.refresh)
        file_menu.addAction(self.refresh_action)
        file_menu.addSeparator()
        self.lock_action = QAction("&Lock now", self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.lock_action.setStatusTip("Hide everything until you sign in again")
        self.lock_action.triggered.connect(self.lock_now)
        file_menu.addAction(self.lock_action)
        self.sign_out_action = QAction("Sign &out", self)
        self.sign_out_action.setStatusTip("End your session and close MDM Desktop")
        self.sign_out_action.triggered.connect(self.sign_out)
        file_menu.addAction(self.sign_out_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)

        view_menu = menus.addMenu("&View")
        self.pane_actions: list[QAction] = []
        group = QActionGroup(self)
        group.setExclusive(True)
        for number, pane in enumerate(self.panes, start=1):
            action = QAction(icon(pane.object_key), pane.title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.setCheckable(True)
            action.triggered.connect(lambda _checked=False, i=number - 1: self.show_pane(i))
            group.addAction(action)
            view_menu.addAction(action)
            self.pane_actions.append(action)

        # The Audit pane's own actions (one QAction each: no ambiguous shortcut), usable from any pane.
        audit_menu = menus.addMenu("&Audit")
        self.audit_actions: list[QAction] = []
        for name in ("verify_action", "checkpoint_action", "export_action"):
            found = getattr(self.audit, name, None)
            if isinstance(found, QAction):
                found.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
                found.triggered.connect(self._show_audit_pane)
                audit_menu.addAction(found)
                self.audit_actions.append(found)

        help_menu = menus.addMenu("&Help")
        self.about_action = QAction("&About MDM Desktop", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(True)
        store_box, self.store_label = _status_label("store", "storeLabel")
        self.store_label.setText(self.app_ctx.location.description)
        self.store_label.setToolTip("Where this console reads and writes its data")
        user_box, self.user_label = _status_label("user", "userLabel")
        self.user_label.setToolTip("Signed-in user and role")
        self.break_glass_badge = QLabel()
        self.break_glass_badge.setObjectName("breakGlassBadge")
        self.break_glass_badge.setTextFormat(Qt.TextFormat.PlainText)
        self.break_glass_badge.setToolTip(
            "Signed in with the emergency code. This session is audited and will be reviewed by the security officer."
        )
        self._show_session_labels()
        count_box, self.count_label = _status_label("devices", "deviceCountLabel")
        self.count_label.setText("Counting devices…")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(90)
        self.busy.setVisible(False)
        self.busy.setToolTip("Working…")
        self.runner.busy_changed.connect(self.busy.setVisible)
        bar.addWidget(store_box)
        bar.addPermanentWidget(self.busy)
        bar.addPermanentWidget(count_box)
        bar.addPermanentWidget(user_box)
        bar.addPermanentWidget(self.break_glass_badge)

    # ---- session -------------------------------------------------------------------------------

    @property
    def session(self) -> SessionInfo:
        """The current session (replaced after the lock screen signs the user in again)."""
        return self.session_holder.session

    @property
    def is_locked(self) -> bool:
        """True while the lock screen covers the window."""
        return self.body.currentWidget() is self.lock_screen

    def _show_session_labels(self) -> None:
        session = self.session
        self.user_label.setText(f"{session.username} ({session.role_label or session.role.label})")
        if session.break_glass:
            ends = session.expires_at.astimezone().strftime("%H:%M") if session.expires_at is not None else "soon"
            self.break_glass_badge.setText(f"Emergency access: ends {ends}")
        self.break_glass_badge.setVisible(session.break_glass)

    def lock_now(self) -> None:
        """Lock the console at once and end the session (signing in again opens a new one)."""
        if self.monitor.is_locked:
            return
        sessions, principal = self.app_ctx.services.sessions, self.session.principal
        self.monitor.lock(LOCKED_BY_USER)
        self.runner.submit(lambda: sessions.sign_out(principal), on_error=lambda _exc: None)

    def sign_out(self) -> None:
        """End the session and close the console."""
        sessions, principal = self.app_ctx.services.sessions, self.session.principal
        self._signed_out = True
        self.sign_out_action.setEnabled(False)
        self.runner.submit(lambda: sessions.sign_out(principal), on_done=self._close_later, on_error=self._close_later)

    def _close_later(self, _result: object) -> None:
        QTimer.singleShot(0, self.close)

    def _session_locked(self, reason: str) -> None:
        if self.step_up.dialog is not None:
            self.step_up.dialog.reject()  # the session is over: the code could not be checked any more
        self.lock_screen.prepare(self.session, lock_reason_text(reason))
        self.body.setCurrentWidget(self.lock_screen)
        self.statusBar().setVisible(False)
        self._disabled_while_locked = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            actions = [menu_action, *(menu.actions() if isinstance(menu, QMenu) else [])]
            for action in actions:
                if action is self.quit_action or action.isSeparator() or not action.isEnabled():
                    continue
                action.setEnabled(False)
                self._disabled_while_locked.append(action)
        self.menuBar().setEnabled(False)
        self.checkpoints.stop()
        self.curtain.cover()
        self.lock_screen.password.setFocus()

    def _unlocked(self, session: SessionInfo) -> None:
        self.monitor.unlocked(session)
        self.checkpoints.start()
        for action in self._disabled_while_locked:
            action.setEnabled(True)
        self._disabled_while_locked = []
        self.menuBar().setEnabled(True)
        self._show_session_labels()
        self.body.setCurrentIndex(0)
        self.statusBar().setVisible(True)
        self.curtain.uncover()
        self.refresh_device_count()

    # ---- navigation ----------------------------------------------------------------------------

    @property
    def current_pane(self) -> Pane:
        """The pane on show."""
        return self.panes[self.stack.currentIndex()]

    def _start_pane(self) -> int:
        """The pane the console opens on: the one shown when it was last closed (0 = Devices)."""
        start = self.settings.value(f"{SETTINGS_GROUP}/pane", 0)
        try:
            return int(str(start))
        except ValueError:
            return 0

    def show_pane(self, index: int) -> None:
        """Switch to pane ``index`` (0 = Devices ... 4 = Dashboard) and let it load."""
        if not 0 <= index < len(self.panes):
            return
        if self.navigation.currentRow() != index:
            self.navigation.setCurrentRow(index)  # comes back through _pane_chosen
            return
        self._pane_chosen(index)

    def _pane_chosen(self, index: int) -> None:
        if not 0 <= index < len(self.panes):
            return
        self.stack.setCurrentIndex(index)
        self.pane_actions[index].setChecked(True)
        self.panes[index].activate()

    def show_break_glass_review(self) -> None:
        """Open the Security pane (its emergency sign-in review), when this user may see it."""
        if self.security is not None:
            self.show_pane(self.panes.index(self.security))

    def _show_audit_pane(self) -> None:
        self.show_pane(self.panes.index(self.audit))

    def show_devices(self, query: object) -> None:
        """Open the Devices pane filtered by ``query`` (a :class:`DeviceQuery` from the dashboard)."""
        if not isinstance(query, DeviceQuery):
            return
        self.devices.show_query(query)
        self.show_pane(self.panes.index(self.devices))

    # ---- actions -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the current pane and the device count."""
        self.current_pane.refresh()
        self.refresh_device_count()

    def refresh_device_count(self) -> None:
        """Count every device for the status bar (off the GUI thread)."""
        principal = self.session.principal
        if not principal.can(Permission.DEVICES_READ):
            self.count_label.setText("")
            return
        self._count_generation += 1
        generation = self._count_generation
        devices = self.app_ctx.services.devices
        self.runner.submit(
            lambda: devices.count(principal, DeviceQuery()),
            on_done=lambda n: self._count_arrived(generation, n),
            on_error=lambda exc: self._count_failed(generation, exc),
        )

    def _count_arrived(self, generation: int, n: int) -> None:
        if generation != self._count_generation:
            return
        self.device_count = n
        self.count_label.setText(count_text(n))
        self.device_count_changed.emit(n)

    def _count_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._count_generation:
            return
        self.count_label.setText("Device count unavailable")
        self.errors.report(exc)

    def show_about(self) -> None:
        """A short note on what this program is."""
        box = QMessageBox(self)
        box.setWindowTitle("About MDM Desktop")
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(f"MDM Desktop {__version__}")
        box.setInformativeText(
            "Mobile device management for small healthcare clinics: inventory, policies, apps, "
            "remote commands and a tamper-evident audit trail, on your own SQLite or PostgreSQL store.\n\n"
            f"Store: {self.app_ctx.location.description}"
        )
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.open()

    # ---- state ---------------------------------------------------------------------------------

    def _restore_window(self) -> None:
        geometry = self.settings.value(f"{SETTINGS_GROUP}/geometry")
        if not (isinstance(geometry, QByteArray | bytes) and geometry and self.restoreGeometry(QByteArray(geometry))):
            self.resize(DEFAULT_SIZE)
        state = self.settings.value(f"{SETTINGS_GROUP}/state")
        if isinstance(state, QByteArray | bytes) and state:
            self.restoreState(QByteArray(state))

    def save_state(self) -> None:
        """Remember window geometry, the current pane and every pane's view state."""
        self.settings.setValue(f"{SETTINGS_GROUP}/geometry", self.saveGeometry())
        self.settings.setValue(f"{SETTINGS_GROUP}/state", self.saveState())
        self.settings.setValue(f"{SETTINGS_GROUP}/pane", self.stack.currentIndex())
        for pane in self.panes:
            pane.save_state()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.monitor.stop()
            self.checkpoints.stop()
            self.step_up.uninstall()
            self.save_state()
            if self.gateway is not None:
                self.gateway.shutdown()  # an in-process gateway never outlives the window
            self.devices.model.shutdown()
            self.curtain.uncover(restore=False)
            self._sign_out_on_close()
            self.runner.shutdown()  # waits for the sign-out
        event.accept()

    def _sign_out_on_close(self) -> None:
        """Closing the console ends its session (audited), as File > Sign out does; once is enough."""
        if self._signed_out:
            return
        self._signed_out = True
        sessions, principal = self.app_ctx.services.sessions, self.session.principal
        self.runner.submit(lambda: sessions.sign_out(principal), on_error=lambda _exc: None)
