"""Signed audit exports and their offline verification, on SQLite and PostgreSQL (issue 5).

Round trips in CSV and JSON Lines (every column, hostile device text kept literally, formula cells
neutralised), the signature file (selection, checkpoint, public key), tampering with the file or its
signature detected with the right kind, empty selections, bad ranges that write nothing, permission
and audit of the export, and a damaged trail that is not signed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import ExportDamage, Outcome, utc_text
from mdm_desktop.domain.errors import ConflictError, PermissionDeniedError, ValidationError
from mdm_desktop.services import audit_export, audit_log
from mdm_desktop.services.audit_export import (
    COLUMNS,
    ExportFormat,
    ExportUnreadableError,
    csv_cell,
    csv_value,
    signature_path,
    verify_export,
)
from mdm_desktop.services.audit_log import AuditEvent, AuditLog
from mdm_desktop.services.dto import AuditQuery, SessionInfo
from mdm_desktop.store.schema import AuditEntry
from tests.conftest import sign_in_admin, user_session
from tests.integration.fixtures_data import NOW, add_audit_entries, store_keys

START = NOW - dt.timedelta(days=30)
STEP = dt.timedelta(minutes=7)

HOSTILE = {
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "ansi": "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "bidi": "invoice\u202egnp.exe\u2066x\u2069",
    "control": "a\x00b\x01c\x08d\te\rf\ng\x7fh\x85i\u2028j",
    "quotes": "\"'`,;|\\",
}
FORMULAS = ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "'quoted")
BIG = "é" * 300_000 + "x" * 400_000 + "\u202e" * 10_000  # more than a megabyte of UTF-8


def read_export(path: Path) -> list[dict[str, Any]]:
    """The entries of an export as stored values (CSV cells un-neutralised, numbers as ints)."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines(keepends=False) if line]
    csv.field_size_limit(audit_export.MAX_CELL)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == list(COLUMNS)
        return [
            {
                c: int(v) if c in ("id", "seq", "hash_version") else csv_value(v)
                for c, v in zip(COLUMNS, row, strict=True)
            }
            for row in reader
        ]


def stored(ctx: AppContext, first: int, last: int) -> list[dict[str, Any]]:
    """The stored entries numbered ``first`` to ``last`` as export records."""
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(AuditEntry.__table__).where(AuditEntry.seq.between(first, last)).order_by(AuditEntry.seq)
        ).all()
    out = []
    for r in rows:
        record = {c: getattr(r, c) for c in COLUMNS}
        record["occurred_at"] = utc_text(r.occurred_at)
        out.append(record)
    return out


def export(ctx: AppContext, admin: SessionInfo, path: Path, **kw: Any) -> Any:
    return ctx.services.audit_export.export(
        admin.principal, kw.get("since"), kw.get("until"), kw.get("fmt", "csv"), path
    )


@pytest.fixture
def entries(app_ctx: AppContext, admin: SessionInfo) -> list[int]:
    """Forty routine entries, seven minutes apart, from 30 days before NOW."""
    return add_audit_entries(app_ctx, 40, start=START, step=STEP)


def _seq_of(ctx: AppContext, entry_id: int) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalar(select(AuditEntry.seq).where(AuditEntry.id == entry_id)) or 0)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip_with_signature_and_checkpoint(
    app_ctx: AppContext, admin: SessionInfo, entries: list[int], tmp_path: Path, fmt: str
) -> None:
    since, until = START + STEP * 5, START + STEP * 25  # entries 5..24 of the forty
    path = tmp_path / f"out.{fmt}"
    result = export(app_ctx, admin, path, since=since, until=until, fmt=fmt)
    first, last = _seq_of(app_ctx, entries[5]), _seq_of(app_ctx, entries[24])
    assert (result.count, result.first_seq, result.last_seq) == (20, first, last)
    assert read_export(path) == stored(app_ctx, first, last)

    sig = json.loads(signature_path(path).read_text(encoding="utf-8"))
    assert sig["format"] == "mdm-desktop-audit-export-signature"
    assert sig["selection"]["count"] == 20
    assert sig["selection"]["since"] == utc_text(since)
    assert sig["checkpoint"]["head_seq"] > last  # covers the export's own audit entry
    assert sig["public_key"] == sig["checkpoint"]["public_key"]
    assert any("OWASP" in line for line in sig["readme"])

    report = verify_export(path)
    assert report.ok, report.problem
    assert (report.entries, report.first_seq, report.last_seq) == (20, first, last)
    assert report.key_fingerprint == app_ctx.services.audit_chain.key_fingerprint
    assert report.exported_by == admin.principal.name

    # The export is audited once, with what was exported; the chain stays intact.
    assert app_ctx.services.audit.count(admin.principal, AuditQuery(action="audit.export")) == 1
    with app_ctx.uow() as uow:
        details = uow.session.scalar(select(AuditEntry.details).where(AuditEntry.action == "audit.export"))
    assert json.loads(str(details))["count"] == 20
    assert app_ctx.services.audit_chain.verify(admin.principal).intact


