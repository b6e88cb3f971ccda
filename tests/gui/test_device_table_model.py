"""DeviceTableModel: keyset pages through the runner, SQL sort and filter, stale pages dropped."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QIcon

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal, Role
from mdm_desktop.domain.devices import ComplianceState, Platform
from mdm_desktop.gui.models.device_table_model import (
    COLUMN_INDEX,
    COLUMNS,
    DEVICE_ROW_ROLE,
    FIRST_PAGE_SIZE,
    HIDDEN_TEXT,
    DeviceTableModel,
)
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import DeviceCursor, DevicePage, DeviceQuery, DeviceSort, SessionInfo
from tests.conftest import sign_in_admin, user_session
from tests.gui.fleet import Fleet, populate


@pytest.fixture
def model(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, runner: TaskRunner
) -> Iterator[DeviceTableModel]:
    m = DeviceTableModel(sqlite_ctx.services.devices, admin_session, runner)
    yield m
    m.shutdown()


def load_first(qtbot, model: DeviceTableModel, query: DeviceQuery | None = None) -> None:
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        if query is None:
            model.reload()
        else:
            model.set_query(query)


def load_all(qtbot, model: DeviceTableModel) -> None:
    while model.canFetchMore(QModelIndex()):
        with qtbot.waitSignal(model.page_loaded, timeout=10_000):
            model.fetchMore(QModelIndex())


def column_values(model: DeviceTableModel, key: str) -> list[str]:
    col = COLUMN_INDEX[key]
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def test_model_passes_qtmodeltester(qtbot, qtmodeltester, model: DeviceTableModel) -> None:
    qtmodeltester.check(model)  # empty, not started
    load_first(qtbot, model)
    qtmodeltester.check(model)
    load_all(qtbot, model)
    qtmodeltester.check(model)


def test_nothing_is_fetched_until_started(model: DeviceTableModel) -> None:
    assert model.rowCount() == 0
    assert not model.canFetchMore(QModelIndex())
    assert not model.loading


def test_pages_are_fetched_one_at_a_time(qtbot, model: DeviceTableModel, fleet: Fleet) -> None:
    load_first(qtbot, model)
    assert model.rowCount() == FIRST_PAGE_SIZE  # a small first page: what a usual screen shows
    assert model.canFetchMore(QModelIndex())
    assert model.columnCount() == len(COLUMNS)

    with qtbot.waitSignal(model.page_loaded, timeout=10_000) as blocker:
        model.fetchMore(QModelIndex())
        assert model.loading
        assert not model.canFetchMore(QModelIndex())  # one request at a time
    assert blocker.args == [200]
    assert model.rowCount() == FIRST_PAGE_SIZE + 200

    left = 450 - FIRST_PAGE_SIZE - 200
    while left:
        with qtbot.waitSignal(model.page_loaded, timeout=10_000) as blocker:
            model.fetchMore(QModelIndex())
        assert blocker.args == [min(left, 200)]
        left -= min(left, 200)
    assert model.rowCount() == 450
    assert model.exhausted
    assert not model.canFetchMore(QModelIndex())
    ids = [model.data(model.index(r, 0), DEVICE_ROW_ROLE).id for r in range(model.rowCount())]
    assert sorted(ids) == sorted(fleet.device_ids)


def test_sort_maps_columns_to_sql_order(qtbot, model: DeviceTableModel) -> None:
    load_first(qtbot, model)
    names = column_values(model, "name")
    assert names == sorted(names)

    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.sort(COLUMN_INDEX["name"], Qt.SortOrder.DescendingOrder)
    assert model.query.sort is DeviceSort.NAME
    assert model.query.descending
    descending = column_values(model, "name")
    assert descending == sorted(descending, reverse=True)
    assert descending[0] > names[0]

    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.sort(COLUMN_INDEX["last_checkin"], Qt.SortOrder.AscendingOrder)
    rows = [model.data(model.index(r, 0), DEVICE_ROW_ROLE) for r in range(model.rowCount())]
    assert rows[0].last_checkin_at is None  # never checked in sorts first
    times = [r.last_checkin_at for r in rows if r.last_checkin_at is not None]
    assert times == sorted(times)
    assert model.sort_column() == COLUMN_INDEX["last_checkin"]


def test_unsortable_columns_ignore_sort(qtbot, model: DeviceTableModel) -> None:
    load_first(qtbot, model)
    before = model.query
    with qtbot.assertNotEmitted(model.modelAboutToBeReset):
        model.sort(COLUMN_INDEX["group"], Qt.SortOrder.DescendingOrder)
        model.sort(COLUMN_INDEX["assigned_to"], Qt.SortOrder.AscendingOrder)
        model.sort(99, Qt.SortOrder.AscendingOrder)
    assert model.query == before
    assert not model.loading


def fetch_rest(qtbot, model: DeviceTableModel) -> None:
    while model.canFetchMore(QModelIndex()):
        with qtbot.waitSignal(model.page_loaded, timeout=10_000):
            model.fetchMore(QModelIndex())


def test_filters_change_rows(qtbot, model: DeviceTableModel) -> None:
    load_first(qtbot, model, DeviceQuery(platforms=frozenset({Platform.ANDROID})))
    assert model.rowCount() == FIRST_PAGE_SIZE
    fetch_rest(qtbot, model)
    assert model.rowCount() == 90
    assert set(column_values(model, "platform")) == {"Android"}

    load_first(qtbot, model, DeviceQuery(compliance=frozenset({ComplianceState.NON_COMPLIANT}), search="SN000005"))
    assert model.rowCount() == 1
    assert column_values(model, "compliance") == ["Non-compliant"]

    load_first(qtbot, model, DeviceQuery(search="no such device"))
    assert model.rowCount() == 0
    assert model.exhausted


def test_display_roles(qtbot, model: DeviceTableModel) -> None:
    load_first(qtbot, model, DeviceQuery(search="SN000007"))
    assert model.rowCount() == 1
    compliance = model.index(0, COLUMN_INDEX["compliance"])
    assert model.data(compliance) == "Unknown"
    assert isinstance(model.data(compliance, Qt.ItemDataRole.ForegroundRole), QColor)
    assert isinstance(model.data(compliance, Qt.ItemDataRole.DecorationRole), QIcon)
    assert model.data(model.index(0, COLUMN_INDEX["last_checkin"])) == "never"
    assert model.data(model.index(0, COLUMN_INDEX["assigned_to"])) == "Carla Mendes"
    assert model.headerData(COLUMN_INDEX["os_version"], Qt.Orientation.Horizontal) == "OS version"


def test_check_in_is_shown_in_local_time(qtbot, model: DeviceTableModel) -> None:
    load_first(qtbot, model, DeviceQuery(search="SN000002"))
    row = model.data(model.index(0, 0), DEVICE_ROW_ROLE)
    assert row.last_checkin_at is not None
    expected = row.last_checkin_at.astimezone().strftime("%Y-%m-%d %H:%M")
    assert model.data(model.index(0, COLUMN_INDEX["last_checkin"])) == expected


def test_identifiers_show_hidden_for_roles_that_may_not_see_them(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, runner: TaskRunner
) -> None:
    sign_in_admin(sqlite_ctx)
    role = Role.HELPDESK
    session = user_session(sqlite_ctx, "helper", role)
    model = DeviceTableModel(sqlite_ctx.services.devices, session, runner)
    load_first(qtbot, model)
    assert set(column_values(model, "assigned_to")) == {HIDDEN_TEXT}
    model.shutdown()


class GatedDevices:
    """Wraps the device service; list_page calls for the unfiltered query wait until released."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.release = threading.Event()

    def list_page(self, actor: Principal, query: DeviceQuery, after: DeviceCursor | None = None, limit: int = 200):
        if not query.platforms:
            assert self.release.wait(10)
        page: DevicePage = self._inner.list_page(actor, query, after=after, limit=limit)  # type: ignore[attr-defined]
        return page


