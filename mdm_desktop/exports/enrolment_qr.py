"""The enrolment QR code as a PNG image (segno), shared by ``token create --qr`` and the console.

The payload itself (server URL, token, CA fingerprint) is made by
:func:`mdm_desktop.services.enrollment.qr_payload`; this module only draws it.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno

QR_ERROR_LEVEL = "m"
QR_SCALE = 8
QR_BORDER = 4


def qr_png(payload: str, *, scale: int = QR_SCALE, border: int = QR_BORDER) -> bytes:
    """The QR code of ``payload`` as PNG bytes (error correction M, ``scale`` pixels a module)."""
    buffer = io.BytesIO()
    segno.make(payload, error=QR_ERROR_LEVEL).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()


def save_qr_png(payload: str, path: Path) -> None:
    """Write the QR code of ``payload`` to ``path`` (a ``.png`` file), replacing it whole or not at all."""
    data = qr_png(payload)
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    partial.replace(path)
