"""Audit coverage: every registered mutating operation writes its audit entry; refusals are audited; fail closed.

The registry (:mod:`mdm_desktop.services.operations`) lists every service method that changes state.
This module holds a call recipe for each of them; a new operation without a recipe (or a recipe for an
operation that is not registered) fails :func:`test_every_operation_has_a_recipe`, so nothing can be
added unaudited unnoticed.

A recipe prepares what the call needs (as the administrator, outside the measured window) and returns
the call itself, made as the given actor (``None``: the recipe's normal caller). The tests count audit
entries just around that call.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import MetaData, delete, select, update

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Permission, Principal, Role
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.commands import CommandType
from mdm_desktop.domain.devices import Ownership, Platform
from mdm_desktop.domain.errors import PermissionDeniedError
from mdm_desktop.domain.policy_baselines import find_baseline
from mdm_desktop.exports.report import PolicySource
from mdm_desktop.exports.settings_json import build_settings_json
from mdm_desktop.security import totp
from mdm_desktop.security.ca import der_fingerprint
from mdm_desktop.services import command_settings
from mdm_desktop.services.audit_log import AuditChainError
from mdm_desktop.services.command_dto import ExpiryResult, SendResult
from mdm_desktop.services.command_settings import CommandSettings
from mdm_desktop.services.dto import DemoResult, SessionInfo
from mdm_desktop.services.operations import Operation, registered_operations
from mdm_desktop.store.repositories import commands as command_repo
from mdm_desktop.store.schema import AccessRequest, AuditEntry, AuditHead, Device, DeviceCommand, User
from mdm_desktop.wire.v1 import CommandOutcome, CommandResult, EnrollRequest
from tests.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    USER_PASSWORD,
    _authenticators,
    make_config,
    open_test_app,
    sign_in_admin,
    step_up_admin,
    totp_code,
)
from tests.e2e.gateway_helpers import csr_pem, inventory, new_key
from tests.integration.fixtures_data import DeviceSpec, add_catalog_app, add_devices, add_groups

NEW_PASSWORD = "quiet lantern orbits gently 58"
GRANT_MINUTES = 240
"""Long enough that no grant made here runs out while the rest of the recipes move the clock on."""

Call = Callable[[], object]


@dataclass
class Env:
    """One store and the people the recipes act as."""

    ctx: AppContext
    tmp: Path
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def name(self, stem: str) -> str:
        """A user, role or policy name not used before on this store."""
        return f"cov-{stem}-{next(self.serial)}"

    @property
    def admin(self) -> Principal:
        """The administrator, signed in."""
        return sign_in_admin(self.ctx).principal

    def stepped(self) -> Principal:
        """The administrator with a fresh step-up (for user, role, key and settings changes)."""
        return step_up_admin(self.ctx).principal

    def new_user(self, role: Role | int = Role.HELPDESK) -> tuple[int, str]:
        """Create an account (no authenticator yet); return its id and user name."""
        username = self.name("user")
        info = self.ctx.services.users.create_user(self.stepped(), username, USER_PASSWORD, role)
        return info.id, username

    def signed_in(self, role: Role | int = Role.HELPDESK) -> SessionInfo:
        """A new account signed in with its password (no authenticator enrolled)."""
        _, username = self.new_user(role)
        return self.ctx.services.auth.sign_in(username, USER_PASSWORD)

    def enrolled(self, role: Role | int) -> SessionInfo:
        """A new account with an authenticator, signed in."""
        session = self.signed_in(role)
        auth = self.ctx.services.auth
        shown = auth.begin_totp_enrolment(session.principal)
        auth.confirm_totp_enrolment(session.principal, self.code(shown.secret))
        _authenticators(self.ctx).secrets[session.username] = shown.secret
        return self.ctx.services.sessions.resume(session.principal.session_token, session.principal.workstation)

    def code(self, secret: str) -> str:
        """A TOTP code for ``secret`` in a fresh time step."""
        clock = _authenticators(self.ctx).clock
        clock.next_step()
        return totp.code_at(secret, clock())

    def custom_role(self, *permissions: Permission) -> int:
        """A custom role holding exactly ``permissions``."""
        return self.ctx.services.users.create_role(self.stepped(), self.name("role"), permissions).id

    def requester(self) -> SessionInfo:
        """Someone who may only ask for temporary access."""
        return self.enrolled(self.custom_role(Permission.ACCESS_REQUEST))

    def request(self, requester: SessionInfo | None = None) -> int:
        """A pending request for devices.read (every group); returns its id."""
        who = requester or self.requester()
        info = self.ctx.services.users.request_access(
            who.principal, Permission.DEVICES_READ, "Ticket 4711: ward 3 tablet", GRANT_MINUTES
        )
        return info.id

    def grant(self) -> int:
        """An approved request; returns its id."""
        request_id = self.request()
        self.ctx.services.users.approve_request(self.stepped(), request_id)
        return request_id

    def group(self) -> int:
        """A new device group."""
        name = self.name("ward")
        return add_groups(self.ctx, [name])[name]

    def policy(self) -> int:
        """A new policy (its draft is the clinic baseline)."""
        return self.ctx.services.policies.create_policy(self.admin, self.name("policy")).id


Recipe = Callable[[Env, Principal | None], Call]


def _first_admin(env: Env, actor: Principal | None) -> Call:
    return lambda: env.ctx.services.auth.create_first_admin(ADMIN_USER, ADMIN_PASSWORD)


def _demo(env: Env, actor: Principal | None) -> Call:
    return lambda: env.ctx.services.demo.generate(1, seed=5)


def _sign_in(env: Env, actor: Principal | None) -> Call:
    _, username = env.new_user()
    return lambda: env.ctx.services.auth.sign_in(username, USER_PASSWORD)


def _break_glass(env: Env, actor: Principal | None) -> Call:
    (code,) = env.ctx.services.auth.create_emergency_code(env.stepped()).codes
    return lambda: env.ctx.services.auth.sign_in_break_glass(ADMIN_USER, ADMIN_PASSWORD, code)


def _break_glass_review(env: Env, actor: Principal | None) -> Call:
    auth = env.ctx.services.auth
    (code,) = auth.create_emergency_code(env.stepped()).codes
    auth.sign_in_break_glass(ADMIN_USER, ADMIN_PASSWORD, code)
    officer = actor or env.enrolled(Role.SECURITY_OFFICER).principal
    use_id = auth.list_break_glass(env.admin)[0].id
    return lambda: auth.review_break_glass(officer, use_id, "Phone lost on ward 3; authenticator re-enrolled.")


def _totp_begin(env: Env, actor: Principal | None) -> Call:
    session = env.signed_in()
    return lambda: env.ctx.services.auth.begin_totp_enrolment(session.principal)


def _totp_confirm(env: Env, actor: Principal | None) -> Call:
    session = env.signed_in()
    shown = env.ctx.services.auth.begin_totp_enrolment(session.principal)
    code = env.code(shown.secret)
    return lambda: env.ctx.services.auth.confirm_totp_enrolment(session.principal, code)


def _recovery_codes(env: Env, actor: Principal | None) -> Call:
    admin = env.stepped()
    return lambda: env.ctx.services.auth.regenerate_recovery_codes(admin)


def _password_change(env: Env, actor: Principal | None) -> Call:
    session = env.signed_in()
    return lambda: env.ctx.services.auth.change_password(session.principal, USER_PASSWORD, NEW_PASSWORD)


def _emergency_code(env: Env, actor: Principal | None) -> Call:
    who = actor or env.stepped()
    return lambda: env.ctx.services.auth.create_emergency_code(who)


def _sign_out(env: Env, actor: Principal | None) -> Call:
    session = env.signed_in()
    return lambda: env.ctx.services.sessions.sign_out(session.principal)


def _step_up(env: Env, actor: Principal | None) -> Call:
    admin = env.admin
    code = totp_code(env.ctx)
    return lambda: env.ctx.services.sessions.step_up(admin, code)


def _revoke_session(env: Env, actor: Principal | None) -> Call:
    session = env.signed_in()
    (row,) = env.ctx.services.sessions.list_sessions(env.admin, session.principal.id)
    who = actor or env.stepped()
    return lambda: env.ctx.services.sessions.revoke_session(who, row.id)


def _user_op(call: Callable[[Env, Principal, int], object], *, disabled: bool = False) -> Recipe:
    """A recipe for a user-management call on a new account: ``call(env, actor, user_id)``."""

    def recipe(env: Env, actor: Principal | None) -> Call:
        user_id, _ = env.new_user()
        if disabled:
            env.ctx.services.users.disable_user(env.stepped(), user_id)
        who = actor or env.stepped()
        return lambda: call(env, who, user_id)

    return recipe


def _create_user(env: Env, actor: Principal | None) -> Call:
    who = actor or env.stepped()
    username = env.name("user")
    return lambda: env.ctx.services.users.create_user(who, username, USER_PASSWORD, Role.HELPDESK)


def _set_scope(env: Env, actor: Principal | None) -> Call:
    user_id, _ = env.new_user()
    group_id = env.group()
    who = actor or env.stepped()
    return lambda: env.ctx.services.users.set_group_scope(who, user_id, [group_id])


def _create_role(env: Env, actor: Principal | None) -> Call:
    who = actor or env.stepped()
    name = env.name("role")
    return lambda: env.ctx.services.users.create_role(who, name, [Permission.DEVICES_READ])


def _update_role(env: Env, actor: Principal | None) -> Call:
    role_id = env.custom_role(Permission.DEVICES_READ)
    who = actor or env.stepped()
    perms = [Permission.DEVICES_READ, Permission.POLICIES_READ]
    return lambda: env.ctx.services.users.update_role(who, role_id, perms)


def _delete_role(env: Env, actor: Principal | None) -> Call:
    role_id = env.custom_role(Permission.DEVICES_READ)
    who = actor or env.stepped()
    return lambda: env.ctx.services.users.delete_role(who, role_id)


def _request_access(env: Env, actor: Principal | None) -> Call:
    who = actor or env.requester().principal
    return lambda: env.ctx.services.users.request_access(
        who, Permission.POLICIES_READ, "Ticket 4712: check the ward policy", GRANT_MINUTES
    )


def _cancel_request(env: Env, actor: Principal | None) -> Call:
    requester = env.requester()
    request_id = env.request(requester)
    who = actor or requester.principal
    return lambda: env.ctx.services.users.cancel_request(who, request_id)


def _approve(env: Env, actor: Principal | None) -> Call:
    request_id = env.request()
    who = actor or env.stepped()
    return lambda: env.ctx.services.users.approve_request(who, request_id)


def _deny(env: Env, actor: Principal | None) -> Call:
    request_id = env.request()
    who = actor or env.admin
    return lambda: env.ctx.services.users.deny_request(who, request_id, "Not needed for this ticket.")


def _revoke_grant(env: Env, actor: Principal | None) -> Call:
    request_id = env.grant()
    who = actor or env.admin
    return lambda: env.ctx.services.users.revoke_grant(who, request_id, "Work done.")


def _expire_due(env: Env, actor: Principal | None) -> Call:
    request_id = env.grant()
    with env.ctx.uow(write=True) as uow:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        uow.session.execute(update(AccessRequest).where(AccessRequest.id == request_id).values(expires_at=past))
        uow.commit()
    return env.ctx.services.users.expire_due


def _security_settings(env: Env, actor: Principal | None) -> Call:
    current = env.ctx.services.users.security_settings(env.admin)
    who = actor or env.stepped()
    changed = replace(current, lockout_threshold=current.lockout_threshold % 100 + 1)
    return lambda: env.ctx.services.users.update_security_settings(who, changed)


def _create_policy(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    name = env.name("policy")
    return lambda: env.ctx.services.policies.create_policy(who, name)


def _create_from_baseline(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    name = env.name("baseline")
    return lambda: env.ctx.services.policies.create_from_baseline(who, "Clinician BYOD", name)


def _export_policy(env: Env, actor: Principal | None) -> Call:
    policy_id = env.policy()
    env.ctx.services.policies.publish(env.admin, policy_id)
    who = actor or env.admin
    path = env.tmp / f"{env.name('export')}.json"
    return lambda: env.ctx.services.policy_exports.export(who, policy_id, "android", path)


def _compliance_report(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    path = env.tmp / f"{env.name('report')}.csv"
    return lambda: env.ctx.services.compliance_report.export(who, path)


def _import_policy(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    source = PolicySource("f00d", env.name("imported"), 1)
    data = build_settings_json(find_baseline("Clinician BYOD").policy_settings(), source).content
    return lambda: env.ctx.services.policies.import_policy(who, data, None, "byod.policy.json")


def _update_draft(env: Env, actor: Principal | None) -> Call:
    policy_id = env.policy()
    who = actor or env.admin
    return lambda: env.ctx.services.policies.update_draft(who, policy_id, description="Night shift tablets")


def _publish(env: Env, actor: Principal | None) -> Call:
    policy_id = env.policy()
    who = actor or env.admin
    return lambda: env.ctx.services.policies.publish(who, policy_id, "First version")


def _assign(env: Env, actor: Principal | None) -> Call:
    version = env.ctx.services.policies.publish(env.admin, env.policy())
    group_id = env.group()
    who = actor or env.admin
    return lambda: env.ctx.services.policies.assign(who, version.id, group_id)


def _reevaluate(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    return lambda: env.ctx.services.compliance_engine.reevaluate(who)


def _unassign(env: Env, actor: Principal | None) -> Call:
    version = env.ctx.services.policies.publish(env.admin, env.policy())
    assignment = env.ctx.services.policies.assign(env.admin, version.id, env.group())
    who = actor or env.admin
    return lambda: env.ctx.services.policies.unassign(who, assignment.id)


def _view_identifiers(env: Env, actor: Principal | None) -> Call:
    (device_id,) = add_devices(env.ctx, [DeviceSpec(env.name("tablet"), Platform.ANDROID)])
    who = actor or env.admin
    return lambda: env.ctx.services.devices.detail(who, device_id)


def _verify(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    return lambda: env.ctx.services.audit_chain.verify(who)


def _checkpoint(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    return lambda: env.ctx.services.audit_chain.make_checkpoint(who)


def _checkpoint_if_due(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    return lambda: env.ctx.services.audit_chain.make_checkpoint_if_due(who, every=dt.timedelta(0))


def _export(env: Env, actor: Principal | None) -> Call:
    who = actor or env.admin
    path = env.tmp / f"{env.name('export')}.jsonl"
    return lambda: env.ctx.services.audit_export.export(who, None, None, "jsonl", path)


def _retention_years(env: Env, actor: Principal | None) -> Call:
    current = env.ctx.services.users.security_settings(env.admin).audit_retention_years
    who = actor or env.stepped()
    return lambda: env.ctx.services.audit_retention.set_retention_years(who, 6 + (current - 5) % 10)


def _prune(env: Env, actor: Principal | None) -> Call:
    """Last of the recipes: it moves the store's clock seven years on, so that every entry is old enough."""
    path = env.tmp / env.name("pruned")
    if actor is not None:
        return lambda: env.ctx.services.audit_retention.prune(actor, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), path)
    _authenticators(env.ctx).clock.offset += dt.timedelta(days=7 * 366)
    who = env.stepped()
    cutoff = env.ctx.services.audit_retention.retention_status(who).cutoff
    return lambda: env.ctx.services.audit_retention.prune(who, cutoff, path)


