"""Appending audit entries to the tamper-evident chain inside the caller's transaction.

Each entry gets the next sequence number, the previous entry's hash and an HMAC-SHA-256
(under the store's audit key, kept wrapped outside the database) of its own canonical content,
sequence number and that previous hash (:func:`~mdm_desktop.domain.audit.chain_bytes`).

One linear chain under concurrency: entries recorded in a transaction are appended just before
it commits (:func:`write_pending`), which reads the single ``audit_head`` row with
``SELECT ... FOR UPDATE`` (PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` write transaction
already serialises writers), appends the entries numbered ``head + 1``, ... and moves the head
in the same transaction. Two writers can never take the same number (the second waits for
the first to commit, then reads its head), and ``seq`` is unique in the table as a last guard.

Fail-closed: when the head row is missing the append fails, and with it the caller's whole
transaction (the work is not done unaudited).

Hostile text (device names, app titles, host names): every text field is stored in the reversible,
NUL-free form of :func:`~mdm_desktop.domain.audit.escape_field`, and details as canonical JSON
(control characters escaped); the hash covers exactly what is stored, so verification needs no
special case. Over-long values follow one rule (:func:`fit_entry`): a text field is cut to its
column's length (``actor`` 128 characters, ``target`` and ``workstation`` 255, ...), a text value in
the details to :data:`DETAILS_VALUE_MAX_CHARS`, and details still longer than :data:`DETAILS_MAX_CHARS`
to their first :data:`DETAILS_HEAD_CHARS`; the entry's details then name each cut value under ``audit_truncated``
with its original length in characters and the SHA-256 of its UTF-8 text, so the original can still
be matched. Nothing in an entry is ever silently lost or rejected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import Session

from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import (
    HASH_V1,
    HASH_V2,
    EntryFields,
    Outcome,
    canonical_json,
    chain_bytes,
    escape_field,
    utc_text,
)
from mdm_desktop.domain.errors import StoreError
from mdm_desktop.services.clock import Clock
from mdm_desktop.store.schema import AuditEntry, AuditHead
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

HEAD_ID = 1

DETAILS_VALUE_MAX_CHARS = 8_192
"""Longest text value kept whole in details (a device name, a reason); longer ones are cut."""
DETAILS_MAX_CHARS = 65_536
"""Longest details text stored; longer details keep their first :data:`DETAILS_HEAD_CHARS` characters."""
DETAILS_HEAD_CHARS = 4_096
TRUNCATED_KEY = "audit_truncated"
"""Details key naming the values that were cut to fit (their original length and SHA-256)."""

_TEXT_FIELDS = ("actor_kind", "actor", "workstation", "action", "target_kind", "target", "outcome")
_LIMITS: dict[str, int] = {
    name: int(getattr(AuditEntry.__table__.c[name].type, "length", 0) or 0) for name in _TEXT_FIELDS
}


class AuditChainError(StoreError):
    """The audit chain cannot be extended (its head record is missing): nothing is written."""


def entry_content(
    occurred_at: dt.datetime,
    actor_kind: str,
    actor: str,
    workstation: str,
    action: str,
    target_kind: str,
    target: str,
    outcome: str,
    details: str,
) -> str:
    """The canonical text a version-1 entry's hash covers (entries written before schema 0003)."""
    return canonical_json(
        {
            "t": utc_text(occurred_at),
            "ak": actor_kind,
            "a": actor,
            "w": workstation,
            "act": action,
            "tk": target_kind,
            "tg": target,
            "o": outcome,
            "d": details,
        }
    )


def entry_digest(key: bytes, version: int, seq: int, prev_hash: str, fields: EntryFields) -> str | None:
    """The keyed hash (hex) an entry of ``version`` must carry; ``None`` for an unknown version."""
    if version == HASH_V2:
        message = chain_bytes(seq, prev_hash, fields)
    elif version == HASH_V1:
        content = entry_content(
            fields.occurred_at,
            fields.actor_kind,
            fields.actor,
            fields.workstation,
            fields.action,
            fields.target_kind,
            fields.target,
            fields.outcome,
            fields.details,
        )
        message = (prev_hash + "|" + content).encode()
    else:
        return None
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _fingerprint(value: str) -> dict[str, Any]:
    return {"chars": len(value), "sha256": hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()}


