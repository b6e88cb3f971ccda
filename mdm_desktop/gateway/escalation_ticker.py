"""The gateway's escalation sweep: every few minutes, take the escalation steps that fell due.

The gateway runs it (not the console) because devices keep checking in, and rules keep failing,
while no console is open. It runs :meth:`EscalationService.run` as the system actor
``compliance-escalation`` right after the gateway starts and then every :data:`SWEEP_INTERVAL_SECONDS`.
Several gateways may sweep at once: each step is recorded once (the service is idempotent).
A failed sweep is logged and retried at the next tick; it never stops the gateway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mdm_desktop.services.escalation import EscalationRun

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 300.0


class EscalationTicker:
    """Calls ``sweep`` in a daemon thread now and every ``interval`` seconds until stopped.

    Args:
        sweep: The sweep (``services.escalation.run``).
        interval: Seconds between sweeps.
    """

    def __init__(self, sweep: Callable[[], EscalationRun], interval: float = SWEEP_INTERVAL_SECONDS) -> None:
        self._sweep = sweep
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: EscalationRun | None = None
        self.failures = 0

    def start(self) -> None:
        """Start sweeping (once; a second call does nothing)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mdm-escalation", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the sweep in progress (if any) ends."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def tick(self) -> None:
        """One sweep; errors are logged and counted, never raised."""
        try:
            self.last = self._sweep()
        except Exception:  # the next tick retries; the gateway must keep serving devices
            self.failures += 1
            log.exception("Escalation sweep failed; retrying in %.0f s", self._interval)
        else:
            if self.last.taken or self.last.cleared or self.last.released:
                log.info("Escalation sweep: %s", self.last.summary())

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._interval)
