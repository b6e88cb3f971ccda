"""Compliance rules derived from a published policy, as pure functions of a device's reported state.

:func:`rules_for` turns the (merged) settings that apply to a device into the rules its platform can be
checked against: one :class:`Rule` per requirement whose data the device reports (passcode set, screen
lock on, storage encrypted, not jailbroken or rooted, OS version, security patch age, check-in age, work container, each
required and each blocked app, apps outside the allow lists, a required OS version by a date). Each rule
has a stable id (``"health.max_patch_age"``, ``"apps.required:com.medchart.ehr.mobile"``), a label, the
settings and citations behind it, the requirement in words, and ``check(state, now)`` returning a
:class:`RuleOutcome`: passing, failing (perhaps still within a grace period), unknown (not reported) or
not applicable.

:func:`evaluate` runs a rule set over one device: a rule that passes on a stale check-in becomes unknown
(its data may no longer be true), a rule that fails on it stays failing (the last thing known); a device
that has never checked in is unknown on every rule. The device's state follows from the outcomes:
non-compliant if any rule fails outside its grace period, in grace if every failing rule is still within
its grace, unknown if any rule is unknown, compliant otherwise. Exempt outcomes (an approved exception)
count as passing.

Pure Python: no I/O, no Qt, no SQL.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from mdm_desktop.domain.devices import ComplianceState, Ownership, Platform, version_sort_key
from mdm_desktop.domain.policy_settings import MOBILE, Citation, PolicySettings, spec

APP_FIELDS = ("apps", "managed_apps")
"""What the app rules read."""


class RuleStatus(enum.StrEnum):
    """A rule's outcome for one device (``NOT_APPLICABLE`` is never stored)."""

    PASSING = "passing"
    FAILING = "failing"
    UNKNOWN = "unknown"
    EXEMPT = "exempt"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        """In words."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    RuleStatus.PASSING: "Passing",
    RuleStatus.FAILING: "Failing",
    RuleStatus.UNKNOWN: "Unknown",
    RuleStatus.EXEMPT: "Exempt",
    RuleStatus.NOT_APPLICABLE: "Not applicable",
}


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What a device reported that the rules read (``None``: the device could not report it).

    Attributes:
        apps: Identifiers of installed apps. The engine may pass only the apps some rule looks at
            (required, blocked, or outside an allow list); every rule gives the same outcome either way.
        managed_apps: Those of ``apps`` installed as managed apps.
    """

    platform: Platform
    ownership: Ownership
    os_version: str
    security_patch: dt.date | None
    compromised: bool | None
    storage_encrypted: bool | None
    passcode_set: bool | None
    managed_container: bool | None
    last_checkin: dt.datetime | None
    apps: frozenset[str] = frozenset()
    managed_apps: frozenset[str] = frozenset()
    screen_lock_enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """A rule's outcome and its reason in words.

    Attributes:
        grace_until: For a failing rule still within its grace period, the last day of the grace.
        stale: Unknown only because the device's data is stale (it passed on the last data reported).
    """

    status: RuleStatus
    detail: str
    grace_until: dt.date | None = None
    stale: bool = False

    @property
    def in_grace(self) -> bool:
        """Failing, but within the rule's grace period."""
        return self.status is RuleStatus.FAILING and self.grace_until is not None


