"""Audit retention and pruning with a signed anchor, on SQLite and PostgreSQL (issue 5).

A store whose first entries are eight years old: a prune exports them (signed, verifiable offline),
leaves a signed anchor and removes them, and verification of what remains passes (also against
checkpoints made before the prune). Direct deletes are still refused; a forged or altered anchor,
or a prefix removed without one, is reported; young entries cannot be pruned; a failure at any step
deletes nothing; the permission needs an administrator with a fresh code; the setting never goes
below six years.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role, StepUpRequiredError
from mdm_desktop.domain.audit import AuditDamage
from mdm_desktop.domain.errors import PermissionDeniedError, ValidationError
from mdm_desktop.services.audit_chain import (
    CheckpointMemory,
    CheckpointSigner,
    PruneAnchor,
    anchor_bytes,
    anchor_signed_by,
    checkpoint_to_json,
    read_anchors,
    verify_chain,
    write_file_atomically,
)
from mdm_desktop.services.audit_export import verify_export
from mdm_desktop.services.dto import AuditCheckpoint, SessionInfo
from mdm_desktop.store.schema import AuditAnchor, AuditEntry
from tests.conftest import sign_in_admin, step_up_admin, user_session
from tests.integration import test_audit_chain as chain_tests
from tests.integration.fixtures_data import add_audit_entries, audit_count, store_keys

postgres_url = chain_tests.postgres_url  # a fresh PostgreSQL database (fixture)

OLD = 40
"""Entries recorded 8 years ago and onwards, one a month (the first 25 or so are older than six years)."""


@pytest.fixture
def old_ctx(app_ctx: AppContext) -> AppContext:
    """A store whose chain starts with ``OLD`` entries from eight years ago, then an administrator's sign-in."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=8 * 365)
    add_audit_entries(app_ctx, OLD, start=start, step=dt.timedelta(days=30))
    return app_ctx


@pytest.fixture
def boss(old_ctx: AppContext) -> SessionInfo:
    """The administrator, with a fresh step-up."""
    return step_up_admin(old_ctx, sign_in_admin(old_ctx))


def cutoff(ctx: AppContext, admin: SessionInfo) -> dt.datetime:
    return ctx.services.audit_retention.retention_status(admin.principal).cutoff


def entries(ctx: AppContext) -> list[tuple[int, str]]:
    with ctx.uow() as uow:
        return [(r.seq, r.entry_hash) for r in uow.session.execute(select(AuditEntry.seq, AuditEntry.entry_hash))]


def anchors_count(ctx: AppContext) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalar(select(func.count(AuditAnchor.id))) or 0)


def sign(ctx: AppContext, entries_: int, seq: int, digest: str) -> AuditCheckpoint:
    return CheckpointSigner(store_keys(ctx).checkpoint).sign(entries_, seq, digest, dt.datetime.now(dt.UTC))


def execute(ctx: AppContext, *statements: str, bypass_triggers: bool = False) -> None:
    """Run SQL on the store as someone with database access would (optionally with the triggers out of the way)."""
    with ctx.engine.begin() as conn:
        if bypass_triggers:
            _bypass(conn)
        for statement in statements:
            conn.execute(text(statement))


def _bypass(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entries_no_delete")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_anchors_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_anchors_no_delete")
    else:
        conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        conn.exec_driver_sql("ALTER TABLE audit_anchors DISABLE TRIGGER USER")


def verify(ctx: AppContext, admin: SessionInfo, *checkpoints: AuditCheckpoint) -> Any:
    keys = store_keys(ctx)
    return verify_chain(
        ctx.uow,
        keys.audit,
        checkpoints=checkpoints,
        anchor_key=CheckpointSigner(keys.checkpoint).public_raw,
    )


# -- prune, then verify ------------------------------------------------------------------------------------------


