"""The audit pane's 'By identifier' option: the search box's text is looked up by its keyed hash."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from mdm_desktop.app import AppContext
from mdm_desktop.gui.panes.audit_export_dialog import unapplied_filters
from mdm_desktop.gui.panes.audit_pane import AuditPane
from mdm_desktop.services.audit_values import keyed_hash
from mdm_desktop.services.dto import AuditQuery
from tests.gui.test_audit_pane import activate, append_entry, entries, pane  # noqa: F401  (fixtures)

SERIAL = "C02XK1ABJG5H"
STAFF = "Dr. Amara Lindqvist"


def _identifier_entries(ctx: AppContext) -> dict[str, int]:
    cipher = ctx.uow.cipher
    return {
        "enrolled": append_entry(
            ctx,
            action="device.enrolled",
            target_kind="device",
            target="3f9c0d1e",
            actor="3f9c0d1e",
            details={"serial": keyed_hash(cipher, SERIAL), "platform": "macos", "ownership": "corporate"},
        ),
        "viewed": append_entry(
            ctx,
            action="devices.view_identifiers",
            target_kind="device",
            target="3f9c0d1e",
            details={"serial": keyed_hash(cipher, SERIAL), "assigned_to": keyed_hash(cipher, STAFF)},
        ),
        "other": append_entry(
            ctx,
            action="devices.view_identifiers",
            target_kind="device",
            target="77aa01bc",
            details={"serial": keyed_hash(cipher, "C02OTHER0001")},
        ),
    }


def _ids(shown: AuditPane) -> list[int]:
    rows = [shown.model.row_at(r) for r in range(shown.model.rowCount())]
    return [r.id for r in rows if r is not None]


def test_by_identifier_finds_the_entries_that_recorded_the_value(
    qtbot: QtBot,
    pane: AuditPane,  # noqa: F811
    entries: list[int],  # noqa: F811
    sqlite_ctx: AppContext,
    tmp_path: Path,
) -> None:
    made = _identifier_entries(sqlite_ctx)
    activate(qtbot, pane)
    assert not pane.by_value_check.isChecked()
    assert pane.search_edit.placeholderText() == "Search the log"

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.search_edit.setText(SERIAL)  # as free text the clear value is found nowhere
    assert pane.model.rowCount() == 0

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.by_value_check.setChecked(True)
    assert pane.search_edit.placeholderText() == "Serial, hardware id or staff name"
    assert pane.model.query == AuditQuery(value=SERIAL)
    assert _ids(pane) == [made["viewed"], made["enrolled"]]
    qtbot.waitUntil(lambda: pane.count_label.text() == "2 entries match the filters", timeout=10_000)
    assert unapplied_filters(pane.model.query) == ["identifier"]

    pane.resize(1400, 900)
    pane.select_row(0)
    qtbot.wait(50)
    shots = Path("/tmp/shots")
    shots.mkdir(exist_ok=True)
    pane.grab().save(str(shots / "h-auditkh-by-identifier.png"))

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.search_edit.setText(f"  {STAFF.lower()} ")  # any case, spaces around
    assert _ids(pane) == [made["viewed"]]

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.search_edit.setText("ab")  # short values are hashed and looked up, not held back with a hint
    assert pane.model.rowCount() == 0
    assert not pane.search_hint.isVisible()

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.clear_filters()
    assert not pane.by_value_check.isChecked()
    assert pane.model.query == AuditQuery()
