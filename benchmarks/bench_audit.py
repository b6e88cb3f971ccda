"""The tamper-evident audit chain: append cost, full verification speed, and the audit pane at scale.

Prints, on SQLite (and the first part on PostgreSQL when ``--postgres URL`` is given, into a fresh
database that is dropped afterwards):

1. one audited action's append alone (lock the head row, insert, move the head, commit), median
   and p95 over N single-entry transactions; bulk append throughput (the history writer path: one
   transaction, the head locked once); ``audit verify`` speed over that log;
2. ``audit verify`` over 1,000,000 entries against a bare loop over the same rows (the raw
   ``sqlite3`` module computing the same HMACs), measured in the same run (target: at least 0.7x);
3. the audit pane's queries (first page of 200, newest first, and filtered pages: actor, action,
   free-text search, combined) at 10,000,000 entries (target: under 100 ms each).

Parts 2 and 3 fill their logs with a direct bulk INSERT (chain hashes computed in the loop) and
keep them under ``benchmarks/.cache/`` (one folder per size and schema revision), so only the
first run pays for the fill. ``--entries N`` runs every part at N entries instead (a quick run).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import random
import shutil
import sqlite3
import statistics
import struct
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from _util import median_ms, report, timed

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import MdmError
from mdm_desktop.security import totp
from mdm_desktop.security.keyring import load_or_create_kek
from mdm_desktop.services.audit_chain import verify_chain
from mdm_desktop.services.audit_log import AuditEvent, AuditLog
from mdm_desktop.services.clock import utc_now
from mdm_desktop.services.dto import AuditQuery, SessionInfo
from mdm_desktop.store.keys import load_or_create_store_keys
from mdm_desktop.store.versioning import head_revision

ACTOR = Principal(kind="user", id=None, name="bench.admin", role=None, workstation="bench-01")
CACHE = Path(__file__).resolve().parent / ".cache"
PANE_PAGE = 200
"""Rows per page the audit pane asks for (gui.models.keyset_table_model.PAGE_SIZE)."""

BENCH_ADMIN = "bench.admin"
BENCH_PASSWORD = "amber falcon drifts softly 27"


# -- part 1: append and verify on a fresh store ----------------------------------------------------------------


def figures(ctx: AppContext, label: str, entries: int, rounds: int) -> None:
    key = load_or_create_store_keys(ctx.engine, load_or_create_kek(ctx.config.key_file)).audit
    log = AuditLog(key, utc_now)
    samples = []
    for i in range(rounds):
        _, ms = timed(
            lambda i=i: log.record_alone(ctx.uow, ACTOR, "devices.view", target=f"d{i}", outcome=Outcome.SUCCESS)
        )
        samples.append(ms)
    print(f"{label}:")
    report(f"append one entry in its own transaction (median of {rounds})", statistics.median(samples))
    report("append one entry in its own transaction (p95)", sorted(samples)[int(0.95 * (len(samples) - 1))])

    events = [
        AuditEvent(ACTOR, "devices.view", "device", f"device-{i:06d}", details={"n": i, "reason": "routine"})
        for i in range(entries)
    ]

    def bulk() -> None:
        with ctx.uow(write=True) as uow:
            log.record_many(uow, events)
            uow.commit()

    _, ms = timed(bulk)
    report(f"bulk append {entries:,} entries (one transaction)", entries / (ms / 1000), "entries/s")
    result, ms = timed(lambda: verify_chain(ctx.uow, key))
    assert result.intact, result.problem
    report(f"verify {result.entries_checked:,} entries", ms / 1000, "s")
    report("verify speed", result.entries_checked / (ms / 1000), "entries/s")


def fresh_store_figures(args: argparse.Namespace, entries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.resolve(
            db=str(Path(tmp) / "bench.sqlite3"), key_file=str(Path(tmp) / "kek.json"), env={"MDM_DATA_DIR": tmp}
        )
        ctx = open_app(config)
        try:
            figures(ctx, "SQLite (file, WAL, synchronous=FULL)", entries, args.rounds)
        finally:
            ctx.close()
        if args.postgres:
            import psycopg

            name = f"mdm_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                url = args.postgres.rsplit("/", 1)[0] + "/" + name
                ctx = open_app(
                    Config.resolve(db=url, key_file=str(Path(tmp) / "kek-pg.json"), env={"MDM_DATA_DIR": tmp})
                )
                try:
                    figures(ctx, "PostgreSQL", entries, args.rounds)
                finally:
                    ctx.close()
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- large logs: bulk fill, cached between runs ---------------------------------------------------------------

_CHAIN_TAG = b"mdm-desktop-audit-v2"
"""The version-2 hash encoding, written out here on purpose: the bare loop must not use the program's code."""

