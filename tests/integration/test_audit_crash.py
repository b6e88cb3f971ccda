"""A crash (kill -9) while appending audit entries leaves a chain that verifies, on SQLite and PostgreSQL.

A child process appends entries in a loop (single entries and batches, each batch its own transaction)
and reports each commit on stdout. The test reads a random number of reports (fixed seed: no timing)
and kills the child with SIGKILL while it keeps appending, a few times over, then verifies the whole
chain: intact, and its positions contiguous from 1 to the head.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from mdm_desktop.app import AppContext
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.store.schema import AuditEntry, AuditHead

ROOT = Path(__file__).resolve().parents[2]
KILLS = 3


APPENDER = """
import datetime as dt, sys
from pathlib import Path
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.security.keyring import load_or_create_kek
from mdm_desktop.services.audit_log import AuditEvent, AuditLog
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.engine import create_store_engine
from mdm_desktop.store.keys import load_or_create_store_keys
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

url, key_file = sys.argv[1], sys.argv[2]
engine = create_store_engine(url)
keys = load_or_create_store_keys(engine, load_or_create_kek(Path(key_file)))
uow_factory = UnitOfWorkFactory(engine, FieldCipher(keys.data, keys.index))
log = AuditLog(keys.audit, lambda: dt.datetime.now(dt.UTC))
device = Principal("device", None, "tablet-7", None, "gateway-1")
n = 0
while True:
    n += 1
    with uow_factory(write=True) as uow:
        if n % 3:
            log.record(uow, device, "devices.checkin", target_kind="device", target=f"tablet-{n}")
        else:
            log.record_many(uow, [AuditEvent(device, "apps.inventory", "device", f"tablet-{n}-{i}") for i in range(20)])
        uow.commit()
    print(n, flush=True)
"""
"""The child: appends entries (single ones, and batches of 20) until killed, printing each commit's number."""


def _run_and_kill(ctx: AppContext, commits: int) -> None:
    url = ctx.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-c", APPENDER, url, str(ctx.config.key_file)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        for _ in range(commits):
            line = child.stdout.readline()
            assert line, "the appender stopped before it was killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL


def test_killed_appenders_leave_a_chain_that_verifies(app_ctx: AppContext, admin: SessionInfo) -> None:
    rng = random.Random(20261204)
    for _ in range(KILLS):
        _run_and_kill(app_ctx, rng.randint(1, 25))
    report = app_ctx.services.audit_chain.verify(admin.principal)
    assert report.intact, report.problem
    with app_ctx.uow() as uow:
        seqs = list(uow.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        head = uow.session.scalar(select(AuditHead.seq))
    assert seqs == list(range(1, len(seqs) + 1))
    assert head == seqs[-1]
    assert len(seqs) > KILLS
