"""Console accounts, roles and the one declarative permission table.

Every service decision goes through :func:`role_allows`. The GUI only reflects
the same table (to hide or disable actions); the services enforce it.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mdm_desktop.domain.errors import AuthenticationError, PermissionDeniedError


class Permission(enum.StrEnum):
    """One thing a console user may do."""

    DEVICES_READ = "devices.read"
    DEVICES_READ_IDENTIFIERS = "devices.read_identifiers"
    DEVICES_WRITE = "devices.write"
    COMMANDS_SEND = "commands.send"
    COMMANDS_SEND_DESTRUCTIVE = "commands.send_destructive"
    COMMANDS_APPROVE = "commands.approve"
    POLICIES_READ = "policies.read"
    POLICIES_WRITE = "policies.write"
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    AUDIT_READ = "audit.read"
    REPORTS_READ = "reports.read"
    USERS_MANAGE = "users.manage"
    KEYS_MANAGE = "keys.manage"
    SETTINGS_MANAGE = "settings.manage"
    USERS_READ = "users.read"
    ACCESS_REQUEST = "access.request"
    ACCESS_APPROVE = "access.approve"
    EMERGENCY_REVIEW = "emergency.review"
    COMPLIANCE_EXCEPTIONS_APPROVE = "compliance.exceptions.approve"

    @property
    def label(self) -> str:
        """Plain words for the users page and access requests."""
        return PERMISSION_LABELS[self]


class Role(enum.StrEnum):
    """Built-in roles (DESIGN.md section 1, issue 4)."""

    ADMINISTRATOR = "administrator"
    IT_TECHNICIAN = "it_technician"
    HELPDESK = "helpdesk"
    SECURITY_OFFICER = "security_officer"
    CUSTOM = "custom"
    """A role composed by an administrator; its permissions live in the store, not in this table."""

    @property
    def label(self) -> str:
        """Human-readable name."""
        return self.value.replace("_", " ").replace("it ", "IT ").capitalize().replace("It ", "IT ")


BUILT_IN_ROLES: tuple[Role, ...] = (Role.ADMINISTRATOR, Role.IT_TECHNICIAN, Role.HELPDESK, Role.SECURITY_OFFICER)
"""The roles defined by this table, in display order (``Role.CUSTOM`` is not one of them)."""

PERMISSION_LABELS: Mapping[Permission, str] = {
    Permission.DEVICES_READ: "See devices and their status",
    Permission.DEVICES_READ_IDENTIFIERS: "See device identifiers, owners and location",
    Permission.DEVICES_WRITE: "Enrol, edit and remove devices",
    Permission.COMMANDS_SEND: "Send everyday commands (sync, message, lost-mode request)",
    Permission.COMMANDS_SEND_DESTRUCTIVE: "Send destructive commands (wipe, retire)",
    Permission.COMMANDS_APPROVE: "Approve another administrator's guarded commands; resume paused ones",
    Permission.POLICIES_READ: "See policies",
    Permission.POLICIES_WRITE: "Edit, publish and assign policies",
    Permission.CATALOG_READ: "See the app catalog",
    Permission.CATALOG_WRITE: "Add and distribute apps",
    Permission.AUDIT_READ: "Read the audit log",
    Permission.REPORTS_READ: "Read and export reports",
    Permission.USERS_MANAGE: "Manage console users and roles",
    Permission.KEYS_MANAGE: "Manage encryption keys",
    Permission.SETTINGS_MANAGE: "Change site settings",
    Permission.USERS_READ: "See console users and their roles",
    Permission.ACCESS_REQUEST: "Request temporary access",
    Permission.ACCESS_APPROVE: "Approve or deny access requests",
    Permission.EMERGENCY_REVIEW: "Review emergency (break-glass) sign-ins",
    Permission.COMPLIANCE_EXCEPTIONS_APPROVE: "Approve, reject and revoke exceptions from compliance rules",
}


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
            Permission.ACCESS_REQUEST,
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
            Permission.ACCESS_REQUEST,
            Permission.DEVICES_READ,
            Permission.COMMANDS_SEND,
            Permission.POLICIES_READ,
            Permission.CATALOG_READ,
        }
    ),
    Role.SECURITY_OFFICER: _READ_ALL
    | {
        Permission.USERS_READ,
        Permission.ACCESS_REQUEST,
        Permission.ACCESS_APPROVE,
        Permission.EMERGENCY_REVIEW,
        Permission.COMPLIANCE_EXCEPTIONS_APPROVE,
    },
    # A custom role's permissions come from the store (``roles`` table); the bare role grants nothing.
    Role.CUSTOM: frozenset(),
}

STEP_UP_PERMISSIONS: frozenset[Permission] = frozenset(
    {
        Permission.COMMANDS_SEND_DESTRUCTIVE,
        Permission.COMMANDS_APPROVE,
        Permission.USERS_MANAGE,
        Permission.KEYS_MANAGE,
        Permission.SETTINGS_MANAGE,
    }
)
"""Using any of these needs a fresh TOTP code (step-up) on a session-bearing principal.