# ---- remote commands (issue 6) -------------------------------------------------------------------------------


def _device(env: Env) -> int:
    return add_devices(env.ctx, [DeviceSpec(env.name("tablet"), Platform.ANDROID)])[0]


def _command_send(env: Env, actor: Principal | None) -> Call:
    device = _device(env)
    who = actor or env.admin
    return lambda: env.ctx.services.commands.send(who, [device], CommandType.LOCK)


def _command_cancel(env: Env, actor: Principal | None) -> Call:
    sent = env.ctx.services.commands.send(env.admin, [_device(env)], CommandType.RESTART)
    who = actor or env.admin
    return lambda: env.ctx.services.commands.cancel(who, sent.commands[0].id)


def _command_expire(env: Env, actor: Principal | None) -> Call:
    sent = env.ctx.services.commands.send(env.admin, [_device(env)], CommandType.REFRESH_INVENTORY)
    with env.ctx.uow(write=True) as uow:
        uow.session.execute(
            update(DeviceCommand)
            .where(DeviceCommand.id == sent.commands[0].id)
            .values(expires_at=sent.commands[0].created_at)
        )
        uow.commit()
    who = actor or env.admin
    return lambda: env.ctx.services.commands.expire_due(who)


def _approval(env: Env) -> int:
    """A pending full-wipe request by another administrator; returns its id."""
    requester = env.enrolled(Role.ADMINISTRATOR)
    sent = env.ctx.services.commands.send(requester.principal, [_device(env)], CommandType.WIPE, reason="Stolen")
    assert sent.approval is not None
    return sent.approval.id


