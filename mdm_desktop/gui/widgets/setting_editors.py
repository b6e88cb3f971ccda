"""One editor widget per kind of policy setting, made from the setting's spec.

Every editor shows and returns the setting's value in its JSON form (what drafts store) and emits
``changed`` whenever the person edits it. Editors do not validate: the policy editor checks the
whole draft with :func:`~mdm_desktop.domain.policy_settings.check_settings` after each change and
shows the problems next to the setting, so a half-typed value is allowed while typing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.policy_settings import EapMethod, SettingKind, SettingSpec, WifiSecurity
from mdm_desktop.domain.policy_words import WIFI_WORDS, choice_words, default_json

INT_LIMIT = 99_999
"""Spin boxes accept more than a setting's range, so an out-of-range value is shown (and explained), not clamped."""

TEXT_PLACEHOLDERS = {SettingKind.TIME_WINDOW: "e.g. 02:00-04:00", SettingKind.DATE: "e.g. 2027-03-31"}

PLATFORM_ORDER = (Platform.IOS, Platform.IPADOS, Platform.ANDROID, Platform.MACOS, Platform.WINDOWS, Platform.LINUX)


class SettingEditor(QWidget):
    """Base of the editors: a value in JSON form, and a ``changed`` signal for edits by the person.

    Signals:
        changed(): the person changed the value (not emitted by :meth:`set_value`).
    """

    changed = Signal()

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setObjectName(f"editor:{spec.key}")
        self._loading = False
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)

    def value(self) -> Any:
        """The value in JSON form."""
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show ``value`` (JSON form) without emitting ``changed``."""
        self._loading = True
        try:
            self._show(value)
        finally:
            self._loading = False

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _edited(self, *_args: object) -> None:
        if not self._loading:
            self._sync()
            self.changed.emit()

    def _sync(self) -> None:
        """Enable or disable parts after an edit (e.g. a "not set" box)."""


class _UnsetBox(QCheckBox):
    """The "no limit" / "no list" box of a nullable setting."""

    def __init__(self, spec: SettingSpec) -> None:
        text = "No limit" if spec.kind is SettingKind.INT else "Not set"
        if spec.kind in (SettingKind.TEXT_LIST, SettingKind.WIFI_LIST):
            text = "No list"
        super().__init__(text)
        self.setObjectName("unsetBox")


class BoolEditor(SettingEditor):
    """A check box."""

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = QCheckBox("Yes")
        self.box.toggled.connect(self._edited)
        self.box.toggled.connect(lambda on: self.box.setText("Yes" if on else "No"))
        self._layout.addWidget(self.box)
        self._layout.addStretch(1)

    def value(self) -> Any:
        return self.box.isChecked()

    def _show(self, value: Any) -> None:
        self.box.setChecked(value is True)
        self.box.setText("Yes" if value is True else "No")


class IntEditor(SettingEditor):
    """A spin box with the unit, and "No limit" for a nullable setting."""

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.spin = QSpinBox()
        self.spin.setRange(0, INT_LIMIT)
        self.spin.setKeyboardTracking(True)
        self.spin.setMinimumWidth(90)
        if spec.unit:
            self.spin.setSuffix(f" {spec.unit}")
            if spec.unit.endswith("s"):  # "1 day", "2 days"
                self.spin.valueChanged.connect(
                    lambda n: self.spin.setSuffix(f" {spec.unit[:-1] if n == 1 else spec.unit}")
                )
        self.spin.setToolTip(f"{spec.minimum} to {spec.maximum} {spec.unit}".strip())
        self.spin.valueChanged.connect(self._edited)
        self._layout.addWidget(self.spin)
        self.unset: _UnsetBox | None = None
        if spec.nullable:
            self.unset = _UnsetBox(spec)
            self.unset.toggled.connect(self._edited)
            self._layout.addWidget(self.unset)
        self._layout.addStretch(1)

    def value(self) -> Any:
        if self.unset is not None and self.unset.isChecked():
            return None
        return self.spin.value()

    def _show(self, value: Any) -> None:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        fallback = self.spec.default if isinstance(self.spec.default, int) else (self.spec.minimum or 0)
        self.spin.setValue(value if is_int else fallback)
        if self.unset is not None:
            self.unset.setChecked(value is None)
        self._sync()

    def _sync(self) -> None:
        self.spin.setEnabled(self.unset is None or not self.unset.isChecked())


class ChoiceEditor(SettingEditor):
    """A drop-down of the choices, in words, from least to most restrictive."""

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = QComboBox()
        for choice in spec.choices:
            self.combo.addItem(choice_words(choice), choice)
        self.combo.currentIndexChanged.connect(self._edited)
        self._layout.addWidget(self.combo)
        self._layout.addStretch(1)

    def value(self) -> Any:
        return self.combo.currentData()

    def _show(self, value: Any) -> None:
        index = self.combo.findData(value)
        if index < 0 and value is not None:
            self.combo.addItem(f"{value} (not a choice)", value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(max(index, 0))


class TextEditor(SettingEditor):
    """A line of text (time window, date); empty means "not set" when the setting allows it."""

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.edit = QLineEdit()
        self.edit.setMaximumWidth(220)
        hint = TEXT_PLACEHOLDERS.get(spec.kind, "")
        self.edit.setPlaceholderText(f"Not set ({hint})" if spec.nullable else hint)
        self.edit.textEdited.connect(self._edited)
        self._layout.addWidget(self.edit)
        self._layout.addStretch(1)

    def value(self) -> Any:
        text = self.edit.text().strip()
        return None if not text and self.spec.nullable else text

    def _show(self, value: Any) -> None:
        self.edit.setText("" if value is None else str(value))


class VersionMapEditor(SettingEditor):
    """A version per platform the setting applies to; empty fields state nothing."""

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.fields: dict[Platform, QLineEdit] = {}
        self._extra: dict[str, Any] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        platforms = [p for p in PLATFORM_ORDER if p in spec.platforms]
        for i, platform in enumerate(platforms):
            edit = QLineEdit()
            edit.setObjectName(f"version:{platform.value}")
            edit.setPlaceholderText("—")
            edit.setFixedWidth(70)
            edit.setToolTip(f"Minimum {platform.label} version, e.g. 18.6 (empty: none)")
            edit.textEdited.connect(self._edited)
            row, column = divmod(i, 2)
            grid.addWidget(QLabel(platform.label), row, column * 2)
            grid.addWidget(edit, row, column * 2 + 1)
            self.fields[platform] = edit
        self._layout.addLayout(grid)
        self._layout.addStretch(1)

    def value(self) -> Any:
        out: dict[str, Any] = dict(self._extra)
        for platform, edit in self.fields.items():
            text = edit.text().strip()
            if text:
                out[platform.value] = text
        return out

    def _show(self, value: Any) -> None:
        data = dict(value) if isinstance(value, dict) else {}
        for platform, edit in self.fields.items():
            item = data.pop(platform.value, None)
            edit.setText("" if item is None else str(item))
        self._extra = data  # platforms without a field are kept (and checked) as they are


class ListEditor(SettingEditor):
    """A list of identifiers (apps from the catalog, rule ids): add from a completing field, remove selected."""

    def __init__(self, spec: SettingSpec, completions: Sequence[str] = (), parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.list = QListWidget()
        self.list.setObjectName("itemList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setMaximumHeight(84)
        self.list.setMinimumWidth(220)
        self.entry = QLineEdit()
        self.entry.setObjectName("itemEntry")
        self.entry.setPlaceholderText("com.example.app" if takes_apps(spec) else "an identifier")
        self.entry.returnPressed.connect(self.add_entry)
        self.completer = QCompleter(list(completions), self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.entry.setCompleter(self.completer)
        self.add_button = QPushButton("Add")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self.add_entry)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_selected)
        column = QVBoxLayout()
        column.setSpacing(4)
        row = QHBoxLayout()
        row.addWidget(self.entry, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        column.addLayout(row)
        column.addWidget(self.list)
        self._layout.addLayout(column, 1)
        self.unset: _UnsetBox | None = None
        if spec.nullable:
            self.unset = _UnsetBox(spec)
            self.unset.setToolTip(spec.help or "No list: nothing is limited.")
            self.unset.toggled.connect(self._edited)
            self._layout.addWidget(self.unset, 0, Qt.AlignmentFlag.AlignTop)

    def set_completions(self, items: Sequence[str]) -> None:
        """Offer ``items`` (e.g. the catalog's app identifiers) while typing."""
        self.completer.model().deleteLater()
        self.completer = QCompleter(list(items), self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.entry.setCompleter(self.completer)

    def items(self) -> list[str]:
        """The listed identifiers."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add_entry(self) -> None:
        """Add what is typed (several may be separated by commas or spaces)."""
        new = [p for p in self.entry.text().replace(",", " ").split() if p]
        if not new:
            return
        present = set(self.items())
        for text in new:
            if text not in present:
                self.list.addItem(QListWidgetItem(text))
                present.add(text)
        self.entry.clear()
        if self.unset is not None:
            self.unset.setChecked(False)
        self._edited()

    def remove_selected(self) -> None:
        """Remove the selected identifiers."""
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self._edited()

    def value(self) -> Any:
        if self.unset is not None and self.unset.isChecked():
            return None
        return self.items()

    def _show(self, value: Any) -> None:
        self.list.clear()
        items = value if isinstance(value, list) else []
        for item in items:
            self.list.addItem(QListWidgetItem(item if isinstance(item, str) else repr(item)))
        if self.unset is not None:
            self.unset.setChecked(value is None)
        self._sync()

    def _sync(self) -> None:
        on = self.unset is None or not self.unset.isChecked()
        for widget in (self.list, self.entry, self.add_button, self.remove_button):
            widget.setEnabled(on)


class WifiListEditor(SettingEditor):
    """Networks with their security type (and EAP method for enterprise networks)."""

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("wifiTable")
        self.table.setHorizontalHeaderLabels(["Network name (SSID)", "Security", "EAP method"])
        self.table.verticalHeader().setVisible(False)
        self.table.setMaximumHeight(120)
        self.table.setMinimumWidth(300)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._edited)
        self.add_button = QPushButton("Add network")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(lambda: self.add_network({"ssid": "", "security": "wpa3_enterprise"}))
        self.remove_button = QPushButton("Remove")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()  # under the table, so the editor fits a narrow form column
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.setSpacing(4)
        column.addWidget(self.table)
        column.addLayout(buttons)
        self._layout.addLayout(column, 1)
        self.unset: _UnsetBox | None = None
        if spec.nullable:
            self.unset = _UnsetBox(spec)
            self.unset.toggled.connect(self._edited)
            buttons.insertWidget(0, self.unset)

    def add_network(self, network: dict[str, Any]) -> None:
        """Add a row for ``network`` (JSON form)."""
        loading, self._loading = self._loading, True
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(str(network.get("ssid") or "")))
        security = QComboBox()
        for value in WifiSecurity:
            security.addItem(WIFI_WORDS[value.value], value.value)
        eap = QComboBox()
        eap.addItem("—", None)
        for method in EapMethod:
            eap.addItem(WIFI_WORDS[method.value], method.value)
        security.setCurrentIndex(max(security.findData(network.get("security")), 0))
        eap.setCurrentIndex(max(eap.findData(network.get("eap")), 0))
        security.currentIndexChanged.connect(self._edited)
        eap.currentIndexChanged.connect(self._edited)
        self.table.setCellWidget(row, 1, security)
        self.table.setCellWidget(row, 2, eap)
        self._loading = loading
        if self.unset is not None and not loading:
            self.unset.setChecked(False)
        if not loading:
            self._edited()

    def remove_selected(self) -> None:
        """Remove the rows of the selected cells."""
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)
        self._edited()

    def value(self) -> Any:
        if self.unset is not None and self.unset.isChecked():
            return None
        out = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            security = self.table.cellWidget(row, 1)
            eap = self.table.cellWidget(row, 2)
            network: dict[str, Any] = {"ssid": item.text() if item is not None else ""}
            if isinstance(security, QComboBox):
                network["security"] = security.currentData()
                if isinstance(eap, QComboBox) and eap.currentData() is not None:
                    network["eap"] = eap.currentData()
            out.append(network)
        return out

    def _show(self, value: Any) -> None:
        self.table.setRowCount(0)
        for network in value if isinstance(value, list) else []:
            self.add_network(network if isinstance(network, dict) else {"ssid": str(network)})
        if self.unset is not None:
            self.unset.setChecked(value is None)
        self._sync()

    def _sync(self) -> None:
        on = self.unset is None or not self.unset.isChecked()
        for widget in (self.table, self.add_button, self.remove_button):
            widget.setEnabled(on)


def make_editor(spec: SettingSpec, app_ids: Sequence[str] = (), parent: QWidget | None = None) -> SettingEditor:
    """The editor for ``spec``'s kind, showing its default."""
    kind = spec.kind
    editor: SettingEditor
    if kind is SettingKind.BOOL:
        editor = BoolEditor(spec, parent)
    elif kind is SettingKind.INT:
        editor = IntEditor(spec, parent)
    elif kind is SettingKind.CHOICE:
        editor = ChoiceEditor(spec, parent)
    elif kind is SettingKind.VERSION_MAP:
        editor = VersionMapEditor(spec, parent)
    elif kind is SettingKind.TEXT_LIST:
        editor = ListEditor(spec, app_ids if takes_apps(spec) else (), parent)
    elif kind is SettingKind.WIFI_LIST:
        editor = WifiListEditor(spec, parent)
    else:
        editor = TextEditor(spec, parent)
    editor.set_value(default_json(spec))
    return editor


def takes_apps(spec: SettingSpec) -> bool:
    """Whether a list setting holds app identifiers (offered from the catalog)."""
    return spec.kind is SettingKind.TEXT_LIST and (spec.group == "apps" or spec.name.endswith("apps"))
