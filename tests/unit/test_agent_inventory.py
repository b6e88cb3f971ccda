"""The agent's inventory probes: parsers on captured outputs, the Linux probe on this machine, missing tools."""

from __future__ import annotations

import datetime as dt
import json
import plistlib
from pathlib import Path

import pytest

from mdm_desktop.agent.inventory import linux, macos, probe_for_this_machine, windows
from mdm_desktop.agent.inventory.base import run_tool
from mdm_desktop.agent.inventory.linux import LinuxProbe
from mdm_desktop.wire.v1 import InstalledAppReport, Inventory, WirePlatform

OS_RELEASE = """PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
ID=ubuntu
# comment
HOME_URL='https://www.ubuntu.com/'
"""

LSBLK_LUKS = json.dumps(
    {
        "blockdevices": [
            {
                "name": "nvme0n1",
                "type": "disk",
                "mountpoints": [None],
                "children": [
                    {"name": "nvme0n1p1", "type": "part", "mountpoints": ["/boot/efi"]},
                    {"name": "nvme0n1p2", "type": "part", "mountpoints": ["/boot"]},
                    {
                        "name": "nvme0n1p3",
                        "type": "part",
                        "mountpoints": [None],
                        "children": [
                            {
                                "name": "dm_crypt-0",
                                "type": "crypt",
                                "mountpoints": [None],
                                "children": [{"name": "ubuntu--vg-root", "type": "lvm", "mountpoints": ["/"]}],
                            }
                        ],
                    },
                ],
            }
        ]
    }
)
LSBLK_PLAIN_OLD = json.dumps(
    {
        "blockdevices": [
            {
                "name": "sda",
                "type": "disk",
                "mountpoint": None,
                "children": [{"name": "sda1", "type": "part", "mountpoint": "/"}],
            }
        ]
    }
)
LSBLK_OVERLAY = json.dumps({"blockdevices": [{"name": "vda", "type": "disk", "mountpoints": ["/data"]}]})

NFT_FILTERING = """table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
}
"""
NFT_OPEN = """table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
	}
}
"""

APT_HISTORY = """
Start-Date: 2026-11-02  09:12:40
Commandline: apt-get upgrade -y
Upgrade: openssl:amd64 (3.0.13-0ubuntu3.5, 3.0.13-0ubuntu3.6)
End-Date: 2026-11-02  09:13:02

Start-Date: 2026-11-20  18:01:13
Commandline: apt-get install -y curl
Install: curl:amd64 (8.5.0-2ubuntu10.6)
End-Date: 2026-11-20  18:01:15
"""

DPKG_LOG = """2026-10-01 10:00:00 startup archives unpack
2026-10-01 10:00:01 upgrade libc6:amd64 2.39-0ubuntu8.5 2.39-0ubuntu8.6
2026-10-03 11:22:33 status installed libc6:amd64 2.39-0ubuntu8.6
2026-10-04 08:00:00 status half-configured foo:amd64 1.0
"""


# -- Linux parsers -------------------------------------------------------------------------------------------------


def test_os_release_parser_strips_quotes_and_comments() -> None:
    values = linux.parse_os_release(OS_RELEASE)
    assert values["PRETTY_NAME"] == "Ubuntu 24.04.3 LTS"
    assert values["VERSION_ID"] == "24.04"
    assert values["HOME_URL"] == "https://www.ubuntu.com/"
    assert "# comment" not in values


@pytest.mark.parametrize(
    ("text", "expected"),
    [(LSBLK_LUKS, True), (LSBLK_PLAIN_OLD, False), (LSBLK_OVERLAY, None), ("not json", None), ("[]", None)],
)
def test_lsblk_root_encryption(text: str, expected: bool | None) -> None:
    assert linux.parse_lsblk_root_encrypted(text) is expected


def test_dm_crypt_uuid_fallback() -> None:
    assert linux.crypt_devices_present(["LVM-abc", "CRYPT-LUKS2-1234-dm_crypt-0\n"]) is True
    assert linux.crypt_devices_present(["LVM-abc"]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Status: active\n\nTo Action From\n", True), ("Status: inactive\n", False), ("ERROR: need root", None)],
)
def test_ufw_status(text: str, expected: bool | None) -> None:
    assert linux.parse_ufw_status(text) is expected


def test_nft_and_iptables_rules() -> None:
    assert linux.parse_nft_ruleset(NFT_FILTERING) is True
    assert linux.parse_nft_ruleset(NFT_OPEN) is False
    assert linux.parse_iptables_rules("-P INPUT DROP\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n") is True
    assert linux.parse_iptables_rules("-P INPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n") is True
    assert linux.parse_iptables_rules("-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n") is False


