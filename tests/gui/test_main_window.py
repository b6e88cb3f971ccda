"""MainWindow: navigation, menus and shortcuts, status bar, remembered geometry, dashboard -> devices."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QKeySequence

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import ComplianceState
from mdm_desktop.gui.main_window import SETTINGS_GROUP, MainWindow
from mdm_desktop.gui.panes.access_requests_pane import AccessRequestsPane
from mdm_desktop.gui.panes.audit_pane import AuditPane
from mdm_desktop.gui.panes.catalog_pane import CatalogPane
from mdm_desktop.gui.panes.commands_pane import CommandsPane
from mdm_desktop.gui.panes.dashboard_pane import DashboardPane
from mdm_desktop.gui.panes.devices_pane import DevicesPane
from mdm_desktop.gui.panes.exceptions_pane import ExceptionsPane
from mdm_desktop.gui.panes.gateway_page import GatewayPane
from mdm_desktop.gui.panes.policies_pane import PoliciesPane
from mdm_desktop.gui.panes.settings_pane import SettingsPane
from mdm_desktop.gui.panes.users_pane import UsersPane
from mdm_desktop.gui.resources import icon, icon_names, stylesheet
from mdm_desktop.services.dto import DeviceQuery, SessionInfo
from tests.conftest import sign_in_admin
from tests.gui.fleet import Fleet, populate

WAIT = 10_000
PANE_TYPES = (
    DevicesPane,
    PoliciesPane,
    CatalogPane,
    AuditPane,
    DashboardPane,
    CommandsPane,
    ExceptionsPane,
    UsersPane,
    AccessRequestsPane,
    SettingsPane,
    GatewayPane,
)
"""An administrator's panes (the last four are shown only to those who may read them)."""


def open_window(qtbot, ctx: AppContext, session: SessionInfo, settings: QSettings) -> MainWindow:
    window = MainWindow(ctx, session, settings=settings)
    # pytest-qt closes and deletes the window before fixture teardown: let its work finish first.
    qtbot.addWidget(window, before_close_func=lambda w: close_window(qtbot, w))
    with qtbot.waitSignal(window.device_count_changed, timeout=WAIT):
        window.show()
    return window


def close_window(qtbot, window: MainWindow) -> None:
    if window.isVisible():
        qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
        window.close()


@pytest.fixture
def window(qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, settings: QSettings) -> MainWindow:
    return open_window(qtbot, sqlite_ctx, admin_session, settings)


def test_every_navigation_entry_switches_pane(qtbot, window: MainWindow) -> None:
    assert window.navigation.count() == len(PANE_TYPES)
    titles = [window.navigation.item(i).text() for i in range(len(PANE_TYPES))]
    assert titles == [
        "Devices",
        "Policies",
        "App catalog",
        "Audit log",
        "Dashboard",
        "Commands",
        "Exceptions",
        "Users",
        "Access requests",
        "Security",
        "Gateway",
    ]
    for i, pane_type in enumerate(PANE_TYPES):
        window.navigation.setCurrentRow(i)
        assert isinstance(window.stack.currentWidget(), pane_type)
        assert window.current_pane is window.panes[i]
        assert window.pane_actions[i].isChecked()
        qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    assert window.errors.last is None


def test_view_menu_actions_and_shortcuts(qtbot, window: MainWindow) -> None:
    for i, action in enumerate(window.pane_actions):
        assert action.shortcut() == QKeySequence(f"Ctrl+{i + 1}")
    for i in reversed(range(len(PANE_TYPES))):
        window.pane_actions[i].trigger()
        assert window.stack.currentIndex() == i
        assert window.navigation.currentRow() == i
    assert window.refresh_action.shortcut() == QKeySequence(Qt.Key.Key_F5)
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Audit", "&Help"]
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)


def test_status_bar_shows_store_user_and_count(
    qtbot, window: MainWindow, sqlite_ctx: AppContext, admin_session: SessionInfo
) -> None:
    assert window.store_label.text() == sqlite_ctx.location.description
    assert window.store_label.text().startswith("SQLite ")
    assert admin_session.username in window.user_label.text()
    assert "Administrator" in window.user_label.text()
    assert window.count_label.text() == "450 devices"


