"""Escalation of failing compliance rules: notify, quarantine, lock, wipe, as each device's policy says.

:meth:`EscalationService.run` is a sweep over the whole fleet, run by the gateway process every few
minutes (:mod:`mdm_desktop.gateway.escalation_ticker`) as the system actor ``compliance-escalation``.
One sweep, in one transaction:

1. **Forget** the steps of rules that pass again, are exempt (an approved exception) or are no longer
   evaluated, so a later failure starts the ladder from the bottom (``compliance.escalation_cleared``).
2. **Lift quarantines** of devices no failing rule holds in quarantine any more
   (``compliance.quarantine_released``); the next check-in answers ``quarantined=False``.
3. **Take the steps that fell due** for each failing rule (:func:`~mdm_desktop.domain.escalation.due_steps`),
   the ladder coming from the policy version the rule was evaluated against:

   * ``notify``: a ``message`` command to the device telling its user what is wrong (one per device and
     sweep, naming every rule that reached the step), plus the audit entry the console shows;
   * ``quarantine``: ``devices.quarantined_at`` is set; check-ins answer ``quarantined=True`` and the
     gateway withholds managed apps and data;
   * ``lock``: a ``lock`` command;
   * ``wipe``: a ``wipe`` command, or, when the policy says destructive steps need approval (the
     default), a pending request in the two-administrator approval flow
     (:mod:`~mdm_desktop.services.command_approvals`): nothing reaches the device until a second
     administrator approves it. A wipe without approval is deferred to a later sweep while destructive
     commands are paused by the rate limit.

Every step is audited (``compliance.escalation_step``, plus ``commands.queue`` or
``commands.approval_requested`` for the commands), and a sweep that did anything ends with one
``compliance.escalate`` summary entry. Steps are recorded in ``escalation_steps`` (primary key device,
rule, step) with an insert that does nothing on conflict, so two sweeps, even concurrent ones on two
gateways, never take a step twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.commands import MAX_MESSAGE, CommandType
from mdm_desktop.domain.escalation import STEPS, Ladder, Step, due_steps
from mdm_desktop.domain.policy_settings import check_settings
from mdm_desktop.services import command_settings
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.command_approvals import ApprovalDesk
from mdm_desktop.services.commands import CommandService
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.repositories import escalation as repo
from mdm_desktop.store.repositories.escalation import FailingRule
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

ESCALATION_ACTOR = "compliance-escalation"
"""The system actor escalation steps are audited as."""

DEFAULT_LADDER = Ladder()
"""For rules evaluated without a policy: notify at once, nothing more."""


@dataclass(frozen=True, slots=True)
class TakenStep:
    """One escalation step a sweep took.

    Attributes:
        device_id: The device.
        device_uid: Its uid (as in the audit log).
        rule_id: The failing rule.
        step: The step.
        command_uid: The command sent (notify, lock, wipe), or ``""``.
        approval_id: The approval request a wipe waits for, or ``None``.
    """

    device_id: int
    device_uid: str
    rule_id: str
    step: Step
    command_uid: str = ""
    approval_id: int | None = None


@dataclass(frozen=True, slots=True)
class EscalationRun:
    """What one sweep did.

    Attributes:
        at: The sweep's time.
        taken: The steps taken, in the order taken.
        cleared: Ladders forgotten because their rule passes again (or is exempt).
        released: Quarantines lifted.
        deferred: Wipes not sent because destructive commands are paused (retried next sweep).
        audit_entries: Entries written.
    """

    at: dt.datetime
    taken: tuple[TakenStep, ...] = ()
    cleared: int = 0
    released: int = 0
    deferred: int = 0
    audit_entries: int = 0

    def summary(self) -> str:
        """In words, for logs and the CLI."""
        if not (self.taken or self.cleared or self.released or self.deferred):
            return "Nothing to escalate."
        counts = {s: sum(1 for t in self.taken if t.step is s) for s in STEPS}
        parts = [f"{n} {s.value}" for s, n in counts.items() if n]
        text = ("Steps taken: " + ", ".join(parts) + ".") if parts else "No step fell due."
        if self.cleared:
            text += f" {self.cleared} ladders cleared (rules pass again)."
        if self.released:
            text += f" {self.released} quarantines lifted."
        if self.deferred:
            text += f" {self.deferred} wipes deferred: destructive commands are paused."
        return text


def ladder_of(settings: Any) -> Ladder:
    """The escalation ladder of a stored policy version's settings (the default one when they do not parse)."""
    checked = check_settings(settings if settings is not None else {})
    if checked.settings is None:
        return DEFAULT_LADDER
    return Ladder.from_settings(dataclasses.asdict(checked.settings.escalation))


def _notify_text(rules: Sequence[FailingRule]) -> str:
    reasons = "; ".join(r.detail or r.rule_id for r in rules)
    text = (
        f"This device does not meet the clinic's security policy: {reasons}. "
        "Please correct it or contact your IT team; access to clinic data may be restricted."
    )
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


