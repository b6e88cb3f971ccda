"""Group commit: several writers' short transactions committed as one, so they share one disk flush.

SQLite (WAL, ``synchronous=FULL``) flushes the log to disk at every commit, and only one writer
works at a time. A gateway taking check-ins from many devices at once therefore spent most of each
check-in waiting for its own flush (gateway benchmark: ~4 ms of ~8 ms). With :class:`GroupCommit`
the request threads queue their work; whichever thread gets the write lock runs every job queued
so far in one transaction (each job in its own savepoint) and commits once. Durability is
unchanged: no job returns before the commit that holds its changes. The gateway batches on
PostgreSQL too (with a lock of its own): there a batch saves each check-in a connection checkout,
BEGIN and COMMIT, and the thread churn of many request threads each waiting on its round trips.

A job that raises one of the ``expected`` errors (refusals raised before it wrote or recorded
anything) gets its error and its savepoint is rolled back; the other jobs go on. Any other failure
rolls the whole batch back and each of its jobs is run again in a transaction of its own, so a
failure only ever reaches the job that caused it and no audit entry is ever kept without its change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
MAX_BATCH = 64


class _Member(UnitOfWork):
    """A job's view of the batch's unit of work: its ``commit`` is the batch's, so it does nothing here."""

    def commit(self) -> None:
        """Committed with the batch."""


@dataclass
class _Job:
    work: Callable[[UnitOfWork], Any]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Runs write jobs in shared transactions under ``lock`` (the store's single-writer lock).

    Args:
        uow: The unit-of-work factory.
        lock: Held while a batch runs (on SQLite the store's single-writer lock, which other writers of the
            store in this process take too).
        expected: Errors a job raises before it has written anything (its refusals).
        max_batch: Most jobs in one transaction.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        lock: threading.Lock,
        expected: tuple[type[BaseException], ...] = (),
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._uow = uow
        self._lock = lock
        self._expected = expected
        self._max_batch = max_batch
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()

    def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` in a write transaction (shared with other queued jobs) and return once it is committed.

        ``work`` must not commit; calling ``commit()`` on the unit of work it gets does nothing.
        """
        job = _Job(work)
        with self._queue_lock:
            self._queue.append(job)
        with self._lock:
            if not job.done:
                with self._queue_lock:
                    batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                    if job not in batch:  # queued behind a full batch: it goes in this one all the same
                        self._queue.remove(job)
                        batch.append(job)
                self._run_batch(batch)
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _run_batch(self, batch: list[_Job]) -> None:
        try:
            with self._uow(write=True) as uow:
                member = _Member(uow.session, uow.cipher, "")
                for job in batch:
                    savepoint = uow.session.begin_nested()
                    try:
                        job.result, job.error = job.work(member), None
                    except self._expected as exc:
                        savepoint.rollback()
                        job.result, job.error = None, exc
                        continue
                    savepoint.commit()
                uow.commit()
        except Exception as exc:
            if len(batch) > 1:
                for job in batch:  # one at a time: the failure stays with the job that caused it
                    self._run_batch([job])
                return
            batch[0].result, batch[0].error = None, exc
        for job in batch:
            job.done = True
