"""Signed exports of the audit trail, and their offline verification (issue 5).

``export`` writes the entries of a time range, as CSV or JSON Lines with every column (``seq``,
``hash_version``, ``prev_hash`` and ``entry_hash`` included), and next to it ``FILE.sig.json``: an
Ed25519 signature (the store's checkpoint key) over the file's SHA-256, the selection (time range,
first and last position, count) and a checkpoint of the whole chain signed at export time, with
the public key. The selection is the contiguous run of positions from the first to the last entry
recorded in [``since``, ``until``) (with a clock that never goes back, exactly the entries of that
range; an entry stamped outside it but written between them is included), so each exported entry links
(``prev_hash``) to the one before it and :func:`verify_export` can check order, gaps and links on
another machine without the store or its HMAC key.

Entries are exported as stored: sensitive values are already keyed hashes. Text is kept literally
(control characters, ANSI escapes, bidi overrides, HTML, very long values). In CSV a cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a quote is prefixed with a
single quote (OWASP's advice against formula injection; remove one leading quote to get the stored
text). In JSON Lines, control characters, bidi controls and line separators are written as JSON escapes.

The export streams (batches of entries, never the whole table in memory), checks each entry's keyed
hash and link as it goes (a damaged trail is not signed), writes to a temporary file and renames it
only after its audit entry has been committed: there is never a partial file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import dataclasses
import datetime as dt
import enum
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import (
    CHECKPOINT_FORMAT,
    EXPORT_SIGNATURE_FORMAT,
    EntryFields,
    ExportDamage,
    checkpoint_bytes,
    export_bytes,
    utc_text,
)
from mdm_desktop.domain.errors import ConflictError, MdmError, ValidationError
from mdm_desktop.services.audit_chain import (
    CheckpointMemory,
    CheckpointSigner,
    checkpoint_from_json,
    checkpoint_status,
    checkpoint_to_json,
    key_fingerprint,
    write_file_atomically,
)
from mdm_desktop.services.audit_log import HEAD_ID, AuditChainError, AuditLog, entry_digest, write_pending
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import AuditCheckpoint, AuditExportResult, ExportProblem, ExportVerifyReport
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.schema import AuditEntry, AuditHead
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

BATCH_SIZE = 2000
SIGNATURE_SUFFIX = ".sig.json"
SIGNATURE_VERSION = 1
MAX_SIGNATURE_FILE = 256 * 1024
MAX_CELL = 64 * 1024 * 1024
"""The longest CSV cell or JSON line the verifier reads (device text may be megabytes long)."""

COLUMNS = (
    "id",
    "seq",
    "hash_version",
    "occurred_at",
    "actor_kind",
    "actor",
    "workstation",
    "action",
    "target_kind",
    "target",
    "outcome",
    "details",
    "prev_hash",
    "entry_hash",
)
_INT_COLUMNS = frozenset({"id", "seq", "hash_version"})

README = (
    "MDM Desktop audit export. The file holds audit entries exactly as stored, one per line (JSON Lines) or "
    "record (CSV), in chain order; each entry's prev_hash is the entry_hash of the one before it.",
    "Sensitive values appear as keyed hashes, never in clear. occurred_at is UTC.",
    "CSV: a cell that starts with =, +, -, @, a tab, a carriage return or a single quote has one single quote "
    "added in front (OWASP advice against formula injection in spreadsheets); remove it to get the stored "
    "text. Other text (control characters, escapes, HTML) is kept literally.",
    "JSON Lines: control characters, bidi controls and line separators are written as \\u escapes.",
    "This signature file signs (Ed25519) the data file's SHA-256, the selection and a checkpoint of the whole "
    "trail at export time. Check both with 'mdm-desktop audit verify-export FILE', and compare key_fingerprint "
    "with the store's ('mdm-desktop audit checkpoint' prints it).",
)

Progress = Callable[[int, int], None]
"""``progress(done, total)``: entries written so far and the number selected."""


class ExportCancelledError(MdmError):
    """The export was stopped on request before its entries were all written: no file, nothing signed or audited."""

    def __init__(self, written: int, total: int) -> None:
        super().__init__(
            f"Export cancelled after {written:,} of {total:,} entries; no file was written.",
            hint="Start the export again and let it finish.",
        )
        self.written = written
        self.total = total


class ExportFormat(enum.StrEnum):
    """The file formats of an export."""

    CSV = "csv"
    JSONL = "jsonl"


class ExportUnreadableError(ValidationError):
    """The export or its signature file cannot be read, or is not an MDM Desktop audit export."""


# -- encoding --------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_JSON_ESCAPE = re.compile("[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def csv_cell(value: str) -> str:
    """A text value as written to a CSV cell: one quote in front of anything a spreadsheet would evaluate."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_value(cell: str) -> str:
    """The stored text of a CSV cell written by :func:`csv_cell`."""
    return cell[1:] if cell.startswith("'") else cell


