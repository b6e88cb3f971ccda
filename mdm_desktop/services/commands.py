"""Remote commands from the console: send, list, cancel, expire, history, and the guard rails.

Lifecycle (DESIGN.md section 4): queued -> delivered -> acknowledged | failed | expired | cancelled.
The gateway moves commands to delivered and final states through
:mod:`mdm_desktop.store.repositories.commands`; this service is the console's side.

Guard rails (issue 6):

* Destructive commands (wipe, selective wipe, retire) need ``commands.send_destructive``, a fresh
  step-up code and a reason.
* Full wipe, retire, and any destructive command on more than the site's approval threshold of
  devices create a pending approval instead of commands (:mod:`.command_approvals`); a second
  administrator approves it from their own session before anything is queued.
* More destructive commands within an hour than the site's rate limit pause destructive
  commands: the send is refused, an alert is audited (``commands.paused``), and every further
  destructive send is refused until an administrator resumes (:meth:`CommandService.resume`).

Audit: every queued command writes ``commands.queue`` (target: the device); a send or approval
then writes one summary entry (``commands.send`` / ``commands.approve``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.commands import (
    MAX_DEVICES_PER_SEND,
    MAX_REASON,
    ApprovalStatus,
    CommandStatus,
    CommandType,
    needs_approval,
    payload_problems,
)
from mdm_desktop.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.services import command_settings
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.audit_values import device_values
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.command_approvals import ApprovalDesk
from mdm_desktop.services.command_dto import (
    ApprovalInfo,
    CommandPage,
    CommandQuery,
    DeviceLocation,
    ExpiryResult,
    GuardrailStatus,
    SendResult,
)
from mdm_desktop.services.command_settings import CommandSettings
from mdm_desktop.services.dto import CommandInfo
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.sessions import SessionGuard
from mdm_desktop.store.repositories import catalog as catalog_repo
from mdm_desktop.store.repositories import command_approvals as approvals_repo
from mdm_desktop.store.repositories import commands as repo
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_PAGE = 1000


class DestructivePausedError(ConflictError):
    """Destructive commands are paused (rate limit exceeded) until an administrator resumes them."""

    def __init__(self, since: dt.datetime) -> None:
        super().__init__(
            "Destructive commands are paused: too many were sent within an hour.",
            hint="An administrator must review the audit log and resume them (Commands view or "
            "'mdm-desktop command resume').",
            details=f"paused since {since.isoformat(timespec='seconds')}",
        )


def resolve_app(uow: UnitOfWork, ctype: CommandType, payload: dict[str, Any]) -> dict[str, Any]:
    """Replace ``app_id`` (a catalog app) by what the device needs.

    That is the app's identifier, and for an install the newest version's number, SHA-256 and
    download path.

    Raises:
        ValidationError: ``app_id`` is not a catalog app or has no uploaded version.
    """
    rest = {k: v for k, v in payload.items() if k != "app_id"}
    raw = payload.get("app_id")
    app_id = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    detail = catalog_repo.detail(uow, app_id) if app_id is not None else None
    if detail is None:
        raise ValidationError(f"There is no catalog app {raw!r}.", hint="See the App catalog for the app ids.")
    rest["identifier"] = detail.summary.identifier
    if ctype is CommandType.INSTALL_APP:
        if not detail.versions:
            raise ValidationError(
                f"{detail.summary.name} has no uploaded version yet.", hint="Upload a build in the App catalog first."
            )
        newest = detail.versions[0]
        rest.update(version=newest.version, sha256=newest.sha256, url=f"/v1/apps/{newest.sha256}")
    return rest


class CommandService:
    """Queues remote commands for devices and keeps the guard rails around destructive ones."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock
        self._desk = ApprovalDesk(self)

    # ---- shared helpers (also used by the approval desk) -----------------------------------

    def authorize(self, actor: Principal, permission: Permission, action: str, target: str = "") -> Principal:
        """Check ``permission`` (and step-up where the permission needs it); return the current principal."""
        if isinstance(self._guard, SessionGuard):
            return self._guard.authorize(actor, permission, action, target)
        self._guard.require(actor, permission, action, target)
        return actor

    @property
    def uow(self) -> UnitOfWorkFactory:
        """The unit-of-work factory."""
        return self._uow

    @property
    def audit(self) -> AuditLog:
        """The audit log writer."""
        return self._audit

    @property
    def clock(self) -> Clock:
        """The clock."""
        return self._clock

    def check_devices(
        self, uow: UnitOfWork, actor: Principal, permission: Permission, device_ids: Sequence[int], action: str
    ) -> dict[int, tuple[str, str, int | None]]:
        """The devices' ``(name, uid, group)``; refuses unknown ones and those outside the actor's scope.

        Call it before writing anything in ``uow``: a refusal is audited and committed in it.
        """
        found = repo.device_groups(uow, device_ids)
        missing = [i for i in device_ids if i not in found]
        if missing:
            raise NotFoundError(
                f"Device {missing[0]} does not exist."
                if len(missing) == 1
                else f"{len(missing)} devices do not exist.",
                hint="Refresh the device list and choose again.",
                details=", ".join(str(i) for i in missing[:20]),
            )
        outside = [i for i in device_ids if not actor.can_in_group(permission, found[i][2])]
        if outside:
            # Nothing is written yet in ``uow``: the refusal is its only entry.
            self._audit.record(
                uow,
                actor,
                action,
                target_kind="device",
                target=found[outside[0]][1],
                outcome=Outcome.DENIED,
                details={"permission": permission.value, "reason": "group_scope", "devices": len(outside)},
            )
            uow.commit()
            raise PermissionDeniedError(
                "Some of these devices are outside the groups you manage.",
                hint="Choose only devices of your groups, or ask an administrator.",
            )
        return found

    def queue_commands(
        self,
        uow: UnitOfWork,
        actor: Principal,
        devices: dict[int, tuple[str, str, int | None]],
        device_ids: Sequence[int],
        ctype: CommandType,
        payload: dict[str, Any],
        reason: str,
        created_by: str,
        approval_id: int | None = None,
    ) -> tuple[CommandInfo, ...]:
        """Queue one command per device and audit each (``commands.queue``); not committed."""
        now = self._clock()
        settings = command_settings.load(uow)
        rows = repo.queue(uow, device_ids, ctype, payload, reason, created_by, now, now + settings.expiry, approval_id)
        for row in rows:
            details: dict[str, Any] = {"command": row.uid, "type": ctype.value, "reason": reason}
            if approval_id is not None:
                details["approval"] = approval_id
                details["requested_by"] = created_by
            self._audit.record(
                uow, actor, "commands.queue", target_kind="device", target=devices[row.device_id][1], details=details
            )
        return repo.to_info(uow, rows)

    def check_rate(self, uow: UnitOfWork, actor: Principal, count: int, *, enforce: bool) -> None:
        """Refuse destructive commands while paused; pause (and alert) when ``count`` more exceed the limit.

        Args:
            uow: A write unit of work (committed here when the limit trips, so the alert stays).
            actor: Who is sending.
            count: Destructive commands about to be queued.
            enforce: ``False`` for commands a second administrator approved: they count, but
                only a pause refuses them.

        Raises:
            DestructivePausedError: Destructive commands are (now) paused.
        """
        paused = command_settings.pause_state(uow)
        if paused is not None:
            raise DestructivePausedError(paused.at)
        if not enforce:
            return
        now = self._clock()
        settings = command_settings.load(uow)
        recent = repo.destructive_since(uow, now - dt.timedelta(hours=1))
        if recent + count <= settings.destructive_per_hour:
            return
        command_settings.set_paused(uow, now, actor.name, recent + count)
        self._audit.record(
            uow,
            actor,
            "commands.paused",
            target_kind="guard_rail",
            target="destructive_rate",
            outcome=Outcome.DENIED,
            details={"last_hour": recent, "requested": count, "limit": settings.destructive_per_hour},
        )
        uow.commit()
        raise DestructivePausedError(now)

    # ---- send --------------------------------------------------------------------------------

    @mutating("commands.send", "commands.send", "commands.queue", "commands.approval_requested", entries=0)
    def send(
        self,
        actor: Principal,
        device_ids: Sequence[int],
        ctype: CommandType,
        payload: dict[str, Any] | None = None,
        reason: str = "",
    ) -> SendResult:
        """Queue ``ctype`` for each device, or ask for a second administrator's approval.

        Args:
            actor: The signed-in user.
            device_ids: Target devices (duplicates are dropped, order kept).
            ctype: The command.
            payload: Type-specific values (see :func:`~mdm_desktop.domain.commands.payload_problems`).
            reason: Why; required for destructive commands, kept in the audit log.

        Returns:
            The queued commands, or the approval request when the send is guarded.

        Raises:
            ValidationError: No device, too many, missing reason or a bad payload (nothing written).
            PermissionDeniedError / StepUpRequiredError: Not allowed, or a fresh code is needed.
            DestructivePausedError: Destructive commands are paused by the rate limit.
            NotFoundError: A device does not exist.
        """
        ids = list(dict.fromkeys(int(i) for i in device_ids))
        payload = dict(payload or {})
        reason = " ".join(reason.split())
        if "app_id" not in payload:
            self._validate_send(ids, ctype, payload, reason)
        permission = Permission.COMMANDS_SEND_DESTRUCTIVE if ctype.destructive else Permission.COMMANDS_SEND
        target = str(ids[0]) if len(ids) == 1 else f"{len(ids)} devices"
        fresh = self.authorize(actor, permission, "commands.send", target)
        with self._uow(write=True) as uow:
            if "app_id" in payload:
                payload = resolve_app(uow, ctype, payload)
                self._validate_send(ids, ctype, payload, reason)
            devices = self.check_devices(uow, fresh, permission, ids, "commands.send")
            settings = command_settings.load(uow)
            if needs_approval(ctype, len(ids), settings.approval_threshold):
                approval = self._desk.request(uow, fresh, ctype, payload, ids, reason, settings)
                uow.commit()
                return SendResult(approval=approval)
            if ctype.destructive:
                self.check_rate(uow, fresh, len(ids), enforce=True)
            queued = self.queue_commands(uow, fresh, devices, ids, ctype, payload, reason, fresh.name)
            self._audit.record(
                uow,
                fresh,
                "commands.send",
                target_kind="command",
                target=ctype.value,
                details={"type": ctype.value, "devices": len(ids), "reason": reason},
            )
            uow.commit()
        return SendResult(commands=queued)

    @staticmethod
    def _validate_send(ids: list[int], ctype: CommandType, payload: dict[str, Any], reason: str) -> None:
        if not ids:
            raise ValidationError("Choose at least one device.")
        if len(ids) > MAX_DEVICES_PER_SEND:
            raise ValidationError(f"One send can reach at most {MAX_DEVICES_PER_SEND} devices.")
        if ctype.destructive and not reason:
            raise ValidationError(
                f"{ctype.label} destroys data or ends management: type the reason.",
                hint="The reason is kept in the audit log.",
            )
        if len(reason) > MAX_REASON:
            raise ValidationError(f"The reason is longer than {MAX_REASON} characters.")
        problems = payload_problems(ctype, payload)
        if problems:
            raise ValidationError(" ".join(problems))

    # ---- lists -------------------------------------------------------------------------------

    def list_page(
        self, actor: Principal, query: CommandQuery, after: int | None = None, limit: int = 200
    ) -> CommandPage:
        """Commands matching ``query``, newest first (keyset after command id ``after``)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"Page size must be between 1 and {MAX_PAGE}.")
        self.authorize(actor, Permission.DEVICES_READ, "commands.list")
        with self._uow() as uow:
            return repo.list_page(uow, query, after, limit)

    def history(self, actor: Principal, device_id: int, limit: int = 100) -> tuple[CommandInfo, ...]:
        """A device's newest commands."""
        return self.list_page(actor, CommandQuery(device_id=device_id), limit=limit).rows

    @mutating("commands.view_location")
    def lost_location(self, actor: Principal, device_id: int) -> DeviceLocation | None:
        """The newest location a device reported in lost mode (``None``: none is kept).

        Locations are kept only while the device is in lost mode. Seeing one needs
        ``devices.read_identifiers`` and is audited (``commands.view_location``) like other
        protected device data.
        """
        fresh = self.authorize(actor, Permission.DEVICES_READ_IDENTIFIERS, "commands.view_location", str(device_id))
        with self._uow(write=True) as uow:
            devices = self.check_devices(
                uow, fresh, Permission.DEVICES_READ_IDENTIFIERS, [device_id], "commands.view_location"
            )
            found = repo.last_location(uow, device_id)
            if found is None:
                return None
            where, at = found
            # Never the coordinates: the device's identifiers as keyed hashes, so a search by serial finds the view.
            self._audit.record(
                uow,
                fresh,
                "commands.view_location",
                target_kind="device",
                target=devices[device_id][1],
                details=device_values(uow, device_id),
            )
            uow.commit()
        return DeviceLocation(device_id, where["lat"], where["lon"], where.get("accuracy_m"), at)

    # ---- cancel / expire -----------------------------------------------------------------------

    @mutating("commands.cancel")
    def cancel(self, actor: Principal, command_id: int) -> CommandInfo:
        """Cancel a command the device has not received yet.

        Raises:
            NotFoundError: No such command.
            ConflictError: It was delivered already or is final.
        """
        fresh = self.authorize(actor, Permission.COMMANDS_SEND, "commands.cancel", str(command_id))
        with self._uow(write=True) as uow:
            row = repo.get(uow, command_id, lock=True)
            if row is None:
                raise NotFoundError(f"Command {command_id} does not exist.", hint="Refresh the command list.")
            devices = self.check_devices(uow, fresh, Permission.COMMANDS_SEND, [row.device_id], "commands.cancel")
            if row.status != CommandStatus.QUEUED.value:
                raise ConflictError(
                    f"Command {command_id} is {row.status} and can no longer be cancelled.",
                    hint="Only commands the device has not received yet can be cancelled.",
                )
            row.status = CommandStatus.CANCELLED.value
            row.completed_at = self._clock()
            row.result = f"Cancelled by {fresh.name}."
            self._audit.record(
                uow,
                fresh,
                "commands.cancel",
                target_kind="device",
                target=devices[row.device_id][1],
                details={"command": row.uid, "type": row.type},
            )
            uow.session.flush()
            info = repo.to_info(uow, [row])[0]
            uow.commit()
        return info

    @mutating("commands.expire", entries=0)
    def expire_due(self, actor: Principal) -> ExpiryResult:
        """Expire every open command and approval whose time is up.

        Audit: one entry per expired approval, then one summary entry when any command expired.
        """
        fresh = self.authorize(actor, Permission.COMMANDS_SEND, "commands.expire")
        now = self._clock()
        with self._uow(write=True) as uow:
            commands = repo.expire_due(uow, now)
            approvals = self._desk.expire(uow, fresh, now)
            if commands:
                self._audit.record(uow, fresh, "commands.expire", target_kind="command", details={"commands": commands})
            uow.commit()
        return ExpiryResult(commands, approvals)

    # ---- approvals -----------------------------------------------------------------------------

    def approvals(self, actor: Principal, *, pending_only: bool = True) -> tuple[ApprovalInfo, ...]:
        """Approval requests, newest first (only the open ones by default)."""
        self.authorize(actor, Permission.DEVICES_READ, "commands.approvals")
        with self._uow() as uow:
            statuses = [ApprovalStatus.PENDING] if pending_only else []
            rows = approvals_repo.listing(uow, statuses)
            now = self._clock()
            return tuple(a for a in approvals_repo.to_info(uow, rows) if not (pending_only and a.expires_at <= now))

    @mutating("commands.approve", "commands.approve", "commands.queue", entries=0)
    def approve(self, actor: Principal, approval_id: int, note: str = "") -> SendResult:
        """Approve another administrator's guarded request: its commands are queued now."""
        return self._desk.approve(actor, approval_id, note)

    @mutating("commands.reject")
    def reject(self, actor: Principal, approval_id: int, note: str = "") -> ApprovalInfo:
        """Reject a guarded request (the requester may withdraw their own this way)."""
        return self._desk.reject(actor, approval_id, note)

    # ---- guard-rail settings and pause -----------------------------------------------------------

    def guardrails(self, actor: Principal) -> GuardrailStatus:
        """The command settings, the destructive count of the last hour and the pause state."""
        self.authorize(actor, Permission.DEVICES_READ, "commands.guardrails")
        with self._uow() as uow:
            return self._status(uow)

    def _status(self, uow: UnitOfWork) -> GuardrailStatus:
        settings = command_settings.load(uow)
        paused = command_settings.pause_state(uow)
        return GuardrailStatus(
            expiry_hours=settings.expiry_hours,
            approval_threshold=settings.approval_threshold,
            approval_hours=settings.approval_hours,
            destructive_per_hour=settings.destructive_per_hour,
            destructive_last_hour=repo.destructive_since(uow, self._clock() - dt.timedelta(hours=1)),
            paused_at=paused.at if paused else None,
            paused_by=paused.by if paused else "",
            pending_approvals=approvals_repo.pending_count(uow),
        )

    @mutating("commands.settings")
    def save_settings(self, actor: Principal, settings: CommandSettings) -> GuardrailStatus:
        """Change the command settings (settings.manage, step-up)."""
        fresh = self.authorize(actor, Permission.SETTINGS_MANAGE, "commands.settings")
        with self._uow(write=True) as uow:
            changed = command_settings.save(uow, settings, self._clock())
            self._audit.record(
                uow,
                fresh,
                "commands.settings",
                target_kind="settings",
                target="commands",
                details={k: {"old": o, "new": n} for k, (o, n) in changed.items()},
            )
            uow.commit()
            return self._status(uow)

    @mutating("commands.resume")
    def resume(self, actor: Principal, note: str = "") -> GuardrailStatus:
        """Let destructive commands be sent again after a rate-limit pause (commands.approve, step-up)."""
        fresh = self.authorize(actor, Permission.COMMANDS_APPROVE, "commands.resume")
        with self._uow(write=True) as uow:
            paused = command_settings.pause_state(uow)
            if paused is None:
                raise ConflictError("Destructive commands are not paused.")
            command_settings.clear_pause(uow, self._clock())
            self._audit.record(
                uow,
                fresh,
                "commands.resume",
                target_kind="guard_rail",
                target="destructive_rate",
                details={"paused_at": paused.at.isoformat(), "paused_by": paused.by, "note": " ".join(note.split())},
            )
            uow.commit()
            return self._status(uow)
