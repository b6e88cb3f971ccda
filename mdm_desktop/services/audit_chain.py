"""Verifying the tamper-evident audit chain, and signed checkpoints (issue 5).

Verification streams the entries in id order, a batch at a time (never the whole table in
memory), inside one read transaction, and stops at the first bad entry:

- an entry whose keyed hash does not match its stored content, number and previous hash is
  **modified**, unless the next entry continues the chain as if it were not there: then it
  was **inserted** (so is a forged entry past the head record, or one that reuses a number);
- a good entry that does not sit where the sequence expects it: the expected entry is
  elsewhere (**reordered**) or nowhere (**missing**, a gap);
- a chain that stops before the ``audit_head`` record: **truncated**;
- a chain that no longer holds a signed checkpoint's head entry: **rolled_back** (an older copy
  was restored and written to, or everything was rewritten); one shorter than the checkpoint is
  **rolled_back** when the head record agrees with it (a restored backup) and **truncated** when not.

Pruning (:mod:`mdm_desktop.services.audit_retention`) removes a prefix of the chain and leaves a
signed anchor (``audit_anchors``) per prune. The chain then starts right after the newest anchor and
its first entry links to the anchor's hash. Anchors must follow each other without a gap from entry 1
and carry a valid signature of this store's checkpoint key; a forged, altered or unsigned anchor, or
a prefix removed without one, is **missing** (truncated at the head). Checkpoints that precede the
newest anchor are still accepted; one that names an anchor's last entry must carry its hash.

Checkpoints are Ed25519 signatures (the store's checkpoint key, wrapped by the key-encryption
key) over (entry count, head seq, head hash, UTC time). They are exported to JSON files for
off-box keeping, and each workstation remembers the newest one it has seen for a store, in
its data folder, to warn when the chain no longer extends it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Text, func, select, type_coerce

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import (
    CHECKPOINT_FORMAT,
    HASH_V2,
    AuditDamage,
    EntryFields,
    Outcome,
    chain_bytes,
    chain_text_bytes,
    checkpoint_bytes,
    utc_text,
)
from mdm_desktop.domain.errors import ConflictError, MdmError, ValidationError
from mdm_desktop.services.audit_log import HEAD_ID, AuditChainError, AuditLog, entry_digest, write_pending
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import AuditCheckpoint, AuditProblem, AuditVerifyReport, CheckpointStatus
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.schema import AuditAnchor, AuditEntry, AuditHead
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

BATCH_SIZE = 2000
CHECKPOINT_EVERY = dt.timedelta(hours=24)
"""How old the last checkpoint may get before :meth:`AuditChainService.make_checkpoint_if_due` makes one."""
CHECKPOINT_VERSION = 1
MAX_CHECKPOINT_FILE = 64 * 1024
_ANCHOR_TAG = b"mdm-desktop-audit-anchor-v1"

Progress = Callable[[int, int], None]
"""``progress(done, total)``: entries checked so far and the number in the log when verification began."""
ShouldStop = Callable[[], bool]
"""``should_stop()``: asked after each batch; True ends the verification with :class:`VerifyCancelledError`."""


class VerifyCancelledError(MdmError):
    """The verification was stopped on request before it finished; nothing was concluded (or audited)."""

    def __init__(self, checked: int, total: int) -> None:
        super().__init__(
            f"Verification cancelled after {checked:,} of {total:,} entries; the audit trail was not judged.",
            hint="Run the verification again and let it finish.",
        )
        self.checked = checked
        self.total = total


# -- reading the chain -----------------------------------------------------------------------------------------


class _Row(NamedTuple):
    """One entry as the checks of a suspicious entry see it (built only off the fast path)."""

    id: int
    seq: int
    version: int
    prev_hash: str
    entry_hash: str
    fields: EntryFields


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.seq,
    AuditEntry.hash_version,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
    AuditEntry.occurred_at,
    AuditEntry.actor_kind,
    AuditEntry.actor,
    AuditEntry.workstation,
    AuditEntry.action,
    AuditEntry.target_kind,
    AuditEntry.target,
    AuditEntry.outcome,
    AuditEntry.details,
)
_TEXTS = 6
"""Index of the first of the eight text fields in a row read with :data:`_COLUMNS`."""


_SQLITE_COLUMNS = (*_COLUMNS[:5], type_coerce(AuditEntry.occurred_at, Text).label("occurred_at"), *_COLUMNS[6:])
"""On SQLite the time is read as its stored text (see :func:`_time_text`), not parsed into a datetime."""


def _sqlite_time(stored: Any) -> dt.datetime:
    """A time as SQLite stores it (naive UTC text, microseconds) as an aware UTC datetime."""
    when = stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(stored)
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _time_text(stored: Any) -> str | None:
    """:func:`~mdm_desktop.domain.audit.utc_text` of a time as read, or ``None`` when it needs the slow way.

    SQLite keeps ``YYYY-MM-DD HH:MM:SS.ffffff`` (naive UTC), whose UTC text is the same characters
    with a ``T`` and ``+00:00``: no datetime is built. Anything else (a datetime from PostgreSQL,
    another shape) returns ``None`` or goes through :func:`utc_text`. The fast form is only trusted
    when the entry's keyed hash then matches, which a writer only produces from a real time.
    """
    if isinstance(stored, str):
        if len(stored) == 26 and stored[10] == " " and stored[19] == ".":
            return stored[:10] + "T" + stored[11:] + "+00:00"
        return None
    if isinstance(stored, dt.datetime) and stored.tzinfo is not None:
        return utc_text(stored)
    return None


def _rows(uow: UnitOfWork, batch: int) -> Iterator[Sequence[Any]]:
    """Every entry in id order as plain rows (:data:`_COLUMNS`), streamed ``batch`` rows at a time.

    One query, read with ``yield_per`` (a server-side cursor on PostgreSQL), inside the caller's
    read transaction, so the whole check sees one snapshot and never holds the table in memory.
    """
    sqlite = uow.dialect == "sqlite"
    stmt = select(*(_SQLITE_COLUMNS if sqlite else _COLUMNS)).order_by(AuditEntry.id)
    result = uow.session.connection().execute(stmt.execution_options(yield_per=batch))
    for part in result.partitions():
        yield from part


def _row(raw: Sequence[Any]) -> _Row:
    """A row read by :func:`_rows` as a :class:`_Row` (its time parsed)."""
    entry_id, seq, version, prev_hash, entry_hash, when, *text = raw
    return _Row(entry_id, seq, version, prev_hash, entry_hash, EntryFields(_sqlite_time(when), *text))


class _Peekable:
    def __init__(self, rows: Iterator[Sequence[Any]]) -> None:
        self._rows = rows
        self._next: Sequence[Any] | None = None

    def __iter__(self) -> _Peekable:
        return self

    def __next__(self) -> Sequence[Any]:
        if self._next is not None:
            row, self._next = self._next, None
            return row
        return next(self._rows)

    def peek(self) -> _Row | None:
        if self._next is None:
            self._next = next(self._rows, None)
        return None if self._next is None else _row(self._next)


class _Hasher:
    """Keyed hashes of entries under one audit key (the HMAC key schedule is computed once, then copied)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, version: int, seq: int, prev_hash: str, fields: EntryFields) -> str | None:
        """What :func:`~mdm_desktop.services.audit_log.entry_digest` gives, faster for current entries."""
        if version != HASH_V2:
            return entry_digest(self._key, version, seq, prev_hash, fields)
        mac = self._mac.copy()
        mac.update(chain_bytes(seq, prev_hash, fields))
        return mac.hexdigest()

    def follows(self, raw: Sequence[Any], seq: int, prev_hash: str) -> bool:
        """Whether ``raw`` (read by :func:`_rows`) is a current entry at ``seq`` after ``prev_hash`` with a good hash.

        The one test nearly every entry takes, so it builds no objects. ``False`` means only "look
        closer" (:func:`_check_row`), never "damaged".
        """
        if raw[1] != seq or raw[2] != HASH_V2 or raw[3] != prev_hash:
            return False
        when = _time_text(raw[5])
        if when is None:
            return False
        mac = self._mac.copy()
        mac.update(chain_text_bytes((str(seq), prev_hash, when, *raw[_TEXTS:])))
        try:
            return hmac.compare_digest(mac.hexdigest(), raw[4])
        except TypeError:  # a stored hash that is not ASCII text
            return False


