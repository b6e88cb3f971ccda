"""Test data written straight through the store (tests may; GUI code may not).

Each helper opens its own write unit of work on ``ctx.uow`` and commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform, version_sort_key
from mdm_desktop.security.keyring import load_or_create_kek
from mdm_desktop.services.audit_log import AuditEvent, AuditLog
from mdm_desktop.store.keys import StoreKeys, load_or_create_store_keys
from mdm_desktop.store.repositories.devices import seal_identifiers
from mdm_desktop.store.schema import (
    AuditEntry,
    CatalogApp,
    CatalogAppVersion,
    Device,
    DeviceGroup,
    InstalledApp,
    Policy,
    PolicyAssignment,
    PolicyVersion,
    new_uid,
)

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
AT_NOW = "at-now"
"""Default check-in time of a :class:`DeviceSpec`: the ``now`` given to :func:`add_devices`."""


def add_groups(ctx: AppContext, names: Iterable[str], now: dt.datetime = NOW) -> dict[str, int]:
    """Insert device groups; returns name -> id."""
    with ctx.uow(write=True) as uow:
        groups = [DeviceGroup(name=n, description=f"{n} department", created_at=now) for n in names]
        uow.session.add_all(groups)
        uow.session.flush()
        out = {g.name: g.id for g in groups}
        uow.commit()
    return out


@dataclass(frozen=True)
class DeviceSpec:
    """One device to insert; unspecified fields get plain defaults."""

    name: str
    platform: Platform
    os_version: str = ""
    compliance: ComplianceState = ComplianceState.COMPLIANT
    ownership: Ownership = Ownership.CORPORATE
    status: LifecycleStatus = LifecycleStatus.ENROLLED
    last_checkin_at: dt.datetime | str | None = AT_NOW
    compromised: bool | None = False
    storage_encrypted: bool | None = True
    group_id: int | None = None
    vendor: str = ""
    model: str = ""


def add_devices(ctx: AppContext, specs: Sequence[DeviceSpec], now: dt.datetime = NOW) -> list[int]:
    """Insert devices exactly as specified; returns their ids in order."""
    ids: list[int] = []
    with ctx.uow(write=True) as uow:
        for i, s in enumerate(specs):
            uid = new_uid()
            device = Device(
                uid=uid,
                name=s.name,
                platform=s.platform.value,
                vendor=s.vendor,
                model=s.model,
                os_version=s.os_version,
                os_version_key=version_sort_key(s.os_version) if s.os_version else "",
                ownership=s.ownership.value,
                group_id=s.group_id,
                status=s.status.value,
                compliance_state=s.compliance.value,
                compliance_reasons=[],
                last_checkin_at=now if s.last_checkin_at == AT_NOW else s.last_checkin_at,
                enrolled_at=now - dt.timedelta(days=100),
                compromised=s.compromised,
                storage_encrypted=s.storage_encrypted,
                passcode_set=True,
                created_at=now,
                updated_at=now,
                **seal_identifiers(uow.cipher, uid, serial=f"T{i:07d}", hardware_id=None, assigned_to=None),
            )
            uow.session.add(device)
            uow.session.flush()
            ids.append(device.id)
        uow.commit()
    return ids


_FLEET: tuple[tuple[Platform, str, str, tuple[str, ...], int], ...] = (
    (Platform.IOS, "Apple", "iPhone 15", ("18.6.2", "18.7", "26.0.1", "26.1", "17.7.2"), 30),
    (Platform.IPADOS, "Apple", "iPad (10th gen)", ("18.6.2", "26.1", "17.7"), 12),
    (Platform.ANDROID, "Samsung", "Galaxy XCover7", ("14", "15", "16"), 24),
    (Platform.ANDROID, "Zebra", "TC58", ("13", "14"), 8),
    (Platform.ANDROID, "Google", "Pixel 9", ("16",), 6),
    (Platform.WINDOWS, "Dell", "Latitude 5450", ("10.0.22631.4460", "10.0.26100.2314", "10.0.19045.5131"), 14),
    (Platform.MACOS, "Apple", "MacBook Air M3", ("15.1", "14.7.1", "26.1"), 5),
    (Platform.LINUX, "Lenovo", "ThinkCentre M70q", ("6.8.0",), 1),
)

_DEPARTMENTS = ("Emergency", "Radiology", "Pharmacy", "Front desk", "Pediatrics", "Administration")


def add_fleet(ctx: AppContext, n: int, seed: int = 3, now: dt.datetime = NOW) -> dict[str, int]:
    """Insert ``n`` realistic devices across platforms and departments (bulk insert); returns group ids."""
    rnd = random.Random(seed)
    groups = add_groups(ctx, _DEPARTMENTS, now)
    weights = [w for *_, w in _FLEET]
    rows: list[dict[str, Any]] = []
    with ctx.uow(write=True) as uow:
        for i in range(n):
            platform, vendor, model, versions, _ = rnd.choices(_FLEET, weights)[0]
            version = rnd.choice(versions)
            roll = rnd.random()
            state = (
                ComplianceState.COMPLIANT
                if roll < 0.72
                else ComplianceState.NON_COMPLIANT
                if roll < 0.86
                else ComplianceState.IN_GRACE
                if roll < 0.93
                else ComplianceState.UNKNOWN
            )
            stale = state is ComplianceState.UNKNOWN or rnd.random() < 0.03
            checkin = (
                None
                if stale and rnd.random() < 0.3
                else now - dt.timedelta(days=rnd.randint(15, 60) if stale else 0, hours=rnd.randint(0, 72))
            )
            uid = new_uid()
            dept = rnd.choice(_DEPARTMENTS)
            rows.append(
                {
                    "uid": uid,
                    "name": f"{dept[:3].upper()}-{model.split()[0]}-{i:04d}",
                    "platform": platform.value,
                    "vendor": vendor,
                    "model": model,
                    "os_version": version,
                    "os_version_key": version_sort_key(version),
                    "ownership": (Ownership.BYOD if rnd.random() < 0.15 else Ownership.CORPORATE).value,
                    "group_id": groups[dept],
                    "status": LifecycleStatus.ENROLLED.value,
                    "compliance_state": state.value,
                    "compliance_reasons": [],
                    "last_checkin_at": checkin,
                    "enrolled_at": now - dt.timedelta(days=rnd.randint(20, 700)),
                    "compromised": state is ComplianceState.NON_COMPLIANT and rnd.random() < 0.25,
                    "storage_encrypted": not (state is ComplianceState.NON_COMPLIANT and rnd.random() < 0.4),
                    "passcode_set": True,
                    "created_at": now,
                    "updated_at": now,
                    **seal_identifiers(uow.cipher, uid, serial=f"S{i:08d}", hardware_id=None, assigned_to=None),
                }
            )
        uow.session.execute(insert(Device), rows)
        uow.commit()
    return groups


def add_installed(ctx: AppContext, device_ids: Iterable[int], identifier: str, name: str, version: str = "1.0") -> None:
    """Mark an app installed on each of ``device_ids``."""
    with ctx.uow(write=True) as uow:
        uow.session.add_all(
            InstalledApp(device_id=d, identifier=identifier, name=name, version=version, managed=True)
            for d in device_ids
        )
        uow.commit()


def add_policy(
    ctx: AppContext,
    name: str,
    settings: dict[str, Any],
    *,
    description: str = "",
    versions: Sequence[dict[str, Any]] = (),
    assign_to: Iterable[int] = (),
    now: dt.datetime = NOW,
) -> int:
    """Insert a policy with its draft, published ``versions`` (1, 2, ...), and the last one assigned to groups."""
    with ctx.uow(write=True) as uow:
        policy = Policy(name=name, description=description, draft_settings=settings, created_at=now, updated_at=now)
        uow.session.add(policy)
        uow.session.flush()
        last: PolicyVersion | None = None
        for number, v in enumerate(versions, start=1):
            last = PolicyVersion(
                policy_id=policy.id,
                version=number,
                settings=v,
                published_at=now - dt.timedelta(days=10 * (len(versions) - number)),
                published_by="admin",
                notes=f"Release {number}",
            )
            uow.session.add(last)
            uow.session.flush()
        if last is not None:
            for gid in assign_to:
                uow.session.add(
                    PolicyAssignment(
                        policy_version_id=last.id, group_id=gid, ownership=None, assigned_at=now, assigned_by="admin"
                    )
                )
        pid = policy.id
        uow.commit()
    return pid


def add_catalog_app(
    ctx: AppContext,
    name: str,
    identifier: str,
    platform: Platform,
    versions: Sequence[str],
    *,
    publisher: str = "",
    description: str = "",
    now: dt.datetime = NOW,
) -> int:
    """Insert a catalog app with builds added one day apart, oldest first."""
    with ctx.uow(write=True) as uow:
        app = CatalogApp(
            name=name,
            identifier=identifier,
            platform=platform.value,
            publisher=publisher,
            description=description,
            created_at=now - dt.timedelta(days=len(versions) + 1),
        )
        uow.session.add(app)
        uow.session.flush()
        ext = {Platform.ANDROID: "apk", Platform.WINDOWS: "msix", Platform.MACOS: "pkg"}.get(platform, "ipa")
        for i, v in enumerate(versions):
            uow.session.add(
                CatalogAppVersion(
                    app_id=app.id,
                    version=v,
                    sha256=hashlib.sha256(f"{identifier}-{v}".encode()).hexdigest(),
                    size_bytes=10_000_000 + i * 123_456,
                    file_name=f"{identifier}-{v}.{ext}",
                    added_at=now - dt.timedelta(days=len(versions) - i),
                )
            )
        aid = app.id
        uow.commit()
    return aid


_ACTIONS = (
    ("auth.sign_in", "user"),
    ("devices.view_identifiers", "device"),
    ("policies.publish", "policy"),
    ("policies.assign", "policy"),
    ("commands.lock", "device"),
    ("commands.wipe", "device"),
    ("catalog.upload", "app"),
)


def add_audit_entries(
    ctx: AppContext,
    n: int,
    *,
    start: dt.datetime = NOW - dt.timedelta(days=30),
    step: dt.timedelta = dt.timedelta(minutes=7),
    actors: Sequence[str] = ("admin", "jdoe", "asmith", "security1"),
    seed: int = 5,
) -> list[int]:
    """Append ``n`` audit entries in time order (ids grow with time) to the chain; returns their ids.

    They go through :class:`AuditLog` (one transaction, the head locked once), so the chain stays valid.
    """
    rnd = random.Random(seed)
    times = iter([start + step * i for i in range(n)])
    log = AuditLog(store_keys(ctx).audit, lambda: next(times))
    events: list[AuditEvent] = []
    for i in range(n):
        action, kind = _ACTIONS[i % len(_ACTIONS)]
        outcome = Outcome.DENIED if i % 11 == 0 else Outcome.FAILED if i % 17 == 0 else Outcome.SUCCESS
        actor = Principal(kind="user", id=None, name=actors[i % len(actors)], role=None, workstation="frontdesk-01")
        events.append(
            AuditEvent(
                actor,
                action,
                target_kind=kind,
                target=f"{kind}-{rnd.randint(1, 400):04d}",
                outcome=outcome,
                details={"n": i, "reason": "routine" if i % 3 else "lost phone reported"},
            )
        )
    with ctx.uow(write=True) as uow:
        before = int(uow.session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0)
        log.record_many(uow, events)
        ids = list(
            uow.session.scalars(select(AuditEntry.id).where(AuditEntry.id > before).order_by(AuditEntry.id)).all()
        )
        uow.commit()
    return ids


def store_keys(ctx: AppContext) -> StoreKeys:
    """The store's unwrapped keys (as the composition root loads them)."""
    return load_or_create_store_keys(ctx.engine, load_or_create_kek(ctx.config.key_file))


def audit_count(ctx: AppContext, **where: str) -> int:
    """Number of audit entries whose columns equal ``where``."""
    stmt = select(func.count(AuditEntry.id))
    for column, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, column) == value)
    with ctx.uow() as uow:
        return int(uow.session.scalar(stmt) or 0)


def table_count(ctx: AppContext, model: type[Any]) -> int:
    """Rows in the table of ORM class ``model``."""
    with ctx.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)
