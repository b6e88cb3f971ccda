"""Test data for GUI tests: a small fleet written straight through the unit of work and the ORM.

Tests may use the store directly; the GUI code may not. Also shared fixtures
(import them into a test module to use them): ``settings`` (a QSettings in a
temporary INI file), ``fleet_ctx`` (a SQLite store with 450 devices),
``admin_session`` and ``pane_ctx``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget
from sqlalchemy import select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership, Platform, version_sort_key
from mdm_desktop.gui.errors import ErrorReporter
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.repositories.devices import seal_identifiers
from mdm_desktop.store.schema import Device, DeviceCommand, DeviceGroup, InstalledApp, new_uid
from tests.conftest import sign_in_admin

GROUPS = ("Cardiology", "Emergency", "Front desk", "Paediatrics", "Radiology")

MODELS: dict[Platform, tuple[tuple[str, str, str], ...]] = {
    Platform.IOS: (("Apple", "iPhone 15", "18.7.2"), ("Apple", "iPhone 16", "26.1"), ("Apple", "iPhone SE", "17.7")),
    Platform.IPADOS: (("Apple", "iPad Air", "26.1"), ("Apple", "iPad (10th gen)", "18.6")),
    Platform.ANDROID: (
        ("Samsung", "Galaxy A55", "15"),
        ("Google", "Pixel 8", "16"),
        ("Zebra", "TC58", "14"),
    ),
    Platform.WINDOWS: (("Dell", "Latitude 5450", "11 24H2"), ("Lenovo", "ThinkPad T14", "11 23H2")),
    Platform.MACOS: (("Apple", "MacBook Air M3", "26.1"), ("Apple", "MacBook Pro M4", "15.7")),
}

APPS = (
    ("com.epic.haiku", "Haiku", "12.4"),
    ("com.microsoft.teams", "Microsoft Teams", "7.1"),
    ("com.clinic.rounds", "Ward Rounds", "3.2.1"),
    ("org.mozilla.firefox", "Firefox", "145.0"),
    ("com.vocera.collab", "Vocera Collaboration Suite", "5.9"),
    ("com.doximity", "Doximity", "9.8"),
)

REASONS = (
    "Storage encryption is off; policy requires it.",
    "No passcode is set; policy requires one.",
    "Device reports it is jailbroken; policy does not allow compromised devices.",
)

STAFF = ("Dr. Amara Okafor", "Nurse Ben Lindqvist", "Carla Mendes", "Dr. Yusuf Demir", "Priya Natarajan")

RICH_NAME = "<b>Reception</b> tablet <i>lobby</i>"
"""A device name that would render as markup if a label interpreted rich text."""


@dataclass(frozen=True)
class Fleet:
    """What :func:`populate` wrote."""

    device_ids: tuple[int, ...]
    group_ids: dict[str, int]
    serials: dict[int, str]
    staff: dict[int, str | None]
    rich_device_id: int


def populate(ctx: AppContext, count: int, *, seed: int = 7, now: dt.datetime | None = None) -> Fleet:
    """Insert ``count`` devices (with groups, installed apps, commands and compliance reasons).

    Groups are created once and reused by later calls.

    Device ``i`` last checked in ``(i * 7) % 960`` hours before ``now`` (default: the current time),
    except every fourth device (compliance unknown), which never checked in.
    """
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.UTC)
    device_ids: list[int] = []
    serials: dict[int, str] = {}
    staff: dict[int, str | None] = {}
    with ctx.uow(write=True) as uow:
        existing = {g.name: g for g in uow.session.scalars(select(DeviceGroup)).all()}
        groups = {}
        for name in GROUPS:
            group = existing.get(name)
            if group is None:
                group = DeviceGroup(name=name, description=f"{name} department", created_at=now)
                uow.session.add(group)
            groups[name] = group
        uow.session.flush()
        platforms = list(MODELS)
        devices: list[tuple[Device, str, str | None]] = []
        for i in range(count):
            platform = platforms[i % len(platforms)]
            vendor, model, os_version = rng.choice(MODELS[platform])
            group_name = GROUPS[(i // 2) % len(GROUPS)]
            uid = new_uid()
            serial = f"SN{i:06d}"
            assigned = STAFF[i % len(STAFF)] if i % 3 else None
            state = (
                ComplianceState.COMPLIANT,
                ComplianceState.NON_COMPLIANT,
                ComplianceState.IN_GRACE,
                ComplianceState.UNKNOWN,
            )[i % 4]
            reasons = [REASONS[i % len(REASONS)]] if state is ComplianceState.NON_COMPLIANT else []
            if state is ComplianceState.UNKNOWN:
                reasons = ["Device has never checked in."]
            checkin = None if state is ComplianceState.UNKNOWN else now - dt.timedelta(hours=(i * 7) % (24 * 40))
            name = RICH_NAME if i == 0 else f"{group_name[:3].upper()}-{platform.label}-{i:04d}"
            device = Device(
                uid=uid,
                name=name,
                platform=platform.value,
                vendor=vendor,
                model=model,
                os_version=os_version,
                os_version_key=version_sort_key(os_version),
                os_build=f"B{i:05d}",
                security_patch=dt.date(2026, 9, 1) if platform is Platform.ANDROID else None,
                firmware="",
                ownership=(Ownership.BYOD if i % 5 == 0 else Ownership.CORPORATE).value,
                group_id=None if i % 17 == 16 else groups[group_name].id,
                enrolled_at=now - dt.timedelta(days=200 + i % 50),
                last_checkin_at=checkin,
                status=(LifecycleStatus.LOST if i % 29 == 28 else LifecycleStatus.ENROLLED).value,
                compromised=i % 11 == 0,
                storage_encrypted=i % 7 != 0,
                passcode_set=True,
                managed_container=platform is Platform.ANDROID,
                compliance_state=state.value,
                compliance_reasons=reasons,
                created_at=now,
                updated_at=now,
                **seal_identifiers(uow.cipher, uid, serial=serial, hardware_id=f"HW-{i:08X}", assigned_to=assigned),
            )
            uow.session.add(device)
            devices.append((device, serial, assigned))
        uow.session.flush()
        for i, (device, serial, assigned) in enumerate(devices):
            device_ids.append(device.id)
            serials[device.id] = serial
            staff[device.id] = assigned
            for identifier, app_name, version in APPS[: 2 + i % 4]:
                uow.session.add(
                    InstalledApp(
                        device_id=device.id, identifier=identifier, name=app_name, version=version, managed=i % 2 == 0
                    )
                )
            if i % 2 == 0:
                uow.session.add(
                    DeviceCommand(
                        uid=new_uid(),
                        device_id=device.id,
                        type=CommandType.REFRESH_INVENTORY.value,
                        status=CommandStatus.ACKNOWLEDGED.value,
                        payload={},
                        reason="",
                        created_by="admin",
                        created_at=now - dt.timedelta(days=2),
                        delivered_at=now - dt.timedelta(days=2),
                        completed_at=now - dt.timedelta(days=2),
                        result="Inventory refreshed",
                    )
                )
                uow.session.add(
                    DeviceCommand(
                        uid=new_uid(),
                        device_id=device.id,
                        type=CommandType.LOCK.value,
                        status=CommandStatus.QUEUED.value,
                        payload={},
                        reason="Reported missing at <b>night</b> shift",
                        created_by="admin",
                        created_at=now - dt.timedelta(hours=3),
                        result="",
                    )
                )
        uow.commit()
    return Fleet(
        device_ids=tuple(device_ids),
        group_ids={name: g.id for name, g in groups.items()},
        serials=serials,
        staff=staff,
        rich_device_id=device_ids[0] if count else -1,
    )


def temp_settings(tmp_path: Path) -> QSettings:
    """A QSettings in a temporary INI file, so tests never touch the real user settings."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """A QSettings in a temporary INI file."""
    return temp_settings(tmp_path)


@pytest.fixture
def fleet(sqlite_ctx: AppContext) -> Fleet:
    """450 devices (three pages of 200) on a SQLite store."""
    return populate(sqlite_ctx, 450)


@pytest.fixture
def admin_session(sqlite_ctx: AppContext) -> SessionInfo:
    """A signed-in administrator on ``sqlite_ctx``."""
    return sign_in_admin(sqlite_ctx)


@pytest.fixture
def runner(qtbot: object) -> Iterator[TaskRunner]:
    """A task runner that is shut down after the test."""
    task_runner = TaskRunner(max_threads=2)
    yield task_runner
    task_runner.shutdown()


@pytest.fixture
def pane_ctx(
    sqlite_ctx: AppContext, admin_session: SessionInfo, runner: TaskRunner, settings: QSettings, qtbot: object
) -> Iterator[PaneContext]:
    """A pane context over ``sqlite_ctx`` for an administrator; errors are collected, not shown."""
    parent = QWidget()
    reporter = CollectingErrors(parent)
    runner.default_error_handler = reporter.report
    yield PaneContext(
        services=sqlite_ctx.services, session=admin_session, runner=runner, errors=reporter, settings=settings
    )
    parent.deleteLater()


class CollectingErrors(ErrorReporter):
    """An error reporter that records errors instead of opening message boxes."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.errors: list[BaseException] = []

    def report(self, exc: BaseException) -> None:
        self.errors.append(exc)
