"""Read-only views of policies for the editor: the settings a device group really gets, and why.

When several policies reach one device (through its group, for all devices or for its ownership
type), each setting takes the most restrictive value (:func:`~mdm_desktop.domain.policy_settings.merge_settings`);
:func:`effective_view` says, per setting, which policy won and by which rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.policy_settings import SETTING_SPECS, PolicySettings, check_settings, merge_settings
from mdm_desktop.domain.policy_words import MERGE_RULE_WORDS, format_value, group_label, setting_json_values


@dataclass(frozen=True, slots=True)
class EffectiveSetting:
    """One setting as a device gets it.

    Attributes:
        key: The setting (``group.name``).
        group: Its group's label.
        label: Its label.
        value: The value in words.
        sources: The policies whose own value it is (several when they agree or when a list is combined).
        rule: How the most restrictive value is chosen, in words.
        contested: Whether the policies state different values (the rule decided).
    """

    key: str
    group: str
    label: str
    value: str
    sources: tuple[str, ...]
    rule: str
    contested: bool


@dataclass(frozen=True, slots=True)
class EffectiveSettings:
    """What the devices of one group and ownership type get from every policy assigned to them.

    Attributes:
        group_id: The device group.
        group_name: Its name.
        ownership: The ownership type.
        policies: Labels of the assigned policy versions ("Ward phones v3 (all devices)").
        settings: Every setting, in the editor's order (empty when nothing is assigned).
        conflicts: Clashes the merge had to resolve, in words.
        unreadable: Assigned versions whose settings the console cannot read (left out of the merge).
    """

    group_id: int
    group_name: str
    ownership: Ownership
    policies: tuple[str, ...]
    settings: tuple[EffectiveSetting, ...]
    conflicts: tuple[str, ...]
    unreadable: tuple[str, ...] = ()


def effective_view(
    group_id: int, group_name: str, ownership: Ownership, assigned: Sequence[tuple[str, dict[str, Any]]]
) -> EffectiveSettings:
    """Merge ``assigned`` (``(label, settings JSON)`` per policy version) into :class:`EffectiveSettings`."""
    readable: list[tuple[str, PolicySettings]] = []
    unreadable: list[str] = []
    for label, data in assigned:
        checked = check_settings(data)
        if checked.settings is None:
            unreadable.append(label)
        else:
            readable.append((label, checked.settings))
    labels = tuple(label for label, _ in assigned)
    if not readable:
        return EffectiveSettings(group_id, group_name, ownership, labels, (), (), tuple(unreadable))
    merged = merge_settings(readable)
    values, _ = setting_json_values(merged.settings.to_dict())
    settings = []
    for s in SETTING_SPECS:
        distinct = {repr(p.value(s.key)) for _, p in readable}
        settings.append(
            EffectiveSetting(
                key=s.key,
                group=group_label(s.group),
                label=s.label,
                value=format_value(s, values[s.key]),
                sources=merged.sources.get(s.key, ()),
                rule=MERGE_RULE_WORDS[s.merge],
                contested=len(distinct) > 1,
            )
        )
    return EffectiveSettings(
        group_id, group_name, ownership, labels, tuple(settings), merged.conflicts, tuple(unreadable)
    )