def _valid(hasher: _Hasher, row: _Row, seq: int | None = None, prev_hash: str | None = None) -> bool:
    """Whether ``row``'s hash matches its content (optionally as if it sat at ``seq`` after ``prev_hash``)."""
    try:
        digest = hasher.digest(
            row.version,
            row.seq if seq is None else seq,
            row.prev_hash if prev_hash is None else prev_hash,
            row.fields,
        )
        return digest is not None and _same(digest, row.entry_hash)
    except (ValueError, TypeError, AttributeError):  # values no writer produces (a negative seq, NULLs)
        return False


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two texts (hashes read from the store may hold any character)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _describe(row: _Row) -> str:
    return f"entry #{row.seq} (id {row.id}, {utc_text(row.fields.occurred_at)[:19]}Z, {row.fields.action})"


# -- prune anchors ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PruneAnchor:
    """The signed record of one prune: entries ``first_seq`` to ``upto_seq`` were exported and removed.

    Attributes:
        first_seq: The first removed entry's position.
        upto_seq: The last removed entry's position (entry ``upto_seq + 1`` links to it).
        upto_hash: The last removed entry's hash.
        entries: How many entries were removed.
        before: The prune removed entries recorded before this moment (UTC).
        pruned_at: When the prune ran (UTC).
        actor: Who ran it.
        export_file: The name of the signed export that holds the removed entries.
        export_sha256: That file's SHA-256 (hex).
        key_fingerprint: The fingerprint of the key that signed the anchor.
        signature: Ed25519 signature (base64) over :func:`anchor_bytes` of these values.
    """

    first_seq: int
    upto_seq: int
    upto_hash: str
    entries: int
    before: dt.datetime
    pruned_at: dt.datetime
    actor: str
    export_file: str
    export_sha256: str
    key_fingerprint: str
    signature: str


