"""The device detail shows the inventory details devices report (issue 6): kernel, last OS update,
screen lock, firewall and battery, with "Not reported" / an empty mark where a device reported nothing."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import update

from mdm_desktop.app import AppContext
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.store.schema import Device
from tests.gui.fleet import Fleet
from tests.gui.test_devices_pane import open_pane, select_device

UPDATED = dt.datetime(2026, 11, 30, 22, 15, tzinfo=dt.UTC)


def test_detail_shows_the_reported_inventory_details(
    qtbot: QtBot, pane_ctx: PaneContext, fleet: Fleet, sqlite_ctx: AppContext
) -> None:
    reported, silent = fleet.device_ids[3], fleet.device_ids[6]
    with sqlite_ctx.uow(write=True) as uow:
        uow.session.execute(
            update(Device)
            .where(Device.id == reported)
            .values(
                kernel="10.0.22631.4460",
                last_os_update=UPDATED,
                screen_lock_enabled=False,
                firewall_enabled=True,
                battery_percent=64,
            )
        )
        uow.commit()
    pane = open_pane(qtbot, pane_ctx)
    pane.resize(1400, 900)
    panel = pane.detail

    select_device(qtbot, pane, reported, fleet)
    assert panel.inventory_value("Kernel") == "10.0.22631.4460"
    assert panel.inventory_value("Last OS update") == format_local_time(UPDATED)
    assert panel.inventory_value("Screen lock") == "Off"
    assert panel.inventory_value("Firewall") == "On"
    assert panel.inventory_value("Battery") == "64 %"
    shots = os.environ.get("MDM_SHOTS_DIR")
    if shots:
        pane.grab().save(str(Path(shots) / "h-inventory-detail.png"))

    select_device(qtbot, pane, silent, fleet)
    assert panel.inventory_value("Screen lock") == "Not reported"
    assert panel.inventory_value("Firewall") == "Not reported"
    assert panel.inventory_value("Kernel") == panel.inventory_value("Battery") != "64 %"
    assert pane_ctx.errors.errors == []  # type: ignore[attr-defined]
