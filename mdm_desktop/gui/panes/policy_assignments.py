"""Assignments of a policy (listed, removable) and the effective settings of a device group.

:class:`CurrentAssignmentsWidget` goes into the Assign dialog: it lists where the policy's versions
are assigned and removes one after confirmation. :class:`EffectiveSettingsDialog` shows, for a
group and an ownership type, what every policy assigned there adds up to: each setting's value, the
policy that decided it, and the rule (most restrictive wins).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.errors import NotFoundError, ValidationError
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.policy_dialog_base import fit_columns, make_tree, plain_label
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.dto import GroupInfo, PolicyAssignmentInfo
from mdm_desktop.services.policy_views import EffectiveSettings

ASSIGNMENT_ROLE = Qt.ItemDataRole.UserRole


def scope_words(ownership: Ownership | None) -> str:
    """Which devices of the group an assignment reaches."""
    return "All devices" if ownership is None else f"{ownership.label} devices"


class CurrentAssignmentsWidget(QWidget):
    """Where a policy's versions are assigned, with "Remove" (confirmed, audited by the service).

    Signals:
        removed(object): the :class:`PolicyAssignmentInfo` that was removed.
    """

    removed = Signal(object)

    def __init__(
        self,
        ctx: PaneContext,
        assignments: tuple[PolicyAssignmentInfo, ...],
        can_write: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.can_write = can_write
        self._task: Task | None = None
        self.tree = make_tree(["Group", "Devices", "Version", "Assigned"], "currentAssignments")
        self.tree.setRootIsDecorated(False)
        self.tree.setMaximumHeight(140)
        fit_columns(self.tree, stretch=0)
        self.remove_button = QPushButton("Remove assignment…")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_selected)
        self.tree.itemSelectionChanged.connect(self._update)
        self.message = plain_label("", "mutedText")
        self.message.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(plain_label("Assigned now", "sectionTitle"))
        row.addStretch(1)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.tree)
        layout.addWidget(self.message)
        self.set_assignments(assignments)

    def set_assignments(self, assignments: tuple[PolicyAssignmentInfo, ...]) -> None:
        """List ``assignments``."""
        self.tree.clear()
        for a in assignments:
            item = QTreeWidgetItem(
                [a.group_name, scope_words(a.ownership), f"v{a.version}", format_local_time(a.assigned_at)]
            )
            item.setData(0, ASSIGNMENT_ROLE, a)
            item.setToolTip(3, f"by {a.assigned_by}")
            self.tree.addTopLevelItem(item)
        if not assignments:
            empty = QTreeWidgetItem(["Not assigned to any group."])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(empty)
            empty.setFirstColumnSpanned(True)
        self._update()

    def selected(self) -> PolicyAssignmentInfo | None:
        """The selected assignment."""
        items = self.tree.selectedItems()
        data = items[0].data(0, ASSIGNMENT_ROLE) if items else None
        return data if isinstance(data, PolicyAssignmentInfo) else None

    def _update(self) -> None:
        self.remove_button.setEnabled(self.can_write and self.selected() is not None and self._task is None)
        self.remove_button.setToolTip(
            "Stop applying this version to the group's devices"
            if self.can_write
            else "Your role cannot change policies."
        )

    def confirm_remove(self, assignment: PolicyAssignmentInfo) -> bool:
        """Ask before removing ``assignment``."""
        answer = QMessageBox.question(
            self,
            "Remove assignment",
            f"Stop applying version {assignment.version} to {scope_words(assignment.ownership).lower()} of "
            f"{assignment.group_name}?\n\nThose devices are then checked only against the other policies assigned "
            "to them (if any).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def remove_selected(self) -> Task | None:
        """Remove the selected assignment after confirmation."""
        assignment = self.selected()
        if assignment is None or not self.can_write or self._task is not None:
            return None
        if not self.confirm_remove(assignment):
            return None
        service, principal = self.ctx.services.policies, self.ctx.session.principal
        self._task = self.ctx.runner.submit(
            lambda: service.unassign(principal, assignment.id), on_done=self._removed, on_error=self._failed
        )
        self._update()
        return self._task

    def _removed(self, info: PolicyAssignmentInfo) -> None:
        self._task = None
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            data = item.data(0, ASSIGNMENT_ROLE) if item is not None else None
            if isinstance(data, PolicyAssignmentInfo) and data.id == info.id:
                self.tree.takeTopLevelItem(i)
                break
        self.message.setText(f"Removed version {info.version} from {info.group_name}.")
        self._update()
        self.removed.emit(info)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self._update()
        if isinstance(exc, ValidationError | NotFoundError):
            self.message.setText(f"{exc.message} {exc.hint}".strip())
        else:
            self.ctx.errors.report(exc)


class EffectiveSettingsDialog(QDialog):
    """The settings the devices of a group get from all policies assigned to them, and which policy decided each.

    Signals:
        loaded(object): an :class:`EffectiveSettings` is on screen.
    """

    loaded = Signal(object)
    groups_loaded = Signal()

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None, group_id: int | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Effective settings of a device group")
        self._wanted_group = group_id
        self._task: Task | None = None
        self.effective: EffectiveSettings | None = None
        self.group_combo = QComboBox()
        self.group_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.group_combo.addItem("Loading groups…", None)
        self.group_combo.setEnabled(False)
        self.ownership_combo = QComboBox()
        for ownership in Ownership:
            self.ownership_combo.addItem(f"{ownership.label} devices", ownership.value)
        self.only_contested = QCheckBox("Only settings where the policies differ")
        self.only_contested.toggled.connect(self._fill)
        row = QHBoxLayout()
        row.addWidget(plain_label("Group"))
        row.addWidget(self.group_combo)
        row.addWidget(self.ownership_combo)
        row.addSpacing(12)
        row.addWidget(self.only_contested)
        row.addStretch(1)
        self.policies_label = plain_label("", "mutedText")
        self.policies_label.setWordWrap(True)
        self.rule_label = plain_label(
            "When several policies reach a device, each setting takes the most restrictive value. Bold rows: the "
            "policies state different values and the rule decided.",
            "mutedText",
        )
        self.rule_label.setWordWrap(True)
        self.tree = make_tree(["Setting", "Value", "Decided by", "Rule"], "effectiveSettings")
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column, width in enumerate((300, 340, 360)):
            header.resizeSection(column, width)
        self.conflicts_label = plain_label("", "errorText")
        self.conflicts_label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label(self.windowTitle(), "dialogTitle"))
        layout.addLayout(row)
        layout.addWidget(self.rule_label)
        layout.addWidget(self.policies_label)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.conflicts_label)
        layout.addWidget(buttons)
        self.resize(1000, 700)
        self.group_combo.currentIndexChanged.connect(self.refresh)
        self.ownership_combo.currentIndexChanged.connect(self.refresh)
        devices, principal = ctx.services.devices, ctx.session.principal
        ctx.runner.submit(lambda: devices.groups(principal), on_done=self._fill_groups, on_error=ctx.errors.report)

    def _fill_groups(self, groups: tuple[GroupInfo, ...]) -> None:
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        for g in groups:
            self.group_combo.addItem(f"{g.name} ({g.device_count:,} devices)", g.id)
        if not groups:
            self.group_combo.addItem("No device groups yet", None)
        wanted = self.group_combo.findData(self._wanted_group) if self._wanted_group is not None else 0
        self.group_combo.setCurrentIndex(max(wanted, 0))
        self.group_combo.setEnabled(bool(groups))
        self.group_combo.blockSignals(False)
        self.groups_loaded.emit()
        self.refresh()

    def choose(self, group_id: int, ownership: Ownership) -> None:
        """Show ``ownership`` devices of group ``group_id``."""
        self.ownership_combo.blockSignals(True)
        self.ownership_combo.setCurrentIndex(self.ownership_combo.findData(ownership.value))
        self.ownership_combo.blockSignals(False)
        self.group_combo.setCurrentIndex(self.group_combo.findData(group_id))
        self.refresh()

    def refresh(self) -> None:
        """Load the effective settings of the chosen group and ownership."""
        group_id = self.group_combo.currentData()
        ownership = self.ownership_combo.currentData()
        if not isinstance(group_id, int) or not ownership:
            return
        if self._task is not None:
            self._task.cancel()
        service, principal, own = self.ctx.services.policies, self.ctx.session.principal, Ownership(ownership)
        self._task = self.ctx.runner.submit(
            lambda: service.effective_settings(principal, group_id, own), on_done=self._show, on_error=self._failed
        )

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        if isinstance(exc, ValidationError | NotFoundError):
            self.policies_label.setText(f"{exc.message} {exc.hint}".strip())
        else:
            self.ctx.errors.report(exc)

    def _show(self, result: EffectiveSettings) -> None:
        self._task = None
        self.effective = result
        who = f"{scope_words(result.ownership).lower()} of {result.group_name}"
        if not result.policies:
            self.policies_label.setText(f"No policy is assigned to {who}.")
        else:
            self.policies_label.setText(f"Policies reaching {who}: {', '.join(result.policies)}.")
        notes = list(result.conflicts)
        if result.unreadable:
            notes.append(f"Left out because their settings cannot be read: {', '.join(result.unreadable)}.")
        self.conflicts_label.setText("\n".join(notes))
        self.conflicts_label.setVisible(bool(notes))
        self._fill()
        self.loaded.emit(result)

    def _fill(self) -> None:
        self.tree.clear()
        result = self.effective
        if result is None:
            return
        bold = QFont()
        bold.setBold(True)
        parents: dict[str, QTreeWidgetItem] = {}
        for s in result.settings:
            if self.only_contested.isChecked() and not s.contested:
                continue
            parent = parents.get(s.group)
            if parent is None:
                parent = QTreeWidgetItem([s.group])
                parent.setFirstColumnSpanned(True)
                parents[s.group] = parent
                self.tree.addTopLevelItem(parent)
                parent.setFirstColumnSpanned(True)
            item = QTreeWidgetItem([s.label, s.value, ", ".join(s.sources) or "—", s.rule if s.contested else ""])
            item.setToolTip(0, s.key)
            item.setToolTip(1, s.value)
            item.setToolTip(3, s.rule)
            if s.contested:
                for column in range(4):
                    item.setFont(column, bold)
            parent.addChild(item)
        self.tree.expandAll()
