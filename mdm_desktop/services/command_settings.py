"""Site settings for remote commands and their guard rails, kept in the ``settings`` table.

Each value lives under its own ``commands.*`` key (JSON); a missing key means the default and
a stored value outside its range is clamped when read. The pause of destructive commands
(set when the rate limit is exceeded, cleared when an administrator resumes) is the row
``commands.destructive_paused``: ``{"at": ISO time, "by": user, "count": n}`` or absent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.store.schema import Setting
from mdm_desktop.store.unit_of_work import UnitOfWork

PREFIX = "commands."
PAUSE_KEY = "commands.destructive_paused"

_RANGES: dict[str, tuple[int, int]] = {
    "expiry_hours": (1, 24 * 30),
    "approval_threshold": (1, 10_000),
    "approval_hours": (1, 24 * 7),
    "destructive_per_hour": (1, 100_000),
}

_LABELS: dict[str, str] = {
    "expiry_hours": "Hours before an undelivered or unanswered command expires",
    "approval_threshold": "Devices a destructive command may reach without a second administrator",
    "approval_hours": "Hours a pending approval stays open",
    "destructive_per_hour": "Destructive commands per hour before further ones are paused",
}


@dataclass(frozen=True, slots=True)
class CommandSettings:
    """The site's command settings with their defaults (issue 6)."""

    expiry_hours: int = 72
    approval_threshold: int = 5
    approval_hours: int = 24
    destructive_per_hour: int = 20

    def problems(self) -> list[str]:
        """Plain-words reasons these values cannot be saved."""
        out: list[str] = []
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                out.append(f"{_LABELS[name]} must be a whole number from {low} to {high}.")
        return out

    @property
    def expiry(self) -> dt.timedelta:
        """How long a command may wait for delivery and an answer."""
        return dt.timedelta(hours=self.expiry_hours)

    @property
    def approval_lifetime(self) -> dt.timedelta:
        """How long an approval request stays open."""
        return dt.timedelta(hours=self.approval_hours)


@dataclass(frozen=True, slots=True)
class PauseState:
    """Destructive commands are paused since ``at`` (the rate limit was exceeded by ``by``)."""

    at: dt.datetime
    by: str
    count: int


def _coerce(name: str, raw: Any, default: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        return default
    low, high = _RANGES[name]
    return min(max(raw, low), high)


def load(uow: UnitOfWork) -> CommandSettings:
    """The current settings (defaults for missing keys, stored values clamped)."""
    names = [PREFIX + f.name for f in dataclasses.fields(CommandSettings)]
    stored = {
        k[len(PREFIX) :]: v
        for k, v in uow.session.execute(select(Setting.key, Setting.value).where(Setting.key.in_(names)))
    }
    defaults = CommandSettings()
    return CommandSettings(
        **{
            f.name: _coerce(f.name, stored[f.name], getattr(defaults, f.name))
            if f.name in stored
            else getattr(defaults, f.name)
            for f in dataclasses.fields(CommandSettings)
        }
    )


def _put(uow: UnitOfWork, key: str, value: Any, now: dt.datetime) -> None:
    row = uow.session.get(Setting, key)
    if row is None:
        uow.session.add(Setting(key=key, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now


def save(uow: UnitOfWork, settings: CommandSettings, now: dt.datetime) -> dict[str, tuple[int, int]]:
    """Store ``settings``; return the changed values as ``{name: (old, new)}``.

    Raises:
        ValidationError: A value is out of range (nothing is written).
    """
    problems = settings.problems()
    if problems:
        raise ValidationError(" ".join(problems))
    current = load(uow)
    changed: dict[str, tuple[int, int]] = {}
    for f in dataclasses.fields(CommandSettings):
        old, new = getattr(current, f.name), getattr(settings, f.name)
        if old != new:
            changed[f.name] = (old, new)
            _put(uow, PREFIX + f.name, new, now)
    uow.session.flush()
    return changed


def pause_state(uow: UnitOfWork) -> PauseState | None:
    """Whether destructive commands are paused, and since when."""
    row = uow.session.get(Setting, PAUSE_KEY)
    value = row.value if row is not None else None
    if not isinstance(value, dict) or not value.get("at"):
        return None
    try:
        at = dt.datetime.fromisoformat(str(value["at"]))
    except ValueError:
        at = row.updated_at if row is not None else dt.datetime.now(dt.UTC)
    return PauseState(at=at, by=str(value.get("by", "")), count=int(value.get("count", 0) or 0))


def set_paused(uow: UnitOfWork, now: dt.datetime, by: str, count: int) -> None:
    """Pause destructive commands."""
    _put(uow, PAUSE_KEY, {"at": now.isoformat(), "by": by, "count": count}, now)
    uow.session.flush()


def clear_pause(uow: UnitOfWork, now: dt.datetime) -> None:
    """Let destructive commands be sent again."""
    _put(uow, PAUSE_KEY, None, now)
    uow.session.flush()


def setting_label(name: str) -> str:
    """The plain-words label of a setting."""
    return _LABELS.get(name, name.replace("_", " ").capitalize())
