"""The catalog pane's "Add build…" action: file + version, stored off the GUI thread with progress."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Role
from mdm_desktop.domain.devices import Platform
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.catalog_add_build import AddBuildDialog
from mdm_desktop.gui.panes.catalog_pane import CatalogPane
from tests.conftest import user_session
from tests.gui.helpers import show_top_level
from tests.integration.fixtures_data import add_catalog_app

SHOTS = Path("/tmp/shots")


@pytest.fixture
def pane(qtbot: QtBot, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> CatalogPane:
    add_catalog_app(sqlite_ctx, "PACS Viewer", "com.clinic.pacs", Platform.WINDOWS, ["3.9", "4.0"], publisher="Agfa")
    add_catalog_app(sqlite_ctx, "Ward Notes", "org.clinic.wardnotes", Platform.LINUX, [])
    widget = CatalogPane(pane_ctx)
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    show_top_level(widget)
    widget.activate()
    qtbot.waitUntil(lambda: widget.detail_shown is not None, timeout=10_000)
    return widget


def _open(pane: CatalogPane) -> AddBuildDialog:
    assert pane.add_build_button.isEnabled()
    dialog = pane.open_add_build()
    assert dialog is not None
    return dialog


def test_a_build_is_added_with_progress_and_shown(qtbot: QtBot, pane: CatalogPane, tmp_path: Path) -> None:
    data = b"MSIX" * 700_000  # 2.7 MiB: several progress steps
    file = tmp_path / "pacs-4.1.msix"
    file.write_bytes(data)
    app = pane.detail_shown.summary if pane.detail_shown else None
    dialog = _open(pane)
    dialog.file_edit.setText(str(file))
    dialog.version_edit.setText("4.1")
    seen: list[int] = []
    dialog.relay.progressed.connect(lambda done, total: seen.append(done))
    if SHOTS.is_dir():
        dialog.grab().save(str(SHOTS / "h-gwbench-add-build-dialog.png"))

    finished: list[int] = []
    dialog.finished.connect(finished.append)
    dialog.start()
    assert dialog.busy
    assert not dialog.add_button.isEnabled()
    assert dialog.progress.isVisible()
    dialog.reject()  # refused while storing: nothing to interrupt
    assert finished == []
    qtbot.waitUntil(lambda: finished == [1], timeout=15_000)  # accepted (then deleted) once stored

    qtbot.waitUntil(
        lambda: (
            pane.detail_shown is not None
            and bool(pane.detail_shown.versions)
            and pane.detail_shown.versions[0].version == "4.1"
        ),
        timeout=10_000,
    )
    shown = pane.detail_shown
    assert app is not None
    assert shown is not None
    assert shown.summary.id == app.id
    assert shown.versions[0].sha256 == hashlib.sha256(data).hexdigest()
    assert seen
    assert seen[-1] == len(data)
    assert "Version 4.1 stored" in pane.notice_label.text()
    if SHOTS.is_dir():
        pane.grab().save(str(SHOTS / "h-gwbench-catalog-after-add.png"))


def test_errors_are_shown_in_the_dialog_and_nothing_is_added(qtbot: QtBot, pane: CatalogPane, tmp_path: Path) -> None:
    file = tmp_path / "pacs.msix"
    file.write_bytes(b"x" * 10)
    dialog = _open(pane)
    dialog.start()
    assert dialog.message.text() == "Choose the build's file."
    dialog.file_edit.setText(str(tmp_path / "nowhere.msix"))
    dialog.version_edit.setText("5.0")
    dialog.start()
    assert "is not a file" in dialog.message.text()
    dialog.file_edit.setText(str(file))
    dialog.version_edit.setText(pane.detail_shown.versions[0].version if pane.detail_shown else "")
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.message.isVisible(), timeout=10_000)
    assert "already has a version" in dialog.message.text()
    assert dialog.isVisible()
    assert dialog.add_button.isEnabled()
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).isEnabled()
    if SHOTS.is_dir():
        dialog.grab().save(str(SHOTS / "h-gwbench-add-build-error.png"))
    dialog.reject()


def test_a_read_only_role_cannot_add_builds(qtbot: QtBot, pane_ctx: PaneContext, sqlite_ctx: AppContext) -> None:
    add_catalog_app(sqlite_ctx, "PACS Viewer", "com.clinic.pacs", Platform.WINDOWS, ["4.0"])
    session = user_session(sqlite_ctx, "helpdesk2", Role.HELPDESK)
    widget = CatalogPane(dataclasses.replace(pane_ctx, session=session))  # type: ignore[call-arg]
    qtbot.addWidget(widget)
    widget.activate()
    qtbot.waitUntil(lambda: widget.detail_shown is not None, timeout=10_000)
    assert not widget.add_build_button.isEnabled()
    assert widget.open_add_build() is None
