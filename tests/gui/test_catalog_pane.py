"""App catalog pane and CatalogModel."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Platform
from mdm_desktop.gui.models.catalog_model import APP_ROLE, COLUMN_INDEX, SORT_ROLE, CatalogModel
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.catalog_pane import CatalogPane, human_size
from mdm_desktop.services.dto import CatalogAppSummary
from tests.conftest import user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import DeviceSpec, add_catalog_app, add_devices, add_installed

RICH_APP = "Zeta <b>Rich</b> app"


@pytest.fixture
def apps(sqlite_ctx: AppContext) -> dict[str, int]:
    phones = add_devices(sqlite_ctx, [DeviceSpec(f"p{i}", Platform.IOS) for i in range(12)])
    ids = {
        "haiku": add_catalog_app(
            sqlite_ctx, "Epic Haiku", "com.epic.haiku", Platform.IOS, ["9.2", "10.0", "12.4"], publisher="Epic"
        ),
        "rover": add_catalog_app(sqlite_ctx, "Epic Rover", "com.epic.rover", Platform.ANDROID, ["10.1"]),
        "teams": add_catalog_app(sqlite_ctx, "Teams", "com.microsoft.teams", Platform.IOS, ["7.1"], publisher="MS"),
        "rich": add_catalog_app(sqlite_ctx, RICH_APP, "com.example.rich", Platform.WINDOWS, []),
    }
    add_installed(sqlite_ctx, phones, "com.epic.haiku", "Haiku")
    add_installed(sqlite_ctx, phones[:3], "com.microsoft.teams", "Teams")
    return ids


def summary(i: int, name: str, installed: int, latest: str | None) -> CatalogAppSummary:
    return CatalogAppSummary(i, name, f"com.x.{i}", Platform.ANDROID, "", latest, 1 if latest else 0, installed)


def test_model_passes_qtmodeltester(qtmodeltester) -> None:
    model = CatalogModel()
    qtmodeltester.check(model)
    model.set_rows([summary(1, "A", 3, "1.0"), summary(2, "B", 10, None), summary(3, "<i>C</i>", 0, "2.0")])
    qtmodeltester.check(model)
    assert model.data(model.index(1, COLUMN_INDEX["latest"])) == "no build yet"
    assert model.data(model.index(1, COLUMN_INDEX["installed"]), SORT_ROLE) == 10
    assert model.data(model.index(2, 0), APP_ROLE).name == "<i>C</i>"
    model.set_rows([])
    qtmodeltester.check(model)


def test_version_sorts_numerically() -> None:
    model = CatalogModel()
    model.set_rows([summary(1, "A", 0, "10.0"), summary(2, "B", 0, "9.2")])
    col = COLUMN_INDEX["latest"]
    assert model.data(model.index(1, col), SORT_ROLE) < model.data(model.index(0, col), SORT_ROLE)


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext) -> CatalogPane:
    widget = CatalogPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    return widget


def activate(qtbot, pane: CatalogPane) -> None:
    pane.activate()
    qtbot.waitUntil(lambda: pane.detail_shown is not None, timeout=10_000)


def test_pane_lists_apps_and_shows_builds(qtbot, pane: CatalogPane, apps: dict[str, int]) -> None:
    activate(qtbot, pane)
    assert pane.count_label.text() == "4 apps"
    assert pane.proxy.rowCount() == 4
    assert pane.detail_shown is not None
    assert pane.detail_shown.summary.name == "Epic Haiku"
    assert pane.detail_title.text() == "Epic Haiku"
    assert "installed on 12 devices" in pane.detail_facts.text()
    assert [pane.versions.topLevelItem(i).text(0) for i in range(pane.versions.topLevelItemCount())] == [
        "12.4",
        "10.0",
        "9.2",
    ]
    sha = pane.versions.topLevelItem(0).text(4)
    assert len(sha) == 64


def test_pane_selection_filter_and_sort(qtbot, pane: CatalogPane, apps: dict[str, int]) -> None:
    activate(qtbot, pane)
    pane.select_app(apps["rich"])
    qtbot.waitUntil(lambda: pane.detail_shown is not None and pane.detail_shown.summary.id == apps["rich"])
    assert pane.detail_title.text() == RICH_APP
    assert pane.detail_title.textFormat() == Qt.TextFormat.PlainText
    assert pane.versions.topLevelItem(0).text(0) == "No builds uploaded yet."

    pane.filter_edit.setText("epic")
    assert pane.proxy.rowCount() == 2
    assert pane.count_label.text() == "2 of 4 apps"
    pane.filter_edit.clear()

    pane.table.sortByColumn(COLUMN_INDEX["installed"], Qt.SortOrder.DescendingOrder)
    top = pane.proxy.index(0, COLUMN_INDEX["installed"])
    assert pane.proxy.data(top) == "12"


def test_refresh_keeps_selection(qtbot, pane: CatalogPane, apps: dict[str, int], sqlite_ctx: AppContext) -> None:
    activate(qtbot, pane)
    pane.select_app(apps["teams"])
    qtbot.waitUntil(lambda: pane.detail_shown is not None and pane.detail_shown.summary.id == apps["teams"])
    add_catalog_app(sqlite_ctx, "Aardvark", "com.a", Platform.IOS, ["1"])
    pane.refresh()
    qtbot.waitUntil(lambda: pane.model.rowCount() == 5, timeout=10_000)
    assert pane.selected_app_id() == apps["teams"]


def test_helpdesk_reads_the_catalog(qtbot, pane_ctx: PaneContext, apps: dict[str, int], sqlite_ctx: AppContext) -> None:
    session = user_session(sqlite_ctx, "helpdesk1", Role.HELPDESK)
    widget = CatalogPane(dataclasses.replace(pane_ctx, session=session))
    qtbot.addWidget(widget)
    activate(qtbot, widget)
    assert widget.model.rowCount() == 4


def test_human_size() -> None:
    assert human_size(512) == "512 bytes"
    assert human_size(10_000_000) == "9.5 MB"
    assert human_size(3 * 1024**3) == "3.0 GB"
