"""TLS for the gateway: the server context (site CA as the only trust anchor) and the peer certificate.

The context asks every client for a certificate but does not insist (``CERT_OPTIONAL``), so a
device without one can still reach ``/v1/enroll``; a certificate that is offered must chain to the
site CA and be within its validity, or the handshake fails. Which paths need a certificate is the
app's decision (:mod:`mdm_desktop.gateway.app`), made from the certificate this module's protocol
puts into each request's ASGI scope: uvicorn does not pass it on by itself, so
:class:`PeerCertificateProtocol` reads it from the TLS connection once, when the connection is
made (after the handshake), and adds it to the per-request ``scope["state"]``.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from mdm_desktop.security.ca import ServerCredentials

PEER_CERT_STATE = "mdm_peer_cert_der"
"""Key in ``scope["state"]`` holding the client certificate (DER bytes) of the connection, if any."""
CONNECTION_STATE = "mdm_connection"
"""Key in ``scope["state"]`` holding a dict shared by every request of one connection (the gate's memo)."""


def server_context(credentials: ServerCredentials, ca_pem: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context with the gateway's certificate that verifies clients against the site CA.

    The private key goes through a file only for the moment ``load_cert_chain`` needs it (owner-only
    folder, removed at once).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="mdm-gateway-") as folder:
        os.chmod(folder, 0o700)
        cert_file = Path(folder) / "server.pem"
        key_file = Path(folder) / "server.key"
        # Send the site CA with the server certificate: agents pin the CA by its fingerprint at
        # enrolment and must find it in the chain the gateway presents.
        chain = credentials.certificate.pem.rstrip("\n") + "\n" + ca_pem.strip() + "\n"
        cert_file.write_text(chain, encoding="ascii")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(credentials.key_pem)
        context.load_cert_chain(str(cert_file), str(key_file))
    context.load_verify_locations(cadata=ca_pem)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


class PeerCertificateProtocol(H11Protocol):
    """uvicorn's h11 protocol that passes the TLS client certificate to the app in ``scope["state"]``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object: Any = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # app_state is copied into every request's scope["state"]; give this connection its own copy.
        self.app_state = {**self.app_state, PEER_CERT_STATE: der, CONNECTION_STATE: {}}
