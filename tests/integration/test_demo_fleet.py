"""The demo fleet on SQLite and PostgreSQL: realistic, sealed, audited, reproducible."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.domain.audit import HASH_V2
from mdm_desktop.domain.compliance_exceptions import exception_status
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Platform
from mdm_desktop.domain.errors import AuthenticationError, ConflictError, ValidationError
from mdm_desktop.security import totp
from mdm_desktop.security.keyring import load_or_create_kek
from mdm_desktop.services.audit_chain import verify_chain
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.compliance_engine import reevaluate_scope
from mdm_desktop.services.demo_compliance import TREND_DAYS
from mdm_desktop.services.demo_fleet import DemoFleetService
from mdm_desktop.services.dto import DemoResult, DeviceQuery
from mdm_desktop.store.keys import load_or_create_store_keys
from mdm_desktop.store.schema import (
    AuditEntry,
    CatalogAppVersion,
    ComplianceException,
    ComplianceRuleSnapshot,
    ComplianceSnapshot,
    Device,
    DeviceCommand,
    DeviceGroup,
    DeviceRuleState,
    EscalationStep,
    InstalledApp,
    Policy,
    PolicyAssignment,
    PolicyVersion,
    User,
)
from tests.conftest import fast_passwords, make_config

NOW = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
DEVICES = 300
SEED = 2026


def _now() -> dt.datetime:
    return NOW


def demo_service(ctx: AppContext) -> tuple[DemoFleetService, bytes]:
    """A demo service on ``ctx`` with a fixed clock, and the store's audit key (to check the chain)."""
    keys = load_or_create_store_keys(ctx.engine, load_or_create_kek(ctx.config.key_file))
    service = DemoFleetService(
        ctx.uow,
        AuditLog(keys.audit, _now),
        fast_passwords(),
        _now,
        history_log=lambda clock: AuditLog(keys.audit, clock),
    )
    return service, keys.audit


@pytest.fixture
def filled(app_ctx: AppContext) -> tuple[AppContext, DemoResult, bytes]:
    service, audit_key = demo_service(app_ctx)
    return app_ctx, service.generate(DEVICES, SEED), audit_key


def test_fills_a_realistic_clinic(filled: tuple[AppContext, DemoResult, bytes]) -> None:
    ctx, result, _key = filled
    assert result.device_count == DEVICES
    assert result.seed == SEED
    with ctx.uow() as uow:
        s = uow.session
        assert s.scalar(select(func.count(Device.id))) == DEVICES
        platforms = dict(s.execute(select(Device.platform, func.count()).group_by(Device.platform)).all())
        assert set(platforms) == {p.value for p in Platform}
        vendors = set(s.scalars(select(Device.vendor).distinct()))
        assert {"Apple", "Samsung", "Google", "Zebra", "Dell"} <= vendors
        states = Counter(
            dict(s.execute(select(Device.compliance_state, func.count()).group_by(Device.compliance_state)).all())
        )
        assert states[ComplianceState.COMPLIANT.value] > DEVICES / 2
        assert states[ComplianceState.NON_COMPLIANT.value] > 0
        assert states[ComplianceState.UNKNOWN.value] > 0
        assert states[ComplianceState.IN_GRACE.value] > 0
        statuses = set(s.scalars(select(Device.status).distinct()))
        assert {LifecycleStatus.ENROLLED.value, LifecycleStatus.PENDING.value} <= statuses
        assert s.scalar(select(func.count()).where(Device.compromised.is_(True))) > 0
        assert s.scalar(select(func.count()).where(Device.storage_encrypted.is_(False))) > 0
        stale = NOW - dt.timedelta(days=14)
        assert s.scalar(select(func.count()).where(Device.last_checkin_at < stale)) > 0
        assert s.scalar(select(func.count()).where(Device.ownership == "byod")) > 0
        # Every non-compliant device says why; a compliant one mentions only its exemptions.
        for state, reasons in s.execute(select(Device.compliance_state, Device.compliance_reasons)):
            if state == ComplianceState.COMPLIANT.value:
                assert all(r.startswith("Exempt until") for r in reasons)
            else:
                assert reasons
        assert s.scalar(select(func.count(DeviceGroup.id))) == result.group_count == 11
        assert s.scalar(select(func.count(InstalledApp.id))) > DEVICES * 2
        commands = set(s.scalars(select(DeviceCommand.status).distinct()))
        assert {"queued", "delivered", "acknowledged", "failed", "expired"} <= commands
        assert s.scalar(select(func.count(DeviceCommand.id))) == result.command_count
        assert s.scalar(select(func.count(Policy.id))) == result.policy_count == 5
        assert s.scalar(select(func.max(PolicyVersion.version))) >= 4
        assert s.scalar(select(func.count(PolicyAssignment.id))) > 10
        hashes = list(s.scalars(select(CatalogAppVersion.sha256)))
        assert hashes
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
        roles = set(s.scalars(select(User.role)))
        assert roles == {"administrator", "it_technician", "helpdesk", "security_officer"}
        # The printed passwords were set by the fill: the Users pane shows when, not "unknown".
        assert set(s.scalars(select(User.password_changed_at))) == {NOW}