def test_stale_pages_are_dropped(
    qtbot, sqlite_ctx: AppContext, fleet: Fleet, admin_session: SessionInfo, runner: TaskRunner
) -> None:
    gated = GatedDevices(sqlite_ctx.services.devices)
    model = DeviceTableModel(gated, admin_session, runner)  # type: ignore[arg-type]
    model.set_query(DeviceQuery())  # first request: held at the gate
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_query(DeviceQuery(platforms=frozenset({Platform.MACOS})))
    assert model.rowCount() == FIRST_PAGE_SIZE
    gated.release.set()
    qtbot.waitUntil(lambda: runner.pending == 0, timeout=10_000)
    # The unfiltered page arrived after the reset and was dropped.
    assert model.rowCount() == FIRST_PAGE_SIZE
    assert set(column_values(model, "platform")) == {"macOS"}
    model.shutdown()


@pytest.mark.parametrize("page_size", [7])
def test_paging_and_sort_on_every_store(
    qtbot, qtmodeltester, app_ctx: AppContext, runner: TaskRunner, page_size: int
) -> None:
    session = sign_in_admin(app_ctx)
    populate(app_ctx, 30)
    model = DeviceTableModel(app_ctx.services.devices, session, runner, page_size=page_size)
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.sort(COLUMN_INDEX["os_version"], Qt.SortOrder.DescendingOrder)
        model.reload()
    load_all(qtbot, model)
    assert model.rowCount() == 30
    rows = [model.data(model.index(r, 0), DEVICE_ROW_ROLE) for r in range(30)]
    assert len({r.id for r in rows}) == 30
    qtmodeltester.check(model)
    model.shutdown()


