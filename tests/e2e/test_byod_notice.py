"""The BYOD notice: the gateway says what a BYOD enrolment shows, refuses one the user did not accept,
and the reference agent shows it and asks (or needs --accept-byod-notice); the virtual fleet accepts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mdm_desktop.agent.cli import accept_byod_notice
from mdm_desktop.agent.cli import main as agent_main
from mdm_desktop.agent.runner import NoticeDeclinedError, enroll_device
from mdm_desktop.agent.simulator import SimulationConfig, VirtualFleet
from mdm_desktop.agent.state import AgentStore
from mdm_desktop.app import AppContext
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.services.enrollment import qr_payload
from mdm_desktop.store.schema import AuditEntry, EnrollmentToken
from mdm_desktop.wire.v1 import BYOD_NOTICE, WirePlatform, notice_sha256
from tests.conftest import sign_in_admin
from tests.e2e.gateway_helpers import client, enrol, make_token, running_gateway


@pytest.fixture
def gateway(app_ctx: AppContext):  # type: ignore[no-untyped-def]
    with running_gateway(app_ctx) as status:
        yield app_ctx, status, app_ctx.services.enrollment.authority().certificate_pem


def _uses_left(ctx: AppContext) -> list[int]:
    with ctx.uow() as uow:
        return list(uow.session.scalars(select(EnrollmentToken.uses_left).order_by(EnrollmentToken.id)))


def _last_audit(ctx: AppContext) -> AuditEntry:
    with ctx.uow() as uow:
        entry = uow.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        uow.session.expunge(entry)
        return entry


def test_the_notice_says_what_the_clinic_can_and_cannot_do() -> None:
    for words in ("cannot see", "photos", "messages", "lost mode", "selective wipe", "never erases"):
        assert words in BYOD_NOTICE
    assert notice_sha256() == notice_sha256(BYOD_NOTICE)
    assert len(notice_sha256()) == 64


def test_the_gateway_returns_the_notice_for_byod_tokens_only(gateway) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    byod = make_token(ctx, admin, status, ownership=Ownership.BYOD)
    corporate = make_token(ctx, admin, status)
    with client(status, ca_pem) as http:
        shown = http.post("/v1/enroll/notice", json={"token": byod})
        plain = http.post("/v1/enroll/notice", json={"token": corporate})
        unknown = http.post("/v1/enroll/notice", json={"token": "a" * 31})
        malformed = http.post("/v1/enroll/notice", json={"token": byod, "extra": 1})
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"byod": True, "notice": BYOD_NOTICE, "notice_sha256": notice_sha256()}
    assert plain.json() == {"byod": False, "notice": "", "notice_sha256": None}
    assert unknown.status_code == 403
    assert unknown.headers["content-type"] == "application/problem+json"
    assert malformed.status_code == 422
    assert _uses_left(ctx) == [1, 1]  # asking uses nothing up
    refusal = _last_audit(ctx)
    assert (refusal.action, refusal.outcome) == ("device.enrol_refused", "denied")


def test_a_byod_enrolment_needs_the_notice_accepted(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, ownership=Ownership.BYOD)

    missing, device = enrol(status, ca_pem, token, tmp_path, accept_notice=None)
    assert (missing.status_code, device) == (422, None)
    assert "accept the notice" in missing.json()["title"]
    wrong, _ = enrol(status, ca_pem, token, tmp_path, accept_notice="0" * 64)
    assert wrong.status_code == 422
    assert _uses_left(ctx) == [1]  # the refused attempts gave their use back
    refusal = _last_audit(ctx)
    assert refusal.action == "device.enrol_refused"
    assert "byod_notice_not_accepted" in refusal.details

    accepted, device = enrol(status, ca_pem, token, tmp_path)
    assert accepted.status_code == 200, accepted.text
    assert device is not None
    assert accepted.json()["byod_notice"] == BYOD_NOTICE
    enrolled = _last_audit(ctx)
    assert enrolled.action == "device.enrolled"
    assert notice_sha256() in enrolled.details


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(token=st.text(max_size=200))
def test_any_token_text_gets_a_clear_answer(gateway, token: str) -> None:  # type: ignore[no-untyped-def]
    _ctx, status, ca_pem = gateway
    with client(status, ca_pem) as http:
        response = http.post("/v1/enroll/notice", json={"token": token})
    assert response.status_code in (403, 422)
    assert response.json()["title"]


def test_the_agent_shows_the_notice_and_needs_an_explicit_yes(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, _ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, ownership=Ownership.BYOD, uses=2)
    shown: list[str] = []

    def decline(text: str) -> bool:
        shown.append(text)
        return False

    store = AgentStore(tmp_path / "declined")
    with pytest.raises(NoticeDeclinedError, match="nothing was enrolled"):
        enroll_device(store, status.url, token, status.ca_fingerprint, accept_notice=decline)
    assert shown == [BYOD_NOTICE]
    assert not store.is_enrolled()
    assert _uses_left(ctx) == [2]

    state = enroll_device(
        AgentStore(tmp_path / "accepted"), status.url, token, status.ca_fingerprint, accept_notice=lambda _t: True
    )
    assert state.byod_notice == BYOD_NOTICE
    assert _uses_left(ctx) == [1]


def test_agent_command_line_byod(gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    ctx, status, _ca_pem = gateway
    admin = sign_in_admin(ctx)
    qr = qr_payload(status.url, make_token(ctx, admin, status, ownership=Ownership.BYOD), status.ca_fingerprint)

    # pytest's stdin is no terminal: without the option the agent cannot ask, so it refuses.
    assert agent_main(["enroll", "--token", qr, "--data-dir", str(tmp_path / "a")]) == 2
    out, err = capsys.readouterr()
    assert "selective wipe" in out
    assert "--accept-byod-notice" in err
    assert "nothing was enrolled" in err
    assert not AgentStore(tmp_path / "a").is_enrolled()

    assert agent_main(["enroll", "--token", qr, "--accept-byod-notice", "--data-dir", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "cannot see" in out
    assert "Enrolled as device" in out


def test_the_prompt_accepts_only_yes(capsys: pytest.CaptureFixture[str]) -> None:
    def asked(answer: str) -> bool:
        return accept_byod_notice("Notice.", accepted=False, ask=lambda _q: answer, interactive=lambda: True)

    assert asked("y")
    assert asked(" YES ")
    assert not asked("")
    assert not asked("n")
    assert not asked("sure")

    def closed(_q: str) -> str:
        raise EOFError

    assert not accept_byod_notice("Notice.", accepted=False, ask=closed, interactive=lambda: True)
    assert accept_byod_notice("Notice.", accepted=True, interactive=lambda: False)
    assert "Notice." in capsys.readouterr().out


def test_the_virtual_fleet_accepts_the_notice(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx, status, ca_pem = gateway
    admin = sign_in_admin(ctx)
    token = make_token(ctx, admin, status, ownership=Ownership.BYOD, uses=3)
    config = SimulationConfig(
        server_url=status.url, token=token, ca_pem=ca_pem, devices=3, mix={WirePlatform.ANDROID: 1}, seed=3
    )
    fleet = VirtualFleet(config)

    async def go() -> int:
        try:
            summary = await fleet.enrol_all(tmp_path)
        finally:
            await fleet.aclose()
        return summary.enrolled

    assert asyncio.run(go()) == 3
    assert _uses_left(ctx) == [0]