def test_refresh_counts_again(qtbot, window: MainWindow, sqlite_ctx: AppContext) -> None:
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    populate(sqlite_ctx, 3)
    with qtbot.waitSignal(window.device_count_changed, timeout=WAIT) as blocker:
        window.refresh_action.trigger()
    assert blocker.args == [453]
    assert window.count_label.text() == "453 devices"


def test_runner_errors_reach_the_error_reporter(window: MainWindow) -> None:
    assert window.runner.default_error_handler == window.errors.report


def test_dashboard_request_opens_filtered_devices(qtbot, window: MainWindow) -> None:
    window.show_pane(4)
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
    query = DeviceQuery(compliance=frozenset({ComplianceState.NON_COMPLIANT}))
    with qtbot.waitSignal(window.devices.model.page_loaded, timeout=WAIT):
        window.dashboard.devices_requested.emit(query)
    assert window.current_pane is window.devices
    assert window.devices.model.query == query
    assert window.devices.compliance.currentText() == "Non-compliant"


def test_geometry_and_view_state_are_remembered(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, settings: QSettings
) -> None:
    first = open_window(qtbot, sqlite_ctx, admin_session, settings)
    first.resize(1234, 700)
    first.show_pane(2)
    close_window(qtbot, first)
    assert settings.value(f"{SETTINGS_GROUP}/geometry")
    assert settings.value(f"{SETTINGS_GROUP}/state")
    assert settings.value("devices/header")  # each pane's save_state() ran on close

    second = open_window(qtbot, sqlite_ctx, sign_in_admin(sqlite_ctx), settings)  # closing signed the first out
    # The offscreen screen is 800x800, so Qt clamps the restored width to the screen (and the
    # window's minimum width); the height fits and comes back exactly, not the default 900.
    assert second.height() == 700
    assert second.stack.currentIndex() == 2
    close_window(qtbot, second)


def test_first_start_uses_the_default_size(window: MainWindow) -> None:
    assert window.size() == QSize(1400, 900)
    assert window.stack.currentIndex() == 0


def test_icons_and_stylesheet_are_shipped() -> None:
    names = set(icon_names())
    assert {"devices", "policies", "catalog", "audit", "dashboard", "refresh", "search", "filter", "app"} <= names
    for name in names:
        assert not icon(name).isNull(), name
        assert not icon(name).pixmap(24, 24).isNull(), name
    with pytest.raises(KeyError):
        icon("no-such-icon")
    css = stylesheet()
    assert "@ICONS@" not in css
    assert "chevron-down.svg" in css


def test_the_first_page_is_asked_for_once_while_the_window_is_built(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, settings: QSettings
) -> None:
    devices = sqlite_ctx.services.devices
    calls: list[DeviceQuery] = []
    real = devices.list_page

    def counting(actor, query, after=None, limit=200):  # type: ignore[no-untyped-def]
        calls.append(query)
        return real(actor, query, after, limit)

    devices.list_page = counting  # type: ignore[method-assign]
    try:
        window = MainWindow(sqlite_ctx, admin_session, settings=settings)
        assert window.devices.model.loading  # asked for before the other panes were built
        qtbot.addWidget(window, before_close_func=lambda w: close_window(qtbot, w))
        with qtbot.waitSignal(window.device_count_changed, timeout=WAIT):
            window.show()
        qtbot.waitUntil(lambda: window.devices.model.rowCount() > 0, timeout=WAIT)
        qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
        assert len(calls) == 1  # the activation used the prefetched page
    finally:
        del devices.list_page


def test_no_prefetch_when_the_console_opens_on_another_pane(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, settings: QSettings
) -> None:
    settings.setValue(f"{SETTINGS_GROUP}/pane", 4)
    window = MainWindow(sqlite_ctx, admin_session, settings=settings)
    qtbot.addWidget(window, before_close_func=lambda w: close_window(qtbot, w))
    assert not window.devices.model.loading
    assert window.stack.currentWidget() is window.dashboard
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=WAIT)
