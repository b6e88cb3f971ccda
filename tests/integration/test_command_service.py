"""CommandService: permissions, step-up, reasons, the two-administrator approval and the rate limit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role, StepUpRequiredError
from mdm_desktop.domain.commands import ApprovalStatus, CommandStatus, CommandType
from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.services.command_dto import CommandQuery
from mdm_desktop.services.command_settings import CommandSettings
from mdm_desktop.services.commands import DestructivePausedError
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.repositories import commands as command_repo
from mdm_desktop.store.schema import CommandApproval, DeviceCommand
from tests.conftest import _authenticators, sign_in_admin, step_up_admin, totp_code, user_session
from tests.integration.fixtures_data import DeviceSpec, add_catalog_app, add_devices, add_groups, audit_count

REASON = "Phone left in a taxi, patient data on it"


def _devices(ctx: AppContext, n: int = 3, group_id: int | None = None) -> list[int]:
    return add_devices(ctx, [DeviceSpec(f"Ward phone {i}", Platform.IOS, group_id=group_id) for i in range(n)])


def _stale_step_up(ctx: AppContext) -> None:
    """Move the store's clock past the step-up window (a sign-in counts as a fresh step-up)."""
    _authenticators(ctx).clock.offset += dt.timedelta(minutes=6)


def _second_admin(ctx: AppContext) -> SessionInfo:
    bob = user_session(ctx, "bob", Role.ADMINISTRATOR)
    ctx.services.sessions.step_up(bob.principal, totp_code(ctx, "bob"))
    return bob


def test_everyday_command_is_queued_and_audited(app_ctx: AppContext, admin: SessionInfo) -> None:
    ids = _devices(app_ctx, 2)
    before = audit_count(app_ctx, action="commands.queue")
    result = app_ctx.services.commands.send(admin.principal, ids, CommandType.MESSAGE, {"text": "Please charge me"})
    assert not result.needs_approval
    assert [c.status for c in result.commands] == [CommandStatus.QUEUED] * 2
    assert {c.device_id for c in result.commands} == set(ids)
    assert all(c.expires_at is not None for c in result.commands)
    assert audit_count(app_ctx, action="commands.queue") == before + 2
    assert audit_count(app_ctx, action="commands.send") == 1
    page = app_ctx.services.commands.list_page(admin.principal, CommandQuery(device_id=ids[0]))
    assert [c.type for c in page.rows] == [CommandType.MESSAGE]


def test_bad_input_writes_nothing(app_ctx: AppContext, admin: SessionInfo) -> None:
    ids = _devices(app_ctx, 1)
    cmds = app_ctx.services.commands
    with pytest.raises(ValidationError):
        cmds.send(admin.principal, [], CommandType.LOCK)
    with pytest.raises(ValidationError, match="needs text"):
        cmds.send(admin.principal, ids, CommandType.MESSAGE, {})
    with pytest.raises(NotFoundError):
        cmds.send(admin.principal, [*ids, 999_999], CommandType.LOCK)
    assert cmds.list_page(admin.principal, CommandQuery()).rows == ()


def test_destructive_needs_reason_and_step_up(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 1)
    tech = user_session(app_ctx, "tina", Role.IT_TECHNICIAN)
    cmds = app_ctx.services.commands
    with pytest.raises(ValidationError, match="reason"):
        cmds.send(tech.principal, ids, CommandType.SELECTIVE_WIPE, reason="  ")
    _stale_step_up(app_ctx)
    with pytest.raises(StepUpRequiredError):
        cmds.send(tech.principal, ids, CommandType.SELECTIVE_WIPE, reason=REASON)
    app_ctx.services.sessions.step_up(tech.principal, totp_code(app_ctx, "tina"))
    result = cmds.send(tech.principal, ids, CommandType.SELECTIVE_WIPE, reason=REASON)
    assert [c.reason for c in result.commands] == [REASON]


def test_helpdesk_cannot_send_destructive_and_refusal_is_audited(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 1)
    helpdesk = user_session(app_ctx, "hank", Role.HELPDESK)
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.commands.send(helpdesk.principal, ids, CommandType.SELECTIVE_WIPE, reason=REASON)
    assert audit_count(app_ctx, action="commands.send", outcome="denied") == 1
    assert app_ctx.services.commands.send(helpdesk.principal, ids, CommandType.LOCK).commands