def test_compliance_comes_from_the_engine_with_history(filled: tuple[AppContext, DemoResult, bytes]) -> None:
    """States are the engine's, with rule states, exceptions, escalation and 90 days of trend ending today."""
    ctx, _result, _key = filled
    with ctx.uow(write=True) as uow:
        s = uow.session
        again = reevaluate_scope(s, NOW)
        assert again.devices > 0
        assert again.changed == 0  # the stored states are exactly what the engine computes
    with ctx.uow() as uow:
        s = uow.session
        failing = (
            s.execute(select(DeviceRuleState.failing_since).where(DeviceRuleState.status == "failing")).scalars().all()
        )
        assert failing
        assert all(f is not None and NOW - dt.timedelta(days=61) <= f <= NOW for f in failing)
        assert min(failing) < NOW - dt.timedelta(days=7)  # some failures are old enough to have escalated
        assert s.scalar(select(func.count()).where(DeviceRuleState.status == "exempt")) > 0
        exceptions = s.scalars(select(ComplianceException)).all()
        statuses = Counter(
            exception_status(approved_at=e.approved_at, revoked_at=e.revoked_at, valid_until=e.valid_until, now=NOW)
            for e in exceptions
        )
        assert statuses == {"pending": 1, "active": 2, "expired": 1}
        assert sum(e.group_id is not None for e in exceptions) == 1
        steps = Counter(s.scalars(select(EscalationStep.step)).all())
        assert steps["notify"] > 0
        assert steps["quarantine"] > 0
        quarantined = set(s.scalars(select(Device.id).where(Device.quarantined_at.is_not(None))))
        with_step = set(s.scalars(select(EscalationStep.device_id).where(EscalationStep.step == "quarantine")))
        assert quarantined == with_step
        days = sorted(set(s.scalars(select(ComplianceSnapshot.day))))
        assert len(days) == TREND_DAYS
        assert days[-1] == NOW.date()
        assert days[0] == NOW.date() - dt.timedelta(days=TREND_DAYS - 1)
        today = dict(
            s.execute(
                select(ComplianceSnapshot.state, func.sum(ComplianceSnapshot.devices))
                .where(ComplianceSnapshot.day == NOW.date())
                .group_by(ComplianceSnapshot.state)
            ).all()
        )
        live = dict(
            s.execute(
                select(Device.compliance_state, func.count())
                .where(Device.status.not_in(("retired", "wiped")))
                .group_by(Device.compliance_state)
            ).all()
        )
        assert today == live
        oldest = dict(
            s.execute(
                select(ComplianceSnapshot.state, func.sum(ComplianceSnapshot.devices))
                .where(ComplianceSnapshot.day == days[0])
                .group_by(ComplianceSnapshot.state)
            ).all()
        )
        assert 0 < sum(oldest.values()) <= sum(today.values())
        rule_days = set(s.scalars(select(ComplianceRuleSnapshot.day)))
        assert len(rule_days) == TREND_DAYS


