"""The key-encryption key (KEK) file kept outside the database.

The KEK never enters the database. It wraps (AES key wrap, RFC 3394) the data
keys that the store keeps in its ``key_material`` table; without the key file,
the sealed columns cannot be read.

File format (JSON, owner-only permissions)::

    {"format": "mdm-desktop-kek", "version": 1, "kek": "<base64 32 bytes>"}
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from mdm_desktop.domain.errors import KeyMaterialError

KEY_FORMAT = "mdm-desktop-kek"


@dataclass(frozen=True, slots=True)
class KeyEncryptionKey:
    """A loaded KEK and where it came from."""

    key: bytes
    path: Path

    @property
    def fingerprint(self) -> str:
        """Short, non-secret identifier of the key (first 16 hex digits of SHA-256)."""
        return hashlib.sha256(b"kek-fingerprint|" + self.key).hexdigest()[:16]

    def wrap(self, data_key: bytes) -> bytes:
        """Wrap a data key with this KEK."""
        return aes_key_wrap(self.key, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        """Unwrap a data key, failing clearly when this KEK is not the one used."""
        try:
            return aes_key_unwrap(self.key, wrapped)
        except InvalidUnwrap as exc:
            raise KeyMaterialError(
                f"The key file {self.path} does not belong to this store.",
                hint="Point MDM_KEY_FILE (or --key-file) at the key file this store was created with.",
            ) from exc


def load_or_create_kek(path: Path) -> KeyEncryptionKey:
    """Load the KEK at ``path``, creating it with owner-only permissions if absent.

    Raises:
        KeyMaterialError: The file exists but is unreadable, malformed, or
            readable by other users.
    """
    if not path.exists():
        return _create(path)
    try:
        mode = path.stat().st_mode
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyMaterialError(f"Cannot read the key file {path}: {exc.strerror}.") from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyMaterialError(
            f"The key file {path} can be read by other users.",
            hint=f"Run: chmod 600 {path}",
        )
    try:
        doc = json.loads(raw)
        if doc.get("format") != KEY_FORMAT:
            raise ValueError("not a key file")
        key = base64.b64decode(doc["kek"], validate=True)
        if len(key) != 32:
            raise ValueError("wrong key length")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyMaterialError(
            f"The key file {path} is damaged or is not an MDM Desktop key file.",
            hint="Restore it from your key backup.",
        ) from exc
    return KeyEncryptionKey(key=key, path=path)


def _create(path: Path) -> KeyEncryptionKey:
    key = os.urandom(32)
    doc = {"format": KEY_FORMAT, "version": 1, "kek": base64.b64encode(key).decode("ascii")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyMaterialError(
            f"Cannot create the key file {path}: {exc.strerror}.",
            hint="Choose a folder you can write to with --key-file or MDM_KEY_FILE.",
        ) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise KeyMaterialError(f"Cannot write the key file {path}: {exc.strerror}.") from exc
    return KeyEncryptionKey(key=key, path=path)