Check = Callable[[DeviceState, dt.datetime], RuleOutcome]


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One requirement of a policy a device can be checked against.

    Attributes:
        rule_id: Stable id (at most 64 characters), e.g. ``"passcode.required"``.
        label: The rule in words ("Passcode set").
        requirement: What the policy asks, in words ("Security patch at most 90 days old"); two rules
            with the same id and requirement check the same thing.
        settings: The setting keys the rule comes from.
        citations: The sources of those settings.
        check: ``check(state, now)``; pure.
        stale_after_days: On the check-in rule only: after how many days without a check-in the
            device's data is stale.
        reads: The :class:`DeviceState` fields ``check`` reads besides the platform and ownership (and
            the check-in time, which :func:`check_rules` handles): devices alike in these fields get the
            same outcome, which lets the engine evaluate each distinct value once.
    """

    rule_id: str
    label: str
    requirement: str
    settings: tuple[str, ...]
    citations: tuple[Citation, ...]
    check: Check
    stale_after_days: int | None = None
    reads: tuple[str, ...] = ()

    @property
    def reads_apps(self) -> bool:
        """Whether ``check`` reads the installed apps."""
        return "apps" in self.reads

    def same_as(self, other: Rule) -> bool:
        """Whether ``other`` checks the same thing (same id and requirement)."""
        return self.rule_id == other.rule_id and self.requirement == other.requirement


# -- rule ids -----------------------------------------------------------------------------------------------------

PASSCODE_REQUIRED = "passcode.required"
SCREEN_LOCK = "passcode.screen_lock"
ENCRYPTION_REQUIRED = "encryption.required"
NO_COMPROMISED = "health.no_compromised"
MIN_OS_VERSION = "health.min_os_version"
MAX_PATCH_AGE = "health.max_patch_age"
MAX_CHECKIN_AGE = "health.max_checkin_age"
CONTAINER_REQUIRED = "container.required_byod"
CONTAINER_APPS = "container.allowed_apps"
APPS_ALLOWED = "apps.allowed"
REQUIRED_VERSION = "updates.required_version"
APP_REQUIRED_PREFIX = "apps.required:"
APP_BLOCKED_PREFIX = "apps.blocked:"

RULE_LABELS: dict[str, str] = {
    PASSCODE_REQUIRED: "Passcode set",
    SCREEN_LOCK: "Screen lock on",
    ENCRYPTION_REQUIRED: "Storage encrypted",
    NO_COMPROMISED: "Not jailbroken or rooted",
    MIN_OS_VERSION: "Minimum OS version",
    MAX_PATCH_AGE: "Security patch age",
    MAX_CHECKIN_AGE: "Recent check-in",
    CONTAINER_REQUIRED: "Work profile / managed container (BYOD)",
    CONTAINER_APPS: "Only allowed apps in the container",
    APPS_ALLOWED: "Only allowed apps",
    REQUIRED_VERSION: "Required OS version by the deadline",
}
"""Labels of the fixed rules; app rules are labelled "Required app X" / "Blocked app X"."""

RULE_IDS: tuple[str, ...] = tuple(RULE_LABELS)
"""The fixed rule ids in evaluation order (app rules follow ``apps.required:`` / ``apps.blocked:``)."""

PATCH_DATE_PLATFORMS = frozenset({Platform.ANDROID})
"""Platforms whose security patch date every device reports; elsewhere the patch rule applies when reported."""
APPLE_NO_PATCH_DATE = frozenset({Platform.IOS, Platform.IPADOS, Platform.MACOS})
"""Apple publishes no patch-level date; the OS version rules cover these platforms."""


def rule_label(rule_id: str) -> str:
    """The label of any rule id, app rules included."""
    if rule_id.startswith(APP_REQUIRED_PREFIX):
        return f"Required app {rule_id.removeprefix(APP_REQUIRED_PREFIX)}"
    if rule_id.startswith(APP_BLOCKED_PREFIX):
        return f"Blocked app {rule_id.removeprefix(APP_BLOCKED_PREFIX)}"
    return RULE_LABELS.get(rule_id, rule_id)


def app_rule_id(prefix: str, identifier: str) -> str:
    """``prefix + identifier``, shortened with a digest when longer than 64 characters."""
    rule_id = prefix + identifier
    if len(rule_id) <= 64:
        return rule_id
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:12]
    return f"{prefix}{identifier[: 64 - len(prefix) - 13]}~{digest}"


# -- outcomes -----------------------------------------------------------------------------------------------------


def _ok(detail: str) -> RuleOutcome:
    return RuleOutcome(RuleStatus.PASSING, detail)


def _fail(detail: str, grace_until: dt.date | None = None) -> RuleOutcome:
    return RuleOutcome(RuleStatus.FAILING, detail, grace_until)


def _unknown(detail: str) -> RuleOutcome:
    return RuleOutcome(RuleStatus.UNKNOWN, detail)


NOT_APPLICABLE = RuleOutcome(RuleStatus.NOT_APPLICABLE, "")


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _cites(*keys: str) -> tuple[Citation, ...]:
    seen: dict[Citation, None] = {}
    for key in keys:
        for citation in spec(key).citations:
            seen.setdefault(citation, None)
    return tuple(seen)


# -- the rules ----------------------------------------------------------------------------------------------------


def _flag_rule(
    rule_id: str,
    setting: str,
    requirement: str,
    field_name: str,
    good: bool,
    passed: str,
    failed: Callable[[DeviceState], str],
    missing: str,
) -> Rule:
    ok, none = _ok(passed), _unknown(missing)

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        value = getattr(state, field_name)
        if value is None:
            return none
        return ok if value is good else _fail(failed(state))

    return Rule(rule_id, RULE_LABELS[rule_id], requirement, (setting,), _cites(setting), check, reads=(field_name,))


def _passcode_rule() -> Rule:
    return _flag_rule(
        PASSCODE_REQUIRED,
        "passcode.required",
        "A passcode must be set",
        "passcode_set",
        True,
        "A passcode is set.",
        lambda s: "No passcode is set; policy requires one.",
        "The device did not report whether a passcode is set.",
    )


def _screen_lock_rule(minutes: int) -> Rule:
    """Screen lock on, where the device reports it (the desktop agents, the virtual fleet).

    A device that does not report its screen lock (most phones: their auto-lock follows the passcode
    profile) is not judged by this rule, so it never turns a fleet "unknown" for missing data.
    """
    setting = "passcode.auto_lock_minutes"
    ok = _ok(f"The screen locks by itself; policy auto-locks after {minutes} min.")
    failed = _fail(f"Screen lock is off; policy requires the screen to lock after {minutes} min of inactivity.")

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        value = state.screen_lock_enabled
        if value is None:
            return NOT_APPLICABLE
        return ok if value else failed

    return Rule(
        SCREEN_LOCK,
        RULE_LABELS[SCREEN_LOCK],
        f"Screen lock on (auto-lock after at most {minutes} min)",
        (setting,),
        _cites(setting),
        check,
        reads=("screen_lock_enabled",),
    )


def _encryption_rule() -> Rule:
    return _flag_rule(
        ENCRYPTION_REQUIRED,
        "encryption.required",
        "Storage must be encrypted",
        "storage_encrypted",
        True,
        "Storage is encrypted.",
        lambda s: "Storage encryption is off; policy requires it.",
        "The device did not report whether its storage is encrypted.",
    )


def _compromised_rule() -> Rule:
    return _flag_rule(
        NO_COMPROMISED,
        "device_health.block_compromised",
        "Jailbroken or rooted devices are not allowed",
        "compromised",
        False,
        "No sign of a jailbreak or root.",
        lambda s: (
            f"Device reports it is {'rooted' if s.platform is Platform.ANDROID else 'jailbroken'}; "
            "policy does not allow compromised devices."
        ),
        "The device did not report whether it is jailbroken or rooted.",
    )


def _min_os_rule(platform: Platform, minimum: str) -> Rule:
    key = version_sort_key(minimum)
    name = platform.label

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        if not state.os_version:
            return _unknown(f"The device did not report its {name} version.")
        if version_sort_key(state.os_version) < key:
            return _fail(f"{name} {state.os_version} is older than the minimum {minimum}.")
        return _ok(f"{name} {state.os_version} meets the minimum {minimum}.")

    setting = "device_health.min_os_version"
    return Rule(
        MIN_OS_VERSION,
        RULE_LABELS[MIN_OS_VERSION],
        f"{name} {minimum} or later",
        (setting,),
        _cites(setting),
        check,
        reads=("os_version",),
    )


def _patch_rule(platform: Platform, max_days: int, grace_days: int) -> Rule:
    name = platform.label
    reported_always = platform in PATCH_DATE_PLATFORMS
    grace = f" plus {_days(grace_days)} of grace" if grace_days else ""

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        patch = state.security_patch
        if patch is None:
            if reported_always:
                return _unknown(f"The device did not report its {name} security patch level.")
            return NOT_APPLICABLE
        age = (now.date() - patch).days
        if age <= max_days:
            return _ok(
                f"{name} security patch {patch.isoformat()} is {_days(max(age, 0))} old; policy allows {max_days}."
            )
        detail = f"{name} security patch {patch.isoformat()} is {_days(age)} old; policy allows {max_days}."
        if grace_days and age <= max_days + grace_days:
            until = patch + dt.timedelta(days=max_days + grace_days)
            return _fail(f"{detail} Grace period ends {until.isoformat()}.", until)
        return _fail(detail)

    keys = ("device_health.max_patch_age_days", "device_health.patch_grace_days")
    return Rule(
        MAX_PATCH_AGE,
        RULE_LABELS[MAX_PATCH_AGE],
        f"Security patch at most {_days(max_days)} old{grace}",
        keys,
        _cites(*keys),
        check,
        reads=("security_patch",),
    )


def _checkin_rule(max_days: int) -> Rule:
    ok = _ok(f"Checked in within the last {_days(max_days)}, as policy requires.")

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        last = state.last_checkin
        if last is None:
            return _unknown("The device has not checked in yet.")
        days = (now - last).days
        if days > max_days:
            return _unknown(
                f"Last check-in was {_days(days)} ago; policy allows {max_days}, so the device's state is not known."
            )
        return ok

    setting = "device_health.max_checkin_age_days"
    return Rule(
        MAX_CHECKIN_AGE,
        RULE_LABELS[MAX_CHECKIN_AGE],
        f"A check-in at least every {_days(max_days)}",
        (setting,),
        _cites(setting),
        check,
        stale_after_days=max_days,
    )


def _container_rule() -> Rule:
    ok = _ok("Clinic data is kept in a work profile / managed container.")
    corporate = NOT_APPLICABLE
    missing = _unknown("The device did not report whether it has a work profile / managed container.")
    failed = _fail("No work profile / managed container; policy requires one on personal devices.")

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        if state.ownership is not Ownership.BYOD:
            return corporate
        if state.managed_container is None:
            return missing
        return ok if state.managed_container else failed

    setting = "containerisation.work_profile_required"
    return Rule(
        CONTAINER_REQUIRED,
        RULE_LABELS[CONTAINER_REQUIRED],
        "Personal devices keep clinic data in a work profile / managed container",
        (setting,),
        _cites(setting),
        check,
        reads=("managed_container",),
    )


def _list_words(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _allowed_apps_rule(rule_id: str, setting: str, allowed: frozenset[str], managed_only: bool) -> Rule:
    where = "in the container" if rule_id == CONTAINER_APPS else "installed"
    ok = _ok(f"Only allowed apps are {where}.")

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        byod = state.ownership is Ownership.BYOD
        apps = state.managed_apps if managed_only or byod else state.apps
        outside = sorted(apps - allowed)
        if not outside:
            return ok
        return _fail(f"{_list_words(outside)} {'is' if len(outside) == 1 else 'are'} {where} but not allowed.")

    count = len(allowed)
    requirement = f"Only {count} listed app{'s' if count != 1 else ''} {where}: {', '.join(sorted(allowed))}"
    return Rule(rule_id, RULE_LABELS[rule_id], requirement, (setting,), _cites(setting), check, reads=APP_FIELDS)


def _required_app_rule(identifier: str) -> Rule:
    ok = _ok(f"{identifier} is installed.")
    unmanaged = _fail(f"Required app {identifier} is installed but not managed; install it from the clinic's catalog.")
    missing = _fail(f"Required app {identifier} is not installed.")

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        if identifier in state.managed_apps:
            return ok
        return unmanaged if identifier in state.apps else missing

    rule_id = app_rule_id(APP_REQUIRED_PREFIX, identifier)
    return Rule(
        rule_id,
        rule_label(rule_id),
        f"{identifier} installed",
        ("apps.required",),
        _cites("apps.required"),
        check,
        reads=APP_FIELDS,
    )


def _blocked_app_rule(identifier: str) -> Rule:
    ok = _ok(f"{identifier} is not installed.")
    failed = _fail(f"Blocked app {identifier} is installed; remove it.")

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        return failed if identifier in state.apps else ok

    rule_id = app_rule_id(APP_BLOCKED_PREFIX, identifier)
    return Rule(
        rule_id,
        rule_label(rule_id),
        f"{identifier} not installed",
        ("apps.blocked",),
        _cites("apps.blocked"),
        check,
        reads=APP_FIELDS,
    )


def _required_version_rule(platform: Platform, version: str, deadline: dt.date | None) -> Rule:
    key = version_sort_key(version)
    name = platform.label
    by = f" by {deadline.isoformat()}" if deadline is not None else ""

    def check(state: DeviceState, now: dt.datetime) -> RuleOutcome:
        if not state.os_version:
            return _unknown(f"The device did not report its {name} version.")
        if version_sort_key(state.os_version) >= key:
            return _ok(f"{name} {state.os_version} meets the required {version}.")
        detail = f"{name} {state.os_version} is older than the required {version}"
        if deadline is not None and now.date() <= deadline:
            return _fail(f"{detail}; update by {deadline.isoformat()}.", deadline)
        return _fail(f"{detail}{'; the deadline was ' + deadline.isoformat() if deadline else ''}.")

    keys = ("software_updates.required_version", "software_updates.required_by")
    return Rule(
        REQUIRED_VERSION,
        RULE_LABELS[REQUIRED_VERSION],
        f"{name} {version} or later{by}",
        keys,
        _cites(*keys),
        check,
        reads=("os_version",),
    )


def rules_for(settings: PolicySettings, platform: Platform) -> tuple[Rule, ...]:
    """The rules a device of ``platform`` is checked against under ``settings`` (merged policies).

    Only requirements whose data the platform reports become rules; a requirement the policy turns off
    (no passcode required, no patch age limit, empty lists) has no rule.
    """
    rules: list[Rule] = []

    def in_spec(key: str) -> bool:
        return platform in spec(key).platforms

    if settings.passcode.required and in_spec("passcode.required"):
        rules.append(_passcode_rule())
        if in_spec("passcode.auto_lock_minutes"):
            rules.append(_screen_lock_rule(settings.passcode.auto_lock_minutes))
    if settings.encryption.required and in_spec("encryption.required"):
        rules.append(_encryption_rule())
    health = settings.device_health
    if health.block_compromised and in_spec("device_health.block_compromised"):
        rules.append(_compromised_rule())
    minimum = health.min_os_for(platform)
    if minimum:
        rules.append(_min_os_rule(platform, minimum))
    if health.max_patch_age_days is not None and platform not in APPLE_NO_PATCH_DATE:
        rules.append(_patch_rule(platform, health.max_patch_age_days, health.patch_grace_days))
    if health.max_checkin_age_days is not None:
        rules.append(_checkin_rule(health.max_checkin_age_days))
    container = settings.containerisation
    if container.work_profile_required and platform in MOBILE:
        rules.append(_container_rule())
    if container.allowed_apps is not None and platform in MOBILE:
        rules.append(
            _allowed_apps_rule(CONTAINER_APPS, "containerisation.allowed_apps", frozenset(container.allowed_apps), True)
        )
    apps = settings.apps
    if apps.allowed is not None and in_spec("apps.allowed"):
        rules.append(_allowed_apps_rule(APPS_ALLOWED, "apps.allowed", frozenset(apps.allowed), False))
    required = dict(settings.software_updates.required_version).get(platform)
    if required and in_spec("software_updates.required_version"):
        rules.append(_required_version_rule(platform, required, settings.software_updates.required_by))
    if in_spec("apps.required"):
        rules.extend(_required_app_rule(app) for app in apps.required if app not in apps.blocked)
        rules.extend(_blocked_app_rule(app) for app in apps.blocked)
    return tuple(r for r in rules if not r.reads_apps) + tuple(r for r in rules if r.reads_apps)


def relevant_apps(settings: PolicySettings) -> tuple[frozenset[str], frozenset[str] | None]:
    """Which installed apps the app rules of ``settings`` look at.

    Returns:
        ``(named, allowed)``: the apps named in required or blocked lists, and the apps every allow list
        permits (``None`` when there is no allow list; then only ``named`` apps matter). An app matters when
        it is named, or when an allow list exists and it is not in ``allowed``.
    """
    named = frozenset(settings.apps.required) | frozenset(settings.apps.blocked)
    return named, (None if settings.allowed_apps() is None else frozenset(settings.allowed_apps() or ()))


# -- evaluation -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A device's state and each applicable rule's outcome (in rule order, not-applicable rules left out)."""

    state: ComplianceState
    outcomes: tuple[tuple[Rule, RuleOutcome], ...]

    def reasons(self) -> tuple[str, ...]:
        """The reasons in words: failing rules, then unknown ones (a stale check-in once), then exemptions."""
        failing = [o.detail for _, o in self.outcomes if o.status is RuleStatus.FAILING]
        unknown = [o.detail for _, o in self.outcomes if o.status is RuleStatus.UNKNOWN]
        exempt = [o.detail for _, o in self.outcomes if o.status is RuleStatus.EXEMPT]
        return tuple(failing + list(dict.fromkeys(unknown)) + exempt)


