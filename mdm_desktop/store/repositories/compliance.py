"""Fleet counts for the dashboard, each computed with GROUP BY in SQL."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import case, func, or_, select

from mdm_desktop.domain.devices import ComplianceState, Platform
from mdm_desktop.services.dto import ComplianceSummary, OsVersionCount
from mdm_desktop.store.schema import Device
from mdm_desktop.store.unit_of_work import UnitOfWork

# Windows 11 still reports version 10.0; builds from 22000 on are Windows 11.
WINDOWS_11_FIRST_BUILD = 22000
# Length of "major.minor.build" in Device.os_version_key ("00017.00006.00001.00000").
_KEY_PREFIX = 17


def os_major(platform: Platform, key_prefix: str) -> int | None:
    """Major OS version from the start of an ``os_version_key`` (``None`` when unknown)."""
    parts = [int(p) for p in key_prefix.split(".") if p.isdigit()]
    if not parts or parts[0] == 0:
        return None
    if platform is Platform.WINDOWS and parts[0] == 10 and len(parts) >= 3 and parts[2] >= WINDOWS_11_FIRST_BUILD:
        return 11
    return parts[0]


def summary(uow: UnitOfWork, now: dt.datetime, stale_days: int) -> ComplianceSummary:
    """Totals and counts by state, platform and (platform, major OS version)."""
    session = uow.session
    cutoff = now - dt.timedelta(days=stale_days)
    totals = session.execute(
        select(
            func.count(Device.id),
            func.coalesce(
                func.sum(case((or_(Device.last_checkin_at.is_(None), Device.last_checkin_at < cutoff), 1), else_=0)),
                0,
            ),
            func.coalesce(func.sum(case((Device.compromised.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Device.storage_encrypted.is_(False), 1), else_=0)), 0),
        )
    ).one()
    states = dict(
        session.execute(select(Device.compliance_state, func.count(Device.id)).group_by(Device.compliance_state)).all()
    )
    platforms = dict(session.execute(select(Device.platform, func.count(Device.id)).group_by(Device.platform)).all())
    prefix = func.substr(Device.os_version_key, 1, _KEY_PREFIX)
    versions = session.execute(
        select(Device.platform, prefix, func.count(Device.id)).group_by(Device.platform, prefix)
    ).all()

    folded: dict[tuple[Platform, int | None], int] = defaultdict(int)
    for plat, key, n in versions:
        try:
            platform = Platform(plat)
        except ValueError:
            continue
        folded[(platform, os_major(platform, key or ""))] += int(n)
    order = list(Platform)
    by_os = tuple(
        OsVersionCount(
            platform=p,
            major=major,
            label=f"{p.label} {major}" if major is not None else f"{p.label} (unknown)",
            count=n,
        )
        for (p, major), n in sorted(
            folded.items(), key=lambda item: (order.index(item[0][0]), -(item[0][1] if item[0][1] is not None else -1))
        )
    )
    return ComplianceSummary(
        generated_at=now,
        total_devices=int(totals[0]),
        stale_devices=int(totals[1]),
        stale_days=stale_days,
        compromised=int(totals[2]),
        unencrypted=int(totals[3]),
        by_state=tuple((s, int(states.get(s.value, 0))) for s in ComplianceState),
        by_platform=tuple((p, int(platforms.get(p.value, 0))) for p in Platform),
        by_os_version=by_os,
    )
