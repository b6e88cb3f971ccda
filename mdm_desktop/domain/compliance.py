"""Compliance rules as pure functions over a device's reported state.

Issue 7 grows this into the full engine; the foundation evaluates the health
rules a clinic needs first (encryption, passcode, integrity, OS and patch age,
check-in age) so that every device carries a state and reasons in words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mdm_desktop.domain.devices import ComplianceState, Platform, version_sort_key


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """The part of a device's reported state that compliance rules read."""

    platform: Platform
    os_version: str
    security_patch: dt.date | None
    compromised: bool | None
    storage_encrypted: bool | None
    passcode_set: bool | None
    last_checkin: dt.datetime | None


@dataclass(frozen=True, slots=True)
class HealthRules:
    """Thresholds taken from a published policy."""

    require_encryption: bool = True
    require_passcode: bool = True
    block_compromised: bool = True
    max_patch_age_days: int | None = 90
    max_checkin_age_days: int | None = 14
    min_os_version: dict[Platform, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ComplianceResult:
    """State and the reasons behind it, in words."""

    state: ComplianceState
    reasons: tuple[str, ...]


def evaluate(health: DeviceHealth, rules: HealthRules, now: dt.datetime) -> ComplianceResult:
    """Evaluate ``health`` against ``rules`` at time ``now`` (UTC).

    A device that has never checked in, or whose last check-in is older than the
    allowed age, is ``UNKNOWN`` unless a rule already fails on what it reported.
    """
    reasons: list[str] = []
    if rules.block_compromised and health.compromised:
        word = "rooted" if health.platform is Platform.ANDROID else "jailbroken"
        reasons.append(f"Device reports it is {word}; policy does not allow compromised devices.")
    if rules.require_encryption and health.storage_encrypted is False:
        reasons.append("Storage encryption is off; policy requires it.")
    if rules.require_passcode and health.passcode_set is False:
        reasons.append("No passcode is set; policy requires one.")
    minimum = rules.min_os_version.get(health.platform)
    if minimum and health.os_version and version_sort_key(health.os_version) < version_sort_key(minimum):
        reasons.append(f"{health.platform.label} {health.os_version} is older than the minimum {minimum}.")
    if rules.max_patch_age_days is not None and health.security_patch is not None:
        age = (now.date() - health.security_patch).days
        if age > rules.max_patch_age_days:
            reasons.append(
                f"{health.platform.label} security patch {health.security_patch.isoformat()} is "
                f"{age} days old; policy allows {rules.max_patch_age_days}."
            )
    if reasons:
        return ComplianceResult(ComplianceState.NON_COMPLIANT, tuple(reasons))
    if health.last_checkin is None:
        return ComplianceResult(ComplianceState.UNKNOWN, ("Device has never checked in.",))
    if rules.max_checkin_age_days is not None:
        days = (now - health.last_checkin).days
        if days > rules.max_checkin_age_days:
            return ComplianceResult(
                ComplianceState.UNKNOWN,
                (f"Last check-in was {days} days ago; state is stale after {rules.max_checkin_age_days}.",),
            )
    return ComplianceResult(ComplianceState.COMPLIANT, ())
