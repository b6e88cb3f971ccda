"""Colours shared by the dashboard charts (same compliance colours as the device table)."""

from __future__ import annotations

from mdm_desktop.domain.devices import Platform
from mdm_desktop.gui.models.device_table_model import COMPLIANCE_COLORS

__all__ = ["COMPLIANCE_COLORS", "PLATFORM_COLORS"]

PLATFORM_COLORS: dict[Platform, str] = {
    Platform.IOS: "#2f6f9f",
    Platform.IPADOS: "#6fa8d6",
    Platform.ANDROID: "#3d8b5a",
    Platform.WINDOWS: "#7a5ea8",
    Platform.MACOS: "#c07a2c",
    Platform.LINUX: "#8a8f98",
}
"""One colour per platform, distinct from each other and from the compliance colours' meaning."""
