"""Sensitive values in audit entries: keyed hashes only, never in clear, and a search by value finds them.

Runs every audited operation's recipe (:mod:`tests.integration.test_audit_coverage`) and the flows that
know identifiers (enrolment, a refused clone, the identifiers view, the lost-mode location view, an
account with a person's name), then scans every entry for any serial number, hardware id or staff name
held in the store, and searches by those values on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.commands import CommandType
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.audit_values import keyed_hash, resolve_query
from mdm_desktop.services.dto import AuditQuery
from mdm_desktop.services.reenrolment import PossibleCloneError
from mdm_desktop.store.repositories import audit as audit_repo
from mdm_desktop.store.repositories import commands as command_repo
from mdm_desktop.store.repositories.audit_search import SearchStrategy
from mdm_desktop.store.schema import AuditEntry, Device, User
from mdm_desktop.wire.v1 import EnrollRequest
from tests.conftest import USER_PASSWORD, make_config, open_test_app
from tests.e2e.gateway_helpers import csr_pem, inventory, new_key
from tests.integration.test_audit_coverage import RECIPES, Env, _new_token

SERIAL = "PF9XYZ77Q"
HARDWARE_ID = "5C260A-HW-77Q1"
STAFF = "Dr. Nadia Okafor-Lindqvist"
TEXT_FIELDS = ("actor_kind", "actor", "workstation", "action", "target_kind", "target", "outcome", "details")


@pytest.fixture
def env(store_url: str, tmp_path: Path) -> Iterator[Env]:
    ctx = open_test_app(make_config(store_url, tmp_path))
    try:
        yield Env(ctx, tmp_path)
    finally:
        ctx.close()


def _enrol(env: Env, name: str) -> str:
    request = EnrollRequest.model_validate(
        {
            "token": _new_token(env, env.admin).token,
            "csr_pem": csr_pem(new_key()),
            "inventory": inventory(name, serial=SERIAL, hardware_id=HARDWARE_ID),
        }
    )
    return env.ctx.services.enrollment.enrol(request).device_id


def _identifier_flows(env: Env) -> int:
    """Enrol a device with a serial and hardware id, refuse its clone, view its identifiers and location."""
    services = env.ctx.services
    services.users.create_user(env.stepped(), env.name("user"), USER_PASSWORD, Role.HELPDESK, display_name=STAFF)
    uid = _enrol(env, "Ward 7 laptop")
    with pytest.raises(PossibleCloneError):
        _enrol(env, "Ward 7 laptop (copy)")
    with env.ctx.uow() as uow:
        device = int(uow.session.scalars(select(Device.id).where(Device.uid == uid)).one())
    services.devices.detail(env.admin, device)
    sent = services.commands.send(env.admin, [device], CommandType.LOST_MODE, {"message": "Call us"})
    now = dt.datetime.now(dt.UTC)
    with env.ctx.uow(write=True) as uow:
        command_repo.claim_pending(uow, device, now)
        command_repo.record_result(
            uow, device, sent.commands[0].uid, "acknowledged", "", now, {"lat": 52.52, "lon": 13.405}
        )
        uow.commit()
    assert services.commands.lost_location(env.admin, device) is not None
    return device


def _sensitive_values(env: Env) -> set[str]:
    """Every serial, hardware id and assigned person of the store's devices, and every person's name."""
    found = {SERIAL, HARDWARE_ID, STAFF}
    with env.ctx.uow() as uow:
        cipher = uow.cipher
        for d in uow.session.scalars(select(Device)):
            for column in ("serial", "hardware_id", "assigned_to"):
                value = cipher.open(getattr(d, f"{column}_sealed"), table="devices", column=column, row=d.uid)
                if value:
                    found.add(value)
        usernames = set(uow.session.scalars(select(User.username)))
        for u in uow.session.scalars(select(User)):
            name = cipher.open(u.display_name_sealed, table="users", column="display_name", row=u.uid)
            if name and name not in usernames:  # a blank display name is stored as the user name
                found.add(name)
    return {v for v in found if len(v.strip()) >= 6}


def _all_entries(env: Env) -> list[AuditEntry]:
    with env.ctx.uow() as uow:
        rows = list(uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        uow.session.expunge_all()
    return rows


def _actions(env: Env, value: str) -> set[str]:
    page = env.ctx.services.audit.list_page(env.admin, AuditQuery(value=value), limit=1000)
    assert env.ctx.services.audit.count(env.admin, AuditQuery(value=value)) == len(page.rows)
    return {e.action for e in page.rows}


def test_no_identifier_is_recorded_in_clear_and_each_is_found_by_value(env: Env) -> None:
    for name, recipe in RECIPES.items():
        if name != "audit.prune":  # it removes older entries: the scan should see them all
            recipe(env, None)()
    _identifier_flows(env)

    values = _sensitive_values(env)
    assert len(values) >= 5, values  # the fixtures' serials, the demo fleet's staff, ...
    entries = _all_entries(env)
    leaks = [
        (e.seq, e.action, field, value)
        for e in entries
        for field in TEXT_FIELDS
        for value in values
        if value.casefold() in str(getattr(e, field)).casefold()
    ]
    assert leaks == []
    assert any(keyed_hash(env.ctx.uow.cipher, SERIAL) in e.details for e in entries)

    assert {"device.enrolled", "devices.view_identifiers", "commands.view_location"} <= _actions(env, SERIAL)
    assert {"device.enrolled", "device.enrol_refused", "devices.view_identifiers"} <= _actions(env, HARDWARE_ID)
    assert _actions(env, f"  {SERIAL.lower()} ") == _actions(env, SERIAL)
    assert "users.create" in _actions(env, STAFF.upper())
    assert _actions(env, "not a recorded value") == set()
    assert env.ctx.services.audit_chain.verify(env.admin).intact


def test_both_search_strategies_find_the_same_entries_by_value(env: Env) -> None:
    for name in ("auth.sign_in", "devices.view_identifiers", "commands.view_location"):
        RECIPES[name](env, None)()
    _identifier_flows(env)
    with env.ctx.uow() as uow:
        query = resolve_query(uow.cipher, AuditQuery(value=HARDWARE_ID))
        pages = [[e.id for e in audit_repo.list_page(uow, query, None, 100, strategy=s).rows] for s in SearchStrategy]
    assert len(pages[0]) == 4  # enrolled, clone refused, identifiers viewed, location viewed
    assert pages[0] == pages[1]


def test_a_value_and_search_text_together_or_an_overlong_value_are_refused(env: Env) -> None:
    audit = env.ctx.services.audit
    with pytest.raises(ValidationError, match="not both"):
        audit.list_page(env.admin, AuditQuery(text="enrol", value=SERIAL))
    with pytest.raises(ValidationError, match="identifier"):
        audit.count(env.admin, AuditQuery(value="x" * 256))
    # A blank value is no filter at all; a short one is hashed, not refused like short search text.
    assert audit.count(env.admin, AuditQuery(value="   ")) == audit.count(env.admin, AuditQuery())
    assert audit.count(env.admin, AuditQuery(value="ab")) == 0