def test_administrator_can_sign_in_and_read_the_fleet(filled: tuple[AppContext, DemoResult, bytes]) -> None:
    ctx, result, _key = filled
    assert result.accounts[0].username == result.admin_username
    with pytest.raises(AuthenticationError):
        ctx.services.auth.sign_in(result.admin_username, result.admin_password)  # an authenticator is enrolled
    code = totp.code_at(result.admin_totp_secret, dt.datetime.now(dt.UTC))
    session = ctx.services.auth.sign_in(result.admin_username, result.admin_password, code)
    assert session.mfa_enrolled
    assert result.admin_totp_uri.startswith("otpauth://totp/")
    assert result.admin_totp_secret in result.admin_totp_uri
    with ctx.engine.connect() as conn:
        sealed = conn.execute(
            text("SELECT totp_secret_sealed FROM users WHERE username = :u"), {"u": result.admin_username}
        ).scalar_one()
    assert sealed
    assert result.admin_totp_secret.encode() not in bytes(sealed)
    page = ctx.services.devices.list_page(session.principal, DeviceQuery(), limit=50)
    assert len(page.rows) == 50
    assert all(row.serial for row in page.rows)
    assert any(row.assigned_to for row in page.rows)
    detail = ctx.services.devices.detail(session.principal, page.rows[0].id)
    assert detail.hardware_id
    for account in result.accounts[1:]:
        if not account.disabled:
            assert ctx.services.auth.sign_in(account.username, account.password).username == account.username


def test_sealed_columns_hold_no_clear_text(filled: tuple[AppContext, DemoResult, bytes]) -> None:
    ctx, _result, _key = filled
    cipher = ctx.uow.cipher
    checked = 0
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT uid, serial_sealed, hardware_id_sealed, assigned_to_sealed FROM devices")
        ).all()
        users = conn.execute(text("SELECT uid, username, display_name_sealed FROM users")).all()
    for uid, *sealed in rows:
        for column, raw in zip(("serial", "hardware_id", "assigned_to"), sealed, strict=True):
            if raw is None:
                continue
            raw = bytes(raw)
            clear = cipher.open(raw, table="devices", column=column, row=uid)
            assert clear
            assert clear.encode() not in raw
            checked += 1
    assert checked > DEVICES * 2
    for uid, _username, raw in users:
        name = cipher.open(bytes(raw), table="users", column="display_name", row=uid)
        assert name
        assert name.encode() not in bytes(raw)