def _cut(value: str, limit: int) -> str:
    """The stored form of the longest prefix of ``value`` whose stored form, plus an ellipsis, fits ``limit``."""
    low, high = 0, min(len(value), limit)
    while low < high:
        mid = (low + high + 1) // 2
        if len(escape_field(value[:mid])) <= limit - 1:
            low = mid
        else:
            high = mid - 1
    return escape_field(value[:low]) + "\u2026"


def _cut_values(value: Any, path: str, cut: dict[str, Any]) -> Any:
    """``value`` with every text longer than :data:`DETAILS_VALUE_MAX_CHARS` cut (and noted in ``cut``)."""
    if isinstance(value, str):
        if len(value) <= DETAILS_VALUE_MAX_CHARS:
            return value
        cut[path] = _fingerprint(value)
        return value[: DETAILS_VALUE_MAX_CHARS - 1] + "\u2026"
    if isinstance(value, Mapping):
        return {k: _cut_values(v, f"{path}.{k}", cut) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cut_values(v, f"{path}[{i}]", cut) for i, v in enumerate(value)]
    return value


def fit_entry(occurred_at: dt.datetime, values: Mapping[str, str], details: Mapping[str, Any]) -> EntryFields:
    """The fields of an entry as they are stored and hashed: text escaped, over-long values cut.

    Args:
        occurred_at: When it happened.
        values: The raw text fields (actor_kind, actor, workstation, action, target_kind, target, outcome).
        details: The raw details.

    Returns:
        The stored fields. A value longer than its column, a details text value longer than
        :data:`DETAILS_VALUE_MAX_CHARS` (or details longer than :data:`DETAILS_MAX_CHARS`) is cut, ends
        with an ellipsis, and is named in the details under :data:`TRUNCATED_KEY` (by field name, or
        ``details.<key>`` path) with its original length and SHA-256.
    """
    stored: dict[str, str] = {}
    cut: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = values.get(name, "")
        text = escape_field(value)
        limit = _LIMITS[name]
        if limit and len(text) > limit:
            text = _cut(value, limit)
            cut[name] = _fingerprint(value)
        stored[name] = text
    payload = _cut_values(details, "details", cut)
    if cut:
        payload[TRUNCATED_KEY] = cut
    text = canonical_json(payload)
    if len(text) > DETAILS_MAX_CHARS:
        cut["details"] = _fingerprint(text)
        text = canonical_json({TRUNCATED_KEY: cut, "details_head": text[:DETAILS_HEAD_CHARS]})
    return EntryFields(occurred_at=occurred_at, details=text, **stored)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry to append with :meth:`AuditLog.record_many`."""

    actor: Principal
    action: str
    target_kind: str = ""
    target: str = ""
    outcome: Outcome = Outcome.SUCCESS
    details: Mapping[str, Any] = field(default_factory=dict)


_PENDING = "mdm_audit_pending"
"""``Session.info`` key of the entries recorded in the session's transaction and not yet written."""

_Pending = list[tuple[bytes, EntryFields]]


def _pending(session: Session) -> _Pending:
    """The session's queue of recorded entries, creating it (and its commit hooks) on first use."""
    queue: _Pending | None = session.info.get(_PENDING)
    if queue is None:
        queue = session.info[_PENDING] = []
        event.listen(session, "before_commit", write_pending)
        event.listen(session, "after_rollback", _drop_pending)
    return queue


def _drop_pending(session: Session) -> None:
    session.info.get(_PENDING, []).clear()


_LOCK_HEAD = select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == HEAD_ID).with_for_update()
_INSERT_ENTRIES = insert(AuditEntry).returning(AuditEntry.id)
_MOVE_HEAD = (
    update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=bindparam("new_seq"), entry_hash=bindparam("new_hash"))
)


