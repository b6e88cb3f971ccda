"""The catalogue the demo fleet is drawn from: a clinic's departments, hardware, OS releases and apps.

Pure, immutable data (tuples of frozen dataclasses) describing what a small
hospital or clinic group manages in late 2026. :mod:`mdm_desktop.services.demo_fleet`
draws from it with a seeded random generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Platform


@dataclass(frozen=True, slots=True)
class Department:
    """A device group of the demo clinic and the kinds of device it uses (kind -> weight)."""

    name: str
    code: str
    description: str
    weight: float
    kinds: tuple[tuple[str, float], ...]
    byod_share: float = 0.0


@dataclass(frozen=True, slots=True)
class HardwareModel:
    """A device model: who makes it, which OS majors it runs, how its identifiers look.

    ``serial_style`` and ``id_style`` name generators in :mod:`demo_fleet`;
    ``os_majors`` is the range of OS major versions seen on this model in the field.
    """

    kind: str
    platform: Platform
    vendor: str
    model: str
    weight: float
    os_majors: tuple[int, ...]
    serial_style: str
    id_style: str
    patch_lag: str = ""


@dataclass(frozen=True, slots=True)
class OsRelease:
    """One OS version seen in the field, how common it is, and how its build looks."""

    platform: Platform
    version: str
    major: int
    weight: float
    build: str


@dataclass(frozen=True, slots=True)
class ClinicApp:
    """An app of the clinic's catalogue, with its identifiers per platform and published versions (oldest first)."""

    key: str
    name: str
    publisher: str
    description: str
    identifiers: tuple[tuple[Platform, str], ...]
    versions: tuple[str, ...]
    size_mb: int


# Kinds of device and the short code used in device names (ED-IPH-00042).
KIND_CODES: Mapping[str, str] = {
    "iphone": "IPH",
    "ipad": "IPD",
    "android_phone": "AND",
    "android_tablet": "TAB",
    "rugged": "RUG",
    "win_laptop": "LT",
    "win_desktop": "PC",
    "workstation": "WS",
    "mac": "MAC",
    "linux": "LNX",
}

MOBILE_KINDS = frozenset({"iphone", "ipad", "android_phone", "android_tablet", "rugged"})
PERSONAL_KINDS = frozenset({"iphone", "android_phone"})  # the only kinds staff bring from home
SHARED_KINDS = frozenset({"rugged", "win_desktop", "workstation"})  # shift devices, not one person's

DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "Emergency",
        "ED",
        "Emergency department: physicians' and nurses' phones, rugged scanners, triage tablets.",
        14,
        (
            ("iphone", 34),
            ("android_phone", 18),
            ("rugged", 16),
            ("ipad", 10),
            ("win_laptop", 14),
            ("win_desktop", 6),
            ("mac", 2),
        ),
        byod_share=0.14,
    ),
    Department(
        "ICU",
        "ICU",
        "Intensive care unit: nurse call phones, medication scanners, bedside workstations.",
        10,
        (("iphone", 30), ("rugged", 24), ("ipad", 14), ("android_phone", 10), ("win_desktop", 22)),
        byod_share=0.06,
    ),
    Department(
        "Radiology",
        "RAD",
        "Imaging: PACS reading workstations, Linux modality consoles, tablets for reviewing studies.",
        8,
        (
            ("workstation", 30),
            ("linux", 16),
            ("mac", 10),
            ("ipad", 14),
            ("iphone", 18),
            ("android_phone", 12),
        ),
        byod_share=0.10,
    ),
    Department(
        "Pharmacy",
        "RX",
        "Pharmacy: barcode scanners for dispensing, verification PCs.",
        6,
        (("rugged", 40), ("win_desktop", 34), ("iphone", 14), ("android_phone", 12)),
        byod_share=0.05,
    ),
    Department(
        "Front desk",
        "FD",
        "Reception and patient check-in: desk PCs and check-in kiosk tablets.",
        8,
        (("win_desktop", 40), ("ipad", 32), ("android_tablet", 12), ("iphone", 16)),
        byod_share=0.05,
    ),
    Department(
        "Pediatrics",
        "PED",
        "Pediatric ward and outpatient clinic.",
        9,
        (("iphone", 34), ("ipad", 24), ("android_phone", 20), ("win_laptop", 16), ("mac", 6)),
        byod_share=0.15,
    ),
    Department(
        "Administration",
        "ADM",
        "Billing, HR, management and the privacy office.",
        12,
        (("win_laptop", 40), ("mac", 20), ("iphone", 28), ("android_phone", 12)),
        byod_share=0.30,
    ),
    Department(
        "Nurse stations",
        "NS",
        "Shared tablets and scanners at the ward nurse stations, handed over at each shift.",
        12,
        (("ipad", 44), ("android_tablet", 30), ("rugged", 16), ("win_desktop", 10)),
    ),
    Department(
        "Laboratory",
        "LAB",
        "Clinical laboratory: analyser PCs, Linux LIS workstations, specimen scanners.",
        6,
        (("win_desktop", 34), ("linux", 26), ("rugged", 20), ("ipad", 10), ("iphone", 10)),
        byod_share=0.05,
    ),
    Department(
        "IT",
        "IT",
        "Clinic IT: admin laptops, test devices, Linux servers' consoles.",
        3,
        (("linux", 24), ("mac", 20), ("win_laptop", 26), ("iphone", 15), ("android_phone", 15)),
        byod_share=0.20,
    ),
)

# A group without devices yet: filters and charts must cope with it.
EMPTY_GROUPS: tuple[tuple[str, str], ...] = (
    ("Outpatient wing (2027)", "New outpatient wing; devices arrive when it opens in spring 2027."),
)

_IOS_ALL = (18, 26)
_IOS_26 = (26,)
_IOS_18 = (18,)

