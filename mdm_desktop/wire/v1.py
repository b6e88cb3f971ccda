"""Device API version 1: the bodies devices and the gateway exchange (issue 6).

This module is the only code the gateway (``mdm_desktop.gateway``) and the device side
(``mdm_desktop.agent``: the reference agent and the virtual fleet) share. It imports nothing
from the console, so the agent can ship alone.

Every model forbids unknown fields and bounds every string and list, so a body that is
not exactly what the API describes is refused (HTTP 422) before anything is written.
The gateway additionally caps the raw body size (:data:`MAX_BODY_BYTES`).

Paths (all under ``/v1``):

* ``POST /v1/enroll/notice`` (server TLS only): :class:`EnrollNoticeRequest` -> :class:`EnrollNotice`;
  what the device user must accept before a BYOD enrolment (:data:`BYOD_NOTICE`).
* ``POST /v1/enroll`` (server TLS only, no client certificate yet):
  :class:`EnrollRequest` -> :class:`EnrollResponse`.
* ``POST /v1/checkin`` (mutual TLS): :class:`CheckinRequest` -> :class:`CheckinResponse`.
* ``POST /v1/commands/{command_id}/result`` (mutual TLS): :class:`CommandResult` -> :class:`Ack`.
* ``GET /v1/apps/{sha256}`` (mutual TLS): the app package bytes, only for an app the device was
  told to install.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "v1"
MAX_BODY_BYTES = 256 * 1024
"""Largest request body the gateway reads (inventory with a few hundred apps fits easily)."""

Text = Annotated[str, Field(max_length=255)]
LongText = Annotated[str, Field(max_length=4096)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
CommandId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class WirePlatform(enum.StrEnum):
    """Operating system family (same values as the console's ``Platform``)."""

    IOS = "ios"
    IPADOS = "ipados"
    ANDROID = "android"
    WINDOWS = "windows"
    MACOS = "macos"
    LINUX = "linux"


class InstalledAppReport(_Body):
    """One app the device reports installed."""

    identifier: Text
    name: Text
    version: Annotated[str, Field(max_length=64)] = ""
    managed: bool = False


class Inventory(_Body):
    """What a device reports about itself; ``None`` means "could not be read"."""

    name: Text
    platform: WirePlatform
    vendor: Annotated[str, Field(max_length=128)] = ""
    model: Annotated[str, Field(max_length=128)] = ""
    serial: Text | None = None
    hardware_id: Text | None = None
    os_version: Annotated[str, Field(max_length=64)] = ""
    os_build: Annotated[str, Field(max_length=64)] = ""
    kernel: Annotated[str, Field(max_length=128)] = ""
    security_patch: dt.date | None = None
    firmware: Annotated[str, Field(max_length=128)] = ""
    last_os_update: dt.datetime | None = None
    storage_encrypted: bool | None = None
    passcode_set: bool | None = None
    screen_lock_enabled: bool | None = None
    firewall_enabled: bool | None = None
    compromised: bool | None = None
    managed_container: bool | None = None
    battery_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    apps: Annotated[list[InstalledAppReport], Field(max_length=1000)] = []


BYOD_NOTICE = (
    "This device is personally owned (BYOD). The clinic can see: the device model, operating system and "
    "version, security state (encryption, passcode, screen lock, integrity) and the apps the clinic manages. "
    "The clinic cannot see: your photos, messages, e-mail, browsing, calls, files or other personal content. "
    "Location is collected only while the clinic has put the device in lost mode. "
    "The clinic can lock the device and remove its own data and apps (selective wipe); it never erases the "
    "whole device."
)
"""What a BYOD device's user is shown and must accept before it enrols (the one source of this text)."""


def notice_sha256(text: str = BYOD_NOTICE) -> str:
    """The SHA-256 (hex) of a notice text: what an enrolment sends to say the user accepted that text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EnrollNoticeRequest(_Body):
    """Ask what a token's enrolment shows the device user (nothing is used up or written)."""

    token: Annotated[str, Field(min_length=16, max_length=128)]


class EnrollNotice(_Body):
    """Whether the token enrols a personally owned (BYOD) device, and the notice its user must accept."""

    byod: bool
    notice: LongText = ""
    notice_sha256: Sha256Hex | None = None
    """Send this back as :attr:`EnrollRequest.byod_notice_accepted` once the user has accepted ``notice``."""


class EnrollRequest(_Body):
    """Token from the QR code / text, a PEM certificate signing request, and the first inventory."""

    token: Annotated[str, Field(min_length=16, max_length=128)]
    csr_pem: Annotated[str, Field(max_length=8192)]
    inventory: Inventory
    byod_notice_accepted: Sha256Hex | None = None
    """For a BYOD token: the ``notice_sha256`` of the notice the device user accepted (required)."""


class EnrollResponse(_Body):
    """The device certificate, the CA that signed it, and the device's id on this site."""

    device_id: Annotated[str, Field(max_length=32)]
    certificate_pem: Annotated[str, Field(max_length=16384)]
    ca_certificate_pem: Annotated[str, Field(max_length=16384)]
    byod_notice: LongText = ""
    checkin_interval_seconds: Annotated[int, Field(ge=10, le=86400)] = 900


class CommandOutcome(enum.StrEnum):
    """How a device finished a command."""

    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


class Location(_Body):
    """Where a device in lost mode is: finite coordinates in range (no NaN or infinity, no strings)."""

    lat: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-90, le=90)]
    lon: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-180, le=180)]
    accuracy_m: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1e7)] | None = None
    """Radius of the fix in metres, when the device knows it."""


class CommandResult(_Body):
    """A device's answer to one command; sending the same result twice changes nothing."""

    command_id: CommandId
    outcome: CommandOutcome
    detail: LongText = ""
    location: Location | None = None
    """Only for lost mode: ``{"lat": .., "lon": .., "accuracy_m": ..}``."""


class CheckinRequest(_Body):
    """Periodic report; ``sequence`` increases by one per check-in so a replay is recognised."""

    sequence: Annotated[int, Field(ge=0, le=2**53 - 1)]  # fits the store's 64-bit integer, exact in JSON
    sent_at: dt.datetime
    inventory: Inventory
    results: Annotated[list[CommandResult], Field(max_length=100)] = []


class PendingCommand(_Body):
    """A command the device should carry out."""

    command_id: CommandId
    type: Annotated[str, Field(max_length=32)]
    payload: dict[str, Any] = {}
    """Per type: ``message`` -> {"text"}; ``install_app`` -> {"identifier", "version", "sha256", "url"};
    ``remove_app`` -> {"identifier"}; ``os_update`` -> {"at": ISO time or null};
    ``lost_mode`` -> {"message", "phone"}."""


class CheckinResponse(_Body):
    """Commands to run now and the policy version the device should hold."""

    commands: list[PendingCommand] = []
    policy_version: Annotated[str, Field(max_length=64)] | None = None
    checkin_interval_seconds: Annotated[int, Field(ge=10, le=86400)] = 900
    quarantined: bool = False


class Ack(_Body):
    """Result accepted (or already known)."""

    accepted: bool = True


class Problem(_Body):
    """Error body (RFC 9457 style): what was wrong and what to do."""

    title: LongText
    detail: LongText = ""