PAINT_ROLES = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.DecorationRole,
    Qt.ItemDataRole.FontRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.TextAlignmentRole,
    Qt.ItemDataRole.CheckStateRole,
    Qt.ItemDataRole.ToolTipRole,
)


def test_cached_cells_answer_as_the_cell_methods_do(qtbot, model: DeviceTableModel) -> None:
    """The per-row cell cache (one look-up per painted cell) gives the same answers as _display / _cell_data."""
    load_first(qtbot, model)
    fetch_rest(qtbot, model)  # every kind of row: placeholders, each compliance state, never checked in
    for r in range(model.rowCount()):
        row = model.data(model.index(r, 0), DEVICE_ROW_ROLE)
        for c, column in enumerate(COLUMNS):
            index = model.index(r, c)
            assert model.data(index) == model._display(row, column.key)
            for role in PAINT_ROLES[1:]:
                expected = model._cell_data(row, column.key, int(role))
                got = model.data(index, role)
                assert got == expected or (isinstance(got, QIcon) and got.cacheKey() == expected.cacheKey())
    placeholder = next(
        r for r in range(model.rowCount()) if not model.data(model.index(r, 0), DEVICE_ROW_ROLE).group_name
    )
    assert model.data(model.index(placeholder, COLUMN_INDEX["group"]), Qt.ItemDataRole.FontRole).italic()


def test_cells_are_worked_out_again_after_a_reload(qtbot, model: DeviceTableModel) -> None:
    load_first(qtbot, model, DeviceQuery(sort=DeviceSort.NAME))
    first = model.data(model.index(0, COLUMN_INDEX["name"]))
    load_first(qtbot, model, DeviceQuery(sort=DeviceSort.NAME, descending=True))
    assert model.data(model.index(0, COLUMN_INDEX["name"])) != first
    assert model.data(model.index(model.rowCount(), 0)) is None  # past the rows held
    assert model.data(QModelIndex()) is None


def test_first_load_announces_rows_not_a_reset(qtbot, model: DeviceTableModel) -> None:
    with qtbot.assertNotEmitted(model.modelAboutToBeReset):
        load_first(qtbot, model)
    with qtbot.waitSignal(model.modelReset, timeout=10_000):
        model.reload()  # rows shown: a reload resets
    qtbot.waitUntil(lambda: not model.loading, timeout=10_000)
