"""The Users pane: console accounts (with their open sessions) and roles, built-in and custom.

Anyone with ``users.read`` sees the lists; the actions (new user, disable, unlock, reset password
or authenticator, change role or device groups, end a session, compose a role) appear only for
``users.manage``. The services decide in the end: they refuse, audit, and ask for a fresh
authenticator code (step-up), which the runner's central handler answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QCloseEvent, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission, Role, SessionEndedError, StepUpRequiredError
from mdm_desktop.domain.errors import ConflictError, MdmError, PermissionDeniedError, ValidationError
from mdm_desktop.gui.dialogs.admin_dialogs import (
    PERMISSION_GROUPS,
    ChangeRoleDialog,
    ConfirmBox,
    GroupScopeDialog,
    NewUserDialog,
    ResetPasswordDialog,
    RoleComposerDialog,
    RoleRef,
    SubmitDialog,
)
from mdm_desktop.gui.errors import StepUpCancelledError
from mdm_desktop.gui.models.catalog_model import plural
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.row_table_model import SORT_ROLE
from mdm_desktop.gui.models.users_model import (
    RoleTableModel,
    UserTableModel,
    group_scope_text,
    is_locked,
    user_status,
)
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.catalog_pane import plain_label
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.gui.widgets.column_fit import fit_columns
from mdm_desktop.services.dto import ConsoleSessionInfo, GroupInfo, RoleInfo, UserInfo

SESSION_COLUMNS = ("Workstation", "Signed in", "Last active")
_SHORT_TIME = "%m-%d %H:%M"
_KIND_LABELS = {"gui": "Console", "cli": "Command line", "break_glass": "Emergency"}
_MUTED = QColor("#5b6878")


def inline_message(exc: BaseException) -> str | None:
    """The text to show inside a dialog for a refusal the user can fix there, or ``None``.

    Step-up requests, ended sessions and unexpected failures go to the central error handler instead;
    a cancelled step-up prompt is said inline ("not done"), as the error reporter stays silent on it.
    """
    if isinstance(exc, StepUpCancelledError):
        return f"{exc.message} {exc.hint}".strip()  # the person closed the code prompt: say "not done" here
    if isinstance(exc, StepUpRequiredError | SessionEndedError):
        return None
    if isinstance(exc, ValidationError | ConflictError | PermissionDeniedError):
        assert isinstance(exc, MdmError)
        return f"{exc.message} {exc.hint}".strip()
    return None


def held_everywhere(session_permissions: Callable[[Permission], frozenset[int] | None]) -> frozenset[Permission]:
    """Permissions a principal holds in every device group (``groups_for`` answers ``None``)."""
    return frozenset(p for p in Permission if session_permissions(p) is None)


@dataclass(frozen=True, slots=True)
class UsersData:
    """What one refresh of the Users pane loads."""

    users: tuple[UserInfo, ...]
    roles: tuple[RoleInfo, ...]
    groups: tuple[GroupInfo, ...]


def make_table(object_name: str) -> QTableView:
    """A sortable, single-selection table view styled like the other panes."""
    table = QTableView()
    table.setObjectName(object_name)
    table.setSortingEnabled(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(26)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionsMovable(True)
    return table


class UsersPane(Pane):
    """Users and roles.

    Signals:
        loaded: users, roles and groups were (re)loaded and shown.
        sessions_loaded: the selected user's open sessions were shown.
        action_done(str): a change went through (carries the action, e.g. ``"users.disable"``).
    """

    title = "Users"
    object_key = "users"

    loaded = Signal()
    sessions_loaded = Signal()
    action_done = Signal(str)

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        principal = ctx.session.principal
        self.can_manage = principal.can(Permission.USERS_MANAGE)
        self._list_task: Task | None = None
        self._sessions_task: Task | None = None
        self._selected_id: int | None = None
        self._selected_role_key: int | None = None
        self.roles: tuple[RoleInfo, ...] = ()
        self.groups: tuple[GroupInfo, ...] = ()
        self.sessions: tuple[ConsoleSessionInfo, ...] = ()
        self.dialog: SubmitDialog | ChangeRoleDialog | GroupScopeDialog | None = None
        self.pending_confirm: ConfirmBox | None = None

        heading = plain_label(self.title, "paneTitle")
        self.count_label = plain_label("", "resultCount")
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("userFilter")
        self.filter_edit.setPlaceholderText("Filter by user name, name, role or status")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.filter_edit.setMinimumWidth(320)
        self.new_user_button = QPushButton(icon("user"), "New user…")
        self.new_user_button.setObjectName("newUserButton")
        self.new_user_button.setToolTip("Create a console account")
        self.new_user_button.clicked.connect(self.new_user)
        self.new_user_button.setVisible(self.can_manage)
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.count_label)
        top.addStretch(1)
        top.addWidget(self.filter_edit)
        top.addWidget(self.new_user_button)
        top.addWidget(self.refresh_button)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("usersTabs")
        self.tabs.addTab(self._build_users_tab(), icon("user"), "Users")
        self.tabs.addTab(self._build_roles_tab(), icon("policies"), "Roles")
        self.tabs.currentChanged.connect(self._tab_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self._show_user(None)
        self._show_role(None)
        self._restore_state()

    # ---- building ------------------------------------------------------------------------------

    def _build_users_tab(self) -> QWidget:
        self.model = UserTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.table = make_table("usersTable")
        self.table.setModel(self.proxy)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.table.horizontalHeader()
        # Titles with their sort arrow and usual values fit in the view's fonts (the name column stretches).
        samples = ("a.lindqvist", "", "Security officer", "All groups", "Not enrolled", "Disabled", "2026-12-31")
        fit_columns(self.table, samples, minimum=(0, 140))
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._user_selection_changed)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._build_user_detail())
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([880, 360])
        return self.splitter

    def _build_user_detail(self) -> QFrame:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        panel.setMinimumWidth(350)
        self.user_title = plain_label("", "detailTitle")
        self.user_subtitle = plain_label("", "mutedText")
        self.user_subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.user_facts = plain_label("")
        self.user_facts.setWordWrap(True)
        self.user_facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.disable_button = QPushButton("Disable…")
        self.disable_button.setObjectName("disableButton")
        self.disable_button.clicked.connect(self.toggle_disabled)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setObjectName("unlockButton")
        self.unlock_button.clicked.connect(self.unlock_user)
        self.reset_password_button = QPushButton("Reset password…")
        self.reset_password_button.setObjectName("resetPasswordButton")
        self.reset_password_button.clicked.connect(self.reset_password)
        self.reset_mfa_button = QPushButton("Reset authenticator…")
        self.reset_mfa_button.setObjectName("resetMfaButton")
        self.reset_mfa_button.setToolTip("Remove the authenticator app and recovery codes; they enrol again")
        self.reset_mfa_button.clicked.connect(self.reset_mfa)
        self.change_role_button = QPushButton("Change role…")
        self.change_role_button.setObjectName("changeRoleButton")
        self.change_role_button.clicked.connect(self.change_role)
        self.scope_button = QPushButton("Device groups…")
        self.scope_button.setObjectName("scopeButton")
        self.scope_button.setToolTip("Limit this user's role to some device groups")
        self.scope_button.clicked.connect(self.set_group_scope)
        self.user_actions = (
            self.disable_button,
            self.unlock_button,
            self.reset_password_button,
            self.reset_mfa_button,
            self.change_role_button,
            self.scope_button,
        )
        actions = QWidget()
        grid = QGridLayout(actions)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.setSpacing(6)
        for n, button in enumerate(self.user_actions):
            button.setVisible(self.can_manage)
            grid.addWidget(button, n // 2, n % 2)
        actions.setVisible(self.can_manage)
        self.read_only_note = plain_label("You can see accounts but not change them.", "mutedText")
        self.read_only_note.setVisible(not self.can_manage)

        sessions_title = plain_label("Open sessions", "sectionTitle")
        self.session_list = QTreeWidget()
        self.session_list.setObjectName("sessionList")
        self.session_list.setColumnCount(len(SESSION_COLUMNS))
        self.session_list.setHeaderLabels(list(SESSION_COLUMNS))
        self.session_list.setRootIsDecorated(False)
        self.session_list.setAlternatingRowColors(True)
        self.session_list.setUniformRowHeights(True)
        sh = self.session_list.header()
        for i, width in enumerate((125, 90)):
            sh.resizeSection(i, width)
        sh.setStretchLastSection(True)
        self.session_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.session_list.itemSelectionChanged.connect(self._update_session_button)
        self.revoke_session_button = QPushButton("End session…")
        self.revoke_session_button.setObjectName("revokeSessionButton")
        self.revoke_session_button.setToolTip("Sign this session out now (the person must sign in again)")
        self.revoke_session_button.clicked.connect(self.revoke_session)
        self.revoke_session_button.setVisible(self.can_manage)
        self.revoke_session_button.setEnabled(False)
        session_row = QHBoxLayout()
        session_row.addWidget(sessions_title)
        session_row.addStretch(1)
        session_row.addWidget(self.revoke_session_button)

        self.user_empty = plain_label("Select a user to see the account and its sessions.", "mutedText")
        self.user_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(self.user_empty)
        layout.addWidget(self.user_title)
        layout.addWidget(self.user_subtitle)
        layout.addWidget(self.user_facts)
        layout.addWidget(actions)
        layout.addWidget(self.read_only_note)
        layout.addSpacing(4)
        layout.addLayout(session_row)
        layout.addWidget(self.session_list, 1)
        self._user_widgets: tuple[QWidget, ...] = (
            self.user_title,
            self.user_subtitle,
            self.user_facts,
            actions,
            sessions_title,
            self.session_list,
            self.revoke_session_button,
        )
        return panel

    def _build_roles_tab(self) -> QWidget:
        self.role_model = RoleTableModel(self)
        self.role_table = make_table("rolesTable")
        self.role_table.setSortingEnabled(False)
        self.role_table.setModel(self.role_model)
        header = self.role_table.horizontalHeader()
        for i, width in enumerate((220, 90, 100, 70)):
            header.resizeSection(i, width)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.role_table.selectionModel().selectionChanged.connect(self._role_selection_changed)

        self.new_role_button = QPushButton("New role…")
        self.new_role_button.setObjectName("newRoleButton")
        self.new_role_button.clicked.connect(self.new_role)
        self.edit_role_button = QPushButton("Edit permissions…")
        self.edit_role_button.setObjectName("editRoleButton")
        self.edit_role_button.clicked.connect(self.edit_role)
        self.delete_role_button = QPushButton("Delete role…")
        self.delete_role_button.setObjectName("deleteRoleButton")
        self.delete_role_button.clicked.connect(self.delete_role)
        buttons = QHBoxLayout()
        for button in (self.new_role_button, self.edit_role_button, self.delete_role_button):
            button.setVisible(self.can_manage)
            buttons.addWidget(button)
        buttons.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.role_table, 1)
        left_layout.addLayout(buttons)

        panel = QFrame()
        panel.setObjectName("detailPanel")
        panel.setMinimumWidth(440)
        self.role_title = plain_label("", "detailTitle")
        self.role_subtitle = plain_label("", "mutedText")
        self.role_subtitle.setWordWrap(True)
        self.permission_tree = QTreeWidget()
        self.permission_tree.setObjectName("rolePermissions")
        self.permission_tree.setHeaderHidden(True)
        self.permission_tree.setRootIsDecorated(False)
        self.permission_tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.permission_tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.permission_tree.setStyleSheet("QTreeWidget::item { padding: 2px 2px; }")
        panel_layout = QVBoxLayout(panel)
        panel_layout.setContentsMargins(14, 12, 14, 12)
        panel_layout.addWidget(self.role_title)
        panel_layout.addWidget(self.role_subtitle)
        panel_layout.addWidget(self.permission_tree, 1)

        self.role_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.role_splitter.setChildrenCollapsible(False)
        self.role_splitter.addWidget(left)
        self.role_splitter.addWidget(panel)
        self.role_splitter.setSizes([700, 600])
        return self.role_splitter

    def _tab_changed(self, index: int) -> None:
        users_tab = index == 0
        self.filter_edit.setVisible(users_tab)
        self.new_user_button.setVisible(users_tab and self.can_manage)
        self.count_label.setVisible(users_tab)

    # ---- loading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload users, roles and device groups (off the GUI thread); the selection is kept."""
        if self._list_task is not None:
            self._list_task.cancel()
        services, principal = self.ctx.services, self.ctx.session.principal
        read_groups = principal.can(Permission.DEVICES_READ)

        def load() -> UsersData:
            users = services.users.list_users(principal)
            roles = services.users.list_roles(principal)
            groups = services.devices.groups(principal) if read_groups else ()
            return UsersData(users, roles, tuple(groups))

        self.refresh_button.setEnabled(False)
        self._list_task = self.ctx.runner.submit(load, on_done=self._loaded, on_error=self._load_failed)

    def _load_failed(self, exc: BaseException) -> None:
        self._list_task = None
        self.refresh_button.setEnabled(True)
        self.ctx.errors.report(exc)

    def _loaded(self, data: UsersData) -> None:
        self._list_task = None
        self.refresh_button.setEnabled(True)
        self.roles, self.groups = data.roles, data.groups
        keep = self._selected_id
        self.model.set_group_names({g.id: g.name for g in data.groups})
        self.model.set_rows(data.users)
        self._update_count()
        if keep is not None and self.model.row_of(keep) >= 0:
            self.select_user(keep)
        elif self.proxy.rowCount() > 0:
            self.table.selectRow(0)
        else:
            self._show_user(None)
        keep_role = self._selected_role_key
        self.role_model.set_roles(data.roles)
        row = self.role_model.row_of(keep_role) if keep_role is not None else -1
        self.role_table.selectRow(row if row >= 0 else 0)
        self.loaded.emit()

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_count()

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.count_label.setText(plural(total, "user") if shown == total else f"{shown:,} of {plural(total, 'user')}")

    # ---- users ---------------------------------------------------------------------------------

    def selected_user(self) -> UserInfo | None:
        """The user selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(self.proxy.mapToSource(rows[0]).row()) if rows else None

    def select_user(self, user_id: int) -> None:
        """Select the user with ``user_id`` if it is shown."""
        source_row = self.model.row_of(user_id)
        if source_row >= 0:
            index = self.proxy.mapFromSource(self.model.index(source_row, 0))
            if index.isValid():
                self.table.selectRow(index.row())
                self.table.scrollTo(index)
                self._show_user(self.selected_user())

    def user_named(self, username: str) -> UserInfo | None:
        """The listed user called ``username``."""
        return next(
            (u for u in (self.model.row_at(i) for i in range(self.model.rowCount())) if u and u.username == username),
            None,
        )

    def _user_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_user(self.selected_user())

    def _show_user(self, user: UserInfo | None) -> None:
        changed = (user.id if user else None) != self._selected_id
        self._selected_id = user.id if user is not None else None
        self.user_empty.setVisible(user is None)
        for widget in self._user_widgets:
            widget.setVisible(user is not None and (widget is not self.revoke_session_button or self.can_manage))
        if user is None:
            self.session_list.clear()
            return
        self.user_title.setText(user.display_name or user.username)
        self.user_subtitle.setText(f"{user.username}  ·  {user.role_label or user.role.label}")
        names = {g.id: g.name for g in self.groups}
        facts = [
            f"Status: {user_status(user)}",
            f"Authenticator app: {'enrolled' if user.mfa_enrolled else 'not enrolled yet (enrols at next sign-in)'}",
            f"Device groups: {group_scope_text(user.group_ids, names)}",
            f"Last sign-in: {format_local_time(user.last_login_at)}",
            f"Password set: {format_local_time(user.password_changed_at, 'unknown')}",
            f"Account created: {format_local_time(user.created_at)}",
        ]
        if user.failed_attempts:
            facts.append(f"Failed sign-ins since the last success: {user.failed_attempts}")
        self.user_facts.setText("\n".join(facts))
        own = user.id == self.ctx.session.principal.id
        self.disable_button.setText("Enable" if user.disabled else "Disable…")
        self.disable_button.setEnabled(not own)
        self.unlock_button.setEnabled(is_locked(user) or user.failed_attempts > 0)
        self.change_role_button.setEnabled(not own)
        self.scope_button.setEnabled(not own)
        for button in (self.disable_button, self.change_role_button, self.scope_button):
            button.setToolTip("You cannot change your own account here" if own else "")
        if changed or not self.sessions or self.sessions[0].user_id != user.id:
            self.load_sessions()

    def load_sessions(self) -> None:
        """Load the selected user's open sessions (off the GUI thread)."""
        user_id = self._selected_id
        if user_id is None:
            return
        if self._sessions_task is not None:
            self._sessions_task.cancel()
        sessions, principal = self.ctx.services.sessions, self.ctx.session.principal
        self.session_list.clear()
        self._sessions_task = self.ctx.runner.submit(
            lambda: sessions.list_sessions(principal, user_id),
            on_done=lambda rows: self._sessions_arrived(user_id, rows),
            on_error=self._sessions_failed,
        )

    def _sessions_failed(self, exc: BaseException) -> None:
        self._sessions_task = None
        self.ctx.errors.report(exc)

    def _sessions_arrived(self, user_id: int, rows: tuple[ConsoleSessionInfo, ...]) -> None:
        self._sessions_task = None
        if user_id != self._selected_id:
            return
        self.sessions = rows
        self.session_list.clear()
        for s in rows:
            kind = _KIND_LABELS.get(s.kind, s.kind)
            where = s.workstation or "—"
            item = QTreeWidgetItem(
                [
                    where if s.kind == "gui" else f"{where} ({kind.lower()})",
                    s.created_at.astimezone().strftime(_SHORT_TIME),
                    s.last_seen_at.astimezone().strftime(_SHORT_TIME),
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, s.id)
            tip = f"{kind} session; must sign in again by {format_local_time(s.absolute_expiry)}"
            for column in range(len(SESSION_COLUMNS)):
                item.setToolTip(column, tip)
            self.session_list.addTopLevelItem(item)
        if not rows:
            placeholder = QTreeWidgetItem(["No open sessions."])
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            placeholder.setForeground(0, QBrush(_MUTED))
            self.session_list.addTopLevelItem(placeholder)
        self._update_session_button()
        self.sessions_loaded.emit()

    def _update_session_button(self) -> None:
        items = self.session_list.selectedItems()
        self.revoke_session_button.setEnabled(bool(items) and items[0].data(0, Qt.ItemDataRole.UserRole) is not None)

    # ---- user actions --------------------------------------------------------------------------

    def _run(
        self,
        action: str,
        fn: Callable[[], Any],
        *,
        dialog: SubmitDialog | None = None,
        on_done: Callable[[Any], None] | None = None,
    ) -> None:
        """Run a change in the runner; on success refresh, on a fixable refusal show it in ``dialog``."""

        def done(result: Any) -> None:
            if dialog is not None:
                dialog.set_busy(False)
                dialog.accept()
            if on_done is not None:
                on_done(result)
            self.action_done.emit(action)
            self.sessions = ()  # the change may have ended some: load them again with the list
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

    def _confirm(self, title: str, text: str, detail: str, yes_text: str, on_yes: Callable[[], None]) -> None:
        box = ConfirmBox(title, text, detail, yes_text, on_yes, self)
        box.finished.connect(box.deleteLater)
        self.pending_confirm = box
        box.open()

    def new_user(self) -> None:
        """Open the New user dialog."""
        dialog = NewUserDialog(self.ctx.services.auth, self.ctx.runner, self.roles, self.groups, self)
        users, principal = self.ctx.services.users, self.ctx.session.principal

        def submit() -> None:
            username, password, role = dialog.username(), dialog.password.password(), dialog.role()
            display, groups = dialog.display_name(), dialog.group_ids()
            self._selected_id = None
            self._run(
                "users.create",
                lambda: users.create_user(principal, username, password, role, display_name=display, group_ids=groups),
                dialog=dialog,
                on_done=lambda info: setattr(self, "_selected_id", info.id),
            )

        dialog.submitted.connect(submit)
        self._open(dialog)

    def _open(self, dialog: SubmitDialog | ChangeRoleDialog | GroupScopeDialog) -> None:
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    def toggle_disabled(self) -> None:
        """Disable the selected user (after confirming) or enable a disabled one."""
        user = self.selected_user()
        if user is None:
            return
        users, principal = self.ctx.services.users, self.ctx.session.principal
        if user.disabled:
            self._run("users.enable", lambda: users.enable_user(principal, user.id))
            return
        self._confirm(
            "Disable user",
            f"Disable the account {user.username} ({user.display_name})?",
            "They are signed out everywhere at once and cannot sign in until enabled again.",
            "Disable",
            lambda: self._run("users.disable", lambda: users.disable_user(principal, user.id, "disabled in console")),
        )

    def unlock_user(self) -> None:
        """Lift the selected user's lockout."""
        user = self.selected_user()
        if user is None:
            return
        users, principal = self.ctx.services.users, self.ctx.session.principal
        self._run("users.unlock", lambda: users.unlock_user(principal, user.id))

    def reset_password(self) -> None:
        """Set a new password for the selected user."""
        user = self.selected_user()
        if user is None:
            return
        users, principal = self.ctx.services.users, self.ctx.session.principal
        dialog = ResetPasswordDialog(self.ctx.services.auth, self.ctx.runner, user.username, user.display_name, self)

        def submit() -> None:
            password = dialog.new_password()
            self._run("users.reset_password", lambda: users.reset_password(principal, user.id, password), dialog=dialog)

        dialog.submitted.connect(submit)
        self._open(dialog)

    def reset_mfa(self) -> None:
        """Remove the selected user's authenticator (after confirming)."""
        user = self.selected_user()
        if user is None:
            return
        users, principal = self.ctx.services.users, self.ctx.session.principal
        self._confirm(
            "Reset authenticator",
            f"Remove the authenticator app and recovery codes of {user.username} ({user.display_name})?",
            "They are signed out everywhere and must set up an authenticator app at their next sign-in. "
            "Do this only after checking who is asking (in person or by a call-back).",
            "Reset authenticator",
            lambda: self._run("users.reset_mfa", lambda: users.reset_mfa(principal, user.id)),
        )

    def change_role(self) -> None:
        """Give the selected user another role."""
        user = self.selected_user()
        if user is None:
            return
        users, principal = self.ctx.services.users, self.ctx.session.principal
        current: RoleRef = user.custom_role_id if user.custom_role_id is not None else user.role
        dialog = ChangeRoleDialog(user.username, self.roles, current, self)

        def chosen() -> None:
            role = dialog.role()
            if role == current:
                return
            self._run("users.assign_role", lambda: users.assign_role(principal, user.id, role))

        dialog.accepted.connect(chosen)
        self._open(dialog)

    def set_group_scope(self) -> None:
        """Limit the selected user's role to some device groups."""
        user = self.selected_user()
        if user is None:
            return
        users, principal = self.ctx.services.users, self.ctx.session.principal
        dialog = GroupScopeDialog(user.username, self.groups, user.group_ids, self)

        def chosen() -> None:
            ids = dialog.group_ids()
            self._run("users.set_scope", lambda: users.set_group_scope(principal, user.id, ids))

        dialog.accepted.connect(chosen)
        self._open(dialog)

    def revoke_session(self) -> None:
        """End the selected session (after confirming)."""
        user = self.selected_user()
        items = self.session_list.selectedItems()
        if user is None or not items:
            return
        session_id = items[0].data(0, Qt.ItemDataRole.UserRole)
        if not isinstance(session_id, str):
            return
        where = items[0].text(0)
        sessions, principal = self.ctx.services.sessions, self.ctx.session.principal
        self._confirm(
            "End session",
            f"Sign {user.username} out on {where}?",
            "Unsaved work in that session is lost; they can sign in again.",
            "End session",
            lambda: self._run("sessions.revoke", lambda: sessions.revoke_session(principal, session_id)),
        )

    # ---- roles ---------------------------------------------------------------------------------

    def selected_role(self) -> RoleInfo | None:
        """The role selected in the roles table."""
        rows = self.role_table.selectionModel().selectedRows()
        return self.role_model.role_at(rows[0].row()) if rows else None

    def select_role_named(self, name: str) -> None:
        """Select the role called ``name``."""
        for i in range(self.role_model.rowCount()):
            role = self.role_model.role_at(i)
            if role is not None and role.name == name:
                self.role_table.selectRow(i)
                return

    def _role_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.role_table.selectionModel().selectedRows()
        found = self.role_model.row_at(rows[0].row()) if rows else None
        self._selected_role_key = found.id if found is not None else None
        self._show_role(found.info if found is not None else None)

    def _show_role(self, role: RoleInfo | None) -> None:
        self.permission_tree.clear()
        self.edit_role_button.setEnabled(role is not None and not role.built_in)
        deletable = role is not None and not role.built_in and role.user_count == 0
        self.delete_role_button.setEnabled(deletable)
        self.delete_role_button.setToolTip(
            "Give its users another role first" if role is not None and role.user_count and not role.built_in else ""
        )
        if role is None:
            self.role_title.setText("")
            self.role_subtitle.setText("Select a role to see its permissions.")
            return
        kind = "Built-in role" if role.built_in else "Custom role"
        self.role_title.setText(role.name)
        parts = [kind, plural(role.user_count, "user"), f"{len(role.permissions)} of {len(Permission)} permissions"]
        text = "  ·  ".join(parts)
        if role.description:
            text += f"\n{role.description}"
        elif role.built_in and role.role is Role.ADMINISTRATOR:
            text += "\nEverything, including users, keys and site settings."
        self.role_subtitle.setText(text)
        bold = self.permission_tree.font()
        bold.setBold(True)
        for title, permissions in PERMISSION_GROUPS:
            group = QTreeWidgetItem([title])
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.permission_tree.addTopLevelItem(group)
            for perm in permissions:
                has = perm in role.permissions
                item = QTreeWidgetItem([("    ✓  " if has else "    —  ") + perm.label])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(0, perm.value)
                if not has:
                    item.setForeground(0, QBrush(_MUTED))
                self.permission_tree.addTopLevelItem(item)

    def _held(self) -> frozenset[Permission]:
        return held_everywhere(self.ctx.session.principal.groups_for)

    def new_role(self) -> None:
        """Open the role composer for a new custom role."""
        dialog = RoleComposerDialog(self._held(), None, self)
        users, principal = self.ctx.services.users, self.ctx.session.principal

        def submit() -> None:
            name, perms, description = dialog.name(), dialog.permissions(), dialog.description()
            self._run(
                "roles.create",
                lambda: users.create_role(principal, name, perms, description),
                dialog=dialog,
                on_done=lambda info: setattr(self, "_selected_role_key", info.id),
            )

        dialog.submitted.connect(submit)
        self._open(dialog)

    def edit_role(self) -> None:
        """Open the role composer on the selected custom role."""
        role = self.selected_role()
        if role is None or role.built_in or role.id is None:
            return
        role_id = role.id
        dialog = RoleComposerDialog(self._held(), role, self)
        users, principal = self.ctx.services.users, self.ctx.session.principal

        def submit() -> None:
            perms, description = dialog.permissions(), dialog.description()
            self._run("roles.update", lambda: users.update_role(principal, role_id, perms, description), dialog=dialog)

        dialog.submitted.connect(submit)
        self._open(dialog)

    def delete_role(self) -> None:
        """Delete the selected custom role (after confirming)."""
        role = self.selected_role()
        if role is None or role.built_in or role.id is None:
            return
        role_id = role.id
        users, principal = self.ctx.services.users, self.ctx.session.principal
        self._confirm(
            "Delete role",
            f"Delete the custom role {role.name}?",
            "Nobody holds it; it can be composed again later.",
            "Delete role",
            lambda: self._run("roles.delete", lambda: users.delete_role(principal, role_id)),
        )

    # ---- state ---------------------------------------------------------------------------------

    def _restore_state(self) -> None:
        s = self.ctx.settings
        header = s.value(f"{self.object_key}/header")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)
        split = s.value(f"{self.object_key}/splitter")
        if split is not None:
            self.splitter.restoreState(split)

    def save_state(self) -> None:
        s = self.ctx.settings
        s.setValue(f"{self.object_key}/header", self.table.horizontalHeader().saveState())
        s.setValue(f"{self.object_key}/splitter", self.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        for task in (self._list_task, self._sessions_task):
            if task is not None:
                task.cancel()
        super().closeEvent(event)
