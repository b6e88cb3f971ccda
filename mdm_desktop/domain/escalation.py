"""The escalation ladder for a failing compliance rule: which steps are due, and when.

A rule that keeps failing on a device climbs the policy's ladder, each step counted from the moment
the rule started failing (``failing_since``)::

    notify  ->  quarantine  ->  lock  ->  wipe

Each step has its own delay (``None``: the policy never takes that step). Steps are independent: a
ladder may lock without ever quarantining. A step is taken once per failure; when the rule passes
again (or an exception covers it) the steps are forgotten and a later failure starts from the
bottom. Rules the policy marks "notify only" never climb beyond ``notify``.

Pure functions over plain data: no clock, no I/O (the caller passes ``now``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


class Step(enum.StrEnum):
    """One rung of the ladder, in the order they are climbed."""

    NOTIFY = "notify"
    QUARANTINE = "quarantine"
    LOCK = "lock"
    WIPE = "wipe"

    @property
    def label(self) -> str:
        """As people read it."""
        return self.value.capitalize()

    @property
    def destructive(self) -> bool:
        """Whether the step destroys data (a wipe); such a step can need a second administrator's approval."""
        return self is Step.WIPE


STEPS: tuple[Step, ...] = (Step.NOTIFY, Step.QUARANTINE, Step.LOCK, Step.WIPE)


@dataclass(frozen=True, slots=True)
class Ladder:
    """When each step is taken, counted from the moment a rule started failing.

    Attributes:
        notify_after: Delay before the device's user and the console are told (``None``: never).
        quarantine_after: Delay before the gateway withholds managed apps and data (``None``: never).
        lock_after: Delay before the device is locked (``None``: never).
        wipe_after: Delay before the device is wiped (``None``: never).
        destructive_need_approval: Whether a wipe waits for a second administrator's approval.
        notify_only_rules: Rule ids (or families, the part before ``:``) that never climb beyond ``notify``.
    """

    notify_after: dt.timedelta | None = dt.timedelta(0)
    quarantine_after: dt.timedelta | None = None
    lock_after: dt.timedelta | None = None
    wipe_after: dt.timedelta | None = None
    destructive_need_approval: bool = True
    notify_only_rules: frozenset[str] = frozenset()

    def delay(self, step: Step) -> dt.timedelta | None:
        """The delay of ``step`` (``None``: never taken)."""
        return {
            Step.NOTIFY: self.notify_after,
            Step.QUARANTINE: self.quarantine_after,
            Step.LOCK: self.lock_after,
            Step.WIPE: self.wipe_after,
        }[step]

    def steps_for(self, rule_id: str) -> tuple[Step, ...]:
        """The steps this ladder takes for ``rule_id``, in ladder order."""
        allowed = (Step.NOTIFY,) if self.notify_only(rule_id) else STEPS
        return tuple(s for s in allowed if self.delay(s) is not None)

    def notify_only(self, rule_id: str) -> bool:
        """Whether ``rule_id`` (or its family: ``apps.required`` for ``apps.required:com.x.y``) only notifies."""
        return rule_id in self.notify_only_rules or rule_id.split(":", 1)[0] in self.notify_only_rules

    def needs_approval(self, step: Step) -> bool:
        """Whether ``step`` waits for a second administrator before it reaches the device."""
        return step.destructive and self.destructive_need_approval

    @property
    def escalates(self) -> bool:
        """Whether the ladder takes any step at all."""
        return any(self.delay(s) is not None for s in STEPS)

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> Ladder:
        """A ladder from the policy's ``escalation`` group (typed values by name).

        Expected names: ``notify_after_hours``, ``quarantine_after_days``, ``lock_after_days``,
        ``wipe_after_days`` (``None``: never), ``destructive_steps_need_approval`` and
        ``notify_only_rules``; missing names take the defaults of :class:`Ladder`.
        """

        def days(name: str) -> dt.timedelta | None:
            value = values.get(name)
            return None if value is None else dt.timedelta(days=int(value))

        hours = values.get("notify_after_hours", 0)
        return cls(
            notify_after=None if hours is None else dt.timedelta(hours=int(hours)),
            quarantine_after=days("quarantine_after_days"),
            lock_after=days("lock_after_days"),
            wipe_after=days("wipe_after_days"),
            destructive_need_approval=bool(values.get("destructive_steps_need_approval", True)),
            notify_only_rules=frozenset(values.get("notify_only_rules", ()) or ()),
        )


def due_steps(
    failing_since: dt.datetime,
    ladder: Ladder,
    taken: Collection[Step],
    now: dt.datetime,
    rule_id: str = "",
) -> tuple[Step, ...]:
    """The steps to take now for a rule failing since ``failing_since``, in ladder order.

    Every step whose delay has passed and that was not taken yet is due; when several fell due
    since the last run they are all returned (the caller takes them in order). A ``failing_since``
    in the future (a clock skew between gateways) makes nothing due.

    Args:
        failing_since: When the rule started failing (timezone-aware).
        ladder: The policy's ladder.
        taken: Steps already taken for this failure.
        now: The current time (timezone-aware).
        rule_id: The rule, for the ladder's "notify only" list.
    """
    elapsed = now - failing_since
    if elapsed < dt.timedelta(0):
        return ()
    out: list[Step] = []
    for step in ladder.steps_for(rule_id):
        delay = ladder.delay(step)
        if delay is not None and elapsed >= delay and step not in taken:
            out.append(step)
    return tuple(out)


def next_step(
    failing_since: dt.datetime,
    ladder: Ladder,
    taken: Collection[Step],
    rule_id: str = "",
) -> tuple[Step, dt.datetime] | None:
    """The next step not taken yet and when it falls due (``None``: nothing more will happen)."""
    pending = [
        (failing_since + delay, step)
        for step in ladder.steps_for(rule_id)
        if step not in taken and (delay := ladder.delay(step)) is not None
    ]
    if not pending:
        return None
    when, step = min(pending, key=lambda p: (p[0], STEPS.index(p[1])))
    return step, when


def describe_ladder(ladder: Ladder) -> str:
    """The ladder in words ("notify at once, quarantine after 3 days, lock after 10 days")."""

    def after(delay: dt.timedelta) -> str:
        if delay == dt.timedelta(0):
            return "at once"
        if delay.days and not delay.seconds:
            return f"after {delay.days} day{'s' if delay.days != 1 else ''}"
        hours = int(delay.total_seconds() // 3600)
        return f"after {hours} hour{'s' if hours != 1 else ''}"

    parts = [f"{s.value} {after(d)}" for s in STEPS if (d := ladder.delay(s)) is not None]
    if not parts:
        return "no escalation"
    text = ", ".join(parts)
    if ladder.wipe_after is not None and ladder.destructive_need_approval:
        text += " (the wipe waits for a second administrator's approval)"
    return text