def _command_approve(env: Env, actor: Principal | None) -> Call:
    approval = _approval(env)
    who = actor or env.stepped()
    return lambda: env.ctx.services.commands.approve(who, approval, "Checked")


def _command_reject(env: Env, actor: Principal | None) -> Call:
    approval = _approval(env)
    who = actor or env.stepped()
    return lambda: env.ctx.services.commands.reject(who, approval, "Found again")


def _command_settings(env: Env, actor: Principal | None) -> Call:
    who = actor or env.stepped()
    return lambda: env.ctx.services.commands.save_settings(who, CommandSettings(approval_threshold=7))


def _command_resume(env: Env, actor: Principal | None) -> Call:
    with env.ctx.uow(write=True) as uow:
        command_settings.set_paused(uow, dt.datetime.now(dt.UTC), "cov", 21)
        uow.commit()
    who = actor or env.stepped()
    return lambda: env.ctx.services.commands.resume(who, "Checked the audit log")


def _command_location(env: Env, actor: Principal | None) -> Call:
    device = _device(env)
    sent = env.ctx.services.commands.send(env.admin, [device], CommandType.LOST_MODE, {"message": "Call us"})
    now = dt.datetime.now(dt.UTC)
    with env.ctx.uow(write=True) as uow:
        command_repo.claim_pending(uow, device, now)
        command_repo.record_result(uow, device, sent.commands[0].uid, "acknowledged", "", now, {"lat": 1.5, "lon": 2.5})
        uow.commit()
    who = actor or env.admin
    return lambda: env.ctx.services.commands.lost_location(who, device)


