"""Demo fleet, compliance part: rule states, exceptions, escalation and 90 days of trend.

Runs inside the demo generator's transaction, after devices and policy assignments are written:

1. the compliance engine evaluates every active device (:func:`reevaluate_scope`), so states, reasons and
   rule states are exactly what the console and the gateway would compute;
2. failing rules get a plausible ``failing_since`` in the past (deterministic from the seed);
3. four exceptions: one pending, two active (a device and a group) and one expired; the engine then
   re-evaluates what they cover;
4. the escalation steps the policies' ladders would have taken by now, and the quarantines they imply
   (written directly, without the notification commands a real sweep sends);
5. today's snapshot and ~90 synthetic past days that end at today's real counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mdm_desktop.domain.escalation import Ladder, Step, due_steps
from mdm_desktop.services.compliance_engine import Scope, reevaluate_scope
from mdm_desktop.services.escalation import ladder_of
from mdm_desktop.store.repositories import rule_states
from mdm_desktop.store.schema import (
    ComplianceException,
    ComplianceRuleSnapshot,
    ComplianceSnapshot,
    Device,
    DeviceRuleState,
    EscalationStep,
    PolicyVersion,
    new_uid,
)

TREND_DAYS = 90
"""Days of snapshots the demo holds, today included."""
FAILING_DAYS_MAX = 60
"""Failing rules started failing at most this many days ago."""


@dataclass(frozen=True, slots=True)
class DemoCompliance:
    """What the compliance part of the demo wrote."""

    devices_evaluated: int
    failing_rules: int
    exceptions: int
    escalation_steps: int
    quarantined: int
    snapshot_days: int

    def details(self) -> dict[str, int]:
        """For the ``demo.generate`` audit entry."""
        return {
            "devices_evaluated": self.devices_evaluated,
            "failing_rules": self.failing_rules,
            "exceptions": self.exceptions,
            "escalation_steps": self.escalation_steps,
            "quarantined": self.quarantined,
            "snapshot_days": self.snapshot_days,
        }


@dataclass(frozen=True, slots=True)
class Staff:
    """Who requests and who approves the demo's exceptions (user names)."""

    requester: str
    second_requester: str
    approver: str


def settle(session: Session, now: dt.datetime, seed: int, staff: Staff) -> DemoCompliance:
    """Evaluate the fleet with the engine and fill its compliance history (inside the caller's transaction)."""
    result = reevaluate_scope(session, now)
    failing = _backdate_failures(session, now, seed)
    exceptions, exempt_since = _exceptions(session, now, staff)
    steps, quarantined = _escalation(session, now)
    days = _snapshots(session, now, seed, exempt_since)
    return DemoCompliance(result.devices, failing, exceptions, steps, quarantined, days)


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _insert_ignoring(session: Session, model: Any) -> Any:
    """An INSERT that skips rows whose key exists (a second fill with ``--force``)."""
    maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return maker(model).on_conflict_do_nothing()


