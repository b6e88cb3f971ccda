"""macOS inventory: ``sw_vers``, ``system_profiler``, ``fdesetup``, the application firewall and ``pmset``.

Same interface as the Linux probe; the parsers are pure functions tested on captured outputs.
``fdesetup status`` and ``socketfilterfw --getglobalstate`` work without administrator rights;
``sysadminctl -screenLock status`` reports the current user's setting.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import plistlib
import re
from collections.abc import Sequence
from typing import Any

from mdm_desktop.agent.inventory.base import (
    InventoryProbe,
    clip,
    clip_or_none,
    hostname,
    run_tool,
    run_tool_status,
)
from mdm_desktop.wire.v1 import InstalledAppReport, Inventory, WirePlatform

SOCKETFILTERFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"
INSTALL_HISTORY = "/Library/Receipts/InstallHistory.plist"
_UPDATE_PROCESSES = frozenset({"softwareupdated", "Software Update", "macOS Installer"})


def parse_sw_vers(text: str) -> dict[str, str]:
    """``ProductName``, ``ProductVersion``, ``BuildVersion`` from ``sw_vers``."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    return values


def parse_hardware_json(text: str) -> dict[str, str]:
    """The first ``SPHardwareDataType`` entry of ``system_profiler -json`` (string values only)."""
    try:
        data = json.loads(text)
        entry = data["SPHardwareDataType"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    if not isinstance(entry, dict):
        return {}
    return {str(k): str(v) for k, v in entry.items() if isinstance(v, str | int | float)}


def parse_fdesetup(text: str) -> bool | None:
    """``FileVault is On.`` / ``FileVault is Off.`` (encryption in progress counts as on)."""
    match = re.search(r"FileVault is (On|Off)", text)
    return None if match is None else match.group(1) == "On"


def parse_socketfilterfw(text: str) -> bool | None:
    """``Firewall is enabled. (State = 1)`` / ``Firewall is disabled. (State = 0)`` (also the older wording)."""
    match = re.search(r"State\s*=\s*(\d)", text)
    if match:
        return match.group(1) != "0"
    lowered = text.lower()
    if "firewall is enabled" in lowered:
        return True
    if "firewall is disabled" in lowered:
        return False
    return None


def parse_screen_lock(text: str) -> bool | None:
    """``screenLock delay is immediate`` / ``screenLock delay is 300 seconds`` / ``screenLock is off``."""
    lowered = text.lower()
    if "screenlock is off" in lowered:
        return False
    if "screenlock delay is" in lowered:
        return True
    return None


def parse_pmset_battery(text: str) -> int | None:
    """The internal battery's charge from ``pmset -g batt`` (``None`` on desktops)."""
    match = re.search(r"InternalBattery[^\n]*?\s(\d{1,3})%", text)
    return None if match is None else min(100, int(match.group(1)))


def parse_install_history(data: bytes) -> dt.datetime | None:
    """When the newest macOS or security update was installed, from ``InstallHistory.plist``."""
    try:
        entries = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, TypeError, OverflowError):
        return None
    newest: dt.datetime | None = None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("processName") not in _UPDATE_PROCESSES:
            continue
        stamp = entry.get("date")
        if isinstance(stamp, dt.datetime):
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)  # plist dates are UTC
            if newest is None or stamp > newest:
                newest = stamp
    return newest


class MacOSProbe(InventoryProbe):
    """Inventory of the Mac the agent runs on."""

    def __init__(self, managed_apps: Sequence[InstalledAppReport] = ()) -> None:
        super().__init__(managed_apps)

    def collect(self) -> Inventory:
        versions = parse_sw_vers(run_tool(["sw_vers"]) or "")
        hardware = parse_hardware_json(run_tool(["system_profiler", "SPHardwareDataType", "-json"], timeout=30) or "")
        model = hardware.get("machine_name", "")
        if hardware.get("machine_model"):
            model = f"{model} ({hardware['machine_model']})" if model else hardware["machine_model"]
        return Inventory(
            name=hostname(),
            platform=WirePlatform.MACOS,
            vendor="Apple" if hardware or versions else "",
            model=clip(model, 128),
            serial=clip_or_none(hardware.get("serial_number"), 255),
            hardware_id=clip_or_none(hardware.get("platform_UUID"), 255),
            os_version=clip(versions.get("ProductVersion") or platform.mac_ver()[0], 64),
            os_build=clip(versions.get("BuildVersion"), 64),
            kernel=clip(f"Darwin {platform.release()}", 128),
            firmware=clip(hardware.get("boot_rom_version"), 128),
            last_os_update=self._last_update(),
            storage_encrypted=parse_fdesetup(run_tool(["fdesetup", "status"]) or ""),
            screen_lock_enabled=self._screen_lock(),
            firewall_enabled=parse_socketfilterfw(run_tool([SOCKETFILTERFW, "--getglobalstate"]) or ""),
            managed_container=True,
            battery_percent=parse_pmset_battery(run_tool(["pmset", "-g", "batt"]) or ""),
            apps=self.managed_apps,
        )

    @staticmethod
    def _screen_lock() -> bool | None:
        done = run_tool_status(["sysadminctl", "-screenLock", "status"])
        return None if done is None else parse_screen_lock(done[1])

    @staticmethod
    def _last_update() -> dt.datetime | None:
        try:
            with open(INSTALL_HISTORY, "rb") as handle:
                data: Any = handle.read()
        except OSError:
            return None
        return parse_install_history(data)