def _device_result(env: Env, actor: Principal | None) -> Call:
    """A command delivered to an enrolled device; the call is the device reporting its result."""
    services = env.ctx.services
    issued = services.enrollment.create_token(
        env.admin,
        group_id=None,
        uses=1,
        lifetime=dt.timedelta(hours=1),
        ownership=Ownership.CORPORATE,
        server_url="https://127.0.0.1:8443",
    )
    request = EnrollRequest.model_validate(
        {"token": issued.token, "csr_pem": csr_pem(new_key()), "inventory": inventory(env.name("laptop"))}
    )
    enrolled = services.enrollment.enrol(request)
    with env.ctx.uow() as uow:
        device = int(uow.session.scalars(select(Device.id).where(Device.uid == enrolled.device_id)).one())
    sent = services.commands.send(env.admin, [device], CommandType.REFRESH_INVENTORY)
    with env.ctx.uow(write=True) as uow:
        command_repo.claim_pending(uow, device, dt.datetime.now(dt.UTC))
        uow.commit()
    der = x509.load_pem_x509_certificate(enrolled.certificate_pem.encode()).public_bytes(Encoding.DER)
    uid = sent.commands[0].uid
    result = CommandResult(command_id=uid, outcome=CommandOutcome.ACKNOWLEDGED, detail="inventory sent")
    return lambda: services.checkin.record_result(der_fingerprint(der), uid, result, peer="127.0.0.1")


