"""Device inventory at clinic-group scale: fill, first painted page, search and sort.

Fills a fresh SQLite store with N devices (default 100,000) through the demo
fleet generator and prints:

- time to fill;
- service timings (median of 7): first page, text search, exact serial search
  (blind index), sort on indexed columns, a deep keyset page, a filtered count;
- time to the first painted page of the devices table (our paged model fetching
  from SQL through the task runner, in a view set up as the Devices pane sets up
  its table), next to a bare QTableView with the same setup over an in-memory
  model holding the same rows, measured in the same run (target 1.5x);
- the same for the whole Devices pane (filters, detail panel, count).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _util import median_ms, report, timed

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.devices import ComplianceState, Platform
from mdm_desktop.security import totp
from mdm_desktop.services.dto import DeviceCursor, DeviceQuery, DeviceSort, SessionInfo


def fill(ctx: AppContext, devices: int) -> tuple[SessionInfo, float]:
    """Generate the demo clinic and sign in as its administrator."""
    result, ms = timed(lambda: ctx.services.demo.generate(devices=devices, seed=2026))
    code = totp.code_at(result.admin_totp_secret, dt.datetime.now(dt.UTC))
    session = ctx.services.auth.sign_in(result.admin_username, result.admin_password, code)
    return session, ms


def service_figures(ctx: AppContext, session: SessionInfo) -> None:
    svc, who = ctx.services.devices, session.principal
    first = svc.list_page(who, DeviceQuery())
    serial = next((r.serial for r in first.rows if r.serial), "none")
    cases: list[tuple[str, DeviceQuery]] = [
        ("first page (200 rows, by name)", DeviceQuery()),
        ("search text 'pixel' (name/model/vendor)", DeviceQuery(search="pixel")),
        ("search text, rare ('zz-no-such-device')", DeviceQuery(search="zz-no-such-device")),
        ("search exact serial (blind index)", DeviceQuery(search=serial)),
        ("sort by last check-in, newest first", DeviceQuery(sort=DeviceSort.LAST_CHECKIN, descending=True)),
        ("sort by OS version", DeviceQuery(sort=DeviceSort.OS_VERSION)),
        (
            "sort by compliance, filtered to Android",
            DeviceQuery(sort=DeviceSort.COMPLIANCE, platforms=frozenset({Platform.ANDROID})),
        ),
        (
            "filter non-compliant + stale 14 days",
            DeviceQuery(compliance=frozenset({ComplianceState.NON_COMPLIANT}), stale_days=14),
        ),
    ]
    print("Device service (median of 7, SQLite):")
    for label, query in cases:
        report(label, median_ms(lambda q=query: svc.list_page(who, q)), target="< 100 ms")
    deep = DeviceQuery(sort=DeviceSort.NAME)
    cursor: DeviceCursor | None = None
    for _ in range(250):  # walk 50,000 rows in
        page = svc.list_page(who, deep, after=cursor)
        cursor = page.next_cursor
        if cursor is None:
            break
    report("keyset page 251 (after 50,000 rows)", median_ms(lambda: svc.list_page(who, deep, after=cursor)))
    report("count, all devices", median_ms(lambda: svc.count(who, DeviceQuery())))
    report("count, search 'pixel'", median_ms(lambda: svc.count(who, DeviceQuery(search="pixel"))))


def table_texts(ctx: AppContext, session: SessionInfo) -> list[tuple[str, ...]]:
    """Every device as the ten texts the device table shows, in the table's first order (by name)."""
    texts: list[tuple[str, ...]] = []
    cursor: DeviceCursor | None = None
    while True:
        page = ctx.services.devices.list_page(session.principal, DeviceQuery(), after=cursor, limit=1000)
        texts.extend(
            (
                r.name,
                r.platform.label,
                r.model,
                r.os_version,
                r.ownership.label,
                r.group_name or "—",
                r.assigned_to or "—",
                r.status.label,
                r.compliance_state.label,
                r.last_checkin_at.astimezone().replace(tzinfo=None).isoformat(" ", "minutes")
                if r.last_checkin_at
                else "never",
            )
            for r in page.rows
        )
        cursor = page.next_cursor
        if cursor is None:
            return texts


