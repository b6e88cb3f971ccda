"""Compare two versions of a policy (or the draft with a version): the settings that changed, old -> new, in words."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.policy_words import SettingChange, describe_changes
from mdm_desktop.gui.panes.policy_dialog_base import fit_columns, make_tree, plain_label
from mdm_desktop.services.dto import PolicyDetail

DRAFT = "draft"
UNSAVED = "unsaved"


class PolicyDiffDialog(QDialog):
    """Two drop-downs (from, to) over the versions and the draft, and the settings that differ between them."""

    def __init__(
        self, detail: PolicyDetail, unsaved: dict[str, Any] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.detail = detail
        self.setWindowTitle(f"Compare versions of {detail.summary.name}")
        self._sides: dict[Any, tuple[str, dict[str, Any]]] = {}
        if unsaved is not None:
            self._sides[UNSAVED] = ("Draft with unsaved edits", unsaved)
        self._sides[DRAFT] = ("Draft (saved)", detail.draft_settings)
        for v in detail.versions:
            self._sides[v.id] = (f"Version {v.version}", v.settings)
        self.from_combo = QComboBox()
        self.to_combo = QComboBox()
        for key, (text, _) in self._sides.items():
            self.from_combo.addItem(text, key)
            self.to_combo.addItem(text, key)
        newest = detail.versions[0].id if detail.versions else DRAFT
        self.from_combo.setCurrentIndex(self.from_combo.findData(newest))
        self.to_combo.setCurrentIndex(0)
        self.from_combo.currentIndexChanged.connect(self.refresh)
        self.to_combo.currentIndexChanged.connect(self.refresh)
        row = QHBoxLayout()
        row.addWidget(plain_label("Compare"))
        row.addWidget(self.from_combo)
        row.addWidget(plain_label("with"))
        row.addWidget(self.to_combo)
        row.addStretch(1)
        self.summary = plain_label("", "mutedText")
        self.tree = make_tree(["Group", "Setting", "Before", "After"], "diffTree")
        self.tree.setRootIsDecorated(False)
        self.tree.setWordWrap(True)
        fit_columns(self.tree, stretch=3)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label(self.windowTitle(), "dialogTitle"))
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.changes: tuple[SettingChange, ...] = ()
        self.resize(900, 560)
        self.refresh()

    def choose(self, before: Any, after: Any) -> None:
        """Compare side ``before`` with ``after`` (a version id, :data:`DRAFT` or :data:`UNSAVED`)."""
        self.from_combo.setCurrentIndex(self.from_combo.findData(before))
        self.to_combo.setCurrentIndex(self.to_combo.findData(after))

    def refresh(self) -> None:
        """Show the differences between the chosen sides."""
        before = self._sides.get(self.from_combo.currentData())
        after = self._sides.get(self.to_combo.currentData())
        self.tree.clear()
        if before is None or after is None:
            return
        self.changes = describe_changes(before[1], after[1])
        for change in self.changes:
            item = QTreeWidgetItem([change.group, change.label, change.old, change.new])
            item.setToolTip(1, change.key)
            for column in (2, 3):
                item.setToolTip(column, item.text(column))
            self.tree.addTopLevelItem(item)
        n = len(self.changes)
        if n == 0:
            self.summary.setText(f"{before[0]} and {after[0]} state the same settings.")
            empty = QTreeWidgetItem(["No setting differs."])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(empty)
            empty.setFirstColumnSpanned(True)
        else:
            self.summary.setText(f"{n} setting{'s' if n != 1 else ''} differ from {before[0]} to {after[0]}.")
