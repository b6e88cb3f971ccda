"""Device-supplied text in audit entries, on SQLite and PostgreSQL: stored safely, hashed unambiguously, verified.

NUL, lone surrogates, terminal escapes, bidi overrides, HTML and a megabyte of text go into every text
field of an entry. Each entry is written (PostgreSQL text cannot hold NUL), reads back as exactly the
stored form, decodes back to the original (or, cut to fit, names the original's length and SHA-256),
and the chain verifies.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import unescape_field
from mdm_desktop.services.audit_log import DETAILS_MAX_CHARS, DETAILS_VALUE_MAX_CHARS, TRUNCATED_KEY, AuditLog
from mdm_desktop.services.clock import utc_now
from mdm_desktop.services.dto import AuditQuery, SessionInfo
from tests.integration.fixtures_data import store_keys

HOSTILE = [
    "pixel\x00-7",
    "\x1b[2J\x1b[31mRED\x1b[0m",
    "\u202eexe.pdf",
    "<img src=x onerror=alert(1)>",
    "CLINIC\\jdoe",
    "back\\0slash\\u0000",
    "lone \ud800 surrogate",
    "line\nbreak\rand\ttab",
    "\x00",
]
MEGABYTE = "A" * 1_000_000


def _record(ctx: AppContext, value: str, details: object) -> None:
    log = AuditLog(store_keys(ctx).audit, utc_now)
    device = Principal("device", None, value, None, value)
    with ctx.uow(write=True) as uow:
        log.record(uow, device, "devices.checkin", target_kind="device", target=value, details={"name": details})
        uow.commit()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_is_stored_decodes_back_and_verifies(app_ctx: AppContext, admin: SessionInfo, value: str) -> None:
    _record(app_ctx, value, value)
    page = app_ctx.services.audit.list_page(admin.principal, AuditQuery(action="devices.checkin"), limit=10)
    (entry,) = page.rows
    assert "\x00" not in entry.actor + entry.target + entry.workstation + entry.details
    assert unescape_field(entry.actor) == value
    assert unescape_field(entry.target) == value
    assert unescape_field(entry.workstation) == value
    assert json.loads(entry.details) == {"name": value}
    assert app_ctx.services.audit_chain.verify(admin.principal).intact


def test_a_megabyte_is_cut_by_the_rule_and_verifies(app_ctx: AppContext, admin: SessionInfo) -> None:
    _record(app_ctx, MEGABYTE, MEGABYTE)
    page = app_ctx.services.audit.list_page(admin.principal, AuditQuery(action="devices.checkin"), limit=10)
    (entry,) = page.rows
    assert len(entry.actor) == 128
    assert len(entry.target) == len(entry.workstation) == 255
    assert entry.target.endswith("\u2026")
    assert len(entry.details) <= DETAILS_MAX_CHARS
    cut = json.loads(entry.details)[TRUNCATED_KEY]
    digest = hashlib.sha256(MEGABYTE.encode()).hexdigest()
    for name in ("actor", "target", "workstation"):
        assert cut[name] == {"chars": 1_000_000, "sha256": digest}
    assert cut["details.name"] == {"chars": 1_000_000, "sha256": digest}
    name = json.loads(entry.details)["name"]
    assert len(name) == DETAILS_VALUE_MAX_CHARS
    assert name.endswith("\u2026")
    assert app_ctx.services.audit_chain.verify(admin.principal).intact


def test_details_too_long_even_after_cutting_values_keep_their_head(app_ctx: AppContext, admin: SessionInfo) -> None:
    many = ["B" * DETAILS_VALUE_MAX_CHARS] * 20
    _record(app_ctx, "tablet-9", many)
    page = app_ctx.services.audit.list_page(admin.principal, AuditQuery(action="devices.checkin"), limit=10)
    (entry,) = page.rows
    kept = json.loads(entry.details)
    assert kept[TRUNCATED_KEY]["details"]["chars"] > DETAILS_MAX_CHARS
    assert kept["details_head"].startswith('{"name":["BBB')
    assert app_ctx.services.audit_chain.verify(admin.principal).intact
