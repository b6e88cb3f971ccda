"""Render the console's panes on a demo clinic to PNG files (the README's screenshots).

Usage::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py [--out docs/screenshots] [--devices 2000]

It builds a fresh demo store in a temporary folder, signs in as its administrator, opens the main window at
a clinic workstation's size (1440 x 900) and saves one PNG per pane once the pane has loaded its data.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from mdm_desktop.app import open_app
from mdm_desktop.config import Config
from mdm_desktop.gui.launch import configure_application
from mdm_desktop.gui.main_window import MainWindow
from mdm_desktop.services.dto import SessionInfo

PANES = ("devices", "policies", "catalog", "audit", "dashboard", "users", "access_requests", "security")
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
            window.resize(1440, 900)
            window.show()
            for name in PANES:
                pane = getattr(window, name)
                window.show_pane(window.panes.index(pane))
                wait(app, 2.5)
                if name == "devices":
                    window.devices.table.selectRow(3)
                    wait(app, 1.5)
                window.grab().save(str(out / f"{name}.png"))
                print(f"wrote {out / f'{name}.png'}")
            window.close()
            wait(app, 0.2)
        finally:
            ctx.close()
    return 0


def sign_in_demo_admin(ctx: object, demo: object) -> SessionInfo:
    """Sign in as the demo administrator (with a TOTP code when the demo enrolled an authenticator)."""
    from mdm_desktop.app import AppContext
    from mdm_desktop.services.demo_fleet import DemoResult

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
