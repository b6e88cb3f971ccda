"""DevicesPane: debounced search, filters in SQL, result count, detail panel, remembered layout."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import ComplianceState, Ownership, Platform
from mdm_desktop.gui.models.device_table_model import COLUMN_INDEX, DEVICE_ROW_ROLE, FIRST_PAGE_SIZE, HIDDEN_TEXT
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.devices_pane import SEARCH_DELAY_MS, DevicesPane, count_text
from mdm_desktop.services.dto import DeviceDetail, DeviceQuery, DeviceSort, SessionInfo
from tests.conftest import user_session
from tests.gui.fleet import APPS, RICH_NAME, Fleet

WAIT = 10_000


def open_pane(qtbot, ctx: PaneContext) -> DevicesPane:
    pane = DevicesPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: settle(qtbot, p))
    pane.resize(1200, 800)
    pane.show()
    with qtbot.waitSignals([pane.model.page_loaded, pane.count_changed, pane.groups_loaded], timeout=WAIT):
        pane.activate()
    return pane


def settle(qtbot, pane: DevicesPane) -> None:
    """Before pytest-qt closes and deletes the pane: let its pending work come back."""
    pane.model.shutdown()
    qtbot.waitUntil(lambda: pane.ctx.runner.pending == 0, timeout=WAIT)


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext, fleet: Fleet) -> Iterator[DevicesPane]:
    p = open_pane(qtbot, pane_ctx)
    yield p
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]


def rows(pane: DevicesPane):
    model = pane.model
    return [model.data(model.index(r, 0), DEVICE_ROW_ROLE) for r in range(model.rowCount())]


def apply_and_wait(qtbot, pane: DevicesPane, action) -> None:
    with qtbot.waitSignals([pane.model.page_loaded, pane.count_changed], timeout=WAIT):
        action()


def test_pane_opens_with_first_page_and_count(pane: DevicesPane, fleet: Fleet) -> None:
    assert pane.model.rowCount() >= FIRST_PAGE_SIZE  # a small first page; the view fetches more as needed
    assert pane.result_count.text() == "450 devices"
    assert pane.device_count == 450
    assert pane.result_count.textFormat() == Qt.TextFormat.PlainText
    assert not pane.detail.showing_device
    # groups from the service, with their counts
    labels = [pane.group.itemText(i) for i in range(pane.group.count())]
    assert labels[0] == "All groups"
    assert any(label.startswith("Cardiology (") for label in labels)


def test_count_text() -> None:
    assert count_text(0) == "0 devices"
    assert count_text(1) == "1 device"
    assert count_text(1234) == "1,234 devices"


def test_search_is_debounced(qtbot, pane: DevicesPane) -> None:
    applied: list[DeviceQuery] = []
    pane.query_applied.connect(applied.append)
    with qtbot.waitSignals([pane.model.page_loaded, pane.count_changed], timeout=WAIT):
        qtbot.keyClicks(pane.search, "SN000005")
    assert len(applied) == 1  # one query for eight keystrokes
    assert applied[0].search == "SN000005"
    assert pane.model.rowCount() == 1
    assert pane.result_count.text() == "1 device"

    with qtbot.waitSignal(pane.model.page_loaded, timeout=WAIT):
        pane.search.setText("iPad")
    assert {r.platform for r in rows(pane)} == {Platform.IPADOS}


def test_search_by_staff_member_uses_the_blind_index(qtbot, pane: DevicesPane, fleet: Fleet) -> None:
    expected = sum(1 for name in fleet.staff.values() if name == "Carla Mendes")
    apply_and_wait(qtbot, pane, lambda: (pane.search.setText("Carla Mendes"), pane.apply_filters()))
    assert pane.device_count == expected
    assert {r.assigned_to for r in rows(pane)} == {"Carla Mendes"}


def test_filters_change_rows_and_count(qtbot, pane: DevicesPane, fleet: Fleet) -> None:
    apply_and_wait(qtbot, pane, lambda: pane.platform.setCurrentIndex(pane.platform.findText("Android")))
    assert {r.platform for r in rows(pane)} == {Platform.ANDROID}
    assert pane.result_count.text() == "90 devices"

    apply_and_wait(qtbot, pane, lambda: pane.compliance.setCurrentIndex(pane.compliance.findText("Non-compliant")))
    assert {r.compliance_state for r in rows(pane)} == {ComplianceState.NON_COMPLIANT}
    assert {r.platform for r in rows(pane)} == {Platform.ANDROID}

    apply_and_wait(qtbot, pane, lambda: pane.ownership.setCurrentIndex(pane.ownership.findText("BYOD")))
    assert {r.ownership for r in rows(pane)} <= {Ownership.BYOD}

    apply_and_wait(qtbot, pane, pane.clear_filters)
    assert pane.device_count == 450
    assert pane.platform.currentText() == "All platforms"

    cardiology = fleet.group_ids["Cardiology"]
    apply_and_wait(qtbot, pane, lambda: pane.group.setCurrentIndex(pane.group.findData(cardiology)))
    assert {r.group_name for r in rows(pane)} == {"Cardiology"}


def test_not_checked_in_filter(qtbot, pane: DevicesPane) -> None:
    apply_and_wait(qtbot, pane, lambda: pane.stale_days.setValue(20))
    assert pane._search_timer.interval() == SEARCH_DELAY_MS  # the value is not taken as a delay
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    found = rows(pane)
    assert found
    assert all(r.last_checkin_at is None or r.last_checkin_at < cutoff for r in found)
    assert pane.model.query.stale_days == 20
    apply_and_wait(qtbot, pane, lambda: pane.stale_days.setValue(0))
    assert pane.model.query.stale_days is None
    assert pane.device_count == 450


def test_show_query_sets_the_widgets(qtbot, pane: DevicesPane, fleet: Fleet) -> None:
    query = DeviceQuery(
        platforms=frozenset({Platform.IOS, Platform.IPADOS}),
        compliance=frozenset({ComplianceState.UNKNOWN}),
        group_id=fleet.group_ids["Radiology"],
        stale_days=14,
        sort=DeviceSort.LAST_CHECKIN,
        descending=True,
    )
    apply_and_wait(qtbot, pane, lambda: pane.show_query(query))
    assert pane.model.query == query
    assert pane.platform.currentText() == "iOS + iPadOS"
    assert pane.compliance.currentText() == "Unknown"
    assert pane.group.currentText().startswith("Radiology")
    assert pane.stale_days.value() == 14
    header = pane.table.horizontalHeader()
    assert header.sortIndicatorSection() == COLUMN_INDEX["last_checkin"]
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert {r.platform for r in rows(pane)} <= {Platform.IOS, Platform.IPADOS}


def test_header_click_sorts_and_unsortable_columns_snap_back(qtbot, pane: DevicesPane) -> None:
    header = pane.table.horizontalHeader()
    with qtbot.waitSignal(pane.model.page_loaded, timeout=WAIT):
        header.setSortIndicator(COLUMN_INDEX["os_version"], Qt.SortOrder.DescendingOrder)
    assert pane.model.query.sort is DeviceSort.OS_VERSION
    assert pane.model.query.descending

    header.setSortIndicator(COLUMN_INDEX["group"], Qt.SortOrder.AscendingOrder)
    assert header.sortIndicatorSection() == COLUMN_INDEX["os_version"]
    assert pane.model.query.sort is DeviceSort.OS_VERSION


def select_device(qtbot, pane: DevicesPane, device_id: int, fleet: Fleet) -> DeviceDetail:
    row = pane.model.row_of(device_id)
    if row < 0:
        apply_and_wait(qtbot, pane, lambda: pane.show_query(DeviceQuery(search=fleet.serials[device_id])))
        row = pane.model.row_of(device_id)
    assert row >= 0
    with qtbot.waitSignal(pane.detail_loaded, timeout=WAIT) as blocker:
        pane.table.selectRow(row)
    detail = blocker.args[0]
    assert isinstance(detail, DeviceDetail)
    return detail


def test_detail_shows_inventory_apps_reasons_and_commands(qtbot, pane: DevicesPane, fleet: Fleet) -> None:
    device_id = fleet.device_ids[5]  # non-compliant, 3 apps, no commands
    detail = select_device(qtbot, pane, device_id, fleet)
    panel = pane.detail
    assert panel.showing_device
    assert panel.device_id == device_id
    assert panel.inventory_value("Serial number") == "SN000005"
    assert panel.inventory_value("Hardware ID") == "HW-00000005"
    assert panel.apps.rowCount() == len(detail.installed_apps) == 3
    assert {panel.apps.item(r, 0).text() for r in range(3)} == {name for _, name, _ in APPS[:3]}
    assert panel.reason_texts() == list(detail.compliance_reasons)
    assert "jailbroken" in panel.reason_texts()[0]
    assert panel.tabs.tabText(2) == "Compliance (1)"

    detail = select_device(qtbot, pane, fleet.device_ids[4], fleet)  # compliant, 2 commands
    assert panel.commands.rowCount() == 2
    texts = {panel.commands.item(r, 0).text() for r in range(2)}
    assert texts == {"Lock", "Refresh inventory"}
    assert panel.reason_texts() == []


def test_device_strings_are_never_rich_text(qtbot, pane: DevicesPane, fleet: Fleet) -> None:
    select_device(qtbot, pane, fleet.rich_device_id, fleet)
    assert pane.detail.title.text() == RICH_NAME
    for label in pane.detail.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    assert pane.detail.inventory_value("Name") == RICH_NAME
    reasons = [pane.detail.commands.item(r, 5).text() for r in range(pane.detail.commands.rowCount())]
    assert "Reported missing at <b>night</b> shift" in reasons


def test_missing_device_shows_a_plain_message(qtbot, pane: DevicesPane) -> None:
    pane.show_device(10_000_000, immediately=True)
    qtbot.waitUntil(lambda: "no longer exists" in pane.detail.placeholder.text(), timeout=WAIT)
    assert not pane.detail.showing_device


def test_roles_without_identifier_access_see_hidden(
    qtbot, pane_ctx: PaneContext, fleet: Fleet, admin_session: SessionInfo, sqlite_ctx: AppContext
) -> None:
    role = Role.HELPDESK
    session = user_session(sqlite_ctx, "helper", role)
    pane = open_pane(qtbot, replace(pane_ctx, session=session))
    select_device(qtbot, pane, fleet.device_ids[2], fleet)
    assert pane.detail.inventory_value("Serial number") == HIDDEN_TEXT
    assert pane.detail.inventory_value("Assigned to") == HIDDEN_TEXT
    assert pane.model.data(pane.model.index(0, COLUMN_INDEX["assigned_to"])) == HIDDEN_TEXT


def test_column_layout_is_remembered(qtbot, pane: DevicesPane, pane_ctx: PaneContext, settings: QSettings) -> None:
    header = pane.table.horizontalHeader()
    header.moveSection(COLUMN_INDEX["compliance"], 1)
    header.resizeSection(COLUMN_INDEX["name"], 333)
    with qtbot.waitSignal(pane.model.page_loaded, timeout=WAIT):
        header.setSortIndicator(COLUMN_INDEX["model"], Qt.SortOrder.DescendingOrder)
    pane.splitter.setSizes([300, 400])
    pane.save_state()
    settings.sync()

    again = DevicesPane(pane_ctx)  # not activated: it loads nothing
    qtbot.addWidget(again)
    restored = again.table.horizontalHeader()
    assert restored.visualIndex(COLUMN_INDEX["compliance"]) == 1
    assert restored.sectionSize(COLUMN_INDEX["name"]) == 333
    assert restored.sortIndicatorSection() == COLUMN_INDEX["model"]
    assert again.model.query.sort is DeviceSort.MODEL
    assert again.model.query.descending


class HeldDevices:
    """Wraps the device service: list_page waits until released; count and groups record that they ran."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.release = threading.Event()
        self.calls: list[str] = []

    def list_page(self, *args: object, **kwargs: object) -> object:
        assert self.release.wait(10)
        self.calls.append("page")
        return self._inner.list_page(*args, **kwargs)  # type: ignore[attr-defined]

    def count(self, *args: object) -> object:
        self.calls.append("count")
        return self._inner.count(*args)  # type: ignore[attr-defined]

    def groups(self, *args: object) -> object:
        self.calls.append("groups")
        return self._inner.groups(*args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_first_page_goes_first_and_the_table_paints_once_it_is_there(
    qtbot, pane_ctx: PaneContext, fleet: Fleet
) -> None:
    held = HeldDevices(pane_ctx.services.devices)
    ctx = replace(pane_ctx, services=replace(pane_ctx.services, devices=held))
    pane = DevicesPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: settle(qtbot, p))
    pane.resize(1200, 800)
    pane.show()
    pane.activate()
    assert pane.model.loading
    assert not pane.table.updatesEnabled()  # no throw-away paint of an empty table
    assert held.calls == []  # the count and the group list wait for the rows
    with qtbot.waitSignals([pane.model.page_loaded, pane.count_changed, pane.groups_loaded], timeout=WAIT):
        held.release.set()
    assert held.calls[0] == "page"
    assert sorted(held.calls[1:]) == ["count", "groups"]
    assert pane.table.updatesEnabled()
    assert pane.model.rowCount() >= FIRST_PAGE_SIZE
    assert pane.device_count == len(fleet.device_ids)


def test_a_slow_first_page_still_lets_the_table_paint(qtbot, pane_ctx: PaneContext, fleet: Fleet) -> None:
    held = HeldDevices(pane_ctx.services.devices)
    ctx = replace(pane_ctx, services=replace(pane_ctx.services, devices=held))
    pane = DevicesPane(ctx)
    qtbot.addWidget(pane, before_close_func=lambda p: settle(qtbot, p))
    pane.show()
    pane.activate()
    qtbot.waitUntil(pane.table.updatesEnabled, timeout=WAIT)  # after FIRST_PAINT_WAIT_MS, rows or not
    assert pane.model.loading
    with qtbot.waitSignals([pane.model.page_loaded, pane.count_changed], timeout=WAIT):
        held.release.set()
