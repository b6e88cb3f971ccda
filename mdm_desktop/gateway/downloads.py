"""``GET /v1/apps/{sha256}``: an app package streamed to the device that was told to install it.

The check (certificate valid, an open install command of this device names this SHA-256) is made
before the first byte is sent; the bytes then follow chunk by chunk from the store, so neither the
gateway nor the store holds the whole package in memory. Any other device, and an unknown hash, get
the same 404: a device learns nothing about packages that are not its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse

from mdm_desktop.services.checkin import CheckinService

PACKAGE_TYPE = "application/octet-stream"


def add_download_route(
    router: APIRouter,
    checkin: CheckinService,
    fingerprint_of: Callable[[Request], str],
    problems: dict[int | str, dict[str, Any]],
) -> None:
    """Add the app download path to the device API's router."""

    @router.get(
        "/apps/{sha256}",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "The package's bytes (check their SHA-256 before installing).",
                "content": {PACKAGE_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            },
            **problems,
        },
        summary="Download the app package of one of this device's install commands, by its SHA-256",
        operation_id="app_download",
    )
    def app_download(request: Request, sha256: str = Path(pattern=r"^[0-9a-f]{64}$", max_length=64)) -> Any:
        package = checkin.app_package(fingerprint_of(request), sha256)
        return StreamingResponse(
            package.chunks,
            media_type=PACKAGE_TYPE,
            headers={
                "Content-Length": str(package.size_bytes),
                "Content-Disposition": f'attachment; filename="{package.sha256}"',
                "X-Content-SHA256": package.sha256,
            },
        )