def _json_line(record: dict[str, Any]) -> str:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return _JSON_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def _csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def _record(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "hash_version": row.hash_version,
        "occurred_at": utc_text(row.occurred_at),
        "actor_kind": row.actor_kind,
        "actor": row.actor,
        "workstation": row.workstation,
        "action": row.action,
        "target_kind": row.target_kind,
        "target": row.target,
        "outcome": row.outcome,
        "details": row.details,
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
    }


def _encode(record: dict[str, Any], fmt: ExportFormat) -> bytes:
    if fmt is ExportFormat.JSONL:
        line = _json_line(record)
    else:
        line = _csv_line([str(record[c]) if c in _INT_COLUMNS else csv_cell(record[c]) for c in COLUMNS])
    return line.encode("utf-8", "surrogatepass")


# -- the signature file ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Selection:
    since: str
    until: str
    first_seq: int
    last_seq: int
    count: int
    first_prev_hash: str
    last_hash: str

    def as_tuple(self) -> tuple[str, str, int, int, int, str, str]:
        return (
            self.since,
            self.until,
            self.first_seq,
            self.last_seq,
            self.count,
            self.first_prev_hash,
            self.last_hash,
        )


@dataclass(frozen=True, slots=True)
class _Signature:
    file_format: ExportFormat
    file_sha256: str
    file_bytes: int
    selection: _Selection
    exported_at: dt.datetime
    exported_by: str
    checkpoint: AuditCheckpoint
    key_fingerprint: str
    public_key: str
    signature: str

    def signed_bytes(self) -> bytes:
        return export_bytes(
            self.file_format.value,
            self.file_sha256,
            self.file_bytes,
            self.selection.as_tuple(),
            self.exported_at,
            self.exported_by,
            self.checkpoint.signature,
        )


