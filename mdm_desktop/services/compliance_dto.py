"""Frozen data the compliance engine returns: per-rule outcomes, re-evaluation results, what-if, trends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mdm_desktop.domain.devices import ComplianceState, Platform


@dataclass(frozen=True, slots=True)
class RuleOutcomeInfo:
    """One rule's outcome for one device, as the device detail shows it.

    Attributes:
        rule_id: Stable rule id (``"health.max_patch_age"``).
        label: The rule in words ("Security patch age").
        status: ``passing``, ``failing``, ``unknown`` or ``exempt``.
        detail: The reason in words ("Android security patch 2026-03-01 is 267 days old; policy allows 90.").
        failing_since: When the rule started failing (``None`` unless failing).
        in_grace: Failing, but still within the rule's grace period.
        citations: The sources of the settings behind the rule ("DISA STIG GOOG-15-010800", ...).
    """

    rule_id: str
    label: str
    status: str
    detail: str
    failing_since: dt.datetime | None
    in_grace: bool
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceCompliance:
    """A device's compliance state and every rule behind it."""

    device_id: int
    state: ComplianceState
    rules: tuple[RuleOutcomeInfo, ...]
    evaluated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ReevaluationResult:
    """What a batch re-evaluation did.

    Attributes:
        devices: Devices evaluated.
        changed: Devices whose compliance state changed.
        transitions: ``((from, to), count)`` for each kind of state change, most frequent first.
        by_state: Devices per state after the run (of those evaluated).
        seconds: Wall time of the run.
    """

    devices: int
    changed: int
    transitions: tuple[tuple[tuple[str, str], int], ...]
    by_state: tuple[tuple[ComplianceState, int], ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class RuleImpact:
    """How one rule changed by a draft would affect the devices the policy is assigned to.

    Attributes:
        rule_id: Stable rule id.
        label: The rule in words.
        change: ``added`` (the draft turns it on), ``changed`` (its threshold changed) or ``removed``.
        before: The rule as currently published, in words ("policy allows 120 days"), ``""`` when added.
        after: The rule as the draft states it, ``""`` when removed.
        failing_now: Assigned devices failing it now (with the published versions).
        failing_after: Assigned devices that would fail it with the draft published.
        newly_failing: Devices that pass (or are not covered) now and would fail with the draft.
        unknown_after: Devices whose data cannot tell (not reported, or stale check-in).
        exempt_after: Devices that would fail but hold an active exception for the rule.
    """

    rule_id: str
    label: str
    change: str
    before: str
    after: str
    failing_now: int
    failing_after: int
    newly_failing: int
    unknown_after: int
    exempt_after: int


@dataclass(frozen=True, slots=True)
class EscalationForecast:
    """Escalation steps that would become due at once for devices newly failing a rule with the draft.

    Attributes:
        rule_id: The rule.
        step: ``notify``, ``quarantine``, ``lock`` or ``wipe``.
        devices: Devices for which the step would be due immediately after publishing.
        after: When the step becomes due after the rule starts failing, in words ("at once", "after 7 days").
    """

    rule_id: str
    step: str
    devices: int
    after: str


@dataclass(frozen=True, slots=True)
class WhatIfReport:
    """The effect of publishing a draft, before it is published (read-only; nothing is written).

    Devices "assigned" are those in the groups (and ownership scopes) where any version of the policy is
    assigned now; each is evaluated with the settings of every policy that applies to it, merged (most
    restrictive wins), once as published and once with this policy's draft in place of its assigned version.

    Attributes:
        policy_id: The policy.
        policy_name: Its name.
        compared_with: The published version number the draft is compared with (``None``: never published).
        devices_assigned: Devices the policy applies to now.
        changed_settings: Setting keys whose values differ between the draft and ``compared_with``.
        rules: One entry per rule that changes, in rule order.
        by_state_now: Assigned devices per compliance state now.
        by_state_after: The same, with the draft published.
        escalations: Escalation steps that would be due at once (empty when the policy has no escalation
            settings, or the escalation module is not available).
        notes: Things worth knowing ("The policy is not assigned to any group; no device is affected.").
    """

    policy_id: int
    policy_name: str
    compared_with: int | None
    devices_assigned: int
    changed_settings: tuple[str, ...]
    rules: tuple[RuleImpact, ...]
    by_state_now: tuple[tuple[ComplianceState, int], ...]
    by_state_after: tuple[tuple[ComplianceState, int], ...]
    escalations: tuple[EscalationForecast, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Devices per compliance state on one day."""

    day: dt.date
    counts: tuple[tuple[ComplianceState, int], ...]


@dataclass(frozen=True, slots=True)
class RuleFailureCount:
    """Devices failing (and exempted from) one rule now."""

    rule_id: str
    label: str
    failing: int
    exempt: int


@dataclass(frozen=True, slots=True)
class ComplianceTrend:
    """Daily snapshots for the dashboard's trend chart, and today's failures per rule.

    Attributes:
        days: One point per day that has a snapshot, oldest first (days without one are absent).
        platform: The platform counted, or ``None`` for all.
        failing_by_rule: Failing devices per rule now, most failing first.
    """

    days: tuple[TrendPoint, ...]
    platform: Platform | None
    failing_by_rule: tuple[RuleFailureCount, ...]
