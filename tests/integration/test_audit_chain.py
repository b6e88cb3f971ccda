"""The tamper-evident audit chain on SQLite and PostgreSQL (issue 5).

A tamper matrix on a 10,000-entry log: an attacker with database access (who drops the
append-only triggers first, and has no audit key) changes one byte of any field, deletes a
middle entry, swaps two, inserts a forged one, truncates the tail, rewrites the chain with plain
hashes, or restores an older copy; positions are chosen by hypothesis and every case must be
detected with the right kind of damage. Each tamper runs in a transaction that is rolled back
afterwards, so one log serves every example. Also: concurrent appenders in several processes
leave one chain without gaps, the triggers refuse UPDATE and DELETE, migration 0003 numbers
older entries and keeps their chain, and the service layer (permission, audit of the check,
checkpoints, the workstation's remembered checkpoint).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import multiprocessing
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal, Role
from mdm_desktop.domain.audit import HASH_V1, HASH_V2, AuditDamage, EntryFields, Outcome, canonical_json
from mdm_desktop.domain.errors import ConflictError, PermissionDeniedError, StoreError, ValidationError
from mdm_desktop.services.audit_chain import (
    CheckpointSigner,
    VerifyCancelledError,
    checkpoint_from_json,
    checkpoint_to_json,
    verify_chain,
)
from mdm_desktop.services.audit_log import AuditEvent, AuditLog, entry_digest
from mdm_desktop.services.dto import AuditCheckpoint, AuditVerifyReport
from mdm_desktop.store.engine import create_store_engine
from mdm_desktop.store.schema import AuditEntry, AuditHead
from mdm_desktop.store.unit_of_work import UnitOfWork
from mdm_desktop.store.versioning import _alembic_config, upgrade
from tests.conftest import make_config, open_test_app, sign_in_admin, user_session
from tests.integration.fixtures_data import store_keys

N = 10_000
EXAMPLES = settings(max_examples=6, deadline=None, database=None)
T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
SYSTEM = Principal(kind="system", id=None, name="chain-test", role=None, workstation="ws-7")

STRING_FIELDS = (
    "actor_kind",
    "actor",
    "workstation",
    "action",
    "target_kind",
    "target",
    "outcome",
    "details",
    "prev_hash",
    "entry_hash",
)
FIELDS = (*STRING_FIELDS, "occurred_at", "seq", "hash_version")
ENTRY_COLUMNS = [c.name for c in AuditEntry.__table__.columns if c.name != "id"]


class _Ticks:
    """A clock that moves one second per reading."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        self.at += dt.timedelta(seconds=1)
        return self.at


def append(
    ctx: AppContext, key: bytes, n: int, *, clock: Callable[[], dt.datetime] | None = None, tag: str = ""
) -> None:
    """Append ``n`` entries through the audit log in one transaction."""
    log = AuditLog(key, clock or _Ticks())
    actions = ("devices.view", "commands.send", "policies.publish", "auth.sign_in", "users.update")
    events = [
        AuditEvent(
            replace(SYSTEM, name=f"user{i % 7}"),
            actions[i % len(actions)],
            target_kind="device",
            target=f"device-{i % 997:04d}{tag}",
            outcome=Outcome.DENIED if i % 13 == 0 else Outcome.SUCCESS,
            details={"n": i, "reason": "routine check", "tag": tag},
        )
        for i in range(n)
    ]
    with ctx.uow(write=True) as uow:
        log.record_many(uow, events)
        uow.commit()


@dataclass
class Log:
    ctx: AppContext
    key: bytes
    signer: CheckpointSigner
    ids: list[int]  # ids[seq - 1]
    hashes: list[str]  # hashes[seq - 1]

    def checkpoint(self) -> AuditCheckpoint:
        return self.signer.sign(N, N, self.hashes[-1], T0 + dt.timedelta(days=1))


@pytest.fixture
def log10k(app_ctx: AppContext) -> Log:
    keys = store_keys(app_ctx)
    append(app_ctx, keys.audit, N)
    with app_ctx.uow() as uow:
        rows = uow.session.execute(select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.seq)).all()
    assert len(rows) == N
    return Log(
        app_ctx, keys.audit, CheckpointSigner(keys.checkpoint), [r.id for r in rows], [r.entry_hash for r in rows]
    )


