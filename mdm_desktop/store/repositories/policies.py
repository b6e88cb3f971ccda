"""Policy queries and writes: drafts, immutable numbered versions, assignments to groups."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from mdm_desktop.domain.audit import canonical_json
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.services.dto import PolicyAssignmentInfo, PolicyDetail, PolicySummary, PolicyVersionInfo
from mdm_desktop.store.schema import DeviceGroup, Policy, PolicyAssignment, PolicyVersion
from mdm_desktop.store.unit_of_work import UnitOfWork


def _latest_versions() -> Any:
    """Subquery: each policy's highest version number."""
    return (
        select(PolicyVersion.policy_id, func.max(PolicyVersion.version).label("latest"))
        .group_by(PolicyVersion.policy_id)
        .subquery()
    )


def _assigned_group_counts() -> Any:
    """Subquery: number of distinct groups each policy (any version) is assigned to."""
    return (
        select(PolicyVersion.policy_id, func.count(func.distinct(PolicyAssignment.group_id)).label("groups"))
        .join(PolicyAssignment, PolicyAssignment.policy_version_id == PolicyVersion.id)
        .group_by(PolicyVersion.policy_id)
        .subquery()
    )


def _summaries(uow: UnitOfWork, policy_id: int | None = None) -> list[PolicySummary]:
    latest = _latest_versions()
    groups = _assigned_group_counts()
    stmt = (
        select(Policy, PolicyVersion, func.coalesce(groups.c.groups, 0))
        .outerjoin(latest, latest.c.policy_id == Policy.id)
        .outerjoin(
            PolicyVersion,
            (PolicyVersion.policy_id == Policy.id) & (PolicyVersion.version == latest.c.latest),
        )
        .outerjoin(groups, groups.c.policy_id == Policy.id)
        .order_by(func.lower(Policy.name), Policy.id)
    )
    if policy_id is not None:
        stmt = stmt.where(Policy.id == policy_id)
    out: list[PolicySummary] = []
    for policy, version, n_groups in uow.session.execute(stmt).all():
        changed = version is None or canonical_json(policy.draft_settings or {}) != canonical_json(version.settings)
        out.append(
            PolicySummary(
                id=policy.id,
                uid=policy.uid,
                name=policy.name,
                description=policy.description,
                latest_version=version.version if version is not None else None,
                published_at=version.published_at if version is not None else None,
                assigned_groups=int(n_groups),
                draft_changed=changed,
                updated_at=policy.updated_at,
            )
        )
    return out


def list_summaries(uow: UnitOfWork) -> tuple[PolicySummary, ...]:
    """Every policy with its latest version and assignment count, by name."""
    return tuple(_summaries(uow))


def summary(uow: UnitOfWork, policy_id: int) -> PolicySummary | None:
    """One policy's summary, or ``None`` if it does not exist."""
    found = _summaries(uow, policy_id)
    return found[0] if found else None


def version_info(v: PolicyVersion) -> PolicyVersionInfo:
    """Map a version row to its DTO."""
    return PolicyVersionInfo(
        id=v.id,
        policy_id=v.policy_id,
        version=v.version,
        published_at=v.published_at,
        published_by=v.published_by,
        notes=v.notes,
        settings_json=canonical_json(v.settings),
    )


def assignment_info(a: PolicyAssignment, v: PolicyVersion, group_name: str) -> PolicyAssignmentInfo:
    """Map an assignment row (with its version and group name) to its DTO."""
    return PolicyAssignmentInfo(
        id=a.id,
        policy_id=v.policy_id,
        version_id=v.id,
        version=v.version,
        group_id=a.group_id,
        group_name=group_name,
        ownership=Ownership(a.ownership) if a.ownership else None,
        assigned_at=a.assigned_at,
        assigned_by=a.assigned_by,
    )


def detail(uow: UnitOfWork, policy_id: int) -> PolicyDetail | None:
    """Draft, versions (newest first) and assignments of one policy, or ``None``."""
    head = summary(uow, policy_id)
    if head is None:
        return None
    policy = uow.session.get(Policy, policy_id)
    assert policy is not None
    versions = uow.session.scalars(
        select(PolicyVersion).where(PolicyVersion.policy_id == policy_id).order_by(PolicyVersion.version.desc())
    ).all()
    assignments = uow.session.execute(
        select(PolicyAssignment, PolicyVersion, DeviceGroup.name)
        .join(PolicyVersion, PolicyVersion.id == PolicyAssignment.policy_version_id)
        .join(DeviceGroup, DeviceGroup.id == PolicyAssignment.group_id)
        .where(PolicyVersion.policy_id == policy_id)
        .order_by(func.lower(DeviceGroup.name), PolicyAssignment.ownership, PolicyAssignment.id)
    ).all()
    return PolicyDetail(
        summary=head,
        draft_settings_json=canonical_json(policy.draft_settings or {}),
        versions=tuple(version_info(v) for v in versions),
        assignments=tuple(assignment_info(a, v, name) for a, v, name in assignments),
    )