def test_prune_exports_signs_anchors_and_verification_still_passes(
    old_ctx: AppContext, boss: SessionInfo, tmp_path: Path
) -> None:
    retention = old_ctx.services.audit_retention
    status = retention.retention_status(boss.principal)
    assert status.years == 6
    assert status.oldest_seq == 1
    assert status.last_prune is None
    plan = status.prunable
    assert plan.first_seq == 1
    assert 20 < plan.count < OLD
    assert plan.last_seq == plan.count
    assert plan.last_at is not None
    assert plan.last_at < status.cutoff
    before_prune = dict(entries(old_ctx))
    # A checkpoint that the prune will leave behind, one at the prune's last entry, one after it.
    early = sign(old_ctx, 10, 10, before_prune[10])
    at_end = sign(old_ctx, plan.last_seq, plan.last_seq, before_prune[plan.last_seq])
    later = old_ctx.services.audit_chain.make_checkpoint(boss.principal)

    result = retention.prune(boss.principal, status.cutoff, tmp_path / "usb")

    assert (result.plan.first_seq, result.plan.last_seq, result.plan.count) == (1, plan.last_seq, plan.count)
    export = Path(result.export_path)
    assert export.name == f"audit-pruned-1-{plan.last_seq}.jsonl"
    offline = verify_export(export)  # no store, no keys
    assert offline.ok, offline.problem
    assert (offline.first_seq, offline.last_seq, offline.entries) == (1, plan.last_seq, plan.count)
    remaining = dict(entries(old_ctx))
    assert min(remaining) == plan.last_seq + 1
    assert remaining[plan.last_seq + 1] != ""
    (anchor,) = read_anchors(old_ctx.uow())
    assert (anchor.first_seq, anchor.upto_seq, anchor.entries) == (1, plan.last_seq, plan.count)
    assert anchor.upto_hash == before_prune[plan.last_seq]
    assert anchor.export_sha256 == result.export_sha256
    assert anchor_signed_by(anchor, CheckpointSigner(store_keys(old_ctx).checkpoint).public_raw)

    report = old_ctx.services.audit_chain.verify(boss.principal)
    assert report.intact, report.problem
    assert report.entries_checked == len(remaining)
    report = verify(old_ctx, boss, early, at_end, later)
    assert report.intact, report.problem
    assert report.checkpoints_checked == 3
    # The prune is audited with its counts and the export's hash.
    assert audit_count(old_ctx, action="audit.prune") == 1
    with old_ctx.uow() as uow:
        details = uow.session.scalar(select(AuditEntry.details).where(AuditEntry.action == "audit.prune"))
    assert f'"sha256":"{result.export_sha256}"' in str(details)
    assert f'"count":{plan.count}' in str(details)
    # A checkpoint remembered from before the prune still extends (quick check), and status shows the prune.
    memory = CheckpointMemory(old_ctx.config.data_dir / "audit")
    write_file_atomically(memory.path(early.key_fingerprint), checkpoint_to_json(at_end))
    assert old_ctx.services.audit_chain.checkpoint_status(boss.principal).extends
    after = retention.retention_status(boss.principal)
    assert after.prunable.count == 0
    assert after.oldest_seq == plan.last_seq + 1
    assert after.last_prune is not None
    assert after.last_prune.upto_seq == plan.last_seq


def test_a_second_prune_continues_from_the_first_anchor(old_ctx: AppContext, boss: SessionInfo, tmp_path: Path) -> None:
    retention = old_ctx.services.audit_retention
    cut = cutoff(old_ctx, boss)
    first = retention.prune(boss.principal, cut - dt.timedelta(days=365), tmp_path)
    step_up_admin(old_ctx, boss)
    second = retention.prune(boss.principal, cut, tmp_path)
    assert second.plan.first_seq == first.plan.last_seq + 1
    assert [a.upto_seq for a in read_anchors(old_ctx.uow())] == [first.plan.last_seq, second.plan.last_seq]
    assert old_ctx.services.audit_chain.verify(boss.principal).intact
    assert verify_export(Path(second.export_path)).ok


def test_a_checkpoint_at_the_anchor_with_another_hash_is_rolled_back(
    old_ctx: AppContext, boss: SessionInfo, tmp_path: Path
) -> None:
    result = old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), tmp_path)
    wrong = sign(old_ctx, result.plan.last_seq, result.plan.last_seq, "0" * 64)
    report = verify(old_ctx, boss, wrong)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.ROLLED_BACK


# -- the store's protection --------------------------------------------------------------------------------------