def _drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update_delete ON audit_entries")
        conn.exec_driver_sql("DROP TRIGGER audit_entries_no_truncate ON audit_entries")


@dataclass
class Attack:
    """A transaction on the store in which the attacker has dropped the triggers (rolled back at the end)."""

    conn: Connection
    log: Log

    def verify(self, *checkpoints: AuditCheckpoint, batch: int = 2000) -> AuditVerifyReport:
        conn = self.conn

        def uow_factory(*, write: bool = False) -> UnitOfWork:
            session = Session(bind=conn, join_transaction_mode="create_savepoint")
            return UnitOfWork(session, self.log.ctx.uow.cipher, "test")

        return verify_chain(uow_factory, self.log.key, checkpoints=checkpoints, batch=batch)  # type: ignore[arg-type]

    def row(self, seq: int) -> dict[str, Any]:
        found = self.conn.execute(select(AuditEntry.__table__).where(AuditEntry.seq == seq)).mappings().one()
        return dict(found)

    def set(self, entry_id: int, **values: Any) -> None:
        self.conn.execute(update(AuditEntry.__table__).where(AuditEntry.id == entry_id).values(**values))

    def set_head(self, seq: int, entry_hash: str) -> None:
        self.conn.execute(update(AuditHead.__table__).values(seq=seq, entry_hash=entry_hash))


@pytest.fixture
def attack(log10k: Log) -> Callable[[], Any]:
    """``with attack() as a:`` tampers in a transaction that is rolled back afterwards."""

    @contextlib.contextmanager
    def run() -> Iterator[Attack]:
        with log10k.ctx.engine.connect() as conn:
            trans = conn.begin()
            try:
                _drop_triggers(conn)
                yield Attack(conn, log10k)
            finally:
                trans.rollback()

    return run


def _flip_char(value: str, index: int, replacement: str) -> str:
    if not value:
        return replacement
    i = index % len(value)
    new = replacement if replacement != value[i] else chr(ord(replacement) + 1)
    return value[:i] + new + value[i + 1 :]


# -- the tamper matrix -------------------------------------------------------------------------------------------


def test_the_untouched_log_is_intact_in_any_batch_size(log10k: Log, attack: Callable[[], Any]) -> None:
    report = verify_chain(log10k.ctx.uow, log10k.key, checkpoints=[log10k.checkpoint()])
    assert report.intact, report.problem
    assert (report.entries_checked, report.head_seq, report.head_hash) == (N, N, log10k.hashes[-1])
    with attack() as a:
        assert a.verify(batch=997).intact