_INSERT = (
    "INSERT INTO audit_entries (seq, hash_version, occurred_at, actor_kind, actor, workstation, action,"
    " target_kind, target, outcome, details, prev_hash, entry_hash) VALUES (?, 2, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ACTIONS = (
    ("devices.view", "device", 30),
    ("devices.view_identifiers", "device", 6),
    ("auth.sign_in", "user", 20),
    ("auth.sign_out", "user", 12),
    ("policies.publish", "policy", 3),
    ("policies.edit", "policy", 5),
    ("commands.lock", "device", 3),
    ("commands.wipe", "device", 1),
    ("catalog.assign", "app", 4),
    ("audit.export", "audit", 1),
    ("devices.check_in", "device", 40),
    ("compliance.evaluate", "device", 25),
)
_USERS = tuple(
    f"{first}.{last}"
    for first in ("anna", "ben", "chloe", "dev", "emma")
    for last in ("ng", "ortiz", "li", "sato", "keller", "brown", "silva", "novak")
)
_WORKSTATIONS = tuple(f"frontdesk-{i:02d}" for i in range(1, 13)) + tuple(f"gateway-{i}" for i in range(1, 4))
_REASONS = ("routine", "routine", "routine", "scheduled check", "lost phone reported", "staff left", "screen broken")
_START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


_LENGTH = struct.Struct(">Q").pack


def _message(seq: int, prev: str, fields: tuple[str, ...]) -> bytes:
    """The bytes a version-2 entry hash covers (``fields``: UTC time text, then the eight content columns).

    Written as the plainest fast loop (no generator, no helper calls), so the bare loop is a fair bar.
    """
    out = [_CHAIN_TAG]
    for part in (str(seq), prev, *fields):
        data = part.encode("utf-8", "surrogatepass")
        out.append(_LENGTH(len(data)))
        out.append(data)
    return b"".join(out)


def _generated(n: int, seq: int, prev: str, key: bytes) -> Iterator[tuple[object, ...]]:
    """``n`` plausible entries after ``seq``/``prev``, chained under ``key``, as INSERT parameters."""
    rnd = random.Random(2026)
    weights = [w for *_, w in _ACTIONS]
    mac = hmac.new(key, digestmod=hashlib.sha256)
    step = dt.timedelta(seconds=15)
    for i in range(n):
        seq += 1
        action, kind, _ = rnd.choices(_ACTIONS, weights)[0]
        when = _START + step * i
        stored = when.strftime("%Y-%m-%d %H:%M:%S.%f")
        if kind == "device":
            actor_kind, actor = (
                ("device", f"dev-{rnd.randrange(20_000):06d}")
                if action == "devices.check_in"
                else (
                    "user",
                    rnd.choice(_USERS),
                )
            )
            target = f"device-{rnd.randrange(20_000):06d}"
        else:
            actor_kind, actor = "user", rnd.choice(_USERS)
            target = f"{kind}-{rnd.randrange(400):04d}"
        outcome = "denied" if rnd.random() < 0.02 else "failed" if rnd.random() < 0.01 else "success"
        details = json.dumps({"n": i, "reason": rnd.choice(_REASONS)}, sort_keys=True, separators=(",", ":"))
        workstation = rnd.choice(_WORKSTATIONS)
        fields = (
            stored.replace(" ", "T") + "+00:00",
            actor_kind,
            actor,
            workstation,
            action,
            kind,
            target,
            outcome,
            details,
        )
        h = mac.copy()
        h.update(_message(seq, prev, fields))
        digest = h.hexdigest()
        yield (seq, stored, actor_kind, actor, workstation, action, kind, target, outcome, details, prev, digest)
        prev = digest


