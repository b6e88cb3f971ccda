"""The compliance report: failing, unknown and exempt rules with their exceptions; audited; refusals write nothing."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import delete

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Platform
from mdm_desktop.domain.errors import PermissionDeniedError, ValidationError
from mdm_desktop.services.compliance_report import COLUMNS
from mdm_desktop.store.schema import DeviceRuleState
from tests.conftest import _authenticators, sign_in_admin, user_session
from tests.integration.fixtures_data import DeviceSpec, add_devices, add_groups, audit_count

REASON = "Vendor firmware for the infusion pump tablet lags; patch due in March"


def _states(ctx: AppContext, rows: list[tuple[int, str, str, str]]) -> None:
    now = _authenticators(ctx).clock()
    with ctx.uow(write=True) as uow:
        uow.session.execute(delete(DeviceRuleState))  # only the outcomes this test states
        for device, rule, status, detail in rows:
            uow.session.add(
                DeviceRuleState(
                    device_id=device,
                    rule_id=rule,
                    status=status,
                    failing_since=now - dt.timedelta(days=3) if status == "failing" else None,
                    detail=detail,
                    evaluated_at=now,
                )
            )
        uow.commit()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_report_lists_rules_not_passing_with_the_exception_behind_each_exemption(
    app_ctx: AppContext, tmp_path: Path
) -> None:
    admin = sign_in_admin(app_ctx)
    officer = user_session(app_ctx, "sec.officer", Role.SECURITY_OFFICER)
    ward = add_groups(app_ctx, ["Ward 3"])["Ward 3"]
    pump, tablet, laptop = add_devices(
        app_ctx,
        [
            DeviceSpec("Pump tablet", Platform.ANDROID, group_id=ward),
            DeviceSpec('=HYPERLINK("http://x")', Platform.IOS, group_id=ward),
            DeviceSpec("Front desk laptop", Platform.WINDOWS),
        ],
    )
    until = _authenticators(app_ctx).clock().date() + dt.timedelta(days=30)
    svc = app_ctx.services.exceptions
    asked = svc.request(admin.principal, rule_id="health.max_patch_age", reason=REASON, until=until, group_id=ward)
    svc.approve(officer.principal, asked.id, "Risk accepted")
    _states(
        app_ctx,
        [
            (pump, "health.max_patch_age", "exempt", "Android security patch 2026-03-01 is 279 days old"),
            (pump, "passcode.required", "passing", ""),
            (tablet, "encryption.required", "failing", "Storage is not encrypted"),
            (tablet, "health.max_patch_age", "exempt", "-patch level unknown"),
            (laptop, "health.max_checkin_age", "unknown", "Never checked in"),
        ],
    )

    out = tmp_path / "report.csv"
    result = app_ctx.services.compliance_report.export(officer.principal, out)

    rows = _read(out)
    assert (result.rows, result.devices, result.exempt) == (4, 3, 2)
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    by_key = {(r["device_name"], r["rule"]): r for r in rows}
    exempt = by_key[("Pump tablet", "health.max_patch_age")]
    assert (exempt["rule_state"], exempt["group"], exempt["exception"]) == ("exempt", "Ward 3", asked.uid)
    assert (exempt["exception_scope"], exempt["exception_reason"], exempt["exception_approved_by"]) == (
        "group",
        REASON,
        "sec.officer",
    )
    assert exempt["exception_until"].startswith((until + dt.timedelta(days=1)).isoformat())
    failing = by_key[('\'=HYPERLINK("http://x")', "encryption.required")]  # a formula is defused
    assert (failing["rule_state"], failing["exception"]) == ("failing", "")
    assert failing["reason"] == "Storage is not encrypted"
    assert failing["failing_since"]
    assert by_key[('\'=HYPERLINK("http://x")', "health.max_patch_age")]["reason"] == "'-patch level unknown"
    assert by_key[("Front desk laptop", "health.max_checkin_age")]["rule_state"] == "unknown"
    assert ("Pump tablet", "passcode.required") not in by_key
    assert audit_count(app_ctx, action="compliance.report_exported") == 1


def test_refusals_write_nothing(app_ctx: AppContext, tmp_path: Path) -> None:
    sign_in_admin(app_ctx)
    helpdesk = user_session(app_ctx, "help.desk", Role.HELPDESK)
    tech = user_session(app_ctx, "it.tech", Role.IT_TECHNICIAN)
    out = tmp_path / "report.csv"
    with pytest.raises(PermissionDeniedError):
        app_ctx.services.compliance_report.export(helpdesk.principal, out)
    assert not out.exists()
    assert audit_count(app_ctx, action="compliance.report", outcome="denied") == 1

    out.write_text("keep me")
    with pytest.raises(ValidationError, match="already exists"):
        app_ctx.services.compliance_report.export(tech.principal, out)
    assert out.read_text() == "keep me"
    with pytest.raises(ValidationError, match="is a folder"):
        app_ctx.services.compliance_report.export(tech.principal, tmp_path)
    assert audit_count(app_ctx, action="compliance.report_exported") == 0
    empty = app_ctx.services.compliance_report.export(tech.principal, out, overwrite=True)
    assert (empty.rows, empty.devices) == (0, 0)
    assert _read(out) == []