def test_direct_deletes_and_anchor_changes_are_still_refused(
    old_ctx: AppContext, boss: SessionInfo, tmp_path: Path
) -> None:
    old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), tmp_path)
    kept = entries(old_ctx)
    first_kept = min(seq for seq, _ in kept)
    refused = [
        f"DELETE FROM audit_entries WHERE seq = {first_kept}",
        "DELETE FROM audit_entries",
        "UPDATE audit_entries SET actor = 'mallory'",
        "UPDATE audit_anchors SET upto_seq = upto_seq + 5",
        "DELETE FROM audit_anchors",
    ]
    if old_ctx.engine.dialect.name == "postgresql":
        refused += [f"SELECT audit_prune({first_kept + 3})", "TRUNCATE audit_anchors", "TRUNCATE audit_entries"]
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"):
            execute(old_ctx, statement)
    assert entries(old_ctx) == kept
    assert anchors_count(old_ctx) == 1


def test_direct_delete_without_any_prune_is_refused(old_ctx: AppContext) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        execute(old_ctx, "DELETE FROM audit_entries WHERE seq = 1")
    assert audit_count(old_ctx) >= OLD


def test_a_forged_anchor_is_detected(old_ctx: AppContext, boss: SessionInfo) -> None:
    # Someone who may insert rows writes an anchor (signed with another key) and deletes the prefix it covers.
    before = dict(entries(old_ctx))
    forged_signer = CheckpointSigner(b"\x01" * 32)
    values = {
        "first_seq": 1,
        "upto_seq": 10,
        "upto_hash": before[10],
        "entries": 10,
        "before": dt.datetime.now(dt.UTC) - dt.timedelta(days=7 * 365),
        "pruned_at": dt.datetime.now(dt.UTC),
        "actor": "mallory",
        "export_file": "nothing.jsonl",
        "export_sha256": "0" * 64,
        "key_fingerprint": forged_signer.fingerprint,
        "signature": "",
    }
    with old_ctx.uow(write=True) as uow:
        uow.session.add(AuditAnchor(**values))
        uow.commit()
    execute(old_ctx, "DELETE FROM audit_entries WHERE seq <= 10")  # the store lets an anchored delete through
    report = old_ctx.services.audit_chain.verify(boss.principal)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.MISSING
    assert "not signed by this store's key" in report.problem.description
    assert report.problem.seq == 1


def test_an_altered_anchor_is_detected(old_ctx: AppContext, boss: SessionInfo, tmp_path: Path) -> None:
    old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), tmp_path)
    assert old_ctx.services.audit_chain.verify(boss.principal).intact
    execute(old_ctx, "UPDATE audit_anchors SET export_sha256 = '" + "f" * 64 + "'", bypass_triggers=True)
    report = old_ctx.services.audit_chain.verify(boss.principal)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.MISSING
    assert "forged or altered" in report.problem.description


def test_an_anchor_that_does_not_link_to_the_chain_is_detected(
    old_ctx: AppContext, boss: SessionInfo, tmp_path: Path
) -> None:
    result = old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), tmp_path)
    # Remove more than the anchor covers: the chain no longer starts right after it.
    nxt = result.plan.last_seq + 1
    execute(old_ctx, f"DELETE FROM audit_entries WHERE seq = {nxt}", bypass_triggers=True)
    report = old_ctx.services.audit_chain.verify(boss.principal)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.MISSING
    assert report.problem.seq == nxt


def test_a_prefix_removed_without_an_anchor_is_truncated_at_the_head(old_ctx: AppContext, boss: SessionInfo) -> None:
    execute(old_ctx, "DELETE FROM audit_entries WHERE seq <= 5", bypass_triggers=True)
    report = old_ctx.services.audit_chain.verify(boss.principal)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.MISSING
    assert report.problem.seq == 1
    assert "truncated at the head" in report.problem.description


def test_without_the_public_key_an_anchor_cannot_vouch(old_ctx: AppContext, boss: SessionInfo, tmp_path: Path) -> None:
    old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), tmp_path)
    report = verify_chain(old_ctx.uow, store_keys(old_ctx).audit)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.MISSING


def test_anchor_bytes_are_injective_over_fields() -> None:
    anchor = _sample_anchor()
    a = anchor_bytes(dataclasses.replace(anchor, actor="ab", export_file="c"))
    b = anchor_bytes(dataclasses.replace(anchor, actor="a", export_file="bc"))
    assert a != b


def _sample_anchor() -> PruneAnchor:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return PruneAnchor(1, 2, "h", 2, now, now, "admin", "f", "s", "k", "")


