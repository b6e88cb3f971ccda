"""Policy settings in words: values as a clinic's IT person reads them, and what changed between two versions.

Works on the JSON form of settings (what drafts and versions store), so it can describe a draft even
while some of its values are wrong: a value the settings model cannot read is shown as it is written.

Pure Python: no I/O, no Qt, no SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.policy_settings import (
    GROUP_LABELS,
    SETTING_SPECS,
    MergeRule,
    SettingKind,
    SettingSpec,
    check_settings,
    split_settings,
)

CHOICE_WORDS: dict[str, str] = {
    "any": "Any",
    "no_simple": "No simple passcodes (such as 1111 or 1234)",
    "alphanumeric": "Letters and digits",
    "complex": "Letters, digits and a symbol",
    "encrypted_local": "Encrypted local backup",
    "site_server": "The clinic's server",
}
"""Words for the values of choice settings (passcode complexity, backup target)."""

WIFI_WORDS: dict[str, str] = {
    "open": "Open",
    "wpa2_personal": "WPA2 Personal",
    "wpa3_personal": "WPA3 Personal",
    "wpa2_enterprise": "WPA2 Enterprise",
    "wpa3_enterprise": "WPA3 Enterprise",
    "ttls": "EAP-TTLS",
    "peap": "PEAP",
    "tls": "EAP-TLS",
}
"""Words for Wi-Fi security types and EAP methods."""

MERGE_RULE_WORDS: dict[MergeRule, str] = {
    MergeRule.TRUE_WINS: "required if any policy requires it",
    MergeRule.FALSE_WINS: "allowed only if every policy allows it",
    MergeRule.HIGHER_WINS: "the highest value wins",
    MergeRule.LOWER_WINS: "the lowest limit wins; 'no limit' loses",
    MergeRule.STRICTER_CHOICE: "the stricter choice wins",
    MergeRule.UNION: "everything any policy lists",
    MergeRule.INTERSECTION: "only what every policy's list allows; 'no list' loses",
    MergeRule.HIGHER_VERSION: "the highest version per platform wins",
    MergeRule.WIFI_INTERSECTION: "only networks every policy allows, with the stronger security",
    MergeRule.EARLIER_DATE: "the earliest date wins",
    MergeRule.NARROWER_WINDOW: "the shortest window wins",
}
"""How each merge rule keeps the most restrictive value, in words."""


def group_label(group: str) -> str:
    """The label of a settings group (``escalation`` -> ``Escalation`` for groups without one)."""
    return GROUP_LABELS.get(group) or group.replace("_", " ").strip().capitalize() or group


def choice_words(value: str) -> str:
    """Words for one value of a choice setting."""
    return CHOICE_WORDS.get(value) or value.replace("_", " ").capitalize()


def _raw(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _unset(s: SettingSpec) -> str:
    if s.kind in (SettingKind.TEXT_LIST, SettingKind.WIFI_LIST):
        return "No list"
    if s.merge is MergeRule.LOWER_WINS:
        return "No limit"
    return "Not set"


def format_value(s: SettingSpec, value: Any) -> str:
    """The value (JSON form) of setting ``s`` in words: ``"6 characters"``, ``"iOS 18.6, Android 14"``."""
    if value is None:
        return _unset(s)
    kind = s.kind
    if kind is SettingKind.BOOL and isinstance(value, bool):
        return "Yes" if value else "No"
    if kind is SettingKind.INT and isinstance(value, int) and not isinstance(value, bool):
        return f"{value} {s.unit}".strip()
    if kind is SettingKind.CHOICE and isinstance(value, str):
        return choice_words(value)
    if kind is SettingKind.VERSION_MAP and isinstance(value, Mapping):
        if not value:
            return "Not set"
        parts = []
        for name, version in sorted(value.items()):
            label = Platform(name).label if name in Platform._value2member_map_ else str(name)
            parts.append(f"{label} {version}")
        return ", ".join(parts)
    if kind is SettingKind.TEXT_LIST and isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "None"
    if kind is SettingKind.WIFI_LIST and isinstance(value, list | tuple):
        return "; ".join(_network_words(n) for n in value) if value else "None"
    if kind in (SettingKind.TIME_WINDOW, SettingKind.DATE) and isinstance(value, str):
        return value
    return _raw(value)


def _network_words(network: Any) -> str:
    if not isinstance(network, Mapping):
        return _raw(network)
    parts = [WIFI_WORDS.get(str(network.get("security")), str(network.get("security")))]
    if network.get("eap") is not None:
        parts.append(WIFI_WORDS.get(str(network["eap"]), str(network["eap"])))
    return f"{network.get('ssid')} ({', '.join(parts)})"


def setting_json_values(data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every known setting's value (JSON form, defaults filled in) and the extras, of a settings object.

    Valid settings are normalised by the settings model (old keys moved, lists sorted); for invalid
    settings, the values are taken as written so that the wrong ones can be shown.
    """
    if not isinstance(data, Mapping):
        return {s.key: default_json(s) for s in SETTING_SPECS}, {}
    checked = check_settings(data)
    if checked.settings is not None:
        as_dict = checked.settings.to_dict()
        values = {s.key: as_dict[s.group][s.name] for s in SETTING_SPECS}
        _, extras = split_settings(data)
        return values, extras
    known, extras = split_settings(data)
    values = {}
    for s in SETTING_SPECS:
        group = known.get(s.group)
        values[s.key] = group[s.name] if isinstance(group, Mapping) and s.name in group else default_json(s)
    return values, extras