def test_last_update_from_apt_and_dpkg_logs() -> None:
    assert linux.parse_apt_history(APT_HISTORY) == dt.datetime(2026, 11, 20, 18, 1, 15)
    assert linux.parse_apt_history("garbage\nEnd-Date: 2026-13-40  99:00:00\n") is None
    assert linux.parse_dpkg_log(DPKG_LOG) == dt.datetime(2026, 10, 3, 11, 22, 33)
    stamp = linux.local_to_utc(dt.datetime(2026, 11, 20, 18, 1, 15))
    assert stamp is not None
    assert stamp.tzinfo is dt.UTC


def test_gsettings_and_dmi_placeholders() -> None:
    assert linux.parse_gsettings_bool("true\n") is True
    assert linux.parse_gsettings_bool("false") is False
    assert linux.parse_gsettings_bool(None) is None
    assert linux.clean_dmi("To Be Filled By O.E.M.\n") is None
    assert linux.clean_dmi("LENOVO\n") == "LENOVO"


# -- the Linux probe -------------------------------------------------------------------------------------------


def test_linux_probe_on_this_machine_returns_valid_inventory() -> None:
    inventory = probe_for_this_machine().collect()
    assert isinstance(inventory, Inventory)
    assert inventory.platform == WirePlatform.LINUX
    assert inventory.name
    assert inventory.kernel
    Inventory.model_validate_json(inventory.model_dump_json())  # round-trips through the wire schema