def test_changing_one_byte_of_any_field_is_detected(log10k: Log, attack: Callable[[], Any]) -> None:
    @settings(max_examples=10, deadline=None, database=None)
    @given(
        seq=st.integers(1, N),
        field=st.sampled_from(FIELDS),
        index=st.integers(0, 10_000),
        char=st.characters(min_codepoint=0x21, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
        micros=st.integers(1, 10**12) | st.integers(-(10**12), -1),
    )
    @example(seq=1, field="entry_hash", index=0, char="\x80", micros=1)
    @example(seq=N, field="entry_hash", index=63, char="0", micros=1)
    @example(seq=N, field="seq", index=1, char="0", micros=1)
    @example(seq=2, field="seq", index=0, char="0", micros=1)
    @example(seq=1, field="prev_hash", index=0, char="0", micros=1)
    @example(seq=N // 2, field="occurred_at", index=0, char="0", micros=1)
    def case(seq: int, field: str, index: int, char: str, micros: int) -> None:
        with attack() as a:
            row = a.row(seq)
            if field == "occurred_at":
                new: Any = row["occurred_at"] + dt.timedelta(microseconds=micros)
            elif field == "seq":
                new = -(index + 1) if index % 3 == 0 else row["seq"] + N + 1 + index
            elif field == "hash_version":
                new = HASH_V1 if index % 2 else 3
            else:
                new = _flip_char(row[field], index, char)
            a.set(row["id"], **{field: new})
            report = a.verify()
        assert not report.intact
        assert report.problem is not None
        assert (report.problem.kind, report.problem.entry_id) == (AuditDamage.MODIFIED, log10k.ids[seq - 1]), (
            field,
            report.problem,
        )

    case()


def test_deleting_a_middle_entry_is_a_gap(log10k: Log, attack: Callable[[], Any]) -> None:
    @EXAMPLES
    @given(seq=st.integers(1, N - 1))
    def case(seq: int) -> None:
        with attack() as a:
            a.conn.execute(delete(AuditEntry.__table__).where(AuditEntry.seq == seq))
            report = a.verify()
        assert report.problem is not None
        assert (report.problem.kind, report.problem.seq, report.problem.entry_id) == (
            AuditDamage.MISSING,
            seq,
            log10k.ids[seq],
        )
        assert report.head_seq == seq - 1

    case()


def test_swapping_two_entries_is_a_reordering(log10k: Log, attack: Callable[[], Any]) -> None:
    @EXAMPLES
    @given(pair=st.lists(st.integers(1, N), min_size=2, max_size=2, unique=True).map(sorted))
    def case(pair: list[int]) -> None:
        first, second = pair
        with attack() as a:
            one, two = a.row(first), a.row(second)
            a.set(one["id"], seq=-1)
            a.set(two["id"], **{c: one[c] for c in ENTRY_COLUMNS})
            a.set(one["id"], **{c: two[c] for c in ENTRY_COLUMNS})
            report = a.verify()
        assert report.problem is not None
        assert (report.problem.kind, report.problem.entry_id, report.problem.seq) == (
            AuditDamage.REORDERED,
            log10k.ids[first - 1],
            first,
        )

    case()


def _forged(prev: str, seq: int) -> dict[str, Any]:
    fields = EntryFields(T0, "user", "mallory", "ws-1", "devices.wipe", "device", "device-0001", "success", "{}")
    entry_hash = hashlib.sha256(prev.encode() + repr(fields).encode()).hexdigest()  # no key: a plain hash
    return {
        "seq": seq,
        "hash_version": HASH_V2,
        "prev_hash": prev,
        "entry_hash": entry_hash,
        **{name: getattr(fields, name) for name in EntryFields.__slots__},
    }


def test_a_forged_entry_is_an_insertion(log10k: Log, attack: Callable[[], Any]) -> None:
    @EXAMPLES
    @given(seq=st.integers(1, N + 1))
    def case(seq: int) -> None:
        big = 10 * N
        with attack() as a:
            if seq <= N:
                # Make room at position seq (ids and numbers move up by one), then relink the next entry.
                at_id = log10k.ids[seq - 1]
                a.conn.execute(
                    update(AuditEntry.__table__).where(AuditEntry.id >= at_id).values(id=AuditEntry.id + big)
                )
                a.conn.execute(
                    update(AuditEntry.__table__).where(AuditEntry.id >= big).values(id=AuditEntry.id - big + 1)
                )
                a.conn.execute(
                    update(AuditEntry.__table__).where(AuditEntry.seq >= seq).values(seq=AuditEntry.seq + big)
                )
                a.conn.execute(
                    update(AuditEntry.__table__).where(AuditEntry.seq >= big).values(seq=AuditEntry.seq - big + 1)
                )
                forged = _forged(log10k.hashes[seq - 2] if seq > 1 else "", seq)
                a.conn.execute(insert(AuditEntry.__table__).values(id=at_id, **forged))
                a.set(at_id + 1, prev_hash=forged["entry_hash"])
                a.set_head(N + 1, log10k.hashes[-1])
                expected_id = at_id
            else:  # appended past the head record
                forged = _forged(log10k.hashes[-1], N + 1)
                expected_id = a.conn.execute(insert(AuditEntry.__table__).values(**forged)).inserted_primary_key[0]
            report = a.verify()
        assert report.problem is not None
        assert (report.problem.kind, report.problem.entry_id) == (AuditDamage.INSERTED, expected_id), report.problem

    case()


def test_truncating_the_tail_is_detected(log10k: Log, attack: Callable[[], Any]) -> None:
    @EXAMPLES
    @given(keep=st.integers(0, N - 1), rewind_head=st.booleans())
    def case(keep: int, rewind_head: bool) -> None:
        with attack() as a:
            a.conn.execute(delete(AuditEntry.__table__).where(AuditEntry.seq > keep))
            if rewind_head:  # a careful attacker also rewinds the head record: only a checkpoint tells
                a.set_head(keep, log10k.hashes[keep - 1] if keep else "")
                assert a.verify().intact
                report = a.verify(log10k.checkpoint())
                expected = AuditDamage.ROLLED_BACK
            else:
                report = a.verify()
                expected = AuditDamage.TRUNCATED
        assert report.problem is not None
        assert (report.problem.kind, report.problem.seq, report.head_seq) == (expected, keep + 1, keep)

    case()


def test_rewriting_the_chain_with_plain_hashes_is_detected(log10k: Log, attack: Callable[[], Any]) -> None:
    @settings(max_examples=3, deadline=None, database=None)
    @given(start=st.just(1) | st.integers(1, N), how=st.sampled_from(["sha256", "wrong-key"]))
    def case(start: int, how: str) -> None:
        with attack() as a:
            rows = a.conn.execute(
                select(AuditEntry.__table__).where(AuditEntry.seq >= start).order_by(AuditEntry.seq)
            ).mappings()
            prev = log10k.hashes[start - 2] if start > 1 else ""
            changes = []
            for r in rows:
                fields = EntryFields(**{name: r[name] for name in EntryFields.__slots__})
                if how == "sha256":
                    digest = hashlib.sha256(prev.encode() + repr(fields).encode()).hexdigest()
                else:
                    digest = entry_digest(b"guessed key", HASH_V2, r["seq"], prev, fields)
                changes.append({"b_id": r["id"], "prev_hash": prev, "entry_hash": digest})
                prev = str(digest)
            table = AuditEntry.__table__
            a.conn.execute(update(table).where(table.c.id == bindparam("b_id")), changes)
            a.set_head(N, prev)
            report = a.verify(log10k.checkpoint())
        assert report.problem is not None
        assert (report.problem.kind, report.problem.entry_id) == (AuditDamage.MODIFIED, log10k.ids[start - 1])

    case()


def test_an_older_copy_restored_is_rolled_back_against_a_checkpoint(log10k: Log, attack: Callable[[], Any]) -> None:
    checkpoint = log10k.checkpoint()

    @EXAMPLES
    @given(backup_at=st.integers(0, N - 1), overtake=st.booleans(), extra=st.integers(0, 40))
    def case(backup_at: int, overtake: bool, extra: int) -> None:
        if overtake:  # written past the checkpoint's position since the restore
            backup_at = max(backup_at, N - 300)
        more = N - backup_at + extra if overtake else extra
        with attack() as a:
            # The backup holds the first ``backup_at`` entries and its head; since the restore, the console
            # has gone on writing (real entries, with the key).
            a.conn.execute(delete(AuditEntry.__table__).where(AuditEntry.seq > backup_at))
            a.set_head(backup_at, log10k.hashes[backup_at - 1] if backup_at else "")
            if more:
                session = Session(bind=a.conn, join_transaction_mode="create_savepoint")
                uow = UnitOfWork(session, log10k.ctx.uow.cipher, "test")
                AuditLog(log10k.key, _Ticks(T0 + dt.timedelta(days=3))).record_many(
                    uow, [AuditEvent(SYSTEM, "devices.view", target=f"after-restore-{i}") for i in range(more)]
                )
                session.commit()
            assert a.verify().intact  # consistent in itself: only the checkpoint shows the rollback
            report = a.verify(checkpoint)
        assert report.problem is not None
        assert report.problem.kind is AuditDamage.ROLLED_BACK, report.problem
        assert report.head_seq >= backup_at

    case()


# -- concurrency, triggers, migration ----------------------------------------------------------------------------


def _appender(url: str, key: bytes, worker: int, count: int) -> None:
    from mdm_desktop.services.clock import utc_now
    from mdm_desktop.store.encryption import FieldCipher
    from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

    engine = create_store_engine(url)
    try:
        uow = UnitOfWorkFactory(engine, FieldCipher(b"\0" * 32, b"\0" * 32))
        log = AuditLog(key, utc_now)
        actor = replace(SYSTEM, name=f"worker-{worker}")
        for i in range(count):
            log.record_alone(uow, actor, "devices.view", target=f"{worker}-{i}", outcome=Outcome.SUCCESS)
    finally:
        engine.dispose()


def test_concurrent_appenders_in_several_processes_leave_one_chain(app_ctx: AppContext) -> None:
    keys = store_keys(app_ctx)
    append(app_ctx, keys.audit, 5)
    url = app_ctx.engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_appender, args=(url, keys.audit, w, 50)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=180)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    report = verify_chain(app_ctx.uow, keys.audit)
    assert report.intact, report.problem
    assert report.entries_checked == report.head_seq == 205
    with app_ctx.uow() as uow:
        seqs = list(uow.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.id)))
        targets = set(uow.session.scalars(select(AuditEntry.target).where(AuditEntry.actor.like("worker-%"))))
    assert seqs == list(range(1, 206))
    assert targets == {f"{w}-{i}" for w in range(4) for i in range(50)}


