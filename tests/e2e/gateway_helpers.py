"""A real gateway on a loopback port with real TLS, and device-side helpers (keys, CSRs, HTTPS clients)."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.gateway.runner import GatewayServer, GatewayStatus
from mdm_desktop.services.dto import SessionInfo
from mdm_desktop.wire.v1 import notice_sha256


@dataclass(frozen=True)
class EnrolledDevice:
    """An enrolled test device: its id, key and certificate files."""

    uid: str
    cert_file: Path
    key_file: Path
    certificate_pem: str


@contextmanager
def running_gateway(ctx: AppContext) -> Iterator[GatewayStatus]:
    """Start the gateway on 127.0.0.1 (any free port) in a thread; stop it afterwards."""
    server = GatewayServer(ctx.services.enrollment, ctx.services.checkin, "127.0.0.1:0", ("127.0.0.1", "localhost"))
    status = server.start()
    try:
        yield status
    finally:
        server.stop()


def new_key() -> ec.EllipticCurvePrivateKey:
    """A device key (ECDSA P-256)."""
    return ec.generate_private_key(ec.SECP256R1())


def csr_pem(key: ec.EllipticCurvePrivateKey, name: str = "test device") -> str:
    """A certificate signing request for ``key``."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key in PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def inventory(name: str = "Ward laptop 1", **changes: Any) -> dict[str, Any]:
    """A realistic Linux laptop inventory as JSON."""
    body: dict[str, Any] = {
        "name": name,
        "platform": "linux",
        "vendor": "Lenovo",
        "model": "ThinkPad T14",
        "serial": "PF3ABC12",
        "os_version": "24.04",
        "kernel": "6.8.0-45-generic",
        "storage_encrypted": True,
        "passcode_set": True,
        "screen_lock_enabled": True,
        "firewall_enabled": True,
        "compromised": False,
        "apps": [{"identifier": "org.mozilla.firefox", "name": "Firefox", "version": "133.0"}],
    }
    body.update(changes)
    return body


def client(status: GatewayStatus, ca_pem: str, device: EnrolledDevice | None = None) -> httpx.Client:
    """An HTTPS client that trusts only the site CA and, if given, presents the device's certificate."""
    context = ssl.create_default_context(cadata=ca_pem)
    if device is not None:
        context.load_cert_chain(str(device.cert_file), str(device.key_file))
    return httpx.Client(base_url=status.url, verify=context, timeout=30)


def make_token(ctx: AppContext, admin: SessionInfo, status: GatewayStatus, uses: int = 1, **kw: Any) -> str:
    """A fresh enrolment token for the running gateway."""
    issued = ctx.services.enrollment.create_token(
        admin.principal,
        group_id=kw.get("group_id"),
        uses=uses,
        lifetime=kw.get("lifetime", dt.timedelta(hours=1)),
        ownership=kw.get("ownership", Ownership.CORPORATE),
        server_url=status.url,
    )
    return issued.token


def enrol(
    status: GatewayStatus,
    ca_pem: str,
    token: str,
    folder: Path,
    name: str = "Ward laptop 1",
    *,
    accept_notice: str | None = notice_sha256(),
) -> tuple[httpx.Response, EnrolledDevice | None]:
    """Enrol a new device over HTTPS (accepting the BYOD notice unless ``accept_notice`` says otherwise);
    return the response and, on success, the device's files."""
    key = new_key()
    body = {"token": token, "csr_pem": csr_pem(key), "inventory": inventory(name)}
    if accept_notice is not None:
        body["byod_notice_accepted"] = accept_notice
    with client(status, ca_pem) as http:
        response = http.post("/v1/enroll", json=body)
    if response.status_code != 200:
        return response, None
    body = response.json()
    folder.mkdir(parents=True, exist_ok=True)
    cert_file = folder / f"{body['device_id']}.crt"
    key_file = folder / f"{body['device_id']}.key"
    cert_file.write_text(body["certificate_pem"], encoding="ascii")
    key_file.write_bytes(key_pem(key))
    return response, EnrolledDevice(body["device_id"], cert_file, key_file, body["certificate_pem"])


def checkin_body(sequence: int, **changes: Any) -> dict[str, Any]:
    """A check-in request body."""
    body: dict[str, Any] = {
        "sequence": sequence,
        "sent_at": dt.datetime.now(dt.UTC).isoformat(),
        "inventory": inventory(),
        "results": [],
    }
    body.update(changes)
    return body