HARDWARE: tuple[HardwareModel, ...] = (
    # iPhones (iOS 26 dropped the iPhone XS/XR, which stay on iOS 18).
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone XR", 1, _IOS_18, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 12", 4, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 13", 8, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 14", 10, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 15", 14, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 15 Pro", 6, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 16", 14, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 16e", 12, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 16 Pro", 5, _IOS_ALL, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 17", 10, _IOS_26, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone 17 Pro", 3, _IOS_26, "apple", "imei"),
    HardwareModel("iphone", Platform.IOS, "Apple", "iPhone Air", 2, _IOS_26, "apple", "imei"),
    # iPads (Wi-Fi models report their UDID; cellular ones an IMEI).
    HardwareModel("ipad", Platform.IPADOS, "Apple", "iPad (7th generation)", 2, _IOS_18, "apple", "udid"),
    HardwareModel("ipad", Platform.IPADOS, "Apple", "iPad (9th generation)", 14, _IOS_ALL, "apple", "udid"),
    HardwareModel("ipad", Platform.IPADOS, "Apple", "iPad (10th generation)", 16, _IOS_ALL, "apple", "udid"),
    HardwareModel("ipad", Platform.IPADOS, "Apple", "iPad (A16)", 14, _IOS_26, "apple", "udid"),
    HardwareModel("ipad", Platform.IPADOS, "Apple", "iPad Air 11-inch (M3)", 6, _IOS_26, "apple", "imei"),
    HardwareModel("ipad", Platform.IPADOS, "Apple", "iPad mini (A17 Pro)", 8, _IOS_ALL, "apple", "imei"),
    HardwareModel("ipad", Platform.IPADOS, "Apple", "iPad Pro 11-inch (M4)", 3, _IOS_ALL, "apple", "udid"),
    # Android phones.
    HardwareModel(
        "android_phone", Platform.ANDROID, "Samsung", "Galaxy S23", 6, (14, 15, 16), "samsung", "imei", "samsung"
    ),
    HardwareModel(
        "android_phone", Platform.ANDROID, "Samsung", "Galaxy S24", 8, (14, 15, 16), "samsung", "imei", "samsung"
    ),
    HardwareModel(
        "android_phone", Platform.ANDROID, "Samsung", "Galaxy S25", 6, (15, 16), "samsung", "imei", "samsung"
    ),
    HardwareModel(
        "android_phone", Platform.ANDROID, "Samsung", "Galaxy A35 5G", 10, (14, 15, 16), "samsung", "imei", "samsung"
    ),
    HardwareModel(
        "android_phone", Platform.ANDROID, "Samsung", "Galaxy A55 5G", 8, (14, 15, 16), "samsung", "imei", "samsung"
    ),
    HardwareModel("android_phone", Platform.ANDROID, "Google", "Pixel 7a", 4, (14, 15, 16), "pixel", "imei", "pixel"),
    HardwareModel("android_phone", Platform.ANDROID, "Google", "Pixel 8", 5, (15, 16), "pixel", "imei", "pixel"),
    HardwareModel("android_phone", Platform.ANDROID, "Google", "Pixel 8a", 6, (15, 16), "pixel", "imei", "pixel"),
    HardwareModel("android_phone", Platform.ANDROID, "Google", "Pixel 9", 5, (15, 16), "pixel", "imei", "pixel"),
    HardwareModel("android_phone", Platform.ANDROID, "Google", "Pixel 9a", 5, (15, 16), "pixel", "imei", "pixel"),
    HardwareModel("android_phone", Platform.ANDROID, "Google", "Pixel 10", 3, (16,), "pixel", "imei", "pixel"),
    HardwareModel(
        "android_phone", Platform.ANDROID, "Motorola", "moto g 5G (2025)", 2, (15, 16), "motorola", "imei", "samsung"
    ),
    # Android tablets for shared use.
    HardwareModel(
        "android_tablet",
        Platform.ANDROID,
        "Samsung",
        "Galaxy Tab Active5",
        10,
        (14, 15, 16),
        "samsung",
        "mac",
        "samsung",
    ),
    HardwareModel(
        "android_tablet", Platform.ANDROID, "Samsung", "Galaxy Tab S9 FE", 6, (14, 15, 16), "samsung", "mac", "samsung"
    ),
    HardwareModel("android_tablet", Platform.ANDROID, "Zebra", "ET45", 4, (13, 14), "zebra", "imei", "zebra"),
    # Rugged handhelds (barcode scanning, nurse call).
    HardwareModel("rugged", Platform.ANDROID, "Zebra", "TC53", 8, (13, 14), "zebra", "mac", "zebra"),
    HardwareModel("rugged", Platform.ANDROID, "Zebra", "TC58", 6, (13, 14, 15), "zebra", "imei", "zebra"),
    HardwareModel("rugged", Platform.ANDROID, "Zebra", "TC22", 5, (13, 14), "zebra", "mac", "zebra"),
    HardwareModel("rugged", Platform.ANDROID, "Zebra", "HC50", 6, (13, 14), "zebra", "mac", "zebra"),
    HardwareModel("rugged", Platform.ANDROID, "Zebra", "HC55", 3, (13, 14), "zebra", "imei", "zebra"),
    HardwareModel(
        "rugged", Platform.ANDROID, "Samsung", "Galaxy XCover7", 5, (14, 15, 16), "samsung", "imei", "samsung"
    ),
    # Windows laptops, desktops and reading workstations (Windows 10 22H2 only on extended security updates).
    HardwareModel("win_laptop", Platform.WINDOWS, "Dell", "Latitude 5450", 12, (10, 11), "dell", "smbios"),
    HardwareModel("win_laptop", Platform.WINDOWS, "Dell", "Latitude 7450", 6, (11,), "dell", "smbios"),
    HardwareModel("win_laptop", Platform.WINDOWS, "Lenovo", "ThinkPad T14 Gen 5", 10, (11,), "lenovo", "smbios"),
    HardwareModel("win_laptop", Platform.WINDOWS, "Lenovo", "ThinkPad X1 Carbon Gen 12", 4, (11,), "lenovo", "smbios"),
    HardwareModel("win_laptop", Platform.WINDOWS, "HP", "EliteBook 840 G11", 8, (11,), "hp", "smbios"),
    HardwareModel("win_laptop", Platform.WINDOWS, "Microsoft", "Surface Laptop 7", 4, (11,), "surface", "smbios"),
    HardwareModel("win_desktop", Platform.WINDOWS, "Dell", "OptiPlex 7020 Micro", 14, (10, 11), "dell", "smbios"),
    HardwareModel("win_desktop", Platform.WINDOWS, "HP", "Elite Mini 800 G9", 10, (10, 11), "hp", "smbios"),
    HardwareModel("win_desktop", Platform.WINDOWS, "Lenovo", "ThinkCentre M90q Gen 5", 8, (11,), "lenovo", "smbios"),
    HardwareModel("workstation", Platform.WINDOWS, "HP", "Z4 G5 Workstation", 6, (11,), "hp", "smbios"),
    HardwareModel("workstation", Platform.WINDOWS, "Dell", "Precision 3680 Tower", 8, (11,), "dell", "smbios"),
    # Macs.
    HardwareModel("mac", Platform.MACOS, "Apple", "MacBook Air 13-inch (M2)", 6, (14, 15, 26), "apple", "uuid"),
    HardwareModel("mac", Platform.MACOS, "Apple", "MacBook Air 13-inch (M4)", 10, (15, 26), "apple", "uuid"),
    HardwareModel("mac", Platform.MACOS, "Apple", "MacBook Pro 14-inch (M3)", 5, (14, 15, 26), "apple", "uuid"),
    HardwareModel("mac", Platform.MACOS, "Apple", "MacBook Pro 14-inch (M4 Pro)", 5, (15, 26), "apple", "uuid"),
    HardwareModel("mac", Platform.MACOS, "Apple", "iMac 24-inch (M4)", 4, (15, 26), "apple", "uuid"),
    HardwareModel("mac", Platform.MACOS, "Apple", "Mac mini (M4)", 3, (15, 26), "apple", "uuid"),
    # Linux workstations.
    HardwareModel("linux", Platform.LINUX, "Dell", "Precision 3680 Tower", 8, (22, 24), "dell", "machine_id"),
    HardwareModel("linux", Platform.LINUX, "HP", "Z2 Tower G9", 6, (22, 24), "hp", "machine_id"),
    HardwareModel("linux", Platform.LINUX, "Lenovo", "ThinkStation P3 Tower", 4, (9, 22, 24), "lenovo", "machine_id"),
)

