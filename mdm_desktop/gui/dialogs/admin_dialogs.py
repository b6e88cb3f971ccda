"""Dialogs of the administration pages.

New user, role, device groups, password reset, notes, the role composer and the temporary
access request.

Each dialog only collects input; the pane that opened it calls the service (in the task
runner) and reports errors. Dialogs are opened with ``open()`` (never a blocking ``exec()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import (
    STEP_UP_PERMISSIONS,
    USERNAME_MAX_LENGTH,
    Permission,
    Role,
    username_problems,
)
from mdm_desktop.gui.models.access_model import duration_text
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.gui.widgets.password_input import PasswordAssessor, PasswordInput
from mdm_desktop.services.dto import GroupInfo, RoleInfo

RoleRef = Role | int
"""A built-in role, or the id of a custom role (what ``UserService`` accepts)."""

PERMISSION_GROUPS: tuple[tuple[str, tuple[Permission, ...]], ...] = (
    ("Devices", (Permission.DEVICES_READ, Permission.DEVICES_READ_IDENTIFIERS, Permission.DEVICES_WRITE)),
    ("Commands", (Permission.COMMANDS_SEND, Permission.COMMANDS_SEND_DESTRUCTIVE, Permission.COMMANDS_APPROVE)),
    ("Policies", (Permission.POLICIES_READ, Permission.POLICIES_WRITE, Permission.COMPLIANCE_EXCEPTIONS_APPROVE)),
    ("App catalog", (Permission.CATALOG_READ, Permission.CATALOG_WRITE)),
    ("Audit and reports", (Permission.AUDIT_READ, Permission.REPORTS_READ)),
    (
        "Console administration",
        (
            Permission.USERS_READ,
            Permission.USERS_MANAGE,
            Permission.KEYS_MANAGE,
            Permission.SETTINGS_MANAGE,
            Permission.EMERGENCY_REVIEW,
        ),
    ),
    ("Temporary access", (Permission.ACCESS_REQUEST, Permission.ACCESS_APPROVE)),
)
"""Every permission, grouped and in the order the users page shows them."""

DURATIONS_MINUTES: tuple[int, ...] = (30, 60, 2 * 60, 4 * 60, 8 * 60, 24 * 60, 3 * 24 * 60, 7 * 24 * 60)
"""Choices for a temporary access request (cut at the site's longest allowed grant)."""


def _plain(text: str = "", object_name: str = "", *, wrap: bool = False) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    label.setWordWrap(wrap)
    if object_name:
        label.setObjectName(object_name)
    return label


def _buttons(dialog: QDialog, ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    if isinstance(dialog, SubmitDialog):
        box.accepted.connect(dialog.submit)
    else:
        box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box, ok


class SubmitDialog(QDialog):
    """A dialog that stays open while the pane tries its input, so a refusal can be shown inline.

    OK emits :attr:`submitted` (and disables itself); the pane calls the service and then either
    :meth:`accept` or :meth:`show_error`.

    Signals:
        submitted: the user pressed OK.
    """

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_label = _plain("", "problemText", wrap=True)
        self.error_label.setVisible(False)
        self.ok_button: QPushButton | None = None
        self.busy = False

    def submit(self) -> None:
        """Ask the pane to try the input (ignored while a try is under way)."""
        if self.busy:
            return
        self.set_busy(True)
        self.error_label.setVisible(False)
        self.submitted.emit()

    def set_busy(self, busy: bool) -> None:
        """Disable OK while the service works."""
        self.busy = busy
        if self.ok_button is not None:
            self.ok_button.setEnabled(not busy and self.input_ok())

    def input_ok(self) -> bool:
        """Whether the input is complete enough to try."""
        return True

    def show_error(self, message: str) -> None:
        """Show a refusal from the service inline (the dialog stays open)."""
        self.set_busy(False)
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))