def _escalate(env: Env, actor: Principal | None) -> Call:
    """A rule failing for an hour on a device without a policy: the default ladder notifies."""
    from mdm_desktop.store.schema import DeviceRuleState

    device = _device(env)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with env.ctx.uow(write=True) as uow:
        uow.session.add(
            DeviceRuleState(
                device_id=device, rule_id="health.compromised", status="failing", failing_since=since,
                detail="The device is rooted.", evaluated_at=since,
            )
        )  # fmt: skip
        uow.commit()
    return lambda: env.ctx.services.escalation.run(actor)


def _exception(env: Env, *, approved: bool = False) -> int:
    """An exception requested by the administrator (approved by a security officer when asked)."""
    svc = env.ctx.services.exceptions
    until = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    info = svc.request(
        env.admin, rule_id="health.os", reason="Vendor update pending", until=until, device_id=_device(env)
    )
    if approved:
        svc.approve(env.enrolled(Role.SECURITY_OFFICER).principal, info.id, "Accepted")
    return info.id


def _exception_request(env: Env, actor: Principal | None) -> Call:
    device = _device(env)
    who = actor or env.admin
    until = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    return lambda: env.ctx.services.exceptions.request(
        who, rule_id="health.os", reason="Vendor update pending", until=until, device_id=device
    )


