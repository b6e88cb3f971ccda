"""The one module that loads shipped resources (icons, style sheet) from ``mdm_desktop/resources``.

Resources are read through :mod:`importlib.resources`, so they work from a source
checkout, an installed wheel and a frozen bundle alike.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

_PACKAGE = "mdm_desktop.resources"
_ICON_SIZES = (16, 20, 24, 32, 48, 64, 128)
ICONS_PLACEHOLDER = "@ICONS@"


def _root() -> Traversable:
    return resources.files(_PACKAGE)


def icon_names() -> tuple[str, ...]:
    """Names of every shipped icon (file names without ``.svg``), sorted."""
    return tuple(
        sorted(
            entry.name.removesuffix(".svg")
            for entry in _root().joinpath("icons").iterdir()
            if entry.name.endswith(".svg")
        )
    )


def icon(name: str) -> QIcon:
    """The shipped SVG icon ``name`` (for example ``"devices"``), crisp at every size.

    Raises:
        KeyError: No icon of that name is shipped.
    """
    entry = _root().joinpath("icons", f"{name}.svg")
    if not entry.is_file():
        raise KeyError(f"No icon named {name!r}; shipped icons: {', '.join(icon_names())}")
    if isinstance(entry, Path):
        # A real file: let the SVG icon engine render it at whatever size is asked.
        return QIcon(str(entry))
    return _icon_from_svg(entry.read_bytes())


def _icon_from_svg(data: bytes) -> QIcon:
    """Render SVG bytes into pixmaps of the common sizes (resources inside a zip)."""
    renderer = QSvgRenderer(QByteArray(data))
    result = QIcon()
    for size in _ICON_SIZES:
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        result.addPixmap(pixmap)
    return result


def stylesheet() -> str:
    """The application style sheet, with icon URLs pointing at the shipped icons.

    When the resources are not plain files (for example inside a zip), image
    references are dropped and Qt draws its own arrows.
    """
    text = _root().joinpath("styles", "app.qss").read_text(encoding="utf-8")
    icons_dir = _root().joinpath("icons")
    if isinstance(icons_dir, Path):
        return text.replace(ICONS_PLACEHOLDER, icons_dir.resolve().as_posix())
    kept = [line for line in text.splitlines() if ICONS_PLACEHOLDER not in line]
    return "\n".join(kept) + "\n"


def app_icon() -> QIcon:
    """The application's window icon."""
    return icon("app")


__all__ = ["app_icon", "icon", "icon_names", "stylesheet"]