# OS versions in the field, late 2026. Build strings: Apple builds follow their release letters,
# Windows reports 10.0.<build>.<revision> (Windows 11 from build 22000).
OS_RELEASES: tuple[OsRelease, ...] = (
    OsRelease(Platform.IOS, "18.3.2", 18, 1, "22D82"),
    OsRelease(Platform.IOS, "18.5", 18, 2, "22F76"),
    OsRelease(Platform.IOS, "18.6.2", 18, 4, "22G100"),
    OsRelease(Platform.IOS, "18.7.2", 18, 6, "22H124"),
    OsRelease(Platform.IOS, "26.0.1", 26, 2, "23A355"),
    OsRelease(Platform.IOS, "26.2", 26, 4, "23C55"),
    OsRelease(Platform.IOS, "26.4.1", 26, 6, "23E254"),
    OsRelease(Platform.IOS, "26.5", 26, 10, "23F75"),
    OsRelease(Platform.IOS, "26.6", 26, 16, "23G80"),
    OsRelease(Platform.IOS, "26.7.1", 26, 22, "23H31"),
    OsRelease(Platform.IPADOS, "18.3.2", 18, 1, "22D82"),
    OsRelease(Platform.IPADOS, "18.6.2", 18, 5, "22G100"),
    OsRelease(Platform.IPADOS, "18.7.2", 18, 8, "22H124"),
    OsRelease(Platform.IPADOS, "26.2", 26, 4, "23C55"),
    OsRelease(Platform.IPADOS, "26.4.1", 26, 6, "23E254"),
    OsRelease(Platform.IPADOS, "26.5", 26, 10, "23F75"),
    OsRelease(Platform.IPADOS, "26.6", 26, 14, "23G80"),
    OsRelease(Platform.IPADOS, "26.7.1", 26, 18, "23H31"),
    OsRelease(Platform.ANDROID, "13", 13, 10, "TQ3A"),
    OsRelease(Platform.ANDROID, "14", 14, 22, "UQ1A"),
    OsRelease(Platform.ANDROID, "15", 15, 30, "BP1A"),
    OsRelease(Platform.ANDROID, "16", 16, 34, "BP3A"),
    OsRelease(Platform.WINDOWS, "10.0.19045.6575", 10, 1, "22H2"),
    OsRelease(Platform.WINDOWS, "10.0.22631.6199", 11, 5, "23H2"),
    OsRelease(Platform.WINDOWS, "10.0.26100.6899", 11, 14, "24H2"),
    OsRelease(Platform.WINDOWS, "10.0.26100.7171", 11, 22, "24H2"),
    OsRelease(Platform.WINDOWS, "10.0.26200.7171", 11, 18, "25H2"),
    OsRelease(Platform.MACOS, "14.7.6", 14, 1, "23H626"),
    OsRelease(Platform.MACOS, "14.8.2", 14, 3, "23J126"),
    OsRelease(Platform.MACOS, "15.6.1", 15, 3, "24G90"),
    OsRelease(Platform.MACOS, "15.7.2", 15, 7, "24G325"),
    OsRelease(Platform.MACOS, "26.3", 26, 4, "25D125"),
    OsRelease(Platform.MACOS, "26.5", 26, 8, "25F71"),
    OsRelease(Platform.MACOS, "26.6", 26, 12, "25G62"),
    OsRelease(Platform.MACOS, "26.7.1", 26, 14, "25H30"),
    OsRelease(Platform.LINUX, "9.6", 9, 3, "Red Hat Enterprise Linux 9.6 (5.14.0-570.42.2.el9_6)"),
    OsRelease(Platform.LINUX, "22.04.5", 22, 6, "Ubuntu 22.04.5 LTS (5.15.0-161-generic)"),
    OsRelease(Platform.LINUX, "24.04.3", 24, 14, "Ubuntu 24.04.3 LTS (6.8.0-88-generic)"),
)

