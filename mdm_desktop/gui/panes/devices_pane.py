"""The Devices pane: search and filters (evaluated in SQL), the paged device table and a detail panel.

Everything a device reports (names, models, app names, command reasons) is shown as
plain text: labels use ``Qt.TextFormat.PlainText`` and table cells are never rich text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import shiboken6
from PySide6.QtCore import QByteArray, QItemSelection, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform
from mdm_desktop.domain.errors import NotFoundError
from mdm_desktop.gui.models.device_table_model import (
    COLUMNS,
    COMPLIANCE_COLORS,
    DEVICE_ROW_ROLE,
    EMPTY_TEXT,
    HIDDEN_TEXT,
    DeviceTableModel,
    format_local_time,
)
from mdm_desktop.gui.models.keyset_table_model import KeysetTableModel
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.device_command_actions import DeviceCommandActions, LostLocationNote
from mdm_desktop.gui.panes.exceptions_pane import DeviceExceptionAction
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.gui.widgets.column_fit import column_widths
from mdm_desktop.gui.widgets.rule_outcomes import RuleOutcomeList
from mdm_desktop.services.dto import DeviceDetail, DeviceQuery, DeviceRow, GroupInfo

SEARCH_DELAY_MS = 300
DETAIL_DELAY_MS = 120
MAX_STALE_DAYS = 3650


def plain_label(text: str = "", object_name: str = "", *, wrap: bool = False, selectable: bool = False) -> QLabel:
    """A label that never interprets its text as markup."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    if object_name:
        label.setObjectName(object_name)
    label.setWordWrap(wrap)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def count_text(n: int) -> str:
    """``"1 device"``, ``"1,234 devices"``."""
    return "1 device" if n == 1 else f"{n:,} devices"


INVENTORY_FIELDS: tuple[tuple[str, ...], ...] = (
    ("Name", "Platform", "Vendor", "Model", "Serial number", "Kernel"),
    ("OS version", "OS build", "Security patch", "Firmware", "Hardware ID", "Last OS update"),
    ("Ownership", "Group", "Assigned to", "Status", "Enrolled", "Battery"),
    (
        "Last check-in",
        "Jailbroken / rooted",
        "Storage encryption",
        "Passcode",
        "Screen lock",
        "Firewall",
        "Managed container",
    ),
)
"""Inventory fields of the detail panel, in four columns."""


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    if value is None:
        return "Not reported"
    return yes if value else no


