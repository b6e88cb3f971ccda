"""Exceptions from compliance rules: request, approve, reject, revoke, list.

The lifecycle is in :mod:`mdm_desktop.domain.compliance_exceptions`.

Who may do what:

* **request**: ``policies.write`` (administrators, IT technicians), for a device or group in their scope;
  a reason and an end date (at most :data:`~mdm_desktop.domain.compliance_exceptions.MAX_DAYS` days on)
  are required.
* **approve / reject**: ``compliance.exceptions.approve`` (security officers, administrators), never
  one's own request.
* **revoke** an active exception: ``compliance.exceptions.approve``; the requester may also withdraw
  their own (pending or active) with ``policies.write``.
* **list**: ``policies.read``.

Every change writes one audit entry (``compliance.exception_requested`` / ``_approved`` / ``_rejected``
/ ``_revoked``) in its transaction. Expiry needs no job: past its end an exception is inactive and
listed as expired. The compliance engine treats rules covered by an active exception as exempt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.compliance_exceptions import (
    MAX_REASON,
    ExceptionStatus,
    end_of,
    request_problems,
)
from mdm_desktop.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.compliance_engine import Scope, reevaluate_scope, summary_details
from mdm_desktop.services.exception_dto import ExceptionInfo
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.sessions import SessionGuard
from mdm_desktop.store.repositories import compliance_exceptions as repo
from mdm_desktop.store.schema import ComplianceException, new_uid
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory


def _clean(text: str, what: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_REASON:
        raise ValidationError(f"The {what} is longer than {MAX_REASON} characters.")
    return text


class ComplianceExceptionService:
    """Exceptions from compliance rules (see the module docstring)."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    def _authorize(self, actor: Principal, permission: Permission, action: str, target: str = "") -> Principal:
        if isinstance(self._guard, SessionGuard):
            return self._guard.authorize(actor, permission, action, target)
        self._guard.require(actor, permission, action, target)
        return actor

    def _deny(self, uow: UnitOfWork, actor: Principal, action: str, target: str, reason: str) -> None:
        self._audit.record(
            uow, actor, action, target_kind="compliance_exception", target=target, outcome=Outcome.DENIED,
            details={"reason": reason},
        )  # fmt: skip
        uow.commit()

    # ---- request ----------------------------------------------------------------------------------

    @mutating("compliance.exception_requested")
    def request(
        self,
        actor: Principal,
        *,
        rule_id: str,
        reason: str,
        until: dt.date,
        device_id: int | None = None,
        group_id: int | None = None,
    ) -> ExceptionInfo:
        """Ask for a device or a group to be exempted from ``rule_id`` until the end of ``until`` (UTC).

        Raises:
            ValidationError: Not exactly one of device and group, a bad rule id, no reason, an end date
                in the past or too far ahead (nothing written).
            NotFoundError: No such device or group.
            ConflictError: A pending or active exception already covers it.
            PermissionDeniedError: No ``policies.write``, or the device or group is outside the actor's scope.
        """
        rule_id = rule_id.strip()
        reason = " ".join(reason.split())
        now = self._clock()
        if (device_id is None) == (group_id is None):
            raise ValidationError("Choose either a device or a group for the exception.")
        problems = request_problems(rule_id, reason, until, now)
        if problems:
            raise ValidationError(" ".join(problems), hint="Correct it and try again.")
        action = "compliance.exception_requested"
        fresh = self._authorize(actor, Permission.POLICIES_WRITE, action, rule_id)
        with self._uow(write=True) as uow:
            if device_id is not None:
                found = repo.device_group(uow, device_id)
                if found is None:
                    raise NotFoundError(f"Device {device_id} does not exist.", hint="Refresh the device list.")
                target, scope_group = found[0], found[1]
            else:
                assert group_id is not None
                if not repo.group_exists(uow, group_id):
                    raise NotFoundError(f"Group {group_id} does not exist.", hint="Refresh the group list.")
                target, scope_group = f"group:{group_id}", group_id
            if not fresh.can_in_group(Permission.POLICIES_WRITE, scope_group):
                self._deny(uow, fresh, action, target, "group_scope")
                raise PermissionDeniedError(
                    "This device or group is outside the groups you manage.", hint="Ask an administrator."
                )
            clash = repo.open_for(uow, device_id, group_id, rule_id, now)
            if clash is not None:
                raise ConflictError(
                    f"Exception {clash.id} already covers {rule_id} here (until {clash.valid_until:%Y-%m-%d}).",
                    hint="Revoke it first, or wait until it ends.",
                )
            row = ComplianceException(
                uid=new_uid(),
                device_id=device_id,
                group_id=group_id,
                rule_id=rule_id,
                reason=reason,
                valid_until=end_of(until),
                requested_by=fresh.name,
                requested_at=now,
                approved_by="",
                revoked_by="",
            )
            uow.session.add(row)
            info = repo.to_info(uow, row, now)
            self._audit.record(
                uow,
                fresh,
                action,
                target_kind="compliance_exception",
                target=row.uid,
                details={
                    "exception": row.id,
                    "rule": rule_id,
                    "subject": info.subject,
                    "subject_uid": target,
                    "reason": reason,
                    "until": until.isoformat(),
                },
            )
            uow.commit()
        return info

    # ---- decisions --------------------------------------------------------------------------------

    @mutating("compliance.exception_approved")
    def approve(self, actor: Principal, exception_id: int, note: str = "") -> ExceptionInfo:
        """Approve a pending request (not one's own); it exempts from then until its end."""
        return self._decide(actor, exception_id, note, "compliance.exception_approved", ExceptionStatus.PENDING)

    @mutating("compliance.exception_rejected")
    def reject(self, actor: Principal, exception_id: int, note: str = "") -> ExceptionInfo:
        """Reject a pending request (not one's own; a requester withdraws with :meth:`revoke`)."""
        return self._decide(actor, exception_id, note, "compliance.exception_rejected", ExceptionStatus.PENDING)

    @mutating("compliance.exception_revoked")
    def revoke(self, actor: Principal, exception_id: int, note: str = "") -> ExceptionInfo:
        """End an active exception now (or withdraw one's own pending request)."""
        note = _clean(note, "note")
        action = "compliance.exception_revoked"
        with self._uow() as uow:
            found = repo.get(uow, exception_id, self._clock())
        own = found is not None and found[1].requested_by == actor.name
        permission = Permission.POLICIES_WRITE if own else Permission.COMPLIANCE_EXCEPTIONS_APPROVE
        fresh = self._authorize(actor, permission, action, str(exception_id))
        with self._uow(write=True) as uow:
            row, info = self._open(uow, exception_id)
            allowed = {ExceptionStatus.ACTIVE, ExceptionStatus.PENDING} if own else {ExceptionStatus.ACTIVE}
            if info.status not in allowed:
                raise ConflictError(f"Exception {exception_id} is {info.status.value}; it cannot be revoked.")
            return self._close(uow, fresh, row, action, note, {"withdrawn": own, "was": info.status.value})

    def _open(self, uow: UnitOfWork, exception_id: int) -> tuple[ComplianceException, ExceptionInfo]:
        found = repo.get(uow, exception_id, self._clock(), lock=True)
        if found is None:
            raise NotFoundError(f"Exception {exception_id} does not exist.", hint="Refresh the list.")
        return found

    def _decide(
        self, actor: Principal, exception_id: int, note: str, action: str, needed: ExceptionStatus
    ) -> ExceptionInfo:
        note = _clean(note, "note")
        fresh = self._authorize(actor, Permission.COMPLIANCE_EXCEPTIONS_APPROVE, action, str(exception_id))
        with self._uow(write=True) as uow:
            row, info = self._open(uow, exception_id)
            if info.status is not needed:
                raise ConflictError(f"Exception {exception_id} is {info.status.value}, not {needed.value}.")
            if row.requested_by == fresh.name:
                self._deny(uow, fresh, action, row.uid, "own_request")
                raise PermissionDeniedError(
                    "You cannot decide on your own request.", hint="Another security officer or administrator must."
                )
            if action == "compliance.exception_approved":
                row.approved_by = fresh.name
                row.approved_at = self._clock()
                return self._close(uow, fresh, row, action, note, {}, end=False)
            return self._close(uow, fresh, row, action, note, {})

    def _close(
        self,
        uow: UnitOfWork,
        actor: Principal,
        row: ComplianceException,
        action: str,
        note: str,
        extra: dict[str, Any],
        *,
        end: bool = True,
    ) -> ExceptionInfo:
        now = self._clock()
        if end:
            row.revoked_by = actor.name
            row.revoked_at = now
        uow.session.flush()
        # The exemption starts or ends now: the devices it covers are re-evaluated in this transaction.
        scope = (
            Scope(device_ids=frozenset({row.device_id}))
            if row.device_id is not None
            else Scope(group_ids=frozenset({row.group_id} if row.group_id is not None else ()))
        )
        extra = {**extra, "compliance": summary_details(reevaluate_scope(uow.session, now, scope))}
        info = repo.to_info(uow, row, now)
        self._audit.record(
            uow,
            actor,
            action,
            target_kind="compliance_exception",
            target=row.uid,
            details={
                "exception": row.id,
                "rule": row.rule_id,
                "subject": info.subject,
                "requested_by": row.requested_by,
                "until": row.valid_until.isoformat(),
                "note": note,
                **extra,
            },
        )
        uow.commit()
        return info

    # ---- reads ------------------------------------------------------------------------------------

    def list_exceptions(
        self,
        actor: Principal,
        statuses: Iterable[ExceptionStatus] | None = None,
        device_id: int | None = None,
    ) -> tuple[ExceptionInfo, ...]:
        """Exceptions, newest first, optionally only some statuses or those touching one device."""
        self._authorize(actor, Permission.POLICIES_READ, "compliance.exceptions_list")
        wanted = set(statuses) if statuses is not None else None
        with self._uow() as uow:
            rows = repo.listing(uow, self._clock(), device_id)
        return tuple(r for r in rows if wanted is None or r.status in wanted)

    def failing_rules(self, actor: Principal, device_id: int) -> tuple[tuple[str, str], ...]:
        """A device's failing rules as ``(rule id, reason in words)``, to offer when asking for an exception."""
        self._authorize(actor, Permission.DEVICES_READ, "compliance.rules_list")
        with self._uow() as uow:
            return repo.failing_rules(uow, device_id)

    def active_count(self, actor: Principal) -> int:
        """How many exceptions are in force now (for the dashboard)."""
        return len(self.list_exceptions(actor, {ExceptionStatus.ACTIVE}))
