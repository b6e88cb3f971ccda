r"""Field encryption (AES-256-GCM) and blind indexes for sensitive columns.

A sealed value is ``b"\x01" + nonce(12) + ciphertext+tag``. The associated data
binds the value to its table, column and row, so a ciphertext copied to another
row or column fails to open. Equality search on an encrypted identifier uses a
blind index: HMAC-SHA-256 under a separate key over the normalised value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from mdm_desktop.domain.errors import KeyMaterialError

SEAL_VERSION = b"\x01"
NONCE_SIZE = 12
TAG_SIZE = 16


def _aad(table: str, column: str, row: str) -> bytes:
    return f"mdm-desktop|{table}|{column}|{row}".encode()


def is_sealed(value: bytes) -> bool:
    """Return whether ``value`` has the shape of a sealed field."""
    return len(value) >= 1 + NONCE_SIZE + TAG_SIZE and value[:1] == SEAL_VERSION


class FieldCipher:
    """Seals and opens sensitive column values with AES-GCM.

    Args:
        data_key: 32-byte AES key for field values.
        index_key: 32-byte HMAC key for blind indexes.
    """

    def __init__(self, data_key: bytes, index_key: bytes) -> None:
        if len(data_key) != 32 or len(index_key) != 32:
            raise KeyMaterialError("Encryption keys have the wrong length.", hint="Restore the key file.")
        self._aead = AESGCM(data_key)
        self._index_key = index_key

    def seal(self, plaintext: str | None, *, table: str, column: str, row: str) -> bytes | None:
        """Encrypt ``plaintext`` bound to ``table``/``column``/``row``; ``None`` stays ``None``."""
        if plaintext is None:
            return None
        nonce = os.urandom(NONCE_SIZE)
        ct = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _aad(table, column, row))
        return SEAL_VERSION + nonce + ct

    def open(self, sealed: bytes | None, *, table: str, column: str, row: str) -> str | None:
        """Decrypt a value sealed by :meth:`seal` for the same table, column and row.

        Raises:
            KeyMaterialError: The value was altered, moved, or sealed under another key.
        """
        if sealed is None:
            return None
        if not is_sealed(sealed):
            raise KeyMaterialError(f"Stored value in {table}.{column} is not a sealed field.")
        nonce = sealed[1 : 1 + NONCE_SIZE]
        try:
            pt = self._aead.decrypt(nonce, sealed[1 + NONCE_SIZE :], _aad(table, column, row))
        except InvalidTag as exc:
            raise KeyMaterialError(
                f"A protected value in {table}.{column} could not be decrypted.",
                hint="The data was altered or the key file does not belong to this store.",
            ) from exc
        return pt.decode("utf-8")

    def blind_index(self, value: str | None, *, purpose: str) -> bytes | None:
        """Keyed hash of a normalised value for equality search; ``None`` stays ``None``."""
        if value is None:
            return None
        normalized = " ".join(value.split()).casefold()
        return hmac.new(self._index_key, f"{purpose}|{normalized}".encode(), hashlib.sha256).digest()[:16]


class SealedBytes(TypeDecorator[bytes]):
    """Column type for sensitive values: accepts only sealed bytes, never clear text.

    Sealing needs the row's identity, so repositories seal with
    :class:`FieldCipher`; this type refuses anything that is not sealed, so a
    plaintext value can never reach the column by mistake.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, bytes | bytearray | memoryview) or not is_sealed(bytes(value)):
            raise TypeError("SealedBytes columns accept only values sealed by FieldCipher.")
        return bytes(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes(value)
