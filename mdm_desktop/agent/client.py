"""The agent's HTTPS client: enrolment (server TLS, pinned CA) and mutual-TLS calls after it.

Transient failures (the gateway unreachable, timeouts, HTTP 429/502/503/504) are retried with
exponential backoff and jitter; anything else becomes a :class:`GatewayError` whose message says
what went wrong and what to do.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from mdm_desktop.agent.tls import mutual_context, server_context
from mdm_desktop.wire.v1 import (
    Ack,
    CheckinRequest,
    CheckinResponse,
    CommandResult,
    EnrollNotice,
    EnrollNoticeRequest,
    EnrollRequest,
    EnrollResponse,
    Problem,
)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_DOWNLOAD_BYTES = 2 * 1024**3
USER_AGENT = "mdm-desktop-agent/1"
M = TypeVar("M", bound=BaseModel)


class GatewayError(RuntimeError):
    """A request the gateway refused or that could not be made; ``status`` is the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CertificateRefusedError(GatewayError):
    """The gateway refused the device certificate (revoked, retired or unknown)."""


def problem_message(response: httpx.Response) -> str:
    """The gateway's Problem title/detail, or a short description of the status."""
    try:
        problem = Problem.model_validate_json(response.content)
        return f"{problem.title}: {problem.detail}" if problem.detail else problem.title
    except ValidationError:
        pass
    try:
        body: Any = response.json()
        if isinstance(body, dict) and "detail" in body:
            return str(body["detail"])[:300]
    except ValueError:
        pass
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def raise_for_problem(response: httpx.Response, what: str) -> None:
    """Turn a non-2xx response into a :class:`GatewayError` with advice."""
    if response.is_success:
        return
    message = problem_message(response)
    status = response.status_code
    if status in (401, 403):
        raise CertificateRefusedError(
            f"{what} refused by the gateway ({message}). The device may have been retired or its certificate "
            "revoked: enrol it again with a new token.",
            status,
        )
    raise GatewayError(f"{what} failed: {message}", status)


def parse_body(response: httpx.Response, model: type[M], what: str) -> M:
    """Validate a response body against the wire schema."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise GatewayError(
            f"{what}: the gateway's answer does not match the API ({exc.error_count()} problems)"
        ) from exc


class Retrying:
    """Exponential backoff with jitter for transient failures."""

    def __init__(
        self,
        attempts: int = 4,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security

    def call(self, send: Callable[[], httpx.Response], what: str) -> httpx.Response:
        """Send until a non-transient answer or the attempts are used up."""
        last: str = ""
        made = 0
        for attempt in range(self.attempts):
            made += 1
            try:
                response = send()
            except httpx.TransportError as exc:
                last = _transport_message(exc)
                if _is_certificate_problem(exc):
                    break  # not transient: retrying cannot help
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                last = problem_message(response)
            if attempt + 1 < self.attempts:
                self._sleep(self.delay(attempt))
        raise GatewayError(f"{what} failed after {made} attempts: {last}" if made > 1 else f"{what} failed: {last}")


def _is_certificate_problem(exc: httpx.TransportError) -> bool:
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text


def _transport_message(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if _is_certificate_problem(exc):
        return f"the gateway's certificate is not signed by the pinned site CA or does not name this address ({text})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to the gateway ({text}); check the address and that the gateway is running"
    if isinstance(exc, httpx.TimeoutException):
        return "the gateway did not answer in time"
    return text


def _refused_enrolment(response: httpx.Response) -> None:
    if response.status_code == 409:  # this hardware is already enrolled with a valid certificate
        raise GatewayError(f"Enrolment refused: {problem_message(response)}", response.status_code)
    if response.status_code in (401, 403, 404, 410, 422):
        raise GatewayError(
            f"Enrolment refused: {problem_message(response)}. The token may be used up, expired or revoked: "
            "ask the clinic IT for a new one.",
            response.status_code,
        )


def enroll_notice(
    server_url: str,
    ca_pem: str,
    token: str,
    *,
    timeout: float = 30.0,
    retrying: Retrying | None = None,
) -> EnrollNotice:
    """Ask the gateway (TLS verified against the pinned CA) what the token's enrolment shows the user."""
    with httpx.Client(
        base_url=server_url, verify=server_context(ca_pem), timeout=timeout, headers={"User-Agent": USER_AGENT}
    ) as http:
        body = EnrollNoticeRequest(token=token).model_dump(mode="json")
        response = (retrying or Retrying()).call(lambda: http.post("/v1/enroll/notice", json=body), "Enrolment")
    _refused_enrolment(response)
    raise_for_problem(response, "Enrolment")
    return parse_body(response, EnrollNotice, "Enrolment")