def test_linux_probe_reads_a_machine_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no lsblk, gsettings, ufw, systemctl ...
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(OS_RELEASE)
    (tmp_path / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    dmi = tmp_path / "sys/class/dmi/id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("LENOVO\n")
    (dmi / "product_name").write_text("ThinkPad T14 Gen 5\n")
    (dmi / "product_serial").write_text("PF4XYZ12\n")
    (dmi / "bios_version").write_text("R2LET32W (1.12 )\n")
    (tmp_path / "var/log/apt").mkdir(parents=True)
    (tmp_path / "var/log/apt/history.log").write_text(APT_HISTORY)
    dm = tmp_path / "sys/block/dm-0/dm"
    dm.mkdir(parents=True)
    (dm / "uuid").write_text("CRYPT-LUKS2-aaaa-dm_crypt-0\n")
    battery = tmp_path / "sys/class/power_supply/BAT0"
    battery.mkdir(parents=True)
    (battery / "capacity").write_text("87\n")
    app = InstalledAppReport(identifier="org.clinic.viewer", name="Viewer", version="1.0", managed=True)

    inventory = LinuxProbe([app], root=tmp_path).collect()

    assert inventory.vendor == "LENOVO"
    assert inventory.model == "ThinkPad T14 Gen 5"
    assert inventory.serial == "PF4XYZ12"
    assert inventory.hardware_id == "0123456789abcdef0123456789abcdef"
    assert inventory.os_version == "24.04"
    assert inventory.os_build == "Ubuntu 24.04.3 LTS"
    assert inventory.firmware == "R2LET32W (1.12 )"
    assert inventory.storage_encrypted is True
    assert inventory.screen_lock_enabled is None
    assert inventory.firewall_enabled is None
    assert inventory.battery_percent == 87
    assert inventory.last_os_update is not None
    assert inventory.last_os_update.year == 2026
    assert inventory.apps == [app]


def test_linux_probe_with_nothing_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    inventory = LinuxProbe(root=tmp_path).collect()
    assert inventory.vendor == ""
    assert inventory.serial is None
    assert inventory.storage_encrypted is None
    assert inventory.last_os_update is None
    assert inventory.battery_percent is None


def test_run_tool_missing_or_failing_gives_none(tmp_path: Path) -> None:
    assert run_tool(["no-such-tool-xyz"]) is None
    assert run_tool(["false"]) is None
    assert run_tool([]) is None
    assert run_tool(["echo", "hi"]) == "hi\n"


# -- macOS parsers ------------------------------------------------------------------------------------------------

SW_VERS = "ProductName:\t\tmacOS\nProductVersion:\t\t15.6.1\nBuildVersion:\t\t24G90\n"
SYSTEM_PROFILER = json.dumps(
    {
        "SPHardwareDataType": [
            {
                "_name": "hardware_overview",
                "boot_rom_version": "11881.140.96",
                "chip_type": "Apple M2",
                "machine_model": "Mac14,2",
                "machine_name": "MacBook Air",
                "number_processors": "proc 8:4:4",
                "platform_UUID": "6F4D3E2A-1B2C-4D5E-8F90-123456789ABC",
                "serial_number": "C02XK1ABJG5H",
            }
        ]
    }
)


def test_macos_parsers() -> None:
    assert macos.parse_sw_vers(SW_VERS) == {"ProductName": "macOS", "ProductVersion": "15.6.1", "BuildVersion": "24G90"}
    hardware = macos.parse_hardware_json(SYSTEM_PROFILER)
    assert hardware["serial_number"] == "C02XK1ABJG5H"
    assert macos.parse_hardware_json("{}") == {}
    assert macos.parse_fdesetup("FileVault is On.\n") is True
    assert macos.parse_fdesetup("FileVault is Off.\n") is False
    assert macos.parse_fdesetup("Encryption in progress: Percent completed = 12\nFileVault is On.") is True
    assert macos.parse_fdesetup("") is None
    assert macos.parse_socketfilterfw("Firewall is enabled. (State = 1)") is True
    assert macos.parse_socketfilterfw("Firewall is disabled. (State = 0)") is False
    assert macos.parse_socketfilterfw("Firewall is enabled.") is True
    assert macos.parse_socketfilterfw("") is None
    assert macos.parse_screen_lock("screenLock delay is immediate") is True
    assert macos.parse_screen_lock("screenLock is off") is False
    assert macos.parse_screen_lock("") is None
    batt = "Now drawing from 'Battery Power'\n -InternalBattery-0 (id=4653155)\t85%; discharging; 7:12 remaining\n"
    assert macos.parse_pmset_battery(batt) == 85
    assert macos.parse_pmset_battery("Now drawing from 'AC Power'\n") is None


def test_macos_install_history() -> None:
    entries = [
        {"date": dt.datetime(2026, 9, 1, 10, 0), "displayName": "Safari", "processName": "softwareupdated"},
        {"date": dt.datetime(2026, 11, 12, 22, 5), "displayName": "macOS 15.6.1", "processName": "softwareupdated"},
        {"date": dt.datetime(2026, 12, 1, 9, 0), "displayName": "Slack", "processName": "appstoreagent"},
    ]
    assert macos.parse_install_history(plistlib.dumps(entries)) == dt.datetime(2026, 11, 12, 22, 5, tzinfo=dt.UTC)
    assert macos.parse_install_history(b"not a plist") is None


# -- Windows parsers ----------------------------------------------------------------------------------------------

MANAGE_BDE = """BitLocker Drive Encryption: Configuration Tool version 10.0.26100
Volume C: [Windows]
[OS Volume]

    Size:                 475.84 GB
    BitLocker Version:    2.0
    Conversion Status:    Used Space Only Encrypted
    Percentage Encrypted: 100.0%
    Encryption Method:    XTS-AES 128
    Protection Status:    Protection On
    Lock Status:          Unlocked
"""
NETSH = """
Domain Profile Settings:
----------------------------------------------------------------------
State                                 ON

Private Profile Settings:
----------------------------------------------------------------------
State                                 ON

Public Profile Settings:
----------------------------------------------------------------------
State                                 OFF
Ok.
"""


def test_windows_parsers() -> None:
    cim = windows.parse_cim_json(
        '{"Manufacturer":"Dell Inc.","Model":"Latitude 5450","SerialNumber":"7XK2L44","Version":"10.0.26100",'
        '"UBR":7171,"DisplayVersion":"24H2","Battery":64}'
    )
    assert cim["Model"] == "Latitude 5450"
    assert windows.os_version_of(cim) == "10.0.26100.7171"
    assert windows.parse_cim_json("[1,2]") == {}
    assert windows.parse_wmic_list("\r\n\r\nManufacturer=LENOVO\r\nModel=21MC\r\n") == {
        "Manufacturer": "LENOVO",
        "Model": "21MC",
    }
    assert windows.parse_manage_bde(MANAGE_BDE) is True
    assert windows.parse_manage_bde(MANAGE_BDE.replace("Protection On", "Protection Off")) is False
    assert windows.parse_manage_bde("ERROR: An attempt to access a required resource was denied.") is None
    assert windows.parse_netsh_firewall(NETSH) is False
    assert windows.parse_netsh_firewall(NETSH.replace("OFF", "ON")) is True
    assert windows.parse_netsh_firewall("") is None
    reg = "\r\nHKEY_CURRENT_USER\\Control Panel\\Desktop\r\n    ScreenSaverIsSecure    REG_SZ    1\r\n"
    assert windows.parse_reg_dword_or_sz(reg, "ScreenSaverIsSecure") == "1"
    assert windows.parse_reg_dword_or_sz("    X    REG_DWORD    0x1e\n", "X") == "30"
    assert windows.parse_iso_time("2026-11-12T00:00:00.0000000+01:00") == dt.datetime(2026, 11, 11, 23, tzinfo=dt.UTC)
    assert windows.parse_iso_time("2026-11-12T00:00:00") == dt.datetime(2026, 11, 12, tzinfo=dt.UTC)
    assert windows.parse_iso_time("") is None


def test_macos_and_windows_probes_without_their_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    mac = macos.MacOSProbe().collect()
    assert mac.platform == WirePlatform.MACOS
    assert mac.storage_encrypted is None
    assert mac.firewall_enabled is None
    win = windows.WindowsProbe().collect()
    assert win.platform == WirePlatform.WINDOWS
    assert win.storage_encrypted is None
    assert win.firewall_enabled is None
    assert win.serial is None
