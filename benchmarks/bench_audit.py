"""The tamper-evident audit chain: append cost and full verification speed.

Prints, on SQLite (and on PostgreSQL when ``--postgres URL`` is given, into a fresh database
that is dropped afterwards):

- one audited action's append alone (lock the head row, insert, move the head, commit), median
  and p95 over N single-entry transactions;
- bulk append throughput (the history writer path: one transaction, the head locked once);
- ``audit verify`` speed over the whole log (entries per second), streamed in batches.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _util import report, timed

from mdm_desktop.app import AppContext, open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.security.keyring import load_or_create_kek
from mdm_desktop.services.audit_chain import verify_chain
from mdm_desktop.services.audit_log import AuditEvent, AuditLog
from mdm_desktop.services.clock import utc_now
from mdm_desktop.store.keys import load_or_create_store_keys

ACTOR = Principal(kind="user", id=None, name="bench.admin", role=None, workstation="bench-01")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="size of the log to verify (default 100,000)")
    parser.add_argument("--rounds", type=int, default=30, help="single appends to time (default 30)")
    parser.add_argument("--postgres", metavar="URL", help="also measure on a fresh database of this server")
    args, _other = parser.parse_known_args()  # run_all.py passes every script the same arguments
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.resolve(
            db=str(Path(tmp) / "bench.sqlite3"), key_file=str(Path(tmp) / "kek.json"), env={"MDM_DATA_DIR": tmp}
        )
        ctx = open_app(config)
        try:
            figures(ctx, "SQLite (file, WAL, synchronous=FULL)", args.entries, args.rounds)
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
                    figures(ctx, "PostgreSQL", args.entries, args.rounds)
                finally:
                    ctx.close()
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"(benchmark took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