def anchor_bytes(anchor: PruneAnchor) -> bytes:
    """The canonical bytes an anchor's signature covers (tagged, length-prefixed, injective)."""
    parts = (
        str(anchor.first_seq),
        str(anchor.upto_seq),
        anchor.upto_hash,
        str(anchor.entries),
        utc_text(anchor.before),
        utc_text(anchor.pruned_at),
        anchor.actor,
        anchor.export_file,
        anchor.export_sha256,
    )
    return _ANCHOR_TAG + b"".join(
        len(data).to_bytes(8, "big") + data for data in (p.encode("utf-8", "surrogatepass") for p in parts)
    )


def anchor_signed_by(anchor: PruneAnchor, public_raw: bytes) -> bool:
    """Whether ``anchor`` carries a valid signature of the key ``public_raw``."""
    if anchor.key_fingerprint != key_fingerprint(public_raw):
        return False
    try:
        signature = base64.b64decode(anchor.signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, anchor_bytes(anchor))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def read_anchors(uow: UnitOfWork) -> list[PruneAnchor]:
    """Every prune anchor of the store, oldest (lowest position) first."""
    rows = uow.session.scalars(select(AuditAnchor).order_by(AuditAnchor.upto_seq)).all()
    return [
        PruneAnchor(
            first_seq=r.first_seq,
            upto_seq=r.upto_seq,
            upto_hash=r.upto_hash,
            entries=r.entries,
            before=r.before,
            pruned_at=r.pruned_at,
            actor=r.actor,
            export_file=r.export_file,
            export_sha256=r.export_sha256,
            key_fingerprint=r.key_fingerprint,
            signature=r.signature,
        )
        for r in rows
    ]


def _check_anchors_chain(
    anchors: Sequence[PruneAnchor], public_raw: bytes | None
) -> tuple[int, str, AuditProblem | None]:
    """Where the chain starts after the prunes (position, previous hash) and the first bad anchor, if any."""
    start, prev = 1, ""
    for a in anchors:
        span = f"#{a.first_seq} to #{a.upto_seq}"
        when = utc_text(a.pruned_at)[:19] + "Z"
        if public_raw is None or not anchor_signed_by(a, public_raw):
            return (
                start,
                prev,
                AuditProblem(
                    AuditDamage.MISSING,
                    f"The prune record (anchor) for entries {span} of {when} is not signed by this store's key: "
                    f"it was forged or altered, so entries {span} are missing without a valid record "
                    "(truncated at the head).",
                    None,
                    a.first_seq,
                ),
            )
        if a.first_seq != start or a.upto_seq < a.first_seq or a.entries != a.upto_seq - a.first_seq + 1:
            return (
                start,
                prev,
                AuditProblem(
                    AuditDamage.MISSING,
                    f"The prune record for entries {span} of {when} does not follow the one before it (the "
                    f"trail should continue at #{start}): entries were removed without a record.",
                    None,
                    start,
                ),
            )
        start, prev = a.upto_seq + 1, a.upto_hash
    return start, prev, None


def _check_pruned_checkpoints(
    anchors: Sequence[PruneAnchor], checkpoints: Sequence[AuditCheckpoint], start: int
) -> AuditProblem | None:
    """Checkpoints whose head was pruned must agree with the anchor that ends there (if one does)."""
    ends = {a.upto_seq: a for a in anchors}
    for cp in checkpoints:
        if cp.head_seq >= start or cp.head_seq not in ends:
            continue
        if not _same(cp.head_hash, ends[cp.head_seq].upto_hash):
            return AuditProblem(
                AuditDamage.ROLLED_BACK,
                f"The prune record ending at entry #{cp.head_seq} does not carry the hash the checkpoint of "
                f"{utc_text(cp.made_at)[:19]}Z vouched for: the log was rewritten.",
                None,
                cp.head_seq,
            )
    return None


