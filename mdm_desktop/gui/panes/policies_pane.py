"""The Policies pane: policy list, detail, and the actions that create, publish and assign.

The detail shows the selected policy's draft settings (or a published version's), its versions
and its assignments to device groups.

Write actions are disabled for roles without ``policies.write`` (the service refuses them anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.policy_settings import GROUP_LABELS, SPECS_BY_KEY
from mdm_desktop.exports.report import ExportFormat
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.models.policy_list_model import SORT_ROLE, PolicyListModel
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.policy_assignments import CurrentAssignmentsWidget, EffectiveSettingsDialog
from mdm_desktop.gui.panes.policy_dialog_base import TaskDialog, fit_columns, make_tree, plain_label
from mdm_desktop.gui.panes.policy_diff import PolicyDiffDialog
from mdm_desktop.gui.panes.policy_editor import PolicyEditorDialog
from mdm_desktop.gui.panes.policy_import_dialog import ImportPolicyDialog
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.gui.widgets.reevaluation_progress import ReevaluationProgress
from mdm_desktop.services.dto import GroupInfo, PolicyDetail, PolicySummary
from mdm_desktop.services.policies import DESCRIPTION_MAX, NAME_MAX, NOTES_MAX, clinic_baseline_settings
from mdm_desktop.services.policy_exports import PolicyExportResult, SigningRequest, default_file_name

_D = TypeVar("_D", bound="TaskDialog")

NO_WRITE_TIP = "Your role cannot change policies. Ask an administrator or IT technician."

SETTING_LABELS: dict[str, str] = {
    "passcode": "Passcode",
    "required": "Required",
    "min_length": "Minimum length",
    "max_failed_attempts": "Failed attempts before wipe",
    "encryption": "Storage encryption",
    "os_updates": "OS updates",
    "max_patch_age_days": "Maximum security patch age (days)",
    "min_os_version": "Minimum OS version",
    "integrity": "Device integrity",
    "allow_compromised": "Allow jailbroken or rooted devices",
    "check_in": "Check-in",
    "max_age_days": "Maximum time since last check-in (days)",
    "kiosk": "Kiosk mode",
    "enabled": "Enabled",
    "app": "App",
    "ios": "iOS",
    "ipados": "iPadOS",
    "android": "Android",
    "windows": "Windows",
    "macos": "macOS",
    "linux": "Linux",
}

SETTING_ORDER: tuple[str, ...] = (
    "passcode",
    "encryption",
    "integrity",
    "os_updates",
    "check_in",
    *(g for g in GROUP_LABELS if g not in ("passcode", "encryption")),
)
"""Sections shown first, in this order; other keys follow alphabetically."""

OWNERSHIP_CHOICES: tuple[tuple[str, Ownership | None], ...] = (
    ("All devices in the group", None),
    ("Corporate devices only", Ownership.CORPORATE),
    ("BYOD devices only", Ownership.BYOD),
)


def setting_label(key: str) -> str:
    """A readable name for a settings key (``min_length`` -> ``Minimum length``)."""
    return SETTING_LABELS.get(key) or key.replace("_", " ").strip().capitalize() or key


def setting_value(value: Any) -> str:
    """A readable value: Yes/No for booleans, lists joined, ``—`` for nothing."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(setting_value(v) for v in value) or "—"
    return str(value)


_SAME_IN_EVERY_GROUP = frozenset({"required", "min_length", "max_failed_attempts", "min_os_version"})
"""Keys whose short label reads well under any group heading."""


def _label_in(group: str, key: str) -> str:
    """The label of ``key`` inside ``group``: the settings model's label when it is one of its settings."""
    if not group:
        return SETTING_LABELS.get(key) or GROUP_LABELS.get(key) or setting_label(key)
    spec = SPECS_BY_KEY.get(f"{group}.{key}")
    return spec.label if spec is not None and key not in _SAME_IN_EVERY_GROUP else setting_label(key)