def _date_text(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else EMPTY_TEXT


class _FilterCombo(QComboBox):
    """A combo box whose items carry the filter value they stand for."""

    def __init__(self, name: str, tooltip: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setToolTip(tooltip)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

    def select_value(self, value: object, label: str) -> None:
        """Select the item carrying ``value``; add one labelled ``label`` if there is none."""
        for i in range(self.count()):
            if self.itemData(i) == value:
                self.setCurrentIndex(i)
                return
        self.addItem(label, value)
        self.setCurrentIndex(self.count() - 1)


def _read_only_table(headers: Iterable[str], name: str) -> tuple[QTableView, QStandardItemModel]:
    model = QStandardItemModel()
    model.setHorizontalHeaderLabels(list(headers))
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.setSortingEnabled(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(26)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return view, model


def _finish_table(view: QTableView, minimum: Iterable[int]) -> None:
    """Apply the view's current order to new rows; size columns to contents, never below ``minimum``."""
    header = view.horizontalHeader()
    model = view.model()
    if model is not None and header.sortIndicatorSection() >= 0:
        model.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())
    header.resizeSections(QHeaderView.ResizeMode.ResizeToContents)
    for i, width in enumerate(minimum):
        if header.sectionSize(i) < width:
            header.resizeSection(i, width)


ROW_HEIGHT = 28
DOT_WIDTH = 22
"""The compliance column's coloured dot and the space after it."""


def device_column_widths(view: QTableView) -> list[int]:
    """Widths of the device table's columns: each fits its title and a wide but usual value in ``view``'s fonts."""
    dots = [DOT_WIDTH if column.key == "compliance" else 0 for column in COLUMNS]
    return column_widths(view, [(column.title, column.sample) for column in COLUMNS], dots)


def setup_device_table(view: QTableView) -> None:
    """Give ``view`` (its model set) the device table's look: whole rows, no grid, columns fitted to content.

    The benchmark sets up its bare table with this too, so both tables are measured alike.
    """
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setShowGrid(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    header = view.horizontalHeader()
    header.setSectionsMovable(True)
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    for i, width in enumerate(device_column_widths(view)):
        header.resizeSection(i, width)


FIRST_PAINT_WAIT_MS = 200
"""Longest wait for the rows before the table paints anyway (empty, rows following)."""


class _PaintHold(QObject):
    """Keeps a view from painting until its model's page arrives, fails, or a short wait passes."""

    def __init__(self, view: QTableView, model: KeysetTableModel[Any, Any, Any], wait_ms: int) -> None:
        super().__init__(view)
        self._view = view
        view.setUpdatesEnabled(False)
        model.page_loaded.connect(self._release)
        model.load_failed.connect(self._release)
        QTimer.singleShot(wait_ms, self, self._release)

    @Slot()
    def _release(self) -> None:
        if not self._view.updatesEnabled():
            self._view.setUpdatesEnabled(True)  # repaints the view
        self.deleteLater()  # disconnects from the model


def paint_when_rows_arrive(
    view: QTableView, model: KeysetTableModel[Any, Any, Any], wait_ms: int = FIRST_PAINT_WAIT_MS
) -> None:
    """Let ``view`` paint once ``model``'s page on its way has arrived (or failed, or ``wait_ms`` passed).

    An empty table painted meanwhile would be thrown away a few milliseconds later, and its Python calls
    (header titles...) contend for the GIL with the worker building the page, which then arrives about
    half as late again (benchmarks/bench_devices.py).
    """
    if model.loading:
        _PaintHold(view, model, wait_ms)


def _item(text: str) -> QStandardItem:
    item = QStandardItem(text)
    item.setEditable(False)
    item.setToolTip(text)
    return item


class DeviceDetailPanel(QFrame):
    """Inventory, installed apps, compliance reasons and command history of one device."""

    def __init__(self, may_see_identifiers: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self._may_see_identifiers = may_see_identifiers
        self.device_id: int | None = None

        self._stack = QStackedWidget()
        self.placeholder = plain_label(
            "Select a device to see its inventory, installed apps, compliance and commands.", "mutedText", wrap=True
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack.addWidget(self.placeholder)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(14, 12, 14, 12)
        column.setSpacing(6)
        self.title = plain_label("", "detailTitle", selectable=True)
        self.subtitle = plain_label("", "mutedText")
        self.state = plain_label("", "complianceState")
        title_row = QHBoxLayout()
        title_row.setSpacing(12)
        title_row.addWidget(self.title)
        title_row.addWidget(self.state)
        title_row.addStretch(1)
        title_row.addWidget(self.subtitle)
        column.addLayout(title_row)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(False)
        inventory_page = QWidget()
        self.inventory = QGridLayout(inventory_page)
        self.inventory.setContentsMargins(12, 10, 12, 10)
        self.inventory.setHorizontalSpacing(10)
        self.inventory.setVerticalSpacing(6)
        self._inventory_values: dict[str, QLabel] = {}
        for col, names in enumerate(INVENTORY_FIELDS):
            for r, name in enumerate(names):
                caption = plain_label(f"{name}:", "mutedText")
                caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
                value = plain_label("", wrap=True, selectable=True)
                value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                self._inventory_values[name] = value
                self.inventory.addWidget(caption, r, 2 * col)
                self.inventory.addWidget(value, r, 2 * col + 1)
            self.inventory.setColumnStretch(2 * col + 1, 1)
        self.inventory.setRowStretch(max(len(names) for names in INVENTORY_FIELDS), 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inventory_page)
        self.tabs.addTab(scroll, "Inventory")

        self.apps_view, self.apps = _read_only_table(("App", "Version", "Identifier", "Managed"), "installedApps")
        self.tabs.addTab(self.apps_view, "Apps")

        reasons_page = QWidget()
        self.reasons_layout = QVBoxLayout(reasons_page)
        self.reasons_layout.setContentsMargins(12, 10, 12, 10)
        self.reasons_layout.setSpacing(8)
        self.reasons_layout.addStretch(1)
        reasons_scroll = QScrollArea()
        reasons_scroll.setWidgetResizable(True)
        reasons_scroll.setWidget(reasons_page)
        self.tabs.addTab(reasons_scroll, "Compliance")

        self.commands_view, self.commands = _read_only_table(
            ("Command", "Status", "Requested", "By", "Completed", "Reason", "Result"), "commandHistory"
        )
        self.commands_view.sortByColumn(2, Qt.SortOrder.DescendingOrder)  # newest first
        self.tabs.addTab(self.commands_view, "Commands")
        column.addWidget(self.tabs, 1)
        self._stack.addWidget(content)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)
        self.clear()

    def clear(self, message: str | None = None) -> None:
        """Show the placeholder (optionally with ``message``) instead of a device."""
        self.device_id = None
        if message is not None:
            self.placeholder.setText(message)
        else:
            self.placeholder.setText("Select a device to see its inventory, installed apps, compliance and commands.")
        self._stack.setCurrentIndex(0)

    @property
    def showing_device(self) -> bool:
        """True when a device (not the placeholder) is shown."""
        return self._stack.currentIndex() == 1

    def reason_texts(self) -> list[str]:
        """The compliance reasons as shown (for tests and accessibility checks)."""
        texts = []
        for i in range(self.reasons_layout.count()):
            item = self.reasons_layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QLabel) and widget.objectName() == "reason":
                texts.append(widget.text().removeprefix("• "))
        return texts

    def inventory_value(self, label: str) -> str | None:
        """The text shown beside the inventory label ``label`` (without the colon)."""
        value = self._inventory_values.get(label)
        return value.text() if value is not None else None

    def show_detail(self, detail: DeviceDetail) -> None:
        """Fill every tab from ``detail``."""
        row = detail.row
        self.device_id = row.id
        self.title.setText(row.name)
        self.subtitle.setText(
            " · ".join(p for p in (row.platform.label, f"{row.vendor} {row.model}".strip(), row.group_name) if p)
        )
        color = COMPLIANCE_COLORS[row.compliance_state]
        self.state.setStyleSheet(f"color: {color}; font-weight: bold;")
        self.state.setText(f"● {row.compliance_state.label}")
        self._fill_inventory(detail)
        self._fill_apps(detail)
        self._fill_reasons(detail)
        self._fill_commands(detail)
        self.tabs.setTabText(1, f"Apps ({len(detail.installed_apps)})")
        self.tabs.setTabText(2, f"Compliance ({len(detail.compliance_reasons)})")
        self.tabs.setTabText(3, f"Commands ({len(detail.commands)})")
        self._stack.setCurrentIndex(1)

    def _identifier(self, value: str | None) -> str:
        if value:
            return value
        return EMPTY_TEXT if self._may_see_identifiers else HIDDEN_TEXT

    def _fill_inventory(self, detail: DeviceDetail) -> None:
        row = detail.row
        values: dict[str, str] = {
            "Name": row.name,
            "Platform": row.platform.label,
            "Vendor": row.vendor or EMPTY_TEXT,
            "Model": row.model or EMPTY_TEXT,
            "Serial number": self._identifier(row.serial),
            "OS version": row.os_version or EMPTY_TEXT,
            "OS build": detail.os_build or EMPTY_TEXT,
            "Security patch": _date_text(detail.security_patch),
            "Firmware": detail.firmware or EMPTY_TEXT,
            "Hardware ID": self._identifier(detail.hardware_id),
            "Ownership": row.ownership.label,
            "Group": row.group_name or EMPTY_TEXT,
            "Assigned to": self._identifier(row.assigned_to),
            "Status": row.status.label,
            "Enrolled": format_local_time(row.enrolled_at, EMPTY_TEXT),
            "Last check-in": format_local_time(row.last_checkin_at),
            "Jailbroken / rooted": _yes_no(detail.compromised, "Yes", "No"),
            "Storage encryption": _yes_no(detail.storage_encrypted, "On", "Off"),
            "Passcode": _yes_no(detail.passcode_set, "Set", "Not set"),
            "Managed container": _yes_no(detail.managed_container, "Present", "Absent"),
            "Kernel": detail.kernel or EMPTY_TEXT,
            "Last OS update": format_local_time(detail.last_os_update, EMPTY_TEXT),
            "Battery": f"{detail.battery_percent} %" if detail.battery_percent is not None else EMPTY_TEXT,
            "Screen lock": _yes_no(detail.screen_lock_enabled, "On", "Off"),
            "Firewall": _yes_no(detail.firewall_enabled, "On", "Off"),
        }
        for name, label in self._inventory_values.items():
            text = values[name]
            label.setText(text)
            hidden = text == HIDDEN_TEXT
            label.setStyleSheet("color: #7a8592; font-style: italic;" if hidden else "")
            label.setToolTip("Your role may not see staff names and hardware identifiers." if hidden else "")

    def _fill_apps(self, detail: DeviceDetail) -> None:
        self.apps.removeRows(0, self.apps.rowCount())
        for app in detail.installed_apps:
            self.apps.appendRow(
                [_item(app.name), _item(app.version), _item(app.identifier), _item("Yes" if app.managed else "No")]
            )
        _finish_table(self.apps_view, (240, 90, 260, 80))

    def _fill_reasons(self, detail: DeviceDetail) -> None:
        while self.reasons_layout.count() > 1:  # keep the trailing stretch
            item = self.reasons_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        state = detail.row.compliance_state
        if detail.compliance_reasons:
            intro = "Why this device is not compliant:" if state is ComplianceState.NON_COMPLIANT else "Notes:"
        elif state is ComplianceState.COMPLIANT:
            intro = "No problems found: the device meets its policy."
        else:
            intro = f"State: {state.label}. No reasons were recorded."
        self.reasons_layout.insertWidget(0, plain_label(intro, "sectionTitle", wrap=True))
        for i, reason in enumerate(detail.compliance_reasons, start=1):
            label = plain_label(f"• {reason}", "reason", wrap=True, selectable=True)
            self.reasons_layout.insertWidget(i, label)
        if detail.compliance_rules:  # every rule with its status, in words (issue 7)
            rules = RuleOutcomeList(detail.compliance_rules)
            self.reasons_layout.insertWidget(len(detail.compliance_reasons) + 1, rules)

    def _fill_commands(self, detail: DeviceDetail) -> None:
        self.commands.removeRows(0, self.commands.rowCount())
        for cmd in detail.commands:
            self.commands.appendRow(
                [
                    _item(cmd.type.label),
                    _item(cmd.status.label),
                    _item(format_local_time(cmd.created_at)),
                    _item(cmd.created_by),
                    _item(format_local_time(cmd.completed_at, EMPTY_TEXT)),
                    _item(cmd.reason),
                    _item(cmd.result),
                ]
            )
        _finish_table(self.commands_view, (140, 100, 130, 90, 130, 200, 160))


class DevicesPane(Pane):
    """Search, filters, the paged device table and the selected device's details.

    Signals:
        query_applied(object): a :class:`DeviceQuery` was handed to the model.
        count_changed(int): the number of devices matching the filters arrived.
        detail_loaded(object): a :class:`DeviceDetail` is shown in the detail panel.
        groups_loaded(): the group filter has been filled.
    """

    title = "Devices"
    object_key = "devices"

    query_applied = Signal(object)
    count_changed = Signal(int)
    detail_loaded = Signal(object)
    groups_loaded = Signal()

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._prefetched = False
        self._count_generation = 0
        self._detail_generation = 0
        self._detail_task: Task | None = None
        self._pending_detail_id: int | None = None
        self._after_page: dict[str, Callable[[], None]] = {}
        self.device_count: int | None = None

        self.model = DeviceTableModel(ctx.services.devices, ctx.holder, ctx.runner, self, on_error=ctx.errors.report)

        # ---- header row: title, result count, refresh
        self.heading = plain_label("Devices", "paneTitle")
        self.result_count = plain_label("", "resultCount")
        self.refresh_button = QToolButton()
        self.refresh_button.setIcon(icon("refresh"))
        self.refresh_button.setToolTip("Refresh (F5)")
        self.refresh_button.clicked.connect(lambda: self.refresh())
        # ---- filter bar
        self.search = QLineEdit()
        self.search.setObjectName("deviceSearch")
        self.search.setPlaceholderText("Search name, model, vendor; or an exact serial or staff name")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(260)
        self.search.setMaximumWidth(560)
        self.search.setMaxLength(200)

        self.platform = _FilterCombo("platformFilter", "Platform")
        self.platform.addItem("All platforms", frozenset())
        for p in Platform:
            self.platform.addItem(p.label, frozenset({p}))
        self.compliance = _FilterCombo("complianceFilter", "Compliance state")
        self.compliance.addItem("Any compliance", frozenset())
        for c in ComplianceState:
            self.compliance.addItem(c.label, frozenset({c}))
        self.ownership = _FilterCombo("ownershipFilter", "Ownership")
        self.ownership.addItem("Any ownership", None)
        for o in Ownership:
            self.ownership.addItem(o.label, o)
        self.group = _FilterCombo("groupFilter", "Device group")
        self.group.addItem("All groups", None)
        self.status = _FilterCombo("statusFilter", "Lifecycle status")
        self.status.addItem("Any status", frozenset())
        for s in LifecycleStatus:
            self.status.addItem(s.label, frozenset({s}))
        self.stale_days = QSpinBox()
        self.stale_days.setObjectName("staleDays")
        self.stale_days.setRange(0, MAX_STALE_DAYS)
        self.stale_days.setSpecialValueText("Any last check-in")
        self.stale_days.setPrefix("No check-in for ")
        self.stale_days.setSuffix(" days")
        self.stale_days.setToolTip("Show only devices not checked in for this many days (0 = off)")
        self.stale_days.setAccelerated(True)
        self.stale_days.setMinimumWidth(190)
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.clicked.connect(lambda: self.clear_filters())

        header_row = QHBoxLayout()
        header_row.setSpacing(10)
        header_row.addWidget(self.heading)
        header_row.addSpacing(16)
        header_row.addWidget(self.search, 1)
        header_row.addSpacing(16)
        header_row.addWidget(self.result_count)
        header_row.addWidget(self.refresh_button)

        filter_icon = QLabel()
        filter_icon.setPixmap(icon("filter").pixmap(16, 16))
        filter_bar = QFrame()
        filter_bar.setObjectName("filterBar")
        bar = QHBoxLayout(filter_bar)
        bar.setContentsMargins(8, 6, 8, 6)
        bar.setSpacing(6)
        bar.addWidget(filter_icon)
        for widget in (self.platform, self.compliance, self.ownership, self.group, self.status, self.stale_days):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.clear_button)

        # ---- table
        self.table = QTableView()
        self.table.setObjectName("deviceTable")
        self.table.setModel(self.model)
        setup_device_table(self.table)
        # Several rows: remote commands work on the whole selection (the detail shows the current row).
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()
        header.setObjectName("deviceTableHeader")
        if not self._restore_header():
            header.setSortIndicator(self.model.sort_column(), self.model.sort_order())
        self.table.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)

        self.empty_hint = plain_label("No devices match these filters.", "mutedText")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setVisible(False)
        overlay = QVBoxLayout(self.table.viewport())
        overlay.addWidget(self.empty_hint, 0, Qt.AlignmentFlag.AlignCenter)

        self.detail = DeviceDetailPanel(self.ctx.session.principal.can(Permission.DEVICES_READ_IDENTIFIERS))
        # ---- remote commands on the selection (toolbar button, context menu; issue 6)
        self.command_actions = DeviceCommandActions(self.ctx, self.table, self)
        self.command_note = plain_label("", "commandNote")
        self.command_actions.message.connect(self.command_note.setText)
        self.command_actions.sent.connect(lambda _result: self._reload_shown_detail())
        self.exception_action = DeviceExceptionAction(self.ctx, self.command_actions, self)  # issue 7
        header_row.addWidget(self.command_note)
        header_row.addWidget(self.command_actions.button)
        self.lost_location = LostLocationNote(self.ctx, self)
        self.detail_loaded.connect(self.lost_location.show_for)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("devicesSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.detail.setMinimumHeight(200)
        self.table.setMinimumHeight(160)
        if not self._restore_splitter():
            self.splitter.setSizes([490, 270])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(header_row)
        layout.addWidget(filter_bar)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.lost_location.label)

        # ---- behaviour
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        # Typing waits for a pause; choosing from a list applies at once.
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.returnPressed.connect(lambda: self.apply_filters())
        self.stale_days.valueChanged.connect(lambda _value: self._search_timer.start())
        for combo in (self.platform, self.compliance, self.ownership, self.group, self.status):
            combo.currentIndexChanged.connect(lambda _index: self.apply_filters())

        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._load_pending_detail)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._selection_changed)

        self.model.page_loaded.connect(self._page_loaded)
        self.model.page_loaded.connect(lambda _rows: self._run_after_page())
        self.model.load_failed.connect(lambda _exc: self._run_after_page())
        self.model.modelReset.connect(self._update_empty_hint)
        self.model.load_failed.connect(lambda _exc: self._update_empty_hint())

        focus_search = QShortcut(QKeySequence.StandardKey.Find, self)
        focus_search.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        focus_search.activated.connect(self._focus_search)

    # ---- public --------------------------------------------------------------------------------

    def prefetch(self) -> None:
        """Ask for the first page now, while the rest of the window is being built.

        The main window calls this right after making the pane when the console opens on Devices:
        the page then arrives while the other panes are built, and the first activation uses it
        instead of asking again.
        """
        if self._activated or self.model.loading or self.model.rowCount():
            return
        self._apply(self.current_query())
        self._prefetched = True

    def refresh(self) -> None:
        """Reload groups, the device list, the count and the shown device."""
        prefetched, self._prefetched = self._prefetched, False
        if not (prefetched and self.model.query == self.current_query()):
            self.apply_filters(force=True)
        paint_when_rows_arrive(self.table, self.model)
        self._when_page_arrived("groups", self._load_groups)
        if self.detail.device_id is not None:
            self.show_device(self.detail.device_id, immediately=True)

    def current_query(self) -> DeviceQuery:
        """The query the filter widgets describe, in the table's current order."""
        stale = self.stale_days.value()
        sort = self.model.query
        # Qt hands StrEnum item data back as plain str: turn it back into the enum.
        ownership = self.ownership.currentData()
        return DeviceQuery(
            search=" ".join(self.search.text().split()),
            platforms=self.platform.currentData() or frozenset(),
            compliance=self.compliance.currentData() or frozenset(),
            ownership=Ownership(ownership) if ownership else None,
            group_id=self.group.currentData(),
            stale_days=stale if stale > 0 else None,
            statuses=self.status.currentData() or frozenset(),
            sort=sort.sort,
            descending=sort.descending,
        )

    def apply_filters(self, force: bool = False) -> None:
        """Hand the filters to the model (SQL) and count the matches."""
        self._search_timer.stop()
        query = self.current_query()
        if query == self.model.query and self.model.rowCount() and not force and not self.model.loading:
            return
        self._apply(query)

    def _apply(self, query: DeviceQuery) -> None:
        self.model.set_query(query)
        self._when_page_arrived("count", lambda: self._count(query))
        self.query_applied.emit(query)

    def show_query(self, query: DeviceQuery) -> None:
        """Set the filter widgets from ``query`` (for example a dashboard click) and apply it."""
        self._search_timer.stop()
        self.search.setText(query.search)  # not blocked: the clear button follows textChanged
        widgets: list[QWidget] = [
            self.platform,
            self.compliance,
            self.ownership,
            self.group,
            self.status,
            self.stale_days,
        ]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.platform.select_value(query.platforms, " + ".join(sorted(p.label for p in query.platforms)))
            self.compliance.select_value(query.compliance, " + ".join(sorted(c.label for c in query.compliance)))
            self.ownership.select_value(query.ownership, query.ownership.label if query.ownership else "")
            self.status.select_value(query.statuses, " + ".join(sorted(s.label for s in query.statuses)))
            self.group.select_value(query.group_id, f"Group {query.group_id}")
            self.stale_days.setValue(query.stale_days or 0)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._search_timer.stop()
        self._apply(replace(self.current_query(), sort=query.sort, descending=query.descending))
        if not self._activated:
            self._activated = True
            self._when_page_arrived("groups", self._load_groups)
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(self.model.sort_column(), self.model.sort_order())
        header.blockSignals(False)

    def clear_filters(self) -> None:
        """Back to every device."""
        self.show_query(DeviceQuery(sort=self.model.query.sort, descending=self.model.query.descending))

    def show_device(self, device_id: int, *, immediately: bool = False) -> None:
        """Load ``device_id``'s details into the detail panel (through the runner)."""
        self._pending_detail_id = device_id
        if immediately:
            self._load_pending_detail()
        else:
            self._detail_timer.start()

    def selected_row(self) -> DeviceRow | None:
        """The device row selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        value: Any = rows[0].data(DEVICE_ROW_ROLE)
        return value if isinstance(value, DeviceRow) else None

    def save_state(self) -> None:
        """Remember column layout, order and the splitter position."""
        settings = self.ctx.settings
        settings.setValue(f"{self.object_key}/header", self.table.horizontalHeader().saveState())
        settings.setValue(f"{self.object_key}/splitter", self.splitter.saveState())

    # ---- internals -----------------------------------------------------------------------------

    def _restore_header(self) -> bool:
        state = self.ctx.settings.value(f"{self.object_key}/header")
        if not isinstance(state, QByteArray | bytes) or not state:
            return False
        header = self.table.horizontalHeader()
        if not header.restoreState(QByteArray(state)) or header.count() != len(COLUMNS):
            return False
        column = header.sortIndicatorSection()
        if 0 <= column < len(COLUMNS) and COLUMNS[column].sort is not None:
            self.model.sort(column, header.sortIndicatorOrder())
        else:
            header.setSortIndicator(self.model.sort_column(), self.model.sort_order())
        return True

    def _restore_splitter(self) -> bool:
        state = self.ctx.settings.value(f"{self.object_key}/splitter")
        if not isinstance(state, QByteArray | bytes) or not state:
            return False
        return bool(self.splitter.restoreState(QByteArray(state)))

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        # The view has already asked the model to sort; unsortable columns were ignored,
        # so put the indicator back where the model's order really is.
        if column != self.model.sort_column() or order != self.model.sort_order():
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(self.model.sort_column(), self.model.sort_order())
            header.blockSignals(False)
        else:
            self.query_applied.emit(self.model.query)

    def _when_page_arrived(self, name: str, work: Callable[[], None]) -> None:
        """Run ``work`` once the page on its way has arrived (or failed), so it has the workers to itself.

        The rows are what the user waits for; the count and the group list follow a few milliseconds
        later. A later ``work`` of the same ``name`` replaces one still waiting.
        """
        if self.model.loading:
            self._after_page[name] = work
        else:
            work()

    def _run_after_page(self) -> None:
        work, self._after_page = self._after_page, {}
        for run in work.values():
            run()

    def _count(self, query: DeviceQuery) -> None:
        self._count_generation += 1
        generation = self._count_generation
        devices, principal = self.ctx.services.devices, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: devices.count(principal, query),
            on_done=lambda n: self._count_arrived(generation, n),
            on_error=lambda exc: self._count_failed(generation, exc),
        )

    def _count_arrived(self, generation: int, n: int) -> None:
        if generation != self._count_generation:
            return
        self.device_count = n
        self.result_count.setText(count_text(n))
        self.count_changed.emit(n)

    def _count_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._count_generation:
            return
        self.result_count.setText("")
        self.ctx.errors.report(exc)

    def _load_groups(self) -> None:
        devices, principal = self.ctx.services.devices, self.ctx.session.principal
        self.ctx.runner.submit(lambda: devices.groups(principal), on_done=self._groups_arrived)

    def _groups_arrived(self, groups: tuple[GroupInfo, ...]) -> None:
        current = self.group.currentData()
        self.group.blockSignals(True)
        try:
            self.group.clear()
            self.group.addItem("All groups", None)
            for g in groups:
                self.group.addItem(f"{g.name} ({g.device_count:,})", g.id)
                self.group.setItemData(self.group.count() - 1, g.description or g.name, Qt.ItemDataRole.ToolTipRole)
            self.group.select_value(current, f"Group {current}")
        finally:
            self.group.blockSignals(False)
        self.groups_loaded.emit()

    def _page_loaded(self, _rows: int) -> None:
        self._update_empty_hint()
        shown = self.detail.device_id
        if shown is not None and self.selected_row() is None:
            row = self.model.row_of(shown)
            if row >= 0:
                selection = self.table.selectionModel()
                selection.blockSignals(True)
                self.table.selectRow(row)
                selection.blockSignals(False)
                self.table.viewport().update()

    def _reload_shown_detail(self) -> None:
        if self.detail.device_id is not None:
            self.show_device(self.detail.device_id, immediately=True)

    def _update_empty_hint(self) -> None:
        self.empty_hint.setVisible(self.model.rowCount() == 0 and self.model.exhausted)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        row = self.selected_row()
        if row is not None and row.id != self.detail.device_id:
            self.show_device(row.id)

    def _load_pending_detail(self) -> None:
        device_id = self._pending_detail_id
        if device_id is None:
            return
        self._detail_timer.stop()
        self._pending_detail_id = None
        if self._detail_task is not None:
            self._detail_task.cancel()
        self._detail_generation += 1
        generation = self._detail_generation
        devices, principal = self.ctx.services.devices, self.ctx.session.principal
        self._detail_task = self.ctx.runner.submit(
            lambda: devices.detail(principal, device_id),
            on_done=lambda d: self._detail_arrived(generation, d),
            on_error=lambda exc: self._detail_failed(generation, exc),
        )

    def _detail_arrived(self, generation: int, detail: DeviceDetail) -> None:
        # The answer may arrive after the pane's widgets were destroyed (window closed mid-load).
        if generation != self._detail_generation or not shiboken6.isValid(self.detail):
            return
        self._detail_task = None
        self.detail.show_detail(detail)
        self.detail_loaded.emit(detail)

    def _detail_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._detail_generation:
            return
        self._detail_task = None
        if isinstance(exc, NotFoundError):
            self.detail.clear("This device no longer exists. Refresh the list (F5).")
            return
        self.ctx.errors.report(exc)