def test_everything_exported_in_small_batches(
    app_ctx: AppContext, admin: SessionInfo, entries: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_export, "BATCH_SIZE", 7)
    seen: list[tuple[int, int]] = []
    path = tmp_path / "all.jsonl"
    result = app_ctx.services.audit_export.export(
        admin.principal, None, None, "jsonl", path, lambda done, total: seen.append((done, total))
    )
    assert result.first_seq == 1
    assert result.count == result.last_seq >= 40
    assert seen[-1] == (result.count, result.count)
    assert len(seen) > 2
    assert read_export(path) == stored(app_ctx, 1, result.last_seq)
    assert verify_export(path).ok


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_hostile_device_text_is_kept_literally_and_formulas_are_neutralised(
    app_ctx: AppContext, admin: SessionInfo, tmp_path: Path, fmt: str
) -> None:
    log = AuditLog(store_keys(app_ctx).audit, lambda: NOW)
    # PostgreSQL text columns refuse NUL, so it goes only in details (JSON, where it is an escape).
    events = [
        AuditEvent(
            Principal(kind="device", id=None, name=name, role=None, workstation=value.replace("\x00", "")),
            "device.checkin",
            target_kind="device",
            target=value.replace("\x00", ""),
            outcome=Outcome.SUCCESS,
            details={"reported": value},
        )
        for name, value in HOSTILE.items()
    ]
    events += [
        AuditEvent(
            Principal(kind="device", id=None, name=f, role=None, workstation=f),
            f[:60],
            target_kind="device",
            target=f,
            details={"name": f},
        )
        for f in FORMULAS
    ]
    events.append(AuditEvent(admin.principal, "device.checkin", target="big", details={"note": BIG}))
    with app_ctx.uow(write=True) as uow:
        log.record_many(uow, events)
        uow.commit()
    path = tmp_path / f"hostile.{fmt}"
    result = export(app_ctx, admin, path, since=NOW, until=NOW + dt.timedelta(seconds=1), fmt=fmt)
    assert result.count == len(events)
    exported = read_export(path)
    assert exported == stored(app_ctx, result.first_seq, result.last_seq)
    big = json.loads(exported[-1]["details"])  # cut by the audit log's rule when it was written
    assert big["note"] == BIG[: audit_log.DETAILS_VALUE_MAX_CHARS - 1] + "…"
    assert big[audit_log.TRUNCATED_KEY]["details.note"]["chars"] == len(BIG)
    assert verify_export(path).ok
    raw = path.read_text(encoding="utf-8")
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as fh:
            csv.field_size_limit(audit_export.MAX_CELL)
            cells = [cell for row in csv.reader(fh) for cell in row]
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
        for f in FORMULAS:
            assert "'" + f in cells
    else:
        assert "\x1b" not in raw
        assert "\u202e" not in raw
        assert "\x85" not in raw
        assert "\u2028" not in raw
        assert "\\u001b[31m" in raw
        assert "\\u202e" in raw