def verify_chain(
    uow_factory: UnitOfWorkFactory,
    audit_key: bytes,
    *,
    checkpoints: Sequence[AuditCheckpoint] = (),
    progress: Progress | None = None,
    batch: int = BATCH_SIZE,
    should_stop: ShouldStop | None = None,
    anchor_key: bytes | None = None,
) -> AuditVerifyReport:
    """Check every entry of the chain, its head record and the given (already authenticated) checkpoints.

    After prunes the chain starts right after the newest prune anchor; every anchor must be signed
    by ``anchor_key`` and follow the one before it.

    Args:
        uow_factory: Opens the read transaction the whole check runs in.
        audit_key: The store's HMAC key.
        checkpoints: Signed checkpoints the chain must still extend.
        progress: Called after each batch with (entries checked, entries at the start).
        batch: Entries fetched per query.
        should_stop: Asked after each batch (and before the first); True stops the check.
        anchor_key: The store's checkpoint public key (raw), which signs prune anchors; without it any
            anchor is reported as unverifiable.

    Raises:
        VerifyCancelledError: ``should_stop`` returned True.
    """
    with uow_factory() as uow:
        head = uow.session.execute(
            select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == HEAD_ID)
        ).one_or_none()
        total = int(uow.session.scalar(select(func.count(AuditEntry.id))) or 0)
        by_seq: dict[int, list[AuditCheckpoint]] = {}
        for cp in checkpoints:
            by_seq.setdefault(cp.head_seq, []).append(cp)
        anchors = read_anchors(uow)
        expected, prev, problem = _check_anchors_chain(anchors, anchor_key)
        start, checked = expected, 0
        if problem is None:
            problem = _check_pruned_checkpoints(anchors, checkpoints, start)
        rows = _Peekable(_rows(uow, batch) if problem is None else iter(()))
        hasher = _Hasher(audit_key)
        if should_stop is not None and should_stop():
            raise VerifyCancelledError(checked, total)
        # Entries a checkpoint or the head record vouches for always take the full checks.
        vouched = set(by_seq) | ({int(head.seq)} if head is not None else set())
        for raw in rows:
            checked += 1
            if checked % batch == 0:
                if progress is not None:
                    progress(checked, total)
                if should_stop is not None and should_stop():
                    raise VerifyCancelledError(checked, total)
            if hasher.follows(raw, expected, prev) and expected not in vouched:
                expected, prev = expected + 1, raw[4]
                continue
            row = _row(raw)
            problem = _check_row(uow, hasher, row, rows, expected, prev, head, at_start=expected == start)
            if problem is None:
                problem = _check_anchors(row, by_seq, head)
            if problem is not None:
                break
            expected, prev = row.seq + 1, row.entry_hash
        if problem is None:
            problem = _check_end(expected - 1, head, [cp for cp in checkpoints if cp.head_seq >= start])
    if progress is not None:
        progress(checked, total)
    return AuditVerifyReport(
        intact=problem is None,
        entries_checked=checked,
        head_seq=expected - 1,
        head_hash=prev,
        problem=problem,
        checkpoints_checked=len(checkpoints),
    )