def _exception_decision(name: str, *, approved: bool = False) -> Recipe:
    def recipe(env: Env, actor: Principal | None) -> Call:
        exception_id = _exception(env, approved=approved)
        who = actor or env.enrolled(Role.SECURITY_OFFICER).principal
        return lambda: getattr(env.ctx.services.exceptions, name)(who, exception_id, "Checked")

    return recipe


GATEWAY_URL = "https://127.0.0.1:8443"


def _with_site_ca(env: Env) -> Any:
    """The enrolment service with the site CA made (its creation is audited once, outside the measure)."""
    enrollment = env.ctx.services.enrollment
    enrollment.authority()
    return enrollment


def _gateway_start(env: Env, actor: Principal | None) -> Call:
    enrollment, who = _with_site_ca(env), actor or env.admin
    return lambda: enrollment.record_gateway_start(GATEWAY_URL, ("127.0.0.1",), actor=who)


def _gateway_stop(env: Env, actor: Principal | None) -> Call:
    enrollment, who = _with_site_ca(env), actor or env.admin
    return lambda: enrollment.record_gateway_stop(GATEWAY_URL, actor=who)


def _new_token(env: Env, who: Principal) -> Any:
    return _with_site_ca(env).create_token(
        who,
        group_id=None,
        uses=1,
        lifetime=dt.timedelta(hours=1),
        ownership=Ownership.CORPORATE,
        server_url=GATEWAY_URL,
    )


def _token_create(env: Env, actor: Principal | None) -> Call:
    _with_site_ca(env)
    who = actor or env.admin
    return lambda: _new_token(env, who)


def _token_revoke(env: Env, actor: Principal | None) -> Call:
    uid = _new_token(env, env.admin).info.uid
    who = actor or env.admin
    return lambda: env.ctx.services.enrollment.revoke_token(who, uid)


def _catalog_build(env: Env, actor: Principal | None) -> Call:
    app_id = add_catalog_app(env.ctx, env.name("app"), env.name("org.clinic.app"), Platform.WINDOWS, [])
    file = env.tmp / f"{env.name('build')}.msix"
    file.write_bytes(b"MSIX package bytes " * 100)
    who = actor or env.admin
    return lambda: env.ctx.services.catalog.add_build(who, app_id, file, "1.0")


RECIPES: dict[str, Recipe] = {
    # The first two need the store as it is when opened: no account, no device.
    "users.create_first_admin": _first_admin,
    "demo.generate": _demo,
    "auth.sign_in": _sign_in,
    "device.command_result": _device_result,
    "catalog.build_added": _catalog_build,
    "auth.break_glass": _break_glass,
    "auth.break_glass_review": _break_glass_review,
    "auth.totp_enrolment_started": _totp_begin,
    "auth.totp_enrolled": _totp_confirm,
    "auth.recovery_codes_issued": _recovery_codes,
    "auth.password_changed": _password_change,
    "auth.emergency_code_created": _emergency_code,
    "auth.sign_out": _sign_out,
    "auth.step_up": _step_up,
    "sessions.revoke": _revoke_session,
    "users.create": _create_user,
    "users.disable": _user_op(lambda env, who, uid: env.ctx.services.users.disable_user(who, uid, "Left the clinic")),
    "users.enable": _user_op(lambda env, who, uid: env.ctx.services.users.enable_user(who, uid), disabled=True),
    "users.unlock": _user_op(lambda env, who, uid: env.ctx.services.users.unlock_user(who, uid)),
    "users.reset_password": _user_op(
        lambda env, who, uid: env.ctx.services.users.reset_password(who, uid, NEW_PASSWORD)
    ),
    "users.reset_mfa": _user_op(lambda env, who, uid: env.ctx.services.users.reset_mfa(who, uid)),
    "users.assign_role": _user_op(
        lambda env, who, uid: env.ctx.services.users.assign_role(who, uid, Role.IT_TECHNICIAN)
    ),
    "users.set_scope": _set_scope,
    "roles.create": _create_role,
    "roles.update": _update_role,
    "roles.delete": _delete_role,
    "access.request": _request_access,
    "access.cancel": _cancel_request,
    "access.approve": _approve,
    "access.deny": _deny,
    "access.revoke": _revoke_grant,
    "access.expired": _expire_due,
    "settings.security": _security_settings,
    "policies.create": _create_policy,
    "policies.create_from_baseline": _create_from_baseline,
    "policies.export": _export_policy,
    "compliance.report_exported": _compliance_report,
    "policies.import": _import_policy,
    "policies.update_draft": _update_draft,
    "policies.publish": _publish,
    "policies.assign": _assign,
    "policies.unassign": _unassign,
    "devices.view_identifiers": _view_identifiers,
    "audit.verify": _verify,
    "audit.checkpoint": _checkpoint,
    "audit.checkpoint_if_due": _checkpoint_if_due,
    "audit.export": _export,
    "settings.audit_retention": _retention_years,
    "commands.send": _command_send,
    "commands.cancel": _command_cancel,
    "commands.expire": _command_expire,
    "commands.approve": _command_approve,
    "commands.reject": _command_reject,
    "commands.settings": _command_settings,
    "commands.resume": _command_resume,
    "commands.view_location": _command_location,
    "compliance.escalate": _escalate,
    "compliance.exception_requested": _exception_request,
    "compliance.exception_approved": _exception_decision("approve"),
    "compliance.exception_rejected": _exception_decision("reject"),
    "compliance.exception_revoked": _exception_decision("revoke", approved=True),
    "compliance.reevaluate": _reevaluate,
    "gateway.started": _gateway_start,
    "gateway.stopped": _gateway_stop,
    "enrollment.token_created": _token_create,
    "enrollment.token_revoked": _token_revoke,
    "audit.prune": _prune,  # keep last (it moves the clock on)
}

