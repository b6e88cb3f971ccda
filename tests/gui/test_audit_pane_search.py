"""The audit pane's search box: text shorter than the index can answer shows an inline hint."""

from __future__ import annotations

from mdm_desktop.gui.panes.audit_pane import AuditPane
from mdm_desktop.services.audit import SEARCH_MIN_CHARS
from tests.gui.test_audit_pane import activate, entries, pane  # noqa: F401  (fixtures)


def test_short_search_text_shows_a_hint_and_is_not_searched(
    qtbot,
    pane: AuditPane,  # noqa: F811
    entries: list[int],  # noqa: F811
) -> None:
    activate(qtbot, pane)
    shown = pane.model.query
    assert not pane.search_hint.isVisible()
    with qtbot.assertNotEmitted(pane.model.page_loaded, wait=500):
        pane.search_edit.setText("lo")
        qtbot.waitUntil(pane.search_hint.isVisible, timeout=5_000)
    assert str(SEARCH_MIN_CHARS) in pane.search_hint.text()
    assert pane.model.query == shown

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.search_edit.setText("lost phone")
    assert not pane.search_hint.isVisible()
    assert pane.model.query.text == "lost phone"
    rows = [pane.model.row_at(r) for r in range(pane.model.rowCount())]
    assert rows
    assert all("lost phone" in r.details for r in rows if r is not None)

    with qtbot.waitSignal(pane.model.page_loaded, timeout=10_000):
        pane.search_edit.setText("l")  # back to short: the search is dropped, the other filters stay
    assert pane.search_hint.isVisible()
    assert pane.model.query.text == ""