# -- what is refused, and failures that delete nothing -----------------------------------------------------------


def test_young_entries_cannot_be_pruned(old_ctx: AppContext, boss: SessionInfo, tmp_path: Path) -> None:
    retention = old_ctx.services.audit_retention
    kept = entries(old_ctx)
    too_young = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    with pytest.raises(ValidationError, match="younger than the retention period"):
        retention.plan(boss.principal, too_young)
    with pytest.raises(ValidationError, match="younger than the retention period"):
        retention.prune(boss.principal, too_young, tmp_path / "out")
    with pytest.raises(ValidationError, match="time zone"):
        retention.prune(boss.principal, dt.datetime(2015, 1, 1), tmp_path / "out")
    with pytest.raises(ValidationError, match="nothing to prune"):
        retention.prune(boss.principal, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), tmp_path / "out")
    assert entries(old_ctx) == kept
    assert not (tmp_path / "out").exists()


def test_unwritable_folder_deletes_nothing(old_ctx: AppContext, boss: SessionInfo, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    kept = entries(old_ctx)
    with pytest.raises(ValidationError):
        old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), blocker / "inside")
    with pytest.raises(ValidationError, match="not a folder"):
        old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), blocker)
    assert entries(old_ctx) == kept
    assert anchors_count(old_ctx) == 0


def test_an_existing_export_is_never_replaced(old_ctx: AppContext, boss: SessionInfo, tmp_path: Path) -> None:
    plan = old_ctx.services.audit_retention.retention_status(boss.principal).prunable
    (tmp_path / f"audit-pruned-1-{plan.last_seq}.jsonl").write_text("keep me", encoding="utf-8")
    kept = entries(old_ctx)
    with pytest.raises(ValidationError, match="already exists"):
        old_ctx.services.audit_retention.prune(boss.principal, plan.before, tmp_path)
    assert entries(old_ctx) == kept