def gui_figures(ctx: AppContext, session: SessionInfo, rounds: int = 9) -> None:
    """Time to the first painted page: bare table vs. our paged model vs. the whole pane.

    Both tables get the device table's look (:func:`setup_device_table`: columns, row height,
    no vertical header...) and the same rows; the bare one holds them all in memory and answers
    only the display role, ours fetches its first page through a worker and paints it with its
    colours, dots and italics. Rounds alternate bare / paged so that a busy machine slows both alike.
    Each measure runs from creating the view to the end of a paint that shows rows.
    """
    from PySide6.QtCore import QAbstractTableModel, QEventLoop, QModelIndex, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QTableView, QWidget

    from mdm_desktop.gui.errors import ErrorReporter
    from mdm_desktop.gui.models.device_table_model import DeviceTableModel
    from mdm_desktop.gui.panes.base import PaneContext
    from mdm_desktop.gui.panes.devices_pane import DevicesPane, paint_when_rows_arrive, setup_device_table
    from mdm_desktop.gui.tasks import TaskRunner

    app = QApplication.instance() or QApplication([])
    rows = table_texts(ctx, session)

    class InMemoryModel(QAbstractTableModel):
        def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008
            return 0 if parent.isValid() else len(rows)

        def columnCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008
            return 10

        def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
            return rows[index.row()][index.column()] if role == Qt.ItemDataRole.DisplayRole else None

    def paint(widget: QWidget) -> None:
        widget.grab()

    def bare_view() -> float:
        start = time.perf_counter()
        view = QTableView()
        view.setModel(InMemoryModel())
        setup_device_table(view)
        view.resize(1400, 800)
        view.show()
        paint(view)
        ms = (time.perf_counter() - start) * 1000
        view.close()
        view.deleteLater()
        return ms

    runner = TaskRunner()
    parent = QWidget()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)

    def wait_rows(model: DeviceTableModel) -> None:
        # Wait in a real event loop, as the console does: a busy processEvents() loop would hold the GIL
        # and slow down the worker thread it is waiting for.
        if model.rowCount() > 0:
            return
        loop = QEventLoop()
        model.page_loaded.connect(loop.quit)
        model.load_failed.connect(loop.quit)
        QTimer.singleShot(30_000, loop.quit)
        loop.exec()
        model.page_loaded.disconnect(loop.quit)
        model.load_failed.disconnect(loop.quit)

    def paged_view() -> float:
        start = time.perf_counter()
        view = QTableView()
        model = DeviceTableModel(ctx.services.devices, session, runner)
        view.setModel(model)
        setup_device_table(view)
        view.resize(1400, 800)
        view.show()
        model.reload()
        paint_when_rows_arrive(view, model)  # as the pane does: no throw-away paint of an empty table
        wait_rows(model)
        paint(view)
        ms = (time.perf_counter() - start) * 1000
        view.close()
        view.deleteLater()
        return ms

    def whole_pane() -> float:
        pane_ctx = PaneContext(ctx.services, session, runner, ErrorReporter(parent), settings)
        start = time.perf_counter()
        pane = DevicesPane(pane_ctx)
        pane.resize(1400, 800)
        pane.show()
        pane.activate()
        wait_rows(pane.model)
        paint(pane)
        ms = (time.perf_counter() - start) * 1000
        pane.close()
        pane.deleteLater()
        while runner.pending:
            app.processEvents()
        return ms

    bare_view(), paged_view()  # warm up fonts, styles and caches
    bare: list[float] = []
    paged: list[float] = []
    for _ in range(rounds):
        bare.append(bare_view())
        paged.append(paged_view())
    pane = statistics.median(whole_pane() for _ in range(rounds))
    print(f"First painted page, 1400x800 (median of {rounds}, rounds alternating):")
    report(f"bare QTableView, in-memory model of {len(rows):,} rows", statistics.median(bare))
    report("QTableView + DeviceTableModel (SQL page via worker)", statistics.median(paged))
    report("  ratio paged / bare", statistics.median(paged) / statistics.median(bare), unit="x", target="<= 1.5x")
    report("whole Devices pane (filters, groups, count, detail)", pane)
    runner.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config.resolve(db=str(Path(tmp) / "bench.sqlite3"), key_file=str(Path(tmp) / "kek.json"), env={})
        ctx = open_app(cfg)
        try:
            print(f"Devices benchmark: {args.devices:,} devices on SQLite")
            session, fill_ms = fill(ctx, args.devices)
            report(f"fill {args.devices:,} devices (demo generator)", fill_ms / 1000, unit="s")
            service_figures(ctx, session)
            gui_figures(ctx, session)
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
