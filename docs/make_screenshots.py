"""Render the console's panes on a demo clinic to PNG files (the README's screenshots).

Usage::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py [--out docs/screenshots] [--devices 2000]

It builds a fresh demo store in a temporary folder, signs in as its administrator, opens the main window at
a clinic workstation's size (1400 x 900) and saves one PNG per pane once the pane has loaded its data, plus
the policy editor (``policy-editor.png``) and a device's compliance rules (``device-compliance.png``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QTableView

from mdm_desktop.app import open_app
from mdm_desktop.config import Config
from mdm_desktop.gui.launch import configure_application
from mdm_desktop.gui.main_window import MainWindow
from mdm_desktop.services.dto import SessionInfo

SCREEN = (1400, 900)
"""A clinic workstation's screen: every pane must fit it."""
PANES = (
    "devices",
    "policies",
    "catalog",
    "audit",
    "dashboard",
    "commands",
    "exceptions",
    "users",
    "access_requests",
    "security",
    "gateway",
)
"""MainWindow attributes of the panes to render (an administrator sees them all)."""


def wait(app: QApplication, seconds: float) -> None:
    """Let the event loop run (workers deliver their results) for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    """Build the demo store, render each pane, and write the PNG files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "screenshots"))
    parser.add_argument("--devices", type=int, default=2000)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication([])
    configure_application(app)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.resolve(
            db=str(Path(tmp) / "demo.sqlite3"), key_file=str(Path(tmp) / "kek.json"), env={"MDM_DATA_DIR": tmp}
        )
        ctx = open_app(config)
        try:
            demo = ctx.services.demo.generate(devices=args.devices, seed=2026)
            session: SessionInfo = sign_in_demo_admin(ctx, demo)
            settings = QSettings(str(Path(tmp) / "gui.ini"), QSettings.Format.IniFormat)
            window = MainWindow(ctx, session, settings=settings)
            window.resize(*SCREEN)
            window.show()
            for name in PANES:
                pane = getattr(window, name)
                window.show_pane(window.panes.index(pane))
                wait(app, 2.5)
                if name == "devices":
                    window.devices.table.selectRow(first_row_with(window.devices.table, "Non-compliant"))
                    wait(app, 1.5)
                if name == "devices":
                    save(window.grab(), out, "devices")
                    window.devices.detail.tabs.setCurrentIndex(2)  # the rules checked, failing first
                    wait(app, 0.5)
                    name = "device-compliance"
                save(window.grab(), out, name)
            render_policy_editor(app, window, out)
            window.close()
            wait(app, 0.2)
        finally:
            ctx.close()
    return 0


def first_row_with(table: QTableView, text: str) -> int:
    """The first row of ``table`` with a cell reading ``text`` (0 when none does)."""
    model = table.model()
    for row in range(model.rowCount()):
        if any(model.index(row, col).data() == text for col in range(model.columnCount())):
            return row
    return 0


def save(image: QPixmap, out: Path, name: str) -> None:
    """Write ``image`` as ``out/<name with hyphens>.png`` (``access-requests.png``) and say so."""
    path = out / f"{name.replace('_', '-')}.png"
    image.save(str(path))
    print(f"wrote {path}")


def render_policy_editor(app: QApplication, window: MainWindow, out: Path) -> None:
    """Open the editor on the first policy (its draft) and save it with the window behind it."""
    window.show_pane(window.panes.index(window.policies))
    window.policies.table.selectRow(0)
    wait(app, 1.5)
    editor = window.policies.edit_selected()
    if editor is None:
        print("policy editor: no policy to edit")
        return
    editor.resize(min(editor.width(), SCREEN[0] - 80), min(editor.height(), SCREEN[1] - 80))
    wait(app, 2.5)
    save(editor.grab(), out, "policy-editor")
    editor.reject()
    wait(app, 0.2)


def sign_in_demo_admin(ctx: object, demo: object) -> SessionInfo:
    """Sign in as the demo administrator (with a TOTP code when the demo enrolled an authenticator)."""
    from mdm_desktop.app import AppContext
    from mdm_desktop.services.dto import DemoResult

    assert isinstance(ctx, AppContext)
    assert isinstance(demo, DemoResult)
    secret = getattr(demo, "admin_totp_secret", "") or ""
    code = None
    if secret:
        import pyotp

        code = pyotp.TOTP(secret).now()
    return ctx.services.auth.sign_in(demo.admin_username, demo.admin_password, code)


if __name__ == "__main__":
    raise SystemExit(main())