def test_csv_cells_round_trip() -> None:
    for value in ("", "plain", *FORMULAS, "''", "'", "a=b", " =x"):
        assert csv_value(csv_cell(value)) == value
    assert csv_cell("=1") == "'=1"
    assert csv_cell(" =1") == " =1"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_empty_selection(app_ctx: AppContext, admin: SessionInfo, entries: list[int], tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"empty.{fmt}"
    far = NOW + dt.timedelta(days=400)
    result = export(app_ctx, admin, path, since=far, until=far + dt.timedelta(days=1), fmt=fmt)
    assert (result.count, result.first_seq, result.last_seq) == (0, 0, 0)
    assert read_export(path) == []
    report = verify_export(path)
    assert report.ok
    assert report.entries == 0


def test_bad_ranges_and_formats_write_nothing(
    app_ctx: AppContext, admin: SessionInfo, entries: list[int], tmp_path: Path
) -> None:
    path = tmp_path / "out" / "x.csv"
    bad: list[dict[str, Any]] = [
        {"since": NOW, "until": NOW - dt.timedelta(days=1)},
        {"since": NOW, "until": NOW},
        {"since": dt.datetime(2026, 1, 1)},  # naive
        {"fmt": "xlsx"},
    ]
    for kw in bad:
        with pytest.raises(ValidationError):
            export(app_ctx, admin, path, **kw)
    assert not path.exists()
    assert not signature_path(path).exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_needs_audit_read_and_writes_nothing(app_ctx: AppContext, entries: list[int], tmp_path: Path) -> None:
    nobody = user_session(app_ctx, "nobody", None)
    path = tmp_path / "x.csv"
    with pytest.raises(PermissionDeniedError):
        export(app_ctx, nobody, path)
    assert not path.exists()


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_tampering_is_detected_with_the_right_kind(
    app_ctx: AppContext, admin: SessionInfo, entries: list[int], tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"a.{fmt}"
    export(app_ctx, admin, path, since=START, until=START + STEP * 20, fmt=fmt)
    other = tmp_path / f"b.{fmt}"
    export(app_ctx, admin, other, since=START + STEP * 25, until=START + STEP * 35, fmt=fmt)
    original = _lines(path)
    head = 1 if fmt == "csv" else 0  # CSV starts with its column header
    sig_text = signature_path(path).read_text(encoding="utf-8")

    def kind_after(lines: list[str]) -> ExportDamage | None:
        _write(path, lines)
        report = verify_export(path)
        _write(path, original)
        signature_path(path).write_text(sig_text, encoding="utf-8")
        return None if report.problem is None else report.problem.kind

    assert kind_after(original) is None
    changed = original.copy()
    changed[head + 3] = changed[head + 3].replace("frontdesk-01", "frontdesk-02")
    assert kind_after(changed) is ExportDamage.MODIFIED
    changed = original.copy()
    changed[head + 3] = changed[head + 3].replace(read_export(path)[3]["prev_hash"], "0" * 64)
    assert kind_after(changed) is ExportDamage.MODIFIED
    dropped = original[: head + 5] + original[head + 6 :]
    assert kind_after(dropped) is ExportDamage.MISSING
    assert kind_after(original[:-1]) is ExportDamage.TRUNCATED
    swapped = original.copy()
    swapped[head + 4], swapped[head + 7] = swapped[head + 7], swapped[head + 4]
    assert kind_after(swapped) is ExportDamage.REORDERED
    adjacent = original.copy()
    adjacent[head + 4], adjacent[head + 5] = adjacent[head + 5], adjacent[head + 4]
    assert kind_after(adjacent) is ExportDamage.REORDERED
    # A forged line that links correctly to the last one is still beyond the signed selection.
    last = read_export(path)[-1]
    forged = {**last, "id": last["id"] + 1, "seq": last["seq"] + 1, "prev_hash": last["entry_hash"]}
    forged_line = audit_export._encode(forged, ExportFormat(fmt)).decode("utf-8")
    assert kind_after([*original, forged_line]) is ExportDamage.INSERTED
    duplicated = [*original[: head + 3], original[head + 2], *original[head + 3 :]]
    assert kind_after(duplicated) is ExportDamage.INSERTED

    # The signature file of another export, and an altered signature file.
    signature_path(path).write_text(signature_path(other).read_text(encoding="utf-8"), encoding="utf-8")
    report = verify_export(path)
    assert report.problem is not None
    assert report.problem.kind is ExportDamage.MISMATCH
    doc = json.loads(sig_text)
    doc["selection"]["count"] -= 1
    signature_path(path).write_text(json.dumps(doc), encoding="utf-8")
    report = verify_export(path)
    assert report.problem is not None
    assert report.problem.kind is ExportDamage.SIGNATURE
    doc = json.loads(sig_text)
    doc["checkpoint"]["head_seq"] = 1
    signature_path(path).write_text(json.dumps(doc), encoding="utf-8")
    report = verify_export(path)
    assert report.problem is not None
    assert report.problem.kind is ExportDamage.SIGNATURE
    signature_path(path).write_text(sig_text, encoding="utf-8")
    assert verify_export(path).ok


def test_unreadable_exports(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with pytest.raises(ExportUnreadableError, match="Cannot read the signature file"):
        verify_export(path)
    signature_path(path).write_text("{not json", encoding="utf-8")
    with pytest.raises(ExportUnreadableError, match="not an MDM Desktop audit export signature"):
        verify_export(path)


def test_a_damaged_trail_is_not_signed(sqlite_ctx: AppContext, tmp_path: Path) -> None:
    admin = sign_in_admin(sqlite_ctx)
    add_audit_entries(sqlite_ctx, 10, start=START, step=STEP)
    with sqlite_ctx.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_entries_no_update"))
        conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3"))
    path = tmp_path / "x.csv"
    with pytest.raises(ConflictError, match="does not verify"):
        export(sqlite_ctx, admin, path)
    assert not path.exists()
    assert not signature_path(path).exists()
    assert not list(tmp_path.glob(".*.tmp"))
