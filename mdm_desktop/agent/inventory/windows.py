"""Windows inventory: CIM (PowerShell ``Get-CimInstance``, else ``wmic``), ``manage-bde``, ``netsh advfirewall``.

Same interface as the Linux probe; the parsers are pure functions tested on captured outputs.
``manage-bde`` needs an elevated agent; without it encryption is reported as unknown (``None``).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
from collections.abc import Sequence
from typing import Any

from mdm_desktop.agent.inventory.base import InventoryProbe, clip, clip_or_none, hostname, run_tool
from mdm_desktop.wire.v1 import InstalledAppReport, Inventory, WirePlatform

POWERSHELL = ("powershell", "-NoProfile", "-NonInteractive", "-Command")
CIM_SCRIPT = (
    "$cs=Get-CimInstance Win32_ComputerSystem; $bios=Get-CimInstance Win32_BIOS; "
    "$os=Get-CimInstance Win32_OperatingSystem; $prod=Get-CimInstance Win32_ComputerSystemProduct; "
    "$bat=Get-CimInstance Win32_Battery | Select-Object -First 1; "
    "$cv=Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion'; "
    "[pscustomobject]@{Manufacturer=$cs.Manufacturer; Model=$cs.Model; SerialNumber=$bios.SerialNumber; "
    "BiosVersion=$bios.SMBIOSBIOSVersion; Version=$os.Version; Caption=$os.Caption; UBR=$cv.UBR; "
    "DisplayVersion=$cv.DisplayVersion; UUID=$prod.UUID; Battery=$bat.EstimatedChargeRemaining} "
    "| ConvertTo-Json -Compress"
)
HOTFIX_SCRIPT = "(Get-HotFix | Where-Object InstalledOn | Measure-Object InstalledOn -Maximum).Maximum.ToString('o')"
_NO_SERIAL = frozenset({"", "default string", "to be filled by o.e.m.", "system serial number", "0"})


def parse_cim_json(text: str) -> dict[str, Any]:
    """The object printed by :data:`CIM_SCRIPT` (``{}`` when unreadable)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_wmic_list(text: str) -> dict[str, str]:
    """``Key=Value`` lines of ``wmic ... /format:list``."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key:
            values[key.strip()] = value.strip()
    return values


def parse_manage_bde(text: str) -> bool | None:
    """``Protection Status: Protection On|Off`` of ``manage-bde -status C:``."""
    match = re.search(r"Protection Status:\s*Protection (On|Off)", text, re.IGNORECASE)
    return None if match is None else match.group(1).lower() == "on"


def parse_netsh_firewall(text: str) -> bool | None:
    """All profiles ``ON`` in ``netsh advfirewall show allprofiles state`` (any ``OFF`` is off)."""
    states = [m.upper() for m in re.findall(r"^State\s+(ON|OFF)\s*$", text, re.MULTILINE | re.IGNORECASE)]
    if not states:
        return None
    return all(state == "ON" for state in states)


def parse_reg_dword_or_sz(text: str, name: str) -> str | None:
    """A value of ``reg query KEY /v NAME`` (REG_SZ or REG_DWORD, as text; DWORDs in decimal)."""
    match = re.search(rf"^\s*{re.escape(name)}\s+(REG_\w+)\s+(\S*)\s*$", text, re.MULTILINE)
    if match is None:
        return None
    kind, value = match.groups()
    if kind == "REG_DWORD":
        try:
            return str(int(value, 16))
        except ValueError:
            return None
    return value


def parse_iso_time(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time (naive times taken as UTC)."""
    try:
        stamp = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def os_version_of(cim: dict[str, Any]) -> str:
    """``10.0.<build>.<revision>`` as the console shows Windows versions."""
    version = str(cim.get("Version") or platform.version() or "")
    ubr = cim.get("UBR")
    return f"{version}.{ubr}" if version and isinstance(ubr, int) else version


class WindowsProbe(InventoryProbe):
    """Inventory of the Windows PC the agent runs on."""

    def __init__(self, managed_apps: Sequence[InstalledAppReport] = ()) -> None:
        super().__init__(managed_apps)

    def collect(self) -> Inventory:
        cim = parse_cim_json(run_tool([*POWERSHELL, CIM_SCRIPT], timeout=30) or "")
        if not cim:
            cim = {
                **parse_wmic_list(
                    run_tool(["wmic", "computersystem", "get", "manufacturer,model", "/format:list"]) or ""
                ),
                **parse_wmic_list(run_tool(["wmic", "bios", "get", "serialnumber", "/format:list"]) or ""),
            }
        serial = str(cim.get("SerialNumber") or "")
        battery = cim.get("Battery")
        screen_secure = parse_reg_dword_or_sz(
            run_tool(["reg", "query", "HKCU\\Control Panel\\Desktop", "/v", "ScreenSaverIsSecure"]) or "",
            "ScreenSaverIsSecure",
        )
        return Inventory(
            name=hostname(),
            platform=WirePlatform.WINDOWS,
            vendor=clip(str(cim.get("Manufacturer") or ""), 128),
            model=clip(str(cim.get("Model") or ""), 128),
            serial=None if serial.strip().lower() in _NO_SERIAL else clip_or_none(serial, 255),
            hardware_id=clip_or_none(str(cim.get("UUID") or ""), 255),
            os_version=clip(os_version_of(cim), 64),
            os_build=clip(str(cim.get("DisplayVersion") or ""), 64),
            kernel=clip(str(cim.get("Caption") or platform.platform()), 128),
            firmware=clip(str(cim.get("BiosVersion") or ""), 128),
            last_os_update=parse_iso_time(run_tool([*POWERSHELL, HOTFIX_SCRIPT], timeout=30)),
            storage_encrypted=parse_manage_bde(run_tool(["manage-bde", "-status", "C:"]) or ""),
            screen_lock_enabled=None if screen_secure is None else screen_secure == "1",
            firewall_enabled=parse_netsh_firewall(
                run_tool(["netsh", "advfirewall", "show", "allprofiles", "state"]) or ""
            ),
            managed_container=True,
            battery_percent=max(0, min(100, battery)) if isinstance(battery, int) else None,
            apps=self.managed_apps,
        )
