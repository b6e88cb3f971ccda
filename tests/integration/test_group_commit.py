"""Group commit: concurrent jobs share transactions; each job's failure stays its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, text

from mdm_desktop.app import AppContext
from mdm_desktop.services.group_commit import GroupCommit
from mdm_desktop.store.unit_of_work import UnitOfWork


class Refused(Exception):
    """A refusal raised before the job writes anything."""


@pytest.fixture
def table(sqlite_ctx: AppContext) -> AppContext:
    with sqlite_ctx.engine.begin() as conn:
        conn.execute(text("CREATE TABLE gc_rows (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)"))
    return sqlite_ctx


def _values(ctx: AppContext) -> list[str]:
    with ctx.engine.connect() as conn:
        return sorted(str(v) for (v,) in conn.execute(text("SELECT v FROM gc_rows")))


def _insert(value: str):  # type: ignore[no-untyped-def]
    def work(uow: UnitOfWork) -> str:
        if value.startswith("refused"):
            raise Refused(value)
        uow.session.execute(text("INSERT INTO gc_rows (v) VALUES (:v)"), {"v": value})
        uow.commit()  # a no-op inside a batch
        return value

    return work


def test_concurrent_jobs_are_all_committed_and_failures_stay_with_their_job(table: AppContext) -> None:
    group = GroupCommit(table.uow, threading.Lock(), expected=(Refused,))
    group.run(_insert("taken"))
    values = [f"v{i}" for i in range(60)] + ["refused-1", "taken", "refused-2"]

    def one(value: str) -> str:
        try:
            return group.run(_insert(value))
        except Refused:
            return "refused"
        except Exception as exc:  # the duplicate: its own integrity error, nobody else's
            return type(exc).__name__

    commits: list[int] = []
    event.listen(table.engine, "commit", lambda _conn: commits.append(1))
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = dict(zip(values, pool.map(one, values), strict=True))

    assert outcomes["refused-1"] == outcomes["refused-2"] == "refused"
    assert outcomes["taken"] in {"IntegrityError", "StoreError"}
    assert all(outcomes[f"v{i}"] == f"v{i}" for i in range(60))
    assert _values(table) == sorted([f"v{i}" for i in range(60)] + ["taken"])
    assert len(commits) < 60, "jobs that queued together should share commits"


def test_a_single_job_raises_its_own_error(table: AppContext) -> None:
    group = GroupCommit(table.uow, threading.Lock(), expected=(Refused,))
    with pytest.raises(Refused):
        group.run(_insert("refused"))
    assert group.run(_insert("one")) == "one"
    assert _values(table) == ["one"]
