"""Linux inventory from the machine's own sources.

* OS: ``/etc/os-release``; kernel: ``uname``; vendor, model, serial, firmware: ``/sys/class/dmi/id``
  (the serial and product UUID are readable by root only; ``/etc/machine-id`` identifies the install).
* Disk encryption: is the root file system on a dm-crypt (LUKS) device? ``lsblk -J``, else any
  ``/sys/block/dm-*/dm/uuid`` starting with ``CRYPT-``.
* Screen lock: ``gsettings`` (GNOME and derivatives) or ``kreadconfig5/6`` (KDE).
* Firewall: ``ufw status``, ``nft list ruleset``, ``iptables -S`` (when readable), else whether the
  firewalld / ufw / nftables service is active.
* Last OS update: the newest ``End-Date`` in ``/var/log/apt/history.log``, the newest ``dpkg.log``
  line, else the modification time of the package databases.

The parsers are pure functions over the tools' text so they are tested on captured outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mdm_desktop.agent.inventory.base import (
    InventoryProbe,
    clip,
    clip_or_none,
    file_mtime,
    hostname,
    read_text,
    run_tool,
)
from mdm_desktop.wire.v1 import InstalledAppReport, Inventory, WirePlatform

DMI_DIR = Path("/sys/class/dmi/id")
_PLACEHOLDERS = frozenset(
    {
        "",
        "to be filled by o.e.m.",
        "to be filled by oem",
        "default string",
        "system product name",
        "system manufacturer",
        "not specified",
        "none",
        "0",
        "0123456789",
        "system serial number",
        "chassis serial number",
        "not applicable",
    }
)
_APT_DATE = re.compile(r"^(?:End-Date|Start-Date):\s*(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})", re.MULTILINE)
_DPKG_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ", re.MULTILINE)


# -- pure parsers ------------------------------------------------------------------------------------------------


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` pairs of an os-release file, quotes removed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values[key.strip()] = value
    return values


def clean_dmi(value: str | None) -> str | None:
    """A DMI string, or ``None`` for the placeholders firmware vendors leave in."""
    if value is None:
        return None
    text = value.strip()
    return None if text.lower() in _PLACEHOLDERS else text


def parse_lsblk_root_encrypted(text: str) -> bool | None:
    """Whether the device mounted at ``/`` sits on a ``crypt`` device, from ``lsblk -J -o NAME,TYPE,MOUNTPOINTS``.

    Returns:
        ``True`` or ``False`` when the root file system is found in the tree, ``None`` otherwise
        (unparseable output, or a root on something lsblk does not show such as an overlay).
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    devices = data.get("blockdevices") if isinstance(data, dict) else None
    if not isinstance(devices, list):
        return None

    def visit(node: Mapping[str, Any], crypt_above: bool) -> bool | None:
        is_crypt = crypt_above or str(node.get("type", "")).lower() == "crypt"
        mounts = node.get("mountpoints")
        if mounts is None:
            mounts = [node.get("mountpoint")]
        if isinstance(mounts, list) and "/" in mounts:
            return is_crypt
        for child in node.get("children") or []:
            if isinstance(child, Mapping):
                found = visit(child, is_crypt)
                if found is not None:
                    return found
        return None

    for device in devices:
        if isinstance(device, Mapping):
            found = visit(device, False)
            if found is not None:
                return found
    return None


def crypt_devices_present(dm_uuids: Iterable[str]) -> bool | None:
    """``True`` if any device-mapper UUID is a dm-crypt one (``CRYPT-``), else ``None`` (cannot tell)."""
    return True if any(u.strip().startswith("CRYPT-") for u in dm_uuids) else None


def parse_gsettings_bool(text: str | None) -> bool | None:
    """``true`` / ``false`` printed by ``gsettings get``."""
    value = (text or "").strip().lower()
    return {"true": True, "false": False}.get(value)


def parse_ufw_status(text: str) -> bool | None:
    """``Status: active`` / ``Status: inactive`` from ``ufw status``."""
    match = re.search(r"^Status:\s*(\w+)", text, re.MULTILINE)
    if not match:
        return None
    return match.group(1).lower() == "active"


def parse_nft_ruleset(text: str) -> bool:
    """Whether an nftables ruleset filters incoming traffic (an input-hook chain with a drop policy or rules)."""
    for chain in re.finditer(r"chain\s+\S+\s*\{(.*?)\n\s*\}", text, re.DOTALL):
        body = chain.group(1)
        if "hook input" not in body:
            continue
        if re.search(r"policy\s+drop", body):
            return True
        rules = [ln for ln in body.splitlines() if ln.strip() and not ln.strip().startswith(("type ", "#"))]
        if rules:
            return True
    return False


def parse_iptables_rules(text: str) -> bool:
    """Whether ``iptables -S`` shows a filtering INPUT chain (DROP/REJECT policy or any INPUT rule)."""
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == ["-P", "INPUT"] and len(parts) > 2 and parts[2] in {"DROP", "REJECT"}:
            return True
        if parts[:2] == ["-A", "INPUT"]:
            return True
    return False


def _newest(stamps: Iterable[tuple[str, str]]) -> dt.datetime | None:
    """The newest valid ``(YYYY-MM-DD, HH:MM:SS)`` pair as a naive datetime."""
    newest: dt.datetime | None = None
    for day, clock in stamps:
        try:
            stamp = dt.datetime.fromisoformat(f"{day}T{clock}")
        except ValueError:
            continue
        if newest is None or stamp > newest:
            newest = stamp
    return newest


def parse_apt_history(text: str) -> dt.datetime | None:
    """The newest start or end date in ``/var/log/apt/history.log`` (local time, returned naive)."""
    return _newest(_APT_DATE.findall(text))


