"""What an export wrote and what it could not: shared by the Apple and Android exporters.

A setting a target cannot express is never dropped silently: it is listed in the report with the
reason (no such key, needs a supervised device, checked by the console instead, ...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from mdm_desktop.domain.policy_settings import SETTING_SPECS, MergeRule, PolicySettings, SettingSpec

CONSOLE_SIDE_ONLY = (
    "console-side only: the console and the gateway notify, quarantine, lock and wipe; no device format states it."
)
"""The reason given for the escalation settings, which only the console acts on."""


class ExportFormat(enum.StrEnum):
    """The vendor formats a policy exports to."""

    MOBILECONFIG = "mobileconfig"
    ANDROID = "android"
    SETTINGS = "settings"

    @property
    def label(self) -> str:
        """As shown to people."""
        return {
            "mobileconfig": "Apple configuration profile",
            "android": "Android Management API policy",
            "settings": "MDM Desktop policy file",
        }[self]

    @property
    def suffix(self) -> str:
        """The usual file name suffix."""
        return {"mobileconfig": ".mobileconfig", "android": ".json", "settings": ".policy.json"}[self]


@dataclass(frozen=True, slots=True)
class PolicySource:
    """The published policy version being exported.

    Attributes:
        uid: The policy's stable unique id (names profile identifiers and payload UUIDs).
        name: The policy's name.
        version: The published version number.
        description: The policy's description.
        organization: Shown as the profile's organisation.
    """

    uid: str
    name: str
    version: int
    description: str = ""
    organization: str = "MDM Desktop"


@dataclass(frozen=True, slots=True)
class Unexpressed:
    """A setting the target format cannot state.

    Attributes:
        key: The setting (``group.name``).
        label: Its label.
        reason: Why, in plain words.
    """

    key: str
    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label} ({self.key}): {self.reason}"


@dataclass(frozen=True, slots=True)
class ExportReport:
    """The outcome of one export.

    Attributes:
        target: The format.
        policy: The exported version.
        written: Keys of the settings the file states.
        unexpressed: Settings the file cannot state, each with the reason.
        notes: Other things to know (supervision needed, credentials the device will ask for).
        signed_by: The signing certificate's subject, or ``""`` when unsigned.
    """

    target: ExportFormat
    policy: PolicySource
    written: tuple[str, ...]
    unexpressed: tuple[Unexpressed, ...]
    notes: tuple[str, ...]
    signed_by: str = ""

    def lines(self) -> list[str]:
        """The report as lines of text (for the CLI and the export dialog)."""
        out = [
            f"{self.target.label} for '{self.policy.name}' version {self.policy.version}: "
            f"{len(self.written)} settings written, {len(self.unexpressed)} not expressible."
        ]
        if self.signed_by:
            out.append(f"Signed by {self.signed_by}.")
        if self.unexpressed:
            out.append("Not in the file (the console still checks what it can at check-in):")
            out.extend(f"  - {item}" for item in self.unexpressed)
        if self.notes:
            out.append("Notes:")
            out.extend(f"  - {note}" for note in self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json``)."""
        return {
            "format": self.target.value,
            "policy": self.policy.name,
            "version": self.policy.version,
            "written": list(self.written),
            "not_expressible": [{"key": u.key, "label": u.label, "reason": u.reason} for u in self.unexpressed],
            "notes": list(self.notes),
            "signed_by": self.signed_by or None,
        }


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The exported file's bytes and its report."""

    content: bytes
    report: ExportReport


def is_active(s: SettingSpec, value: Any) -> bool:
    """Whether a value asks devices for something (not the "no rule" state of the setting).

    An export must say so when it cannot state an active setting; a setting left at "no rule"
    (allowed, not required, no list) needs nothing from the file.
    """
    rule = s.merge
    if rule is MergeRule.FALSE_WINS:
        return value is False
    if rule is MergeRule.TRUE_WINS:
        return value is True
    if rule is MergeRule.STRICTER_CHOICE:
        return bool(value != s.choices[0])
    if rule is MergeRule.HIGHER_WINS:
        return value is not None and value != s.minimum
    if rule in (MergeRule.UNION, MergeRule.HIGHER_VERSION):
        return bool(value)
    return value is not None


class ReportBuilder:
    """Collects what an exporter wrote and what it could not."""

    def __init__(self, settings: PolicySettings) -> None:
        self._settings = settings
        self._written: list[str] = []
        self._missing: dict[str, str] = {}
        self._notes: list[str] = []

    def value(self, key: str) -> Any:
        """The setting's value."""
        return self._settings.value(key)

    def wrote(self, *keys: str) -> None:
        """Mark settings as stated in the file."""
        for key in keys:
            if key not in self._written:
                self._written.append(key)

    def cannot(self, key: str, reason: str) -> None:
        """Mark an active setting as not expressible (inactive settings need nothing and are skipped)."""
        s = next(x for x in SETTING_SPECS if x.key == key)
        if is_active(s, self.value(key)) and key not in self._missing and key not in self._written:
            self._missing[key] = reason

    def wrote_allow_lists(self) -> None:
        """Mark the app allow lists that are set as written (exporters write their intersection)."""
        if self._settings.apps.allowed is not None:
            self.wrote("apps.allowed")
        if self._settings.containerisation.allowed_apps is not None:
            self.wrote("containerisation.allowed_apps")

    def note(self, text: str) -> None:
        """Add a note (once)."""
        if text not in self._notes:
            self._notes.append(text)

    def build(self, target: ExportFormat, policy: PolicySource) -> ExportReport:
        """The report, settings in :data:`SETTING_SPECS` order.

        Any active setting the exporter neither wrote nor explained is listed as having no equivalent,
        so nothing is ever dropped silently.
        """
        for s in SETTING_SPECS:
            if s.key not in self._written and s.group == "escalation":
                self.cannot(s.key, CONSOLE_SIDE_ONLY)
            elif s.key not in self._written:
                self.cannot(s.key, f"the {target.label} format has no equivalent.")
        order = {s.key: i for i, s in enumerate(SETTING_SPECS)}
        labels = {s.key: s.label for s in SETTING_SPECS}
        written = tuple(sorted(self._written, key=order.__getitem__))
        missing = tuple(
            Unexpressed(k, labels[k], r)
            for k, r in sorted(self._missing.items(), key=lambda kv: order[kv[0]])
            if k not in self._written
        )
        return ExportReport(target, policy, written, missing, tuple(self._notes))