def test_group_scope_is_enforced(app_ctx: AppContext) -> None:
    groups = add_groups(app_ctx, ["Radiology", "Pharmacy"])
    mine = _devices(app_ctx, 1, groups["Radiology"])
    other = add_devices(app_ctx, [DeviceSpec("Pharmacy tablet", Platform.ANDROID, group_id=groups["Pharmacy"])])
    admin = step_up_admin(app_ctx)
    app_ctx.services.users.create_user(
        admin.principal, "rita", "amber falcon drifts softly 27", Role.HELPDESK, group_ids=[groups["Radiology"]]
    )
    from tests.conftest import enrol_authenticator

    rita = enrol_authenticator(app_ctx, app_ctx.services.auth.sign_in("rita", "amber falcon drifts softly 27"))
    assert app_ctx.services.commands.send(rita.principal, mine, CommandType.LOCK).commands
    with pytest.raises(PermissionDeniedError, match="outside the groups"):
        app_ctx.services.commands.send(rita.principal, [*mine, *other], CommandType.LOCK)


def test_cancel_only_while_queued(app_ctx: AppContext, admin: SessionInfo) -> None:
    ids = _devices(app_ctx, 1)
    cmds = app_ctx.services.commands
    queued = cmds.send(admin.principal, ids, CommandType.RESTART).commands[0]
    cancelled = cmds.cancel(admin.principal, queued.id)
    assert cancelled.status is CommandStatus.CANCELLED
    assert audit_count(app_ctx, action="commands.cancel") == 1
    with pytest.raises(ConflictError):
        cmds.cancel(admin.principal, queued.id)
    with pytest.raises(NotFoundError):
        cmds.cancel(admin.principal, 424242)


def test_expire_due_uses_the_site_expiry(app_ctx: AppContext, admin: SessionInfo) -> None:
    ids = _devices(app_ctx, 1)
    cmds = app_ctx.services.commands
    step_up_admin(app_ctx)
    cmds.save_settings(admin.principal, CommandSettings(expiry_hours=2))
    queued = cmds.send(admin.principal, ids, CommandType.REFRESH_INVENTORY).commands[0]
    assert queued.expires_at is not None
    assert queued.expires_at - queued.created_at == dt.timedelta(hours=2)
    with app_ctx.uow(write=True) as uow:
        uow.session.execute(update(DeviceCommand).values(expires_at=queued.created_at))
        uow.commit()
    assert cmds.expire_due(admin.principal).commands == 1
    assert cmds.history(admin.principal, ids[0])[0].status is CommandStatus.EXPIRED
    assert audit_count(app_ctx, action="commands.expire") == 1


def test_install_app_resolves_the_catalog_build(app_ctx: AppContext, admin: SessionInfo) -> None:
    ids = _devices(app_ctx, 1)
    app_id = add_catalog_app(app_ctx, "Ward Rounds", "org.clinic.rounds", Platform.IOS, ["1.0", "1.1"])
    sent = app_ctx.services.commands.send(admin.principal, ids, CommandType.INSTALL_APP, {"app_id": app_id})
    with app_ctx.uow() as uow:
        payload = uow.session.get(DeviceCommand, sent.commands[0].id).payload  # type: ignore[union-attr]
    assert payload["identifier"] == "org.clinic.rounds"
    assert payload["version"] == "1.1"
    assert payload["url"] == f"/v1/apps/{payload['sha256']}"
    with pytest.raises(ValidationError, match="no catalog app"):
        app_ctx.services.commands.send(admin.principal, ids, CommandType.INSTALL_APP, {"app_id": 9999})


def test_full_wipe_waits_for_a_second_administrator(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 1)
    alice = step_up_admin(app_ctx)
    cmds = app_ctx.services.commands
    result = cmds.send(alice.principal, ids, CommandType.WIPE, reason=REASON)
    assert result.needs_approval
    assert result.commands == ()
    assert result.approval is not None
    assert result.approval.status is ApprovalStatus.PENDING
    assert cmds.list_page(alice.principal, CommandQuery()).rows == ()
    approval_id = result.approval.id
    with pytest.raises(PermissionDeniedError, match="own request"):
        cmds.approve(alice.principal, approval_id)
    assert audit_count(app_ctx, action="commands.approve", outcome="denied") == 1
    bob = _second_admin(app_ctx)
    assert [a.id for a in cmds.approvals(bob.principal)] == [approval_id]
    approved = cmds.approve(bob.principal, approval_id, "Confirmed with the ward manager")
    assert approved.approval is not None
    assert approved.approval.decided_by == "bob"
    assert [(c.device_id, c.created_by, c.status) for c in approved.commands] == [
        (ids[0], "admin", CommandStatus.QUEUED)
    ]
    assert audit_count(app_ctx, action="commands.approval_requested") == 1
    assert audit_count(app_ctx, action="commands.approve", outcome="success") == 1
    with pytest.raises(ConflictError, match="already approved"):
        cmds.approve(bob.principal, approval_id)
    assert cmds.approvals(bob.principal) == ()