def _fill(db: Path, key: bytes, n: int) -> None:
    """Append ``n`` entries with plain SQL, then index them for search in one statement.

    The search index's trigger is set aside during the fill and restored as it was: FTS5 flushes its
    buffer at the end of every statement, so indexing row by row costs ten times more than one
    ``INSERT ... SELECT`` into the index.
    """
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entries'"
            " AND sql LIKE '%AFTER INSERT%audit_search%'"
        ).fetchall()
        first = conn.execute("SELECT coalesce(max(id), 0) FROM audit_entries").fetchone()[0]
        seq, prev = conn.execute("SELECT seq, entry_hash FROM audit_head WHERE id = 1").fetchone()
        rows = _generated(n, seq, prev, key)
        chunk, done, started = 200_000, 0, time.perf_counter()
        conn.execute("BEGIN")
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        while done < n:
            batch = [row for _, row in zip(range(min(chunk, n - done)), rows, strict=False)]
            conn.executemany(_INSERT, batch)
            done += len(batch)
            if done % 1_000_000 == 0 or done == n:
                rate = done / (time.perf_counter() - started)
                print(f"    appended {done:,} of {n:,} entries ({rate:,.0f}/s)", flush=True)
        seq, prev = batch[-1][0], batch[-1][-1]
        conn.execute("UPDATE audit_head SET seq = ?, entry_hash = ? WHERE id = 1", (seq, prev))
        indexing = time.perf_counter()
        conn.execute(
            "INSERT INTO audit_search (rowid, action, actor, target, workstation, details)"
            " SELECT id, action, actor, target, workstation, details FROM audit_entries WHERE id > ?",
            (first,),
        )
        for _name, sql in triggers:
            conn.execute(sql)
        conn.execute("COMMIT")
        print(f"    indexed them for search in {time.perf_counter() - indexing:,.0f} s", flush=True)
    finally:
        conn.close()


def _enrol_admin(ctx: AppContext, folder: Path) -> None:
    ctx.services.auth.create_first_admin(BENCH_ADMIN, BENCH_PASSWORD)
    session = ctx.services.auth.sign_in(BENCH_ADMIN, BENCH_PASSWORD)
    shown = ctx.services.auth.begin_totp_enrolment(session.principal)
    ctx.services.auth.confirm_totp_enrolment(session.principal, totp.code_at(shown.secret, utc_now()))
    (folder / "totp-secret").write_text(shown.secret)


def cached_store(entries: int) -> Config:
    """A store holding ``entries`` bulk-filled audit entries (and an administrator), made once and kept."""
    folder = CACHE / f"audit-{entries}-rev{head_revision()}"
    config = Config.resolve(
        db=str(folder / "store.sqlite3"), key_file=str(folder / "kek.json"), env={"MDM_DATA_DIR": str(folder)}
    )
    if (folder / "complete").exists():
        return config
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"  (filling {config.db_url} once; later runs reuse it)", flush=True)
    ctx = open_app(config)
    try:
        _enrol_admin(ctx, folder)
        key = load_or_create_store_keys(ctx.engine, load_or_create_kek(ctx.config.key_file)).audit
    finally:
        ctx.close()
    _, ms = timed(lambda: _fill(folder / "store.sqlite3", key, entries))
    report(f"bulk fill {entries:,} entries (once, then cached)", ms / 1000, "s")
    (folder / "complete").write_text(f"{entries}\n")
    return config


def sign_in(ctx: AppContext) -> SessionInfo:
    """Sign the cached store's administrator in (waiting for a fresh TOTP step when this one was used)."""
    secret = (Path(ctx.config.data_dir) / "totp-secret").read_text().strip()
    for _ in range(3):
        try:
            return ctx.services.auth.sign_in(BENCH_ADMIN, BENCH_PASSWORD, totp.code_at(secret, utc_now()))
        except MdmError:
            time.sleep(31 - time.time() % 30)  # each code is accepted once: wait for the next step
    raise RuntimeError("the benchmark administrator cannot sign in")


# -- part 2: verify vs a bare loop ----------------------------------------------------------------------------


