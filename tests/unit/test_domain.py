"""Pure domain rules: version ordering, compliance evaluation, account input checks."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from mdm_desktop.domain.accounts import ROLE_PERMISSIONS, Permission, Principal, Role, password_problems
from mdm_desktop.domain.compliance import DeviceHealth, HealthRules, evaluate
from mdm_desktop.domain.devices import ComplianceState, Platform, version_sort_key

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)

versions = st.lists(st.integers(min_value=0, max_value=9999), min_size=1, max_size=4)


@given(versions, versions)
def test_version_key_orders_like_integer_tuples(a: list[int], b: list[int]) -> None:
    pad = lambda v: tuple(v + [0] * (4 - len(v)))  # noqa: E731
    ka, kb = version_sort_key(".".join(map(str, a))), version_sort_key(".".join(map(str, b)))
    assert (ka < kb) == (pad(a) < pad(b))
    assert (ka == kb) == (pad(a) == pad(b))


def test_version_key_examples() -> None:
    assert version_sort_key("9.1") < version_sort_key("17.2") < version_sort_key("17.10")
    assert version_sort_key("") == version_sort_key("0")


def healthy(**changes: object) -> DeviceHealth:
    base = {
        "platform": Platform.ANDROID,
        "os_version": "16",
        "security_patch": dt.date(2026, 11, 1),
        "compromised": False,
        "storage_encrypted": True,
        "passcode_set": True,
        "last_checkin": NOW - dt.timedelta(hours=2),
    }
    base.update(changes)
    return DeviceHealth(**base)  # type: ignore[arg-type]


def test_healthy_device_is_compliant() -> None:
    result = evaluate(healthy(), HealthRules(), NOW)
    assert result.state is ComplianceState.COMPLIANT
    assert result.reasons == ()


def test_old_patch_reason_in_words() -> None:
    result = evaluate(healthy(security_patch=dt.date(2026, 3, 1)), HealthRules(max_patch_age_days=90), NOW)
    assert result.state is ComplianceState.NON_COMPLIANT
    assert result.reasons == ("Android security patch 2026-03-01 is 267 days old; policy allows 90.",)


def test_each_failing_rule_gives_a_reason() -> None:
    result = evaluate(
        healthy(compromised=True, storage_encrypted=False, passcode_set=False, os_version="12"),
        HealthRules(min_os_version={Platform.ANDROID: "14"}),
        NOW,
    )
    assert result.state is ComplianceState.NON_COMPLIANT
    assert len(result.reasons) == 4
    assert "rooted" in result.reasons[0]


def test_stale_or_never_checked_in_is_unknown() -> None:
    assert evaluate(healthy(last_checkin=None), HealthRules(), NOW).state is ComplianceState.UNKNOWN
    stale = evaluate(healthy(last_checkin=NOW - dt.timedelta(days=30)), HealthRules(), NOW)
    assert stale.state is ComplianceState.UNKNOWN
    assert "30 days ago" in stale.reasons[0]


def test_permission_table_matches_roles() -> None:
    officer = Principal("user", 1, "so", Role.SECURITY_OFFICER)
    helpdesk = Principal("user", 2, "hd", Role.HELPDESK)
    assert officer.can(Permission.AUDIT_READ)
    assert not officer.can(Permission.COMMANDS_SEND)
    assert not helpdesk.can(Permission.DEVICES_READ_IDENTIFIERS)
    assert ROLE_PERMISSIONS[Role.ADMINISTRATOR] == frozenset(Permission)
    assert Principal.system().can(Permission.USERS_MANAGE)


def test_password_rules() -> None:
    assert password_problems("short", "bob")
    assert password_problems("alice-is-my-password", "alice")
    assert password_problems("aaaaaaaaaaaaaaaa", "bob")
    assert password_problems("x" * 300, "bob")
    assert password_problems("purple staple ferry 9", "bob") == []
    # NFKC: full-width letters count the same on set and check
    assert password_problems("ｐｕｒｐｌｅ staple ferry", "bob") == []