def signature_path(path: Path) -> Path:
    """Where the detached signature of the export ``path`` is written: ``FILE.sig.json``."""
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def _signature_json(sig: _Signature, file_name: str) -> str:
    s = sig.selection
    doc = {
        "format": EXPORT_SIGNATURE_FORMAT,
        "version": SIGNATURE_VERSION,
        "file": file_name,
        "file_format": sig.file_format.value,
        "file_sha256": sig.file_sha256,
        "file_bytes": sig.file_bytes,
        "selection": {
            "since": s.since or None,
            "until": s.until or None,
            "first_seq": s.first_seq,
            "last_seq": s.last_seq,
            "count": s.count,
            "first_prev_hash": s.first_prev_hash,
            "last_hash": s.last_hash,
        },
        "exported_at": utc_text(sig.exported_at),
        "exported_by": sig.exported_by,
        "checkpoint": json.loads(checkpoint_to_json(sig.checkpoint)),
        "key_fingerprint": sig.key_fingerprint,
        "public_key": sig.public_key,
        "signature": sig.signature,
        "readme": list(README),
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _signature_from_json(text: str) -> _Signature:
    """Parse a signature file (its signatures are checked separately).

    Raises:
        ValueError, KeyError, TypeError: Malformed.
    """
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_SIGNATURE_FORMAT:
        raise ValueError("not an export signature")
    if doc.get("version") != SIGNATURE_VERSION:
        raise ValueError("unknown version")
    sel = doc["selection"]
    ints = (doc["file_bytes"], sel["first_seq"], sel["last_seq"], sel["count"])
    if any(type(v) is not int or v < 0 for v in ints):
        raise ValueError("bad number")
    texts = (
        doc["file_sha256"],
        doc["exported_by"],
        doc["key_fingerprint"],
        doc["public_key"],
        doc["signature"],
        sel["first_prev_hash"],
        sel["last_hash"],
    )
    if any(not isinstance(v, str) for v in texts):
        raise ValueError("bad text")
    for bound in (sel["since"], sel["until"]):
        if bound is not None and not isinstance(bound, str):
            raise ValueError("bad bound")
    exported_at = dt.datetime.fromisoformat(doc["exported_at"])
    if exported_at.tzinfo is None:
        raise ValueError("naive time")
    checkpoint_doc = doc["checkpoint"]
    if not isinstance(checkpoint_doc, dict) or checkpoint_doc.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("no checkpoint")
    try:
        checkpoint = checkpoint_from_json(json.dumps(checkpoint_doc))
    except ValidationError as exc:
        raise ValueError("bad checkpoint") from exc
    return _Signature(
        file_format=ExportFormat(doc["file_format"]),
        file_sha256=doc["file_sha256"],
        file_bytes=doc["file_bytes"],
        selection=_Selection(
            since=sel["since"] or "",
            until=sel["until"] or "",
            first_seq=sel["first_seq"],
            last_seq=sel["last_seq"],
            count=sel["count"],
            first_prev_hash=sel["first_prev_hash"],
            last_hash=sel["last_hash"],
        ),
        exported_at=exported_at.astimezone(dt.UTC),
        exported_by=doc["exported_by"],
        checkpoint=checkpoint,
        key_fingerprint=doc["key_fingerprint"],
        public_key=doc["public_key"],
        signature=doc["signature"],
    )


# -- the service -----------------------------------------------------------------------------------------------


class AuditExportService:
    """Signed exports of the audit trail, for the console and the CLI.

    Args:
        uow: Unit-of-work factory.
        guard: Permission checks (refusals are audited).
        audit: The audit log (each export is audited).
        clock: Source of UTC time.
        audit_key: The store's HMAC key (each exported entry is checked before it is signed).
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
        self._private = Ed25519PrivateKey.from_private_bytes(checkpoint_seed)
        self._memory = memory

    @mutating("audit.export")
    def export(
        self,
        actor: Principal,
        since: dt.datetime | None,
        until: dt.datetime | None,
        fmt: ExportFormat | str,
        path: Path,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> AuditExportResult:
        """Export the entries recorded in [``since``, ``until``) to ``path`` and sign them to ``path.sig.json``.

        The export is audited (``audit.export``: range, positions, count, file hash); the checkpoint signed
        with it covers that entry too, and this workstation remembers it. Existing files are replaced.

        Args:
            actor: Who exports (needs the audit-read permission).
            since: Start of the time range (inclusive, timezone-aware); ``None`` for the first entry.
            until: End of the time range (exclusive, timezone-aware); ``None`` for the last entry.
            fmt: ``csv`` or ``jsonl``.
            path: The file to write.
            progress: Called after each batch with (entries written, entries selected).
            should_stop: Asked after each batch; True stops the export (:class:`ExportCancelledError`)
                before anything is signed, audited or left on disk.

        Raises:
            PermissionDeniedError: ``actor`` may not read the audit log.
            ValidationError: A bad range or format, or the files cannot be written.
            ConflictError: The trail is damaged, or no longer extends the remembered checkpoint.
        """
        self._guard.require(actor, Permission.AUDIT_READ, "audit.export")
        fmt = _check_format(fmt)
        for name, when in (("start", since), ("end", until)):
            if when is not None and when.tzinfo is None:
                raise ValidationError(f"The {name} of the time range needs a time zone.")
        if since is not None and until is not None and since >= until:
            raise ValidationError("The start of the time range must be before its end.", hint="Swap the two dates.")
        if path.is_dir():
            raise ValidationError(f"{path} is a folder.", hint="Give a file name.")
        sig_path = signature_path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as fh:
                selection, digest, size = self._write_entries(fh, since, until, fmt, progress, should_stop)
                fh.flush()
                os.fsync(fh.fileno())
            checkpoint, made_at = self._record(actor, fmt, selection, digest, path)
            sig = self._sign(fmt, digest, size, selection, made_at, actor.name, checkpoint)
            write_file_atomically(sig_path, _signature_json(sig, path.name))
            tmp.replace(path)
        except OSError as exc:
            raise ValidationError(f"Cannot write {path}: {exc.strerror}.") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._memory.remember(checkpoint)
        return AuditExportResult(
            path=str(path),
            signature_path=str(sig_path),
            file_format=fmt.value,
            count=selection.count,
            first_seq=selection.first_seq,
            last_seq=selection.last_seq,
            file_sha256=digest,
            checkpoint=checkpoint,
        )

    def _write_entries(
        self,
        fh: IO[bytes],
        since: dt.datetime | None,
        until: dt.datetime | None,
        fmt: ExportFormat,
        progress: Progress | None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[_Selection, str, int]:
        hasher = hashlib.sha256()
        size = 0

        def put(data: bytes) -> None:
            nonlocal size
            hasher.update(data)
            fh.write(data)
            size += len(data)

        if fmt is ExportFormat.CSV:
            put(_csv_line(list(COLUMNS)).encode("utf-8"))
        with self._uow() as uow:
            first, last = _bounds(uow, since, until)
            total = 0 if first is None or last is None else max(0, last - first + 1)
            count, first_prev, prev, expected = 0, "", "", first
            for row in _entries(uow, first, last) if total else ():
                self._check(row, expected, prev, count)
                if count == 0:
                    first_prev = row.prev_hash
                put(_encode(_record(row), fmt))
                count, prev, expected = count + 1, row.entry_hash, row.seq + 1
                if count % BATCH_SIZE == 0:
                    if progress is not None:
                        progress(count, total)
                    if should_stop is not None and should_stop():
                        raise ExportCancelledError(count, total)
            if count != total:
                raise ConflictError(
                    f"The audit trail has {count} of the {total} entries from #{first} to #{last}: a gap. "
                    "Nothing was exported.",
                    hint="Run 'mdm-desktop audit verify' and find out what happened to the audit trail.",
                )
        if progress is not None:
            progress(count, total)
        selection = _Selection(
            since=utc_text(since) if since is not None else "",
            until=utc_text(until) if until is not None else "",
            first_seq=first if count and first is not None else 0,
            last_seq=last if count and last is not None else 0,
            count=count,
            first_prev_hash=first_prev,
            last_hash=prev,
        )
        return selection, hasher.hexdigest(), size

    def _check(self, row: Any, expected: int | None, prev: str, count: int) -> None:
        fields = EntryFields(
            occurred_at=row.occurred_at,
            actor_kind=row.actor_kind,
            actor=row.actor,
            workstation=row.workstation,
            action=row.action,
            target_kind=row.target_kind,
            target=row.target,
            outcome=row.outcome,
            details=row.details,
        )
        try:
            digest = entry_digest(self._key, row.hash_version, row.seq, row.prev_hash, fields)
        except (ValueError, TypeError, AttributeError):
            digest = None
        linked = count == 0 or row.prev_hash == prev
        if digest != row.entry_hash or row.seq != expected or not linked:
            raise ConflictError(
                f"Audit entry #{row.seq} (id {row.id}) does not verify, so the trail was not exported.",
                hint="Run 'mdm-desktop audit verify' and find out what happened to the audit trail.",
            )

    def _record(
        self, actor: Principal, fmt: ExportFormat, selection: _Selection, digest: str, path: Path
    ) -> tuple[AuditCheckpoint, dt.datetime]:
        """Audit the export and sign a checkpoint that covers that entry, in one transaction."""
        remembered = self._remembered()
        with self._uow(write=True) as uow:
            if remembered is not None:
                problem = checkpoint_status(uow, remembered)
                if problem is not None:
                    raise ConflictError(
                        f"Nothing exported: {problem.description}",
                        hint="Run 'mdm-desktop audit verify' and find out what happened to the audit trail.",
                    )
            self._audit.record(
                uow,
                actor,
                "audit.export",
                target_kind="audit",
                target=path.name[:255],
                details={
                    "format": fmt.value,
                    "since": selection.since or None,
                    "until": selection.until or None,
                    "first_seq": selection.first_seq,
                    "last_seq": selection.last_seq,
                    "count": selection.count,
                    "sha256": digest,
                    "key_fingerprint": self._signer.fingerprint,
                },
            )
            write_pending(uow.session)
            head = uow.session.execute(
                select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == HEAD_ID)
            ).one_or_none()
            if head is None:
                raise AuditChainError(
                    "The audit trail's head record is missing, so nothing can be exported.",
                    hint="Run 'mdm-desktop audit verify' and restore the store from a backup.",
                )
            entries = int(uow.session.scalar(select(func.count(AuditEntry.id))) or 0)
            made_at = self._clock()
            checkpoint = self._signer.sign(entries, int(head.seq), str(head.entry_hash), made_at)
            uow.commit()
        return checkpoint, made_at

    def _sign(
        self,
        fmt: ExportFormat,
        digest: str,
        size: int,
        selection: _Selection,
        made_at: dt.datetime,
        who: str,
        checkpoint: AuditCheckpoint,
    ) -> _Signature:
        unsigned = _Signature(
            file_format=fmt,
            file_sha256=digest,
            file_bytes=size,
            selection=selection,
            exported_at=made_at.astimezone(dt.UTC),
            exported_by=who,
            checkpoint=checkpoint,
            key_fingerprint=self._signer.fingerprint,
            public_key=base64.b64encode(self._signer.public_raw).decode("ascii"),
            signature="",
        )
        signature = self._private.sign(unsigned.signed_bytes())
        return dataclasses.replace(unsigned, signature=base64.b64encode(signature).decode("ascii"))

    def _remembered(self) -> AuditCheckpoint | None:
        try:
            found = self._memory.load(self._signer.fingerprint)
            if found is not None:
                self._signer.authenticate(found)
        except ValidationError:
            return None  # 'audit verify' reports an unusable remembered checkpoint
        return found


def _check_format(fmt: ExportFormat | str) -> ExportFormat:
    try:
        return ExportFormat(str(fmt).lower())
    except ValueError:
        raise ValidationError(f"Unknown export format '{fmt}'.", hint="Use csv or jsonl.") from None


def _bounds(uow: UnitOfWork, since: dt.datetime | None, until: dt.datetime | None) -> tuple[int | None, int | None]:
    """The first and last position of the selection (``None`` when nothing is selected)."""
    query = select(func.min(AuditEntry.seq), func.max(AuditEntry.seq))
    if since is not None:
        query = query.where(AuditEntry.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEntry.occurred_at < until)
    first, last = uow.session.execute(query).one()
    if first is None or last is None:
        return None, None
    return int(first), int(last)


def _entries(uow: UnitOfWork, first: int | None, last: int | None) -> Iterator[Any]:
    """The entries numbered ``first`` to ``last`` in order, fetched by keyset batches."""
    if first is None or last is None:
        return
    after = first - 1
    while True:
        found = uow.session.execute(
            select(AuditEntry.__table__)
            .where(AuditEntry.seq > after, AuditEntry.seq <= last)
            .order_by(AuditEntry.seq)
            .limit(BATCH_SIZE)
        ).all()
        yield from found
        if len(found) < BATCH_SIZE:
            return
        after = found[-1].seq


# -- offline verification --------------------------------------------------------------------------------------


class _DamagedError(Exception):
    def __init__(self, problem: ExportProblem) -> None:
        super().__init__(problem.description)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    seq: int
    prev_hash: str
    entry_hash: str


def read_signature_file(path: Path) -> _Signature:
    """Read and parse an export's signature file.

    Raises:
        ExportUnreadableError: Missing, unreadable, too large or not an export signature.
    """
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SIGNATURE_FILE + 1)
    except OSError as exc:
        raise ExportUnreadableError(
            f"Cannot read the signature file {path}: {exc.strerror}.",
            hint="It is written next to the export as FILE.sig.json; keep the two together.",
        ) from exc
    try:
        if len(raw) > MAX_SIGNATURE_FILE:
            raise ValueError("too large")
        return _signature_from_json(raw.decode("utf-8"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ExportUnreadableError(
            f"{path} is not an MDM Desktop audit export signature file, or it is damaged.",
            hint="Give the FILE.sig.json written by 'mdm-desktop audit export'.",
        ) from exc


def verify_export(path: Path, signature: Path | None = None) -> ExportVerifyReport:
    """Check an exported audit file offline (no store, no keys besides the public key in its signature file).

    Checks, in order: the signature file's signature and its checkpoint's (with the public key it carries);
    the entries' positions (consecutive, from the signed first to the signed last) and links (each
    ``prev_hash`` is the ``entry_hash`` before it); the count, first and last entries against the signed
    selection; that the last entry is not beyond the signed checkpoint; and the file's SHA-256.

    Args:
        path: The exported file.
        signature: Its signature file; ``FILE.sig.json`` by default.

    Returns:
        A report naming the first problem found, if any.

    Raises:
        ExportUnreadableError: The file or its signature file cannot be read or is not an export.
    """
    sig_path = signature if signature is not None else signature_path(path)
    sig = read_signature_file(sig_path)
    if not path.is_file():
        raise ExportUnreadableError(f"Cannot read the export {path}: no such file.")
    entries = 0
    problem: ExportProblem | None = None
    try:
        _check_signatures(sig)
        entries = _check_lines(path, sig)
        _check_hash(path, sig)
    except _DamagedError as damaged:
        problem = damaged.problem
    except OSError as exc:
        raise ExportUnreadableError(f"Cannot read the export {path}: {exc.strerror}.") from exc
    s = sig.selection
    return ExportVerifyReport(
        ok=problem is None,
        path=str(path),
        file_format=sig.file_format.value,
        entries=entries,
        first_seq=s.first_seq,
        last_seq=s.last_seq,
        since=s.since,
        until=s.until,
        exported_at=utc_text(sig.exported_at),
        exported_by=sig.exported_by,
        key_fingerprint=sig.key_fingerprint,
        checkpoint_head_seq=sig.checkpoint.head_seq,
        problem=problem,
    )


def _check_signatures(sig: _Signature) -> None:
    def bad(what: str) -> _DamagedError:
        return _DamagedError(
            ExportProblem(ExportDamage.SIGNATURE, f"{what}: the signature file was altered or forged.")
        )

    try:
        public_raw = base64.b64decode(sig.public_key, validate=True)
        public = Ed25519PublicKey.from_public_bytes(public_raw)
    except (binascii.Error, ValueError) as exc:
        raise bad("The signature file's public key is not an Ed25519 key") from exc
    fingerprint = key_fingerprint(public_raw)
    cp = sig.checkpoint
    if sig.key_fingerprint != fingerprint or cp.key_fingerprint != fingerprint or cp.public_key != sig.public_key:
        raise bad("The signature file names another key than the one it carries")
    try:
        public.verify(base64.b64decode(sig.signature, validate=True), sig.signed_bytes())
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise bad("The export's signature does not verify") from exc
    try:
        public.verify(
            base64.b64decode(cp.signature, validate=True),
            checkpoint_bytes(cp.entries, cp.head_seq, cp.head_hash, cp.made_at),
        )
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise bad("The checkpoint's signature does not verify") from exc


def _check_hash(path: Path, sig: _Signature) -> None:
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
    if size != sig.file_bytes or hasher.hexdigest() != sig.file_sha256:
        raise _DamagedError(
            ExportProblem(
                ExportDamage.MODIFIED,
                "The file's SHA-256 does not match its signature: it was changed after it was exported.",
            )
        )


def _modified(number: int, what: str, seq: int | None = None) -> _DamagedError:
    return _DamagedError(ExportProblem(ExportDamage.MODIFIED, f"Line {number} {what}: modified.", number, seq))


def _lines(path: Path, fmt: ExportFormat) -> Iterator[_Line]:
    """The positions and hashes of the file's entries, streamed (CSV records numbered from the header's 1)."""
    with path.open("r", encoding="utf-8", newline="", errors="strict") as fh:
        try:
            if fmt is ExportFormat.JSONL:
                yield from _jsonl_lines(fh)
            else:
                yield from _csv_lines(fh)
        except UnicodeDecodeError as exc:
            raise _DamagedError(
                ExportProblem(ExportDamage.MODIFIED, "The file is not valid UTF-8 text: modified.")
            ) from exc


def _format_mismatch(signed: ExportFormat) -> _DamagedError:
    other = "CSV" if signed is ExportFormat.JSONL else "JSON Lines"
    mine = "JSON Lines" if signed is ExportFormat.JSONL else "CSV"
    return _DamagedError(
        ExportProblem(
            ExportDamage.MISMATCH,
            f"The file is {other} but its signature file is for a {mine} export: "
            "the signature belongs to another export.",
            1,
        )
    )


def _jsonl_lines(fh: IO[str]) -> Iterator[_Line]:
    for number, text in enumerate(fh, start=1):
        if number == 1 and text.rstrip("\r\n") == ",".join(COLUMNS):
            raise _format_mismatch(ExportFormat.JSONL)
        try:
            record = json.loads(text)
            if not isinstance(record, dict) or set(record) != set(COLUMNS):
                raise ValueError("columns")
            yield _parse_line(number, record)
        except (ValueError, TypeError) as exc:
            raise _modified(number, "is not an audit entry") from exc


def _csv_lines(fh: IO[str]) -> Iterator[_Line]:
    previous = csv.field_size_limit()
    csv.field_size_limit(MAX_CELL)
    try:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise _modified(1, "is not the column header") from exc
        if header != list(COLUMNS):
            if header and header[0].startswith("{"):
                raise _format_mismatch(ExportFormat.CSV)
            raise _modified(1, "is not the column header")
        number = 1
        while True:
            number += 1
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                raise _modified(number, "cannot be read") from exc
            if cells is None:
                return
            if len(cells) != len(COLUMNS):
                raise _modified(number, "does not have the export's columns")
            record = {c: (v if c in _INT_COLUMNS else csv_value(v)) for c, v in zip(COLUMNS, cells, strict=True)}
            try:
                yield _parse_line(number, record)
            except (ValueError, TypeError) as exc:
                raise _modified(number, "is not an audit entry") from exc
    finally:
        csv.field_size_limit(previous)


def _parse_line(number: int, record: dict[str, Any]) -> _Line:
    seq = record["seq"]
    seq = int(seq) if isinstance(seq, str) and seq.isdigit() else seq
    if type(seq) is not int or seq < 0:
        raise ValueError("seq")
    prev_hash, entry_hash = record["prev_hash"], record["entry_hash"]
    if not isinstance(prev_hash, str) or not isinstance(entry_hash, str):
        raise ValueError("hashes")
    return _Line(number, seq, prev_hash, entry_hash)


def _check_lines(path: Path, sig: _Signature) -> int:
    """Check order, gaps and links of the file's entries against the signed selection; return how many."""
    s = sig.selection
    lines = _lines(path, sig.file_format)
    count = 0
    expected = s.first_seq
    prev: _Line | None = None
    for line in lines:
        if count == 0 and s.count and not s.first_seq <= line.seq <= s.last_seq:
            raise _mismatch(sig, line)
        if s.count == 0 or line.seq > s.last_seq:
            raise _DamagedError(
                ExportProblem(
                    ExportDamage.INSERTED,
                    f"Line {line.number} holds entry #{line.seq}, beyond the signed selection ({_range(s)}): inserted.",
                    line.number,
                    line.seq,
                )
            )
        if line.seq < expected:
            raise _DamagedError(
                ExportProblem(
                    ExportDamage.INSERTED,
                    f"Line {line.number} holds entry #{line.seq}, which the file already holds: inserted.",
                    line.number,
                    line.seq,
                )
            )
        if line.seq > expected:
            found = False
            with contextlib.suppress(_DamagedError):  # a later unreadable line: the expected entry is not found
                found = any(other.seq == expected for other in lines)
            kind = ExportDamage.REORDERED if found else ExportDamage.MISSING
            what = (
                f"Line {line.number} holds entry #{line.seq} where #{expected} belongs: reordered."
                if found
                else f"Entry #{expected} is missing before line {line.number} (entry #{line.seq}): a gap."
            )
            raise _DamagedError(ExportProblem(kind, what, line.number, expected))
        link = s.first_prev_hash if prev is None else prev.entry_hash
        if line.prev_hash != link:
            raise _modified(line.number, f"(entry #{line.seq}) does not link to the entry before it", line.seq)
        prev, expected, count = line, line.seq + 1, count + 1
    if count < s.count:
        raise _DamagedError(
            ExportProblem(
                ExportDamage.TRUNCATED,
                f"The file ends at entry #{expected - 1} but its signature names {s.count} entries "
                f"({_range(s)}): truncated.",
                None,
                expected,
            )
        )
    if prev is not None and prev.entry_hash != s.last_hash:
        raise _modified(prev.number, f"(entry #{prev.seq}) is not the last entry the signature names", prev.seq)
    cp = sig.checkpoint
    if s.last_seq > cp.head_seq or (s.count and s.last_seq == cp.head_seq and s.last_hash != cp.head_hash):
        raise _DamagedError(
            ExportProblem(
                ExportDamage.BEYOND_CHECKPOINT,
                f"The export ends at entry #{s.last_seq}, beyond the checkpoint it was signed with "
                f"(head #{cp.head_seq}).",
                None,
                s.last_seq,
            )
        )
    return count


def _mismatch(sig: _Signature, line: _Line) -> _DamagedError:
    return _DamagedError(
        ExportProblem(
            ExportDamage.MISMATCH,
            f"The file starts at entry #{line.seq} but its signature file is for {_range(sig.selection)}: "
            "the signature belongs to another export.",
            line.number,
            line.seq,
        )
    )


def _range(s: _Selection) -> str:
    return "no entries" if s.count == 0 else f"entries #{s.first_seq} to #{s.last_seq}"
