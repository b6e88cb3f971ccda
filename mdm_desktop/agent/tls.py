"""TLS for the agent: pinning the site CA at enrolment, then server-verified and mutual TLS contexts.

**Why the CA is pinned before the token is sent.** At enrolment the agent knows only the CA's
SHA-256 fingerprint (from the QR code or token text); it has no CA certificate to verify the
gateway with. Trusting the CA certificate that comes back in the enrolment *response* would mean
sending the enrolment token to whoever answered first: a machine in the middle could take the
token and enrol a device of its own. So the agent first opens a TLS connection that verifies
nothing, reads the certificate chain the gateway presents, and keeps the certificate whose
SHA-256 matches the pinned fingerprint (a fingerprint cannot be matched by a forged certificate).
Only then does it open the real connection, with full verification (chain *and* host name)
against that CA alone, and send the token. If the gateway does not present its CA certificate,
the CA file can be given explicitly (``--ca-file``) and is checked against the same fingerprint.
The CA certificate returned by the enrolment must match the pin too.

After enrolment every connection uses mutual TLS with the pinned CA as the only trust anchor.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mdm_desktop.agent.keys import certificate_fingerprint, fingerprints_equal


class PinningError(RuntimeError):
    """The gateway could not be authenticated against the pinned CA fingerprint; nothing was sent."""


def split_server_url(server_url: str) -> tuple[str, int]:
    """Host and port of an ``https://`` gateway URL.

    Raises:
        ValueError: for anything but an ``https://host[:port]`` URL.
    """
    parts = urlsplit(server_url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"the server address must look like https://gateway.clinic.lan:8443, not '{server_url}'")
    try:
        port = parts.port or 443
    except ValueError:
        raise ValueError(f"the port in '{server_url}' is not a number between 1 and 65535") from None
    return parts.hostname, port


def normalise_server_url(server_url: str) -> str:
    """``https://host:port`` without a trailing slash or path (validated)."""
    host, port = split_server_url(server_url)
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}:{port}"


def presented_chain(host: str, port: int, *, timeout: float = 10.0) -> list[x509.Certificate]:
    """The certificates the server presents, read over a connection that verifies nothing.

    Only used to find the pinned CA; nothing is sent over this connection.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        ders = _unverified_chain_der(tls)
    return [x509.load_der_x509_certificate(der) for der in ders]


def _unverified_chain_der(tls: ssl.SSLSocket) -> list[bytes]:
    """DER certificates of the peer's chain (public API from Python 3.13, the same call before)."""
    getter: Any = getattr(tls, "get_unverified_chain", None)
    if getter is None:
        sslobj: Any = getattr(tls, "_sslobj", None)
        getter = getattr(sslobj, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def pin_ca(server_url: str, fingerprint: str, *, ca_file: Path | None = None, timeout: float = 10.0) -> str:
    """The site CA certificate (PEM) whose SHA-256 matches ``fingerprint``.

    Args:
        server_url: the gateway's ``https://`` address.
        fingerprint: the normalised SHA-256 fingerprint from the enrolment token.
        ca_file: a CA certificate file to use instead of the one the gateway presents.
        timeout: seconds for the connection.

    Raises:
        PinningError: when no certificate matching the fingerprint is found.
        OSError: when the gateway cannot be reached.
    """
    if ca_file is not None:
        try:
            candidates = x509.load_pem_x509_certificates(ca_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise PinningError(f"cannot read the CA certificate file {ca_file}: {exc}") from exc
    else:
        host, port = split_server_url(server_url)
        try:
            candidates = presented_chain(host, port, timeout=timeout)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise PinningError(
                f"cannot reach the gateway at {server_url} ({reason}); check the address and that the gateway "
                "is running. Nothing was sent."
            ) from exc
    for certificate in candidates:
        if fingerprints_equal(certificate_fingerprint(certificate), fingerprint):
            return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    where = f"the file {ca_file}" if ca_file is not None else f"the gateway at {server_url}"
    raise PinningError(
        f"{where} does not present the CA with fingerprint {fingerprint[:16]}…: it may be the wrong address or "
        "a machine in the middle. The token was not sent. Check the address and the fingerprint shown with the "
        "token (or give the site CA certificate with --ca-file)."
    )


def server_context(ca_pem: str) -> ssl.SSLContext:
    """Verify the gateway (chain and host name) against the site CA only; no client certificate."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def mutual_context(ca_path: Path, certificate_path: Path, key_path: Path) -> ssl.SSLContext:
    """Like :func:`server_context`, and present the device certificate (mutual TLS)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_path))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(certificate_path), keyfile=str(key_path))
    return context
