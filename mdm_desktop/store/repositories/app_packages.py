"""Catalog build bytes in the store: written in chunks as they are hashed, streamed back chunk by chunk.

A package is keyed by its SHA-256; two catalog versions with identical bytes share one package.
The bytes live in ``app_package_chunks`` (at most :data:`CHUNK_BYTES` each) so neither the upload
nor the download ever holds a whole package in memory, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import delete, insert, select, update

from mdm_desktop.domain.commands import CommandType
from mdm_desktop.store.repositories.commands import OPEN_STATUSES
from mdm_desktop.store.schema import AppPackage, AppPackageChunk, DeviceCommand
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

CHUNK_BYTES = 1024 * 1024


class PackageTooLargeError(ValueError):
    """The file is larger than the limit; nothing was kept."""


@dataclass(frozen=True, slots=True)
class StoredPackage:
    """What :func:`store_package` wrote (or found already stored)."""

    sha256: str
    size_bytes: int
    already_stored: bool


def store_package(
    uow: UnitOfWork,
    source: BinaryIO,
    now: dt.datetime,
    *,
    limit: int,
    progress: Callable[[int], None] | None = None,
) -> StoredPackage:
    """Read ``source`` to its end, hashing it and writing its chunks, in the caller's transaction.

    The chunks go in under a provisional key (the hash is only known at the end) and are moved to the
    package's SHA-256 once it is; if those bytes were stored before, the new copy is dropped again.

    Raises:
        PackageTooLargeError: More than ``limit`` bytes (the caller rolls the transaction back).
    """
    provisional = f"upload-{uuid.uuid4().hex}"
    uow.session.add(AppPackage(sha256=provisional, size_bytes=0, chunk_count=0, added_at=now))
    uow.session.flush()
    digest = hashlib.sha256()
    size = 0
    seq = 0
    while chunk := source.read(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise PackageTooLargeError(f"larger than {limit:,} bytes")
        digest.update(chunk)
        uow.session.execute(insert(AppPackageChunk), [{"sha256": provisional, "seq": seq, "data": chunk}])
        seq += 1
        if progress is not None:
            progress(size)
    sha256 = digest.hexdigest()
    known = uow.session.get(AppPackage, sha256)
    temporary = uow.session.get(AppPackage, provisional)
    assert temporary is not None
    if known is None:
        uow.session.add(AppPackage(sha256=sha256, size_bytes=size, chunk_count=seq, added_at=now))
        uow.session.flush()
        uow.session.execute(
            update(AppPackageChunk)
            .where(AppPackageChunk.sha256 == provisional)
            .values(sha256=sha256)
            .execution_options(synchronize_session=False)
        )
    uow.session.execute(delete(AppPackageChunk).where(AppPackageChunk.sha256 == provisional))
    uow.session.delete(temporary)
    uow.session.flush()
    return StoredPackage(sha256, size, known is not None)


def package_size(uow: UnitOfWork, sha256: str) -> tuple[int, int] | None:
    """``(size in bytes, number of chunks)`` of a stored package, or ``None``."""
    row = uow.session.execute(
        select(AppPackage.size_bytes, AppPackage.chunk_count).where(AppPackage.sha256 == sha256)
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def device_may_download(uow: UnitOfWork, device_id: int, sha256: str) -> bool:
    """Whether the device has an open (queued or delivered) install command for this package."""
    payloads = uow.session.scalars(
        select(DeviceCommand.payload).where(
            DeviceCommand.device_id == device_id,
            DeviceCommand.type == CommandType.INSTALL_APP.value,
            DeviceCommand.status.in_(OPEN_STATUSES),
        )
    )
    return any(isinstance(p, dict) and p.get("sha256") == sha256 for p in payloads)


def iter_chunks(uow_factory: UnitOfWorkFactory, sha256: str, chunk_count: int) -> Iterator[bytes]:
    """The package's bytes, one chunk per short read transaction (a slow device holds no transaction open)."""
    for seq in range(chunk_count):
        with uow_factory() as uow:
            data = uow.session.scalar(
                select(AppPackageChunk.data).where(AppPackageChunk.sha256 == sha256, AppPackageChunk.seq == seq)
            )
        if data is None:
            raise LookupError(f"chunk {seq} of package {sha256[:12]} is missing")
        yield bytes(data)
