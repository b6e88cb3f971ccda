"""The compliance engine: evaluate devices against the policies assigned to them, one or all at once.

Which rules apply to a device: every published version assigned to its group (for all devices or its
ownership type, within the policy's optional ``scope``), merged with "most restrictive wins"
(:func:`~mdm_desktop.domain.policy_settings.merge_settings`), turned into rules for its platform
(:func:`~mdm_desktop.domain.compliance_rules.rules_for`). A device without any assigned policy is held
to the default settings.

What is stored: ``devices.compliance_state`` / ``compliance_reasons``, and one ``device_rule_states``
row per rule that does **not** pass (``failing``, ``unknown`` or ``exempt``); a passing rule has no row,
nor has a rule that is unknown only because the check-in is stale (``health.max_checkin_age`` is then
unknown and says so).
``failing_since`` is kept while a rule goes on failing. Active exceptions (approved, not revoked, not
expired; for the device or its group) turn failing and unknown outcomes into ``exempt``.

Batch re-evaluation (:func:`reevaluate_scope`) is set-based: devices are read in chunks as column
tuples, evaluated in Python (devices reporting the same state share one evaluation), and the changes
written with one executemany statement per kind of change. It runs inside the caller's transaction:
:meth:`PolicyService.assign` calls it for the group it assigns to, so the assignment and the new
states commit together, under the assignment's one audit entry.

Check-ins call :func:`evaluate_device` for the device checking in. The first check-in of each UTC day
takes the day's snapshot (:func:`ensure_snapshot`) for the dashboard's trend chart.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.compliance_rules import (
    NEVER_CHECKED_IN,
    DeviceState,
    Evaluation,
    Rule,
    RuleOutcome,
    RuleStatus,
    check_rules,
    combine,
    evaluate,
    policy_applies,
    relevant_apps,
    rule_label,
    rules_for,
    with_exemptions,
)
from mdm_desktop.domain.devices import ComplianceState, Ownership, Platform
from mdm_desktop.domain.errors import NotFoundError, ValidationError
from mdm_desktop.domain.policy_settings import (
    PolicySettings,
    SettingsError,
    check_settings,
    merge_settings,
)
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.compliance_dto import (
    ComplianceTrend,
    DeviceCompliance,
    ReevaluationResult,
    RuleFailureCount,
    RuleOutcomeInfo,
    TrendPoint,
    WhatIfReport,
)
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.repositories import policies as policy_repo
from mdm_desktop.store.repositories import rule_states as repo
from mdm_desktop.store.schema import Device
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

CHUNK = 5000
"""Devices read, evaluated and written per step of a batch."""

BATCH_CACHE_KIB = 128 * 1024
"""SQLite page cache for a batch (KiB)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called after each chunk (from the worker thread)."""

_PLATFORMS = {p.value: p for p in Platform}
_OWNERSHIPS = {o.value: o for o in Ownership}
_STORED = frozenset({RuleStatus.FAILING, RuleStatus.UNKNOWN, RuleStatus.EXEMPT})


@dataclass(frozen=True, slots=True)
class Scope:
    """Which devices a batch covers: all active devices, or those of some groups, or some devices."""

    group_ids: frozenset[int] | None = None
    device_ids: frozenset[int] | None = None


EVERY_DEVICE = Scope()


# -- settings and profiles ----------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> PolicySettings:
    checked = check_settings(json.loads(text))
    if checked.settings is None:
        log.warning("A published policy version has invalid settings; the defaults apply: %s", checked.problems[0])
        return PolicySettings()
    return checked.settings


def parse_published(settings: Mapping[str, Any] | None) -> PolicySettings:
    """Typed settings of a stored version (cached by content; the defaults when invalid)."""
    return _parse_cached(json.dumps(settings or {}, sort_keys=True))


@dataclass(frozen=True, slots=True)
class _Assigned:
    group_id: int
    ownership: str | None
    version_id: int
    policy_id: int
    policy_name: str
    version: int
    settings: PolicySettings


@dataclass(slots=True, eq=False)
class Profile:
    """The rules that apply to one kind of device (group, ownership, platform), and where they come from."""

    rules: tuple[Rule, ...]
    version_of_rule: dict[str, int | None]
    named_apps: frozenset[str]
    allowed_apps: frozenset[str] | None
    policies: tuple[_Assigned, ...]
    stale_after: int | None = None
    cutoff: tuple[dt.datetime, str] | None = None
    cache: dict[tuple[int, ...], Outcome] = field(default_factory=dict)
    parts: tuple[tuple[Callable[[Any], Any] | None, tuple[Rule, ...], dict[Any, Any]], ...] = ()

    def __post_init__(self) -> None:
        groups: dict[tuple[str, ...], list[Rule]] = {}
        for rule in self.rules:
            reads = tuple(sorted(rule.reads))
            if set(reads) <= _FLAGS:  # yes/no answers have few combinations: one group for all of them
                reads = tuple(sorted(_FLAGS))
            groups.setdefault(reads, []).append(rule)
        self.parts = tuple((_reader(reads), tuple(rules), {}) for reads, rules in groups.items())


@lru_cache(maxsize=256)
def _merged(
    items: tuple[tuple[str, PolicySettings], ...],
) -> tuple[PolicySettings, tuple[tuple[str, tuple[str, ...]], ...]]:
    merged = merge_settings(items)
    return merged.settings, tuple(merged.sources.items())


@lru_cache(maxsize=1024)
def _rules(settings: PolicySettings, platform: Platform) -> tuple[Rule, ...]:
    return rules_for(settings, platform)


class Profiles:
    """Builds (and caches) the :class:`Profile` of each (group, ownership, platform).

    Args:
        rows: Assignment rows from :func:`repo.assignments`.
        override: Settings to use instead of a policy's assigned version, by policy id (what-if).
    """

    def __init__(self, rows: Sequence[Any], override: Mapping[int, PolicySettings] | None = None) -> None:
        self._by_group: dict[int, list[_Assigned]] = defaultdict(list)
        override = override or {}
        for group_id, ownership, version_id, policy_id, name, version, settings, _at in rows:
            typed = override.get(policy_id) or parse_published(settings)
            self._by_group[group_id].append(_Assigned(group_id, ownership, version_id, policy_id, name, version, typed))
        self._cache: dict[tuple[int | None, str, str], Profile] = {}

    def assigned(self, group_id: int | None, ownership: Ownership, platform: Platform) -> tuple[_Assigned, ...]:
        """The assignments that apply to a device (by group, ownership and the policies' scopes)."""
        if group_id is None:
            return ()
        return tuple(
            a
            for a in self._by_group.get(group_id, ())
            if (a.ownership is None or a.ownership == ownership.value)
            and policy_applies(a.settings, platform, ownership)
        )

    def get(self, group_id: int | None, ownership: Ownership, platform: Platform) -> Profile:
        """The profile of a device of this group, ownership and platform."""
        key = (group_id, ownership.value, platform.value)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._build(self.assigned(group_id, ownership, platform), platform)
        return found

    @staticmethod
    def _build(policies: tuple[_Assigned, ...], platform: Platform) -> Profile:
        settings: PolicySettings
        sources: tuple[tuple[str, Any], ...]
        if not policies:
            settings, sources = PolicySettings(), ()
        else:
            settings, sources = _merged(tuple((str(a.version_id), a.settings) for a in policies))
        rules = _rules(settings, platform)
        source_of: dict[str, Any] = dict(sources)
        version_of_rule: dict[str, int | None] = {}
        for rule in rules:
            labels = source_of.get(rule.settings[0], ())
            version_of_rule[rule.rule_id] = int(labels[0]) if labels else None
        named, allowed = relevant_apps(settings)
        stale_after = next((r.stale_after_days for r in rules if r.stale_after_days is not None), None)
        return Profile(rules, version_of_rule, named, allowed, policies, stale_after)


# -- evaluating one device ----------------------------------------------------------------------------------------


_COLUMN = {
    "os_version": 4,
    "security_patch": 5,
    "compromised": 6,
    "storage_encrypted": 7,
    "passcode_set": 8,
    "managed_container": 9,
    "screen_lock_enabled": 13,
}
"""Where each :class:`DeviceState` field a rule reads sits in a row of :data:`repo.DEVICE_COLUMNS`."""
_FLAGS = frozenset({"compromised", "storage_encrypted", "passcode_set", "managed_container", "screen_lock_enabled"})


def _reader(reads: tuple[str, ...]) -> Callable[[Any], Any] | None:
    """A function taking a row to the raw values ``reads`` names (``None`` for the apps, passed apart)."""
    if "apps" in reads:
        return None
    return itemgetter(*(_COLUMN[name] for name in reads)) if reads else _nothing


def _nothing(row: Any) -> None:
    return None


ExceptionMap = Mapping[str, tuple[dt.datetime, str]]
"""Active exceptions of one device: rule id -> (valid until, reason)."""


@dataclass(slots=True)
class Exceptions:
    """Active exceptions, by device and by group."""

    by_device: dict[int, dict[str, tuple[dt.datetime, str]]] = field(default_factory=dict)
    by_group: dict[int, dict[str, tuple[dt.datetime, str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, now: dt.datetime) -> Exceptions:
        """Every active exception."""
        found = cls()
        found.add(repo.active_exceptions(session, now))
        return found

    def add(self, rows: Sequence[Any]) -> None:
        """Take ``(device_id, group_id, rule_id, valid_until, reason)`` rows (the later expiry wins)."""
        for device_id, group_id, rule_id, until, reason in rows:
            target = self.by_device.setdefault(device_id, {}) if device_id is not None else None
            if target is None:
                target = self.by_group.setdefault(group_id, {})
            known = target.get(rule_id)
            if known is None or known[0] < until:
                target[rule_id] = (until, reason)

    def of(self, device_id: int, group_id: int | None) -> ExceptionMap:
        """The exceptions covering a device (its own and its group's; the later expiry wins)."""
        mine = self.by_device.get(device_id)
        group = self.by_group.get(group_id) if group_id is not None else None
        if not group:
            return mine or {}
        if not mine:
            return group
        merged = dict(group)
        for rule_id, value in mine.items():
            if rule_id not in merged or merged[rule_id][0] < value[0]:
                merged[rule_id] = value
        return merged


@dataclass(frozen=True, slots=True)
class Outcome:
    """An evaluation with what is stored of it, computed once and shared by devices in the same state."""

    evaluation: Evaluation
    stored: dict[str, tuple[str, str]]
    state: str
    reasons: list[str]
    reasons_json: str

    @classmethod
    def of(cls, evaluation: Evaluation) -> Outcome:
        """Wrap ``evaluation``."""
        reasons = list(evaluation.reasons())
        return cls(evaluation, _stored_rows(evaluation), evaluation.state.value, reasons, json.dumps(reasons))


def _stale_reason(profile: Profile, checkin: Any, now: dt.datetime) -> str | None:
    """Why the device's data is stale (a raw check-in value), or ``None`` when it is fresh."""
    if checkin is None:
        return NEVER_CHECKED_IN
    if profile.stale_after is None:
        return None
    if profile.cutoff is None:
        # days > N  <=>  now - last >= N + 1 days  <=>  last <= now - (N + 1) days
        moment = now - dt.timedelta(days=profile.stale_after + 1)
        profile.cutoff = (moment, moment.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"))
    if (checkin > profile.cutoff[1]) if isinstance(checkin, str) else (checkin > profile.cutoff[0]):
        return None
    last = repo.as_utc(checkin)
    assert last is not None
    return f"Last check-in was {(now - last).days} days ago; policy allows {profile.stale_after}."


def _evaluate_row(profile: Profile, row: Any, apps: tuple[frozenset[str], frozenset[str]], now: dt.datetime) -> Outcome:
    """Evaluate a row of :data:`repo.DEVICE_COLUMNS`, sharing work between devices alike.

    The profile's rules are grouped by the fields they read (:attr:`Rule.reads`); each group's outcomes
    are cached by the raw values of those fields (and the staleness), and each combination of groups is
    wrapped into an :class:`Outcome` once. A device costs a few dictionary lookups; the row is parsed
    into a :class:`DeviceState` only when some group meets values it has not seen.
    """
    stale = _stale_reason(profile, row[10], now)
    state: DeviceState | None = None
    parts = []
    for read, rules, cache in profile.parts:
        key = (apps if read is None else read(row), stale)
        part = cache.get(key)
        if part is None:
            if state is None:
                state = _device_state(row, *apps)
            part = cache[key] = check_rules(rules, state, now, stale)
        parts.append(part)
    combination = tuple(map(id, parts))
    found = profile.cache.get(combination)
    if found is None:
        found = profile.cache[combination] = Outcome.of(combine(*parts))
    return found


def _stored_rows(evaluation: Evaluation) -> dict[str, tuple[str, str]]:
    """The rule states kept: failing, exempt and unknown, except rules unknown only from a stale check-in.

    The check-in rule's own row says why the device is unknown; the device detail shows every rule live.
    """
    return {
        rule.rule_id: (outcome.status.value, outcome.detail)
        for rule, outcome in evaluation.outcomes
        if outcome.status in _STORED and not outcome.stale
    }


@dataclass(slots=True)
class _Writes:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, session: Session) -> None:
        repo.write_states(session, self.inserts, self.updates, self.deletes)
        repo.write_device_states(session, self.devices)
        self.inserts, self.updates, self.deletes, self.devices = [], [], [], []


def _diff(
    writes: _Writes,
    device_id: int,
    new: Mapping[str, tuple[str, str]],
    old: Mapping[str, tuple[str, str]],
    profile: Profile,
    now: dt.datetime,
) -> None:
    """Queue the rule-state changes of one device (``failing_since`` kept while a rule goes on failing)."""
    for rule_id, (status, detail) in new.items():
        before = old.get(rule_id)
        if before is None:
            writes.inserts.append(
                {
                    "device_id": device_id,
                    "rule_id": rule_id,
                    "status": status,
                    "failing_since": now if status == "failing" else None,
                    "detail": detail,
                    "policy_version_id": profile.version_of_rule.get(rule_id),
                    "evaluated_at": now,
                }
            )
            continue
        old_status, old_detail = before
        if old_status == status and old_detail == detail:
            continue
        change: dict[str, Any] = {
            "k_device": device_id,
            "k_rule": rule_id,
            "status": status,
            "detail": detail,
            "policy_version_id": profile.version_of_rule.get(rule_id),
            "evaluated_at": now,
        }
        if status != "failing" or old_status != "failing":  # still failing: the stored failing_since stays
            change["failing_since"] = now if status == "failing" else None
        writes.updates.append(change)
    for rule_id in old:
        if rule_id not in new:
            writes.deletes.append({"k_device": device_id, "k_rule": rule_id})


def _device_state(row: Any, apps: frozenset[str], managed: frozenset[str]) -> DeviceState:
    return DeviceState(
        platform=_PLATFORMS[row[1]],
        ownership=_OWNERSHIPS.get(row[2], Ownership.CORPORATE),
        os_version=row[4] or "",
        security_patch=repo.as_date(row[5]),
        compromised=row[6],
        storage_encrypted=row[7],
        passcode_set=row[8],
        managed_container=row[9],
        last_checkin=repo.as_utc(row[10]),
        apps=apps,
        managed_apps=managed,
        screen_lock_enabled=row[13],
    )


# -- batch ----------------------------------------------------------------------------------------------------------


def _chunks(session: Session, scope: Scope, size: int) -> Any:
    after = 0
    while True:
        rows = repo.device_chunk(session, after, size, group_ids=scope.group_ids, device_ids=scope.device_ids)
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _count(session: Session, scope: Scope) -> int:
    query = select(func.count(Device.id)).where(Device.status.not_in(repo.INACTIVE))
    if scope.group_ids is not None:
        query = query.where(Device.group_id.in_(list(scope.group_ids)))
    if scope.device_ids is not None:
        query = query.where(Device.id.in_(list(scope.device_ids)))
    return int(session.execute(query).scalar_one())


def _apps_by_device(
    session: Session, device_ids: Sequence[int], profiles: Sequence[Profile], sets: dict[str | None, frozenset[str]]
) -> dict[int, tuple[frozenset[str], frozenset[str]]]:
    """The apps each device has that some rule of ``profiles`` looks at (``sets`` interns the sets)."""
    named: set[str] = set()
    allowed: set[str] | None = None
    for profile in profiles:
        named |= profile.named_apps
        if profile.allowed_apps is not None:
            allowed = set(profile.allowed_apps) if allowed is None else allowed & profile.allowed_apps
    if not named and allowed is None:
        return {}

    def as_set(joined: str | None) -> frozenset[str]:
        found = sets.get(joined)
        if found is None:
            found = sets[joined] = frozenset(joined.split(repo.APP_SEPARATOR)) if joined else frozenset()
        return found

    return {
        device_id: (as_set(every), as_set(managed))
        for device_id, every, managed in repo.apps_of(session, device_ids, named, allowed)
    }


_NO_APPS: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
_EMPTY: dict[str, tuple[str, str]] = {}


def reevaluate_scope(
    session: Session,
    now: dt.datetime,
    scope: Scope = EVERY_DEVICE,
    progress: Progress | None = None,
    *,
    chunk: int = CHUNK,
) -> ReevaluationResult:
    """Re-evaluate every active device in ``scope`` inside the caller's transaction (writes no audit entry).

    Callers record the one audit entry of their use case (it may carry :func:`summary_details`). The
    cyclic garbage collector is paused meanwhile: a batch allocates millions of short-lived tuples and
    nothing cyclic, and full collections over them cost more than the evaluation itself.
    """
    if session.get_bind().dialect.name == "sqlite":
        # A batch touches far more pages than SQLite's default 2 MB page cache holds; without room it
        # spills pages to the WAL mid-transaction and reads them back. The setting stays with the
        # pooled connection, which is harmless (memory is taken only as pages are used).
        session.connection().exec_driver_sql(f"PRAGMA cache_size = -{BATCH_CACHE_KIB}")
    with _gc_paused():
        return _reevaluate(session, now, scope, progress, chunk)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _reevaluate(
    session: Session, now: dt.datetime, scope: Scope, progress: Progress | None, chunk: int
) -> ReevaluationResult:
    started = time.perf_counter()
    total = _count(session, scope) if progress is not None else 0
    profiles = Profiles(repo.assignments(session))
    exceptions = Exceptions.load(session, now)
    writes = _Writes()
    app_sets: dict[str | None, frozenset[str]] = {}
    transitions: Counter[tuple[str, str]] = Counter()
    by_state: Counter[str] = Counter()
    done = 0
    for rows in _chunks(session, scope, chunk):
        chunk_profiles = [
            profiles.get(r[3], _OWNERSHIPS.get(r[2], Ownership.CORPORATE), _PLATFORMS[r[1]]) for r in rows
        ]
        device_ids = [r[0] for r in rows]
        apps = _apps_by_device(session, device_ids, list({id(p): p for p in chunk_profiles}.values()), app_sets)
        old: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
        for device_id, rule_id, status, detail in repo.states_of(session, device_ids):
            old[device_id][rule_id] = (status, detail)
        for row, profile in zip(rows, chunk_profiles, strict=True):
            device_id = row[0]
            outcome = _evaluate_row(profile, row, apps.get(device_id, _NO_APPS), now)
            excepted = exceptions.of(device_id, row[3])
            if excepted:
                outcome = Outcome.of(with_exemptions(outcome.evaluation, excepted))
            before = old.get(device_id, _EMPTY)
            if outcome.stored != before:  # most devices: nothing changed, compared in C
                _diff(writes, device_id, outcome.stored, before, profile, now)
            new_state = outcome.state
            by_state[new_state] += 1
            if new_state != row[11]:
                transitions[(row[11], new_state)] += 1
            if new_state != row[11] or outcome.reasons_json != row[12]:
                writes.devices.append({"k_id": device_id, "state": new_state, "reasons": outcome.reasons})
        writes.flush(session)
        done += len(rows)
        if progress is not None:
            progress(done, max(total, done))
    return ReevaluationResult(
        devices=done,
        changed=sum(transitions.values()),
        transitions=tuple(transitions.most_common()),
        by_state=tuple((s, by_state.get(s.value, 0)) for s in ComplianceState),
        seconds=time.perf_counter() - started,
    )


def summary_details(result: ReevaluationResult) -> dict[str, Any]:
    """What an audit entry records of a re-evaluation."""
    return {
        "devices": result.devices,
        "changed": result.changed,
        "transitions": {f"{a}->{b}": n for (a, b), n in result.transitions},
    }


# -- one device (check-in) ------------------------------------------------------------------------------------------


def _device_apps(session: Session, device_id: int) -> tuple[frozenset[str], frozenset[str]]:
    rows = repo.apps_of_device(session, device_id)
    return frozenset(r[0] for r in rows), frozenset(r[0] for r in rows if r[1])


def _profile_of(session: Session, group_id: int | None, ownership: Ownership, platform: Platform) -> Profile:
    rows = repo.assignments_of_group(session, group_id) if group_id is not None else []
    return Profiles(rows).get(group_id, ownership, platform)


def _exceptions_of(session: Session, device_id: int, group_id: int | None, now: dt.datetime) -> ExceptionMap:
    found = Exceptions()
    found.add(repo.exceptions_of_device(session, device_id, group_id, now))
    return found.of(device_id, group_id)


def evaluate_device(session: Session, device: Device, now: dt.datetime) -> tuple[Evaluation, Profile]:
    """Evaluate one device (an ORM row in ``session``) and store the outcome, inside the caller's transaction.

    Sets ``device.compliance_state`` and ``compliance_reasons`` and writes its rule states. Writes no audit
    entry (the check-in records a change of state).
    """
    ownership = _OWNERSHIPS.get(device.ownership, Ownership.CORPORATE)
    platform = _PLATFORMS[device.platform]
    profile = _profile_of(session, device.group_id, ownership, platform)
    apps, managed = _device_apps(session, device.id)
    state = DeviceState(
        platform=platform,
        ownership=ownership,
        os_version=device.os_version or "",
        security_patch=device.security_patch,
        compromised=device.compromised,
        storage_encrypted=device.storage_encrypted,
        passcode_set=device.passcode_set,
        managed_container=device.managed_container,
        last_checkin=device.last_checkin_at,
        apps=apps,
        managed_apps=managed,
        screen_lock_enabled=device.screen_lock_enabled,
    )
    evaluation = evaluate(profile.rules, state, now)
    excepted = _exceptions_of(session, device.id, device.group_id, now)
    if excepted:
        evaluation = with_exemptions(evaluation, excepted)
    old = {r[1]: (r[2], r[3]) for r in repo.states_of_device(session, device.id)}
    writes = _Writes()
    _diff(writes, device.id, _stored_rows(evaluation), old, profile, now)
    repo.write_states(session, writes.inserts, writes.updates, writes.deletes)
    device.compliance_state = evaluation.state.value
    device.compliance_reasons = list(evaluation.reasons())
    return evaluation, profile


def ensure_snapshot(session: Session, day: dt.date) -> bool:
    """Take ``day``'s snapshot unless it exists (the first check-in of a UTC day does). Returns whether it did."""
    if repo.snapshot_exists(session, day):
        return False
    repo.take_snapshot(session, day, replace=False)
    return True


# -- the service ----------------------------------------------------------------------------------------------------


def _outcome_info(rule: Rule, outcome: RuleOutcome, since: dt.datetime | None) -> RuleOutcomeInfo:
    return RuleOutcomeInfo(
        rule_id=rule.rule_id,
        label=rule.label,
        status=outcome.status.value,
        detail=outcome.detail,
        failing_since=since if outcome.status is RuleStatus.FAILING else None,
        in_grace=outcome.in_grace,
        citations=tuple(str(c) for c in rule.citations),
    )


class ComplianceEngine:
    """Console use cases of the engine: re-evaluate, a device's rules, what-if, snapshots and trends."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    @mutating("compliance.reevaluate")
    def reevaluate(
        self, actor: Principal, group_id: int | None = None, progress: Progress | None = None
    ) -> ReevaluationResult:
        """Re-evaluate every active device (or one group's) now, in one transaction; one audit entry.

        Raises:
            NotFoundError: ``group_id`` names no group.
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "compliance.reevaluate", target=str(group_id or ""))
        now = self._clock()
        with self._uow(write=True) as uow:
            scope = EVERY_DEVICE
            target = "all"
            if group_id is not None:
                group = policy_repo.get_group(uow, group_id)
                if group is None:
                    raise NotFoundError(f"Device group {group_id} does not exist.", hint="Refresh the group list.")
                scope, target = Scope(group_ids=frozenset({group_id})), group.name
            result = reevaluate_scope(uow.session, now, scope, progress)
            self._audit.record(
                uow,
                actor,
                "compliance.reevaluate",
                target_kind="device_group" if group_id is not None else "fleet",
                target=target,
                details=summary_details(result),
            )
            uow.commit()
        return result

    def device_compliance(self, actor: Principal, device_id: int) -> DeviceCompliance:
        """Every rule that applies to a device with its outcome now, in words (read-only)."""
        self._guard.require(actor, Permission.DEVICES_READ, "devices.view", target=str(device_id))
        with self._uow() as uow:
            found = device_compliance_in(uow.session, device_id, self._clock())
        if found is None:
            raise NotFoundError(f"Device {device_id} does not exist.", hint="Refresh the device list.")
        return found

    def what_if(
        self, actor: Principal, policy_id: int, draft_settings: Mapping[str, Any] | None = None
    ) -> WhatIfReport:
        """How publishing a draft would change compliance of the devices the policy is assigned to (read-only).

        Args:
            actor: The signed-in user (needs ``POLICIES_READ``).
            policy_id: The policy.
            draft_settings: The draft to try (``None``: the policy's stored draft).

        Raises:
            NotFoundError: No such policy.
            SettingsError: The draft is not valid (every problem listed).
        """
        self._guard.require(actor, Permission.POLICIES_READ, "policies.view", target=str(policy_id))
        now = self._clock()
        with self._uow() as uow:
            policy = policy_repo.get_policy(uow, policy_id)
            if policy is None:
                raise NotFoundError(f"Policy {policy_id} does not exist.", hint="Refresh the policy list.")
            raw = policy.draft_settings if draft_settings is None else draft_settings
            if not isinstance(raw, Mapping):
                raise ValidationError("The draft settings must be a set of named values.")
            checked = check_settings(dict(raw))
            if checked.settings is None:
                raise SettingsError(checked.problems)
            latest = policy_repo.latest_version(uow, policy.id)
            from mdm_desktop.services.compliance_whatif import run_what_if

            return run_what_if(uow.session, policy.id, policy.name, latest, checked.settings, now)

    def snapshot(self, day: dt.date | None = None) -> int:
        """Take (or retake) the snapshot of ``day`` (default today, UTC); idempotent. Returns devices counted.

        A system task (no actor, no audit entry, like a check-in's bookkeeping): the gateway takes each
        day's snapshot at the first check-in of the day; this retakes it with the current states.
        """
        when = day or self._clock().date()
        with self._uow(write=True) as uow:
            counted = repo.take_snapshot(uow.session, when, replace=True)
            uow.commit()
        return counted

    def trend(self, actor: Principal, days: int = 30, platform: Platform | None = None) -> ComplianceTrend:
        """Devices per state for each of the last ``days`` days that has a snapshot, and failures by rule now."""
        if not actor.can(Permission.REPORTS_READ):
            self._guard.require(actor, Permission.DEVICES_READ, "compliance.trend")
        if not 1 <= days <= 3650:
            raise ValidationError("The trend covers 1 to 3650 days.")
        since = self._clock().date() - dt.timedelta(days=days - 1)
        with self._uow() as uow:
            history = repo.state_history(uow.session, since, platform.value if platform else None)
            by_rule = repo.failing_by_rule(uow.session, platform.value if platform else None)
        per_day: dict[dt.date, dict[str, int]] = defaultdict(dict)
        for day, state, n in history:
            per_day[day][state] = int(n or 0)
        points = tuple(
            TrendPoint(day, tuple((s, counts.get(s.value, 0)) for s in ComplianceState))
            for day, counts in sorted(per_day.items())
        )
        failing = sorted(
            (RuleFailureCount(r, rule_label(r), int(f or 0), int(e or 0)) for r, f, e in by_rule),
            key=lambda c: (-c.failing, -c.exempt, c.rule_id),
        )
        return ComplianceTrend(points, platform, tuple(failing))


def device_compliance_in(session: Session, device_id: int, now: dt.datetime) -> DeviceCompliance | None:
    """A device's rules and outcomes now (read-only), with ``failing_since`` from the stored states."""
    row = session.connection().execute(select(*repo.DEVICE_COLUMNS).where(Device.id == device_id)).first()
    if row is None:
        return None
    ownership = _OWNERSHIPS.get(row[2], Ownership.CORPORATE)
    platform = _PLATFORMS[row[1]]
    profile = _profile_of(session, row[3], ownership, platform)
    state = _device_state(row, *_device_apps(session, device_id))
    evaluation = evaluate(profile.rules, state, now)
    excepted = _exceptions_of(session, device_id, row[3], now)
    if excepted:
        evaluation = with_exemptions(evaluation, excepted)
    since = repo.failing_since_of(session, device_id)
    infos = tuple(_outcome_info(rule, outcome, since.get(rule.rule_id)) for rule, outcome in evaluation.outcomes)
    return DeviceCompliance(device_id, evaluation.state, infos, now)


__all__ = [
    "CHUNK",
    "EVERY_DEVICE",
    "ComplianceEngine",
    "Profiles",
    "Progress",
    "Scope",
    "device_compliance_in",
    "ensure_snapshot",
    "evaluate_device",
    "parse_published",
    "reevaluate_scope",
    "summary_details",
]