def settings_items(
    settings: Mapping[str, Any],
    reference: Mapping[str, Any] | None = None,
    reference_name: str = "",
    group: str | None = "",
) -> list[QTreeWidgetItem]:
    """Tree items for ``settings``; values that differ from ``reference`` are bold with a tooltip."""
    bold = QFont()
    bold.setBold(True)
    items: list[QTreeWidgetItem] = []
    rank = {k: i for i, k in enumerate(SETTING_ORDER)}
    for key, value in sorted(settings.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])):
        item = QTreeWidgetItem([_label_in(group, key) if group is not None else setting_label(key), ""])
        item.setToolTip(0, key)
        ref = reference.get(key) if isinstance(reference, Mapping) else None
        if isinstance(value, Mapping):
            nested = None if reference is None else (ref if isinstance(ref, Mapping) else {})
            item.addChildren(settings_items(value, nested, reference_name, key if group == "" else None))
        else:
            item.setText(1, setting_value(value))
            if reference is not None and (key not in reference or ref != value):
                was = setting_value(ref) if key in reference else "not set"
                for col in (0, 1):
                    item.setFont(col, bold)
                    item.setToolTip(col, f"Changed since {reference_name} (was: {was})")
        items.append(item)
    return items


def fill_settings_tree(
    tree: QTreeWidget,
    settings: Mapping[str, Any],
    reference: Mapping[str, Any] | None = None,
    reference_name: str = "",
) -> None:
    """Show ``settings`` in ``tree`` (two columns: setting, value), fully expanded."""
    tree.clear()
    tree.addTopLevelItems(settings_items(settings, reference, reference_name))
    if not settings:
        empty = QTreeWidgetItem(["No settings", ""])
        empty.setFlags(Qt.ItemFlag.NoItemFlags)
        tree.addTopLevelItem(empty)
    tree.expandAll()


# ---- dialogs --------------------------------------------------------------------------------------


class NewPolicyDialog(TaskDialog):
    """Name and description of a new policy; its draft starts from the clinic baseline."""

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "New policy", "Create policy", parent)
        self.baseline = clinic_baseline_settings()
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(NAME_MAX)
        self.name_edit.setPlaceholderText("For example: Ward phones")
        self.description_edit = QPlainTextEdit()
        self.description_edit.setPlaceholderText("Which devices it is for and why (optional)")
        self.description_edit.setFixedHeight(70)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        self.body.addLayout(form)
        self.body.addWidget(plain_label("Starting settings (clinic baseline; edit the draft before publishing)"))
        self.settings_tree = make_tree(["Setting", "Value"], "baselineSettings")
        fill_settings_tree(self.settings_tree, self.baseline)
        self.settings_tree.setMinimumHeight(200)
        self.settings_tree.header().resizeSection(0, 280)
        self.body.addWidget(self.settings_tree)
        self.name_edit.textChanged.connect(self._update_ok)
        self._update_ok()
        self.resize(560, 480)

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(bool(self.name_edit.text().strip()) and self._task is None)

    def work(self) -> Callable[[], Any] | None:
        name = self.name_edit.text()
        description = self.description_edit.toPlainText()
        if not name.strip():
            self.show_error("Enter a name for the policy.")
            return None
        if len(description) > DESCRIPTION_MAX:
            self.show_error(f"The description is {len(description)} characters long; use at most {DESCRIPTION_MAX}.")
            return None
        service, principal, settings = self.ctx.services.policies, self.ctx.session.principal, self.baseline
        return lambda: service.create_policy(principal, name, description, settings)


class PublishDialog(TaskDialog):
    """Confirms publishing a draft as the next immutable version, with release notes."""

    def __init__(self, ctx: PaneContext, policy: PolicySummary, parent: QWidget | None = None) -> None:
        number = (policy.latest_version or 0) + 1
        super().__init__(ctx, "Publish policy", f"Publish version {number}", parent)
        self.policy = policy
        text = (
            f"Publish the draft of “{policy.name}” as version {number}?\n\n"
            "A published version can never be changed. Groups keep the version assigned to them "
            "until you assign the new one."
        )
        message = plain_label(text)
        message.setWordWrap(True)
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setPlaceholderText("Release notes: what changed and why (kept with the version)")
        self.notes_edit.setFixedHeight(90)
        self.body.addWidget(message)
        self.body.addWidget(plain_label("Release notes"))
        self.body.addWidget(self.notes_edit)
        self.resize(500, 300)

    def work(self) -> Callable[[], Any] | None:
        notes = self.notes_edit.toPlainText()
        if len(notes) > NOTES_MAX:
            self.show_error(f"The release notes are {len(notes)} characters long; use at most {NOTES_MAX}.")
            return None
        service, principal, pid = self.ctx.services.policies, self.ctx.session.principal, self.policy.id
        return lambda: service.publish(principal, pid, notes)


