"""The gateway's escalation ticker: sweeps at once and then on its interval; a failing sweep never stops it."""

from __future__ import annotations

import datetime as dt
import threading

from mdm_desktop.gateway.escalation_ticker import EscalationTicker
from mdm_desktop.services.escalation import EscalationRun

AT = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def test_sweeps_until_stopped_and_survives_failures() -> None:
    calls: list[int] = []
    three = threading.Event()

    def sweep() -> EscalationRun:
        calls.append(1)
        if len(calls) >= 3:
            three.set()
        if len(calls) == 2:
            raise RuntimeError("database restarting")
        return EscalationRun(AT)

    ticker = EscalationTicker(sweep, interval=0.01)
    ticker.start()
    ticker.start()  # a second start does nothing
    assert three.wait(5)
    ticker.stop()
    seen = len(calls)
    assert ticker.failures == 1
    assert ticker.last == EscalationRun(AT)
    three.wait(0.05)
    assert len(calls) == seen  # stopped