Other sensitive actions that sit under a broader permission (disabling a policy) ask for step-up
explicitly through ``SessionService.require_step_up``.
"""

NOT_TEMPORARILY_GRANTABLE: frozenset[Permission] = frozenset(
    {
        Permission.USERS_MANAGE,
        Permission.KEYS_MANAGE,
        Permission.SETTINGS_MANAGE,
        Permission.ACCESS_APPROVE,
        Permission.ACCESS_REQUEST,
        Permission.EMERGENCY_REVIEW,
        Permission.COMMANDS_APPROVE,
        Permission.COMPLIANCE_EXCEPTIONS_APPROVE,
    }
)
"""Administration of the console itself is given by a role, never by a temporary access request."""

TEMPORARILY_GRANTABLE: frozenset[Permission] = frozenset(Permission) - NOT_TEMPORARILY_GRANTABLE


def parse_permissions(values: Iterable[str]) -> frozenset[Permission]:
    """Permissions named in ``values``; names this program does not know are dropped (never granted)."""
    known = {p.value: p for p in Permission}
    return frozenset(known[v] for v in values if v in known)


def role_allows(role: Role, permission: Permission) -> bool:
    """Return whether ``role`` holds ``permission`` according to the table."""
    return permission in ROLE_PERMISSIONS[role]


@dataclass(frozen=True, slots=True)
class ScopedGrant:
    """A temporary permission limited to one device group."""

    permission: Permission
    group_id: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling a service: a signed-in user, a device, or the system.

    Attributes:
        kind: ``"user"``, ``"device"`` or ``"system"``.
        id: The account's id (``None`` for the system or an unknown name).
        name: User name as it appears in the audit log.
        role: The built-in role, or ``Role.CUSTOM``.
        workstation: Host name of the console, for the audit log.
        permissions: The effective permissions when they are not simply the role's (custom role,
            unscoped temporary grants); ``None`` means "the role's row in :data:`ROLE_PERMISSIONS`".
        group_scope: Device groups the user's role applies to; ``None`` means every group.
        grants: Temporary permissions limited to one device group each.
        session_token: The console session this principal acts in (empty: no session).
        role_name: Display name of a custom role.
    """

    kind: str
    id: int | None
    name: str
    role: Role | None
    workstation: str = ""
    permissions: frozenset[Permission] | None = None
    group_scope: frozenset[int] | None = None
    grants: tuple[ScopedGrant, ...] = ()
    session_token: str = field(default="", repr=False, compare=False)
    role_name: str = ""

    @property
    def effective_permissions(self) -> frozenset[Permission]:
        """Permissions held in at least some scope."""
        if self.kind == "system":
            return frozenset(Permission)
        base = self.permissions
        if base is None:
            base = ROLE_PERMISSIONS[self.role] if self.role is not None else frozenset()
        return base | {g.permission for g in self.grants}

    def can(self, permission: Permission) -> bool:
        """Return whether this principal holds ``permission`` (in every group or in some groups).

        Services that act on group-bound data narrow the result with :meth:`groups_for`.
        """
        return permission in self.effective_permissions

    def groups_for(self, permission: Permission) -> frozenset[int] | None:
        """Device groups where ``permission`` applies: ``None`` means all groups, empty means none."""
        if self.kind == "system":
            return None
        base = self.permissions
        if base is None:
            base = ROLE_PERMISSIONS[self.role] if self.role is not None else frozenset()
        scoped = frozenset(g.group_id for g in self.grants if g.permission is permission)
        if permission in base:
            return None if self.group_scope is None else self.group_scope | scoped
        return scoped

    def can_in_group(self, permission: Permission, group_id: int | None) -> bool:
        """Return whether ``permission`` applies to data in ``group_id`` (``None``: not in any group)."""
        groups = self.groups_for(permission)
        if groups is None:
            return True
        return group_id is not None and group_id in groups

    @property
    def display_role(self) -> str:
        """The role as people read it (a custom role's own name)."""
        if self.role is Role.CUSTOM and self.role_name:
            return self.role_name
        return self.role.label if self.role is not None else ""

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        """A principal for set-up, migrations and background jobs."""
        return cls(kind="system", id=None, name=name, role=None)


class AccessRequestStatus(enum.StrEnum):
    """Lifecycle of a temporary access request: pending -> approved -> expired, or denied / cancelled."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return self.value.capitalize()


class SessionKind(enum.StrEnum):
    """Where a session was opened."""

    GUI = "gui"
    CLI = "cli"
    BREAK_GLASS = "break_glass"


class SessionEndedError(AuthenticationError):
    """The console session is over (idle, expired, revoked, account disabled): sign in again.

    ``reason`` says why: ``"idle"``, ``"expired"``, ``"unknown"`` (no such session), or the reason
    it was revoked (``"signed_out"``, ``"disabled"``, ``"password_changed"``, ``"password_reset"``,
    ``"mfa_changed"``, ``"mfa_reset"``, ``"role_changed"``, ``"locked"``, ``"revoked_by_admin"``).
    The GUI answers it with the lock screen; the CLI with "run mdm-desktop login".
    """

    def __init__(self, message: str, *, reason: str, hint: str = "Sign in again.") -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class StepUpRequiredError(PermissionDeniedError):
    """The action needs a fresh TOTP code: ask for one, call ``SessionService.step_up``, then retry."""

    def __init__(self, action: str) -> None:
        super().__init__(
            "This action needs a fresh code from your authenticator app.",
            hint="Enter the current six-digit code to confirm it is you, then try again.",
        )
        self.action = action


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