def _fraction(*parts: object) -> float:
    """A stable number in [0, 1) from ``parts`` (same seed, same demo)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _backdate_failures(session: Session, now: dt.datetime, seed: int) -> int:
    """Spread ``failing_since`` of the failing rules over the last weeks (a new fleet fails only 'now')."""
    rows = session.execute(
        select(DeviceRuleState.device_id, DeviceRuleState.rule_id).where(
            DeviceRuleState.status == "failing", DeviceRuleState.failing_since >= now
        )  # only failures found by this fill (with --force, earlier ones keep their dates)
    ).all()
    updates: list[dict[str, Any]] = []
    for device_id, rule_id in rows:
        x = _fraction(seed, device_id, rule_id)
        # Most failures are recent (caught within the week), a tail lingers for weeks.
        days = 7 * x / 0.8 if x < 0.8 else 7 + (FAILING_DAYS_MAX - 7) * (x - 0.8) / 0.2
        updates.append({"k_id": device_id, "k_rule": rule_id, "since": now - dt.timedelta(days=days)})
    if updates:
        table = _table(DeviceRuleState)
        session.execute(
            update(table)
            .where(table.c.device_id == bindparam("k_id"), table.c.rule_id == bindparam("k_rule"))
            .values(failing_since=bindparam("since")),
            updates,
        )
    return len(updates)


def _exceptions(session: Session, now: dt.datetime, staff: Staff) -> tuple[int, dt.datetime | None]:
    """One pending, two active (device and group) and one expired exception, on rules that really fail."""
    candidates: Sequence[Any] = session.execute(
        select(DeviceRuleState.device_id, DeviceRuleState.rule_id, Device.group_id)
        .join(Device, Device.id == DeviceRuleState.device_id)
        .where(DeviceRuleState.status == "failing", Device.group_id.is_not(None))
        .order_by(DeviceRuleState.device_id, DeviceRuleState.rule_id)
        .limit(400)
    ).all()
    picks: list[tuple[int, str, int]] = []  # (device, rule, group)
    seen_devices: set[int] = set()
    for device_id, rule_id, group_id in candidates:
        if device_id not in seen_devices:
            seen_devices.add(device_id)
            picks.append((device_id, rule_id, group_id))
        if len(picks) == 4:
            break
    if len(picks) < 4:
        return 0, None
    day = dt.timedelta(days=1)
    (active_dev, active_rule, _g0), (group_dev, group_rule, group_id), pending, expired = picks
    approved_at = now - 12 * day
    rows = [
        _exception(
            device_id=active_dev,
            rule_id=active_rule,
            reason="Vendor-certified configuration for an infusion-pump tablet; update blocked until the vendor "
            "validates it (ticket CHG-41877).",
            requested=(staff.requester, now - 14 * day),
            approved=(staff.approver, approved_at),
            valid_until=now + 46 * day,
        ),
        _exception(
            group_id=group_id,
            rule_id=group_rule,
            reason="Whole department waits for the new release to be validated by clinical engineering.",
            requested=(staff.second_requester, now - 13 * day),
            approved=(staff.approver, approved_at),
            valid_until=now + 18 * day,
        ),
        _exception(
            device_id=pending[0],
            rule_id=pending[1],
            reason="Shared kiosk in the waiting room; replacement ordered (PO 2211-0457).",
            requested=(staff.requester, now - dt.timedelta(hours=20)),
            valid_until=now + 30 * day,
        ),
        _exception(
            device_id=expired[0],
            rule_id=expired[1],
            reason="Temporary: device on loan to the night shift during the Wi-Fi migration.",
            requested=(staff.second_requester, now - 50 * day),
            approved=(staff.approver, now - 49 * day),
            valid_until=now - 9 * day,
        ),
    ]
    session.execute(insert(ComplianceException), rows)
    reevaluate_scope(session, now, Scope(group_ids=frozenset({group_id})))
    reevaluate_scope(session, now, Scope(device_ids=frozenset({active_dev, group_dev})))
    return len(rows), approved_at


def _exception(
    *,
    rule_id: str,
    reason: str,
    requested: tuple[str, dt.datetime],
    valid_until: dt.datetime,
    approved: tuple[str, dt.datetime] | None = None,
    device_id: int | None = None,
    group_id: int | None = None,
) -> dict[str, Any]:
    return {
        "uid": new_uid(),
        "device_id": device_id,
        "group_id": group_id,
        "rule_id": rule_id,
        "reason": reason,
        "valid_until": valid_until,
        "requested_by": requested[0],
        "requested_at": requested[1],
        "approved_by": approved[0] if approved else "",
        "approved_at": approved[1] if approved else None,
        "revoked_by": "",
        "revoked_at": None,
    }


def _escalation(session: Session, now: dt.datetime) -> tuple[int, int]:
    """The steps the ladders would have taken by now for the failing rules, and the quarantines they imply."""
    rows: Sequence[Any] = session.execute(
        select(
            DeviceRuleState.device_id,
            DeviceRuleState.rule_id,
            DeviceRuleState.failing_since,
            DeviceRuleState.policy_version_id,
        )
        .join(Device, Device.id == DeviceRuleState.device_id)
        .where(
            DeviceRuleState.status == "failing",
            DeviceRuleState.failing_since.is_not(None),
            DeviceRuleState.policy_version_id.is_not(None),
            Device.status.not_in(rule_states.INACTIVE),
        )
    ).all()
    version_ids = {r[3] for r in rows}
    ladders: dict[int, Ladder] = {
        vid: ladder_of(settings)
        for vid, settings in session.execute(
            select(PolicyVersion.id, PolicyVersion.settings).where(PolicyVersion.id.in_(version_ids))
        )
    }
    steps: list[dict[str, Any]] = []
    quarantine: dict[int, dt.datetime] = {}
    for device_id, rule_id, since, version_id in rows:
        ladder = ladders[version_id]
        for step in due_steps(since, ladder, (), now, rule_id):
            if step is Step.WIPE:  # a wipe waits for a second administrator: not in a demo
                continue
            delay = ladder.delay(step)
            assert delay is not None
            taken = since + delay
            steps.append({"device_id": device_id, "rule_id": rule_id, "step": step.value, "taken_at": taken})
            if step is Step.QUARANTINE:
                quarantine[device_id] = min(taken, quarantine.get(device_id, taken))
    if steps:
        session.execute(_insert_ignoring(session, EscalationStep), steps)
    if quarantine:
        table = _table(Device)
        session.execute(
            update(table).where(table.c.id == bindparam("k_id")).values(quarantined_at=bindparam("at")),
            [{"k_id": k, "at": v} for k, v in quarantine.items()],
        )
    return len(steps), len(quarantine)


def _snapshots(session: Session, now: dt.datetime, seed: int, exempt_since: dt.datetime | None) -> int:
    """Today's real snapshot and synthetic past days drifting towards it (better lately, patch-day dips)."""
    today = now.date()
    rule_states.take_snapshot(session, today, replace=True)
    states = session.execute(
        select(ComplianceSnapshot.state, ComplianceSnapshot.platform, ComplianceSnapshot.devices).where(
            ComplianceSnapshot.day == today
        )
    ).all()
    rules = session.execute(
        select(ComplianceRuleSnapshot.rule_id, ComplianceRuleSnapshot.failing, ComplianceRuleSnapshot.exempt).where(
            ComplianceRuleSnapshot.day == today
        )
    ).all()
    by_platform: dict[str, dict[str, int]] = defaultdict(dict)
    for state, platform, n in states:
        by_platform[platform][state] = int(n)
    state_rows: list[dict[str, Any]] = []
    rule_rows: list[dict[str, Any]] = []
    for back in range(1, TREND_DAYS):
        day = today - dt.timedelta(days=back)
        rng = random.Random(f"mdm-demo-trend|{seed}|{day.isoformat()}")  # noqa: S311 - demo data
        drift = _drift(back, day, rng)
        for platform, counts in sorted(by_platform.items()):
            past = _past_counts(counts, back, drift, rng)
            state_rows.extend(
                {"day": day, "state": s, "platform": platform, "devices": n} for s, n in past.items() if n
            )
        today_bad = sum(c.get("non_compliant", 0) for c in by_platform.values()) or 1
        past_bad = sum(r["devices"] for r in state_rows if r["day"] == day and r["state"] == "non_compliant")
        ratio = past_bad / today_bad
        exempting = exempt_since is not None and day >= exempt_since.date()
        for rule_id, failing, exempt in rules:
            noisy = failing * ratio * rng.uniform(0.93, 1.07)
            rule_rows.append(
                {
                    "day": day,
                    "rule_id": rule_id,
                    "failing": round(noisy + (0 if exempting else exempt)),
                    "exempt": exempt if exempting else 0,
                }
            )
    if state_rows:
        session.execute(_insert_ignoring(session, ComplianceSnapshot), state_rows)
    if rule_rows:
        session.execute(_insert_ignoring(session, ComplianceRuleSnapshot), rule_rows)
    return TREND_DAYS if states else 0


