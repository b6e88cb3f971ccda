"""The device API (``/v1``) as a FastAPI app: enrol, check in, report a command result.

Request handling, outermost first:

1. :class:`DeviceGate` (plain ASGI): every path but :data:`OPEN_PATHS` (enrolment, its notice, this
   document) needs a client certificate that the store knows and has not revoked (checked on every request, before
   the body is read): without one the answer is 401, with a refused one 403, and no data either way.
   Then the body is read up to :data:`~mdm_desktop.wire.v1.MAX_BODY_BYTES`; a longer one is 413.
2. FastAPI validates the body against the wire models (unknown fields, wrong types, too long: 422).
3. The endpoint (a plain function, run in the thread pool) calls the service, which re-checks the
   certificate inside its own transaction.

Every error is a :class:`~mdm_desktop.wire.v1.Problem` JSON body that says what was wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mdm_desktop.domain.errors import (
    AuthenticationError,
    ConflictError,
    MdmError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    ValidationError,
)
from mdm_desktop.gateway.downloads import add_download_route
from mdm_desktop.gateway.tls import CONNECTION_STATE, PEER_CERT_STATE
from mdm_desktop.security.ca import der_fingerprint
from mdm_desktop.services.checkin import CheckinService, DeviceAuthError, ReplayError
from mdm_desktop.services.enrollment import EnrollmentService
from mdm_desktop.wire.v1 import (
    API_VERSION,
    MAX_BODY_BYTES,
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

PREFIX = f"/{API_VERSION}"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
ENROLL_PATH = f"{PREFIX}/enroll"
NOTICE_PATH = f"{PREFIX}/enroll/notice"
OPEN_PATHS = frozenset({ENROLL_PATH, NOTICE_PATH, OPENAPI_PATH})
FINGERPRINT_STATE = "mdm_device_fingerprint"
RECHECK_SECONDS = 30.0
"""How long the gate trusts its certificate check on one connection (services re-check on every call)."""
PROBLEM_TYPE = "application/problem+json"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def problem_response(status: int, title: str, detail: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    """A Problem JSON response."""
    body = Problem(title=title[:4096], detail=detail[:4096]).model_dump()
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


async def _send_problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps(Problem(title=title, detail=detail).model_dump()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", PROBLEM_TYPE.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DeviceGate:
    """ASGI middleware: client-certificate check (all but the open paths) and the body size cap."""

    def __init__(self, app: ASGIApp, checkin: CheckinService, max_body: int = MAX_BODY_BYTES) -> None:
        self._app = app
        self._checkin = checkin
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        if scope["path"] not in OPEN_PATHS:
            der = state.get(PEER_CERT_STATE)
            if not der:
                await _send_problem(
                    send,
                    401,
                    "A client certificate is required.",
                    "Enrol the device, then connect with its certificate.",
                )
                return
            fingerprint = der_fingerprint(der)
            # One store look-up per connection and RECHECK_SECONDS (a kept-alive device sends many requests);
            # every service call checks the certificate again inside its own transaction, so a certificate
            # revoked meanwhile still gets no data.
            memo = state.get(CONNECTION_STATE)
            checked = memo.get(fingerprint) if isinstance(memo, dict) else None
            if checked is None or time.monotonic() - checked > RECHECK_SECONDS:
                try:
                    await anyio.to_thread.run_sync(self._checkin.authenticate, fingerprint)
                except DeviceAuthError as exc:
                    await _send_problem(send, 403, exc.message, exc.hint)
                    return
                if isinstance(memo, dict):
                    memo[fingerprint] = time.monotonic()
            state[FINGERPRINT_STATE] = fingerprint
        await self._with_body(scope, receive, send)

    async def _with_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        too_big = ("The request body is too large.", f"Send at most {self._max_body:,} bytes.")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_problem(send, 400, "The Content-Length header is not a number.", "")
                    return
                if declared > self._max_body:
                    await _send_problem(send, 413, *too_big)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                await _send_problem(send, 413, *too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app(scope, replay, send)


def _errors_text(exc: RequestValidationError) -> str:
    parts: list[str] = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


_STATUS_OF: tuple[tuple[type[MdmError], int], ...] = (
    (ReplayError, 409),
    (DeviceAuthError, 403),
    (AuthenticationError, 403),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ValidationError, 422),
    (StoreError, 503),
)


def _install_error_handlers(app: FastAPI) -> None:
    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(422, "The request does not match the API.", _errors_text(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # FastAPI's answer to a body that is not UTF-8 JSON: report it like any other schema mismatch.
            return problem_response(
                422, "The body is not valid JSON.", "Send a UTF-8 JSON object as /v1/openapi.json describes."
            )
        return problem_response(
            exc.status_code, str(exc.detail), "", headers=dict(exc.headers) if exc.headers else None
        )

    async def on_mdm(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MdmError)
        status = next((code for kind, code in _STATUS_OF if isinstance(exc, kind)), 400)
        return problem_response(status, exc.message, exc.hint)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(500, "The gateway failed to handle the request.", "Try again later.")

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(MdmError, on_mdm)
    app.add_exception_handler(Exception, on_unexpected)


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        401: "No client certificate.",
        403: "Client certificate or enrolment token refused.",
        404: "Not found (or not this device's).",
        409: "Already received (replay), or on enrolment: this hardware is already enrolled (possible clone).",
        413: "Body too large.",
        422: "The body does not match the schema.",
        503: "The store cannot be reached.",
    }
    return {code: {"model": Problem, "description": texts[code]} for code in codes}


def _peer(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def _fingerprint(request: Request) -> str:
    fingerprint = request.scope.get("state", {}).get(FINGERPRINT_STATE)
    if not fingerprint:  # only if the app runs without DeviceGate
        raise DeviceAuthError("A client certificate is required.", hint="Enrol the device first.")
    return str(fingerprint)


def create_app(enrollment: EnrollmentService, checkin: CheckinService) -> Any:
    """The gateway's ASGI application (FastAPI wrapped in :class:`DeviceGate`)."""
    api = FastAPI(
        title="MDM Desktop device API",
        version="1",
        description="Device-facing API of an MDM Desktop gateway. Every path except /v1/enroll and "
        "/v1/enroll/notice needs the device's client certificate (mutual TLS) issued at enrolment.",
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    _install_error_handlers(api)
    router = APIRouter(prefix=PREFIX)

    @router.post(
        "/enroll",
        response_model=EnrollResponse,
        responses=_problems(403, 409, 413, 422, 503),
        summary="Enrol with a token and a certificate signing request",
        operation_id="enroll",
    )
    def enroll(body: EnrollRequest, request: Request) -> EnrollResponse:
        return enrollment.enrol(body, peer=_peer(request))

    @router.post(
        "/enroll/notice",
        response_model=EnrollNotice,
        responses=_problems(403, 413, 422, 503),
        summary="What enrolling with a token shows the device user (the BYOD notice to accept)",
        operation_id="enroll_notice",
    )
    def enroll_notice(body: EnrollNoticeRequest, request: Request) -> EnrollNotice:
        return enrollment.enrolment_notice(body.token, peer=_peer(request))

    @router.post(
        "/checkin",
        response_model=CheckinResponse,
        responses=_problems(401, 403, 409, 413, 422, 503),
        summary="Report inventory, state and command results; receive pending commands",
        operation_id="checkin",
    )
    def check_in(body: CheckinRequest, request: Request) -> Response:
        answer = checkin.check_in(_fingerprint(request), body, peer=_peer(request))
        # Serialised once, straight from the model: FastAPI would validate the returned model again against
        # response_model (which still documents it) and encode it twice on the busiest path.
        return Response(answer.model_dump_json(), media_type="application/json")

    @router.post(
        "/commands/{command_id}/result",
        response_model=Ack,
        responses=_problems(401, 403, 404, 413, 422, 503),
        summary="Report one command's result",
        operation_id="command_result",
    )
    def command_result(
        body: CommandResult,
        request: Request,
        command_id: str = Path(pattern=r"^[0-9a-f]{32}$", max_length=32),
    ) -> Ack:
        if body.command_id != command_id:
            raise ValidationError("The command id in the path and in the body differ.", hint="Send the same id.")
        return checkin.record_result(_fingerprint(request), command_id, body, peer=_peer(request))

    add_download_route(router, checkin, _fingerprint, _problems(401, 403, 404, 422, 503))
    api.include_router(router)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            components = document.setdefault("components", {})
            components["securitySchemes"] = {
                "deviceCertificate": {
                    "type": "mutualTLS",
                    "description": "The client certificate the site CA issued to the device at enrolment.",
                }
            }
            for path, operations in document.get("paths", {}).items():
                for operation in operations.values():
                    operation["security"] = [] if path in OPEN_PATHS else [{"deviceCertificate": []}]
                    for code, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if code[:1] in "45" and "application/json" in content:
                            content[PROBLEM_TYPE] = content.pop("application/json")
            api.openapi_schema = document
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return DeviceGate(api, checkin)


def openapi_document(enrollment: EnrollmentService, checkin: CheckinService) -> dict[str, Any]:
    """The OpenAPI document the gateway serves (for ``docs/openapi-v1.json``)."""
    gate = create_app(enrollment, checkin)
    assert isinstance(gate, DeviceGate)
    api = gate._app
    assert isinstance(api, FastAPI)
    return api.openapi()
