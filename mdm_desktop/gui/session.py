"""The console session on the GUI side: who is signed in now, activity, idle and absolute limits, the lock.

- :class:`SessionHolder` holds the *current* :class:`SessionInfo`. Panes and models read
  ``ctx.session`` (which asks the holder) each time they call a service, so after the lock
  screen signs the user in again every later call carries the new session.
- :class:`SessionMonitor` watches the session: user input (keys, clicks, wheel) counts as
  activity and touches the session at most once per :data:`TOUCH_EVERY` in the task runner;
  a timer asks the session service where the session stands (idle and absolute limits,
  revocation) and emits :attr:`SessionMonitor.locked` when it is over. A service call anywhere
  that fails with :class:`SessionEndedError` locks as well (a runner failure hook).

The window reacts to ``locked`` by covering its data with the lock screen
(:class:`mdm_desktop.gui.widgets.lock_screen.LockScreen`) and calls
:meth:`SessionMonitor.unlocked` with the new session after the user signed in again.
"""

from __future__ import annotations

import datetime as dt
import logging

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from mdm_desktop.domain.accounts import SessionEndedError
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.services.clock import Clock, utc_now
from mdm_desktop.services.dto import SessionInfo, SessionStatus
from mdm_desktop.services.sessions import SessionService

log = logging.getLogger(__name__)

TOUCH_EVERY = dt.timedelta(minutes=1)
"""User input touches the session at most this often."""
CHECK_EVERY_MS = 30_000
"""The status check's longest interval (it also fires right at the known expiry)."""
MIN_CHECK_MS = 500

LOCKED_BY_USER = "locked_by_user"

_REASONS = {
    "idle": "The console locked itself after a period without activity, to keep patient data private.",
    "expired": "Your session reached its maximum length. Sign in again to continue where you left off.",
    LOCKED_BY_USER: "You locked the console.",
    "signed_out": "This session was signed out.",
    "revoked_by_admin": "An administrator ended your session.",
    "password_changed": "Your password was changed, so this session ended.",
    "password_reset": "An administrator reset your password, so this session ended.",
    "mfa_changed": "Your authenticator app was changed, so this session ended.",
    "mfa_reset": "An administrator reset your authenticator, so this session ended.",
    "role_changed": "Your role was changed, so this session ended.",
    "locked": "Your account was locked after too many failed codes.",
    "disabled": "Your account was disabled.",
}
_DEFAULT_REASON = "Your session ended. Sign in again to continue where you left off."

_ACTIVITY_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


def lock_reason_text(reason: str) -> str:
    """Plain words for why the console locked (``reason`` as in :class:`SessionEndedError`)."""
    return _REASONS.get(reason, _DEFAULT_REASON)


