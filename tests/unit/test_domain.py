"""Pure domain rules: version ordering and account input checks (compliance: test_compliance_rules.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mdm_desktop.domain.accounts import ROLE_PERMISSIONS, Permission, Principal, Role, password_problems
from mdm_desktop.domain.devices import version_sort_key

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
