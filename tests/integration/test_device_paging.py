"""Keyset pagination and SQL filters of the device list, checked against plain Python on both stores."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform, version_sort_key
from mdm_desktop.domain.errors import KeyMaterialError, PermissionDeniedError, ValidationError
from mdm_desktop.services.dto import DeviceCursor, DeviceQuery, DeviceRow, DeviceSort, SessionInfo
from mdm_desktop.store.repositories.devices import seal_identifiers
from mdm_desktop.store.schema import AuditEntry, Device, DeviceGroup, new_uid
from tests.conftest import fast_passwords, make_config, user_session

NOW = dt.datetime.now(dt.UTC)


def fill(ctx: AppContext, n: int, seed: int = 7) -> None:
    """Insert ``n`` devices with many duplicate sort values and NULLs."""
    rnd = random.Random(seed)
    with ctx.uow(write=True) as uow:
        groups = [DeviceGroup(name=g, description="", created_at=NOW) for g in ("ICU", "Pharmacy", "Radiology")]
        uow.session.add_all(groups)
        uow.session.flush()
        rows = []
        for i in range(n):
            uid = new_uid()
            version = rnd.choice(["17.6", "18.1", "9.0", "26.1", "14", "15.0.2", ""])
            checkin = None if rnd.random() < 0.2 else NOW - dt.timedelta(days=rnd.randint(0, 40), seconds=i)
            rows.append(
                {
                    "uid": uid,
                    "name": rnd.choice(["Ward iPad", "Nurse phone", "Pharmacy scanner", "Dr Laptop"]) + f" {i % 17}",
                    "platform": rnd.choice(list(Platform)).value,
                    "vendor": rnd.choice(["Apple", "Samsung", "Zebra"]),
                    "model": rnd.choice(["iPhone 16", "Galaxy S24", "TC58", "MacBook Air"]),
                    "os_version": version,
                    "os_version_key": version_sort_key(version),
                    "ownership": rnd.choice(list(Ownership)).value,
                    "group_id": rnd.choice([None, *(g.id for g in groups)]),
                    "status": rnd.choice(list(LifecycleStatus)).value,
                    "compliance_state": rnd.choice(list(ComplianceState)).value,
                    "compliance_reasons": [],
                    "last_checkin_at": checkin,
                    "enrolled_at": checkin,
                    "created_at": NOW,
                    "updated_at": NOW,
                    **seal_identifiers(
                        uow.cipher, uid, serial=f"SN{i:06d}", hardware_id=f"35{i:013d}", assigned_to=f"Nurse {i % 50}"
                    ),
                }
            )
        uow.session.execute(insert(Device), rows)
        uow.commit()


def all_pages(ctx: AppContext, session: SessionInfo, query: DeviceQuery, limit: int) -> list[DeviceRow]:
    out: list[DeviceRow] = []
    cursor: DeviceCursor | None = None
    for _ in range(10_000):
        page = ctx.services.devices.list_page(session.principal, query, after=cursor, limit=limit)
        out.extend(page.rows)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def python_key(sort: DeviceSort):  # type: ignore[no-untyped-def]
    def key(r: DeviceRow):  # type: ignore[no-untyped-def]
        value = {
            DeviceSort.NAME: r.name,
            DeviceSort.PLATFORM: r.platform.value,
            DeviceSort.MODEL: r.model,
            DeviceSort.OS_VERSION: version_sort_key(r.os_version),
            DeviceSort.OWNERSHIP: r.ownership.value,
            DeviceSort.STATUS: r.status.value,
            DeviceSort.COMPLIANCE: r.compliance_state.value,
            DeviceSort.LAST_CHECKIN: r.last_checkin_at,
            DeviceSort.ENROLLED: r.enrolled_at,
        }[sort]
        return (value is not None, value if value is not None else 0, r.id)

    return key


@pytest.mark.parametrize("sort", list(DeviceSort))
def test_keyset_pages_equal_python_order(app_ctx: AppContext, admin: SessionInfo, sort: DeviceSort) -> None:
    fill(app_ctx, 230)
    full = all_pages(app_ctx, admin, DeviceQuery(sort=sort), limit=1000)
    assert len(full) == 230
    for descending in (False, True):
        query = DeviceQuery(sort=sort, descending=descending)
        paged = all_pages(app_ctx, admin, query, limit=17)
        expected = sorted(full, key=python_key(sort), reverse=descending)
        assert [r.id for r in paged] == [r.id for r in expected]


def test_filters_match_python(app_ctx: AppContext, admin: SessionInfo) -> None:
    fill(app_ctx, 200)
    everything = all_pages(app_ctx, admin, DeviceQuery(), limit=500)
    cases = [
        (DeviceQuery(platforms=frozenset({Platform.ANDROID})), lambda r: r.platform is Platform.ANDROID),
        (
            DeviceQuery(compliance=frozenset({ComplianceState.NON_COMPLIANT, ComplianceState.UNKNOWN})),
            lambda r: r.compliance_state in (ComplianceState.NON_COMPLIANT, ComplianceState.UNKNOWN),
        ),
        (DeviceQuery(ownership=Ownership.BYOD), lambda r: r.ownership is Ownership.BYOD),
        (
            DeviceQuery(stale_days=14),
            lambda r: r.last_checkin_at is None or r.last_checkin_at < NOW - dt.timedelta(days=14),
        ),
        (DeviceQuery(search="scanner"), lambda r: "scanner" in r.name.lower()),
        (DeviceQuery(search="SN000042"), lambda r: r.serial == "SN000042"),
        (DeviceQuery(search="nurse 7"), lambda r: "nurse 7" in r.name.lower() or r.assigned_to == "Nurse 7"),
    ]
    for query, predicate in cases:
        got = {r.id for r in all_pages(app_ctx, admin, query, limit=50)}
        want = {r.id for r in everything if predicate(r)}
        assert got == want, query
        assert app_ctx.services.devices.count(admin.principal, query) == len(want)
    group = app_ctx.services.devices.groups(admin.principal)[0]
    got = {r.id for r in all_pages(app_ctx, admin, DeviceQuery(group_id=group.id), limit=50)}
    assert got == {r.id for r in everything if r.group_id == group.id}
    assert len(got) == group.device_count


def test_search_text_with_like_wildcards_is_literal(app_ctx: AppContext, admin: SessionInfo) -> None:
    fill(app_ctx, 50)
    assert app_ctx.services.devices.count(admin.principal, DeviceQuery(search="%")) == 0
    assert app_ctx.services.devices.count(admin.principal, DeviceQuery(search="_")) == 0


def _names(ctx: AppContext, session: SessionInfo, search: str) -> set[str]:
    found = {r.name for r in all_pages(ctx, session, DeviceQuery(search=search), limit=3)}
    assert ctx.services.devices.count(session.principal, DeviceQuery(search=search)) == len(found)
    return found


def test_search_index_follows_inserts_renames_and_deletes(app_ctx: AppContext, admin: SessionInfo) -> None:
    """The trigram index (SQLite, migration 0011) gives exactly what a substring scan gives."""
    fill(app_ctx, 30)
    odd = ['Ward "3" scanner', "OR AND NEAR* tablet", "Straße iPad", "ÉCHO cart", "ab"]
    with app_ctx.uow(write=True) as uow:
        for name in odd:
            uow.session.execute(
                insert(Device),
                [
                    {
                        "uid": new_uid(),
                        "name": name,
                        "platform": Platform.IOS.value,
                        "vendor": "Acme",
                        "model": "Model Z",
                        "os_version": "18.1",
                        "os_version_key": version_sort_key("18.1"),
                        "ownership": Ownership.CORPORATE.value,
                        "status": LifecycleStatus.ENROLLED.value,
                        "compliance_state": ComplianceState.COMPLIANT.value,
                        "compliance_reasons": [],
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                ],
            )
        uow.commit()
    assert _names(app_ctx, admin, '"3" SCAN') == {'Ward "3" scanner'}
    assert _names(app_ctx, admin, "near* tab") == {"OR AND NEAR* tablet"}
    assert _names(app_ctx, admin, "aße") == {"Straße iPad"}
    assert _names(app_ctx, admin, "ÉCHO") == {"ÉCHO cart"}
    assert _names(app_ctx, admin, "ab") >= {"ab", "OR AND NEAR* tablet"}  # two characters: by scanning
    assert _names(app_ctx, admin, "model z") == set(odd)  # the model column is indexed too

    with app_ctx.uow(write=True) as uow:
        device = uow.session.query(Device).filter(Device.name == "ÉCHO cart").one()
        device.name = "Crash cart 2"
        uow.session.query(Device).filter(Device.name == "Straße iPad").delete()
        uow.commit()
    assert _names(app_ctx, admin, "écho") == set()
    assert _names(app_ctx, admin, "crash cart") == {"Crash cart 2"}
    assert _names(app_ctx, admin, "straße") == set()


def test_identifiers_are_sealed_in_the_database(app_ctx: AppContext, admin: SessionInfo) -> None:
    fill(app_ctx, 20)
    with app_ctx.engine.connect() as conn:
        raw = conn.execute(text("SELECT serial_sealed, hardware_id_sealed, assigned_to_sealed FROM devices")).all()
    for serial, hwid, person in raw:
        for blob in (serial, hwid, person):
            assert b"SN0" not in bytes(blob)
            assert b"Nurse" not in bytes(blob)
            assert b"35000" not in bytes(blob)


def test_helpdesk_sees_no_identifiers_and_viewing_them_is_audited(app_ctx: AppContext, admin: SessionInfo) -> None:
    fill(app_ctx, 10)
    helpdesk = user_session(app_ctx, "helpdesk1", Role.HELPDESK).principal
    rows = app_ctx.services.devices.list_page(helpdesk, DeviceQuery()).rows
    assert rows
    assert all(r.serial is None and r.assigned_to is None for r in rows)
    detail = app_ctx.services.devices.detail(helpdesk, rows[0].id)
    assert detail.hardware_id is None
    assert detail.row.serial is None
    detail = app_ctx.services.devices.detail(admin.principal, rows[0].id)
    assert detail.row.serial is not None
    assert detail.hardware_id is not None
    with app_ctx.uow() as uow:
        actions = [e.action for e in uow.session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions[-1] == "devices.view_identifiers"


def test_refusal_is_audited(app_ctx: AppContext, admin: SessionInfo) -> None:
    nobody = user_session(app_ctx, "norole", None).principal
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.devices.list_page(nobody, DeviceQuery())
    with app_ctx.uow() as uow:
        last = uow.session.query(AuditEntry).order_by(AuditEntry.id.desc()).first()
        assert last is not None
        assert last.outcome == "denied"
        assert last.actor == "norole"


@pytest.mark.parametrize("limit", [0, -1, 100_000])
def test_bad_page_size_is_refused(app_ctx: AppContext, admin: SessionInfo, limit: int) -> None:
    with pytest.raises(ValidationError):
        app_ctx.services.devices.list_page(admin.principal, DeviceQuery(), limit=limit)


def test_store_opened_with_another_key_file_is_refused(store_url: str, tmp_path: Path) -> None:
    open_app(make_config(store_url, tmp_path), passwords=fast_passwords()).close()
    other = make_config(store_url, tmp_path / "elsewhere")
    with pytest.raises(KeyMaterialError, match="does not belong to this store"):
        open_app(other, passwords=fast_passwords())