BATCH_ENTRIES: dict[str, Callable[[object], int]] = {
    "compliance.escalate": lambda run: getattr(run, "audit_entries", -1),
    "commands.send": lambda sent: len(sent.commands) + 1 if isinstance(sent, SendResult) else -1,
    "commands.approve": lambda sent: len(sent.commands) + 1 if isinstance(sent, SendResult) else -1,
    "commands.expire": lambda swept: swept.audit_entries if isinstance(swept, ExpiryResult) else -1,
    "access.expired": lambda expired: int(expired),  # type: ignore[call-overload]
    "demo.generate": lambda result: result.audit_entry_count if isinstance(result, DemoResult) else -1,
}
"""Operations registered with ``entries=0``: how many entries the recipe's call wrote, from its result."""

NOT_PERMISSION_GATED: dict[str, str] = {
    "users.create_first_admin": "only on an empty store (refused with a conflict once an account exists)",
    "demo.generate": "a command-line tool run by whoever holds the store and its key file",
    "auth.sign_in": "credentials are the check; failures are audited as failed (test_auth_security.py)",
    "auth.break_glass": "credentials are the check; failures are audited as failed (test_auth_security.py)",
    "auth.totp_enrolment_started": "the signed-in user's own account",
    "auth.totp_enrolled": "the signed-in user's own account; a wrong code is audited as failed",
    "auth.recovery_codes_issued": "the signed-in user's own account (behind a step-up, which audits refusals)",
    "auth.password_changed": "the signed-in user's own account; a wrong password is audited as failed",
    "auth.sign_out": "the signed-in user's own session",
    "auth.step_up": "the signed-in user's own session; failures are audited as failed",
    "access.expired": "the clock ends grants (a system sweep)",
    "device.command_result": "a device's own command, authenticated by its client certificate",
}
"""Operations whose refusals are not a permission check, and why."""

DENIED_AS_NON_REQUESTER = {"access.request", "access.cancel"}
"""Gated by access.request, which the usual refused principal holds: refused as one without it."""


def _operations() -> dict[str, Operation]:
    return {op.name: op for op in registered_operations()}


def _last_id(ctx: AppContext) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0)


def _entries_after(ctx: AppContext, after: int) -> list[AuditEntry]:
    with ctx.uow() as uow:
        rows = uow.session.scalars(select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.seq)).all()
        uow.session.expunge_all()
        return list(rows)


_REFLECTED: dict[int, tuple[AppContext, MetaData]] = {}


