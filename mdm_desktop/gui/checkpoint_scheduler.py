"""Periodic signed checkpoints of the audit trail, made by the console in the background.

A checkpoint (Ed25519 over the entry count, the head hash and the time) is what catches a truncated,
rewritten or restored-from-backup audit trail; each workstation remembers the last one it saw. The
:class:`CheckpointScheduler` asks :meth:`AuditChainService.make_checkpoint_if_due` once right after
sign-in (and after unlocking) and then every :data:`CHECKPOINT_INTERVAL`, in a worker. A checkpoint is
made only when the last one this workstation remembers is older than the interval, so restarting the
console does not add one each time.

Users whose role does not include reading the audit log are skipped silently (nothing is called, so
nothing is refused). A chain that no longer extends the remembered checkpoint is reported once
through the error reporter: that is a finding someone must look at.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from mdm_desktop.domain.accounts import Permission, SessionEndedError
from mdm_desktop.domain.errors import ConflictError, MdmError, PermissionDeniedError
from mdm_desktop.gui.session import SessionHolder
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.audit_chain import AuditChainService
from mdm_desktop.services.dto import AuditCheckpoint

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = dt.timedelta(hours=1)
"""How often the console makes a signed checkpoint (the documented default)."""
_SLACK = dt.timedelta(minutes=1)
"""A timer may fire a little early; a checkpoint this close to due counts as due."""


class CheckpointScheduler(QObject):
    """Makes a checkpoint after sign-in and every ``interval`` while the console runs.

    Args:
        chain: The audit chain service.
        holder: The current session (read each time, so a new sign-in is used).
        runner: Where the service call runs.
        parent: Owner.
        interval: How old the last checkpoint may get (default :data:`CHECKPOINT_INTERVAL`).
        report: Shows an error to the user (the window's error reporter); ``None`` logs it only.

    Signals:
        finished(object): a check ended: the new :class:`AuditCheckpoint`, ``None`` (none was due, or
            the user may not read the audit log), or the exception.
    """

    finished = Signal(object)

    def __init__(
        self,
        chain: AuditChainService,
        holder: SessionHolder,
        runner: TaskRunner,
        parent: QObject | None = None,
        *,
        interval: dt.timedelta = CHECKPOINT_INTERVAL,
        report: Callable[[BaseException], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._chain = chain
        self._holder = holder
        self._runner = runner
        self._interval = interval
        self._report = report
        self._task: Task | None = None
        self._reported_conflict = False
        self.timer = QTimer(self)
        self.timer.setInterval(max(1, int(interval.total_seconds() * 1000)))
        self.timer.timeout.connect(self.check_now)

    @property
    def running(self) -> bool:
        """True while the timer runs."""
        return self.timer.isActive()

    def start(self) -> None:
        """Check now (after sign-in or unlocking) and then every interval."""
        self.timer.start()
        self.check_now()

    def stop(self) -> None:
        """Stop the timer (while the console is locked, and on close); a running check's result is dropped."""
        self.timer.stop()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def check_now(self) -> None:
        """Make a checkpoint if one is due, in a worker (skipped without the audit-read permission)."""
        principal = self._holder.session.principal
        if not principal.can(Permission.AUDIT_READ):
            self.finished.emit(None)
            return
        if self._task is not None:
            return
        chain, every = self._chain, max(self._interval - _SLACK, dt.timedelta(0))
        self._task = self._runner.submit(
            lambda: chain.make_checkpoint_if_due(principal, every), on_done=self._done, on_error=self._failed
        )

    def _done(self, checkpoint: AuditCheckpoint | None) -> None:
        self._task = None
        if checkpoint is not None:
            log.info("audit checkpoint made at entry %s", checkpoint.head_seq)
        self.finished.emit(checkpoint)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        if isinstance(exc, ConflictError) and not self._reported_conflict and self._report is not None:
            self._reported_conflict = True
            self._report(exc)
        elif not isinstance(exc, PermissionDeniedError | SessionEndedError):
            log.warning("periodic audit checkpoint failed: %s", exc.message if isinstance(exc, MdmError) else exc)
        self.finished.emit(exc)
