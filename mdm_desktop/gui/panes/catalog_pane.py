"""The App catalog pane: the apps the clinic distributes, and the builds of the selected app."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, Qt
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.gui.models.catalog_model import COLUMNS, SORT_ROLE, CatalogModel, plural
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.catalog_add_build import AddBuildDialog
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.dto import CatalogAppDetail, CatalogAppSummary, CatalogAppVersionInfo

VERSION_COLUMNS = ("Version", "Added", "Size", "File name", "SHA-256")


def human_size(n: int) -> str:
    """``123456789`` -> ``"117.7 MB"`` (binary units, one decimal)."""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n:,} bytes"  # pragma: no cover


def plain_label(text: str = "", object_name: str = "") -> QLabel:
    """A label that never interprets its text as markup."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if object_name:
        label.setObjectName(object_name)
    return label


class CatalogPane(Pane):
    """App catalog: a sortable, filterable table with the selected app's builds below."""

    title = "App catalog"
    object_key = "catalog"

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._list_task: Task | None = None
        self._detail_task: Task | None = None
        self._selected_id: int | None = None
        self.detail_shown: CatalogAppDetail | None = None

        heading = plain_label(self.title, "paneTitle")
        self.count_label = plain_label("", "resultCount")
        self.notice_label = plain_label("", "mutedText")
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name, identifier or publisher")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.filter_edit.setMinimumWidth(320)
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.may_add_builds = ctx.session.principal.can(Permission.CATALOG_WRITE)
        self.add_build_button = QPushButton("Add build…")
        self.add_build_button.setObjectName("addBuildButton")
        self.add_build_button.setToolTip(
            "Store an installer file as a new version of the selected app"
            if self.may_add_builds
            else "Your role may not change the app catalog"
        )
        self.add_build_button.setEnabled(False)
        self.add_build_button.clicked.connect(self.open_add_build)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.count_label)
        top.addSpacing(12)
        top.addWidget(self.notice_label)
        top.addStretch(1)
        top.addWidget(self.filter_edit)
        top.addWidget(self.add_build_button)
        top.addWidget(self.refresh_button)

        self.model = CatalogModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter_edit.textChanged.connect(self._filter_changed)

        self.table = QTableView()
        self.table.setObjectName("catalogTable")
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
        for i, width in enumerate((240, 90, 240, 170, 120, 90, 110)):
            header.resizeSection(i, width)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        assert len(COLUMNS) == 7
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._build_detail())
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 460])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        self._show_detail(None)
        self._restore_state()

    def _build_detail(self) -> QFrame:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        self.detail_title = plain_label("", "detailTitle")
        self.detail_subtitle = plain_label("", "mutedText")
        self.detail_subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_description = plain_label("")
        self.detail_description.setWordWrap(True)
        self.detail_facts = plain_label("", "mutedText")
        versions_title = plain_label("Builds", "sectionTitle")
        self.versions = QTreeWidget()
        self.versions.setObjectName("catalogVersions")
        self.versions.setColumnCount(len(VERSION_COLUMNS))
        self.versions.setHeaderLabels(list(VERSION_COLUMNS))
        self.versions.setRootIsDecorated(False)
        self.versions.setAlternatingRowColors(True)
        self.versions.setUniformRowHeights(True)
        self.versions.setStyleSheet("QTreeWidget::item { padding: 3px 2px; }")
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        vh = self.versions.header()
        for i, width in enumerate((90, 140, 90, 260)):
            vh.resizeSection(i, width)
        vh.setStretchLastSection(True)
        self.empty_label = plain_label("Select an app to see its builds.", "mutedText")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(panel)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.detail_title)
        layout.addWidget(self.detail_subtitle)
        layout.addWidget(self.detail_description)
        layout.addWidget(self.detail_facts)
        layout.addSpacing(4)
        layout.addWidget(versions_title)
        layout.addWidget(self.versions, 1)
        self._detail_widgets: tuple[QWidget, ...] = (
            self.detail_title,
            self.detail_subtitle,
            self.detail_description,
            self.detail_facts,
            versions_title,
            self.versions,
        )
        return panel

    # ---- loading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the catalog (off the GUI thread); the selection is kept when the app still exists."""
        if self._list_task is not None:
            self._list_task.cancel()
        catalog, principal = self.ctx.services.catalog, self.ctx.session.principal
        self.refresh_button.setEnabled(False)
        self._list_task = self.ctx.runner.submit(
            lambda: catalog.list_apps(principal), on_done=self._show_list, on_error=self._list_failed
        )

    def _list_failed(self, exc: BaseException) -> None:
        self._list_task = None
        self.refresh_button.setEnabled(True)
        self.ctx.errors.report(exc)

    def _show_list(self, apps: tuple[CatalogAppSummary, ...]) -> None:
        self._list_task = None
        self.refresh_button.setEnabled(True)
        keep = self._selected_id
        self.model.set_rows(apps)
        self._update_count()
        if keep is not None and self.model.row_of(keep) >= 0:
            self.select_app(keep)
        elif self.proxy.rowCount() > 0:
            self.select_row(0)
        else:
            self._show_detail(None)

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_count()

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.count_label.setText(plural(total, "app") if shown == total else f"{shown:,} of {plural(total, 'app')}")

    def selected_app_id(self) -> int | None:
        """The id of the app selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        app = self.model.row_at(self.proxy.mapToSource(rows[0]).row()) if rows else None
        return app.id if app is not None else None

    def select_row(self, row: int) -> None:
        """Select the ``row``-th app as shown (after sorting and filtering)."""
        if 0 <= row < self.proxy.rowCount():
            self.table.selectRow(row)

    def select_app(self, app_id: int) -> None:
        """Select the app with ``app_id`` if it is shown."""
        source_row = self.model.row_of(app_id)
        if source_row >= 0:
            index = self.proxy.mapFromSource(self.model.index(source_row, 0))
            if index.isValid():
                self.table.selectRow(index.row())
                self.table.scrollTo(index)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        app = self.model.row_at(self.proxy.mapToSource(rows[0]).row()) if rows else None
        if app is None:
            self._selected_id = None
            self._show_detail(None)
            return
        if app.id == self._selected_id and self.detail_shown is not None and self.detail_shown.summary == app:
            return
        self._selected_id = app.id
        self._load_detail(app.id)

    def _load_detail(self, app_id: int) -> None:
        if self._detail_task is not None:
            self._detail_task.cancel()
        catalog, principal = self.ctx.services.catalog, self.ctx.session.principal
        self._detail_task = self.ctx.runner.submit(
            lambda: catalog.app_detail(principal, app_id), on_done=self._detail_arrived, on_error=self._detail_failed
        )

    def _detail_failed(self, exc: BaseException) -> None:
        self._detail_task = None
        self.ctx.errors.report(exc)

    def _detail_arrived(self, detail: CatalogAppDetail) -> None:
        self._detail_task = None
        if detail.summary.id == self._selected_id:
            self._show_detail(detail)

    # ---- detail --------------------------------------------------------------------------------

    def open_add_build(self) -> AddBuildDialog | None:
        """Open the "Add build…" dialog for the selected app (shown non-modal; returned for tests)."""
        app = self.detail_shown.summary if self.detail_shown is not None else None
        if app is None or not self.may_add_builds:
            return None
        dialog = AddBuildDialog(self.ctx, app, self._build_added, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _build_added(self, info: CatalogAppVersionInfo) -> None:
        self.notice_label.setText(
            f"Version {info.version} stored ({human_size(info.size_bytes)}, SHA-256 {info.sha256[:12]}…)."
        )
        self.refresh()
        if self._selected_id is not None:
            self._load_detail(self._selected_id)

    def _show_detail(self, detail: CatalogAppDetail | None) -> None:
        self.detail_shown = detail
        self.add_build_button.setEnabled(detail is not None and self.may_add_builds)
        self.empty_label.setVisible(detail is None)
        for widget in self._detail_widgets:
            widget.setVisible(detail is not None)
        self.versions.clear()
        if detail is None:
            return
        app = detail.summary
        self.detail_title.setText(app.name)
        self.detail_subtitle.setText(" · ".join(x for x in (app.platform.label, app.identifier, app.publisher) if x))
        self.detail_description.setText(detail.description or "No description.")
        latest = app.latest_version or "no build yet"
        self.detail_facts.setText(
            f"Latest version {latest}  ·  {plural(app.version_count, 'build')}  ·  "
            f"installed on {plural(app.installed_count, 'device')}  ·  "
            f"in the catalog since {format_local_time(detail.created_at)}"
        )
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for v in detail.versions:
            item = QTreeWidgetItem(
                [v.version, format_local_time(v.added_at), human_size(v.size_bytes), v.file_name, v.sha256]
            )
            item.setToolTip(2, f"{v.size_bytes:,} bytes")
            item.setToolTip(4, "SHA-256 of the uploaded file; compare it with the vendor's published checksum")
            item.setFont(4, mono)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.versions.addTopLevelItem(item)
        if not detail.versions:
            placeholder = QTreeWidgetItem(["No builds uploaded yet."])
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.versions.addTopLevelItem(placeholder)

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
