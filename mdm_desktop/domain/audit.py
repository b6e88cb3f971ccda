"""Audit vocabulary and canonical encoding of details."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Outcome(enum.StrEnum):
    """How an audited action ended."""

    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical_json(details: Mapping[str, Any]) -> str:
    """Encode ``details`` deterministically: sorted keys, no spaces, UTF-8 kept.

    The same mapping always gives the same text, so the text can be hashed. Control characters
    (NUL included) come out as JSON escapes, and so do lone surrogates (which UTF-8 cannot hold), so
    the text fits any database text column and decodes back to the same mapping.
    """
    text = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_FIELD_ESCAPE = re.compile("\\\\(?=[\\\\0u\x00\ud800-\udfff])|\x00|[\ud800-\udfff]")
_FIELD_UNESCAPE = re.compile("\\\\(\\\\|0|u[dD][89a-fA-F][0-9a-fA-F]{2})")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    if char == "\x00":
        return "\\0"
    return f"\\u{ord(char):04x}"


def escape_field(value: str) -> str:
    r"""The stored form of an audit text field (actor, workstation, target, ...): reversible, NUL-free.

    PostgreSQL text cannot hold NUL and UTF-8 cannot hold a lone surrogate, so a device could otherwise
    make its own audit entry impossible to write. A NUL becomes ``\0``, a lone surrogate ``\udXXX``,
    and a backslash is doubled only where it precedes ``\``, ``0``, ``u``, a NUL or a lone surrogate;
    everything else is stored as it is (so ordinary text, Windows ``DOMAIN\user`` names included, is
    unchanged). The entry's hash covers this stored form, and :func:`unescape_field` reverses it:
    distinct values never share a stored form.
    """
    if "\\" not in value and "\x00" not in value and not _LONE_SURROGATE.search(value):
        return value
    return _FIELD_ESCAPE.sub(_escape_one, value)


def unescape_field(stored: str) -> str:
    """The value :func:`escape_field` stored as ``stored``."""
    if "\\" not in stored:
        return stored

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code == "\\":
            return "\\"
        if code == "0":
            return "\x00"
        return chr(int(code[1:], 16))

    return _FIELD_UNESCAPE.sub(one, stored)


HASH_V1 = 1
"""Entries written before schema 0003: HMAC over ``prev_hash + "|" + entry_content`` (seq not covered)."""
HASH_V2 = 2
"""HMAC over :func:`chain_bytes`: a domain tag, the entry's seq, the previous hash and every content field."""

_CHAIN_TAG = b"mdm-desktop-audit-v2"


class AuditDamage(enum.StrEnum):
    """The kind of damage ``audit verify`` reports for the first bad entry."""

    MODIFIED = "modified"
    """An entry's content, position number or hash was changed (its keyed hash no longer matches)."""
    MISSING = "missing"
    """An entry is gone from the middle of the chain (a gap in the sequence)."""
    REORDERED = "reordered"
    """Entries are present but out of order."""
    INSERTED = "inserted"
    """An entry that the chain never held was added."""
    TRUNCATED = "truncated"
    """Entries are gone from the end of the chain."""
    ROLLED_BACK = "rolled_back"
    """The chain no longer extends a signed checkpoint: an older copy was restored, or it was rewritten."""


@dataclass(frozen=True, slots=True)
class EntryFields:
    """The content of an audit entry that its keyed hash covers (besides seq and the previous hash)."""

    occurred_at: dt.datetime
    actor_kind: str
    actor: str
    workstation: str
    action: str
    target_kind: str
    target: str
    outcome: str
    details: str