def state_of(outcomes: Iterable[RuleOutcome]) -> ComplianceState:
    """The device state that follows from its rule outcomes."""
    failing = in_grace = unknown = False
    for outcome in outcomes:
        if outcome.status is RuleStatus.FAILING:
            if outcome.grace_until is None:
                return ComplianceState.NON_COMPLIANT
            in_grace = True
            failing = True
        elif outcome.status is RuleStatus.UNKNOWN:
            unknown = True
    if failing and in_grace:
        return ComplianceState.IN_GRACE
    return ComplianceState.UNKNOWN if unknown else ComplianceState.COMPLIANT


NEVER_CHECKED_IN = "The device has not checked in yet."


def is_stale(rules: Sequence[Rule], state: DeviceState, now: dt.datetime) -> str | None:
    """Why the device's data is stale (never checked in, or longer ago than allowed), or ``None``."""
    if state.last_checkin is None:
        return NEVER_CHECKED_IN
    for rule in rules:
        if rule.stale_after_days is not None:
            days = (now - state.last_checkin).days
            if days > rule.stale_after_days:
                return f"Last check-in was {days} days ago; policy allows {rule.stale_after_days}."
    return None


def evaluate(rules: Sequence[Rule], state: DeviceState, now: dt.datetime) -> Evaluation:
    """Check ``state`` against every rule at ``now`` (UTC).

    On stale data (the last check-in older than the check-in rule allows) a passing rule becomes
    unknown, saying so; a failing rule stays failing. A device that never checked in reported nothing:
    every rule is unknown.
    """
    outcomes = check_rules(rules, state, now, is_stale(rules, state, now))
    return Evaluation(state_of(o for _, o in outcomes), outcomes)