def _role_ref(data: object) -> RoleRef:
    """A role ref back from a combo box (Qt hands a ``str`` enum back as a plain string)."""
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    return Role(str(data))


def role_choices(roles: Iterable[RoleInfo]) -> list[tuple[str, RoleRef]]:
    """``(label, role ref)`` of every role a user can be given (built-in first, then custom roles)."""
    out: list[tuple[str, RoleRef]] = []
    for role in roles:
        if role.built_in:
            out.append((role.name, role.role))
        elif role.id is not None:
            out.append((f"{role.name} (custom)", role.id))
    return out


class GroupScopeEditor(QWidget):
    """Either all device groups, or a ticked list of groups."""

    def __init__(self, groups: Sequence[GroupInfo], current: Sequence[int] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.all_check = QCheckBox("All device groups")
        self.all_check.setObjectName("allGroups")
        self.list = QListWidget()
        self.list.setObjectName("groupList")
        self.list.setMaximumHeight(150)
        for group in groups:
            item = QListWidgetItem(f"{group.name}  ({group.device_count:,} devices)")
            item.setData(Qt.ItemDataRole.UserRole, group.id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if group.id in current else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.all_check.toggled.connect(self.list.setDisabled)
        self.all_check.setChecked(not current)
        self.list.setDisabled(not current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.all_check)
        layout.addWidget(self.list)

    def set_groups(self, ids: Iterable[int] | None) -> None:
        """Tick ``ids`` (``None``: all groups)."""
        wanted = set(ids or ())
        self.all_check.setChecked(ids is None)
        for i in range(self.list.count()):
            item = self.list.item(i)
            checked = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def group_ids(self) -> list[int] | None:
        """The ticked group ids, or ``None`` for every group."""
        if self.all_check.isChecked():
            return None
        return [
            int(self.list.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]


class NewUserDialog(SubmitDialog):
    """User name, display name, role, device groups and an initial password (with a strength meter)."""

    def __init__(
        self,
        assessor: PasswordAssessor,
        runner: TaskRunner,
        roles: Sequence[RoleInfo],
        groups: Sequence[GroupInfo],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New user")
        self.setObjectName("newUserDialog")
        self.username_edit = QLineEdit()
        self.username_edit.setObjectName("username")
        self.username_edit.setMaxLength(USERNAME_MAX_LENGTH)
        self.username_edit.setPlaceholderText("For example j.smith")
        self.username_problem = _plain("", "problemText", wrap=True)
        self.username_problem.setVisible(False)
        self.display_edit = QLineEdit()
        self.display_edit.setObjectName("displayName")
        self.display_edit.setPlaceholderText("The person's full name")
        self.role_combo = QComboBox()
        self.role_combo.setObjectName("role")
        for label, ref in role_choices(roles):
            self.role_combo.addItem(label, ref)
        helpdesk = self.role_combo.findData(Role.HELPDESK)
        if helpdesk >= 0:
            self.role_combo.setCurrentIndex(helpdesk)
        self.scope = GroupScopeEditor(groups)
        self.password = PasswordInput(assessor, runner, labels=False)
        note = _plain(
            "Tell the person their password in person. At the first sign-in they choose their own "
            "authenticator app; until then the account can do nothing.",
            "mutedText",
            wrap=True,
        )

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&User name:", self.username_edit)
        form.addRow("", self.username_problem)
        form.addRow("&Name:", self.display_edit)
        form.addRow("&Role:", self.role_combo)
        form.addRow("Device &groups:", self.scope)
        form.addRow("Initial &password:", self.password)
        box, self.ok_button = _buttons(self, "Create user")
        self.ok_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error_label)
        layout.addWidget(box)
        self.setMinimumWidth(520)

        self.username_edit.textChanged.connect(self._changed)
        self.display_edit.textChanged.connect(lambda name: self.password.set_context(display_name=name))
        self.username_edit.textChanged.connect(lambda name: self.password.set_context(username=name))
        self.password.acceptable_changed.connect(lambda _ok: self._changed())

    def _changed(self) -> None:
        name = self.username_edit.text().strip()
        problems = username_problems(name) if name else []
        self.username_problem.setText(" ".join(problems))
        self.username_problem.setVisible(bool(problems))
        self.set_busy(self.busy)

    def input_ok(self) -> bool:
        """A valid user name and an acceptable password."""
        name = self.username_edit.text().strip()
        return bool(name) and not username_problems(name) and self.password.is_acceptable()

    def username(self) -> str:
        """The user name as typed (trimmed)."""
        return self.username_edit.text().strip()

    def display_name(self) -> str:
        """The person's name (trimmed)."""
        return self.display_edit.text().strip()

    def role(self) -> RoleRef:
        """The chosen built-in role or custom role id."""
        return _role_ref(self.role_combo.currentData())

    def group_ids(self) -> list[int] | None:
        """The chosen device groups (``None``: all)."""
        return self.scope.group_ids()


class ChangeRoleDialog(QDialog):
    """Choose another role for one user."""

    def __init__(
        self, username: str, roles: Sequence[RoleInfo], current: RoleRef, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Change the role of {username}")
        self.role_combo = QComboBox()
        self.role_combo.setObjectName("role")
        for label, ref in role_choices(roles):
            self.role_combo.addItem(label, ref)
        index = self.role_combo.findData(current)
        if index >= 0:
            self.role_combo.setCurrentIndex(index)
        text = _plain(
            f"{username} is signed out everywhere and signs in again with the new role.", "mutedText", wrap=True
        )
        box, self.ok_button = _buttons(self, "Change role")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("&Role:", self.role_combo)
        layout.addLayout(form)
        layout.addWidget(text)
        layout.addWidget(box)
        self.setMinimumWidth(420)

    def role(self) -> RoleRef:
        """The chosen built-in role or custom role id."""
        return _role_ref(self.role_combo.currentData())


class GroupScopeDialog(QDialog):
    """Limit one user's role to some device groups."""

    def __init__(
        self, username: str, groups: Sequence[GroupInfo], current: Sequence[int], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Device groups of {username}")
        self.scope = GroupScopeEditor(groups, current)
        text = _plain(f"{username}'s role applies only to devices in the ticked groups.", "mutedText", wrap=True)
        box, self.ok_button = _buttons(self, "Save groups")
        self.scope.list.itemChanged.connect(lambda _item: self._changed())
        self.scope.all_check.toggled.connect(lambda _on: self._changed())
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.scope)
        layout.addWidget(box)
        self.setMinimumWidth(420)
        self._changed()

    def _changed(self) -> None:
        ids = self.scope.group_ids()
        self.ok_button.setEnabled(ids is None or bool(ids))

    def group_ids(self) -> list[int] | None:
        """The chosen device groups (``None``: all)."""
        return self.scope.group_ids()


class ResetPasswordDialog(SubmitDialog):
    """Set a new password for someone else (with a strength meter)."""

    def __init__(
        self,
        assessor: PasswordAssessor,
        runner: TaskRunner,
        username: str,
        display_name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Reset the password of {username}")
        self.password = PasswordInput(assessor, runner)
        self.password.set_context(username=username, display_name=display_name)
        text = _plain(
            f"{username} is signed out everywhere. Tell them the new password in person; "
            "they can change it after signing in.",
            "mutedText",
            wrap=True,
        )
        box, self.ok_button = _buttons(self, "Reset password")
        self.ok_button.setEnabled(False)
        self.password.acceptable_changed.connect(lambda _ok: self.set_busy(self.busy))
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.password)
        layout.addWidget(self.error_label)
        layout.addWidget(box)
        self.setMinimumWidth(480)

    def input_ok(self) -> bool:
        """An acceptable password, typed twice."""
        return self.password.is_acceptable()

    def new_password(self) -> str:
        """The new password as typed."""
        return self.password.password()


class NoteDialog(QDialog):
    """A decision with a written note (approve, deny, revoke, review)."""

    def __init__(
        self,
        title: str,
        text: str,
        ok_text: str,
        *,
        note_required: bool = False,
        placeholder: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("noteDialog")
        self._required = note_required
        label = _plain(text, wrap=True)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setObjectName("note")
        self.note_edit.setPlaceholderText(placeholder or ("Required" if note_required else "Optional"))
        self.note_edit.setFixedHeight(90)
        box, self.ok_button = _buttons(self, ok_text)
        self.note_edit.textChanged.connect(self._changed)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.note_edit)
        layout.addWidget(box)
        self.setMinimumWidth(440)
        self._changed()

    def _changed(self) -> None:
        self.ok_button.setEnabled(not self._required or bool(self.note().strip()))

    def note(self) -> str:
        """The note as written."""
        return self.note_edit.toPlainText()


class RoleComposerDialog(SubmitDialog):
    """Compose (or edit) a custom role by ticking permissions.

    Args:
        held: Permissions the signed-in user holds in every group; nobody grants more than they
            hold, so the others are shown but cannot be ticked.
        role: The custom role being edited (its name cannot change), or ``None`` for a new one.
    """

    def __init__(
        self, held: frozenset[Permission], role: RoleInfo | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit role {role.name}" if role is not None else "New role")
        self.setObjectName("roleComposer")
        self.name_edit = QLineEdit(role.name if role is not None else "")
        self.name_edit.setObjectName("roleName")
        self.name_edit.setMaxLength(64)
        self.name_edit.setPlaceholderText("For example Ward tablets helper")
        self.name_edit.setReadOnly(role is not None)
        self.description_edit = QLineEdit(role.description if role is not None else "")
        self.description_edit.setObjectName("roleDescription")
        self.description_edit.setPlaceholderText("What people with this role do")
        self.checks: dict[Permission, QCheckBox] = {}
        current = role.permissions if role is not None else frozenset()

        groups = QWidget()
        column = QVBoxLayout(groups)
        column.setContentsMargins(0, 0, 8, 0)
        column.setSpacing(8)
        for title, permissions in PERMISSION_GROUPS:
            frame = QGroupBox(title)
            inner = QVBoxLayout(frame)
            inner.setSpacing(4)
            for perm in permissions:
                text = perm.label + ("  (asks for a fresh authenticator code)" if perm in STEP_UP_PERMISSIONS else "")
                check = QCheckBox(text)
                check.setObjectName(f"perm_{perm.value}")
                check.setChecked(perm in current)
                check.setToolTip(perm.value)
                if perm not in held:
                    check.setEnabled(False)
                    check.setToolTip(f"{perm.value}: you do not hold this permission, so you cannot give it")
                check.toggled.connect(self._changed)
                self.checks[perm] = check
                inner.addWidget(check)
            column.addWidget(frame)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(groups)

        self.summary_label = _plain("", "mutedText")
        box, self.ok_button = _buttons(self, "Save role" if role is not None else "Create role")
        form = QFormLayout()
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Description:", self.description_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_plain("Permissions", "sectionTitle"))
        layout.addWidget(scroll, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.error_label)
        layout.addWidget(box)
        self.name_edit.textChanged.connect(self._changed)
        self.resize(640, 760)
        self._changed()

    def _changed(self) -> None:
        count = len(self.permissions())
        self.summary_label.setText(f"{count} permission{'s' if count != 1 else ''} ticked")
        self.set_busy(self.busy)

    def input_ok(self) -> bool:
        """A name and at least one permission."""
        return bool(self.name()) and bool(self.permissions())

    def name(self) -> str:
        """The role's name."""
        return self.name_edit.text().strip()

    def description(self) -> str:
        """The role's description."""
        return self.description_edit.text().strip()

    def permissions(self) -> frozenset[Permission]:
        """The ticked permissions."""
        return frozenset(p for p, check in self.checks.items() if check.isChecked())

    def set_permissions(self, permissions: Iterable[Permission]) -> None:
        """Tick exactly ``permissions`` (those the user may give)."""
        wanted = set(permissions)
        for perm, check in self.checks.items():
            if check.isEnabled():
                check.setChecked(perm in wanted)


class RequestAccessDialog(SubmitDialog):
    """Ask for one permission for a while (optionally in one device group), with a reason."""

    def __init__(
        self,
        permissions: Sequence[Permission],
        groups: Sequence[GroupInfo],
        max_hours: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Request temporary access")
        self.setObjectName("requestAccessDialog")
        self.permission_combo = QComboBox()
        self.permission_combo.setObjectName("permission")
        for perm in permissions:
            self.permission_combo.addItem(perm.label, perm.value)
        self.group_combo = QComboBox()
        self.group_combo.setObjectName("group")
        self.group_combo.addItem("All device groups I can see", None)
        for group in groups:
            self.group_combo.addItem(group.name, group.id)
        self.duration_combo = QComboBox()
        self.duration_combo.setObjectName("duration")
        for minutes in DURATIONS_MINUTES:
            if minutes <= max_hours * 60:
                self.duration_combo.addItem(duration_text(minutes), minutes)
        if max_hours * 60 not in DURATIONS_MINUTES:
            self.duration_combo.addItem(duration_text(max_hours * 60), max_hours * 60)
        self.duration_combo.setCurrentIndex(min(1, self.duration_combo.count() - 1))
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setObjectName("reason")
        self.reason_edit.setPlaceholderText("Why you need it: a ticket number, a device, a patient-safety reason")
        self.reason_edit.setFixedHeight(90)
        hint = _plain(
            "An approver (an administrator or a security officer) decides. The access ends by itself "
            "when the time is up.",
            "mutedText",
            wrap=True,
        )
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Permission:", self.permission_combo)
        form.addRow("Device &group:", self.group_combo)
        form.addRow("&For:", self.duration_combo)
        form.addRow("&Reason:", self.reason_edit)
        box, self.ok_button = _buttons(self, "Send request")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error_label)
        layout.addWidget(box)
        self.setMinimumWidth(520)
        self.reason_edit.textChanged.connect(self._changed)
        self._changed()

    def _changed(self) -> None:
        self.set_busy(self.busy)

    def input_ok(self) -> bool:
        """A permission to ask for and a reason."""
        return self.permission_combo.count() > 0 and bool(self.reason().strip())

    def permission(self) -> Permission:
        """The permission asked for."""
        return Permission(str(self.permission_combo.currentData()))  # Qt hands str enums back as plain str

    def group_id(self) -> int | None:
        """The device group asked for (``None``: every group the user can see)."""
        value = self.group_combo.currentData()
        return int(value) if value is not None else None

    def minutes(self) -> int:
        """How long, in minutes."""
        return int(self.duration_combo.currentData())

    def reason(self) -> str:
        """The reason as written."""
        return self.reason_edit.toPlainText()


class ConfirmBox(QMessageBox):
    """A yes/cancel question that names what will happen; opened with ``open()``, never blocking.

    Args:
        title: Window title.
        text: The question, naming the user or item affected.
        detail: What happens next, in plain words.
        yes_text: The confirming button's text (a verb: "Disable", "Reset password").
        on_yes: Called when the user confirms.
    """

    def __init__(
        self,
        title: str,
        text: str,
        detail: str,
        yes_text: str,
        on_yes: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("confirmBox")
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle(title)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)
        if detail:
            self.setInformativeText(detail)
        self.yes_button = self.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.cancel_button)
        self._on_yes = on_yes
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button: QAbstractButton) -> None:
        if button is self.yes_button:
            self._on_yes()
