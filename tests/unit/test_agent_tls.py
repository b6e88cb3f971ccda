"""Pinning the site CA at enrolment (a real TLS listener on loopback), enrolment text, retries."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mdm_desktop.agent.cli import UsageError, parse_enrolment_text
from mdm_desktop.agent.client import DeviceClient, GatewayError, Retrying
from mdm_desktop.agent.tls import PinningError, normalise_server_url, pin_ca, server_context
from mdm_desktop.security.ca import LocalCA

NOW = dt.datetime.now(dt.UTC)


@contextmanager
def tls_listener(tmp_path: Path, ca: LocalCA, *, send_ca: bool) -> Iterator[int]:
    """A loopback TLS server that completes handshakes (and nothing else); yields its port."""
    credentials = ca.issue_server_certificate(["127.0.0.1", "localhost"], NOW)
    chain = tmp_path / "chain.pem"
    chain.write_text(credentials.certificate.pem + (ca.certificate_pem if send_ca else ""))
    key = tmp_path / "server.key"
    key.write_bytes(credentials.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(chain), str(key))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create("Test clinic", NOW)


def test_pin_finds_the_ca_in_the_presented_chain(tmp_path: Path, ca: LocalCA) -> None:
    with tls_listener(tmp_path, ca, send_ca=True) as port:
        pem = pin_ca(f"https://127.0.0.1:{port}", ca.fingerprint)
    assert pem == ca.certificate_pem
    server_context(pem)  # usable as the only trust anchor


def test_pin_refuses_another_ca(tmp_path: Path, ca: LocalCA) -> None:
    other = LocalCA.create("Somebody else", NOW)
    with tls_listener(tmp_path, other, send_ca=True) as port, pytest.raises(PinningError, match="not sent"):
        pin_ca(f"https://127.0.0.1:{port}", ca.fingerprint)


def test_pin_without_the_ca_in_the_chain_needs_the_ca_file(tmp_path: Path, ca: LocalCA) -> None:
    with tls_listener(tmp_path, ca, send_ca=False) as port:
        url = f"https://127.0.0.1:{port}"
        with pytest.raises(PinningError, match="--ca-file"):
            pin_ca(url, ca.fingerprint)
        ca_file = tmp_path / "ca.crt"
        ca_file.write_text(ca.certificate_pem)
        assert pin_ca(url, ca.fingerprint, ca_file=ca_file) == ca.certificate_pem
        wrong = tmp_path / "wrong.crt"
        wrong.write_text(LocalCA.create("Other", NOW).certificate_pem)
        with pytest.raises(PinningError):
            pin_ca(url, ca.fingerprint, ca_file=wrong)


def test_server_urls() -> None:
    assert normalise_server_url("https://gw.clinic.lan:8443/") == "https://gw.clinic.lan:8443"
    assert normalise_server_url("https://gw.clinic.lan") == "https://gw.clinic.lan:443"
    for bad in ("http://gw:8443", "gw:8443", "https://gw:99999"):
        with pytest.raises(ValueError, match=r"https|port"):
            normalise_server_url(bad)


def test_enrolment_text_from_the_qr_payload() -> None:
    fp = "ab" * 32
    qr = f"mdmdesktop://enroll?server=https%3A%2F%2F10.0.0.5%3A8443&token=tok-1234567890abcdef&ca_sha256={fp}"
    assert parse_enrolment_text(qr, None, None) == ("https://10.0.0.5:8443", "tok-1234567890abcdef", fp)
    assert parse_enrolment_text(qr, "https://other:1", None)[0] == "https://other:1"
    plain = parse_enrolment_text("tok-1234567890abcdef", "https://gw:8443", "AB:" * 31 + "AB")
    assert plain == ("https://gw:8443", "tok-1234567890abcdef", fp)
    with pytest.raises(UsageError, match="fingerprint"):
        parse_enrolment_text("tok-1234567890abcdef", "https://gw:8443", None)
    with pytest.raises(UsageError, match="--server"):
        parse_enrolment_text("tok-1234567890abcdef", None, fp)
    assert parse_enrolment_text("tok", "https://gw:1", None, require_fingerprint=False)[2] == ""


def test_retrying_backs_off_on_transient_failures_only() -> None:
    waits: list[float] = []
    answers = iter(
        [
            httpx.ConnectError("refused"),
            httpx.Response(503),
            httpx.Response(200, json={"accepted": True}),
        ]
    )

    def send() -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    retrying = Retrying(attempts=4, base_delay=1.0, sleep=waits.append)
    assert retrying.call(send, "Check-in").status_code == 200
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0
    with pytest.raises(GatewayError, match="after 2 attempts: cannot connect"):
        Retrying(attempts=2, sleep=waits.append).call(
            lambda: (_ for _ in ()).throw(httpx.ConnectError("x")), "Check-in"
        )
    assert Retrying(attempts=3, sleep=waits.append).call(lambda: httpx.Response(400), "x").status_code == 400


def test_downloads_only_from_the_own_gateway(tmp_path: Path, ca: LocalCA) -> None:
    device = _device_client(tmp_path, ca)
    sha = "0" * 64
    assert device.app_path(None, sha) == f"/v1/apps/{sha}"
    assert device.app_path(f"/v1/apps/{sha}", sha) == f"/v1/apps/{sha}"
    assert device.app_path(f"https://127.0.0.1:8443/v1/apps/{sha}", sha) == f"/v1/apps/{sha}"
    for bad in (f"https://evil.example/v1/apps/{sha}", "/etc/passwd", f"http://127.0.0.1:8443/v1/apps/{sha}"):
        with pytest.raises(GatewayError, match="nothing downloaded"):
            device.app_path(bad, sha)
    device.close()


def _device_client(tmp_path: Path, ca: LocalCA) -> DeviceClient:
    credentials = ca.issue_server_certificate(["127.0.0.1"], NOW)  # any certificate/key pair will do here
    (tmp_path / "ca.crt").write_text(ca.certificate_pem)
    (tmp_path / "device.crt").write_text(credentials.certificate.pem)
    (tmp_path / "device.key").write_bytes(credentials.key_pem)
    return DeviceClient("https://127.0.0.1:8443", tmp_path / "ca.crt", tmp_path / "device.crt", tmp_path / "device.key")