def _snapshot(ctx: AppContext) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table except the audit trail's own (and sessions' activity times)."""
    known = _REFLECTED.get(id(ctx))
    if known is None or known[0] is not ctx:
        meta = MetaData()
        meta.reflect(ctx.engine)
        _REFLECTED[id(ctx)] = known = (ctx, meta)
    meta = known[1]
    out: dict[str, list[tuple[Any, ...]]] = {}
    with ctx.engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            if name.startswith("audit_") or name == "alembic_version":
                continue
            columns = [c for c in table.columns if not (name == "console_sessions" and c.name == "last_seen_at")]
            out[name] = sorted((tuple(row) for row in conn.execute(select(*columns))), key=repr)
    return out


@pytest.fixture
def env(store_url: str, tmp_path: Path) -> Iterator[Env]:
    ctx = open_test_app(make_config(store_url, tmp_path))
    try:
        yield Env(ctx, tmp_path)
    finally:
        ctx.close()


def test_every_operation_has_a_recipe() -> None:
    names = set(_operations())
    assert sorted(names - set(RECIPES)) == [], "registered operations without a call recipe here"
    assert sorted(set(RECIPES) - names) == [], "recipes for operations that are not registered"
    assert sorted((set(BATCH_ENTRIES) | set(NOT_PERMISSION_GATED)) - names) == []
    batch = {op.name for op in _operations().values() if op.entries == 0}
    assert batch == set(BATCH_ENTRIES)


def test_every_operation_writes_its_audit_entries(env: Env) -> None:
    ops = _operations()
    problems: list[str] = []
    for name, recipe in RECIPES.items():
        op = ops[name]
        call = recipe(env, None)
        before = _last_id(env.ctx)
        result = call()
        written = _entries_after(env.ctx, before)
        expected = BATCH_ENTRIES[name](result) if op.entries == 0 else op.entries
        if len(written) != expected:
            problems.append(f"{name}: {len(written)} entries ({[e.action for e in written]}), expected {expected}")
        elif written[-1].action != op.action or written[-1].outcome != Outcome.SUCCESS.value:
            problems.append(f"{name}: last entry {written[-1].action} ({written[-1].outcome}), expected {op.action}")
    assert problems == []
    assert env.ctx.services.audit_chain.verify(env.admin).intact


def test_refused_calls_are_audited_and_change_nothing(env: Env) -> None:
    ops = _operations()
    env.ctx.services.auth.create_first_admin(ADMIN_USER, ADMIN_PASSWORD)
    nobody = env.requester().principal
    non_requester = env.enrolled(env.custom_role(Permission.DEVICES_READ)).principal
    problems: list[str] = []
    gated = [name for name in RECIPES if name not in NOT_PERMISSION_GATED]
    assert len(gated) >= 25
    for name in gated:
        actor = non_requester if name in DENIED_AS_NON_REQUESTER else nobody
        call = RECIPES[name](env, actor)
        before, state = _last_id(env.ctx), _snapshot(env.ctx)
        with pytest.raises(PermissionDeniedError):
            call()
        written = _entries_after(env.ctx, before)
        namespace = ops[name].action.split(".")[0] + "."
        if [(e.outcome, e.actor) for e in written] != [(Outcome.DENIED.value, actor.name)]:
            problems.append(f"{name}: wrote {[(e.action, e.outcome, e.actor) for e in written]}")
        elif not written[0].action.startswith(namespace):
            problems.append(f"{name}: the refusal is recorded as {written[0].action}")
        if _snapshot(env.ctx) != state:
            problems.append(f"{name}: the refused call changed the store")
    assert problems == []


def test_a_missing_chain_head_rolls_the_action_back(env: Env) -> None:
    """Fail closed: when the entry cannot be written, the change is not made and the caller is told."""
    admin = env.stepped()
    with env.ctx.uow(write=True) as uow:
        head = uow.session.execute(select(AuditHead.seq, AuditHead.entry_hash)).one()
        uow.session.execute(delete(AuditHead))
        uow.commit()
    with pytest.raises(AuditChainError) as failed:
        env.ctx.services.users.create_user(admin, "cov-unaudited", USER_PASSWORD, Role.HELPDESK)
    assert "nothing can be recorded" in failed.value.message
    assert "restore" in failed.value.hint
    with pytest.raises(AuditChainError):
        env.ctx.services.policies.create_policy(admin, "Unaudited policy")
    nobody_state = _snapshot(env.ctx)
    with env.ctx.uow() as uow:
        assert uow.session.scalar(select(User.id).where(User.username == "cov-unaudited")) is None
    with env.ctx.uow(write=True) as uow:
        uow.session.add(AuditHead(id=1, seq=head.seq, entry_hash=head.entry_hash))
        uow.commit()
    assert env.ctx.services.policies.list_policies(admin) == ()
    assert _snapshot(env.ctx) == nobody_state
    assert env.ctx.services.audit_chain.verify(admin).intact