def write_pending(session: Session) -> int:
    """Append the entries recorded in ``session``'s transaction to the chain now; return how many.

    Runs by itself just before the transaction commits, so the head row is the last lock the
    transaction takes and is held only for the commit.

    Raises:
        AuditChainError: The chain's head record is missing (the transaction must not commit).
    """
    queue: _Pending = session.info.get(_PENDING, [])
    if not queue:
        return 0
    session.flush()  # the caller's pending work goes first
    connection = session.connection()  # plain Core statements, built once: every audited action runs them
    head = connection.execute(_LOCK_HEAD).one_or_none()
    if head is None:
        raise AuditChainError(
            "The audit trail's head record is missing, so nothing can be recorded.",
            hint="Run 'mdm-desktop audit verify' and restore the store from a backup.",
        )
    seq, prev = int(head.seq), str(head.entry_hash)
    rows: list[dict[str, Any]] = []
    for key, fields in queue:
        seq += 1
        digest = entry_digest(key, HASH_V2, seq, prev, fields)
        assert digest is not None
        rows.append(
            {
                "seq": seq,
                "hash_version": HASH_V2,
                "occurred_at": fields.occurred_at,
                "actor_kind": fields.actor_kind,
                "actor": fields.actor,
                "workstation": fields.workstation,
                "action": fields.action,
                "target_kind": fields.target_kind,
                "target": fields.target,
                "outcome": fields.outcome,
                "details": fields.details,
                "prev_hash": prev,
                "entry_hash": digest,
            }
        )
        prev = digest
    # RETURNING makes SQLAlchemy send multi-row INSERTs ("insertmanyvalues", compiled once) instead of
    # one execution per row: the search index (FTS5, migration 0004) is fed by a per-row trigger and
    # writes its buffer out at the end of every statement, so this is several times faster.
    connection.execute(_INSERT_ENTRIES, rows).all()
    connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})
    session.flush()
    queue.clear()
    return len(rows)


class AuditLog:
    """Writes hash-chained audit entries.

    :meth:`record` takes the entry's time and content at once and appends it to the chain when the
    caller's transaction commits (:func:`write_pending`, a ``before_commit`` hook of the session):
    the entry is committed with the work or not at all, and the global head lock is taken last and
    held only for the commit, so consoles never deadlock on it and wait on each other only briefly.

    Args:
        audit_key: HMAC key (kept wrapped outside the database).
        clock: Source of UTC time.
    """

    def __init__(self, audit_key: bytes, clock: Clock) -> None:
        self._key = audit_key
        self._clock = clock

    def record(
        self,
        uow: UnitOfWork,
        actor: Principal,
        action: str,
        *,
        target_kind: str = "",
        target: str = "",
        outcome: Outcome = Outcome.SUCCESS,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one entry in ``uow``'s transaction; it is written to the chain when the transaction commits.

        A commit raises :class:`AuditChainError` (and nothing is committed) when the chain's head record
        is missing.
        """
        self._queue(uow, (AuditEvent(actor, action, target_kind, target, outcome, dict(details or {})),))

    def record_many(self, uow: UnitOfWork, events: Iterable[AuditEvent]) -> int:
        """Append several entries (and any recorded before) to the chain now, in ``uow``'s transaction.

        Each entry takes the clock's time when it is built. Returns how many entries were written.

        Raises:
            AuditChainError: The chain's head record is missing (the transaction must not commit).
        """
        self._queue(uow, events)
        return write_pending(uow.session)

    def _queue(self, uow: UnitOfWork, events: Iterable[AuditEvent]) -> None:
        queue = _pending(uow.session)
        for e in events:
            values = {
                "actor_kind": e.actor.kind,
                "actor": e.actor.name,
                "workstation": e.actor.workstation,
                "action": e.action,
                "target_kind": e.target_kind,
                "target": e.target,
                "outcome": e.outcome.value,
            }
            queue.append((self._key, fit_entry(self._clock(), values, e.details)))

    def record_alone(
        self,
        uow_factory: UnitOfWorkFactory,
        actor: Principal,
        action: str,
        *,
        target_kind: str = "",
        target: str = "",
        outcome: Outcome,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry in its own transaction (refusals, failed sign-ins)."""
        with uow_factory(write=True) as uow:
            self.record(uow, actor, action, target_kind=target_kind, target=target, outcome=outcome, details=details)
            uow.commit()