def test_the_store_refuses_update_and_delete_of_audit_entries(app_ctx: AppContext) -> None:
    keys = store_keys(app_ctx)
    append(app_ctx, keys.audit, 3)
    statements = ["UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2", "DELETE FROM audit_entries WHERE seq = 3"]
    if app_ctx.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_entries")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), app_ctx.engine.begin() as conn:
            conn.execute(text(statement))
    if app_ctx.engine.dialect.name == "sqlite":  # REPLACE deletes the old row: the delete trigger sees it
        with pytest.raises(DBAPIError, match="append-only"), app_ctx.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT OR REPLACE INTO audit_entries (id, seq, hash_version, occurred_at, actor_kind, actor,"
                    " workstation, action, target_kind, target, outcome, details, prev_hash, entry_hash)"
                    " SELECT id, seq, hash_version, occurred_at, actor_kind, 'mallory', workstation, action,"
                    " target_kind, target, outcome, details, prev_hash, entry_hash FROM audit_entries WHERE seq = 2"
                )
            )
    else:  # an upsert is an update
        with pytest.raises(DBAPIError, match="append-only"), app_ctx.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_entries SELECT * FROM audit_entries WHERE seq = 2"
                    " ON CONFLICT (id) DO UPDATE SET actor = 'mallory'"
                )
            )
    assert verify_chain(app_ctx.uow, keys.audit).intact
    with app_ctx.uow() as uow:
        assert uow.session.scalar(select(AuditEntry.actor).where(AuditEntry.seq == 2)) == "user1"