def combine(*parts: tuple[tuple[Rule, RuleOutcome], ...]) -> Evaluation:
    """One evaluation from the outcomes of disjoint rule sets checked with :func:`check_rules`."""
    outcomes = tuple(item for part in parts for item in part)
    return Evaluation(state_of(o for _, o in outcomes), outcomes)


def check_rules(
    rules: Sequence[Rule], state: DeviceState, now: dt.datetime, stale: str | None
) -> tuple[tuple[Rule, RuleOutcome], ...]:
    """Each applicable rule's outcome; with ``stale`` (from :func:`is_stale`) passing rules become unknown."""
    outcomes: list[tuple[Rule, RuleOutcome]] = []
    for rule in rules:
        outcome = rule.check(state, now)
        if outcome.status is RuleStatus.NOT_APPLICABLE:
            continue
        if state.last_checkin is None and outcome.status is RuleStatus.FAILING:
            # Nothing was reported by the device yet (say, a record waiting for enrolment): what is
            # missing is not known to be missing, so the rule is unknown rather than failing.
            outcome = RuleOutcome(RuleStatus.UNKNOWN, NEVER_CHECKED_IN, stale=True)
        elif stale is not None and outcome.status is RuleStatus.PASSING:
            text = f"{stale} {outcome.detail}" if state.last_checkin is not None else stale
            outcome = RuleOutcome(RuleStatus.UNKNOWN, text, stale=True)
        outcomes.append((rule, outcome))
    return tuple(outcomes)