# Months a vendor's security patch trails the current month, and how common each lag is.
PATCH_LAGS: Mapping[str, tuple[tuple[int, float], ...]] = {
    "pixel": ((0, 55), (1, 28), (2, 9), (3, 4), (5, 2), (8, 2)),
    "samsung": ((0, 30), (1, 34), (2, 20), (3, 8), (4, 4), (7, 4)),
    "zebra": ((1, 18), (2, 34), (3, 22), (4, 12), (6, 9), (10, 5)),
    "windows": ((0, 62), (1, 24), (2, 7), (3, 4), (6, 3)),
    "linux": ((0, 58), (1, 22), (2, 10), (3, 5), (7, 5)),
}

CLINIC_APPS: tuple[ClinicApp, ...] = (
    ClinicApp(
        "ehr",
        "MedChart EHR",
        "MedChart Health Systems",
        "Electronic health record client: charts, orders, notes.",
        (
            (Platform.IOS, "com.medchart.ehr.mobile"),
            (Platform.IPADOS, "com.medchart.ehr.mobile"),
            (Platform.ANDROID, "com.medchart.ehr.mobile"),
            (Platform.WINDOWS, "MedChart.EHRDesktop"),
            (Platform.MACOS, "com.medchart.ehr.mac"),
        ),
        ("25.2.4", "25.3.1", "26.1.0"),
        180,
    ),
    ClinicApp(
        "messaging",
        "CareLink Secure Messaging",
        "CareLink Communications",
        "Encrypted clinical messaging, on-call paging and nurse call alerts.",
        (
            (Platform.IOS, "com.carelink.securemessaging"),
            (Platform.IPADOS, "com.carelink.securemessaging"),
            (Platform.ANDROID, "com.carelink.securemessaging"),
            (Platform.WINDOWS, "CareLink.SecureMessaging"),
            (Platform.MACOS, "com.carelink.securemessaging.mac"),
        ),
        ("8.4.0", "8.5.2", "8.6.1"),
        95,
    ),
    ClinicApp(
        "authenticator",
        "Microsoft Authenticator",
        "Microsoft Corporation",
        "Multi-factor sign-in for the clinic's Microsoft 365 tenant.",
        ((Platform.IOS, "com.microsoft.azureauthenticator"), (Platform.ANDROID, "com.azure.authenticator")),
        ("6.8.30", "6.8.34", "6.8.38"),
        120,
    ),
    ClinicApp(
        "outlook",
        "Microsoft Outlook",
        "Microsoft Corporation",
        "Mail and calendar.",
        (
            (Platform.IOS, "com.microsoft.Office.Outlook"),
            (Platform.IPADOS, "com.microsoft.Office.Outlook"),
            (Platform.ANDROID, "com.microsoft.office.outlook"),
            (Platform.MACOS, "com.microsoft.Outlook"),
        ),
        ("4.2544.0", "4.2547.1", "4.2550.0"),
        310,
    ),
    ClinicApp(
        "office",
        "Microsoft 365 Apps",
        "Microsoft Corporation",
        "Word, Excel, PowerPoint, Outlook and Teams for Windows.",
        ((Platform.WINDOWS, "Microsoft.Office"),),
        ("16.0.19127.20302", "16.0.19231.20216", "16.0.19328.20190"),
        1900,  # the schema stores sizes as 32-bit integers (< 2 GiB)
    ),
    ClinicApp(
        "pacs",
        "RadView PACS Viewer",
        "RadView Imaging",
        "Diagnostic image viewer (DICOM) for radiology reading and bedside review.",
        (
            (Platform.IPADOS, "com.radview.pacs.viewer"),
            (Platform.WINDOWS, "RadView.PACSWorkstation"),
            (Platform.MACOS, "com.radview.pacs.mac"),
            (Platform.LINUX, "radview-pacs-workstation"),
        ),
        ("12.1.3", "12.2.0", "12.3.2"),
        640,
    ),
    ClinicApp(
        "bcma",
        "VitalsScan Medication Scanning",
        "VitalsScan",
        "Barcode medication administration and specimen labelling.",
        ((Platform.ANDROID, "com.vitalsscan.bcma"),),
        ("4.9.2", "5.0.1", "5.1.0"),
        48,
    ),
    ClinicApp(
        "pharmacy",
        "DoseCheck Pharmacy",
        "DoseCheck Software",
        "Dispensing verification and interaction checks.",
        ((Platform.ANDROID, "com.dosecheck.pharmacy"), (Platform.WINDOWS, "DoseCheck.Pharmacy")),
        ("3.7.0", "3.8.2", "3.9.0"),
        85,
    ),
    ClinicApp(
        "kiosk",
        "Clinic Check-In",
        "Clinic IT",
        "Patient self check-in kiosk (single-app mode on front desk tablets).",
        ((Platform.IPADOS, "org.clinic.checkin"), (Platform.ANDROID, "org.clinic.checkin")),
        ("2.3.0", "2.4.1", "2.5.0"),
        22,
    ),
    ClinicApp(
        "lis",
        "LabTrack LIS Client",
        "LabTrack Diagnostics",
        "Laboratory information system client.",
        ((Platform.WINDOWS, "LabTrack.LISClient"), (Platform.LINUX, "labtrack-lis-client")),
        ("7.2.5", "7.3.0", "7.4.2"),
        150,
    ),
    ClinicApp(
        "vpn",
        "Clinic VPN",
        "Clinic IT",
        "Always-on VPN profile client for off-site staff.",
        (
            (Platform.IOS, "org.clinic.vpn"),
            (Platform.ANDROID, "org.clinic.vpn"),
            (Platform.WINDOWS, "Clinic.VPN"),
            (Platform.MACOS, "org.clinic.vpn.mac"),
        ),
        ("1.8.0", "1.9.3", "2.0.1"),
        35,
    ),
)

