"""Site security settings (password policy, lockout, session limits, audit retention), kept in the ``settings`` table.

Each value lives under its own ``security.*`` key (JSON). A missing key means the
default; a stored value outside its allowed range is clamped when read, so a
hand-edited row can never weaken a hard limit (lockout never above 100 failures,
password minimum never below 8, audit retention never below six years).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.security.password_policy import ABSOLUTE_MIN_LENGTH, MAX_MIN_LENGTH, PasswordPolicy
from mdm_desktop.store.schema import Setting
from mdm_desktop.store.unit_of_work import UnitOfWork

PREFIX = "security."
CLINIC_NAME_KEY = "clinic.name"

# name -> (minimum, maximum) for the integer settings
_RANGES: dict[str, tuple[int, int]] = {
    "password_min_length": (ABSOLUTE_MIN_LENGTH, MAX_MIN_LENGTH),
    "lockout_threshold": (1, 100),
    "lockout_minutes": (1, 24 * 60),
    "idle_timeout_minutes": (1, 240),
    "absolute_lifetime_hours": (1, 24),
    "step_up_minutes": (1, 60),
    "break_glass_minutes": (5, 240),
    "access_max_hours": (1, 24 * 14),
    "audit_retention_years": (6, 100),
}
"""The audit retention minimum is six years: HIPAA 45 CFR 164.316(b)(2)(i) asks covered entities to keep
required documentation six years from its creation or last effective date."""

_LABELS: dict[str, str] = {
    "password_min_length": "Minimum password length",
    "lockout_threshold": "Failed sign-ins before an account is locked",
    "lockout_minutes": "Minutes an account stays locked",
    "idle_timeout_minutes": "Idle minutes before the console locks",
    "absolute_lifetime_hours": "Hours before a session must sign in again",
    "step_up_minutes": "Minutes a fresh authenticator code stays valid for sensitive actions",
    "break_glass_minutes": "Minutes an emergency (break-glass) session lasts",
    "access_max_hours": "Longest temporary access an approver may grant (hours)",
    "audit_retention_years": "Years audit entries are kept before they may be pruned",
}


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """The site's security settings with their defaults (issue 4)."""

    password_min_length: int = 12
    password_composition: bool = False
    lockout_threshold: int = 10
    lockout_minutes: int = 30
    idle_timeout_minutes: int = 15
    absolute_lifetime_hours: int = 8
    step_up_minutes: int = 5
    break_glass_minutes: int = 60
    access_max_hours: int = 72
    audit_retention_years: int = 6

    def problems(self) -> list[str]:
        """Plain-words reasons these values cannot be saved."""
        out: list[str] = []
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                out.append(f"{_LABELS[name]} must be a whole number from {low} to {high}.")
        if not isinstance(self.password_composition, bool):
            out.append("Composition rules must be on or off.")
        return out

    @property
    def password_policy(self) -> PasswordPolicy:
        """The password rules these settings describe."""
        return PasswordPolicy(min_length=self.password_min_length, require_composition=self.password_composition)

    @property
    def idle_timeout(self) -> dt.timedelta:
        """Idle time after which a session ends."""
        return dt.timedelta(minutes=self.idle_timeout_minutes)

    @property
    def absolute_lifetime(self) -> dt.timedelta:
        """Time after sign-in at which a session ends whatever happens."""
        return dt.timedelta(hours=self.absolute_lifetime_hours)

    @property
    def step_up_window(self) -> dt.timedelta:
        """How long a step-up code counts as fresh."""
        return dt.timedelta(minutes=self.step_up_minutes)

    @property
    def break_glass_lifetime(self) -> dt.timedelta:
        """Length of an emergency session."""
        return dt.timedelta(minutes=self.break_glass_minutes)

    def audit_retention_cutoff(self, now: dt.datetime) -> dt.datetime:
        """The moment before which audit entries are older than the retention period.

        That is the same day and time ``audit_retention_years`` calendar years before ``now`` (29 February
        falls back to the 28th).
        """
        years = self.audit_retention_years
        try:
            return now.replace(year=now.year - years)
        except ValueError:
            return now.replace(year=now.year - years, day=28)

    @property
    def lockout_period(self) -> dt.timedelta:
        """How long a locked account stays locked unless unlocked by an administrator."""
        return dt.timedelta(minutes=self.lockout_minutes)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else default
    if isinstance(raw, bool) or not isinstance(raw, int):
        return default
    low, high = _RANGES[name]
    return min(max(raw, low), high)


def load(uow: UnitOfWork) -> SecuritySettings:
    """The current settings (defaults for missing keys, stored values clamped to their limits)."""
    rows = uow.session.execute(select(Setting.key, Setting.value).where(Setting.key.startswith(PREFIX))).all()
    stored = {key[len(PREFIX) :]: value for key, value in rows}
    defaults = SecuritySettings()
    values = {
        f.name: _coerce(f.name, stored[f.name], getattr(defaults, f.name))
        if f.name in stored
        else getattr(defaults, f.name)
        for f in dataclasses.fields(SecuritySettings)
    }
    return SecuritySettings(**values)


def save(uow: UnitOfWork, settings: SecuritySettings, now: dt.datetime) -> dict[str, tuple[Any, Any]]:
    """Store ``settings``; return the changed values as ``{name: (old, new)}``.

    Raises:
        ValidationError: A value is out of range.
    """
    problems = settings.problems()
    if problems:
        raise ValidationError(" ".join(problems))
    current = load(uow)
    changed: dict[str, tuple[Any, Any]] = {}
    for f in dataclasses.fields(SecuritySettings):
        old, new = getattr(current, f.name), getattr(settings, f.name)
        if old == new:
            continue
        changed[f.name] = (old, new)
        row = uow.session.get(Setting, PREFIX + f.name)
        if row is None:
            uow.session.add(Setting(key=PREFIX + f.name, value=new, updated_at=now))
        else:
            row.value = new
            row.updated_at = now
    uow.session.flush()
    return changed


def clinic_name(uow: UnitOfWork) -> str:
    """The clinic's name as set up (empty when not set); passwords must not be built on it."""
    row = uow.session.get(Setting, CLINIC_NAME_KEY)
    return row.value if row is not None and isinstance(row.value, str) else ""


def setting_label(name: str) -> str:
    """The plain-words label of a setting (for the settings page)."""
    return _LABELS.get(name, name.replace("_", " ").capitalize())
