"""Compliance engine at clinic-group scale: re-evaluate 100,000 devices against a changed 25-rule policy.

Fills a fresh SQLite store with N devices (default 100,000) through the demo fleet generator, creates a
mobile policy whose settings give BYOD Android devices 25 rules (9 health, update and container rules,
2 required and 14 blocked apps), assigns it to every group, then changes it (stricter patch age, minimum
OS and check-in age; Chrome blocked instead of TikTok: 25 rules again), publishes the change and prints:

- the first full evaluation of the fleet (every device, writes every non-passing rule state);
- re-evaluation of every device after the changed policy is assigned (target: under 5 s), set-based:
  devices read in chunks as column tuples, changes written with executemany;
- a re-evaluation with nothing changed (steady state);
- one device evaluated as a check-in does it (median of 51).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _util import report, timed

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.devices import Ownership, Platform
from mdm_desktop.security import totp
from mdm_desktop.services.compliance_engine import Profiles, Scope, evaluate_device, reevaluate_scope
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.repositories import rule_states
from mdm_desktop.store.schema import Device, PolicyAssignment

REQUIRED = ["com.medchart.ehr.mobile", "com.carelink.securemessaging"]
BLOCKED = [
    "com.zhiliaoapp.musically",
    "com.dropbox.android",
    "com.whatsapp",
    "com.facebook.katana",
    "com.snapchat.android",
    "com.torrent.client",
    "com.instagram.android",
    "com.google.android.apps.photos",
    "com.box.android",
    "com.microsoft.skydrive",
    "com.tencent.mm",
    "com.discord",
    "com.telegram.messenger",
    "com.signal.android",
    "com.android.chrome",
]


def policy_settings(version: int) -> dict[str, Any]:
    """A mobile policy giving BYOD Android devices 25 rules; version 2 is stricter (and still 25 rules)."""
    return {
        "scope": {"platforms": ["ios", "ipados", "android"]},
        "passcode": {"required": True},
        "encryption": {"required": True},
        "device_health": {
            "block_compromised": True,
            "min_os_version": {"ios": "18.0", "android": "14" if version == 1 else "15"},
            "max_patch_age_days": 120 if version == 1 else 60,
            "patch_grace_days": 30,
            "max_checkin_age_days": 30 if version == 1 else 14,
        },
        "containerisation": {"work_profile_required": True, "allowed_apps": [*REQUIRED, "org.clinic.vpn"]},
        "software_updates": {"required_version": {"ios": "18.0", "android": "14"}, "required_by": "2027-01-31"},
        "apps": {
            "required": REQUIRED,
            "blocked": BLOCKED[:-1] if version == 1 else BLOCKED[1:],  # v2: Chrome blocked, TikTok no longer
        },
    }


def fill(ctx: AppContext, devices: int) -> tuple[SessionInfo, float]:
    """Generate the demo clinic and sign in as its administrator."""
    result, ms = timed(lambda: ctx.services.demo.generate(devices=devices, seed=2026))
    code = totp.code_at(result.admin_totp_secret, dt.datetime.now(dt.UTC))
    return ctx.services.auth.sign_in(result.admin_username, result.admin_password, code), ms


def rules_per_device(ctx: AppContext) -> int:
    """Rules of a BYOD Android device under the merged policies of its group (the bench policy included)."""
    with ctx.uow() as uow:
        profiles = Profiles(rule_states.assignments(uow.session))
        group = uow.session.query(Device.group_id).filter(Device.platform == "android").first()
        assert group is not None
        return len(profiles.get(group[0], Ownership.BYOD, Platform.ANDROID).rules)


def timed_full(ctx: AppContext) -> tuple[Any, float]:
    """Re-evaluate every device in one transaction; prints the CPU time too (the machine may be shared)."""

    def run() -> Any:
        with ctx.uow(write=True) as uow:
            result = reevaluate_scope(uow.session, dt.datetime.now(dt.UTC), Scope())
            uow.commit()
        return result

    cpu = time.process_time()
    result, ms = timed(run)
    report("  (CPU time of this process for the run below)", time.process_time() - cpu, "s")
    return result, ms


def one_checkin_ms(ctx: AppContext, samples: int = 51) -> float:
    """Median time to evaluate one device the way a check-in does (rolled back)."""
    with ctx.uow() as uow:
        ids = [r[0] for r in uow.session.query(Device.id).filter(Device.status == "enrolled").limit(samples).all()]
    times = []
    for device_id in ids:
        with ctx.uow(write=True) as uow:
            device = uow.session.get(Device, device_id)
            assert device is not None
            start = time.perf_counter()
            evaluate_device(uow.session, device, dt.datetime.now(dt.UTC))
            uow.session.flush()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100_000)
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = Config(db_url=f"sqlite:///{root / 'bench.db'}", key_file=root / "bench.key", data_dir=root)
        ctx = open_app(config)
        try:
            session, fill_ms = fill(ctx, args.devices)
            who = session.principal
            print(f"Compliance engine, {args.devices:,} devices on SQLite")
            report("fill (demo fleet generator)", fill_ms / 1000, "s")
            policies = ctx.services.policies
            groups = ctx.services.devices.groups(who)
            created = policies.create_policy(who, "Bench 25 rules", settings=policy_settings(1))
            v1 = policies.publish(who, created.id)
            start = time.perf_counter()
            for g in groups:
                policies.assign(who, v1.id, g.id)
            report("assign version 1 to every group (first evaluation)", time.perf_counter() - start, "s")
            report("rules per device (BYOD Android, merged policies)", rules_per_device(ctx), "rules")
            policies.update_draft(who, created.id, settings=policy_settings(2))
            v2 = policies.publish(who, created.id)
            start = time.perf_counter()
            for g in groups:
                policies.assign(who, v2.id, g.id)
            changed_s = time.perf_counter() - start
            report(f"changed policy: assign v2 to each of {len(groups)} groups (each re-evaluates)", changed_s, "s")
            result, ms = timed_full(ctx)
            report(f"re-evaluate all, nothing changed ({result.devices:,} devices)", ms / 1000, "s", "< 5 s")
            with ctx.uow(write=True) as uow:  # the change again, without re-evaluating (set-up, not timed)
                uow.session.query(PolicyAssignment).filter(PolicyAssignment.policy_version_id == v2.id).update(
                    {PolicyAssignment.policy_version_id: v1.id}
                )
                uow.commit()
            timed_full(ctx)
            with ctx.uow(write=True) as uow:
                uow.session.query(PolicyAssignment).filter(PolicyAssignment.policy_version_id == v1.id).update(
                    {PolicyAssignment.policy_version_id: v2.id}
                )
                uow.commit()
            result, ms = timed_full(ctx)
            report(
                f"changed policy, one re-evaluation of all ({result.devices:,}; {result.changed:,} changed state)",
                ms / 1000,
                "s",
                "< 5 s",
            )
            with ctx.uow(write=True) as uow:
                uow.session.query(Device).update({Device.compliance_reasons: []})
                uow.commit()
            result, ms = timed_full(ctx)
            report(f"re-evaluate all, every device rewritten ({result.devices:,})", ms / 1000, "s", "< 5 s")
            report("one check-in's evaluation (median of 51)", one_checkin_ms(ctx), "ms")
            out = root / "compliance-report.csv"
            written, ms = timed(lambda: ctx.services.compliance_report.export(who, out))
            report(f"compliance report CSV ({written.rows:,} rows, {written.size / 1e6:.1f} MB)", ms / 1000, "s")
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
