"""Time-based one-time passwords (RFC 6238) with pyotp, and the QR code for enrolment.

Parameters are the ones every standard authenticator app assumes: HMAC-SHA-1, six
digits, 30-second steps counted from the Unix epoch. A code is accepted for the
current step and one step either side (clock drift between the phone and the
workstation). :func:`verify` returns the matched *time step* so the caller can
store it and refuse that step, and every older one, afterwards: each code works
once per account (RFC 6238 section 5.2).
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
from dataclasses import dataclass, field

import pyotp
import segno

ISSUER = "MDM Desktop"
DIGITS = 6
STEP_SECONDS = 30
TOLERANCE_STEPS = 1
SECRET_LENGTH = 32
"""Base32 characters of a new secret: 32 x 5 = 160 bits, the key size RFC 4226 recommends."""


def new_secret() -> str:
    """A fresh random secret, base32 without padding (what authenticator apps expect)."""
    return pyotp.random_base32(length=SECRET_LENGTH)


def time_step(now: dt.datetime) -> int:
    """The RFC 6238 time step ``T = floor(unix_time / 30)`` for ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("TOTP needs a timezone-aware time.")
    return int(now.timestamp()) // STEP_SECONDS


def code_at_step(secret: str, step: int) -> str:
    """The six-digit code for ``step``."""
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step))


def code_at(secret: str, now: dt.datetime) -> str:
    """The six-digit code an authenticator shows at ``now``."""
    return code_at_step(secret, time_step(now))


def normalize_code(code: str) -> str | None:
    """Digits of a typed code (spaces allowed, as some apps group ``123 456``); ``None`` if not a TOTP code."""
    compact = "".join(code.split())
    if len(compact) == DIGITS and compact.isascii() and compact.isdigit():
        return compact
    return None


def verify(secret: str, code: str, now: dt.datetime, last_used_step: int = 0) -> int | None:
    """Check ``code`` against ``secret`` at ``now`` with one step of tolerance.

    Args:
        secret: Base32 secret.
        code: What the person typed.
        now: Current time (timezone-aware), injected so tests control it.
        last_used_step: The newest step already accepted for this account; that step and
            older ones are refused (replay protection).

    Returns:
        The matched time step (store it as the new last used step), or ``None``.
    """
    typed = normalize_code(code)
    if typed is None:
        return None
    current = time_step(now)
    matched: int | None = None
    # Compare against every candidate (no early exit) so timing does not tell which step matched.
    for step in range(current - TOLERANCE_STEPS, current + TOLERANCE_STEPS + 1):
        if step <= last_used_step or step < 0:
            continue
        if hmac.compare_digest(code_at_step(secret, step), typed):
            matched = step
    return matched


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (account = the user name)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


def qr_png(uri: str, *, scale: int = 6, border: int = 4) -> bytes:
    """The provisioning URI as a QR code PNG (error correction M)."""
    buf = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def qr_svg(uri: str, *, scale: int = 6, border: int = 4) -> str:
    """The provisioning URI as SVG text (for a QSvgWidget or a printed sheet)."""
    buf = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(buf, kind="svg", scale=scale, border=border, xmldecl=False)
    return buf.getvalue().decode("utf-8")


def format_secret(secret: str) -> str:
    """The secret in groups of four for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """What the enrolment step shows: QR code (PNG and SVG) and the secret as text."""

    account: str
    uri: str = field(repr=False)
    secret: str = field(repr=False)
    qr_png: bytes = field(repr=False)
    qr_svg: str = field(repr=False)

    @property
    def secret_grouped(self) -> str:
        """The secret in groups of four for manual entry."""
        return format_secret(self.secret)


def enrolment(secret: str, account: str, issuer: str = ISSUER) -> TotpEnrolment:
    """Everything the set-up wizard needs to show for ``secret``."""
    uri = provisioning_uri(secret, account, issuer)
    return TotpEnrolment(account=account, uri=uri, secret=secret, qr_png=qr_png(uri), qr_svg=qr_svg(uri))