def test_a_missing_head_record_fails_closed(app_ctx: AppContext) -> None:
    keys = store_keys(app_ctx)
    append(app_ctx, keys.audit, 3)
    with app_ctx.engine.begin() as conn:
        conn.execute(delete(AuditHead.__table__))
    with pytest.raises(StoreError, match="head record is missing"):
        append(app_ctx, keys.audit, 1)
    report = verify_chain(app_ctx.uow, keys.audit)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.TRUNCATED


def test_upgrade_numbers_older_entries_and_new_ones_continue_their_chain(store_url: str, tmp_path: Path) -> None:
    engine = create_store_engine(store_url)
    key = b"k" * 32
    try:
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
        prev = ""
        with engine.begin() as conn:
            for i in range(5):
                fields = EntryFields(
                    T0 + dt.timedelta(minutes=i),
                    "user",
                    "old",
                    "ws",
                    "auth.sign_in",
                    "user",
                    "old",
                    "success",
                    canonical_json({"i": i}),
                )
                digest = entry_digest(key, HASH_V1, 0, prev, fields)
                when = fields.occurred_at
                conn.execute(
                    text(
                        "INSERT INTO audit_entries (occurred_at, actor_kind, actor, workstation, action, target_kind,"
                        " target, outcome, details, prev_hash, entry_hash) VALUES (:t, :ak, :a, :w, :act, :tk, :tg,"
                        " :o, :d, :p, :h)"
                    ),
                    {
                        "t": when if engine.dialect.name == "postgresql" else when.strftime("%Y-%m-%d %H:%M:%S.%f"),
                        "ak": fields.actor_kind, "a": fields.actor, "w": fields.workstation, "act": fields.action,
                        "tk": fields.target_kind, "tg": fields.target, "o": fields.outcome, "d": fields.details,
                        "p": prev, "h": digest,
                    },
                )  # fmt: skip
                prev = str(digest)
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT seq, hash_version FROM audit_entries ORDER BY id")).all()
            head = conn.execute(text("SELECT seq, entry_hash FROM audit_head")).one()
        assert [tuple(r) for r in rows] == [(i, HASH_V1) for i in range(1, 6)]
        assert tuple(head) == (5, prev)
    finally:
        engine.dispose()
    ctx = open_test_app(make_config(store_url, tmp_path))
    try:
        append(ctx, key, 3)
        report = verify_chain(ctx.uow, key)
        assert report.intact, report.problem
        assert report.head_seq == 8
        with ctx.uow() as uow:
            versions = list(uow.session.scalars(select(AuditEntry.hash_version).order_by(AuditEntry.seq)))
        assert versions == [HASH_V1] * 5 + [HASH_V2] * 3
        with ctx.engine.begin() as conn:  # a v1 entry changed is still caught
            _drop_triggers(conn)
            conn.execute(text("UPDATE audit_entries SET actor = 'olf' WHERE seq = 2"))
        report = verify_chain(ctx.uow, key)
        assert report.problem is not None
        assert (report.problem.kind, report.problem.seq) == (AuditDamage.MODIFIED, 2)
    finally:
        ctx.close()