class SessionHolder(QObject):
    """The current session; replaced when the user signs in again behind the lock screen.

    Read it on the GUI thread when a call is prepared (``principal = ctx.session.principal``),
    then hand the principal to the worker.

    Signals:
        changed(object): the new :class:`SessionInfo`.
    """

    changed = Signal(object)

    def __init__(self, session: SessionInfo, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session

    @property
    def session(self) -> SessionInfo:
        """The session every service call should use now."""
        return self._session

    def replace(self, session: SessionInfo) -> None:
        """Switch to ``session`` (after an unlock)."""
        self._session = session
        self.changed.emit(session)


SessionSource = SessionInfo | SessionHolder
"""What models accept: a fixed session (tests) or the window's holder."""


def current_session(source: SessionSource) -> SessionInfo:
    """The session ``source`` stands for now."""
    return source.session if isinstance(source, SessionHolder) else source


class SessionMonitor(QObject):
    """Touches the session on user input, checks its limits, and says when it is over.

    Args:
        sessions: The session service.
        holder: The current session.
        runner: Where service calls run.
        parent: Owner.
        clock: UTC time (tests inject the services' clock).
        check_every_ms: Longest interval between status checks.
        touch_every: Least time between two touches caused by user input.
        watch_input: Install the application-wide input filter (tests may call :meth:`activity`).

    Signals:
        locked(str): the session is over; the argument is the reason code (see :func:`lock_reason_text`).
        status_changed(object): a fresh :class:`SessionStatus` arrived.
    """

    locked = Signal(str)
    status_changed = Signal(object)

    def __init__(
        self,
        sessions: SessionService,
        holder: SessionHolder,
        runner: TaskRunner,
        parent: QObject | None = None,
        *,
        clock: Clock = utc_now,
        check_every_ms: int = CHECK_EVERY_MS,
        touch_every: dt.timedelta = TOUCH_EVERY,
        watch_input: bool = True,
    ) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self.holder = holder
        self._runner = runner
        self._clock = clock
        self._check_every_ms = check_every_ms
        self._touch_every = touch_every
        self._watch_input = watch_input
        self._filtering = False
        self._last_touch = clock()
        self._touch_task: Task | None = None
        self._status_task: Task | None = None
        self.status: SessionStatus | None = None
        self._stale_up_to = 0  # tasks up to this id were submitted with an earlier session
        self.is_locked = False
        self.lock_reason = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check)
        runner.add_failure_hook(self._on_task_failed)

    # ---- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin watching: input filter, then a first status check."""
        app = QApplication.instance()
        if self._watch_input and app is not None and not self._filtering:
            app.installEventFilter(self)
            self._filtering = True
        self.check()

    def stop(self) -> None:
        """Stop watching (the window is closing)."""
        self._timer.stop()
        app = QApplication.instance()
        if self._filtering and app is not None:
            app.removeEventFilter(self)
        self._filtering = False
        self._runner.remove_failure_hook(self._on_task_failed)
        for task in (self._touch_task, self._status_task):
            if task is not None:
                task.cancel()

    # ---- activity --------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY_EVENTS:
            self.activity()
        return False

    def activity(self) -> None:
        """The user did something: touch the session if the last touch is older than ``touch_every``."""
        if self.is_locked or self._touch_task is not None:
            return
        now = self._clock()
        if now - self._last_touch < self._touch_every:
            return
        self._last_touch = now
        sessions, principal = self._sessions, self.holder.session.principal
        self._touch_task = self._runner.submit(
            lambda: sessions.touch(principal), on_done=self._touched, on_error=self._touch_failed
        )

    def _touched(self, status: SessionStatus) -> None:
        self._touch_task = None
        self._status_arrived(status)

    def _touch_failed(self, exc: BaseException) -> None:
        self._touch_task = None
        if not isinstance(exc, SessionEndedError):  # that one locks through the failure hook
            log.info("Could not record activity: %s", exc)

    # ---- status ----------------------------------------------------------------------------------

    def check(self) -> None:
        """Ask the session service where the session stands (in the runner)."""
        if self.is_locked or self._status_task is not None:
            return
        sessions, principal = self._sessions, self.holder.session.principal
        self._status_task = self._runner.submit(
            lambda: sessions.status(principal), on_done=self._checked, on_error=self._check_failed
        )

    def _checked(self, status: SessionStatus) -> None:
        self._status_task = None
        self._status_arrived(status)

    def _check_failed(self, exc: BaseException) -> None:
        self._status_task = None
        if not isinstance(exc, SessionEndedError):
            # The store may be briefly unreachable: try again later, do not lock the user out.
            log.info("Could not check the session: %s", exc)
            self._schedule()

    def _status_arrived(self, status: SessionStatus) -> None:
        if self.is_locked:
            return
        self.status = status
        self.status_changed.emit(status)
        if self._clock() >= status.expires_at:
            self.check_soon()
            return
        self._schedule()

    def check_soon(self) -> None:
        """Check again shortly (the service ends the session when its limit has passed)."""
        self._timer.start(MIN_CHECK_MS)

    def _schedule(self) -> None:
        if self.is_locked:
            return
        interval = self._check_every_ms
        if self.status is not None:
            left_ms = int((self.status.expires_at - self._clock()).total_seconds() * 1000) + MIN_CHECK_MS
            interval = max(MIN_CHECK_MS, min(interval, left_ms))
        self._timer.start(interval)

    # ---- lock / unlock ---------------------------------------------------------------------------

    def lock(self, reason: str) -> None:
        """The session is over (or the user locked the console): emit :attr:`locked` once."""
        if self.is_locked:
            return
        self.is_locked = True
        self.lock_reason = reason
        self._timer.stop()
        for task in (self._touch_task, self._status_task):
            if task is not None:
                task.cancel()
        self._touch_task = self._status_task = None
        self.locked.emit(reason)

    def unlocked(self, session: SessionInfo) -> None:
        """The user signed in again: every later call uses ``session``; watching resumes."""
        self._stale_up_to = self._runner.last_task_id
        self.holder.replace(session)
        self.is_locked = False
        self.lock_reason = ""
        self.status = None
        self._last_touch = self._clock()
        self.check()

    def _on_task_failed(self, task: Task, exc: BaseException) -> bool:
        if isinstance(exc, SessionEndedError) and task.id > self._stale_up_to:
            self.lock(exc.reason)
        return False