def bare_loop(db: Path, key: bytes, batch: int = 2000) -> tuple[int, int]:
    """Read every entry with the raw ``sqlite3`` module and check its HMAC and link; (entries, bad)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        cur = conn.execute(
            "SELECT seq, prev_hash, entry_hash, occurred_at, actor_kind, actor, workstation, action, target_kind,"
            " target, outcome, details FROM audit_entries ORDER BY id"
        )
        mac = hmac.new(key, digestmod=hashlib.sha256)
        count, bad, prev = 0, 0, ""
        while rows := cur.fetchmany(batch):
            for seq, prev_hash, entry_hash, when, *rest in rows:
                h = mac.copy()
                h.update(_message(seq, prev_hash, (when.replace(" ", "T") + "+00:00", *rest)))
                if not hmac.compare_digest(h.hexdigest(), entry_hash) or prev_hash != prev:
                    bad += 1
                prev = entry_hash
                count += 1
        return count, bad
    finally:
        conn.close()


def verify_figures(entries: int) -> None:
    config = cached_store(entries)
    ctx = open_app(config)
    try:
        key = load_or_create_store_keys(ctx.engine, load_or_create_kek(ctx.config.key_file)).audit
        db = Path(ctx.engine.url.database or "")
        print(f"SQLite, verification at {entries:,} entries ({db}):")
        (count, bad), bare_ms = timed(lambda: bare_loop(db, key))
        result, ours_ms = timed(lambda: verify_chain(ctx.uow, key))
        assert result.intact, result.problem
        assert count == result.entries_checked, (count, result.entries_checked)
        bare_rate, ours_rate = count / (bare_ms / 1000), count / (ours_ms / 1000)
        assert bad == 0, f"the bare loop found {bad} entries that do not verify"
        report("bare loop (sqlite3 + hmac, same HMACs) speed", bare_rate, "entries/s")
        report("audit verify speed", ours_rate, "entries/s")
        report("audit verify / bare loop", ours_rate / bare_rate, "x", "at least 0.7x")
    finally:
        ctx.close()


# -- part 3: the audit pane at 10 million entries ------------------------------------------------------------


def pane_figures(entries: int) -> None:
    config = cached_store(entries)
    ctx = open_app(config)
    try:
        session = sign_in(ctx)
        svc, who = ctx.services.audit, session.principal
        print(f"SQLite, audit pane at {entries:,} entries (service calls, {PANE_PAGE} rows a page, median of 5):")
        cases = (
            ("first page, newest first", AuditQuery()),
            ("actor filter (one of 40 users)", AuditQuery(actor=_USERS[7])),
            ("action filter (prefix 'commands.wipe', ~0.6 %)", AuditQuery(action="commands.wipe")),
            ("outcome filter (denied, ~2 %)", AuditQuery(outcome=Outcome.DENIED)),
            ("free text, common ('lost phone', ~14 %)", AuditQuery(text="lost phone")),
            ("free text, rare (one device: 'device-012345')", AuditQuery(text="device-012345")),
            ("free text, no match ('no such thing')", AuditQuery(text="no such thing")),
            ("actor + free text ('screen broken')", AuditQuery(actor=_USERS[7], text="screen broken")),
        )
        for label, query in cases:
            first = svc.list_page(who, query, limit=PANE_PAGE)
            ms = median_ms(lambda q=query: svc.list_page(who, q, limit=PANE_PAGE), repeat=5)
            report(f"{label}", ms, "ms", "under 100 ms")
            if first.next_cursor is not None:
                cursor = first.next_cursor
                ms = median_ms(lambda q=query, c=cursor: svc.list_page(who, q, after=c, limit=PANE_PAGE), repeat=5)
                report("  ... its next page (keyset)", ms, "ms", "under 100 ms")
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, help="run every part at this many entries (a quick, smaller run)")
    parser.add_argument("--rounds", type=int, default=30, help="single appends to time (default 30)")
    parser.add_argument("--postgres", metavar="URL", help="also measure part 1 on a fresh database of this server")
    parser.add_argument(
        "--parts",
        default="123",
        help="which parts to run: 1 append+verify, 2 verify vs bare loop, 3 pane (default 123)",
    )
    args, _other = parser.parse_known_args()  # run_all.py passes every script the same arguments
    started = time.perf_counter()
    if "1" in args.parts:
        fresh_store_figures(args, args.entries or 100_000)
    if "2" in args.parts:
        verify_figures(args.entries or 1_000_000)
    if "3" in args.parts:
        pane_figures(args.entries or 10_000_000)
    print(f"(benchmark took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
