"""Per-OS inventory probes with one interface (:class:`InventoryProbe`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mdm_desktop.agent.inventory.base import InventoryProbe
from mdm_desktop.wire.v1 import InstalledAppReport


def probe_for_this_machine(managed_apps: Sequence[InstalledAppReport] = ()) -> InventoryProbe:
    """The probe for the operating system the agent runs on (Linux when unknown)."""
    if sys.platform == "darwin":
        from mdm_desktop.agent.inventory.macos import MacOSProbe

        return MacOSProbe(managed_apps)
    if sys.platform == "win32":
        from mdm_desktop.agent.inventory.windows import WindowsProbe

        return WindowsProbe(managed_apps)
    from mdm_desktop.agent.inventory.linux import LinuxProbe

    return LinuxProbe(managed_apps)


__all__ = ["InventoryProbe", "probe_for_this_machine"]