def default_json(s: SettingSpec) -> Any:
    """The default value of ``s`` in JSON form."""
    value = s.default
    if value is None:
        return None
    if s.kind is SettingKind.VERSION_MAP:
        return {p.value: v for p, v in value}
    if s.kind in (SettingKind.TEXT_LIST, SettingKind.WIFI_LIST):
        return list(value)
    return value


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One setting that differs between two settings objects.

    Attributes:
        key: The setting (``group.name``), or the path of an extra (``escalation``).
        group: The group's label.
        label: The setting's label.
        old: The old value in words.
        new: The new value in words.
    """

    key: str
    group: str
    label: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.group} › {self.label}: {self.old} → {self.new}"


def describe_changes(old: Any, new: Any) -> tuple[SettingChange, ...]:
    """The settings whose values differ between ``old`` and ``new`` (JSON form), in the editor's order."""
    old_values, old_extras = setting_json_values(old)
    new_values, new_extras = setting_json_values(new)
    changes: list[SettingChange] = []
    for s in SETTING_SPECS:
        a, b = old_values[s.key], new_values[s.key]
        if _raw(a) != _raw(b):
            changes.append(SettingChange(s.key, group_label(s.group), s.label, format_value(s, a), format_value(s, b)))
    for path in sorted(set(old_extras) | set(new_extras)):
        a, b = old_extras.get(path), new_extras.get(path)
        if _raw(a) != _raw(b):
            group, _, name = path.partition(".")
            label = name.replace("_", " ").capitalize() if name else "Settings of this group"
            changes.extend(_extra_changes(path, group_label(group), label, a, b))
    return tuple(changes)


def _extra_changes(path: str, group: str, label: str, old: Any, new: Any) -> list[SettingChange]:
    """Changes inside a group the settings model does not know, key by key when both sides are objects."""
    if old is None and isinstance(new, Mapping):
        old = {}
    if new is None and isinstance(old, Mapping):
        new = {}
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for name in sorted(set(old) | set(new)):
            a, b = old.get(name), new.get(name)
            if _raw(a) != _raw(b):
                words = name.replace("_", " ").capitalize()
                out.append(
                    SettingChange(
                        f"{path}.{name}", group, words, _extra_words(a, name in old), _extra_words(b, name in new)
                    )
                )
        return out
    return [SettingChange(path, group, label, _extra_words(old, old is not None), _extra_words(new, new is not None))]


def _extra_words(value: Any, present: bool) -> str:
    if not present:
        return "Not set"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value) if isinstance(value, int | str) else _raw(value)