def _check_row(
    uow: UnitOfWork,
    key: _Hasher,
    row: _Row,
    rows: _Peekable,
    expected: int,
    prev: str,
    head: Any,
    *,
    at_start: bool = False,
) -> AuditProblem | None:
    own_ok = _valid(key, row)
    if row.seq != expected:
        if not own_ok:
            return _modified(row)
        if row.seq < expected:
            return AuditProblem(
                AuditDamage.INSERTED,
                f"{_describe(row)} reuses position #{row.seq}, which the chain already holds: inserted.",
                row.id,
                row.seq,
            )
        elsewhere = uow.session.scalar(select(AuditEntry.id).where(AuditEntry.seq == expected).limit(1))
        if elsewhere is not None:
            return AuditProblem(
                AuditDamage.REORDERED,
                f"{_describe(row)} stands where entry #{expected} belongs (that one is at id {elsewhere}): reordered.",
                row.id,
                expected,
            )
        gap = f"#{expected}" if row.seq == expected + 1 else f"#{expected} to #{row.seq - 1}"
        if at_start:
            return AuditProblem(
                AuditDamage.MISSING,
                f"Entry {gap} is gone from the start of the trail (it begins at {_describe(row)}) and no signed "
                "prune record accounts for it: truncated at the head.",
                row.id,
                expected,
            )
        return AuditProblem(
            AuditDamage.MISSING,
            f"Entry {gap} is missing before {_describe(row)}: a gap in the chain.",
            row.id,
            expected,
        )
    if not own_ok:
        following = rows.peek()
        continues = following is not None and _valid(key, following, seq=expected, prev_hash=prev)
        beyond_head = following is None and head is not None and row.seq > head.seq
        if continues or beyond_head:
            return AuditProblem(
                AuditDamage.INSERTED,
                f"{_describe(row)} was never part of the chain (its hash does not verify and the chain "
                "continues without it): inserted.",
                row.id,
                row.seq,
            )
        return _modified(row)
    if row.prev_hash != prev:
        before = uow.session.scalar(select(AuditEntry.seq).where(AuditEntry.entry_hash == row.prev_hash).limit(1))
        if before is not None:
            return AuditProblem(
                AuditDamage.REORDERED,
                f"{_describe(row)} should follow entry #{before}, not the entry before it here: reordered.",
                row.id,
                row.seq,
            )
        return AuditProblem(
            AuditDamage.MISSING,
            f"The entry that {_describe(row)} follows is missing: a gap in the chain.",
            row.id,
            row.seq,
        )
    return None


def _modified(row: _Row) -> AuditProblem:
    return AuditProblem(
        AuditDamage.MODIFIED,
        f"{_describe(row)} was changed: its keyed hash does not match its content.",
        row.id,
        row.seq,
    )


def _check_anchors(row: _Row, by_seq: dict[int, list[AuditCheckpoint]], head: Any) -> AuditProblem | None:
    for cp in by_seq.get(row.seq, ()):
        if not _same(cp.head_hash, row.entry_hash):
            return AuditProblem(
                AuditDamage.ROLLED_BACK,
                f"{_describe(row)} is not the entry the checkpoint of {utc_text(cp.made_at)[:19]}Z vouched for: "
                "the log was rolled back to an older copy or rewritten.",
                row.id,
                row.seq,
            )
    if head is not None and row.seq == head.seq and not _same(str(head.entry_hash), row.entry_hash):
        return AuditProblem(
            AuditDamage.MODIFIED,
            f"The chain's head record does not match {_describe(row)}: it was changed.",
            row.id,
            row.seq,
        )
    return None


def _check_end(last: int, head: Any, checkpoints: Sequence[AuditCheckpoint]) -> AuditProblem | None:
    if head is None:
        return AuditProblem(
            AuditDamage.TRUNCATED,
            f"The chain's head record is missing (the log ends at entry #{last}): truncated.",
            None,
            last + 1,
        )
    if last < head.seq:
        return AuditProblem(
            AuditDamage.TRUNCATED,
            f"The log ends at entry #{last} but its head record names entry #{head.seq}: "
            f"entries from #{last + 1} on were removed (truncated).",
            None,
            last + 1,
        )
    for cp in sorted(checkpoints, key=lambda c: -c.head_seq):
        if last < cp.head_seq:
            rolled = head.seq == last
            kind = AuditDamage.ROLLED_BACK if rolled else AuditDamage.TRUNCATED
            how = "rolled back to an older copy, or truncated" if rolled else "truncated"
            return AuditProblem(
                kind,
                f"The log ends at entry #{last} but the checkpoint of {utc_text(cp.made_at)[:19]}Z vouched for "
                f"{cp.head_seq} entries: {how}.",
                None,
                last + 1,
            )
    return None


def checkpoint_status(uow: UnitOfWork, checkpoint: AuditCheckpoint) -> AuditProblem | None:
    """Quick check (two reads, no full verification) that the chain still extends ``checkpoint``."""
    if checkpoint.head_seq == 0:
        return None
    at = uow.session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).where(AuditEntry.seq == checkpoint.head_seq)
    ).one_or_none()
    when = utc_text(checkpoint.made_at)[:19] + "Z"
    if at is None:
        pruned = uow.session.execute(
            select(AuditAnchor.upto_seq, AuditAnchor.upto_hash).where(
                AuditAnchor.first_seq <= checkpoint.head_seq, AuditAnchor.upto_seq >= checkpoint.head_seq
            )
        ).first()
        if pruned is not None:  # the checkpoint precedes a prune ('audit verify' checks the anchor's signature)
            if pruned.upto_seq == checkpoint.head_seq and not _same(str(pruned.upto_hash), checkpoint.head_hash):
                return AuditProblem(
                    AuditDamage.ROLLED_BACK,
                    f"The prune record ending at entry #{checkpoint.head_seq} does not carry the hash the "
                    f"checkpoint of {when} vouched for: the log was rewritten.",
                    None,
                    checkpoint.head_seq,
                )
            return None
        last = int(uow.session.scalar(select(func.max(AuditEntry.seq))) or 0)
        return AuditProblem(
            AuditDamage.ROLLED_BACK if last < checkpoint.head_seq else AuditDamage.MISSING,
            f"The log no longer holds entry #{checkpoint.head_seq}, which the checkpoint of {when} vouched for "
            f"(it ends at #{last}): rolled back to an older copy, or truncated.",
            None,
            checkpoint.head_seq,
        )
    if not _same(str(at.entry_hash), checkpoint.head_hash):
        return AuditProblem(
            AuditDamage.ROLLED_BACK,
            f"Entry #{checkpoint.head_seq} (id {at.id}) is not the one the checkpoint of {when} vouched for: "
            "the log was rolled back to an older copy or rewritten.",
            at.id,
            checkpoint.head_seq,
        )
    return None