def test_a_failure_inside_the_transaction_rolls_back_the_anchor_and_the_delete(
    old_ctx: AppContext, boss: SessionInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    retention = old_ctx.services.audit_retention
    audit = retention._audit
    real = audit.record

    def failing(uow: Any, actor: Any, action: str, **kw: Any) -> None:
        if action == "audit.prune":
            raise RuntimeError("disk full")
        real(uow, actor, action, **kw)

    monkeypatch.setattr(audit, "record", failing)
    kept = entries(old_ctx)
    with pytest.raises(RuntimeError, match="disk full"):
        retention.prune(boss.principal, cutoff(old_ctx, boss), tmp_path)
    monkeypatch.undo()
    # The export and its own audit entry were written; nothing was deleted and no anchor is left.
    assert set(kept) <= set(entries(old_ctx))
    assert anchors_count(old_ctx) == 0
    assert old_ctx.services.audit_chain.verify(boss.principal).intact


def test_a_changed_trail_after_the_export_deletes_nothing(
    old_ctx: AppContext, boss: SessionInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mdm_desktop.services import audit_retention

    real = audit_retention.read_signature_file

    def other_hash(path: Path) -> Any:
        sig = real(path)
        return dataclasses.replace(sig, selection=dataclasses.replace(sig.selection, last_hash="e" * 64))

    monkeypatch.setattr(audit_retention, "read_signature_file", other_hash)
    kept = entries(old_ctx)
    with pytest.raises(Exception, match="changed while the entries were exported"):
        old_ctx.services.audit_retention.prune(boss.principal, cutoff(old_ctx, boss), tmp_path)
    assert set(kept) <= set(entries(old_ctx))
    assert anchors_count(old_ctx) == 0


# -- permissions and the setting ---------------------------------------------------------------------------------


def test_prune_needs_an_administrator_with_a_fresh_code(old_ctx: AppContext, tmp_path: Path) -> None:
    officer = user_session(old_ctx, "officer1", Role.SECURITY_OFFICER)
    retention = old_ctx.services.audit_retention
    cut = retention.retention_status(officer.principal).cutoff  # an officer may look
    with pytest.raises(PermissionDeniedError):
        retention.prune(officer.principal, cut, tmp_path)
    assert audit_count(old_ctx, action="audit.prune", outcome="denied") == 1
    admin = sign_in_admin(old_ctx)
    old_ctx.services.sessions.status(admin.principal)
    stale = _without_step_up(old_ctx, admin)
    with pytest.raises(StepUpRequiredError):
        retention.prune(stale.principal, cut, tmp_path)
    assert anchors_count(old_ctx) == 0
    assert not list(tmp_path.glob("audit-pruned-*"))


def _without_step_up(ctx: AppContext, admin: SessionInfo) -> SessionInfo:
    """A new sign-in of the administrator (no step-up yet)."""
    from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, totp_code

    return ctx.services.auth.sign_in(ADMIN_USER, ADMIN_PASSWORD, totp_code(ctx))


def test_retention_setting_is_at_least_six_years_and_audited(old_ctx: AppContext, boss: SessionInfo) -> None:
    retention = old_ctx.services.audit_retention
    with pytest.raises(ValidationError, match="from 6 to 100"):
        retention.set_retention_years(boss.principal, 5)
    assert retention.set_retention_years(boss.principal, 7) == 7
    status = retention.retention_status(boss.principal)
    assert status.years == 7
    assert old_ctx.services.users.security_settings(boss.principal).audit_retention_years == 7
    assert audit_count(old_ctx, action="settings.security") == 1
    # Seven years: fewer entries are old enough.
    assert 0 < status.prunable.count < 25
    # A hand-edited value below the minimum is read as six.
    execute(old_ctx, "UPDATE settings SET value = '2' WHERE key = 'security.audit_retention_years'")
    assert retention.retention_status(boss.principal).years == 6


# -- PostgreSQL with the documented role set-up: the console's role prunes only through audit_prune() ----------


@pytest.mark.postgres
def test_prune_works_for_the_app_role_that_cannot_delete(postgres_url: str, tmp_path: Path) -> None:
    import secrets

    import psycopg
    from sqlalchemy.engine import make_url

    from mdm_desktop.services.maintenance import upgrade_store
    from mdm_desktop.store.engine import create_store_engine
    from tests.conftest import make_config, open_test_app

    suffix = postgres_url.rsplit("_", 1)[-1][:8]
    password = secrets.token_hex(16)
    names = {"owner": f"mdm_owner_{suffix}", "admin": f"mdm_admin_{suffix}", "app": f"mdm_app_{suffix}"}
    superuser = create_store_engine(postgres_url)
    try:
        with superuser.begin() as conn:
            conn.exec_driver_sql(chain_tests.ROLE_SETUP.format(password=password, **names))
        as_admin = make_url(postgres_url).set(username=names["admin"], password=password)
        as_app = make_url(postgres_url).set(username=names["app"], password=password)
        upgrade_store(as_admin.render_as_string(hide_password=False))
        with superuser.begin() as conn:
            conn.exec_driver_sql(chain_tests.AFTER_UPGRADE.format(**names))
            conn.exec_driver_sql(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_anchors FROM {names['app']}")
        ctx = open_test_app(make_config(as_app.render_as_string(hide_password=False), tmp_path))
        try:
            start = dt.datetime.now(dt.UTC) - dt.timedelta(days=8 * 365)
            add_audit_entries(ctx, 20, start=start, step=dt.timedelta(days=30))
            admin = step_up_admin(ctx, sign_in_admin(ctx))
            for statement in ("DELETE FROM audit_entries WHERE seq = 1", "DELETE FROM audit_anchors"):
                with pytest.raises(DBAPIError, match="permission denied"), ctx.engine.begin() as conn:
                    conn.exec_driver_sql(statement)
            result = ctx.services.audit_retention.prune(admin.principal, cutoff(ctx, admin), tmp_path / "out")
            assert result.plan.count > 10
            assert ctx.services.audit_chain.verify(admin.principal).intact
            assert min(seq for seq, _ in entries(ctx)) == result.plan.last_seq + 1
        finally:
            ctx.close()
    finally:
        with superuser.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {names['app']}, {names['admin']}, {names['owner']} CASCADE")
        superuser.dispose()
        base = make_url(postgres_url).set(drivername="postgresql", database="postgres")
        with psycopg.connect(base.render_as_string(hide_password=False), autocommit=True) as conn:
            for name in (names["app"], names["admin"], names["owner"]):
                conn.execute(f"DROP ROLE IF EXISTS {name}")