def name_taken(uow: UnitOfWork, name: str, *, except_id: int | None = None) -> bool:
    """Whether another policy already uses ``name`` (compared without regard to case)."""
    stmt = select(Policy.id).where(func.lower(Policy.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Policy.id != except_id)
    return uow.session.scalar(stmt.limit(1)) is not None


def add_policy(uow: UnitOfWork, name: str, description: str, settings: dict[str, Any], now: dt.datetime) -> Policy:
    """Insert a policy with its draft settings."""
    policy = Policy(name=name, description=description, draft_settings=settings, created_at=now, updated_at=now)
    uow.session.add(policy)
    uow.session.flush()
    return policy


def get_policy(uow: UnitOfWork, policy_id: int, *, for_update: bool = False) -> Policy | None:
    """The policy row, locked for update when asked (PostgreSQL; SQLite write units are already exclusive)."""
    stmt = select(Policy).where(Policy.id == policy_id)
    if for_update:
        stmt = stmt.with_for_update()
    return uow.session.scalar(stmt)


def latest_version(uow: UnitOfWork, policy_id: int) -> PolicyVersion | None:
    """The highest-numbered version of a policy."""
    return uow.session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.policy_id == policy_id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )


def add_version(
    uow: UnitOfWork, policy: Policy, settings: dict[str, Any], notes: str, by: str, now: dt.datetime
) -> PolicyVersion:
    """Freeze ``settings`` as the next numbered version of ``policy``."""
    previous = latest_version(uow, policy.id)
    number = (previous.version if previous is not None else 0) + 1
    version = PolicyVersion(
        policy_id=policy.id, version=number, settings=settings, published_at=now, published_by=by, notes=notes
    )
    uow.session.add(version)
    uow.session.flush()
    return version


def get_version(uow: UnitOfWork, version_id: int) -> PolicyVersion | None:
    """A version row by id."""
    return uow.session.get(PolicyVersion, version_id)


def get_group(uow: UnitOfWork, group_id: int) -> DeviceGroup | None:
    """A device group by id."""
    return uow.session.get(DeviceGroup, group_id)


def assignments_of_policy_to_group(
    uow: UnitOfWork, policy_id: int, group_id: int, ownership: Ownership | None
) -> list[tuple[PolicyAssignment, PolicyVersion]]:
    """Existing assignments of any version of ``policy_id`` to ``group_id`` for the same ownership scope."""
    own = PolicyAssignment.ownership.is_(None) if ownership is None else PolicyAssignment.ownership == ownership.value
    rows = uow.session.execute(
        select(PolicyAssignment, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.id == PolicyAssignment.policy_version_id)
        .where(PolicyVersion.policy_id == policy_id, PolicyAssignment.group_id == group_id, own)
    ).all()
    return [(a, v) for a, v in rows]


def add_assignment(
    uow: UnitOfWork, version: PolicyVersion, group_id: int, ownership: Ownership | None, by: str, now: dt.datetime
) -> PolicyAssignment:
    """Assign ``version`` to a group."""
    row = PolicyAssignment(
        policy_version_id=version.id,
        group_id=group_id,
        ownership=ownership.value if ownership is not None else None,
        assigned_at=now,
        assigned_by=by,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def delete(uow: UnitOfWork, row: object) -> None:
    """Delete one row in the unit of work."""
    uow.session.delete(row)
    uow.session.flush()


def get_assignment(uow: UnitOfWork, assignment_id: int) -> tuple[PolicyAssignment, PolicyVersion, Policy, str] | None:
    """An assignment with its version, policy and group name, or ``None``."""
    row = uow.session.execute(
        select(PolicyAssignment, PolicyVersion, Policy, DeviceGroup.name)
        .join(PolicyVersion, PolicyVersion.id == PolicyAssignment.policy_version_id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .join(DeviceGroup, DeviceGroup.id == PolicyAssignment.group_id)
        .where(PolicyAssignment.id == assignment_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def assignments_applying_to(
    uow: UnitOfWork, group_id: int, ownership: Ownership
) -> list[tuple[PolicyAssignment, PolicyVersion, str]]:
    """Assignments that reach ``ownership`` devices of a group (for all devices, or for that ownership), by policy."""
    own = PolicyAssignment.ownership.is_(None) | (PolicyAssignment.ownership == ownership.value)
    rows = uow.session.execute(
        select(PolicyAssignment, PolicyVersion, Policy.name)
        .join(PolicyVersion, PolicyVersion.id == PolicyAssignment.policy_version_id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(PolicyAssignment.group_id == group_id, own)
        .order_by(func.lower(Policy.name), PolicyAssignment.id)
    ).all()
    return [(a, v, name) for a, v, name in rows]