def parse_dpkg_log(text: str) -> dt.datetime | None:
    """The newest ``status installed`` or ``upgrade`` line of ``dpkg.log`` (local time, naive)."""
    lines = (ln for ln in text.splitlines() if " upgrade " in ln or " status installed " in ln)
    return _newest((m.group(1), m.group(2)) for ln in lines if (m := _DPKG_LINE.match(ln)))


def local_to_utc(stamp: dt.datetime | None) -> dt.datetime | None:
    """A naive local time as an aware UTC time."""
    if stamp is None:
        return None
    return stamp.astimezone(dt.UTC)  # a naive time is taken as local time


# -- the probe ---------------------------------------------------------------------------------------------------


class LinuxProbe(InventoryProbe):
    """Inventory of the Linux machine the agent runs on."""

    def __init__(self, managed_apps: Sequence[InstalledAppReport] = (), *, root: Path = Path("/")) -> None:
        super().__init__(managed_apps)
        self._root = root

    def _path(self, path: str | Path) -> Path:
        return self._root / str(path).lstrip("/")

    def collect(self) -> Inventory:
        os_release = parse_os_release(read_text(self._path("/etc/os-release")) or "")
        dmi = self._dmi
        return Inventory(
            name=hostname(),
            platform=WirePlatform.LINUX,
            vendor=clip(dmi("sys_vendor") or dmi("board_vendor"), 128),
            model=clip(dmi("product_name") or dmi("product_family") or dmi("board_name"), 128),
            serial=clip_or_none(dmi("product_serial") or dmi("chassis_serial"), 255),
            hardware_id=clip_or_none(read_text(self._path("/etc/machine-id")), 255)
            or clip_or_none(dmi("product_uuid"), 255),
            os_version=clip(os_release.get("VERSION_ID") or os_release.get("BUILD_ID"), 64),
            os_build=clip(os_release.get("PRETTY_NAME") or os_release.get("NAME"), 64),
            kernel=clip(platform.release(), 128),
            firmware=clip(" ".join(v for v in (dmi("bios_vendor"), dmi("bios_version")) if v), 128),
            last_os_update=self.last_os_update(),
            storage_encrypted=self.storage_encrypted(),
            screen_lock_enabled=self.screen_lock_enabled(),
            firewall_enabled=self.firewall_enabled(),
            managed_container=True,
            battery_percent=self.battery_percent(),
            apps=self.managed_apps,
        )

    def _dmi(self, name: str) -> str | None:
        return clean_dmi(read_text(self._path(DMI_DIR / name)))

    def storage_encrypted(self) -> bool | None:
        """Whether the root file system is on dm-crypt (LUKS)."""
        listing = run_tool(["lsblk", "-J", "-o", "NAME,TYPE,MOUNTPOINTS"]) or run_tool(
            ["lsblk", "-J", "-o", "NAME,TYPE,MOUNTPOINT"]
        )
        if listing is not None:
            found = parse_lsblk_root_encrypted(listing)
            if found is not None:
                return found
        try:
            uuid_files = list(self._path("/sys/block").glob("dm-*/dm/uuid"))
        except OSError:
            return None
        return crypt_devices_present(read_text(p) or "" for p in uuid_files)

    def screen_lock_enabled(self) -> bool | None:
        """Whether the desktop locks the screen when idle (GNOME or KDE settings), else ``None``."""
        gnome = parse_gsettings_bool(run_tool(["gsettings", "get", "org.gnome.desktop.screensaver", "lock-enabled"]))
        if gnome is not None:
            return gnome
        for tool in ("kreadconfig6", "kreadconfig5"):
            kde = run_tool([tool, "--file", "kscreenlockerrc", "--group", "Daemon", "--key", "Autolock"])
            if kde is not None:
                return kde.strip().lower() != "false"
        return None

    def firewall_enabled(self) -> bool | None:
        """Whether a host firewall filters incoming traffic, from the rules when readable, else the services."""
        ufw = run_tool(["ufw", "status"])
        if ufw is not None and (state := parse_ufw_status(ufw)) is not None:
            return state
        nft = run_tool(["nft", "list", "ruleset"])
        if nft is not None and nft.strip():
            return parse_nft_ruleset(nft)
        iptables = run_tool(["iptables", "-S"])
        if iptables is not None and iptables.strip():
            return parse_iptables_rules(iptables)
        for service in ("firewalld", "ufw", "nftables"):
            active = run_tool(["systemctl", "is-active", service])
            if active is not None and active.strip() == "active":
                return True
        return None

    def last_os_update(self) -> dt.datetime | None:
        """When packages were last installed or upgraded."""
        history = read_text(self._path("/var/log/apt/history.log"))
        if history and (stamp := parse_apt_history(history)) is not None:
            return local_to_utc(stamp)
        dpkg = read_text(self._path("/var/log/dpkg.log"))
        if dpkg and (stamp := parse_dpkg_log(dpkg)) is not None:
            return local_to_utc(stamp)
        for database in ("/var/lib/dpkg/status", "/var/lib/rpm/rpmdb.sqlite", "/var/lib/pacman/local"):
            mtime = file_mtime(self._path(database))
            if mtime is not None:
                return mtime
        return None

    def battery_percent(self) -> int | None:
        """The first battery's charge, for laptops."""
        try:
            batteries = sorted(self._path("/sys/class/power_supply").glob("BAT*/capacity"))
        except OSError:
            return None
        for capacity in batteries:
            text = (read_text(capacity) or "").strip()
            if text.isdigit():
                return max(0, min(100, int(text)))
        return None
