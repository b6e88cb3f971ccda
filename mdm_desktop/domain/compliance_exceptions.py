"""Exceptions from compliance rules: a device or group exempted from one rule, for a reason, until a date.

Lifecycle: an administrator *requests* (pending); a security officer *approves* (active) or *rejects*;
an active exception can be *revoked*; any exception whose end has passed is *expired*, by itself
(no job runs: the end date is the switch). Only active exceptions exempt anything.

Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
import re

MAX_DAYS = 365
"""The longest an exception may run."""
MAX_REASON = 1000
RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class ExceptionStatus(enum.StrEnum):
    """Where an exception is in its life."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        """As people read it."""
        return self.value.capitalize()


def exception_status(
    *,
    approved_at: dt.datetime | None,
    revoked_at: dt.datetime | None,
    valid_until: dt.datetime,
    now: dt.datetime,
) -> ExceptionStatus:
    """The status of an exception at ``now``.

    A decision that ends an exception is stored as ``revoked_at``: before approval it is a rejection,
    after it a revocation.
    """
    if revoked_at is not None:
        return ExceptionStatus.REVOKED if approved_at is not None else ExceptionStatus.REJECTED
    if valid_until <= now:
        return ExceptionStatus.EXPIRED
    return ExceptionStatus.ACTIVE if approved_at is not None else ExceptionStatus.PENDING


def end_of(day: dt.date) -> dt.datetime:
    """An exception "until" ``day`` runs to the end of that day (UTC)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.UTC)


def request_problems(rule_id: str, reason: str, until: dt.date, now: dt.datetime) -> list[str]:
    """Plain-words problems with a request (empty when it is fine)."""
    problems: list[str] = []
    if not RULE_ID.match(rule_id):
        problems.append(f"'{rule_id[:70]}' is not a compliance rule id such as health.max_patch_age.")
    if not reason.strip():
        problems.append("Give the reason for the exception; it is kept in the audit log and shown in reports.")
    elif len(reason) > MAX_REASON:
        problems.append(f"The reason is longer than {MAX_REASON} characters.")
    today = now.astimezone(dt.UTC).date()
    if until < today:
        problems.append(f"The end date {until.isoformat()} has passed; choose a date from today on.")
    elif (until - today).days > MAX_DAYS:
        problems.append(f"An exception may run at most {MAX_DAYS} days (until {today + dt.timedelta(days=MAX_DAYS)}).")
    return problems