def utc_text(moment: dt.datetime) -> str:
    """A timezone-aware moment as fixed-width UTC text (microseconds), the form hashes cover."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def chain_bytes(seq: int, prev_hash: str, fields: EntryFields) -> bytes:
    """The canonical bytes a version-2 entry hash covers.

    A fixed tag, then each value as an 8-byte big-endian length followed by its UTF-8 bytes,
    in a fixed order. Length prefixes make the encoding injective: two entries that differ in
    any field (or in where one field ends and the next begins) never give the same bytes.

    Raises:
        ValueError: ``seq`` is negative or the time is naive.
    """
    if seq < 0:
        raise ValueError("seq must not be negative")
    return chain_text_bytes(
        (
            str(seq),
            prev_hash,
            utc_text(fields.occurred_at),
            fields.actor_kind,
            fields.actor,
            fields.workstation,
            fields.action,
            fields.target_kind,
            fields.target,
            fields.outcome,
            fields.details,
        )
    )


_LENGTH = struct.Struct(">Q").pack


def chain_text_bytes(parts: Iterable[str]) -> bytes:
    """:func:`chain_bytes` of an entry given as its texts, without building a datetime.

    ``parts``: seq (decimal), previous hash, :func:`utc_text` time, then the eight content fields in
    :class:`EntryFields` order. Verification of a million entries calls this once per entry (written as
    a plain loop, it costs half a generator of ``_field`` calls).
    """
    out = [_CHAIN_TAG]
    append = out.append
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        append(_LENGTH(len(data)))
        append(data)
    return b"".join(out)


CHECKPOINT_FORMAT = "mdm-desktop-audit-checkpoint"
_CHECKPOINT_TAG = b"mdm-desktop-audit-checkpoint-v1"


def checkpoint_bytes(entries: int, head_seq: int, head_hash: str, made_at: dt.datetime) -> bytes:
    """The canonical bytes a checkpoint signature covers (tagged, length-prefixed, injective)."""
    parts = (str(entries), str(head_seq), head_hash, utc_text(made_at))
    return _CHECKPOINT_TAG + b"".join(_field(p.encode("utf-8")) for p in parts)


EXPORT_SIGNATURE_FORMAT = "mdm-desktop-audit-export-signature"
_EXPORT_TAG = b"mdm-desktop-audit-export-v1"


class ExportDamage(enum.StrEnum):
    """The kind of problem ``audit verify-export`` reports for an exported file."""

    SIGNATURE = "signature"
    """The signature file's own signature (or its checkpoint's) does not verify: it was altered or forged."""
    MISMATCH = "mismatch"
    """The signature file belongs to another export (its selection does not match the file)."""
    MODIFIED = "modified"
    """A line was changed (the file's hash or an entry's link to the one before does not match)."""
    MISSING = "missing"
    """An entry is gone from the middle of the file (a gap in the sequence)."""
    REORDERED = "reordered"
    """Entries are present but out of order."""
    INSERTED = "inserted"
    """A line the export never held was added."""
    TRUNCATED = "truncated"
    """Entries are gone from the end of the file."""
    BEYOND_CHECKPOINT = "beyond_checkpoint"
    """The file's last entry lies beyond (or disagrees with) the checkpoint it was signed with."""


def export_bytes(
    file_format: str,
    file_sha256: str,
    file_bytes: int,
    selection: tuple[str, str, int, int, int, str, str],
    exported_at: dt.datetime,
    exported_by: str,
    checkpoint_signature: str,
) -> bytes:
    """The canonical bytes an export signature covers (tagged, length-prefixed, injective).

    Args:
        file_format: ``csv`` or ``jsonl``.
        file_sha256: SHA-256 (hex) of the exported file.
        file_bytes: The file's size.
        selection: (since, until, first seq, last seq, count, first entry's prev_hash, last entry's hash);
            since and until as UTC text, "" when open.
        exported_at: When the export was made.
        exported_by: Who made it.
        checkpoint_signature: The signature of the checkpoint made with the export (binds the two).
    """
    since, until, first, last, count, first_prev, last_hash = selection
    parts = (
        file_format,
        file_sha256,
        str(file_bytes),
        since,
        until,
        str(first),
        str(last),
        str(count),
        first_prev,
        last_hash,
        utc_text(exported_at),
        exported_by,
        checkpoint_signature,
    )
    return _EXPORT_TAG + b"".join(_field(p.encode("utf-8", "surrogatepass")) for p in parts)
