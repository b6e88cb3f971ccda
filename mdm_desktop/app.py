"""Composition root: configuration -> engine -> keys -> services.

The GUI, the CLI and (later) the gateway receive a :class:`AppContext` and
never build store objects themselves.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from sqlalchemy import Engine

from mdm_desktop.config import Config
from mdm_desktop.security.keyring import load_or_create_kek
from mdm_desktop.security.passwords import PasswordHashing
from mdm_desktop.services.audit import AuditService
from mdm_desktop.services.audit_chain import AuditChainService, CheckpointMemory
from mdm_desktop.services.audit_export import AuditExportService
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.audit_retention import AuditRetentionService
from mdm_desktop.services.auth import AuthService
from mdm_desktop.services.catalog import CatalogService
from mdm_desktop.services.checkin import CheckinService
from mdm_desktop.services.clock import Clock, utc_now
from mdm_desktop.services.commands import CommandService
from mdm_desktop.services.compliance import ComplianceService
from mdm_desktop.services.compliance_engine import ComplianceEngine
from mdm_desktop.services.compliance_exceptions import ComplianceExceptionService
from mdm_desktop.services.compliance_report import ComplianceReportService
from mdm_desktop.services.demo_fleet import DemoFleetService
from mdm_desktop.services.devices import DeviceService
from mdm_desktop.services.enrollment import EnrollmentService
from mdm_desktop.services.escalation import EscalationService
from mdm_desktop.services.policies import PolicyService
from mdm_desktop.services.policy_exports import PolicyExportService
from mdm_desktop.services.sessions import SessionGuard, SessionService
from mdm_desktop.services.users import UserService
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.engine import StoreLocation, create_store_engine, describe
from mdm_desktop.store.keys import load_or_create_store_keys
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory
from mdm_desktop.store.versioning import ensure_current


@dataclass(frozen=True)
class Services:
    """Every use case the front ends may call."""

    auth: AuthService
    sessions: SessionService
    users: UserService
    devices: DeviceService
    policies: PolicyService
    policy_exports: PolicyExportService
    compliance_report: ComplianceReportService
    catalog: CatalogService
    audit: AuditService
    audit_chain: AuditChainService
    audit_export: AuditExportService
    audit_retention: AuditRetentionService
    compliance: ComplianceService
    compliance_engine: ComplianceEngine
    commands: CommandService
    demo: DemoFleetService
    enrollment: EnrollmentService
    checkin: CheckinService
    escalation: EscalationService
    exceptions: ComplianceExceptionService


@dataclass(frozen=True)
class AppContext:
    """What a front end needs: where the store is and the services over it."""

    config: Config
    location: StoreLocation
    services: Services
    engine: Engine
    uow: UnitOfWorkFactory

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def open_app(
    config: Config,
    *,
    clock: Clock = utc_now,
    passwords: PasswordHashing | None = None,
    workstation: str | None = None,
) -> AppContext:
    """Open (creating or upgrading as needed) the store and build the services.

    Raises:
        StoreError: The store cannot be opened or is newer than this program.
        KeyMaterialError: The key file is missing, unreadable, or not this store's.
    """
    engine = create_store_engine(config.db_url)
    try:
        ensure_current(engine)
        kek = load_or_create_kek(config.key_file)
        keys = load_or_create_store_keys(engine, kek)
    except BaseException:
        engine.dispose()
        raise
    cipher = FieldCipher(keys.data, keys.index)
    uow = UnitOfWorkFactory(engine, cipher)
    audit = AuditLog(keys.audit, clock)
    station = workstation if workstation is not None else socket.gethostname()
    hashing = passwords or PasswordHashing()
    sessions = SessionService(uow, audit, clock, hashing)
    # Every user call must carry a live session: it is re-validated (idle and absolute limits,
    # revocation, current role, scope and grants) on each service call, not only at sign-in.
    guard = SessionGuard(uow, audit, sessions, require_session=True)
    memory = CheckpointMemory(config.data_dir / "audit")
    exporter = AuditExportService(uow, guard, audit, clock, keys.audit, keys.checkpoint, memory)
    commands = CommandService(uow, guard, audit, clock)
    services = Services(
        auth=AuthService(uow, audit, hashing, clock, station, sessions=sessions),
        sessions=sessions,
        users=UserService(uow, guard, audit, clock, hashing, sessions),
        devices=DeviceService(uow, guard, audit, clock),
        policies=PolicyService(uow, guard, audit, clock),
        policy_exports=PolicyExportService(uow, guard, audit, clock),
        compliance_report=ComplianceReportService(uow, guard, audit, clock),
        catalog=CatalogService(uow, guard, audit, clock),
        audit=AuditService(uow, guard, audit, clock),
        audit_chain=AuditChainService(uow, guard, audit, clock, keys.audit, keys.checkpoint, memory),
        audit_export=exporter,
        audit_retention=AuditRetentionService(uow, guard, audit, clock, exporter, keys.checkpoint),
        compliance=ComplianceService(uow, guard, audit, clock),
        compliance_engine=ComplianceEngine(uow, guard, audit, clock),
        commands=commands,
        demo=DemoFleetService(uow, audit, hashing, clock, history_log=lambda c: AuditLog(keys.audit, c)),
        enrollment=EnrollmentService(uow, guard, audit, clock),
        checkin=CheckinService(uow, audit, clock),
        escalation=EscalationService(uow, audit, clock, commands),
        exceptions=ComplianceExceptionService(uow, guard, audit, clock),
    )
    location = describe(engine.url.render_as_string(hide_password=True))
    return AppContext(config=config, location=location, services=services, engine=engine, uow=uow)