# -- the service: permission, audit of the check, checkpoints and the workstation's memory -----------------------


def test_verify_is_permission_checked_and_audited(app_ctx: AppContext) -> None:
    admin = sign_in_admin(app_ctx)
    chain = app_ctx.services.audit_chain
    report = chain.verify(admin.principal)
    assert report.intact, report.problem
    with app_ctx.uow() as uow:
        last = uow.session.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.outcome, AuditEntry.details)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
    assert (last.action, last.actor, last.outcome) == ("audit.verify", "admin", "success")
    assert '"intact":true' in last.details
    helpdesk = user_session(app_ctx, "hd", Role.HELPDESK)
    with pytest.raises(PermissionDeniedError):
        chain.verify(helpdesk.principal)
    with pytest.raises(PermissionDeniedError):
        chain.make_checkpoint(helpdesk.principal)


def test_verify_can_be_cancelled_between_batches_and_concludes_nothing(app_ctx: AppContext) -> None:
    admin = sign_in_admin(app_ctx)
    append(app_ctx, store_keys(app_ctx).audit, 5000)
    chain = app_ctx.services.audit_chain
    seen: list[tuple[int, int]] = []

    def stop_after_first_batch() -> bool:
        return bool(seen)

    with pytest.raises(VerifyCancelledError) as cancelled:
        chain.verify(
            admin.principal, progress=lambda done, total: seen.append((done, total)), should_stop=stop_after_first_batch
        )
    assert seen == [(2000, cancelled.value.total)]
    assert cancelled.value.checked == 2000
    assert cancelled.value.total >= 5000
    assert "cancelled" in cancelled.value.message
    with app_ctx.uow() as uow:  # a cancelled check is not audited
        verifies = uow.session.scalar(select(func.count()).where(AuditEntry.action == "audit.verify"))
    assert verifies == 0
    # Cancelled before the first batch: nothing read.
    with pytest.raises(VerifyCancelledError) as early:
        verify_chain(app_ctx.uow, store_keys(app_ctx).audit, should_stop=lambda: True)
    assert early.value.checked == 0
    # Never asked to stop: the same call finishes.
    report = chain.verify(admin.principal, should_stop=lambda: False)
    assert report.intact, report.problem
    assert report.entries_checked >= 5000