# -- checkpoints -----------------------------------------------------------------------------------------------


class CheckpointSigner:
    """The store's Ed25519 checkpoint key (from its 32-byte seed)."""

    def __init__(self, seed: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_raw = self._private.public_key().public_bytes_raw()
        self.fingerprint = key_fingerprint(self.public_raw)

    def sign(self, entries: int, head_seq: int, head_hash: str, made_at: dt.datetime) -> AuditCheckpoint:
        """A checkpoint over the given chain state."""
        signature = self._private.sign(checkpoint_bytes(entries, head_seq, head_hash, made_at))
        return AuditCheckpoint(
            entries=entries,
            head_seq=head_seq,
            head_hash=head_hash,
            made_at=made_at.astimezone(dt.UTC),
            key_fingerprint=self.fingerprint,
            public_key=base64.b64encode(self.public_raw).decode("ascii"),
            signature=base64.b64encode(signature).decode("ascii"),
        )

    def authenticate(self, checkpoint: AuditCheckpoint) -> None:
        """Check that ``checkpoint`` was signed by this store's key and not altered since.

        Raises:
            ValidationError: Another store's key, or a signature that does not verify.
        """
        if checkpoint.key_fingerprint != self.fingerprint or checkpoint.public_key != base64.b64encode(
            self.public_raw
        ).decode("ascii"):
            raise ValidationError(
                f"The checkpoint was signed by another store's key (fingerprint {checkpoint.key_fingerprint}; "
                f"this store's is {self.fingerprint}).",
                hint="Use a checkpoint exported from this store.",
            )
        try:
            signature = base64.b64decode(checkpoint.signature, validate=True)
            Ed25519PublicKey.from_public_bytes(self.public_raw).verify(
                signature,
                checkpoint_bytes(checkpoint.entries, checkpoint.head_seq, checkpoint.head_hash, checkpoint.made_at),
            )
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise ValidationError(
                "The checkpoint's signature does not verify: the file was altered or forged.",
                hint="Use the checkpoint file as it was exported.",
            ) from exc


def key_fingerprint(public_raw: bytes) -> str:
    """Short identifier of a checkpoint public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def checkpoint_to_json(checkpoint: AuditCheckpoint) -> str:
    """The checkpoint as the JSON document written to files."""
    doc = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "entries": checkpoint.entries,
        "head_seq": checkpoint.head_seq,
        "head_hash": checkpoint.head_hash,
        "made_at": utc_text(checkpoint.made_at),
        "key_fingerprint": checkpoint.key_fingerprint,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    }
    return json.dumps(doc, indent=2) + "\n"


def checkpoint_from_json(text: str) -> AuditCheckpoint:
    """Parse a checkpoint file (its signature is checked separately).

    Raises:
        ValidationError: Not a checkpoint file, or a malformed one.
    """
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a checkpoint")
        if doc.get("version") != CHECKPOINT_VERSION:
            raise ValueError("unknown version")
        made_at = dt.datetime.fromisoformat(doc["made_at"])
        if made_at.tzinfo is None:
            raise ValueError("naive time")
        values = {name: doc[name] for name in ("entries", "head_seq")}
        texts = {name: doc[name] for name in ("head_hash", "key_fingerprint", "public_key", "signature")}
        if any(type(v) is not int or v < 0 for v in values.values()) or any(
            not isinstance(v, str) for v in texts.values()
        ):
            raise ValueError("bad field")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            "This is not an MDM Desktop audit checkpoint file, or it is damaged.",
            hint="Give a file written by 'mdm-desktop audit checkpoint --out FILE'.",
        ) from exc
    return AuditCheckpoint(made_at=made_at.astimezone(dt.UTC), **values, **texts)


def read_checkpoint_file(path: Path) -> AuditCheckpoint:
    """Read and parse a checkpoint file.

    Raises:
        ValidationError: Unreadable, too large, or not a checkpoint file.
    """
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CHECKPOINT_FILE + 1)
    except OSError as exc:
        raise ValidationError(f"Cannot read the checkpoint file {path}: {exc.strerror}.") from exc
    if len(raw) > MAX_CHECKPOINT_FILE:
        raise ValidationError(f"{path} is too large to be an audit checkpoint file.")
    try:
        return checkpoint_from_json(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path} is not an MDM Desktop audit checkpoint file.") from exc


def write_file_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never a half-written file).

    Raises:
        ValidationError: The file cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ValidationError(f"Cannot write {path}: {exc.strerror}.") from exc


class CheckpointMemory:
    """The newest checkpoint this workstation has seen, per store, as files in its data folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, fingerprint: str) -> Path:
        """The file that remembers the checkpoint of the store whose key has ``fingerprint``."""
        return self.folder / f"checkpoint-{fingerprint}.json"

    def load(self, fingerprint: str) -> AuditCheckpoint | None:
        """The remembered checkpoint, ``None`` when there is none.

        Raises:
            ValidationError: The file is unreadable or damaged.
        """
        path = self.path(fingerprint)
        if not path.exists():
            return None
        return read_checkpoint_file(path)

    def remember(self, checkpoint: AuditCheckpoint) -> None:
        """Keep ``checkpoint`` unless a newer one (further along the chain) is remembered."""
        try:
            current = self.load(checkpoint.key_fingerprint)
        except ValidationError:
            current = None
        if current is not None and current.head_seq > checkpoint.head_seq:
            return
        write_file_atomically(self.path(checkpoint.key_fingerprint), checkpoint_to_json(checkpoint))


