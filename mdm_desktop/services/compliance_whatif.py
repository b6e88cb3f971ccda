"""What-if: how a policy draft would change the compliance of the devices the policy is assigned to.

Read-only. Every device the policy applies to now is evaluated twice, with the same batch machinery as
re-evaluation: once with the published versions assigned to it, once with the draft in place of this
policy's version. Only rules that the draft adds, removes or changes are reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mdm_desktop.domain.compliance_rules import NOT_APPLICABLE, Evaluation, Rule, RuleStatus, rules_for, with_exemptions
from mdm_desktop.domain.devices import ComplianceState, Ownership, Platform
from mdm_desktop.domain.escalation import Ladder
from mdm_desktop.domain.policy_settings import PolicySettings
from mdm_desktop.services.compliance_dto import EscalationForecast, RuleImpact, WhatIfReport
from mdm_desktop.services.compliance_engine import (
    _NO_APPS,
    _OWNERSHIPS,
    _PLATFORMS,
    CHUNK,
    Exceptions,
    Profile,
    Profiles,
    Scope,
    _apps_by_device,
    _chunks,
    _evaluate_row,
    parse_published,
)
from mdm_desktop.store.repositories import rule_states as repo
from mdm_desktop.store.schema import PolicyVersion


@dataclass(frozen=True, slots=True)
class _Change:
    rule_id: str
    before: Rule | None
    after: Rule | None


_NONE = Rule("", "", "", ("apps.required",), (), lambda s, n: NOT_APPLICABLE)


def _changes(now: Profile, after: Profile) -> tuple[_Change, ...]:
    before = {r.rule_id: r for r in now.rules}
    later = {r.rule_id: r for r in after.rules}
    changes = []
    for rule_id in list(before) + [r for r in later if r not in before]:
        a, b = before.get(rule_id), later.get(rule_id)
        if a is None or b is None or not a.same_as(b):
            changes.append(_Change(rule_id, a, b))
    return tuple(changes)


def _status(evaluation: Evaluation, rule_id: str) -> RuleStatus | None:
    for rule, outcome in evaluation.outcomes:
        if rule.rule_id == rule_id:
            return outcome.status
    return None


def run_what_if(
    session: Session,
    policy_id: int,
    policy_name: str,
    latest: PolicyVersion | None,
    draft: PolicySettings,
    now: dt.datetime,
) -> WhatIfReport:
    """The :class:`WhatIfReport` of publishing ``draft`` as the next version of ``policy_id`` (read-only)."""
    rows = repo.assignments(session)
    published = parse_published(latest.settings) if latest is not None else PolicySettings()
    changed_settings = draft.differences(published)
    groups = frozenset(r[0] for r in rows if r[3] == policy_id)
    notes: list[str] = []
    if latest is None:
        notes.append("The policy has never been published; the draft is compared with the default settings.")
    if not groups:
        notes.append("The policy is not assigned to any device group; publishing it changes no device.")
    profiles_now = Profiles(rows)
    profiles_after = Profiles(rows, override={policy_id: draft})
    exceptions = Exceptions.load(session, now)
    pair_changes: dict[tuple[int, int], tuple[_Change, ...]] = {}
    failing_now: Counter[str] = Counter()
    failing_after: Counter[str] = Counter()
    newly: Counter[str] = Counter()
    unknown_after: Counter[str] = Counter()
    exempt_after: Counter[str] = Counter()
    state_now: Counter[ComplianceState] = Counter()
    state_after: Counter[ComplianceState] = Counter()
    requirements: dict[str, tuple[dict[str, None], dict[str, None]]] = defaultdict(lambda: ({}, {}))
    labels: dict[str, str] = {}
    devices = 0
    app_sets: dict[str | None, frozenset[str]] = {}
    for chunk in _chunks(session, Scope(group_ids=groups), CHUNK) if groups else ():
        kinds = []
        for r in chunk:
            ownership, platform = _OWNERSHIPS.get(r[2], Ownership.CORPORATE), _PLATFORMS[r[1]]
            covered = any(a.policy_id == policy_id for a in profiles_now.assigned(r[3], ownership, platform))
            kinds.append(
                (profiles_now.get(r[3], ownership, platform), profiles_after.get(r[3], ownership, platform))
                if covered
                else None
            )
        every = {id(p): p for kind in kinds if kind for p in kind}
        apps = _apps_by_device(session, [r[0] for r in chunk], list(every.values()), app_sets)
        for row, kind in zip(chunk, kinds, strict=True):
            if kind is None:
                continue
            devices += 1
            now_profile, after_profile = kind
            found = apps.get(row[0], _NO_APPS)
            before = _evaluate_row(now_profile, row, found, now).evaluation
            after = _evaluate_row(after_profile, row, found, now).evaluation
            excepted = exceptions.of(row[0], row[3])
            if excepted:
                before, after = with_exemptions(before, excepted), with_exemptions(after, excepted)
            state_now[before.state] += 1
            state_after[after.state] += 1
            key = (id(now_profile), id(after_profile))
            changes = pair_changes.get(key)
            if changes is None:
                changes = pair_changes[key] = _changes(now_profile, after_profile)
            for change in changes:
                texts = requirements[change.rule_id]
                labels.setdefault(change.rule_id, (change.after or change.before or _NONE).label)
                if change.before is not None:
                    texts[0].setdefault(change.before.requirement, None)
                if change.after is not None:
                    texts[1].setdefault(change.after.requirement, None)
                was, will = _status(before, change.rule_id), _status(after, change.rule_id)
                if was is RuleStatus.FAILING:
                    failing_now[change.rule_id] += 1
                if will is RuleStatus.FAILING:
                    failing_after[change.rule_id] += 1
                    if was is not RuleStatus.FAILING:
                        newly[change.rule_id] += 1
                elif will is RuleStatus.UNKNOWN:
                    unknown_after[change.rule_id] += 1
                elif will is RuleStatus.EXEMPT:
                    exempt_after[change.rule_id] += 1
    if not requirements:
        _policy_only_changes(published, draft, requirements, labels)
    impacts = []
    for rule_id, (befores, afters) in requirements.items():
        verdict = "added" if not befores else "removed" if not afters else "changed"
        impacts.append(
            RuleImpact(
                rule_id=rule_id,
                label=labels.get(rule_id, rule_id),
                change=verdict,
                before="; ".join(befores),
                after="; ".join(afters),
                failing_now=failing_now[rule_id],
                failing_after=failing_after[rule_id],
                newly_failing=newly[rule_id],
                unknown_after=unknown_after[rule_id],
                exempt_after=exempt_after[rule_id],
            )
        )
    if groups and devices == 0:
        notes.append("No active device is in the groups the policy is assigned to.")
    return WhatIfReport(
        policy_id=policy_id,
        policy_name=policy_name,
        compared_with=latest.version if latest is not None else None,
        devices_assigned=devices,
        changed_settings=changed_settings,
        rules=tuple(impacts),
        by_state_now=tuple((s, state_now[s]) for s in ComplianceState),
        by_state_after=tuple((s, state_after[s]) for s in ComplianceState),
        escalations=_forecast(draft, newly),
        notes=tuple(notes),
    )


def _policy_only_changes(
    published: PolicySettings,
    draft: PolicySettings,
    requirements: dict[str, tuple[dict[str, None], dict[str, None]]],
    labels: dict[str, str],
) -> None:
    """Rule changes of the policy's own settings on every platform (when no device tells which apply)."""
    for platform in Platform:
        before = Profile(rules_for(published, platform), {}, frozenset(), None, ())
        after = Profile(rules_for(draft, platform), {}, frozenset(), None, ())
        for change in _changes(before, after):
            texts = requirements[change.rule_id]
            labels.setdefault(change.rule_id, (change.after or change.before or _NONE).label)
            if change.before is not None:
                texts[0].setdefault(change.before.requirement, None)
            if change.after is not None:
                texts[1].setdefault(change.after.requirement, None)


def _forecast(draft: PolicySettings, newly: Counter[str]) -> tuple[EscalationForecast, ...]:
    """The escalation steps the draft's ladder would take for the devices newly failing each changed rule.

    Every step of the ladder is listed with its delay; steps due "at once" fire as soon as the version is
    published and assigned (the others only if the rule is still failing by then).
    """
    group = getattr(draft, "escalation", None)
    if group is None or not newly:
        return ()
    ladder = Ladder.from_settings(dataclasses.asdict(group))
    out: list[EscalationForecast] = []
    for rule_id, devices in newly.items():
        if not devices:
            continue
        for step in ladder.steps_for(rule_id):
            delay = ladder.delay(step)
            assert delay is not None
            out.append(EscalationForecast(rule_id, step.value, devices, _delay_words(delay)))
    return tuple(out)


def _delay_words(delay: dt.timedelta) -> str:
    if delay <= dt.timedelta(0):
        return "at once"
    if delay < dt.timedelta(days=1):
        hours = int(delay.total_seconds() // 3600)
        return f"after {hours} hour{'s' if hours != 1 else ''}"
    return f"after {delay.days} day{'s' if delay.days != 1 else ''}"
