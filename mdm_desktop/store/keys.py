"""Data keys of a store, wrapped by the workstation's key-encryption key.

``checkpoint`` is the 32-byte seed of the store's Ed25519 audit checkpoint signing key
(:mod:`mdm_desktop.services.audit_chain`). Stores made before it existed get it the next
time they are opened, like any other missing key.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mdm_desktop.security.keyring import KeyEncryptionKey
from mdm_desktop.store.engine import WRITE_OPTION
from mdm_desktop.store.schema import KeyMaterial

PURPOSES = ("data", "index", "audit", "checkpoint")


@dataclass(frozen=True, slots=True)
class StoreKeys:
    """Unwrapped data keys, held only in memory."""

    data: bytes
    index: bytes
    audit: bytes
    checkpoint: bytes


def load_or_create_store_keys(engine: Engine, kek: KeyEncryptionKey) -> StoreKeys:
    """Unwrap the store's data keys, creating them on first use.

    Raises:
        KeyMaterialError: The store's keys were wrapped by another key file.
    """
    for _attempt in range(3):
        with Session(engine.execution_options(**{WRITE_OPTION: True})) as session:
            rows = {row.purpose: row for row in session.scalars(select(KeyMaterial))}
            missing = [p for p in PURPOSES if p not in rows]
            if not missing:
                return StoreKeys(**{p: kek.unwrap(rows[p].wrapped_key) for p in PURPOSES})
            now = dt.datetime.now(dt.UTC)
            for purpose in missing:
                session.add(
                    KeyMaterial(
                        purpose=purpose,
                        wrapped_key=kek.wrap(os.urandom(32)),
                        kek_fingerprint=kek.fingerprint,
                        created_at=now,
                    )
                )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another workstation created them first; read theirs
    raise RuntimeError("could not establish store keys")  # pragma: no cover