# Apps each kind of device carries (app keys); departments add their own below.
KIND_APPS: Mapping[str, tuple[str, ...]] = {
    "iphone": ("ehr", "messaging", "authenticator", "outlook", "vpn"),
    "ipad": ("ehr", "messaging", "outlook"),
    "android_phone": ("ehr", "messaging", "authenticator", "outlook", "vpn"),
    "android_tablet": ("ehr", "messaging"),
    "rugged": ("messaging", "bcma"),
    "win_laptop": ("ehr", "office", "messaging", "vpn"),
    "win_desktop": ("ehr", "office"),
    "workstation": ("ehr", "office", "pacs"),
    "mac": ("ehr", "outlook", "messaging", "vpn"),
    "linux": (),
}
DEPARTMENT_APPS: Mapping[str, tuple[str, ...]] = {
    "RAD": ("pacs",),
    "RX": ("pharmacy",),
    "FD": ("kiosk",),
    "LAB": ("lis",),
}

# Apps staff install themselves on corporate devices (reported, not managed). Never listed for BYOD devices:
# the console collects only managed apps from personal devices.
UNMANAGED_APPS: Mapping[Platform, tuple[tuple[str, str, str], ...]] = {
    Platform.IOS: (("com.google.chrome.ios", "Google Chrome", "142.0.7444.77"), ("com.apple.Pages", "Pages", "14.4")),
    Platform.IPADOS: (("com.apple.Keynote", "Keynote", "14.4"),),
    Platform.ANDROID: (
        ("com.android.chrome", "Google Chrome", "142.0.7444.102"),
        ("com.symbol.datawedge", "DataWedge", "15.0.21"),
    ),
    Platform.WINDOWS: (
        ("Google.Chrome", "Google Chrome", "142.0.7444.135"),
        ("7zip.7zip", "7-Zip", "25.01"),
        ("Adobe.Acrobat.Reader.64-bit", "Adobe Acrobat Reader", "25.001.20844"),
    ),
    Platform.MACOS: (("com.google.Chrome", "Google Chrome", "142.0.7444.135"), ("us.zoom.xos", "Zoom", "6.6.6")),
    Platform.LINUX: (
        ("firefox-esr", "Firefox ESR", "140.5.0esr"),
        ("openssh-server", "OpenSSH server", "1:9.6p1-3ubuntu13.14"),
        ("dcmtk", "DICOM toolkit (DCMTK)", "3.6.7-9.1build4"),
    ),
}