def _drift(back: int, day: dt.date, rng: random.Random) -> float:
    """How much worse than today ``back`` days ago was: a slow improvement, monthly patch dips, noise."""
    improvement = 0.55 * back / TREND_DAYS
    # Second Tuesday of the month: a new patch makes devices late for a week or so.
    first = day.replace(day=1)
    patch_day = first + dt.timedelta(days=(1 - first.weekday()) % 7 + 7)
    since_patch = (day - patch_day).days
    dip = 0.35 * math.exp(-since_patch / 5) if since_patch >= 0 else 0.0
    return improvement + dip + rng.uniform(-0.05, 0.05)


def _past_counts(counts: Mapping[str, int], back: int, drift: float, rng: random.Random) -> dict[str, int]:
    """A platform's devices per state ``back`` days ago: fewer devices, more non-compliant or in grace."""
    growth = 1 - 0.05 * back / TREND_DAYS
    past = {s: round(n * growth) for s, n in counts.items()}
    compliant = past.get("compliant", 0)
    worse = round((past.get("non_compliant", 0) + past.get("in_grace", 0)) * max(drift, -0.3))
    worse = max(-(past.get("non_compliant", 0)), min(worse, compliant // 3))
    to_grace = round(worse * rng.uniform(0.3, 0.5))
    past["compliant"] = compliant - worse
    past["in_grace"] = past.get("in_grace", 0) + to_grace
    past["non_compliant"] = past.get("non_compliant", 0) + worse - to_grace
    return {s: max(n, 0) for s, n in past.items()}


def staff_of(usernames: Sequence[tuple[str, str]], fallback: str) -> Staff:
    """Requesters and approver among ``(username, role)`` pairs (``fallback``: the administrator)."""
    techs = [u for u, role in usernames if role == "it_technician"]
    officers = [u for u, role in usernames if role == "security_officer"]
    return Staff(
        requester=techs[0] if techs else fallback,
        second_requester=techs[1] if len(techs) > 1 else fallback,
        approver=officers[0] if officers else fallback,
    )