class EscalationService:
    """Takes due escalation steps for failing compliance rules (see the module docstring)."""

    def __init__(self, uow: UnitOfWorkFactory, audit: AuditLog, clock: Clock, commands: CommandService) -> None:
        self._uow = uow
        self._audit = audit
        self._clock = clock
        self._commands = commands
        self._desk = ApprovalDesk(commands)

    @mutating(
        "compliance.escalate",
        "compliance.escalate",
        "compliance.escalation_step",
        "compliance.escalation_cleared",
        "compliance.quarantine_released",
        "commands.queue",
        "commands.approval_requested",
        entries=0,
    )
    def run(self, actor: Principal | None = None, now: dt.datetime | None = None) -> EscalationRun:
        """One sweep over the fleet (see the module docstring).

        Args:
            actor: Who runs it: the system actor by default; a user needs ``devices.write``.
            now: The sweep's time (default: the clock).

        Raises:
            PermissionDeniedError: A user without ``devices.write`` (audited).
        """
        who = actor or Principal.system(ESCALATION_ACTOR)
        fresh = self._commands.authorize(who, Permission.DEVICES_WRITE, "compliance.escalate")
        at = now or self._clock()
        with self._uow(write=True) as uow:
            sweep = _Sweep(self, uow, fresh, at)
            result = sweep.run()
            if result.audit_entries:
                uow.commit()
        return result

    # helpers used by the sweep
    @property
    def audit(self) -> AuditLog:
        """The audit log writer."""
        return self._audit

    @property
    def commands(self) -> CommandService:
        """The command service (queues notify, lock and wipe commands)."""
        return self._commands

    @property
    def desk(self) -> ApprovalDesk:
        """The approval desk (wipes that need a second administrator)."""
        return self._desk


class _Sweep:
    """One run's state: what was written, in one unit of work."""

    def __init__(self, service: EscalationService, uow: UnitOfWork, actor: Principal, now: dt.datetime) -> None:
        self._svc = service
        self._uow = uow
        self._actor = actor
        self._now = now
        self._entries = 0
        self._taken: list[TakenStep] = []

    def _record(self, action: str, target: str, details: Mapping[str, Any], kind: str = "device") -> None:
        self._svc.audit.record(self._uow, self._actor, action, target_kind=kind, target=target, details=details)
        self._entries += 1

    def run(self) -> EscalationRun:
        cleared = repo.forget_passed(self._uow)
        for _device_id, uid, rule_id, steps in cleared:
            self._record("compliance.escalation_cleared", uid, {"rule": rule_id, "steps": list(steps)})
        released = repo.release_quarantines(self._uow, self._now)
        for _device_id, uid, since in released:
            self._record("compliance.quarantine_released", uid, {"quarantined_at": since.isoformat()})
        deferred = self._escalate()
        if self._entries:
            self._record(
                "compliance.escalate",
                ESCALATION_ACTOR,
                {
                    "steps": len(self._taken),
                    "cleared": len(cleared),
                    "released": len(released),
                    "deferred": deferred,
                },
                kind="job",
            )
        return EscalationRun(self._now, tuple(self._taken), len(cleared), len(released), deferred, self._entries)

    def _escalate(self) -> int:
        failing = repo.failing_rules(self._uow, self._now)
        if not failing:
            return 0
        taken = repo.taken_steps(self._uow)
        stored = repo.version_settings(self._uow, (f.policy_version_id for f in failing if f.policy_version_id))
        ladders = {vid: ladder_of(s) for vid, s in stored.items()}
        paused = command_settings.pause_state(self._uow) is not None
        due: dict[Step, dict[int, list[tuple[FailingRule, Ladder]]]] = {}
        deferred = 0
        for rule in failing:
            ladder = ladders.get(rule.policy_version_id or 0, DEFAULT_LADDER)
            done = {Step(s) for s in taken.get((rule.device_id, rule.rule_id), ())}
            for step in due_steps(rule.failing_since, ladder, done, self._now, rule.rule_id):
                if step is Step.WIPE and paused and not ladder.needs_approval(step):
                    deferred += 1
                    continue
                if repo.claim_step(self._uow, rule.device_id, rule.rule_id, step.value, self._now):
                    due.setdefault(step, {}).setdefault(rule.device_id, []).append((rule, ladder))
        for step in STEPS:
            for items in due.get(step, {}).values():
                self._take(step, items)
        return deferred

    def _take(self, step: Step, items: list[tuple[FailingRule, Ladder]]) -> None:
        """Take ``step`` on one device for every rule in ``items`` (one command at most)."""
        rules = [r for r, _ in items]
        first = rules[0]
        keys = [(r.device_id, r.rule_id) for r in rules]
        command_uid = ""
        approval_id: int | None = None
        reason = f"Compliance escalation ({step.value}): " + ", ".join(r.rule_id for r in rules)
        reason = reason if len(reason) <= 1000 else reason[:997] + "..."
        devices = {first.device_id: (first.device_name, first.device_uid, first.group_id)}
        if step is Step.QUARANTINE:
            repo.set_quarantined(self._uow, [first.device_id], self._now)
        elif step is Step.WIPE and any(ladder.needs_approval(step) for _, ladder in items):
            settings = command_settings.load(self._uow)
            approval = self._svc.desk.request(
                self._uow, self._actor, CommandType.WIPE, {}, [first.device_id], reason, settings
            )
            self._entries += 1
            approval_id = approval.id
            repo.link_step(self._uow, keys, step.value, approval_id=approval_id)
        else:
            ctype, payload = {
                Step.NOTIFY: (CommandType.MESSAGE, {"text": _notify_text(rules)}),
                Step.LOCK: (CommandType.LOCK, {}),
                Step.WIPE: (CommandType.WIPE, {}),
            }[step]
            (command,) = self._svc.commands.queue_commands(
                self._uow, self._actor, devices, [first.device_id], ctype, payload, reason, self._actor.name
            )
            self._entries += 1
            command_uid = command.uid
            repo.link_step(self._uow, keys, step.value, command_id=command.id)
        for rule in rules:
            details: dict[str, Any] = {
                "step": step.value,
                "rule": rule.rule_id,
                "failing_since": rule.failing_since.isoformat(),
            }
            if command_uid:
                details["command"] = command_uid
            if approval_id is not None:
                details["approval"] = approval_id
            self._record("compliance.escalation_step", rule.device_uid, details)
            self._taken.append(TakenStep(rule.device_id, rule.device_uid, rule.rule_id, step, command_uid, approval_id))