def enroll(
    server_url: str,
    ca_pem: str,
    request: EnrollRequest,
    *,
    timeout: float = 30.0,
    retrying: Retrying | None = None,
) -> EnrollResponse:
    """Send the enrolment over TLS verified against the pinned CA (no client certificate yet)."""
    with httpx.Client(
        base_url=server_url, verify=server_context(ca_pem), timeout=timeout, headers={"User-Agent": USER_AGENT}
    ) as http:
        body = request.model_dump(mode="json")
        response = (retrying or Retrying()).call(lambda: http.post("/v1/enroll", json=body), "Enrolment")
    _refused_enrolment(response)
    raise_for_problem(response, "Enrolment")
    return parse_body(response, EnrollResponse, "Enrolment")


class DeviceClient:
    """Mutual-TLS calls of an enrolled device (check-in, command result, app download)."""

    def __init__(
        self,
        server_url: str,
        ca_path: Path,
        certificate_path: Path,
        key_path: Path,
        *,
        timeout: float = 30.0,
        retrying: Retrying | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server_url = server_url
        self._retrying = retrying or Retrying()
        self._http = httpx.Client(
            base_url=server_url,
            verify=mutual_context(ca_path, certificate_path, key_path),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_in(self, request: CheckinRequest) -> CheckinResponse:
        """Report inventory and results; get pending commands."""
        body = request.model_dump(mode="json")
        response = self._retrying.call(lambda: self._http.post("/v1/checkin", json=body), "Check-in")
        raise_for_problem(response, "Check-in")
        return parse_body(response, CheckinResponse, "Check-in")

    def send_result(self, result: CommandResult) -> Ack:
        """Report one command's result (the gateway ignores a repeat)."""
        body = result.model_dump(mode="json")
        path = f"/v1/commands/{result.command_id}/result"
        response = self._retrying.call(lambda: self._http.post(path, json=body), "Sending a command result")
        raise_for_problem(response, "Sending a command result")
        return parse_body(response, Ack, "Sending a command result")

    def app_path(self, url: str | None, sha256: str) -> str:
        """The download path for an app: the payload's URL if it points at this gateway, else ``/v1/apps/<sha>``.

        Raises:
            GatewayError: when the URL points at another server (the agent downloads only from its gateway).
        """
        if not url:
            return f"/v1/apps/{sha256}"
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            ours = urlsplit(self.server_url)
            if (parts.scheme, parts.hostname, parts.port or 443) != (ours.scheme, ours.hostname, ours.port or 443):
                raise GatewayError(f"the app download address {url} is not this device's gateway; nothing downloaded")
        if not parts.path.startswith("/v1/apps/"):
            raise GatewayError(f"the app download address {url} is not an app download path; nothing downloaded")
        return parts.path

    def download(self, url: str | None, sha256: str, destination: Path) -> int:
        """Download an app package to ``destination`` and check its SHA-256.

        Returns:
            The size in bytes.

        Raises:
            GatewayError: on a refused download, a too large package or a hash mismatch (the partial
                file is deleted).
        """
        path = self.app_path(url, sha256)
        digest = hashlib.sha256()
        size = 0
        try:
            with self._http.stream("GET", path) as response:
                if not response.is_success:
                    response.read()
                    raise_for_problem(response, "Downloading the app")
                with destination.open("wb") as handle:
                    for chunk in response.iter_bytes(1 << 16):
                        size += len(chunk)
                        if size > MAX_DOWNLOAD_BYTES:
                            raise GatewayError("the app package is larger than 2 GiB; nothing installed")
                        digest.update(chunk)
                        handle.write(chunk)
        except httpx.TransportError as exc:
            destination.unlink(missing_ok=True)
            raise GatewayError(f"Downloading the app failed: {_transport_message(exc)}") from exc
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
        if digest.hexdigest() != sha256:
            destination.unlink(missing_ok=True)
            raise GatewayError(
                f"the downloaded package's SHA-256 ({digest.hexdigest()[:12]}…) is not the expected "
                f"{sha256[:12]}…; it was deleted and nothing was installed"
            )
        return size
