"""What the virtual fleet's devices look like: models, OS releases, security patch lag and apps.

A trimmed copy of the console's demo catalogue (``services/demo_data.py``), kept here because the
device side must ship without console code. Figures are for a clinic in late 2026.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mdm_desktop.wire.v1 import WirePlatform


@dataclass(frozen=True, slots=True)
class Model:
    """A hardware model, the OS majors it runs, and how its serial looks."""

    platform: WirePlatform
    vendor: str
    model: str
    weight: float
    os_majors: tuple[int, ...]
    serial_style: str


@dataclass(frozen=True, slots=True)
class Release:
    """An OS version in the field, how common it is, and its build string."""

    platform: WirePlatform
    version: str
    major: int
    weight: float
    build: str


P = WirePlatform
_IOS_ALL = (18, 26)

MODELS: tuple[Model, ...] = (
    Model(P.IOS, "Apple", "iPhone 12", 4, _IOS_ALL, "apple"),
    Model(P.IOS, "Apple", "iPhone 13", 8, _IOS_ALL, "apple"),
    Model(P.IOS, "Apple", "iPhone 14", 10, _IOS_ALL, "apple"),
    Model(P.IOS, "Apple", "iPhone 15", 14, _IOS_ALL, "apple"),
    Model(P.IOS, "Apple", "iPhone 16", 14, _IOS_ALL, "apple"),
    Model(P.IOS, "Apple", "iPhone 16e", 12, _IOS_ALL, "apple"),
    Model(P.IOS, "Apple", "iPhone 17", 10, (26,), "apple"),
    Model(P.IOS, "Apple", "iPhone XR", 1, (18,), "apple"),
    Model(P.IPADOS, "Apple", "iPad (9th generation)", 14, _IOS_ALL, "apple"),
    Model(P.IPADOS, "Apple", "iPad (10th generation)", 16, _IOS_ALL, "apple"),
    Model(P.IPADOS, "Apple", "iPad (A16)", 14, (26,), "apple"),
    Model(P.IPADOS, "Apple", "iPad mini (A17 Pro)", 8, _IOS_ALL, "apple"),
    Model(P.ANDROID, "Samsung", "Galaxy S24", 8, (14, 15, 16), "samsung"),
    Model(P.ANDROID, "Samsung", "Galaxy A35 5G", 10, (14, 15, 16), "samsung"),
    Model(P.ANDROID, "Samsung", "Galaxy A55 5G", 8, (14, 15, 16), "samsung"),
    Model(P.ANDROID, "Samsung", "Galaxy Tab Active5", 10, (14, 15, 16), "samsung"),
    Model(P.ANDROID, "Samsung", "Galaxy XCover7", 5, (14, 15, 16), "samsung"),
    Model(P.ANDROID, "Google", "Pixel 8a", 6, (15, 16), "pixel"),
    Model(P.ANDROID, "Google", "Pixel 9", 5, (15, 16), "pixel"),
    Model(P.ANDROID, "Zebra", "TC53", 8, (13, 14), "zebra"),
    Model(P.ANDROID, "Zebra", "TC58", 6, (13, 14, 15), "zebra"),
    Model(P.ANDROID, "Zebra", "HC50", 6, (13, 14), "zebra"),
    Model(P.WINDOWS, "Dell", "Latitude 5450", 12, (10, 11), "dell"),
    Model(P.WINDOWS, "Dell", "OptiPlex 7020 Micro", 14, (10, 11), "dell"),
    Model(P.WINDOWS, "Lenovo", "ThinkPad T14 Gen 5", 10, (11,), "lenovo"),
    Model(P.WINDOWS, "HP", "EliteBook 840 G11", 8, (11,), "hp"),
    Model(P.WINDOWS, "HP", "Elite Mini 800 G9", 10, (10, 11), "hp"),
    Model(P.WINDOWS, "Dell", "Precision 3680 Tower", 8, (11,), "dell"),
    Model(P.MACOS, "Apple", "MacBook Air 13-inch (M2)", 6, (14, 15, 26), "apple"),
    Model(P.MACOS, "Apple", "MacBook Air 13-inch (M4)", 10, (15, 26), "apple"),
    Model(P.MACOS, "Apple", "MacBook Pro 14-inch (M4 Pro)", 5, (15, 26), "apple"),
    Model(P.MACOS, "Apple", "iMac 24-inch (M4)", 4, (15, 26), "apple"),
    Model(P.LINUX, "Dell", "Precision 3680 Tower", 8, (22, 24), "dell"),
    Model(P.LINUX, "HP", "Z2 Tower G9", 6, (22, 24), "hp"),
    Model(P.LINUX, "Lenovo", "ThinkStation P3 Tower", 4, (22, 24), "lenovo"),
)

RELEASES: tuple[Release, ...] = (
    Release(P.IOS, "18.5", 18, 2, "22F76"),
    Release(P.IOS, "18.6.2", 18, 4, "22G100"),
    Release(P.IOS, "18.7.2", 18, 6, "22H124"),
    Release(P.IOS, "26.2", 26, 4, "23C55"),
    Release(P.IOS, "26.5", 26, 10, "23F75"),
    Release(P.IOS, "26.6", 26, 16, "23G80"),
    Release(P.IOS, "26.7.1", 26, 22, "23H31"),
    Release(P.IPADOS, "18.6.2", 18, 5, "22G100"),
    Release(P.IPADOS, "18.7.2", 18, 8, "22H124"),
    Release(P.IPADOS, "26.5", 26, 10, "23F75"),
    Release(P.IPADOS, "26.6", 26, 14, "23G80"),
    Release(P.IPADOS, "26.7.1", 26, 18, "23H31"),
    Release(P.ANDROID, "13", 13, 10, "TQ3A"),
    Release(P.ANDROID, "14", 14, 22, "UQ1A"),
    Release(P.ANDROID, "15", 15, 30, "BP1A"),
    Release(P.ANDROID, "16", 16, 34, "BP3A"),
    Release(P.WINDOWS, "10.0.19045.6575", 10, 1, "22H2"),
    Release(P.WINDOWS, "10.0.22631.6199", 11, 5, "23H2"),
    Release(P.WINDOWS, "10.0.26100.6899", 11, 14, "24H2"),
    Release(P.WINDOWS, "10.0.26100.7171", 11, 22, "24H2"),
    Release(P.WINDOWS, "10.0.26200.7171", 11, 18, "25H2"),
    Release(P.MACOS, "14.8.2", 14, 3, "23J126"),
    Release(P.MACOS, "15.7.2", 15, 7, "24G325"),
    Release(P.MACOS, "26.5", 26, 8, "25F71"),
    Release(P.MACOS, "26.6", 26, 12, "25G62"),
    Release(P.MACOS, "26.7.1", 26, 14, "25H30"),
    Release(P.LINUX, "22.04.5", 22, 6, "Ubuntu 22.04.5 LTS"),
    Release(P.LINUX, "24.04.3", 24, 14, "Ubuntu 24.04.3 LTS"),
)

KERNELS: Mapping[WirePlatform, str] = {
    P.IOS: "Darwin 25.6.0",
    P.IPADOS: "Darwin 25.6.0",
    P.ANDROID: "6.1.99-android14",
    P.WINDOWS: "Windows NT 10.0",
    P.MACOS: "Darwin 25.6.0",
    P.LINUX: "6.8.0-88-generic",
}

# Months a vendor's Android security patch trails the current month, and how common each lag is.
PATCH_LAGS: Mapping[str, tuple[tuple[int, float], ...]] = {
    "pixel": ((0, 55), (1, 28), (2, 9), (3, 4), (5, 2), (8, 2)),
    "samsung": ((0, 30), (1, 34), (2, 20), (3, 8), (4, 4), (7, 4)),
    "zebra": ((1, 18), (2, 34), (3, 22), (4, 12), (6, 9), (10, 5)),
}

NAME_CODES: Mapping[WirePlatform, str] = {
    P.IOS: "IPH",
    P.IPADOS: "IPD",
    P.ANDROID: "AND",
    P.WINDOWS: "PC",
    P.MACOS: "MAC",
    P.LINUX: "LNX",
}

MOBILE = frozenset({P.IOS, P.IPADOS, P.ANDROID})

# Managed apps a clinic device usually has: (identifier, name, version) per platform.
BASE_APPS: Mapping[WirePlatform, tuple[tuple[str, str, str], ...]] = {
    P.IOS: (
        ("com.medchart.ehr.mobile", "MedChart EHR", "26.1.0"),
        ("com.carelink.securemessaging", "CareLink Secure Messaging", "8.6.1"),
        ("com.microsoft.azureauthenticator", "Microsoft Authenticator", "6.8.38"),
    ),
    P.IPADOS: (
        ("com.medchart.ehr.mobile", "MedChart EHR", "26.1.0"),
        ("com.radview.pacs.viewer", "RadView PACS Viewer", "12.3.2"),
    ),
    P.ANDROID: (
        ("com.medchart.ehr.mobile", "MedChart EHR", "26.1.0"),
        ("com.carelink.securemessaging", "CareLink Secure Messaging", "8.6.1"),
        ("com.azure.authenticator", "Microsoft Authenticator", "6.8.38"),
    ),
    P.WINDOWS: (
        ("MedChart.EHRDesktop", "MedChart EHR", "26.1.0"),
        ("Microsoft.Office", "Microsoft 365 Apps", "16.0.19328.20190"),
    ),
    P.MACOS: (
        ("com.medchart.ehr.mac", "MedChart EHR", "26.1.0"),
        ("com.microsoft.Outlook", "Microsoft Outlook", "4.2550.0"),
    ),
    P.LINUX: (("radview-pacs-workstation", "RadView PACS Viewer", "12.3.2"),),
}

DEFAULT_MIX: Mapping[WirePlatform, float] = {P.IOS: 40, P.ANDROID: 40, P.WINDOWS: 15, P.MACOS: 5}


def parse_mix(text: str) -> dict[WirePlatform, float]:
    """``ios=40,android=40,windows=15,macos=5`` as platform weights.

    Raises:
        ValueError: for an unknown platform, a weight that is not a number >= 0, or all weights 0.
    """
    mix: dict[WirePlatform, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        try:
            platform = WirePlatform(name.strip().lower())
        except ValueError:
            choices = ", ".join(p.value for p in WirePlatform)
            raise ValueError(f"unknown platform '{name.strip()}' in --mix; choose from {choices}") from None
        try:
            weight = float(value) if sep else -1.0
        except ValueError:
            weight = -1.0
        if weight < 0:
            raise ValueError(f"the weight of '{platform.value}' in --mix must be a number of 0 or more, like ios=40")
        mix[platform] = weight
    if not mix or sum(mix.values()) <= 0:
        raise ValueError("--mix needs at least one platform with a weight above 0, like ios=40,android=60")
    return mix
