"""EscalationService: the ladder on a real store, with rule states inserted directly and an injected time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.commands import ApprovalStatus, CommandType
from mdm_desktop.domain.devices import LifecycleStatus, Platform
from mdm_desktop.domain.errors import PermissionDeniedError
from mdm_desktop.domain.escalation import Step
from mdm_desktop.services import command_settings
from mdm_desktop.services.command_dto import CommandQuery
from mdm_desktop.services.escalation import ESCALATION_ACTOR, ladder_of
from mdm_desktop.store.schema import (
    CommandApproval,
    Device,
    DeviceCommand,
    DeviceRuleState,
    EscalationStep,
    PolicyVersion,
)
from tests.conftest import sign_in_admin, totp_code, user_session
from tests.integration.fixtures_data import DeviceSpec, add_devices, add_policy, audit_count

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
LADDER = {
    "escalation": {
        "notify_after_hours": 4,
        "quarantine_after_days": 3,
        "lock_after_days": 10,
        "wipe_after_days": 30,
        "notify_only_rules": ["apps.required"],
    }
}


def _version(ctx: AppContext, settings: Mapping[str, Any]) -> int:
    add_policy(ctx, f"Escalating {id(settings)}", dict(settings), versions=[dict(settings)])
    with ctx.uow() as uow:
        return int(uow.session.scalars(select(PolicyVersion.id).order_by(PolicyVersion.id.desc())).first() or 0)


def _state(
    ctx: AppContext,
    device: int,
    rule: str,
    status: str = "failing",
    since: dt.datetime = T0,
    version: int | None = None,
) -> None:
    with ctx.uow(write=True) as uow:
        row = uow.session.get(DeviceRuleState, (device, rule))
        if row is None:
            row = DeviceRuleState(device_id=device, rule_id=rule)
            uow.session.add(row)
        row.status = status
        row.failing_since = since if status == "failing" else None
        row.detail = f"{rule} is not met"
        row.policy_version_id = version
        row.evaluated_at = since
        uow.commit()


def _steps(ctx: AppContext, device: int) -> set[tuple[str, str]]:
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(EscalationStep.rule_id, EscalationStep.step).where(EscalationStep.device_id == device)
        ).all()
        return {(r, s) for r, s in rows}


def _quarantined(ctx: AppContext, device: int) -> bool:
    with ctx.uow() as uow:
        return uow.session.scalar(select(Device.quarantined_at).where(Device.id == device)) is not None


def _commands(ctx: AppContext, device: int) -> list[str]:
    with ctx.uow() as uow:
        return list(
            uow.session.scalars(
                select(DeviceCommand.type).where(DeviceCommand.device_id == device).order_by(DeviceCommand.id)
            )
        )


@pytest.fixture
def fleet(app_ctx: AppContext) -> tuple[int, int, int]:
    version = _version(app_ctx, LADDER)
    a, b = add_devices(
        app_ctx, [DeviceSpec("Ward 3 phone", Platform.IOS), DeviceSpec("Ward 4 tablet", Platform.ANDROID)]
    )
    return version, a, b


def test_the_ladder_day_by_day(app_ctx: AppContext, fleet: tuple[int, int, int]) -> None:
    version, device, _ = fleet
    _state(app_ctx, device, "health.max_patch_age", version=version)
    _state(app_ctx, device, "apps.required:com.example.ehr", version=version)
    run = app_ctx.services.escalation.run
    assert run(now=T0 + dt.timedelta(hours=3)).taken == ()
    first = run(now=T0 + dt.timedelta(hours=5))
    assert {(t.rule_id, t.step) for t in first.taken} == {
        ("health.max_patch_age", Step.NOTIFY),
        ("apps.required:com.example.ehr", Step.NOTIFY),
    }
    assert _commands(app_ctx, device) == ["message"]  # one message per device and sweep, naming both rules
    assert run(now=T0 + dt.timedelta(hours=6)).taken == ()  # idempotent
    assert not _quarantined(app_ctx, device)
    run(now=T0 + dt.timedelta(days=3))
    assert _quarantined(app_ctx, device)
    run(now=T0 + dt.timedelta(days=10))
    assert _commands(app_ctx, device) == ["message", "lock"]
    last = run(now=T0 + dt.timedelta(days=31))
    assert [t.step for t in last.taken] == [Step.WIPE]
    assert last.taken[0].approval_id is not None  # the wipe waits for a second administrator
    assert _commands(app_ctx, device) == ["message", "lock"]
    with app_ctx.uow() as uow:
        approval = uow.session.get(CommandApproval, last.taken[0].approval_id)
        assert approval is not None
        assert (approval.type, approval.status, approval.requested_by) == ("wipe", "pending", ESCALATION_ACTOR)
    # The notify-only rule never climbed.
    assert {s for r, s in _steps(app_ctx, device) if r.startswith("apps.required")} == {"notify"}
    assert audit_count(app_ctx, action="compliance.escalation_step") == 5
    assert audit_count(app_ctx, action="compliance.escalate") == 4


def test_a_late_sweep_takes_every_due_step_at_once(app_ctx: AppContext, fleet: tuple[int, int, int]) -> None:
    version, device, _ = fleet
    _state(app_ctx, device, "health.compromised", version=version)
    result = app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=12))
    assert [t.step for t in result.taken] == [Step.NOTIFY, Step.QUARANTINE, Step.LOCK]
    assert "1 notify, 1 quarantine, 1 lock" in result.summary()


def test_an_approved_escalation_wipe_reaches_the_device(app_ctx: AppContext, fleet: tuple[int, int, int]) -> None:
    version, device, _ = fleet
    _state(app_ctx, device, "health.compromised", version=version)
    result = app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=40))
    approval_id = next(t.approval_id for t in result.taken if t.step is Step.WIPE)
    assert approval_id is not None
    admin = sign_in_admin(app_ctx)
    app_ctx.services.sessions.step_up(admin.principal, totp_code(app_ctx))
    sent = app_ctx.services.commands.approve(admin.principal, approval_id, "Device stolen, confirmed")
    assert [c.type for c in sent.commands] == [CommandType.WIPE]
    assert sent.approval is not None
    assert sent.approval.status is ApprovalStatus.APPROVED


def test_without_approval_the_wipe_is_queued_unless_paused(app_ctx: AppContext) -> None:
    settings = {
        "escalation": {"wipe_after_days": 1, "notify_after_hours": None, "destructive_steps_need_approval": False}
    }
    version = _version(app_ctx, settings)
    (device,) = add_devices(app_ctx, [DeviceSpec("Lost phone", Platform.ANDROID)])
    _state(app_ctx, device, "health.max_checkin_age", version=version)
    with app_ctx.uow(write=True) as uow:
        command_settings.set_paused(uow, T0, "cov", 30)
        uow.commit()
    paused = app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=2))
    assert (paused.taken, paused.deferred) == ((), 1)
    assert _steps(app_ctx, device) == set()
    with app_ctx.uow(write=True) as uow:
        command_settings.clear_pause(uow, T0)
        uow.commit()
    resumed = app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=2))
    assert [t.step for t in resumed.taken] == [Step.WIPE]
    assert _commands(app_ctx, device) == ["wipe"]


def test_passing_again_clears_the_ladder_and_lifts_the_quarantine(
    app_ctx: AppContext, fleet: tuple[int, int, int]
) -> None:
    version, device, other = fleet
    _state(app_ctx, device, "health.max_patch_age", version=version)
    _state(app_ctx, other, "health.max_patch_age", version=version)
    run = app_ctx.services.escalation.run
    run(now=T0 + dt.timedelta(days=4))
    assert _quarantined(app_ctx, device)
    assert _quarantined(app_ctx, other)
    _state(app_ctx, device, "health.max_patch_age", status="passing", since=T0 + dt.timedelta(days=5))
    _state(app_ctx, other, "health.max_patch_age", status="exempt", since=T0 + dt.timedelta(days=5))
    result = run(now=T0 + dt.timedelta(days=5))
    assert (result.cleared, result.released) == (2, 2)
    assert not _quarantined(app_ctx, device)
    assert _steps(app_ctx, device) == set()
    assert audit_count(app_ctx, action="compliance.quarantine_released") == 2
    # A new failure starts from the bottom of the ladder.
    _state(app_ctx, device, "health.max_patch_age", since=T0 + dt.timedelta(days=6), version=version)
    again = run(now=T0 + dt.timedelta(days=6, hours=5))
    assert [t.step for t in again.taken] == [Step.NOTIFY]


def test_unknown_keeps_the_steps_but_does_not_climb(app_ctx: AppContext, fleet: tuple[int, int, int]) -> None:
    version, device, _ = fleet
    _state(app_ctx, device, "health.max_patch_age", version=version)
    app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=4))
    _state(app_ctx, device, "health.max_patch_age", status="unknown")
    result = app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=20))
    assert (result.taken, result.cleared) == ((), 0)
    assert _quarantined(app_ctx, device)


def test_retired_devices_and_rules_without_a_policy(app_ctx: AppContext) -> None:
    retired, loose = add_devices(
        app_ctx,
        [DeviceSpec("Old phone", Platform.IOS, status=LifecycleStatus.RETIRED), DeviceSpec("Loose", Platform.IOS)],
    )
    _state(app_ctx, retired, "health.compromised")
    _state(app_ctx, loose, "health.compromised")
    result = app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=100))
    assert [(t.device_id, t.step) for t in result.taken] == [(loose, Step.NOTIFY)]  # the default ladder notifies


def test_nothing_to_do_writes_nothing(app_ctx: AppContext) -> None:
    before = audit_count(app_ctx)
    result = app_ctx.services.escalation.run(now=T0)
    assert result.summary() == "Nothing to escalate."
    assert audit_count(app_ctx) == before


def test_a_user_needs_devices_write(app_ctx: AppContext) -> None:
    helpdesk = user_session(app_ctx, "help.desk", Role.HELPDESK)
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.escalation.run(helpdesk.principal, now=T0)
    assert audit_count(app_ctx, action="compliance.escalate", outcome="denied") == 1


def test_a_broken_stored_policy_falls_back_to_notify_only() -> None:
    assert ladder_of({"escalation": {"wipe_after_days": "soon"}}).wipe_after is None
    assert ladder_of(None).notify_after == dt.timedelta(0)


def test_commands_made_by_escalation_are_listed_with_their_reason(
    app_ctx: AppContext, fleet: tuple[int, int, int]
) -> None:
    version, device, _ = fleet
    _state(app_ctx, device, "health.compromised", version=version)
    app_ctx.services.escalation.run(now=T0 + dt.timedelta(days=11))
    admin = sign_in_admin(app_ctx)
    rows = app_ctx.services.commands.list_page(admin.principal, CommandQuery(device_id=device)).rows
    assert {r.created_by for r in rows} == {ESCALATION_ACTOR}
    assert all(r.reason.startswith("Compliance escalation") for r in rows)


def test_check_in_answers_quarantined_while_the_device_is_quarantined(app_ctx: AppContext) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from mdm_desktop.domain.devices import Ownership
    from mdm_desktop.security.ca import der_fingerprint
    from mdm_desktop.wire.v1 import CheckinRequest, EnrollRequest
    from tests.e2e.gateway_helpers import csr_pem, inventory, new_key

    services = app_ctx.services
    issued = services.enrollment.create_token(
        sign_in_admin(app_ctx).principal,
        group_id=None,
        uses=1,
        lifetime=dt.timedelta(hours=1),
        ownership=Ownership.CORPORATE,
        server_url="https://127.0.0.1:8443",
    )
    enrolled = services.enrollment.enrol(
        EnrollRequest.model_validate(
            {"token": issued.token, "csr_pem": csr_pem(new_key()), "inventory": inventory("ward-5-phone")}
        )
    )
    der = x509.load_pem_x509_certificate(enrolled.certificate_pem.encode()).public_bytes(Encoding.DER)
    fingerprint = der_fingerprint(der)

    def check_in(sequence: int) -> bool:
        request = CheckinRequest.model_validate(
            {"sequence": sequence, "sent_at": dt.datetime.now(dt.UTC), "inventory": inventory("ward-5-phone")}
        )
        return services.checkin.check_in(fingerprint, request).quarantined

    assert check_in(1) is False
    with app_ctx.uow(write=True) as uow:
        device = uow.session.scalars(select(Device).where(Device.uid == enrolled.device_id)).one()
        device.quarantined_at = T0
        uow.commit()
    assert check_in(2) is True
