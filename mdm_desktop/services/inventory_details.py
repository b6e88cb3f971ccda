"""Inventory details beyond the basics: kernel, last OS update, screen lock, firewall, battery (issue 6).

:func:`apply_details` copies them onto the device row; it writes a column only when the value
changed, so a routine check-in that reports the same values adds nothing to the ``UPDATE``.
"""

from __future__ import annotations

import datetime as dt

from mdm_desktop.store.schema import Device
from mdm_desktop.wire.v1 import Inventory

DETAIL_FIELDS = ("kernel", "last_os_update", "screen_lock_enabled", "firewall_enabled", "battery_percent")
"""The :class:`~mdm_desktop.wire.v1.Inventory` fields stored in the ``devices`` columns of the same name."""


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A reported time in UTC; a time without an offset is taken as UTC (the store keeps only UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def apply_details(device: Device, inventory: Inventory) -> None:
    """Copy the reported details onto ``device``, touching only the columns whose value changed."""
    reported = {
        "kernel": inventory.kernel,
        "last_os_update": as_utc(inventory.last_os_update),
        "screen_lock_enabled": inventory.screen_lock_enabled,
        "firewall_enabled": inventory.firewall_enabled,
        "battery_percent": inventory.battery_percent,
    }
    for column, value in reported.items():
        if getattr(device, column) != value:
            setattr(device, column, value)
