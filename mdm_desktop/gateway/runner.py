"""Running the gateway: uvicorn with the site's TLS context, in the foreground or in a background thread.

``mdm-desktop serve`` runs it in the foreground (Ctrl+C stops it); the console and the end-to-end
tests start it in a thread with :meth:`GatewayServer.start` and stop it with :meth:`GatewayServer.stop`.
On start the site CA is made if needed and a fresh server certificate is issued for the names given;
its key stays in memory.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.gateway.app import create_app
from mdm_desktop.gateway.tls import PeerCertificateProtocol, server_context
from mdm_desktop.security.ca import is_host_name
from mdm_desktop.services.checkin import CheckinService
from mdm_desktop.services.enrollment import EnrollmentService

START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """Where a started gateway listens and how devices pin it."""

    url: str
    host: str
    port: int
    names: tuple[str, ...]
    ca_fingerprint: str
    ca_fingerprint_display: str


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) into its parts.

    Raises:
        ValidationError: Not HOST:PORT with a port from 0 to 65535.
    """
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValidationError(f"'{text}' is not HOST:PORT.", hint="For example 0.0.0.0:8443 or 127.0.0.1:8443.")
    return host, int(port_text)


def default_names(host: str) -> tuple[str, ...]:
    """Names for the server certificate when none were given: the bound address, this computer, loopback."""
    names: list[str] = []
    wildcard = host in ("0.0.0.0", "::", "")  # noqa: S104 (recognising the wildcard, not binding to it)
    if not wildcard:
        names.append(host)
    for name in (socket.gethostname(), "localhost", "127.0.0.1"):
        if name and name not in names and (is_host_name(name) or _is_address(name)):
            names.append(name)
    return tuple(names)


_BIND_ERRORS = {
    errno.EADDRINUSE: ("Another program already uses port {port} on {host}.", "Stop it, or choose another port."),
    errno.EADDRNOTAVAIL: (
        "{host} is not an address of this computer.",
        "Use 0.0.0.0 (every network) or one of this computer's addresses.",
    ),
    errno.EACCES: (
        "Listening on port {port} needs administrator rights.",
        "Use a port above 1023, for example 8443.",
    ),
}


def check_can_listen(host: str, port: int) -> None:
    """Bind (and release) ``host:port`` once, so a start that cannot listen says why before anything runs.

    Raises:
        ValidationError: The port is in use, the address is not this computer's, the port needs
            privileges, or the host name does not resolve.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ValidationError(
            f"'{host}' is not an address of this computer ({exc.strerror}).",
            hint="Use 0.0.0.0 (every network) or one of this computer's addresses.",
        ) from exc
    for family, kind, proto, _name, address in infos[:1]:
        with socket.socket(family, kind, proto) as probe:
            if os.name != "nt":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn (asyncio) does
            try:
                probe.bind(address)
            except OSError as exc:
                message, hint = _BIND_ERRORS.get(
                    exc.errno or 0, (f"Cannot listen on {{host}}:{{port}} ({exc.strerror or exc}).", "")
                )
                raise ValidationError(message.format(host=host, port=port), hint=hint) from exc


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class _Server(uvicorn.Server):
    """uvicorn's server that says when it is listening (or failed to start)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._on_started()


