"""The Gateway page: start and stop the in-process gateway, enrolment tokens with their QR code."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.gui.models.token_model import COLUMN_INDEX, TokenTableModel, token_rows
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.gateway_page import GatewayPane, GatewayState, bind_text, parse_names
from mdm_desktop.services.enrollment import TokenInfo, qr_payload
from mdm_desktop.store.schema import AuditEntry
from tests.conftest import user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_groups

SHOTS = Path("/tmp/shots")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _audit(ctx: AppContext, action: str) -> list[AuditEntry]:
    with ctx.uow() as uow:
        rows = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        uow.session.expunge_all()
        return list(rows)


def _shot(widget: object, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    widget.grab().save(str(SHOTS / f"h-gwgui-{name}.png"))  # type: ignore[attr-defined]


@pytest.fixture
def pane(qtbot, pane_ctx: PaneContext) -> Iterator[GatewayPane]:  # type: ignore[no-untyped-def]
    widget = GatewayPane(pane_ctx)
    qtbot.addWidget(widget)
    show_top_level(widget)
    yield widget
    widget.shutdown()


def _on_loopback(pane: GatewayPane) -> int:
    port = _free_port()
    pane.host_edit.setText("127.0.0.1")
    pane.port_spin.setValue(port)
    pane.names_edit.setText("127.0.0.1, localhost")
    return port


def _start(qtbot, pane: GatewayPane) -> None:  # type: ignore[no-untyped-def]
    pane.start_button.click()
    qtbot.waitUntil(lambda: pane.state in (GatewayState.RUNNING, GatewayState.FAILED), timeout=30_000)
    assert pane.state is GatewayState.RUNNING, pane.failure


def _info(uid: str, state_shift: dt.timedelta, **kw: object) -> TokenInfo:
    now = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
    values: dict[str, object] = {
        "uid": uid,
        "group_id": None,
        "group_name": "<b>Ward 3</b>",
        "ownership": Ownership.BYOD,
        "uses_allowed": 5,
        "uses_left": 2,
        "expires_at": now + state_shift,
        "created_by": "admin",
        "created_at": now,
        "last_used_at": now,
        "revoked_at": None,
    }
    values.update(kw)
    return TokenInfo(**values)  # type: ignore[arg-type]


def test_helpers() -> None:
    assert parse_names(" gw.clinic.lan, 10.0.0.5 ;10.0.0.5\nlocalhost ") == ("gw.clinic.lan", "10.0.0.5", "localhost")
    assert parse_names("") == ()
    assert bind_text("0.0.0.0", 8443) == "0.0.0.0:8443"
    assert bind_text("[::1]", 8443) == "[::1]:8443"


def test_token_model_passes_qtmodeltester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = TokenTableModel()
    qtmodeltester.check(model)
    now = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC)
    infos = (
        _info("a" * 32, dt.timedelta(hours=2)),
        _info("b" * 32, -dt.timedelta(hours=1)),
        _info("c" * 32, dt.timedelta(hours=5), revoked_at=now),
        _info("d" * 32, dt.timedelta(hours=5), uses_left=0, ownership=Ownership.CORPORATE),
    )
    model.set_rows(token_rows(infos, now))
    qtmodeltester.check(model)
    states = [model.data(model.index(r, COLUMN_INDEX["state"])) for r in range(4)]
    assert states == ["Active", "Expired", "Revoked", "Used up"]
    assert model.data(model.index(0, COLUMN_INDEX["label"])) == "a" * 12
    assert model.data(model.index(0, COLUMN_INDEX["uses"])) == "2 of 5"
    assert model.data(model.index(0, COLUMN_INDEX["used"])) == "3"
    assert model.data(model.index(0, COLUMN_INDEX["group"])) == "<b>Ward 3</b>"
    model.set_rows([])
    qtmodeltester.check(model)


def test_start_and_stop_on_a_loopback_port(qtbot, pane: GatewayPane, sqlite_ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    assert pane.state is GatewayState.STOPPED
    assert pane.state_label.text().startswith("Stopped")
    assert not pane.stop_button.isEnabled()
    port = _on_loopback(pane)

    _start(qtbot, pane)

    assert pane.state_label.text().startswith(f"Running on https://127.0.0.1:{port}")
    assert pane.status is not None
    assert pane.status.names == ("127.0.0.1", "localhost")
    assert not pane.start_button.isEnabled()
    assert pane.stop_button.isEnabled()
    assert not pane.restart_button.isEnabled()
    qtbot.waitUntil(lambda: pane.data is not None and pane.data.authority is not None, timeout=10_000)
    ca = sqlite_ctx.services.enrollment.authority()
    assert pane.fingerprint() == ca.fingerprint_display
    pane.copy_fingerprint()
    assert QApplication.clipboard().text() == ca.fingerprint_display
    with httpx.Client(verify=_ssl(ca.certificate_pem), timeout=10) as http:
        assert http.get(f"https://127.0.0.1:{port}/v1/openapi.json").status_code == 200
    started = _audit(sqlite_ctx, "gateway.started")
    assert [(e.actor, e.target) for e in started] == [("admin", f"https://127.0.0.1:{port}")]
    _shot(pane, "running")

    pane.stop_button.click()
    qtbot.waitUntil(lambda: pane.state is GatewayState.STOPPED, timeout=30_000)
    assert pane.status is None
    assert pane.controller.status is None
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=_ssl(ca.certificate_pem), timeout=5) as http:
        http.get(f"https://127.0.0.1:{port}/v1/openapi.json")
    assert [e.actor for e in _audit(sqlite_ctx, "gateway.stopped")] == ["admin"]
    # the address and names are remembered for the next start
    assert pane.ctx.settings.value("gateway/port") in (port, str(port))


def _ssl(ca_pem: str) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca_pem)


def test_changed_names_restart_with_a_new_certificate(qtbot, pane: GatewayPane, sqlite_ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    _on_loopback(pane)
    _start(qtbot, pane)
    pane.names_edit.setText("localhost, 127.0.0.1, gateway.clinic.lan")
    assert pane.restart_button.isEnabled()
    pane.restart_button.click()
    qtbot.waitUntil(lambda: pane.state is GatewayState.RUNNING and pane.status is not None, timeout=30_000)
    assert pane.status is not None
    assert pane.status.names == ("localhost", "127.0.0.1", "gateway.clinic.lan")
    assert pane.status.url.startswith("https://localhost:")
    certificates = _audit(sqlite_ctx, "gateway.server_certificate")
    assert len(certificates) == 2
    assert "gateway.clinic.lan" in certificates[-1].details


def test_a_port_in_use_fails_with_the_reason(qtbot, pane: GatewayPane) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        pane.host_edit.setText("127.0.0.1")
        pane.port_spin.setValue(busy.getsockname()[1])
        pane.names_edit.setText("127.0.0.1")
        pane.start_button.click()
        qtbot.waitUntil(lambda: pane.state is GatewayState.FAILED, timeout=30_000)
    assert "Another program already uses port" in pane.state_label.text()
    assert pane.start_button.isEnabled()
    _shot(pane, "failed")
    pane.names_edit.setText(" , ")
    pane.start_button.click()
    assert "at least one host name" in pane.state_label.text()


def test_without_site_settings_the_gateway_cannot_be_started(  # type: ignore[no-untyped-def]
    qtbot, pane_ctx: PaneContext, sqlite_ctx: AppContext
) -> None:
    technician = user_session(sqlite_ctx, "tech1", Role.IT_TECHNICIAN)
    ctx = PaneContext(
        services=pane_ctx.services,
        session=technician,
        runner=pane_ctx.runner,
        errors=pane_ctx.errors,
        settings=pane_ctx.settings,
    )
    widget = GatewayPane(ctx)
    qtbot.addWidget(widget)
    assert not widget.start_button.isEnabled()
    assert not widget.host_edit.isEnabled()
    assert widget.create_button.isEnabled()
    port = _free_port()
    with pytest.raises(Exception, match="does not allow"):
        widget.controller.start(technician.principal, f"127.0.0.1:{port}", ("127.0.0.1",))
    assert widget.controller.status is None


def test_create_show_once_save_and_revoke_a_token(  # type: ignore[no-untyped-def]
    qtbot, pane: GatewayPane, sqlite_ctx: AppContext, tmp_path: Path
) -> None:
    add_groups(sqlite_ctx, ["Ward 3", "Front desk"])
    _on_loopback(pane)
    _start(qtbot, pane)
    qtbot.waitUntil(lambda: pane.data is not None, timeout=10_000)
    assert pane.model.rowCount() == 0

    pane.open_create_dialog()
    qtbot.waitUntil(lambda: pane.create_dialog is not None and pane.create_dialog.isVisible(), timeout=10_000)
    dialog = pane.create_dialog
    assert dialog is not None
    assert dialog.server_edit.text() == pane.status.url  # type: ignore[union-attr]
    assert dialog.lifetime_combo.currentText() == "1 hour"
    dialog.group_combo.setCurrentIndex(dialog.group_combo.findText("Ward 3"))
    dialog.uses_spin.setValue(3)
    dialog.byod_radio.setChecked(True)
    assert dialog.notice_label.isVisible()
    assert "selective wipe" in dialog.notice_label.text()
    _shot(dialog, "create-dialog")
    with qtbot.waitSignal(pane.token_issued, timeout=10_000) as issued_signal:
        dialog.create_button.click()
    issued = issued_signal.args[0]
    shown = pane.issued_dialog
    assert shown is not None
    assert shown.token_edit.text() == issued.token
    assert shown.payload_edit.text() == qr_payload(pane.status.url, issued.token, issued.ca_fingerprint)  # type: ignore[union-attr]
    assert not shown.qr_label.pixmap().isNull()
    assert "shown only now" in shown.warning_label.text()
    shown.copy_token_button.click()
    assert QApplication.clipboard().text() == issued.token
    target = tmp_path / "ward3"
    shown.choose_png_path = lambda: str(target)  # type: ignore[method-assign]
    shown.save_button.click()
    assert shown.saved_to == tmp_path / "ward3.png"
    assert (tmp_path / "ward3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown.choose_png_path = lambda: str(tmp_path / "missing" / "x.png")  # type: ignore[method-assign]
    shown.save_button.click()
    assert "Could not save" in shown.status_label.text()
    _shot(shown, "token-shown")
    shown.reject()

    qtbot.waitUntil(lambda: pane.model.rowCount() == 1, timeout=10_000)
    row = pane.model.row_at(0)
    assert row is not None
    assert (row.info.group_name, row.info.ownership, row.info.uses_left) == ("Ward 3", Ownership.BYOD, 3)
    _shot(pane, "tokens")

    pane.table.selectRow(0)
    assert pane.revoke_button.isEnabled()
    pane.confirm_revoke()
    box = pane.pending_confirm
    assert box is not None
    assert row.label in box.text()
    with qtbot.waitSignal(pane.token_revoked, timeout=10_000):
        box.yes_button.click()
    qtbot.waitUntil(lambda: pane.model.rowCount() == 0, timeout=10_000)
    pane.show_all_check.setChecked(True)
    assert pane.model.data(pane.model.index(0, COLUMN_INDEX["state"])) == "Revoked"
    assert pane.count_label.text() == "0 usable of 1"
    assert [e.actor for e in _audit(sqlite_ctx, "enrollment.token_revoked")] == ["admin"]


def test_create_refusals_are_shown_in_the_dialog(qtbot, pane: GatewayPane) -> None:  # type: ignore[no-untyped-def]
    pane.activate()
    qtbot.waitUntil(lambda: pane.data is not None, timeout=10_000)
    pane.open_create_dialog()
    qtbot.waitUntil(lambda: pane.create_dialog is not None, timeout=10_000)
    dialog = pane.create_dialog
    assert dialog is not None
    assert dialog.server_edit.text() == ""  # no gateway has run on this store
    dialog.create_button.click()
    assert dialog.error_label.isVisible()
    assert "gateway address" in dialog.error_label.text()
    dialog.server_edit.setText("http://gateway.clinic.lan")
    dialog.create_button.click()
    qtbot.waitUntil(lambda: "is not a gateway address" in dialog.error_label.text(), timeout=10_000)
    assert dialog.create_button.isEnabled()
    assert pane.issued_dialog is None
    dialog.reject()


def test_shutdown_stops_a_running_gateway(qtbot, pane: GatewayPane, sqlite_ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    _on_loopback(pane)
    _start(qtbot, pane)
    pane.shutdown()
    assert pane.controller.status is None
    stopped = _audit(sqlite_ctx, "gateway.stopped")
    assert [(e.actor, e.details) for e in stopped] == [("gateway", '{"reason":"console closed"}')]


def test_closing_the_window_stops_the_gateway(  # type: ignore[no-untyped-def]
    qtbot, sqlite_ctx: AppContext, admin_session, settings
) -> None:
    from mdm_desktop.gui.main_window import MainWindow

    window = MainWindow(sqlite_ctx, admin_session, settings=settings, watch_input=False)
    qtbot.addWidget(window)
    page = window.gateway
    assert page is not None
    window.show_pane(window.panes.index(page))
    _on_loopback(page)
    _start(qtbot, page)
    qtbot.waitUntil(lambda: window.runner.pending == 0, timeout=10_000)
    window.close()
    assert page.controller.status is None
    assert [e.actor for e in _audit(sqlite_ctx, "gateway.stopped")] == ["gateway"]