FIRST_NAMES: tuple[str, ...] = (
    "Amelia", "Noah", "Olivia", "Liam", "Sofia", "Mateo", "Aisha", "Kenji", "Priya", "Lucas", "Chloe", "Omar",
    "Hannah", "Diego", "Mei", "Samuel", "Fatima", "Jonas", "Grace", "Ravi", "Elena", "Tomás", "Zoe", "Kwame",
    "Isabel", "Hiro", "Leah", "Ahmed", "Nora", "Marcus", "Yuki", "Ingrid", "Daniel", "Amara", "Felix", "Lucia",
    "Ethan", "Layla", "Oscar", "Naomi", "Julian", "Sara", "Kofi", "Emma", "Arjun", "Clara", "Malik", "Rosa",
    "Benjamin", "Ines", "Tariq", "Maya", "Henrik", "Beatriz", "Caleb", "Anika", "Victor", "Leila", "Gabriel",
    "Siobhan", "Nikolai", "Ayesha", "Patrick", "Camila",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Chen", "Okafor", "Martínez", "Nguyen", "Patel", "Schmidt", "Kowalski", "Haddad", "Johansson", "Rossi",
    "Tanaka", "Mensah", "García", "O'Brien", "Dubois", "Kim", "Novak", "Ali", "Fischer", "Silva", "Murphy",
    "Cohen", "Hansen", "Popescu", "Yilmaz", "Singh", "Andersson", "Moreau", "Costa", "Ivanova", "Bianchi",
    "Nakamura", "Adeyemi", "Larsen", "Lopez", "Wright", "Sato", "Brennan", "Khan", "Vasquez", "Meyer", "Park",
    "Eriksen", "Mwangi", "Fernandes", "Walsh", "Horvat", "Suzuki", "Owusu", "Jensen", "Romano", "Baker",
    "Reyes", "Lindqvist", "Abdi", "Carter", "Dimitrov", "Santos", "Varga", "Hughes",
)  # fmt: skip