class GatewayServer:
    """One gateway: TLS context, ASGI app and uvicorn server.

    Args:
        enrollment: The enrolment service (site CA, enrolment).
        checkin: The check-in service.
        bind: ``HOST:PORT`` to listen on (port 0: any free port).
        names: Host names and addresses for the server certificate (default: :func:`default_names`).
        asgi_app: Serve this ASGI app instead of the device API on the same TLS stack (benchmarks only).
        actor: The console user starting it (audited as them, needs ``settings.manage``); ``None``
            for ``mdm-desktop serve`` (audited as the ``gateway`` system actor).
    """

    def __init__(
        self,
        enrollment: EnrollmentService,
        checkin: CheckinService,
        bind: str,
        names: tuple[str, ...] = (),
        *,
        asgi_app: Any = None,
        actor: Principal | None = None,
    ) -> None:
        self._asgi_app = asgi_app
        self._actor = actor
        self._enrollment = enrollment
        self._checkin = checkin
        self._host, self._port = parse_bind(bind)
        self._names = names or default_names(self._host)
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: _Server | None = None
        self._status: GatewayStatus | None = None

    def _prepare(self) -> _Server:
        authority = self._enrollment.authority()
        credentials = self._enrollment.server_credentials(self._names)
        context = server_context(credentials, authority.certificate_pem)

        def factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
            return context

        config = uvicorn.Config(
            self._asgi_app if self._asgi_app is not None else create_app(self._enrollment, self._checkin),
            host=self._host,
            port=self._port,
            http=PeerCertificateProtocol,
            ssl_context_factory=factory,
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=30,
        )
        self._ca = authority
        return _Server(config, self._started.set)

    def _describe(self) -> GatewayStatus:
        assert self._server is not None
        port = self._port
        for server in self._server.servers:
            for sock in server.sockets:
                port = int(sock.getsockname()[1])
        first = self._names[0]
        shown = f"[{first}]" if ":" in first else first
        return GatewayStatus(
            url=f"https://{shown}:{port}",
            host=self._host,
            port=port,
            names=self._names,
            ca_fingerprint=self._ca.fingerprint,
            ca_fingerprint_display=self._ca.fingerprint_display,
        )

    @property
    def status(self) -> GatewayStatus | None:
        """Where it listens, once started."""
        return self._status

    def start(self) -> GatewayStatus:
        """Start in a background thread and return once it listens.

        Raises:
            ValidationError: It could not start (address in use or not this computer's, bad name).
            PermissionDeniedError: The console user may not start it (it is stopped again).
        """
        if self._actor is not None:
            self._enrollment.check_gateway_control(self._actor)
        check_can_listen(self._host, self._port)
        server = self._server = self._prepare()

        def serve() -> None:
            try:
                server.run()
            except SystemExit:  # uvicorn's answer to a socket it could not open
                pass
            finally:
                self._started.set()  # never leave start() waiting for a server that is gone

        self._thread = threading.Thread(target=serve, name="mdm-gateway", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_SECONDS) or not server.started or not getattr(server, "servers", None):
            server.should_exit = True
            self._thread.join(5)
            self._server = self._thread = None
            raise ValidationError(
                f"The gateway could not listen on {self._host}:{self._port}.",
                hint="Is another program using that port? Choose another with --bind.",
            )
        self._status = self._describe()
        try:
            self._enrollment.record_gateway_start(self._status.url, self._names, actor=self._actor)
        except BaseException:
            server.should_exit = True
            self._thread.join()
            self._server = self._thread = self._status = None
            raise
        return self._status

    def stop(self, actor: Principal | None = None, reason: str = "") -> None:
        """Stop a gateway started with :meth:`start` and wait for it to finish.

        Args:
            actor: The console user stopping it (audited as them); ``None``: the gateway itself.
            reason: Why, when nobody asked (for example ``console closed``).
        """
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join()
        url = self._status.url if self._status is not None else ""
        self._server = None
        self._thread = None
        self._status = None
        if url:
            self._enrollment.record_gateway_stop(url, actor=actor, reason=reason)

    def run(self, on_listening: Callable[[GatewayStatus], None]) -> None:
        """Run in the foreground until interrupted (Ctrl+C or SIGTERM)."""
        check_can_listen(self._host, self._port)
        self._server = self._prepare()

        def started() -> None:
            self._status = self._describe()
            self._enrollment.record_gateway_start(self._status.url, self._names)
            on_listening(self._status)

        self._server._on_started = started
        try:
            self._server.run()
        finally:
            if self._status is not None:
                self._enrollment.record_gateway_stop(self._status.url)
        if self._status is None:
            raise ValidationError(
                f"The gateway could not listen on {self._host}:{self._port}.",
                hint="Is another program using that port? Choose another with --bind.",
            )
