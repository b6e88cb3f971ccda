"""Console accounts, roles and the one declarative permission table.

Every service decision goes through :func:`role_allows`. The GUI only reflects
the same table (to hide or disable actions); the services enforce it.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass


class Permission(enum.StrEnum):
    """One thing a console user may do."""

    DEVICES_READ = "devices.read"
    DEVICES_READ_IDENTIFIERS = "devices.read_identifiers"
    DEVICES_WRITE = "devices.write"
    COMMANDS_SEND = "commands.send"
    COMMANDS_SEND_DESTRUCTIVE = "commands.send_destructive"
    POLICIES_READ = "policies.read"
    POLICIES_WRITE = "policies.write"
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    AUDIT_READ = "audit.read"
    REPORTS_READ = "reports.read"
    USERS_MANAGE = "users.manage"
    KEYS_MANAGE = "keys.manage"
    SETTINGS_MANAGE = "settings.manage"


class Role(enum.StrEnum):
    """Built-in roles (DESIGN.md section 1, issue 4)."""

    ADMINISTRATOR = "administrator"
    IT_TECHNICIAN = "it_technician"
    HELPDESK = "helpdesk"
    SECURITY_OFFICER = "security_officer"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return self.value.replace("_", " ").replace("it ", "IT ").capitalize().replace("It ", "IT ")


_READ_ALL = frozenset(
    {
        Permission.DEVICES_READ,
        Permission.DEVICES_READ_IDENTIFIERS,
        Permission.POLICIES_READ,
        Permission.CATALOG_READ,
        Permission.AUDIT_READ,
        Permission.REPORTS_READ,
    }
)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.IT_TECHNICIAN: frozenset(
        {
            Permission.DEVICES_READ,
            Permission.DEVICES_READ_IDENTIFIERS,
            Permission.DEVICES_WRITE,
            Permission.COMMANDS_SEND,
            Permission.COMMANDS_SEND_DESTRUCTIVE,
            Permission.POLICIES_READ,
            Permission.POLICIES_WRITE,
            Permission.CATALOG_READ,
            Permission.CATALOG_WRITE,
            Permission.REPORTS_READ,
        }
    ),
    Role.HELPDESK: frozenset(
        {
            Permission.DEVICES_READ,
            Permission.COMMANDS_SEND,
            Permission.POLICIES_READ,
            Permission.CATALOG_READ,
        }
    ),
    Role.SECURITY_OFFICER: _READ_ALL,
}


def role_allows(role: Role, permission: Permission) -> bool:
    """Return whether ``role`` holds ``permission`` according to the table."""
    return permission in ROLE_PERMISSIONS[role]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling a service: a signed-in user, a device, or the system."""

    kind: str
    id: int | None
    name: str
    role: Role | None
    workstation: str = ""

    def can(self, permission: Permission) -> bool:
        """Return whether this principal holds ``permission``."""
        if self.kind == "system":
            return True
        return self.role is not None and role_allows(self.role, permission)

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        """A principal for set-up, migrations and background jobs."""
        return cls(kind="system", id=None, name=name, role=None)


MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
USERNAME_MAX_LENGTH = 64


def normalize_password(password: str) -> str:
    """Normalise a password the same way on set and on check (NFKC)."""
    return unicodedata.normalize("NFKC", password)


def password_problems(password: str, username: str, min_length: int = MIN_PASSWORD_LENGTH) -> list[str]:
    """Return reasons ``password`` is unacceptable; an empty list means it is fine.

    Args:
        password: The candidate password as typed.
        username: The account name; a password built on it is refused.
        min_length: The site's minimum length (never below 8).

    Returns:
        Plain-words problems, empty when the password is acceptable.
    """
    problems: list[str] = []
    pw = normalize_password(password)
    if len(pw) < max(8, min_length):
        problems.append(f"Use at least {max(8, min_length)} characters.")
    if len(pw) > MAX_PASSWORD_LENGTH:
        problems.append(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if username and username.casefold() in pw.casefold():
        problems.append("Do not build the password on the user name.")
    if pw and len(set(pw)) <= 2:
        problems.append("Use more than one or two different characters.")
    return problems


def username_problems(username: str) -> list[str]:
    """Return reasons ``username`` is unacceptable."""
    problems: list[str] = []
    if not username or not username.strip():
        problems.append("Enter a user name.")
    elif len(username) > USERNAME_MAX_LENGTH:
        problems.append(f"Use at most {USERNAME_MAX_LENGTH} characters for the user name.")
    elif not all(c.isalnum() or c in "._-@" for c in username):
        problems.append("Use only letters, digits and . _ - @ in the user name.")
    return problems