# Operators' workstations as they appear in the audit trail.
WORKSTATIONS: Mapping[Role, tuple[str, str]] = {
    Role.ADMINISTRATOR: ("IT-WS-01", "IT-LT-0003"),
    Role.IT_TECHNICIAN: ("IT-WS-02", "IT-WS-04"),
    Role.HELPDESK: ("HELPDESK-PC-03", "HELPDESK-PC-05"),
    Role.SECURITY_OFFICER: ("PRIVACY-LT-01", "ADM-LT-0007"),
}

# Reasons written with destructive or disruptive commands.
LOST_REASONS: tuple[str, ...] = (
    "Reported lost on the ward; ticket INC-{n}",
    "Left in a taxi after a night shift; ticket INC-{n}",
    "Not returned at shift handover; ticket INC-{n}",
    "Reported stolen from the staff car park; police report filed, ticket INC-{n}",
)
WIPE_REASONS: tuple[str, ...] = (
    "Device stolen; lost mode did not locate it within 72 h (INC-{n})",
    "Screen broken, sent for repair; wiped before handing to the vendor (RMA-{n})",
    "Employee left the clinic; corporate device returned (HR-{n})",
)
RETIRE_REASONS: tuple[str, ...] = (
    "End of life: replaced by a newer model (CHG-{n})",
    "Staff member left; BYOD device unenrolled (HR-{n})",
    "Battery swelling; device decommissioned (CHG-{n})",
)
FAILED_RESULTS: Mapping[str, tuple[str, ...]] = {
    "os_update": (
        "Not enough free storage to install the update.",
        "Update requires the device to be on power and Wi-Fi.",
        "The user postponed the update three times.",
    ),
    "install_app": ("App download failed: network timeout.", "The app requires a newer OS version."),
    "restart": ("Device refused: a call was in progress.",),
    "refresh_inventory": ("Inventory collection timed out.",),
    "message": ("Notification permission is off for the agent.",),
}
MESSAGES: tuple[str, ...] = (
    "Please connect to power and Wi-Fi tonight: an OS update is pending.",
    "Scheduled maintenance of MedChart EHR on Sunday 02:00-04:00.",
    "Your device has not checked in for a while; please open the clinic app.",
    "Reminder: return shared devices to the charging cart at shift end.",
)