class AssignDialog(TaskDialog):
    """Assigns a published version to a device group, optionally to one ownership type only."""

    groups_loaded = Signal()

    def __init__(self, ctx: PaneContext, detail: PolicyDetail, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Assign policy to a group", "Assign", parent)
        self.detail = detail
        intro = plain_label(f"Assign a published version of “{detail.summary.name}” to the devices of a group.")
        intro.setWordWrap(True)
        self.version_combo = QComboBox()
        for v in detail.versions:
            self.version_combo.addItem(f"Version {v.version} (published {format_local_time(v.published_at)})", v.id)
        self.group_combo = QComboBox()
        self.group_combo.addItem("Loading groups…", None)
        self.group_combo.setEnabled(False)
        self.ownership_combo = QComboBox()
        for text, ownership in OWNERSHIP_CHOICES:  # item data holds the plain value (Qt turns str enums into str)
            self.ownership_combo.addItem(text, ownership.value if ownership is not None else "")
        form = QFormLayout()
        form.addRow("Version", self.version_combo)
        form.addRow("Group", self.group_combo)
        form.addRow("Devices", self.ownership_combo)
        note = plain_label(
            "If another version of this policy is assigned to the same group and devices, it is replaced.",
            "mutedText",
        )
        note.setWordWrap(True)
        can_write = Permission.POLICIES_WRITE in ctx.session.permissions
        self.current = CurrentAssignmentsWidget(ctx, detail.assignments, can_write)
        self.body.addWidget(intro)
        self.body.addLayout(form)
        self.body.addWidget(note)
        self.body.addWidget(self.current)
        self.progress = ReevaluationProgress(self)  # the group's devices are re-evaluated as it is assigned
        self.body.addWidget(self.progress.bar)
        self.ok_button.setEnabled(False)
        self.resize(600, 460)
        devices, principal = ctx.services.devices, ctx.session.principal
        ctx.runner.submit(lambda: devices.groups(principal), on_done=self._fill_groups, on_error=self._groups_failed)

    def _fill_groups(self, groups: tuple[GroupInfo, ...]) -> None:
        self.group_combo.clear()
        for g in groups:
            self.group_combo.addItem(f"{g.name} ({g.device_count:,} devices)", g.id)
        if not groups:
            self.group_combo.addItem("No device groups yet", None)
            self.show_error("There are no device groups to assign to. Create a group first.")
        self.group_combo.setEnabled(bool(groups))
        self.ok_button.setEnabled(bool(groups) and self.version_combo.count() > 0)
        self.groups_loaded.emit()

    def _groups_failed(self, exc: BaseException) -> None:
        self.group_combo.clear()
        self.group_combo.addItem("Groups could not be loaded", None)
        self.ctx.errors.report(exc)

    def work(self) -> Callable[[], Any] | None:
        version_id = self.version_combo.currentData()
        group_id = self.group_combo.currentData()
        ownership = self.ownership_combo.currentData()
        if not isinstance(version_id, int) or not isinstance(group_id, int):
            self.show_error("Choose a version and a group.")
            return None
        own = Ownership(ownership) if ownership else None
        service, principal = self.ctx.services.policies, self.ctx.session.principal
        report = self.progress.report
        return lambda: service.assign(principal, version_id, group_id, own, progress=report)


class ExportDialog(TaskDialog):
    """Exports a published version as an Apple profile or an Android policy, then shows the export report.

    Signals:
        report_shown(object): the :class:`PolicyExportResult`, once its report is on screen.
    """

    report_shown = Signal(object)

    def __init__(self, ctx: PaneContext, detail: PolicyDetail, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Export policy", "Export", parent)
        self.detail = detail
        intro = plain_label(
            f"Write a published version of “{detail.summary.name}” in a vendor's format, for devices set up "
            "offline (Apple Configurator, Android Management API tools)."
        )
        intro.setWordWrap(True)
        self.format_combo = QComboBox()
        for fmt in ExportFormat:
            self.format_combo.addItem(f"{fmt.label} ({fmt.suffix})", fmt.value)
        self.version_combo = QComboBox()
        for v in detail.versions:
            self.version_combo.addItem(
                f"Version {v.version} (published {format_local_time(v.published_at)})", v.version
            )
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("exportPath")
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.replace_box = QCheckBox("Replace the file if it exists")
        self.sign_box = QCheckBox("Sign with the site certificate authority")
        can_sign = Permission.POLICIES_WRITE in ctx.session.permissions
        self.sign_box.setToolTip(
            "Devices and Apple Configurator can then check who made the profile."
            if can_sign
            else "Your role cannot use the site's signing key."
        )
        self._can_sign = can_sign
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("Version", self.version_combo)
        form.addRow("File", path_row)
        form.addRow("", self.replace_box)
        form.addRow("", self.sign_box)
        self.report_view = QPlainTextEdit()
        self.report_view.setObjectName("exportReport")
        self.report_view.setReadOnly(True)
        self.report_view.setPlaceholderText("After the export, what the file states and what it cannot.")
        self.body.addWidget(intro)
        self.body.addLayout(form)
        self.body.addWidget(plain_label("Export report", "sectionTitle"))
        self.body.addWidget(self.report_view, 1)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.version_combo.currentIndexChanged.connect(self._format_changed)
        self._format_changed()
        self.export_result: PolicyExportResult | None = None
        self.resize(640, 560)

    def chosen_format(self) -> ExportFormat:
        """The format picked."""
        return ExportFormat(self.format_combo.currentData())

    def _format_changed(self) -> None:
        fmt = self.chosen_format()
        apple = fmt is ExportFormat.MOBILECONFIG
        self.sign_box.setEnabled(apple and self._can_sign)
        if not self.sign_box.isEnabled():
            self.sign_box.setChecked(False)
        version = self.version_combo.currentData()
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
        current = Path(self.path_edit.text()) if self.path_edit.text() else Path(folder) / "x"
        if isinstance(version, int):
            self.path_edit.setText(str(current.with_name(default_file_name(self.detail.summary.name, version, fmt))))

    def browse(self) -> None:
        """Choose the file with the system's save dialog (which asks before replacing a file)."""
        fmt = self.chosen_format()
        path, _ = QFileDialog.getSaveFileName(self, "Export policy", self.path_edit.text(), f"*{fmt.suffix}")
        if path:
            self.path_edit.setText(path)
            self.replace_box.setChecked(True)

    def work(self) -> Callable[[], Any] | None:
        version = self.version_combo.currentData()
        text = self.path_edit.text().strip()
        if not isinstance(version, int):
            self.show_error("Publish the policy before exporting it.")
            return None
        if not text:
            self.show_error("Choose where to write the file.")
            return None
        service, principal = self.ctx.services.policy_exports, self.ctx.session.principal
        policy_id, fmt, path = self.detail.summary.id, self.chosen_format(), Path(text)
        signing = SigningRequest.site_ca() if self.sign_box.isChecked() else None
        replace = self.replace_box.isChecked()
        return lambda: service.export(
            principal, policy_id, fmt, path, version=version, signing=signing, overwrite=replace
        )

    def _done(self, result: object) -> None:
        """Stay open and show the report; the Export button becomes unavailable, Cancel becomes Close."""
        self._task = None
        assert isinstance(result, PolicyExportResult)
        self.export_result = result
        lines = [f"Wrote {result.path} ({result.size:,} bytes).", f"SHA-256: {result.sha256}", ""]
        self.report_view.setPlainText("\n".join(lines + result.report.lines()))
        self.ok_button.setEnabled(False)
        close = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        if close is not None:
            close.setText("Close")
            close.setDefault(True)
        self.succeeded.emit(result)
        self.report_shown.emit(result)


# ---- the pane -------------------------------------------------------------------------------------


class PoliciesPane(Pane):
    """Policies: list, detail (settings, versions, assignments) and the actions that change them.

    Signals:
        detail_loaded(object): a :class:`PolicyDetail` was shown.
        list_loaded(): the policy list was (re)loaded.
    """

    title = "Policies"
    object_key = "policies"

    detail_loaded = Signal(object)
    list_loaded = Signal()

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.can_write = Permission.POLICIES_WRITE in ctx.session.permissions
        self._list_task: Task | None = None
        self._detail_task: Task | None = None
        self._selected_id: int | None = None
        self._force_detail = False
        self.detail_shown: PolicyDetail | None = None
        self.active_dialog: TaskDialog | None = None
        self.active_editor: PolicyEditorDialog | None = None

        heading = plain_label(self.title, "paneTitle")
        self.count_label = plain_label("", "resultCount")
        self.new_action = QAction("New policy…", self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.new_policy)
        self.publish_action = QAction("Publish draft…", self)
        self.publish_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.publish_action.triggered.connect(self.publish_selected)
        self.assign_action = QAction("Assign to group…", self)
        self.assign_action.setShortcut(QKeySequence("Ctrl+Shift+G"))
        self.assign_action.triggered.connect(self.assign_selected)
        self.import_action = QAction("Import…", self)
        self.import_action.setShortcut(QKeySequence("Ctrl+Shift+I"))
        self.import_action.triggered.connect(self.import_policy)
        self.edit_action = QAction("Edit draft…", self)
        self.edit_action.setShortcut(QKeySequence("Ctrl+E"))
        self.edit_action.triggered.connect(self.edit_selected)
        self.compare_action = QAction("Compare…", self)
        self.compare_action.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.compare_action.triggered.connect(self.compare_selected)
        self.effective_action = QAction("Effective settings…", self)
        self.effective_action.setShortcut(QKeySequence("Ctrl+Shift+F"))
        self.effective_action.triggered.connect(self.show_effective)
        self.export_action = QAction("Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.export_action.triggered.connect(self.export_selected)
        # No shortcut: the main window's Refresh (F5) refreshes the current pane.
        self.refresh_action = QAction(icon("refresh"), "Refresh", self)
        self.refresh_action.triggered.connect(self.refresh)
        self.menu_actions: tuple[QAction, ...] = (
            self.new_action,
            self.import_action,
            self.edit_action,
            self.compare_action,
            self.publish_action,
            self.assign_action,
            self.effective_action,
            self.export_action,
        )
        """The pane's actions, for a menu (enabled and disabled with the selection and role)."""
        for action in self.menu_actions:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.new_button = self._button(self.new_action)
        self.edit_button = self._button(self.edit_action)
        self.publish_button = self._button(self.publish_action)
        self.assign_button = self._button(self.assign_action)
        self.refresh_button = self._button(self.refresh_action)
        # The less frequent actions share one "More" menu, so the pane fits a 1400-pixel-wide screen.
        self.more_menu = QMenu("More", self)
        self.more_menu.setToolTipsVisible(True)
        for action in (self.compare_action, self.effective_action, self.import_action, self.export_action):
            self.more_menu.addAction(action)
        self.more_button = QToolButton()
        self.more_button.setObjectName("policiesMoreButton")
        self.more_button.setText("More ▾")
        self.more_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.more_button.setToolTip("Compare, effective settings, import and export")
        self.more_button.setMenu(self.more_menu)
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.count_label)
        top.addStretch(1)
        buttons = (
            self.new_button,
            self.edit_button,
            self.publish_button,
            self.assign_button,
            self.more_button,
            self.refresh_button,
        )
        for button in buttons:
            top.addWidget(button)

        self.model = PolicyListModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setObjectName("policyTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for i, width in enumerate((200, 66, 126, 62, 150)):
            header.resizeSection(i, width)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.edit_selected())

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._build_detail())
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 600])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        self._show_detail(None)
        self._update_actions()
        self._restore_state()

    @staticmethod
    def _button(action: QAction) -> QPushButton:
        button = QPushButton(action.icon(), action.text())
        button.clicked.connect(action.trigger)
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        button.setToolTip(f"{action.text().rstrip('…')} ({shortcut})" if shortcut else action.text())

        def follow() -> None:
            button.setEnabled(action.isEnabled())
            button.setToolTip(action.toolTip())

        action.changed.connect(follow)
        return button

    def _build_detail(self) -> QFrame:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        self.detail_title = plain_label("", "detailTitle")
        self.detail_description = plain_label("")
        self.detail_description.setWordWrap(True)
        self.detail_status = plain_label("", "mutedText")
        self.detail_status.setWordWrap(True)

        self.settings_combo = QComboBox()
        self.settings_combo.setToolTip("Show the draft or a published version")
        self.settings_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.settings_combo.currentIndexChanged.connect(self._show_selected_settings)
        settings_row = QHBoxLayout()
        settings_row.addWidget(plain_label("Settings", "sectionTitle"))
        settings_row.addStretch(1)
        settings_row.addWidget(plain_label("Show", "mutedText"))
        settings_row.addWidget(self.settings_combo)
        self.settings_tree = make_tree(["Setting", "Value"], "policySettings")
        self.settings_tree.header().resizeSection(0, 320)

        self.versions_tree = make_tree(["Version", "Published", "By", "Notes"], "policyVersions")
        self.versions_tree.setRootIsDecorated(False)
        fit_columns(self.versions_tree, stretch=3)
        self.assignments_tree = make_tree(["Group", "Devices", "Version", "Assigned", "By"], "policyAssignments")
        self.assignments_tree.setRootIsDecorated(False)
        fit_columns(self.assignments_tree, stretch=0)

        self.empty_label = plain_label("Select a policy to see its settings, versions and assignments.", "mutedText")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)

        self.detail_body = QWidget()
        body = QVBoxLayout(self.detail_body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(6)
        body.addWidget(self.detail_title)
        body.addWidget(self.detail_description)
        body.addWidget(self.detail_status)
        body.addSpacing(4)
        body.addLayout(settings_row)
        body.addWidget(self.settings_tree, 5)
        body.addWidget(plain_label("Versions", "sectionTitle"))
        body.addWidget(self.versions_tree, 2)
        body.addWidget(plain_label("Assignments", "sectionTitle"))
        body.addWidget(self.assignments_tree, 2)

        layout = QVBoxLayout(panel)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.detail_body, 1)
        return panel

    # ---- selection and actions ---------------------------------------------------------------

    def selected_policy(self) -> PolicySummary | None:
        """The policy selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(self.proxy.mapToSource(rows[0]).row()) if rows else None

    def _update_actions(self) -> None:
        policy = self.selected_policy()
        detail = self.detail_shown if policy is not None and self.detail_shown is not None else None
        if detail is not None and policy is not None and detail.summary.id != policy.id:
            detail = None
        self.new_action.setEnabled(self.can_write)
        self.import_action.setEnabled(self.can_write)
        self.edit_action.setEnabled(detail is not None)
        self.edit_action.setToolTip(
            ("Edit the draft's settings (Ctrl+E)" if self.can_write else "View the draft's settings (read only)")
            if detail is not None
            else "Select a policy first"
        )
        self.compare_action.setEnabled(detail is not None)
        self.compare_action.setToolTip("Compare two versions, or the draft with a version (Ctrl+Shift+D)")
        self.effective_action.setToolTip(
            "What a group's devices get from all policies assigned to them, and which policy decided each setting"
        )
        publishable = policy is not None and (policy.draft_changed or policy.latest_version is None)
        self.publish_action.setEnabled(self.can_write and publishable)
        self.assign_action.setEnabled(self.can_write and detail is not None and bool(detail.versions))
        exportable = detail is not None and bool(detail.versions)
        self.export_action.setEnabled(exportable)
        self.export_action.setToolTip(
            "Write a published version as an Apple profile or an Android policy (Ctrl+Shift+E)"
            if exportable
            else "Select a published policy first"
        )
        if not self.can_write:
            tip = NO_WRITE_TIP
            for action in (self.new_action, self.import_action, self.publish_action, self.assign_action):
                action.setToolTip(tip)
            return
        self.new_action.setToolTip("Create a policy from the clinic baseline (Ctrl+N)")
        self.import_action.setToolTip("Create a policy from an Apple profile, an Android policy or a policy file")
        if policy is None:
            self.publish_action.setToolTip("Select a policy first")
        elif not publishable:
            self.publish_action.setToolTip(f"The draft is the same as version {policy.latest_version}")
        else:
            self.publish_action.setToolTip("Publish the draft as a new, unchangeable version")
        if detail is not None and not detail.versions:
            self.assign_action.setToolTip("Publish the policy before assigning it")
        else:
            self.assign_action.setToolTip("Assign a published version to a device group")

    def new_policy(self) -> NewPolicyDialog | None:
        """Open the New policy dialog."""
        if not self.can_write:
            return None
        dialog = NewPolicyDialog(self.ctx, self)
        dialog.succeeded.connect(lambda created: self._reload_after_write(created.id))
        return self._open(dialog)

    def publish_selected(self) -> PublishDialog | None:
        """Ask for confirmation and notes, then publish the selected policy's draft."""
        policy = self.selected_policy()
        if policy is None or not self.publish_action.isEnabled():
            return None
        dialog = PublishDialog(self.ctx, policy, self)
        dialog.succeeded.connect(lambda version: self._reload_after_write(version.policy_id))
        return self._open(dialog)

    def assign_selected(self) -> AssignDialog | None:
        """Choose a version, group and ownership scope, then assign."""
        detail = self.detail_shown
        if detail is None or not self.assign_action.isEnabled():
            return None
        dialog = AssignDialog(self.ctx, detail, self)
        dialog.succeeded.connect(lambda assignment: self._reload_after_write(assignment.policy_id))
        dialog.current.removed.connect(lambda assignment: self._reload_after_write(assignment.policy_id))
        return self._open(dialog)

    def import_policy(self) -> ImportPolicyDialog | None:
        """Choose a policy file, preview it, and create a policy from it."""
        if not self.can_write:
            return None
        dialog = ImportPolicyDialog(self.ctx, self)
        dialog.succeeded.connect(lambda created: self._reload_after_write(created.id))
        return self._open(dialog)

    def edit_selected(self) -> PolicyEditorDialog | None:
        """Open the editor on the selected policy's draft."""
        detail = self.detail_shown
        if detail is None or not self.edit_action.isEnabled():
            return None
        editor = PolicyEditorDialog(
            self.ctx, detail, can_write=self.can_write, open_publish=self._publish_from, parent=self
        )
        editor.saved.connect(lambda summary: self._reload_after_write(summary.id))
        self.detail_loaded.connect(editor.set_versions_if_same)
        editor.finished.connect(lambda _: self.detail_loaded.disconnect(editor.set_versions_if_same))
        editor.finished.connect(editor.deleteLater)
        self.active_editor = editor
        editor.open()
        return editor

    def _publish_from(self, policy: PolicySummary, parent: QWidget) -> PublishDialog:
        dialog = PublishDialog(self.ctx, policy, parent)
        dialog.succeeded.connect(lambda version: self._reload_after_write(version.policy_id))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def compare_selected(self) -> PolicyDiffDialog | None:
        """Compare two versions of the selected policy (or its draft with one)."""
        detail = self.detail_shown
        if detail is None:
            return None
        dialog = PolicyDiffDialog(detail, parent=self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def show_effective(self) -> EffectiveSettingsDialog:
        """Show the effective settings of a group (the first group the selected policy is assigned to)."""
        detail = self.detail_shown
        group = detail.assignments[0].group_id if detail is not None and detail.assignments else None
        dialog = EffectiveSettingsDialog(self.ctx, self, group)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def export_selected(self) -> ExportDialog | None:
        """Choose a format, version and file, export, and show what the file could not state."""
        detail = self.detail_shown
        if detail is None or not self.export_action.isEnabled():
            return None
        return self._open(ExportDialog(self.ctx, detail, self))

    def _open(self, dialog: _D) -> _D:
        self.active_dialog = dialog
        dialog.finished.connect(dialog.deleteLater)
        dialog.finished.connect(lambda _: setattr(self, "active_dialog", None))
        dialog.open()
        return dialog

    def _reload_after_write(self, policy_id: int) -> None:
        self._selected_id = policy_id
        self._force_detail = True
        self.refresh()

    # ---- loading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the policy list (off the GUI thread); the selection is kept."""
        if self._list_task is not None:
            self._list_task.cancel()
        service, principal = self.ctx.services.policies, self.ctx.session.principal
        self.refresh_action.setEnabled(False)
        self._list_task = self.ctx.runner.submit(
            lambda: service.list_policies(principal), on_done=self._show_list, on_error=self._list_failed
        )

    def _list_failed(self, exc: BaseException) -> None:
        self._list_task = None
        self.refresh_action.setEnabled(True)
        self.ctx.errors.report(exc)

    def _show_list(self, policies: tuple[PolicySummary, ...]) -> None:
        self._list_task = None
        self.refresh_action.setEnabled(True)
        keep = self._selected_id
        self.model.set_rows(policies)
        n = len(policies)
        self.count_label.setText(f"{n:,} {'policy' if n == 1 else 'policies'}")
        if keep is not None and self.model.row_of(keep) >= 0:
            self.select_policy(keep)
        elif self.proxy.rowCount() > 0:
            self.select_row(0)
        else:
            self._selected_id = None
            self._show_detail(None)
        self._update_actions()
        self.list_loaded.emit()

    def select_row(self, row: int) -> None:
        """Select the ``row``-th policy as shown."""
        if 0 <= row < self.proxy.rowCount():
            self.table.selectRow(row)

    def select_policy(self, policy_id: int) -> None:
        """Select the policy with ``policy_id`` if it is listed."""
        source_row = self.model.row_of(policy_id)
        if source_row < 0:
            return
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if index.row() in {i.row() for i in self.table.selectionModel().selectedRows()}:
            self._selection_changed(QItemSelection(), QItemSelection())  # same row, maybe new data
        else:
            self.table.selectRow(index.row())
        self.table.scrollTo(index)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        policy = self.selected_policy()
        self._update_actions()
        if policy is None:
            self._selected_id = None
            self._show_detail(None)
            return
        shown = self.detail_shown
        fresh = shown is not None and shown.summary == policy and not self._force_detail
        if policy.id == self._selected_id and fresh:
            return
        self._selected_id = policy.id
        self._force_detail = False
        self._load_detail(policy.id)

    def _load_detail(self, policy_id: int) -> None:
        if self._detail_task is not None:
            self._detail_task.cancel()
        service, principal = self.ctx.services.policies, self.ctx.session.principal
        self._detail_task = self.ctx.runner.submit(
            lambda: service.policy_detail(principal, policy_id),
            on_done=self._detail_arrived,
            on_error=self._detail_failed,
        )

    def _detail_failed(self, exc: BaseException) -> None:
        self._detail_task = None
        self.ctx.errors.report(exc)

    def _detail_arrived(self, detail: PolicyDetail) -> None:
        self._detail_task = None
        if detail.summary.id == self._selected_id:
            self._show_detail(detail)
            self._update_actions()
            self.detail_loaded.emit(detail)

    # ---- detail --------------------------------------------------------------------------------

    def _show_detail(self, detail: PolicyDetail | None) -> None:
        self.detail_shown = detail
        self.empty_label.setVisible(detail is None)
        self.detail_body.setVisible(detail is not None)
        if detail is None:
            return
        p = detail.summary
        self.detail_title.setText(p.name)
        self.detail_description.setText(p.description or "No description.")
        if p.latest_version is None:
            status = "Not published yet. Publish the draft to assign it to groups."
        else:
            latest = detail.versions[0] if detail.versions else None
            by = f" by {latest.published_by}" if latest is not None else ""
            status = f"Latest: version {p.latest_version}, published {format_local_time(p.published_at)}{by}."
            status += " The draft has unpublished changes." if p.draft_changed else " The draft matches it."
        groups = p.assigned_groups
        if p.latest_version is not None:
            status += f" Assigned to {groups} group{'s' if groups != 1 else ''}." if groups else " Not assigned yet."
        self.detail_status.setText(status)

        self.settings_combo.blockSignals(True)
        self.settings_combo.clear()
        unpublished = p.draft_changed and p.latest_version is not None
        self.settings_combo.addItem("Draft" + (" (unpublished changes)" if unpublished else ""), None)
        for v in detail.versions:
            self.settings_combo.addItem(f"Version {v.version}", v.id)
        self.settings_combo.setCurrentIndex(0)
        self.settings_combo.blockSignals(False)
        self._show_selected_settings()

        self.versions_tree.clear()
        for v in detail.versions:
            item = QTreeWidgetItem(
                [f"v{v.version}", format_local_time(v.published_at), v.published_by, " ".join(v.notes.split())]
            )
            item.setToolTip(3, v.notes)
            self.versions_tree.addTopLevelItem(item)
        if not detail.versions:
            self._placeholder(self.versions_tree, "No published versions yet.")

        self.assignments_tree.clear()
        for a in detail.assignments:
            scope = next(text for text, own in OWNERSHIP_CHOICES if own is a.ownership)
            self.assignments_tree.addTopLevelItem(
                QTreeWidgetItem(
                    [
                        a.group_name,
                        scope.replace(" in the group", ""),
                        f"v{a.version}",
                        format_local_time(a.assigned_at),
                        a.assigned_by,
                    ]
                )
            )
        if not detail.assignments:
            self._placeholder(self.assignments_tree, "Not assigned to any group.")

    @staticmethod
    def _placeholder(tree: QTreeWidget, text: str) -> None:
        item = QTreeWidgetItem([text])
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        tree.addTopLevelItem(item)
        item.setFirstColumnSpanned(True)

    def _show_selected_settings(self) -> None:
        detail = self.detail_shown
        if detail is None:
            self.settings_tree.clear()
            return
        version_id = self.settings_combo.currentData()
        if version_id is None:
            latest = detail.versions[0] if detail.versions else None
            fill_settings_tree(
                self.settings_tree,
                detail.draft_settings,
                latest.settings if latest is not None else None,
                f"version {latest.version}" if latest is not None else "",
            )
            return
        chosen = next((v for v in detail.versions if v.id == version_id), None)
        if chosen is not None:
            fill_settings_tree(self.settings_tree, chosen.settings)

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
        for task in (self._list_task, self._detail_task):
            if task is not None:
                task.cancel()
        super().closeEvent(event)
