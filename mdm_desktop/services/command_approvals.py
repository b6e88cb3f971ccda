"""Two-administrator approval of guarded commands (full wipe, retire, large destructive sends).

The requester's send creates a pending request (``commands.approval_requested``). Another
administrator (``commands.approve``, fresh step-up, a different account and session) approves
it: the commands are queued then, under the requester's name, each audited as
``commands.queue`` plus one ``commands.approve`` entry. A request can be rejected (by an
approver, or withdrawn by its requester) and expires after the site's approval lifetime.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.commands import ApprovalStatus, CommandType
from mdm_desktop.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.services.command_dto import ApprovalInfo, SendResult
from mdm_desktop.services.command_settings import CommandSettings
from mdm_desktop.services.sessions import token_id
from mdm_desktop.store.repositories import command_approvals as repo
from mdm_desktop.store.schema import CommandApproval
from mdm_desktop.store.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from mdm_desktop.services.commands import CommandService

MAX_NOTE = 1000


def session_digest(actor: Principal) -> str:
    """SHA-256 of the actor's session token (empty without a session); never the token itself."""
    return token_id(actor.session_token) if actor.session_token else ""


class ApprovalDesk:
    """The approval half of :class:`~mdm_desktop.services.commands.CommandService`."""

    def __init__(self, service: CommandService) -> None:
        self._svc = service

    def request(
        self,
        uow: UnitOfWork,
        actor: Principal,
        ctype: CommandType,
        payload: dict[str, Any],
        device_ids: list[int],
        reason: str,
        settings: CommandSettings,
    ) -> ApprovalInfo:
        """Record a pending request instead of queuing (caller commits)."""
        now = self._svc.clock()
        row = repo.create(
            uow,
            ctype,
            payload,
            device_ids,
            reason,
            actor.name,
            session_digest(actor),
            now,
            now + settings.approval_lifetime,
        )
        self._svc.audit.record(
            uow,
            actor,
            "commands.approval_requested",
            target_kind="approval",
            target=row.uid,
            details={"type": ctype.value, "devices": len(device_ids), "reason": reason, "approval": row.id},
        )
        return repo.to_info(uow, [row])[0]

    def expire(self, uow: UnitOfWork, actor: Principal, now: dt.datetime) -> int:
        """Close overdue requests as expired, one audit entry each (caller commits)."""
        due = repo.due(uow, now)
        repo.mark_expired(uow, [r.id for r in due], now)
        for row in due:
            self._svc.audit.record(
                uow,
                actor,
                "commands.approval_expired",
                target_kind="approval",
                target=row.uid,
                details={"type": row.type, "requested_by": row.requested_by},
            )
        return len(due)

    def _open(self, uow: UnitOfWork, actor: Principal, approval_id: int) -> CommandApproval:
        row = repo.get(uow, approval_id, lock=True)
        if row is None:
            raise NotFoundError(f"Approval request {approval_id} does not exist.", hint="Refresh the list.")
        if row.status == ApprovalStatus.PENDING.value and row.expires_at <= self._svc.clock():
            self.expire(uow, actor, self._svc.clock())
            uow.commit()
            raise ConflictError(
                f"Approval request {approval_id} has expired.", hint="Ask the requester to send the command again."
            )
        if row.status != ApprovalStatus.PENDING.value:
            raise ConflictError(f"Approval request {approval_id} is already {row.status}.", hint="Refresh the list.")
        return row

    def approve(self, actor: Principal, approval_id: int, note: str) -> SendResult:
        """Approve and queue (see module docstring)."""
        note = _clean_note(note)
        fresh = self._svc.authorize(actor, Permission.COMMANDS_APPROVE, "commands.approve", str(approval_id))
        with self._svc.uow(write=True) as uow:
            row = self._open(uow, fresh, approval_id)
            if fresh.name == row.requested_by or (
                row.requested_session and row.requested_session == session_digest(fresh)
            ):
                self._svc.audit.record(
                    uow,
                    fresh,
                    "commands.approve",
                    target_kind="approval",
                    target=row.uid,
                    outcome=Outcome.DENIED,
                    details={"reason": "own_request"},
                )
                uow.commit()
                raise PermissionDeniedError(
                    "You cannot approve your own request.",
                    hint="Another administrator must approve it from their own session.",
                )
            ctype = CommandType(row.type)
            ids = [int(i) for i in row.device_ids]
            permission = Permission.COMMANDS_SEND_DESTRUCTIVE if ctype.destructive else Permission.COMMANDS_SEND
            devices = self._svc.check_devices(uow, fresh, permission, ids, "commands.approve")
            if ctype.destructive:
                self._svc.check_rate(uow, fresh, len(ids), enforce=False)
            queued = self._svc.queue_commands(
                uow, fresh, devices, ids, ctype, dict(row.payload or {}), row.reason, row.requested_by, row.id
            )
            info = self._decide(uow, fresh, row, ApprovalStatus.APPROVED, note, {"devices": len(ids)})
        return SendResult(commands=queued, approval=info)

    def reject(self, actor: Principal, approval_id: int, note: str) -> ApprovalInfo:
        """Reject (an approver) or withdraw (the requester) a pending request."""
        note = _clean_note(note)
        with self._svc.uow() as uow:
            found = repo.get(uow, approval_id)
            own = found is not None and found.requested_by == actor.name
        permission = Permission.COMMANDS_SEND_DESTRUCTIVE if own else Permission.COMMANDS_APPROVE
        fresh = self._svc.authorize(actor, permission, "commands.reject", str(approval_id))
        with self._svc.uow(write=True) as uow:
            row = self._open(uow, fresh, approval_id)
            return self._decide(uow, fresh, row, ApprovalStatus.REJECTED, note, {"withdrawn": own})

    def _decide(
        self,
        uow: UnitOfWork,
        actor: Principal,
        row: CommandApproval,
        status: ApprovalStatus,
        note: str,
        extra: dict[str, Any],
    ) -> ApprovalInfo:
        """Record the decision, audit it (``commands.approve`` / ``commands.reject``) and commit."""
        row.status = status.value
        row.decided_by = actor.name
        row.decided_at = self._svc.clock()
        row.decision_note = note
        action = "commands.approve" if status is ApprovalStatus.APPROVED else "commands.reject"
        details = {"type": row.type, "requested_by": row.requested_by, "note": note, **extra}
        self._svc.audit.record(uow, actor, action, target_kind="approval", target=row.uid, details=details)
        uow.session.flush()
        info = repo.to_info(uow, [row])[0]
        uow.commit()
        return info


def _clean_note(note: str) -> str:
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise ValidationError(f"The note is longer than {MAX_NOTE} characters.")
    return note