def test_audit_history_is_a_valid_chain_ending_in_the_fill(filled: tuple[AppContext, DemoResult, bytes]) -> None:
    ctx, result, audit_key = filled
    with ctx.uow() as uow:
        entries = list(uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        uow.session.expunge_all()  # keep the loaded values after the unit of work ends
    assert len(entries) == result.audit_entry_count
    assert 500 < len(entries) <= 3001
    report = verify_chain(ctx.uow, audit_key)
    assert report.intact, report.problem
    assert report.entries_checked == len(entries)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert {e.hash_version for e in entries} == {HASH_V2}
    times = [e.occurred_at for e in entries]
    assert times == sorted(times)
    assert times[0] >= NOW - dt.timedelta(days=91)
    last = entries[-1]
    assert (last.action, last.actor_kind, last.actor, last.occurred_at) == ("demo.generate", "system", "demo", NOW)
    actions = Counter(e.action for e in entries)
    assert actions["auth.sign_in"] > 50
    assert actions["commands.send"] > 10
    assert {"devices.view_identifiers", "policies.publish", "catalog.add_version"} <= set(actions)
    assert any(e.outcome == "denied" for e in entries)


def _fingerprint(ctx: AppContext) -> list[tuple[object, ...]]:
    """What a seed decides: every device's visible inventory and its decrypted identifiers."""
    cipher = ctx.uow.cipher
    with ctx.uow() as uow:
        apps = Counter(uow.session.scalars(select(InstalledApp.identifier)))
        commands = Counter((t, st) for t, st in uow.session.execute(select(DeviceCommand.type, DeviceCommand.status)))
        out: list[tuple[object, ...]] = [(tuple(sorted(apps.items())),), (tuple(sorted(commands.items())),)]
        for d in uow.session.scalars(select(Device).order_by(Device.id)):
            out.append(
                (
                    d.name, d.platform, d.vendor, d.model, d.os_version, d.os_build, d.security_patch, d.ownership,
                    d.status, d.compliance_state, tuple(d.compliance_reasons), d.last_checkin_at,
                    cipher.open(d.serial_sealed, table="devices", column="serial", row=d.uid),
                    cipher.open(d.hardware_id_sealed, table="devices", column="hardware_id", row=d.uid),
                    cipher.open(d.assigned_to_sealed, table="devices", column="assigned_to", row=d.uid),
                )
            )  # fmt: skip
    return out


def test_same_seed_gives_the_same_fleet_on_any_store(app_ctx: AppContext, tmp_path: Path) -> None:
    service, _key = demo_service(app_ctx)
    service.generate(120, 5)
    other_dir = tmp_path / "other"
    other = open_app(make_config(f"sqlite:///{other_dir / 'other.sqlite3'}", other_dir), passwords=fast_passwords())
    try:
        other_service, _other_key = demo_service(other)
        other_service.generate(120, 5)
        assert _fingerprint(app_ctx) == _fingerprint(other)
        different = _fingerprint(other)
    finally:
        other.close()
    third_dir = tmp_path / "third"
    third = open_app(make_config(f"sqlite:///{third_dir / 'third.sqlite3'}", third_dir), passwords=fast_passwords())
    try:
        demo_service(third)[0].generate(120, 6)
        assert _fingerprint(third) != different
    finally:
        third.close()


def test_refuses_a_store_with_devices_unless_forced(app_ctx: AppContext) -> None:
    service, _key = demo_service(app_ctx)
    first = service.generate(40, 1)
    with app_ctx.uow() as uow:
        audit_before = uow.session.scalar(select(func.count(AuditEntry.id)))
    with pytest.raises(ConflictError, match="already holds 40 devices"):
        service.generate(10, 1)
    with app_ctx.uow() as uow:
        assert uow.session.scalar(select(func.count(Device.id))) == 40
        assert uow.session.scalar(select(func.count(AuditEntry.id))) == audit_before
    second = service.generate(10, 1, force=True)
    assert second.admin_username != first.admin_username
    with app_ctx.uow() as uow:
        assert uow.session.scalar(select(func.count(Device.id))) == 50
        assert uow.session.scalar(select(func.count(DeviceGroup.id))) == 11
        names = list(uow.session.scalars(select(Device.name)))
    assert len(set(names)) == 50


@pytest.mark.parametrize("devices", [0, -5, 1_000_001])
def test_rejects_impossible_sizes_without_writing(sqlite_ctx: AppContext, devices: int) -> None:
    service, _key = demo_service(sqlite_ctx)
    with pytest.raises(ValidationError, match="between 1 and"):
        service.generate(devices, 1)
    with pytest.raises(ValidationError, match="seed"):
        service.generate(5, -1)
    with sqlite_ctx.uow() as uow:
        assert uow.session.scalar(select(func.count(User.id))) == 0
        assert uow.session.scalar(select(func.count(AuditEntry.id))) == 0


def test_progress_is_reported_per_batch(sqlite_ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mdm_desktop.services.demo_fleet.BATCH_SIZE", 25)
    seen: list[tuple[int, int]] = []
    demo_service(sqlite_ctx)[0].generate(60, 3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(25, 60), (50, 60), (60, 60)]
