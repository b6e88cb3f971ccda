"""Helpers for the sign-in, set-up, lock and step-up GUI tests (the store's clock, accounts without MFA)."""

from __future__ import annotations

import datetime as dt

from mdm_desktop.app import AppContext
from mdm_desktop.security import totp
from mdm_desktop.services.dto import IssuedCodes, SessionInfo
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, StepClock, _authenticators

GOOD_PASSWORD = "amber falcon drifts softly 27"


def store_clock(ctx: AppContext) -> StepClock:
    """The clock the services of ``ctx`` use (real time plus an offset tests move)."""
    return _authenticators(ctx).clock


def advance(ctx: AppContext, **delta: float) -> None:
    """Move the services' clock of ``ctx`` forward."""
    store_clock(ctx).offset += dt.timedelta(**delta)


def code_now(ctx: AppContext, secret: str) -> str:
    """The code ``secret`` gives at the services' time now."""
    return totp.code_at(secret, store_clock(ctx)())


def admin_without_authenticator(ctx: AppContext) -> SessionInfo:
    """The first administrator, signed in with the password only (no authenticator yet)."""
    ctx.services.auth.create_first_admin(ADMIN_USER, ADMIN_PASSWORD)
    return ctx.services.auth.sign_in(ADMIN_USER, ADMIN_PASSWORD)


def enrol_with_codes(ctx: AppContext, session: SessionInfo) -> IssuedCodes:
    """Enrol an authenticator for ``session`` and return its recovery codes (the secret is remembered)."""
    auth = _authenticators(ctx)
    shown = ctx.services.auth.begin_totp_enrolment(session.principal)
    auth.clock.next_step()
    issued = ctx.services.auth.confirm_totp_enrolment(session.principal, totp.code_at(shown.secret, auth.clock()))
    auth.secrets[session.username] = shown.secret
    return issued
