"""The console's in-process gateway: start, stop and restart one :class:`GatewayServer` at a time.

A single-workstation site runs the device gateway inside the console instead of ``mdm-desktop serve``.
Every method here blocks (binding, issuing the server certificate, waiting for uvicorn to listen or
to finish), so the console calls them through its task runner, never on the GUI thread. Start and
stop are audited as the console user who asked (``settings.manage``); a stop because the console
closes is audited as the gateway itself with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.errors import ConflictError
from mdm_desktop.gateway.escalation_ticker import EscalationTicker
from mdm_desktop.gateway.runner import GatewayServer, GatewayStatus
from mdm_desktop.services.checkin import CheckinService
from mdm_desktop.services.enrollment import EnrollmentService
from mdm_desktop.services.escalation import EscalationRun

CONSOLE_CLOSED = "console closed"


class GatewayController:
    """Owns at most one running gateway; safe to call from worker threads.

    Args:
        enrollment: The enrolment service (site CA, audit of start and stop).
        checkin: The check-in service.
        sweep: The compliance escalation sweep to run while the gateway runs (as ``mdm-desktop serve``
            does), or ``None`` for none.
    """

    def __init__(
        self,
        enrollment: EnrollmentService,
        checkin: CheckinService,
        sweep: Callable[[], EscalationRun] | None = None,
    ) -> None:
        self._enrollment = enrollment
        self._checkin = checkin
        self._sweep = sweep
        self._lock = threading.Lock()
        self._server: GatewayServer | None = None
        self._ticker: EscalationTicker | None = None

    @property
    def status(self) -> GatewayStatus | None:
        """Where the gateway listens, or ``None`` when it is not running."""
        server = self._server
        return server.status if server is not None else None

    def start(self, actor: Principal, bind: str, names: tuple[str, ...]) -> GatewayStatus:
        """Start the gateway on ``bind`` with a fresh server certificate naming ``names``.

        Raises:
            ConflictError: It is running already.
            PermissionDeniedError: ``actor`` may not start it (audited).
            ValidationError: Bad address, port in use, a name that is no host name or address.
        """
        with self._lock:
            if self._server is not None:
                raise ConflictError("The gateway is running already.", hint="Stop it first, or restart it.")
            server = GatewayServer(self._enrollment, self._checkin, bind, names, actor=actor)
            status = server.start()
            self._server = server
            if self._sweep is not None:
                self._ticker = EscalationTicker(self._sweep)
                self._ticker.start()
            return status

    def stop(self, actor: Principal | None = None, reason: str = "") -> None:
        """Stop the gateway (nothing when it is not running) and wait until it has.

        Args:
            actor: The console user stopping it (needs ``settings.manage``, checked before
                anything stops); ``None``: the console itself, with ``reason``.
            reason: Why, when nobody asked (recorded in the audit entry).
        """
        with self._lock:
            server = self._server
            if server is None:
                return
            if actor is not None:
                self._enrollment.check_gateway_control(actor)
            self._server = None
            ticker, self._ticker = self._ticker, None
            if ticker is not None:
                ticker.stop()
            server.stop(actor=actor, reason=reason)

    def restart(self, actor: Principal, bind: str, names: tuple[str, ...]) -> GatewayStatus:
        """Stop (if running) and start again: a new address or new certificate names take effect."""
        self._enrollment.check_gateway_control(actor)
        self.stop(actor)
        return self.start(actor, bind, names)

    def shutdown(self) -> None:
        """Stop because the console closes (audited as the gateway, never refused)."""
        self.stop(None, CONSOLE_CLOSED)