# -- the service -----------------------------------------------------------------------------------------------


class AuditChainService:
    """Verification of the audit chain and signed checkpoints, for the console and the CLI.

    Args:
        uow: Unit-of-work factory.
        guard: Permission checks (refusals are audited).
        audit: The audit log (verifications and checkpoints are themselves audited).
        clock: Source of UTC time.
        audit_key: The store's HMAC key.
        checkpoint_seed: Seed of the store's Ed25519 checkpoint key.
        memory: Where this workstation remembers the last checkpoint it saw.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        guard: Guard,
        audit: AuditLog,
        clock: Clock,
        audit_key: bytes,
        checkpoint_seed: bytes,
        memory: CheckpointMemory,
    ) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock
        self._key = audit_key
        self._signer = CheckpointSigner(checkpoint_seed)
        self._memory = memory

    @property
    def key_fingerprint(self) -> str:
        """The fingerprint of this store's checkpoint public key."""
        return self._signer.fingerprint

    def read_checkpoint(self, path: Path) -> AuditCheckpoint:
        """Read a checkpoint file and check that this store signed it.

        Raises:
            ValidationError: Unreadable, malformed, another store's, or altered.
        """
        checkpoint = read_checkpoint_file(path)
        self._signer.authenticate(checkpoint)
        return checkpoint

    @mutating("audit.verify")
    def verify(
        self,
        actor: Principal,
        checkpoint: AuditCheckpoint | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> AuditVerifyReport:
        """Verify the whole chain against its head record, ``checkpoint`` and the remembered checkpoint.

        The verification is audited (``audit.verify``, outcome failed when damage was found). If the
        chain cannot take that entry (its head record is gone) the report is still returned. A
        verification stopped through ``should_stop`` (asked after each batch) concludes nothing and
        is not audited.

        Raises:
            PermissionDeniedError: ``actor`` may not read the audit log.
            ValidationError: ``checkpoint`` was not signed by this store, or was altered.
            VerifyCancelledError: ``should_stop`` returned True before the check finished.
        """
        self._guard.require(actor, Permission.AUDIT_READ, "audit.verify")
        checkpoints: list[AuditCheckpoint] = []
        warnings: list[str] = []
        if checkpoint is not None:
            self._signer.authenticate(checkpoint)
            checkpoints.append(checkpoint)
        remembered, warning = self._remembered()
        if remembered is not None:
            checkpoints.append(remembered)
        if warning:
            warnings.append(warning)
        report = verify_chain(
            self._uow,
            self._key,
            checkpoints=checkpoints,
            progress=progress,
            should_stop=should_stop,
            anchor_key=self._signer.public_raw,
        )
        if report.intact and checkpoint is not None:
            self._memory.remember(checkpoint)
        details: dict[str, Any] = {
            "intact": report.intact,
            "entries_checked": report.entries_checked,
            "checkpoints": len(checkpoints),
        }
        if report.problem is not None:
            details.update(damage=report.problem.kind.value, entry_id=report.problem.entry_id, seq=report.problem.seq)
        with contextlib.suppress(AuditChainError):
            self._audit.record_alone(
                self._uow,
                actor,
                "audit.verify",
                target_kind="audit",
                target="chain",
                outcome=Outcome.SUCCESS if report.intact else Outcome.FAILED,
                details=details,
            )
        return AuditVerifyReport(
            intact=report.intact,
            entries_checked=report.entries_checked,
            head_seq=report.head_seq,
            head_hash=report.head_hash,
            problem=report.problem,
            checkpoints_checked=report.checkpoints_checked,
            warnings=tuple(warnings),
        )

    @mutating("audit.checkpoint")
    def make_checkpoint(self, actor: Principal) -> AuditCheckpoint:
        """Sign a checkpoint over the chain as it stands (including this action's own audit entry).

        The workstation remembers it. Refused when the chain no longer extends the checkpoint this
        workstation remembers: signing would vouch for a rolled-back log.

        Raises:
            PermissionDeniedError: ``actor`` may not read the audit log.
            ConflictError: The chain no longer extends the remembered checkpoint.
        """
        self._guard.require(actor, Permission.AUDIT_READ, "audit.checkpoint")
        remembered, _warning = self._remembered()
        with self._uow(write=True) as uow:
            if remembered is not None:
                problem = checkpoint_status(uow, remembered)
                if problem is not None:
                    raise ConflictError(
                        f"No checkpoint made: {problem.description}",
                        hint="Run 'mdm-desktop audit verify' and find out what happened to the audit trail.",
                    )
            head = uow.session.execute(
                select(AuditHead.seq).where(AuditHead.id == HEAD_ID).with_for_update()
            ).one_or_none()
            if head is None:
                raise AuditChainError(
                    "The audit trail's head record is missing, so no checkpoint can be made.",
                    hint="Run 'mdm-desktop audit verify' and restore the store from a backup.",
                )
            self._audit.record(
                uow,
                actor,
                "audit.checkpoint",
                target_kind="audit",
                target="chain",
                details={"head_seq": int(head.seq) + 1, "key_fingerprint": self._signer.fingerprint},
            )
            write_pending(uow.session)  # the checkpoint covers its own entry
            seq, digest = uow.session.execute(
                select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == HEAD_ID)
            ).one()
            entries = int(uow.session.scalar(select(func.count(AuditEntry.id))) or 0)
            checkpoint = self._signer.sign(entries, int(seq), str(digest), self._clock())
            uow.commit()
        self._memory.remember(checkpoint)
        return checkpoint

    @mutating("audit.checkpoint_if_due", "audit.checkpoint")
    def make_checkpoint_if_due(
        self, actor: Principal, every: dt.timedelta = CHECKPOINT_EVERY
    ) -> AuditCheckpoint | None:
        """Make a checkpoint when this workstation has none for this store or its last is older than ``every``.

        For periodic checkpoints: the console (at sign-in and on a timer) and scripts call this; it returns
        ``None`` when no checkpoint was due.

        Raises:
            PermissionDeniedError: ``actor`` may not read the audit log.
            ConflictError: The chain no longer extends the remembered checkpoint.
        """
        self._guard.require(actor, Permission.AUDIT_READ, "audit.checkpoint")
        remembered, _warning = self._remembered()
        if remembered is not None and self._clock() - remembered.made_at < every:
            return None
        return self.make_checkpoint(actor)

    def checkpoint_status(self, actor: Principal) -> CheckpointStatus:
        """Whether the chain still extends the last checkpoint this workstation saw (a quick check).

        Raises:
            PermissionDeniedError: ``actor`` may not read the audit log.
        """
        self._guard.require(actor, Permission.AUDIT_READ, "audit.checkpoint_status")
        remembered, _warning = self._remembered()
        if remembered is None:
            return CheckpointStatus(remembered=None, extends=True)
        with self._uow() as uow:
            problem = checkpoint_status(uow, remembered)
        return CheckpointStatus(remembered=remembered, extends=problem is None, problem=problem)

    def _remembered(self) -> tuple[AuditCheckpoint | None, str]:
        try:
            found = self._memory.load(self._signer.fingerprint)
            if found is not None:
                self._signer.authenticate(found)
        except ValidationError as exc:
            where = self._memory.path(self._signer.fingerprint)
            return None, f"The checkpoint this workstation remembered ({where}) is not usable: {exc.message}"
        return found, ""