def test_checkpoints_are_signed_exported_remembered_and_catch_a_rollback(app_ctx: AppContext, tmp_path: Path) -> None:
    admin = sign_in_admin(app_ctx)
    chain = app_ctx.services.audit_chain
    keys = store_keys(app_ctx)
    append(app_ctx, keys.audit, 20)
    checkpoint = chain.make_checkpoint(admin.principal)
    with app_ctx.uow() as uow:
        head = uow.session.execute(select(AuditHead.seq, AuditHead.entry_hash)).one()
        last = uow.session.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.outcome, AuditEntry.details)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
    assert (checkpoint.head_seq, checkpoint.head_hash) == tuple(head)
    assert last.action == "audit.checkpoint"  # the checkpoint covers its own audit entry
    assert checkpoint.entries == checkpoint.head_seq
    assert checkpoint.key_fingerprint == chain.key_fingerprint

    exported = tmp_path / "off-box" / "cp.json"
    exported.parent.mkdir()
    exported.write_text(checkpoint_to_json(checkpoint), encoding="utf-8")
    assert chain.read_checkpoint(exported) == checkpoint
    assert chain.verify(admin.principal, checkpoint).intact
    assert chain.checkpoint_status(admin.principal).extends

    assert chain.make_checkpoint_if_due(admin.principal) is None  # the workstation's last one is fresh
    assert chain.make_checkpoint_if_due(admin.principal, every=dt.timedelta(0)) is not None
    checkpoint = chain.make_checkpoint(admin.principal)

    forged = replace(checkpoint, head_seq=checkpoint.head_seq - 1)
    (tmp_path / "forged.json").write_text(checkpoint_to_json(forged), encoding="utf-8")
    with pytest.raises(ValidationError, match="signature"):
        chain.read_checkpoint(tmp_path / "forged.json")
    other = CheckpointSigner(b"\x07" * 32).sign(1, 1, "ab", T0)
    with pytest.raises(ValidationError, match="another store"):
        chain.verify(admin.principal, other)
    with pytest.raises(ValidationError, match="not an MDM Desktop audit checkpoint"):
        checkpoint_from_json('{"format": "something else"}')

    # Roll back: the last 10 entries vanish and the head is rewound (a restored backup).
    with app_ctx.engine.begin() as conn:
        _drop_triggers(conn)
        keep = checkpoint.head_seq - 10
        conn.execute(delete(AuditEntry.__table__).where(AuditEntry.seq > keep))
        kept_hash = conn.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == keep)).scalar_one()
        conn.execute(update(AuditHead.__table__).values(seq=keep, entry_hash=kept_hash))
    status = chain.checkpoint_status(admin.principal)
    assert not status.extends
    assert status.problem is not None
    assert status.problem.kind is AuditDamage.ROLLED_BACK
    # The workstation remembered the checkpoint: plain verification (no file given) reports the rollback.
    report = chain.verify(admin.principal)
    assert report.problem is not None
    assert report.problem.kind is AuditDamage.ROLLED_BACK
    with pytest.raises(ConflictError, match="No checkpoint made"):
        chain.make_checkpoint(admin.principal)
    with app_ctx.uow() as uow:
        last = uow.session.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.outcome, AuditEntry.details)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
    assert (last.action, last.outcome) == ("audit.verify", "failed")
    assert '"damage":"rolled_back"' in last.details


# -- PostgreSQL: the documented role set-up makes the audit table append-only by privilege too ------------------

ROLE_SETUP = """
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {admin} LOGIN PASSWORD '{password}' IN ROLE {owner};
ALTER ROLE {admin} SET role = '{owner}';
CREATE ROLE {app} LOGIN PASSWORD '{password}';
GRANT USAGE, CREATE ON SCHEMA public TO {owner};
GRANT USAGE ON SCHEMA public TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app};
"""