def test_approver_needs_step_up(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 1)
    alice = step_up_admin(app_ctx)
    approval = app_ctx.services.commands.send(alice.principal, ids, CommandType.RETIRE, reason=REASON).approval
    assert approval is not None
    bob = user_session(app_ctx, "bob", Role.ADMINISTRATOR)
    _stale_step_up(app_ctx)
    with pytest.raises(StepUpRequiredError):
        app_ctx.services.commands.approve(bob.principal, approval.id)


def test_many_devices_need_approval_and_can_be_rejected(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 6)
    alice = step_up_admin(app_ctx)
    cmds = app_ctx.services.commands
    few = cmds.send(alice.principal, ids[:5], CommandType.SELECTIVE_WIPE, reason=REASON)
    assert len(few.commands) == 5
    many = cmds.send(alice.principal, ids, CommandType.SELECTIVE_WIPE, reason=REASON)
    assert many.approval is not None
    assert many.approval.device_names[0] == "Ward phone 0"
    bob = _second_admin(app_ctx)
    rejected = cmds.reject(bob.principal, many.approval.id, "Not all of these are lost")
    assert rejected.status is ApprovalStatus.REJECTED
    with pytest.raises(ConflictError):
        cmds.approve(bob.principal, many.approval.id)
    assert audit_count(app_ctx, action="commands.reject") == 1


def test_expired_approval_cannot_be_approved(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 1)
    alice = step_up_admin(app_ctx)
    cmds = app_ctx.services.commands
    approval = cmds.send(alice.principal, ids, CommandType.WIPE, reason=REASON).approval
    assert approval is not None
    assert approval.expires_at - approval.requested_at == dt.timedelta(hours=24)
    with app_ctx.uow(write=True) as uow:
        uow.session.execute(update(CommandApproval).values(expires_at=approval.requested_at))
        uow.commit()
    bob = _second_admin(app_ctx)
    assert cmds.approvals(bob.principal) == ()
    with pytest.raises(ConflictError, match="expired"):
        cmds.approve(bob.principal, approval.id)
    assert cmds.approvals(bob.principal, pending_only=False)[0].status is ApprovalStatus.EXPIRED
    assert audit_count(app_ctx, action="commands.approval_expired") == 1


def test_rate_limit_pauses_destructive_commands_until_resumed(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 3)
    alice = step_up_admin(app_ctx)
    cmds = app_ctx.services.commands
    cmds.save_settings(alice.principal, CommandSettings(destructive_per_hour=2))
    cmds.send(alice.principal, ids[:2], CommandType.SELECTIVE_WIPE, reason=REASON)
    with pytest.raises(DestructivePausedError):
        cmds.send(alice.principal, ids[2:], CommandType.SELECTIVE_WIPE, reason=REASON)
    assert audit_count(app_ctx, action="commands.paused") == 1
    status = cmds.guardrails(alice.principal)
    assert status.paused
    assert status.destructive_last_hour == 2
    with pytest.raises(DestructivePausedError):
        cmds.send(alice.principal, ids[2:], CommandType.SELECTIVE_WIPE, reason=REASON)
    assert cmds.send(alice.principal, ids[2:], CommandType.LOCK).commands  # everyday commands still go
    helpdesk = user_session(app_ctx, "hank", Role.HELPDESK)
    with pytest.raises(PermissionDeniedError):
        cmds.resume(helpdesk.principal)
    alice = step_up_admin(app_ctx, sign_in_admin(app_ctx))
    assert not cmds.resume(alice.principal, "Checked: planned ward refresh").paused
    assert audit_count(app_ctx, action="commands.resume", outcome="success") == 1
    with pytest.raises(ConflictError):
        cmds.resume(alice.principal)


def test_lost_mode_location_needs_the_identifier_permission_and_is_audited(app_ctx: AppContext) -> None:
    ids = _devices(app_ctx, 1)
    admin = step_up_admin(app_ctx)
    cmds = app_ctx.services.commands
    assert cmds.lost_location(admin.principal, ids[0]) is None
    sent = cmds.send(admin.principal, ids, CommandType.LOST_MODE, {"message": "Call reception", "phone": "+1 555"})
    now = dt.datetime.now(dt.UTC)
    with app_ctx.uow(write=True) as uow:
        command_repo.claim_pending(uow, ids[0], now)
        command_repo.record_result(
            uow, ids[0], sent.commands[0].uid, "acknowledged", "", now, {"lat": 51.5, "lon": -0.12}
        )
        uow.commit()
    found = cmds.lost_location(admin.principal, ids[0])
    assert found is not None
    assert (found.latitude, found.longitude, found.accuracy_m) == (51.5, -0.12, None)
    assert audit_count(app_ctx, action="commands.view_location", outcome="success") == 1
    helpdesk = user_session(app_ctx, "hank", Role.HELPDESK)
    with pytest.raises(PermissionDeniedError):
        cmds.lost_location(helpdesk.principal, ids[0])