def exempt(outcome: RuleOutcome, until: dt.datetime, reason: str) -> RuleOutcome:
    """A failing or unknown outcome covered by an approved exception (a passing one is left alone)."""
    if outcome.status not in (RuleStatus.FAILING, RuleStatus.UNKNOWN):
        return outcome
    return RuleOutcome(
        RuleStatus.EXEMPT, f"Exempt until {until.date().isoformat()} ({reason}). {outcome.detail}".strip()
    )


def with_exemptions(evaluation: Evaluation, exceptions: Mapping[str, tuple[dt.datetime, str]]) -> Evaluation:
    """``evaluation`` with the rules named in ``exceptions`` (rule id -> (valid until, reason)) exempted."""
    if not exceptions:
        return evaluation
    outcomes = tuple(
        (rule, exempt(outcome, *exceptions[rule.rule_id]) if rule.rule_id in exceptions else outcome)
        for rule, outcome in evaluation.outcomes
    )
    return Evaluation(state_of(o for _, o in outcomes), outcomes)


# -- policy scope ---------------------------------------------------------------------------------------------------


def policy_applies(settings: PolicySettings, platform: Platform, ownership: Ownership) -> bool:
    """Whether a policy applies to a device, by the optional ``scope`` group (platforms, ownership) it keeps.

    Policies without a ``scope`` apply to every device of the groups they are assigned to.
    """
    text = dict(settings.extra).get("scope")
    if text is None:
        return True
    try:
        scope = json.loads(text)
    except ValueError:
        return True
    if not isinstance(scope, dict):
        return True
    platforms = scope.get("platforms")
    if isinstance(platforms, list) and platforms and platform.value not in platforms:
        return False
    owner = scope.get("ownership")
    return not (isinstance(owner, str) and owner in {o.value for o in Ownership} and owner != ownership.value)
