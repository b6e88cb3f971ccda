"""Run service calls off the GUI thread; deliver results on the GUI thread.

Slots stay thin::

    self._runner.submit(lambda: services.devices.count(principal, query),
                        on_done=self._show_count, on_error=self._errors.report)

``on_done`` / ``on_error`` run on the GUI thread (queued through a QObject that
lives there). A task whose result is no longer wanted can be cancelled; its
callbacks are then dropped.

Failure hooks (:meth:`TaskRunner.add_failure_hook`) see every failure before the
task's ``on_error``. The main window installs two, so every pane gets them for free:

- step-up (:class:`mdm_desktop.gui.dialogs.step_up_dialog.StepUpHandler`): a call that
  fails with ``StepUpRequiredError`` asks for a fresh authenticator code and then runs
  the *same* function once more; ``on_done`` sees only the final result;
- session end (:class:`mdm_desktop.gui.session.SessionMonitor`): ``SessionEndedError``
  locks the window (the task's ``on_error`` still runs, so panes can reset their state).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

FailureHook = Callable[["Task", BaseException], bool]
"""Sees a failed task first; returns True when it took the failure over."""


@dataclass
class Task:
    """Handle of a submitted task."""

    id: int
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None
    cancelled: bool = field(default=False)
    fn: Callable[[], Any] | None = field(default=None, repr=False)
    retries: int = field(default=0)
    """How many times :meth:`TaskRunner.retry` ran the function again."""

    def cancel(self) -> None:
        """Drop this task's callbacks (the work itself may still run to its end)."""
        self.cancelled = True


class _Relay(QObject):
    done = Signal(int, object)
    failed = Signal(int, object)


class _Job(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._id = task_id
        self._fn = fn
        self._relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # every failure must reach the GUI
            self._relay.failed.emit(self._id, exc)
        else:
            self._relay.done.emit(self._id, result)


class TaskRunner(QObject):
    """Thread-pool runner; create it on the GUI thread.

    Signals:
        busy_changed(bool): True when the first task starts, False when the last ends.
    """

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._ids = itertools.count(1)
        self._last_id = 0
        self._tasks: dict[int, Task] = {}
        self.default_error_handler: Callable[[BaseException], None] | None = None
        self._failure_hooks: list[FailureHook] = []

    @property
    def last_task_id(self) -> int:
        """The id of the most recently submitted task (ids grow; 0 before the first)."""
        return self._last_id

    @property
    def pending(self) -> int:
        """Number of tasks submitted whose callbacks have not run yet."""
        return len(self._tasks)

    def submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Task:
        """Run ``fn`` on a worker thread; call ``on_done(result)`` or ``on_error(exc)`` on the GUI thread."""
        task = Task(next(self._ids), on_done, on_error, fn=fn)
        self._last_id = task.id
        self._start(task)
        return task

    def retry(self, task: Task) -> None:
        """Run a finished task's function again with the same callbacks (its handle stays valid)."""
        if task.cancelled or task.fn is None or task.id in self._tasks:
            return
        task.retries += 1
        self._start(task)

    def add_failure_hook(self, hook: FailureHook) -> None:
        """Let ``hook(task, exc)`` see failures first; when it returns True the task's callbacks are skipped.

        A hook that takes a failure over must end it itself: :meth:`retry` the task, or call
        :meth:`fail` with the error the task should see.
        """
        self._failure_hooks.append(hook)

    def remove_failure_hook(self, hook: FailureHook) -> None:
        """Undo :meth:`add_failure_hook` (unknown hooks are ignored)."""
        if hook in self._failure_hooks:
            self._failure_hooks.remove(hook)

    def fail(self, task: Task, exc: BaseException) -> None:
        """Deliver ``exc`` to a finished task's error callback (or the default handler), unless cancelled."""
        if task.cancelled:
            return
        handler = task.on_error or self.default_error_handler
        if handler is not None:
            handler(exc)
        else:
            log.error("Background task failed", exc_info=exc)

    def _start(self, task: Task) -> None:
        assert task.fn is not None
        self._tasks[task.id] = task
        if len(self._tasks) == 1:
            self.busy_changed.emit(True)
        self._pool.start(_Job(task.id, task.fn, self._relay))

    @Slot(int, object)
    def _on_done(self, task_id: int, result: object) -> None:
        task = self._finish(task_id)
        if task is not None and not task.cancelled and task.on_done is not None and _owner_alive(task.on_done):
            task.on_done(result)

    @Slot(int, object)
    def _on_failed(self, task_id: int, exc: object) -> None:
        task = self._finish(task_id)
        if task is None or task.cancelled:
            return
        assert isinstance(exc, BaseException)
        if task.on_error is not None and not _owner_alive(task.on_error):
            return
        for hook in tuple(self._failure_hooks):
            if hook(task, exc):
                return
        self.fail(task, exc)

    def _finish(self, task_id: int) -> Task | None:
        task = self._tasks.pop(task_id, None)
        if not self._tasks:
            self.busy_changed.emit(False)
        return task

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Drop pending callbacks and wait for running work to end."""
        for task in self._tasks.values():
            task.cancel()
        self._pool.waitForDone(timeout_ms)


def _owner_alive(callback: Callable[..., Any]) -> bool:
    """False when ``callback`` is a method of a Qt object whose C++ side is gone (its window was closed).

    A result that arrives after the widget that asked for it was deleted is dropped instead of raising
    "Internal C++ object already deleted" in the event loop.
    """
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)
