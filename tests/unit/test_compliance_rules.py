"""The compliance rules: property tests of the rule functions, and each baseline against passing and failing devices."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mdm_desktop.domain.compliance_rules import (
    APP_BLOCKED_PREFIX,
    APP_REQUIRED_PREFIX,
    APPS_ALLOWED,
    CONTAINER_APPS,
    CONTAINER_REQUIRED,
    ENCRYPTION_REQUIRED,
    MAX_CHECKIN_AGE,
    MAX_PATCH_AGE,
    MIN_OS_VERSION,
    NO_COMPROMISED,
    PASSCODE_REQUIRED,
    REQUIRED_VERSION,
    SCREEN_LOCK,
    DeviceState,
    RuleStatus,
    app_rule_id,
    evaluate,
    policy_applies,
    rules_for,
    state_of,
    with_exemptions,
)
from mdm_desktop.domain.devices import ComplianceState, Ownership, Platform, version_sort_key
from mdm_desktop.domain.policy_baselines import BASELINES, Baseline
from mdm_desktop.domain.policy_settings import PolicySettings, merge_settings, parse_settings

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
RANK = {
    ComplianceState.COMPLIANT: 0,
    ComplianceState.UNKNOWN: 1,
    ComplianceState.IN_GRACE: 2,
    ComplianceState.NON_COMPLIANT: 3,
}


def healthy(platform: Platform, ownership: Ownership = Ownership.CORPORATE, **changes: object) -> DeviceState:
    """A device that reports everything a policy could want."""
    state = DeviceState(
        platform=platform,
        ownership=ownership,
        os_version="99.0",
        security_patch=NOW.date() - dt.timedelta(days=3),
        compromised=False,
        storage_encrypted=True,
        passcode_set=True,
        managed_container=True,
        last_checkin=NOW - dt.timedelta(hours=2),
        screen_lock_enabled=True,
    )
    return dataclasses.replace(state, **changes)  # type: ignore[arg-type]


def statuses(rules_settings: PolicySettings, state: DeviceState) -> dict[str, RuleStatus]:
    evaluation = evaluate(rules_for(rules_settings, state.platform), state, NOW)
    return {rule.rule_id: outcome.status for rule, outcome in evaluation.outcomes}


# -- strategies -------------------------------------------------------------------------------------------------------

platforms = st.sampled_from(list(Platform))
ownerships = st.sampled_from(list(Ownership))
tri = st.sampled_from([True, False, None])
versions = st.lists(st.integers(0, 30), min_size=1, max_size=3).map(lambda p: ".".join(map(str, p)))
REQUIRED_POOL = ["com.medchart.ehr.mobile", "com.carelink.securemessaging", "org.clinic.vpn"]
BLOCKED_POOL = ["com.whatsapp", "com.dropbox.android", "com.zhiliaoapp.musically"]
apps = st.frozensets(st.sampled_from(REQUIRED_POOL + BLOCKED_POOL + ["com.android.chrome"]))


@st.composite
def device_states(draw: st.DrawFn) -> DeviceState:
    installed = draw(apps)
    return DeviceState(
        platform=draw(platforms),
        ownership=draw(ownerships),
        os_version=draw(st.one_of(st.just(""), versions)),
        security_patch=draw(st.one_of(st.none(), st.dates(dt.date(2024, 1, 1), NOW.date()))),
        compromised=draw(tri),
        storage_encrypted=draw(tri),
        passcode_set=draw(tri),
        managed_container=draw(tri),
        last_checkin=draw(st.one_of(st.none(), st.integers(0, 90 * 24).map(lambda h: NOW - dt.timedelta(hours=h)))),
        apps=installed,
        managed_apps=frozenset(a for a in installed if draw(st.booleans())),
        screen_lock_enabled=draw(tri),
    )


@st.composite
def policy_settings(draw: st.DrawFn) -> PolicySettings:
    data: dict[str, dict[str, Any]] = {
        "passcode": {"required": draw(st.booleans())},
        "encryption": {"required": draw(st.booleans())},
        "device_health": {
            "block_compromised": draw(st.booleans()),
            "min_os_version": draw(st.dictionaries(st.sampled_from(["ios", "android", "windows"]), versions)),
            "max_patch_age_days": draw(st.one_of(st.none(), st.integers(1, 365))),
            "max_checkin_age_days": draw(st.one_of(st.none(), st.integers(1, 60))),
        },
        "containerisation": {"work_profile_required": draw(st.booleans())},
        "apps": {
            "required": draw(st.lists(st.sampled_from(REQUIRED_POOL), unique=True)),
            "blocked": draw(st.lists(st.sampled_from(BLOCKED_POOL), unique=True)),
        },
    }
    if data["device_health"]["max_patch_age_days"] is not None:
        data["device_health"]["patch_grace_days"] = draw(st.integers(0, 90))
    if not data["passcode"]["required"]:
        data["encryption"]["required"] = False  # the cross-check: encryption needs a passcode
    return parse_settings(data)


# -- properties -----------------------------------------------------------------------------------------------------


@given(policy_settings(), device_states())
def test_state_follows_from_outcomes(policy: PolicySettings, state: DeviceState) -> None:
    evaluation = evaluate(rules_for(policy, state.platform), state, NOW)
    found = [o for _, o in evaluation.outcomes]
    assert all(o.status is not RuleStatus.NOT_APPLICABLE for o in found)
    hard = any(o.status is RuleStatus.FAILING and o.grace_until is None for o in found)
    soft = any(o.in_grace for o in found)
    unknown = any(o.status is RuleStatus.UNKNOWN for o in found)
    assert (evaluation.state is ComplianceState.NON_COMPLIANT) == hard
    assert (evaluation.state is ComplianceState.IN_GRACE) == (soft and not hard)
    assert (evaluation.state is ComplianceState.UNKNOWN) == (unknown and not hard and not soft)
    assert evaluation.state is not ComplianceState.COMPLIANT or not evaluation.reasons()
    assert all(o.detail for o in found)  # every outcome says why, in words


@given(policy_settings(), device_states())
def test_rule_ids_are_unique_and_short(policy: PolicySettings, state: DeviceState) -> None:
    ids = [r.rule_id for r in rules_for(policy, state.platform)]
    assert len(ids) == len(set(ids))
    assert all(len(i) <= 64 for i in ids)


@given(policy_settings(), device_states())
def test_stale_or_missing_checkin_never_passes(policy: PolicySettings, state: DeviceState) -> None:
    limit = policy.device_health.max_checkin_age_days
    stale = state.last_checkin is None or (limit is not None and (NOW - state.last_checkin).days > limit)
    assume(stale)
    evaluation = evaluate(rules_for(policy, state.platform), state, NOW)
    assert all(o.status is not RuleStatus.PASSING for _, o in evaluation.outcomes)
    assert evaluation.state is not ComplianceState.COMPLIANT or not evaluation.outcomes


@given(st.integers(1, 365), st.integers(0, 90), st.dates(dt.date(2024, 1, 1), NOW.date()))
def test_patch_age_rule(max_days: int, grace: int, patch: dt.date) -> None:
    policy = parse_settings(
        {"device_health": {"max_patch_age_days": max_days, "patch_grace_days": grace, "max_checkin_age_days": None}}
    )
    state = healthy(Platform.ANDROID, security_patch=patch)
    outcome = next(
        o for r, o in evaluate(rules_for(policy, Platform.ANDROID), state, NOW).outcomes if r.rule_id == MAX_PATCH_AGE
    )
    age = (NOW.date() - patch).days
    assert (outcome.status is RuleStatus.FAILING) == (age > max_days)
    assert outcome.in_grace == (max_days < age <= max_days + grace)
    assert patch.isoformat() in outcome.detail
    assert f"policy allows {max_days}" in outcome.detail


@given(versions, versions, platforms)
def test_min_os_rule(reported: str, minimum: str, platform: Platform) -> None:
    policy = parse_settings({"device_health": {"min_os_version": {platform.value: minimum}}})
    got = statuses(policy, healthy(platform, os_version=reported))
    failing = version_sort_key(reported) < version_sort_key(minimum)
    assert got[MIN_OS_VERSION] is (RuleStatus.FAILING if failing else RuleStatus.PASSING)


@given(policy_settings(), policy_settings(), device_states())
@settings(max_examples=150)
def test_merging_another_policy_never_makes_a_device_pass_more(
    a: PolicySettings, b: PolicySettings, state: DeviceState
) -> None:
    merged = merge_settings([("a", a), ("b", b)]).settings
    alone = evaluate(rules_for(a, state.platform), state, NOW)
    both = evaluate(rules_for(merged, state.platform), state, NOW)
    failing_alone = {r.rule_id for r, o in alone.outcomes if o.status is RuleStatus.FAILING}
    failing_both = {r.rule_id for r, o in both.outcomes if o.status is RuleStatus.FAILING}
    assert failing_alone <= failing_both
    if alone.state is ComplianceState.NON_COMPLIANT:
        assert both.state is ComplianceState.NON_COMPLIANT


@given(policy_settings(), device_states(), st.data())
def test_exemptions_never_make_a_device_worse(policy: PolicySettings, state: DeviceState, data: st.DataObject) -> None:
    evaluation = evaluate(rules_for(policy, state.platform), state, NOW)
    ids = [r.rule_id for r, _ in evaluation.outcomes]
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    until = NOW + dt.timedelta(days=30)
    exempted = with_exemptions(evaluation, dict.fromkeys(chosen, (until, "Clinical trial device")))
    assert RANK[exempted.state] <= RANK[evaluation.state]
    for (rule, before), (_, after) in zip(evaluation.outcomes, exempted.outcomes, strict=True):
        if rule.rule_id in chosen and before.status in (RuleStatus.FAILING, RuleStatus.UNKNOWN):
            assert after.status is RuleStatus.EXEMPT
            assert "Clinical trial device" in after.detail
        else:
            assert after == before
    if set(ids) == set(chosen):
        assert exempted.state is ComplianceState.COMPLIANT


def test_state_of_examples() -> None:
    assert state_of([]) is ComplianceState.COMPLIANT


def test_long_app_ids_are_shortened_stably() -> None:
    long = "com." + "a" * 120 + ".app"
    rule_id = app_rule_id(APP_REQUIRED_PREFIX, long)
    assert len(rule_id) <= 64
    assert rule_id == app_rule_id(APP_REQUIRED_PREFIX, long)
    assert rule_id != app_rule_id(APP_REQUIRED_PREFIX, long + "x")


def test_detail_in_words_example() -> None:
    policy = parse_settings({"device_health": {"max_patch_age_days": 90}})
    state = healthy(Platform.ANDROID, security_patch=dt.date(2026, 3, 1))
    evaluation = evaluate(rules_for(policy, Platform.ANDROID), state, NOW)
    assert "Android security patch 2026-03-01 is 279 days old; policy allows 90." in evaluation.reasons()
    assert evaluation.state is ComplianceState.NON_COMPLIANT


def test_apple_devices_have_no_patch_rule_and_windows_only_when_reported() -> None:
    policy = parse_settings({})
    assert MAX_PATCH_AGE not in statuses(policy, healthy(Platform.IOS, security_patch=None))
    assert MAX_PATCH_AGE not in statuses(policy, healthy(Platform.WINDOWS, security_patch=None))
    assert statuses(policy, healthy(Platform.ANDROID, security_patch=None))[MAX_PATCH_AGE] is RuleStatus.UNKNOWN


def test_required_version_is_in_grace_until_its_deadline() -> None:
    policy = parse_settings({"software_updates": {"required_version": {"ios": "26.1"}, "required_by": "2026-12-31"}})
    old = healthy(Platform.IOS, os_version="18.6")
    evaluation = evaluate(rules_for(policy, Platform.IOS), old, NOW)
    assert evaluation.state is ComplianceState.IN_GRACE
    later = evaluate(rules_for(policy, Platform.IOS), old, NOW + dt.timedelta(days=30))
    assert {r.rule_id: o.status for r, o in later.outcomes}[REQUIRED_VERSION] is RuleStatus.FAILING
    assert later.state is ComplianceState.NON_COMPLIANT


def test_policy_scope_extra() -> None:
    scoped = parse_settings({"scope": {"platforms": ["ios", "android"], "ownership": "byod"}})
    assert policy_applies(scoped, Platform.IOS, Ownership.BYOD)
    assert not policy_applies(scoped, Platform.WINDOWS, Ownership.BYOD)
    assert not policy_applies(scoped, Platform.IOS, Ownership.CORPORATE)
    assert policy_applies(parse_settings({}), Platform.LINUX, Ownership.CORPORATE)


# -- every baseline against devices that pass and fail each rule ---------------------------------------------------

Breaker = Callable[[DeviceState, PolicySettings], DeviceState]


def _missing_required(state: DeviceState, policy: PolicySettings, app: str) -> DeviceState:
    return dataclasses.replace(state, apps=state.apps - {app}, managed_apps=state.managed_apps - {app})


FIXED_BREAKERS: dict[str, Breaker] = {
    PASSCODE_REQUIRED: lambda s, p: dataclasses.replace(s, passcode_set=False),
    SCREEN_LOCK: lambda s, p: dataclasses.replace(s, screen_lock_enabled=False),
    ENCRYPTION_REQUIRED: lambda s, p: dataclasses.replace(s, storage_encrypted=False),
    NO_COMPROMISED: lambda s, p: dataclasses.replace(s, compromised=True),
    MIN_OS_VERSION: lambda s, p: dataclasses.replace(s, os_version="1.0"),
    MAX_PATCH_AGE: lambda s, p: dataclasses.replace(s, security_patch=NOW.date() - dt.timedelta(days=400)),
    CONTAINER_REQUIRED: lambda s, p: dataclasses.replace(s, managed_container=False),
    CONTAINER_APPS: lambda s, p: dataclasses.replace(
        s, apps=s.apps | {"com.example.game"}, managed_apps=s.managed_apps | {"com.example.game"}
    ),
    APPS_ALLOWED: lambda s, p: dataclasses.replace(
        s, apps=s.apps | {"com.example.game"}, managed_apps=s.managed_apps | {"com.example.game"}
    ),
    REQUIRED_VERSION: lambda s, p: dataclasses.replace(s, os_version="1.0"),
}


def _compliant_device(baseline: Baseline, platform: Platform) -> DeviceState:
    policy = baseline.policy_settings()
    required = frozenset(policy.apps.required)
    return healthy(platform, baseline.ownership or Ownership.CORPORATE, apps=required, managed_apps=required)


CASES = [(b, p) for b in BASELINES for p in sorted(b.platforms)]


@pytest.mark.parametrize(("baseline", "platform"), CASES, ids=[f"{b.name}-{p.value}" for b, p in CASES])
def test_baseline_passes_a_compliant_device(baseline: Baseline, platform: Platform) -> None:
    policy = baseline.policy_settings()
    evaluation = evaluate(rules_for(policy, platform), _compliant_device(baseline, platform), NOW)
    assert evaluation.state is ComplianceState.COMPLIANT, evaluation.reasons()
    assert {o.status for _, o in evaluation.outcomes} == {RuleStatus.PASSING}
    assert len(evaluation.outcomes) >= 5


@pytest.mark.parametrize(("baseline", "platform"), CASES, ids=[f"{b.name}-{p.value}" for b, p in CASES])
def test_baseline_fails_a_device_breaking_each_rule(baseline: Baseline, platform: Platform) -> None:
    policy = baseline.policy_settings()
    good = _compliant_device(baseline, platform)
    rules = rules_for(policy, platform)
    checked = 0
    for rule in rules:
        if rule.rule_id == MAX_CHECKIN_AGE:
            bad = dataclasses.replace(good, last_checkin=NOW - dt.timedelta(days=400))
            evaluation = evaluate(rules, bad, NOW)
            assert evaluation.state is ComplianceState.UNKNOWN, (rule.rule_id, evaluation.reasons())
            checked += 1
            continue
        if rule.rule_id.startswith(APP_REQUIRED_PREFIX):
            bad = _missing_required(good, policy, rule.rule_id.removeprefix(APP_REQUIRED_PREFIX))
        elif rule.rule_id.startswith(APP_BLOCKED_PREFIX):
            app = rule.rule_id.removeprefix(APP_BLOCKED_PREFIX)
            bad = dataclasses.replace(good, apps=good.apps | {app})
        else:
            bad = FIXED_BREAKERS[rule.rule_id](good, policy)
        evaluation = evaluate(rules, bad, NOW)
        failing = {r.rule_id for r, o in evaluation.outcomes if o.status is RuleStatus.FAILING}
        assert rule.rule_id in failing, (rule.rule_id, evaluation.reasons())
        assert evaluation.state is ComplianceState.NON_COMPLIANT, (rule.rule_id, evaluation.reasons())
        assert any(rule.label or rule.rule_id for _ in [0])
        checked += 1
    assert checked == len(rules)


@pytest.mark.parametrize("platform", [Platform.WINDOWS, Platform.MACOS, Platform.ANDROID])
def test_screen_lock_rule_judges_only_devices_that_report_it(platform: Platform) -> None:
    policy = parse_settings({"passcode": {"required": True, "auto_lock_minutes": 5}})
    assert statuses(policy, healthy(platform))[SCREEN_LOCK] is RuleStatus.PASSING
    off = statuses(policy, healthy(platform, screen_lock_enabled=False))
    assert off[SCREEN_LOCK] is RuleStatus.FAILING
    assert SCREEN_LOCK not in statuses(policy, healthy(platform, screen_lock_enabled=None))  # not reported
    no_passcode = parse_settings({"passcode": {"required": False}, "encryption": {"required": False}})
    assert SCREEN_LOCK not in statuses(no_passcode, healthy(platform, screen_lock_enabled=False))
