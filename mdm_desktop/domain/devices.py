"""Device vocabulary: platforms, ownership, lifecycle and compliance states."""

from __future__ import annotations

import enum
import re


class Platform(enum.StrEnum):
    """Operating system family of a managed device."""

    IOS = "ios"
    IPADOS = "ipados"
    ANDROID = "android"
    WINDOWS = "windows"
    MACOS = "macos"
    LINUX = "linux"

    @property
    def label(self) -> str:
        """Human-readable name as vendors spell it."""
        return _PLATFORM_LABELS[self]


_PLATFORM_LABELS = {
    Platform.IOS: "iOS",
    Platform.IPADOS: "iPadOS",
    Platform.ANDROID: "Android",
    Platform.WINDOWS: "Windows",
    Platform.MACOS: "macOS",
    Platform.LINUX: "Linux",
}


class Ownership(enum.StrEnum):
    """Who owns the hardware."""

    CORPORATE = "corporate"
    BYOD = "byod"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return "Corporate" if self is Ownership.CORPORATE else "BYOD"


class LifecycleStatus(enum.StrEnum):
    """Where a device is in its management life."""

    PENDING = "pending"
    ENROLLED = "enrolled"
    LOST = "lost"
    RETIRED = "retired"
    WIPED = "wiped"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return self.value.capitalize()


class ComplianceState(enum.StrEnum):
    """Result of evaluating a device against its assigned policy."""

    COMPLIANT = "compliant"
    IN_GRACE = "in_grace"
    NON_COMPLIANT = "non_compliant"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return _COMPLIANCE_LABELS[self]


_COMPLIANCE_LABELS = {
    ComplianceState.COMPLIANT: "Compliant",
    ComplianceState.IN_GRACE: "In grace period",
    ComplianceState.NON_COMPLIANT: "Non-compliant",
    ComplianceState.UNKNOWN: "Unknown",
}

_VERSION_PART = re.compile(r"\d+")


def version_sort_key(version: str) -> str:
    """Return a string that sorts OS versions numerically ("9.1" < "17.2" < "17.10").

    Each numeric part is zero-padded to five digits and the first four parts are
    kept, so the key can be stored in an indexed column and sorted in SQL.

    Args:
        version: A dotted version such as ``"17.6.1"`` or ``"14"``.

    Returns:
        A fixed-width key, e.g. ``"00017.00006.00001.00000"``.
    """
    parts = [int(p) for p in _VERSION_PART.findall(version)[:4]]
    parts += [0] * (4 - len(parts))
    return ".".join(f"{min(p, 99999):05d}" for p in parts)