AFTER_UPGRADE = """
REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries FROM {app};
REVOKE DELETE, TRUNCATE ON audit_head FROM {app};
"""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (as the superuser of MDM_TEST_POSTGRES_URL)."""
    from tests.conftest import _fresh_postgres_database, _postgres_admin_url

    base = _postgres_admin_url()
    if base is None:
        if os.environ.get("MDM_REQUIRE_POSTGRES"):
            pytest.fail("MDM_REQUIRE_POSTGRES is set but MDM_TEST_POSTGRES_URL is not")
        pytest.skip("MDM_TEST_POSTGRES_URL is not set")
    yield from _fresh_postgres_database(base)


@pytest.mark.postgres
def test_postgres_role_setup_keeps_the_console_from_changing_or_dropping_audit_protection(
    postgres_url: str, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url

    from mdm_desktop.services.maintenance import upgrade_store

    suffix = postgres_url.rsplit("_", 1)[-1][:8]
    password = secrets.token_hex(16)
    names = {"owner": f"mdm_owner_{suffix}", "admin": f"mdm_admin_{suffix}", "app": f"mdm_app_{suffix}"}
    superuser = create_store_engine(postgres_url)
    try:
        with superuser.begin() as conn:
            conn.exec_driver_sql(ROLE_SETUP.format(password=password, **names))
        as_admin = make_url(postgres_url).set(username=names["admin"], password=password)
        as_app = make_url(postgres_url).set(username=names["app"], password=password)
        upgrade_store(as_admin.render_as_string(hide_password=False))
        with superuser.begin() as conn:
            conn.exec_driver_sql(AFTER_UPGRADE.format(**names))
            owner = conn.exec_driver_sql("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_entries'").scalar()
        assert owner == names["owner"]

        ctx = open_test_app(make_config(as_app.render_as_string(hide_password=False), tmp_path))
        try:
            admin = sign_in_admin(ctx)  # the console works: users, sessions, audit entries
            assert ctx.services.audit_chain.verify(admin.principal).intact
            refused = {
                "UPDATE audit_entries SET actor = 'x'": "permission denied",
                "DELETE FROM audit_entries": "permission denied",
                "TRUNCATE audit_entries": "permission denied",
                "DROP TRIGGER audit_entries_no_update_delete ON audit_entries": "must be owner",
                "ALTER TABLE audit_entries DISABLE TRIGGER ALL": "must be owner",
                "DELETE FROM audit_head": "permission denied",
            }
            for statement, message in refused.items():
                with pytest.raises(DBAPIError, match=message), ctx.engine.begin() as conn:
                    conn.exec_driver_sql(statement)
            assert ctx.services.audit_chain.verify(admin.principal).intact
        finally:
            ctx.close()
    finally:
        with superuser.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {names['app']}, {names['admin']}, {names['owner']} CASCADE")
        superuser.dispose()
        import psycopg

        base = make_url(postgres_url).set(drivername="postgresql", database="postgres")
        with psycopg.connect(base.render_as_string(hide_password=False), autocommit=True) as conn:
            for name in (names["app"], names["admin"], names["owner"]):
                conn.execute(f"DROP ROLE IF EXISTS {name}")


def test_a_store_made_before_checkpoint_keys_gets_one_when_opened(store_url: str, tmp_path: Path) -> None:
    ctx = open_test_app(make_config(store_url, tmp_path))
    try:
        sign_in_admin(ctx)  # some audit entries
        before = store_keys(ctx)
        with ctx.engine.begin() as conn:
            conn.execute(text("DELETE FROM key_material WHERE purpose = 'checkpoint'"))
    finally:
        ctx.close()
    ctx = open_test_app(make_config(store_url, tmp_path))
    try:
        after = store_keys(ctx)
        assert (after.data, after.index, after.audit) == (before.data, before.index, before.audit)
        assert after.checkpoint != before.checkpoint
        assert ctx.services.audit_chain.key_fingerprint == CheckpointSigner(after.checkpoint).fingerprint
        assert verify_chain(ctx.uow, after.audit).intact
    finally:
        ctx.close()


@pytest.mark.postgres
def test_an_open_transaction_does_not_hold_the_audit_head_until_it_commits(postgres_url: str, tmp_path: Path) -> None:
    """Entries are appended at commit: a console busy in a long transaction does not stall the others."""
    from sqlalchemy import create_engine

    from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

    ctx = open_test_app(make_config(postgres_url, tmp_path))
    impatient = create_engine(ctx.engine.url, connect_args={"options": "-c lock_timeout=3000"})
    try:
        key = store_keys(ctx).audit
        log = AuditLog(key, _Ticks())
        other_console = UnitOfWorkFactory(impatient, ctx.uow.cipher)
        with ctx.uow(write=True) as slow:
            log.record(slow, SYSTEM, "devices.view", target="slow")
            log.record_alone(other_console, SYSTEM, "devices.view", target="fast", outcome=Outcome.SUCCESS)
            slow.commit()
        with ctx.uow() as uow:
            targets = list(uow.session.scalars(select(AuditEntry.target).order_by(AuditEntry.seq)))
        assert targets == ["fast", "slow"]
        assert verify_chain(ctx.uow, key).intact
        with ctx.uow(write=True) as dropped:  # rolled back: its entries are never written
            log.record(dropped, SYSTEM, "devices.view", target="dropped")
        with ctx.uow() as uow:
            assert uow.session.scalar(select(AuditEntry.target).order_by(AuditEntry.seq.desc()).limit(1)) == "slow"
    finally:
        impatient.dispose()
        ctx.close()
