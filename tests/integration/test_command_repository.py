"""Device-side command functions (claim, result) on SQLite and PostgreSQL, incl. concurrent gateways."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.commands import CommandStatus, CommandType
from mdm_desktop.domain.devices import LifecycleStatus, Platform
from mdm_desktop.store.repositories import commands as repo
from mdm_desktop.store.schema import Device, DeviceCertificate, DeviceCommand
from tests.integration.fixtures_data import NOW, DeviceSpec, add_devices

LATER = NOW + dt.timedelta(minutes=1)


def _devices(ctx: AppContext, n: int = 2) -> list[int]:
    return add_devices(ctx, [DeviceSpec(f"Ward tablet {i}", Platform.ANDROID) for i in range(n)])


def _queue(
    ctx: AppContext, device_id: int, ctype: CommandType = CommandType.LOCK, n: int = 1, **payload: object
) -> list[str]:
    with ctx.uow(write=True) as uow:
        rows = repo.queue(uow, [device_id] * n, ctype, dict(payload), "test", "admin", NOW, NOW + dt.timedelta(hours=1))
        uids = [r.uid for r in rows]
        uow.commit()
    return uids


def _claim(ctx: AppContext, device_id: int, now: dt.datetime = LATER, limit: int = 20) -> list[str]:
    with ctx.uow(write=True) as uow:
        uids = [c.uid for c in repo.claim_pending(uow, device_id, now, limit)]
        uow.commit()
    return uids


def _result(ctx: AppContext, device_id: int, uid: str, outcome: str = "acknowledged", **kw: object) -> bool:
    with ctx.uow(write=True) as uow:
        changed = repo.record_result(
            uow, device_id, uid, outcome, str(kw.get("detail", "done")), LATER, kw.get("location")
        )  # type: ignore[arg-type]
        uow.commit()
    return changed


def _command(ctx: AppContext, uid: str) -> DeviceCommand:
    with ctx.uow() as uow:
        row = uow.session.scalars(select(DeviceCommand).where(DeviceCommand.uid == uid)).one()
        uow.session.expunge(row)
        return row


def test_claim_marks_delivered_once_and_respects_the_limit(app_ctx: AppContext) -> None:
    a, b = _devices(app_ctx)
    mine = _queue(app_ctx, a, n=3)
    _queue(app_ctx, b)
    assert _claim(app_ctx, a, limit=2) == mine[:2]
    assert _claim(app_ctx, a) == mine[2:]
    assert _claim(app_ctx, a) == []
    row = _command(app_ctx, mine[0])
    assert row.status == CommandStatus.DELIVERED
    assert row.delivered_at == LATER


def test_unanswered_commands_are_redelivered_after_the_timeout(app_ctx: AppContext) -> None:
    (a, _b) = _devices(app_ctx)
    uid = _queue(app_ctx, a)
    assert _claim(app_ctx, a) == uid
    assert _claim(app_ctx, a, LATER + repo.REDELIVER_AFTER - dt.timedelta(seconds=1)) == []
    assert _claim(app_ctx, a, LATER + repo.REDELIVER_AFTER) == uid


def test_due_commands_expire_instead_of_being_delivered(app_ctx: AppContext) -> None:
    (a, _b) = _devices(app_ctx)
    uid = _queue(app_ctx, a)[0]
    assert _claim(app_ctx, a, NOW + dt.timedelta(hours=2)) == []
    row = _command(app_ctx, uid)
    assert row.status == CommandStatus.EXPIRED
    assert row.completed_at == NOW + dt.timedelta(hours=2)


def test_results_are_idempotent_and_unsupported_counts_as_failed(app_ctx: AppContext) -> None:
    (a, _b) = _devices(app_ctx)
    ok, no = _queue(app_ctx, a, n=2)
    _claim(app_ctx, a)
    assert _result(app_ctx, a, ok) is True
    assert _result(app_ctx, a, ok) is False
    assert _result(app_ctx, a, ok, "failed", detail="other") is False
    assert _command(app_ctx, ok).status == CommandStatus.ACKNOWLEDGED
    assert _result(app_ctx, a, no, "unsupported", detail="desktop agent") is True
    row = _command(app_ctx, no)
    assert row.status == CommandStatus.FAILED
    assert "Not supported" in row.result
    assert "desktop agent" in row.result


def test_another_devices_command_is_refused_and_unchanged(app_ctx: AppContext) -> None:
    a, b = _devices(app_ctx)
    uid = _queue(app_ctx, a)[0]
    _claim(app_ctx, a)
    with pytest.raises(repo.UnknownCommandError):
        _result(app_ctx, b, uid)
    with pytest.raises(repo.UnknownCommandError):
        _result(app_ctx, b, "0" * 32)
    with pytest.raises(ValueError, match="unknown command outcome"):
        _result(app_ctx, a, uid, "exploded")
    assert _command(app_ctx, uid).status == CommandStatus.DELIVERED


def test_retire_and_wipe_results_end_management(app_ctx: AppContext) -> None:
    a, b = _devices(app_ctx)
    retire = _queue(app_ctx, a, CommandType.RETIRE)[0]
    wipe = _queue(app_ctx, b, CommandType.WIPE)[0]
    _claim(app_ctx, a)
    _claim(app_ctx, b)
    _result(app_ctx, a, retire)
    _result(app_ctx, b, wipe)
    with app_ctx.uow() as uow:
        rows = uow.session.execute(select(Device.id, Device.status)).all()
    statuses = {int(r[0]): str(r[1]) for r in rows}
    assert statuses == {a: LifecycleStatus.RETIRED.value, b: LifecycleStatus.WIPED.value}


def test_retire_result_revokes_the_device_certificates(app_ctx: AppContext) -> None:
    (a, _b) = _devices(app_ctx)
    with app_ctx.uow(write=True) as uow:
        uow.session.add(
            DeviceCertificate(
                device_id=a,
                serial="1f2e3d",
                fingerprint="ab" * 32,
                not_before=NOW,
                not_after=NOW + dt.timedelta(days=365),
                issued_at=NOW,
            )
        )
        uow.commit()
    retire = _queue(app_ctx, a, CommandType.RETIRE)[0]
    _claim(app_ctx, a)
    _result(app_ctx, a, retire)
    with app_ctx.uow() as uow:
        cert = uow.session.scalars(select(DeviceCertificate).where(DeviceCertificate.device_id == a)).one()
        assert cert.revoked_at == LATER


def test_lost_mode_location_is_sealed_and_dropped_when_lost_mode_ends(app_ctx: AppContext) -> None:
    (a, _b) = _devices(app_ctx)
    lost = _queue(app_ctx, a, CommandType.LOST_MODE, message="Call reception")[0]
    _claim(app_ctx, a)
    _result(app_ctx, a, lost, location={"lat": 52.52, "lon": 13.405, "accuracy_m": 12.0})
    row = _command(app_ctx, lost)
    assert row.location_sealed is not None
    assert b"52.52" not in row.location_sealed
    with app_ctx.uow() as uow:
        found = repo.last_location(uow, a)
        assert uow.session.get(Device, a).status == LifecycleStatus.LOST.value  # type: ignore[union-attr]
    assert found is not None
    assert found[0] == {"lat": 52.52, "lon": 13.405, "accuracy_m": 12.0}
    off = _queue(app_ctx, a, CommandType.LOST_MODE, enable=False)[0]
    _claim(app_ctx, a)
    _result(app_ctx, a, off, location={"lat": 1.0, "lon": 2.0})
    with app_ctx.uow() as uow:
        assert repo.last_location(uow, a) is None
        assert uow.session.get(Device, a).status == LifecycleStatus.ENROLLED.value  # type: ignore[union-attr]


def test_location_is_ignored_for_other_commands(app_ctx: AppContext) -> None:
    (a, _b) = _devices(app_ctx)
    uid = _queue(app_ctx, a)[0]
    _claim(app_ctx, a)
    _result(app_ctx, a, uid, location={"lat": 1.0, "lon": 2.0})
    assert _command(app_ctx, uid).location_sealed is None


def test_concurrent_gateways_deliver_each_command_once(app_ctx: AppContext) -> None:
    devices = _devices(app_ctx, 4)
    queued = [uid for d in devices for uid in _queue(app_ctx, d, n=10)]
    delivered: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def gateway() -> None:
        try:
            for _round in range(4):
                for d in devices:
                    got = _claim(app_ctx, d, limit=3)
                    with lock:
                        delivered.extend(got)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=gateway) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Counter(delivered) == Counter(queued)


@pytest.mark.postgres
def test_skip_locked_lets_a_second_gateway_pass_over_claimed_rows(app_ctx: AppContext) -> None:
    if app_ctx.uow.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite serialises write transactions)")
    (a, _b) = _devices(app_ctx)
    queued = _queue(app_ctx, a, n=5)
    first_claimed, second_done = threading.Event(), threading.Event()
    got: dict[str, list[str]] = {}

    def first() -> None:
        with app_ctx.uow(write=True) as uow:
            got["first"] = [c.uid for c in repo.claim_pending(uow, a, LATER, limit=3)]
            first_claimed.set()
            second_done.wait(30)
            uow.commit()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_claimed.wait(30)
    got["second"] = _claim(app_ctx, a)
    second_done.set()
    thread.join()
    assert got["first"] == queued[:3]
    assert got["second"] == queued[3:]
    assert _claim(app_ctx, a) == []
